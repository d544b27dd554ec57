"""The upload gate in the Assets stack: GuardDuty Malware Protection for S3 on the untrusted
prefixes (prod), S3 enforcing the verdict, the pipeline started by the clean verdict, the
verdict function for everything else; and none of it where the gate is off (dev)."""
from __future__ import annotations

import dataclasses
import json

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template
from estate_handlers import object_events, scan_verdict
from helpers import as_list, bucket_named, lifecycle_rules, only, policy_of_bucket, resources

from infra.config import (
    BRANDS,
    DOCUMENTS,
    ORIGINALS,
    PROCESSED,
    THUMBNAILS,
    USER_UPLOADS,
    ConfigError,
    UploadGateConfig,
    UploadGateNames,
)
from infra.constructs import malware_gate
from infra.constructs.cdn import PUBLIC_PREFIXES
from infra.constructs.malware_gate import MalwareGate, split_by_gate
from infra.constructs.upload_hasher import HASHED_PREFIXES
from infra.environments import ENVIRONMENTS
from infra.stage import EstateStage

SCAN_RESULT = "GuardDuty Malware Protection Object Scan Result"
PLAN_PRINCIPAL = "malware-protection-plan.guardduty.amazonaws.com"
TAG = "GuardDutyMalwareScanStatus"
VERDICT_HANDLER = "estate_handlers.scan_verdict.handler"


@pytest.fixture(scope="module")
def prod():
    return ENVIRONMENTS["prod"]()


@pytest.fixture(scope="module")
def assets(estate):
    return estate.template_json("prod", "Assets")


@pytest.fixture(scope="module")
def dev_assets(estate):
    return estate.template_json("dev", "Assets")


def _by_name(template: dict, cfn_type: str, name_key: str, name: str) -> tuple[str, dict]:
    found = [(k, v) for k, v in resources(template, cfn_type).items()
             if v["Properties"].get(name_key) == name]
    assert len(found) == 1, (name, found)
    return found[0]


def _scanner_role(template: dict, prod) -> tuple[str, dict]:
    return _by_name(template, "AWS::IAM::Role", "RoleName", prod.malware_scan_role_name)


def _rule(template: dict, name: str) -> dict:
    return _by_name(template, "AWS::Events::Rule", "Name", name)[1]["Properties"]


def _hasher_queue_id(template: dict) -> str:
    return next(k for k, v in resources(template, "AWS::SQS::Queue").items()
                if k.startswith("UploadHasher") and "RedrivePolicy" in v["Properties"])


def _normal(value):
    """Statements compared as IAM reads them: Action/Resource lists are unordered sets
    (CDK sorts them when it renders)."""
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: (sorted(v, key=json.dumps) if k in ("Action", "Resource")
                    and isinstance(v, list) else _normal(v)) for k, v in value.items()}
    return value


def _gate_statements(template: dict, bucket_name: str) -> dict[str, dict]:
    bucket_id, _ = bucket_named(template, bucket_name)
    return {s["Sid"]: s for s in policy_of_bucket(template, bucket_id) if "Sid" in s}


# ------------------------------------------------------------------------ config

def test_prod_has_the_gate_on_and_dev_off():
    assert ENVIRONMENTS["prod"]().upload_gate.enabled
    assert not ENVIRONMENTS["dev"]().upload_gate.enabled


def test_default_gated_prefixes_are_every_prefix_outsiders_upload_to():
    assert UploadGateConfig().prefixes == (USER_UPLOADS, ORIGINALS, DOCUMENTS, BRANDS)


def test_more_than_five_prefixes_are_rejected_naming_the_field():
    with pytest.raises(ConfigError, match="upload_gate: prefixes .*1 to 5"):
        UploadGateConfig(prefixes=("a/", "b/", "c/", "d/", "e/", "f/"))


@pytest.mark.parametrize("prefix", [PROCESSED, THUMBNAILS, "products/images/"])
def test_rendition_prefixes_cannot_be_gated(prefix):
    with pytest.raises(ConfigError, match="upload_gate: prefixes .*never gated"):
        UploadGateConfig(prefixes=(prefix,))


def test_a_prefix_inside_another_gated_prefix_is_rejected():
    with pytest.raises(ConfigError, match="inside another gated prefix"):
        UploadGateConfig(prefixes=(BRANDS, "brands/media/"))


