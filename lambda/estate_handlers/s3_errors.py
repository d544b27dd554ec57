"""Reading S3's errors the same way in every handler."""
from __future__ import annotations

from botocore.exceptions import ClientError

# The object or version is gone (HEAD answers a bare "404"). S3 answers 403 instead when the
# caller lacks s3:ListBucket, which is why every handler role that asks holds it.
MISSING_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})


# S3's and DynamoDB's answers to a caller going too fast (or a service too busy to answer).
THROTTLING_CODES = frozenset({
    "SlowDown", "503", "ServiceUnavailable", "Throttling", "ThrottlingException",
    "ProvisionedThroughputExceededException", "RequestLimitExceeded", "RequestThrottled",
    "TooManyRequestsException",
})


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")


def is_throttling(exc: ClientError) -> bool:
    return error_code(exc) in THROTTLING_CODES


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def is_missing(exc: ClientError) -> bool:
    """The object or version does not exist (not: the bucket does not, or access is denied)."""
    return error_code(exc) in MISSING_CODES


def newer_version_unreleased(s3, bucket: str, key: str, version_id: str | None,
                             exc: ClientError) -> bool:
    """After a HeadObject of ``key``'s current version answered ``exc``: is that the upload
    gate's denial of a newer version not scanned clean (so ``version_id``, which we hold, is no
    longer current)?

    The gate's bucket policy denies reading any version under a gated prefix until it is
    tagged clean. A version a handler holds was released (or is outside the gate), so it is
    readable: when the current version is denied and ours is not, the current one is another,
    newer version, still pending or quarantined."""
    if http_status(exc) != 403 or not version_id:
        return False
    try:
        s3.head_object(Bucket=bucket, Key=key, VersionId=version_id)
    except ClientError:
        return False
    return True
