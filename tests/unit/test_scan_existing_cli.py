"""The on-demand scan tool: its command line (which bucket and prefixes, its refusals) and the
shapes the local S3 lacks (archive tiers, GuardDuty) with botocore's Stubber. The listing and
the sends against a real store: tests/integration/test_scan_existing.py."""
from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from stubbed_client import stubbed_client

from infra.environments import ENVIRONMENTS
from tools.scan_existing import (
    ALREADY_NOT_CLEAN,
    ARCHIVED,
    SENT,
    StoredVersion,
    _in_order,
    scan_one,
)
from tools.scan_existing.cli import main


def test_an_environment_without_the_gate_is_a_usage_error(capsys):
    assert not ENVIRONMENTS["dev"]().upload_gate.gated_prefixes
    assert main(["--env", "dev"]) == 2
    assert "the upload gate is off in dev" in capsys.readouterr().err


def test_a_prefix_outside_the_gated_ones_is_a_usage_error(capsys):
    assert main(["--env", "prod", "--prefix", "products/images/processed/"]) == 2
    assert "is not inside a gated prefix" in capsys.readouterr().err


def test_the_environments_assets_bucket_is_scanned_under_the_prefix_given():
    bucket = ENVIRONMENTS["prod"]().assets_bucket_name
    out = io.StringIO()
    with stubbed_client("s3") as (s3, s3_stub), stubbed_client("guardduty") as (gd, gd_stub):
        s3_stub.add_response("head_bucket", {}, {"Bucket": bucket})
        s3_stub.add_response("list_object_versions", {"IsTruncated": False, "Versions": [
            {"Key": "brands/media/a.mp4", "VersionId": "v2", "IsLatest": True},
            {"Key": "brands/media/a.mp4", "VersionId": "v1", "IsLatest": False},
        ]}, {"Bucket": bucket, "Prefix": "brands/media/"})
        s3_stub.add_response("get_object_tagging", {"TagSet": []}, {
            "Bucket": bucket, "Key": "brands/media/a.mp4", "VersionId": "v2"})
        gd_stub.add_response("send_object_malware_scan", {}, {"S3Object": {
            "Bucket": bucket, "Key": "brands/media/a.mp4", "VersionId": "v2"}})
        code = main(["--env", "prod", "--prefix", "brands/media/"], s3=s3, guardduty=gd,
                    stdout=out)
    assert code == 0
    assert out.getvalue().splitlines() == [f"s3://{bucket} brands/media/: current versions: 1",
                                           "  sent for scanning: 1"]


class _NoCalls:
    """A client no usage error may reach."""

    def __getattr__(self, name):
        pytest.fail(f"a usage error called AWS ({name})")


@pytest.mark.parametrize("workers", ["0", "65"])
def test_workers_out_of_range_is_a_usage_error(workers, capsys):
    assert main(["--env", "prod", "--workers", workers], s3=_NoCalls(),
                guardduty=_NoCalls()) == 2
    assert "argument --workers" in capsys.readouterr().err


BUCKET = "justkalm-assets-prod"


def _tags(stub, key: str, version_id: str, verdict: str | None = None) -> None:
    stub.add_response("get_object_tagging", {"TagSet": [
        {"Key": "GuardDutyMalwareScanStatus", "Value": verdict}] if verdict else []},
        {"Bucket": BUCKET, "Key": key, "VersionId": version_id})


def _sent(stub, key: str, version_id: str) -> None:
    stub.add_response("send_object_malware_scan", {}, {"S3Object": {
        "Bucket": BUCKET, "Key": key, "VersionId": version_id}})


