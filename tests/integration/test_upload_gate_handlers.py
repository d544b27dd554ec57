"""The upload gate's handler side against the local S3 (SeaweedFS), with GuardDuty's
scan-result event exactly as AWS documents it (``aws_events.scan_result_event``), delivered
through SQS as an EventBridge rule delivers it (the event is the message body).

What these tests prove: a clean verdict drives the same consumer code an S3 notification
drives (the hasher hashes, indexes and tags the version); any other verdict drives nothing in
the consumers; THREATS_FOUND is quarantine-tagged and reported on the alarm topic (SNS is a
botocore Stubber: the local servers have no SNS); UNSUPPORTED / ACCESS_DENIED / FAILED are
reported without quarantine; a scan whose tag GuardDuty could not write ("Post Scan Action
Failed") is reported once; duplicated, redelivered and out-of-order events change nothing.
GuardDuty's scan itself, and its tag, cannot run here: the tests write the tag GuardDuty
would write.
"""
from __future__ import annotations

import hashlib
import json
import uuid

import boto3
import pytest
from aws_events import post_scan_action_failed_event, scan_result_event, sqs_event, sqs_record
from botocore.stub import ANY, Stubber
from estate_handlers import dedup_index, hasher, scan_verdict
from estate_handlers.object_events import scan_result

TOPIC = "arn:aws:sns:us-east-1:123456789012:justkalm-test-alarms"
NOT_CLEAN_FAULTS = ("UNSUPPORTED", "ACCESS_DENIED", "FAILED")


# ------------------------------------------------------------------ fixtures and helpers

@pytest.fixture
def s3(s3_client):
    return s3_client


@pytest.fixture
def sns():
    """An SNS client whose calls are answered by a Stubber (no network), and the params of
    every Publish it received."""
    client = boto3.client("sns", region_name="us-east-1")
    published: list[dict] = []
    client.meta.events.register("provide-client-params.sns.Publish",
                                lambda params, **_: published.append(dict(params)))
    with Stubber(client) as stubber:
        yield client, stubber, published


def expect_publish(stubber: Stubber, times: int = 1) -> None:
    for _ in range(times):
        stubber.add_response("publish", {"MessageId": str(uuid.uuid4())},
                             {"TopicArn": TOPIC, "Subject": ANY, "Message": ANY})


@pytest.fixture
def verdict_deps(s3_endpoint, sns):
    client, _, _ = sns
    return scan_verdict.Deps(s3=boto3.client("s3", endpoint_url=s3_endpoint), sns=client,
                             topic_arn=TOPIC)


def upload(s3, bucket: str, key: str, body: bytes, scan_tag: str | None = None) -> dict:
    extra = {"Tagging": f"{scan_verdict.SCAN_STATUS_TAG}={scan_tag}"} if scan_tag else {}
    version = s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)["VersionId"]
    return {"key": key, "version_id": version}


def guardduty_tags(s3, bucket: str, obj: dict, status: str) -> None:
    """What GuardDuty does after a scan: the result tag on the scanned version."""
    s3.put_object_tagging(Bucket=bucket, Key=obj["key"], VersionId=obj["version_id"],
                          Tagging={"TagSet": [{"Key": scan_verdict.SCAN_STATUS_TAG,
                                               "Value": status}]})


def scanned(bucket: str, obj: dict, status: str) -> dict:
    return scan_result_event(bucket, obj["key"], obj["version_id"], status)


def as_sqs(*events: dict) -> dict:
    return sqs_event(*[sqs_record(json.dumps(e)) for e in events])


def tags(s3, bucket: str, obj: dict) -> dict[str, str]:
    found = s3.get_object_tagging(Bucket=bucket, Key=obj["key"], VersionId=obj["version_id"])
    return {t["Key"]: t["Value"] for t in found["TagSet"]}


def user_upload_key(caller: str = "alice") -> str:
    return f"user-content/uploads/{caller}/{uuid.uuid4().hex}/file.pdf"


# ------------------------------------------------------------------ clean: the consumer runs

def test_clean_scan_result_is_hashed_indexed_and_tagged_by_the_hasher(
        s3, fresh_bucket, dynamodb_client, dedup_table, hasher_deps):
    data = f"clean-{uuid.uuid4()}".encode()
    obj = upload(s3, fresh_bucket, user_upload_key(), data)
    guardduty_tags(s3, fresh_bucket, obj, "NO_THREATS_FOUND")
    result = hasher.process_batch(as_sqs(scanned(fresh_bucket, obj, "NO_THREATS_FOUND")),
                                  hasher_deps)
    assert result == {"batchItemFailures": []}
    digest = hashlib.sha256(data).hexdigest()
    canonical = dedup_index.get_canonical(dynamodb_client, dedup_table, digest)
    assert (canonical.key, canonical.version_id) == (obj["key"], obj["version_id"])
    # The hasher merges its tags: GuardDuty's verdict stays on the version.
    assert tags(s3, fresh_bucket, obj) == {scan_verdict.SCAN_STATUS_TAG: "NO_THREATS_FOUND",
                                           "content-sha256": digest,
                                           "dedup-status": "canonical"}


