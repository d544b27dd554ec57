"""Monitoring: the alarm topic, the alarms and the dashboard of one environment (us-east-1).

Thin: the rules are ``EstateMonitoring``'s. us-east-1 because every metric watched is published
there (CloudFront and CLOUDFRONT-scope WAF only there; S3 replication metrics in the source
bucket's region, the assets bucket's). No termination protection: it holds no data.
"""
from __future__ import annotations

from aws_cdk import Environment, Stack
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.monitoring import EstateMonitoring, MonitoringTargets


class MonitoringStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: EnvironmentConfig,
                 targets: MonitoringTargets) -> None:
        super().__init__(scope, construct_id,
                         env=Environment(account=cfg.account, region=cfg.primary_region),
                         description=f"Alarms and dashboard of the {cfg.name} storage estate",
                         termination_protection=False)
        self.monitoring = EstateMonitoring(self, "Monitoring", cfg=cfg, targets=targets)
        self.topic = self.monitoring.topic
        self.dashboard = self.monitoring.dashboard
