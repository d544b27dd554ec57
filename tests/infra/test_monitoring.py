"""Alarms, alarm topics and the dashboard of each environment (infra/constructs/monitoring/),
read from the estate's synthesized templates: the thresholds come from the environment's
``MonitoringConfig``, the dimensions from the resources they watch."""
from __future__ import annotations

import dataclasses
import json

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk.assertions import Template
from helpers import resources

from infra.config import ConfigError, MonitoringConfig
from infra.constructs.monitoring import (
    SECTION_EDGE,
    SECTION_FUNCTIONS,
    SECTION_QUEUES,
    SECTION_REPLICATION,
    SECTION_UPLOADS,
    MetricAlarm,
    MonitoringTargets,
    ReplicationMonitoring,
    TopicNames,
    WatchedReplication,
)
from infra.constructs.replication import RTC_MINUTES, RULE_ID
from infra.environments import dev
from infra.stacks.monitoring_stack import MonitoringStack

GT = "GreaterThanThreshold"


@pytest.fixture(params=["dev", "prod"])
def env(request):
    return request.param


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


class Env:
    """One environment's monitoring templates, config and alarm names."""

    def __init__(self, estate, env: str) -> None:
        self.cfg = estate.stages[env].cfg
        self.m = self.cfg.monitoring
        self.primary = estate.template_json(env, "Monitoring")
        self.replica = estate.template_json(env, "ReplicationMonitoring")

    def name(self, suffix: str) -> str:
        return f"{self.cfg.alarm_name_prefix}-{suffix}-Critical"

    @property
    def replication_dims(self) -> dict:
        return {"SourceBucket": self.cfg.assets_bucket_name,
                "DestinationBucket": self.cfg.replica_bucket_name, "RuleId": RULE_ID}


@pytest.fixture
def e(estate, env) -> Env:
    return Env(estate, env)


def assert_alarm(props: dict, e: Env, *, namespace: str, metric: str, statistic: str,
                 threshold: float, operator: str, periods: int, missing: str,
                 dimensions: dict | None = None, metric_id: str | None = None,
                 datapoints: int | None = None) -> None:
    s = stat(props, metric_id)
    assert (s["Metric"]["Namespace"], s["Metric"]["MetricName"], s["Stat"]) == \
        (namespace, metric, statistic)
    if dimensions is not None:
        assert dims(s) == dimensions
    assert s["Period"] == e.m.alarm_period_minutes * 60
    assert props["Threshold"] == pytest.approx(threshold)
    assert props["ComparisonOperator"] == operator
    assert (props["EvaluationPeriods"], props["DatapointsToAlarm"]) == \
        (periods, periods if datapoints is None else datapoints)
    assert props["TreatMissingData"] == missing


# Replication ---------------------------------------------------------------------------------

def test_replication_latency_alarms_above_the_rtc_window_in_the_replica_region(e):
    assert e.m.replication_latency_seconds == RTC_MINUTES * 60
    assert_alarm(alarm(e.replica, e.name("Replication-Latency")), e,
                 namespace="AWS/S3", metric="ReplicationLatency", statistic="Maximum",
                 dimensions=e.replication_dims, threshold=RTC_MINUTES * 60, operator=GT,
                 periods=e.m.sustained_periods, missing="notBreaching")


def test_failed_replication_alarms_on_any_failure_in_the_source_region(e):
    assert_alarm(alarm(e.primary, e.name("Replication-Failed")), e,
                 namespace="AWS/S3", metric="OperationsFailedReplication", statistic="Sum",
                 dimensions=e.replication_dims, threshold=0, operator=GT, periods=1,
                 missing="notBreaching")


