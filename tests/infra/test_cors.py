"""CORS of the assets bucket: the configured origins may use the presigned URLs from a
browser; nothing else, and no other bucket answers browsers."""
from __future__ import annotations

import pytest
from helpers import bucket_named

from infra.config import BucketCorsConfig, ConfigError

ENVS = ["dev", "prod"]


def _cors_rules(estate, env, stack_id="Assets", attr="assets_bucket_name"):
    cfg = estate.stages[env].cfg
    _, bucket = bucket_named(estate.template_json(env, stack_id), getattr(cfg, attr))
    return cfg, {r["Id"]: r for r in
                 bucket["Properties"].get("CorsConfiguration", {}).get("CorsRules", [])}


@pytest.mark.parametrize("env", ENVS)
def test_only_configured_origins_may_call_the_bucket_from_a_browser(estate, env):
    cfg, rules = _cors_rules(estate, env)
    assert cfg.assets_cors.allowed_origins
    assert sorted(rules) == ["browser-downloads", "browser-uploads"]  # none lost: the loop checks each
    for rule in rules.values():
        assert sorted(rule["AllowedOrigins"]) == sorted(cfg.assets_cors.allowed_origins)
        assert "*" not in rule["AllowedOrigins"]


@pytest.mark.parametrize("env", ENVS)
def test_uploads_may_put_and_post_with_exactly_the_signed_headers(estate, env):
    _, rules = _cors_rules(estate, env)
    rule = rules["browser-uploads"]
    assert sorted(rule["AllowedMethods"]) == ["POST", "PUT"]
    assert sorted(rule["AllowedHeaders"]) == ["content-type", "if-none-match",
                                              "x-amz-checksum-sha256", "x-amz-storage-class"]


@pytest.mark.parametrize("env", ENVS)
def test_downloads_may_get_and_head_without_extra_headers(estate, env):
    _, rules = _cors_rules(estate, env)
    rule = rules["browser-downloads"]
    assert sorted(rule["AllowedMethods"]) == ["GET", "HEAD"]
    assert "AllowedHeaders" not in rule


@pytest.mark.parametrize("env", ENVS)
def test_browsers_can_read_etag_and_version_id_for_multipart_completion(estate, env):
    _, rules = _cors_rules(estate, env)
    assert sorted(rules) == ["browser-downloads", "browser-uploads"]
    for rule in rules.values():
        assert sorted(rule["ExposedHeaders"]) == ["ETag", "x-amz-version-id"]


@pytest.mark.parametrize("env", ENVS)
def test_preflights_are_cached_for_the_configured_max_age(estate, env):
    cfg, rules = _cors_rules(estate, env)
    assert {r["MaxAge"] for r in rules.values()} == {cfg.assets_cors.max_age_seconds}


@pytest.mark.parametrize("env", ENVS)
def test_the_backups_bucket_answers_no_browser(estate, env):
    _, rules = _cors_rules(estate, env, "Backups", "backups_bucket_name")
    assert rules == {}


@pytest.mark.parametrize("env", ENVS)
def test_the_replica_answers_browsers_exactly_like_the_assets_bucket(estate, env):
    """The replica region's upload API signs URLs for the replica bucket during a failover:
    the same origins, methods, headers and preflight cache."""
    _, assets = _cors_rules(estate, env)
    _, replica = _cors_rules(estate, env, "Replica", "replica_bucket_name")
    assert replica == assets != {}


@pytest.mark.parametrize("bad", ["*", "https://shop.example/", "https://*.shop.example",
                                 "http://shop.example", "shop.example"])
def test_a_bad_cors_origin_is_rejected_naming_the_field(bad):
    with pytest.raises(ConfigError, match="assets_cors: allowed_origins"):
        BucketCorsConfig(allowed_origins=(bad,))


def test_a_preflight_max_age_above_an_hour_is_rejected_naming_the_field():
    with pytest.raises(ConfigError, match="assets_cors: max_age_seconds"):
        BucketCorsConfig(max_age_seconds=7200)
