"""Sending objects stored before the upload gate to GuardDuty's on-demand scan, against the
local S3 server for the listing and the tags; GuardDuty (absent locally) is botocore's Stubber."""
from __future__ import annotations

import io

import pytest
from botocore.exceptions import ClientError
from stubbed_client import stubbed_client

from tools.scan_existing import (
    ALREADY_CLEAN,
    ALREADY_NOT_CLEAN,
    FAILED,
    SENT,
    WOULD_SEND,
    scan_existing,
)

GATED = ("brands/", "user-content/uploads/")


def _put(s3, bucket: str, key: str, verdict: str | None = None) -> str:
    extra = {"Tagging": f"GuardDutyMalwareScanStatus={verdict}"} if verdict else {}
    return s3.put_object(Bucket=bucket, Key=key, Body=key.encode(), **extra)["VersionId"]


@pytest.fixture
def stored(s3_client, fresh_bucket):
    """A bucket as the gate finds it: versions with and without verdicts, an overwritten key,
    a deleted one and a key outside the gated prefixes. Returns what must be sent."""
    s3 = s3_client
    _put(s3, fresh_bucket, "brands/logos/old.svg")  # overwritten below: not current
    current = _put(s3, fresh_bucket, "brands/logos/old.svg")
    first = _put(s3, fresh_bucket, "user-content/uploads/u-1/cv.pdf")
    _put(s3, fresh_bucket, "brands/media/clean.mp4", "NO_THREATS_FOUND")
    _put(s3, fresh_bucket, "brands/media/bad.mp4", "THREATS_FOUND")
    _put(s3, fresh_bucket, "brands/media/gone.mp4")
    s3.delete_object(Bucket=fresh_bucket, Key="brands/media/gone.mp4")
    _put(s3, fresh_bucket, "products/images/processed/sku-1/800.webp")  # not gated
    return fresh_bucket, [("brands/logos/old.svg", current),
                          ("user-content/uploads/u-1/cv.pdf", first)]


def _expect_sends(stub, bucket: str, versions) -> None:
    for key, version_id in versions:
        stub.add_response("send_object_malware_scan", {}, {"S3Object": {
            "Bucket": bucket, "Key": key, "VersionId": version_id}})


def test_every_current_version_without_a_verdict_is_sent_once(s3_client, stored):
    bucket, unscanned = stored
    with stubbed_client("guardduty") as (guardduty, stub):  # any other call fails the test
        _expect_sends(stub, bucket, unscanned)
        counts = scan_existing(s3_client, guardduty, bucket, GATED, dry_run=False, workers=1,
                               report=io.StringIO())
    assert counts == {SENT: 2, ALREADY_CLEAN: 1, ALREADY_NOT_CLEAN: 1}


def test_a_dry_run_counts_and_sends_nothing(s3_client, stored):
    bucket, _ = stored
    with stubbed_client("guardduty") as (guardduty, _stub):
        counts = scan_existing(s3_client, guardduty, bucket, GATED, dry_run=True, workers=4,
                               report=io.StringIO())
    assert counts == {WOULD_SEND: 2, ALREADY_CLEAN: 1, ALREADY_NOT_CLEAN: 1}


def test_a_refused_send_is_reported_and_the_others_still_go(s3_client, stored):
    bucket, unscanned = stored
    report = io.StringIO()
    with stubbed_client("guardduty") as (guardduty, stub):
        stub.add_client_error("send_object_malware_scan", service_error_code="BadRequestException",
                              service_message="no plan for this bucket", http_status_code=400)
        _expect_sends(stub, bucket, unscanned[1:])
        counts = scan_existing(s3_client, guardduty, bucket, GATED, dry_run=False, workers=1,
                               report=report)
    assert counts[FAILED] == 1 and counts[SENT] == 1
    assert f"s3://{bucket}/{unscanned[0][0]} ({unscanned[0][1]}) sending it: " \
           "BadRequestException: no plan for this bucket" in report.getvalue()


def test_an_unreadable_listing_is_an_error_not_an_empty_bucket(s3_client):
    with stubbed_client("guardduty") as (guardduty, _stub), pytest.raises(ClientError):
        scan_existing(s3_client, guardduty, "no-such-bucket-for-scans", GATED, dry_run=True,
                      workers=1, report=io.StringIO())
