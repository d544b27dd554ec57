"""Assets: the primary assets bucket, its key, tiering, replication and the upload hasher
(us-east-1). Deploys after Replica (the replication rule names its bucket, key and role)."""
from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.config import ORIGINALS, EnvironmentConfig
from infra.constructs.browser_uploads import cors_rule_specs
from infra.constructs.cdn import grant_distribution_read
from infra.constructs.encrypted_bucket import EncryptedBucket
from infra.constructs.encryption import guard_alias
from infra.constructs.malware_gate import MalwareGate, split_by_gate
from infra.constructs.renditions import Renditions, fan_out_originals
from infra.constructs.replication import ReplicationRole, SourceReplication
from infra.constructs.tiering import assets_intelligent_tiering, assets_lifecycle_rules
from infra.constructs.upload_hasher import HASHED_PREFIXES, UploadHasher
from infra.nag import acknowledge


class AssetsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id,
                         env=Environment(account=cfg.account, region=cfg.primary_region),
                         description=f"Assets bucket of the {cfg.name} storage estate",
                         termination_protection=cfg.termination_protection)
        self._assets_bucket(cfg)
        # New uploads -> queue -> hasher -> dedup index; new originals -> renditions queue ->
        # renditions function -> processed/ + thumbnails/ (here: S3 notifications are a
        # property of the bucket). With the upload gate on, gated prefixes reach the queues
        # only through the gate's clean verdict; S3 notifies the rest.
        gated = cfg.upload_gate.gated_prefixes
        hashed_released, hashed_notified = split_by_gate(HASHED_PREFIXES, gated)
        self.upload_hasher = UploadHasher(
            self, "UploadHasher",
            name=cfg.upload_hasher_name, bucket_name=cfg.assets_bucket_name,
            bucket=self.assets.bucket, bucket_key=self.assets.key,
            reserved_concurrency=cfg.upload_api.hasher_reserved_concurrency,
            log_retention_days=cfg.upload_api.log_retention_days,
            notify_prefixes=hashed_notified)
        renditions = cfg.renditions
        self.renditions = Renditions(
            self, "Renditions",
            name=cfg.renditions_name, bucket_name=cfg.assets_bucket_name,
            bucket_key=self.assets.key, settings_json=renditions.settings_json(),
            reserved_concurrency=renditions.reserved_concurrency,
            log_retention_days=renditions.log_retention_days,
            backfill_role_name=cfg.renditions_backfill_role_name)
        originals_released, originals_notified = split_by_gate((ORIGINALS,), gated)
        self.gate: MalwareGate | None = None
        if gated:
            self.gate = self._upload_gate(cfg, hashed_released=hashed_released,
                                          originals_released=originals_released)
        self.originals_topic = None
        if originals_notified:
            self.originals_topic = self._fan_out_originals(
                cfg, hasher_too=ORIGINALS in hashed_notified)
        grant_distribution_read(self.assets.bucket, self.assets.key)  # the CDN's primary origin
        CfnOutput(self, "AssetsBucketName", value=self.assets.bucket.bucket_name)
        CfnOutput(self, "AssetsKeyArn", value=self.assets.key.key_arn)

    def _assets_bucket(self, cfg: EnvironmentConfig) -> None:
        """The bucket, its key, tiering and CORS, and its replication rule."""
        access_logs = s3.Bucket.from_bucket_name(
            self, "AccessLogs", cfg.access_log_bucket_name(cfg.primary_region))
        self.assets = EncryptedBucket(
            self, "Assets",
            bucket_name=cfg.assets_bucket_name,
            key_alias=cfg.assets_key_alias,
            purpose="product images, brand media, documents and user uploads",
            access_logs=access_logs,
            lifecycle_rules=assets_lifecycle_rules(cfg.object_expiry),
            intelligent_tiering=assets_intelligent_tiering(),
            cors_rules=cors_rule_specs(cfg.assets_cors),
        )
        # The replica's rule back here and the replication role name this key by its alias.
        guard_alias(self.assets.key, break_glass_role_arn=cfg.break_glass_role_arn)
        # AWS Backup's continuous backup (the Recovery stack, every environment) follows the
        # bucket's changes through EventBridge and turns that delivery on itself; CloudFormation
        # owns the notification configuration and would turn it off on the next change to it,
        # and continuous backups stop without one: declare it.
        self.assets.cfn_bucket.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)
        self.replication = SourceReplication(
            self, "Replication",
            source=self.assets.bucket, source_key=self.assets.key,
            role_arn=cfg.replication_role_arn,
            destination_bucket_name=cfg.replica_bucket_name,
            destination_key_alias_arn=cfg.replica_key_alias_arn,
        )
        # The replica bucket's rule back here (set in the Replica stack) names this role.
        self.reverse_replication = ReplicationRole(
            self, "ReverseReplication",
            role_name=cfg.reverse_replication_role_name,
            source_bucket_name=cfg.replica_bucket_name,
            destination=self.assets.bucket,
            destination_key=self.assets.key,
            source_region=cfg.replica_region,
            source_key_alias=cfg.replica_key_alias,
        )
        assets_id = self.get_logical_id(self.assets.cfn_bucket)
        acknowledge(self.reverse_replication.policy, {
            f"AwsSolutions-IAM5[Resource::arn:aws:s3:::{cfg.replica_bucket_name}/*]":
                "S3 replication reads any version of any object of the replica bucket written "
                "there during a failover: the rule covers the whole bucket.",
            f"AwsSolutions-IAM5[Resource::<{assets_id}.Arn>/*]":
                "Writes made in the replica region come back under the same keys, anywhere in "
                "the assets bucket; the actions are only ReplicateObject and ReplicateTags.",
            f"AwsSolutions-IAM5[Resource::arn:aws:kms:{cfg.replica_region}:{cfg.account}:key/*]":
                "The replica key is the Replica stack's, in another Region: named by its alias "
                "(kms:ResourceAliases), Decrypt only, via S3 for the replica bucket's objects "
                "only.",
        })

    def _upload_gate(self, cfg: EnvironmentConfig, *, hashed_released: tuple[str, ...],
                     originals_released: tuple[str, ...]) -> MalwareGate:
        """GuardDuty scans the gated prefixes; clean verdicts feed the consumers' queues."""
        gate = MalwareGate(
            self, "UploadGate",
            names=cfg.upload_gate_names,
            bucket=self.assets.bucket,
            bucket_name=cfg.assets_bucket_name,
            bucket_key=self.assets.key,
            prefixes=cfg.upload_gate.gated_prefixes,
            scanner_role_name=cfg.malware_scan_role_name,
            alarm_topic_name=cfg.alarm_topic_name,
            alarm_topic_key_alias=cfg.alarm_topic_key_alias,
            reserved_concurrency=cfg.upload_gate.verdict_reserved_concurrency,
            log_retention_days=cfg.upload_api.log_retention_days,
            backup_role_name=cfg.backup_role_name,
            hold_unscanned=cfg.upload_gate.hold_unscanned,
        )
        gate.release_to("Hasher", self.upload_hasher.queue, self.upload_hasher.queue_key,
                        hashed_released)
        if originals_released:
            gate.release_to("Renditions", self.renditions.queue, self.renditions.queue_key,
                            originals_released)
        return gate

    def _fan_out_originals(self, cfg: EnvironmentConfig, *, hasher_too: bool) -> sns.Topic:
        """Without the gate, S3 notifies both consumers of originals; it refuses two queue
        configurations with overlapping prefixes, so one topic fans the event out."""
        consumers = [self.renditions.queue]
        if hasher_too:
            consumers.insert(0, self.upload_hasher.queue)
        return fan_out_originals(self, "OriginalsTopic", bucket=self.assets.bucket,
                                 bucket_name=cfg.assets_bucket_name, queues=consumers)
