"""AssetsCdn: the CloudFront distribution in front of the assets bucket (and its replica).

What a reviewer can check here:
- only the public prefixes are served: one cache behaviour per prefix, plus ``/i/*``, whose
  own viewer-request function rewrites a negotiated image URL to a stored rendition key or
  answers 400 (``infra.constructs.image_urls``, docs/image-urls.md); every other path hits
  the default behaviour, whose viewer-request CloudFront Function answers 404 itself, so
  originals, documents and user content never reach an origin. The bucket policies
  (``grant_distribution_read``) grant ``s3:GetObject`` on the public prefixes only, so even a
  request that slipped past CloudFront would get S3's 403;
- both origins use one Origin Access Control (SigV4, always sign); no OAI exists;
- an origin group fails over from the assets bucket to the replica on 5xx (see
  ``FAILOVER_STATUS_CODES``);
- the buckets are named, never referenced, and exist before any origin names them: the Cdn
  stack deploys after the Assets and Replica stacks. Those stacks grant read with
  ``grant_distribution_read``, which names the CloudFront distributions of this account
  (``AWS:SourceArn`` ``arn:aws:cloudfront::<account>:distribution/*``) rather than this one:
  a distribution id would make the bucket stacks wait for the distribution, and the
  distribution wait for the buckets (see docs/cdn.md for why that scope is tight enough).
  CDK's OAC auto-grant is off because the grants are the bucket stacks'.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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

from infra.config import (
    BRAND_LOGOS,
    BRAND_MEDIA,
    PROCESSED,
    THUMBNAILS,
    CdnConfig,
    CdnNames,
    RenditionSettings,
)
from infra.constructs.image_urls import (
    IMAGE_URL_PATH_PATTERN,
    ORIGIN_CACHE_CONTROL_PARAMETER,
    image_url_code,
)
from infra.nag import acknowledge

# What the CDN serves. Everything else (originals, documents, user content) is not public.
PUBLIC_PREFIXES = (PROCESSED, THUMBNAILS, BRAND_LOGOS, BRAND_MEDIA)
# Renditions are written once under a new key per version: cache them for a year.
IMMUTABLE_PREFIXES = (PROCESSED, THUMBNAILS, BRAND_LOGOS)
# Brand media (the rest) may be replaced in place (campaign videos): cached for a day.

IMMUTABLE_TTL = {"min": Duration.days(1), "default": Duration.days(365), "max": Duration.days(365)}
MUTABLE_TTL = {"min": Duration.seconds(0), "default": Duration.days(1), "max": Duration.days(7)}
# /i/ answers carry S3's week-long browser max-age (image_urls.CACHE_CONTROL) and CloudFront's
# Age (time in its caches), which browsers subtract from that week (RFC 9111, 4.2.3): an edge
# copy a year old would reach a browser already stale, and every view would revalidate. The
# edge, the regional edge cache and Origin Shield keep a copy at most a day each, then revalidate
# with S3 (a 304 for an unchanged rendition), so a browser gets at least four of its seven days.
IMAGE_URL_TTL = {"min": Duration.seconds(0), "default": Duration.days(1),
                 "max": Duration.days(1)}

# Fail over on what a regional S3 outage returns. Not on 403/404: the replica keeps objects
# deleted from the primary (delete markers are not replicated), so failing over on 403/404
# would resurrect deleted assets and double the origin work for every miss. The cost: an
# upload written to the replica during a failover is a 403 from the primary once it is back,
# until it has replicated back (two-way replication, RTC 15 min).
FAILOVER_STATUS_CODES = (500, 502, 503, 504)
# Fail over within ~6 s of an unreachable primary, instead of CloudFront's 3 x 10 s default.
PRIMARY_CONNECTION_ATTEMPTS = 2
PRIMARY_CONNECTION_TIMEOUT = Duration.seconds(3)
# ... and within 4-8 s of a primary that accepts the connection but does not answer, instead of
# the 30 s default response timeout (S3OriginConfig.OriginReadTimeout). It bounds the wait for
# the first byte and between two packets, not the whole transfer, so a large brand-media video
# that keeps streaming is not cut; S3's own guidance retries a small GET after 2 s. Whether
# CloudFront retries a timed-out request to an S3 REST origin (its API reference ties those
# retries to custom origins) decides between 4 and 2 x 4 s. Docs: docs/cdn.md.
PRIMARY_RESPONSE_TIMEOUT = Duration.seconds(4)

DENY_FUNCTION_SOURCE = Path(__file__).with_name("edge_functions") / "deny_non_public.js"

LOG_PREFIX = "cloudfront/"
LOG_SUFFIX_PATH = "{DistributionId}/{yyyy}/{MM}/{dd}/{HH}"


def regional_domain_name(bucket_name: str, region: str) -> str:
    return f"{bucket_name}.s3.{region}.amazonaws.com"


def public_object_arns(bucket_arn: str, prefixes: Sequence[str] = PUBLIC_PREFIXES) -> list[str]:
    return [f"{bucket_arn}/{prefix}*" for prefix in prefixes]


def distributions_of(account: str) -> str:
    """Every CloudFront distribution of ``account``: the ``AWS:SourceArn`` the grants name."""
    return f"arn:aws:cloudfront::{account}:distribution/*"


def grant_distribution_read(
    bucket: s3.Bucket,
    key: kms.IKey,
    prefixes: Sequence[str] = PUBLIC_PREFIXES,
) -> None:
    """Let this account's CloudFront distributions read the public prefixes of ``bucket``
    through OAC.

    Bucket policy: ``s3:GetObject`` on ``<bucket>/<prefix>*`` for each public prefix, to the
    CloudFront service principal, only when the request comes from a distribution of this
    account (``AWS:SourceArn``: its ARN names the account). No ``aws:SourceAccount``: AWS's
    OAC policies for S3 and for SSE-KMS keys condition on the source ARN alone, and nothing
    documents that CloudFront's origin requests carry the account key; were it absent, every
    origin fetch would be refused. No ``s3:ListBucket``: a missing key
    is a 403, never a listing. Key policy: ``kms:Decrypt`` to the same principal on the same
    condition, and only for objects of this bucket (its encryption context). Called by the
    Assets and Replica stacks, which deploy before the distribution exists.
    """
    # Named literally: a Ref in the key policy would make key and bucket depend on each
    # other (the bucket already refers to its key), and the policy reads as the ARNs it grants.
    bucket_name = bucket.node.default_child.bucket_name  # type: ignore[union-attr]
    if not isinstance(bucket_name, str) or Token.is_unresolved(bucket_name):
        raise ValueError(f"{bucket.node.path}: grant_distribution_read needs a named bucket")
    bucket_arn = f"arn:aws:s3:::{bucket_name}"
    account = Stack.of(bucket).account
    principal = iam.ServicePrincipal("cloudfront.amazonaws.com")
    condition = {"ArnLike": {"AWS:SourceArn": distributions_of(account)}}
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


def deny_non_public_code(prefixes: Sequence[str]) -> str:
    """The viewer-request function's JavaScript (``DENY_FUNCTION_SOURCE``) for ``prefixes``."""
    return DENY_FUNCTION_SOURCE.read_text().replace(
        "__PUBLIC_PREFIXES__", json.dumps(["/" + p for p in prefixes]))


