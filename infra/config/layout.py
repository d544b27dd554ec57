"""The names the estate shares with its Lambda handlers (``estate_handlers``: the prefix layout,
tags, tiering, the rendition settings), imported from there so they are defined once."""
from __future__ import annotations

# The estate's shared names (prefix layout, tags, tiering) live in one plain module that the
# Lambda handlers ship and import too (on the path through the infra package); re-exported
# here for the constructs.
from estate_handlers.layout import (  # noqa: F401 (re-exported for the constructs)
    ARCHIVE_TIER_PREFIXES,
    ASSET_PREFIXES,
    BRAND_LOGOS,
    BRAND_MEDIA,
    BRANDS,
    CERTIFICATES,
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
)
from estate_handlers.layout import replica_bucket_name as layout_replica_bucket_name  # noqa: E402, F401
from estate_handlers.renditions.settings import AVIF_SPEED as RENDITION_AVIF_SPEED  # noqa: E402, F401
from estate_handlers.renditions.settings import FORMATS as RENDITION_FORMATS  # noqa: E402, F401
from estate_handlers.renditions.settings import JPEG_ENCODER as RENDITION_JPEG_ENCODER  # noqa: E402, F401
from estate_handlers.renditions.settings import Settings as RenditionSettings  # noqa: E402, F401
from estate_handlers.renditions.settings import SettingsError  # noqa: E402, F401

CLEAN = SCAN_CLEAN
