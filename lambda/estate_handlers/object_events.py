"""Object events: the one place that turns a queue message into the object versions it names.

Every queue-driven consumer of the estate (upload hasher, renditions, ...) reads its work
through ``objects_in_message``, so the trigger in the infrastructure can change without
touching the code that reads the bytes. Two triggers exist:

- an S3 ``ObjectCreated`` notification (the upload gate is off, or the prefix is not gated);
- GuardDuty's "GuardDuty Malware Protection Object Scan Result" EventBridge event, delivered
  to the same queue by a rule (the upload gate is on). Only a ``NO_THREATS_FOUND`` result
  names a version to process; every other result names none (the verdict handler,
  ``scan_verdict``, deals with those, and with "GuardDuty Malware Protection Post Scan Action
  Failed": a scan whose tag GuardDuty could not write).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from estate_handlers.layout import SCAN_CLEAN, SCAN_STATUS_TAG, scan_status

# HeadObject's ``ReplicationStatus`` on a version that S3 replication wrote into this bucket.
REPLICA = "REPLICA"


@dataclass(frozen=True)
class ObjectVersion:
    bucket: str
    key: str
    version_id: str | None  # None: unversioned bucket (the estate's buckets are versioned)
    # Announced by GuardDuty's clean verdict (a gated prefix): its verdict tag must be in any
    # tag set a handler writes back, or the write would erase it (``require_verdict_tag``).
    released_clean: bool = field(default=False, compare=False)


class RetryLater(RuntimeError):
    """Nothing is broken, but this record cannot be done now: it fails, SQS delivers it again
    after its visibility timeout, and the handler logs a warning, not an error."""


class VerdictTagPending(RetryLater):
    """A clean verdict's object does not carry GuardDuty's tag yet: writing its tag set now
    would erase the tag when it lands (S3 replaces the whole set). The record is retried."""


def require_verdict_tag(obj: ObjectVersion, tag_set: list[dict]) -> None:
    """Before a handler writes back the tag set it read: for a version a clean verdict
    released, that set must already hold GuardDuty's clean tag."""
    if obj.released_clean and scan_status(tag_set) != SCAN_CLEAN:
        raise VerdictTagPending(f"{obj.key}: GuardDuty's {SCAN_STATUS_TAG} tag is not on the "
                                "version yet; retried")


SCAN_RESULT = "GuardDuty Malware Protection Object Scan Result"
POST_SCAN_ACTION_FAILED = "GuardDuty Malware Protection Post Scan Action Failed"
GUARDDUTY = "aws.guardduty"
CLEAN = SCAN_CLEAN
# The status a post-scan failure is handled under: never a GuardDuty scan result, so a
# version whose tag did land later (another scan) reads as a stale event.
TAGGING_FAILED = "TAGGING_FAILED"


@dataclass(frozen=True)
class ScanResult:
    """One GuardDuty Malware Protection for S3 verdict on one object version."""

    obj: ObjectVersion
    status: str                # detail.scanResultDetails.scanResultStatus
    scan_status: str           # detail.scanStatus: COMPLETED, SKIPPED, FAILED
    threats: tuple[str, ...]   # threat names, THREATS_FOUND only
    time: str                  # the event's time (ISO 8601)
    failures: tuple[str, ...] = ()  # "<actionType>: <failureReason>", post-scan failures only

    @property
    def clean(self) -> bool:
        return self.status == CLEAN


def is_replica(head: dict) -> bool:
    """Did S3 replication write this version (a HeadObject response) into its bucket?

    The pipelines do not ask: only the primary Region runs them, and a replica there is an
    upload taken in the replica Region during a failover, which replication brought back and
    which nobody has processed yet. ``tools.reconcile`` asks, to tell such an upload from a
    copy of a primary write.
    """
    return head.get("ReplicationStatus") == REPLICA


def is_scan_result(message: dict) -> bool:
    return message.get("detail-type") == SCAN_RESULT and message.get("source") == GUARDDUTY


