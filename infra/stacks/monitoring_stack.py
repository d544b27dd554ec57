"""Monitoring: alarm topics, alarms and the dashboard of one environment.

Thin: the rules are ``EstateMonitoring``'s and ``ReplicationMonitoring``'s. Two stacks,
because an alarm watches only metrics of its own region: ``Monitoring`` in the primary region
(CloudFront, WAF, the API, functions, queues, failed replications; the one dashboard) and
``ReplicationMonitoring`` in the replica region (replication latency, backlog, heartbeat).
No termination protection: they hold no data.
"""
from __future__ import annotations

from aws_cdk import Environment, Stack
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.monitoring import (
    EstateMonitoring,
    MonitoringTargets,
    ReplicationMonitoring,
    WatchedReplication,
)


class MonitoringStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: EnvironmentConfig,
                 targets: MonitoringTargets) -> None:
        super().__init__(scope, construct_id,
                         env=Environment(account=cfg.account, region=cfg.primary_region),
                         description=f"Alarms and dashboard of the {cfg.name} storage estate",
                         termination_protection=False)
        self.monitoring = EstateMonitoring(
            self, "Monitoring",
            alarm_name_prefix=cfg.alarm_name_prefix, dashboard_name=cfg.dashboard_name,
            alarm_email=cfg.alarm_email, chat_webhook_url=cfg.chat_webhook_url,
            thresholds=cfg.monitoring, targets=targets)
        self.topic = self.monitoring.topic
        self.dashboard = self.monitoring.dashboard


class ReplicationMonitoringStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: EnvironmentConfig,
                 watch: WatchedReplication) -> None:
        super().__init__(scope, construct_id,
                         env=Environment(account=cfg.account, region=watch.destination_region),
                         description=f"Replication alarms of the {cfg.name} storage estate "
                                     f"(where S3 publishes them: {watch.destination_region})",
                         termination_protection=False)
        self.monitoring = ReplicationMonitoring(
            self, "Monitoring",
            alarm_name_prefix=cfg.alarm_name_prefix, alarm_email=cfg.alarm_email,
            chat_webhook_url=cfg.chat_webhook_url, thresholds=cfg.monitoring, watch=watch)
        self.topic = self.monitoring.topic
