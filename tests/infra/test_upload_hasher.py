"""The upload hasher, in the Assets stack: S3 notifications for the upload prefixes
into a KMS-encrypted, TLS-only queue with a DLQ; a Python 3.14 arm64 function consuming it in
batches of 4 with partial batch failures; the dedup index table; and a role that can do
exactly what the handler needs, nothing more."""
from __future__ import annotations

import json

import pytest
from estate_handlers import dedup_index
from helpers import as_list, bucket_named, key_of_bucket, only, resources

from infra.config import DOCUMENTS, ORIGINALS, TABLE_ENV, USER_UPLOADS, ConfigError, UploadApiConfig
from infra.constructs.function import HANDLER_PACKAGES_ID, METRICS_NAMESPACE
from infra.environments import ENVIRONMENTS

ENVS = ("dev", "prod")
PREFIXES = (ORIGINALS, DOCUMENTS, "brands/", USER_UPLOADS)
HANDLER = "estate_handlers.hasher.handler"


@pytest.fixture(params=ENVS)
def env(request):
    return request.param




# ------------------------------------------------------------------- template readers

# Other pipelines of the Assets stack (renditions, and the topic the originals prefix fans
# out through) have their own tests: the hasher's tests read the stack without them.
OTHER_PIPELINES = ("Renditions", "OriginalsTopic")


def _assets(estate, env) -> dict:
    template = estate.template_json(env, "Assets")
    return {**template, "Resources": {k: v for k, v in template["Resources"].items()
                                      if not k.startswith(OTHER_PIPELINES)}}


def _topic_id(estate, env) -> str:
    template = estate.template_json(env, "Assets")
    (topic_id,) = [k for k, v in template["Resources"].items()
                   if v["Type"] == "AWS::SNS::Topic" and k.startswith("OriginalsTopic")]
    return topic_id


def _cfg(env):
    return ENVIRONMENTS[env]()


def _function(template: dict) -> tuple[str, dict]:
    found = [(k, v) for k, v in resources(template, "AWS::Lambda::Function").items()
             if v["Properties"]["Handler"] == HANDLER]
    assert len(found) == 1, found
    return found[0]


def _queues(template: dict) -> tuple[tuple[str, dict], tuple[str, dict]]:
    """(queue, dlq) of the hasher: the queue is the one with a redrive policy."""
    queues = {k: v for k, v in resources(template, "AWS::SQS::Queue").items()
              if k.startswith("UploadHasher")}
    assert len(queues) == 2, sorted(queues)
    main = next((k, v) for k, v in queues.items() if "RedrivePolicy" in v["Properties"])
    dlq = next((k, v) for k, v in queues.items() if k != main[0])
    return main, dlq


def _queue_policy(template: dict, queue_id: str) -> tuple[str, list[dict]]:
    for logical_id, res in resources(template, "AWS::SQS::QueuePolicy").items():
        if res["Properties"]["Queues"] == [{"Ref": queue_id}]:
            return logical_id, res["Properties"]["PolicyDocument"]["Statement"]
    raise AssertionError(f"no queue policy for {queue_id}")


def _getatt_id(value: dict) -> str:
    return value["Fn::GetAtt"][0]


