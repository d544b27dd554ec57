"""Alarms, alarm topic and dashboard of one environment (infra/constructs/monitoring.py).

One small app, synthesized once with the policy packs applied (an unacknowledged finding
fails the fixture):
- ``Estate``: stand-in targets (a Function, the hashing queue and its DLQ, an HTTP API) and
  ``EstateMonitoring`` over every target, with a non-default ``MonitoringConfig`` so each
  threshold is seen to come from config, and a chat webhook;
- ``Monitoring``: the ``MonitoringStack`` of the shipped dev config with only the upload API,
  given by id, so every other target is None.
"""
from __future__ import annotations

import dataclasses
import json

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from helpers import resources
from test_cfn_lint import _lint_errors

from infra.config import ConfigError, MonitoringConfig
from infra.constructs.monitoring import (
    SECTION_EDGE,
    SECTION_HASHING,
    SECTION_REPLICATION,
    SECTION_UPLOADS,
    EstateMonitoring,
    MonitoredFunction,
    MonitoringTargets,
)
from infra.constructs.replication import RTC_MINUTES, RULE_ID
from infra.environments import dev
from infra.nag import acknowledge, acknowledgements, apply_policy_packs
from infra.stacks.monitoring_stack import MonitoringStack

THRESHOLDS = MonitoringConfig(
    sustained_periods=4,
    pending_replication_floor=5000,
    pending_replication_growth_periods=5,
    api_5xx_rate_percent=2.0,
    api_p99_latency_ms=1500,
    function_errors_per_period=2,
    function_throttles_per_period=1,
    duration_near_timeout_ratio=0.75,
    queue_age_seconds=600,
    cloudfront_5xx_rate_percent=3.0,
    cloudfront_4xx_spike_percent=20.0,
    origin_latency_ms=2500,
    waf_blocked_spike=500,
)
CFG = dataclasses.replace(dev(), chat_webhook_url="https://hooks.example.com/estate",
                          monitoring=THRESHOLDS)
FUNCTION_TIMEOUT = Duration.seconds(60)
DISTRIBUTION_ID = "E2EXAMPLE12345"
WEB_ACL_NAME = "justkalm-assets-dev"
WEB_ACL_METRIC_NAME = "justkalm-assets-dev-metric"
API_ID = "a1b2c3d4e5"
STAND_IN = "Stand-in target of the monitoring test app; never deployed."