def test_archived_versions_are_counted_not_sent_unless_a_restored_copy_is_there():
    # GuardDuty does not scan archive tiers: a result it could not reach would lock the
    # version for good. Intelligent-Tiering says so only in HeadObject's ArchiveStatus; a
    # restored Deep Archive copy can be read, so it is sent.
    versions = [StoredVersion("brands/a.mp4", "v1", "DEEP_ARCHIVE"),
                StoredVersion("brands/b.mp4", "v2", "INTELLIGENT_TIERING"),
                StoredVersion("brands/c.mp4", "v3", "INTELLIGENT_TIERING"),
                StoredVersion("brands/d.mp4", "v4", "DEEP_ARCHIVE")]
    with stubbed_client("s3") as (s3, s3_stub), stubbed_client("guardduty") as (gd, gd_stub):
        _tags(s3_stub, "brands/a.mp4", "v1")
        s3_stub.add_response("head_object", {"StorageClass": "DEEP_ARCHIVE"},
                             {"Bucket": BUCKET, "Key": "brands/a.mp4", "VersionId": "v1"})
        _tags(s3_stub, "brands/b.mp4", "v2")
        s3_stub.add_response("head_object", {"ArchiveStatus": "ARCHIVE_ACCESS"},
                             {"Bucket": BUCKET, "Key": "brands/b.mp4", "VersionId": "v2"})
        _tags(s3_stub, "brands/c.mp4", "v3")
        s3_stub.add_response("head_object", {},
                             {"Bucket": BUCKET, "Key": "brands/c.mp4", "VersionId": "v3"})
        _sent(gd_stub, "brands/c.mp4", "v3")
        _tags(s3_stub, "brands/d.mp4", "v4")
        s3_stub.add_response("head_object", {
            "StorageClass": "DEEP_ARCHIVE", "Restore": 'ongoing-request="false", '
            'expiry-date="Fri, 11 Dec 2026 00:00:00 GMT"'},
            {"Bucket": BUCKET, "Key": "brands/d.mp4", "VersionId": "v4"})
        _sent(gd_stub, "brands/d.mp4", "v4")
        outcomes = [scan_one(s3, gd, BUCKET, v, dry_run=False)[0] for v in versions]
    assert outcomes == [ARCHIVED, ARCHIVED, SENT, SENT]


def test_a_failed_scan_is_sent_again_only_when_asked_and_a_threat_never():
    # Intelligent-Tiering, as the gated prefixes are from day 0: its HeadObject would be
    # refused by the read deny (a verdict that is not clean), so it is not asked.
    failed = StoredVersion("brands/f.png", "v1", "INTELLIGENT_TIERING")
    infected = StoredVersion("brands/i.png", "v2")
    with stubbed_client("s3") as (s3, s3_stub), stubbed_client("guardduty") as (gd, gd_stub):
        _tags(s3_stub, "brands/f.png", "v1", "FAILED")
        _tags(s3_stub, "brands/f.png", "v1", "FAILED")
        _sent(gd_stub, "brands/f.png", "v1")
        _tags(s3_stub, "brands/i.png", "v2", "THREATS_FOUND")
        assert scan_one(s3, gd, BUCKET, failed, dry_run=False)[0] == ALREADY_NOT_CLEAN
        assert scan_one(s3, gd, BUCKET, failed, dry_run=False, rescan_failed=True)[0] == SENT
        assert scan_one(s3, gd, BUCKET, infected, dry_run=False,
                        rescan_failed=True)[0] == ALREADY_NOT_CLEAN


def test_a_listing_that_stops_prints_the_counts_so_far_and_exits_1(capsys):
    out = io.StringIO()
    with stubbed_client("s3") as (s3, s3_stub), stubbed_client("guardduty") as (gd, gd_stub):
        s3_stub.add_response("head_bucket", {}, {"Bucket": BUCKET})
        s3_stub.add_response("list_object_versions", {
            "IsTruncated": True, "NextKeyMarker": "brands/a.png", "NextVersionIdMarker": "v1",
            "Versions": [{"Key": "brands/a.png", "VersionId": "v1", "IsLatest": True}]},
            {"Bucket": BUCKET, "Prefix": "brands/"})
        _tags(s3_stub, "brands/a.png", "v1")
        _sent(gd_stub, "brands/a.png", "v1")
        s3_stub.add_client_error("list_object_versions", service_error_code="AccessDenied",
                                 service_message="Access Denied", http_status_code=403)
        code = main(["--env", "prod", "--prefix", "brands/", "--workers", "1"], s3=s3,
                    guardduty=gd, stdout=out)
    assert code == 1
    assert out.getvalue().splitlines() == [
        f"s3://{BUCKET} brands/: current versions: 1 so far", "  sent for scanning: 1"]
    err = capsys.readouterr().err
    assert "the listing stopped (AccessDenied: Access Denied)" in err and "Traceback" not in err


def test_the_listing_is_read_only_a_window_ahead_of_the_answers():
    # Executor.map would pull millions of listed versions into memory before the first answer.
    pulled = []

    def listing():
        for i in range(100):
            pulled.append(i)
            yield i

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = _in_order(pool, lambda n: 2 * n, listing(), 4)
        assert next(answers) == 0 and len(pulled) <= 4
        assert list(answers) == [2 * n for n in range(1, 100)]
