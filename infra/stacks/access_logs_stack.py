"""AccessLogs: the S3 server-access-log bucket of one region."""
from __future__ import annotations

from aws_cdk import Environment, Stack
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.access_log_bucket import AccessLogBucket


class AccessLogsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: EnvironmentConfig,
                 region: str, source_bucket_names: list[str]) -> None:
        super().__init__(scope, construct_id,
                         env=Environment(account=cfg.account, region=region),
                         description=f"S3 access logs of the {cfg.name} storage estate in {region}",
                         termination_protection=cfg.termination_protection)
        self.logs = AccessLogBucket(self, "AccessLogs",
                                    bucket_name=cfg.access_log_bucket_name(region),
                                    source_bucket_names=source_bucket_names,
                                    retention_days=cfg.access_log_retention_days)
