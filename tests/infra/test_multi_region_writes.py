"""Writes survive a primary-region outage: the write path exists in both regions with the same
policies, keys, gate and alarms; one upload hostname fails over between them; the two buckets
replicate both ways."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template
from estate_handlers import replica_guard
from helpers import account_principal, bucket_named, key_of_bucket, policy_of_bucket, resources

from infra.app_builder import configs_from_context
from infra.config import ConfigError
from infra.constructs import dedup_replica
from infra.constructs.replication import REVERSE_RULE_ID, RTC_MINUTES, RULE_ID
from infra.constructs.write_alarms import REVERSE_ALARM_GROUP
from infra.environments import dev
from infra.nag import acknowledgements
from infra.stacks.replica_stack import ReplicaStack
from infra.stage import EstateStage

ENVS = ["dev", "prod"]
PRIMARY, SECONDARY = "UploadApi", "UploadApi-us-west-2"


@pytest.fixture(params=ENVS)
def env(request):
    return request.param


def _cfg(estate, env):
    return estate.stages[env].cfg


def _function(template: dict, handler: str) -> tuple[str, dict]:
    [found] = [(k, f) for k, f in resources(template, "AWS::Lambda::Function").items()
               if f["Properties"]["Handler"] == handler]
    return found


def _policy_of(template: dict, function: dict) -> list[dict]:
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    [policy] = [p for p in resources(template, "AWS::IAM::ManagedPolicy").values()
                if {"Ref": role} in p["Properties"]["Roles"]]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _normalized(statements: list[dict], cfg, bucket: str, region: str) -> str:
    """The statements with this region's own names replaced by placeholders: the bucket and
    region by name; a key or the dedup table, referenced differently in each stack (a key of
    each region, the table by its looked-up name), by one placeholder."""
    def resource(value):
        # the statement's Sid says which (ReadDedupIndex, UseAssetsKeyViaS3, ...)
        return "<REFERENCE>" if "Fn::" in json.dumps(value) else value

    plain = [{**st, "Resource": ([resource(r) for r in st["Resource"]]
                                 if isinstance(st["Resource"], list)
                                 else resource(st["Resource"]))} for st in statements]
    return json.dumps(plain, sort_keys=True).replace(bucket, "<BUCKET>").replace(region,
                                                                                  "<REGION>")


# ----------------------------------------------------------------------- the write path twice

def test_each_region_has_a_write_path_in_its_own_region(estate, env):
    cfg = _cfg(estate, env)
    assert estate.stack(env, PRIMARY).region == cfg.primary_region
    assert estate.stack(env, SECONDARY).region == cfg.replica_region == "us-west-2"


@pytest.mark.parametrize("stack_id, bucket_attr", [(PRIMARY, "assets_bucket_name"),
                                                   (SECONDARY, "replica_bucket_name")])
def test_each_region_signs_only_for_the_bucket_in_its_own_region(estate, env, stack_id,
                                                                 bucket_attr):
    cfg = _cfg(estate, env)
    template = estate.template_json(env, stack_id)
    own = getattr(cfg, bucket_attr)
    other = cfg.replica_bucket_name if own == cfg.assets_bucket_name else cfg.assets_bucket_name
    _, presign = _function(template, "estate_handlers.presign.handler")
    assert presign["Properties"]["Environment"]["Variables"]["ASSETS_BUCKET_NAME"] == own
    text = json.dumps(template)
    assert f"arn:aws:s3:::{own}/" in text
    assert f"arn:aws:s3:::{other}/" not in text and f"arn:aws:s3:::{other}\"" not in text


@pytest.mark.parametrize("handler", ["estate_handlers.presign.handler",
                                     "estate_handlers.write_health.handler"])
def test_both_regions_grant_their_functions_the_same_permissions(estate, env, handler):
    cfg = _cfg(estate, env)
    sides = []
    for stack_id, bucket, region in ((PRIMARY, cfg.assets_bucket_name, cfg.primary_region),
                                     (SECONDARY, cfg.replica_bucket_name, cfg.replica_region)):
        template = estate.template_json(env, stack_id)
        _, function = _function(template, handler)
        statements = _policy_of(template, function)
        if stack_id == PRIMARY and handler == "estate_handlers.presign.handler":
            # Restores from archive tiers: only the assets bucket has them (below).
            [restore] = [st for st in statements if st["Sid"] == "RestoreFromArchiveTiers"]
            statements = [st for st in statements if st is not restore]
        sides.append(_normalized(statements, cfg, bucket, region))
    assert sides[0] == sides[1]


def test_only_the_bucket_with_archive_tiers_lets_its_presign_function_restore(estate, env):
    # The presign function asks S3 to restore a version in an Intelligent-Tiering archive
    # tier. The replica bucket tiers nothing (replication writes STANDARD_IA), so its
    # function may not; should the replica ever get archive tiers, this says so.
    cfg = _cfg(estate, env)
    for stack_id, bucket_stack, bucket_name, restores in (
            (PRIMARY, "Assets", cfg.assets_bucket_name, True),
            (SECONDARY, "Replica", cfg.replica_bucket_name, False)):
        _, bucket = bucket_named(estate.template_json(env, bucket_stack), bucket_name)
        archive_tiers = [tier for c in bucket["Properties"].get(
            "IntelligentTieringConfigurations", []) for tier in c.get("Tierings", [])]
        assert bool(archive_tiers) == restores, bucket_name
        template = estate.template_json(env, stack_id)
        _, function = _function(template, "estate_handlers.presign.handler")
        actions = {a for st in _policy_of(template, function)
                   for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}
        assert ("s3:RestoreObject" in actions) == restores, stack_id


def test_both_regions_configure_their_functions_the_same_way(estate, env):
    cfg = _cfg(estate, env)
    primary = _function(estate.template_json(env, PRIMARY), "estate_handlers.presign.handler")[1]
    secondary = _function(estate.template_json(env, SECONDARY),
                          "estate_handlers.presign.handler")[1]
    for name in ("Runtime", "MemorySize", "Timeout", "ReservedConcurrentExecutions",
                 "Architectures"):
        assert primary["Properties"][name] == secondary["Properties"][name], name
    env_vars = [f["Properties"]["Environment"]["Variables"] for f in (primary, secondary)]
    for name in ("UPLOAD_POLICY", "SCAN_GATED_PREFIXES"):
        assert env_vars[0][name] == env_vars[1][name], name
    assert env_vars[1]["SCAN_GATED_PREFIXES"] == ",".join(cfg.upload_gate.gated_prefixes)


def test_the_replica_region_reads_a_global_table_replica_of_the_pinned_dedup_index(estate, env):
    cfg = _cfg(estate, env)
    template = estate.template_json(env, SECONDARY)
    calls = {k: r["Properties"] for k, r in resources(template, "Custom::AWS").items()}
    lookup = next(json.loads(p["Create"]) for p in calls.values()
                  if isinstance(p["Create"], str) and "describeStackResource" in p["Create"])
    pinned = json.loads((Path(__file__).parent / "stateful_logical_ids.json").read_text())
    assert f"{lookup['parameters']['LogicalResourceId']} (AWS::DynamoDB::Table)" in \
        pinned[f"{env}/Assets"]
    assert lookup["parameters"]["StackName"] == f"{env}-Assets"
    assert lookup["region"] == cfg.primary_region
    [replica] = [p for p in calls.values() if "ReplicaUpdates" in json.dumps(p["Create"])]
    create = json.dumps(replica["Create"])
    assert '\\"RegionName\\":\\"us-west-2\\"' in create and "updateTable" in create
    [key_id] = re.findall(r'\{"Fn::GetAtt": \["(DedupIndexKey[A-Z0-9]+)", "Arn"\]\}', create)
    assert template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    # Nothing is called on delete: the replica stays, like every stateful resource.
    assert "Delete" not in replica
    _, presign = _function(template, "estate_handlers.presign.handler")
    assert presign["Properties"]["Environment"]["Variables"]["DEDUP_TABLE_NAME"] == {
        "Fn::GetAtt": [next(k for k, p in calls.items() if "describeStackResource"
                            in json.dumps(p["Create"])), "StackResourceDetail.PhysicalResourceId"]}


def test_the_replica_call_may_do_what_dynamodb_documents_for_adding_a_replica(estate, env):
    # "Using IAM with global tables" (2019.11.21): UpdateTable in the source region; CreateTable,
    # CreateTableReplica and the item actions in the destination region.
    template = estate.template_json(env, SECONDARY)
    [policy] = [p["Properties"] for k, p in resources(template, "AWS::IAM::Policy").items()
                if k.startswith("DedupIndexReplicaCustomResourcePolicy")]
    [tables] = [st for st in policy["PolicyDocument"]["Statement"]
                if "dynamodb:CreateTableReplica" in st["Action"]]
    assert {"dynamodb:UpdateTable", "dynamodb:CreateTable", "dynamodb:CreateTableReplica",
            "dynamodb:Scan", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem",
            "dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} <= \
        set(tables["Action"])
    account = _cfg(estate, env).account
    assert [r["Fn::Join"][1][0] for r in tables["Resource"]] == [
        f"arn:aws:dynamodb:us-east-1:{account}:table/",
        f"arn:aws:dynamodb:us-west-2:{account}:table/"]


def test_an_hourly_guard_protects_the_dedup_replica_and_may_touch_nothing_else(estate, env):
    template = estate.template_json(env, SECONDARY)
    key, guard = _function(template, "estate_handlers.replica_guard.handler")
    lookup = next(k for k, r in resources(template, "Custom::AWS").items()
                  if "describeStackResource" in json.dumps(r["Properties"]["Create"]))
    table_name = {"Fn::GetAtt": [lookup, "StackResourceDetail.PhysicalResourceId"]}
    assert guard["Properties"]["Environment"]["Variables"]["DEDUP_TABLE_NAME"] == table_name
    assert guard["Properties"]["ReservedConcurrentExecutions"] == 1
    [rule] = [r["Properties"] for r in resources(template, "AWS::Events::Rule").values()
              if {"Fn::GetAtt": [key, "Arn"]} in [t["Arn"] for t in r["Properties"]["Targets"]]]
    assert rule["ScheduleExpression"] == "rate(1 hour)" and rule["State"] == "ENABLED"
    [target] = rule["Targets"]
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 2}
    own, logs = _policy_of(template, guard)
    assert own["Sid"] == "ProtectTheReplica" and logs["Sid"] == "WriteOwnLogs"
    assert sorted(own["Action"]) == ["dynamodb:DescribeContinuousBackups",
                                     "dynamodb:DescribeTable",
                                     "dynamodb:UpdateContinuousBackups", "dynamodb:UpdateTable"]
    # this region's replica only: never the primary's table
    assert json.dumps(own["Resource"]).count("us-west-2") == 1
    assert "us-east-1" not in json.dumps(own["Resource"]) and lookup in json.dumps(own["Resource"])
    # only the replica region's stack has one
    assert not [f for f in resources(estate.template_json(env, PRIMARY),
                                      "AWS::Lambda::Function").values()
                if f["Properties"]["Handler"] == "estate_handlers.replica_guard.handler"]


def test_a_replica_left_unprotected_for_a_day_raises_an_alarm_in_its_region(estate, env):
    template = estate.template_json(env, "ReplicationMonitoring")
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]
    [alarm] = [a for a in alarms
               if a["AlarmName"] == f"justkalm-{env}-DedupIndex-Replica-Unprotected-Critical"]
    [metric] = [m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m]
    assert (metric["Metric"]["Namespace"], metric["Metric"]["MetricName"]) == (
        "StorageEstate", "DedupReplicaProtected")
    assert metric["Metric"]["Dimensions"] == [
        {"Name": "service", "Value": f"justkalm-{env}-dedup-replica-guard-us-west-2"}]
    assert (metric["Stat"], metric["Period"]) == ("Minimum", 3600)
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 24
    assert alarm["TreatMissingData"] == "breaching"  # a guard that does not run
    # the guard's own failures alarm too: any error (it runs hourly), throttles, duration
    [errors] = [a for a in alarms
                if a["AlarmName"] == f"justkalm-{env}-DedupReplicaGuard-Fault-Count-Critical"]
    [presign_errors] = [a for a in alarms
                        if a["AlarmName"] == f"justkalm-{env}-Presign-Fault-Count-Critical"]
    assert (errors["Threshold"], errors["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert presign_errors["Threshold"] == estate.stages[env].cfg.monitoring.function_errors_per_period
    assert estate.stack(env, "ReplicationMonitoring").region == "us-west-2"


def test_the_primary_dedup_index_streams_new_and_old_images_for_its_replica(estate, env):
    [table] = resources(estate.template_json(env, "Assets"), "AWS::DynamoDB::Table").values()
    assert table["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["DeletionPolicy"] == "RetainExceptOnCreate"


# ------------------------------------------------------------------ the bucket that takes writes

SECURITY_PROPERTIES = ("BucketEncryption", "VersioningConfiguration",
                       "PublicAccessBlockConfiguration", "OwnershipControls",
                       "CorsConfiguration")


def test_the_replica_bucket_is_encrypted_versioned_private_and_cors_like_the_assets(estate, env):
    cfg = _cfg(estate, env)
    assets_t, replica_t = estate.template_json(env, "Assets"), estate.template_json(env, "Replica")
    _, assets = bucket_named(assets_t, cfg.assets_bucket_name)
    _, replica = bucket_named(replica_t, cfg.replica_bucket_name)
    for name in SECURITY_PROPERTIES:
        a, r = (json.dumps(b["Properties"][name], sort_keys=True) for b in (assets, replica))
        assert re.sub(r'"[A-Za-z]+Key[0-9A-F]{8}"', "K", a) == \
            re.sub(r'"[A-Za-z]+Key[0-9A-F]{8}"', "K", r), name
    # its own customer-managed, rotating key; access logs to the region's log bucket
    _, key = key_of_bucket(replica_t, replica)
    assert key["Properties"]["EnableKeyRotation"] is True
    logging = replica["Properties"]["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == cfg.access_log_bucket_name(cfg.replica_region)
    assert logging["LogFilePrefix"] == f"{cfg.replica_bucket_name}/"


# How the assets bucket's denies spare their exempt roles (the scanner by unique id, AWS
# Backup's role by ARN); the replica's spare nobody.
EXEMPTION_KEYS = ("aws:PrincipalArn", "aws:userid")


def _denies(statements: list[dict]) -> list[dict]:
    return [s for s in statements if s["Effect"] == "Deny" and "Condition" in s
            and any("ObjectTag" in json.dumps(s["Condition"]) for _ in [0])]


def test_the_replica_enforces_the_upload_gate_like_the_assets_bucket(estate, env):
    """Reads of gated objects are denied until scanned clean, in both buckets. No scanner
    runs in the replica region (objects written there are scanned once, in the primary, when
    they replicate back; docs/multi-region-writes.md), so the replica has no exception."""
    cfg = _cfg(estate, env)
    assets_id, _ = bucket_named(estate.template_json(env, "Assets"), cfg.assets_bucket_name)
    replica_id, _ = bucket_named(estate.template_json(env, "Replica"), cfg.replica_bucket_name)
    assets = _denies(policy_of_bucket(estate.template_json(env, "Assets"), assets_id))
    replica = _denies(policy_of_bucket(estate.template_json(env, "Replica"), replica_id))
    assert len(assets) == len(replica) == (3 if cfg.upload_gate.enabled else 0)

    def shape(statement, bucket):
        condition = {op: {k: v for k, v in c.items() if k not in EXEMPTION_KEYS}
                     for op, c in statement["Condition"].items()}
        condition = {op: c for op, c in condition.items() if c}
        return (statement["Sid"], json.dumps(statement["Action"]),
                json.dumps(statement["Resource"]).replace(bucket, "B"),
                json.dumps(condition, sort_keys=True))

    assert sorted(shape(s, cfg.assets_bucket_name) for s in assets) == \
        sorted(shape(s, cfg.replica_bucket_name) for s in replica)
    assert not any(key in json.dumps(s) for s in replica for key in EXEMPTION_KEYS)


def test_no_malware_protection_plan_scans_the_replica_bucket(estate, env):
    """GuardDuty scans objects that replication writes into a protected bucket: a plan on the
    replica would scan every primary upload a second time."""
    cfg = _cfg(estate, env)
    for stack_id in estate.stack_ids(env):
        for plan in resources(estate.template_json(env, stack_id),
                              "AWS::GuardDuty::MalwareProtectionPlan").values():
            bucket = plan["Properties"]["ProtectedResource"]["S3Bucket"]["BucketName"]
            assert bucket == cfg.assets_bucket_name


# ---------------------------------------------------------------------- two-way replication

def _rules(template: dict, bucket_name: str) -> dict[str, dict]:
    _, bucket = bucket_named(template, bucket_name)
    config = bucket["Properties"]["ReplicationConfiguration"]
    return {r["Id"]: {**r, "Role": config["Role"]} for r in config["Rules"]}


def test_writes_made_in_the_replica_region_replicate_back_with_rtc(estate, env):
    cfg = _cfg(estate, env)
    [reverse] = _rules(estate.template_json(env, "Replica"), cfg.replica_bucket_name).values()
    [forward] = _rules(estate.template_json(env, "Assets"), cfg.assets_bucket_name).values()
    assert (forward["Id"], reverse["Id"]) == (RULE_ID, REVERSE_RULE_ID)
    fifteen = {"Minutes": RTC_MINUTES}
    destination = reverse["Destination"]
    assert destination["Bucket"] == f"arn:aws:s3:::{cfg.assets_bucket_name}"
    assert destination["ReplicationTime"] == {"Status": "Enabled", "Time": fifteen}
    assert destination["Metrics"] == {"Status": "Enabled", "EventThreshold": fifteen}
    assert destination["EncryptionConfiguration"] == {
        "ReplicaKmsKeyID": cfg.assets_key_alias_arn}
    assert "StorageClass" not in destination  # an upload keeps the class it was written with
    assert reverse["Role"] == cfg.reverse_replication_role_arn
    for rule in (forward, reverse):
        # Delete markers stay where they were made, as the forward rule always did.
        assert rule["DeleteMarkerReplication"] == {"Status": "Disabled"}
        assert rule["SourceSelectionCriteria"]["ReplicaModifications"] == {"Status": "Enabled"}
        assert rule["Filter"] == {"Prefix": ""} and rule["Status"] == "Enabled"


def test_the_reverse_role_is_only_for_s3_replicating_the_replica(estate, env):
    cfg = _cfg(estate, env)
    template = estate.template_json(env, "Assets")
    [role] = [r for r in resources(template, "AWS::IAM::Role").values()
              if r["Properties"].get("RoleName") == cfg.reverse_replication_role_name]
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "s3.amazonaws.com"}
    assert trust["Condition"]["ArnEquals"] == {
        "aws:SourceArn": f"arn:aws:s3:::{cfg.replica_bucket_name}"}
    actions = {a for p in resources(template, "AWS::IAM::ManagedPolicy").values()
               if "replicate" in p["Properties"].get("Description", "").lower()
               and cfg.replica_bucket_name in p["Properties"]["Description"]
               for s in p["Properties"]["PolicyDocument"]["Statement"]
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert "s3:ReplicateObject" in actions and "s3:ReplicateDelete" not in actions


def test_the_replica_key_lets_only_the_reverse_role_decrypt_through_s3(estate, env):
    cfg = _cfg(estate, env)
    template = estate.template_json(env, "Replica")
    _, replica = bucket_named(template, cfg.replica_bucket_name)
    _, key = key_of_bucket(template, replica)
    [grant] = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
               if s.get("Sid") == "ReplicationRoleDecryptsSourceObjects"]
    # The reverse role is the Assets stack's, created after this key: named by condition.
    assert account_principal(grant["Principal"]) == cfg.account
    assert grant["Condition"]["ArnEquals"] == {
        "aws:PrincipalArn": cfg.reverse_replication_role_arn}
    assert grant["Action"] == "kms:Decrypt"
    assert grant["Condition"]["StringEquals"] == {
        "kms:ViaService": f"s3.{cfg.replica_region}.amazonaws.com"}


def test_a_batch_replication_role_may_replicate_gated_uploads_back_and_nothing_else(
        estate, gated_env):
    # tools.reconcile cannot read, copy or scan in us-west-2 a gated upload whose replication
    # back failed; an S3 Batch Replication job on the rule back sends it home. The policy is
    # S3's documented one for a user-supplied manifest, narrowed to the gated prefixes and the
    # jobs prefix, plus the bucket key for the manifest and report (objects of this bucket).
    cfg = _cfg(estate, gated_env)
    template = estate.template_json(gated_env, "Replica")
    [(role_id, role)] = [(lid, r) for lid, r in resources(template, "AWS::IAM::Role").items()
                         if r["Properties"]["RoleName"] == cfg.reverse_batch_replication_role_name]
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "batchoperations.s3.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": cfg.account}}
    [policy] = [p for p in resources(template, "AWS::IAM::ManagedPolicy").values()
                if p["Properties"]["Roles"] == [{"Ref": role_id}]]
    by_sid = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    replica = f"arn:aws:s3:::{cfg.replica_bucket_name}"
    jobs = f"{replica}/reconcile-jobs/*"
    assert by_sid["InitiateReplication"]["Action"] == "s3:InitiateReplication"
    assert sorted(by_sid["InitiateReplication"]["Resource"]) == sorted(
        f"{replica}/{prefix}*" for prefix in cfg.upload_gate.gated_prefixes)
    assert by_sid["ReadTheManifest"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert by_sid["ReadTheManifest"]["Resource"] == jobs
    assert (by_sid["WriteTheReport"]["Action"], by_sid["WriteTheReport"]["Resource"]) == (
        "s3:PutObject", jobs)
    _, replica_bucket = bucket_named(template, cfg.replica_bucket_name)
    key_id, _ = key_of_bucket(template, replica_bucket)
    kms = by_sid["ManifestAndReportThroughTheBucketKey"]
    assert kms["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert kms["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert kms["Condition"]["StringEquals"] == {
        "kms:ViaService": f"s3.{cfg.replica_region}.amazonaws.com"}
    assert set(by_sid) == {"InitiateReplication", "ReadTheManifest", "WriteTheReport",
                           "ManifestAndReportThroughTheBucketKey"}
    outputs = template["Outputs"]
    assert any(o["Value"] == {"Fn::GetAtt": [role_id, "Arn"]} for o in outputs.values())
    assert cfg.reverse_batch_replication_role_arn == (
        f"arn:aws:iam::{cfg.account}:role/{cfg.reverse_batch_replication_role_name}")


def test_no_batch_replication_role_without_the_upload_gate(estate, ungated_env):
    # Ungated uploads are readable in us-west-2: reconcile copies them itself.
    template = estate.template_json(ungated_env, "Replica")
    assert all("batch" not in r["Properties"]["RoleName"]
               for r in resources(template, "AWS::IAM::Role").values())


def test_a_first_deploy_leaves_the_reverse_rule_out_and_says_why():
    app = App(context={"env": "dev", "first_deploy": "true"})
    [cfg] = configs_from_context(app)
    assert cfg.replicate_back is False
    stack = ReplicaStack(app, "Replica", cfg=cfg)
    template = Template.from_stack(stack).to_json()
    _, bucket = bucket_named(template, cfg.replica_bucket_name)
    assert "ReplicationConfiguration" not in bucket["Properties"]
    # ... says why, on the bucket the policy packs would flag for it
    [(path, reason)] = [(path, reason) for path, rule, reason in acknowledgements(stack)
                        if rule == "NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled"]
    assert path.startswith("Replica/Replica") and "First deploy of a new environment" in reason
    assert dev().replicate_back is True  # without the context, every deploy keeps the rule


def test_a_bad_first_deploy_value_is_a_config_error():
    with pytest.raises(ConfigError, match="first_deploy"):
        configs_from_context(App(context={"first_deploy": "maybe"}))


# ------------------------------------------------------------- one hostname, failover records

def _records(estate, env, stack_id) -> list[dict]:
    return [r["Properties"] for r in
            resources(estate.template_json(env, stack_id), "AWS::Route53::RecordSet").values()]


def test_prod_answers_one_upload_hostname_primary_first_then_the_replica_region(estate):
    cfg = _cfg(estate, "prod")
    [primary] = _records(estate, "prod", PRIMARY)
    [secondary] = _records(estate, "prod", SECONDARY)
    for record, role in ((primary, "PRIMARY"), (secondary, "SECONDARY")):
        assert record["Name"] == f"uploads.{cfg.cdn.hosted_zone_name}."
        assert record["HostedZoneId"] == cfg.cdn.hosted_zone_id
        assert (record["Type"], record["Failover"]) == ("A", role)
    assert "HealthCheckId" not in secondary
    checks = resources(estate.template_json("prod", PRIMARY), "AWS::Route53::HealthCheck")
    calculated_id = primary["HealthCheckId"]["Fn::GetAtt"][0]
    calculated = checks[calculated_id]["Properties"]["HealthCheckConfig"]
    # Both children must be healthy: the endpoint answers and the switch is released.
    assert calculated["Type"] == "CALCULATED" and calculated["HealthThreshold"] == 2
    child, switch_child = calculated["ChildHealthChecks"]
    endpoint = checks[child["Fn::GetAtt"][0]]["Properties"]["HealthCheckConfig"]
    switch = checks[switch_child["Fn::GetAtt"][0]]["Properties"]["HealthCheckConfig"]
    assert switch == {"Type": "CLOUDWATCH_METRIC",
                      "AlarmIdentifier": {"Name": "justkalm-prod-Writes-Pinned-To-us-west-2",
                                          "Region": "us-west-2"},
                      "InsufficientDataHealthStatus": "LastKnownStatus"}
    assert (endpoint["Type"], endpoint["ResourcePath"], endpoint["Port"], endpoint["EnableSNI"]) \
        == ("HTTPS", {"Fn::Join": ["", ["/health-", STACK_UUID]]}, 443, True)
    api_id, _ = next(iter(resources(estate.template_json("prod", PRIMARY),
                                    "AWS::ApiGatewayV2::Api").items()))
    assert {"Ref": api_id} in endpoint["FullyQualifiedDomainName"]["Fn::Join"][1]
    outputs = estate.template_json("prod", PRIMARY)["Outputs"]
    assert outputs["WritesHealthCheckId"]["Value"] == {
        "Fn::GetAtt": [calculated_id, "HealthCheckId"]}


def test_the_failover_switch_is_an_alarm_in_the_replica_region_that_route_53_can_read(estate):
    """`make failover` writes one datapoint of this metric in us-west-2; the alarm must keep
    its state without more (missing data ignored) and use only what Route 53 supports for an
    alarm-based check: a standard-resolution metric and a plain statistic."""
    [alarm] = [a["Properties"] for a in resources(
        estate.template_json("prod", "Replica"), "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"] == "justkalm-prod-Writes-Pinned-To-us-west-2"]
    assert estate.stack("prod", "Replica").region == "us-west-2"
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Dimensions"]) == (
        "StorageEstate/WriteFailover", "WritesPinnedToReplicaRegion",
        [{"Name": "Environment", "Value": "prod"}])
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Maximum", 60, 1)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "GreaterThanOrEqualToThreshold", 1)
    assert alarm["TreatMissingData"] == "ignore"
    assert "ExtendedStatistic" not in alarm and "Metrics" not in alarm
    # Route 53 reads the alarm when it creates the check: the Replica stack deploys first.
    assert "Replica" in estate.dependencies("prod", PRIMARY)
    # dev has no failover record, so no switch.
    assert not [a for a in resources(estate.template_json("dev", "Replica"),
                                     "AWS::CloudWatch::Alarm").values()
                if "Writes-Pinned" in a["Properties"]["AlarmName"]]


def test_each_region_has_its_own_certificate_and_only_the_primary_writes_the_validation(estate):
    validations = {}
    for stack_id in (PRIMARY, SECONDARY):
        [cert] = resources(estate.template_json("prod", stack_id),
                           "AWS::CertificateManager::Certificate").values()
        assert cert["Properties"]["DomainName"] == "uploads.justkalm.example"
        validations[stack_id] = cert["Properties"].get("DomainValidationOptions")
        [domain] = resources(estate.template_json("prod", stack_id),
                             "AWS::ApiGatewayV2::DomainName").values()
        [config] = domain["Properties"]["DomainNameConfigurations"]
        assert (config["EndpointType"], config["SecurityPolicy"]) == ("REGIONAL", "TLS_1_2")
    assert validations[PRIMARY][0]["HostedZoneId"] == "Z0123456789EXAMPLE"
    assert validations[SECONDARY] is None
    assert PRIMARY in estate.dependencies("prod", SECONDARY)


def test_dev_without_a_hosted_zone_gets_both_apis_but_no_dns_failover(estate):
    for stack_id in (PRIMARY, SECONDARY):
        template = estate.template_json("dev", stack_id)
        for cfn_type in ("AWS::Route53::RecordSet", "AWS::Route53::HealthCheck",
                         "AWS::CertificateManager::Certificate",
                         "AWS::ApiGatewayV2::DomainName"):
            assert resources(template, cfn_type) == {}, (stack_id, cfn_type)
        assert "UploadApiUrl" in template["Outputs"]


# --------------------------------------------------------------------------- the health route

STACK_UUID = {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}


@pytest.mark.parametrize("stack_id", [PRIMARY, SECONDARY])
def test_the_health_route_is_the_only_one_without_an_authorizer_at_a_path_nobody_guesses(
        estate, env, stack_id):
    # At a public path, anyone could use up its throttle or its function's reserved
    # executions, fail Route 53's probes and move every upload to the other Region. Its path
    # ends in the stack's UUID, which CloudFormation makes and nobody outside the account sees.
    template = estate.template_json(env, stack_id)
    routes = [r["Properties"] for r in resources(template, "AWS::ApiGatewayV2::Route").values()]
    [open_route] = [r for r in routes if r["AuthorizationType"] == "NONE"]
    assert open_route["RouteKey"] == {"Fn::Join": ["", ["GET /health-", STACK_UUID]]}
    assert len(routes) == 5
    assert "/health" not in json.dumps([r["RouteKey"] for r in routes if r is not open_route])


@pytest.mark.parametrize("stack_id, bucket_attr", [(PRIMARY, "assets_bucket_name"),
                                                   (SECONDARY, "replica_bucket_name")])
def test_the_health_function_may_only_write_its_probe_keys(estate, env, stack_id, bucket_attr):
    cfg = _cfg(estate, env)
    template = estate.template_json(env, stack_id)
    region = estate.stack(env, stack_id).region
    _, function = _function(template, "estate_handlers.write_health.handler")
    bucket = getattr(cfg, bucket_attr)
    assert function["Properties"]["Environment"]["Variables"]["WRITE_HEALTH_BUCKET"] == bucket
    statements = {s["Sid"]: s for s in _policy_of(template, function)}
    assert statements["WriteTheProbeObject"]["Action"] == "s3:PutObject"
    assert statements["WriteTheProbeObject"]["Resource"] == \
        f"arn:aws:s3:::{bucket}/ops/write-health/{region}/*"  # a new key per probe
    assert statements["EncryptTheProbeViaS3"]["Condition"] == {
        "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}
    assert set(statements) == {"WriteTheProbeObject", "EncryptTheProbeViaS3", "WriteOwnLogs"}


# ------------------------------------------------------------------- which region serves writes

def test_an_alarm_says_when_writes_are_served_by_the_replica_region(estate):
    template = estate.template_json("prod", "Monitoring")
    [alarm] = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()
               if a["Properties"]["AlarmName"] == "justkalm-prod-Writes-Served-By-us-west-2-Critical"]
    [metric] = [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
    assert (metric["Namespace"], metric["MetricName"]) == ("AWS/Route53", "HealthCheckStatus")
    [dimension] = metric["Dimensions"]
    output = dimension["Value"]["Fn::GetStackOutput"]
    assert (output["StackName"], output["Region"]) == ("prod-UploadApi", "us-east-1")
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1
    assert alarm["TreatMissingData"] == "breaching"
    # Two one-minute periods in a row: one late datapoint (missing, so breaching) never pages.
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (2, 2)
    assert estate.stack("prod", "Monitoring").region == "us-east-1"


def test_the_replica_region_alarms_when_its_api_takes_uploads(estate, env):
    template = estate.template_json(env, "ReplicationMonitoring")
    [alarm] = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()
               if a["Properties"]["AlarmName"].endswith("Writes-Taking-Uploads-us-west-2-Critical")]
    [metric] = [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
    assert (metric["Namespace"], metric["MetricName"]) == ("AWS/ApiGateway", "Count")
    assert metric["Dimensions"][0]["Value"]["Fn::GetStackOutput"]["StackName"] == \
        f"{env}-{SECONDARY}"
    assert SECONDARY in estate.dependencies(env, "ReplicationMonitoring")


# ------------------------------------------------------------------------------------ cost

def test_make_cost_prices_the_second_write_path_of_the_real_prod_estate(estate):
    """`make cost` reads this assembly: the replica region's write path is in the estimate,
    its traffic at the failover share of the month, its standing parts in full."""
    from tools.cost.estimate import by_environment, environment_estimate
    from tools.review.assembly import load_assembly

    cfg = _cfg(estate, "prod")
    lines = environment_estimate(
        "prod", by_environment(load_assembly(estate.outdir))["prod"]).by_key()
    uploads = cfg.usage.uploads_per_day * 30
    replica = cfg.replica_region
    api = lines[("API Gateway", "API Gateway HTTP API requests", replica)]
    assert api.quantity * 1e6 == pytest.approx(
        uploads * cfg.usage.api_calls_per_upload * cfg.usage.secondary_write_share)
    writes = lines[("DynamoDB", "DynamoDB global tables replicated write request units", replica)]
    assert writes.usd == pytest.approx(uploads / 1e6 * 0.625)
    checks = lines[("Route 53", "Route 53 health checks (AWS endpoints; calculated)", "global")]
    assert checks.quantity == 3  # the endpoint check, the switch's alarm check, the calculated
    features = lines[("Route 53", "Route 53 health check optional features (HTTPS, fast "
                                  "interval), AWS endpoints", "global")]
    assert features.usd == pytest.approx(2.0)


def test_the_guard_function_names_the_handler_module_that_exists():
    # The env var and the metric name come from estate_handlers.layout on both sides.
    assert dedup_replica.GUARD_HANDLER == f"{replica_guard.__name__}.handler"
    assert callable(replica_guard.handler)


def _reverse_rule_alarm_names(templates) -> list[str]:
    return sorted(r["Properties"]["AlarmName"] for t in templates for r in t["Resources"].values()
                  if r["Type"] == "AWS::CloudWatch::Alarm"
                  and REVERSE_ALARM_GROUP in r["Properties"].get("AlarmName", ""))


def test_a_first_deploy_watches_no_reverse_rule_it_did_not_create(estate):
    # Without the rule S3 publishes none of its metrics: the silence alarm (missing data
    # breaching) would page until the next deploy.
    app = App(context={"env": "dev", "first_deploy": "true"})
    [cfg] = configs_from_context(app)
    stage = EstateStage(app, cfg)
    first = [Template.from_stack(s).to_json() for s in stage.stacks
             if s.node.id in ("Monitoring", "ReplicationMonitoring")]
    assert len(first) == 2 and _reverse_rule_alarm_names(first) == []
    every_deploy = [estate.template_json("dev", stack) for stack in
                    ("Monitoring", "ReplicationMonitoring")]
    assert len(_reverse_rule_alarm_names(every_deploy)) == 4


@pytest.mark.parametrize(("context", "message"), [
    ({"validate-templates": "yes"}, "validate-templates='yes' must be true or false"),
    # a near miss would leave the flag's default without a word
    ({"first-deploy": "true"}, "context first-deploy is not one of the estate's"),
    ({"validate_templates": "true"}, "context validate_templates is not one of the estate's"),
])
def test_a_mistyped_context_flag_or_value_is_a_config_error(context, message):
    with pytest.raises(ConfigError, match=message):
        configs_from_context(App(context=context))


def test_each_regions_upload_api_names_its_id_for_callers_invoke_grants(estate):
    # An IAM caller signs for one Region; after a failover it needs Invoke on the other API too.
    for stack_id, region in (("UploadApi", "us-east-1"), ("UploadApi-us-west-2", "us-west-2")):
        template = estate.template_json("prod", stack_id)
        output = template["Outputs"]["UploadApiId"]
        (api_id,) = [k for k, r in template["Resources"].items()
                     if r["Type"] == "AWS::ApiGatewayV2::Api"]
        assert output["Value"] == {"Ref": api_id} and region in output["Description"]


@pytest.mark.parametrize("stack_id", ["Monitoring", "ReplicationMonitoring"])
def test_each_region_alarms_when_its_dedup_index_stops_answering_the_upload_api(estate, stack_id):
    # Uploads go on without deduplication then, so no other alarm fires.
    cfg = estate.stages["prod"].cfg
    template = estate.template_json("prod", stack_id)
    [alarm] = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()
               if a["Properties"]["AlarmName"].endswith("Presign-Dedup-Unavailable-Critical")]
    metrics = [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
    presign = cfg.presign_name_in(estate.stack("prod", stack_id).region)
    dimensions = [{d["Name"]: d["Value"] for d in m["Dimensions"]} for m in metrics]
    # Powertools adds `service` (the function's POWERTOOLS_SERVICE_NAME) to the handler's `kind`.
    assert sorted(d["kind"] for d in dimensions) == sorted(cfg.upload_api.kinds)
    assert all(d == {"kind": d["kind"], "service": presign} for d in dimensions)
    api_stack = "UploadApi" if stack_id == "Monitoring" else "UploadApi-us-west-2"
    [function] = [f["Properties"] for f in resources(estate.template_json("prod", api_stack),
                                                      "AWS::Lambda::Function").values()
                  if f["Properties"].get("Handler") == "estate_handlers.presign.handler"]
    assert function["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == presign
    assert {(m["Namespace"], m["MetricName"]) for m in metrics} == {
        ("StorageEstate", "DedupLookupsFailed")}
    assert alarm["EvaluationPeriods"] == cfg.monitoring.sustained_periods
    assert alarm["TreatMissingData"] == "notBreaching"
