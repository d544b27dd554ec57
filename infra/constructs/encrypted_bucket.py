"""EncryptedBucket: every data bucket of the estate, with its own customer-managed key.

The rules a reviewer can check here, in one place:
- versioned; SSE-KMS with a dedicated key (rotation on) and S3 Bucket Keys;
- private: all four Block Public Access settings, ACLs disabled (BucketOwnerEnforced);
- TLS only, and TLS 1.2 or newer (bucket policy denies the rest);
- server access logs into the region's access-log bucket, under the bucket's own prefix;
- bucket and key are retained when the stack is deleted or they are replaced, but not when
  their first create rolls back (RetainExceptOnCreate): a retry must not find the name taken.
Lifecycle, tiering, CORS and Object Lock are the caller's: they differ per bucket.
"""
from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Annotations, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.encryption import rotating_key


class EncryptedBucket(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        key_alias: str,
        purpose: str,
        access_logs: s3.IBucket,
        lifecycle_rules: Sequence[s3.LifecycleRule] = (),
        intelligent_tiering: Sequence[s3.IntelligentTieringConfiguration] = (),
        object_lock_retention: s3.ObjectLockRetention | None = None,
        cors_rules: Sequence[dict] = (),
    ) -> None:
        """``cors_rules`` in S3's API shape (``CORSRules``: browser_uploads.cors_rule_specs)."""
        super().__init__(scope, construct_id)
        self.key = rotating_key(self, "Key", alias=key_alias,
                                description=f"Encrypts the {bucket_name} bucket ({purpose})")
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            versioned=True,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=f"{bucket_name}/",
            lifecycle_rules=list(lifecycle_rules) or None,
            intelligent_tiering_configurations=list(intelligent_tiering) or None,
            object_lock_enabled=object_lock_retention is not None or None,
            object_lock_default_retention=object_lock_retention,
            cors=[_cors_rule(spec) for spec in cors_rules] or None,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )

        if not isinstance(access_logs, s3.Bucket):
            Annotations.of(self.bucket).acknowledge_warning(
                "@aws-cdk/aws-s3:accessLogsPolicyNotAdded",
                "The region's AccessLogBucket grants the S3 logging service this bucket by name.",
            )

    @property
    def cfn_bucket(self) -> s3.CfnBucket:
        return self.bucket.node.default_child  # type: ignore[return-value]


def _cors_rule(spec: dict) -> s3.CorsRule:
    return s3.CorsRule(id=spec["ID"], allowed_origins=spec["AllowedOrigins"],
                       allowed_methods=[s3.HttpMethods(m) for m in spec["AllowedMethods"]],
                       allowed_headers=spec["AllowedHeaders"] or None,
                       exposed_headers=spec["ExposeHeaders"], max_age=spec["MaxAgeSeconds"])
