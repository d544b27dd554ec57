"""Assets → replica replication: one whole-bucket rule with RTC, through a least-privilege role,
wired so the replica deploys first and nothing refers across regions."""
from __future__ import annotations

import json

import pytest
from helpers import account_principal, as_list, bucket_named, key_of_bucket, resources

ENVS = ["dev", "prod"]


@pytest.fixture(params=ENVS)
def env(request):
    return request.param


def _rule(estate, env):
    cfg = estate.stages[env].cfg
    _, bucket = bucket_named(estate.template_json(env, "Assets"), cfg.assets_bucket_name)
    config = bucket["Properties"]["ReplicationConfiguration"]
    [rule] = config["Rules"]
    return cfg, config, rule


def _replication_role(estate, env) -> dict:
    name = estate.stages[env].cfg.replication_role_name
    [role] = [r for r in resources(estate.template_json(env, "Replica"), "AWS::IAM::Role").values()
              if r["Properties"]["RoleName"] == name]
    return role


def _replication_policy(estate, env) -> list[dict]:
    # The replication role's policy (in prod the stack also has the Batch Replication role's).
    template = estate.template_json(env, "Replica")
    role_id = next(lid for lid, r in resources(template, "AWS::IAM::Role").items()
                   if r["Properties"]["RoleName"] == estate.stages[env].cfg.replication_role_name)
    [policy] = [p for p in resources(template, "AWS::IAM::ManagedPolicy").values()
                if p["Properties"]["Roles"] == [{"Ref": role_id}]]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_one_rule_with_priority_1_over_the_whole_bucket(estate, env):
    _, _, rule = _rule(estate, env)
    assert (rule["Status"], rule["Priority"], rule["Filter"]) == ("Enabled", 1, {"Prefix": ""})


def test_replication_time_control_is_15_minutes_with_metrics(estate, env):
    _, _, rule = _rule(estate, env)
    destination = rule["Destination"]
    assert destination["ReplicationTime"] == {"Status": "Enabled", "Time": {"Minutes": 15}}
    assert destination["Metrics"] == {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}


def test_replicas_are_stored_as_standard_ia(estate, env):
    _, _, rule = _rule(estate, env)
    assert rule["Destination"]["StorageClass"] == "STANDARD_IA"


def test_delete_markers_are_not_replicated(estate, env):
    _, _, rule = _rule(estate, env)
    assert rule["DeleteMarkerReplication"] == {"Status": "Disabled"}


def test_rule_replicates_into_the_bucket_the_replica_stack_creates(estate, env):
    _, _, rule = _rule(estate, env)
    [replica] = resources(estate.template_json(env, "Replica"), "AWS::S3::Bucket").values()
    assert rule["Destination"]["Bucket"] == f"arn:aws:s3:::{replica['Properties']['BucketName']}"