@pytest.mark.parametrize("status", ("THREATS_FOUND", *NOT_CLEAN_FAULTS))
def test_hasher_never_reads_a_version_whose_scan_was_not_clean(
        s3, fresh_bucket, dynamodb_client, dedup_table, hasher_deps, status):
    data = f"dirty-{uuid.uuid4()}".encode()
    obj = upload(s3, fresh_bucket, user_upload_key(), data)
    guardduty_tags(s3, fresh_bucket, obj, status)
    reads = []
    hasher_deps.s3.meta.events.register("before-parameter-build.s3.*",
                                        lambda params, **_: reads.append(params))
    assert hasher.process_batch(as_sqs(scanned(fresh_bucket, obj, status)), hasher_deps) == {
        "batchItemFailures": []}
    assert reads == []
    assert dedup_index.get_canonical(dynamodb_client, dedup_table,
                                     hashlib.sha256(data).hexdigest()) is None


def test_duplicate_clean_events_leave_one_canonical_and_the_same_tags(
        s3, fresh_bucket, dynamodb_client, dedup_table, hasher_deps):
    data = f"twice-{uuid.uuid4()}".encode()
    obj = upload(s3, fresh_bucket, user_upload_key(), data)
    guardduty_tags(s3, fresh_bucket, obj, "NO_THREATS_FOUND")
    event = scanned(fresh_bucket, obj, "NO_THREATS_FOUND")
    hasher.process_batch(as_sqs(event, event), hasher_deps)
    first = tags(s3, fresh_bucket, obj)
    hasher.process_batch(as_sqs(event), hasher_deps)
    assert tags(s3, fresh_bucket, obj) == first
    assert first["dedup-status"] == "canonical"


# ------------------------------------------------------------------ threats: contain and report

def test_threats_found_is_quarantine_tagged_and_reported_with_key_version_and_uploader(
        s3, fresh_bucket, sns, verdict_deps):
    _, stubber, published = sns
    obj = upload(s3, fresh_bucket, user_upload_key("mallory"), b"X5O!P%@AP[4\\PZX54(P^)7CC)7}")
    guardduty_tags(s3, fresh_bucket, obj, "THREATS_FOUND")
    expect_publish(stubber)
    result = scan_verdict.process_batch(as_sqs(scanned(fresh_bucket, obj, "THREATS_FOUND")),
                                        verdict_deps)
    assert result == {"batchItemFailures": []}
    stubber.assert_no_pending_responses()
    message = json.loads(published[0]["Message"])
    assert (message["key"], message["version_id"], message["uploader"], message["verdict"]) == (
        obj["key"], obj["version_id"], "mallory", "THREATS_FOUND")
    assert tags(s3, fresh_bucket, obj) == {scan_verdict.SCAN_STATUS_TAG: "THREATS_FOUND",
                                           "quarantine": "true",
                                           "scan-alerted": "THREATS_FOUND"}


def test_duplicated_threat_event_is_reported_and_tagged_once(s3, fresh_bucket, sns,
                                                             verdict_deps):
    _, stubber, published = sns
    obj = upload(s3, fresh_bucket, user_upload_key(), b"infected")
    guardduty_tags(s3, fresh_bucket, obj, "THREATS_FOUND")
    expect_publish(stubber, times=1)  # a second Publish would find no stubbed answer and fail
    event = scan_result(scanned(fresh_bucket, obj, "THREATS_FOUND"))
    outcomes = [scan_verdict.handle_verdict(event, verdict_deps) for _ in range(2)]
    assert outcomes == ["quarantined", "already-reported"]
    assert len(published) == 1


def test_stale_threat_event_after_a_clean_rescan_changes_nothing(s3, fresh_bucket, sns,
                                                                 verdict_deps):
    _, _, published = sns
    obj = upload(s3, fresh_bucket, user_upload_key(), b"false positive")
    guardduty_tags(s3, fresh_bucket, obj, "NO_THREATS_FOUND")  # the later scan's answer
    event = scan_result(scanned(fresh_bucket, obj, "THREATS_FOUND"))
    assert scan_verdict.handle_verdict(event, verdict_deps) == "stale"
    assert published == []
    assert tags(s3, fresh_bucket, obj) == {scan_verdict.SCAN_STATUS_TAG: "NO_THREATS_FOUND"}


