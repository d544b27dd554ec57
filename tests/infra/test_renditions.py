"""The renditions pipeline in the Assets stack: originals topic → KMS queue with a DLQ →
the renditions function (layer built for arm64/3.14) with exactly the permissions it needs;
the Batch Operations backfill role; the alarms; and the config that feeds the handler."""
from __future__ import annotations

import json

import pytest
from estate_handlers.renditions.settings import Settings
from helpers import as_list, bucket_named, resources

from infra.config import ORIGINALS, ConfigError, RenditionsConfig
from infra.constructs.renditions import MEMORY_MB
from infra.environments import ENVIRONMENTS

ENVS = ("dev", "prod")


@pytest.fixture(params=ENVS)
def env(request):
    return request.param




def _template(estate, env) -> dict:
    return estate.template_json(env, "Assets")


def _cfg(env):
    return ENVIRONMENTS[env]()


def _mine(template: dict, cfn_type: str) -> dict[str, dict]:
    return {k: v for k, v in resources(template, cfn_type).items() if k.startswith("Renditions")}


def _function(template: dict) -> tuple[str, dict]:
    (found,) = _mine(template, "AWS::Lambda::Function").items()
    return found


def _queues(template: dict) -> tuple[tuple[str, dict], tuple[str, dict]]:
    queues = _mine(template, "AWS::SQS::Queue")
    assert len(queues) == 2
    main = next((k, v) for k, v in queues.items() if "RedrivePolicy" in v["Properties"])
    dlq = next((k, v) for k, v in queues.items() if k != main[0])
    return main, dlq


def _topic_id(template: dict) -> str:
    (topic_id,) = [k for k in resources(template, "AWS::SNS::Topic") if k.startswith("OriginalsTopic")]
    return topic_id


def _resource_name(value) -> str:
    if isinstance(value, str):
        return value
    if "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    if "Ref" in value:
        return f"<{value['Ref']}>"
    raise AssertionError(value)


def _statements(template: dict, role_id: str) -> dict[str, tuple]:
    (policy,) = [v for v in resources(template, "AWS::IAM::ManagedPolicy").values()
                 if {"Ref": role_id} in v["Properties"].get("Roles", [])]
    return {st["Sid"]: (sorted(as_list(st["Action"])),
                        sorted(_resource_name(r) for r in as_list(st["Resource"])),
                        st.get("Condition"))
            for st in policy["Properties"]["PolicyDocument"]["Statement"]}


def _objects(cfg, prefix: str) -> str:
    return f"arn:aws:s3:::{cfg.assets_bucket_name}/{prefix}*"


# ----------------------------------------------------------------- trigger and queues

def test_gate_on_only_a_clean_verdict_on_an_original_reaches_the_renditions_queue(
        estate, gated_env):
    env = gated_env
    cfg = _cfg(env)
    template = _template(estate, env)
    (queue_id, _), _ = _queues(template)
    [rule] = [r["Properties"] for r in resources(template, "AWS::Events::Rule").values()
              if r["Properties"].get("Name") == cfg.upload_gate_names.release_rule("Renditions")]
    assert rule["EventPattern"]["detail"] == {
        "s3ObjectDetails": {"bucketName": [cfg.assets_bucket_name],
                            "objectKey": [{"prefix": ORIGINALS}]},
        "scanResultDetails": {"scanResultStatus": ["NO_THREATS_FOUND"]}}
    assert rule["Targets"] == [{"Id": "Queue", "Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}]
    _, bucket = bucket_named(template, cfg.assets_bucket_name)
    assert "TopicConfigurations" not in bucket["Properties"].get("NotificationConfiguration", {})


def test_originals_publish_every_created_object_to_the_originals_topic(estate, ungated_env):
    env = ungated_env
    template = _template(estate, env)
    _, bucket = bucket_named(template, _cfg(env).assets_bucket_name)
    [config] = bucket["Properties"]["NotificationConfiguration"]["TopicConfigurations"]
    assert config == {"Event": "s3:ObjectCreated:*", "Topic": {"Ref": _topic_id(template)},
                      "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": ORIGINALS}]}}}


def test_the_renditions_queue_receives_raw_s3_notifications_from_the_topic(estate, ungated_env):
    env = ungated_env
    template = _template(estate, env)
    (queue_id, _), _ = _queues(template)
    [subscription] = [v["Properties"] for v in _mine(template, "AWS::SNS::Subscription").values()]
    assert subscription == {"Endpoint": {"Fn::GetAtt": [queue_id, "Arn"]}, "Protocol": "sqs",
                            "RawMessageDelivery": True, "TopicArn": {"Ref": _topic_id(template)}}


def test_only_s3_for_the_assets_bucket_may_publish_to_the_topic_over_tls(estate, ungated_env):
    env = ungated_env
    template = _template(estate, env)
    cfg = _cfg(env)
    topic_id = _topic_id(template)
    (policy,) = [v for v in resources(template, "AWS::SNS::TopicPolicy").values()
                 if v["Properties"]["Topics"] == [{"Ref": topic_id}]]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows == [{
        "Sid": "S3PublishesFromTheAssetsBucket", "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sns:Publish",
        "Resource": {"Ref": topic_id},
        "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:s3:::{cfg.assets_bucket_name}"},
                      "StringEquals": {"aws:SourceAccount": cfg.account}}}]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in statements)


