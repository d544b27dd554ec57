"""AssetsCdn: the CloudFront distribution in front of the assets bucket (and its replica).

What a reviewer can check here:
- only the public prefixes are served: one cache behaviour per prefix; every other path hits
  the default behaviour, whose viewer-request CloudFront Function answers 404 itself, so
  originals, documents and user content never reach an origin. The bucket policies
  (``grant_distribution_read``) grant ``s3:GetObject`` on the public prefixes only, so even a
  request that slipped past CloudFront would get S3's 403;
- both origins use one Origin Access Control (SigV4, always sign); no OAI exists;
- an origin group fails over from the assets bucket to the replica on 5xx (see
  ``FAILOVER_STATUS_CODES``);
- the buckets are named, never referenced: this construct reads bucket names and regional
  domain names from config, so the Cdn stack deploys before the buckets' stacks and the
  grants flow the other way (Assets/Replica call ``grant_distribution_read`` with this
  distribution's ARN). That is also why CDK's OAC auto-grant is switched off: it would
  write a ``distribution/*`` key policy.
"""
from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import Annotations, Duration, Stack, Token
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import BRAND_LOGOS, BRAND_MEDIA, PROCESSED, THUMBNAILS, CdnConfig
from infra.nag import acknowledge

# What the CDN serves. Everything else (originals, documents, user content) is not public.
PUBLIC_PREFIXES = (PROCESSED, THUMBNAILS, BRAND_LOGOS, BRAND_MEDIA)
# Renditions are written once under a new key per version: cache them for a year.
IMMUTABLE_PREFIXES = (PROCESSED, THUMBNAILS, BRAND_LOGOS)
# Brand media (the rest) may be replaced in place (campaign videos): cached for a day.

IMMUTABLE_TTL = {"min": Duration.days(1), "default": Duration.days(365), "max": Duration.days(365)}
MUTABLE_TTL = {"min": Duration.seconds(0), "default": Duration.days(1), "max": Duration.days(7)}

# Fail over on what a regional S3 outage returns. Not on 403/404: the replica never has an
# object the primary lacks (replication is one-way), but it does keep objects deleted from
# the primary (delete markers are not replicated), so failing over on 403/404 would
# resurrect deleted assets and double the origin work for every miss.
FAILOVER_STATUS_CODES = (500, 502, 503, 504)
# Fail over within ~6 s of an unreachable primary, instead of CloudFront's 3 x 10 s default.
PRIMARY_CONNECTION_ATTEMPTS = 2
PRIMARY_CONNECTION_TIMEOUT = Duration.seconds(3)

LOG_PREFIX = "cloudfront/"
LOG_SUFFIX_PATH = "{DistributionId}/{yyyy}/{MM}/{dd}/{HH}"


def regional_domain_name(bucket_name: str, region: str) -> str:
    return f"{bucket_name}.s3.{region}.amazonaws.com"


def delivery_source_name(name: str) -> str:
    """The CloudWatch Logs delivery source of a distribution's access logs (named, so the
    log bucket, in a stack deployed earlier, can name it in its policy)."""
    return f"{name}-access-logs"


def public_object_arns(bucket_arn: str, prefixes: Sequence[str] = PUBLIC_PREFIXES) -> list[str]:
    return [f"{bucket_arn}/{prefix}*" for prefix in prefixes]


