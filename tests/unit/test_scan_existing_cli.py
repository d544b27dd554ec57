"""The on-demand scan tool's command line: which bucket and prefixes it works on, and its
refusals. The listing and the sends themselves: tests/integration/test_scan_existing.py."""
from __future__ import annotations

import io

from stubbed_client import stubbed_client

from infra.environments import ENVIRONMENTS
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


def test_workers_out_of_range_is_a_usage_error():
    assert main(["--env", "prod", "--workers", "0"]) == 2
