"""Upload hasher: hash each new upload once and record it in the content-hash index.

Invoked by an SQS event source (ReportBatchItemFailures) whose messages are S3
ObjectCreated notifications for the upload prefixes. Per object version named in an event:

1. SHA-256 of that version (never "latest"): S3's stored full-object checksum when there is
   one, else the body streamed through hashlib in fixed-size chunks (constant memory).
2. Claim the hash in the dedup index with a conditional put; the first writer is canonical.
   A losing writer is a redelivery (same key+version), a duplicate, or, when the indexed
   canonical version is gone or no longer current, the new canonical (conditional update on
   the old key+version, so only one taker wins).
3. Tag the version (merging existing tags): ``content-sha256`` and ``dedup-status``, plus
   ``duplicate-of`` for duplicates. Nothing here deletes data: only a lifecycle rule could
   expire versions tagged ``dedup-status=duplicate``, where an environment turns it on.

A version that no longer exists is skipped (success). Throttling is retried by botocore's
"standard" retry mode; a record still failing is reported in ``batchItemFailures`` (Powertools'
``BatchProcessor``) so SQS redelivers it and, after maxReceiveCount, moves it to the DLQ.

The entry point is thin: messages are read through ``object_events.objects_in_message`` (the
trigger can change without touching this code); the rules (hashing, claim, tags) are plain
functions over injected clients (``Deps``), testable without AWS. EMF metrics: BytesHashed,
DuplicatesFound, HashedObjects, ObjectsLeftUntagged. A replica (an upload taken in the replica Region, brought here
by replication) is hashed like any version: this Region's pipeline is the only one.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import logging
import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.config import Config
from botocore.exceptions import ClientError

from estate_handlers import dedup_index
from estate_handlers.dedup_index import DUPLICATE_OF_INDEX_PREFIX, CanonicalObject
from estate_handlers.emf import log_metrics
from estate_handlers.layout import (
    CANONICAL,
    CONTENT_SHA256_TAG,
    DEDUP_STATUS_TAG,
    DUPLICATE,
    DUPLICATE_OF_TAG,
    HASHED_PREFIXES,
    KEPT,
    MAX_TAGS_PER_OBJECT,
    TABLE_ENV,
    USER_CONTENT,
    home_prefix,
)
from estate_handlers.object_events import (
    ObjectVersion,
    RetryLater,
    objects_in_message,
    require_verdict_tag,
)
from estate_handlers.runtime import (
    IN_LAMBDA,
    ConfigError,
    SqsBatch,
    client,
    logger,
    metrics,
    once,
    require_env,
)
from estate_handlers.s3_errors import is_missing, is_throttling, newer_version_unreleased

CHUNK_ENV = "HASH_CHUNK_BYTES"
DEFAULT_CHUNK_BYTES = 1024 * 1024
MAX_CHUNK_BYTES = 16 * 1024 * 1024  # the memory budget is 64 MB above baseline
MAX_ATTEMPTS = 5  # per AWS call, first try included; botocore "standard" mode: exponential backoff, jitter, ≤20 s
MAX_CLAIM_ROUNDS = 5  # index claim/take-over rounds before giving the record back to SQS
MAX_TAG_VALUE_CHARS = 256
# S3 tag values: Unicode letters, digits and whitespace, plus these (the documented
# pattern ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$).
_TAG_PUNCTUATION = frozenset("_.:/=+-@")



def log(level: int, message: str, **fields) -> None:
    logger.log(level, message, extra=fields)


# ---------------------------------------------------------------------------- events

def is_hashed_key(key: str) -> bool:
    """Uploads only; folder placeholders ("prefix/") are not assets."""
    return key.startswith(HASHED_PREFIXES) and not key.endswith("/")


# ---------------------------------------------------------------------------- hashing

def sha256_stream(body, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> tuple[str, int]:
    """(hex digest, byte count) of a file-like ``body``, read ``chunk_bytes`` at a time.

    Memory is one chunk whatever the size. botocore's StreamingBody raises if the stream
    ends before its Content-Length, so a truncated download cannot yield a digest.
    """
    digest = hashlib.sha256()
    total = 0
    read = body.read
    while True:
        chunk = read(chunk_bytes)
        if not chunk:
            return digest.hexdigest(), total
        digest.update(chunk)
        total += len(chunk)
        del chunk  # drop it before the next read allocates one: one chunk alive, not two


def full_object_sha256(head: dict) -> str | None:
    """Hex SHA-256 from a HeadObject response, only when it is the whole object's.

    A COMPOSITE checksum (multipart: a hash of the part hashes, value ending in ``-<parts>``)
    is not; neither is a response without ``ChecksumType: FULL_OBJECT``.
    """
    value = head.get("ChecksumSHA256")
    if not value or head.get("ChecksumType") != "FULL_OBJECT":
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def _version_args(obj: ObjectVersion) -> dict:
    return {"Bucket": obj.bucket, "Key": obj.key, **({"VersionId": obj.version_id} if obj.version_id else {})}


def head_version(s3, obj: ObjectVersion) -> dict:
    return s3.head_object(**_version_args(obj), ChecksumMode="ENABLED")


# A version is streamed only if the invocation has time left for it at half the throughput
# the timeout was sized for (~100 MB/s), plus a margin for the claim and the tags: otherwise it
# returns to the queue for a fresh invocation, instead of the timeout failing the whole batch
# (a 5 GB object needs ~122 s: the first record of an invocation always has them).
STREAM_BYTES_PER_SECOND = 50 * 1024 * 1024
STREAM_MARGIN_SECONDS = 20


class NotEnoughTime(RetryLater):
    """This invocation cannot finish streaming the version: the record is retried."""


def hash_version(s3, obj: ObjectVersion, chunk_bytes: int,
                 seconds_left: Callable[[], float] | None = None) -> tuple[str, int, str]:
    """(hex SHA-256, size, source) of exactly the version in the event; source says how.
    ``seconds_left``: the invocation's remaining time, checked before a version is streamed."""
    head = head_version(s3, obj)
    stored = full_object_sha256(head)
    if stored is not None:
        return stored, head["ContentLength"], "stored-checksum"
    needed = head["ContentLength"] / STREAM_BYTES_PER_SECOND + STREAM_MARGIN_SECONDS
    if seconds_left is not None and seconds_left() < needed:
        raise NotEnoughTime(f"{obj.key}: {head['ContentLength']} bytes need ~{needed:.0f} s, "
                            f"{seconds_left():.0f} s left; retried in another invocation")
    body = s3.get_object(**_version_args(obj))["Body"]
    try:
        digest, size = sha256_stream(body, chunk_bytes)
    finally:
        body.close()
    return digest, size, "streamed"


