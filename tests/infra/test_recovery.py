"""Recovery: continuous AWS Backup of the assets bucket, a CMK-encrypted (and in prod locked)
vault, a backup role with exactly AWS's documented S3 permissions on this bucket and key, and
the restore tool's Batch Operations role with exactly what an S3PutObjectCopy job needs."""
from __future__ import annotations

import pytest
from helpers import resources as resources_of

from infra.config import ConfigError, EnvironmentConfig, RecoveryConfig

ENVS = ["dev", "prod"]


def _one(template: dict, cfn_type: str) -> dict:
    (resource,) = resources_of(template, cfn_type).values()
    return resource["Properties"]


def _policy_of_role(template: dict, role_name: str) -> list[dict]:
    roles = {lid for lid, r in resources_of(template, "AWS::IAM::Role").items()
             if r["Properties"].get("RoleName") == role_name}
    statements = []
    for policy in resources_of(template, "AWS::IAM::ManagedPolicy").values():
        if {r["Ref"] for r in policy["Properties"]["Roles"]} & roles:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


@pytest.fixture(params=ENVS)
def env(request):
    return request.param


@pytest.fixture
def tpl(estate, env):
    return estate.template_json(env, "Recovery")


@pytest.fixture
def cfg(estate, env):
    return estate.stages[env].cfg


def test_the_plan_backs_up_continuously_for_the_configured_days(tpl, cfg):
    (rule,) = _one(tpl, "AWS::Backup::BackupPlan")["BackupPlan"]["BackupPlanRule"]
    assert rule["EnableContinuousBackup"] is True
    assert rule["Lifecycle"] == {"DeleteAfterDays": cfg.recovery.continuous_backup_days}


def test_the_assets_bucket_keeps_the_eventbridge_delivery_continuous_backup_needs(estate, env,
                                                                                  cfg):
    # AWS Backup turns it on itself; a template without it would turn it off on the next
    # notification change, and continuous backups stop without it.
    (bucket,) = [r for r in resources_of(estate.template_json(env, "Assets"),
                                         "AWS::S3::Bucket").values()
                 if r["Properties"].get("BucketName") == cfg.assets_bucket_name]
    assert bucket["Properties"]["NotificationConfiguration"]["EventBridgeConfiguration"] == {
        "EventBridgeEnabled": True}


def test_the_selection_is_the_assets_bucket_only(tpl, cfg):
    selection = _one(tpl, "AWS::Backup::BackupSelection")["BackupSelection"]
    assert selection["Resources"] == [f"arn:aws:s3:::{cfg.assets_bucket_name}"]