def test_pending_replication_alarms_on_a_backlog_growing_for_n_periods(e):
    """N rises need N + 1 periods: DIFF has no predecessor for the first period the alarm
    fetches (AWS documents neither how far back an alarm fetches nor what DIFF yields there),
    so N of N could never breach if only N periods are fetched. N of N + 1 can, either way."""
    rises = e.m.pending_replication_growth_periods
    props = alarm(e.replica, e.name("Replication-Pending-Growing"))
    expression = next(q for q in props["Metrics"] if q.get("ReturnData", True))["Expression"]
    assert expression == (f"IF(pending > {e.m.pending_replication_floor} "
                          "AND DIFF(pending) > 0, 1, 0)")
    assert_alarm(props, e, metric_id="pending",
                 namespace="AWS/S3", metric="OperationsPendingReplication", statistic="Maximum",
                 dimensions=e.replication_dims, threshold=1,
                 operator="GreaterThanOrEqualToThreshold",
                 periods=rises + 1, datapoints=rises, missing="notBreaching")
    # Breachable from the evaluation periods alone: the first one's DIFF may be missing. The
    # reverse rule's alarm (in the primary region) is built the same way.
    back = alarm(e.primary, e.name("ReplicationBack-Pending-Growing"))
    for growing in (props, back):
        assert (growing["EvaluationPeriods"], growing["DatapointsToAlarm"]) == (rises + 1, rises)


def test_a_replication_rule_that_stops_reporting_is_an_alarm(e):
    # BytesPendingReplication is published every minute while the rule has metrics on,
    # replication or not: no sample for N periods is breaching, not "no news".
    assert_alarm(alarm(e.replica, e.name("Replication-Silent")), e,
                 namespace="AWS/S3", metric="BytesPendingReplication", statistic="SampleCount",
                 dimensions=e.replication_dims, threshold=1, operator="LessThanThreshold",
                 periods=e.m.sustained_periods, missing="breaching")


def test_replica_region_alarms_are_the_ones_published_there(e):
    """The forward rule's destination metrics, the reverse rule's failures (its source is the
    replica), the replica region's write path and the guard of its dedup index replica."""
    region = e.cfg.replica_region
    assert sorted(alarms(e.replica)) == sorted(e.name(s) for s in (
        "Replication-Latency", "Replication-Pending-Growing", "Replication-Silent",
        "ReplicationBack-Failed",
        "UploadApi-Fault-Rate", "UploadApi-Latency-P99",
        "Presign-Fault-Count", "Presign-Throttled-Count", "Presign-Latency-P99",
        "Presign-Dedup-Unavailable", "Presign-Handled-Faults",
        "WriteHealth-Fault-Count", "WriteHealth-Throttled-Count", "WriteHealth-Latency-P99",
        f"Writes-Taking-Uploads-{region}",
        "DedupReplicaGuard-Fault-Count", "DedupReplicaGuard-Throttled-Count",
        "DedupReplicaGuard-Latency-P99", "DedupIndex-Replica-Unprotected"))


def test_replication_monitoring_refuses_a_region_where_the_metrics_are_not_published():
    stack = Stack(App(), "Wrong", env=Environment(account=dev().account, region="us-east-1"))
    watch = WatchedReplication("a", "a-replica", RULE_ID, destination_region="us-west-2")
    with pytest.raises(ValueError, match="published in us-west-2, not us-east-1"):
        ReplicationMonitoring(stack, "M", alarm_name_prefix="p",
                              topic_names=TopicNames("p-alarms", "alias/p-alarms"),
                              alarm_email="ops@example.com", chat_webhook_url=None,
                              thresholds=MonitoringConfig(), watch=watch)


# Upload API, functions, queues -----------------------------------------------------------------

def test_upload_api_alarms_on_its_5xx_rate(e):
    # The Average of API Gateway's 5xx metric is the failed fraction of requests.
    assert_alarm(alarm(e.primary, e.name("UploadApi-Fault-Rate")), e,
                 namespace="AWS/ApiGateway", metric="5xx", statistic="Average",
                 threshold=e.m.api_5xx_rate_percent / 100, operator=GT,
                 periods=e.m.sustained_periods, missing="notBreaching")


def test_upload_api_alarms_on_its_p99_latency(e):
    assert_alarm(alarm(e.primary, e.name("UploadApi-Latency-P99")), e,
                 namespace="AWS/ApiGateway", metric="Latency", statistic="p99",
                 threshold=e.m.api_p99_latency_ms, operator=GT,
                 periods=e.m.sustained_periods, missing="notBreaching")


