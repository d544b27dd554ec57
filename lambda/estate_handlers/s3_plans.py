"""S3 plans of the upload API: the presigned POST/PUT/multipart/GET it hands out and the few
calls it makes itself (HeadObject, GetObjectTagging, multipart completion, RestoreObject).

The store enforces what we sign, so everything the server decides (key, type, size, hash for a
single PUT, storage class, expiry) is bound into the signature or the POST policy:

* POST: ``content-length-range`` is exactly ``size..size`` (the declared size is what gets
  stored), plus Content-Type and storage class conditions.
* PUT (with ``sha256``): Content-Type, Content-Length and ``x-amz-checksum-sha256`` signed.
* Multipart: each part's exact Content-Length signed, and completion takes parts 1, 2, 3, ...
  in order, so no part and no object is larger than planned. A completion that lists only the
  first parts stores a shorter object: it still fits its kind's limits, and the upload hasher
  records the size and SHA-256 of what was stored (S3 has no full-object SHA-256 for
  multipart).
* Dedup: a hash is a hit only when the indexed version is still the key's current one, its
  size equals the declared size, the caller may read it, it is stored under the requested
  kind's prefix, (under scan-gated prefixes) it was scanned clean, and it is older than any
  URL for its key can still be used: a presigned POST can be sent again until it expires, and
  S3 takes no ``If-None-Match`` on a POST, so a young version could still be replaced by other
  bytes after the answer named it.
* Downloads: pinned to the version HeadObject saw. Under scan-gated prefixes only a
  ``NO_THREATS_FOUND`` version gets a URL; an object in an Intelligent-Tiering archive tier
  gets 409 ``archived`` with its restore's progress instead of a URL that would fail.
"""
from __future__ import annotations

import re
from base64 import b64encode
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from estate_handlers import dedup_index, keys
from estate_handlers._http import ApiError
from estate_handlers.layout import SCAN_CLEAN, SCAN_THREATS, home_prefix, scan_status
from estate_handlers.s3_errors import error_code, http_status, is_missing, is_throttling
from estate_handlers.upload_policy import (
    S3_MAX_SINGLE_UPLOAD_BYTES,
    Completion,
    UploadPolicy,
    UploadRequest,
    part_sizes,
)

ARCHIVED = frozenset({"ARCHIVE_ACCESS", "DEEP_ARCHIVE_ACCESS"})
# Added to the URLs' expiry before a version may anchor dedup answers: S3 judges a URL's expiry
# by its own clock from the signer's X-Amz-Date, so a signer's clock running ahead lengthens it.
REPLAY_MARGIN_SECONDS = 300
RESTORE_ROUTE = {"method": "POST", "path": "/downloads/restore"}
_ONGOING = re.compile(r'ongoing-request\s*=\s*"(true|false)"')


@dataclass(frozen=True)
class Store:
    """The clients and names the plans need (``presign.Deps`` provides them)."""

    s3: Any
    dynamodb: Any
    bucket: str
    table: str
    policy: UploadPolicy
    scan_gated_prefixes: tuple[str, ...] = ()
    # False while objects stored before the gate are scanned: no verdict yet is no refusal.
    scan_holds_unscanned: bool = True

    def is_gated(self, key: str) -> bool:
        return bool(self.scan_gated_prefixes) and key.startswith(self.scan_gated_prefixes)


def head(store: Store, key: str, version_id: str | None) -> dict | None:
    """HeadObject's response, or None when the key/version does not exist, the version id is
    one S3 cannot parse (a 400 without a body), or the version is a delete marker (S3 answers
    a HEAD of a delete marker's version id with 405 Method Not Allowed)."""
    kwargs = {"Bucket": store.bucket, "Key": key}
    if version_id is not None:
        kwargs["VersionId"] = version_id
    try:
        return store.s3.head_object(**kwargs)
    except ClientError as exc:
        if http_status(exc) == 404 or error_code(exc) in ("NoSuchKey", "NoSuchVersion", "404"):
            return None
        if version_id is not None and http_status(exc) in (400, 405):
            return None
        raise


