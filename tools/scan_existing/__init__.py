"""Objects stored before the upload gate, sent to GuardDuty for an on-demand scan.

GuardDuty Malware Protection for S3 scans what is uploaded once its plan exists; "for objects
that existed before enabling protection ... you can initiate on-demand S3 malware scan"
(GuardDuty user guide, "On-demand S3 malware scan"): ``SendObjectMalwareScan``, one version
per call, run with the plan's own role, which tags the version and publishes the usual scan
result. Until every stored version has a verdict, the gate runs with ``hold_unscanned=False``
(a version without a verdict stays readable); docs/upload-gate.md has the whole rollout.

Only current versions are sent: a noncurrent version is on its way out (the noncurrent
lifecycle rule), and one never scanned is left unreadable once the gate holds unscanned
versions, like any version from before the gate.
"""
from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from estate_handlers.layout import SCAN_CLEAN, SCAN_STATUS_TAG
from estate_handlers.s3_errors import is_missing

from tools.cli import aws_error

ALREADY_CLEAN = "already scanned clean"
ALREADY_NOT_CLEAN = "already scanned, not clean"
SENT = "sent for scanning"
WOULD_SEND = "would be sent (dry run)"
GONE = "gone since the listing"
FAILED = "failed"


@dataclass(frozen=True)
class StoredVersion:
    key: str
    version_id: str


def current_versions(s3, bucket: str, prefix: str) -> Iterator[StoredVersion]:
    """Every key's current version under ``prefix`` (delete markers are no object)."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []):
            if version["IsLatest"]:
                yield StoredVersion(version["Key"], version["VersionId"])


def verdict_of(s3, bucket: str, version: StoredVersion) -> str | None:
    tags = s3.get_object_tagging(Bucket=bucket, Key=version.key,
                                 VersionId=version.version_id)["TagSet"]
    return next((t["Value"] for t in tags if t["Key"] == SCAN_STATUS_TAG), None)


def scan_one(s3, guardduty, bucket: str, version: StoredVersion, *,
             dry_run: bool) -> tuple[str, str]:
    """(outcome, detail) of one version: skipped when it has a verdict, else sent."""
    try:
        verdict = verdict_of(s3, bucket, version)
    except ClientError as exc:
        if is_missing(exc):
            return GONE, ""
        return FAILED, f"reading its tags: {aws_error(exc)}"
    except BotoCoreError as exc:
        return FAILED, f"reading its tags: {exc}"
    if verdict is not None:
        return (ALREADY_CLEAN if verdict == SCAN_CLEAN else ALREADY_NOT_CLEAN), verdict
    if dry_run:
        return WOULD_SEND, ""
    try:
        guardduty.send_object_malware_scan(S3Object={
            "Bucket": bucket, "Key": version.key, "VersionId": version.version_id})
    except (ClientError, BotoCoreError) as exc:
        return FAILED, f"sending it: {aws_error(exc)}"
    return SENT, ""


def scan_existing(s3, guardduty, bucket: str, prefixes: tuple[str, ...], *, dry_run: bool,
                  workers: int, report) -> Counter:
    """Send every current version without a verdict under ``prefixes``; outcome counts.
    Each failure is one line on ``report``."""
    counts: Counter = Counter()

    def one(version: StoredVersion) -> tuple[StoredVersion, str, str]:
        return (version, *scan_one(s3, guardduty, bucket, version, dry_run=dry_run))

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
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