def test_the_vault_is_encrypted_with_its_own_rotating_customer_managed_key(tpl, cfg):
    vault = _one(tpl, "AWS::Backup::BackupVault")
    assert vault["BackupVaultName"] == cfg.backup_vault_name
    key_id = vault["EncryptionKeyArn"]["Fn::GetAtt"][0]
    assert tpl["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True


def test_vault_and_key_are_retained_except_on_a_failed_create(tpl):
    for cfn_type in ("AWS::Backup::BackupVault", "AWS::KMS::Key"):
        for resource in resources_of(tpl, cfn_type).values():
            assert resource["DeletionPolicy"] == "RetainExceptOnCreate"
            assert resource["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize(("environment", "locked"), [("dev", False), ("prod", True)])
def test_the_vault_is_locked_in_prod_only(estate, environment, locked):
    vault = _one(estate.template_json(environment, "Recovery"), "AWS::Backup::BackupVault")
    cfg = estate.stages[environment].cfg
    if not locked:
        assert "LockConfiguration" not in vault
        return
    assert vault["LockConfiguration"] == {
        "MinRetentionDays": cfg.recovery.continuous_backup_days,
        "ChangeableForDays": cfg.recovery.vault_lock_changeable_days}


# The actions of AWS's managed policies, as the AWS Managed Policy reference prints them:
# AWSBackupServiceRolePolicyForS3Backup v4 (2024-05-17) and ...ForS3Restore v2 (2023-02-07).
DOCUMENTED = {
    "S3BucketBackupPermissions": {
        "s3:GetInventoryConfiguration", "s3:PutInventoryConfiguration", "s3:ListBucketVersions",
        "s3:ListBucket", "s3:GetBucketVersioning", "s3:GetBucketNotification",
        "s3:PutBucketNotification", "s3:GetBucketLocation", "s3:GetBucketTagging",
        "s3:GetBucketAcl"},
    "S3ObjectBackupPermissions": {
        "s3:GetObjectAcl", "s3:GetObject", "s3:GetObjectVersionTagging",
        "s3:GetObjectVersionAcl", "s3:GetObjectTagging", "s3:GetObjectVersion"},
    "RecoveryPointTaggingPermissions": {"backup:TagResource"},
    # continuous backup manages its own EventBridge rule, and reads the SSE-KMS objects
    "EventsPermissions": {
        "events:DescribeRule", "events:EnableRule", "events:PutRule", "events:DeleteRule",
        "events:PutTargets", "events:RemoveTargets", "events:ListTargetsByRule",
        "events:DisableRule"},
    "EventsMetricsGlobalPermissions": {"cloudwatch:GetMetricData", "events:ListRules"},
    "S3GlobalPermissions": {"s3:ListAllMyBuckets"},
    "KMSBackupPermissions": {"kms:Decrypt", "kms:DescribeKey"},
    "KMSRestorePermissions": {"kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"},
    "S3BucketRestorePermissions": {
        "s3:CreateBucket", "s3:ListBucketVersions", "s3:ListBucket", "s3:GetBucketVersioning",
        "s3:GetBucketLocation", "s3:PutBucketVersioning", "s3:PutBucketOwnershipControls",
        "s3:GetBucketOwnershipControls"},
    "S3ObjectRestorePermissions": {
        "s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject", "s3:PutObjectVersionAcl",
        "s3:GetObjectVersionAcl", "s3:GetObjectTagging", "s3:PutObjectTagging",
        "s3:GetObjectAcl", "s3:PutObjectAcl", "s3:ListMultipartUploadParts", "s3:PutObject"},
}


def test_the_backup_role_has_exactly_the_documented_backup_and_restore_actions(tpl, cfg):
    statements = _policy_of_role(tpl, cfg.backup_role_name)
    by_sid = {s["Sid"]: s for s in statements}
    for sid, actions in DOCUMENTED.items():
        assert _actions(by_sid[sid]) == actions, sid
    assert set(by_sid) == set(DOCUMENTED)


def test_recovery_points_are_tagged_in_this_account_and_region_only(tpl, cfg):
    (statement,) = [s for s in _policy_of_role(tpl, cfg.backup_role_name)
                    if s["Sid"] == "RecoveryPointTaggingPermissions"]
    assert statement["Resource"] == (f"arn:aws:backup:{cfg.primary_region}:{cfg.account}:"
                                     "recovery-point:*")


def test_only_actions_without_resource_level_permissions_use_a_star(tpl, cfg):
    starred = set().union(*(_actions(s) for s in _policy_of_role(tpl, cfg.backup_role_name)
                            if s["Resource"] == "*"))
    assert starred == {"s3:ListAllMyBuckets", "cloudwatch:GetMetricData", "events:ListRules"}


def test_the_backup_role_uses_the_bucket_key_only_through_s3(tpl, cfg):
    for statement in _policy_of_role(tpl, cfg.backup_role_name):
        if any(a.startswith("kms:") for a in _actions(statement)):
            source = statement["Resource"]["Fn::GetStackOutput"]  # the assets key's ARN
            assert source["StackName"] == f"{cfg.name}-Assets"
            assert "AssetsKey" in source["OutputName"]
            assert statement["Condition"] == {"StringEquals": {
                "kms:ViaService": f"s3.{cfg.primary_region}.amazonaws.com"}}


def test_no_aws_managed_policy_is_attached_to_the_roles(tpl):
    for role in resources_of(tpl, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


def test_the_batch_role_allows_exactly_what_a_versioned_copy_job_needs(tpl, cfg):
    statements = _policy_of_role(tpl, cfg.restore_batch_role_name)
    granted = {(a, str(s["Resource"])) for s in statements for a in _actions(s)}
    objects = f"arn:aws:s3:::{cfg.assets_bucket_name}/*"
    bucket = f"arn:aws:s3:::{cfg.assets_bucket_name}"
    s3_grants = {(a, r) for a, r in granted if a.startswith("s3:")}
    assert s3_grants == {
        *((a, objects) for a in ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging",
                                 "s3:GetObjectVersionTagging", "s3:PutObject",
                                 "s3:PutObjectTagging")),
        ("s3:ListBucket", bucket), ("s3:GetBucketLocation", bucket)}
    assert {a for a, _ in granted if a.startswith("kms:")} == {"kms:Decrypt",
                                                              "kms:GenerateDataKey"}
    assert not any(a.endswith("Acl") or "Delete" in a for a, _ in granted)


def test_only_s3_batch_operations_of_this_account_can_assume_the_batch_role(tpl, cfg):
    (role,) = [r for r in resources_of(tpl, "AWS::IAM::Role").values()
               if r["Properties"]["RoleName"] == cfg.restore_batch_role_name]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "batchoperations.s3.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": cfg.account}}


def test_the_restore_role_arn_is_a_stack_output(tpl):
    assert "RestoreBatchRoleArn" in tpl["Outputs"]


def test_the_tools_batch_threshold_default_matches_the_config_default():
    from tools.restore.cli import DEFAULT_BATCH_THRESHOLD
    assert RecoveryConfig().batch_threshold_keys == DEFAULT_BATCH_THRESHOLD


