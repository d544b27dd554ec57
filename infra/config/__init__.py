"""Typed configuration of one environment of the storage estate.

One frozen ``EnvironmentConfig`` per environment, validated when it is built
(``__post_init__``), so a bad value fails before any construct exists and the
message names the field. ``app.py`` reads it once and passes it down as props;
nothing below ``app.py`` reads context or environment variables.

One module per concern, as the constructs are: ``environment`` (accounts, regions, days,
derived names), ``upload_api``, ``upload_gate``, ``cdn``, ``browser_uploads``, ``monitoring``,
``renditions``, ``tiering``, ``usage`` (the cost model), ``recovery``, ``delivery``; ``common`` and ``layout``
hold what they share. Import from here: ``from infra.config import EnvironmentConfig``.
"""
from .browser_uploads import BucketCorsConfig
from .cdn import CdnConfig, CdnNames
from .common import GB, MB, ConfigError
from .delivery import BOOTSTRAP_ROLE_KINDS, MAX_SESSION_SECONDS, DeliveryConfig
from .environment import (
    WRITE_SWITCH_METRIC,
    WRITE_SWITCH_NAMESPACE,
    WRITE_SWITCH_PINNED,
    WRITE_SWITCH_RELEASED,
    EnvironmentConfig,
    function_log_group_name,
)
from .layout import (
    ARCHIVE_TIER_PREFIXES,
    ASSET_PREFIXES,
    BRAND_LOGOS,
    BRAND_MEDIA,
    BRANDS,
    CERTIFICATES,
    CLEAN,
    DEDUP_FAILED_METRIC,
    DEDUP_PARTITION_KEY,
    DEDUP_REPLICA_PROTECTED_METRIC,
    DOCUMENTS,
    DUPLICATE_TAG,
    HANDLED_FAULTS_METRIC,
    HASHED_PREFIXES,
    INTELLIGENT_TIERING_PREFIXES,
    JOB_FILES_EXPIRY_DAYS,
    METRICS_NAMESPACE,
    ORIGINALS,
    PROCESSED,
    QUARANTINE_TAG,
    RECONCILE_JOBS_PREFIX,
    REFUSED_CONTENT_TYPES,
    REPORTS,
    RESTORE_JOBS_PREFIX,
    SCAN_CLEAN,
    SCAN_GATED_PREFIXES_ENV,
    SCAN_HOLDS_UNSCANNED_ENV,
    SCAN_STATUS_TAG,
    SCAN_THREATS,
    TABLE_ENV,
    THUMBNAILS,
    USER_EXPORTS,
    USER_UPLOADS,
    WRITE_HEALTH_BUCKET_ENV,
    WRITE_HEALTH_EXPIRY_DAYS,
    WRITE_HEALTH_PREFIX,
    layout_replica_bucket_name,
)
from .monitoring import MonitoringConfig
from .recovery import RecoveryConfig
from .renditions import (
    RENDITION_AVIF_SPEED,
    RENDITION_BATCH_SIZE,
    RENDITION_FORMATS,
    RENDITION_JPEG_ENCODER,
    RenditionsConfig,
    RenditionSettings,
    SettingsError,
)
from .tiering import ObjectExpiry
from .upload_api import NOBODY, KindAccess, UploadApiConfig, UploadKind, default_upload_kinds
from .upload_gate import (
    DEFAULT_GATED_PREFIXES,
    MAX_GATED_PREFIXES,
    NEVER_GATED,
    UploadGateConfig,
    UploadGateNames,
)
from .usage import FunctionUsage, StoredGroup, UsageConfig

__all__ = [
    "ARCHIVE_TIER_PREFIXES", "ASSET_PREFIXES", "BRAND_LOGOS", "BRAND_MEDIA", "BRANDS",
    "CERTIFICATES", "CLEAN", "DEDUP_FAILED_METRIC", "DEDUP_PARTITION_KEY", "DEDUP_REPLICA_PROTECTED_METRIC",
    "HANDLED_FAULTS_METRIC",
    "DEFAULT_GATED_PREFIXES", "DOCUMENTS",
    "DUPLICATE_TAG", "GB", "HASHED_PREFIXES", "INTELLIGENT_TIERING_PREFIXES",
    "MAX_GATED_PREFIXES", "MAX_SESSION_SECONDS", "MB", "METRICS_NAMESPACE", "NEVER_GATED",
    "NOBODY", "ORIGINALS",
    "JOB_FILES_EXPIRY_DAYS", "PROCESSED", "QUARANTINE_TAG", "RECONCILE_JOBS_PREFIX",
    "REFUSED_CONTENT_TYPES", "RESTORE_JOBS_PREFIX",
    "RENDITION_AVIF_SPEED",
    "RENDITION_BATCH_SIZE",
    "RENDITION_FORMATS", "RENDITION_JPEG_ENCODER", "REPORTS", "SCAN_CLEAN", "SCAN_GATED_PREFIXES_ENV",
    "SCAN_HOLDS_UNSCANNED_ENV",
    "WRITE_HEALTH_BUCKET_ENV",
    "SCAN_STATUS_TAG",
    "SCAN_THREATS", "TABLE_ENV", "THUMBNAILS", "USER_EXPORTS", "USER_UPLOADS",
    "WRITE_HEALTH_EXPIRY_DAYS", "WRITE_HEALTH_PREFIX", "WRITE_SWITCH_METRIC",
    "WRITE_SWITCH_NAMESPACE", "WRITE_SWITCH_PINNED", "WRITE_SWITCH_RELEASED",
    "BucketCorsConfig", "CdnConfig", "CdnNames", "ConfigError", "EnvironmentConfig",
    "FunctionUsage", "KindAccess", "MonitoringConfig", "ObjectExpiry", "RecoveryConfig",
    "RenditionSettings", "RenditionsConfig", "SettingsError", "StoredGroup", "UploadApiConfig",
    "UploadGateConfig", "UploadGateNames", "UploadKind", "UsageConfig", "default_upload_kinds",
    "function_log_group_name", "layout_replica_bucket_name", "BOOTSTRAP_ROLE_KINDS",
    "DeliveryConfig",
]
