"""KMS key policies: grants only when an AWS service asks (Control Tower's CT.KMS.PR.3),
exact actions for log keys, and keys of data that must survive an administrator (backups,
replica) guarded from destruction."""
from __future__ import annotations

import dataclasses
import json

import pytest
from helpers import as_list, bucket_named, key_of_bucket, resources

from infra.config import ConfigError
from infra.constructs.encryption import KEY_DESTROYING_ACTIONS
from infra.environments import ENVIRONMENTS

ENVS = ["dev", "prod"]


def _all_keys(estate, env):
    for stack_id in estate.stack_ids(env):
        for logical_id, key in resources(estate.template_json(env, stack_id),
                                         "AWS::KMS::Key").items():
            yield f"{stack_id}/{logical_id}", key


def _statements(key: dict) -> list[dict]:
    return key["Properties"]["KeyPolicy"]["Statement"]


def _bucket_key(estate, env, stack_id, bucket_name):
    template = estate.template_json(env, stack_id)
    _, bucket = bucket_named(template, bucket_name)
    return key_of_bucket(template, bucket)[1]


@pytest.mark.parametrize("env", ENVS)
def test_no_key_accepts_a_grant_unless_an_aws_service_asks_for_it(estate, env):
    keys = dict(_all_keys(estate, env))
    assert len(keys) >= 5
    for where, key in keys.items():
        assert {"Sid": "GrantsOnlyForAwsResources", "Effect": "Deny",
                "Principal": {"AWS": "*"}, "Action": "kms:CreateGrant", "Resource": "*",
                "Condition": {"BoolIfExists": {"kms:GrantIsForAWSResource": "false",
                                               "aws:PrincipalIsAWSService": "false"}}
                } in _statements(key), where


@pytest.mark.parametrize("env", ENVS)
def test_log_group_keys_allow_cloudwatch_logs_exact_actions_only(estate, env):
    log_keys = 0
    for where, key in _all_keys(estate, env):
        for statement in _statements(key):
            service = statement.get("Principal", {}).get("Service", "")
            if isinstance(service, str) and service.startswith("logs."):
                log_keys += 1
                actions = as_list(statement["Action"])
                assert not any("*" in a for a in actions), (where, actions)
                assert "kms:GenerateDataKey" in actions and "kms:Decrypt" in actions
    assert log_keys >= 2


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("stack_id,bucket_attr", [("Backups", "backups_bucket_name"),
                                                  ("Replica", "replica_bucket_name")])
def test_only_the_break_glass_role_may_delete_disable_or_repolicy_the_key(
        estate, env, stack_id, bucket_attr):
    cfg = estate.stages[env].cfg
    key = _bucket_key(estate, env, stack_id, getattr(cfg, bucket_attr))
    [deny] = [s for s in _statements(key)
              if s["Effect"] == "Deny" and "kms:ScheduleKeyDeletion" in as_list(s["Action"])]
    assert deny["Principal"] == {"AWS": "*"}
    assert {"kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy",
            "kms:DisableKeyRotation", "kms:DeleteImportedKeyMaterial"} <= set(deny["Action"])
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": cfg.break_glass_role_arn}}


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("stack_id,bucket_attr", [("Backups", "backups_bucket_name"),
                                                  ("Replica", "replica_bucket_name")])
def test_guarded_keys_skip_the_lockout_check_their_deny_would_trip(
        estate, env, stack_id, bucket_attr):
    # KMS refuses a policy that denies PutKeyPolicy to its own creator unless told to.
    cfg = estate.stages[env].cfg
    key = _bucket_key(estate, env, stack_id, getattr(cfg, bucket_attr))
    assert key["Properties"]["BypassPolicyLockoutSafetyCheck"] is True


@pytest.mark.parametrize("env", ENVS)
def test_no_key_policy_allows_a_key_destroying_action_to_a_named_principal(estate, env):
    # Beyond the account root's default statement, nobody is handed these by a key policy.
    for where, key in _all_keys(estate, env):
        for statement in _statements(key):
            if statement["Effect"] != "Allow" or as_list(statement["Action"]) == ["kms:*"]:
                continue
            assert not set(as_list(statement["Action"])) & set(KEY_DESTROYING_ACTIONS), where


def test_break_glass_role_arn_is_in_the_environments_account(prod_config):
    assert prod_config.break_glass_role_arn == (
        f"arn:aws:iam::{prod_config.account}:role/{prod_config.break_glass_role_name}")


@pytest.mark.parametrize("bad", ["", "has space", "x" * 65, "role/with/slash"])
def test_a_bad_break_glass_role_name_is_rejected_naming_the_field(bad):
    with pytest.raises(ConfigError, match="break_glass_role_name"):
        dataclasses.replace(ENVIRONMENTS["dev"](), break_glass_role_name=bad)