def test_the_topic_is_encrypted_with_a_rotating_customer_key(estate, ungated_env):
    env = ungated_env
    template = _template(estate, env)
    topic = template["Resources"][_topic_id(template)]
    key = template["Resources"][topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]]
    assert key["Properties"]["EnableKeyRotation"] is True


def test_queue_and_dlq_are_kms_encrypted_and_tls_only(estate, env):
    template = _template(estate, env)
    for queue_id, queue in _queues(template):
        key = template["Resources"][queue["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]]
        assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
        (policy,) = [v for v in resources(template, "AWS::SQS::QueuePolicy").values()
                     if v["Properties"]["Queues"] == [{"Ref": queue_id}]]
        assert any(s["Effect"] == "Deny"
                   and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in policy["Properties"]["PolicyDocument"]["Statement"])


def test_a_message_goes_to_the_dlq_after_5_receives(estate, env):
    (_, queue), (dlq_id, _) = _queues(_template(estate, env))
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}, "maxReceiveCount": 5}


def test_visibility_is_six_times_the_function_timeout(estate, env):
    template = _template(estate, env)
    (_, queue), _ = _queues(template)
    assert queue["Properties"]["VisibilityTimeout"] == \
        6 * _function(template)[1]["Properties"]["Timeout"]


def test_the_dlq_keeps_messages_longer_than_the_queue(estate, env):
    (_, queue), (_, dlq) = _queues(_template(estate, env))
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 86400
    assert queue["Properties"]["MessageRetentionPeriod"] < dlq["Properties"]["MessageRetentionPeriod"]


