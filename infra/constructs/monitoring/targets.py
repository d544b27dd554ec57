"""What to watch: ``MonitoringTargets`` and the pieces other constructs append to it before
the monitoring stack is built — a Lambda function, a queue with its dead-letter queue, an S3
replication rule, or a ``MetricAlarm`` on any metric the library does not model."""
from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from infra.config import HANDLED_FAULTS_METRIC
from infra.config.common import MAX_ALARM_METRICS

GT = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
NOT_BREACHING = cw.TreatMissingData.NOT_BREACHING


@dataclass(frozen=True)
class MonitoredFunction:
    """A Lambda function, its configured timeout (IFunction does not expose it) and the name
    its alarms and widgets carry."""

    name: str
    function: lambda_.IFunction
    timeout: Duration
    # Errors tolerated per period; None: MonitoringConfig's. A function that runs a few times
    # an hour never reaches a count meant for one that runs per request: it sets its own.
    errors_per_period: int | None = None
    # (EMF namespace, service) of the failures it catches and answers for (a 500 response, a
    # queue record handed back): Lambda's Errors never counts those (runtime.count_fault).
    handled_faults: tuple[str, str] | None = None


def handled_faults_alarm(fn: MonitoredFunction, *, errors: int, period: Duration,
                         section: str) -> MetricAlarm:
    """More than ``errors`` failures ``fn`` caught in a period: a presign that answers 500 to
    every request, or a consumer whose every record fails, ends each invocation successfully,
    so its Fault-Count alarm (Lambda's ``Errors``) stays silent."""
    namespace, service = fn.handled_faults
    metric = cw.Metric(namespace=namespace, metric_name=HANDLED_FAULTS_METRIC,
                       dimensions_map={"service": service}, statistic="Sum", period=period,
                       label="Failures caught")
    return MetricAlarm(
        group=fn.name, name="Handled-Faults", section=section, metric=metric, threshold=errors,
        what=f"{fn.name}: more than {errors} failures it caught in a period (500 responses, "
             "queue records handed back).",
        runbook="read the function's log group for the stack traces (\"request failed\", "
                "\"record failed\"); roll back the last deploy if they started with it.")


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
    periods: int = 1  # evaluation periods
    missing: cw.TreatMissingData = NOT_BREACHING
    datapoints: int | None = None  # breaching datapoints of those periods; None: all of them


def undelivered_events(*, group: str, section: str, rule_names: list[str], period: Duration,
                       what: str, runbook: str) -> MetricAlarm:
    """Any event an EventBridge rule of ``rule_names`` failed to deliver to its target: a
    target policy or key policy that refuses EventBridge drops every event, and the rule only
    counts it (``AWS/Events`` ``FailedInvocations``, per ``RuleName``)."""
    metric = summed([cw.Metric(namespace="AWS/Events", metric_name="FailedInvocations",
                               dimensions_map={"RuleName": name}, statistic="Sum",
                               period=period, label=name) for name in rule_names],
                    label="Events not delivered", period=period)
    return MetricAlarm(group=group, name="Events-Undelivered", section=section, metric=metric,
                       threshold=0, what=what, runbook=runbook)




def summed(metrics: list[cw.Metric], *, label: str, period: Duration) -> cw.IMetric:
    """The sum of ``metrics`` (each a count, missing as 0), as one alarm can read it: the
    metric itself when there is one (a CloudWatch alarm reads at most 10)."""
    if len(metrics) > MAX_ALARM_METRICS:
        raise ValueError(f"{label}: {len(metrics)} metrics, a CloudWatch alarm reads at most "
                         f"{MAX_ALARM_METRICS}")
    if len(metrics) == 1:
        return metrics[0]
    named = {f"m{i}": metric for i, metric in enumerate(metrics)}
    return cw.MathExpression(expression=" + ".join(f"FILL({m}, 0)" for m in named),
                             using_metrics=named, label=label, period=period)


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
