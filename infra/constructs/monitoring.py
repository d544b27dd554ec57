"""Alarms, alarm topics and the dashboard of one environment.

Built on cdk-monitoring-constructs (``MonitoringFacade``): one alarm factory (names, SNS
actions, runbook line in every description), one metric factory (period) and one dashboard.
The library's own monitors cover what it models well — Lambda, SQS with DLQ, the HTTP API,
CloudFront error rates. What it does not model (S3 replication metrics, CloudFront
OriginLatency, WAF metrics, the estate's own business metrics) is a ``MetricAlarm``: same
factory, same actions, same dashboard.

Other constructs contribute by appending to ``MonitoringTargets`` (a function, a queue
pipeline, a ``MetricAlarm``) before the monitoring stack is built; nothing else changes.

Region: a CloudWatch alarm can only watch a metric of its own region, so each alarm lives
where its metric is published.
- S3 replication: ``ReplicationLatency``, ``BytesPendingReplication`` and
  ``OperationsPendingReplication`` are published in the DESTINATION bucket's region (the
  replica's); only ``OperationsFailedReplication`` is published in the source bucket's region.
  So the failed-replication alarm is ``EstateMonitoring``'s (primary region) and the rest are
  ``ReplicationMonitoring``'s, a construct for a stack in the replica region with its own
  encrypted topic. The dashboard (primary region) graphs the replica-region metrics by naming
  their region, which dashboards, unlike alarms, may do.
- CloudFront metrics are only in us-east-1 (dimensions DistributionId, Region=Global); WAF
  metrics of a CLOUDFRONT-scope web ACL too, with dimensions WebACL (its metric name) and
  Rule (ALL) and no Region dimension;
- the upload API, the functions and the queues are primary-region resources.

Missing data, per alarm (CloudWatch's default, "missing", is never left implicit):
- notBreaching for error counts, error rates and latencies: only emitted with traffic (or a
  failure), so no data means nothing went wrong;
- breaching for the replication heartbeat: with replication metrics on, S3 publishes
  ``BytesPendingReplication`` for the rule every minute even when nothing replicates (zero
  pending), so silence means the rule or its metrics stopped — not healthy;
- ignore (keep the current state) for the SQS alarms: SQS stops publishing a queue's metrics
  after ~6 h without API activity *even with messages in it*, so silence on a DLQ nobody
  touches must not read as "recovered".

OriginLatency is one of CloudFront's *additional* metrics: it exists because the Cdn stack
turns on the distribution's monitoring subscription.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from cdk_monitoring_constructs import (
    AlarmFactoryDefaults,
    CustomMetricGroup,
    CustomMetricWithAlarm,
    CustomThreshold,
    DefaultDashboardFactory,
    ErrorCountThreshold,
    ErrorRateThreshold,
    LatencyThreshold,
    MaxMessageAgeThreshold,
    MaxMessageCountThreshold,
    MetricFactoryDefaults,
    MonitoringFacade,
    SnsAlarmActionStrategy,
)
from constructs import Construct

from infra.config import MonitoringConfig
from infra.constructs.encryption import rotating_key

# The one severity this estate has: every alarm notifies the topic. Appended to alarm names.
SEVERITY = "Critical"

# Dashboard sections, top to bottom (each appears only if one of its targets is given).
SECTION_REPLICATION = "Replication (two-way: assets <-> replica)"
SECTION_UPLOADS = "Uploads (HTTP API)"
SECTION_FUNCTIONS = "Functions"
SECTION_QUEUES = "Queues and dead-letter queues"
SECTION_EDGE = "CDN and WAF"

S3_NAMESPACE = "AWS/S3"
CLOUDFRONT_NAMESPACE = "AWS/CloudFront"
WAF_NAMESPACE = "AWS/WAFV2"

GT = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
NOT_BREACHING = cw.TreatMissingData.NOT_BREACHING

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


# --- what to watch ----------------------------------------------------------------------------

@dataclass(frozen=True)
class MonitoredFunction:
    """A Lambda function, its configured timeout (IFunction does not expose it) and the name
    its alarms and widgets carry."""

    name: str
    function: lambda_.IFunction
    timeout: Duration


@dataclass(frozen=True)
class MonitoredQueue:
    """A queue pipeline: the work queue (alarm: age of the oldest message) and its
    dead-letter queue (alarm: any message)."""

    name: str
    title: str
    queue: sqs.IQueue
    dlq: sqs.IQueue


@dataclass(frozen=True)
class MetricAlarm:
    """One alarm on a metric the library does not model, with its graph on the dashboard."""

    group: str  # the alarm is named "<prefix>-<group>-<name>-Critical"
    name: str
    section: str  # dashboard header (alarms with the same section share it)
    metric: cw.IMetric
    threshold: float
    what: str  # the first sentence of the alarm description
    runbook: str  # one line: what to do
    comparison: cw.ComparisonOperator = GT
    periods: int = 1
    missing: cw.TreatMissingData = NOT_BREACHING


@dataclass(frozen=True)
class WatchedReplication:
    """One replication rule, by the names S3 publishes its metrics under."""

    source_bucket: str
    destination_bucket: str
    rule_id: str
    destination_region: str
    alarm_group: str = "Replication"  # alarms are named "<prefix>-<alarm_group>-<name>-…"

    @property
    def dimensions(self) -> dict[str, str]:
        return {"SourceBucket": self.source_bucket,
                "DestinationBucket": self.destination_bucket, "RuleId": self.rule_id}


@dataclass(frozen=True)
class MonitoringTargets:
    """What the primary-region monitoring watches. A piece left None (or a list left empty)
    gets no alarms and no widgets; constructs append to the lists before the stack is built."""

    replication: WatchedReplication | None = None
    http_api: apigwv2.IHttpApi | None = None
    functions: list[MonitoredFunction] = field(default_factory=list)
    queues: list[MonitoredQueue] = field(default_factory=list)
    distribution_id: str | None = None
    web_acl_metric_name: str | None = None
    metric_alarms: list[MetricAlarm] = field(default_factory=list)


# --- shared parts ------------------------------------------------------------------------------

@dataclass(frozen=True)
class TopicNames:
    """Physical names of a region's alarm topic and its key alias (from the config)."""

    topic_name: str
    key_alias: str


