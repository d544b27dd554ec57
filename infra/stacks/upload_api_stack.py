"""UploadApi: the presigned upload/download HTTP API of one environment in one region.

Thin: the rules are ``PresignApi``'s, the failover pieces ``write_failover``'s. Two instances
per environment, the same code: ``UploadApi`` in the primary region signs for the assets
bucket, ``UploadApi-<replica region>`` for the replica bucket (each region signs only for the
bucket in its own region, so a URL always names a bucket that can take the write). With a
hosted zone, both carry the upload hostname and their failover record; the primary also owns
the health check that decides between them. No termination protection: they hold no data
(the dedup replica this stack asks for is retained by DynamoDB, see ``DedupIndexReplica``).
"""
from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import EnvironmentConfig, function_log_group_name
from infra.constructs.dedup_replica import DedupIndexReplica
from infra.constructs.presign_api import PresignApi
from infra.constructs.write_failover import UploadDomain, WriteHealthCheck


class UploadApiStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: EnvironmentConfig,
                 bucket_name: str, bucket_key: kms.IKey, table: dynamodb.ITable | None = None,
                 table_key: kms.IKey | None = None, scan_gated_prefixes: tuple[str, ...] = (),
                 region: str | None = None,
                 dedup_source: tuple[str, str] | None = None) -> None:
        """``table``/``table_key``: the dedup index in this region; or ``dedup_source``
        (stack name, logical id of the primary's table) to replicate it here."""
        region = region or cfg.primary_region
        primary = region == cfg.primary_region
        super().__init__(scope, construct_id,
                         env=Environment(account=cfg.account, region=region),
                         description=f"Upload API of the {cfg.name} storage estate ({region}, "
                                     f"{'primary' if primary else 'failover'} write path)",
                         termination_protection=False)
        if dedup_source is not None:
            self.dedup = DedupIndexReplica(
                self, "DedupIndex", primary_region=cfg.primary_region,
                source_stack_name=dedup_source[0], source_logical_id=dedup_source[1],
                key_description=cfg.dedup_index_key_description_in(region),
                log_group_name=function_log_group_name(
                    f"{cfg.org}-{cfg.name}-dedup-index-replica-{region}"),
                log_retention_days=cfg.cdk_function_log_retention_days,
                guard_name=cfg.dedup_replica_guard_name_in(region),
                guard_log_retention_days=cfg.upload_api.log_retention_days)
            table, table_key = self.dedup.table, self.dedup.key
        if table is None or table_key is None:
            raise ValueError(f"{construct_id}: a dedup index (table and key, or its source)")
        self.presign = PresignApi(self, "UploadApi",
                                  function_name=cfg.presign_name_in(region),
                                  api_name=cfg.upload_api_name_in(region),
                                  access_log_group_name=cfg.upload_api_access_log_group_name_in(
                                      region),
                                  upload_api=cfg.upload_api,
                                  bucket_name=bucket_name, bucket_key=bucket_key,
                                  table=table, table_key=table_key,
                                  scan_gated_prefixes=scan_gated_prefixes,
                                  scan_holds_unscanned=cfg.upload_gate.hold_unscanned,
                                  # Only the assets bucket tiers into archives; replication
                                  # writes the replica's copies as STANDARD_IA.
                                  archive_tiers=primary)
        self.presign.add_write_health(function_name=cfg.write_health_name_in(region),
                                      bucket_name=bucket_name, bucket_key=bucket_key,
                                      log_retention_days=cfg.upload_api.log_retention_days)
        self.api = self.presign.api
        self.function = self.presign.function
        self.health_check: WriteHealthCheck | None = None
        if cfg.upload_domain_name is not None:
            self._upload_domain(cfg, primary=primary)
        CfnOutput(self, "UploadApiUrl", value=self.presign.url,
                  description="Endpoint of the upload API ($default stage)")
        # IAM callers need execute-api:Invoke on the API of each Region (docs/multi-region-writes.md).
        CfnOutput(self, "UploadApiId", value=self.api.api_id,
                  description=f"Id of the upload API in {self.region}, for callers' "
                              "execute-api:Invoke grants")

    def _upload_domain(self, cfg: EnvironmentConfig, *, primary: bool) -> None:
        if primary:
            self.health_check = WriteHealthCheck(
                self, "WriteHealthCheck", api=self.api, health_path=self.presign.health_path,
                name=f"{cfg.alarm_name_prefix}-writes-{cfg.primary_region}", cfg=cfg)
            CfnOutput(self, "WritesHealthCheckId", value=self.health_check.health_check_id,
                      description="The calculated health check of the PRIMARY upload record")
        UploadDomain(self, "UploadDomain", domain_name=cfg.upload_domain_name,
                     zone_name=cfg.cdn.hosted_zone_name, zone_id=cfg.cdn.hosted_zone_id,
                     api=self.api, stage=self.presign.stage,
                     failover="PRIMARY" if primary else "SECONDARY",
                     health_check_id=self.health_check.health_check_id if primary else None)
