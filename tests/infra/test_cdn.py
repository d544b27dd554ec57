"""The assets CDN: one CloudFront distribution per environment (us-east-1) that serves the
public prefixes only, through OAC, failing over to the replica, behind WAF and security
headers, logged, and — where a domain is configured — on its own certificate."""
from __future__ import annotations

import json
import re
import subprocess

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template
from helpers import as_list, bucket_named, only, policy_of_bucket, resources

from infra.config import (
    BRAND_LOGOS,
    BRAND_MEDIA,
    CERTIFICATES,
    DOCUMENTS,
    ORIGINALS,
    PROCESSED,
    REPORTS,
    THUMBNAILS,
    USER_EXPORTS,
    USER_UPLOADS,
    CdnConfig,
)
from infra.constructs.cdn import DENY_FUNCTION_SOURCE, grant_distribution_read
from infra.constructs.image_urls import IMAGE_URL_PATH_PATTERN
from infra.environments import dev
from infra.stacks.cdn_stack import CdnStack

ENVS = ("dev", "prod")
PUBLIC = (PROCESSED, THUMBNAILS, BRAND_LOGOS, BRAND_MEDIA)
NOT_PUBLIC = (ORIGINALS, DOCUMENTS, CERTIFICATES, REPORTS, USER_UPLOADS, USER_EXPORTS)
YEAR, DAY = 365 * 86400, 86400


@pytest.fixture(params=ENVS)
def env(request):
    return request.param


def _cdn(estate, env) -> dict:
    return estate.template_json(env, "Cdn")


def _distribution(estate, env) -> tuple[str, dict]:
    return _distribution_of(_cdn(estate, env))


def _behaviours(config: dict) -> list[dict]:
    return [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]


def _by_ref(template: dict, ref: dict) -> dict:
    return template["Resources"][ref["Ref"] if "Ref" in ref else ref["Fn::GetAtt"][0]]


def _cloudfront_statements(statements: list[dict]) -> list[dict]:
    return [s for s in statements if s.get("Principal") == {"Service": "cloudfront.amazonaws.com"}]


def _grant_condition(cfg) -> dict:
    # The source ARN alone, as AWS's OAC policies have it: it names the account.
    return {"ArnLike": {"AWS:SourceArn": f"arn:aws:cloudfront::{cfg.account}:distribution/*"}}


def _data_bucket(estate, env, stack_id) -> tuple[dict, str, dict]:
    cfg = estate.stages[env].cfg
    name = cfg.assets_bucket_name if stack_id == "Assets" else cfg.replica_bucket_name
    template = estate.template_json(env, stack_id)
    logical_id, bucket = bucket_named(template, name)
    return template, logical_id, bucket


# --- placement and the dependency cycle -------------------------------------------------


def test_each_environment_has_one_distribution_in_the_us_east_1_cdn_stack(estate, env):
    stack = estate.stack(env, "Cdn")
    assert stack.region == "us-east-1"
    only(_cdn(estate, env), "AWS::CloudFront::Distribution")


def test_every_origin_names_a_bucket_created_by_a_stack_that_deploys_before_cdn(estate, env):
    _, config = _distribution(estate, env)
    created = {}  # regional domain name -> the stack that creates that bucket
    for stack_id in estate.stack_ids(env):
        region = estate.stack(env, stack_id).region
        for bucket in resources(estate.template_json(env, stack_id), "AWS::S3::Bucket").values():
            name = bucket["Properties"].get("BucketName")
            if isinstance(name, str):
                created[f"{name}.s3.{region}.amazonaws.com"] = stack_id
    before_cdn = set(estate.dependencies(env, "Cdn"))
    for origin in config["Origins"]:
        assert origin["DomainName"] in created, origin["DomainName"]
        assert created[origin["DomainName"]] in before_cdn, origin["DomainName"]


def test_deploy_order_is_access_logs_then_replica_then_assets_then_cdn(estate, env):
    # Bucket logging names its log bucket as a string: CDK would add none of these itself.
    assert "AccessLogs-us-west-2" in estate.dependencies(env, "Replica")
    assert {"AccessLogs-us-east-1", "Replica"} <= set(estate.dependencies(env, "Assets"))
    assert {"AccessLogs-us-east-1", "Assets"} <= set(estate.dependencies(env, "Cdn"))
    assert "AccessLogs-us-west-2" in estate.dependencies(env, "Backups")


