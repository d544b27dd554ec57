"""Renditions: every product original becomes stored, stripped, CDN-ready renditions.

    assets bucket --ObjectCreated (products/images/original/)--> originals topic (SNS, KMS)
        --raw--> renditions queue (SQS, KMS) --(batch 4)--> renditions function
                     \\--(5 receives)--> DLQ          --> processed/ + thumbnails/ + manifest
        --raw--> the upload hasher's queue (unchanged message shape)
    S3 Batch Operations (backfill) --LambdaInvoke, schema 2.0--> renditions function

**Why a topic.** S3 refuses two notification configurations whose prefixes overlap for the
same event type, and the hasher already receives ObjectCreated for the originals prefix.
So that prefix publishes to one SNS topic, and both queues subscribe to it with *raw
message delivery*: each queue still receives the S3 event notification JSON itself, the
shape ``estate_handlers.object_events.objects_in_message`` reads. The hasher's other
prefixes keep their direct queue configurations. ``fan_out_originals`` does that rewiring.

**What the function may do** (``renditions_statements``), besides its own logs and X-Ray:
- read object versions under ``products/images/original/`` and read/write their tags
  (``processing-status=rejected``; the hasher's dedup tags are read to reuse renditions);
- write under ``products/images/processed/`` and ``products/images/thumbnails/`` only, and
  read there (its own manifests, and the canonical's renditions it copies for duplicates;
  these objects are public through the CDN anyway);
- list the bucket (a missing key then answers 404, not 403: "gone" vs "denied");
- use the assets key through S3 only; consume its queue and decrypt it through SQS only.

**Batch Operations**: a role (physical name from the config, so ``tools/backfill`` can name
it) that S3 Batch Operations assumes: invoke this function, read the backfill manifests,
write the completion reports — under ``ops/renditions-backfill/`` of the assets bucket.

Sizing (``bench/bench_renditions.py``): 2048 MB, which also buys ~1.2 vCPU for the AVIF
encoder. A 100 MP PNG at the pixel cap is ~400 MB as RGBA, but its decode peaks at ~1.3 GB
(the decoded image, the EXIF-rotated copy and the colour-converted one are alive together),
which still fits. Timeout 360 s: the worst shape the caps allow (a 2048×16383 strip of noise)
took 77.5 CPU s to render, ~65 s at this memory's CPU share, and a batch holds 4 originals;
a timeout returns the whole batch to the queue, and every return spends one of its receives.
"""
from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import ORIGINALS, PROCESSED, RENDITION_BATCH_SIZE, THUMBNAILS, MonitoringConfig
from infra.constructs.arns import bucket_arn, for_account, from_bucket, object_arns, only_via
from infra.constructs.encryption import admit_delivery, rotating_key
from infra.constructs.function import ASSET_ROOT, EstateFunction
from infra.constructs.monitoring import MetricAlarm, MonitoredFunction, MonitoredQueue
from infra.constructs.python_layer import PythonLayer
from infra.constructs.work_queue import consume_statements, work_queue
from infra.nag import acknowledge

HANDLER = "estate_handlers.renditions.handler.handler"
REQUIREMENTS = ASSET_ROOT / "requirements-renditions.txt"
CONFIG_ENV = "RENDITIONS_CONFIG"  # estate_handlers.renditions.settings.CONFIG_ENV
OUTPUT_PREFIXES = (PROCESSED, THUMBNAILS)
BACKFILL_PREFIX = "ops/renditions-backfill/"
BACKFILL_MANIFESTS = f"{BACKFILL_PREFIX}manifests/"
BACKFILL_REPORTS = f"{BACKFILL_PREFIX}reports/"
EVENT = "s3:ObjectCreated:*"
# The handler's EMF metric (Powertools adds the "service" dimension).
METRICS_NAMESPACE = "StorageEstate/Renditions"  # estate_handlers.renditions.handler
REJECTED_METRIC = "RejectedOriginals"
SERVICE = "renditions"

