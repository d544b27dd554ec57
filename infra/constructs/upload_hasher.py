"""UploadHasher: hash every new upload once, index it, tag duplicates.

    assets bucket --s3:ObjectCreated:* (4 prefixes)--> SQS queue --(batch 4)--> hasher
        --> dedup index (DynamoDB) + object tags      queue --(5 receives)--> DLQ

Built inside the Assets stack, because an S3 notification is a property of the bucket.
Where the upload gate is on, S3 notifies only ``notify_prefixes`` (the hashed prefixes the gate
does not cover); the gated ones reach the same queue as GuardDuty's clean verdicts
(``MalwareGate.release_to``), read by the same ``objects_in_message``.

No CDK ``BucketNotifications`` custom resource (a Lambda that rewrites the bucket's whole
notification configuration): the queue configurations are set on the ``CfnBucket`` itself.
No cycle: the queue policy and the queue key policy name the bucket by its literal ARN
(``arn:aws:s3:::<name>``, plus ``aws:SourceAccount``), the bucket refers to the queue, and
the bucket depends on the queue policy (S3 sends a test message when the configuration is
set, which needs the policy and the key policy in place). Consequence: nothing may call
``bucket.add_event_notification`` on the assets bucket; CDK's custom resource would
overwrite this configuration.

What the hasher can do, all of it (``hasher_statements`` below, plus ``WriteOwnLogs``
that every estate function has, see ``function.py``):
- read, and read/write the tags of, object versions under the four hashed prefixes only;
- list the bucket: without s3:ListBucket a HeadObject of a key that no longer exists answers
  403, not 404, and the handler could not tell "deleted" (skip, success) from "denied" (fail,
  retry). It cannot be narrowed by ``s3:prefix``: a HeadObject request carries no prefix, so
  such a condition never matches. Key names are server-generated; listing reveals no content;
- decrypt with the assets key, through S3 only;
- get/put/update items of the dedup index, and use its key through DynamoDB only;
- consume the hashing queue, and decrypt with the queue key through SQS only.
Nothing deletes data: a lifecycle rule expires versions tagged as duplicates.
"""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import DEDUP_PARTITION_KEY, HASHED_PREFIXES, METRICS_NAMESPACE, TABLE_ENV
from infra.constructs.arns import bucket_arn, from_bucket, object_arns, only_via
from infra.constructs.encryption import admit_delivery, rotating_key
from infra.constructs.function import EstateFunction
from infra.constructs.monitoring import MonitoredFunction, MonitoredQueue
from infra.constructs.work_queue import consume_statements, work_queue
from infra.nag import acknowledge

EVENT = "s3:ObjectCreated:*"
HANDLER = "estate_handlers.hasher.handler"

# Hashing is CPU-bound (SHA-256 over the body when S3 has no stored full-object checksum),
# and Lambda's CPU share scales with memory: 1024 MB buys ~0.6 vCPU, enough that S3's
# per-connection throughput (~100 MB/s), not the hash, is the bottleneck. The largest
# object the upload API admits is 5 GB (brand media): ~50 s to stream. A batch of 4 such
# objects is ~200 s, under the 300 s timeout with room for retries of the S3/DynamoDB calls;
# below 50 MB/s the hasher defers the versions it has no time left for (hasher.NotEnoughTime).
MEMORY_MB = 1024
TIMEOUT = Duration.seconds(300)
BATCH_SIZE = 4
# Wait up to 5 s to fill a batch: fewer, fuller invocations; a few seconds of latency on
# an asynchronous index nobody waits on.
MAX_BATCHING_WINDOW = Duration.seconds(5)
# AWS's guidance for SQS event sources: visibility timeout >= 6 x the function timeout, so
# a message is not redelivered while a (retried, throttled) invocation still holds it.
VISIBILITY_TIMEOUT = Duration.seconds(6 * TIMEOUT.to_seconds())
MAX_RECEIVE_COUNT = 5
DLQ_RETENTION = Duration.days(14)  # SQS's maximum: two weeks to fix and redrive
# A message's age counts from its first enqueue, in the DLQ too. So the queue keeps messages
# far beyond its retry window (MAX_RECEIVE_COUNT x VISIBILITY_TIMEOUT = 2.5 h): a hasher outage
# over a long weekend still drains; and the DLQ keeps them a week longer than the queue, so a
# message that dies on the queue's last day still has a week to be redriven.
QUEUE_RETENTION = Duration.days(7)


