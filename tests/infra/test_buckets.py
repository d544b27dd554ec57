"""Every data bucket: versioned, SSE-KMS with its own rotating key, private, TLS 1.2+ only,
access-logged into its region's log bucket, retained on stack deletion and replacement but not
after a failed first create (so the retry does not fail on "already exists")."""
from __future__ import annotations

import pytest
from helpers import bucket_named, key_of_bucket, policy_of_bucket, resources

DATA_BUCKETS = [
    (env, stack, kind)
    for env in ("dev", "prod")
    for stack, kind in (("Assets", "assets"), ("Replica", "replica"), ("Backups", "backups"))
]


def _bucket(estate, env, stack, kind):
    cfg = estate.stages[env].cfg
    name = {"assets": cfg.assets_bucket_name, "replica": cfg.replica_bucket_name,
            "backups": cfg.backups_bucket_name}[kind]
    template = estate.template_json(env, stack)
    logical_id, bucket = bucket_named(template, name)
    return cfg, template, logical_id, bucket


@pytest.fixture(params=DATA_BUCKETS, ids=lambda p: f"{p[0]}-{p[2]}")
def data_bucket(request, estate):
    return _bucket(estate, *request.param)


def test_bucket_is_versioned(data_bucket):
    _, _, _, bucket = data_bucket
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}


def test_bucket_uses_sse_kms_with_its_own_key_and_bucket_keys(data_bucket):
    _, template, _, bucket = data_bucket
    [rule] = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["BucketKeyEnabled"] is True
    _, key = key_of_bucket(template, bucket)
    assert key["Type"] == "AWS::KMS::Key"


RETAINED_EXCEPT_ON_CREATE = ("RetainExceptOnCreate", "Retain")


def _policies(resource: dict) -> tuple[str | None, str | None]:
    return resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")


def test_bucket_key_rotates_and_is_retained_except_on_a_failed_create(data_bucket):
    _, template, _, bucket = data_bucket
    _, key = key_of_bucket(template, bucket)
    assert key["Properties"]["EnableKeyRotation"] is True
    assert _policies(key) == RETAINED_EXCEPT_ON_CREATE


def test_bucket_blocks_all_public_access(data_bucket):
    _, _, _, bucket = data_bucket
    assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True,
        "IgnorePublicAcls": True, "RestrictPublicBuckets": True}


