"""Typed configuration of one environment of the storage estate.

One frozen ``EnvironmentConfig`` per environment, validated when it is built
(``__post_init__``), so a bad value fails before any construct exists and the
message names the field. ``app.py`` reads it once and passes it down as props;
nothing below ``app.py`` reads context or environment variables.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

MB = 1024 * 1024
GB = 1024 * MB

# The prefix layout of the assets bucket (see README, "Bucket layout").
ORIGINALS = "products/images/original/"
PROCESSED = "products/images/processed/"
THUMBNAILS = "products/images/thumbnails/"
CERTIFICATES = "products/documents/certificates/"
REPORTS = "products/documents/reports/"
DOCUMENTS = "products/documents/"
BRAND_LOGOS = "brands/logos/"
BRAND_MEDIA = "brands/media/"
USER_UPLOADS = "user-content/uploads/"
USER_EXPORTS = "user-content/exports/"

# The upload hasher tags duplicates with this (key, value); a lifecycle rule expires them.
# Must match lambda/estate_handlers/dedup_index.py (a test checks it).
DUPLICATE_TAG = ("dedup-status", "duplicate")

ASSET_PREFIXES = (
    ORIGINALS, PROCESSED, THUMBNAILS, CERTIFICATES, REPORTS,
    BRAND_LOGOS, BRAND_MEDIA, USER_UPLOADS, USER_EXPORTS,
)

_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-\d")
# S3 general purpose bucket naming rules, minus the forms S3 reserves.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_ORG = re.compile(r"[a-z0-9][a-z0-9-]{0,20}[a-z0-9]")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DOMAIN = re.compile(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field."""


def _fail(env: str, field_name: str, problem: str) -> None:
    raise ConfigError(f"config '{env}': {field_name} {problem}")


