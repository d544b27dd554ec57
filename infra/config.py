"""Typed configuration of one environment of the storage estate.

One frozen ``EnvironmentConfig`` per environment, validated when it is built
(``__post_init__``), so a bad value fails before any construct exists and the
message names the field. ``app.py`` reads it once and passes it down as props;
nothing below ``app.py`` reads context or environment variables.
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

MB = 1024 * 1024
GB = 1024 * MB

# The estate's shared names (prefix layout, tags, tiering) live in one plain module that the
# Lambda handlers ship and import too; re-exported here for the constructs.
_LAMBDA_ROOT = str(Path(__file__).resolve().parents[1] / "lambda")
if _LAMBDA_ROOT not in sys.path:
    sys.path.append(_LAMBDA_ROOT)

from estate_handlers.layout import (  # noqa: E402, F401 (re-exported for the constructs)
    ARCHIVE_TIER_PREFIXES,
    ASSET_PREFIXES,
    BRAND_LOGOS,
    BRAND_MEDIA,
    BRANDS,
    CERTIFICATES,
    DEDUP_PARTITION_KEY,
    DOCUMENTS,
    DUPLICATE_TAG,
    HASHED_PREFIXES,
    INTELLIGENT_TIERING_PREFIXES,
    METRICS_NAMESPACE,
    ORIGINALS,
    PROCESSED,
    QUARANTINE_TAG,
    REFUSED_CONTENT_TYPES,
    REPORTS,
    SCAN_CLEAN,
    SCAN_GATED_PREFIXES_ENV,
    SCAN_STATUS_TAG,
    SCAN_THREATS,
    TABLE_ENV,
    THUMBNAILS,
    USER_EXPORTS,
    USER_UPLOADS,
)
from estate_handlers.layout import replica_bucket_name as layout_replica_bucket_name  # noqa: E402
from estate_handlers.renditions.settings import AVIF_SPEED as RENDITION_AVIF_SPEED  # noqa: E402
from estate_handlers.renditions.settings import FORMATS as RENDITION_FORMATS  # noqa: E402
from estate_handlers.renditions.settings import JPEG_ENCODER as RENDITION_JPEG_ENCODER  # noqa: E402
from estate_handlers.renditions.settings import Settings as RenditionSettings  # noqa: E402
from estate_handlers.renditions.settings import SettingsError  # noqa: E402

CLEAN = SCAN_CLEAN

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
class KindAccess:
    """Who may obtain upload URLs for one kind: a caller matching ANY entry. With every
    tuple empty, nobody may (a restricted kind nobody was granted yet)."""

    iam_principals: tuple[str, ...] = ()  # fnmatch patterns over the caller's IAM ARN,
                                          # e.g. "arn:aws:sts::111111111111:assumed-role/publisher/*"
    jwt_scopes: tuple[str, ...] = ()      # any of these OAuth scopes (JWT authorizer)
    jwt_groups: tuple[str, ...] = ()      # any of these groups ("groups"/"cognito:groups" claim)

    def __post_init__(self) -> None:
        for pattern in self.iam_principals:
            if not isinstance(pattern, str) or not pattern.startswith(("arn:aws:iam::",
                                                                        "arn:aws:sts::")):
                raise ConfigError(f"upload_api: kinds access.iam_principals {pattern!r} must "
                                  "be an IAM or STS ARN pattern (arn:aws:iam::… / arn:aws:sts::…)")
        for name in ("jwt_scopes", "jwt_groups"):
            if not all(isinstance(v, str) and v.strip() and " " not in v
                       for v in getattr(self, name)):
                raise ConfigError(f"upload_api: kinds access.{name} must be non-empty "
                                  "names without spaces")

    def as_json(self) -> dict:
        return {"iam_principals": list(self.iam_principals),
                "jwt_scopes": list(self.jwt_scopes), "jwt_groups": list(self.jwt_groups)}


@dataclass(frozen=True)
class UploadKind:
    """What one `kind` of upload may be: where it lands, which types, how big, and who may
    use it (``access``: None = every caller the API authorizes)."""

    prefix: str
    content_types: tuple[str, ...]
    max_bytes: int
    per_caller: bool = False  # key gets the caller's id as a sub-prefix
    access: KindAccess | None = None


NOBODY = KindAccess()  # a restricted kind that no caller was granted yet


def default_upload_kinds(brand_access: KindAccess = NOBODY) -> dict[str, UploadKind]:
    """The shipped kinds. Brand kinds publish to the public CDN for a year, so they are
    restricted: only ``brand_access`` (by default nobody) may upload them."""
    images = ("image/jpeg", "image/png", "image/webp", "image/avif")
    return {
        "product-image": UploadKind(ORIGINALS, images, 50 * MB),
        "certificate": UploadKind(CERTIFICATES, ("application/pdf",), 20 * MB),
        "report": UploadKind(REPORTS, ("application/pdf",), 20 * MB),
        "brand-logo": UploadKind(BRAND_LOGOS, ("image/png", "image/webp", "image/avif"),
                                 5 * MB, access=brand_access),
        "brand-media": UploadKind(BRAND_MEDIA, images + ("video/mp4",), 5 * GB,
                                  access=brand_access),
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
    # The functions of the upload pipeline (presign API, upload hasher).
    presign_reserved_concurrency: int = 50  # ~ peak rate x latency (200/s x 0.25 s)
    hasher_reserved_concurrency: int = 50   # also the SQS event source's maximum concurrency
    log_retention_days: int = 365           # function and API access logs (rounded up to a
                                            # retention CloudWatch Logs offers)

    def policy_json(self) -> str:
        """The upload policy as the presign handler reads it (env var UPLOAD_POLICY)."""
        return json.dumps({
            "kinds": {
                name: {"prefix": k.prefix, "content_types": list(k.content_types),
                       "max_bytes": k.max_bytes, "per_caller": k.per_caller,
                       "access": None if k.access is None else k.access.as_json()}
                for name, k in sorted(self.kinds.items())
            },
            "url_expiry_seconds": self.url_expiry_seconds,
            "multipart_threshold_bytes": self.multipart_threshold_bytes,
            "multipart_part_bytes": self.multipart_part_bytes,
        }, sort_keys=True)

    def __post_init__(self) -> None:
        def fail(name: str, problem: str) -> None:
            raise ConfigError(f"upload_api: {name} {problem}")

        for name, kind in self.kinds.items():
            refused = sorted(REFUSED_CONTENT_TYPES & {t.lower() for t in kind.content_types})
            if refused:
                fail(f"kinds.{name}.content_types", f"must not include {', '.join(refused)}: "
                     "active content served from the CDN's domain is stored XSS")
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


# Scanned before anyone may read them: every prefix whose bytes come from outside the team.
# User uploads (end users), product originals (sellers), documents (certificates and reports
# from sellers and labs), brands/ (brand logos and media, uploaded by brands; one prefix
# covers both and leaves GuardDuty's fifth slot free). Renditions (processed, thumbnails) are
# made by the pipeline from clean originals and stay ungated, so the CDN reads them as now.
DEFAULT_GATED_PREFIXES = (USER_UPLOADS, ORIGINALS, DOCUMENTS, BRANDS)
MAX_GATED_PREFIXES = 5  # GuardDuty Malware Protection for S3: object prefixes per bucket
NEVER_GATED = (PROCESSED, THUMBNAILS, USER_EXPORTS)


@dataclass(frozen=True)
class UploadGateConfig:
    """The upload safety gate: GuardDuty scans every new object under ``prefixes``; only a
    clean verdict makes it readable (bucket policy) and starts the pipeline (EventBridge)."""

    enabled: bool = False
    prefixes: tuple[str, ...] = DEFAULT_GATED_PREFIXES
    quarantine_expiration_days: int = 30   # infected versions kept this long for forensics
    unscanned_backlog_threshold: int = 100  # uploads without a verdict per alarm period
    verdict_reserved_concurrency: int = 5

    @property
    def gated_prefixes(self) -> tuple[str, ...]:
        """What the store and the pipeline treat as gated: none when the gate is off."""
        return self.prefixes if self.enabled else ()

    def __post_init__(self) -> None:
        def fail(name: str, problem: str) -> None:
            raise ConfigError(f"upload_gate: {name} {problem}")

        if not isinstance(self.enabled, bool):
            fail("enabled", f"must be true or false (got {self.enabled!r})")
        _check_whole("upload_gate", self, ("quarantine_expiration_days",
                                           "unscanned_backlog_threshold"), 1)
        _check_whole("upload_gate", self, ("verdict_reserved_concurrency",), 2, 1000)
        prefixes = self.prefixes
        if not isinstance(prefixes, tuple) or not 1 <= len(prefixes) <= MAX_GATED_PREFIXES:
            fail("prefixes", f"must be a tuple of 1 to {MAX_GATED_PREFIXES} prefixes "
                 f"(GuardDuty's limit per bucket), got {prefixes!r}")
        if len(set(prefixes)) != len(prefixes):
            fail("prefixes", f"has duplicates: {prefixes!r}")
        for prefix in prefixes:
            if not isinstance(prefix, str) or not re.fullmatch(r"[a-z0-9-]+(/[a-z0-9-]+)*/",
                                                               prefix):
                fail("prefixes", f"{prefix!r} is not a folder prefix like 'user-content/uploads/'")
            if any(p != prefix and prefix.startswith(p) for p in prefixes):
                fail("prefixes", f"{prefix!r} lies inside another gated prefix")
            for served in NEVER_GATED:
                if served.startswith(prefix) or prefix.startswith(served):
                    fail("prefixes", f"{prefix!r} overlaps {served!r}, which the pipeline "
                         "writes itself (renditions and exports are never gated)")


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


_ORIGIN = re.compile(r"(https://[a-z0-9.-]+|http://(localhost|127\.0\.0\.1))(:\d{1,5})?")
_IAM_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")


@dataclass(frozen=True)
class BucketCorsConfig:
    """Which web origins may upload to and download from the assets bucket directly
    (presigned POST/PUT/multipart and GET), and how long a browser caches a preflight."""

    allowed_origins: tuple[str, ...] = ()
    max_age_seconds: int = 3000

    def __post_init__(self) -> None:
        # One hour at most: a preflight cache outliving a removed origin keeps it allowed.
        _check_whole("assets_cors", self, ("max_age_seconds",), 0, 3600, unit="of seconds ")
        if isinstance(self.allowed_origins, str):
            raise ConfigError("assets_cors: allowed_origins must be a tuple of origins, "
                              f"not one string ({self.allowed_origins!r})")
        for origin in self.allowed_origins:
            if not isinstance(origin, str) or not _ORIGIN.fullmatch(origin):
                raise ConfigError(
                    f"assets_cors: allowed_origins '{origin}' is not an origin like "
                    "https://shop.example (no path, no wildcard; http:// only for localhost)")


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
class RenditionsConfig:
    """What the renditions function makes of every product original (see README,
    "Renditions"), and how the function is sized. The rendition set itself is the handler's
    ``Settings`` (one definition, one validation): written into the function's environment as
    JSON (``settings_json``), where the function validates it again on start."""

    processed_widths: tuple[int, ...] = (2048, 1200)   # products/images/processed/
    thumbnail_widths: tuple[int, ...] = (600, 300)     # products/images/thumbnails/
    formats: tuple[str, ...] = RENDITION_FORMATS       # jpeg is the required fallback
    quality: tuple[tuple[str, int], ...] = (("avif", 55), ("webp", 80), ("jpeg", 82))
    max_pixels: int = 100_000_000                      # refused from the header, before decoding
    max_bytes: int = 50 * MB                           # the upload API's product-image cap
    # libaom speed 0..10. 6 makes the fewest AVIF bytes per CPU-second worth having; 9 meets
    # the benchmark's time target but needs 18-29 % more bytes at equal quality (README).
    avif_speed: int = RENDITION_AVIF_SPEED
    # jpegli + lossless progressive: fewer JPEG bytes than sharp at equal quality (docs/image-urls.md).
    jpeg_encoder: str = RENDITION_JPEG_ENCODER
    reserved_concurrency: int = 50                     # also the SQS event source's maximum
    log_retention_days: int = 365
    rejected_alarm_per_period: int = 25                # rejected originals per alarm period

    def __post_init__(self) -> None:
        try:
            self.settings()
        except SettingsError as exc:
            raise ConfigError(str(exc)) from exc
        _check_whole("renditions", self, ("log_retention_days", "rejected_alarm_per_period"), 1)
        # An SQS event source's maximum concurrency is 2..1000.
        _check_whole("renditions", self, ("reserved_concurrency",), 2, 1000)

    def settings(self) -> RenditionSettings:
        return RenditionSettings(
            processed_widths=self.processed_widths, thumbnail_widths=self.thumbnail_widths,
            formats=self.formats, quality=self.quality, max_pixels=self.max_pixels,
            max_bytes=self.max_bytes, avif_speed=self.avif_speed, jpeg_encoder=self.jpeg_encoder)

    def settings_json(self) -> str:
        """The rendition set as the function reads it (env var RENDITIONS_CONFIG)."""
        return self.settings().to_json()


@dataclass(frozen=True)
class CdnNames:
    """The physical names of the CDN's parts, all derived from one prefix."""

    prefix: str

    @property
    def web_acl(self) -> str:
        return self.prefix

    @property
    def waf_log_group(self) -> str:
        return f"aws-waf-logs-{self.prefix}"  # WAF requires the aws-waf-logs- prefix

    @property
    def headers_policy(self) -> str:
        return f"{self.prefix}-security-headers"

    @property
    def image_headers_policy(self) -> str:
        """The negotiated image URLs' policy: the security headers plus Vary, Cache-Control."""
        return f"{self.prefix}-image-url-headers"

    def cache_policy(self, kind: str) -> str:
        return f"{self.prefix}-{kind}"

    def rule_metric(self, rule: str) -> str:
        """The CloudWatch metric name of one web ACL rule."""
        return f"{self.prefix}-{rule}"

    @property
    def access_log_source(self) -> str:
        """Named, so the log bucket (deployed earlier) can name it in its policy."""
        return f"{self.prefix}-access-logs"

    @property
    def access_log_destination(self) -> str:
        return f"{self.prefix}-access-logs-s3"