@pytest.mark.parametrize("prefix", ["brands", "/brands/", "Brands/", ""])
def test_a_prefix_that_is_not_a_folder_is_rejected(prefix):
    with pytest.raises(ConfigError, match="upload_gate: prefixes"):
        UploadGateConfig(prefixes=(prefix,))


def test_quarantine_days_below_one_are_rejected_naming_the_field():
    with pytest.raises(ConfigError, match="quarantine_expiration_days"):
        UploadGateConfig(quarantine_expiration_days=0)


def test_gating_part_of_a_consumer_prefix_is_refused():
    with pytest.raises(ConfigError, match="gate only part of 'brands/'"):
        split_by_gate(HASHED_PREFIXES, ("brands/media/",))


def test_consumer_prefixes_split_into_released_and_notified():
    assert split_by_gate(HASHED_PREFIXES, (USER_UPLOADS, ORIGINALS)) == (
        (ORIGINALS, USER_UPLOADS), (DOCUMENTS, BRANDS))


# ------------------------------------------------------------------------ the plan

def test_plan_protects_the_assets_bucket_gated_prefixes_with_tagging(assets, prod):
    _, plan = only(assets, "AWS::GuardDuty::MalwareProtectionPlan")
    role_id, _ = _scanner_role(assets, prod)
    props = plan["Properties"]
    assert props["ProtectedResource"] == {"S3Bucket": {
        "BucketName": prod.assets_bucket_name, "ObjectPrefixes": list(prod.upload_gate.prefixes)}}
    assert props["Actions"] == {"Tagging": {"Status": "ENABLED"}}
    assert props["Role"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_plan_is_created_after_the_role_has_its_policy(assets, prod):
    plan_id, plan = only(assets, "AWS::GuardDuty::MalwareProtectionPlan")
    role_id, _ = _scanner_role(assets, prod)
    policy_id = next(k for k, v in resources(assets, "AWS::IAM::ManagedPolicy").items()
                     if {"Ref": role_id} in v["Properties"]["Roles"])
    assert policy_id in as_list(plan["DependsOn"])


def test_scanner_role_is_trusted_by_the_malware_protection_plan_service_only(assets, prod):
    _, role = _scanner_role(assets, prod)
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": "sts:AssumeRole", "Effect": "Allow",
        "Principal": {"Service": PLAN_PRINCIPAL}}]
    assert "Policies" not in role["Properties"]
    assert "ManagedPolicyArns" not in role["Properties"]