def is_post_scan_failure(message: dict) -> bool:
    return (message.get("detail-type") == POST_SCAN_ACTION_FAILED
            and message.get("source") == GUARDDUTY)


def scan_result(message: dict) -> ScanResult:
    """The verdict in a scan-result event (raises KeyError/TypeError on another shape).

    Unlike S3 notifications, the event carries the key as is (not form-encoded).
    """
    detail = message["detail"]
    where = detail["s3ObjectDetails"]
    result = detail.get("scanResultDetails") or {}
    threats = result.get("threats") or []
    status = str(result.get("scanResultStatus") or detail.get("scanStatus") or "UNKNOWN")
    return ScanResult(
        obj=ObjectVersion(bucket=where["bucketName"], key=where["objectKey"],
                          version_id=where.get("versionId") or None,
                          released_clean=status == CLEAN),
        status=status,
        scan_status=str(detail.get("scanStatus", "")),
        threats=tuple(str(t.get("name", "?")) for t in threats if isinstance(t, dict)),
        time=str(message.get("time", "")),
    )


def post_scan_failure(message: dict) -> ScanResult:
    """A post-scan failure as a verdict of its own (status ``TAGGING_FAILED``): the scan ran,
    its tag did not land, so the version stays unreadable whatever the scan found.

    The detail carries ``schemaVersion``, ``eventTime``, ``s3ObjectDetails`` (as in a scan
    result) and ``postScanActions`` (``actionType``, ``status``, ``failureReason``: the
    EventBridge schema of the event); each action becomes "<actionType>: <failureReason>"
    (GuardDuty documents ACCESS_DENIED and MAX_TAG_LIMIT_EXCEEDED), read leniently so a new
    field or reason is still reported.
    """
    detail = message["detail"]
    where = detail["s3ObjectDetails"]
    actions = detail.get("postScanActions") or []
    failures = tuple(
        f"{a.get('actionType', '?')}: {a.get('failureReason') or a.get('status') or '?'}"
        for a in actions if isinstance(a, dict)) or ("unknown",)
    result = detail.get("scanResultDetails") or {}
    return ScanResult(
        obj=ObjectVersion(bucket=where["bucketName"], key=where["objectKey"],
                          version_id=where.get("versionId") or None),
        status=TAGGING_FAILED,
        scan_status=str(result.get("scanResultStatus") or detail.get("scanStatus") or ""),
        threats=(),
        time=str(detail.get("eventTime") or message.get("time", "")),
        failures=failures,
    )


def objects_in_message(body: str) -> list[ObjectVersion]:
    """The object versions a queue message announces: an S3 notification's ObjectCreated
    records, or the version a GuardDuty scan result found clean.

    The one-off ``s3:TestEvent``, non-ObjectCreated records, GuardDuty's post-scan failures
    and scan results other than NO_THREATS_FOUND announce none. S3 notification keys arrive
    form-encoded (space as ``+``, the rest percent-encoded UTF-8). Any other shape (an SNS envelope because raw
    delivery was turned off, an EventBridge "Object Created" event) raises ValueError: the
    record fails and reaches the DLQ, instead of every upload being skipped without a word.
    """
    message = json.loads(body)
    if not isinstance(message, dict):
        raise ValueError(f"not an S3 notification or a scan result: a JSON {type(message).__name__}")
    if is_scan_result(message):
        verdict = scan_result(message)
        return [verdict.obj] if verdict.clean else []
    if message.get("Event") == "s3:TestEvent" or is_post_scan_failure(message):
        return []  # the verdict handler reports post-scan failures; nothing to hash or render
    if not isinstance(message.get("Records"), list):
        raise ValueError("not an S3 notification or a scan result: no Records list (keys: "
                         f"{', '.join(sorted(map(str, message))[:8])})")
    objects = []
    for record in message["Records"]:
        if not record.get("eventName", "").startswith("ObjectCreated:"):
            continue
        s3 = record["s3"]
        objects.append(ObjectVersion(
            bucket=s3["bucket"]["name"],
            key=unquote_plus(s3["object"]["key"]),
            version_id=s3["object"].get("versionId") or None,
        ))
    return objects