def _joined(value) -> str:
    """An Fn::Join of literals and pseudo-parameter Refs, as one string."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return f"<{value['Ref']}>"
    sep, parts = value["Fn::Join"]
    return sep.join(_joined(p) for p in parts)


def _mapping(template: dict) -> tuple[str, dict]:
    found = [(k, v) for k, v in resources(template, "AWS::Lambda::EventSourceMapping").items()
             if k.startswith("UploadHasher")]
    assert len(found) == 1, found
    return found[0]


def _table(template: dict) -> tuple[str, dict]:
    return only(template, "AWS::DynamoDB::Table")


def _role_id(template: dict) -> str:
    return _getatt_id(_function(template)[1]["Properties"]["Role"])


def _name(value) -> str:
    """A resource ARN as a comparable string: literals as is, GetAtt as <Id.Attr>."""
    if isinstance(value, str):
        return value
    if "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    raise AssertionError(f"unexpected resource value {value}")


def _policies_of_role(template: dict, role_id: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items()
            if v["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")
            and {"Ref": role_id} in v["Properties"].get("Roles", [])}


def _statements_by_sid(policy: dict) -> dict[str, tuple[frozenset, frozenset, str]]:
    out = {}
    for st in policy["Properties"]["PolicyDocument"]["Statement"]:
        assert st["Effect"] == "Allow"
        out[st["Sid"]] = (frozenset(as_list(st["Action"])),
                          frozenset(_name(r) for r in as_list(st["Resource"])),
                          json.dumps(st.get("Condition"), sort_keys=True))
    return out


def _hasher_policy(template: dict) -> dict:
    policies = _policies_of_role(template, _role_id(template))
    assert len(policies) == 1, sorted(policies)
    (policy,) = policies.values()
    return policy


# ---------------------------------------------------------------- notification → queue

def test_each_upload_prefix_notifies_the_queue_of_every_created_object(estate, ungated_env):
    env = ungated_env
    template = _assets(estate, env)
    _, bucket = bucket_named(template, _cfg(env).assets_bucket_name)
    (queue_id, _), _ = _queues(template)
    notifications = bucket["Properties"]["NotificationConfiguration"]
    direct = notifications["QueueConfigurations"]
    assert all(c["Filter"]["S3Key"]["Rules"][0]["Name"] == "prefix" for c in direct)
    assert sorted((c["Event"], c["Filter"]["S3Key"]["Rules"][0]["Value"], _name(c["Queue"]))
                  for c in direct) == sorted(
        ("s3:ObjectCreated:*", prefix, f"<{queue_id}.Arn>")
        for prefix in PREFIXES if prefix != ORIGINALS)
    # The originals prefix is shared with the renditions pipeline (S3 refuses two
    # configurations with overlapping prefixes): it reaches this queue through a topic.
    [through_topic] = notifications["TopicConfigurations"]
    assert through_topic["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": ORIGINALS}]
    assert through_topic["Event"] == "s3:ObjectCreated:*"


def test_originals_reach_the_queue_from_the_topic_as_raw_s3_notifications(estate, ungated_env):
    env = ungated_env
    template = estate.template_json(env, "Assets")
    topic_id = _topic_id(estate, env)
    (queue_id, _), _ = _queues(_assets(estate, env))
    subscriptions = [v["Properties"] for v in resources(template, "AWS::SNS::Subscription").values()
                     if v["Properties"]["Endpoint"] == {"Fn::GetAtt": [queue_id, "Arn"]}]
    assert subscriptions == [{"Endpoint": {"Fn::GetAtt": [queue_id, "Arn"]}, "Protocol": "sqs",
                              "RawMessageDelivery": True, "TopicArn": {"Ref": topic_id}}]


def test_no_bucket_notifications_custom_resource_or_other_function_exists(estate, env):
    template = _assets(estate, env)
    assert not resources(template, "Custom::S3BucketNotifications")
    handlers = sorted(f["Properties"]["Handler"]
                      for f in resources(template, "AWS::Lambda::Function").values())
    # The hasher, and the upload gate's verdict function where the gate is on (the
    # renditions function is filtered out with the other pipelines).
    gate = ["estate_handlers.scan_verdict.handler"] if _cfg(env).upload_gate.enabled else []
    assert handlers == sorted([HANDLER, *gate])


def test_bucket_is_created_after_the_queue_policy_that_lets_s3_send(estate, ungated_env):
    env = ungated_env
    template = _assets(estate, env)
    _, bucket = bucket_named(template, _cfg(env).assets_bucket_name)
    (queue_id, _), _ = _queues(template)
    policy_id, _ = _queue_policy(template, queue_id)
    assert policy_id in as_list(bucket.get("DependsOn", []))


def test_only_s3_for_the_assets_bucket_and_the_originals_topic_may_send_to_the_queue(
        estate, ungated_env):
    env = ungated_env
    template = _assets(estate, env)
    cfg = _cfg(env)
    (queue_id, _), _ = _queues(template)
    _, statements = _queue_policy(template, queue_id)
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows == [{
        "Sid": "S3NotifiesFromTheAssetsBucket",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
        "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:s3:::{cfg.assets_bucket_name}"},
                      "StringEquals": {"aws:SourceAccount": cfg.account}},
    }, {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
        "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": _topic_id(estate, env)}}},
    }]


def test_queue_key_lets_only_s3_for_the_assets_bucket_and_the_topic_encrypt_messages(
        estate, ungated_env):
    env = ungated_env
    template = _assets(estate, env)
    cfg = _cfg(env)
    (_, queue), _ = _queues(template)
    key = template["Resources"][_getatt_id(queue["Properties"]["KmsMasterKeyId"])]
    services = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                if "Service" in s.get("Principal", {})]
    assert services == [{
        "Sid": "S3NotifiesFromTheAssetsBucket",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*",
        "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:s3:::{cfg.assets_bucket_name}"},
                      "StringEquals": {"aws:SourceAccount": cfg.account}},
    }, {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*",
        "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": _topic_id(estate, env)}}},
    }]


# --------------------------------------------------------------------- queue and DLQ

def test_queue_and_dlq_are_encrypted_with_a_rotating_retained_customer_key(estate, env):
    template = _assets(estate, env)
    for _, queue in _queues(template):
        key_id = _getatt_id(queue["Properties"]["KmsMasterKeyId"])
        key = template["Resources"][key_id]
        assert key["Type"] == "AWS::KMS::Key"
        assert key["Properties"]["EnableKeyRotation"] is True
        assert key["DeletionPolicy"] == "RetainExceptOnCreate"


def test_queue_and_dlq_refuse_requests_without_tls(estate, env):
    template = _assets(estate, env)
    for queue_id, _ in _queues(template):
        _, statements = _queue_policy(template, queue_id)
        assert {"Action": "sqs:*", "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                "Effect": "Deny", "Principal": {"AWS": "*"},
                "Resource": {"Fn::GetAtt": [queue_id, "Arn"]}} in statements


def test_queue_moves_a_message_to_the_dlq_after_5_receives(estate, env):
    (_, queue), (dlq_id, _) = _queues(_assets(estate, env))
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}, "maxReceiveCount": 5}


def test_dlq_keeps_messages_for_14_days(estate, env):
    _, (_, dlq) = _queues(_assets(estate, env))
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 86400


def test_queue_keeps_messages_well_beyond_its_retry_window(estate, env):
    # Retention counts from the first enqueue: a message must outlive all its receives
    # (and a backlog) on the queue, not expire while it is still being retried.
    (_, queue), _ = _queues(_assets(estate, env))
    props = queue["Properties"]
    retry_window = props["RedrivePolicy"]["maxReceiveCount"] * props["VisibilityTimeout"]
    assert props["MessageRetentionPeriod"] >= 3 * 86400 > 10 * retry_window


def test_dlq_outlives_the_queue_by_at_least_a_week_to_redrive(estate, env):
    # A dead message keeps its original enqueue time: the DLQ must keep it longer than the
    # queue did, or a message dying on the queue's last day expires on arrival.
    (_, queue), (_, dlq) = _queues(_assets(estate, env))
    assert (dlq["Properties"]["MessageRetentionPeriod"]
            - queue["Properties"]["MessageRetentionPeriod"]) >= 7 * 86400


def test_visibility_timeout_is_six_times_the_function_timeout(estate, env):
    template = _assets(estate, env)
    (_, queue), _ = _queues(template)
    timeout = _function(template)[1]["Properties"]["Timeout"]
    assert queue["Properties"]["VisibilityTimeout"] == 6 * timeout


# ---------------------------------------------------------------------- event source

def test_event_source_reads_the_queue_in_batches_of_4_reporting_item_failures(estate, env):
    template = _assets(estate, env)
    fn_id, _ = _function(template)
    (queue_id, _), _ = _queues(template)
    _, mapping = _mapping(template)
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert props["FunctionName"] == {"Ref": fn_id}
    assert props["BatchSize"] == 4
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 0 < props["MaximumBatchingWindowInSeconds"] <= 30


def test_event_source_concurrency_does_not_exceed_the_functions_reservation(estate, env):
    template = _assets(estate, env)
    _, mapping = _mapping(template)
    reserved = _function(template)[1]["Properties"]["ReservedConcurrentExecutions"]
    assert mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"] == reserved


def test_event_source_waits_for_the_role_policy(estate, env):
    template = _assets(estate, env)
    _, mapping = _mapping(template)
    (policy_id,) = _policies_of_role(template, _role_id(template))
    assert policy_id in as_list(mapping.get("DependsOn", []))


# -------------------------------------------------------------------------- function

def test_function_is_python_3_14_on_arm64_with_1024_mb_and_300_s(estate, env):
    props = _function(_assets(estate, env))[1]["Properties"]
    assert props["Runtime"] == "python3.14"
    assert props["Architectures"] == ["arm64"]
    assert props["MemorySize"] == 1024
    assert props["Timeout"] == 300
    assert props["Handler"] == HANDLER


def test_function_has_no_half_configured_tracing(estate, env):
    assert "TracingConfig" not in _function(_assets(estate, env))[1]["Properties"]


def test_function_runs_with_its_stacks_handler_packages_layer(estate, env):
    template = _assets(estate, env)
    [ref] = _function(template)[1]["Properties"]["Layers"]
    assert ref["Ref"].startswith(HANDLER_PACKAGES_ID)
    assert template["Resources"][ref["Ref"]]["Type"] == "AWS::Lambda::LayerVersion"


def test_function_environment_names_only_the_dedup_table(estate, env):
    template = _assets(estate, env)
    table_id, _ = _table(template)
    variables = _function(template)[1]["Properties"]["Environment"]["Variables"]
    assert variables == {TABLE_ENV: {"Ref": table_id},
                         "POWERTOOLS_SERVICE_NAME": _cfg(env).upload_hasher_name,
                         "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE}


def test_function_reserves_the_configured_concurrency(estate, env):
    props = _function(_assets(estate, env))[1]["Properties"]
    assert props["ReservedConcurrentExecutions"] == _cfg(env).upload_api.hasher_reserved_concurrency


def test_function_logs_to_its_own_encrypted_retained_log_group(estate, env):
    template = _assets(estate, env)
    group_id = _function(template)[1]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    group = template["Resources"][group_id]
    assert group["DeletionPolicy"] == "RetainExceptOnCreate"
    assert group["Properties"]["RetentionInDays"] == 365
    key = template["Resources"][_getatt_id(group["Properties"]["KmsKeyId"])]
    assert key["Properties"]["EnableKeyRotation"] is True
    logs = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
            if s.get("Principal") == {"Service": "logs.us-east-1.amazonaws.com"}]
    assert len(logs) == 1
    arn = logs[0]["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
    name = group["Properties"]["LogGroupName"]
    assert _joined(arn) == (f"arn:aws:logs:us-east-1:{_cfg(env).account}"
                            f":log-group:{name}")


def test_code_is_the_lambda_folder_as_a_plain_zip_asset_not_a_docker_build(estate, env):
    stack = estate.stack(env, "Assets")
    manifest = json.loads((stack.directory / f"{stack.artifact_id}.assets.json")
                          .read_text())
    assert manifest.get("dockerImages", {}) == {}
    code = _function(_assets(estate, env))[1]["Properties"]["Code"]
    asset = manifest["files"][code["S3Key"].removesuffix(".zip")]
    assert asset["source"]["packaging"] == "zip"
    folder = (stack.directory / asset["source"]["path"]).resolve()
    assert (folder / "estate_handlers" / "__init__.py").is_file()
    assert not list(folder.rglob("__pycache__"))


# ----------------------------------------------------------------------------- table

def test_dedup_index_is_keyed_by_sha256_only(estate, env):
    props = _table(_assets(estate, env))[1]["Properties"]
    assert props["KeySchema"] == [{"AttributeName": dedup_index.PARTITION_KEY,
                                   "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "sha256",
                                              "AttributeType": "S"}]


def test_dedup_index_is_on_demand(estate, env):
    props = _table(_assets(estate, env))[1]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in props


def test_dedup_index_is_encrypted_with_its_own_rotating_retained_key(estate, env):
    template = _assets(estate, env)
    sse = _table(template)[1]["Properties"]["SSESpecification"]
    assert sse["SSEEnabled"] is True and sse["SSEType"] == "KMS"
    key = template["Resources"][_getatt_id(sse["KMSMasterKeyId"])]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "RetainExceptOnCreate"


def test_dedup_index_has_point_in_time_recovery(estate, env):
    props = _table(_assets(estate, env))[1]["Properties"]
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_dedup_index_is_retained_and_deletion_protected(estate, env):
    _, table = _table(_assets(estate, env))
    assert table["DeletionPolicy"] == "RetainExceptOnCreate"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"]["DeletionProtectionEnabled"] is True


# ------------------------------------------------------------------------------ role

def test_role_may_be_assumed_by_lambda_only(estate, env):
    template = _assets(estate, env)
    role = template["Resources"][_role_id(template)]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": "sts:AssumeRole", "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"}}]


def test_role_holds_one_customer_managed_policy_and_nothing_else(estate, env):
    template = _assets(estate, env)
    role_id = _role_id(template)
    role = template["Resources"][role_id]["Properties"]
    assert "Policies" not in role and "ManagedPolicyArns" not in role
    policies = _policies_of_role(template, role_id)
    assert [p["Type"] for p in policies.values()] == ["AWS::IAM::ManagedPolicy"]


def test_role_can_do_exactly_what_the_hasher_needs(estate, env):
    template = _assets(estate, env)
    cfg = _cfg(env)
    bucket = f"arn:aws:s3:::{cfg.assets_bucket_name}"
    _, assets_bucket = bucket_named(template, cfg.assets_bucket_name)
    assets_key_id, _ = key_of_bucket(template, assets_bucket)
    table_id, table = _table(template)
    table_key_id = _getatt_id(table["Properties"]["SSESpecification"]["KMSMasterKeyId"])
    (queue_id, queue), _ = _queues(template)
    queue_key_id = _getatt_id(queue["Properties"]["KmsMasterKeyId"])
    log_group_id = _function(template)[1]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]

    def via(service):
        return json.dumps({"StringEquals": {"kms:ViaService": f"{service}.us-east-1.amazonaws.com"}},
                          sort_keys=True)

    assert _statements_by_sid(_hasher_policy(template)) == {
        "ReadAndTagUploads": (
            frozenset({"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging",
                       "s3:GetObjectVersionTagging", "s3:PutObjectTagging",
                       "s3:PutObjectVersionTagging"}),
            frozenset(f"{bucket}/{p}*" for p in PREFIXES), "null"),
        "ListBucketFor404s": (frozenset({"s3:ListBucket"}), frozenset({bucket}), "null"),
        "DecryptUploadsViaS3": (
            frozenset({"kms:Decrypt"}), frozenset({f"<{assets_key_id}.Arn>"}), via("s3")),
        "WriteDedupIndex": (
            frozenset({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}),
            frozenset({f"<{table_id}.Arn>"}), "null"),
        "UseDedupIndexKeyViaDynamoDB": (
            frozenset({"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}),
            frozenset({f"<{table_key_id}.Arn>"}), via("dynamodb")),
        "ConsumeHashQueue": (
            frozenset({"sqs:ReceiveMessage", "sqs:DeleteMessage",
                       "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"}),
            frozenset({f"<{queue_id}.Arn>"}), "null"),
        "DecryptHashQueueViaSqs": (
            frozenset({"kms:Decrypt"}), frozenset({f"<{queue_key_id}.Arn>"}), via("sqs")),
        "WriteOwnLogs": (
            frozenset({"logs:CreateLogStream", "logs:PutLogEvents"}),
            frozenset({f"<{log_group_id}.Arn>"}), "null"),
    }


def test_role_has_no_wildcard_action_and_no_star_resource(estate, env):
    for sid, (actions, resources_, _) in _statements_by_sid(
            _hasher_policy(_assets(estate, env))).items():
        assert not any(a == "*" or a.endswith(":*") for a in actions), sid
        assert "*" not in resources_, sid


def test_role_never_deletes_objects(estate, env):
    for actions, _, _ in _statements_by_sid(_hasher_policy(_assets(estate, env))).values():
        assert not any("Delete" in a for a in actions if a.startswith("s3:"))


# ---------------------------------------------------------------------------- config

@pytest.mark.parametrize("value", [1, 1001, 0, "50", True])
def test_hasher_concurrency_outside_the_event_source_range_is_rejected_naming_the_field(value):
    with pytest.raises(ConfigError, match="upload_api: hasher_reserved_concurrency"):
        UploadApiConfig(hasher_reserved_concurrency=value)


def test_log_retention_below_one_day_is_rejected_naming_the_field():
    with pytest.raises(ConfigError, match="upload_api: log_retention_days"):
        UploadApiConfig(log_retention_days=0)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_largest_upload_fits_a_fresh_invocation_of_the_hasher(env):
    # Never deferred for ever: the first record of an invocation has the whole timeout, enough
    # for the largest upload any configured kind admits.
    from estate_handlers import hasher

    from infra.constructs.upload_hasher import TIMEOUT
    largest = max(kind.max_bytes for kind in ENVIRONMENTS[env]().upload_api.kinds.values())
    assert largest / hasher.STREAM_BYTES_PER_SECOND + hasher.STREAM_MARGIN_SECONDS \
        < TIMEOUT.to_seconds()