def test_threat_event_for_a_version_that_no_longer_exists_is_skipped(s3, fresh_bucket, sns,
                                                                    verdict_deps):
    _, _, published = sns
    obj = upload(s3, fresh_bucket, user_upload_key(), b"gone")
    s3.delete_object(Bucket=fresh_bucket, Key=obj["key"], VersionId=obj["version_id"])
    event = scan_result(scanned(fresh_bucket, obj, "THREATS_FOUND"))
    assert scan_verdict.handle_verdict(event, verdict_deps) == "missing"
    assert published == []


# ------------------------------------------------------------------ faults: report, no quarantine

@pytest.mark.parametrize("status", NOT_CLEAN_FAULTS)
def test_unscannable_version_is_reported_and_not_quarantined(s3, fresh_bucket, sns,
                                                             verdict_deps, status):
    _, stubber, published = sns
    obj = upload(s3, fresh_bucket, "products/documents/certificates/x/cert.pdf", b"%PDF")
    guardduty_tags(s3, fresh_bucket, obj, status)
    expect_publish(stubber)
    assert scan_verdict.process_batch(as_sqs(scanned(fresh_bucket, obj, status)),
                                      verdict_deps) == {"batchItemFailures": []}
    message = json.loads(published[0]["Message"])
    assert (message["verdict"], message["uploader"]) == (status, "unknown")
    assert "quarantine" not in tags(s3, fresh_bucket, obj)


def test_a_message_that_is_not_a_scan_result_fails_alone(s3, fresh_bucket, sns, verdict_deps):
    _, stubber, _ = sns
    obj = upload(s3, fresh_bucket, user_upload_key(), b"bad")
    guardduty_tags(s3, fresh_bucket, obj, "FAILED")
    expect_publish(stubber)
    good = sqs_record(json.dumps(scanned(fresh_bucket, obj, "FAILED")))
    bad = sqs_record(json.dumps({"detail-type": "Object Created", "source": "aws.s3"}))
    result = scan_verdict.process_batch(sqs_event(bad, good), verdict_deps)
    assert result == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}


# ------------------------------------------------------------------ GuardDuty could not tag

def test_a_scan_whose_tag_could_not_be_written_is_reported_once(s3, fresh_bucket, sns,
                                                                 verdict_deps):
    _, stubber, published = sns
    obj = upload(s3, fresh_bucket, user_upload_key("carol"), b"clean but untagged")
    event = post_scan_action_failed_event(fresh_bucket, obj["key"], obj["version_id"],
                                          "ACCESS_DENIED")
    expect_publish(stubber, times=1)  # a second Publish would find no stubbed answer and fail
    for _ in range(2):  # the second is a redelivery
        assert scan_verdict.process_batch(as_sqs(event), verdict_deps) == {
            "batchItemFailures": []}
    message = json.loads(published[0]["Message"])
    assert (message["key"], message["uploader"], message["verdict"], message["failures"]) == (
        obj["key"], "carol", "TAGGING_FAILED", ["TAGGING: ACCESS_DENIED"])
    assert tags(s3, fresh_bucket, obj) == {"scan-alerted": "TAGGING_FAILED"}


def test_a_tagging_failure_the_tag_later_overtook_is_stale(s3, fresh_bucket, sns, verdict_deps):
    _, _, published = sns
    obj = upload(s3, fresh_bucket, user_upload_key(), b"rescanned")
    guardduty_tags(s3, fresh_bucket, obj, "NO_THREATS_FOUND")  # an on-demand re-scan's tag
    event = post_scan_action_failed_event(fresh_bucket, obj["key"], obj["version_id"])
    verdict = scan_verdict.verdict_in(json.dumps(event))
    assert scan_verdict.handle_verdict(verdict, verdict_deps) == "stale"
    assert published == []


def test_a_version_with_ten_tags_is_still_reported_and_left_unmarked(s3, fresh_bucket, sns,
                                                                     verdict_deps):
    _, stubber, published = sns
    obj = upload(s3, fresh_bucket, user_upload_key(), b"ten tags")
    full = [{"Key": f"t{i}", "Value": "x"} for i in range(10)]
    s3.put_object_tagging(Bucket=fresh_bucket, Key=obj["key"], VersionId=obj["version_id"],
                          Tagging={"TagSet": full})
    event = post_scan_action_failed_event(fresh_bucket, obj["key"], obj["version_id"],
                                          "MAX_TAG_LIMIT_EXCEEDED")
    expect_publish(stubber)
    verdict = scan_verdict.verdict_in(json.dumps(event))
    assert scan_verdict.handle_verdict(verdict, verdict_deps) == "reported-unmarked"
    assert "10 tags" in json.loads(published[0]["Message"])["note"]
    assert len(s3.get_object_tagging(Bucket=fresh_bucket, Key=obj["key"],
                                     VersionId=obj["version_id"])["TagSet"]) == 10
