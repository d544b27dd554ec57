"""Alarms, alarm topics and the dashboards of one environment.

Built on cdk-monitoring-constructs (``MonitoringFacade``): one alarm factory (names, SNS
actions, runbook line in every description), one metric factory (period) and one dashboard.
The library's own monitors cover what it models well — Lambda, SQS with DLQ, the HTTP API,
CloudFront error rates. What it does not model (S3 replication metrics, CloudFront
OriginLatency, WAF metrics, the estate's own business metrics) is a ``MetricAlarm``: same
factory, same actions, same dashboard.

Other constructs contribute by appending to ``MonitoringTargets`` (a function, a queue
pipeline, a ``MetricAlarm``) before the monitoring stack is built; nothing else changes.

Where a reader finds what:
- ``targets``: what to watch — ``MonitoringTargets`` and the pieces other constructs append
  (``MonitoredFunction``, ``MonitoredQueue``, ``MetricAlarm``, ``WatchedReplication``);
- ``topic``: the KMS-encrypted alarm topic of a region, its key and its recipients;
- ``alarms``: the one alarm factory — severity, runbook lines, periods and missing data of
  every alarm, and how ``MetricAlarm``s become dashboard graphs;
- ``replication``: S3 replication metrics, their alarms by the region S3 publishes them in,
  and ``ReplicationMonitoring`` (a replica region with nothing else to watch);
- ``estate``: ``EstateMonitoring``, a region's topic, alarms and dashboard (sections, the
  upload API, functions, queues, CDN and WAF).

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
"""
from infra.constructs.monitoring.estate import (
    SECTION_EDGE,
    SECTION_FUNCTIONS,
    SECTION_QUEUES,
    SECTION_REPLICATION,
    SECTION_UPLOADS,
    EstateMonitoring,
)
from infra.constructs.monitoring.replication import ReplicationMonitoring, replication_destination_alarms
from infra.constructs.monitoring.targets import (
    MetricAlarm,
    MonitoredFunction,
    MonitoredQueue,
    MonitoringTargets,
    WatchedReplication,
    summed,
    undelivered_events,
)
from infra.constructs.monitoring.topic import TopicNames

__all__ = [
    "SECTION_EDGE",
    "SECTION_FUNCTIONS",
    "SECTION_QUEUES",
    "SECTION_REPLICATION",
    "SECTION_UPLOADS",
    "EstateMonitoring",
    "MetricAlarm",
    "MonitoredFunction",
    "MonitoredQueue",
    "MonitoringTargets",
    "ReplicationMonitoring",
    "TopicNames",
    "WatchedReplication",
    "replication_destination_alarms",
    "summed",
    "undelivered_events",
]
