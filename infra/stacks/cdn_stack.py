"""Cdn: the CloudFront distribution of the assets, its WAF and headers (us-east-1).

Deploys before Replica and Assets: it names the buckets (config), it never references them.
Those stacks then grant this distribution read through ``grant_distribution_read`` with its
ARN — a same-region reference for Assets, a cross-region one (``cross_region_references``,
SSM parameters under /cdk/exports/) for Replica.
"""
from __future__ import annotations

from aws_cdk import CfnOutput, CrossStackReferences, Environment, ReferenceStrength, Stack
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.cdn import AssetsCdn
from infra.constructs.edge_security import EdgeSecurity


class CdnStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id,
                         env=Environment(account=cfg.account, region=cfg.primary_region),
                         description=f"CloudFront distribution of the {cfg.name} assets",
                         termination_protection=cfg.termination_protection,
                         cross_region_references=True)
        name = f"{cfg.org}-assets-{cfg.name}"
        self.edge = EdgeSecurity(
            self, "Edge",
            name=name,
            rate_limit_per_5min=cfg.cdn.waf_rate_limit_per_5min,
            storefront_origins=cfg.cdn.storefront_origins,
            log_retention_days_min=cfg.access_log_retention_days,
        )
        self.cdn = AssetsCdn(
            self, "Cdn",
            name=name,
            cdn=cfg.cdn,
            assets_bucket_name=cfg.assets_bucket_name,
            assets_region=cfg.primary_region,
            replica_bucket_name=cfg.replica_bucket_name,
            replica_region=cfg.replica_region,
            log_bucket_name=cfg.access_log_bucket_name(cfg.primary_region),
            web_acl_arn=self.edge.web_acl.attr_arn,
            response_headers_policy=self.edge.response_headers,
        )
        self.distribution = self.cdn.distribution
        # Strong references whatever the app default: the bucket and key policies must not
        # outlive (or silently lose) the distribution they grant.
        CrossStackReferences.of(self.distribution).produce(ReferenceStrength.STRONG)
        self.distribution_arn = self.cdn.distribution_arn
        self.distribution_id = self.distribution.distribution_id
        self.distribution_domain_name = self.distribution.distribution_domain_name
        self.log_prefix = self.cdn.log_prefix  # where the access-log bucket lets it write
        self.log_delivery_source_name = self.cdn.log_delivery_source_name

        CfnOutput(self, "DistributionDomainName", value=self.distribution_domain_name)
        CfnOutput(self, "DistributionId", value=self.distribution_id)
