"""Cdn: the CloudFront distribution of the assets, its WAF and headers (us-east-1).

Deploys after Assets and Replica: every origin names a bucket that already exists. Those
stacks have already granted this account's distributions read on the public prefixes
(``grant_distribution_read``), so nothing flows from here back to them: no cycle, and no
cross-region reference.
"""
from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.cdn import AssetsCdn, BucketOrigin
from infra.constructs.edge_security import EdgeSecurity


class CdnStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id,
                         env=Environment(account=cfg.account, region=cfg.primary_region),
                         description=f"CloudFront distribution of the {cfg.name} assets",
                         termination_protection=cfg.termination_protection)
        self.edge = EdgeSecurity(
            self, "Edge",
            names=cfg.cdn_names,
            rate_limit_per_5min=cfg.cdn.waf_rate_limit_per_5min,
            storefront_origins=cfg.cdn.storefront_origins,
            log_retention_days_min=cfg.access_log_retention_days,
        )
        self.cdn = AssetsCdn(
            self, "Cdn",
            names=cfg.cdn_names,
            cdn=cfg.cdn,
            primary=BucketOrigin(cfg.assets_bucket_name, cfg.primary_region),
            fallback=BucketOrigin(cfg.replica_bucket_name, cfg.replica_region),
            log_bucket_name=cfg.access_log_bucket_name(cfg.primary_region),
            web_acl_arn=self.edge.web_acl.attr_arn,
            response_headers_policy=self.edge.response_headers,
            image_url_headers_policy=self.edge.image_response_headers,
            renditions=cfg.renditions.settings(),
        )
        self.distribution = self.cdn.distribution
        self.distribution_id = self.distribution.distribution_id
        self.distribution_domain_name = self.distribution.distribution_domain_name
        self.log_prefix = self.cdn.log_prefix  # where the access-log bucket lets it write
        self.log_delivery_source_name = self.cdn.log_delivery_source_name

        CfnOutput(self, "DistributionDomainName", value=self.distribution_domain_name)
        CfnOutput(self, "DistributionId", value=self.distribution_id)