def scan_verdict(store: Store, key: str,
                 version_id: str | None) -> tuple[str | None, str | None] | None:
    """(the GuardDuty verdict tag, or None while not scanned; the version it is of), or None
    when the key or version does not exist.

    Read with GetObjectTagging, which the upload gate's bucket policy leaves open: its read
    deny covers s3:GetObject, and with it HeadObject, on a version not scanned clean (while
    stored objects are scanned, ``hold_unscanned=False``, only on one tagged not clean). So
    under a gated prefix the verdict comes first, and HeadObject only for a version the
    verdict releases."""
    kwargs = {"Bucket": store.bucket, "Key": key}
    if version_id:  # "null" too: the null version's verdict, not the current version's
        kwargs["VersionId"] = version_id
    try:
        tagging = store.s3.get_object_tagging(**kwargs)
    except ClientError as exc:
        if http_status(exc) == 404 or is_missing(exc) or \
                (version_id is not None and http_status(exc) in (400, 405)):
            return None
        raise
    return scan_status(tagging.get("TagSet", [])), version_id or tagging.get("VersionId")


def require_clean(store: Store, key: str, version_id: str | None) -> str | None:
    """The version (``version_id``, or the current one) when it was scanned clean; else the
    4xx its verdict means (404 when it does not exist)."""
    found = scan_verdict(store, key, version_id)
    if found is None:
        raise ApiError(404, "not_found", "No such object (or no such version of it).")
    verdict, pinned = found
    if verdict == SCAN_CLEAN:
        return pinned
    if verdict is None:
        if not store.scan_holds_unscanned:
            return pinned
        raise ApiError(409, "scan-pending", "The object has not been scanned for malware "
                       "yet; retry in a minute.")
    if verdict == SCAN_THREATS:
        raise ApiError(403, "quarantined", "The object was found to contain malware and is "
                       "quarantined.")
    raise ApiError(422, "scan-failed", f"The object could not be scanned ({verdict}); it "
                   "is not released.", verdict=verdict)


def restore_progress(head_response: dict) -> dict:
    """Progress of a restore from ``x-amz-restore`` (HeadObject's ``Restore``)."""
    match = _ONGOING.search(head_response.get("Restore") or "")
    if match is None:
        status = "not-started"
    else:
        status = "in-progress" if match.group(1) == "true" else "restored"
    return {"status": status, "tier": head_response.get("ArchiveStatus"),
            "request": RESTORE_ROUTE}


def is_archived(head_response: dict) -> bool:
    return head_response.get("ArchiveStatus") in ARCHIVED


# --------------------------------------------------------------------------- uploads

def post_policy(req: UploadRequest, key: str) -> tuple[dict, list]:
    """Fields and conditions of a presigned POST bound to one key, type, size and class.
    (botocore adds the bucket and key conditions itself.)"""
    storage_class = keys.storage_class_for(key)
    fields = {"Content-Type": req.content_type, "x-amz-storage-class": storage_class}
    conditions = [
        {"Content-Type": req.content_type},
        ["content-length-range", req.size, req.size],
        {"x-amz-storage-class": storage_class},
    ]
    return fields, conditions


def put_params(bucket: str, key: str, req: UploadRequest) -> tuple[dict, dict]:
    """PutObject parameters and the headers the client must send; every one is signed."""
    checksum = b64encode(bytes.fromhex(req.sha256 or "")).decode()
    storage_class = keys.storage_class_for(key)
    # If-None-Match: * (an S3 conditional write): the URL writes the key once. A replay within
    # its expiry, with other bytes of the same size, is refused with 412 instead of replacing
    # what a dedup answer may already have pointed other callers at.
    params = {"Bucket": bucket, "Key": key, "ContentType": req.content_type,
              "ContentLength": req.size, "ChecksumSHA256": checksum,
              "StorageClass": storage_class, "IfNoneMatch": "*"}
    headers = {"Content-Type": req.content_type, "Content-Length": str(req.size),
               "x-amz-checksum-sha256": checksum, "x-amz-storage-class": storage_class,
               "If-None-Match": "*"}
    return params, headers


class DedupIndexUnavailable(Exception):
    """The dedup index did not answer: DynamoDB timed out, throttled or failed (5xx)."""


