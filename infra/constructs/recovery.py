"""Recovery: the managed backstop of the assets bucket and the restore tool's Batch role.

- AWS Backup, continuous backup (point-in-time restore) of the assets bucket for
  ``continuous_backup_days`` into a vault encrypted with its own customer-managed key; in
  prod the vault is locked (compliance mode once the grace period has passed).
- The backup role: exactly the statements of AWS's managed policies
  ``AWSBackupServiceRolePolicyForS3Backup`` and ``…ForS3Restore``, scoped from ``arn:aws:s3:::*``
  and ``kms:*`` to this bucket and its key. Two statements keep ``*`` because their actions
  have no resource-level permissions (``s3:ListAllMyBuckets``; ``cloudwatch:GetMetricData``
  and ``events:ListRules``).
- The restore role for S3 Batch Operations (``python -m tools.restore --batch-operations``):
  read any version and its tags of the bucket, write objects and tags into it, read the
  manifest and write the job report under ``restore-jobs/``, use the bucket key through S3.
  No ACL actions: the bucket has ACLs disabled (BucketOwnerEnforced), so a copy has none.
  ``s3:PutObjectTagging`` stays: S3 checks it on the destination of a copy that carries the
  source's tags (AWS's Batch Operations copy policy lists it). It is exempt from none of the
  upload gate's denies, so it can neither read a version not scanned clean nor tag one clean;
  the restore tool leaves such versions to the local run (docs/upload-gate.md).
"""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.constructs.arns import bucket_arn, for_account, only_via, rule_arn
from infra.constructs.encryption import guard_key_from_destruction, rotating_key
from infra.nag import acknowledge

BACKUP_BUCKET_ACTIONS = [
    "s3:GetInventoryConfiguration", "s3:PutInventoryConfiguration", "s3:ListBucketVersions",
    "s3:ListBucket", "s3:GetBucketVersioning", "s3:GetBucketNotification",
    "s3:PutBucketNotification", "s3:GetBucketLocation", "s3:GetBucketTagging", "s3:GetBucketAcl",
]
BACKUP_OBJECT_ACTIONS = [
    "s3:GetObjectAcl", "s3:GetObject", "s3:GetObjectVersionTagging", "s3:GetObjectVersionAcl",
    "s3:GetObjectTagging", "s3:GetObjectVersion",
]
BACKUP_RULE_ACTIONS = [
    "events:DescribeRule", "events:EnableRule", "events:PutRule", "events:DeleteRule",
    "events:PutTargets", "events:RemoveTargets", "events:ListTargetsByRule", "events:DisableRule",
]
RESTORE_BUCKET_ACTIONS = [
    "s3:CreateBucket", "s3:ListBucketVersions", "s3:ListBucket", "s3:GetBucketVersioning",
    "s3:GetBucketLocation", "s3:PutBucketVersioning", "s3:PutBucketOwnershipControls",
    "s3:GetBucketOwnershipControls",
]
RESTORE_OBJECT_ACTIONS = [
    "s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject", "s3:PutObjectVersionAcl",
    "s3:GetObjectVersionAcl", "s3:GetObjectTagging", "s3:PutObjectTagging", "s3:GetObjectAcl",
    "s3:PutObjectAcl", "s3:ListMultipartUploadParts", "s3:PutObject",
]
BATCH_READ_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging",
                      "s3:GetObjectVersionTagging"]
BATCH_WRITE_ACTIONS = ["s3:PutObject", "s3:PutObjectTagging"]