def test_kms_encrypted_objects_are_replicated_with_the_replica_buckets_key_by_alias(estate, env):
    # The rule names the replica key by alias ARN (no cross-region reference): that alias must
    # be the one the Replica stack creates, in its region, for the key of the replica bucket.
    cfg, _, rule = _rule(estate, env)
    assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"},
                                               "ReplicaModifications": {"Status": "Enabled"}}
    template = estate.template_json(env, "Replica")
    [replica] = resources(template, "AWS::S3::Bucket").values()
    key_id, _ = key_of_bucket(template, replica)
    [alias] = [a["Properties"]["AliasName"] for a in resources(template, "AWS::KMS::Alias").values()
               if a["Properties"]["TargetKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}]
    region = estate.stack(env, "Replica").region
    assert rule["Destination"]["EncryptionConfiguration"]["ReplicaKmsKeyID"] == (
        f"arn:aws:kms:{region}:{cfg.account}:{alias}")


def test_rule_uses_the_role_the_replica_stack_creates(estate, env):
    cfg, config, _ = _rule(estate, env)
    role = _replication_role(estate, env)
    assert config["Role"] == f"arn:aws:iam::{cfg.account}:role/{role['Properties']['RoleName']}"


def test_only_s3_replicating_the_assets_bucket_may_assume_the_role(estate, env):
    cfg = estate.stages[env].cfg
    role = _replication_role(estate, env)
    [statement] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": cfg.account},
        "ArnEquals": {"aws:SourceArn": f"arn:aws:s3:::{cfg.assets_bucket_name}"}}


def test_role_has_exactly_the_replication_actions(estate, env):
    actions = sorted(a for s in _replication_policy(estate, env) for a in as_list(s["Action"]))
    assert actions == sorted([
        "s3:GetReplicationConfiguration", "s3:ListBucket",
        "s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
        "s3:GetObjectVersionTagging",
        "s3:ReplicateObject", "s3:ReplicateTags",
        "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"])


def test_role_decrypts_only_with_the_assets_key_named_by_alias_via_s3(estate, env):
    # The key policy names the account (and the role by condition), so the role's own policy
    # must allow the decrypt; the key is another Region's stack's, so it is named by alias.
    cfg = estate.stages[env].cfg
    [decrypt] = [s for s in _replication_policy(estate, env) if s["Sid"] == "DecryptSources"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Resource"] == f"arn:aws:kms:{cfg.primary_region}:{cfg.account}:key/*"
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": f"s3.{cfg.primary_region}.amazonaws.com"},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [
            f"arn:aws:s3:::{cfg.assets_bucket_name}", f"arn:aws:s3:::{cfg.assets_bucket_name}/*"]},
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": cfg.assets_key_alias}}


def test_role_has_no_wildcard_action_or_resource(estate, env):
    for statement in _replication_policy(estate, env):
        assert statement["Effect"] == "Allow"
        assert not any("*" in a for a in as_list(statement["Action"]))
        assert "*" not in as_list(statement["Resource"])


def test_role_writes_replicas_only_into_the_replica_bucket(estate, env):
    cfg = estate.stages[env].cfg
    template = estate.template_json(env, "Replica")
    replica_id, _ = bucket_named(template, cfg.replica_bucket_name)
    [write] = [s for s in _replication_policy(estate, env) if s["Sid"] == "WriteReplicas"]
    assert write["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [replica_id, "Arn"]}, "/*"]]}


def test_role_encrypts_only_with_the_replica_key_via_s3(estate, env):
    cfg = estate.stages[env].cfg
    template = estate.template_json(env, "Replica")
    _, replica = bucket_named(template, cfg.replica_bucket_name)
    key_id, _ = key_of_bucket(template, replica)
    [encrypt] = [s for s in _replication_policy(estate, env) if s["Sid"] == "EncryptReplicas"]
    assert encrypt["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert encrypt["Condition"]["StringEquals"] == {
        "kms:ViaService": f"s3.{cfg.replica_region}.amazonaws.com"}


def test_assets_key_lets_the_role_decrypt_only_via_s3(estate, env):
    cfg = estate.stages[env].cfg
    template = estate.template_json(env, "Assets")
    _, assets = bucket_named(template, cfg.assets_bucket_name)
    _, key = key_of_bucket(template, assets)
    role = f"arn:aws:iam::{cfg.account}:role/{cfg.replication_role_name}"
    [grant] = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
               if s.get("Sid") == "ReplicationRoleDecryptsSourceObjects"]
    # The account, narrowed to the role by ARN: the role is the Replica stack's.
    assert account_principal(grant["Principal"]) == cfg.account
    assert grant["Condition"]["ArnEquals"] == {"aws:PrincipalArn": role}
    assert grant["Action"] == "kms:Decrypt"
    assert grant["Condition"]["StringEquals"] == {
        "kms:ViaService": f"s3.{cfg.primary_region}.amazonaws.com"}
    assert grant["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"] == [
        f"arn:aws:s3:::{cfg.assets_bucket_name}", f"arn:aws:s3:::{cfg.assets_bucket_name}/*"]


def test_replica_stack_deploys_before_assets(estate, env):
    assert "Replica" in estate.dependencies(env, "Assets")
    assert "Assets" not in estate.dependencies(env, "Replica")


def test_replica_stack_takes_nothing_from_the_assets_stack(estate, env):
    # Only names flow from Assets to Replica: no export; the primary-region KMS ARNs are the
    # assets key's alias ARN, which the rule back to the assets bucket names, and the role's
    # decrypt of "any key of the Region" that the alias condition narrows to the assets key.
    cfg = estate.stages[env].cfg
    text = json.dumps(estate.template_json(env, "Replica"))
    assert "Fn::ImportValue" not in text
    any_key = f"arn:aws:kms:{cfg.primary_region}:{cfg.account}:key/*"
    assert text.replace(cfg.assets_key_alias_arn, "").replace(any_key, "").count(
        "arn:aws:kms:us-east-1") == 0
    assert cfg.assets_key_alias_arn in text
