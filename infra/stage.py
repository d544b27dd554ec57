"""One Stage per environment: every stack of the estate, in deployable order."""
from __future__ import annotations

from aws_cdk import Environment, Stage, Tags
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.stacks.access_logs_stack import AccessLogsStack
from infra.stacks.assets_stack import AssetsStack
from infra.stacks.backups_stack import BackupsStack
from infra.stacks.replica_stack import ReplicaStack


class EstateStage(Stage):
    """The storage estate of one environment.

    Deploy order (CloudFormation dependencies, not references, across regions):
    AccessLogs-<region> → Replica → Assets; AccessLogs-<backups region> → Backups.
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
        self.replica = ReplicaStack(self, "Replica", cfg=cfg)
        self.replica.add_stack_dependency(self.access_logs[cfg.replica_region])
        self.assets = AssetsStack(self, "Assets", cfg=cfg)
        self.assets.add_stack_dependency(self.access_logs[cfg.primary_region])
        self.assets.add_stack_dependency(self.replica, "replication needs the replica bucket and role")
        self.backups = BackupsStack(self, "Backups", cfg=cfg)
        self.backups.add_stack_dependency(self.access_logs[cfg.backups_region])

        Tags.of(self).add("project", "storage-estate")
        Tags.of(self).add("environment", cfg.name)

    @property
    def stacks(self):
        return [c for c in self.node.children if hasattr(c, "template_options")]