class Recovery(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, bucket_name: str,
                 bucket_key: kms.IKey, vault_name: str, vault_key_alias: str,
                 backup_role_name: str, batch_role_name: str, continuous_backup_days: int,
                 vault_lock: bool, vault_lock_changeable_days: int,
                 break_glass_role_arn: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.bucket_name = bucket_name
        # Literal ARNs, like every estate policy (``arns``): the acknowledgements below name
        # the same strings, so they match with or without the CLI's context.
        self._bucket_arn = bucket_arn(bucket_name)
        self._objects_arn = f"{self._bucket_arn}/*"
        self._via_s3 = only_via("s3", stack.region)
        retention = Duration.days(continuous_backup_days)
        self._vault(vault_name=vault_name, vault_key_alias=vault_key_alias, retention=retention,
                    vault_lock=vault_lock, vault_lock_changeable_days=vault_lock_changeable_days,
                    break_glass_role_arn=break_glass_role_arn)
        self._backup_role(role_name=backup_role_name, bucket_key=bucket_key)
        self._plan(vault_name=vault_name, retention=retention)
        self._restore_batch_role(role_name=batch_role_name, bucket_key=bucket_key)

    def _vault(self, *, vault_name: str, vault_key_alias: str, retention: Duration,
               vault_lock: bool, vault_lock_changeable_days: int,
               break_glass_role_arn: str) -> None:
        bucket_name = self.bucket_name
        self.vault_key = rotating_key(
            self, "VaultKey", alias=vault_key_alias,
            description=f"Encrypts the backup vault {vault_name} (recovery points of "
                        f"{bucket_name})",
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)
        if vault_lock:
            # A locked vault's recovery points are only as safe as the key they are encrypted
            # with: deleting or disabling it would leave them unrestorable.
            guard_key_from_destruction(self.vault_key, break_glass_role_arn=break_glass_role_arn)
        self.vault = backup.BackupVault(
            self, "Vault", backup_vault_name=vault_name, encryption_key=self.vault_key,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
            # An access policy denying DeleteRecoveryPoint and UpdateRecoveryPointLifecycle to
            # everyone: the backstop for an unlocked vault (dev) and a lock's grace days.
            block_recovery_point_deletion=True,
            lock_configuration=backup.LockConfiguration(
                # A recovery point kept shorter than the plan's window would be refused.
                min_retention=retention,
                changeable_for=Duration.days(vault_lock_changeable_days),
            ) if vault_lock else None,
        )

    def _backup_role(self, *, role_name: str, bucket_key: kms.IKey) -> None:
        """AWS Backup's role: exactly the statements of AWS's managed S3 backup/restore
        policies, scoped to this bucket and its key."""
        stack = Stack.of(self)
        bucket_name, bucket_arn, objects_arn = self.bucket_name, self._bucket_arn, self._objects_arn
        via_s3 = self._via_s3
        rules_arn = rule_arn(stack.region, stack.account, "AwsBackupManagedRule*")
        recovery_points_arn = f"arn:aws:backup:{stack.region}:{stack.account}:recovery-point:*"
        self.backup_role = iam.Role(
            self, "BackupRole", role_name=role_name,
            assumed_by=iam.ServicePrincipal(
                "backup.amazonaws.com", conditions=for_account(stack.account)),
            description=f"AWS Backup: continuous backup and restore of {bucket_name} only")
        statements = [
            iam.PolicyStatement(sid="S3BucketBackupPermissions", actions=BACKUP_BUCKET_ACTIONS,
                                resources=[bucket_arn]),
            iam.PolicyStatement(sid="S3ObjectBackupPermissions", actions=BACKUP_OBJECT_ACTIONS,
                                resources=[objects_arn]),
            iam.PolicyStatement(sid="S3GlobalPermissions", actions=["s3:ListAllMyBuckets"],
                                resources=["*"]),
            iam.PolicyStatement(sid="KMSBackupPermissions",
                                actions=["kms:Decrypt", "kms:DescribeKey"],
                                resources=[bucket_key.key_arn], conditions=via_s3),
            iam.PolicyStatement(sid="EventsPermissions", actions=BACKUP_RULE_ACTIONS,
                                resources=[rules_arn]),
            iam.PolicyStatement(sid="EventsMetricsGlobalPermissions",
                                actions=["cloudwatch:GetMetricData", "events:ListRules"],
                                resources=["*"]),
            iam.PolicyStatement(sid="RecoveryPointTaggingPermissions",
                                actions=["backup:TagResource"], resources=[recovery_points_arn]),
            iam.PolicyStatement(sid="S3BucketRestorePermissions", actions=RESTORE_BUCKET_ACTIONS,
                                resources=[bucket_arn]),
            iam.PolicyStatement(sid="S3ObjectRestorePermissions", actions=RESTORE_OBJECT_ACTIONS,
                                resources=[objects_arn]),
            iam.PolicyStatement(sid="KMSRestorePermissions",
                                actions=["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"],
                                resources=[bucket_key.key_arn], conditions=via_s3),
        ]
        # Customer-managed policies (not inline): reviewable and attachable on their own.
        self.backup_policy = iam.ManagedPolicy(self, "BackupPolicy", statements=statements,
                                               roles=[self.backup_role])
        acknowledge(self.backup_policy, {
            "AwsSolutions-IAM5[Resource::*]":
                "s3:ListAllMyBuckets, cloudwatch:GetMetricData and events:ListRules have no "
                "resource-level permissions (AWS's managed S3 backup policy uses * for them).",
            f"AwsSolutions-IAM5[Resource::{objects_arn}]":
                "AWS Backup backs up and restores every object of the bucket; actions are "
                "exactly those of AWS's managed S3 backup/restore policies.",
            f"AwsSolutions-IAM5[Resource::{recovery_points_arn}]":
                "AWS Backup tags the recovery points it creates, whose ids it chooses; this "
                "account and Region only, and only backup:TagResource.",
            f"AwsSolutions-IAM5[Resource::{rules_arn}]":
                "AWS Backup names the EventBridge rules it manages for continuous S3 backup "
                "AwsBackupManagedRule<suffix>; the suffix is chosen by the service.",
        })

    def _plan(self, *, vault_name: str, retention: Duration) -> None:
        """Continuous backup of the bucket into the vault."""
        bucket_name, bucket_arn = self.bucket_name, self._bucket_arn
        self.plan = backup.BackupPlan(self, "Plan", backup_plan_name=vault_name)
        self.plan.add_rule(backup.BackupPlanRule(
            rule_name="assets-continuous", backup_vault=self.vault,
            enable_continuous_backup=True, delete_after=retention))
        self.selection = backup.BackupSelection(
            self, "Selection", backup_plan=self.plan, role=self.backup_role,
            resources=[backup.BackupResource.from_arn(bucket_arn)],
            backup_selection_name=bucket_name,
            # The role carries exactly the statements above, not AWS's broad managed policies.
            disable_default_backup_policy=True, allow_restores=False)

    def _restore_batch_role(self, *, role_name: str, bucket_key: kms.IKey) -> None:
        """The role S3 Batch Operations assumes for the restore tool's copy jobs."""
        stack = Stack.of(self)
        bucket_name, bucket_arn, objects_arn = self.bucket_name, self._bucket_arn, self._objects_arn
        via_s3 = self._via_s3
        self.batch_role = iam.Role(
            self, "RestoreBatchRole", role_name=role_name,
            assumed_by=iam.ServicePrincipal(
                "batchoperations.s3.amazonaws.com", conditions=for_account(stack.account)),
            description=f"S3 Batch Operations copy jobs of the restore tool, {bucket_name} only")
        self.batch_policy = iam.ManagedPolicy(self, "RestoreBatchPolicy", roles=[self.batch_role],
                                              statements=[
            iam.PolicyStatement(sid="ReadVersionsToRestoreAndTheManifest",
                                actions=BATCH_READ_ACTIONS, resources=[objects_arn]),
            iam.PolicyStatement(sid="WriteRestoredVersions", actions=BATCH_WRITE_ACTIONS,
                                resources=[objects_arn]),
            iam.PolicyStatement(sid="ListAndLocateTheBucket",
                                actions=["s3:ListBucket", "s3:GetBucketLocation"],
                                resources=[bucket_arn]),
            iam.PolicyStatement(sid="UseTheBucketKeyThroughS3",
                                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                                resources=[bucket_key.key_arn], conditions=via_s3),
        ])
        acknowledge(self.batch_policy, {
            f"AwsSolutions-IAM5[Resource::{objects_arn}]":
                "A restore copies any key of the bucket that the operator's manifest names; "
                "the actions are only reads of versions/tags and writes of objects/tags.",
        })
