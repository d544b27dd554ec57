"""Reading S3's errors the same way in every handler."""
from __future__ import annotations

from botocore.exceptions import ClientError

# The object or version is gone (HEAD answers a bare "404"). S3 answers 403 instead when the
# caller lacks s3:ListBucket, which is why every handler role that asks holds it.
MISSING_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def is_missing(exc: ClientError) -> bool:
    """The object or version does not exist (not: the bucket does not, or access is denied)."""
    return error_code(exc) in MISSING_CODES