def test_scanner_role_policy_is_exactly_the_documented_one(assets, prod):
    role_id, _ = _scanner_role(assets, prod)
    (policy,) = [v for v in resources(assets, "AWS::IAM::ManagedPolicy").values()
                 if {"Ref": role_id} in v["Properties"]["Roles"]]
    key_id = next(k for k in resources(assets, "AWS::KMS::Key") if k.startswith("AssetsKey"))
    bucket = f"arn:aws:s3:::{prod.assets_bucket_name}"
    objects = [f"{bucket}/{p}*" for p in prod.upload_gate.prefixes]
    rule = (f"arn:aws:events:{prod.primary_region}:{prod.account}:rule/"
            "DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*")
    assert _normal(policy["Properties"]["PolicyDocument"]) == _normal({
        "Version": "2012-10-17", "Statement": [
        {"Sid": "AllowManagedRuleToSendS3EventsToGuardDuty", "Effect": "Allow",
         "Action": ["events:PutRule", "events:DeleteRule", "events:PutTargets",
                    "events:RemoveTargets"],
         "Resource": rule,
         "Condition": {"StringLike": {"events:ManagedBy": PLAN_PRINCIPAL}}},
        {"Sid": "AllowGuardDutyToMonitorEventBridgeManagedRule", "Effect": "Allow",
         "Action": ["events:DescribeRule", "events:ListTargetsByRule"], "Resource": rule},
        {"Sid": "AllowPostScanTag", "Effect": "Allow",
         "Action": ["s3:PutObjectTagging", "s3:GetObjectTagging", "s3:PutObjectVersionTagging",
                    "s3:GetObjectVersionTagging"],
         "Resource": objects},
        {"Sid": "AllowEnableS3EventBridgeEvents", "Effect": "Allow",
         "Action": ["s3:PutBucketNotification", "s3:GetBucketNotification"], "Resource": bucket},
        {"Sid": "AllowPutValidationObject", "Effect": "Allow", "Action": "s3:PutObject",
         "Resource": f"{bucket}/malware-protection-resource-validation-object"},
        {"Sid": "AllowCheckBucketOwnership", "Effect": "Allow", "Action": "s3:ListBucket",
         "Resource": bucket},
        {"Sid": "AllowMalwareScan", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": objects},
        {"Sid": "AllowDecryptForMalwareScan", "Effect": "Allow",
         "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
         "Resource": {"Fn::GetAtt": [key_id, "Arn"]},
         "Condition": {"StringLike": {
             "kms:ViaService": f"s3.{prod.primary_region}.amazonaws.com"}}},
    ]})


# ------------------------------------------------------------------------ enforcement

def _exempt(role_id: str, prod) -> dict:
    """The conditions that spare the exempt roles: the scanner by its unique id (a session of
    it is "<RoleId>:<session>"; a role created later under its name has another id), and AWS
    Backup's role, which backs up every version and restores earlier ones with their tags, by
    its configured name (it lives in the Recovery stack, deployed later). Not the restore
    tool's Batch role."""
    return {"StringNotLike": {"aws:userid": [
                {"Fn::Join": ["", [{"Fn::GetAtt": [role_id, "RoleId"]}, ":*"]]}]},
            "ArnNotEquals": {"aws:PrincipalArn": [
                f"arn:aws:iam::{prod.account}:role/{prod.backup_role_name}"]}}


def test_reads_of_gated_objects_are_denied_unless_tagged_clean_except_for_the_scanner(
        assets, prod):
    role_id, _ = _scanner_role(assets, prod)
    deny = _gate_statements(assets, prod.assets_bucket_name)["DenyReadsUntilScannedClean"]
    assert _normal(deny) == _normal({
        "Sid": "DenyReadsUntilScannedClean", "Effect": "Deny", "Principal": {"AWS": "*"},
        "Action": ["s3:GetObject", "s3:GetObjectVersion"],
        "Resource": [f"arn:aws:s3:::{prod.assets_bucket_name}/{p}*"
                     for p in prod.upload_gate.prefixes],
        "Condition": {"StringNotEquals": {f"s3:ExistingObjectTag/{TAG}": "NO_THREATS_FOUND"},
                      **_exempt(role_id, prod)},
    })


def test_nobody_but_the_scanner_can_tag_an_unclean_object_clean(assets, prod):
    role_id, _ = _scanner_role(assets, prod)
    deny = _gate_statements(assets, prod.assets_bucket_name)[
        "DenyCleanVerdictFromAnyoneButTheScanner"]
    assert (deny["Effect"], deny["Action"]) == (
        "Deny", ["s3:PutObjectTagging", "s3:PutObjectVersionTagging"])
    assert deny["Condition"] == {
        "StringEquals": {f"s3:RequestObjectTag/{TAG}": "NO_THREATS_FOUND"},
        "StringNotEquals": {f"s3:ExistingObjectTag/{TAG}": "NO_THREATS_FOUND"},
        **_exempt(role_id, prod)}


def test_nobody_but_the_scanner_can_upload_an_object_carrying_a_verdict(assets, prod):
    deny = _gate_statements(assets, prod.assets_bucket_name)["DenyUploadsCarryingAScanVerdict"]
    assert (deny["Effect"], deny["Action"]) == ("Deny", "s3:PutObject")
    assert deny["Condition"]["Null"] == {f"s3:RequestObjectTag/{TAG}": "false"}
    role_id, _ = _scanner_role(assets, prod)
    assert deny["Condition"] == {"Null": {f"s3:RequestObjectTag/{TAG}": "false"},
                                 **_exempt(role_id, prod)}


def test_the_scanner_is_exempt_by_its_unique_id_never_by_its_name(assets, prod):
    # Matching the name would exempt any role later created under it (after a deletion).
    role_id, _ = _scanner_role(assets, prod)
    by_name = (f"role/{prod.malware_scan_role_name}", json.dumps({"Fn::GetAtt": [role_id, "Arn"]}))
    for deny in _gate_statements(assets, prod.assets_bucket_name).values():
        if deny["Effect"] == "Deny":
            condition = json.dumps(deny["Condition"])
            assert not any(name in condition for name in by_name), deny["Sid"]


def test_the_exempt_restorer_is_the_backup_role_the_recovery_stack_creates(estate, prod):
    # AWS Backup restores "object data, tags": a restored clean version carries its verdict.
    recovery = estate.template_json("prod", "Recovery")
    names = {r["Properties"]["RoleName"] for r in resources(recovery, "AWS::IAM::Role").values()}
    assert prod.backup_role_name in names


def test_the_restore_batch_role_is_exempt_from_no_gate_deny(assets, prod):
    # Anyone who may create a Batch Operations job and pass this role would otherwise read,
    # copy or re-tag unscanned and infected versions. It copies clean versions only, which
    # no deny stops.
    batch_role = f"arn:aws:iam::{prod.account}:role/{prod.restore_batch_role_name}"
    statements = _gate_statements(assets, prod.assets_bucket_name)
    denies = [s for s in statements.values() if s["Effect"] == "Deny"]
    assert len(denies) == 3
    for deny in denies:
        assert batch_role not in json.dumps(deny["Condition"]), deny["Sid"]


def test_replication_reads_are_not_touched_by_the_gate(assets, prod):
    denies = [s for s in _gate_statements(assets, prod.assets_bucket_name).values()
              if s["Effect"] == "Deny"]
    assert denies  # the gate's denies exist: the checks below have something to hold
    for statement in denies:
        actions = as_list(statement["Action"])
        assert "s3:GetObjectVersionForReplication" not in actions
        assert not any(a.endswith("*") for a in actions)


def test_renditions_the_cdn_serves_are_outside_every_gated_prefix(prod):
    renditions = [p for p in PUBLIC_PREFIXES if p in (PROCESSED, THUMBNAILS)]
    assert renditions
    for served in renditions:
        assert not any(served.startswith(g) for g in prod.upload_gate.prefixes)



def test_the_bucket_keeps_eventbridge_delivery_guardduty_relies_on(assets, prod):
    _, bucket = bucket_named(assets, prod.assets_bucket_name)
    notifications = bucket["Properties"]["NotificationConfiguration"]
    assert notifications == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}


