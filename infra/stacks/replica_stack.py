"""Replica: the assets replica bucket, its key and the replication role (deploys before Assets
and Cdn). The bucket is also the write target of the replica region's upload API while that
region serves writes: browsers upload to it directly (CORS like the assets bucket), and its rule
back to the assets bucket (``replica-to-assets``) carries those writes home."""
from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import RECONCILE_JOBS_PREFIX, EnvironmentConfig
from infra.constructs.browser_uploads import cors_rule_specs
from infra.constructs.cdn import grant_distribution_read
from infra.constructs.encrypted_bucket import EncryptedBucket
from infra.constructs.encryption import guard_key_from_destruction
from infra.constructs.malware_gate import gate_statements
from infra.constructs.replication import (
    REVERSE_RULE_ID,
    BatchReplicationRole,
    ReplicationRole,
    SourceReplication,
)
from infra.constructs.tiering import replica_lifecycle_rules
from infra.constructs.write_failover import WriteSwitchAlarm
from infra.nag import acknowledge


class ReplicaStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id,
                         env=Environment(account=cfg.account, region=cfg.replica_region),
                         description=f"Replica of the {cfg.name} assets bucket",
                         termination_protection=cfg.termination_protection)
        access_logs = s3.Bucket.from_bucket_name(
            self, "AccessLogs", cfg.access_log_bucket_name(cfg.replica_region))
        self.replica = EncryptedBucket(
            self, "Replica",
            bucket_name=cfg.replica_bucket_name,
            key_alias=cfg.replica_key_alias,
            purpose="cross-region replica of the assets bucket",
            access_logs=access_logs,
            lifecycle_rules=replica_lifecycle_rules(cfg.object_expiry),
            # Presigned URLs of the replica region's upload API name this bucket.
            cors_rules=cors_rule_specs(cfg.assets_cors),
        )
        guard_key_from_destruction(self.replica.key, break_glass_role_arn=cfg.break_glass_role_arn)
        self.replication = ReplicationRole(
            self, "Replication",
            role_name=cfg.replication_role_name,
            source_bucket_name=cfg.assets_bucket_name,
            destination=self.replica.bucket,
            destination_key=self.replica.key,
            source_region=cfg.primary_region,
            source_key_alias=cfg.assets_key_alias,
        )
        # CloudFront fails over to this bucket.
        grant_distribution_read(self.replica.bucket, self.replica.key)
        # Replicas of gated uploads are as unreadable as their sources until scanned clean
        # (the verdict tag replicates with them): failover never serves an unscanned object.
        for statement in gate_statements(bucket_name=cfg.replica_bucket_name,
                                         prefixes=cfg.upload_gate.gated_prefixes,
                                         scanner_role_id=None,
                                         hold_unscanned=cfg.upload_gate.hold_unscanned):
            self.replica.bucket.add_to_resource_policy(statement)
        if cfg.replicate_back:
            # Writes made here during a failover go back to the assets bucket (their role is the
            # Assets stack's, named); S3 never replicates a replica again, so primary writes
            # do not bounce back.
            self.reverse = SourceReplication(
                self, "ReverseReplication",
                source=self.replica.bucket, source_key=self.replica.key,
                role_arn=cfg.reverse_replication_role_arn,
                destination_bucket_name=cfg.assets_bucket_name,
                destination_key_alias_arn=cfg.assets_key_alias_arn,
                rule_id=REVERSE_RULE_ID, storage_class=None)
            if cfg.upload_gate.gated_prefixes:
                self._batch_replication(cfg)
        else:
            acknowledge(self.replica.bucket, {
                "NIST.800.53.R5-S3BucketReplicationEnabled":
                    "First deploy of a new environment only: S3 refuses the rule back to the "
                    "assets bucket before that bucket exists; the next deploy sets it.",
            })
        replica_id = self.get_logical_id(self.replica.cfn_bucket)
        acknowledge(self.replication.policy, {
            f"AwsSolutions-IAM5[Resource::arn:aws:s3:::{cfg.assets_bucket_name}/*]":
                "S3 replication reads any version of any object of the assets bucket: the rule "
                "covers the whole bucket, so the object ARN must too.",
            f"AwsSolutions-IAM5[Resource::<{replica_id}.Arn>/*]":
                "Replicas are written under the same keys as their sources, anywhere in the "
                "replica bucket; the actions are only ReplicateObject and ReplicateTags.",
            f"AwsSolutions-IAM5[Resource::arn:aws:kms:{cfg.primary_region}:{cfg.account}:key/*]":
                "The assets key is the Assets stack's, in another Region and deployed later: "
                "named by its alias (kms:ResourceAliases), Decrypt only, via S3 for the assets "
                "bucket's objects only.",
        })
        CfnOutput(self, "ReplicaBucketName", value=self.replica.bucket.bucket_name)
        CfnOutput(self, "ReplicationRoleArn", value=self.replication.role.role_arn)
        self.write_switch: WriteSwitchAlarm | None = None
        if cfg.upload_domain_name is not None:
            # The failover switch lives in the replica region, so moving writes there needs
            # nothing of us-east-1; here because this stack deploys before the primary
            # UploadApi stack, whose Route 53 check reads the alarm when it is created.
            self.write_switch = WriteSwitchAlarm(self, "WriteSwitch", cfg=cfg)

    def _batch_replication(self, cfg: EnvironmentConfig) -> None:
        """What ``tools.reconcile`` needs for a gated upload taken here whose replication back
        failed: nobody may read it before a scan (the gate's bucket policy) and no plan scans
        this bucket, so the tool cannot copy it nor have it scanned here; an S3 Batch
        Replication job on the rule back sends it to the assets bucket, whose plan scans it."""
        self.batch_replication = BatchReplicationRole(
            self, "BatchReplication",
            role_name=cfg.reverse_batch_replication_role_name,
            source_bucket_name=cfg.replica_bucket_name,
            source_key=self.replica.key, prefixes=cfg.upload_gate.gated_prefixes,
            jobs_prefix=RECONCILE_JOBS_PREFIX)
        CfnOutput(self, "BatchReplicationRoleArn", value=self.batch_replication.role.role_arn)