# ------------------------------------------------------------------ config

@pytest.mark.parametrize(("fields", "named"), [
    ({"continuous_backup_days": 36}, "continuous_backup_days"),
    ({"continuous_backup_days": 0}, "continuous_backup_days"),
    ({"vault_lock_changeable_days": 2}, "vault_lock_changeable_days"),
    ({"batch_threshold_keys": 0}, "batch_threshold_keys"),
    ({"vault_lock": "yes"}, "vault_lock"),
])
def test_bad_recovery_config_names_the_field(fields, named):
    with pytest.raises(ConfigError, match=named):
        RecoveryConfig(**fields)


def test_noncurrent_versions_must_reach_back_as_far_as_the_backups():
    with pytest.raises(ConfigError, match="noncurrent_version_expiration_days"):
        EnvironmentConfig(name="dev", account="111111111111", org="acme",
                          alarm_email="a@b.example", noncurrent_version_expiration_days=31,
                          noncurrent_glacier_ir_after_days=30,
                          recovery=RecoveryConfig(continuous_backup_days=35))


@pytest.mark.parametrize("env", ENVS)
def test_failed_jobs_and_stopped_continuous_backups_reach_the_alarm_topic_and_only_these_rules_publish(
        estate, env):
    cfg = estate.stages[env].cfg
    template = estate.template_json(env, "Monitoring")
    rules = {r["Properties"]["Name"]: r["Properties"]
             for r in resources_of(template, "AWS::Events::Rule").values()
             if r["Properties"].get("Name", "").startswith(f"{cfg.alarm_name_prefix}-backup-")}
    assert sorted(rules) == [f"{cfg.alarm_name_prefix}-backup-jobs-failed",
                             f"{cfg.alarm_name_prefix}-backup-points-stopped"]
    jobs, stopped = (rules[f"{cfg.alarm_name_prefix}-backup-{name}"]
                     for name in ("jobs-failed", "points-stopped"))
    assert jobs["EventPattern"] == {
        "source": ["aws.backup"], "detail-type": ["Backup Job State Change"],
        "detail": {"state": ["FAILED", "ABORTED", "EXPIRED"],
                   "backupVaultName": [cfg.backup_vault_name]}}
    # A continuous backup that stops after its job completed sends no job event: only its
    # recovery point's status says so (AWS Backup's "Recovery point status").
    assert stopped["EventPattern"] == {
        "source": ["aws.backup"], "detail-type": ["Recovery Point State Change"],
        "detail": {"status": ["STOPPED"], "backupVaultName": [cfg.backup_vault_name]}}
    [(topic_id, _)] = resources_of(template, "AWS::SNS::Topic").items()
    for rule in (jobs, stopped):
        [target] = rule["Targets"]
        assert target["Arn"] == {"Ref": topic_id}
        # Every path the message reads is one the rule's event has.
        paths = set(target["InputTransformer"]["InputPathsMap"].values())
        assert paths <= {"$.detail.backupJobId", "$.detail.state", "$.detail.statusMessage",
                         "$.detail.resourceArn"} if rule is jobs else \
            paths <= {"$.resources[0]", "$.detail.resourceArn", "$.detail.status"}
    only_these_rules = {
        "ArnEquals": {"aws:SourceArn": [
            f"arn:aws:events:{cfg.primary_region}:{cfg.account}:rule/{rule['Name']}"
            for rule in (jobs, stopped)]},
        "StringEquals": {"aws:SourceAccount": cfg.account}}
    publishers, key_users = ([s for r in resources_of(template, cfn_type).values()
                              for s in r["Properties"][doc]["Statement"]
                              if s.get("Principal") == {"Service": "events.amazonaws.com"}]
                             for cfn_type, doc in (("AWS::SNS::TopicPolicy", "PolicyDocument"),
                                                   ("AWS::KMS::Key", "KeyPolicy")))
    assert [s["Condition"] for s in publishers] == [only_these_rules]
    # The key's statement has no source conditions: EventBridge's KMS requests carry none
    # (SNS developer guide), so with them every failed job would be lost on the way.
    assert len(key_users) == 1 and "Condition" not in key_users[0]
    [undelivered] = [a["Properties"] for a in resources_of(template, "AWS::CloudWatch::Alarm").values()
                     if a["Properties"]["AlarmName"]
                     == f"{cfg.alarm_name_prefix}-Backup-Events-Undelivered-Critical"]
    assert sorted(m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]
                  for m in undelivered["Metrics"] if "MetricStat" in m) == sorted(rules)
    assert {m["MetricStat"]["Metric"]["MetricName"] for m in undelivered["Metrics"]
            if "MetricStat" in m} == {"FailedInvocations"}
    assert (undelivered["Threshold"], undelivered["TreatMissingData"]) == (0, "notBreaching")