@dataclass(frozen=True)
class BucketOrigin:
    """A bucket the distribution reads, by name and region (it is never referenced)."""

    bucket_name: str
    region: str

    @property
    def regional_domain_name(self) -> str:
        return regional_domain_name(self.bucket_name, self.region)


class AssetsCdn(Construct):
    """The distribution, built from named parts: origins, cache policies, the deny function,
    certificate and DNS, the distribution itself, and its access logs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: CdnNames,
        cdn: CdnConfig,
        primary: BucketOrigin,
        fallback: BucketOrigin,
        log_bucket_name: str,
        web_acl_arn: str,
        response_headers_policy: cloudfront.IResponseHeadersPolicy,
        image_url_headers_policy: cloudfront.IResponseHeadersPolicy,
        renditions: RenditionSettings,
    ) -> None:
        super().__init__(scope, construct_id)
        self.names = names
        self.name = names.prefix
        self.log_prefix = LOG_PREFIX
        self.log_delivery_source_name = names.access_log_source
        self.origin_group = self._origins(primary, fallback)
        self.immutable_cache_policy = self._cache_policy(
            "ImmutableRenditions",
            "Processed images, thumbnails, logos: written once, cached for a year", IMMUTABLE_TTL)
        self.mutable_cache_policy = self._cache_policy(
            "BrandMedia", "Brand media: may be replaced in place, cached for a day", MUTABLE_TTL)
        # The function's response-cache-control reaches S3 only as part of the cache key, which
        # also keeps /i/ answers (a week for browsers) apart from the direct URLs' (a year).
        self.image_url_cache_policy = self._cache_policy(
            "ImageUrls", "Negotiated image URLs: the stored key and S3's response-cache-control, "
            "a day", IMAGE_URL_TTL,
            query_strings=cloudfront.CacheQueryStringBehavior.allow_list(
                ORIGIN_CACHE_CONTROL_PARAMETER))
        self.deny_function = cloudfront.Function(
            self, "DenyNonPublic",
            comment="404 for every path outside the public prefixes",
            code=cloudfront.FunctionCode.from_inline(deny_non_public_code(PUBLIC_PREFIXES)),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )
        self.image_url_function = cloudfront.Function(
            self, "ImageUrl",
            comment="/i/<path>?w=: the stored rendition that fits Accept and the width wanted",
            code=cloudfront.FunctionCode.from_inline(image_url_code(renditions)),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )
        zone, certificate = self._certificate(cdn)
        self.distribution = self._distribution(cdn, certificate, web_acl_arn,
                                               response_headers_policy, image_url_headers_policy)
        self.distribution_arn = self.distribution.distribution_arn
        self._primary_response_timeout()
        self._acknowledge(cdn)
        if zone is not None:
            self._alias_records(zone, cdn.domain_name)
        self._additional_metrics()
        self._access_logs(log_bucket_name)

    def _origins(self, primary: BucketOrigin, fallback: BucketOrigin) -> origins.OriginGroup:
        """Both buckets through one OAC (a signing setting, not bound to a bucket), each with
        Origin Shield in its own region; failover from primary to fallback on 5xx."""
        self.origin_access_control = cloudfront.S3OriginAccessControl(
            self, "OriginAccessControl",
            description=f"{self.name}: CloudFront signs every request to the asset buckets",
            signing=cloudfront.Signing.SIGV4_ALWAYS,
        )

        def s3_origin(bucket_id: str, origin: BucketOrigin, **extra) -> cloudfront.IOrigin:
            bucket = s3.Bucket.from_bucket_attributes(
                self, bucket_id, bucket_name=origin.bucket_name, region=origin.region,
                bucket_regional_domain_name=origin.regional_domain_name)
            return origins.S3BucketOrigin.with_origin_access_control(
                bucket,
                origin_access_control=self.origin_access_control,
                origin_access_levels=[],  # grants are grant_distribution_read's, per prefix
                origin_shield_enabled=True,
                # Origin Shield next to each bucket: one regional cache layer in front of
                # each origin, and the replica's survives an outage of the primary's region.
                origin_shield_region=origin.region,
                **extra,
            )

        self.primary_origin = s3_origin(
            "AssetsBucket", primary,
            connection_attempts=PRIMARY_CONNECTION_ATTEMPTS,
            connection_timeout=PRIMARY_CONNECTION_TIMEOUT)
        self.replica_origin = s3_origin("ReplicaBucket", fallback)
        return origins.OriginGroup(
            primary_origin=self.primary_origin,
            fallback_origin=self.replica_origin,
            fallback_status_codes=list(FAILOVER_STATUS_CODES),
        )

    def _primary_response_timeout(self) -> None:
        """``OriginReadTimeout`` on the primary's S3OriginConfig: CloudFormation has it for S3
        origins, the installed CDK's S3BucketOrigin does not, hence the override. The primary
        is Origins[0]: CDK renders origins in the order the behaviours first bind them, the
        origin group's primary first (tests/infra/test_cdn.py checks it by domain name)."""
        cfn = self.distribution.node.default_child
        cfn.add_property_override(
            "DistributionConfig.Origins.0.S3OriginConfig.OriginReadTimeout",
            int(PRIMARY_RESPONSE_TIMEOUT.to_seconds()))

    def _cache_policy(self, policy_id: str, comment: str, ttl: dict,
                      query_strings: cloudfront.CacheQueryStringBehavior | None = None,
                      ) -> cloudfront.CachePolicy:
        return cloudfront.CachePolicy(
            self, policy_id,
            cache_policy_name=self.names.cache_policy(policy_id),
            comment=comment,
            min_ttl=ttl["min"],
            default_ttl=ttl["default"],
            max_ttl=ttl["max"],
            # The object key is the whole identity of an asset: nothing else in the key.
            query_string_behavior=query_strings or cloudfront.CacheQueryStringBehavior.none(),
            header_behavior=cloudfront.CacheHeaderBehavior.none(),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            enable_accept_encoding_gzip=True,
            enable_accept_encoding_brotli=True,
        )

    def _certificate(self, cdn: CdnConfig) -> tuple[route53.IHostedZone | None,
                                                     acm.ICertificate | None]:
        """A DNS-validated certificate for the custom domain, if there is one."""
        if not cdn.domain_name:
            return None, None
        zone = route53.HostedZone.from_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=cdn.hosted_zone_id, zone_name=cdn.hosted_zone_name)
        certificate = acm.Certificate(
            self, "Certificate",
            domain_name=cdn.domain_name,
            validation=acm.CertificateValidation.from_dns(zone),
        )
        return zone, certificate

    def _behavior(self, policy: cloudfront.ICachePolicy,
                  headers: cloudfront.IResponseHeadersPolicy, **extra) -> cloudfront.BehaviorOptions:
        return cloudfront.BehaviorOptions(
            origin=self.origin_group,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
            cache_policy=policy,
            response_headers_policy=headers,
            compress=True,
            **extra,
        )

    def _distribution(self, cdn: CdnConfig, certificate: acm.ICertificate | None,
                      web_acl_arn: str, headers: cloudfront.IResponseHeadersPolicy,
                      image_url_headers: cloudfront.IResponseHeadersPolicy,
                      ) -> cloudfront.Distribution:
        distribution = cloudfront.Distribution(
            self, "Distribution",
            comment=f"{self.name}: public renditions and brand assets",
            default_behavior=self._behavior(
                self.immutable_cache_policy, headers,
                function_associations=[cloudfront.FunctionAssociation(
                    function=self.deny_function,
                    event_type=cloudfront.FunctionEventType.VIEWER_REQUEST,
                )],
            ),
            additional_behaviors={
                **{f"{prefix}*": self._behavior(
                    self.immutable_cache_policy if prefix in IMMUTABLE_PREFIXES
                    else self.mutable_cache_policy, headers)
                   for prefix in PUBLIC_PREFIXES},
                # The cache key is the rewritten (stored) key and the function's own parameter.
                IMAGE_URL_PATH_PATTERN: self._behavior(
                    self.image_url_cache_policy, image_url_headers,
                    function_associations=[cloudfront.FunctionAssociation(
                        function=self.image_url_function,
                        event_type=cloudfront.FunctionEventType.VIEWER_REQUEST)]),
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
        Annotations.of(distribution).acknowledge_warning(
            "@aws-cdk/aws-cloudfront-origins:updateImportedBucketPolicyOac",
            "The Assets and Replica stacks grant this account's distributions read on the "
            "public prefixes (grant_distribution_read).",
        )
        return distribution

    def _acknowledge(self, cdn: CdnConfig) -> None:
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

    def _alias_records(self, zone: route53.IHostedZone, domain_name: str) -> None:
        alias = route53.RecordTarget.from_alias(targets.CloudFrontTarget(self.distribution))
        self.records = [
            route53.ARecord(self, "AliasA", zone=zone, record_name=domain_name, target=alias),
            route53.AaaaRecord(self, "AliasAAAA", zone=zone, record_name=domain_name,
                               target=alias),
        ]

    def _additional_metrics(self) -> None:
        """Billed per distribution: OriginLatency, which the origin-latency alarm reads, and
        the cache-hit rate the P95 target depends on."""
        subscription = cloudfront.CfnMonitoringSubscription
        subscription(
            self, "AdditionalMetrics",
            distribution_id=self.distribution.distribution_id,
            monitoring_subscription=subscription.MonitoringSubscriptionProperty(
                realtime_metrics_subscription_config=subscription
                .RealtimeMetricsSubscriptionConfigProperty(
                    realtime_metrics_subscription_status="Enabled")),
        )

    def _access_logs(self, log_bucket_name: str) -> None:
        """Standard logging v2: CloudWatch Logs vended delivery into the region's log bucket
        (the legacy logging needs ACLs, which our log buckets disable)."""
        self.log_source = logs.CfnDeliverySource(
            self, "AccessLogSource",
            name=self.log_delivery_source_name,
            log_type="ACCESS_LOGS",
            resource_arn=self.distribution_arn,
        )
        self.log_destination = logs.CfnDeliveryDestination(
            self, "AccessLogDestination",
            name=self.names.access_log_destination,
            destination_resource_arn=f"arn:aws:s3:::{log_bucket_name}/{LOG_PREFIX.rstrip('/')}",
            output_format="parquet",
        )
        self.log_delivery = logs.CfnDelivery(
            self, "AccessLogDelivery",
            delivery_source_name=self.log_source.name,
            delivery_destination_arn=self.log_destination.attr_arn,
            s3_suffix_path=LOG_SUFFIX_PATH,
            s3_enable_hive_compatible_path=False,
        )
        self.log_delivery.node.add_dependency(self.log_source)