def _unavailable(error: Exception) -> bool:
    """An outage or overload, not a mistake: a denied call or a missing table stays an error
    (a 500 the Fault alarm sees) instead of switching dedup off without a word."""
    if isinstance(error, ClientError):
        return http_status(error) >= 500 or is_throttling(error)
    return isinstance(error, BotoCoreError)  # timeouts, refused connections, DNS


def dedup_hit(store: Store, caller: str, req: UploadRequest) -> str | None:
    try:
        canonical = dedup_index.get_canonical(store.dynamodb, store.table, req.sha256)
    except (ClientError, BotoCoreError) as error:
        if not _unavailable(error):
            raise
        raise DedupIndexUnavailable(str(error)) from error
    if canonical is None or canonical.size != req.size or not canonical.version_id:
        return None
    try:
        keys.validate_key(canonical.key)
    except ApiError:
        return None
    if not store.policy.may_read(canonical.key, caller):
        return None
    # Only a copy stored where this kind's uploads go counts: what keys on the prefix (renditions
    # of product originals, the CDN's public prefixes, who may read a caller's folder) would never
    # see a canonical under another, e.g. a caller's own upload answered as a product image. The
    # hasher keeps such copies by the same rule (layout.home_prefix), never expiring them.
    if home_prefix(canonical.key) != home_prefix(req.kind.prefix):
        return None
    # Gated: the verdict first (HeadObject is denied on bytes not released); never point a
    # caller at bytes that are not released, or at a version deleted since it was indexed.
    if store.is_gated(canonical.key):
        found = scan_verdict(store, canonical.key, canonical.version_id)
        if found is None or found[0] != SCAN_CLEAN:
            return None
    current = current_version(store, canonical.key)
    if current is None or current.get("VersionId", "null") != canonical.version_id:
        return None  # deleted, overwritten or behind a delete marker since it was indexed
    age = version_age_seconds(current)
    if age is None or age < store.policy.expiry_seconds + REPLAY_MARGIN_SECONDS:
        return None  # a URL issued for the key may still replace these bytes
    return canonical.key


def current_version(store: Store, key: str) -> dict | None:
    """HeadObject of the version a plain GET of ``key`` serves now, or None (no such key, a
    delete marker, or a newer version the upload gate still holds back)."""
    try:
        return head(store, key, None)
    except ClientError as exc:
        if http_status(exc) == 403 and store.is_gated(key):
            return None  # the current version is not released: not the indexed one
        raise


def version_age_seconds(head_response: dict) -> float | None:
    """Seconds since the version was written, by S3's clock: its answer's ``Date`` against the
    version's ``LastModified`` (this function's clock only if the answer has no date). None
    without a ``LastModified``."""
    written = head_response.get("LastModified")
    if written is None:
        return None
    date = head_response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    now = parsedate_to_datetime(date) if date else datetime.now(UTC)
    return (now - written).total_seconds()


def upload_plan(store: Store, key: str, req: UploadRequest) -> dict:
    expires = store.policy.expiry_seconds
    if req.size > min(store.policy.multipart_threshold_bytes, S3_MAX_SINGLE_UPLOAD_BYTES):
        return multipart_plan(store, key, req)
    if req.sha256 is None:
        fields, conditions = post_policy(req, key)
        post = store.s3.generate_presigned_post(store.bucket, key, Fields=fields,
                                                Conditions=conditions, ExpiresIn=expires)
        return {"method": "POST", "url": post["url"], "fields": post["fields"]}
    params, headers = put_params(store.bucket, key, req)
    url = store.s3.generate_presigned_url("put_object", Params=params, ExpiresIn=expires)
    return {"method": "PUT", "url": url, "headers": headers}


def multipart_plan(store: Store, key: str, req: UploadRequest) -> dict:
    created = store.s3.create_multipart_upload(
        Bucket=store.bucket, Key=key, ContentType=req.content_type,
        StorageClass=keys.storage_class_for(key))
    upload_id = created["UploadId"]
    sizes = part_sizes(req.size, store.policy.multipart_part_bytes)
    parts = [
        {"part_number": number,
         "url": store.s3.generate_presigned_url(
             "upload_part", ExpiresIn=store.policy.expiry_seconds,
             Params={"Bucket": store.bucket, "Key": key, "UploadId": upload_id,
                     "PartNumber": number, "ContentLength": length}),
         "headers": {"Content-Length": str(length)}}
        for number, length in enumerate(sizes, start=1)
    ]
    return {"method": "MULTIPART", "upload_id": upload_id, "part_size": sizes[0],
            "parts": parts, "complete": {"method": "POST", "path": "/uploads/complete"}}