@pytest.mark.parametrize("function", ["Presign", "Hasher"])
def test_each_function_alarms_on_errors_and_throttles(e, function):
    assert_alarm(alarm(e.primary, e.name(f"{function}-Fault-Count")), e,
                 namespace="AWS/Lambda", metric="Errors", statistic="Sum",
                 threshold=e.m.function_errors_per_period, operator=GT, periods=1,
                 missing="notBreaching")
    assert_alarm(alarm(e.primary, e.name(f"{function}-Throttled-Count")), e,
                 namespace="AWS/Lambda", metric="Throttles", statistic="Sum",
                 threshold=e.m.function_throttles_per_period, operator=GT, periods=1,
                 missing="notBreaching")


def test_function_duration_alarm_is_a_share_of_that_functions_own_timeout(estate, e, env):
    assets = estate.template_json(env, "Assets")
    [timeout] = [f["Properties"]["Timeout"]
                 for f in resources(assets, "AWS::Lambda::Function").values()
                 if "hasher" in json.dumps(f["Properties"].get("Handler", ""))]
    assert_alarm(alarm(e.primary, e.name("Hasher-Latency-P99")), e,
                 namespace="AWS/Lambda", metric="Duration", statistic="p99",
                 threshold=int(timeout * 1000 * e.m.duration_near_timeout_ratio), operator=GT,
                 periods=e.m.sustained_periods, missing="notBreaching")


def _exported(value: dict, stack: str) -> str:
    """The output name behind a cross-stack dimension value, after checking its stack."""
    output = value["Fn::GetStackOutput"]
    assert output["StackName"] == stack, output
    return output["OutputName"]


def test_the_api_alarms_watch_the_upload_apis_default_stage(e, estate, env):
    [api_id] = resources(estate.template_json(env, "UploadApi"), "AWS::ApiGatewayV2::Api")
    for name in ("UploadApi-Fault-Rate", "UploadApi-Latency-P99"):
        d = dims(stat(alarm(e.primary, e.name(name))))
        assert set(d) == {"ApiId", "Stage"} and d["Stage"] == "$default"
        assert _exported(d["ApiId"], f"{env}-UploadApi").startswith(f"PublishOutputRef{api_id}")


def test_the_queue_alarms_watch_the_hashing_queue_and_its_dead_letters(e, estate, env):
    queues = resources(estate.template_json(env, "Assets"), "AWS::SQS::Queue")
    for name, queue in (("HashQueue-Queue-Message-Age-Max", "UploadHasherQueue"),
                        ("HashQueue-DLQ-Queue-Message-Count-Max", "UploadHasherDeadLetters")):
        [queue_id] = [q for q in queues if q.startswith(queue)]
        d = dims(stat(alarm(e.primary, e.name(name))))
        assert set(d) == {"QueueName"}
        assert _exported(d["QueueName"], f"{env}-Assets").startswith(
            f"PublishOutputFnGetAtt{queue_id}QueueName")


def test_queue_alarms_on_the_age_of_its_oldest_message_keeping_state_when_silent(e):
    assert_alarm(alarm(e.primary, e.name("HashQueue-Queue-Message-Age-Max")), e,
                 namespace="AWS/SQS", metric="ApproximateAgeOfOldestMessage", statistic="Maximum",
                 threshold=e.m.queue_age_seconds, operator=GT, periods=e.m.sustained_periods,
                 missing="ignore")


def test_dead_letter_queue_alarms_on_any_visible_message(e):
    assert_alarm(alarm(e.primary, e.name("HashQueue-DLQ-Queue-Message-Count-Max")), e,
                 namespace="AWS/SQS", metric="ApproximateNumberOfMessagesVisible",
                 statistic="Maximum", threshold=0, operator=GT, periods=1, missing="ignore")


# CDN and WAF ---------------------------------------------------------------------------------

def test_cdn_alarms_on_its_5xx_and_4xx_error_rates(e):
    assert_alarm(alarm(e.primary, e.name("Cdn-Fault-Rate")), e,
                 namespace="AWS/CloudFront", metric="5xxErrorRate", statistic="Average",
                 threshold=e.m.cloudfront_5xx_rate_percent, operator=GT,
                 periods=e.m.sustained_periods, missing="notBreaching")
    assert_alarm(alarm(e.primary, e.name("Cdn-Error-Rate")), e,
                 namespace="AWS/CloudFront", metric="4xxErrorRate", statistic="Average",
                 threshold=e.m.cloudfront_4xx_spike_percent, operator=GT,
                 periods=e.m.sustained_periods, missing="notBreaching")


