"""The shipped environments. Account ids are placeholders: set real ones here
(or pass `-c account_<env>=123456789012`, see docs/configuration.md)."""
from __future__ import annotations

from infra.config import (
    BRAND_LOGOS,
    BRAND_MEDIA,
    DOCUMENTS,
    ORIGINALS,
    PROCESSED,
    RENDITION_BATCH_SIZE,
    THUMBNAILS,
    USER_EXPORTS,
    USER_UPLOADS,
    BucketCorsConfig,
    CdnConfig,
    DeliveryConfig,
    EnvironmentConfig,
    FunctionUsage,
    KindAccess,
    RecoveryConfig,
    StoredGroup,
    UploadApiConfig,
    UploadGateConfig,
    UsageConfig,
    default_upload_kinds,
)

ORG = "justkalm"
# The repository whose GitHub Actions deploy the estate (docs/delivery.md): its deploy roles
# trust this repository's `dev`/`prod` GitHub environments, and its drift roles its main branch.
# The ids are GitHub's numeric owner and repository ids (placeholders here, like the account
# ids: `gh api repos/justkalm/storage-estate --jq '.owner.id, .id'` prints the real ones).
# legacy_subject: the repository predates immutable subject claims, so its tokens carry the
# name-based `sub` until it opts in; set False once a deploy has passed after the opt-in.
DELIVERY = DeliveryConfig(owner="justkalm", repo="storage-estate", owner_id="100000001",
                          repo_id="900000001", branch="main", legacy_subject=True)

_UPLOAD_MIX = {"product-image": (0.5, 0.4), "user-upload": (0.4, 0.25),
               "certificate": (0.05, 0.3), "report": (0.03, 0.5),
               "brand-media": (0.015, 4.0), "brand-logo": (0.005, 0.05)}
_DUPLICATE_SHARE = 0.3
# Renditions: only product originals reach the function (half the uploads), four to an SQS
# batch. An original that is no duplicate is rendered: its whole stored set takes 2.7
# CPU-seconds (bench_anchor.py, UsageConfig.rendition_cpu_seconds_per_original), one encode
# at a time, so about as many seconds of the function's time; a duplicate copies the
# canonical's renditions (~0.1 s).
_RENDER_SECONDS = 2.7
_PRODUCT_SHARE = _UPLOAD_MIX["product-image"][0]
_RENDITION_SECONDS_PER_ORIGINAL = (1 - _DUPLICATE_SHARE) * _RENDER_SECONDS \
    + _DUPLICATE_SHARE * 0.1
# Hashing: SHA-256 streams at ~hashlib speed (bench_hash: ratio ~1.0, ~0.4 GB/s on Graviton), so
# an S3 read dominates: ~0.3 s per 4-record batch.
# Malware-scan verdicts other than clean (unsupported, failed, threats): ~0.2 % of uploads.
# WriteHealth answers Route 53's probes, not uploads: priced with the health check (the
# probes' requests); its compute per upload is nil.
_FUNCTIONS = {"Presign": FunctionUsage(1.5, 0.05), "Hasher": FunctionUsage(0.25, 0.3),
              "WriteHealth": FunctionUsage(0.0, 0.0),
              "Rendition": FunctionUsage(_PRODUCT_SHARE / RENDITION_BATCH_SIZE,
                                         RENDITION_BATCH_SIZE * _RENDITION_SECONDS_PER_ORIGINAL),
              "Verdict": FunctionUsage(0.002, 0.2)}
_QUEUES = {"Hasher": 1.0, "Rendition": _PRODUCT_SHARE, "Verdict": 0.002, "DeadLetter": 0.0,
           "Dlq": 0.0}

