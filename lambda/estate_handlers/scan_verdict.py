"""Scan verdicts that are not clean: contain and report, never delete.

Invoked by an SQS event source (ReportBatchItemFailures) on the verdict queue, which two
EventBridge rules fill: GuardDuty's "GuardDuty Malware Protection Object Scan Result" events
whose result is anything but NO_THREATS_FOUND, and its "... Post Scan Action Failed" events.
Per event (``handle_verdict``):

- THREATS_FOUND: the version stays unreadable (the bucket policy denies reads of anything not
  tagged clean); it is tagged ``quarantine=true`` (a lifecycle rule expires it after the
  configured days) and the alarm topic is told the key, the version and the uploader (the
  caller segment of ``user-content/uploads/<caller>/...``, else "unknown").
- UNSUPPORTED, ACCESS_DENIED, FAILED (or any other result GuardDuty may add): an object that
  can never be released is an operational fault: the alarm topic is told, nothing is tagged
  for expiry (an operator re-scans or removes it).
- Post-scan failure (``TAGGING_FAILED``): GuardDuty scanned the version but could not write
  its tag (its role may not tag, or the version already has 10 tags), so the version stays
  unreadable even if clean and no consumer will ever get it. Reported the same way, with
  GuardDuty's reasons.

A version with no room for our marker tag (S3 allows 10) is still reported, only unmarked:
a redelivery may report it again.

Idempotent: the version is tagged ``scan-alerted=<result>`` after the notification, and a
version already carrying that tag for that result is not reported again (a redelivered or
duplicated event). Out of order: when GuardDuty's own tag on the version says another result
than the event (a later scan of the same version answered), the event is stale and ignored.
A version that no longer exists is skipped. Anything else raises, so the record returns to
the queue and, after 5 receives, to its dead-letter queue (alarmed).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import partial

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.config import Config
from botocore.exceptions import ClientError

from estate_handlers.emf import log_metrics
from estate_handlers.layout import (
    ALERTED_TAG,
    MAX_TAGS_PER_OBJECT,
    QUARANTINE_TAG,
    SCAN_STATUS_TAG,
    USER_UPLOADS,
)
from estate_handlers.layout import SCAN_THREATS as THREATS_FOUND
from estate_handlers.object_events import (
    TAGGING_FAILED,
    ScanResult,
    is_post_scan_failure,
    is_scan_result,
    post_scan_failure,
    scan_result,
)
from estate_handlers.runtime import (
    IN_LAMBDA,
    SqsBatch,
    client,
    count,
    logger,
    metrics,
    once,
    require_env,
)
from estate_handlers.s3_errors import is_missing

TOPIC_ENV = "ALARM_TOPIC_ARN"
# SNS Publish: "Subjects must be ... less than 100 characters long"; a longer one is refused,
# and the record would end in the DLQ with nobody told.
MAX_SUBJECT = 99


@dataclass(frozen=True)
class Deps:
    s3: object
    sns: object
    topic_arn: str


def uploader_of(key: str) -> str:
    """The caller segment of a user upload key, or "unknown" (other prefixes carry none)."""
    if key.startswith(USER_UPLOADS):
        caller, sep, rest = key[len(USER_UPLOADS):].partition("/")
        if caller and sep and rest:
            return caller
    return "unknown"


def notification(verdict: ScanResult, *, taggable: bool = True) -> tuple[str, str]:
    """(subject, message) for the alarm topic. ``taggable``: the version has room for the
    tags this function adds (S3 allows 10)."""
    obj = verdict.obj
    if verdict.status == THREATS_FOUND:
        subject = f"Upload gate: malware quarantined in {obj.bucket}"
        action = ("The version is unreadable (bucket policy) and tagged quarantine=true; "
                  "a lifecycle rule expires it. Check the uploader's other uploads.")
    elif verdict.status == TAGGING_FAILED:
        subject = f"Upload gate: GuardDuty could not tag a scanned version in {obj.bucket}"
        action = ("The scan ran but its tag is missing, so the version stays unreadable and "
                  "nothing processes it. Fix the cause (the scanner role's tagging permission, "
                  "or the version's 10-tag limit), then re-scan it on demand.")
    else:
        subject = f"Upload gate: scan {verdict.status} in {obj.bucket}"
        action = ("The version cannot be released (it stays unreadable). Fix the cause, "
                  "then re-scan it on demand or remove it.")
    message = {
        "verdict": verdict.status,
        "scan_status": verdict.scan_status,
        "bucket": obj.bucket,
        "key": obj.key,
        "version_id": obj.version_id,
        "uploader": uploader_of(obj.key),
        "threats": list(verdict.threats),
        **({"failures": list(verdict.failures)} if verdict.failures else {}),
        "scanned_at": verdict.time,
        "action": action,
    }
    if not taggable:
        message["note"] = ("The version already carries 10 tags, so none could be added (no "
                           "quarantine tag, no report marker: it may be reported again). "
                           "Remove it or its extra tags by hand.")
    return subject[:MAX_SUBJECT], json.dumps(message, indent=2)


def _version_args(verdict: ScanResult) -> dict:
    obj = verdict.obj
    return {"Bucket": obj.bucket, "Key": obj.key,
            **({"VersionId": obj.version_id} if obj.version_id else {})}


def handle_verdict(verdict: ScanResult, deps: Deps) -> str:
    """Contain and report one verdict. Returns the outcome (logged, asserted by tests)."""
    if verdict.clean:
        return "clean"  # the rule never routes these here; nothing to contain
    args = _version_args(verdict)
    try:
        tag_set = deps.s3.get_object_tagging(**args)["TagSet"]
    except ClientError as exc:
        if is_missing(exc):
            return "missing"
        raise
    tags = {t["Key"]: t["Value"] for t in tag_set}
    current = tags.get(SCAN_STATUS_TAG)
    if current is not None and current != verdict.status:
        return "stale"
    if tags.get(ALERTED_TAG) == verdict.status:
        return "already-reported"
    ours = {ALERTED_TAG: verdict.status}
    if verdict.status != TAGGING_FAILED:
        # S3 replaces the whole tag set: read before GuardDuty's tag landed, the set written
        # back would erase the verdict (and, while unscanned versions are readable, make an
        # infected one readable). The verdict goes in with ours; the policy refuses only CLEAN.
        ours[SCAN_STATUS_TAG] = verdict.status
    if verdict.status == THREATS_FOUND:
        ours[QUARANTINE_TAG[0]] = QUARANTINE_TAG[1]
    merged = [t for t in tag_set if t["Key"] not in ours] + [
        {"Key": k, "Value": v} for k, v in ours.items()]
    taggable = len(merged) <= MAX_TAGS_PER_OBJECT
    subject, message = notification(verdict, taggable=taggable)
    # Report first, then mark: a crash in between reports twice, never zero times.
    deps.sns.publish(TopicArn=deps.topic_arn, Subject=subject, Message=message)
    if not taggable:
        return "reported-unmarked"
    deps.s3.put_object_tagging(**args, Tagging={"TagSet": merged})
    return "quarantined" if verdict.status == THREATS_FOUND else "reported"


def verdict_in(body: str) -> ScanResult:
    message = json.loads(body)
    if is_scan_result(message):
        return scan_result(message)
    if is_post_scan_failure(message):
        return post_scan_failure(message)
    raise ValueError("not a GuardDuty Malware Protection scan result or post-scan failure")


def process_record(record: SQSRecord, deps: Deps) -> str:
    """One queue message (one scan-result event); any exception fails only this record."""
    verdict = verdict_in(record.body)
    outcome = handle_verdict(verdict, deps)
    logger.info("verdict handled", extra={
        "outcome": outcome, "verdict": verdict.status, "bucket": verdict.obj.bucket,
        "key": verdict.obj.key, "version_id": verdict.obj.version_id,
        "uploader": uploader_of(verdict.obj.key), "message_id": record.message_id})
    # No per-record dimensions: one batch carries several verdicts, one EMF blob per invocation.
    if outcome == "quarantined":
        count("UploadsQuarantined")
    elif outcome in ("reported", "reported-unmarked"):
        count("UnreleasableUploadsReported" if verdict.status == TAGGING_FAILED
              else "UnscannableUploadsReported")
    return outcome


def process_batch(event: dict, deps: Deps) -> dict:
    """SQS batch -> partial batch response; one failing record never fails the others."""
    return process_partial_response(event=event, processor=SqsBatch(),
                                    record_handler=partial(process_record, deps=deps))


def deps_from_env(environ=os.environ) -> Deps:
    require_env(environ, TOPIC_ENV)
    # Every call of a batch of 10 must fit the function's 30 s: a slow call gives up in 5 s and
    # is tried 3 times, rather than one 30 s read timing the whole batch out.
    config = Config(retries={"mode": "standard", "total_max_attempts": 3},
                    connect_timeout=2, read_timeout=5)
    return Deps(s3=client("s3", config), sns=client("sns", config),
                topic_arn=environ[TOPIC_ENV])


current_deps = once(deps_from_env)


if IN_LAMBDA:  # build clients in the init phase (once per container, with the CPU boost)
    current_deps()


@logger.inject_lambda_context
@log_metrics(metrics)
def handler(event, context):
    return process_batch(event, current_deps())