def test_cdn_alarms_on_origin_latency(e):
    assert_alarm(alarm(e.primary, e.name("Cdn-Origin-Latency")), e,
                 namespace="AWS/CloudFront", metric="OriginLatency", statistic="p99",
                 threshold=e.m.origin_latency_ms, operator=GT,
                 periods=e.m.sustained_periods, missing="notBreaching")


def test_waf_alarms_on_a_blocked_requests_spike_without_a_region_dimension(e):
    # CLOUDFRONT-scope web ACL: no Region dimension; WebACL is the ACL's metric name.
    props = alarm(e.primary, e.name("Waf-Blocked"))
    assert_alarm(props, e, namespace="AWS/WAFV2", metric="BlockedRequests", statistic="Sum",
                 threshold=e.m.waf_blocked_spike, operator=GT, periods=1,
                 missing="notBreaching")
    assert set(dims(stat(props))) == {"WebACL", "Rule"}


# Every alarm, both topics ----------------------------------------------------------------------

def test_every_alarm_notifies_the_topic_of_its_own_stack(e):
    for template in (e.primary, e.replica):
        [topic_id] = resources(template, "AWS::SNS::Topic")
        for name, props in alarms(template).items():
            assert props["ActionsEnabled"] is True, name
            assert props["AlarmActions"] == [{"Ref": topic_id}], name


def test_every_alarm_description_carries_a_one_line_runbook(e):
    for template in (e.primary, e.replica):
        for name, props in alarms(template).items():
            runbook = props["AlarmDescription"].split("Runbook: ", 1)
            assert len(runbook) == 2 and runbook[1].strip(), name
            assert "\n" not in runbook[1], name


@pytest.mark.parametrize("which", ["primary", "replica"])
def test_each_alarm_topic_is_encrypted_with_its_own_rotating_key(e, which):
    template = getattr(e, which)
    (topic,) = resources(template, "AWS::SNS::Topic").values()
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    assert template["Resources"][key_id]["Type"] == "AWS::KMS::Key"
    assert template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True


