"""Monitoring: alarm topics, alarms and the dashboard of one environment.

Thin: the rules are ``EstateMonitoring``'s and ``ReplicationMonitoring``'s. Two stacks,
because an alarm watches only metrics of its own region: ``Monitoring`` in the primary region
(CloudFront, WAF, the API, functions, queues, failed replications; the one dashboard) and
``ReplicationMonitoring`` in the replica region (the forward rule's latency, backlog and
heartbeat, the reverse rule's failures, the replica region's write path, its own dashboard).
No termination protection: they hold no data.
"""
from __future__ import annotations

from aws_cdk import Environment, Stack
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.backup_alerts import backup_alerts, backup_alerts_undelivered
from infra.constructs.monitoring import (
    EstateMonitoring,
    MonitoringTargets,
    ReplicationMonitoring,
    TopicNames,
    WatchedReplication,
    replication_destination_alarms,
)


def _topic_names(cfg: EnvironmentConfig) -> TopicNames:
    return TopicNames(topic_name=cfg.alarm_topic_name, key_alias=cfg.alarm_topic_key_alias)


class MonitoringStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: EnvironmentConfig,
                 targets: MonitoringTargets) -> None:
        super().__init__(scope, construct_id,
                         env=Environment(account=cfg.account, region=cfg.primary_region),
                         description=f"Alarms and dashboard of the {cfg.name} storage estate",
                         termination_protection=False)
        backup_rules = [cfg.backup_jobs_failed_rule, cfg.backup_points_stopped_rule]
        targets.metric_alarms.append(backup_alerts_undelivered(cfg.monitoring, backup_rules))
        self.monitoring = EstateMonitoring(
            self, "Monitoring",
            alarm_name_prefix=cfg.alarm_name_prefix, topic_names=_topic_names(cfg),
            dashboard_name=cfg.dashboard_name,
            alarm_email=cfg.alarm_email, chat_webhook_url=cfg.chat_webhook_url,
            thresholds=cfg.monitoring, targets=targets)
        self.topic = self.monitoring.topic
        self.dashboard = self.monitoring.dashboard
        # The Recovery stack's vault is in this Region; its holes reach this topic.
        backup_alerts(self, jobs_rule_name=cfg.backup_jobs_failed_rule,
                      stopped_rule_name=cfg.backup_points_stopped_rule,
                      vault_name=cfg.backup_vault_name, topic=self.topic,
                      topic_key=self.monitoring.key)


class ReplicationMonitoringStack(Stack):
    """The replica region's alarms, topic and dashboard: the forward rule's latency, backlog
    and heartbeat (published here, its destination), the reverse rule's failures (published
    here, its source) and the region's write path (upload API, presign and health
    functions). The stack id keeps its name: its topic key's logical id is pinned."""

    def __init__(self, scope: Construct, construct_id: str, *, cfg: EnvironmentConfig,
                 watch: WatchedReplication, targets: MonitoringTargets | None = None) -> None:
        super().__init__(scope, construct_id,
                         env=Environment(account=cfg.account, region=watch.destination_region),
                         description=f"Replication alarms of the {cfg.name} storage estate "
                                     f"(where S3 publishes them: {watch.destination_region})",
                         termination_protection=False)
        region = watch.destination_region
        if targets is None:
            self.monitoring = ReplicationMonitoring(
                self, "Monitoring",
                alarm_name_prefix=cfg.alarm_name_prefix, topic_names=_topic_names(cfg),
                alarm_email=cfg.alarm_email,
                chat_webhook_url=cfg.chat_webhook_url, thresholds=cfg.monitoring, watch=watch)
        else:
            targets.metric_alarms[:0] = replication_destination_alarms(watch, cfg.monitoring)
            self.monitoring = EstateMonitoring(
                self, "Monitoring",
                alarm_name_prefix=cfg.alarm_name_prefix, topic_names=_topic_names(cfg),
                dashboard_name=f"{cfg.dashboard_name}-{region}",
                alarm_email=cfg.alarm_email, chat_webhook_url=cfg.chat_webhook_url,
                thresholds=cfg.monitoring, targets=targets,
                display_name=f"{cfg.alarm_name_prefix} storage estate alarms ({region})")
        self.topic = self.monitoring.topic