class Synthesized:
    def __init__(self, outdir: str) -> None:
        self.app = App(outdir=outdir)
        env = Environment(account=CFG.account, region=CFG.primary_region)
        self.estate = Stack(self.app, "Estate", env=env)
        fn = lambda_.Function(
            self.estate, "Hasher", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
            code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
            timeout=FUNCTION_TIMEOUT)
        dlq = sqs.Queue(self.estate, "HashDlq", enforce_ssl=True)
        queue = sqs.Queue(self.estate, "HashQueue", enforce_ssl=True,
                          dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=5))
        api = apigwv2.HttpApi(self.estate, "UploadApi")
        acknowledge(fn, {rule: STAND_IN for rule in (
            "AwsSolutions-L1", "NIST.800.53.R5-LambdaConcurrency", "NIST.800.53.R5-LambdaDLQ",
            "NIST.800.53.R5-LambdaInsideVPC")})
        acknowledge(fn.role, {"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                              "service-role/AWSLambdaBasicExecutionRole]": STAND_IN})
        acknowledge(api, {"AwsSolutions-APIG1": STAND_IN})
        targets = MonitoringTargets(
            assets_bucket_name=CFG.assets_bucket_name,
            replica_bucket_name=CFG.replica_bucket_name,
            http_api=api,
            functions=[MonitoredFunction.of(fn)],
            hash_queue=queue,
            hash_dlq=dlq,
            distribution_id=DISTRIBUTION_ID,
            web_acl_name=WEB_ACL_NAME,
            web_acl_metric_name=WEB_ACL_METRIC_NAME,
        )
        self.monitoring = EstateMonitoring(self.estate, "Monitoring", cfg=CFG, targets=targets)
        self.ids = {
            "function": self.estate.get_logical_id(fn.node.default_child),
            "queue": self.estate.get_logical_id(queue.node.default_child),
            "dlq": self.estate.get_logical_id(dlq.node.default_child),
            "api": self.estate.get_logical_id(api.node.default_child),
            "topic": self.estate.get_logical_id(self.monitoring.topic.node.default_child),
            "key": self.estate.get_logical_id(self.monitoring.key.node.default_child),
        }
        self.api_only = MonitoringStack(
            self.app, "Monitoring", cfg=dev(),
            targets=MonitoringTargets(http_api_id=API_ID, http_api_stage="v1"))
        apply_policy_packs(self.app)
        self.assembly = self.app.synth()  # raises on any unacknowledged policy finding

    def template(self, stack: Stack) -> dict:
        return self.assembly.get_stack_artifact(stack.artifact_id).template


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Synthesized:
    return Synthesized(str(tmp_path_factory.mktemp("monitoring.out")))


@pytest.fixture(scope="module")
def full(synth) -> dict:
    return synth.template(synth.estate)


@pytest.fixture(scope="module")
def api_only(synth) -> dict:
    return synth.template(synth.api_only)


# Readers -------------------------------------------------------------------------------------

def alarms(template: dict) -> dict[str, dict]:
    return {a["Properties"]["AlarmName"]: a["Properties"]
            for a in resources(template, "AWS::CloudWatch::Alarm").values()}


def alarm(template: dict, name: str) -> dict:
    found = alarms(template)
    assert name in found, f"no alarm {name}; have {sorted(found)}"
    return found[name]


def stat(props: dict, metric_id: str | None = None) -> dict:
    """The MetricStat an alarm evaluates (or, for an expression, the one named metric_id)."""
    queries = props["Metrics"]
    query = (next(q for q in queries if q["Id"] == metric_id) if metric_id
             else next(q for q in queries if q.get("ReturnData", True)))
    return query["MetricStat"]


def dims(metric_stat: dict) -> dict:
    return {d["Name"]: d["Value"] for d in metric_stat["Metric"].get("Dimensions", [])}


def assert_alarm(props: dict, *, namespace: str, metric: str, statistic: str, dimensions: dict,
                 threshold: float, operator: str, periods: int, missing: str,
                 metric_id: str | None = None) -> None:
    s = stat(props, metric_id)
    assert (s["Metric"]["Namespace"], s["Metric"]["MetricName"], s["Stat"]) == \
        (namespace, metric, statistic)
    assert dims(s) == dimensions
    assert s["Period"] == THRESHOLDS.alarm_period_minutes * 60
    assert props["Threshold"] == pytest.approx(threshold)
    assert props["ComparisonOperator"] == operator
    assert (props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (periods, periods)
    assert props["TreatMissingData"] == missing


GT = "GreaterThanThreshold"
P = "justkalm-dev"
SUSTAINED = THRESHOLDS.sustained_periods
REPLICATION_DIMS = {"SourceBucket": CFG.assets_bucket_name,
                    "DestinationBucket": CFG.replica_bucket_name, "RuleId": RULE_ID}
CDN_DIMS = {"DistributionId": DISTRIBUTION_ID, "Region": "Global"}


# Replication ---------------------------------------------------------------------------------

def test_replication_latency_alarms_above_the_rtc_window(full):
    assert THRESHOLDS.replication_latency_seconds == RTC_MINUTES * 60
    assert_alarm(alarm(full, f"{P}-Replication-Latency-Critical"),
                 namespace="AWS/S3", metric="ReplicationLatency", statistic="Maximum",
                 dimensions=REPLICATION_DIMS, threshold=RTC_MINUTES * 60, operator=GT,
                 periods=SUSTAINED, missing="notBreaching")


def test_failed_replication_alarms_on_any_failure(full):
    assert_alarm(alarm(full, f"{P}-Replication-Failed-Critical"),
                 namespace="AWS/S3", metric="OperationsFailedReplication", statistic="Sum",
                 dimensions=REPLICATION_DIMS, threshold=0, operator=GT, periods=1,
                 missing="notBreaching")


def test_pending_replication_alarms_on_a_backlog_growing_for_n_periods(full):
    props = alarm(full, f"{P}-Replication-Pending-Growing-Critical")
    expression = next(q for q in props["Metrics"] if q.get("ReturnData", True))["Expression"]
    assert expression == (f"IF(pending > {THRESHOLDS.pending_replication_floor} "
                          "AND DIFF(pending) > 0, 1, 0)")
    assert_alarm(props, metric_id="pending",
                 namespace="AWS/S3", metric="OperationsPendingReplication", statistic="Maximum",
                 dimensions=REPLICATION_DIMS, threshold=1,
                 operator="GreaterThanOrEqualToThreshold",
                 periods=THRESHOLDS.pending_replication_growth_periods, missing="notBreaching")


# Upload API ----------------------------------------------------------------------------------

def test_upload_api_alarms_on_its_5xx_rate(full, synth):
    # The Average of API Gateway's 5xx metric is the failed fraction of requests.
    assert_alarm(alarm(full, f"{P}-UploadApi-Fault-Rate-Critical"),
                 namespace="AWS/ApiGateway", metric="5xx", statistic="Average",
                 dimensions={"ApiId": {"Ref": synth.ids["api"]}, "Stage": "$default"},
                 threshold=THRESHOLDS.api_5xx_rate_percent / 100, operator=GT,
                 periods=SUSTAINED, missing="notBreaching")


def test_upload_api_alarms_on_its_p99_latency(full, synth):
    assert_alarm(alarm(full, f"{P}-UploadApi-Latency-P99-Critical"),
                 namespace="AWS/ApiGateway", metric="Latency", statistic="p99",
                 dimensions={"ApiId": {"Ref": synth.ids["api"]}, "Stage": "$default"},
                 threshold=THRESHOLDS.api_p99_latency_ms, operator=GT,
                 periods=SUSTAINED, missing="notBreaching")


def test_upload_api_given_by_id_is_alarmed_for_its_stage(api_only):
    s = stat(alarm(api_only, f"{P}-UploadApi-Fault-Rate-Critical"))
    assert dims(s) == {"ApiId": API_ID, "Stage": "v1"}


# Functions and queues ------------------------------------------------------------------------

def test_each_function_alarms_on_errors(full, synth):
    assert_alarm(alarm(full, f"{P}-Hasher-Fault-Count-Critical"),
                 namespace="AWS/Lambda", metric="Errors", statistic="Sum",
                 dimensions={"FunctionName": {"Ref": synth.ids["function"]}},
                 threshold=THRESHOLDS.function_errors_per_period, operator=GT, periods=1,
                 missing="notBreaching")


def test_each_function_alarms_on_throttles(full, synth):
    assert_alarm(alarm(full, f"{P}-Hasher-Throttled-Count-Critical"),
                 namespace="AWS/Lambda", metric="Throttles", statistic="Sum",
                 dimensions={"FunctionName": {"Ref": synth.ids["function"]}},
                 threshold=THRESHOLDS.function_throttles_per_period, operator=GT, periods=1,
                 missing="notBreaching")


def test_each_function_alarms_when_p99_duration_nears_its_timeout(full, synth):
    assert_alarm(alarm(full, f"{P}-Hasher-Latency-P99-Critical"),
                 namespace="AWS/Lambda", metric="Duration", statistic="p99",
                 dimensions={"FunctionName": {"Ref": synth.ids["function"]}},
                 threshold=(FUNCTION_TIMEOUT.to_milliseconds()
                            * THRESHOLDS.duration_near_timeout_ratio),
                 operator=GT, periods=SUSTAINED, missing="notBreaching")


def test_hashing_queue_alarms_on_the_age_of_its_oldest_message(full, synth):
    assert_alarm(alarm(full, f"{P}-HashQueue-Queue-Message-Age-Max-Critical"),
                 namespace="AWS/SQS", metric="ApproximateAgeOfOldestMessage", statistic="Maximum",
                 dimensions={"QueueName": {"Fn::GetAtt": [synth.ids["queue"], "QueueName"]}},
                 threshold=THRESHOLDS.queue_age_seconds, operator=GT, periods=SUSTAINED,
                 missing="ignore")


def test_dead_letter_queue_alarms_on_any_visible_message(full, synth):
    assert_alarm(alarm(full, f"{P}-HashQueue-DLQ-Queue-Message-Count-Max-Critical"),
                 namespace="AWS/SQS", metric="ApproximateNumberOfMessagesVisible",
                 statistic="Maximum",
                 dimensions={"QueueName": {"Fn::GetAtt": [synth.ids["dlq"], "QueueName"]}},
                 threshold=0, operator=GT, periods=1, missing="ignore")


# CDN and WAF ---------------------------------------------------------------------------------

def test_cdn_alarms_on_its_5xx_error_rate(full):
    assert_alarm(alarm(full, f"{P}-Cdn-Fault-Rate-Critical"),
                 namespace="AWS/CloudFront", metric="5xxErrorRate", statistic="Average",
                 dimensions=CDN_DIMS, threshold=THRESHOLDS.cloudfront_5xx_rate_percent,
                 operator=GT, periods=SUSTAINED, missing="notBreaching")


def test_cdn_alarms_on_a_4xx_error_rate_spike(full):
    assert_alarm(alarm(full, f"{P}-Cdn-Error-Rate-Critical"),
                 namespace="AWS/CloudFront", metric="4xxErrorRate", statistic="Average",
                 dimensions=CDN_DIMS, threshold=THRESHOLDS.cloudfront_4xx_spike_percent,
                 operator=GT, periods=SUSTAINED, missing="notBreaching")


def test_cdn_alarms_on_origin_latency(full):
    assert_alarm(alarm(full, f"{P}-Cdn-Origin-Latency-Critical"),
                 namespace="AWS/CloudFront", metric="OriginLatency", statistic="p99",
                 dimensions=CDN_DIMS, threshold=THRESHOLDS.origin_latency_ms, operator=GT,
                 periods=SUSTAINED, missing="notBreaching")


def test_waf_alarms_on_a_blocked_requests_spike_by_web_acl_metric_name(full):
    # CLOUDFRONT-scope web ACL: no Region dimension; WebACL is the ACL's metric name.
    assert_alarm(alarm(full, f"{P}-Waf-Blocked-Critical"),
                 namespace="AWS/WAFV2", metric="BlockedRequests", statistic="Sum",
                 dimensions={"WebACL": WEB_ACL_METRIC_NAME, "Rule": "ALL"},
                 threshold=THRESHOLDS.waf_blocked_spike, operator=GT, periods=1,
                 missing="notBreaching")


# Every alarm ---------------------------------------------------------------------------------

def test_every_target_gets_its_alarms_and_nothing_else(full):
    assert sorted(alarms(full)) == sorted(f"{P}-{suffix}-Critical" for suffix in (
        "Replication-Latency", "Replication-Failed", "Replication-Pending-Growing",
        "UploadApi-Fault-Rate", "UploadApi-Latency-P99",
        "Hasher-Fault-Count", "Hasher-Throttled-Count", "Hasher-Latency-P99",
        "HashQueue-Queue-Message-Age-Max", "HashQueue-DLQ-Queue-Message-Count-Max",
        "Cdn-Fault-Rate", "Cdn-Error-Rate", "Cdn-Origin-Latency", "Waf-Blocked"))


def test_every_alarm_notifies_the_alarm_topic(full, synth):
    for name, props in alarms(full).items():
        assert props["ActionsEnabled"] is True, name
        assert props["AlarmActions"] == [{"Ref": synth.ids["topic"]}], name


def test_every_alarm_description_carries_a_one_line_runbook(full):
    for name, props in alarms(full).items():
        runbook = props["AlarmDescription"].split("Runbook: ", 1)
        assert len(runbook) == 2 and runbook[1].strip(), name
        assert "\n" not in runbook[1], name


def test_a_target_left_none_gets_no_alarms(api_only):
    namespaces = {stat(props)["Metric"]["Namespace"] for props in alarms(api_only).values()}
    assert namespaces == {"AWS/ApiGateway"}
    assert len(alarms(api_only)) == 2


# Topic ---------------------------------------------------------------------------------------

def test_alarm_topic_is_encrypted_with_its_own_rotating_key(full, synth):
    (topic,) = resources(full, "AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [synth.ids["key"], "Arn"]}
    assert full["Resources"][synth.ids["key"]]["Properties"]["EnableKeyRotation"] is True


def test_topic_key_lets_only_this_accounts_estate_alarms_use_it(full, synth):
    statements = full["Resources"][synth.ids["key"]]["Properties"]["KeyPolicy"]["Statement"]
    (cloudwatch,) = [s for s in statements
                     if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"]["StringEquals"] == {"aws:SourceAccount": CFG.account}
    source_arn = json.dumps(cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"])
    assert f":cloudwatch:us-east-1:{CFG.account}:alarm:{P}-*" in source_arn


def test_alarm_topic_accepts_tls_requests_only(full):
    (policy,) = resources(full, "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    insecure = {"Bool": {"aws:SecureTransport": "false"}}
    assert any(s["Effect"] == "Deny" and s["Condition"] == insecure for s in statements)


def test_alarm_topic_lets_this_accounts_alarms_publish(full):
    (policy,) = resources(full, "AWS::SNS::TopicPolicy").values()
    (publish,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
                  if s["Effect"] == "Allow"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Action"] == "sns:Publish"
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": CFG.account}


def _subscriptions(template: dict) -> dict[str, str]:
    return {s["Properties"]["Protocol"]: s["Properties"]["Endpoint"]
            for s in resources(template, "AWS::SNS::Subscription").values()}


def test_alarm_email_is_subscribed_to_the_topic(full):
    assert _subscriptions(full)["email"] == CFG.alarm_email


def test_chat_webhook_is_subscribed_over_https_when_configured(full):
    assert _subscriptions(full)["https"] == CFG.chat_webhook_url


def test_no_webhook_subscription_without_a_chat_webhook(api_only):
    assert _subscriptions(api_only) == {"email": dev().alarm_email}


def test_replication_target_needs_both_bucket_names():
    with pytest.raises(ValueError, match="assets_bucket_name and replica_bucket_name go together"):
        MonitoringTargets(assets_bucket_name=CFG.assets_bucket_name)


def test_non_https_chat_webhook_is_rejected_naming_the_field():
    cfg = dataclasses.replace(dev(), chat_webhook_url="http://hooks.example.com/estate")
    with pytest.raises(ConfigError, match="chat_webhook_url must be an https:// URL"):
        EstateMonitoring(Stack(App(), "S"), "Monitoring", cfg=cfg, targets=MonitoringTargets())


# Dashboard, stack, policy packs --------------------------------------------------------------

def _dashboard_text(template: dict) -> str:
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    return "".join(p if isinstance(p, str) else "" for p in parts)


def test_one_dashboard_shows_every_section(full):
    (dashboard,) = resources(full, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == "justkalm-storage-estate-dev"
    text = _dashboard_text(full)
    for section in (SECTION_REPLICATION, SECTION_UPLOADS, SECTION_HASHING, SECTION_EDGE):
        assert f"# {section}" in text, section
    for metric in ("ReplicationLatency", "OperationsPendingReplication", "5xxErrorRate",
                   "OriginLatency", "BlockedRequests", "ApproximateAgeOfOldestMessage"):
        assert metric in text, metric


def test_dashboard_leaves_out_sections_without_targets(api_only):
    text = _dashboard_text(api_only)
    assert f"# {SECTION_UPLOADS}" in text
    assert all(f"# {s}" not in text for s in (SECTION_REPLICATION, SECTION_HASHING, SECTION_EDGE))


def test_monitoring_stack_is_in_us_east_1_without_termination_protection(synth):
    stack = synth.api_only
    assert (stack.region, stack.account) == ("us-east-1", dev().account)
    assert stack.termination_protection is False


def test_monitoring_templates_pass_cfn_lint(full, api_only, tmp_path):
    paths = []
    for name, template in (("estate", full), ("monitoring", api_only)):
        path = tmp_path / f"{name}.template.json"
        path.write_text(json.dumps(template))
        paths.append(path)
    assert _lint_errors(paths) == []


def test_monitoring_needs_no_acknowledged_findings(synth):
    assert acknowledgements(synth.monitoring) == []
    assert acknowledgements(synth.api_only) == []


# Config --------------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, problem", [
    ("sustained_periods", 0, "must be a whole number >= 1"),
    ("replication_latency_seconds", -1, "must be a whole number >= 1"),
    ("function_throttles_per_period", -1, "must be a whole number >= 0"),
    ("api_5xx_rate_percent", 0, "must be a percentage"),
    ("cloudfront_4xx_spike_percent", 150, "must be a percentage"),
    ("duration_near_timeout_ratio", 1.0, "must be between 0 and 1"),
    ("alarm_period_minutes", 300, r"\(300\) x 6 periods exceeds the one-day evaluation range"),
])
def test_invalid_monitoring_config_is_rejected_naming_the_field(field, value, problem):
    with pytest.raises(ConfigError, match=rf"monitoring: {field} {problem}"):
        MonitoringConfig(**{field: value})


def test_shipped_environments_use_the_default_thresholds():
    assert dev().monitoring == MonitoringConfig()
    assert MonitoringConfig().replication_latency_seconds == RTC_MINUTES * 60
