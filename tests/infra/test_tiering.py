"""Cost tiers: which prefixes tier, archive or expire, and when."""
from __future__ import annotations

import pytest
from helpers import bucket_named, lifecycle_rules

from infra.config import DUPLICATE_TAG, ObjectExpiry
from infra.constructs.tiering import expiration_rules

ENVS = ["dev", "prod"]


@pytest.fixture(params=ENVS)
def assets(request, estate):
    cfg = estate.stages[request.param].cfg
    _, bucket = bucket_named(estate.template_json(request.param, "Assets"), cfg.assets_bucket_name)
    return cfg, bucket


@pytest.mark.parametrize("rule_id,prefix", [
    ("originals-to-intelligent-tiering", "products/images/original/"),
    ("documents-to-intelligent-tiering", "products/documents/"),
    ("brand-media-to-intelligent-tiering", "brands/media/"),
    ("uploads-to-intelligent-tiering", "user-content/uploads/"),
])
def test_cold_prefixes_move_to_intelligent_tiering_on_day_zero(assets, rule_id, prefix):
    _, bucket = assets
    rule = lifecycle_rules(bucket)[rule_id]
    assert rule["Prefix"] == prefix
    assert rule["Transitions"] == [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 0}]


@pytest.mark.parametrize("hot_prefix", ["products/images/processed/",
                                        "products/images/thumbnails/", "brands/logos/"])
def test_cdn_renditions_and_logos_stay_standard(assets, hot_prefix):
    _, bucket = assets
    for rule in lifecycle_rules(bucket).values():
        if "Transitions" in rule:
            prefix = rule.get("Prefix", "")
            assert prefix and not hot_prefix.startswith(prefix), rule["Id"]


def test_archive_tiers_cover_originals_documents_and_uploads(assets):
    _, bucket = assets
    configs = {c["Prefix"]: c for c in bucket["Properties"]["IntelligentTieringConfigurations"]}
    assert set(configs) == {"products/images/original/", "products/documents/",
                            "user-content/uploads/"}
    for config in configs.values():
        assert config["Status"] == "Enabled"
        assert sorted(config["Tierings"], key=lambda t: t["Days"]) == [
            {"AccessTier": "ARCHIVE_ACCESS", "Days": 90},
            {"AccessTier": "DEEP_ARCHIVE_ACCESS", "Days": 180}]


def test_brand_media_is_never_in_an_asynchronous_archive_tier(assets):
    # The CDN serves brands/media/; an archived object would answer 403 until restored.
    _, bucket = assets
    prefixes = [c["Prefix"] for c in bucket["Properties"]["IntelligentTieringConfigurations"]]
    assert not any("brands/".startswith(p) or p.startswith("brands/") for p in prefixes)


def test_exports_expire_after_the_configured_days(assets):
    cfg, bucket = assets
    rule = lifecycle_rules(bucket)["expire-exports"]
    assert (rule["Prefix"], rule["ExpirationInDays"]) == (
        "user-content/exports/", cfg.exports_expiration_days)


def test_noncurrent_versions_go_to_glacier_ir_then_expire(assets):
    cfg, bucket = assets
    rule = lifecycle_rules(bucket)["noncurrent-versions"]
    assert "Prefix" not in rule
    assert rule["NoncurrentVersionTransitions"] == [{
        "StorageClass": "GLACIER_IR",
        "TransitionInDays": cfg.noncurrent_glacier_ir_after_days}]
    assert rule["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": cfg.noncurrent_version_expiration_days}


def test_incomplete_multipart_uploads_are_aborted_after_7_days(assets):
    _, bucket = assets
    rule = lifecycle_rules(bucket)["noncurrent-versions"]
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}


def test_duplicates_are_tagged_but_never_expired_unless_configured(assets):
    # Every duplicate's key was handed to a client, which keeps it: expiring one is a 404.
    cfg, bucket = assets
    assert cfg.duplicate_expiration_days is None
    assert "expire-duplicates" not in lifecycle_rules(bucket)


def test_a_configured_duplicate_expiry_expires_by_the_hashers_tag_in_the_whole_bucket():
    configured = {r.id: r for r in expiration_rules(ObjectExpiry(
        exports_days=7, duplicates_days=30, quarantine_days=None,
        noncurrent_glacier_ir_after_days=30, noncurrent_expiration_days=90))}
    rule = configured["expire-duplicates"]
    assert rule.tag_filters == {DUPLICATE_TAG[0]: DUPLICATE_TAG[1]} and rule.prefix is None
    assert rule.expiration.to_days() == 30
    off = [r.id for r in expiration_rules(ObjectExpiry(
        exports_days=7, duplicates_days=None, quarantine_days=None,
        noncurrent_glacier_ir_after_days=30, noncurrent_expiration_days=90))]
    assert "expire-duplicates" not in off and "expire-exports" in off


def test_prod_keeps_noncurrent_versions_longer_than_dev(estate):
    assert (estate.stages["prod"].cfg.noncurrent_version_expiration_days
            > estate.stages["dev"].cfg.noncurrent_version_expiration_days)


@pytest.mark.parametrize("env", ENVS)
def test_backups_move_to_deep_archive(estate, env):
    cfg = estate.stages[env].cfg
    _, bucket = bucket_named(estate.template_json(env, "Backups"), cfg.backups_bucket_name)
    rule = lifecycle_rules(bucket)["backups-to-deep-archive"]
    assert rule["Transitions"] == [{"StorageClass": "DEEP_ARCHIVE",
                                    "TransitionInDays": cfg.backups_deep_archive_after_days}]
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}


