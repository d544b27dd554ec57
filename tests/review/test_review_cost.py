"""The review's cost section: a lifecycle day, RTC and a new KMS key each move the prod estimate
by the amount computed by hand from the price table and the prod usage model."""
from __future__ import annotations

import copy
import re

import pytest
from review_helpers import run_cli, section, write_assembly

from tools.review.__main__ import main

COST = "### 💰 Cost"
RETAINED = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
KEY = {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True}, **RETAINED}


def _assets(glacier_ir_after: int = 30, rtc: bool = True) -> dict:
    """The prod assets bucket, reduced to what these tests move. Current versions go to Deep
    Archive on day 0 so that the only Standard bytes are noncurrent versions (450 GB, well
    inside the first price tier)."""
    destination = {"Bucket": "arn:aws:s3:::justkalm-assets-prod-replica",
                   "StorageClass": "STANDARD_IA"}
    if rtc:
        destination["ReplicationTime"] = {"Status": "Enabled", "Time": {"Minutes": 15}}
    return {"Type": "AWS::S3::Bucket", **RETAINED, "Properties": {
        "BucketName": "justkalm-assets-prod",
        "LifecycleConfiguration": {"Rules": [
            {"Id": "all-deep", "Status": "Enabled",
             "Transitions": [{"StorageClass": "DEEP_ARCHIVE", "TransitionInDays": 0}]},
            {"Id": "expire-exports", "Status": "Enabled", "Prefix": "user-content/exports/",
             "ExpirationInDays": 7},
            {"Id": "noncurrent-versions", "Status": "Enabled",
             "NoncurrentVersionExpiration": {"NoncurrentDays": 365},
             "NoncurrentVersionTransitions": [{"StorageClass": "GLACIER_IR",
                                               "TransitionInDays": glacier_ir_after}]}]},
        "ReplicationConfiguration": {"Role": "arn:aws:iam::222222222222:role/r", "Rules": [
            {"Status": "Enabled", "Priority": 1, "Filter": {"Prefix": ""},
             "Destination": destination}]}}}


BASE = {"Bucket": _assets(), "Key": KEY}


def _change(tmp_path, head: dict, *extra: str) -> tuple[int, float, str]:
    base_dir = write_assembly(tmp_path / "base", {"prod/Assets": {"Resources": BASE}})
    head_dir = write_assembly(tmp_path / "head", {"prod/Assets": {"Resources": head}})
    out = tmp_path / "review.md"
    if extra:
        code = main(["--base-dir", str(base_dir), "--head-dir", str(head_dir),
                     "--output", str(out), *extra])
        report = out.read_text(encoding="utf-8")
    else:
        code, report = run_cli(base_dir, head_dir, out)
    cost = section(report, COST)
    row = next(line for line in cost.splitlines() if line.startswith("| `prod` |"))
    sign, amount = re.search(r"([+−])\$([\d,.]+)", row).groups()
    return code, float(amount.replace(",", "")) * (-1 if sign == "−" else 1), cost


def test_later_glacier_ir_transition_adds_the_standard_minus_glacier_ir_price(tmp_path):
    head = {**BASE, "Bucket": _assets(glacier_ir_after=60)}
    # 15 GB/day of noncurrent versions stay 30 days longer in Standard:
    # 450 GB x ($0.023 - $0.004) = $8.55
    code, change, _ = _change(tmp_path, head)
    assert (code, change) == (0, pytest.approx(8.55))


def test_turning_rtc_off_saves_its_per_gb_price_on_every_replicated_gb(tmp_path):
    head = {**BASE, "Bucket": _assets(rtc=False)}
    # Replicated per month: uploads 1.2 M/day x 30 x 0.39025 MB (the upload mix) / 1024
    # = 13,719.73 GB, plus renditions 36 M x 0.5 images x 4 x 0.08 MB / 1024 = 5,625 GB;
    # 19,344.73 GB x $0.015 = $290.17
    code, change, cost = _change(tmp_path, head)
    assert (code, change) == (0, pytest.approx(-290.17))
    assert "S3 Replication Time Control" in cost