@dataclass(frozen=True)
class AlarmTopic:
    """The KMS-encrypted SNS topic the alarms of one region notify, and its key."""

    key: kms.Key
    topic: sns.Topic


def alarm_topic(scope: Construct, *, alarm_name_prefix: str, names: TopicNames,
                display_name: str, email: str, webhook_url: str | None) -> AlarmTopic:
    """Key ``TopicKey`` and topic ``AlarmTopic`` in ``scope``, with their recipients.

    Key and topic policy let CloudWatch use them only for this account's alarms whose names
    start with ``alarm_name_prefix`` (in this stack's region)."""
    stack = Stack.of(scope)
    alarm_arns = stack.format_arn(service="cloudwatch", resource="alarm",
                                  resource_name=f"{alarm_name_prefix}-*",
                                  arn_format=ArnFormat.COLON_RESOURCE_NAME)
    source = {"StringEquals": {"aws:SourceAccount": stack.account},
              "ArnLike": {"aws:SourceArn": alarm_arns}}
    key = rotating_key(
        scope, "TopicKey", alias=names.key_alias,
        description=f"Encrypts the {alarm_name_prefix} alarm topic",
        # Holds no data at rest: notifications are delivered within seconds.
        removal_policy=RemovalPolicy.DESTROY)
    key.add_to_resource_policy(iam.PolicyStatement(
        sid="CloudWatchAlarmsPublishToTheEncryptedTopic",
        principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions=["kms:Decrypt", "kms:GenerateDataKey*"],
        resources=["*"],  # in a key policy, "*" means this key
        conditions=source,
    ))
    topic = sns.Topic(
        scope, "AlarmTopic",
        topic_name=names.topic_name,
        display_name=display_name,
        master_key=key,
        enforce_ssl=True,  # topic policy denies every request without TLS
    )
    topic.add_to_resource_policy(iam.PolicyStatement(
        sid="CloudWatchAlarmsPublish",
        principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions=["sns:Publish"],
        resources=[topic.topic_arn],
        conditions=source,
    ))
    topic.add_subscription(subs.EmailSubscription(email))
    if webhook_url is not None:
        topic.add_subscription(subs.UrlSubscription(
            webhook_url, protocol=sns.SubscriptionProtocol.HTTPS))
    return AlarmTopic(key, topic)