def test_quarantined_versions_expire_after_the_configured_days(assets, prod):
    _, bucket = bucket_named(assets, prod.assets_bucket_name)
    rule = lifecycle_rules(bucket)["expire-quarantined"]
    days = prod.upload_gate.quarantine_expiration_days
    assert rule["TagFilters"] == [{"Key": "quarantine", "Value": "true"}]
    assert (rule["ExpirationInDays"], rule["NoncurrentVersionExpiration"]) == (
        days, {"NoncurrentDays": days})


# ------------------------------------------------------------------------ the two triggers

def test_gate_on_clean_verdicts_release_the_hasher_queue(assets, prod):
    rule = _rule(assets, prod.upload_gate_names.release_rule("Hasher"))
    assert rule["EventPattern"] == {
        "source": ["aws.guardduty"], "detail-type": [SCAN_RESULT],
        "detail": {"s3ObjectDetails": {"bucketName": [prod.assets_bucket_name],
                                       "objectKey": [{"prefix": p} for p in HASHED_PREFIXES]},
                   "scanResultDetails": {"scanResultStatus": ["NO_THREATS_FOUND"]}}}
    assert rule["Targets"] == [{"Id": "Queue",
                                "Arn": {"Fn::GetAtt": [_hasher_queue_id(assets), "Arn"]}}]


