"""``EstateMonitoring``: one region's alarm topic, alarms and dashboard — the dashboard's
sections, and the alarms on the upload API, the functions, the queue pipelines, replication
failures, the CDN and the WAF, plus every ``MetricAlarm`` other constructs contributed.

OriginLatency is one of CloudFront's *additional* metrics: it exists because the Cdn stack
turns on the distribution's monitoring subscription.
"""
from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudwatch as cw
from cdk_monitoring_constructs import (
    CustomMetricGroup,
    ErrorCountThreshold,
    ErrorRateThreshold,
    LatencyThreshold,
    MaxMessageAgeThreshold,
    MaxMessageCountThreshold,
)
from constructs import Construct

from infra.config import MonitoringConfig
from infra.constructs.monitoring.alarms import (
    RUNBOOKS,
    SEVERITY,
    add_metric_alarms,
    alarm_facade,
    threshold,
    with_alarm,
)
from infra.constructs.monitoring.replication import replication_metric
from infra.constructs.monitoring.targets import (
    NOT_BREACHING,
    MetricAlarm,
    MonitoredFunction,
    MonitoredQueue,
    MonitoringTargets,
    WatchedReplication,
    handled_faults_alarm,
)
from infra.constructs.monitoring.topic import TopicNames, alarm_topic

# Dashboard sections, top to bottom (each appears only if one of its targets is given).
SECTION_REPLICATION = "Replication (two-way: assets <-> replica)"
SECTION_UPLOADS = "Uploads (HTTP API)"
SECTION_FUNCTIONS = "Functions"
SECTION_CAUGHT = "Functions: failures caught (500 responses, queue records handed back)"
SECTION_QUEUES = "Queues and dead-letter queues"
SECTION_EDGE = "CDN and WAF"

CLOUDFRONT_NAMESPACE = "AWS/CloudFront"
WAF_NAMESPACE = "AWS/WAFV2"


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
        self.facade, dashboards = alarm_facade(self, topic=self.topic,
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
        caught = [handled_faults_alarm(fn, errors=self._errors_of(fn), period=self.period,
                                       section=SECTION_CAUGHT)
                  for fn in targets.functions if fn.handled_faults is not None]
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
        add_metric_alarms(self.facade, [*caught, *targets.metric_alarms])
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
                CustomMetricGroup(title="Failed replications", metrics=[with_alarm(MetricAlarm(
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
                **threshold(f"Upload API 5xx above {m.api_5xx_rate_percent}% of requests.",
                            RUNBOOKS["api_5xx"], periods=m.sustained_periods,
                            missing=NOT_BREACHING))},
            add_latency_p99_alarm={SEVERITY: LatencyThreshold(
                max_latency=Duration.millis(m.api_p99_latency_ms),
                **threshold(f"Upload API p99 latency above {m.api_p99_latency_ms} ms.",
                            RUNBOOKS["api_latency"], periods=m.sustained_periods,
                            missing=NOT_BREACHING))},
        )

    def _errors_of(self, fn: MonitoredFunction) -> int:
        return self.thresholds.function_errors_per_period if fn.errors_per_period is None \
            else fn.errors_per_period

    def _add_function(self, fn: MonitoredFunction) -> None:
        m = self.thresholds
        near_timeout = Duration.millis(int(fn.timeout.to_milliseconds()
                                           * m.duration_near_timeout_ratio))
        errors = self._errors_of(fn)
        self.facade.monitor_lambda_function(
            lambda_function=fn.function,
            alarm_friendly_name=fn.name,
            human_readable_name=f"Function {fn.name}",
            is_iterator=False,  # no stream event source: no iterator-age widget
            add_fault_count_alarm={SEVERITY: ErrorCountThreshold(
                max_error_count=errors,
                **threshold(f"{fn.name}: more than {errors} errors in a period.",
                            RUNBOOKS["function_errors"], periods=1,
                            missing=NOT_BREACHING))},
            add_throttles_count_alarm={SEVERITY: ErrorCountThreshold(
                max_error_count=m.function_throttles_per_period,
                **threshold(f"{fn.name}: more than {m.function_throttles_per_period} throttles "
                            "in a period.", RUNBOOKS["function_throttles"], periods=1,
                            missing=NOT_BREACHING))},
            add_latency_p99_alarm={SEVERITY: LatencyThreshold(
                max_latency=near_timeout,
                **threshold(f"{fn.name}: p99 duration above {m.duration_near_timeout_ratio:.0%} "
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
                **threshold(f"{pipeline.title}: oldest message older than "
                            f"{m.queue_age_seconds} s.", RUNBOOKS["queue_age"],
                            periods=m.sustained_periods, missing=ignore))},
            add_dead_letter_queue_max_size_alarm={SEVERITY: MaxMessageCountThreshold(
                max_message_count=0,
                **threshold(f"{pipeline.title}: messages are in the dead-letter queue.",
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
                **threshold(f"CDN 5xx above {m.cloudfront_5xx_rate_percent}% of requests.",
                            RUNBOOKS["cdn_5xx"], periods=m.sustained_periods,
                            missing=NOT_BREACHING))},
            add_error4xx_rate={SEVERITY: ErrorRateThreshold(
                max_error_rate=m.cloudfront_4xx_spike_percent,
                **threshold(f"CDN 4xx above {m.cloudfront_4xx_spike_percent}% of requests.",
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
            metric_groups=[CustomMetricGroup(title="Origin latency", metrics=[with_alarm(
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
                with_alarm(MetricAlarm(
                    group="Waf", name="Blocked", section=SECTION_EDGE,
                    metric=requests("BlockedRequests", "Blocked requests"),
                    threshold=m.waf_blocked_spike,
                    what=f"WAF blocked more than {m.waf_blocked_spike} requests in a period.",
                    runbook=RUNBOOKS["waf_blocked"])),
            ])],
        )
