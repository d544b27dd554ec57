"""One Stage per environment: every stack of the estate, in deployable order."""
from __future__ import annotations

from aws_cdk import Environment, Stage, Tags
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.cdk_function_logs import give_cdk_functions_log_groups
from infra.constructs.function import HANDLER_REQUIREMENTS
from infra.constructs.monitoring import MonitoringTargets, replication_destination_alarms
from infra.constructs.python_layer import build_layers
from infra.constructs.renditions import REQUIREMENTS as RENDITIONS_REQUIREMENTS
from infra.constructs.write_alarms import (
    REVERSE_ALARM_GROUP,
    forward_replication,
    replica_region_serving_alarm,
    reverse_replication,
    writes_failed_over_alarm,
)
from infra.stacks.access_logs_stack import AccessLogsStack
from infra.stacks.assets_stack import AssetsStack
from infra.stacks.backups_stack import BackupsStack
from infra.stacks.cdn_stack import CdnStack
from infra.stacks.monitoring_stack import MonitoringStack, ReplicationMonitoringStack
from infra.stacks.recovery_stack import RecoveryStack
from infra.stacks.replica_stack import ReplicaStack
from infra.stacks.upload_api_stack import UploadApiStack


class EstateStage(Stage):
    """The storage estate of one environment.

    Deploy order (CloudFormation dependencies, not references, across regions):
    AccessLogs-<region> → Replica → Assets → Cdn → Monitoring; Assets → UploadApi →
    UploadApi-<replica region> → ReplicationMonitoring; Assets → ReplicationMonitoring;
    AccessLogs-<backups region> → Backups.
    The buckets exist before the distribution whose origins name them; the bucket stacks
    grant this account's distributions, so nothing refers back to Cdn.
    """

    def __init__(self, scope: Construct, cfg: EnvironmentConfig) -> None:
        super().__init__(scope, cfg.name, env=Environment(account=cfg.account,
                                                          region=cfg.primary_region))
        self.cfg = cfg
        # Every layer's pip run at once, before the constructs ask for them one by one.
        build_layers([HANDLER_REQUIREMENTS, RENDITIONS_REQUIREMENTS])
        self.access_logs = self._access_logs(cfg)
        self._buckets(cfg)
        self._cdn(cfg)
        self._upload_api(cfg)
        self.recovery = RecoveryStack(self, "Recovery", cfg=cfg, bucket_key=self.assets.assets.key)
        self.recovery.add_stack_dependency(self.assets, "backs up the assets bucket")
        self.backups = BackupsStack(self, "Backups", cfg=cfg)
        self.backups.add_stack_dependency(self.access_logs[cfg.backups_region])
        self.monitoring_targets = self._monitoring_targets(cfg)
        self._monitoring(cfg)

        give_cdk_functions_log_groups(self, retention_days=cfg.cdk_function_log_retention_days,
                                      log_group_name=cfg.cdk_function_log_group_name)
        Tags.of(self).add("project", "storage-estate")
        Tags.of(self).add("environment", cfg.name)

    def _access_logs(self, cfg: EnvironmentConfig) -> dict[str, AccessLogsStack]:
        """One access-log bucket per region, for the data buckets of that region."""
        sources: dict[str, list[str]] = {region: [] for region in cfg.regions}
        sources[cfg.primary_region].append(cfg.assets_bucket_name)
        sources[cfg.replica_region].append(cfg.replica_bucket_name)
        sources[cfg.backups_region].append(cfg.backups_bucket_name)
        return {
            region: AccessLogsStack(self, f"AccessLogs-{region}", cfg=cfg, region=region,
                                    source_bucket_names=names)
            for region, names in sources.items()
        }

    def _buckets(self, cfg: EnvironmentConfig) -> None:
        """The replica first: the assets bucket's replication rule names it."""
        self.replica = ReplicaStack(self, "Replica", cfg=cfg)
        self.replica.add_stack_dependency(self.access_logs[cfg.replica_region])
        self.assets = AssetsStack(self, "Assets", cfg=cfg)
        self.assets.add_stack_dependency(self.access_logs[cfg.primary_region])
        self.assets.add_stack_dependency(self.replica, "replication needs the replica bucket and role")

    def _cdn(self, cfg: EnvironmentConfig) -> None:
        self.cdn = CdnStack(self, "Cdn", cfg=cfg)
        self.access_logs[cfg.primary_region].logs.allow_log_delivery(
            prefix=self.cdn.log_prefix, delivery_source_name=self.cdn.log_delivery_source_name)
        self.cdn.add_stack_dependency(self.access_logs[cfg.primary_region],
                                      "CloudFront access logs go to the log bucket")
        self.cdn.add_stack_dependency(self.assets, "the primary origin is the assets bucket")
        self.cdn.add_stack_dependency(self.replica, "the failover origin is the replica bucket")

    def _upload_api(self, cfg: EnvironmentConfig) -> None:
        """One write path per region, the same code: each signs for its own region's bucket
        (the replica region's for the replica bucket, with a replica of the dedup index)."""
        hasher = self.assets.upload_hasher
        gated = cfg.upload_gate.gated_prefixes  # pending/quarantined answers
        self.upload_api = UploadApiStack(self, "UploadApi", cfg=cfg,
                                         bucket_name=cfg.assets_bucket_name,
                                         bucket_key=self.assets.assets.key,
                                         table=hasher.table, table_key=hasher.table_key,
                                         scan_gated_prefixes=gated)
        self.upload_api.add_stack_dependency(self.assets, "the API signs for the assets bucket")
        if cfg.upload_domain_name is not None:
            self.upload_api.add_stack_dependency(
                self.replica, "its Route 53 switch check reads the Replica stack's switch alarm")
        table_id = self.assets.get_logical_id(
            hasher.table.node.default_child)  # type: ignore[arg-type]
        self.replica_upload_api = UploadApiStack(
            self, f"UploadApi-{cfg.replica_region}", cfg=cfg, region=cfg.replica_region,
            bucket_name=cfg.replica_bucket_name, bucket_key=self.replica.replica.key,
            scan_gated_prefixes=gated, dedup_source=(self.assets.stack_name, table_id))
        self.replica_upload_api.add_stack_dependency(
            self.assets, "the dedup index it replicates is the Assets stack's table")
        self.replica_upload_api.add_stack_dependency(
            self.upload_api, "its certificate is validated by the record the primary's writes")

    def _monitoring_targets(self, cfg: EnvironmentConfig) -> MonitoringTargets:
        """What the alarms watch. A construct that brings a function, a queue pipeline or a
        metric worth an alarm says so itself (``monitored_function()``, ``monitored_queue()``,
        ``metric_alarms()``); the monitoring stacks are built last."""
        hasher, renditions = self.assets.upload_hasher, self.assets.renditions
        targets = MonitoringTargets(
            replication=forward_replication(cfg),
            http_api=self.upload_api.api,
            functions=[self.upload_api.presign.monitored_function(),
                       self.upload_api.presign.monitored_health(), hasher.monitored_function()],
            queues=[hasher.monitored_queue()],
            metric_alarms=self.upload_api.presign.metric_alarms(cfg.monitoring),
            distribution_id=self.cdn.distribution_id,
            web_acl_metric_name=self.cdn.edge.web_acl_metric_name,
        )
        gate = self.assets.gate
        if gate is not None:  # the upload gate's function, queue and GuardDuty scan alarms
            targets.functions.append(gate.monitored_function())
            targets.queues.append(gate.monitored_queue())
            targets.metric_alarms.extend(gate.metric_alarms(
                cfg.monitoring, cfg.upload_gate.unscanned_backlog_threshold))
        targets.functions.append(renditions.monitored_function())
        targets.queues.append(renditions.monitored_queue())
        targets.metric_alarms.extend(renditions.metric_alarms(
            cfg.monitoring, cfg.renditions.rejected_alarm_per_period))
        # The rule back from the replica: its latency and backlog are published here.
        reverse = reverse_replication(cfg)
        if reverse is not None:
            targets.metric_alarms.extend(replication_destination_alarms(
                reverse, cfg.monitoring, group=REVERSE_ALARM_GROUP))
        if self.upload_api.health_check is not None:
            targets.metric_alarms.append(writes_failed_over_alarm(
                self.upload_api.health_check.health_check_id, cfg))
        return targets

    def _replica_region_targets(self, cfg: EnvironmentConfig) -> MonitoringTargets:
        """The replica region's write path, the guard of its dedup index replica, and the
        reverse rule's failures (published in its source region, here)."""
        api = self.replica_upload_api
        guard = api.dedup.guard
        return MonitoringTargets(
            replication=reverse_replication(cfg),
            http_api=api.api,
            functions=[api.presign.monitored_function(), api.presign.monitored_health(),
                       guard.monitored_function()],
            metric_alarms=[replica_region_serving_alarm(api.api, cfg), *guard.metric_alarms(),
                           *api.presign.metric_alarms(cfg.monitoring)])

    def _monitoring(self, cfg: EnvironmentConfig) -> None:
        self.monitoring = MonitoringStack(self, "Monitoring", cfg=cfg,
                                          targets=self.monitoring_targets)
        self.replication_monitoring = ReplicationMonitoringStack(
            self, "ReplicationMonitoring", cfg=cfg, watch=self.monitoring_targets.replication,
            targets=self._replica_region_targets(cfg))
        self.replication_monitoring.add_stack_dependency(
            self.assets, "the replication rule it watches is the assets bucket's")

    @property
    def stacks(self):
        return [c for c in self.node.children if hasattr(c, "template_options")]