@dataclass(frozen=True)
class UploadGateNames:
    """The physical names of the upload gate's rules and function, all derived from one prefix
    (rule ARNs are written from them, so key and queue policies need no reference)."""

    prefix: str

    @property
    def uploads_rule(self) -> str:
        return f"{self.prefix}-gated-uploads"

    @property
    def not_clean_rule(self) -> str:
        return f"{self.prefix}-not-clean"

    @property
    def tagging_failed_rule(self) -> str:
        return f"{self.prefix}-tagging-failed"

    @property
    def verdict_function(self) -> str:
        return f"{self.prefix}-verdict"

    def release_rule(self, consumer: str) -> str:
        return f"{self.prefix}-release-{consumer.lower()}"


@dataclass(frozen=True)
class ObjectExpiry:
    """The days after which the assets bucket's objects expire or tier down; the replica
    mirrors the expirations. ``quarantine_days`` is None when the upload gate is off."""

    exports_days: int
    duplicates_days: int
    quarantine_days: int | None
    noncurrent_glacier_ir_after_days: int
    noncurrent_expiration_days: int


def function_log_group_name(function_name: str) -> str:
    """Every estate function logs to its own group under ``/estate/lambda/``."""
    return f"/estate/lambda/{function_name}"


@dataclass(frozen=True)
class StoredGroup:
    """Bytes under one prefix of the assets bucket. Ages are spread evenly over ``age_span_days``
    (steady growth), so a lifecycle or tiering day in the template decides which share sits in
    which class; ``hot_share`` is re-read every month and stays in Frequent Access. A group with
    ``gb_per_day`` instead holds what its expiration rule keeps (gb_per_day x expiration days)."""

    gb: float = 0.0
    age_span_days: int = 365
    hot_share: float = 0.0
    gb_per_day: float = 0.0


