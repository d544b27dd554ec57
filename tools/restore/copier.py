"""Carry out one restore decision, idempotently, and verify it by SHA-256.

Resumability is by idempotent checks against the destination, not by a local journal: before
copying, the destination's current version is compared with the source version (size, content
type, user metadata and SHA-256). A journal can only say what the tool *believes* it did — a
run killed between ``CopyObject`` returning and the journal write would copy that key again on
restart, and a journal is lost with the laptop — while the destination's state is the truth on
any machine. The cost is a HEAD (and, without a stored checksum, a streamed read) per key that
still differs, which the verification needs anyway.

Requests per key: a key the destination does not hold yet (restoring into another prefix, or
over a delete marker) has nothing to compare, so the read of the source version (for its
SHA-256) runs *alongside* the copy instead of before it, on a pool of reader threads;
the key's critical path is the copy, then the read-back. On AWS the copy response carries the
SHA-256 S3 computed for the new version (``ChecksumAlgorithm=SHA256``), so there is no
read-back: two requests per key, one round trip long. A store that does not report it (the
local test server) costs a streamed read of the new version, never a weaker check.

Copies are ``CopyObject`` (up to ``multipart_threshold``) or ``UploadPartCopy`` with byte ranges
above it (``CopyObject`` stops at 5 GB). Both request a stored SHA-256 checksum, keep content
type, metadata and tags, and send no encryption headers, so the destination bucket's default
key encrypts the new version. A multipart copy names its tags in the request, and the upload
gate refuses an upload that names a scan verdict: it leaves GuardDuty's tags behind, and under
the gate's prefixes the new version waits for its own scan before a rerun verifies it.
Nothing here deletes a version: the only removal is
``DeleteObject`` without a version id, which adds a delete marker.
"""
from __future__ import annotations

import base64
import hashlib
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from botocore.exceptions import ClientError
from estate_handlers.layout import ALERTED_TAG, SCAN_STATUS_TAG

from tools.restore.plan import ARCHIVED, COPY, DELETE_MARKER, Decision

GB = 1024 ** 3
MB = 1024 ** 2
COPY_OBJECT_LIMIT = 5 * GB
MAX_PARTS = 10_000
CHUNK = 1 * MB
SMALL_OBJECT = 8 * MB  # read in one GET (headers and body) instead of a HEAD, then a GET
# Headers a multipart copy must carry over itself (CopyObject copies them with the body).
_CARRIED = ("ContentType", "CacheControl", "ContentDisposition", "ContentEncoding",
            "ContentLanguage", "Expires", "WebsiteRedirectLocation")

# The upload gate's tags: GuardDuty's verdict and the alert it sent. An upload must not name
# them (the gate's bucket policy refuses it), and a new version gets its own from its scan.
_SCANNER_TAGS = (SCAN_STATUS_TAG, ALERTED_TAG)

# Outcomes, as they appear in the report.
RESTORED, ALREADY_CURRENT, MARKER_ADDED = "restored", "already-current", "delete-marker-added"
# A multipart copy under the gate: written, unreadable until its scan, verified by a rerun.
RESTORED_PENDING_SCAN = "restored-pending-scan"
ARCHIVE_REPORTED, RESTORE_REQUESTED, RESTORE_IN_PROGRESS = (
    "archived", "archive-restore-requested", "archive-restore-in-progress")
FAILED = "failed"


@dataclass(frozen=True)
class Location:
    client: object
    bucket: str


@dataclass(frozen=True)
class CopyOptions:
    multipart_threshold: int = COPY_OBJECT_LIMIT
    part_size: int = 512 * MB
    request_archive_restore: bool = False
    archive_restore_days: int = 7
    archive_restore_tier: str = "Standard"
    gated_prefixes: tuple[str, ...] = ()  # the upload gate's, in the destination bucket


class ChecksumMismatch(RuntimeError):
    pass


def _stored_sha256(head: dict) -> str | None:
    """A full-object SHA-256 S3 keeps for the version (composite part checksums don't count)."""
    value = head.get("ChecksumSHA256")
    if not value or "-" in value or head.get("ChecksumType") == "COMPOSITE":
        return None
    return value


def streamed_sha256(client, bucket: str, key: str, version_id: str | None) -> str:
    """Base64 SHA-256 of a version's bytes, read in 1 MiB chunks (memory flat)."""
    extra = {"VersionId": version_id} if version_id else {}
    body = client.get_object(Bucket=bucket, Key=key, **extra)["Body"]
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(CHUNK), b""):
        digest.update(chunk)
    return base64.b64encode(digest.digest()).decode()


