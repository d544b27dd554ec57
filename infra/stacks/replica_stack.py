"""Replica: the assets replica bucket, its key and the replication role (deploys before Assets
and Cdn)."""
from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.cdn import grant_distribution_read
from infra.constructs.encrypted_bucket import EncryptedBucket
from infra.constructs.encryption import guard_key_from_destruction
from infra.constructs.malware_gate import gate_statements
from infra.constructs.replication import ReplicationRole
from infra.constructs.tiering import replica_lifecycle_rules
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
        )
        guard_key_from_destruction(self.replica.key, break_glass_role_arn=cfg.break_glass_role_arn)
        self.replication = ReplicationRole(
            self, "Replication",
            role_name=cfg.replication_role_name,
            source_bucket_name=cfg.assets_bucket_name,
            destination=self.replica.bucket,
            destination_key=self.replica.key,
        )
        # CloudFront fails over to this bucket.
        grant_distribution_read(self.replica.bucket, self.replica.key)
        # Replicas of gated uploads are as unreadable as their sources until scanned clean
        # (the verdict tag replicates with them): failover never serves an unscanned object.
        for statement in gate_statements(bucket_name=cfg.replica_bucket_name,
                                         prefixes=cfg.upload_gate.gated_prefixes,
                                         scanner_role_arn=None):
            self.replica.bucket.add_to_resource_policy(statement)
        acknowledge(self.replica.bucket, {
            "NIST.800.53.R5-S3BucketReplicationEnabled":
                "This bucket is the replication destination of the assets bucket; replicating "
                "the replica again would add a third copy with no recovery benefit.",
        })
        replica_id = self.get_logical_id(self.replica.cfn_bucket)
        acknowledge(self.replication.policy, {
            f"AwsSolutions-IAM5[Resource::arn:aws:s3:::{cfg.assets_bucket_name}/*]":
                "S3 replication reads any version of any object of the assets bucket: the rule "
                "covers the whole bucket, so the object ARN must too.",
            f"AwsSolutions-IAM5[Resource::<{replica_id}.Arn>/*]":
                "Replicas are written under the same keys as their sources, anywhere in the "
                "replica bucket; the actions are only ReplicateObject and ReplicateTags.",
        })
        CfnOutput(self, "ReplicaBucketName", value=self.replica.bucket.bucket_name)
        CfnOutput(self, "ReplicationRoleArn", value=self.replication.role.role_arn)
