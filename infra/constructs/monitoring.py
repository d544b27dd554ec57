"""EstateMonitoring: the alarm topic, the alarms and the dashboard of one environment.

Built on cdk-monitoring-constructs (``MonitoringFacade``): one alarm factory (names, SNS
actions, runbook line in every description), one metric factory (period) and one dashboard.
The library's own monitors cover what it models well — Lambda, SQS with DLQ, the HTTP API,
CloudFront error rates. What it does not model (S3 replication metrics, CloudFront
OriginLatency, WAF metrics of a web ACL known only by name) goes through the library's
``monitor_custom`` via one helper, ``_alarm``: same factory, same actions, same dashboard.

Region: everything here is read in us-east-1, where this construct must live.
- S3 replication metrics are published in the SOURCE bucket's region (the assets bucket,
  us-east-1), dimensions SourceBucket, DestinationBucket, RuleId;
- CloudFront metrics are only in us-east-1 (dimensions DistributionId, Region=Global);
- WAF metrics of a CLOUDFRONT-scope web ACL are in us-east-1 with dimensions WebACL (the web
  ACL's *metric name*, from its VisibilityConfig) and Rule (ALL) — no Region dimension, which
  only REGIONAL web ACLs carry;
- the upload API, the functions and the queues are us-east-1 resources.

Missing data, per alarm (CloudWatch's default, "missing", is never left implicit):
- notBreaching for error counts, error rates, latencies and replication metrics: these are
  only emitted when there is traffic (or a failure); no data means nothing went wrong.
  A replication stall, where nothing completes and ReplicationLatency goes silent, is the
  pending-backlog alarm's job, not the latency alarm's.
- ignore (keep the current state) for the SQS alarms: SQS stops publishing a queue's metrics
  after ~6 h without API activity *even with messages in it*, so silence on a DLQ nobody
  touches must not read as "recovered". The alarm leaves ALARM only when a datapoint says so
  (someone redrove or purged the DLQ, which makes it publish again).
- breaching is not used: none of these metrics is a heartbeat that must always report.

Not owned here: OriginLatency is one of CloudFront's *additional* metrics; it exists only if
the distribution has a monitoring subscription (``AWS::CloudFront::MonitoringSubscription``,
RealtimeMetricsSubscriptionStatus Enabled, billed per distribution). Without it that alarm
stays OK (notBreaching) and its graph is empty.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_iam as iam
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

from infra.config import ConfigError, EnvironmentConfig, MonitoringConfig
from infra.constructs.encryption import rotating_key
from infra.constructs.replication import RULE_ID

# The one severity this estate has: every alarm notifies the topic. Appended to alarm names.
SEVERITY = "Critical"
WEBHOOK_SCHEME = "https://"

# Dashboard sections, top to bottom (each appears only if one of its targets is given).
SECTION_REPLICATION = "Replication (assets -> replica)"
SECTION_UPLOADS = "Uploads (HTTP API)"
SECTION_HASHING = "Hashing (functions, queue, DLQ)"
SECTION_EDGE = "CDN and WAF"

S3_NAMESPACE = "AWS/S3"
CLOUDFRONT_NAMESPACE = "AWS/CloudFront"
WAF_NAMESPACE = "AWS/WAFV2"

RUNBOOKS = {
    "replication_latency": "check S3 health in both regions and the replica bucket/key "
                           "policies; if objects are only late, watch the backlog drain.",
    "replication_failed": "read the s3:Replication:OperationFailedReplication events, fix the "
                          "role or key policy, then re-replicate the failed keys with S3 Batch "
                          "Replication.",
    "replication_pending": "replication is falling behind: check the role, the replica key and S3 "
                           "service health; a stuck backlog needs S3 Batch Replication once fixed.",
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
    "queue_age": "the hasher is not keeping up: check the function's errors, throttles and the "
                 "event source mapping (enabled, batch size).",
    "dlq": "inspect the dead-lettered messages, fix the hasher, then redrive the DLQ to the "
           "hashing queue.",
    "cdn_5xx": "check the origins (S3 health, bucket/key policies for the distribution); failover "
               "to the replica should be serving.",
    "cdn_4xx": "look at the CloudFront access logs for the top paths and clients; a deploy that "
               "broke links or a scraper probing paths.",
    "origin_latency": "S3 is slow to first byte: check S3 health in the origin's region and "
                      "Origin Shield; failover needs 5xx, not slowness.",
    "waf_blocked": "look at the WAF logs (aws-waf-logs-*) for the blocking rule and sources: an "
                   "attack or a false positive blocking customers.",
}


@dataclass(frozen=True)
class MonitoredFunction:
    """A Lambda function and its configured timeout (IFunction does not expose it)."""

    function: lambda_.IFunction
    timeout: Duration
    name: str | None = None  # alarm/dashboard name; default: the function's construct id

    @classmethod
    def of(cls, function: lambda_.Function, name: str | None = None) -> MonitoredFunction:
        """From a Function defined in this app; Lambda's default timeout is 3 s."""
        return cls(function, function.timeout or Duration.seconds(3), name)

    @property
    def label(self) -> str:
        return self.name or self.function.node.id