def head_version(client, bucket: str, key: str, version_id: str | None) -> dict:
    extra = {"VersionId": version_id} if version_id else {}
    return client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED", **extra)


def sha256_of(client, bucket: str, key: str, version_id: str | None,
              head: dict | None = None) -> str:
    head = head if head is not None else head_version(client, bucket, key, version_id)
    return _stored_sha256(head) or streamed_sha256(client, bucket, key, version_id)


def describe_version(client, bucket: str, key: str, version_id: str | None,
                     size_hint: int) -> tuple[dict, str | None]:
    """(headers, SHA-256) of a source version in as few requests as possible: one GET for a
    small object (headers and body together), a HEAD — plus a streamed read only without a
    stored checksum — for a large one. ``None`` for the hash: archived, not readable now."""
    extra = {"VersionId": version_id} if version_id else {}
    if size_hint <= SMALL_OBJECT:
        response = client.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED", **extra)
        body = response.pop("Body")
        stored = _stored_sha256(response)
        digest = hashlib.sha256()
        # Read to the end even with a stored checksum: closing early drops the connection,
        # and a new TLS connection per key costs more than the rest of a small body.
        for chunk in iter(lambda: body.read(CHUNK), b""):
            if not stored:
                digest.update(chunk)
        return response, stored or base64.b64encode(digest.digest()).decode()
    head = head_version(client, bucket, key, version_id)
    if is_archived(head):
        return head, None
    return head, sha256_of(client, bucket, key, version_id, head)


def restored_sha256(client, bucket: str, key: str, version_id: str, size: int,
                    reported: str | None) -> str:
    """SHA-256 of a version just written: what S3 reported for the copy when it did (AWS
    computes it for ``ChecksumAlgorithm=SHA256``), else read back — one GET for a small
    object, HEAD first for a large one (it may carry a stored full-object checksum)."""
    if reported:
        return reported
    if size <= SMALL_OBJECT:
        return streamed_sha256(client, bucket, key, version_id)
    return sha256_of(client, bucket, key, version_id)


def is_archived(head: dict) -> bool:
    """True when the version's bytes cannot be read without a restore (GLACIER/DEEP_ARCHIVE,
    or an Intelligent-Tiering archive tier) and no restored copy is available."""
    restored = 'ongoing-request="false"' in (head.get("Restore") or "")
    archived = head.get("StorageClass") in ("GLACIER", "DEEP_ARCHIVE") \
        or head.get("ArchiveStatus") in ("ARCHIVE_ACCESS", "DEEP_ARCHIVE_ACCESS")
    return archived and not restored


def _same_object(src_head: dict, dst_head: dict) -> bool:
    return (src_head.get("ContentLength") == dst_head.get("ContentLength")
            and src_head.get("ContentType") == dst_head.get("ContentType")
            and (src_head.get("Metadata") or {}) == (dst_head.get("Metadata") or {}))