# Lifecycle actions and delete markers do not replicate: whatever the primary expires, the
# replica must expire on its own, or erased and expired data lives on in the replica.
_FILTER_KEYS = ("Prefix", "TagFilters", "ObjectSizeGreaterThan", "ObjectSizeLessThan")
_EXPIRY_KEYS = ("ExpirationInDays", "ExpirationDate", "ExpiredObjectDeleteMarker",
                "NoncurrentVersionExpiration")


def _filter(rule: dict) -> dict:
    return {k: rule[k] for k in _FILTER_KEYS if k in rule}


def _expiries(rule: dict) -> dict:
    return {k: rule[k] for k in _EXPIRY_KEYS if k in rule}


def _replica_rules(estate, env):
    cfg = estate.stages[env].cfg
    _, bucket = bucket_named(estate.template_json(env, "Replica"), cfg.replica_bucket_name)
    return lifecycle_rules(bucket)


@pytest.mark.parametrize("env", ENVS)
def test_every_expiring_primary_rule_has_a_replica_twin_with_the_same_filter(estate, env):
    cfg = estate.stages[env].cfg
    _, primary = bucket_named(estate.template_json(env, "Assets"), cfg.assets_bucket_name)
    replica = list(_replica_rules(estate, env).values())
    expiring = [r for r in lifecycle_rules(primary).values() if _expiries(r)]
    assert expiring, "the primary has expiration rules"
    for rule in expiring:
        twins = [r for r in replica if _filter(r) == _filter(rule)
                 and r["Status"] == "Enabled" and _expiries(r) == _expiries(rule)]
        assert twins, f"primary rule {rule['Id']} has no replica twin"


@pytest.mark.parametrize("env", ENVS)
def test_replica_expires_exports_after_the_configured_days(estate, env):
    cfg = estate.stages[env].cfg
    rule = _replica_rules(estate, env)["expire-exports"]
    assert (rule["Prefix"], rule["ExpirationInDays"]) == (
        "user-content/exports/", cfg.exports_expiration_days)


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("stack_id, bucket_attr", [("Assets", "assets_bucket_name"),
                                                   ("Replica", "replica_bucket_name")])
def test_both_buckets_expire_the_write_health_probes_after_a_day(estate, env, stack_id,
                                                                 bucket_attr):
    # GET /health writes one object a minute into its region's bucket, and replication
    # copies it into the other: each bucket must expire them (lifecycle never replicates).
    cfg = estate.stages[env].cfg
    _, bucket = bucket_named(estate.template_json(env, stack_id), getattr(cfg, bucket_attr))
    rules = lifecycle_rules(bucket)
    probes = rules["expire-write-health-probes"]
    assert (probes["Prefix"], probes["Status"], probes["ExpirationInDays"]) == (
        "ops/write-health/", "Enabled", 1)
    assert probes["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    # ... and the delete marker each expiry leaves goes with the whole-bucket rule below.


BUCKETS_WITH_EXPIRIES = [("Assets", "assets_bucket_name"), ("Replica", "replica_bucket_name"),
                         ("Backups", "backups_bucket_name")]


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("stack_id, bucket_attr", BUCKETS_WITH_EXPIRIES)
def test_lone_delete_markers_are_removed_in_the_whole_bucket(estate, env, stack_id, bucket_attr):
    # An expiry (exports, duplicates, quarantine, job files, probes) or a delete in a versioned
    # bucket leaves a delete marker; once the version behind it has expired, only this rule
    # removes it. Whole-bucket: tag-filtered expiries leave markers under any prefix.
    cfg = estate.stages[env].cfg
    _, bucket = bucket_named(estate.template_json(env, stack_id), getattr(cfg, bucket_attr))
    markers = lifecycle_rules(bucket)["expire-lone-delete-markers"]
    assert markers == {"Id": "expire-lone-delete-markers", "Status": "Enabled",
                       "ExpiredObjectDeleteMarker": True}  # no days: S3 refuses them beside it


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("stack_id, bucket_attr", [("Assets", "assets_bucket_name"),
                                                   ("Replica", "replica_bucket_name")])
@pytest.mark.parametrize("prefix", ["restore-jobs/", "reconcile-jobs/"])
def test_both_buckets_expire_the_operator_tools_job_files_after_a_year(estate, env, stack_id,
                                                                       bucket_attr, prefix):
    # Each tool writes its manifests and reports in one bucket, and replication copies them
    # into the other; nothing reads them after the incident.
    cfg = estate.stages[env].cfg
    _, bucket = bucket_named(estate.template_json(env, stack_id), getattr(cfg, bucket_attr))
    rule = lifecycle_rules(bucket)[f"expire-{prefix.rstrip('/')}"]
    assert (rule["Prefix"], rule["Status"], rule["ExpirationInDays"]) == (prefix, "Enabled", 365)
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}


@pytest.mark.parametrize("env", ENVS)
def test_replica_expires_noncurrent_versions_like_the_primary(estate, env):
    cfg = estate.stages[env].cfg
    rule = _replica_rules(estate, env)["noncurrent-versions"]
    assert rule["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": cfg.noncurrent_version_expiration_days}
