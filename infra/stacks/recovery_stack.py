"""Recovery: AWS Backup of the assets bucket and the restore tool's Batch role (us-east-1)."""
from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.recovery import Recovery


class RecoveryStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: EnvironmentConfig,
                 bucket_key: kms.IKey) -> None:
        super().__init__(scope, construct_id,
                         env=Environment(account=cfg.account, region=cfg.primary_region),
                         description=f"Backups and restore roles of the {cfg.name} storage estate",
                         termination_protection=cfg.termination_protection)
        self.recovery = Recovery(
            self, "Recovery",
            bucket_name=cfg.assets_bucket_name,
            bucket_key=bucket_key,
            vault_name=cfg.backup_vault_name,
            vault_key_alias=cfg.backup_vault_key_alias,
            backup_role_name=cfg.backup_role_name,
            batch_role_name=cfg.restore_batch_role_name,
            continuous_backup_days=cfg.recovery.continuous_backup_days,
            vault_lock=cfg.recovery.vault_lock,
            vault_lock_changeable_days=cfg.recovery.vault_lock_changeable_days,
            break_glass_role_arn=cfg.break_glass_role_arn,
        )
        CfnOutput(self, "BackupVaultName", value=self.recovery.vault.backup_vault_name)
        CfnOutput(self, "RestoreBatchRoleArn", value=self.recovery.batch_role.role_arn)