def _facade(scope: Construct, *, topic: sns.ITopic, alarm_name_prefix: str, period: Duration,
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


def _threshold(what: str, runbook: str, *, periods: int, missing: cw.TreatMissingData) -> dict:
    """Periods, missing-data policy, description and runbook: the same for every alarm."""
    return {
        "alarm_description_override": what,
        "runbook_link": runbook,  # rendered as "Runbook: …" in the description
        "datapoints_to_alarm": periods,
        "evaluation_periods": periods,
        "treat_missing_data_override": missing,
    }


def _with_alarm(alarm: MetricAlarm) -> CustomMetricWithAlarm:
    return CustomMetricWithAlarm(
        metric=alarm.metric,
        alarm_friendly_name=alarm.name,
        add_alarm={SEVERITY: CustomThreshold(
            threshold=alarm.threshold,
            comparison_operator=alarm.comparison,
            **_threshold(alarm.what, alarm.runbook, periods=alarm.periods,
                         missing=alarm.missing),
        )},
    )


def _add_metric_alarms(facade: MonitoringFacade, alarms: list[MetricAlarm]) -> None:
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
            metric_groups=[CustomMetricGroup(title=a.what.rstrip("."), metrics=[_with_alarm(a)])
                           for a in members],
        )


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
    # Growing: above the floor AND higher than the period before, N periods in a row.
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
            periods=m.pending_replication_growth_periods,
            what=f"S3 replication backlog ({watch.rule_id}) above "
                 f"{m.pending_replication_floor} operations and growing for "
                 f"{m.pending_replication_growth_periods} periods.",
            runbook=RUNBOOKS["replication_pending"]),
        MetricAlarm(
            group=group, name="Silent", section=section, metric=reports,
            threshold=1, comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            periods=m.sustained_periods, missing=cw.TreatMissingData.BREACHING,
            what=f"S3 published no replication metrics for rule {watch.rule_id} for "
                 f"{m.sustained_periods} periods.",
            runbook=RUNBOOKS["replication_silent"]),
    ]


def replication_failed_alarm(watch: WatchedReplication, m: MonitoringConfig,
                             group: str = "Replication") -> MetricAlarm:
    """Failed replications of one rule: published in the SOURCE bucket's region."""
    period = Duration.minutes(m.alarm_period_minutes)
    return MetricAlarm(
        group=group, name="Failed", section=f"Replication ({watch.rule_id})",
        metric=replication_metric(watch, "OperationsFailedReplication", "Sum",
                                  "Failed replications", period),
        threshold=0, what=f"S3 failed to replicate objects ({watch.rule_id}).",
        runbook=RUNBOOKS["replication_failed"])


# --- primary region -----------------------------------------------------------------------------

