"""EdgeSecurity: what stands between a viewer and the assets CDN (us-east-1, CLOUDFRONT scope).

- a WAFv2 web ACL: Amazon IP reputation list, a per-IP rate limit (config), the AWS common
  rule set and known bad inputs; every rule emits CloudWatch metrics and sampled requests;
- WAF logging of the requests a rule BLOCKed or COUNTed, into a KMS-encrypted log group
  named ``aws-waf-logs-…`` (the prefix WAF requires), retained like the access logs;
- a response headers policy: HSTS (2 years, subdomains, preload), nosniff, frames DENY,
  strict-origin-when-cross-origin, and CORS for the storefront origins, GET/HEAD only;
- the same policy plus ``Vary`` (whose body depends on request headers) and, only where the
  answer has none, ``Cache-Control: no-store`` for the negotiated image URLs (``/i/*``,
  ``infra.constructs.image_urls``): their week-long Cache-Control comes from S3, on 200s only.
"""
from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.config import CdnNames
from infra.constructs.encryption import EncryptedLogGroup
from infra.constructs.image_urls import image_url_headers

HSTS_MAX_AGE_SECONDS = 63_072_000  # two years: the HSTS preload list's minimum is one
CORS_MAX_AGE_SECONDS = 600
CORS_METHODS = ("GET", "HEAD")
MANAGED_RULE_GROUPS = (
    # (priority, name): IP reputation first, so known-bad sources never reach the rest.
    (0, "AWSManagedRulesAmazonIpReputationList"),
    (2, "AWSManagedRulesCommonRuleSet"),
    (3, "AWSManagedRulesKnownBadInputsRuleSet"),
)
RATE_RULE_PRIORITY = 1
RATE_RULE_NAME = "rate-limit-per-ip"


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True,
        metric_name=metric_name,
        sampled_requests_enabled=True,
    )


class EdgeSecurity(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: CdnNames,
        rate_limit_per_5min: int,
        storefront_origins: Sequence[str],
        log_retention_days_min: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.web_acl_metric_name = names.web_acl  # WAF publishes the web ACL's metrics under it
        self.web_acl = self._web_acl(names, rate_limit_per_5min)
        self._waf_logging(names.waf_log_group, log_retention_days_min)
        # Vary: Origin wherever CORS is on. The allowed origin echoed back depends on the
        # request's Origin (two storefront origins), and a response to a plain <img> request
        # has no CORS headers at all: without Vary, a browser may reuse either for a CORS
        # request from the other case and refuse it (Fetch, "CORS protocol and HTTP caches").
        # S3 cannot add it: the cache policy forwards no Origin.
        self.response_headers = self._response_headers(
            "ResponseHeaders", names.headers_policy, storefront_origins,
            custom={"Vary": {"value": "Origin", "override": True}} if storefront_origins
            else None, purpose="for CORS")
        self.image_response_headers = self._response_headers(
            "ImageUrlResponseHeaders", names.image_headers_policy, storefront_origins,
            custom=image_url_headers(cors=bool(storefront_origins)),
            purpose="for negotiated images")

    def _web_acl(self, names: CdnNames, rate_limit_per_5min: int) -> wafv2.CfnWebACL:
        """IP reputation first, then the per-IP rate limit, then the AWS managed rule groups;
        metrics and sampled requests on every rule."""
        return wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=names.web_acl,
            description=f"Edge protection of the {names.web_acl} distribution",
            scope="CLOUDFRONT",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(self.web_acl_metric_name),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name=RATE_RULE_NAME,
                    priority=RATE_RULE_PRIORITY,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=rate_limit_per_5min,
                            aggregate_key_type="IP",
                            evaluation_window_sec=300,
                        )
                    ),
                    visibility_config=_visibility(names.rule_metric(RATE_RULE_NAME)),
                ),
                *(
                    wafv2.CfnWebACL.RuleProperty(
                        name=group,
                        priority=priority,
                        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                        statement=wafv2.CfnWebACL.StatementProperty(
                            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                                vendor_name="AWS", name=group
                            )
                        ),
                        visibility_config=_visibility(names.rule_metric(group)),
                    )
                    for priority, group in MANAGED_RULE_GROUPS
                ),
            ],
        )

    def _waf_logging(self, log_group_name: str, retention_days: int) -> None:
        """Only what a rule blocked or counted (allowed CDN reads are in the access logs
        already), into a log group whose name WAF requires to start with aws-waf-logs-."""
        self.logs = EncryptedLogGroup(self, "WafLogs", log_group_name=log_group_name,
                                      retention_days=retention_days,
                                      purpose="WAF blocked and counted requests")
        self.log_group = self.logs.log_group
        log_group_arn = self.logs.log_group_arn_literal
        self.logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[log_group_arn],  # WAF wants the ARN without ":*"
            logging_filter={
                "DefaultBehavior": "DROP",
                "Filters": [
                    {
                        "Behavior": "KEEP",
                        "Requirement": "MEETS_ANY",
                        "Conditions": [
                            {"ActionCondition": {"Action": "BLOCK"}},
                            {"ActionCondition": {"Action": "COUNT"}},
                        ],
                    }
                ],
            },
        )
        self.logging.node.add_dependency(self.log_group)

    def _response_headers(self, policy_id: str, policy_name: str,
                          storefront_origins: Sequence[str], custom: dict[str, dict] | None = None,
                          purpose: str = "") -> cloudfront.ResponseHeadersPolicy:
        comment = "HSTS preload, nosniff, no framing, strict referrer; CORS for the storefront"
        return cloudfront.ResponseHeadersPolicy(
            self,
            policy_id,
            response_headers_policy_name=policy_name,
            comment=comment + (f"; {', '.join(custom)} {purpose}" if custom else ""),
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(custom_headers=[
                cloudfront.ResponseCustomHeader(header=name, value=header["value"],
                                                override=header["override"])
                for name, header in custom.items()]) if custom else None,
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.seconds(HSTS_MAX_AGE_SECONDS),
                    include_subdomains=True,
                    preload=True,
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
                    override=True,
                ),
            ),
            cors_behavior=cloudfront.ResponseHeadersCorsBehavior(
                access_control_allow_credentials=False,
                # Media elements seek with Range; nothing else the storefront sends needs listing.
                access_control_allow_headers=["Range"],
                access_control_allow_methods=list(CORS_METHODS),
                access_control_allow_origins=list(storefront_origins),
                access_control_expose_headers=["ETag", "Content-Length", "Content-Range"],
                access_control_max_age=Duration.seconds(CORS_MAX_AGE_SECONDS),
                origin_override=True,
            ) if storefront_origins else None,
        )