def test_no_bucket_stack_refers_to_the_distribution(estate, env):
    # Grants name this account's distributions, not this one: nothing flows back from Cdn,
    # so there is no cycle and no cross-region reference (no SSM export reader/writer).
    for stack_id in ("Assets", "Replica"):
        assert "Cdn" not in estate.dependencies(env, stack_id)
        text = json.dumps(estate.template_json(env, stack_id))
        assert "CrossRegionExport" not in text and "Fn::ImportValue" not in text


def test_stack_outputs_the_distribution_domain_name_and_id(estate, env):
    dist_id, _ = _distribution(estate, env)
    outputs = _cdn(estate, env)["Outputs"]
    assert outputs["DistributionDomainName"]["Value"] == {"Fn::GetAtt": [dist_id, "DomainName"]}
    assert outputs["DistributionId"]["Value"] == {"Ref": dist_id}


def test_no_stack_carries_a_cdk_warning(estate):
    for env in ENVS:
        for stack_id in estate.stack_ids(env):
            warnings = [(path, entry["data"])
                        for path, entries in estate.metadata(env, stack_id).items()
                        for entry in entries if entry["type"] == "aws:cdk:warning"]
            assert not warnings, warnings


# --- origins: OAC, failover, Origin Shield -----------------------------------------------


def test_origins_are_the_assets_and_replica_buckets_by_literal_regional_domain_name(estate, env):
    cfg = estate.stages[env].cfg
    _, config = _distribution(estate, env)
    assert [o["DomainName"] for o in config["Origins"]] == [
        f"{cfg.assets_bucket_name}.s3.{cfg.primary_region}.amazonaws.com",
        f"{cfg.replica_bucket_name}.s3.{cfg.replica_region}.amazonaws.com",
    ]


def test_both_origins_use_one_origin_access_control_that_always_signs_with_sigv4(estate, env):
    template = _cdn(estate, env)
    oac_id, oac = only(template, "AWS::CloudFront::OriginAccessControl")
    assert oac["Properties"]["OriginAccessControlConfig"] | {"Description": None, "Name": None} == {
        "Description": None, "Name": None, "OriginAccessControlOriginType": "s3",
        "SigningBehavior": "always", "SigningProtocol": "sigv4"}
    _, config = _distribution(estate, env)
    for origin in config["Origins"]:
        assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
        assert origin["S3OriginConfig"]["OriginAccessIdentity"] == ""


def test_no_origin_access_identity_exists_in_any_stack(estate):
    for env in ENVS:
        for stack_id in estate.stack_ids(env):
            assert not resources(estate.template_json(env, stack_id),
                                 "AWS::CloudFront::CloudFrontOriginAccessIdentity")


def test_origin_group_fails_over_from_assets_to_replica_on_5xx_only(estate, env):
    _, config = _distribution(estate, env)
    [group] = config["OriginGroups"]["Items"]
    members = [m["OriginId"] for m in group["Members"]["Items"]]
    assert members == [o["Id"] for o in config["Origins"]]  # primary first, replica second
    codes = group["FailoverCriteria"]["StatusCodes"]["Items"]
    assert sorted(codes) == [500, 502, 503, 504]  # no 403/404: deleted objects stay deleted


def test_every_behaviour_targets_the_origin_group(estate, env):
    _, config = _distribution(estate, env)
    [group] = config["OriginGroups"]["Items"]
    assert {b["TargetOriginId"] for b in _behaviours(config)} == {group["Id"]}


def test_primary_origin_gives_up_fast_so_failover_starts_within_seconds(estate, env):
    _, config = _distribution(estate, env)
    primary = config["Origins"][0]
    assert primary["ConnectionAttempts"] * primary["ConnectionTimeout"] <= 6