def test_bucket_disables_acls(data_bucket):
    _, _, _, bucket = data_bucket
    assert bucket["Properties"]["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


def test_bucket_policy_denies_plain_http(data_bucket):
    _, template, logical_id, _ = data_bucket
    statements = policy_of_bucket(template, logical_id)
    assert any(s["Effect"] == "Deny" and s["Principal"] == {"AWS": "*"} and s["Action"] == "s3:*"
               and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in statements)


def test_bucket_policy_denies_tls_older_than_1_2(data_bucket):
    _, template, logical_id, _ = data_bucket
    statements = policy_of_bucket(template, logical_id)
    assert any(s["Effect"] == "Deny" and s["Action"] == "s3:*"
               and s["Condition"] == {"NumericLessThan": {"s3:TlsVersion": 1.2}}
               for s in statements)


def test_bucket_logs_into_its_regions_log_bucket_under_its_own_prefix(data_bucket, estate):
    cfg, _, _, bucket = data_bucket
    name = bucket["Properties"]["BucketName"]
    region = {cfg.assets_bucket_name: cfg.primary_region, cfg.replica_bucket_name:
              cfg.replica_region, cfg.backups_bucket_name: cfg.backups_region}[name]
    assert bucket["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": cfg.access_log_bucket_name(region),
        "LogFilePrefix": f"{name}/"}


def test_bucket_is_retained_except_on_a_failed_create(data_bucket):
    _, _, _, bucket = data_bucket
    assert _policies(bucket) == RETAINED_EXCEPT_ON_CREATE


NAMED = {"AWS::S3::Bucket": "BucketName", "AWS::Logs::LogGroup": "LogGroupName",
         "AWS::DynamoDB::Table": None}  # the dedup index: stateful whether named or not


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_named_stateful_resource_is_retained_except_on_a_failed_create(estate, env):
    checked = 0
    for stack_id in estate.stack_ids(env):
        for logical_id, res in estate.template_json(env, stack_id)["Resources"].items():
            name_property = NAMED.get(res["Type"], "")
            if name_property is None or name_property in res.get("Properties", {}):
                assert _policies(res) == RETAINED_EXCEPT_ON_CREATE, f"{stack_id}/{logical_id}"
                checked += 1
    assert checked >= 10


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_aliased_key_is_retained_except_on_a_failed_create_unless_it_keeps_no_data(
        estate, env):
    for stack_id in estate.stack_ids(env):
        template = estate.template_json(env, stack_id)
        topic_keys = {t["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
                      for t in resources(template, "AWS::SNS::Topic").values()}
        for alias in resources(template, "AWS::KMS::Alias").values():
            key_id = alias["Properties"]["TargetKeyId"]["Fn::GetAtt"][0]
            expected = (("Delete", "Delete") if key_id in topic_keys  # notifications only
                        else RETAINED_EXCEPT_ON_CREATE)
            assert _policies(template["Resources"][key_id]) == expected, f"{stack_id}/{key_id}"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_data_stack_has_termination_protection(estate, env):
    for stack_id in ("Assets", "Replica", "Backups", "AccessLogs-us-east-1",
                     "AccessLogs-us-west-2"):
        assert estate.stack(env, stack_id).termination_protection, stack_id


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_buckets_live_in_their_configured_regions(estate, env):
    cfg = estate.stages[env].cfg
    assert estate.stack(env, "Assets").region == cfg.primary_region == "us-east-1"
    assert estate.stack(env, "Replica").region == cfg.replica_region
    assert estate.stack(env, "Backups").region == cfg.backups_region == "us-west-2"


# --- the access-log buckets -------------------------------------------------------------

@pytest.fixture(params=[("dev", "us-east-1"), ("dev", "us-west-2"), ("prod", "us-east-1")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def log_bucket(request, estate):
    env, region = request.param
    cfg = estate.stages[env].cfg
    template = estate.template_json(env, f"AccessLogs-{region}")
    logical_id, bucket = bucket_named(template, cfg.access_log_bucket_name(region))
    return cfg, region, template, logical_id, bucket


def test_log_bucket_is_private_tls_only_and_retained(log_bucket):
    _, _, template, logical_id, bucket = log_bucket
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    assert props["OwnershipControls"]["Rules"][0]["ObjectOwnership"] == "BucketOwnerEnforced"
    assert _policies(bucket) == RETAINED_EXCEPT_ON_CREATE
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in policy_of_bucket(template, logical_id))


def test_log_bucket_expires_logs_after_the_configured_days(log_bucket):
    cfg, _, _, _, bucket = log_bucket
    rule, markers = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == cfg.access_log_retention_days
    # Each expired log leaves a delete marker (the bucket is versioned): removed once alone.
    assert markers == {"Id": "expire-lone-delete-markers", "Status": "Enabled",
                       "ExpiredObjectDeleteMarker": True}


def test_log_bucket_accepts_logs_only_from_this_regions_estate_buckets(log_bucket):
    cfg, region, template, logical_id, _ = log_bucket
    expected = {name for name, where in ((cfg.assets_bucket_name, cfg.primary_region),
                                         (cfg.replica_bucket_name, cfg.replica_region),
                                         (cfg.backups_bucket_name, cfg.backups_region))
                if where == region}
    writers = [s for s in policy_of_bucket(template, logical_id)
               if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}]
    assert {s["Condition"]["ArnEquals"]["aws:SourceArn"].split(":::")[1] for s in writers} \
        == expected
    for s in writers:
        assert s["Action"] == "s3:PutObject"
        assert s["Condition"]["StringEquals"]["aws:SourceAccount"] == cfg.account


def test_one_log_bucket_per_region(estate):
    for env in ("dev", "prod"):
        for region in estate.stages[env].cfg.regions:
            template = estate.template_json(env, f"AccessLogs-{region}")
            assert len(resources(template, "AWS::S3::Bucket")) == 1
