"""Assets: the primary assets bucket, its key, tiering, replication and the upload hasher
(us-east-1). Deploys after Replica (the replication rule names its bucket, key and role)."""
from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.cdn import grant_distribution_read
from infra.constructs.encrypted_bucket import EncryptedBucket
from infra.constructs.renditions import Renditions, fan_out_originals
from infra.constructs.replication import SourceReplication
from infra.constructs.tiering import assets_intelligent_tiering, assets_lifecycle_rules
from infra.constructs.upload_hasher import UploadHasher


class AssetsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id,
                         env=Environment(account=cfg.account, region=cfg.primary_region),
                         description=f"Assets bucket of the {cfg.name} storage estate",
                         termination_protection=cfg.termination_protection)
        access_logs = s3.Bucket.from_bucket_name(
            self, "AccessLogs", cfg.access_log_bucket_name(cfg.primary_region))
        self.assets = EncryptedBucket(
            self, "Assets",
            bucket_name=cfg.assets_bucket_name,
            key_alias=cfg.assets_key_alias,
            purpose="product images, brand media, documents and user uploads",
            access_logs=access_logs,
            lifecycle_rules=assets_lifecycle_rules(cfg),
            intelligent_tiering=assets_intelligent_tiering(),
        )
        self.replication = SourceReplication(
            self, "Replication",
            source=self.assets.bucket, source_key=self.assets.key,
            role_arn=cfg.replication_role_arn,
            destination_bucket_name=cfg.replica_bucket_name,
            destination_key_alias_arn=cfg.replica_key_alias_arn,
        )
        # New uploads -> queue -> hasher -> dedup index (S3 notifications are a property of
        # the bucket, so the pipeline lives with it).
        self.upload_hasher = UploadHasher(self, "UploadHasher", cfg=cfg,
                                          bucket=self.assets.bucket, bucket_key=self.assets.key)
        # New originals -> renditions queue -> renditions function -> processed/ + thumbnails/;
        # the originals prefix fans out through one topic to this queue and the hasher's.
        renditions = cfg.renditions
        self.renditions = Renditions(
            self, "Renditions",
            name=cfg.renditions_name, bucket_name=cfg.assets_bucket_name,
            bucket_key=self.assets.key, settings_json=renditions.settings_json(),
            reserved_concurrency=renditions.reserved_concurrency,
            log_retention_days=renditions.log_retention_days,
            backfill_role_name=cfg.renditions_backfill_role_name)
        self.originals_topic = fan_out_originals(
            self, "OriginalsTopic", bucket=self.assets.bucket, bucket_name=cfg.assets_bucket_name,
            queues=[self.upload_hasher.queue, self.renditions.queue])
        grant_distribution_read(self.assets.bucket, self.assets.key)  # the CDN's primary origin
        CfnOutput(self, "AssetsBucketName", value=self.assets.bucket.bucket_name)
        CfnOutput(self, "AssetsKeyArn", value=self.assets.key.key_arn)