@pytest.mark.parametrize("which, region", [("primary", "us-east-1"), ("replica", "us-west-2")])
def test_topic_key_lets_only_this_accounts_estate_alarms_of_its_region_use_it(e, which, region):
    template = getattr(e, which)
    (key,) = resources(template, "AWS::KMS::Key").values()
    (cloudwatch,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                     if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"]["StringEquals"] == {"aws:SourceAccount": e.cfg.account}
    source_arn = json.dumps(cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"])
    assert f":cloudwatch:{region}:{e.cfg.account}:alarm:{e.cfg.alarm_name_prefix}-*" in source_arn


@pytest.mark.parametrize("which", ["primary", "replica"])
def test_alarm_topic_accepts_tls_only_and_this_accounts_alarms(e, which):
    (policy,) = resources(getattr(e, which), "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    insecure = {"Bool": {"aws:SecureTransport": "false"}}
    assert any(s["Effect"] == "Deny" and s["Condition"] == insecure for s in statements)
    # CloudWatch's alarms; in the primary region also the failed-backup-jobs rule, whose
    # statement test_recovery.py checks
    (publish,) = [s for s in statements if s["Effect"] == "Allow"
                  and s["Principal"] != {"Service": "events.amazonaws.com"}]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Action"] == "sns:Publish"
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": e.cfg.account}


def _subscriptions(template: dict) -> dict[str, str]:
    return {s["Properties"]["Protocol"]: s["Properties"]["Endpoint"]
            for s in resources(template, "AWS::SNS::Subscription").values()}


def test_both_topics_mail_the_configured_address_and_only_that(e):
    # No chat webhook is configured in the shipped environments.
    assert e.cfg.chat_webhook_url is None
    assert _subscriptions(e.primary) == _subscriptions(e.replica) == {"email": e.cfg.alarm_email}


def test_non_https_chat_webhook_is_rejected_naming_the_field():
    with pytest.raises(ConfigError, match="chat_webhook_url must be an https:// URL"):
        dataclasses.replace(dev(), chat_webhook_url="http://hooks.example.com/estate")


# Dashboard -------------------------------------------------------------------------------------

def _dashboard_text(template: dict) -> str:
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    return "".join(p if isinstance(p, str) else "" for p in parts)


def test_one_dashboard_shows_every_section(e):
    (dashboard,) = resources(e.primary, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == e.cfg.dashboard_name
    text = _dashboard_text(e.primary)
    for section in (SECTION_REPLICATION, SECTION_UPLOADS, SECTION_FUNCTIONS, SECTION_QUEUES,
                    SECTION_EDGE):
        assert f"# {section}" in text, section
    # The replica region's write path has its own dashboard there.
    (replica,) = resources(e.replica, "AWS::CloudWatch::Dashboard").values()
    assert replica["Properties"]["DashboardName"] == \
        f"{e.cfg.dashboard_name}-{e.cfg.replica_region}"
    text = _dashboard_text(e.replica)
    for section in (SECTION_UPLOADS, SECTION_FUNCTIONS, SECTION_REPLICATION):
        assert f"# {section}" in text, section


@pytest.mark.parametrize("metric", ["ReplicationLatency", "OperationsPendingReplication",
                                    "BytesPendingReplication"])
def test_dashboard_graphs_destination_published_metrics_from_the_replica_region(e, metric):
    # The body holds tokens (the stack's own region): read the metric's options as text.
    text = _dashboard_text(e.primary)
    start = text.index(f'"{metric}"')
    options = text[start:text.index("}", start)]
    assert f'"region":"{e.cfg.replica_region}"' in options


# A contributed alarm, on a fresh stack ---------------------------------------------------------

def test_a_contributed_metric_alarm_gets_the_estate_name_topic_and_dashboard_graph():
    stack = MonitoringStack(App(), "Monitoring", cfg=dev(), targets=MonitoringTargets(
        metric_alarms=[MetricAlarm(
            group="Renditions", name="Failed", section="Renditions",
            metric=cw.Metric(namespace="Estate", metric_name="RenditionsFailed",
                             statistic="Sum", period=Duration.minutes(5)),
            threshold=0, what="Renditions failed.", runbook="read the logs.")]))
    template = Template.from_stack(stack).to_json()
    props = alarm(template, f"{dev().alarm_name_prefix}-Renditions-Failed-Critical")
    [topic_id] = resources(template, "AWS::SNS::Topic")
    assert props["AlarmActions"] == [{"Ref": topic_id}]
    assert "# Renditions" in _dashboard_text(template)
    # A target left empty gets no alarms; the stack's own: its backup rule's deliveries.
    assert sorted(alarms(template)) == [f"{dev().alarm_name_prefix}-Backup-Events-Undelivered-Critical",
                                        f"{dev().alarm_name_prefix}-Renditions-Failed-Critical"]


# Config --------------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, problem", [
    ("sustained_periods", 0, "must be a whole number >= 1"),
    ("replication_latency_seconds", -1, "must be a whole number >= 1"),
    ("function_throttles_per_period", -1, "must be a whole number >= 0"),
    ("api_5xx_rate_percent", 0, "must be a percentage"),
    ("cloudfront_4xx_spike_percent", 150, "must be a percentage"),
    ("duration_near_timeout_ratio", 1.0, "must be between 0 and 1"),
    ("alarm_period_minutes", 300, r"\(300\) x 7 periods exceeds the one-day evaluation range"),
    # 6 x 210 min fits a day; the growth alarm's 6 rises in 7 periods do not.
    ("alarm_period_minutes", 210, r"\(210\) x 7 periods exceeds the one-day evaluation range"),
])
def test_invalid_monitoring_config_is_rejected_naming_the_field(field, value, problem):
    with pytest.raises(ConfigError, match=rf"monitoring: {field} {problem}"):
        MonitoringConfig(**{field: value})