# ---------------------------------------------------------------------------- index

def canonical_is_live(s3, bucket: str, canonical: CanonicalObject) -> bool:
    """Is the indexed version still its key's current version?

    Deleted, overwritten or hidden behind a delete marker all answer no: a noncurrent version
    is on its way out (the noncurrent-versions lifecycle rule), so it cannot anchor duplicates.
    """
    try:
        head = s3.head_object(Bucket=bucket, Key=canonical.key)
    except ClientError as exc:
        if is_missing(exc) or newer_version_unreleased(s3, bucket, canonical.key,
                                                       canonical.version_id, exc):
            return False  # gone, or overwritten by a version the upload gate holds back
        raise
    return head.get("VersionId", "null") == canonical.version_id


def claim(dynamodb, table_name: str, s3, obj: ObjectVersion, candidate: CanonicalObject) -> CanonicalObject:
    """Record ``candidate`` in the index; return the canonical object for its hash.

    The result is ``candidate`` (same key+version) when this version is canonical.
    """
    for _ in range(MAX_CLAIM_ROUNDS):
        existing = dedup_index.put_canonical_if_absent(dynamodb, table_name, candidate)
        if existing is None:
            return candidate
        if (existing.key, existing.version_id) == (candidate.key, candidate.version_id):
            return existing  # redelivery: already ours
        if canonical_is_live(s3, obj.bucket, existing):
            return existing
        if dedup_index.replace_canonical(dynamodb, table_name, existing, candidate.key, candidate.version_id):
            log(logging.INFO, "canonical taken over", sha256=candidate.sha256,
                previous_key=existing.key, previous_version_id=existing.version_id)
            return CanonicalObject(existing.sha256, candidate.key, candidate.version_id,
                                   existing.size, existing.first_seen)
        # another taker moved the item first: read it again and decide again
    raise dedup_index.ConcurrentIndexChange(candidate.sha256)


# ---------------------------------------------------------------------------- tags

