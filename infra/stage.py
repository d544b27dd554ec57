"""One Stage per environment: every stack of the estate, in deployable order."""
from __future__ import annotations

from aws_cdk import Environment, Stage, Tags
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.monitoring import MonitoredFunction, MonitoringTargets
from infra.stacks.access_logs_stack import AccessLogsStack
from infra.stacks.assets_stack import AssetsStack
from infra.stacks.backups_stack import BackupsStack
from infra.stacks.cdn_stack import CdnStack
from infra.stacks.monitoring_stack import MonitoringStack
from infra.stacks.recovery_stack import RecoveryStack
from infra.stacks.replica_stack import ReplicaStack
from infra.stacks.upload_api_stack import UploadApiStack


class EstateStage(Stage):
    """The storage estate of one environment.

    Deploy order (CloudFormation dependencies, not references, across regions):
    AccessLogs-<region> → Cdn → Replica → Assets → UploadApi → Monitoring;
    AccessLogs-<backups region> → Backups.
    Cdn names the buckets; Replica (cross-region, via SSM) and Assets take its ARN.
    """

    def __init__(self, scope: Construct, cfg: EnvironmentConfig) -> None:
        super().__init__(scope, cfg.name, env=Environment(account=cfg.account,
                                                          region=cfg.primary_region))
        self.cfg = cfg
        sources: dict[str, list[str]] = {region: [] for region in cfg.regions}
        sources[cfg.primary_region].append(cfg.assets_bucket_name)
        sources[cfg.replica_region].append(cfg.replica_bucket_name)
        sources[cfg.backups_region].append(cfg.backups_bucket_name)
        self.access_logs = {
            region: AccessLogsStack(self, f"AccessLogs-{region}", cfg=cfg, region=region,
                                    source_bucket_names=names)
            for region, names in sources.items()
        }
        self.cdn = CdnStack(self, "Cdn", cfg=cfg)
        self.access_logs[cfg.primary_region].logs.allow_log_delivery(
            prefix=self.cdn.log_prefix, delivery_source_name=self.cdn.log_delivery_source_name)
        self.cdn.add_stack_dependency(self.access_logs[cfg.primary_region],
                                      "CloudFront access logs go to the log bucket")
        self.replica = ReplicaStack(self, "Replica", cfg=cfg,
                                    distribution_arn=self.cdn.distribution_arn)
        self.replica.add_stack_dependency(self.access_logs[cfg.replica_region])
        self.assets = AssetsStack(self, "Assets", cfg=cfg,
                                  distribution_arn=self.cdn.distribution_arn)
        self.assets.add_stack_dependency(self.access_logs[cfg.primary_region])
        self.assets.add_stack_dependency(self.replica, "replication needs the replica bucket and role")
        hasher = self.assets.upload_hasher  # issue 4: the upload API uses Assets' pieces
        self.upload_api = UploadApiStack(self, "UploadApi", cfg=cfg,
                                         bucket_key=self.assets.assets.key,
                                         table=hasher.table, table_key=hasher.table_key)
        self.upload_api.add_stack_dependency(self.assets, "the API signs for the assets bucket")
        self.recovery = RecoveryStack(self, "Recovery", cfg=cfg, bucket_key=self.assets.assets.key)
        self.recovery.add_stack_dependency(self.assets, "backs up the assets bucket")
        self.backups = BackupsStack(self, "Backups", cfg=cfg)
        self.backups.add_stack_dependency(self.access_logs[cfg.backups_region])
        self.monitoring = MonitoringStack(self, "Monitoring", cfg=cfg, targets=MonitoringTargets(
            assets_bucket_name=cfg.assets_bucket_name,
            replica_bucket_name=cfg.replica_bucket_name,
            http_api=self.upload_api.api,
            functions=[
                MonitoredFunction(f.function, f.timeout, name)
                for name, f in (("Presign", self.upload_api.presign.function),
                                ("Hasher", hasher.function))
            ],
            hash_queue=hasher.queue,
            hash_dlq=hasher.dlq,
            distribution_id=self.cdn.distribution_id,
            web_acl_name=self.cdn.edge.web_acl.name,
        ))

        Tags.of(self).add("project", "storage-estate")
        Tags.of(self).add("environment", cfg.name)

    @property
    def stacks(self):
        return [c for c in self.node.children if hasattr(c, "template_options")]
