"""Backups: the Object-Lock-protected backups bucket (us-west-2, no replication)."""
from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.config.common import ERASURE_AUDIT_PREFIX
from infra.constructs.arns import via
from infra.constructs.encrypted_bucket import EncryptedBucket
from infra.constructs.encryption import guard_key_from_destruction
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
            lifecycle_rules=backups_lifecycle_rules(
                deep_archive_after_days=cfg.backups_deep_archive_after_days,
                noncurrent_expiration_days=cfg.noncurrent_version_expiration_days),
            # Compliance mode cannot be shortened or lifted by anyone, root included.
            object_lock_retention=(s3.ObjectLockRetention.compliance(retention)
                                   if cfg.backups_compliance_mode
                                   else s3.ObjectLockRetention.governance(retention)),
        )
        # Object Lock keeps the objects; this keeps them readable.
        guard_key_from_destruction(self.backups.key, break_glass_role_arn=cfg.break_glass_role_arn)
        self.writer_policy = backups_writer_policy(self, self.backups,
                                                   bucket_name=cfg.backups_bucket_name,
                                                   policy_name=cfg.backups_writer_policy_name)
        self.erasure_audit_policy = erasure_audit_policy(
            self, self.backups, bucket_name=cfg.backups_bucket_name,
            policy_name=cfg.erasure_audit_policy_name)
        acknowledge(self.backups.bucket, {
            "NIST.800.53.R5-S3BucketReplicationEnabled":
                "Backups are already the second copy, in a second region from the assets; "
                "Object Lock, not replication, is what protects them.",
        })
        CfnOutput(self, "BackupsBucketName", value=self.backups.bucket.bucket_name)
        CfnOutput(self, "BackupsWriterPolicyArn", value=self.writer_policy.managed_policy_arn)
        CfnOutput(self, "ErasureAuditPolicyArn",
                  value=self.erasure_audit_policy.managed_policy_arn)


def _through_s3(backups: EncryptedBucket, region: str, actions: list[str]) -> iam.PolicyStatement:
    """The backups key, only as S3 uses it in this region for this bucket's objects."""
    return iam.PolicyStatement(
        sid="EncryptWithTheBackupsKeyThroughS3", actions=actions,
        resources=[backups.key.key_arn],
        conditions={"StringEquals": {**via("s3", region),
                                     "kms:EncryptionContext:aws:s3:arn": backups.bucket.bucket_arn}})


def _objects_policy(scope: Construct, backups: EncryptedBucket, construct_id: str, *,
                    policy_name: str, description: str, statements: list[iam.PolicyStatement],
                    objects: str, reason: str) -> iam.ManagedPolicy:
    """A managed policy for the backups bucket whose object statements name
    ``<bucket>/<objects>``: that wildcard acknowledged with ``reason``."""
    policy = iam.ManagedPolicy(scope, construct_id, managed_policy_name=policy_name,
                               description=description, statements=statements)
    bucket_id = Stack.of(scope).get_logical_id(backups.cfn_bucket)
    acknowledge(policy, {f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{objects}]": reason})
    return policy


def backups_writer_policy(scope: Construct, backups: EncryptedBucket, *, bucket_name: str,
                          policy_name: str) -> iam.ManagedPolicy:
    """What a backup job attaches to its role: write new objects, each locked with the bucket's
    default retention, encrypted with the backups key through S3. No read, no delete, no
    retention of its own, no BypassGovernanceRetention, no lock removal."""
    return _objects_policy(
        scope, backups, "BackupsWriter", policy_name=policy_name,
        description=f"Write-only access to {bucket_name} for backup jobs",
        statements=[
            iam.PolicyStatement(
                sid="WriteBackupObjects",
                # PutObject covers multipart uploads. No PutObjectRetention: on a new object,
                # x-amz-object-lock-* headers replace the bucket's default retention (a
                # governance lock until tomorrow in a compliance bucket), and S3 accepts them
                # only with that permission; without it every object gets the default.
                actions=["s3:PutObject"],
                resources=[backups.bucket.arn_for_objects("*")],
            ),
            # Decrypt: S3 needs it to complete a multipart upload under SSE-KMS.
            _through_s3(backups, Stack.of(scope).region, ["kms:GenerateDataKey", "kms:Decrypt"]),
        ],
        objects="*",
        reason="Backup jobs choose their own object keys anywhere in the backups bucket; "
               "the only action is PutObject (no read, delete, retention of its own or bypass).")


def erasure_audit_policy(scope: Construct, backups: EncryptedBucket, *, bucket_name: str,
                         policy_name: str) -> iam.ManagedPolicy:
    """What the erase tool's operator attaches to store the erasure's audit record: read the
    bucket's Object Lock setting (checked before anything is erased), then write one object
    under the audit prefix with a lock of its own (``--audit-retain-days``, six years by
    default, longer than the bucket's default). Only there: the writer policy's reason for
    withholding ``s3:PutObjectRetention`` holds for every other key."""
    return _objects_policy(
        scope, backups, "ErasureAudit", policy_name=policy_name,
        description=f"Erasure audit records into {bucket_name}/{ERASURE_AUDIT_PREFIX}",
        statements=[
            iam.PolicyStatement(
                sid="ReadTheObjectLockSetting",
                actions=["s3:GetBucketObjectLockConfiguration"],
                resources=[backups.bucket.bucket_arn],
            ),
            iam.PolicyStatement(
                sid="WriteLockedAuditRecords",
                # PutObjectRetention: S3 accepts a new object's x-amz-object-lock-* headers
                # only with it.
                actions=["s3:PutObject", "s3:PutObjectRetention"],
                resources=[backups.bucket.arn_for_objects(f"{ERASURE_AUDIT_PREFIX}*")],
            ),
            # One small PutObject per record: no multipart upload, so no kms:Decrypt.
            _through_s3(backups, Stack.of(scope).region, ["kms:GenerateDataKey"]),
        ],
        objects=f"{ERASURE_AUDIT_PREFIX}*",
        reason="Each erasure's record has a key of its own (date and run id) under this one "
               "prefix; the actions are PutObject and its lock, nothing that reads or deletes.")