def test_gate_on_only_the_release_rule_may_send_to_the_hasher_queue(assets, prod):
    queue_id = _hasher_queue_id(assets)
    (policy,) = [v for v in resources(assets, "AWS::SQS::QueuePolicy").values()
                 if v["Properties"]["Queues"] == [{"Ref": queue_id}]]
    allows = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
              if s["Effect"] == "Allow"]
    rule_arn = (f"arn:aws:events:{prod.primary_region}:{prod.account}:rule/"
                + prod.upload_gate_names.release_rule("Hasher"))
    assert allows == [{"Sid": "EventBridgeRuleReleaseHasherSends", "Effect": "Allow",
                       "Principal": {"Service": "events.amazonaws.com"},
                       "Action": "sqs:SendMessage",
                       "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
                       "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]


def test_gate_on_the_hasher_queue_key_lets_eventbridge_encrypt_for_the_queue(assets, prod):
    # Without source conditions: EventBridge's KMS requests carry none (encryption.py); the
    # queue policy above limits sending to the release rule.
    queue = assets["Resources"][_hasher_queue_id(assets)]
    key = assets["Resources"][queue["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]]
    services = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                if "Service" in s.get("Principal", {})]
    assert _normal(services) == _normal([{
        "Sid": "EventBridgeRuleReleaseHasherEncrypts", "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*"}])


def test_gate_off_s3_notifies_the_hasher_queue_and_no_gate_exists(dev_assets):
    cfg = ENVIRONMENTS["dev"]()
    _, bucket = bucket_named(dev_assets, cfg.assets_bucket_name)
    configs = bucket["Properties"]["NotificationConfiguration"]
    # Originals reach the hasher (and the renditions queue) through the originals topic.
    assert sorted(c["Filter"]["S3Key"]["Rules"][0]["Value"]
                  for c in configs["QueueConfigurations"]) \
        == sorted(p for p in HASHED_PREFIXES if p != ORIGINALS)
    assert [c["Filter"]["S3Key"]["Rules"][0]["Value"]
            for c in configs["TopicConfigurations"]] == [ORIGINALS]
    # Not for a gate: AWS Backup's continuous backup needs EventBridge delivery everywhere.
    assert configs["EventBridgeConfiguration"] == {"EventBridgeEnabled": True}
    assert not resources(dev_assets, "AWS::GuardDuty::MalwareProtectionPlan")
    assert not resources(dev_assets, "AWS::Events::Rule")
    assert "expire-quarantined" not in lifecycle_rules(bucket)
    bucket_id, _ = bucket_named(dev_assets, cfg.assets_bucket_name)
    assert not any("ExistingObjectTag" in json.dumps(s)
                   for s in policy_of_bucket(dev_assets, bucket_id))


# ------------------------------------------------------------------------ verdicts

def test_every_result_but_clean_goes_to_the_verdict_queue(assets, prod):
    rule = _rule(assets, prod.upload_gate_names.not_clean_rule)
    assert rule["EventPattern"]["detail"] == {
        "s3ObjectDetails": {"bucketName": [prod.assets_bucket_name],
                            "objectKey": [{"prefix": p} for p in prod.upload_gate.prefixes]},
        "scanResultDetails": {"scanResultStatus": [{"anything-but": ["NO_THREATS_FOUND"]}]}}
    (target,) = rule["Targets"]
    queue_id = target["Arn"]["Fn::GetAtt"][0]
    assert queue_id.startswith("UploadGateVerdictQueue")
    mappings = [v["Properties"] for v in resources(assets, "AWS::Lambda::EventSourceMapping")
                .values() if v["Properties"]["EventSourceArn"] == target["Arn"]]
    (function,) = [v for k, v in resources(assets, "AWS::Lambda::Function").items()
                   if {"Ref": k} == mappings[0]["FunctionName"]]
    assert function["Properties"]["Handler"] == VERDICT_HANDLER
    assert mappings[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_scans_whose_tag_could_not_be_written_go_to_the_verdict_queue(assets, prod):
    verdicts = _rule(assets, prod.upload_gate_names.not_clean_rule)
    rule = _rule(assets, prod.upload_gate_names.tagging_failed_rule)
    assert rule["EventPattern"] == {
        "source": ["aws.guardduty"],
        "detail-type": ["GuardDuty Malware Protection Post Scan Action Failed"],
        "detail": {"s3ObjectDetails": {
            "bucketName": [prod.assets_bucket_name],
            "objectKey": [{"prefix": p} for p in prod.upload_gate.prefixes]}}}
    assert rule["Targets"] == [{"Id": "Queue", "Arn": verdicts["Targets"][0]["Arn"]}]


def test_only_the_two_verdict_rules_may_send_to_the_verdict_queue_and_use_its_key(assets, prod):
    queue_id = _rule(assets, prod.upload_gate_names.not_clean_rule)["Targets"][0]["Arn"][
        "Fn::GetAtt"][0]
    rules = [f"arn:aws:events:{prod.primary_region}:{prod.account}:rule/{name}"
             for name in (prod.upload_gate_names.not_clean_rule,
                          prod.upload_gate_names.tagging_failed_rule)]
    (policy,) = [v for v in resources(assets, "AWS::SQS::QueuePolicy").values()
                 if v["Properties"]["Queues"] == [{"Ref": queue_id}]]
    senders = [s["Condition"]["ArnEquals"]["aws:SourceArn"]
               for s in policy["Properties"]["PolicyDocument"]["Statement"]
               if s["Effect"] == "Allow" and s["Action"] == "sqs:SendMessage"]
    assert sorted(senders) == sorted(rules)
    queue = assets["Resources"][queue_id]
    key = assets["Resources"][queue["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]]
    # One key statement per rule, unconditioned: EventBridge's KMS requests carry no source.
    encrypters = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                  if s.get("Principal", {}).get("Service") == "events.amazonaws.com"]
    assert len(encrypters) == 2 and not any("Condition" in s for s in encrypters)


def test_verdict_function_publishes_to_the_alarm_topic_by_its_derived_arn(assets, prod):
    (function,) = [v for v in resources(assets, "AWS::Lambda::Function").values()
                   if v["Properties"]["Handler"] == VERDICT_HANDLER]
    topic = f"arn:aws:sns:{prod.primary_region}:{prod.account}:{prod.alarm_topic_name}"
    assert function["Properties"]["Environment"]["Variables"]["ALARM_TOPIC_ARN"] == topic


def test_verdict_function_may_tag_but_never_read_bytes_or_delete(assets):
    (function,) = [v for v in resources(assets, "AWS::Lambda::Function").values()
                   if v["Properties"]["Handler"] == VERDICT_HANDLER]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    (policy,) = [v for v in resources(assets, "AWS::IAM::ManagedPolicy").values()
                 if {"Ref": role_id} in v["Properties"]["Roles"]]
    actions = {a for s in policy["Properties"]["PolicyDocument"]["Statement"]
               for a in as_list(s["Action"])}
    assert {"s3:PutObjectTagging", "sns:Publish"} <= actions
    assert not {a for a in actions if a in ("s3:GetObject", "s3:GetObjectVersion")
                or "Delete" in a and a.startswith("s3:")}


def test_verdict_function_can_tell_a_deleted_version_from_a_forbidden_one(assets, prod):
    # S3 answers 404 (NoSuchVersion) rather than 403 only to a caller allowed s3:ListBucket;
    # without a condition: a tagging request carries no s3:prefix.
    (function,) = [v for v in resources(assets, "AWS::Lambda::Function").values()
                   if v["Properties"]["Handler"] == VERDICT_HANDLER]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    (policy,) = [v for v in resources(assets, "AWS::IAM::ManagedPolicy").values()
                 if {"Ref": role_id} in v["Properties"]["Roles"]]
    [listing] = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
                 if "s3:ListBucket" in as_list(s["Action"])]
    assert listing["Resource"] == f"arn:aws:s3:::{prod.assets_bucket_name}"
    assert "Condition" not in listing


def test_alarm_topic_name_is_the_one_the_monitoring_stack_creates(estate, prod):
    template = estate.template_json("prod", "Monitoring")
    _, topic = only(template, "AWS::SNS::Topic")
    assert topic["Properties"]["TopicName"] == prod.alarm_topic_name


# ------------------------------------------------------------------------ release_to

def _gate_stack():
    stack = Stack(App(), "T", env={"account": "123456789012", "region": "us-east-1"})
    bucket = s3.Bucket(stack, "B", bucket_name="bkt")
    gate = MalwareGate(stack, "G", names=UploadGateNames("t-gate"), bucket=bucket,
                       bucket_name="bkt", bucket_key=kms.Key(stack, "K"),
                       prefixes=(USER_UPLOADS,), scanner_role_name="scan",
                       alarm_topic_name="t-alarms", alarm_topic_key_alias="alias/t-alarms",
                       reserved_concurrency=2, log_retention_days=7)
    return stack, gate


def test_release_to_refuses_prefixes_the_gate_does_not_scan():
    stack, gate = _gate_stack()
    queue_key = kms.Key(stack, "QK")
    queue = sqs.Queue(stack, "Q", encryption_master_key=queue_key)
    with pytest.raises(ConfigError, match="only be released for gated prefixes"):
        gate.release_to("Renditions", queue, queue_key, (ORIGINALS,))


# ------------------------------------------------------------------------ monitoring

def _alarms(estate, env: str) -> dict[str, dict]:
    template = estate.template_json(env, "Monitoring")
    return {v["Properties"]["AlarmName"]: v["Properties"]
            for v in resources(template, "AWS::CloudWatch::Alarm").values()}


def _metric(alarm: dict, metric_id: str = "m1") -> dict:
    return next(m for m in alarm["Metrics"] if m["Id"] == metric_id)["MetricStat"]["Metric"]


@pytest.mark.parametrize(("name", "metric"), [("Threats-Found", "InfectedScanCount"),
                                              ("Scans-Failed", "FailedScanCount")])
def test_guardduty_scan_metrics_of_the_plan_alarm_on_any_occurrence(estate, prod, name, metric):
    alarm = _alarms(estate, "prod")[f"{prod.alarm_name_prefix}-UploadGate-{name}-Critical"]
    watched = _metric(alarm)
    assert (watched["Namespace"], watched["MetricName"]) == (
        "AWS/GuardDuty/MalwareProtection", metric)
    dims = {d["Name"]: d["Value"] for d in watched["Dimensions"]}
    assert dims["Resource Name"] == prod.assets_bucket_name
    assert "MalwareProtectionPlanId" in json.dumps(dims["Malware Protection Plan Id"])
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_unscanned_backlog_is_gated_uploads_minus_verdicts(estate, prod):
    alarm = _alarms(estate, "prod")[f"{prod.alarm_name_prefix}-UploadGate-Unscanned-Backlog-Critical"]
    (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
    assert expression["Expression"] == "FILL(uploads, 0) - FILL(completed, 0) - FILL(failed, 0)"
    assert _metric(alarm, "uploads") == {
        "Namespace": "AWS/Events", "MetricName": "MatchedEvents",
        "Dimensions": [{"Name": "RuleName", "Value": prod.upload_gate_names.uploads_rule}]}
    assert [_metric(alarm, i)["MetricName"] for i in ("completed", "failed")] == [
        "CompletedScanCount", "FailedScanCount"]
    assert alarm["Threshold"] == prod.upload_gate.unscanned_backlog_threshold
    assert alarm["EvaluationPeriods"] == prod.monitoring.sustained_periods


def test_the_counting_rule_matches_new_objects_under_the_gated_prefixes(assets, prod):
    rule = _rule(assets, prod.upload_gate_names.uploads_rule)
    assert rule["EventPattern"] == {
        "source": ["aws.s3"], "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [prod.assets_bucket_name]},
                   "object": {"key": [{"prefix": p} for p in prod.upload_gate.prefixes]}}}


def test_verdict_function_and_queue_have_the_estate_alarms(estate, prod):
    names = set(_alarms(estate, "prod"))
    prefix = prod.alarm_name_prefix
    assert {f"{prefix}-ScanVerdict-Fault-Count-Critical",
            f"{prefix}-VerdictQueue-DLQ-Queue-Message-Count-Max-Critical"} <= names


def test_gate_off_has_no_gate_alarms(estate):
    assert not [n for n in _alarms(estate, "dev") if "UploadGate" in n or "Verdict" in n]


def test_replicas_of_gated_uploads_are_unreadable_until_tagged_clean_without_exception(
        estate, prod):
    template = estate.template_json("prod", "Replica")
    statements = _gate_statements(template, prod.replica_bucket_name)
    deny = statements["DenyReadsUntilScannedClean"]
    assert deny["Condition"] == {
        "StringNotEquals": {f"s3:ExistingObjectTag/{TAG}": "NO_THREATS_FOUND"}}
    assert sorted(deny["Resource"]) == sorted(
        f"arn:aws:s3:::{prod.replica_bucket_name}/{p}*" for p in prod.upload_gate.prefixes)
    replicated_with = {a for s in statements.values() for a in as_list(s["Action"])}
    assert not replicated_with & {"s3:ReplicateObject", "s3:ReplicateTags"}


def test_gate_off_the_replica_has_no_scan_condition(estate):
    cfg = ENVIRONMENTS["dev"]()
    template = estate.template_json("dev", "Replica")
    bucket_id, _ = bucket_named(template, cfg.replica_bucket_name)
    assert "ExistingObjectTag" not in json.dumps(policy_of_bucket(template, bucket_id))


def test_the_gate_and_the_verdict_handler_agree_on_event_names_and_the_topic_variable():
    assert object_events.SCAN_RESULT == malware_gate.SCAN_RESULT
    assert object_events.POST_SCAN_ACTION_FAILED == malware_gate.POST_SCAN_ACTION_FAILED
    assert object_events.GUARDDUTY == malware_gate.GUARDDUTY
    assert scan_verdict.TOPIC_ENV == malware_gate.TOPIC_ENV


# ------------------------------------------------------------- rollout over stored objects

def test_while_stored_objects_are_scanned_only_versions_found_not_clean_are_held(
        estate, assets, prod):
    rollout = dataclasses.replace(prod, upload_gate=dataclasses.replace(
        prod.upload_gate, hold_unscanned=False))
    stage = EstateStage(App(), rollout)
    templates = {s.node.id: Template.from_stack(s).to_json() for s in stage.stacks
                 if s.node.id in ("Assets", "Replica", "UploadApi", f"UploadApi-{prod.replica_region}")}
    tag = f"s3:ExistingObjectTag/{TAG}"
    for stack, bucket in (("Assets", prod.assets_bucket_name),
                          ("Replica", prod.replica_bucket_name)):
        held = _gate_statements(estate.template_json("prod", stack), bucket)
        rolling = _gate_statements(templates[stack], bucket)
        # Only the read deny changes: a version without a verdict is no longer held back ...
        assert "DenyReadsUntilScannedClean" in held and "DenyReadsUntilScannedClean" not in rolling
        deny = rolling["DenyReadsOfVersionsFoundNotClean"]
        assert deny["Condition"]["Null"] == {tag: "false"}
        assert deny["Condition"]["StringNotEquals"] == {tag: "NO_THREATS_FOUND"}
        assert _normal({k: v for k, v in deny.items() if k not in ("Sid", "Condition")}) == \
            _normal({k: v for k, v in held["DenyReadsUntilScannedClean"].items()
                     if k not in ("Sid", "Condition")})
        # ... and the verdict stays the scanner's to write.
        assert {s: _normal(v) for s, v in rolling.items() if "Reads" not in s} == \
            {s: _normal(v) for s, v in held.items() if "Reads" not in s}
    for stack in ("UploadApi", f"UploadApi-{prod.replica_region}"):
        [env] = [f["Properties"]["Environment"]["Variables"]
                 for f in resources(templates[stack], "AWS::Lambda::Function").values()
                 if "SCAN_GATED_PREFIXES" in f["Properties"].get("Environment", {}).get(
                     "Variables", {})]
        assert env["SCAN_HOLDS_UNSCANNED"] == "false"
    held_env = [f["Properties"]["Environment"]["Variables"] for f in resources(
        estate.template_json("prod", "UploadApi"), "AWS::Lambda::Function").values()
        if "SCAN_GATED_PREFIXES" in f["Properties"].get("Environment", {}).get("Variables", {})]
    assert held_env and all("SCAN_HOLDS_UNSCANNED" not in env for env in held_env)


def test_hold_unscanned_must_be_a_boolean():
    with pytest.raises(ConfigError, match="upload_gate: hold_unscanned must be true or false"):
        UploadGateConfig(enabled=True, hold_unscanned="no")


def test_every_rule_delivering_to_a_queue_is_watched_for_events_it_failed_to_deliver(
        estate, assets, prod):
    # A queue or key policy that refuses EventBridge drops every verdict silently: the rule
    # only counts it as FailedInvocations.
    delivering = sorted(r["Properties"]["Name"]
                        for r in resources(assets, "AWS::Events::Rule").values()
                        if r["Properties"].get("Targets"))
    assert len(delivering) == 4  # not clean, tagging failed, release to hasher and renditions
    alarm = _alarms(estate, "prod")[f"{prod.alarm_name_prefix}-UploadGate-Events-Undelivered-Critical"]
    watched = sorted(m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]
                     for m in alarm["Metrics"] if "MetricStat" in m
                     and m["MetricStat"]["Metric"]["MetricName"] == "FailedInvocations"
                     and m["MetricStat"]["Metric"]["Namespace"] == "AWS/Events")
    assert watched == delivering
    (expression,) = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]
    assert expression == " + ".join(f"FILL(m{i}, 0)" for i in range(4))
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["TreatMissingData"]) == \
        (0, "GreaterThanThreshold", "notBreaching")
