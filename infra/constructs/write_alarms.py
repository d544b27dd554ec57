"""Which region serves writes now, and the two replication rules, as the monitoring stacks
watch them (each alarm where its metric is published).

- ``writes_failed_over_alarm``: the PRIMARY record's calculated health check is unhealthy, so
  Route 53 answers the upload hostname with the replica region. Route 53 publishes health
  check metrics in us-east-1 only (the primary region: ``EnvironmentConfig`` requires it).
- ``replica_region_serving_alarm``: the replica region's upload API is taking requests (it
  only does while it serves writes, or while someone tests it).
"""
from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cw

from infra.config import EnvironmentConfig
from infra.constructs.monitoring import MetricAlarm, WatchedReplication
from infra.constructs.replication import REVERSE_RULE_ID, RULE_ID

REVERSE_ALARM_GROUP = "ReplicationBack"
WRITES_GROUP = "Writes"
SECTION_WRITES = "Which region serves writes"
ROUTE53_NAMESPACE = "AWS/Route53"
RUNBOOKS = {
    "failed_over": "uploads go to the replica region: if unplanned, check the primary's upload "
                   "API, S3 and KMS health; after recovery follow docs/multi-region-writes.md "
                   "(failback, then tools/reconcile for the window's uploads).",
    "replica_serving": "the replica region's upload API takes requests: expected during a "
                       "failover (see the Writes-Served-By alarm in the primary region), else "
                       "find the caller in its access logs.",
}


def forward_replication(cfg: EnvironmentConfig) -> WatchedReplication:
    return WatchedReplication(
        source_bucket=cfg.assets_bucket_name, destination_bucket=cfg.replica_bucket_name,
        rule_id=RULE_ID, destination_region=cfg.replica_region)


def reverse_replication(cfg: EnvironmentConfig) -> WatchedReplication | None:
    """The rule back from the replica, or None while a first deploy leaves it out
    (``-c first_deploy=true``): S3 would publish none of its metrics, and the silence alarm,
    which treats missing data as breaching, would page until the next deploy."""
    if not cfg.replicate_back:
        return None
    return WatchedReplication(
        source_bucket=cfg.replica_bucket_name, destination_bucket=cfg.assets_bucket_name,
        rule_id=REVERSE_RULE_ID, destination_region=cfg.primary_region,
        alarm_group=REVERSE_ALARM_GROUP)


def writes_failed_over_alarm(health_check_id: str, cfg: EnvironmentConfig) -> MetricAlarm:
    period = Duration.minutes(1)  # Route 53 publishes HealthCheckStatus every minute
    return MetricAlarm(
        group=WRITES_GROUP, name=f"Served-By-{cfg.replica_region}", section=SECTION_WRITES,
        metric=cw.Metric(namespace=ROUTE53_NAMESPACE, metric_name="HealthCheckStatus",
                         dimensions_map={"HealthCheckId": health_check_id},
                         statistic="Minimum", label="Primary writes healthy (1 = yes)",
                         period=period),
        threshold=1, comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
        # Silence is Route 53 or CloudWatch in us-east-1 failing: treat it as failed over. Two
        # minutes in a row: CloudWatch delivers a datapoint late now and then, and one late
        # minute alone must not page "uploads are in the other region".
        missing=cw.TreatMissingData.BREACHING, periods=2,
        what=f"Uploads are answered by {cfg.replica_region}: the primary write path's health "
             "check is unhealthy (or forced so by `make failover`).",
        runbook=RUNBOOKS["failed_over"])


def replica_region_serving_alarm(api: apigwv2.IHttpApi, cfg: EnvironmentConfig) -> MetricAlarm:
    period = Duration.minutes(cfg.monitoring.alarm_period_minutes)
    return MetricAlarm(
        group=WRITES_GROUP, name=f"Taking-Uploads-{cfg.replica_region}", section=SECTION_WRITES,
        metric=cw.Metric(namespace="AWS/ApiGateway", metric_name="Count",
                         dimensions_map={"ApiId": api.api_id}, statistic="Sum",
                         label="Requests to the replica region's upload API", period=period),
        threshold=0,
        what=f"The {cfg.replica_region} upload API is taking requests (it serves writes now).",
        runbook=RUNBOOKS["replica_serving"])
