"""Invalid configuration fails before any construct exists, naming the field."""
from __future__ import annotations

import dataclasses

import pytest
from aws_cdk import App

from infra.app_builder import configs_from_context
from infra.config import (
    CdnConfig,
    ConfigError,
    EnvironmentConfig,
    RenditionsConfig,
    UploadApiConfig,
)
from infra.environments import dev, prod


def _dev(**changes) -> EnvironmentConfig:
    return dataclasses.replace(dev(), **changes)


def test_shipped_environments_are_valid():
    assert dev().name == "dev" and prod().name == "prod"


def test_missing_account_is_rejected_naming_the_field():
    with pytest.raises(ConfigError, match=r"config 'dev': account is missing"):
        _dev(account="")


def test_malformed_account_is_rejected_naming_the_field():
    with pytest.raises(ConfigError, match=r"account '12345' is not a 12-digit"):
        _dev(account="12345")


def test_replica_in_the_primary_region_is_rejected():
    with pytest.raises(ConfigError, match=r"replica_region must differ from primary_region"):
        _dev(replica_region="us-east-1")


@pytest.mark.parametrize("field", [
    "noncurrent_version_expiration_days", "exports_expiration_days",
    "access_log_retention_days", "backups_retention_days", "duplicate_expiration_days",
])
def test_retention_days_below_one_are_rejected(field):
    with pytest.raises(ConfigError, match=rf"{field} must be a whole number of days (>= 1|in 1\.\.)"):
        _dev(**{field: 0})


@pytest.mark.parametrize(("build", "field"), [
    # CloudWatch Logs keeps at most 3653 days: a longer setting was cut to it silently.
    (lambda: _dev(cdk_function_log_retention_days=3654), "cdk_function_log_retention_days"),
    (lambda: UploadApiConfig(log_retention_days=5000), "log_retention_days"),
    (lambda: RenditionsConfig(log_retention_days=5000), "log_retention_days"),
    # Object Lock's default retention is at most 100 years: CDK failed at synth with a trace.
    (lambda: _dev(backups_retention_days=36501), "backups_retention_days"),
])
def test_retentions_beyond_what_aws_keeps_are_rejected(build, field):
    with pytest.raises(ConfigError, match=rf"{field} must be a whole number of days in 1\.\."):
        build()


@pytest.mark.parametrize(("change", "message"), [
    ({"multipart_part_bytes": 1024 * 1024}, r"multipart_part_bytes .* in 5242880\.\.5368709120"),
    ({"multipart_part_bytes": 6 * 1024 ** 3}, r"multipart_part_bytes .* in 5242880\.\.5368709120"),
    ({"url_expiry_seconds": -5}, r"url_expiry_seconds .* in 60\.\.3600"),
    ({"url_expiry_seconds": 604800}, r"url_expiry_seconds .* in 60\.\.3600"),
    ({"multipart_threshold_bytes": 0}, r"multipart_threshold_bytes .* >= 1"),
])
def test_upload_sizes_and_expiry_outside_what_the_handler_and_s3_take_are_rejected(change,
                                                                                    message):
    with pytest.raises(ConfigError, match=rf"upload_api: {message}"):
        dataclasses.replace(UploadApiConfig(), **change)


@pytest.mark.parametrize(("kind_change", "message"), [
    ({"prefix": "nowhere/"}, "prefix 'nowhere/' is not under an asset prefix"),
    ({"max_bytes": 0}, "max_bytes must be a positive integer"),
])
def test_an_upload_kind_the_presign_handler_would_refuse_is_rejected(kind_change, message):
    config = UploadApiConfig()
    name, kind = next(iter(config.kinds.items()))
    with pytest.raises(ConfigError, match=rf"would be refused by the presign handler: .*{message}"):
        dataclasses.replace(config, kinds={**config.kinds,
                                           name: dataclasses.replace(kind, **kind_change)})


def test_glacier_transition_after_expiration_is_rejected():
    with pytest.raises(ConfigError, match="noncurrent_version_expiration_days must be greater"):
        _dev(noncurrent_glacier_ir_after_days=90, noncurrent_version_expiration_days=60)


@pytest.mark.parametrize("org", ["JustKalm", "just_kalm", "-jk", "a" * 40,
                                 # prefixes S3 reserves (general purpose bucket naming rules)
                                 "sthree-shop", "amzn-s3-demo-shop", "xn--shop"])
def test_org_that_makes_an_invalid_bucket_name_is_rejected(org):
    with pytest.raises(ConfigError, match=r"config 'dev': org"):
        _dev(org=org)


def test_unknown_region_name_is_rejected():
    with pytest.raises(ConfigError, match=r"backups_region 'west' is not an AWS region"):
        _dev(backups_region="west")


@pytest.mark.parametrize("region", ["us-gov-west-1", "cn-north-1", "us-isob-east-1"])
def test_a_region_of_another_partition_is_rejected(region):
    with pytest.raises(ConfigError, match=rf"replica_region '{region}' is outside the commercial"):
        _dev(replica_region=region)


def test_bad_alarm_email_is_rejected():
    with pytest.raises(ConfigError, match=r"alarm_email 'ops' is not an email"):
        _dev(alarm_email="ops")


def test_bucket_names_follow_the_seed_layout():
    cfg = prod()
    assert (cfg.assets_bucket_name, cfg.replica_bucket_name, cfg.backups_bucket_name) == (
        "justkalm-assets-prod", "justkalm-assets-prod-replica", "justkalm-backups-prod")


