"""The cost estimator's pricing rules on hand-checked examples, the usage model's validation,
and the loud failure on a resource type it cannot price."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from infra.config import ORIGINALS, RENDITION_BATCH_SIZE, ConfigError, StoredGroup, UsageConfig
from infra.environments import dev, prod
from tools.cost.__main__ import main
from tools.cost.estimate import UnpricedTypes, estimate, storage_mix
from tools.cost.prices import CostError, default_table
from tools.review.assembly import StackTemplate, load_assembly

TABLE = default_table()
QUIET = UsageConfig(alarm_notifications_per_month=0)  # nothing but what a test adds


def _stack(resources: dict, name: str = "prod/Main") -> list[StackTemplate]:
    return [StackTemplate(name, name.replace("/", ""), {"Resources": resources}, "us-east-1")]


def _usd(cfg, resources, usage=QUIET) -> dict[str, float]:
    return {line.dimension: line.usd for line in estimate(cfg, _stack(resources), usage).lines}


def test_one_tb_in_standard_for_a_month_in_us_east_1_is_the_table_price_times_1024():
    price = TABLE.get("us-east-1", "s3.storage.standard")
    assert price.tiers[0][0] == 0.023  # the figure on the S3 pricing page, first 50 TB
    assert price.cost(1024) == pytest.approx(0.023 * 1024)  # $23.552


def test_standard_storage_beyond_50_tb_is_priced_at_the_next_tier():
    price = TABLE.get("us-east-1", "s3.storage.standard")
    assert price.cost(60 * 1024) == pytest.approx(51200 * 0.023 + 10240 * 0.022)


def test_cloudfront_egress_tiers_follow_the_pricing_page():
    price = TABLE.get("global", "cloudfront.egress.na")
    assert price.cost(20 * 1024) == pytest.approx(10240 * 0.085 + 10240 * 0.080)


def test_a_lifecycle_transition_day_splits_evenly_aged_bytes():
    props = {"LifecycleConfiguration": {"Rules": [{"Status": "Enabled", "Transitions": [
        {"StorageClass": "GLACIER_IR", "TransitionInDays": 30}]}]}}
    assert storage_mix(props, ORIGINALS, 120, 120) == pytest.approx(
        {"s3.storage.standard": 30, "s3.storage.glacier_ir": 90})


def test_intelligent_tiering_tiers_follow_the_archive_days_of_the_template():
    props = {"LifecycleConfiguration": {"Rules": [{"Status": "Enabled", "Prefix": ORIGINALS,
                                                   "Transitions": [{"StorageClass":
                                                                    "INTELLIGENT_TIERING",
                                                                    "TransitionInDays": 0}]}]},
             "IntelligentTieringConfigurations": [{"Status": "Enabled", "Prefix": ORIGINALS,
                                                   "Tierings": [
                                                       {"AccessTier": "ARCHIVE_ACCESS", "Days": 90},
                                                       {"AccessTier": "DEEP_ARCHIVE_ACCESS",
                                                        "Days": 180}]}]}
    assert storage_mix(props, ORIGINALS, 360, 360, hot_share=0.5) == pytest.approx({
        "s3.storage.it_frequent": 180 + 15, "s3.storage.it_infrequent": 30,
        "s3.storage.it_archive": 45, "s3.storage.it_deep_archive": 90})


def test_a_kms_key_costs_a_month_plus_its_billed_rotations():
    key = {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True}}
    usage = dataclasses.replace(QUIET, kms_key_age_days=3 * 365)  # only two rotations billed
    assert _usd(prod(), {"K": key}, usage) == {"kms.key": 1.0, "kms.rotation": 2.0}


def test_an_alarm_on_two_metrics_bills_two_alarm_metrics():
    stat = {"MetricStat": {"Period": 300}}
    alarm = {"Type": "AWS::CloudWatch::Alarm",
             "Properties": {"Metrics": [{"Id": "a", **stat}, {"Id": "b", **stat},
                                        {"Id": "e", "Expression": "a/b"}]}}
    assert _usd(prod(), {"A": alarm}) == {"cw.alarm.standard": pytest.approx(0.20)}


def test_a_function_is_priced_by_its_memory_and_architecture_from_the_template():
    fn = {"Type": "AWS::Lambda::Function",
          "Properties": {"MemorySize": 2048, "Architectures": ["arm64"]}}
    usage = prod().usage  # Hasher: 0.25 invocations per upload, 0.3 s each
    invocations = 1.2e6 * 30 * 0.25
    assert _usd(prod(), {"HasherFunction": fn}, usage) == pytest.approx({
        "lambda.requests": invocations / 1e6 * 0.20,
        "lambda.compute.arm64": invocations * 0.3 * 2 * 0.0000133334})


def test_waf_bills_the_acl_each_rule_and_every_cdn_request():
    acl = {"Type": "AWS::WAFv2::WebACL", "Properties": {"Scope": "CLOUDFRONT",
                                                        "Rules": [{}, {}, {}]}}
    usage = dataclasses.replace(QUIET, cdn_requests_per_month={"na": 2e6})
    assert _usd(prod(), {"W": acl}, usage) == pytest.approx(
        {"waf.web_acl": 5.0, "waf.rule": 3.0, "waf.requests": 1.2})


def test_each_function_association_is_billed_for_the_requests_of_its_behaviour():
    # The image URLs' viewer-request function runs on every product-rendition request; the
    # default behaviour's only on what reaches it.
    association = [{"EventType": "viewer-request", "FunctionARN": "arn"}]
    distribution = {"Type": "AWS::CloudFront::Distribution", "Properties": {
        "DistributionConfig": {"DefaultCacheBehavior": {"FunctionAssociations": association},
                               "CacheBehaviors": [
                                   {"PathPattern": "i/*", "FunctionAssociations": [
                                       *association, {"EventType": "viewer-response",
                                                      "FunctionARN": "arn"}]},
                                   {"PathPattern": "brands/media/*"}]}}}
    usage = dataclasses.replace(QUIET, cdn_requests_per_month={"na": 10e6},
                                cdn_image_request_share=0.9, cdn_function_share=0.02)
    billed = _usd(prod(), {"D": distribution}, usage)
    # (2 x 0.9 + 0.02) x 10 M invocations at $0.10 per million: each association runs
    assert billed["cloudfront.function"] == pytest.approx(1.82)


def test_free_types_cost_nothing_and_are_not_errors():
    free = {"R": {"Type": "AWS::IAM::Role"}, "C": {"Type": "Custom::Thing"},
            "P": {"Type": "AWS::SSM::Parameter", "Properties": {"Tier": "Standard"}}}
    assert estimate(prod(), _stack(free), QUIET).total == 0


def test_an_unknown_resource_type_fails_naming_the_type():
    with pytest.raises(UnpricedTypes, match=r"AWS::Foo::Bar, AWS::Zed::Thing"):
        estimate(prod(), _stack({"X": {"Type": "AWS::Zed::Thing"},
                                 "Y": {"Type": "AWS::Foo::Bar"}}))


def _assembly(root: Path, resources: dict) -> Path:
    root.mkdir()
    (root / "main.template.json").write_text(json.dumps({"Resources": resources}))
    (root / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": {
        "Main": {"type": "aws:cloudformation:stack", "displayName": "prod/Main",
                 "environment": "aws://222222222222/us-east-1",
                 "properties": {"templateFile": "main.template.json"}}}}))
    return root


def test_cli_exits_1_and_lists_the_unpriced_types(tmp_path, capsys):
    root = _assembly(tmp_path / "a", {"X": {"Type": "AWS::Foo::Bar"}})
    assert main(["--assembly", str(root)]) == 1
    assert "AWS::Foo::Bar" in capsys.readouterr().err


def test_cli_what_if_prints_the_delta_of_doubling_uploads(tmp_path, capsys):
    api = {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "HTTP"}}
    root = _assembly(tmp_path / "a", {"Api": api})
    assert main(["--assembly", str(root), "--what-if", "uploads_per_day=2.4e6"]) == 0
    # 1.2 M more uploads a day x 30 days x 1.5 API calls each at $1.00 per million
    assert "+$54.00 / month" in capsys.readouterr().out


def test_cli_what_if_delta_is_in_the_markdown_file_too(tmp_path, capsys):
    api = {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "HTTP"}}
    root = _assembly(tmp_path / "a", {"Api": api})
    out = tmp_path / "cost.md"
    assert main(["--assembly", str(root), "--what-if", "uploads_per_day=2.4e6",
                 "--markdown", str(out)]) == 0
    text = out.read_text()
    assert "#### `prod` with `uploads_per_day=2.4e6`:" in text and "(+$54.00 / month)" in text
    assert "| API Gateway | " in text and "| +$54.00 |" in text


def test_cli_what_if_delta_in_the_terminal_is_text_not_markdown(tmp_path, capsys):
    api = {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "HTTP"}}
    root = _assembly(tmp_path / "a", {"Api": api})
    assert main(["--assembly", str(root), "--what-if", "uploads_per_day=2.4e6"]) == 0
    out = capsys.readouterr().out
    assert "== prod with uploads_per_day=2.4e6:" in out
    assert "#### `prod` with" not in out and "| Change / month |" not in out


def test_cli_what_if_on_an_unknown_field_exits_1(tmp_path, capsys):
    root = _assembly(tmp_path / "a", {})
    assert main(["--assembly", str(root), "--what-if", "rocket_launches=3"]) == 1
    assert "not a number of the usage model" in capsys.readouterr().err


@pytest.mark.parametrize(("change", "field"), [
    ({"uploads_per_day": -1}, "uploads_per_day"),
    ({"duplicate_share": 1.5}, "duplicate_share"),
    ({"kms_key_age_days": 0}, "kms_key_age_days"),
    ({"upload_mix": {"product-image": (0.5, 1.0)}}, "upload_mix"),
    ({"stored": {"nowhere/": StoredGroup(1)}}, "stored"),
    ({"stored": {ORIGINALS: StoredGroup(1, hot_share=2)}}, "hot_share"),
    ({"cdn_gb_per_month": {"na": -5}}, "cdn_gb_per_month"),
])
def test_usage_model_rejects_bad_values_naming_the_field(change, field):
    with pytest.raises(ConfigError, match=field):
        UsageConfig(**change)


def test_shipped_usage_models_are_valid_and_prod_stores_about_52_tb():
    stored = prod().usage.stored
    assert 51_000 < sum(g.gb + g.gb_per_day * 7 for g in stored.values()) < 53_000
    assert dev().usage.uploads_per_day < prod().usage.uploads_per_day


@pytest.mark.parametrize("environment", [dev, prod])
def test_the_renditions_function_is_priced_for_the_originals_the_compute_figure_renders(
        environment):
    usage = environment().usage
    work = usage.functions["Rendition"]
    product_share = usage.upload_mix["product-image"][0]
    # One invocation per batch of originals; only product originals reach the function.
    assert work.invocations_per_upload * RENDITION_BATCH_SIZE == pytest.approx(product_share)
    assert usage.queue_messages_per_upload["Rendition"] == pytest.approx(product_share)
    # Per original: the prepared-once render for those that are not duplicates, at least.
    per_original = work.seconds_per_invocation / RENDITION_BATCH_SIZE
    assert per_original >= (1 - usage.duplicate_share) * usage.rendition_cpu_seconds_per_original


def test_a_stack_is_priced_in_the_region_its_manifest_names(tmp_path):
    key = {"Type": "AWS::KMS::Key", "Properties": {}}
    root = _assembly(tmp_path / "a", {"K": key})
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["artifacts"]["Main"]["environment"] = "aws://222222222222/us-west-2"
    (root / "manifest.json").write_text(json.dumps(manifest))
    (stack,) = load_assembly(root).values()
    assert stack.region == "us-west-2"
    assert {line.region for line in estimate(prod(), [stack], QUIET).lines} == {"us-west-2"}


def test_usage_model_naming_an_upload_kind_the_api_does_not_have_is_rejected():
    usage = UsageConfig(upload_mix={"hologram": (1.0, 1.0)})
    with pytest.raises(ConfigError, match="usage.upload_mix .*hologram"):
        dataclasses.replace(prod(), usage=usage)


def test_cli_prices_an_assembly_with_the_delivery_stage_beside_the_environments(tmp_path, capsys):
    root = _assembly(tmp_path / "a", {"Api": {"Type": "AWS::ApiGatewayV2::Api",
                                              "Properties": {"ProtocolType": "HTTP"}}})
    manifest = json.loads((root / "manifest.json").read_text())
    (root / "roles.template.json").write_text(json.dumps({"Resources": {
        "Provider": {"Type": "AWS::IAM::OIDCProvider"}, "Role": {"Type": "AWS::IAM::Role"}}}))
    manifest["artifacts"]["Roles"] = {
        "type": "aws:cloudformation:stack", "displayName": "delivery/prod",
        "environment": "aws://222222222222/us-east-1",
        "properties": {"templateFile": "roles.template.json"}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    assert main(["--assembly", str(root), "--what-if", "uploads_per_day=2.4e6"]) == 0
    out = capsys.readouterr().out
    assert "== delivery: $0.00 / month" in out and "== prod:" in out


@pytest.mark.parametrize(("change", "field"), [
    ({"cdn_cache_hit_ratio": float("nan")}, "cdn_cache_hit_ratio"),
    ({"uploads_per_day": float("nan")}, "uploads_per_day"),
    ({"uploads_per_day": float("inf")}, "uploads_per_day"),
    ({"cdn_gb_per_month": {"na": float("inf")}}, r"cdn_gb_per_month\['na'\]"),
    ({"stored": {ORIGINALS: StoredGroup(float("nan"))}}, r"stored\[.*\]\.gb"),
])
def test_usage_model_refuses_nan_and_infinity_naming_the_field(change, field):
    with pytest.raises(ConfigError, match=f"{field} must be a finite number"):
        UsageConfig(**change)


def test_what_if_keeps_a_fraction_for_a_float_field_even_when_the_current_value_is_whole():
    from tools.cost.__main__ import what_if

    assert isinstance(dev().usage.uploads_per_day, int)  # dev writes 2_000
    changed = what_if(dev().usage, ["uploads_per_day=0.4", "avg_object_mb=3"])
    assert changed.uploads_per_day == 0.4
    assert changed.avg_object_mb == 3.0


def test_what_if_on_a_whole_number_field_takes_whole_numbers_and_refuses_fractions():
    from tools.cost.__main__ import what_if

    changed = what_if(dev().usage, ["kms_key_age_days=4e2"])
    assert changed.kms_key_age_days == 400 and isinstance(changed.kms_key_age_days, int)
    with pytest.raises(CostError, match=r"kms_key_age_days must be a whole number .*400\.5"):
        what_if(dev().usage, ["kms_key_age_days=400.5"])


@pytest.mark.parametrize("change", [
    "kms_key_age_days=inf", "kms_key_age_days=nan", "uploads_per_day=nan",
    "uploads_per_day=-inf", "cdn_cache_hit_ratio=nan", "cdn_gb_per_month.eu=inf",
])
def test_cli_what_if_with_nan_or_infinity_is_one_line_and_exit_1(change, tmp_path, capsys):
    root = _assembly(tmp_path / "a", {})
    assert main(["--assembly", str(root), "--what-if", change]) == 1
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert f"{change.partition('=')[0]} must be a finite number" in lines[0]


@pytest.mark.parametrize("target", ["missing-folder/cost.txt", "."])
def test_cli_output_that_cannot_be_written_is_a_usage_error_before_any_work(
        target, tmp_path, monkeypatch, capsys):
    root = _assembly(tmp_path / "a", {})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["--assembly", str(root), "--output", target])
    err = capsys.readouterr().err
    assert exited.value.code == 1 and "Traceback" not in err
    assert f"argument --output: {target!r}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_cli_a_manifest_that_is_not_json_is_one_line_and_exit_1(tmp_path, capsys):
    root = _assembly(tmp_path / "a", {})
    (root / "manifest.json").write_text("{not json")
    assert main(["--assembly", str(root)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "manifest.json is not valid JSON" in err


def test_guardduty_tagging_each_scanned_object_is_a_put_request():
    def plan(tagging: str) -> dict:
        return {"P": {"Type": "AWS::GuardDuty::MalwareProtectionPlan", "Properties": {
            "ProtectedResource": {"S3Bucket": {"BucketName": "b",
                                               "ObjectPrefixes": ["user-content/uploads/"]}},
            "Actions": {"Tagging": {"Status": tagging}}}}}
    usage = dataclasses.replace(QUIET, upload_mix={"user-upload": (1.0, 0.25)})
    tagged, untagged = (estimate(prod(), _stack(plan(status)), usage).lines
                        for status in ("ENABLED", "DISABLED"))
    assert "s3.requests.put" not in {line.dimension for line in untagged}
    quantity = {line.dimension: line.quantity for line in tagged}
    # one PutObjectTagging (priced per 1,000) per scanned object (priced per 1,000 objects)
    assert quantity["guardduty.malware_s3.objects"] > 0
    assert quantity["s3.requests.put"] == pytest.approx(quantity["guardduty.malware_s3.objects"])