def grant_distribution_read(
    bucket: s3.Bucket,
    key: kms.IKey,
    distribution_arn: str,
    prefixes: Sequence[str] = PUBLIC_PREFIXES,
) -> None:
    """Let exactly one distribution read the public prefixes of ``bucket`` through OAC.

    Bucket policy: ``s3:GetObject`` on ``<bucket>/<prefix>*`` for each public prefix, to the
    CloudFront service principal, only when ``AWS:SourceArn`` is this distribution. No
    ``s3:ListBucket``: a missing key is a 403, never a listing.
    Key policy: ``kms:Decrypt`` to the same principal on the same condition, and only for
    objects of this bucket (its encryption context). Called by the Assets and Replica stacks.
    """
    # Named literally: a Ref in the key policy would make key and bucket depend on each
    # other (the bucket already refers to its key), and the policy reads as the ARNs it grants.
    bucket_name = bucket.node.default_child.bucket_name  # type: ignore[union-attr]
    if not isinstance(bucket_name, str) or Token.is_unresolved(bucket_name):
        raise ValueError(f"{bucket.node.path}: grant_distribution_read needs a named bucket")
    bucket_arn = f"arn:aws:s3:::{bucket_name}"
    # The consuming stack is told once that the app sets no default reference strength (only
    # the CDK CLI reads cdk.json's). This reference needs none: CdnStack pins it STRONG.
    Annotations.of(Stack.of(bucket)).acknowledge_warning(
        "@aws-cdk/core:crossStackReferencesDefaultStrong",
        "The distribution ARN is a STRONG reference, pinned by CdnStack whatever the app default.",
    )
    principal = iam.ServicePrincipal("cloudfront.amazonaws.com")
    condition = {"StringEquals": {"AWS:SourceArn": distribution_arn}}
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudFrontReadsPublicPrefixes",
            principals=[principal],
            actions=["s3:GetObject"],
            resources=public_object_arns(bucket_arn, prefixes),
            conditions=condition,
        )
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudFrontDecryptsPublicObjects",
            principals=[principal],
            actions=["kms:Decrypt"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={
                **condition,
                # With S3 Bucket Keys the context is the bucket ARN; without, the object ARN.
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/*"]},
            },
        )
    )


def _deny_non_public_code(prefixes: Sequence[str]) -> str:
    allowed = json.dumps(["/" + p for p in prefixes])
    return (
        "// Viewer request, default behaviour: only the public prefixes exist on this CDN.\n"
        f"var PUBLIC_PREFIXES = {allowed};\n"
        "function handler(event) {\n"
        "  var uri = event.request.uri;\n"
        "  if (uri.indexOf('..') === -1 && PUBLIC_PREFIXES.some(function (p) {\n"
        "    return uri.startsWith(p);\n"
        "  })) {\n"
        "    return event.request;\n"
        "  }\n"
        "  return { statusCode: 404, statusDescription: 'Not Found' };\n"
        "}\n"
    )


class AssetsCdn(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        cdn: CdnConfig,
        assets_bucket_name: str,
        assets_region: str,
        replica_bucket_name: str,
        replica_region: str,
        log_bucket_name: str,
        web_acl_arn: str,
        response_headers_policy: cloudfront.IResponseHeadersPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_prefix = LOG_PREFIX
        self.log_delivery_source_name = delivery_source_name(name)

        # One OAC for both origins: it is a signing setting, not bound to a bucket.
        self.origin_access_control = cloudfront.S3OriginAccessControl(
            self,
            "OriginAccessControl",
            description=f"{name}: CloudFront signs every request to the asset buckets",
            signing=cloudfront.Signing.SIGV4_ALWAYS,
        )

        def s3_origin(bucket_id: str, bucket_name: str, region: str, **extra) -> cloudfront.IOrigin:
            bucket = s3.Bucket.from_bucket_attributes(
                self, bucket_id, bucket_name=bucket_name, region=region,
                bucket_regional_domain_name=regional_domain_name(bucket_name, region),
            )
            return origins.S3BucketOrigin.with_origin_access_control(
                bucket,
                origin_access_control=self.origin_access_control,
                origin_access_levels=[],  # grants are grant_distribution_read's, per prefix
                origin_shield_enabled=True,
                # Origin Shield next to each bucket: one regional cache layer in front of
                # each origin, and the replica's survives an outage of the primary's region.
                origin_shield_region=region,
                **extra,
            )

        self.primary_origin = s3_origin(
            "AssetsBucket", assets_bucket_name, assets_region,
            connection_attempts=PRIMARY_CONNECTION_ATTEMPTS,
            connection_timeout=PRIMARY_CONNECTION_TIMEOUT,
        )
        self.replica_origin = s3_origin("ReplicaBucket", replica_bucket_name, replica_region)
        self.origin_group = origins.OriginGroup(
            primary_origin=self.primary_origin,
            fallback_origin=self.replica_origin,
            fallback_status_codes=list(FAILOVER_STATUS_CODES),
        )

        def cache_policy(policy_id: str, comment: str, ttl: dict) -> cloudfront.CachePolicy:
            return cloudfront.CachePolicy(
                self,
                policy_id,
                cache_policy_name=f"{name}-{policy_id}",
                comment=comment,
                min_ttl=ttl["min"],
                default_ttl=ttl["default"],
                max_ttl=ttl["max"],
                # The object key is the whole identity of an asset: nothing else in the key.
                query_string_behavior=cloudfront.CacheQueryStringBehavior.none(),
                header_behavior=cloudfront.CacheHeaderBehavior.none(),
                cookie_behavior=cloudfront.CacheCookieBehavior.none(),
                enable_accept_encoding_gzip=True,
                enable_accept_encoding_brotli=True,
            )

        self.immutable_cache_policy = cache_policy(
            "ImmutableRenditions",
            "Processed images, thumbnails, logos: written once, cached for a year", IMMUTABLE_TTL)
        self.mutable_cache_policy = cache_policy(
            "BrandMedia", "Brand media: may be replaced in place, cached for a day", MUTABLE_TTL)

        self.deny_function = cloudfront.Function(
            self,
            "DenyNonPublic",
            comment="404 for every path outside the public prefixes",
            code=cloudfront.FunctionCode.from_inline(_deny_non_public_code(PUBLIC_PREFIXES)),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )

        def behavior(policy: cloudfront.ICachePolicy, **extra) -> cloudfront.BehaviorOptions:
            return cloudfront.BehaviorOptions(
                origin=self.origin_group,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
                cache_policy=policy,
                response_headers_policy=response_headers_policy,
                compress=True,
                **extra,
            )

        certificate = None
        if cdn.domain_name:
            zone = route53.HostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=cdn.hosted_zone_id, zone_name=cdn.hosted_zone_name)
            certificate = acm.Certificate(
                self, "Certificate",
                domain_name=cdn.domain_name,
                validation=acm.CertificateValidation.from_dns(zone),
            )

        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{name}: public renditions and brand assets",
            default_behavior=behavior(
                self.immutable_cache_policy,
                function_associations=[cloudfront.FunctionAssociation(
                    function=self.deny_function,
                    event_type=cloudfront.FunctionEventType.VIEWER_REQUEST,
                )],
            ),
            additional_behaviors={
                f"{prefix}*": behavior(
                    self.immutable_cache_policy if prefix in IMMUTABLE_PREFIXES
                    else self.mutable_cache_policy)
                for prefix in PUBLIC_PREFIXES
            },
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_ipv6=True,
            price_class=cloudfront.PriceClass.PRICE_CLASS_ALL,
            web_acl_id=web_acl_arn,
            geo_restriction=(cloudfront.GeoRestriction.allowlist(*cdn.geo_allow)
                             if cdn.geo_allow else None),
            domain_names=[cdn.domain_name] if cdn.domain_name else None,
            certificate=certificate,
            # Only with our own certificate: the default one has CloudFront's fixed policy.
            minimum_protocol_version=(cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021
                                      if certificate else None),
            ssl_support_method=cloudfront.SSLMethod.SNI if certificate else None,
            enable_logging=False,  # legacy logging needs ACLs; standard logging v2 below
        )
        Annotations.of(self.distribution).acknowledge_warning(
            "@aws-cdk/aws-cloudfront-origins:updateImportedBucketPolicyOac",
            "The Assets and Replica stacks grant this distribution read on the public prefixes "
            "(grant_distribution_read), scoped to its ARN.",
        )
        self.distribution_arn = self.distribution.distribution_arn
        # Additional metrics (billed per distribution): OriginLatency, which the origin-latency
        # alarm reads, and the cache-hit rate the P95 target depends on.
        cloudfront.CfnMonitoringSubscription(
            self, "AdditionalMetrics",
            distribution_id=self.distribution.distribution_id,
            monitoring_subscription=cloudfront.CfnMonitoringSubscription.MonitoringSubscriptionProperty(
                realtime_metrics_subscription_config=cloudfront.CfnMonitoringSubscription
                .RealtimeMetricsSubscriptionConfigProperty(realtime_metrics_subscription_status="Enabled")),
        )

        reasons = {
            "AwsSolutions-CFR3":
                "Access logs are on, through CloudFront standard logging v2 (the "
                "AWS::Logs::Delivery below, into the region's log bucket under cloudfront/); the "
                "rule only recognises the legacy Logging property, which needs bucket ACLs.",
        }
        if not cdn.geo_allow:
            reasons["AwsSolutions-CFR1"] = (
                "The storefront sells worldwide: no country is excluded (CdnConfig.geo_allow is "
                "empty). The WAF's IP reputation list and rate limit cover abusive sources.")
        if not cdn.domain_name:
            reasons["AwsSolutions-CFR4"] = (
                "No custom domain in this environment (CdnConfig.domain_name unset): the "
                "*.cloudfront.net default certificate is used, whose TLS policy CloudFront fixes. "
                "Environments with a domain use TLSv1.2_2021 with SNI.")
        acknowledge(self.distribution, reasons)

        if cdn.domain_name:
            alias = route53.RecordTarget.from_alias(targets.CloudFrontTarget(self.distribution))
            self.records = [
                route53.ARecord(self, "AliasA", zone=zone, record_name=cdn.domain_name,
                                target=alias),
                route53.AaaaRecord(self, "AliasAAAA", zone=zone, record_name=cdn.domain_name,
                                   target=alias),
            ]

        # Standard logging v2: CloudWatch Logs vended delivery into the region's log bucket
        # (the legacy logging needs ACLs, which our log buckets disable).
        self.log_source = logs.CfnDeliverySource(
            self,
            "AccessLogSource",
            name=self.log_delivery_source_name,
            log_type="ACCESS_LOGS",
            resource_arn=self.distribution_arn,
        )
        self.log_destination = logs.CfnDeliveryDestination(
            self,
            "AccessLogDestination",
            name=f"{name}-access-logs-s3",
            destination_resource_arn=f"arn:aws:s3:::{log_bucket_name}/{LOG_PREFIX.rstrip('/')}",
            output_format="parquet",
        )
        self.log_delivery = logs.CfnDelivery(
            self,
            "AccessLogDelivery",
            delivery_source_name=self.log_source.name,
            delivery_destination_arn=self.log_destination.attr_arn,
            s3_suffix_path=LOG_SUFFIX_PATH,
            s3_enable_hive_compatible_path=False,
        )
        self.log_delivery.node.add_dependency(self.log_source)