class EstateMonitoring(Construct):
    """One region's topic, alarms and dashboard: the primary's (CDN, WAF, the whole primary
    pipeline) and the replica region's (its write path, the replication alarms published
    there)."""

    def __init__(self, scope: Construct, construct_id: str, *, alarm_name_prefix: str,
                 topic_names: TopicNames, dashboard_name: str, alarm_email: str,
                 chat_webhook_url: str | None, thresholds: MonitoringConfig,
                 targets: MonitoringTargets, display_name: str | None = None) -> None:
        super().__init__(scope, construct_id)
        self.thresholds = thresholds
        self.period = Duration.minutes(thresholds.alarm_period_minutes)
        self.alarm_topic = alarm_topic(
            self, alarm_name_prefix=alarm_name_prefix, names=topic_names,
            display_name=display_name or f"{alarm_name_prefix} storage estate alarms",
            email=alarm_email, webhook_url=chat_webhook_url)
        self.topic = self.alarm_topic.topic
        self.key = self.alarm_topic.key
        self.facade, dashboards = _facade(self, topic=self.topic,
                                          alarm_name_prefix=alarm_name_prefix,
                                          period=self.period, dashboard_name=dashboard_name)
        if targets.replication is not None:
            self._add_replication(targets.replication)
        if targets.http_api is not None:
            self._add_upload_api(targets.http_api)
        if targets.functions:
            self.facade.add_large_header(SECTION_FUNCTIONS)
            for fn in targets.functions:
                self._add_function(fn)
        if targets.queues:
            self.facade.add_large_header(SECTION_QUEUES)
            for queue in targets.queues:
                self._add_queue(queue)
        if targets.distribution_id is not None or targets.web_acl_metric_name is not None:
            self.facade.add_large_header(SECTION_EDGE)
        if targets.distribution_id is not None:
            self._add_distribution(targets.distribution_id)
        if targets.web_acl_metric_name is not None:
            self._add_waf(targets.web_acl_metric_name)
        _add_metric_alarms(self.facade, targets.metric_alarms)
        self.dashboard = dashboards.dashboard

    def _add_replication(self, watch: WatchedReplication) -> None:
        """The failed-replication alarm (published here, the source region) and graphs of the
        destination-region metrics, whose alarms are ``ReplicationMonitoring``'s."""
        period = self.period
        failed = replication_metric(watch, "OperationsFailedReplication", "Sum",
                                    "Failed replications", period)

        def remote(name: str, statistic: str, label: str) -> cw.Metric:
            return replication_metric(watch, name, statistic, label, period,
                                      region=watch.destination_region)

        self.facade.add_large_header(SECTION_REPLICATION)
        self.facade.monitor_custom(
            alarm_friendly_name=watch.alarm_group,
            human_readable_name=f"{watch.source_bucket} -> {watch.destination_bucket} "
                                f"(rule {watch.rule_id}; latency and backlog are published in "
                                f"{watch.destination_region})",
            metric_groups=[
                CustomMetricGroup(title="Failed replications", metrics=[_with_alarm(MetricAlarm(
                    group=watch.alarm_group, name="Failed", section=SECTION_REPLICATION,
                    metric=failed, threshold=0,
                    what=f"S3 failed to replicate objects to {watch.destination_bucket}.",
                    runbook=RUNBOOKS["replication_failed"]))]),
                CustomMetricGroup(title="Replication latency (max, s)", metrics=[
                    remote("ReplicationLatency", "Maximum", "Replication latency (max, s)")]),
                CustomMetricGroup(title="Pending replications", metrics=[
                    remote("OperationsPendingReplication", "Maximum", "Pending operations"),
                    remote("BytesPendingReplication", "Maximum", "Pending bytes")]),
            ],
        )

    def _add_upload_api(self, api: apigwv2.IHttpApi) -> None:
        m = self.thresholds
        self.facade.add_large_header(SECTION_UPLOADS)
        self.facade.monitor_api_gateway_v2_http_api(
            api=api,
            alarm_friendly_name="UploadApi",
            human_readable_name="Upload API",
            # The Average of the 5xx metric is the fraction of requests that failed.
            add5xx_rate_alarm={SEVERITY: ErrorRateThreshold(
                max_error_rate=m.api_5xx_rate_percent / 100,
                **_threshold(f"Upload API 5xx above {m.api_5xx_rate_percent}% of requests.",
                             RUNBOOKS["api_5xx"], periods=m.sustained_periods,
                             missing=NOT_BREACHING))},
            add_latency_p99_alarm={SEVERITY: LatencyThreshold(
                max_latency=Duration.millis(m.api_p99_latency_ms),
                **_threshold(f"Upload API p99 latency above {m.api_p99_latency_ms} ms.",
                             RUNBOOKS["api_latency"], periods=m.sustained_periods,
                             missing=NOT_BREACHING))},
        )

    def _add_function(self, fn: MonitoredFunction) -> None:
        m = self.thresholds
        near_timeout = Duration.millis(int(fn.timeout.to_milliseconds()
                                           * m.duration_near_timeout_ratio))
        self.facade.monitor_lambda_function(
            lambda_function=fn.function,
            alarm_friendly_name=fn.name,
            human_readable_name=f"Function {fn.name}",
            is_iterator=False,  # no stream event source: no iterator-age widget
            add_fault_count_alarm={SEVERITY: ErrorCountThreshold(
                max_error_count=m.function_errors_per_period,
                **_threshold(f"{fn.name}: more than {m.function_errors_per_period} errors in "
                             "a period.", RUNBOOKS["function_errors"], periods=1,
                             missing=NOT_BREACHING))},
            add_throttles_count_alarm={SEVERITY: ErrorCountThreshold(
                max_error_count=m.function_throttles_per_period,
                **_threshold(f"{fn.name}: more than {m.function_throttles_per_period} throttles "
                             "in a period.", RUNBOOKS["function_throttles"], periods=1,
                             missing=NOT_BREACHING))},
            add_latency_p99_alarm={SEVERITY: LatencyThreshold(
                max_latency=near_timeout,
                **_threshold(f"{fn.name}: p99 duration above {m.duration_near_timeout_ratio:.0%} "
                             f"of its {fn.timeout.to_seconds()} s timeout.",
                             RUNBOOKS["function_duration"], periods=m.sustained_periods,
                             missing=NOT_BREACHING))},
        )

    def _add_queue(self, pipeline: MonitoredQueue) -> None:
        m = self.thresholds
        # SQS goes silent on a queue without API activity, messages or not: keep the state.
        ignore = cw.TreatMissingData.IGNORE
        self.facade.monitor_sqs_queue_with_dlq(
            queue=pipeline.queue, dead_letter_queue=pipeline.dlq,
            alarm_friendly_name=pipeline.name, human_readable_name=pipeline.title,
            add_queue_max_message_age_alarm={SEVERITY: MaxMessageAgeThreshold(
                max_age_in_seconds=m.queue_age_seconds,
                **_threshold(f"{pipeline.title}: oldest message older than "
                             f"{m.queue_age_seconds} s.", RUNBOOKS["queue_age"],
                             periods=m.sustained_periods, missing=ignore))},
            add_dead_letter_queue_max_size_alarm={SEVERITY: MaxMessageCountThreshold(
                max_message_count=0,
                **_threshold(f"{pipeline.title}: messages are in the dead-letter queue.",
                             RUNBOOKS["dlq"], periods=1, missing=ignore))},
        )

    def _add_distribution(self, distribution_id: str) -> None:
        m = self.thresholds
        distribution = cloudfront.Distribution.from_distribution_attributes(
            self, "Distribution", distribution_id=distribution_id,
            domain_name="")  # only the id reaches CloudWatch; the domain is never read
        self.facade.monitor_cloud_front_distribution(
            distribution=distribution,
            alarm_friendly_name="Cdn",
            human_readable_name="Assets CDN",
            additional_metrics_enabled=True,  # cache hit rate: see the module docstring
            add_fault5xx_rate={SEVERITY: ErrorRateThreshold(
                max_error_rate=m.cloudfront_5xx_rate_percent,
                **_threshold(f"CDN 5xx above {m.cloudfront_5xx_rate_percent}% of requests.",
                             RUNBOOKS["cdn_5xx"], periods=m.sustained_periods,
                             missing=NOT_BREACHING))},
            add_error4xx_rate={SEVERITY: ErrorRateThreshold(
                max_error_rate=m.cloudfront_4xx_spike_percent,
                **_threshold(f"CDN 4xx above {m.cloudfront_4xx_spike_percent}% of requests.",
                             RUNBOOKS["cdn_4xx"], periods=m.sustained_periods,
                             missing=NOT_BREACHING))},
        )
        origin_latency = cw.Metric(
            namespace=CLOUDFRONT_NAMESPACE, metric_name="OriginLatency",
            dimensions_map={"DistributionId": distribution_id, "Region": "Global"},
            statistic="p99", label="Origin latency (p99, ms)", period=self.period)
        self.facade.monitor_custom(
            alarm_friendly_name="Cdn",
            human_readable_name="Assets CDN origin latency (additional metric)",
            metric_groups=[CustomMetricGroup(title="Origin latency", metrics=[_with_alarm(
                MetricAlarm(group="Cdn", name="Origin-Latency", section=SECTION_EDGE,
                            metric=origin_latency,
                            threshold=m.origin_latency_ms, periods=m.sustained_periods,
                            what=f"CDN origin p99 latency above {m.origin_latency_ms} ms.",
                            runbook=RUNBOOKS["origin_latency"]))])],
        )

    def _add_waf(self, web_acl_metric_name: str) -> None:
        m = self.thresholds

        def requests(name: str, label: str) -> cw.Metric:
            return cw.Metric(namespace=WAF_NAMESPACE, metric_name=name,
                             dimensions_map={"WebACL": web_acl_metric_name, "Rule": "ALL"},
                             statistic="Sum", label=label, period=self.period)

        self.facade.monitor_custom(
            alarm_friendly_name="Waf",
            human_readable_name=f"WAF web ACL {web_acl_metric_name}",
            metric_groups=[CustomMetricGroup(title="WAF requests", metrics=[
                requests("AllowedRequests", "Allowed requests"),
                _with_alarm(MetricAlarm(
                    group="Waf", name="Blocked", section=SECTION_EDGE,
                    metric=requests("BlockedRequests", "Blocked requests"),
                    threshold=m.waf_blocked_spike,
                    what=f"WAF blocked more than {m.waf_blocked_spike} requests in a period.",
                    runbook=RUNBOOKS["waf_blocked"])),
            ])],
        )


# --- destination (replica) region -------------------------------------------------------------

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
        self.facade, _ = _facade(self, topic=self.topic, alarm_name_prefix=alarm_name_prefix,
                                 period=period, dashboard_name=None)
        _add_metric_alarms(self.facade, replication_destination_alarms(watch, m))