# The platform's own figures: ~52 TB stored, 1.2 M uploads a day, delivered worldwide.
PROD_USAGE = UsageConfig(
    stored={ORIGINALS: StoredGroup(30_000, 1095, 0.05), PROCESSED: StoredGroup(8_000, 1095),
            THUMBNAILS: StoredGroup(1_500, 1095), DOCUMENTS: StoredGroup(3_000, 1095, 0.02),
            BRAND_LOGOS: StoredGroup(50, 1095), BRAND_MEDIA: StoredGroup(6_000, 730, 0.2),
            USER_UPLOADS: StoredGroup(3_400, 730, 0.02), USER_EXPORTS: StoredGroup(gb_per_day=20)},
    avg_object_mb=0.4, uploads_per_day=1.2e6, upload_mix=_UPLOAD_MIX,
    renditions_per_original=4, rendition_avg_mb=0.08, duplicate_share=_DUPLICATE_SHARE,
    rendition_cpu_seconds_per_original=_RENDER_SECONDS,
    noncurrent_gb_per_day=15,
    cdn_requests_per_month={"na": 1.5e9, "eu": 1.2e9, "apac": 0.6e9, "sa": 0.15e9,
                            "in": 0.1e9, "au": 0.05e9},
    cdn_gb_per_month={"na": 117_000, "eu": 94_000, "apac": 47_000, "sa": 12_000,
                      "in": 8_000, "au": 4_000},
    cdn_cache_hit_ratio=0.95, functions=_FUNCTIONS, queue_messages_per_upload=_QUEUES,
    kms_requests_per_month=12e6,
    # WriteHealth: Lambda's START/END/REPORT lines of ~3.9 M Route 53 probes a month.
    log_gb_per_month={"Presign": 20, "Hasher": 15, "Rendition": 15, "Api": 25, "Waf": 30,
                      "Verdict": 0.5, "WriteHealth": 1.2},
    access_log_gb_per_month={"us-east-1": 300, "us-west-2": 60}, cdn_log_gb_per_month=900,
    alarm_notifications_per_month=300, dedup_index_gb=60,
    backups_gb=36_500, backups_age_span_days=365,  # ~100 GB/day kept for a year
    # AWS Backup's continuous backup keeps every version the bucket still holds: the current
    # ~52 TB plus the noncurrent versions of the 35-day window (15 GB/day).
    aws_backup_gb=52_000 + 15 * 35,
)

DEV_USAGE = UsageConfig(
    stored={ORIGINALS: StoredGroup(60, 180), PROCESSED: StoredGroup(20, 180),
            USER_UPLOADS: StoredGroup(10, 90), USER_EXPORTS: StoredGroup(gb_per_day=0.1)},
    avg_object_mb=0.4, uploads_per_day=2_000, upload_mix=_UPLOAD_MIX,
    renditions_per_original=4, rendition_avg_mb=0.08, duplicate_share=_DUPLICATE_SHARE,
    rendition_cpu_seconds_per_original=_RENDER_SECONDS,
    noncurrent_gb_per_day=0.2,
    cdn_requests_per_month={"na": 2e6, "eu": 0.5e6}, cdn_gb_per_month={"na": 150, "eu": 40},
    functions=_FUNCTIONS, queue_messages_per_upload=_QUEUES, kms_requests_per_month=50_000,
    log_gb_per_month={"Presign": 0.5, "Hasher": 0.5, "Rendition": 0.5, "Api": 0.5, "Waf": 0.5,
                      "Verdict": 0.1, "WriteHealth": 0.01},
    access_log_gb_per_month={"us-east-1": 1, "us-west-2": 0.2}, cdn_log_gb_per_month=1,
    alarm_notifications_per_month=50, dedup_index_gb=0.1, backups_gb=50,
    aws_backup_gb=90 + 0.2 * 35,
)


def brand_publishers(account: str) -> KindAccess:
    """Brand kinds go public on the CDN: only the brand-publishing role (and, behind a JWT
    authorizer, the brand-publishers group) may upload them."""
    return KindAccess(
        iam_principals=(f"arn:aws:sts::{account}:assumed-role/{ORG}-brand-publisher/*",),
        jwt_groups=("brand-publishers",))


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
        upload_api=UploadApiConfig(kinds=default_upload_kinds(brand_publishers(account)),
                                   throttle_rate_per_second=20, throttle_burst=40),
        cdn=CdnConfig(storefront_origins=("http://localhost:3000",),
                      waf_rate_limit_per_5min=1000),
        usage=DEV_USAGE,
        assets_cors=BucketCorsConfig(allowed_origins=("http://localhost:3000",)),
        delivery=DELIVERY,
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
        upload_api=UploadApiConfig(kinds=default_upload_kinds(brand_publishers(account))),
        recovery=RecoveryConfig(continuous_backup_days=35, vault_lock=True),
        cdn=CdnConfig(
            domain_name="cdn.justkalm.example",
            hosted_zone_name="justkalm.example",
            hosted_zone_id="Z0123456789EXAMPLE",
            storefront_origins=("https://www.justkalm.example", "https://justkalm.example"),
            waf_rate_limit_per_5min=5000,
        ),
        usage=PROD_USAGE,
        # The storefront uploads straight to the bucket with presigned URLs.
        assets_cors=BucketCorsConfig(
            allowed_origins=("https://www.justkalm.example", "https://justkalm.example")),
        upload_gate=UploadGateConfig(enabled=True),
        delivery=DELIVERY,
    )


ENVIRONMENTS = {"dev": dev, "prod": prod}