def _policy_statements(template: dict):
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::KMS::Key":
            yield logical_id, props["KeyPolicy"]["Statement"]
        elif resource["Type"] in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy",
                                  "AWS::SNS::TopicPolicy"):
            yield logical_id, props["PolicyDocument"]["Statement"]


@pytest.mark.parametrize("env", ENVS)
def test_no_resource_policy_names_an_iam_role_as_its_principal(estate, env):
    # KMS refuses a key policy whose principal does not exist yet (the reverse replication role
    # is created by the Assets stack, after the Replica stack's key names it) and stores a
    # named principal as its unique id, which a re-created role no longer has. A role is
    # named by an aws:PrincipalArn condition instead.
    checked = 0
    for stack_id in estate.stack_ids(env):
        for logical_id, statements in _policy_statements(estate.template_json(env, stack_id)):
            for statement in statements:
                checked += 1
                principal = statement.get("Principal", {})
                named = as_list(principal.get("AWS", [])) if isinstance(principal, dict) else []
                assert not any(":role/" in json.dumps(p) for p in named), (
                    f"{stack_id}/{logical_id} {statement.get('Sid')}: {named}")
    assert checked > 20


@pytest.mark.parametrize("env", ENVS)
def test_a_locked_backup_vaults_key_is_guarded_like_the_data_it_protects(estate, env):
    # Recovery points are encrypted with the vault's key: a locked vault whose key can be
    # deleted or disabled protects nothing. An unlocked vault (dev) keeps an ordinary key.
    cfg = estate.stages[env].cfg
    template = estate.template_json(env, "Recovery")
    [vault] = resources(template, "AWS::Backup::BackupVault").values()
    key = template["Resources"][vault["Properties"]["EncryptionKeyArn"]["Fn::GetAtt"][0]]
    denies = [s for s in _statements(key) if s["Effect"] == "Deny"
              and "kms:ScheduleKeyDeletion" in as_list(s["Action"])]
    if cfg.recovery.vault_lock:
        assert [d["Condition"] for d in denies] == [
            {"ArnNotEquals": {"aws:PrincipalArn": cfg.break_glass_role_arn}}]
    else:
        assert denies == []
    # And nobody deletes a recovery point or shortens its lifecycle, locked or not.
    [deny] = vault["Properties"]["AccessPolicy"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"}
    assert {"backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"} <= \
        set(as_list(deny["Action"]))


def test_a_break_glass_role_name_with_non_ascii_letters_is_rejected():
    # IAM names are ASCII; \w alone would accept "rôle".
    with pytest.raises(ConfigError, match="break_glass_role_name"):
        dataclasses.replace(ENVIRONMENTS["dev"](), break_glass_role_name="rôle-brisé")


@pytest.mark.parametrize("env", ENVS)
def test_no_key_conditions_eventbridge_on_its_source(estate, env):
    # EventBridge's KMS requests for an encrypted target carry no aws:Source* keys: a key
    # statement conditioned on them refuses every delivery (SNS developer guide, key
    # management). The targets' own policies keep the source conditions.
    found = []
    for where, key in _all_keys(estate, env):
        for statement in _statements(key):
            if statement.get("Principal", {}).get("Service") == "events.amazonaws.com" \
                    and statement["Effect"] == "Allow":
                found.append(where)
                used = {k for test in statement.get("Condition", {}).values() for k in test}
                assert not {k for k in used if k.lower().startswith("aws:source")}, \
                    (where, statement)
    # prod: the gate's three queue keys and the alarm topic's key; dev (no gate): the topic's
    assert len(found) >= (4 if env == "prod" else 1)


@pytest.mark.parametrize("env", ENVS)
def test_only_the_break_glass_role_may_move_or_delete_the_assets_keys_alias(estate, env):
    # The replica's rule back (ReplicaKmsKeyID) and the replication role (kms:ResourceAliases)
    # name the assets key by its alias: moved to another key, replication breaks silently.
    cfg = estate.stages[env].cfg
    key = _bucket_key(estate, env, "Assets", cfg.assets_bucket_name)
    assert {"Sid": "OnlyBreakGlassMayMoveTheAlias", "Effect": "Deny", "Principal": {"AWS": "*"},
            "Action": ["kms:DeleteAlias", "kms:UpdateAlias"], "Resource": "*",
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": cfg.break_glass_role_arn}}
            } in _statements(key)
    # Its policy stays updatable by deploys: no PutKeyPolicy deny, so no lockout bypass.
    assert not any("kms:PutKeyPolicy" in as_list(s["Action"]) for s in _statements(key)
                   if s["Effect"] == "Deny")
    assert "BypassPolicyLockoutSafetyCheck" not in key["Properties"]