def test_the_event_source_reports_item_failures_within_the_reserved_concurrency(estate, env):
    template = _template(estate, env)
    fn_id, fn = _function(template)
    (queue_id, _), _ = _queues(template)
    (mapping,) = _mine(template, "AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert props["FunctionName"] == {"Ref": fn_id}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["ScalingConfig"]["MaximumConcurrency"] == \
        fn["Properties"]["ReservedConcurrentExecutions"] == _cfg(env).renditions.reserved_concurrency


# ------------------------------------------------------------------------- function

def test_the_function_runs_the_handler_on_python_3_14_arm64_at_the_benchmarked_size(estate, env):
    props = _function(_template(estate, env))[1]["Properties"]
    assert (props["Runtime"], props["Architectures"], props["MemorySize"], props["Handler"]) == (
        "python3.14", ["arm64"], MEMORY_MB, "estate_handlers.renditions.handler.handler")


def test_the_function_gets_its_packages_from_an_arm64_python_3_14_layer(estate, env):
    template = _template(estate, env)
    props = _function(template)[1]["Properties"]
    (layer_id, layer) = next(iter(_mine(template, "AWS::Lambda::LayerVersion").items()))
    assert props["Layers"] == [{"Ref": layer_id}]
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.14"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert "Pillow" in layer["Properties"]["LicenseInfo"]


def test_the_function_reads_the_configured_rendition_set(estate, env):
    props = _function(_template(estate, env))[1]["Properties"]
    raw = props["Environment"]["Variables"]["RENDITIONS_CONFIG"]
    assert Settings.from_json(raw) == Settings.from_json(_cfg(env).renditions.settings_json())


def test_the_handler_defaults_equal_the_config_defaults():
    assert Settings.from_json(RenditionsConfig().settings_json()) == Settings()


# ---------------------------------------------------------------- exact permissions

def test_the_function_role_may_do_exactly_what_the_handler_needs(estate, env):
    template = _template(estate, env)
    cfg = _cfg(env)
    fn_id, fn = _function(template)
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    (queue_id, queue), _ = _queues(template)
    queue_key = queue["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    _, bucket = bucket_named(template, cfg.assets_bucket_name)
    sse = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    bucket_key = sse["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0]
    log_group = fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    region = "us-east-1"
    assert _statements(template, role_id) == {
        "ReadAndTagOriginals": (
            ["s3:GetObject", "s3:GetObjectTagging", "s3:GetObjectVersion",
             "s3:GetObjectVersionTagging", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"],
            [_objects(cfg, ORIGINALS)], None),
        "ReadAndWriteRenditions": (
            ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            sorted([_objects(cfg, "products/images/processed/"),
                    _objects(cfg, "products/images/thumbnails/")]), None),
        "ListBucketFor404s": (["s3:ListBucket"], [f"arn:aws:s3:::{cfg.assets_bucket_name}"], None),
        "UseAssetsKeyViaS3": (["kms:Decrypt", "kms:GenerateDataKey"], [f"<{bucket_key}.Arn>"],
                              {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}),
        "ConsumeRenditionsQueue": (
            ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
             "sqs:ReceiveMessage"], [f"<{queue_id}.Arn>"], None),
        "DecryptRenditionsQueueViaSqs": (
            ["kms:Decrypt"], [f"<{queue_key}.Arn>"],
            {"StringEquals": {"kms:ViaService": f"sqs.{region}.amazonaws.com"}}),
        "WriteOwnLogs": (["logs:CreateLogStream", "logs:PutLogEvents"], [f"<{log_group}.Arn>"], None),
    }


def test_the_function_role_has_no_other_policy(estate, env):
    template = _template(estate, env)
    role_id = _function(template)[1]["Properties"]["Role"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]
    assert "Policies" not in role["Properties"] and "ManagedPolicyArns" not in role["Properties"]
    assert not [v for v in resources(template, "AWS::IAM::Policy").values()
                if {"Ref": role_id} in v["Properties"].get("Roles", [])]


def test_the_backfill_role_is_for_batch_operations_of_this_account_only(estate, env):
    template = _template(estate, env)
    cfg = _cfg(env)
    (role_id, role), = [(k, v) for k, v in resources(template, "AWS::IAM::Role").items()
                        if v["Properties"].get("RoleName") == cfg.renditions_backfill_role_name]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": "sts:AssumeRole", "Effect": "Allow",
        "Principal": {"Service": "batchoperations.s3.amazonaws.com"},
        "Condition": {"StringEquals": {"aws:SourceAccount": cfg.account}}}]


def test_the_backfill_role_may_invoke_the_function_and_use_only_the_backfill_prefix(estate, env):
    template = _template(estate, env)
    cfg = _cfg(env)
    fn_id, _ = _function(template)
    (role_id,) = [k for k, v in resources(template, "AWS::IAM::Role").items()
                  if v["Properties"].get("RoleName") == cfg.renditions_backfill_role_name]
    statements = _statements(template, role_id)
    assert statements["InvokeRenditions"] == (["lambda:InvokeFunction"], [f"<{fn_id}.Arn>"], None)
    assert statements["ReadBackfillManifests"] == (
        ["s3:GetObject", "s3:GetObjectVersion"], [_objects(cfg, "ops/renditions-backfill/manifests/")], None)
    assert statements["WriteCompletionReports"] == (
        ["s3:PutObject"], [_objects(cfg, "ops/renditions-backfill/reports/")], None)
    assert set(statements) == {"InvokeRenditions", "ReadBackfillManifests",
                               "WriteCompletionReports", "LocateBucketForReports",
                               "UseAssetsKeyViaS3"}


# ------------------------------------------------------------------------------ alarms

def test_the_rejected_alarm_watches_the_handlers_emf_metric(estate, env):
    template = estate.template_json(env, "Monitoring")
    cfg = _cfg(env)
    (alarm,) = [v["Properties"] for v in resources(template, "AWS::CloudWatch::Alarm").values()
                if "Renditions-Rejected" in v["Properties"]["AlarmName"]]
    [query] = alarm["Metrics"]
    stat = query["MetricStat"]
    assert (stat["Metric"], stat["Stat"]) == ({
        "Namespace": "StorageEstate/Renditions", "MetricName": "RejectedOriginals",
        "Dimensions": [{"Name": "service", "Value": "renditions"}]}, "Sum")
    assert alarm["Threshold"] == cfg.renditions.rejected_alarm_per_period


def test_the_dlq_alarm_fires_on_any_renditions_message(estate, env):
    template = estate.template_json(env, "Monitoring")
    (alarm,) = [v["Properties"] for v in resources(template, "AWS::CloudWatch::Alarm").values()
                if "RenditionsQueue-DLQ" in v["Properties"]["AlarmName"]]
    [query] = alarm["Metrics"]
    assert query["MetricStat"]["Metric"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"


# ------------------------------------------------------------------------------ config

@pytest.mark.parametrize("overrides, field", [
    ({"processed_widths": (2048, 0)}, "processed_widths"),
    ({"thumbnail_widths": (2048,)}, "thumbnail_widths"),
    ({"formats": ("avif", "webp")}, "formats"),
    ({"formats": ("avif", "gif", "jpeg")}, "formats"),
    ({"quality": (("avif", 55), ("webp", 101), ("jpeg", 82))}, "quality"),
    ({"max_pixels": 0}, "max_pixels"),
    ({"reserved_concurrency": 1}, "reserved_concurrency"),
    ({"avif_speed": 11}, "avif_speed"),
    ({"avif_speed": -1}, "avif_speed"),
    ({"avif_speed": True}, "avif_speed"),
])
def test_a_bad_rendition_config_is_refused_naming_the_field(overrides, field):
    with pytest.raises(ConfigError, match=field):
        RenditionsConfig(**overrides)


def test_the_shipped_environments_use_the_storefront_defaults():
    for make in ENVIRONMENTS.values():
        config = json.loads(make().renditions.settings_json())
        assert (config["processed_widths"], config["thumbnail_widths"], config["formats"]) == (
            [2048, 1200], [600, 300], ["avif", "webp", "jpeg"])
        assert config["avif_speed"] == 6  # the equal-quality study's choice (docs/renditions.md)