def hasher_statements(*, region: str, bucket_name: str, bucket_key: kms.IKey,
                      table: dynamodb.ITable, table_key: kms.IKey, queue: sqs.IQueue,
                      queue_key: kms.IKey) -> list[iam.PolicyStatement]:
    """Everything the hasher may do, besides its own logs and X-Ray (see module docstring)."""
    return [
        iam.PolicyStatement(
            sid="ReadAndTagUploads",
            actions=["s3:GetObject", "s3:GetObjectVersion",
                     "s3:GetObjectTagging", "s3:GetObjectVersionTagging",
                     "s3:PutObjectTagging", "s3:PutObjectVersionTagging"],
            resources=object_arns(bucket_name, HASHED_PREFIXES),
        ),
        iam.PolicyStatement(
            sid="ListBucketFor404s",  # HeadObject of a missing key: 404, not 403
            actions=["s3:ListBucket"],
            resources=[bucket_arn(bucket_name)],
        ),
        iam.PolicyStatement(
            sid="DecryptUploadsViaS3",
            actions=["kms:Decrypt"],
            resources=[bucket_key.key_arn],
            conditions=only_via("s3", region),
        ),
        iam.PolicyStatement(
            sid="WriteDedupIndex",
            actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            resources=[table.table_arn],
        ),
        iam.PolicyStatement(
            sid="UseDedupIndexKeyViaDynamoDB",
            actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            resources=[table_key.key_arn],
            conditions=only_via("dynamodb", region),
        ),
        *consume_statements("Hash", queue=queue, queue_key=queue_key, region=region),
    ]


