"""The names the estate shares with its Lambda handlers (``estate_handlers``: the prefix layout,
tags, tiering, the rendition settings), imported from there so they are defined once."""
from __future__ import annotations

import sys
from pathlib import Path

# The estate's shared names (prefix layout, tags, tiering) live in one plain module that the
# Lambda handlers ship and import too; re-exported here for the constructs.
_LAMBDA_ROOT = str(Path(__file__).resolve().parents[2] / "lambda")
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
    DEDUP_REPLICA_PROTECTED_METRIC,
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
from estate_handlers.layout import replica_bucket_name as layout_replica_bucket_name  # noqa: E402, F401
from estate_handlers.renditions.settings import AVIF_SPEED as RENDITION_AVIF_SPEED  # noqa: E402, F401
from estate_handlers.renditions.settings import FORMATS as RENDITION_FORMATS  # noqa: E402, F401
from estate_handlers.renditions.settings import JPEG_ENCODER as RENDITION_JPEG_ENCODER  # noqa: E402, F401
from estate_handlers.renditions.settings import Settings as RenditionSettings  # noqa: E402, F401
from estate_handlers.renditions.settings import SettingsError  # noqa: E402, F401

CLEAN = SCAN_CLEAN
