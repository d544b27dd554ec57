"""S3 replication: its metrics (by the names S3 publishes them under), its alarms split by
the region S3 publishes each metric in (failures in the source's, latency, backlog and
heartbeat in the destination's), and ``ReplicationMonitoring``, the replica region's topic
and alarms when that region has nothing else to watch."""
from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from infra.config import MonitoringConfig
from infra.constructs.monitoring.alarms import RUNBOOKS, add_metric_alarms, alarm_facade
from infra.constructs.monitoring.targets import MetricAlarm, WatchedReplication
from infra.constructs.monitoring.topic import TopicNames, alarm_topic

S3_NAMESPACE = "AWS/S3"


def replication_metric(watch: WatchedReplication, metric_name: str, statistic: str,
                       label: str, period: Duration, *, region: str | None = None) -> cw.Metric:
    """A replication metric of the rule; ``region`` only where it must be named (dashboards)."""
    return cw.Metric(namespace=S3_NAMESPACE, metric_name=metric_name,
                     dimensions_map=watch.dimensions, statistic=statistic, label=label,
                     period=period, region=region)


def replication_destination_alarms(watch: WatchedReplication, m: MonitoringConfig,
                                   group: str = "Replication") -> list[MetricAlarm]:
    """Latency, growing backlog and silence of one rule: S3 publishes these metrics in the
    DESTINATION bucket's region, so the alarms belong to a stack there."""
    period = Duration.minutes(m.alarm_period_minutes)
    section = f"Replication ({watch.rule_id})"
    pending = replication_metric(watch, "OperationsPendingReplication", "Maximum",
                                 "Pending operations (max)", period)
    # Growing: above the floor AND higher than the period before, in N of N + 1 periods. DIFF
    # has no predecessor for the first period an alarm fetches, and AWS documents neither how
    # many periods before its evaluation periods an alarm fetches nor what DIFF yields there:
    # N of N, as before, could be unable to breach; N rises need N + 1 periods anyway.
    growing = cw.MathExpression(
        expression=f"IF(pending > {m.pending_replication_floor} AND DIFF(pending) > 0, 1, 0)",
        using_metrics={"pending": pending},
        label="Pending replications growing (1 = yes)", period=period)
    # Published every minute for the rule, replication or not: no sample is a dead rule.
    reports = replication_metric(watch, "BytesPendingReplication", "SampleCount",
                                 "Replication metric samples", period)
    return [
        MetricAlarm(
            group=group, name="Latency", section=section,
            metric=replication_metric(watch, "ReplicationLatency", "Maximum",
                                      "Replication latency (max, s)", period),
            threshold=m.replication_latency_seconds, periods=m.sustained_periods,
            what=f"S3 replication latency ({watch.rule_id}) above the RTC window "
                 f"({m.replication_latency_seconds} s).",
            runbook=RUNBOOKS["replication_latency"]),
        MetricAlarm(
            group=group, name="Pending-Growing", section=section,
            metric=growing, threshold=1,
            comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            periods=m.pending_replication_growth_periods + 1,
            datapoints=m.pending_replication_growth_periods,
            what=f"S3 replication backlog ({watch.rule_id}) above "
                 f"{m.pending_replication_floor} operations and growing in "
                 f"{m.pending_replication_growth_periods} of the last "
                 f"{m.pending_replication_growth_periods + 1} periods.",
            runbook=RUNBOOKS["replication_pending"]),
        MetricAlarm(
            group=group, name="Silent", section=section, metric=reports,
            threshold=1, comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            periods=m.sustained_periods, missing=cw.TreatMissingData.BREACHING,
            what=f"S3 published no replication metrics for rule {watch.rule_id} for "
                 f"{m.sustained_periods} periods.",
            runbook=RUNBOOKS["replication_silent"]),
    ]


class ReplicationMonitoring(Construct):
    """The replication alarms whose metrics S3 publishes in the destination bucket's region,
    with that region's own encrypted topic (SNS cannot encrypt a topic with a key of another
    region, and an alarm can only notify a topic of its own region)."""

    def __init__(self, scope: Construct, construct_id: str, *, alarm_name_prefix: str,
                 topic_names: TopicNames, alarm_email: str, chat_webhook_url: str | None,
                 thresholds: MonitoringConfig, watch: WatchedReplication) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        if region != watch.destination_region:
            raise ValueError(f"{self.node.path}: replication metrics of {watch.rule_id} are "
                             f"published in {watch.destination_region}, not {region}")
        m = thresholds
        period = Duration.minutes(m.alarm_period_minutes)
        self.alarm_topic = alarm_topic(
            self, alarm_name_prefix=alarm_name_prefix, names=topic_names,
            display_name=f"{alarm_name_prefix} storage estate alarms ({region})",
            email=alarm_email, webhook_url=chat_webhook_url)
        self.topic = self.alarm_topic.topic
        self.facade, _ = alarm_facade(self, topic=self.topic, alarm_name_prefix=alarm_name_prefix,
                                      period=period, dashboard_name=None)
        add_metric_alarms(self.facade, replication_destination_alarms(watch, m))