class UploadHasher(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, name: str, bucket_name: str,
                 bucket: s3.Bucket, bucket_key: kms.IKey, reserved_concurrency: int,
                 log_retention_days: int,
                 notify_prefixes: tuple[str, ...] = HASHED_PREFIXES) -> None:
        """``name`` names the function (log group, role); ``bucket_name`` is the assets
        bucket's physical name (literal ARNs, no cycle); ``notify_prefixes``: the hashed
        prefixes S3 notifies on ObjectCreated; the rest wait for the upload gate's clean
        verdict (``MalwareGate.release_to``)."""
        super().__init__(scope, construct_id)
        self.bucket_name = bucket_name
        self._dedup_index()
        self._queues()
        if notify_prefixes:  # else every hashed prefix waits for the upload gate
            self._notify_from(bucket, notify_prefixes)
        self._hasher(name=name, bucket_key=bucket_key, reserved_concurrency=reserved_concurrency,
                     log_retention_days=log_retention_days)

    def _dedup_index(self) -> None:
        """One item per distinct SHA-256 (read by the presign API)."""
        self.table_key = rotating_key(
            self, "DedupIndexKey", description=f"Encrypts the dedup index of {self.bucket_name}")
        self.table = dynamodb.Table(
            self,
            "DedupIndex",
            partition_key=dynamodb.Attribute(name=DEDUP_PARTITION_KEY,
                                             type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.table_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
            # Global tables replicate through the table's stream (the replica region's
            # presign API reads a replica: ``DedupIndexReplica``); an in-place update.
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        )
        acknowledge(self.table, {
            "NIST.800.53.R5-DynamoDBInBackupPlan":
                "The dedup index is derived data: point-in-time recovery (35 days) restores "
                "it, and re-hashing the bucket rebuilds it; the objects themselves are "
                "versioned, replicated and backed up.",
        })

    def _queues(self) -> None:
        """S3 notifications in, hasher batches out; the DLQ after 5 receives."""
        queues = work_queue(
            self, key_id="QueueKey", dlq_id="DeadLetters", queue_id="Queue",
            key_description=f"Encrypts the upload hashing queues of {self.bucket_name}",
            visibility_timeout=VISIBILITY_TIMEOUT, max_receive_count=MAX_RECEIVE_COUNT,
            dlq_retention=DLQ_RETENTION, retention=QUEUE_RETENTION)
        self.queue_key, self.dlq, self.queue = queues.key, queues.dlq, queues.queue

    def _notify_from(self, bucket: s3.Bucket, prefixes: tuple[str, ...]) -> None:
        """S3 may send to the queue (and use its key) from the assets bucket only; the
        notification is set on the bucket itself, one queue configuration per prefix."""
        admit_delivery(self.queue_key, self.queue, target_arn=self.queue.queue_arn,
                       action="sqs:SendMessage", service="s3.amazonaws.com",
                       conditions=from_bucket(self.bucket_name, Stack.of(self).account),
                       sid="S3NotifiesFromTheAssetsBucket")
        cfn_bucket: s3.CfnBucket = bucket.node.default_child  # type: ignore[assignment]
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            queue_configurations=[
                s3.CfnBucket.QueueConfigurationProperty(
                    event=EVENT,
                    queue=self.queue.queue_arn,
                    filter=s3.CfnBucket.NotificationFilterProperty(
                        s3_key=s3.CfnBucket.S3KeyFilterProperty(rules=[
                            s3.CfnBucket.FilterRuleProperty(name="prefix", value=prefix)])),
                )
                for prefix in prefixes
            ])
        # The queue's policy (TLS-only + the statement above), created by add_to_resource_policy.
        self.queue_policy: sqs.QueuePolicy = self.queue.node.find_child("Policy")  # type: ignore[assignment]
        cfn_bucket.add_resource_dependency(
            self.queue_policy.node.default_child,  # type: ignore[arg-type]
            "S3 tests the queue configuration by sending a message when it is set")

    def _hasher(self, *, name: str, bucket_key: kms.IKey, reserved_concurrency: int,
                log_retention_days: int) -> None:
        """The function and its queue event source."""
        self.function = EstateFunction(
            self,
            "Hasher",
            name=name,
            description="Hashes new uploads (SHA-256), indexes them, tags duplicates",
            handler=HANDLER,
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            environment={TABLE_ENV: self.table.table_name},
            reserved_concurrency=reserved_concurrency,
            log_retention_days=log_retention_days,
            statements=hasher_statements(
                region=Stack.of(self).region, bucket_name=self.bucket_name,
                bucket_key=bucket_key, table=self.table, table_key=self.table_key,
                queue=self.queue, queue_key=self.queue_key),
        )
        self.event_source = lambda_.EventSourceMapping(
            self,
            "FromQueue",
            target=self.function.function,
            event_source_arn=self.queue.queue_arn,
            batch_size=BATCH_SIZE,
            max_batching_window=MAX_BATCHING_WINDOW,
            report_batch_item_failures=True,
            # At most as many concurrent batches as the function may run: SQS never
            # delivers to a throttled function (throttled batches would burn receives).
            max_concurrency=reserved_concurrency,
        )
        self.event_source.node.add_dependency(self.function.policy)

        acknowledge(self.function.function, {
            "NIST.800.53.R5-LambdaDLQ":
                "Invoked only by its SQS event source, synchronously: failed records go "
                "back to the queue and, after 5 receives, to the queue's dead-letter queue. "
                "A function DLQ only applies to asynchronous invocations.",
        })
        acknowledge(self.function.policy, {
            f"AwsSolutions-IAM5[Resource::{arn}]":
                f"The hasher reads and tags new object versions under {prefix} only; "
                "upload keys are server-generated per upload, so only a prefix wildcard "
                "can name them."
            for prefix, arn in zip(HASHED_PREFIXES, object_arns(self.bucket_name, HASHED_PREFIXES),
                                   strict=True)
        })

    # ------------------------------------------------------------------ monitoring
    def monitored_function(self) -> MonitoredFunction:
        return MonitoredFunction("Hasher", self.function.function, self.function.timeout,
                                 handled_faults=(METRICS_NAMESPACE, self.function.name))

    def monitored_queue(self) -> MonitoredQueue:
        return MonitoredQueue("HashQueue", "Hashing queue", self.queue, self.dlq)