MEMORY_MB = 2048
TIMEOUT = Duration.seconds(360)
# AWS's guidance for SQS event sources: visibility >= 6 x the function timeout.
VISIBILITY_TIMEOUT = Duration.seconds(6 * TIMEOUT.to_seconds())
MAX_RECEIVE_COUNT = 5
# SQS keeps a message's original enqueue time when it moves to the DLQ: the DLQ must keep
# messages longer than the queue, or a redriven failure could expire on arrival.
QUEUE_RETENTION = Duration.days(4)
DLQ_RETENTION = Duration.days(14)  # SQS's maximum: two weeks to fix and redrive
LICENSE = ("Pillow: MIT-CMU; bundled libjpeg-turbo, libwebp, libavif, aom, dav1d, libpng, "
           "zlib-ng, lcms2: BSD/MIT-style. pyjpegli (jpegli, highway, skcms), "
           "mozjpeg-lossless-optimization, pycparser: BSD-3-Clause; cffi: MIT. Powertools: MIT-0.")


def renditions_statements(*, region: str, bucket_name: str, bucket_key: kms.IKey,
                          queue: sqs.IQueue, queue_key: kms.IKey) -> list[iam.PolicyStatement]:
    """Everything the renditions function may do, besides its own logs and X-Ray."""
    via_s3 = only_via("s3", region)
    return [
        iam.PolicyStatement(
            sid="ReadAndTagOriginals",
            actions=["s3:GetObject", "s3:GetObjectVersion",
                     "s3:GetObjectTagging", "s3:GetObjectVersionTagging",
                     "s3:PutObjectTagging", "s3:PutObjectVersionTagging"],
            resources=object_arns(bucket_name, (ORIGINALS,)),
        ),
        # GetObjectVersion: a duplicate's reuse copies the versions its canonical's manifest
        # names (CopyObject with a source version id needs it).
        iam.PolicyStatement(
            sid="ReadAndWriteRenditions",
            actions=["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            resources=object_arns(bucket_name, OUTPUT_PREFIXES),
        ),
        iam.PolicyStatement(
            sid="ListBucketFor404s",
            actions=["s3:ListBucket"],
            resources=[bucket_arn(bucket_name)],
        ),
        iam.PolicyStatement(
            sid="UseAssetsKeyViaS3",
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[bucket_key.key_arn],
            conditions=via_s3,
        ),
        *consume_statements("Renditions", queue=queue, queue_key=queue_key, region=region),
    ]


def backfill_statements(*, region: str, bucket_name: str, bucket_key: kms.IKey,
                        function_arn: str) -> list[iam.PolicyStatement]:
    """What S3 Batch Operations may do while it runs a backfill job."""
    return [
        iam.PolicyStatement(sid="InvokeRenditions", actions=["lambda:InvokeFunction"],
                            resources=[function_arn]),
        iam.PolicyStatement(sid="ReadBackfillManifests",
                            actions=["s3:GetObject", "s3:GetObjectVersion"],
                            resources=object_arns(bucket_name, (BACKFILL_MANIFESTS,))),
        iam.PolicyStatement(sid="WriteCompletionReports", actions=["s3:PutObject"],
                            resources=object_arns(bucket_name, (BACKFILL_REPORTS,))),
        iam.PolicyStatement(sid="LocateBucketForReports", actions=["s3:GetBucketLocation"],
                            resources=[bucket_arn(bucket_name)]),
        iam.PolicyStatement(sid="UseAssetsKeyViaS3",
                            actions=["kms:Decrypt", "kms:GenerateDataKey"],
                            resources=[bucket_key.key_arn],
                            conditions=only_via("s3", region)),
    ]


class Renditions(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, name: str, bucket_name: str,
                 bucket_key: kms.IKey, settings_json: str, reserved_concurrency: int,
                 log_retention_days: int, backfill_role_name: str,
                 requirements: Path = REQUIREMENTS) -> None:
        """``name`` names the function's log group and role descriptions; ``bucket_name``
        is the assets bucket's physical name (literal ARNs, no reference cycle)."""
        super().__init__(scope, construct_id)
        self.bucket_name = bucket_name
        self._queues()
        self._renditions_function(name=name, bucket_key=bucket_key, settings_json=settings_json,
                                  reserved_concurrency=reserved_concurrency,
                                  log_retention_days=log_retention_days,
                                  requirements=requirements)
        self._backfill(role_name=backfill_role_name, bucket_key=bucket_key)

    def _queues(self) -> None:
        """The originals topic in, function batches out; the DLQ after 5 receives."""
        queues = work_queue(
            self, key_id="QueueKey", dlq_id="DeadLetters", queue_id="Queue",
            key_description=f"Encrypts the renditions queues of {self.bucket_name}",
            visibility_timeout=VISIBILITY_TIMEOUT, max_receive_count=MAX_RECEIVE_COUNT,
            dlq_retention=DLQ_RETENTION, retention=QUEUE_RETENTION)
        self.queue_key, self.dlq, self.queue = queues.key, queues.dlq, queues.queue

    def _renditions_function(self, *, name: str, bucket_key: kms.IKey, settings_json: str,
                             reserved_concurrency: int, log_retention_days: int,
                             requirements: Path) -> None:
        """The function, its third-party packages in a layer built without Docker."""
        self.layer = PythonLayer(self, "Packages", requirements=requirements,
                                 description="Pillow + Powertools for the renditions function",
                                 license_info=LICENSE)
        self.function = EstateFunction(
            self, "Function",
            name=name,
            description="Renders product originals into stored AVIF/WebP/JPEG renditions",
            handler=HANDLER,
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            environment={
                CONFIG_ENV: settings_json,
                "POWERTOOLS_SERVICE_NAME": SERVICE,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            },
            reserved_concurrency=reserved_concurrency,
            log_retention_days=log_retention_days,
            statements=renditions_statements(
                region=Stack.of(self).region, bucket_name=self.bucket_name,
                bucket_key=bucket_key, queue=self.queue, queue_key=self.queue_key),
            layers=[self.layer.layer],
        )
        self.event_source = lambda_.EventSourceMapping(
            self, "FromQueue",
            target=self.function.function,
            event_source_arn=self.queue.queue_arn,
            batch_size=RENDITION_BATCH_SIZE,
            report_batch_item_failures=True,
            max_concurrency=reserved_concurrency,  # never more batches than it may run
        )
        self.event_source.node.add_dependency(self.function.policy)
        acknowledge(self.function.function, {
            "NIST.800.53.R5-LambdaDLQ":
                "Invoked by its SQS event source (failed records go back to the queue and, "
                "after 5 receives, to its dead-letter queue) and synchronously by S3 Batch "
                "Operations (failures land in the job's completion report). A function DLQ "
                "only applies to asynchronous invocations, which nothing makes.",
        })
        acknowledge(self.function.policy, {
            f"AwsSolutions-IAM5[Resource::{arn}]":
                "Originals and renditions are one object per upload under server-generated "
                "keys: only a prefix wildcard can name them."
            for arn in object_arns(self.bucket_name, (ORIGINALS, *OUTPUT_PREFIXES))
        })

    def _backfill(self, *, role_name: str, bucket_key: kms.IKey) -> None:
        """The role S3 Batch Operations assumes to invoke the function over a manifest."""
        stack = Stack.of(self)
        self.backfill_role = iam.Role(
            self, "BackfillRole",
            role_name=role_name,
            description="S3 Batch Operations: backfill renditions of existing originals",
            assumed_by=iam.ServicePrincipal(
                "batchoperations.s3.amazonaws.com", conditions=for_account(stack.account)),
        )
        self.backfill_policy = iam.ManagedPolicy(
            self, "BackfillPolicy",
            description="Everything an S3 Batch Operations renditions backfill may do",
            roles=[self.backfill_role],
            statements=backfill_statements(
                region=stack.region, bucket_name=self.bucket_name, bucket_key=bucket_key,
                function_arn=self.function.function.function_arn),
        )
        acknowledge(self.backfill_policy, {
            f"AwsSolutions-IAM5[Resource::{arn}]":
                "Batch Operations reads the manifests and writes the reports the backfill "
                "tool names per job, under this one prefix."
            for arn in object_arns(self.bucket_name, (BACKFILL_MANIFESTS, BACKFILL_REPORTS))
        })
        CfnOutput(stack, "RenditionsFunctionArn", value=self.function.function.function_arn)
        CfnOutput(stack, "RenditionsBackfillRoleArn", value=self.backfill_role.role_arn)

    # ------------------------------------------------------------------ monitoring
    def monitored_function(self) -> MonitoredFunction:
        # The handler's own namespace and service (estate_handlers.renditions.handler).
        return MonitoredFunction("Renditions", self.function.function, self.function.timeout,
                                 handled_faults=(METRICS_NAMESPACE, "renditions"))

    def monitored_queue(self) -> MonitoredQueue:
        return MonitoredQueue("RenditionsQueue", "Renditions queue", self.queue, self.dlq)

    def metric_alarms(self, m: MonitoringConfig, rejected_threshold: int) -> list[MetricAlarm]:
        """Originals the function refused, above ``rejected_threshold`` per period."""
        return [MetricAlarm(
            group="Renditions", name="Rejected", section="Renditions",
            metric=rejected_metric(Duration.minutes(m.alarm_period_minutes)),
            threshold=rejected_threshold,
            what=f"More than {rejected_threshold} product originals rejected in a period.",
            runbook="Read the renditions function's log for the 'original rejected' lines: "
                    "one uploader sending bad files, or a new camera format to allow.")]


def rejected_metric(period: Duration) -> cw.Metric:
    """Originals refused as unsafe or unreadable (tagged ``processing-status=rejected``)."""
    return cw.Metric(namespace=METRICS_NAMESPACE, metric_name=REJECTED_METRIC,
                     dimensions_map={"service": SERVICE}, statistic="Sum", period=period,
                     label="Rejected originals")


def fan_out_originals(scope: Construct, construct_id: str, *, bucket: s3.IBucket,
                      bucket_name: str, queues: list[sqs.IQueue]) -> sns.Topic:
    """Route ObjectCreated under the originals prefix through one topic to every queue.

    Replaces the bucket's queue configuration for that prefix (the hasher's) with a topic
    configuration; every queue in ``queues`` subscribes with raw message delivery, so its
    messages stay S3 event notifications. Other prefixes are left as they are.
    """
    key = rotating_key(scope, f"{construct_id}Key",
                       description=f"Encrypts the originals topic of {bucket_name}")
    topic = sns.Topic(scope, construct_id, master_key=key, enforce_ssl=True,
                      display_name=f"New originals in {bucket_name}")
    admit_delivery(key, topic, target_arn=topic.topic_arn, action="sns:Publish",
                   service="s3.amazonaws.com",
                   conditions=from_bucket(bucket_name, Stack.of(scope).account),
                   sid="S3PublishesFromTheAssetsBucket")
    for queue in queues:
        # Also lets SNS use the queue's key, for this topic only (aws:SourceArn), and adds
        # the queue policy statement for this topic.
        topic.add_subscription(subs.SqsSubscription(queue, raw_message_delivery=True))

    cfn_bucket: s3.CfnBucket = bucket.node.default_child  # type: ignore[assignment]
    current = cfn_bucket.notification_configuration
    kept = [c for c in (current.queue_configurations or [])
            if not _filters_prefix(c, ORIGINALS)]
    cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
        queue_configurations=kept,
        topic_configurations=[s3.CfnBucket.TopicConfigurationProperty(
            event=EVENT, topic=topic.topic_arn,
            filter=s3.CfnBucket.NotificationFilterProperty(
                s3_key=s3.CfnBucket.S3KeyFilterProperty(rules=[
                    s3.CfnBucket.FilterRuleProperty(name="prefix", value=ORIGINALS)])))],
    )
    # S3 tests the configuration by publishing when it is set: the policy must exist first.
    topic_policy = topic.node.find_child("Policy")
    cfn_bucket.add_resource_dependency(topic_policy.node.default_child,  # type: ignore[arg-type]
                                       "S3 tests the topic configuration when it is set")
    return topic


def _filters_prefix(configuration, prefix: str) -> bool:
    rules = configuration.filter.s3_key.rules if configuration.filter else []
    return any(rule.name == "prefix" and rule.value == prefix for rule in rules)