def _check_whole(where: str, obj: object, names: tuple[str, ...], minimum: int,
                 maximum: int | None = None, unit: str = "") -> None:
    """Every field in ``names`` is an int (not a bool) within bounds; the error names it."""
    for name in names:
        value = getattr(obj, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum \
                or (maximum is not None and value > maximum):
            bounds = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
            raise ConfigError(f"{where}: {name} must be a whole number {unit}{bounds} "
                              f"(got {value!r})")


def _check_bucket_name(env: str, field_name: str, name: str) -> None:
    if not _BUCKET.fullmatch(name) or ".." in name or name.startswith("xn--") \
            or name.endswith("-s3alias") or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        _fail(env, field_name, f"'{name}' is not a valid S3 bucket name "
              "(3-63 lowercase letters, digits, dots or hyphens)")


@dataclass(frozen=True)
class UploadKind:
    """What one `kind` of upload may be: where it lands, which types, how big."""

    prefix: str
    content_types: tuple[str, ...]
    max_bytes: int
    per_caller: bool = False  # key gets the caller's id as a sub-prefix


def default_upload_kinds() -> dict[str, UploadKind]:
    images = ("image/jpeg", "image/png", "image/webp", "image/avif")
    return {
        "product-image": UploadKind(ORIGINALS, images, 50 * MB),
        "certificate": UploadKind(CERTIFICATES, ("application/pdf",), 20 * MB),
        "report": UploadKind(REPORTS, ("application/pdf",), 20 * MB),
        "brand-logo": UploadKind(BRAND_LOGOS, ("image/svg+xml", "image/png"), 5 * MB),
        "brand-media": UploadKind(BRAND_MEDIA, images + ("video/mp4",), 5 * GB),
        "user-upload": UploadKind(USER_UPLOADS, images + ("application/pdf",), 50 * MB,
                                  per_caller=True),
    }


@dataclass(frozen=True)
class UploadApiConfig:
    kinds: dict[str, UploadKind] = field(default_factory=default_upload_kinds)
    url_expiry_seconds: int = 900
    multipart_threshold_bytes: int = 100 * MB
    multipart_part_bytes: int = 64 * MB
    throttle_rate_per_second: int = 200
    throttle_burst: int = 400
    jwt_issuer: str | None = None  # None: IAM authorization on every route
    jwt_audience: tuple[str, ...] = ()
    # The functions of the upload pipeline (presign API, issue 4; upload hasher, issue 5).
    presign_reserved_concurrency: int = 50  # ~ peak rate x latency (200/s x 0.25 s)
    hasher_reserved_concurrency: int = 50   # also the SQS event source's maximum concurrency
    log_retention_days: int = 365           # function and API access logs (rounded up to a
                                            # retention CloudWatch Logs offers)

    def policy_json(self) -> str:
        """The upload policy as the presign handler reads it (env var UPLOAD_POLICY)."""
        return json.dumps({
            "kinds": {
                name: {"prefix": k.prefix, "content_types": list(k.content_types),
                       "max_bytes": k.max_bytes, "per_caller": k.per_caller}
                for name, k in sorted(self.kinds.items())
            },
            "url_expiry_seconds": self.url_expiry_seconds,
            "multipart_threshold_bytes": self.multipart_threshold_bytes,
            "multipart_part_bytes": self.multipart_part_bytes,
        }, sort_keys=True)

    def __post_init__(self) -> None:
        def fail(name: str, problem: str) -> None:
            raise ConfigError(f"upload_api: {name} {problem}")

        _check_whole("upload_api", self, ("throttle_rate_per_second", "throttle_burst",
                                          "presign_reserved_concurrency", "log_retention_days"), 1)
        # An SQS event source's maximum concurrency is 2..1000.
        _check_whole("upload_api", self, ("hasher_reserved_concurrency",), 2, 1000)
        if self.jwt_issuer is not None:
            if not self.jwt_issuer.startswith("https://") or len(self.jwt_issuer) <= 8:
                fail("jwt_issuer", f"must be an https:// URL (got {self.jwt_issuer!r})")
            if not self.jwt_audience or not all(isinstance(a, str) and a
                                                for a in self.jwt_audience):
                fail("jwt_audience", "must name at least one audience when jwt_issuer is set")
        elif self.jwt_audience:
            fail("jwt_audience", "is set but jwt_issuer is not (IAM authorization has none)")


@dataclass(frozen=True)
class CdnConfig:
    domain_name: str | None = None       # e.g. "cdn.example.com"; None: default certificate
    hosted_zone_name: str | None = None  # the Route 53 zone that holds domain_name
    hosted_zone_id: str | None = None
    storefront_origins: tuple[str, ...] = ()
    waf_rate_limit_per_5min: int = 2000
    geo_allow: tuple[str, ...] = ()  # ISO country codes; empty: no restriction

    def __post_init__(self) -> None:
        def fail(name: str, problem: str) -> None:
            raise ConfigError(f"cdn: {name} {problem}")

        if self.domain_name is not None:
            if not _DOMAIN.fullmatch(self.domain_name):
                fail("domain_name", f"'{self.domain_name}' is not a DNS domain name")
            if not (self.hosted_zone_name and self.hosted_zone_id):
                fail("hosted_zone_name", "and hosted_zone_id are required with a domain_name "
                     "(DNS validation and the alias records go there)")
            if not (self.domain_name == self.hosted_zone_name
                    or self.domain_name.endswith(f".{self.hosted_zone_name}")):
                fail("domain_name", f"'{self.domain_name}' is not inside the hosted zone "
                     f"'{self.hosted_zone_name}'")
        if not isinstance(self.waf_rate_limit_per_5min, int) or not (
                10 <= self.waf_rate_limit_per_5min <= 2_000_000_000):
            fail("waf_rate_limit_per_5min", "must be a whole number from 10 to 2,000,000,000 "
                 f"(WAF's range), got {self.waf_rate_limit_per_5min!r}")
        for origin in self.storefront_origins:
            if not re.fullmatch(r"https?://[a-z0-9.-]+(:\d+)?", origin):
                fail("storefront_origins", f"'{origin}' is not an origin like https://shop.example")
        for country in self.geo_allow:
            if not re.fullmatch(r"[A-Z]{2}", country):
                fail("geo_allow", f"'{country}' is not an ISO 3166-1 alpha-2 country code")


@dataclass(frozen=True)
class MonitoringConfig:
    """Alarm thresholds of one environment (see README, "Alarms"). Every alarm evaluates
    ``alarm_period_minutes`` datapoints; "sustained" alarms need ``sustained_periods`` of them
    in a row, "any occurrence" alarms (failed replication, DLQ, throttles, errors) need one."""

    alarm_period_minutes: int = 5
    sustained_periods: int = 3
    replication_latency_seconds: int = 900  # the S3 RTC window (replication.RTC_MINUTES)
    pending_replication_floor: int = 1000   # backlog below which growth is normal churn
    pending_replication_growth_periods: int = 6  # periods in a row of a growing backlog
    api_5xx_rate_percent: float = 1.0
    api_p99_latency_ms: int = 1000
    function_errors_per_period: int = 5
    function_throttles_per_period: int = 0
    duration_near_timeout_ratio: float = 0.8
    queue_age_seconds: int = 900
    cloudfront_5xx_rate_percent: float = 1.0
    cloudfront_4xx_spike_percent: float = 15.0
    origin_latency_ms: int = 2000
    waf_blocked_spike: int = 1000  # blocked requests per period

    def __post_init__(self) -> None:
        def fail(name: str, problem: str) -> None:
            raise ConfigError(f"monitoring: {name} {problem}")

        _check_whole("monitoring", self, (
            "alarm_period_minutes", "sustained_periods", "pending_replication_growth_periods",
            "replication_latency_seconds", "api_p99_latency_ms", "queue_age_seconds",
            "origin_latency_ms", "waf_blocked_spike", "pending_replication_floor"), 1)
        _check_whole("monitoring", self,
                     ("function_errors_per_period", "function_throttles_per_period"), 0)
        for name in ("api_5xx_rate_percent", "cloudfront_5xx_rate_percent",
                     "cloudfront_4xx_spike_percent"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not 0 < value <= 100:
                fail(name, f"must be a percentage in (0, 100] (got {value!r})")
        ratio = self.duration_near_timeout_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio < 1:
            fail("duration_near_timeout_ratio",
                 f"must be between 0 and 1, exclusive (got {ratio!r})")
        # CloudWatch evaluates at most one day of datapoints (period x evaluation periods).
        longest = max(self.sustained_periods, self.pending_replication_growth_periods)
        if self.alarm_period_minutes * longest > 24 * 60:
            fail("alarm_period_minutes", f"({self.alarm_period_minutes}) x {longest} periods "
                 "exceeds the one-day evaluation range CloudWatch allows")


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


@dataclass(frozen=True)
class EnvironmentConfig:
    """Everything that differs between environments. Regions, names and days only:
    the rules (encryption, TLS, replication shape) are the constructs' business."""

    name: str
    account: str
    org: str
    alarm_email: str
    primary_region: str = "us-east-1"
    replica_region: str = "us-west-2"
    backups_region: str = "us-west-2"
    noncurrent_version_expiration_days: int = 90
    noncurrent_glacier_ir_after_days: int = 30
    exports_expiration_days: int = 7
    access_log_retention_days: int = 365
    backups_retention_days: int = 35
    backups_deep_archive_after_days: int = 30
    backups_compliance_mode: bool = False
    duplicate_expiration_days: int = 30
    termination_protection: bool = True
    upload_api: UploadApiConfig = field(default_factory=UploadApiConfig)
    cdn: CdnConfig = field(default_factory=CdnConfig)
    chat_webhook_url: str | None = None
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)
    recovery: RecoveryConfig = field(default_factory=RecoveryConfig)

    def __post_init__(self) -> None:
        env = self.name or "<unnamed>"
        if not re.fullmatch(r"[a-z][a-z0-9]{1,9}", self.name or ""):
            _fail(env, "name", "must be 2-10 lowercase letters or digits")
        if not self.account:
            _fail(env, "account", "is missing (a 12-digit AWS account id)")
        if not _ACCOUNT.fullmatch(self.account):
            _fail(env, "account", f"'{self.account}' is not a 12-digit AWS account id")
        if not _ORG.fullmatch(self.org or ""):
            _fail(env, "org", f"'{self.org}' must be lowercase letters, digits or hyphens")
        for region_field in ("primary_region", "replica_region", "backups_region"):
            value = getattr(self, region_field)
            if not _REGION.fullmatch(value or ""):
                _fail(env, region_field, f"'{value}' is not an AWS region name")
        if self.primary_region != "us-east-1":
            # CloudFront certificates, WAF (CLOUDFRONT scope) and their metrics live there.
            _fail(env, "primary_region", "must be us-east-1 (CloudFront, ACM and WAF scope)")
        if self.replica_region == self.primary_region:
            _fail(env, "replica_region",
                  f"must differ from primary_region ({self.primary_region}): "
                  "cross-region replication needs a second region")
        _check_whole(f"config '{env}'", self, (
            "noncurrent_version_expiration_days", "noncurrent_glacier_ir_after_days",
            "exports_expiration_days", "access_log_retention_days", "backups_retention_days",
            "backups_deep_archive_after_days", "duplicate_expiration_days"), 1, unit="of days ")
        if self.noncurrent_version_expiration_days <= self.noncurrent_glacier_ir_after_days:
            _fail(env, "noncurrent_version_expiration_days",
                  "must be greater than noncurrent_glacier_ir_after_days")
        if self.noncurrent_version_expiration_days < self.recovery.continuous_backup_days:
            # The restore tool works from noncurrent versions: they must reach at least as far
            # back as the point-in-time backups, or the cheap, self-service layer has a hole.
            _fail(env, "noncurrent_version_expiration_days",
                  f"({self.noncurrent_version_expiration_days}) must be at least "
                  f"recovery.continuous_backup_days ({self.recovery.continuous_backup_days})")
        if not _EMAIL.fullmatch(self.alarm_email or ""):
            _fail(env, "alarm_email", f"'{self.alarm_email}' is not an email address")
        for bucket_field in ("assets_bucket_name", "replica_bucket_name", "backups_bucket_name"):
            _check_bucket_name(env, "org", getattr(self, bucket_field))

    # Physical names: stable, derived, never typed twice.
    @property
    def assets_bucket_name(self) -> str:
        return f"{self.org}-assets-{self.name}"

    @property
    def replica_bucket_name(self) -> str:
        return f"{self.assets_bucket_name}-replica"

    @property
    def backups_bucket_name(self) -> str:
        return f"{self.org}-backups-{self.name}"

    @property
    def replication_role_name(self) -> str:
        return f"{self.assets_bucket_name}-replication"

    @property
    def backup_vault_name(self) -> str:
        return f"{self.org}-assets-{self.name}-vault"

    @property
    def backup_role_name(self) -> str:
        return f"{self.assets_bucket_name}-backup"

    @property
    def restore_batch_role_name(self) -> str:
        return f"{self.assets_bucket_name}-restore-batch"

    def access_log_bucket_name(self, region: str) -> str:
        return f"{self.org}-access-logs-{self.name}-{region}"

    @property
    def regions(self) -> tuple[str, ...]:
        """Every region the estate uses, primary first, without repeats."""
        return tuple(dict.fromkeys((self.primary_region, self.replica_region,
                                    self.backups_region)))