def finish_multipart(store: Store, done: Completion) -> dict:
    try:
        if done.action == "abort":
            store.s3.abort_multipart_upload(Bucket=store.bucket, Key=done.key,
                                            UploadId=done.upload_id)
            return {"key": done.key, "aborted": True}
        result = store.s3.complete_multipart_upload(
            Bucket=store.bucket, Key=done.key, UploadId=done.upload_id,
            MultipartUpload={"Parts": done.parts})
    except ClientError as exc:
        code = error_code(exc)
        if code == "NoSuchUpload":
            raise ApiError(404, "upload_not_found", "No such multipart upload in progress "
                           "for this key (completed, aborted or never started).") from None
        if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML",
                    "InvalidArgument"):
            raise ApiError(400, "invalid_parts", "The store refused the part list: "
                           f"{code}.") from None
        raise
    return {"key": done.key, "version_id": result.get("VersionId"), "completed": True}


# --------------------------------------------------------------------------- downloads

def existing_version(store: Store, key: str, version_id: str | None) -> tuple[dict, str | None]:
    found = head(store, key, version_id)
    if found is None:
        raise ApiError(404, "not_found", "No such object (or no such version of it).")
    return found, version_id or found.get("VersionId")


def download_plan(store: Store, key: str, version_id: str | None) -> dict:
    if store.is_gated(key):  # the verdict before HeadObject (see scan_verdict)
        version_id = require_clean(store, key, version_id)
    found, pinned = existing_version(store, key, version_id)
    if is_archived(found):
        raise ApiError(409, "archived", "The object is in an archive tier; request a restore "
                       "and retry when it has finished.", restore=restore_progress(found))
    # The disposition is the server's, signed: an uploader can store a Content-Disposition of
    # their own with a presigned PUT (S3 keeps standard headers the URL did not sign), and a
    # reader must not get "cert.pdf" saved as "invoice.exe".
    params = {"Bucket": store.bucket, "Key": key,
              "ResponseContentDisposition": attachment_disposition(key)}
    if pinned:
        params["VersionId"] = pinned
    expires = store.policy.expiry_seconds
    url = store.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)
    return {"url": url, "expires_in": expires}


def attachment_disposition(key: str) -> str:
    """``attachment`` named after the key's last segment: an ASCII ``filename`` (anything
    else replaced) and the exact name as RFC 6266's ``filename*``."""
    name = key.rsplit("/", 1)[-1] or "download"
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def request_restore(store: Store, key: str, version_id: str | None) -> tuple[int, dict]:
    """Start (or report) the restore of an archived object: (HTTP status, answer).

    Intelligent-Tiering archive tiers take a RestoreObject WITHOUT ``Days``: the restored
    object moves back to the Frequent Access tier and stays there until it ages out again.
    """
    if store.is_gated(key):  # nothing to restore for a download it would not get
        version_id = require_clean(store, key, version_id)
    found, pinned = existing_version(store, key, version_id)
    answer = {"key": key, "version_id": pinned}
    if not is_archived(found):
        return 200, {**answer, "restore": {"status": "not-needed"}}
    progress = restore_progress(found)
    if progress["status"] == "in-progress":
        return 202, {**answer, "restore": progress}
    kwargs = {"Bucket": store.bucket, "Key": key, "RestoreRequest": {}}
    if pinned:
        kwargs["VersionId"] = pinned
    try:
        store.s3.restore_object(**kwargs)
    except ClientError as exc:
        code = error_code(exc)
        if code == "RestoreAlreadyInProgress":
            pass
        elif code == "InvalidObjectState":  # left the archive tier since the HeadObject
            return 200, {**answer, "restore": {"status": "not-needed"}}
        else:
            raise
    return 202, {**answer, "restore": {**progress, "status": "in-progress"}}
