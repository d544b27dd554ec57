"""Backups: the Object-Lock-protected backups bucket (us-west-2, no replication)."""
from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Environment, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.encrypted_bucket import EncryptedBucket
from infra.constructs.tiering import backups_lifecycle_rules
from infra.nag import acknowledge


class BackupsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id,
                         env=Environment(account=cfg.account, region=cfg.backups_region),
                         description=f"Backups bucket of the {cfg.name} storage estate",
                         termination_protection=cfg.termination_protection)
        access_logs = s3.Bucket.from_bucket_name(
            self, "AccessLogs", cfg.access_log_bucket_name(cfg.backups_region))
        retention = Duration.days(cfg.backups_retention_days)
        self.backups = EncryptedBucket(
            self, "Backups",
            bucket_name=cfg.backups_bucket_name,
            key_alias=cfg.backups_key_alias,
            purpose="backups, write-once for the retention period",
            access_logs=access_logs,
            lifecycle_rules=backups_lifecycle_rules(cfg),
            # Compliance mode cannot be shortened or lifted by anyone, root included.
            object_lock_retention=(s3.ObjectLockRetention.compliance(retention)
                                   if cfg.backups_compliance_mode
                                   else s3.ObjectLockRetention.governance(retention)),
        )
        acknowledge(self.backups.bucket, {
            "NIST.800.53.R5-S3BucketReplicationEnabled":
                "Backups are already the second copy, in a second region from the assets; "
                "Object Lock, not replication, is what protects them.",
        })
        CfnOutput(self, "BackupsBucketName", value=self.backups.bucket.bucket_name)
