"""Settings of the managed backstop (AWS Backup) and of the restore tool's scale-out."""
from __future__ import annotations

from dataclasses import dataclass

from .common import ConfigError, _check_whole


@dataclass(frozen=True)
class RecoveryConfig:
    """The managed backstop (AWS Backup) and the restore tool's scale-out (S3 Batch Operations).

    ``continuous_backup_days``: point-in-time restore window of the assets bucket (AWS Backup
    allows 1..35 days for continuous backups). ``vault_lock``: lock the vault in compliance
    mode after ``vault_lock_changeable_days`` (3 days minimum; after that, nobody — root
    included — can shorten retention or delete the vault's recovery points).
    ``batch_threshold_keys``: copies above which ``tools.restore`` hands over to S3 Batch
    Operations (the CLI's default; keep them equal)."""

    continuous_backup_days: int = 35
    vault_lock: bool = False
    vault_lock_changeable_days: int = 3
    batch_threshold_keys: int = 100_000

    def __post_init__(self) -> None:
        _check_whole("recovery", self, ("continuous_backup_days",), 1, 35, unit="of days ")
        _check_whole("recovery", self, ("vault_lock_changeable_days",), 3, unit="of days ")
        _check_whole("recovery", self, ("batch_threshold_keys",), 1)
        if not isinstance(self.vault_lock, bool):
            raise ConfigError(f"recovery: vault_lock must be true or false (got {self.vault_lock!r})")
