"""The shipped environments. Account ids are placeholders: set real ones here
(or pass `-c account_<env>=123456789012`, see README "Configuration")."""
from __future__ import annotations

from infra.config import CdnConfig, EnvironmentConfig, RecoveryConfig, UploadApiConfig

ORG = "justkalm"


def dev(account: str = "111111111111") -> EnvironmentConfig:
    return EnvironmentConfig(
        name="dev",
        account=account,
        org=ORG,
        alarm_email="platform-alerts+dev@justkalm.example",
        noncurrent_version_expiration_days=60,
        backups_retention_days=7,
        backups_compliance_mode=False,
        termination_protection=True,
        upload_api=UploadApiConfig(throttle_rate_per_second=20, throttle_burst=40),
        cdn=CdnConfig(storefront_origins=("http://localhost:3000",),
                      waf_rate_limit_per_5min=1000),
    )


def prod(account: str = "222222222222") -> EnvironmentConfig:
    return EnvironmentConfig(
        name="prod",
        account=account,
        org=ORG,
        alarm_email="platform-alerts@justkalm.example",
        noncurrent_version_expiration_days=365,
        noncurrent_glacier_ir_after_days=30,
        exports_expiration_days=7,
        backups_retention_days=35,
        backups_compliance_mode=True,
        recovery=RecoveryConfig(continuous_backup_days=35, vault_lock=True),
        cdn=CdnConfig(
            domain_name="cdn.justkalm.example",
            hosted_zone_name="justkalm.example",
            hosted_zone_id="Z0123456789EXAMPLE",
            storefront_origins=("https://www.justkalm.example", "https://justkalm.example"),
            waf_rate_limit_per_5min=5000,
        ),
    )


ENVIRONMENTS = {"dev": dev, "prod": prod}
