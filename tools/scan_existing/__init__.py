"""Objects stored before the upload gate, sent to GuardDuty for an on-demand scan.

GuardDuty Malware Protection for S3 scans what is uploaded once its plan exists; "for objects
that existed before enabling protection ... you can initiate on-demand S3 malware scan"
(GuardDuty user guide, "On-demand S3 malware scan"): ``SendObjectMalwareScan``, one version
per call, run with the plan's own role, which tags the version and publishes the usual scan
result. Until every stored version has a verdict, the gate runs with ``hold_unscanned=False``
(a version without a verdict stays readable); docs/upload-gate.md has the whole rollout.

Only current versions are sent: a noncurrent version is on its way out (the noncurrent
lifecycle rule), and one never scanned is left unreadable once the gate holds unscanned
versions, like any version from before the gate. Nor are archived ones (Glacier Flexible
Retrieval, Deep Archive, Intelligent-Tiering's archive tiers): GuardDuty's "Supportability of
Amazon S3 features" lists those tiers as not supported, and a result it could not scan would
lock the version for good; they are counted apart (docs/upload-gate.md says what to do).
A version whose scan failed (``FAILED``, ``ACCESS_DENIED``) is sent again only with
``rescan_failed``: GuardDuty's on-demand scan is also for "re-scan previously scanned objects".
"""
from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from estate_handlers.layout import SCAN_CLEAN, scan_status
from estate_handlers.s3_errors import is_missing

from tools.cli import aws_error
from tools.restore.copier import is_archived as copier_is_archived
from tools.restore.listing import ARCHIVE_CLASSES

ALREADY_CLEAN = "already scanned clean"
ALREADY_NOT_CLEAN = "already scanned, not clean"
ARCHIVED = "archived: not sent (restore it first)"
SENT = "sent for scanning"
WOULD_SEND = "would be sent (dry run)"
GONE = "gone since the listing"
FAILED = "failed"
# Verdicts a new scan may change: the scan itself failed, or the plan's role could not read.
RESCANNABLE = ("FAILED", "ACCESS_DENIED")


@dataclass(frozen=True)
class StoredVersion:
    key: str
    version_id: str
    storage_class: str = "STANDARD"


def current_versions(s3, bucket: str, prefix: str) -> Iterator[StoredVersion]:
    """Every key's current version under ``prefix`` (delete markers are no object)."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []):
            if version["IsLatest"]:
                yield StoredVersion(version["Key"], version["VersionId"],
                                    version.get("StorageClass", "STANDARD"))


def is_archived(s3, bucket: str, version: StoredVersion) -> bool:
    """In an archive tier GuardDuty cannot scan, with no restored copy: the restore tool's
    rule (``copier.is_archived``) on one HeadObject, asked only of a version whose listed
    storage class can be archived."""
    if version.storage_class not in (*ARCHIVE_CLASSES, "INTELLIGENT_TIERING"):
        return False
    return copier_is_archived(s3.head_object(Bucket=bucket, Key=version.key,
                                             VersionId=version.version_id))


def verdict_of(s3, bucket: str, version: StoredVersion) -> str | None:
    tags = s3.get_object_tagging(Bucket=bucket, Key=version.key,
                                 VersionId=version.version_id)["TagSet"]
    return scan_status(tags)


def scan_one(s3, guardduty, bucket: str, version: StoredVersion, *, dry_run: bool,
             rescan_failed: bool = False) -> tuple[str, str]:
    """(outcome, detail) of one version: skipped when it has a verdict (unless its scan
    failed and ``rescan_failed``) or sits in an archive tier, else sent."""
    try:
        verdict = verdict_of(s3, bucket, version)
        resend = rescan_failed and verdict in RESCANNABLE
        if verdict is not None and not resend:
            return (ALREADY_CLEAN if verdict == SCAN_CLEAN else ALREADY_NOT_CLEAN), verdict
        # A failed version is sent again as it is: both read denies refuse its HeadObject.
        if not resend and is_archived(s3, bucket, version):
            return ARCHIVED, version.storage_class
    except ClientError as exc:
        if is_missing(exc):
            return GONE, ""
        return FAILED, f"reading it: {aws_error(exc)}"
    except BotoCoreError as exc:
        return FAILED, f"reading it: {exc}"
    if dry_run:
        return WOULD_SEND, ""
    try:
        guardduty.send_object_malware_scan(S3Object={
            "Bucket": bucket, "Key": version.key, "VersionId": version.version_id})
    except (ClientError, BotoCoreError) as exc:
        return FAILED, f"sending it: {aws_error(exc)}"
    return SENT, ""


def scan_existing(s3, guardduty, bucket: str, prefixes: tuple[str, ...], *, dry_run: bool,
                  workers: int, report, rescan_failed: bool = False,
                  counts: Counter | None = None) -> Counter:
    """Send every current version without a verdict under ``prefixes``; outcome counts
    (kept in ``counts`` as they come, so a listing that stops half-way leaves them).
    Each failure is one line on ``report``."""
    counts = Counter() if counts is None else counts

    def one(version: StoredVersion) -> tuple[StoredVersion, str, str]:
        return (version, *scan_one(s3, guardduty, bucket, version, dry_run=dry_run,
                                   rescan_failed=rescan_failed))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for prefix in prefixes:
            listing = current_versions(s3, bucket, prefix)
            for version, outcome, detail in _in_order(pool, one, listing, workers * 4):
                counts[outcome] += 1
                if outcome == FAILED:
                    print(f"failed: s3://{bucket}/{version.key} ({version.version_id}) "
                          f"{detail}", file=report)
    return counts


def _in_order(pool: ThreadPoolExecutor, fn: Callable, items: Iterable, window: int) -> Iterator:
    """``pool.map`` with at most ``window`` calls in flight: ``map`` would submit the whole
    listing at once, millions of versions held in memory."""
    pending: deque[Future] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
    except Exception:  # the listing stopped: what was already sent is still counted
        while pending:
            yield pending.popleft().result()
        raise
    while pending:
        yield pending.popleft().result()