@dataclass(frozen=True)
class MonitoringTargets:
    """What to watch. Every piece is optional: a piece left None gets no alarms and no widgets."""

    # S3 replication: both bucket names, or neither.
    assets_bucket_name: str | None = None
    replica_bucket_name: str | None = None
    replication_rule_id: str = RULE_ID
    # The upload API: an IHttpApi, or its id; and the stage the metrics are published for.
    http_api: apigwv2.IHttpApi | None = None
    http_api_id: str | None = None
    http_api_stage: str = "$default"
    functions: Sequence[MonitoredFunction] = field(default_factory=tuple)
    hash_queue: sqs.IQueue | None = None
    hash_dlq: sqs.IQueue | None = None
    distribution_id: str | None = None
    # The web ACL of the distribution (CLOUDFRONT scope); its metric name defaults to its name.
    web_acl_name: str | None = None
    web_acl_metric_name: str | None = None

    def __post_init__(self) -> None:
        if (self.assets_bucket_name is None) != (self.replica_bucket_name is None):
            raise ValueError("MonitoringTargets: assets_bucket_name and replica_bucket_name "
                             "go together (replication metrics need both)")
        if self.http_api is not None and self.http_api_id is not None:
            raise ValueError("MonitoringTargets: give http_api or http_api_id, not both")

    @property
    def waf_metric_name(self) -> str | None:
        return self.web_acl_metric_name or self.web_acl_name


def _check_webhook(cfg: EnvironmentConfig) -> None:
    url = cfg.chat_webhook_url
    if url is not None and (not url.startswith(WEBHOOK_SCHEME) or Token.is_unresolved(url)
                            or len(url) <= len(WEBHOOK_SCHEME)):
        raise ConfigError(f"config '{cfg.name}': chat_webhook_url must be an https:// URL "
                          "(SNS delivers to it over TLS)")


class EstateMonitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: EnvironmentConfig,
                 targets: MonitoringTargets) -> None:
        super().__init__(scope, construct_id)
        _check_webhook(cfg)
        stack = Stack.of(self)
        self.cfg = cfg
        self.targets = targets
        m: MonitoringConfig = cfg.monitoring
        self.period = Duration.minutes(m.alarm_period_minutes)
        self.alarm_name_prefix = f"{cfg.org}-{cfg.name}"
        alarm_arns = stack.format_arn(service="cloudwatch", resource="alarm",
                                      resource_name=f"{self.alarm_name_prefix}-*",
                                      arn_format=ArnFormat.COLON_RESOURCE_NAME)

        # The topic's key: CloudWatch may use it only for this account's alarms of this estate.
        self.key = rotating_key(
            self, "TopicKey", alias=f"alias/{cfg.alarm_topic_name}",
            description=f"Encrypts the {self.alarm_name_prefix} alarm topic",
            # Holds no data at rest: notifications are delivered within seconds.
            removal_policy=RemovalPolicy.DESTROY)
        source = {"StringEquals": {"aws:SourceAccount": stack.account},
                  "ArnLike": {"aws:SourceArn": alarm_arns}}
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublishToTheEncryptedTopic",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions=source,
        ))
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=cfg.alarm_topic_name,
            display_name=f"{cfg.org} {cfg.name} storage estate alarms",
            master_key=self.key,
            enforce_ssl=True,  # topic policy denies every request without TLS
        )
        self.topic.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublish",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[self.topic.topic_arn],
            conditions=source,
        ))
        self.topic.add_subscription(subs.EmailSubscription(cfg.alarm_email))
        if cfg.chat_webhook_url is not None:
            self.topic.add_subscription(subs.UrlSubscription(
                cfg.chat_webhook_url, protocol=sns.SubscriptionProtocol.HTTPS))

        self.dashboards = DefaultDashboardFactory(
            self,
            "Dashboards",
            dashboard_name_prefix=f"{cfg.org}-storage-estate-{cfg.name}",
            create_dashboard=True,
            create_summary_dashboard=False,
            create_alarm_dashboard=False,
        )
        self.facade = MonitoringFacade(
            self,
            "Facade",
            alarm_factory_defaults=AlarmFactoryDefaults(
                alarm_name_prefix=self.alarm_name_prefix,
                actions_enabled=True,
                # ALARM only: every message on the topic is something to act on; recovery
                # shows on the dashboard.
                action=SnsAlarmActionStrategy(on_alarm_topic=self.topic),
                datapoints_to_alarm=1,
            ),
            metric_factory_defaults=MetricFactoryDefaults(period=self.period),
            dashboard_factory=self.dashboards,
        )

        self._replication(m)
        self._uploads(m)
        self._hashing(m)
        self._edge(m)
        self.dashboard = self.dashboards.dashboard

    # One helper for every threshold: periods, missing-data policy, description and runbook.
    @staticmethod
    def _threshold(what: str, runbook: str, *, periods: int,
                   missing: cw.TreatMissingData) -> dict:
        return {
            "alarm_description_override": what,
            "runbook_link": runbook,  # rendered as "Runbook: …" in the description
            "datapoints_to_alarm": periods,
            "evaluation_periods": periods,
            "treat_missing_data_override": missing,
        }

    def _alarm(self, metric: cw.IMetric, name: str, *, threshold: float,
               comparison: cw.ComparisonOperator, what: str, runbook: str, periods: int,
               missing: cw.TreatMissingData) -> CustomMetricWithAlarm:
        """A metric the library does not model, alarmed through the same factory."""
        return CustomMetricWithAlarm(
            metric=metric,
            alarm_friendly_name=name,
            add_alarm={SEVERITY: CustomThreshold(
                threshold=threshold,
                comparison_operator=comparison,
                **self._threshold(what, runbook, periods=periods, missing=missing),
            )},
        )

    def _metric(self, namespace: str, metric_name: str, dimensions: dict[str, str],
                statistic: str, label: str) -> cw.Metric:
        return cw.Metric(namespace=namespace, metric_name=metric_name,
                         dimensions_map=dimensions, statistic=statistic, label=label,
                         period=self.period)

    def _replication(self, m: MonitoringConfig) -> None:
        t = self.targets
        if t.assets_bucket_name is None or t.replica_bucket_name is None:
            return
        dims = {"SourceBucket": t.assets_bucket_name,
                "DestinationBucket": t.replica_bucket_name,
                "RuleId": t.replication_rule_id}
        latency = self._metric(S3_NAMESPACE, "ReplicationLatency", dims, "Maximum",
                               "Replication latency (max, s)")
        failed = self._metric(S3_NAMESPACE, "OperationsFailedReplication", dims, "Sum",
                              "Failed replications")
        pending = self._metric(S3_NAMESPACE, "OperationsPendingReplication", dims, "Maximum",
                               "Pending replications (max)")
        # Growing: above the floor AND higher than the period before, N periods in a row.
        growing = cw.MathExpression(
            expression=f"IF(pending > {m.pending_replication_floor} AND DIFF(pending) > 0, 1, 0)",
            using_metrics={"pending": pending},
            label="Pending replications growing (1 = yes)",
            period=self.period,
        )
        not_breaching = cw.TreatMissingData.NOT_BREACHING
        gt = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
        self.facade.add_large_header(SECTION_REPLICATION)
        self.facade.monitor_custom(
            alarm_friendly_name="Replication",
            human_readable_name=f"{t.assets_bucket_name} -> {t.replica_bucket_name} "
                                f"(rule {t.replication_rule_id})",
            metric_groups=[
                CustomMetricGroup(title="Replication latency (RTC window)", metrics=[self._alarm(
                    latency, "Latency", threshold=m.replication_latency_seconds,
                    comparison=gt, periods=m.sustained_periods, missing=not_breaching,
                    what=f"S3 replication latency above the RTC window "
                         f"({m.replication_latency_seconds} s).",
                    runbook=RUNBOOKS["replication_latency"])]),
                CustomMetricGroup(title="Failed replications", metrics=[self._alarm(
                    failed, "Failed", threshold=0, comparison=gt, periods=1,
                    missing=not_breaching, what="S3 failed to replicate objects to the replica.",
                    runbook=RUNBOOKS["replication_failed"])]),
                CustomMetricGroup(title="Pending replications", metrics=[pending, self._alarm(
                    growing, "Pending-Growing", threshold=1,
                    comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    periods=m.pending_replication_growth_periods, missing=not_breaching,
                    what=f"S3 replication backlog above {m.pending_replication_floor} operations "
                         f"and growing for {m.pending_replication_growth_periods} periods.",
                    runbook=RUNBOOKS["replication_pending"])]),
            ],
        )

    def _uploads(self, m: MonitoringConfig) -> None:
        t = self.targets
        api = t.http_api
        if api is None and t.http_api_id is not None:
            api = apigwv2.HttpApi.from_http_api_attributes(self, "UploadApi",
                                                           http_api_id=t.http_api_id)
        if api is None:
            return
        not_breaching = cw.TreatMissingData.NOT_BREACHING
        self.facade.add_large_header(SECTION_UPLOADS)
        self.facade.monitor_api_gateway_v2_http_api(
            api=api,
            api_stage=t.http_api_stage,
            alarm_friendly_name="UploadApi",
            human_readable_name="Upload API",
            # The Average of the 5xx metric is the fraction of requests that failed.
            add5xx_rate_alarm={SEVERITY: ErrorRateThreshold(
                max_error_rate=m.api_5xx_rate_percent / 100,
                **self._threshold(f"Upload API 5xx above {m.api_5xx_rate_percent}% of requests.",
                                  RUNBOOKS["api_5xx"], periods=m.sustained_periods,
                                  missing=not_breaching))},
            add_latency_p99_alarm={SEVERITY: LatencyThreshold(
                max_latency=Duration.millis(m.api_p99_latency_ms),
                **self._threshold(f"Upload API p99 latency above {m.api_p99_latency_ms} ms.",
                                  RUNBOOKS["api_latency"], periods=m.sustained_periods,
                                  missing=not_breaching))},
        )

    def _hashing(self, m: MonitoringConfig) -> None:
        t = self.targets
        if not (t.functions or t.hash_queue or t.hash_dlq):
            return
        not_breaching = cw.TreatMissingData.NOT_BREACHING
        self.facade.add_large_header(SECTION_HASHING)
        for fn in t.functions:
            near_timeout = Duration.millis(int(fn.timeout.to_milliseconds()
                                               * m.duration_near_timeout_ratio))
            self.facade.monitor_lambda_function(
                lambda_function=fn.function,
                alarm_friendly_name=fn.label,
                human_readable_name=f"Function {fn.label}",
                is_iterator=False,  # no stream event source: no iterator-age widget
                add_fault_count_alarm={SEVERITY: ErrorCountThreshold(
                    max_error_count=m.function_errors_per_period,
                    **self._threshold(f"{fn.label}: more than {m.function_errors_per_period} "
                                      "errors in a period.", RUNBOOKS["function_errors"],
                                      periods=1, missing=not_breaching))},
                add_throttles_count_alarm={SEVERITY: ErrorCountThreshold(
                    max_error_count=m.function_throttles_per_period,
                    **self._threshold(f"{fn.label}: more than {m.function_throttles_per_period} "
                                      "throttles in a period.", RUNBOOKS["function_throttles"],
                                      periods=1, missing=not_breaching))},
                add_latency_p99_alarm={SEVERITY: LatencyThreshold(
                    max_latency=near_timeout,
                    **self._threshold(
                        f"{fn.label}: p99 duration above {m.duration_near_timeout_ratio:.0%} of "
                        f"its {fn.timeout.to_seconds()} s timeout.", RUNBOOKS["function_duration"],
                        periods=m.sustained_periods, missing=not_breaching))},
            )
        # SQS goes silent on a queue without API activity, messages or not: keep the state.
        ignore = cw.TreatMissingData.IGNORE
        age = {SEVERITY: MaxMessageAgeThreshold(
            max_age_in_seconds=m.queue_age_seconds,
            **self._threshold(f"Oldest hashing message older than {m.queue_age_seconds} s.",
                              RUNBOOKS["queue_age"], periods=m.sustained_periods, missing=ignore))}
        dlq = {SEVERITY: MaxMessageCountThreshold(
            max_message_count=0,
            **self._threshold("Hashing messages are in the dead-letter queue.", RUNBOOKS["dlq"],
                              periods=1, missing=ignore))}
        if t.hash_queue is not None and t.hash_dlq is not None:
            self.facade.monitor_sqs_queue_with_dlq(
                queue=t.hash_queue, dead_letter_queue=t.hash_dlq,
                alarm_friendly_name="HashQueue", human_readable_name="Hashing queue",
                add_queue_max_message_age_alarm=age, add_dead_letter_queue_max_size_alarm=dlq)
        elif t.hash_queue is not None:
            self.facade.monitor_sqs_queue(
                queue=t.hash_queue, alarm_friendly_name="HashQueue",
                human_readable_name="Hashing queue", add_queue_max_message_age_alarm=age)
        elif t.hash_dlq is not None:
            self.facade.monitor_sqs_queue(
                queue=t.hash_dlq, alarm_friendly_name="HashDlq",
                human_readable_name="Hashing dead-letter queue", add_queue_max_size_alarm=dlq)

    def _edge(self, m: MonitoringConfig) -> None:
        t = self.targets
        waf = t.waf_metric_name
        if t.distribution_id is None and waf is None:
            return
        not_breaching = cw.TreatMissingData.NOT_BREACHING
        gt = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
        self.facade.add_large_header(SECTION_EDGE)
        if t.distribution_id is not None:
            distribution = cloudfront.Distribution.from_distribution_attributes(
                self, "Distribution", distribution_id=t.distribution_id,
                domain_name="")  # only the id reaches CloudWatch; the domain is never read
            self.facade.monitor_cloud_front_distribution(
                distribution=distribution,
                alarm_friendly_name="Cdn",
                human_readable_name="Assets CDN",
                additional_metrics_enabled=True,  # cache hit rate: see the module docstring
                add_fault5xx_rate={SEVERITY: ErrorRateThreshold(
                    max_error_rate=m.cloudfront_5xx_rate_percent,
                    **self._threshold(f"CDN 5xx above {m.cloudfront_5xx_rate_percent}% of "
                                      "requests.", RUNBOOKS["cdn_5xx"], periods=m.sustained_periods,
                                      missing=not_breaching))},
                add_error4xx_rate={SEVERITY: ErrorRateThreshold(
                    max_error_rate=m.cloudfront_4xx_spike_percent,
                    **self._threshold(f"CDN 4xx above {m.cloudfront_4xx_spike_percent}% of "
                                      "requests.", RUNBOOKS["cdn_4xx"],
                                      periods=m.sustained_periods, missing=not_breaching))},
            )
            origin_latency = self._metric(
                CLOUDFRONT_NAMESPACE, "OriginLatency",
                {"DistributionId": t.distribution_id, "Region": "Global"}, "p99",
                "Origin latency (p99, ms)")
            self.facade.monitor_custom(
                alarm_friendly_name="Cdn",
                human_readable_name="Assets CDN origin latency (additional metric)",
                metric_groups=[CustomMetricGroup(title="Origin latency", metrics=[self._alarm(
                    origin_latency, "Origin-Latency", threshold=m.origin_latency_ms,
                    comparison=gt, periods=m.sustained_periods, missing=not_breaching,
                    what=f"CDN origin p99 latency above {m.origin_latency_ms} ms.",
                    runbook=RUNBOOKS["origin_latency"])])],
            )
        if waf is not None:
            blocked = self._metric(WAF_NAMESPACE, "BlockedRequests",
                                   {"WebACL": waf, "Rule": "ALL"}, "Sum", "Blocked requests")
            allowed = self._metric(WAF_NAMESPACE, "AllowedRequests",
                                   {"WebACL": waf, "Rule": "ALL"}, "Sum", "Allowed requests")
            self.facade.monitor_custom(
                alarm_friendly_name="Waf",
                human_readable_name=f"WAF web ACL {t.web_acl_name or waf}",
                metric_groups=[CustomMetricGroup(title="WAF requests", metrics=[
                    allowed,
                    self._alarm(blocked, "Blocked", threshold=m.waf_blocked_spike,
                                comparison=gt, periods=1, missing=not_breaching,
                                what=f"WAF blocked more than {m.waf_blocked_spike} requests "
                                     "in a period.", runbook=RUNBOOKS["waf_blocked"]),
                ])],
            )