def test_context_account_override_is_validated_before_any_construct_exists():
    app = App(context={"account_dev": "not-an-account"})
    with pytest.raises(ConfigError, match=r"config 'dev': account 'not-an-account'"):
        configs_from_context(app)
    assert app.node.children == []


def test_context_selects_one_environment():
    app = App(context={"env": "prod", "account_prod": "123456789012"})
    [cfg] = configs_from_context(app)
    assert (cfg.name, cfg.account) == ("prod", "123456789012")


def test_unknown_environment_in_context_is_rejected():
    with pytest.raises(ConfigError, match=r"context env='staging' is not one of: dev, prod"):
        configs_from_context(App(context={"env": "staging"}))


def test_cdn_domain_without_a_hosted_zone_is_rejected():
    with pytest.raises(ConfigError, match=r"cdn: hosted_zone_name and hosted_zone_id are required"):
        CdnConfig(domain_name="cdn.justkalm.example")


def test_cdn_domain_outside_its_hosted_zone_is_rejected():
    with pytest.raises(ConfigError, match=r"cdn: domain_name 'cdn.other.example' is not inside"):
        CdnConfig(domain_name="cdn.other.example", hosted_zone_name="justkalm.example",
                  hosted_zone_id="Z123")


def test_waf_rate_limit_outside_wafs_range_is_rejected():
    with pytest.raises(ConfigError, match=r"cdn: waf_rate_limit_per_5min must be"):
        CdnConfig(waf_rate_limit_per_5min=5)


def test_storefront_origin_with_a_path_is_rejected():
    with pytest.raises(ConfigError, match=r"cdn: storefront_origins 'https://shop.example/x'"):
        CdnConfig(storefront_origins=("https://shop.example/x",))



@pytest.mark.parametrize("key", ["acount_dev", "account_devv", "account_staging", "Account_prod"])
def test_an_account_key_for_no_environment_is_rejected_naming_it(key):
    with pytest.raises(ConfigError, match=rf"context {key} is not an environment's account"):
        configs_from_context(App(context={key: "123456789012"}))


def test_cdks_own_context_keys_are_not_taken_for_misspelt_accounts():
    import json
    from pathlib import Path

    cdk_json = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())
    context = {**cdk_json["context"], "aws:cdk:enable-path-metadata": True,
               "availability-zones:account=123456789012:region=us-east-1": ["us-east-1a"],
               "acknowledged-issue-numbers": [32775], "validate-templates": "true",
               "account_dev": "123456789012"}
    assert [cfg.name for cfg in configs_from_context(App(context=context))] == ["dev", "prod"]


@pytest.mark.parametrize("env", [["dev"], {"name": "dev"}, 1])
def test_an_environment_that_is_not_a_string_is_rejected_naming_it(env):
    with pytest.raises(ConfigError, match=r"context env=.* must be one of: dev, prod"):
        configs_from_context(App(context={"env": env}))


def test_an_org_and_name_too_long_for_a_derived_role_name_are_a_config_error():
    # CDK would refuse the 65+ character role name at synth, with a traceback.
    with pytest.raises(ConfigError, match=r"org .* makes the role name .* 66 characters long"):
        dataclasses.replace(dev(), org="o" * 22, name="abcdefghij")


def test_a_new_role_name_property_is_length_checked_without_being_listed():
    # Every `*_role_name` property is checked, found by name: one added later cannot be missed.
    @dataclasses.dataclass(frozen=True)
    class WithAuditRole(EnvironmentConfig):
        @property
        def audit_role_name(self) -> str:
            return f"{self.org}-{self.name}-" + "audit" * 13

    with pytest.raises(ConfigError, match=r"role name \(audit_role_name\) .* characters long"):
        WithAuditRole(**{f.name: getattr(dev(), f.name) for f in dataclasses.fields(dev())})


def test_a_release_rule_is_named_only_for_a_consumer_the_length_check_knows():
    gate = dev().upload_gate_names
    assert [gate.release_rule(c) for c in gate.RELEASE_CONSUMERS] == [
        f"{gate.prefix}-release-hasher", f"{gate.prefix}-release-renditions"]
    with pytest.raises(ValueError, match="'Thumbnails' is not one of the gate's release"):
        gate.release_rule("Thumbnails")


def test_more_upload_kinds_than_one_alarm_can_watch_are_a_config_error():
    kinds = dict(UploadApiConfig().kinds)
    template = next(iter(kinds.values()))
    many = {**kinds, **{f"extra-{i}": template for i in range(11 - len(kinds))}}
    with pytest.raises(ConfigError, match="has 11 kinds; at most 10"):
        UploadApiConfig(kinds=many)
    ten = dict(list(many.items())[:10])
    assert len(UploadApiConfig(kinds=ten).kinds) == 10  # the limit itself is allowed


def test_an_alarm_never_sums_more_metrics_than_cloudwatch_reads():
    from aws_cdk import Duration
    from aws_cdk import aws_cloudwatch as cw

    from infra.constructs.monitoring import summed
    metrics = [cw.Metric(namespace="N", metric_name=f"m{i}") for i in range(11)]
    with pytest.raises(ValueError, match="11 metrics, a CloudWatch alarm reads at most 10"):
        summed(metrics, label="too many", period=Duration.minutes(5))
    assert summed(metrics[:10], label="ten", period=Duration.minutes(5)) is not None