def is_valid_tag_value(value: str) -> bool:
    return len(value) <= MAX_TAG_VALUE_CHARS and all(
        c in _TAG_PUNCTUATION or unicodedata.category(c)[0] in "LNZ" for c in value
    )


def caller_folder(key: str) -> str | None:
    """The caller's own folder of a per-caller key (``user-content/<kind>/<segment>/``), or
    None for the estate's shared prefixes."""
    if not key.startswith(USER_CONTENT):
        return None
    parts = key[len(USER_CONTENT):].split("/")
    return "/".join(parts[:2]) if len(parts) > 2 else None


def dedup_tags(sha256: str, canonical: CanonicalObject, obj: ObjectVersion) -> dict[str, str]:
    """The hasher's tags for ``obj`` given the canonical object of its hash."""
    if (canonical.key, canonical.version_id) == (obj.key, obj.version_id or "null"):
        return {CONTENT_SHA256_TAG: sha256, DEDUP_STATUS_TAG: CANONICAL}
    if caller_folder(obj.key) != caller_folder(canonical.key):
        # Another caller's identical upload: this caller may not read it, so this copy is
        # theirs to keep (a duplicate may be expired where configured).
        return {CONTENT_SHA256_TAG: sha256, DEDUP_STATUS_TAG: KEPT}
    if home_prefix(obj.key) != home_prefix(canonical.key):
        # The same bytes stored as another kind (a brand film identical to a product original):
        # what serves or processes this prefix (the CDN's paths, renditions) never sees the
        # canonical, and the upload API gives no dedup answer across kinds, so the uploader
        # was told to store this copy. Expiring it would take it from where it is used.
        return {CONTENT_SHA256_TAG: sha256, DEDUP_STATUS_TAG: KEPT}
    duplicate_of = canonical.key if is_valid_tag_value(canonical.key) else DUPLICATE_OF_INDEX_PREFIX + sha256
    return {CONTENT_SHA256_TAG: sha256, DEDUP_STATUS_TAG: DUPLICATE, DUPLICATE_OF_TAG: duplicate_of}


def merge_tags(existing: list[dict], ours: dict[str, str]) -> list[dict]:
    """Other writers' tags kept in order, ours replaced (a stale duplicate-of dropped)."""
    mine = {CONTENT_SHA256_TAG, DEDUP_STATUS_TAG, DUPLICATE_OF_TAG}
    kept = [tag for tag in existing if tag["Key"] not in mine]
    return kept + [{"Key": k, "Value": v} for k, v in ours.items()]


class TooManyTags(ValueError):
    """S3 allows 10 tags per object; ours would push it over and we never drop others'."""


UNTAGGED = "untagged"  # an outcome, never a tag value: claimed, but its tags did not fit


def apply_tags(s3, obj: ObjectVersion, ours: dict[str, str]) -> bool:
    """Merge ``ours`` into the version's tag set; False when it already had them (no write)."""
    existing = s3.get_object_tagging(**_version_args(obj))["TagSet"]
    require_verdict_tag(obj, existing)
    merged = merge_tags(existing, ours)
    if _as_dict(merged) == _as_dict(existing):
        return False
    if len(merged) > MAX_TAGS_PER_OBJECT:
        raise TooManyTags(f"{obj.key}: {len(existing)} tags already, cannot add {sorted(ours)}")
    s3.put_object_tagging(**_version_args(obj), Tagging={"TagSet": merged})
    return True


def _as_dict(tags: list[dict]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags}


# ---------------------------------------------------------------------------- one object

@dataclass(frozen=True)
class Deps:
    s3: object
    dynamodb: object
    table_name: str
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    seconds_left: Callable[[], float] | None = None  # the invocation's (Lambda's context)