@dataclass(frozen=True)
class FunctionUsage:
    """One function's work, matched to functions whose logical id contains the key."""

    invocations_per_upload: float
    seconds_per_invocation: float


@dataclass(frozen=True)
class UsageConfig:
    """What an environment does in a month (30 days): the cost estimator's input
    (``python -m tools.cost``); the template decides everything else. README, "Cost"."""

    stored: dict[str, StoredGroup] = field(default_factory=dict)  # assets prefix -> bytes
    avg_object_mb: float = 2.0            # object count for Intelligent-Tiering monitoring
    uploads_per_day: float = 1000.0
    upload_mix: dict[str, tuple[float, float]] = field(  # kind -> (share, average MB)
        default_factory=lambda: {"product-image": (1.0, 2.0)})
    renditions_per_original: float = 0.0  # rendition objects written per product image
    rendition_avg_mb: float = 0.2
    duplicate_share: float = 0.0          # uploads the hasher tags as duplicates
    noncurrent_gb_per_day: float = 0.0    # bytes overwritten or deleted (become noncurrent)
    s3_gets_per_upload: float = 2.0       # hasher + rendition reads of the original
    cdn_requests_per_month: dict[str, float] = field(default_factory=dict)  # region class ->
    cdn_gb_per_month: dict[str, float] = field(default_factory=dict)        # region class ->
    cdn_cache_hit_ratio: float = 0.95
    cdn_function_share: float = 0.02      # requests answered by the edge 404 function
    api_calls_per_upload: float = 1.5     # presign + complete/download
    functions: dict[str, FunctionUsage] = field(default_factory=dict)
    queue_messages_per_upload: dict[str, float] = field(default_factory=dict)
    kms_requests_per_month: float = 0.0
    kms_key_age_days: int = 365           # each yearly rotation adds a key version
    log_gb_per_month: dict[str, float] = field(default_factory=dict)  # log group id part ->
    access_log_gb_per_month: dict[str, float] = field(default_factory=dict)  # region ->
    cdn_log_gb_per_month: float = 0.0
    alarm_notifications_per_month: float = 100.0
    dedup_index_gb: float = 0.0
    backups_gb: float = 0.0               # in the backups bucket, aged evenly over:
    backups_age_span_days: int = 35
    aws_backup_gb: float = 0.0            # AWS Backup copies, when a backup plan selects them
    # Prepared once vs rendered per miss (tools/cost, "rendering compute"; figures from
    # bench/bench_anchor.py: CPU-seconds of the whole stored set of a 12 MP original, and of
    # one sharp render of one (width, format) at its defaults).
    cdn_image_request_share: float = 0.9  # CDN requests for product renditions
    rendition_cpu_seconds_per_original: float = 2.7
    anchor_cpu_seconds_per_render: float = 0.9

    def __post_init__(self) -> None:
        def fail(name: str, problem: str) -> None:
            raise ConfigError(f"usage: {name} {problem}")

        def number(name: str, value: object, upper: float | None = None) -> None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
                    or (upper is not None and value > upper):
                fail(name, f"must be a number >= 0{f' and <= {upper}' if upper else ''} "
                     f"(got {value!r})")

        for name, value in vars(self).items():
            if isinstance(value, (int, float)) and not name.endswith("_days"):
                upper = 1 if name.endswith(("_share", "_ratio")) else None
                number(name, value, upper)
        _check_whole("usage", self, ("kms_key_age_days", "backups_age_span_days"), 1)
        for prefix, group in self.stored.items():
            if prefix not in ASSET_PREFIXES and prefix not in (DOCUMENTS,):
                fail("stored", f"key {prefix!r} is not a prefix of the assets bucket")
            _check_whole(f"usage: stored[{prefix!r}]", group, ("age_span_days",), 1)
            for name in ("gb", "hot_share", "gb_per_day"):
                number(f"stored[{prefix!r}].{name}", getattr(group, name),
                       1 if name == "hot_share" else None)
        shares = sum(share for share, _ in self.upload_mix.values())
        if self.upload_mix and abs(shares - 1) > 1e-6:
            fail("upload_mix", f"shares must add up to 1 (got {shares:g})")
        for kind, (share, size) in self.upload_mix.items():
            number(f"upload_mix[{kind!r}]", share, 1)
            number(f"upload_mix[{kind!r}] size", size)
        for mapping in ("cdn_requests_per_month", "cdn_gb_per_month", "queue_messages_per_upload",
                        "log_gb_per_month", "access_log_gb_per_month"):
            for key, value in getattr(self, mapping).items():
                number(f"{mapping}[{key!r}]", value)
        for key, usage in self.functions.items():
            number(f"functions[{key!r}].invocations_per_upload", usage.invocations_per_upload)
            number(f"functions[{key!r}].seconds_per_invocation", usage.seconds_per_invocation)

    @property
    def upload_gb_per_day(self) -> float:
        return self.uploads_per_day * sum(s * mb for s, mb in self.upload_mix.values()) / 1024


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
    usage: UsageConfig = field(default_factory=UsageConfig)
    assets_cors: BucketCorsConfig = field(default_factory=BucketCorsConfig)
    # The only principal that may disable, delete or re-policy the backups and replica keys
    # (and so the only way to change those key policies through CloudFormation: deploy with
    # it as the execution role). Owned by the security team, outside the estate.
    break_glass_role_name: str = "storage-estate-break-glass"
    cdk_function_log_retention_days: int = 90  # logs of CDK's own custom-resource functions
    upload_gate: UploadGateConfig = field(default_factory=UploadGateConfig)
    renditions: RenditionsConfig = field(default_factory=RenditionsConfig)
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
            "backups_deep_archive_after_days", "duplicate_expiration_days",
            "cdk_function_log_retention_days"), 1, unit="of days ")
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
        url = self.chat_webhook_url
        if url is not None and (not isinstance(url, str) or not url.startswith("https://")
                                or len(url) <= len("https://")):
            _fail(env, "chat_webhook_url", "must be an https:// URL (SNS delivers to it over TLS)")
        unknown = sorted(set(self.usage.upload_mix) - set(self.upload_api.kinds))
        if unknown:
            _fail(env, "usage.upload_mix", f"names upload kinds upload_api does not define: "
                  f"{', '.join(unknown)}")
        if not isinstance(self.break_glass_role_name, str) \
                or not _IAM_ROLE_NAME.fullmatch(self.break_glass_role_name):
            _fail(env, "break_glass_role_name", f"{self.break_glass_role_name!r} is not an IAM "
                  "role name (1-64 letters, digits or +=,.@_-)")

    # Physical names: stable, derived, never typed twice.
    @property
    def assets_bucket_name(self) -> str:
        return f"{self.org}-assets-{self.name}"

    @property
    def replica_bucket_name(self) -> str:
        return layout_replica_bucket_name(self.assets_bucket_name)

    @property
    def backups_bucket_name(self) -> str:
        return f"{self.org}-backups-{self.name}"

    @property
    def replication_role_name(self) -> str:
        return f"{self.assets_bucket_name}-replication"

    # Each data bucket's key is aliased after its bucket.
    @property
    def assets_key_alias(self) -> str:
        return f"alias/{self.assets_bucket_name}"

    @property
    def replica_key_alias(self) -> str:
        return f"alias/{self.replica_bucket_name}"

    @property
    def backups_key_alias(self) -> str:
        return f"alias/{self.backups_bucket_name}"

    @property
    def replica_key_alias_arn(self) -> str:
        """S3 accepts an alias ARN as a rule's ReplicaKmsKeyID: the Assets stack names the
        replica key without referencing it."""
        return f"arn:aws:kms:{self.replica_region}:{self.account}:{self.replica_key_alias}"

    @property
    def replication_role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.replication_role_name}"

    @property
    def upload_hasher_name(self) -> str:
        """The upload hasher function (log group, role and policy descriptions)."""
        return f"{self.org}-{self.name}-upload-hasher"

    @property
    def presign_name(self) -> str:
        """The presign function (log group, descriptions) and its JWT authorizer's prefix."""
        return f"{self.org}-{self.name}-presign"

    @property
    def upload_api_name(self) -> str:
        return f"{self.org}-{self.name}-uploads"

    @property
    def upload_api_access_log_group_name(self) -> str:
        return f"/estate/apigateway/{self.upload_api_name}"

    @property
    def object_expiry(self) -> ObjectExpiry:
        gate = self.upload_gate
        return ObjectExpiry(
            exports_days=self.exports_expiration_days,
            duplicates_days=self.duplicate_expiration_days,
            quarantine_days=gate.quarantine_expiration_days if gate.enabled else None,
            noncurrent_glacier_ir_after_days=self.noncurrent_glacier_ir_after_days,
            noncurrent_expiration_days=self.noncurrent_version_expiration_days)

    @property
    def renditions_name(self) -> str:
        """The renditions function (log group, role and policy descriptions)."""
        return f"{self.org}-{self.name}-renditions"

    @property
    def renditions_backfill_role_name(self) -> str:
        """The role S3 Batch Operations assumes to backfill renditions (tools/backfill names it)."""
        return f"{self.assets_bucket_name}-renditions-backfill"

    @property
    def renditions_backfill_role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.renditions_backfill_role_name}"

    @property
    def cdn_name(self) -> str:
        """The CDN's web ACL (and its metric name); the prefix of its other names."""
        return f"{self.org}-assets-{self.name}"

    @property
    def cdn_names(self) -> CdnNames:
        return CdnNames(self.cdn_name)

    @property
    def cdn_access_log_source_name(self) -> str:
        return self.cdn_names.access_log_source

    @property
    def alarm_name_prefix(self) -> str:
        """Every alarm, alarm topic and topic key alias of the environment starts with it."""
        return f"{self.org}-{self.name}"

    @property
    def alarm_topic_name(self) -> str:
        """The alarm topic of each region the estate alarms in (topic names are regional)."""
        return f"{self.alarm_name_prefix}-alarms"

    @property
    def alarm_topic_key_alias(self) -> str:
        return f"alias/{self.alarm_topic_name}"

    @property
    def dashboard_name(self) -> str:
        return f"{self.org}-storage-estate-{self.name}"

    @property
    def upload_gate_name(self) -> str:
        """Prefix of the upload gate's rules and function."""
        return f"{self.org}-{self.name}-upload-gate"

    @property
    def upload_gate_names(self) -> UploadGateNames:
        return UploadGateNames(self.upload_gate_name)

    @property
    def malware_scan_role_name(self) -> str:
        return f"{self.assets_bucket_name}-malware-scan"

    @property
    def break_glass_role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.break_glass_role_name}"

    @property
    def backups_writer_policy_name(self) -> str:
        return f"{self.backups_bucket_name}-writer"

    def cdk_function_log_group_name(self, stack_id: str, function: str) -> str:
        return function_log_group_name(f"{self.org}-{self.name}-{stack_id.lower()}-{function}")

    @property
    def backup_vault_name(self) -> str:
        return f"{self.org}-assets-{self.name}-vault"

    @property
    def backup_vault_key_alias(self) -> str:
        return f"alias/{self.backup_vault_name}"

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
