"""Settings and names of the CDN (CloudFront, WAF, certificate and DNS)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .common import ConfigError

_DOMAIN = re.compile(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}")


@dataclass(frozen=True)
class CdnConfig:
    domain_name: str | None = None       # e.g. "cdn.example.com"; None: default certificate
    hosted_zone_name: str | None = None  # the Route 53 zone that holds domain_name
    hosted_zone_id: str | None = None
    storefront_origins: tuple[str, ...] = ()
    waf_rate_limit_per_5min: int = 2000
    geo_allow: tuple[str, ...] = ()  # ISO country codes; empty: no restriction

    def __post_init__(self) -> None:
        def fail(name: str, problem: str) -> None:
            raise ConfigError(f"cdn: {name} {problem}")

        if self.domain_name is not None:
            if not _DOMAIN.fullmatch(self.domain_name):
                fail("domain_name", f"'{self.domain_name}' is not a DNS domain name")
            if not (self.hosted_zone_name and self.hosted_zone_id):
                fail("hosted_zone_name", "and hosted_zone_id are required with a domain_name "
                     "(DNS validation and the alias records go there)")
            if not (self.domain_name == self.hosted_zone_name
                    or self.domain_name.endswith(f".{self.hosted_zone_name}")):
                fail("domain_name", f"'{self.domain_name}' is not inside the hosted zone "
                     f"'{self.hosted_zone_name}'")
        if not isinstance(self.waf_rate_limit_per_5min, int) or not (
                10 <= self.waf_rate_limit_per_5min <= 2_000_000_000):
            fail("waf_rate_limit_per_5min", "must be a whole number from 10 to 2,000,000,000 "
                 f"(WAF's range), got {self.waf_rate_limit_per_5min!r}")
        for origin in self.storefront_origins:
            if not re.fullmatch(r"https?://[a-z0-9.-]+(:\d+)?", origin):
                fail("storefront_origins", f"'{origin}' is not an origin like https://shop.example")
        for country in self.geo_allow:
            if not re.fullmatch(r"[A-Z]{2}", country):
                fail("geo_allow", f"'{country}' is not an ISO 3166-1 alpha-2 country code")


@dataclass(frozen=True)
class CdnNames:
    """The physical names of the CDN's parts, all derived from one prefix."""

    prefix: str

    @property
    def web_acl(self) -> str:
        return self.prefix

    @property
    def waf_log_group(self) -> str:
        return f"aws-waf-logs-{self.prefix}"  # WAF requires the aws-waf-logs- prefix

    @property
    def headers_policy(self) -> str:
        return f"{self.prefix}-security-headers"

    @property
    def image_headers_policy(self) -> str:
        """The negotiated image URLs' policy: the security headers plus Vary, Cache-Control."""
        return f"{self.prefix}-image-url-headers"

    def cache_policy(self, kind: str) -> str:
        return f"{self.prefix}-{kind}"

    def rule_metric(self, rule: str) -> str:
        """The CloudWatch metric name of one web ACL rule."""
        return f"{self.prefix}-{rule}"

    @property
    def access_log_source(self) -> str:
        """Named, so the log bucket (deployed earlier) can name it in its policy."""
        return f"{self.prefix}-access-logs"

    @property
    def access_log_destination(self) -> str:
        return f"{self.prefix}-access-logs-s3"
