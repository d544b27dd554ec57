"""A queue-driven consumer's plumbing, written once: its own rotating key, a dead-letter
queue, the work queue (TLS only, KMS, redrive after ``max_receive_count`` receives), and the
exact statements its function needs to consume it.

Built in the caller's scope with the caller's construct ids, so the logical ids of these
stateful resources stay where they are pinned.
"""
from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.arns import only_via
from infra.constructs.encryption import rotating_key

CONSUME_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                   "sqs:GetQueueAttributes"]


@dataclass(frozen=True)
class WorkQueue:
    key: kms.Key
    dlq: sqs.Queue
    queue: sqs.Queue


def work_queue(scope: Construct, *, key_id: str, dlq_id: str, queue_id: str,
               key_description: str, visibility_timeout: Duration, max_receive_count: int,
               dlq_retention: Duration, retention: Duration | None = None) -> WorkQueue:
    key = rotating_key(scope, key_id, description=key_description)
    dlq = sqs.Queue(scope, dlq_id, encryption=sqs.QueueEncryption.KMS,
                    encryption_master_key=key, enforce_ssl=True, retention_period=dlq_retention)
    queue = sqs.Queue(scope, queue_id, encryption=sqs.QueueEncryption.KMS,
                      encryption_master_key=key, enforce_ssl=True,
                      visibility_timeout=visibility_timeout, retention_period=retention,
                      dead_letter_queue=sqs.DeadLetterQueue(queue=dlq,
                                                            max_receive_count=max_receive_count))
    return WorkQueue(key, dlq, queue)


def consume_statements(name: str, *, queue: sqs.IQueue, queue_key: kms.IKey,
                       region: str) -> list[iam.PolicyStatement]:
    """Receive, delete and extend messages of ``queue``, and decrypt them only through SQS."""
    return [
        iam.PolicyStatement(sid=f"Consume{name}Queue", actions=CONSUME_ACTIONS,
                            resources=[queue.queue_arn]),
        iam.PolicyStatement(
            sid=f"Decrypt{name}QueueViaSqs", actions=["kms:Decrypt"],
            resources=[queue_key.key_arn],
            conditions=only_via("sqs", region)),
    ]
