"""Scan results through the one parser every queue consumer uses, and the verdict rules
that need no store (uploader, notification text, the contracts with the infrastructure)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from estate_handlers import object_events, scan_verdict
from estate_handlers.object_events import ObjectVersion, objects_in_message

from infra import config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from aws_events import (  # noqa: E402
    post_scan_action_failed_event,
    s3_notification,
    scan_result_event,
)

NOT_CLEAN = ("THREATS_FOUND", "UNSUPPORTED", "ACCESS_DENIED", "FAILED")


def test_clean_scan_result_names_the_scanned_version():
    event = scan_result_event("assets", "user-content/uploads/alice/x/a b+c.jpg", "v7")
    assert objects_in_message(json.dumps(event)) == [
        ObjectVersion("assets", "user-content/uploads/alice/x/a b+c.jpg", "v7")]


@pytest.mark.parametrize("status", NOT_CLEAN)
def test_scan_results_other_than_clean_name_nothing_to_process(status):
    event = scan_result_event("assets", "brands/media/x/a.mp4", "v1", status)
    assert objects_in_message(json.dumps(event)) == []


def test_s3_notifications_still_name_their_versions():
    body = json.dumps(s3_notification("assets", "brands/media/a b.mp4", "v2", 5, '"e"'))
    assert objects_in_message(body) == [ObjectVersion("assets", "brands/media/a b.mp4", "v2")]


def test_scan_result_reads_status_threats_and_time():
    event = scan_result_event("assets", "products/documents/x/c.pdf", "v3", "THREATS_FOUND")
    result = object_events.scan_result(event)
    assert (result.status, result.scan_status, result.threats, result.time) == (
        "THREATS_FOUND", "COMPLETED", ("EICAR-Test-File (not a virus)",), event["time"])


@pytest.mark.parametrize(("key", "uploader"), [
    ("user-content/uploads/alice/r4nd0m/photo.jpg", "alice"),
    ("user-content/uploads/photo.jpg", "unknown"),
    ("user-content/uploads//x/photo.jpg", "unknown"),
    ("products/images/original/r4nd0m/photo.jpg", "unknown"),
])
def test_uploader_is_the_caller_segment_of_user_upload_keys(key, uploader):
    assert scan_verdict.uploader_of(key) == uploader


def test_notification_names_key_version_and_uploader():
    event = scan_result_event("assets", "user-content/uploads/bob/z/evil.pdf", "v9",
                              "THREATS_FOUND")
    subject, message = scan_verdict.notification(object_events.scan_result(event))
    body = json.loads(message)
    assert (body["key"], body["version_id"], body["uploader"], body["verdict"]) == (
        "user-content/uploads/bob/z/evil.pdf", "v9", "bob", "THREATS_FOUND")
    assert "malware" in subject and len(subject) < 100


def test_verdict_handler_and_config_agree_on_tags_and_prefixes():
    # The construct side (event names, the topic variable) is tests/infra/test_upload_gate.py's.
    assert scan_verdict.QUARANTINE_TAG == config.QUARANTINE_TAG
    assert scan_verdict.SCAN_STATUS_TAG == config.SCAN_STATUS_TAG
    assert object_events.CLEAN == config.CLEAN
    assert scan_verdict.USER_UPLOADS == config.USER_UPLOADS


def test_a_post_scan_failure_is_a_verdict_naming_the_version_and_guardduty_s_reasons():
    event = post_scan_action_failed_event("assets", "user-content/uploads/eve/q/a.pdf", "v3",
                                          "MAX_TAG_LIMIT_EXCEEDED")
    verdict = scan_verdict.verdict_in(json.dumps(event))
    assert verdict.obj == ObjectVersion("assets", "user-content/uploads/eve/q/a.pdf", "v3")
    assert (verdict.status, verdict.clean) == (object_events.TAGGING_FAILED, False)
    assert verdict.failures == ("TAGGING: MAX_TAG_LIMIT_EXCEEDED",)
    assert verdict.time == event["detail"]["eventTime"]
    # It never releases the version to a consumer.
    assert objects_in_message(json.dumps(event)) == []
    subject, message = scan_verdict.notification(verdict)
    body = json.loads(message)
    assert body["failures"] == ["TAGGING: MAX_TAG_LIMIT_EXCEEDED"]
    assert (body["uploader"], body["verdict"]) == ("eve", "TAGGING_FAILED")
    assert "could not tag" in subject and len(subject) < 100


@pytest.mark.parametrize("status", ["THREATS_FOUND", "UNSUPPORTED", "ACCESS_DENIED", "FAILED"])
def test_every_subject_is_shorter_than_sns_allows_even_for_the_longest_bucket_name(status):
    # SNS refuses a subject of 100 characters or more.
    bucket = "b" * 63
    verdicts = [object_events.scan_result(scan_result_event(bucket, "brands/x.png", "v1", status)),
                scan_verdict.verdict_in(json.dumps(post_scan_action_failed_event(
                    bucket, "brands/x.png", "v1", "ACCESS_DENIED")))]
    for verdict in verdicts:
        subject, _ = scan_verdict.notification(verdict)
        assert len(subject) < 100, subject


def test_a_post_scan_failure_without_actions_is_still_reported():
    event = post_scan_action_failed_event("assets", "brands/logos/x/l.png", "v1", "ACCESS_DENIED")
    del event["detail"]["postScanActions"]
    assert scan_verdict.verdict_in(json.dumps(event)).failures == ("unknown",)


def test_the_scan_status_is_read_from_guarddutys_tag_alone():
    from estate_handlers.layout import scan_status
    assert scan_status([{"Key": "kind", "Value": "NO_THREATS_FOUND"},
                        {"Key": "GuardDutyMalwareScanStatus", "Value": "THREATS_FOUND"}]) \
        == "THREATS_FOUND"
    assert scan_status([{"Key": "kind", "Value": "NO_THREATS_FOUND"}]) is None
    assert scan_status([]) is None


@pytest.mark.parametrize("body", [
    {"Type": "Notification", "Message": "{}", "TopicArn": "arn:aws:sns:us-east-1:1:t"},  # raw off
    {"source": "aws.s3", "detail-type": "Object Created", "detail": {}},  # EventBridge's S3 event
    ["not", "an", "object"],
])
def test_a_message_of_another_shape_fails_instead_of_announcing_nothing(body):
    # Returning [] would let the record succeed: every upload skipped without a word.
    with pytest.raises(ValueError, match="not an S3 notification or a scan result"):
        objects_in_message(json.dumps(body))


def test_only_a_clean_verdict_marks_its_version_as_released():
    clean = scan_result_event("assets", "user-content/uploads/u/a.pdf", "v1")
    (released,) = objects_in_message(json.dumps(clean))
    assert released.released_clean
    (notified,) = objects_in_message(json.dumps(
        s3_notification("assets", "products/images/original/a.png", "v1", 10, "e")))
    assert not notified.released_clean
    assert released == ObjectVersion("assets", "user-content/uploads/u/a.pdf", "v1")  # same version


def test_a_released_versions_tags_are_not_written_back_before_guardduty_s_tag_lands():
    # S3 replaces the whole tag set: written from a set read before GuardDuty's tag, it would
    # erase the verdict (a clean version unreadable for good once unscanned versions are held).
    released = ObjectVersion("assets", "user-content/uploads/u/a.pdf", "v1", released_clean=True)
    clean = [{"Key": "GuardDutyMalwareScanStatus", "Value": "NO_THREATS_FOUND"}]
    object_events.require_verdict_tag(released, clean)
    with pytest.raises(object_events.VerdictTagPending):
        object_events.require_verdict_tag(released, [{"Key": "kind", "Value": "upload"}])
    object_events.require_verdict_tag(ObjectVersion("assets", "products/x.png", "v1"), [])


def test_the_hasher_retries_a_released_version_whose_verdict_tag_is_not_there_yet():
    from estate_handlers import hasher

    class S3:
        written = []

        def get_object_tagging(self, **kw):
            return {"TagSet": []}

        def put_object_tagging(self, **kw):
            self.written.append(kw)

    released = ObjectVersion("assets", "user-content/uploads/u/a.pdf", "v1", released_clean=True)
    with pytest.raises(object_events.VerdictTagPending):
        hasher.apply_tags(S3(), released, {"content-sha256": "ab" * 32})
    assert S3.written == []


def test_the_verdict_handler_s_calls_fit_its_function_timeout():
    # 30 s for a batch of 10: one call may not take 30 s by itself.
    config = scan_verdict.deps_from_env({"ALARM_TOPIC_ARN": "arn:aws:sns:us-east-1:1:t"}).s3.meta.config
    attempts = config.retries["total_max_attempts"]
    assert attempts * (config.connect_timeout + config.read_timeout) < 30


def test_a_renditions_batch_that_fails_entirely_is_reported_not_raised():
    from estate_handlers.renditions import handler
    assert handler.processor.raise_on_entire_batch_failure is False


def test_the_verdict_handler_writes_the_verdict_back_with_its_own_tags():
    # Read before GuardDuty's tag landed, the tag set written back would erase the verdict.
    class S3:
        written: list = []

        def get_object_tagging(self, **kw):
            return {"TagSet": [{"Key": "kind", "Value": "upload"}]}

        def put_object_tagging(self, **kw):
            self.written.append(kw["Tagging"]["TagSet"])

    class Sns:
        def publish(self, **kw):
            return {}

    event = scan_result_event("assets", "user-content/uploads/u/a.pdf", "v1", "THREATS_FOUND")
    verdict = object_events.scan_result(event)
    deps = scan_verdict.Deps(s3=S3(), sns=Sns(), topic_arn="arn:aws:sns:us-east-1:1:t")
    assert scan_verdict.handle_verdict(verdict, deps) == "quarantined"
    (written,) = S3.written
    assert {t["Key"]: t["Value"] for t in written} == {
        "kind": "upload", "GuardDutyMalwareScanStatus": "THREATS_FOUND",
        "scan-alerted": "THREATS_FOUND", "quarantine": "true"}
