"""AccessLogBucket: the one S3 server-access-log target of a region.

Who can write: only the S3 logging service, only for the named source buckets of
this account, each under its own prefix. Nobody reads it but the account's admins.
Logs expire after the configured days; the bucket itself is retained.
"""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.tiering import LONE_DELETE_MARKERS
from infra.nag import acknowledge


class AccessLogBucket(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        source_bucket_names: list[str],
        retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            # S3 server access logging can only deliver to SSE-S3 buckets.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(retention_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                LONE_DELETE_MARKERS,  # what the expiry leaves behind each log object
            ],
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        account = self.bucket.stack.account
        for source in source_bucket_names:
            self.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"ServerAccessLogsFrom{''.join(p.title() for p in source.split('-'))}",
                    principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                    actions=["s3:PutObject"],
                    resources=[self.bucket.arn_for_objects(f"{source}/*")],
                    conditions={
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnEquals": {"aws:SourceArn": f"arn:aws:s3:::{source}"},
                    },
                )
            )

        acknowledge(self.bucket, {
            "AwsSolutions-S1": "This is the region's access-log target; logging it to itself "
                               "would loop and logging it elsewhere only moves the problem.",
            "NIST.800.53.R5-S3BucketLoggingEnabled": "This is the region's access-log target; "
                                                     "it cannot log to itself without a loop.",
            "NIST.800.53.R5-S3BucketReplicationEnabled": "Access logs are operational telemetry "
                                                         "with a fixed expiry, not estate data; "
                                                         "replicating them adds cost, no durability need.",
            "NIST.800.53.R5-S3DefaultEncryptionKMS": "S3 server access logging only delivers to "
                                                     "SSE-S3 buckets; SSE-KMS would drop every log.",
        })

    def allow_log_delivery(self, *, prefix: str, delivery_source_name: str) -> None:
        """Let CloudWatch Logs vended delivery (e.g. CloudFront standard logging v2) write
        under ``prefix`` for one named delivery source of this account and region. The
        bucket-owner-full-control ACL is the only one a BucketOwnerEnforced bucket accepts."""
        stack = self.bucket.stack
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"LogDeliveryFrom{''.join(p.title() for p in delivery_source_name.split('-'))}",
                principals=[iam.ServicePrincipal("delivery.logs.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects(f"{prefix}*")],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account,
                                     "s3:x-amz-acl": "bucket-owner-full-control"},
                    "ArnEquals": {"aws:SourceArn": f"arn:aws:logs:{stack.region}:{stack.account}"
                                                   f":delivery-source:{delivery_source_name}"},
                },
            )
        )