def test_a_new_kms_key_adds_a_key_month_and_its_first_rotation(tmp_path):
    head = {**BASE, "Key2": copy.deepcopy(KEY)}
    # $1 for the key + $1 for the version rotated after one year (prod keys are a year old)
    code, change, cost = _change(tmp_path, head)
    assert (code, change) == (0, pytest.approx(2.00))
    assert "KMS rotated key versions" in cost


def test_a_cost_rise_above_the_threshold_exits_2(tmp_path):
    code, _, cost = _change(tmp_path, {**BASE, "Key2": copy.deepcopy(KEY)},
                            "--cost-threshold", "1.50")
    assert code == 2 and "over the $1.50 threshold" in cost


def test_an_unpriced_type_is_shown_in_the_cost_section_without_changing_the_exit_code(tmp_path):
    code, report = run_cli(
        write_assembly(tmp_path / "b", {"prod/Assets": {"Resources": BASE}}),
        write_assembly(tmp_path / "h", {"prod/Assets": {"Resources": {
            **BASE, "X": {"Type": "AWS::Foo::Bar"}}}}), tmp_path / "r.md")
    assert code == 0 and "not estimated" in section(report, COST) \
        and "AWS::Foo::Bar" in section(report, COST)


SECOND_WRITE_PATH = {
    "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "HTTP"}},
    "Endpoint": {"Type": "AWS::Route53::HealthCheck", "Properties": {"HealthCheckConfig": {
        "Type": "HTTPS", "ResourcePath": "/health", "RequestInterval": 10}}},
    "Writes": {"Type": "AWS::Route53::HealthCheck", "Properties": {"HealthCheckConfig": {
        "Type": "CALCULATED", "HealthThreshold": 1}}},
    "DedupReplica": {"Type": "Custom::AWS", "Properties": {"Create": {"Fn::Join": ["", [
        '{"action":"updateTable","parameters":{"ReplicaUpdates":[{"Create":{"RegionName":'
        '"us-west-2"}}]}}']]}}},
}


def test_the_second_write_path_shows_its_monthly_cost_in_the_review(tmp_path):
    base_dir = write_assembly(tmp_path / "base", {"prod/Assets": {"Resources": BASE}})
    head_dir = write_assembly(tmp_path / "head", {
        "prod/Assets": {"Resources": BASE},
        "prod/UploadApi-us-west-2": {"Resources": SECOND_WRITE_PATH}})
    code, report = run_cli(base_dir, head_dir, tmp_path / "review.md")
    cost = section(report, COST)
    row = next(line for line in cost.splitlines() if line.startswith("| `prod` |"))
    # prod: 1.2 M uploads/day x 30 = 36 M a month.
    # API in the replica region, only while it serves writes (0.1 % of the month):
    #   36 M x 1.5 calls x 0.001 = 54,000 requests x $1/M = $0.054
    # dedup index replica: 36 M replicated writes x $0.625/M = $22.50; 60 GB x $0.25 = $15.00
    # health checks: HTTPS + fast interval $0.50 + $1 + $1; calculated $0.50 = $3.00
    # Route 53's probes of GET /health: 90 a minute x 43,200 minutes = 3,888,000, each an API
    # request ($3.888), a Lambda request ($0.7776) and an S3 PUT ($19.44) of an object of its
    # own, which replicates into Standard-IA: 3,888,000 PUTs ($38.88), each billed 128 KB for
    # 30 days (474.6 GB-month x $0.0125 = $5.93)
    sign, amount = re.search(r"([+−])\$([\d,.]+)", row).groups()
    probes = 90 * 60 * 24 * 30
    assert (code, sign, float(amount)) == (0, "+", pytest.approx(
        0.054 + 22.50 + 15.00 + 3.00 + 3.888 + 0.7776 + 19.44 + probes / 1000 * 0.01
        + probes * 128 / 1024 / 1024 * 0.0125, abs=0.01))
    for item in ("DynamoDB global tables replicated write request units",
                 "Route 53 health checks (AWS endpoints; calculated)",
                 "Route 53 health check optional features"):
        assert item in cost, item