class Restorer:
    """Carries out decisions from ``source`` into ``dest``; thread-safe (boto3 clients are)."""

    def __init__(self, source: Location, dest: Location, options: CopyOptions | None = None,
                 readers: int = 0):
        """``readers``: threads for source reads that overlap a copy (the CLI gives one per
        worker); 0 keeps every key's requests in sequence."""
        self.source, self.dest = source, dest
        self.options = options or CopyOptions()
        self._reads = ThreadPoolExecutor(max_workers=readers,
                                         thread_name_prefix="restore-source-read") \
            if readers else None

    def close(self) -> None:
        if self._reads is not None:
            self._reads.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Restorer:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def carry_out(self, decision: Decision) -> dict:
        """The report entry for one decision. Errors of one key never stop the others."""
        entry = {"key": decision.dest_key, "source_key": decision.source_key,
                 "action": decision.action, "version_id": decision.version_id}
        try:
            if decision.action == DELETE_MARKER:
                entry.update(self._add_delete_marker(decision))
            elif decision.action in (COPY, ARCHIVED):
                entry.update(self._restore_version(decision))
            else:
                entry["outcome"] = decision.action
        except ChecksumMismatch as exc:
            entry.update(outcome=FAILED, error=str(exc))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            entry.update(outcome=FAILED, error=f"{error.get('Code')}: {error.get('Message')}")
        except Exception as exc:  # noqa: BLE001 - one bad key must not end the run
            entry.update(outcome=FAILED, error=f"{type(exc).__name__}: {exc}")
        return entry

    def _add_delete_marker(self, decision: Decision) -> dict:
        # No VersionId: S3 adds a delete marker and keeps every version.
        response = self.dest.client.delete_object(Bucket=self.dest.bucket, Key=decision.dest_key)
        return {"outcome": MARKER_ADDED, "new_version_id": response.get("VersionId")}

    def _restore_version(self, decision: Decision) -> dict:
        src, key, vid = self.source, decision.source_key, decision.version_id
        if self._reads is not None and decision.action == COPY \
                and decision.dest_version_id is None \
                and decision.size <= min(SMALL_OBJECT, self.options.multipart_threshold):
            return self._fresh_copy(decision)
        try:
            if decision.action == ARCHIVED:  # listed in an archive class: HEAD says if restored
                src_head = head_version(src.client, src.bucket, key, vid)
                if is_archived(src_head):
                    return self._archived(decision, src_head)
            src_head, src_sha = describe_version(src.client, src.bucket, key, vid, decision.size)
        except ClientError as exc:
            # Intelligent-Tiering lists as such; reading is what finds the archive tier.
            if exc.response.get("Error", {}).get("Code") != "InvalidObjectState":
                raise
            src_head, src_sha = head_version(src.client, src.bucket, key, vid), None
        if src_sha is None or is_archived(src_head):
            return self._archived(decision, src_head)
        if decision.dest_version_id is not None:
            dst_head = head_version(self.dest.client, self.dest.bucket, decision.dest_key,
                                    decision.dest_version_id)
            if _same_object(src_head, dst_head) and sha256_of(
                    self.dest.client, self.dest.bucket, decision.dest_key,
                    decision.dest_version_id, dst_head) == src_sha:
                return {"outcome": ALREADY_CURRENT, "sha256": src_sha,
                        "new_version_id": decision.dest_version_id}
        multipart = src_head["ContentLength"] > self.options.multipart_threshold
        try:
            if multipart:
                new_version, copy_sha = self._multipart_copy(decision, src_head), None
            else:
                new_version, copy_sha = self._copy(decision)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidObjectState":
                return self._archived(decision, src_head)
            raise
        if multipart and decision.dest_key.startswith(self.options.gated_prefixes):
            # Written without the source's verdict (below): the gate holds the new version
            # until GuardDuty scans it as an upload, so it cannot be read back yet. A rerun
            # compares it with the source (size, type, metadata, SHA-256) once it is released.
            return {"outcome": RESTORED_PENDING_SCAN, "new_version_id": new_version,
                    "sha256": src_sha, "bytes": src_head["ContentLength"]}
        return self._verified(decision, new_version, copy_sha, src_head, src_sha)

    def _fresh_copy(self, decision: Decision) -> dict:
        """A small version into a key with no live destination version: nothing to compare
        first, so the source read runs while the copy does. Same outcomes and checks as the
        sequential path: archived sources are reported, and the new version must hash to the
        source version's SHA-256."""
        src, key, vid = self.source, decision.source_key, decision.version_id
        described = self._reads.submit(describe_version, src.client, src.bucket, key, vid,
                                       decision.size)
        try:
            new_version, copy_sha = self._copy(decision)
        except BaseException as exc:
            described.cancel()
            if isinstance(exc, ClientError) and \
                    exc.response.get("Error", {}).get("Code") == "InvalidObjectState":
                # Listed as Intelligent-Tiering, found in an archive tier: report it.
                return self._archived(decision, head_version(src.client, src.bucket, key, vid))
            raise
        try:
            src_head, src_sha = described.result()
        except Exception as exc:  # noqa: BLE001 - the copy exists: say so, and fail the key
            detail = (f"{exc.response.get('Error', {}).get('Code')}: "
                      f"{exc.response.get('Error', {}).get('Message')}"
                      if isinstance(exc, ClientError) else f"{type(exc).__name__}: {exc}")
            return {"outcome": FAILED, "new_version_id": new_version,
                    "error": f"copied, but the source version could not be read to verify "
                             f"it: {detail}"}
        return self._verified(decision, new_version, copy_sha, src_head, src_sha)

    def _verified(self, decision: Decision, new_version: str, copy_sha: str | None,
                  src_head: dict, src_sha: str) -> dict:
        """The restored version must hash to the source version's SHA-256, or the key fails."""
        dst_sha = restored_sha256(self.dest.client, self.dest.bucket, decision.dest_key,
                                  new_version, src_head["ContentLength"], copy_sha)
        if dst_sha != src_sha:
            raise ChecksumMismatch(f"SHA-256 of the restored version {new_version} ({dst_sha}) "
                                   f"differs from the source version {decision.version_id} "
                                   f"({src_sha})")
        return {"outcome": RESTORED, "new_version_id": new_version, "sha256": src_sha,
                "bytes": src_head["ContentLength"]}

    def _copy_source(self, decision: Decision) -> dict:
        return {"Bucket": self.source.bucket, "Key": decision.source_key,
                "VersionId": decision.version_id}

    def _copy(self, decision: Decision) -> tuple[str, str | None]:
        """(new version id, the full-object SHA-256 S3 computed for it, when it says)."""
        response = self.dest.client.copy_object(
            Bucket=self.dest.bucket, Key=decision.dest_key,
            CopySource=self._copy_source(decision),
            MetadataDirective="COPY", TaggingDirective="COPY", ChecksumAlgorithm="SHA256")
        return response["VersionId"], _stored_sha256(response.get("CopyObjectResult") or {})

    def part_ranges(self, size: int) -> list[tuple[int, int]]:
        """Inclusive byte ranges of the parts (at most 10,000, as S3 allows)."""
        part = max(self.options.part_size, -(-size // MAX_PARTS))
        return [(start, min(start + part, size) - 1) for start in range(0, size, part)]

    def _multipart_copy(self, decision: Decision, src_head: dict) -> str:
        src, dst = self.source, self.dest
        tags = [t for t in src.client.get_object_tagging(
                    Bucket=src.bucket, Key=decision.source_key,
                    VersionId=decision.version_id)["TagSet"] if t["Key"] not in _SCANNER_TAGS]
        carried = {name: src_head[name] for name in _CARRIED if src_head.get(name)}
        if tags:
            carried["Tagging"] = urllib.parse.urlencode([(t["Key"], t["Value"]) for t in tags])
        upload = dst.client.create_multipart_upload(
            Bucket=dst.bucket, Key=decision.dest_key, Metadata=src_head.get("Metadata") or {},
            ChecksumAlgorithm="SHA256", **carried)
        upload_id = upload["UploadId"]
        try:
            parts = []
            for number, (first, last) in enumerate(self.part_ranges(src_head["ContentLength"]),
                                                   start=1):
                result = dst.client.upload_part_copy(
                    Bucket=dst.bucket, Key=decision.dest_key, UploadId=upload_id,
                    PartNumber=number, CopySource=self._copy_source(decision),
                    CopySourceRange=f"bytes={first}-{last}")["CopyPartResult"]
                part = {"PartNumber": number, "ETag": result["ETag"]}
                if result.get("ChecksumSHA256"):
                    part["ChecksumSHA256"] = result["ChecksumSHA256"]
                parts.append(part)
            done = dst.client.complete_multipart_upload(
                Bucket=dst.bucket, Key=decision.dest_key, UploadId=upload_id,
                MultipartUpload={"Parts": parts})
        except BaseException:
            dst.client.abort_multipart_upload(Bucket=dst.bucket, Key=decision.dest_key,
                                              UploadId=upload_id)
            raise
        return done["VersionId"]

    def _archived(self, decision: Decision, head: dict) -> dict:
        restore = head.get("Restore") or ""
        result = {"storage_class": head.get("StorageClass") or decision.storage_class,
                  "archive_status": head.get("ArchiveStatus")}
        if 'ongoing-request="true"' in restore:
            return {**result, "outcome": RESTORE_IN_PROGRESS}
        if not self.options.request_archive_restore:
            return {**result, "outcome": ARCHIVE_REPORTED}
        tier = {"Tier": self.options.archive_restore_tier}
        if head.get("ArchiveStatus"):
            # Intelligent-Tiering archive tiers move the object back: no Days allowed.
            request = {"GlacierJobParameters": tier}
        else:
            request = {"Days": self.options.archive_restore_days, "GlacierJobParameters": tier}
        self.source.client.restore_object(Bucket=self.source.bucket, Key=decision.source_key,
                                          VersionId=decision.version_id, RestoreRequest=request)
        return {**result, "outcome": RESTORE_REQUESTED}
