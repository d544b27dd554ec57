"""The one alarm factory every alarm of the estate goes through: its severity, the runbook
line of each alarm, the periods and missing-data policy every threshold carries, and how a
``MetricAlarm`` becomes a library alarm with its graph under its dashboard section."""
from __future__ import annotations

from collections import defaultdict

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_sns as sns
from cdk_monitoring_constructs import (
    AlarmFactoryDefaults,
    CustomMetricGroup,
    CustomMetricWithAlarm,
    CustomThreshold,
    DefaultDashboardFactory,
    MetricFactoryDefaults,
    MonitoringFacade,
    SnsAlarmActionStrategy,
)
from constructs import Construct

from infra.constructs.monitoring.targets import MetricAlarm

# The one severity this estate has: every alarm notifies the topic. Appended to alarm names.
SEVERITY = "Critical"

RUNBOOKS = {
    "replication_latency": "check S3 health in both regions and the replica bucket/key "
                           "policies; if objects are only late, watch the backlog drain.",
    "replication_failed": "read the s3:Replication:OperationFailedReplication events, fix the "
                          "role or key policy, then re-replicate the failed keys with S3 Batch "
                          "Replication.",
    "replication_pending": "replication is falling behind: check the role, the replica key and S3 "
                           "service health; a stuck backlog needs S3 Batch Replication once fixed.",
    "replication_silent": "the rule stopped reporting: check that the assets bucket still has the "
                          "replication rule with metrics/RTC enabled and that the replica exists.",
    "api_5xx": "read the presign function's logs and errors; roll back the last deploy if it "
               "started then.",
    "api_latency": "check the presign function's duration and throttles; raise memory or "
                   "reserved concurrency if it is saturated.",
    "function_errors": "read the function's log group for the stack traces; roll back the last "
                       "deploy if the errors started with it.",
    "function_throttles": "the function hit its concurrency limit: raise reserved concurrency or "
                          "the account limit, or slow the event source.",
    "function_duration": "the function runs close to its timeout: check downstream latency (S3, "
                         "DynamoDB) and raise memory or the timeout.",
    "queue_age": "the consumer is not keeping up: check the function's errors, throttles and the "
                 "event source mapping (enabled, batch size).",
    "dlq": "inspect the dead-lettered messages, fix the consumer, then redrive the DLQ to its "
           "queue.",
    "cdn_5xx": "check the origins (S3 health, bucket/key policies for the distribution); failover "
               "to the replica should be serving.",
    "cdn_4xx": "look at the CloudFront access logs for the top paths and clients; a deploy that "
               "broke links or a scraper probing paths.",
    "origin_latency": "S3 is slow to first byte: check S3 health in the origin's region and "
                      "Origin Shield; failover needs 5xx, not slowness.",
    "waf_blocked": "look at the WAF logs (aws-waf-logs-*) for the blocking rule and sources: an "
                   "attack or a false positive blocking customers.",
}


def alarm_facade(scope: Construct, *, topic: sns.ITopic, alarm_name_prefix: str, period: Duration,
                 dashboard_name: str | None) -> tuple[MonitoringFacade, DefaultDashboardFactory]:
    """One alarm factory (prefix, topic action) and, with a name, one dashboard."""
    dashboards = DefaultDashboardFactory(
        scope, "Dashboards",
        dashboard_name_prefix=dashboard_name or alarm_name_prefix,
        create_dashboard=dashboard_name is not None,
        create_summary_dashboard=False,
        create_alarm_dashboard=False,
    )
    facade = MonitoringFacade(
        scope, "Facade",
        alarm_factory_defaults=AlarmFactoryDefaults(
            alarm_name_prefix=alarm_name_prefix,
            actions_enabled=True,
            # ALARM only: every message on the topic is something to act on; recovery shows
            # on the dashboard.
            action=SnsAlarmActionStrategy(on_alarm_topic=topic),
            datapoints_to_alarm=1,
        ),
        metric_factory_defaults=MetricFactoryDefaults(period=period),
        dashboard_factory=dashboards,
    )
    return facade, dashboards


def threshold(what: str, runbook: str, *, periods: int, missing: cw.TreatMissingData,
              datapoints: int | None = None) -> dict:
    """Periods, missing-data policy, description and runbook: the same for every alarm
    (all ``periods`` breaching unless ``datapoints`` says how many of them)."""
    return {
        "alarm_description_override": what,
        "runbook_link": runbook,  # rendered as "Runbook: …" in the description
        "datapoints_to_alarm": periods if datapoints is None else datapoints,
        "evaluation_periods": periods,
        "treat_missing_data_override": missing,
    }


def with_alarm(alarm: MetricAlarm) -> CustomMetricWithAlarm:
    return CustomMetricWithAlarm(
        metric=alarm.metric,
        alarm_friendly_name=alarm.name,
        add_alarm={SEVERITY: CustomThreshold(
            threshold=alarm.threshold,
            comparison_operator=alarm.comparison,
            **threshold(alarm.what, alarm.runbook, periods=alarm.periods,
                        missing=alarm.missing, datapoints=alarm.datapoints),
        )},
    )


def add_metric_alarms(facade: MonitoringFacade, alarms: list[MetricAlarm]) -> None:
    """One dashboard header per distinct ``section``, one graph per alarm."""
    groups: dict[tuple[str, str], list[MetricAlarm]] = defaultdict(list)
    for alarm in alarms:
        groups[(alarm.section, alarm.group)].append(alarm)
    headers: set[str] = set()
    for (section, group), members in groups.items():
        if section not in headers:
            facade.add_large_header(section)
            headers.add(section)
        facade.monitor_custom(
            alarm_friendly_name=group,
            human_readable_name=f"{section}: {group}",
            metric_groups=[CustomMetricGroup(title=a.what.rstrip("."), metrics=[with_alarm(a)])
                           for a in members],
        )