def process_object(obj: ObjectVersion, deps: Deps) -> str:
    """Hash, claim and tag one version. Returns its outcome: canonical, duplicate, kept,
    untagged (claimed, but its tags would not fit) or skipped."""
    where = {"bucket": obj.bucket, "key": obj.key, "version_id": obj.version_id}
    if not is_hashed_key(obj.key):
        log(logging.INFO, "skipped: not an upload prefix", **where)
        return "skipped"
    try:
        sha256, size, source = hash_version(deps.s3, obj, deps.chunk_bytes, deps.seconds_left)
        candidate = CanonicalObject(
            sha256=sha256, key=obj.key, version_id=obj.version_id or "null", size=size,
            first_seen=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        if canonical_is_live(deps.s3, obj.bucket, candidate):
            canonical = claim(deps.dynamodb, deps.table_name, deps.s3, obj, candidate)
            tags = dedup_tags(sha256, canonical, obj)
        else:  # delivered after a newer version (or a delete): it must not anchor duplicates
            canonical, tags = None, {CONTENT_SHA256_TAG: sha256, DEDUP_STATUS_TAG: KEPT}
        status = tags[DEDUP_STATUS_TAG]
        try:
            tagged = apply_tags(deps.s3, obj, tags)
        except TooManyTags as exc:
            # Other writers' tags fill S3's ten: no retry can make room, and the record must
            # not end in the DLQ. The index holds the claim all the same; a duplicate left
            # untagged is never expired, which keeps bytes rather than losing them.
            log(logging.WARNING, "not tagged: no room for the hasher's tags", **where,
                detail=str(exc), status=status)
            metrics.add_metric(name="ObjectsLeftUntagged", unit=MetricUnit.Count, value=1)
            tagged, status = False, UNTAGGED
    except ClientError as exc:
        if is_missing(exc):
            log(logging.WARNING, "skipped: object version no longer exists", **where,
                error=exc.response.get("Error", {}).get("Code"))
            return "skipped"
        raise
    metrics.add_metric(name="HashedObjects", unit=MetricUnit.Count, value=1)
    if source == "streamed":
        metrics.add_metric(name="BytesHashed", unit=MetricUnit.Bytes, value=size)
    if status == DUPLICATE:
        metrics.add_metric(name="DuplicatesFound", unit=MetricUnit.Count, value=1)
    log(logging.INFO, f"hashed: {status}", **where, sha256=sha256, size=size, source=source,
        tags_written=tagged, canonical_key=canonical and canonical.key,
        canonical_version_id=canonical and canonical.version_id)
    return status


# ---------------------------------------------------------------------------- batch

def process_record(record: SQSRecord, deps: Deps) -> None:
    """Every object version one queue message names; any exception fails only this record."""
    try:
        for obj in objects_in_message(record.body):
            process_object(obj, deps)
    except RetryLater as exc:  # deferred, not broken: a later delivery does it
        log(logging.WARNING, "record deferred", message_id=record.message_id,
            reason=type(exc).__name__, detail=str(exc))
        raise
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        level, message = ((logging.WARNING, "record failed: throttled after retries")
                          if is_throttling(exc) else (logging.ERROR, "record failed"))
        log(level, message, message_id=record.message_id, error=code, detail=str(exc))
        raise
    except Exception as exc:
        logger.error("record failed", exc_info=True,
                     extra={"message_id": record.message_id, "error": type(exc).__name__})
        raise


def process_batch(event: dict, deps: Deps) -> dict:
    """SQS batch → partial batch response. A failing record never stops the others, and a
    batch whose every record failed is reported the same way (SQS retries each, then DLQ)."""
    return process_partial_response(event=event, processor=SqsBatch(),
                                    record_handler=partial(process_record, deps=deps))


def chunk_bytes_from_env(environ=os.environ) -> int:
    raw = environ.get(CHUNK_ENV)
    if not raw:
        return DEFAULT_CHUNK_BYTES
    value = int(raw)
    if not 64 * 1024 <= value <= MAX_CHUNK_BYTES:
        raise ConfigError(f"{CHUNK_ENV} must be between 65536 and {MAX_CHUNK_BYTES}, got {value}")
    return value


def client_config() -> Config:
    return Config(retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
                  connect_timeout=5, read_timeout=60)


def deps_from_env(environ=os.environ) -> Deps:
    require_env(environ, TABLE_ENV)
    config = client_config()
    return Deps(s3=client("s3", config), dynamodb=client("dynamodb", config),
                table_name=environ[TABLE_ENV], chunk_bytes=chunk_bytes_from_env(environ))


current_deps = once(deps_from_env)


@logger.inject_lambda_context
@log_metrics(metrics)
def handler(event, context):
    deps = dataclasses.replace(
        current_deps(), seconds_left=lambda: context.get_remaining_time_in_millis() / 1000)
    return process_batch(event, deps)


if IN_LAMBDA:
    current_deps()  # init phase: once per container, with Lambda's CPU boost