def test_a_primary_that_connects_but_stalls_fails_over_within_seconds_too(estate, env):
    """Without OriginReadTimeout an S3 origin waits CloudFront's default 30 s per attempt for
    the first byte: a slow primary would hold every miss for up to a minute before the replica
    is asked. The fallback keeps the default: there is nothing left to fail over to."""
    cfg = estate.stages[env].cfg
    _, config = _distribution(estate, env)
    primary, replica = config["Origins"]
    assert primary["DomainName"].startswith(cfg.assets_bucket_name + ".")
    read_timeout = primary["S3OriginConfig"]["OriginReadTimeout"]
    assert 2 <= read_timeout <= 5  # above S3's 2 s retry point for a small GET, far below 30
    assert primary["ConnectionAttempts"] * read_timeout <= 10
    assert "OriginReadTimeout" not in replica["S3OriginConfig"]
    assert "ResponseCompletionTimeout" not in primary  # a long video may take minutes in total


def test_each_origin_has_origin_shield_in_its_own_region(estate, env):
    cfg = estate.stages[env].cfg
    _, config = _distribution(estate, env)
    assert [o["OriginShield"] for o in config["Origins"]] == [
        {"Enabled": True, "OriginShieldRegion": cfg.primary_region},
        {"Enabled": True, "OriginShieldRegion": cfg.replica_region},
    ]


# --- what is served -----------------------------------------------------------------------


def test_there_is_one_cache_behaviour_per_public_prefix_and_no_other(estate, env):
    """Plus the negotiated image URLs, which only ever reach the same two rendition prefixes
    (tests/infra/test_image_urls.py)."""
    _, config = _distribution(estate, env)
    assert sorted(b["PathPattern"] for b in config["CacheBehaviors"]) == sorted(
        [*(f"{p}*" for p in PUBLIC), IMAGE_URL_PATH_PATTERN])


def _deny_function(template: dict) -> dict:
    _, config = _distribution_of(template)
    [association] = config["DefaultCacheBehavior"]["FunctionAssociations"]
    return _by_ref(template, association["FunctionARN"])


def _distribution_of(template: dict) -> tuple[str, dict]:
    logical_id, dist = only(template, "AWS::CloudFront::Distribution")
    return logical_id, dist["Properties"]["DistributionConfig"]


def test_default_behaviour_runs_the_deny_function_on_viewer_request(estate, env):
    template = _cdn(estate, env)
    _, config = _distribution(estate, env)
    [association] = config["DefaultCacheBehavior"]["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    function = _by_ref(template, association["FunctionARN"])
    assert function["Type"] == "AWS::CloudFront::Function"
    assert function["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    for behaviour in config["CacheBehaviors"]:
        if behaviour["PathPattern"] != IMAGE_URL_PATH_PATTERN:
            assert "FunctionAssociations" not in behaviour


def _run_deny_function(code: str, uri: str) -> dict:
    script = code + "\nprocess.stdout.write(JSON.stringify(handler(" \
        "{request: {uri: process.argv[1], method: 'GET'}})));"
    out = subprocess.run(["node", "-e", script, uri], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("uri, served", [
    (f"/{PROCESSED}sku-1/800.webp", True),
    (f"/{THUMBNAILS}sku-1/200.webp", True),
    (f"/{BRAND_LOGOS}acme.svg", True),
    (f"/{BRAND_MEDIA}acme/spring.mp4", True),
    (f"/{ORIGINALS}sku-1.jpg", False),
    (f"/{CERTIFICATES}sku-1.pdf", False),
    (f"/{REPORTS}2026-q1.pdf", False),
    (f"/{USER_UPLOADS}u-1/photo.jpg", False),
    (f"/{USER_EXPORTS}u-1/export.zip", False),
    (f"/{PROCESSED}../original/sku-1.jpg", False),
    ("/", False),
])
def test_deny_function_answers_404_for_any_path_outside_the_public_prefixes(estate, uri, served):
    function = _deny_function(_cdn(estate, "prod"))
    result = _run_deny_function(function["Properties"]["FunctionCode"], uri)
    if served:
        assert result == {"uri": uri, "method": "GET"}  # the request goes on, unchanged
    else:
        assert result["statusCode"] == 404


def test_deny_function_is_the_javascript_file_with_the_public_prefixes(estate):
    function = _deny_function(_cdn(estate, "dev"))
    source = DENY_FUNCTION_SOURCE.read_text()
    assert "__PUBLIC_PREFIXES__" in source
    assert function["Properties"]["FunctionCode"] == source.replace(
        "__PUBLIC_PREFIXES__", json.dumps(["/" + p for p in PUBLIC]))


def test_behaviours_allow_and_cache_only_get_and_head_over_https(estate, env):
    _, config = _distribution(estate, env)
    for behaviour in _behaviours(config):
        assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
        assert behaviour["CachedMethods"] == ["GET", "HEAD"]
        assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"


# --- bucket and key policies --------------------------------------------------------------


@pytest.mark.parametrize("stack_id", ["Assets", "Replica"])
def test_bucket_policy_lets_this_accounts_distributions_get_the_public_prefixes(
        estate, env, stack_id):
    template, logical_id, bucket = _data_bucket(estate, env, stack_id)
    name = bucket["Properties"]["BucketName"]
    [statement] = _cloudfront_statements(policy_of_bucket(template, logical_id))
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "s3:GetObject"
    assert sorted(statement["Resource"]) == sorted(f"arn:aws:s3:::{name}/{p}*" for p in PUBLIC)
    assert statement["Condition"] == _grant_condition(estate.stages[env].cfg)


@pytest.mark.parametrize("stack_id", ["Assets", "Replica"])
def test_bucket_policy_grants_cloudfront_no_non_public_prefix(estate, env, stack_id):
    template, logical_id, bucket = _data_bucket(estate, env, stack_id)
    name = bucket["Properties"]["BucketName"]
    granted = [r for s in _cloudfront_statements(policy_of_bucket(template, logical_id))
               for r in as_list(s["Resource"])]
    for resource in granted:
        assert resource != f"arn:aws:s3:::{name}/*"
        assert not any(resource.startswith(f"arn:aws:s3:::{name}/{p}") for p in NOT_PUBLIC)


@pytest.mark.parametrize("stack_id", ["Assets", "Replica"])
def test_bucket_key_lets_only_this_accounts_distributions_decrypt_this_buckets_objects(
        estate, env, stack_id):
    template, _, bucket = _data_bucket(estate, env, stack_id)
    name = bucket["Properties"]["BucketName"]
    key_id = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0]
    statements = template["Resources"][key_id]["Properties"]["KeyPolicy"]["Statement"]
    [statement] = _cloudfront_statements(statements)
    assert statement["Action"] == "kms:Decrypt"
    assert statement["Condition"] == {
        **_grant_condition(estate.stages[env].cfg),
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [
            f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]},
    }


def test_no_policy_anywhere_grants_distributions_of_another_account(estate):
    for env in ENVS:
        account = estate.stages[env].cfg.account
        for stack_id in estate.stack_ids(env):
            text = json.dumps(estate.template_json(env, stack_id))
            for found in re.findall(r"arn:aws:cloudfront::(\d*):distribution", text):
                assert found == account, f"{env}/{stack_id}"


def test_grant_helper_refuses_a_bucket_without_a_physical_name():
    stack = Stack(App(), "Probe")
    bucket = s3.Bucket(stack, "Unnamed")
    with pytest.raises(ValueError, match="needs a named bucket"):
        grant_distribution_read(bucket, kms.Key(stack, "Key"))


# --- performance --------------------------------------------------------------------------


def _cache_policy(estate, env, path_pattern) -> dict:
    template = _cdn(estate, env)
    _, config = _distribution(estate, env)
    [behaviour] = [b for b in config["CacheBehaviors"] if b["PathPattern"] == path_pattern]
    return _by_ref(template, behaviour["CachePolicyId"])["Properties"]["CachePolicyConfig"]


@pytest.mark.parametrize("prefix", [PROCESSED, THUMBNAILS, BRAND_LOGOS])
def test_renditions_are_cached_for_a_year(estate, env, prefix):
    policy = _cache_policy(estate, env, f"{prefix}*")
    assert policy["MaxTTL"] >= YEAR
    assert policy["DefaultTTL"] >= YEAR
    assert policy["MinTTL"] >= DAY


def test_brand_media_is_cached_for_a_day_and_at_most_a_week(estate, env):
    policy = _cache_policy(estate, env, f"{BRAND_MEDIA}*")
    assert (policy["MinTTL"], policy["DefaultTTL"], policy["MaxTTL"]) == (0, DAY, 7 * DAY)


@pytest.mark.parametrize("prefix", PUBLIC)
def test_cache_key_is_the_path_alone_and_accepts_gzip_and_brotli(estate, env, prefix):
    key = _cache_policy(estate, env, f"{prefix}*")["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key == {
        "CookiesConfig": {"CookieBehavior": "none"},
        "HeadersConfig": {"HeaderBehavior": "none"},
        "QueryStringsConfig": {"QueryStringBehavior": "none"},
        "EnableAcceptEncodingGzip": True,
        "EnableAcceptEncodingBrotli": True,
    }


def test_every_behaviour_compresses(estate, env):
    _, config = _distribution(estate, env)
    assert all(b["Compress"] is True for b in _behaviours(config))


def test_distribution_serves_http2_and_http3_over_ipv6_from_every_edge(estate, env):
    _, config = _distribution(estate, env)
    assert config["HttpVersion"] == "http2and3"
    assert config["IPV6Enabled"] is True
    assert config["PriceClass"] == "PriceClass_All"


# --- edge security --------------------------------------------------------------------------


def _headers_policy(estate, env) -> dict:
    template = _cdn(estate, env)
    _, config = _distribution(estate, env)
    policy = _by_ref(template, config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"])
    return policy["Properties"]["ResponseHeadersPolicyConfig"]


def test_every_behaviour_uses_the_security_headers_policy(estate, env):
    """The negotiated image URLs use the same policy plus Vary and Cache-Control
    (tests/infra/test_image_urls.py checks its security and CORS parts are equal)."""
    _, config = _distribution(estate, env)
    direct = [b for b in _behaviours(config) if b.get("PathPattern") != IMAGE_URL_PATH_PATTERN]
    assert len({json.dumps(b["ResponseHeadersPolicyId"]) for b in direct}) == 1


def test_cors_answers_vary_on_origin_and_nothing_else_is_added(estate, env):
    # The allowed origin echoed back depends on the request's Origin, and a plain <img>
    # request gets no CORS headers: a browser must not reuse one answer for the other.
    cfg = estate.stages[env].cfg
    custom = _headers_policy(estate, env).get("CustomHeadersConfig", {"Items": []})["Items"]
    assert custom == ([{"Header": "Vary", "Value": "Origin", "Override": True}]
                      if cfg.cdn.storefront_origins else [])


def test_headers_policy_sets_hsts_preload_nosniff_frame_deny_and_strict_referrer(estate, env):
    security = _headers_policy(estate, env)["SecurityHeadersConfig"]
    hsts = security["StrictTransportSecurity"]
    assert hsts["AccessControlMaxAgeSec"] >= 63072000
    assert hsts["IncludeSubdomains"] is True and hsts["Preload"] is True
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert security["ReferrerPolicy"] == {
        "ReferrerPolicy": "strict-origin-when-cross-origin", "Override": True}


def test_cors_allows_only_the_storefront_origins_and_only_get_and_head(estate, env):
    cfg = estate.stages[env].cfg
    cors = _headers_policy(estate, env)["CorsConfig"]
    assert cors["AccessControlAllowOrigins"]["Items"] == list(cfg.cdn.storefront_origins)
    assert cors["AccessControlAllowMethods"]["Items"] == ["GET", "HEAD"]
    assert cors["AccessControlAllowCredentials"] is False


def test_web_acl_is_cloudfront_scoped_and_attached_to_the_distribution(estate, env):
    acl_id, acl = only(_cdn(estate, env), "AWS::WAFv2::WebACL")
    assert acl["Properties"]["Scope"] == "CLOUDFRONT"
    _, config = _distribution(estate, env)
    assert config["WebACLId"] == {"Fn::GetAtt": [acl_id, "Arn"]}


def _rules(estate, env) -> dict[str, dict]:
    _, acl = only(_cdn(estate, env), "AWS::WAFv2::WebACL")
    return {r["Name"]: r for r in acl["Properties"]["Rules"]}


def test_web_acl_runs_the_three_aws_managed_rule_groups(estate, env):
    managed = {r["Statement"]["ManagedRuleGroupStatement"]["Name"]
               for r in _rules(estate, env).values() if "ManagedRuleGroupStatement" in r["Statement"]}
    assert managed == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                       "AWSManagedRulesAmazonIpReputationList"}


def test_web_acl_blocks_an_ip_above_the_configured_rate(estate, env):
    cfg = estate.stages[env].cfg
    [rule] = [r for r in _rules(estate, env).values() if "RateBasedStatement" in r["Statement"]]
    assert rule["Action"] == {"Block": {}}
    assert rule["Statement"]["RateBasedStatement"]["Limit"] == cfg.cdn.waf_rate_limit_per_5min
    assert rule["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"


def test_every_waf_rule_emits_metrics_and_sampled_requests(estate, env):
    _, acl = only(_cdn(estate, env), "AWS::WAFv2::WebACL")
    configs = [acl["Properties"]["VisibilityConfig"],
               *(r["VisibilityConfig"] for r in acl["Properties"]["Rules"])]
    for visibility in configs:
        assert visibility["CloudWatchMetricsEnabled"] is True
        assert visibility["SampledRequestsEnabled"] is True


def test_waf_logs_blocked_and_counted_requests_to_an_encrypted_log_group(estate, env):
    template = _cdn(estate, env)
    acl_id, _ = only(template, "AWS::WAFv2::WebACL")
    _, logging = only(template, "AWS::WAFv2::LoggingConfiguration")
    # WAF only delivers to log groups named aws-waf-logs-*; exactly one of them.
    [group] = [g for g in resources(template, "AWS::Logs::LogGroup").values()
               if g["Properties"]["LogGroupName"].startswith("aws-waf-logs-")]
    name = group["Properties"]["LogGroupName"]
    assert logging["Properties"]["ResourceArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    [destination] = logging["Properties"]["LogDestinationConfigs"]
    assert json.dumps(destination).endswith(f':log-group:{name}"')  # no ":*" suffix
    assert logging["Properties"]["LoggingFilter"]["DefaultBehavior"] == "DROP"
    assert "KmsKeyId" in group["Properties"]


def test_access_logs_go_by_standard_logging_v2_to_the_log_bucket_under_cloudfront(estate, env):
    cfg = estate.stages[env].cfg
    template = _cdn(estate, env)
    dist_id, config = _distribution(estate, env)
    assert "Logging" not in config  # legacy logging would need ACLs on the log bucket
    _, source = only(template, "AWS::Logs::DeliverySource")
    _, destination = only(template, "AWS::Logs::DeliveryDestination")
    _, delivery = only(template, "AWS::Logs::Delivery")
    assert source["Properties"]["LogType"] == "ACCESS_LOGS"
    assert dist_id in json.dumps(source["Properties"]["ResourceArn"])
    assert destination["Properties"]["DestinationResourceArn"] == (
        f"arn:aws:s3:::{cfg.access_log_bucket_name('us-east-1')}/cloudfront")
    assert delivery["Properties"]["DeliverySourceName"] == source["Properties"]["Name"]


def test_log_bucket_lets_log_delivery_write_under_cloudfront_for_this_source_only(estate, env):
    cfg = estate.stages[env].cfg
    template = estate.template_json(env, "AccessLogs-us-east-1")
    logical_id, _ = bucket_named(template, cfg.access_log_bucket_name("us-east-1"))
    [statement] = [s for s in policy_of_bucket(template, logical_id)
                   if s.get("Principal") == {"Service": "delivery.logs.amazonaws.com"}]
    source_name = only(_cdn(estate, env), "AWS::Logs::DeliverySource")[1]["Properties"]["Name"]
    assert statement["Action"] == "s3:PutObject"
    assert "/cloudfront/*" in json.dumps(statement["Resource"])
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": cfg.account,
                         "s3:x-amz-acl": "bucket-owner-full-control"},
        "ArnEquals": {"aws:SourceArn":
                      f"arn:aws:logs:us-east-1:{cfg.account}:delivery-source:{source_name}"},
    }


def test_geo_restriction_is_off_unless_configured(estate, env):
    _, config = _distribution(estate, env)
    assert "Restrictions" not in config


def test_geo_restriction_allows_only_the_configured_countries():
    cfg = dev()
    cfg = type(cfg)(**{**cfg.__dict__, "cdn": CdnConfig(geo_allow=("US", "CA"))})
    template = Template.from_stack(CdnStack(App(), "Cdn", cfg=cfg))
    template.has_resource_properties("AWS::CloudFront::Distribution", {
        "DistributionConfig": Match.object_like({"Restrictions": {"GeoRestriction": {
            "RestrictionType": "whitelist", "Locations": ["US", "CA"]}}})})


# --- certificate and domain -----------------------------------------------------------------


def test_prod_serves_its_domain_on_an_acm_certificate_validated_through_dns(estate):
    cfg = estate.stages["prod"].cfg
    template = _cdn(estate, "prod")
    cert_id, cert = only(template, "AWS::CertificateManager::Certificate")
    assert cert["Properties"]["DomainName"] == cfg.cdn.domain_name
    assert cert["Properties"]["ValidationMethod"] == "DNS"
    assert cert["Properties"]["DomainValidationOptions"] == [
        {"DomainName": cfg.cdn.domain_name, "HostedZoneId": cfg.cdn.hosted_zone_id}]
    _, config = _distribution(estate, "prod")
    assert config["Aliases"] == [cfg.cdn.domain_name]
    assert config["ViewerCertificate"]["AcmCertificateArn"] == {"Ref": cert_id}


def test_prod_requires_tls_1_2_2021_over_sni(estate):
    _, config = _distribution(estate, "prod")
    assert config["ViewerCertificate"] | {"AcmCertificateArn": None} == {
        "AcmCertificateArn": None, "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only"}


def test_prod_domain_has_a_and_aaaa_alias_records_to_the_distribution(estate):
    cfg = estate.stages["prod"].cfg
    dist_id, _ = _distribution(estate, "prod")
    records = resources(_cdn(estate, "prod"), "AWS::Route53::RecordSet").values()
    assert sorted(r["Properties"]["Type"] for r in records) == ["A", "AAAA"]
    for record in records:
        assert record["Properties"]["Name"] == f"{cfg.cdn.domain_name}."
        assert record["Properties"]["HostedZoneId"] == cfg.cdn.hosted_zone_id
        assert record["Properties"]["AliasTarget"]["DNSName"] == {
            "Fn::GetAtt": [dist_id, "DomainName"]}


def test_dev_uses_the_default_certificate_with_no_alias_and_no_records(estate):
    template = _cdn(estate, "dev")
    _, config = _distribution(estate, "dev")
    assert "ViewerCertificate" not in config and "Aliases" not in config
    assert not resources(template, "AWS::CertificateManager::Certificate")
    assert not resources(template, "AWS::Route53::RecordSet")


def test_default_certificate_finding_is_acknowledged_on_devs_distribution_only(estate):
    cfr4 = [path for path, rule, _ in estate.acknowledgements() if rule.endswith("-CFR4")]
    assert cfr4 == ["dev/Cdn/Cdn/Distribution"]


def test_additional_metrics_are_on_so_origin_latency_is_published(estate, env):
    template = _cdn(estate, env)
    dist_id, _ = _distribution(estate, env)
    _, subscription = only(template, "AWS::CloudFront::MonitoringSubscription")
    assert subscription["Properties"] == {
        "DistributionId": {"Ref": dist_id},
        "MonitoringSubscription": {"RealtimeMetricsSubscriptionConfig": {
            "RealtimeMetricsSubscriptionStatus": "Enabled"}}}


def test_cdn_stack_has_termination_protection(estate, env):
    # Deleting it takes every storefront image offline (README, "The estate").
    assert estate.stack(env, "Cdn").termination_protection is True
