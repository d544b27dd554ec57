"""Settings of the presign upload/download API: the upload kinds, who may use each, URL and
multipart sizes, throttling, the JWT authorizer."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from estate_handlers._http import ConfigError as HandlerConfigError
from estate_handlers.upload_policy import (
    MAX_EXPIRY_SECONDS,
    MIN_EXPIRY_SECONDS,
    S3_MAX_PART_BYTES,
    S3_MIN_PART_BYTES,
    UploadPolicy,
)

from .common import GB, MAX_ALARM_METRICS, MAX_LOG_RETENTION_DAYS, MB, ConfigError, _check_whole
from .layout import (
    BRAND_LOGOS,
    BRAND_MEDIA,
    CERTIFICATES,
    ORIGINALS,
    REFUSED_CONTENT_TYPES,
    REPORTS,
    USER_UPLOADS,
)


@dataclass(frozen=True)
class KindAccess:
    """Who may obtain upload URLs for one kind: a caller matching ANY entry. With every
    tuple empty, nobody may (a restricted kind nobody was granted yet)."""

    iam_principals: tuple[str, ...] = ()  # fnmatch patterns over the caller's IAM ARN,
                                          # e.g. "arn:aws:sts::111111111111:assumed-role/publisher/*"
    jwt_scopes: tuple[str, ...] = ()      # any of these OAuth scopes (JWT authorizer)
    jwt_groups: tuple[str, ...] = ()      # any of these groups ("groups"/"cognito:groups" claim)

    def __post_init__(self) -> None:
        for pattern in self.iam_principals:
            if not isinstance(pattern, str) or not pattern.startswith(("arn:aws:iam::",
                                                                        "arn:aws:sts::")):
                raise ConfigError(f"upload_api: kinds access.iam_principals {pattern!r} must "
                                  "be an IAM or STS ARN pattern (arn:aws:iam::… / arn:aws:sts::…)")
        for name in ("jwt_scopes", "jwt_groups"):
            if not all(isinstance(v, str) and v.strip() and " " not in v
                       for v in getattr(self, name)):
                raise ConfigError(f"upload_api: kinds access.{name} must be non-empty "
                                  "names without spaces")

    def as_json(self) -> dict:
        return {"iam_principals": list(self.iam_principals),
                "jwt_scopes": list(self.jwt_scopes), "jwt_groups": list(self.jwt_groups)}


@dataclass(frozen=True)
class UploadKind:
    """What one `kind` of upload may be: where it lands, which types, how big, and who may
    use it (``access``: None = every caller the API authorizes)."""

    prefix: str
    content_types: tuple[str, ...]
    max_bytes: int
    per_caller: bool = False  # key gets the caller's id as a sub-prefix
    access: KindAccess | None = None


NOBODY = KindAccess()  # a restricted kind that no caller was granted yet


MAX_UPLOAD_KINDS = MAX_ALARM_METRICS  # one alarm reads a metric per kind


def default_upload_kinds(brand_access: KindAccess = NOBODY) -> dict[str, UploadKind]:
    """The shipped kinds. Brand kinds publish to the public CDN for a year, so they are
    restricted: only ``brand_access`` (by default nobody) may upload them."""
    images = ("image/jpeg", "image/png", "image/webp", "image/avif")
    return {
        "product-image": UploadKind(ORIGINALS, images, 50 * MB),
        "certificate": UploadKind(CERTIFICATES, ("application/pdf",), 20 * MB),
        "report": UploadKind(REPORTS, ("application/pdf",), 20 * MB),
        "brand-logo": UploadKind(BRAND_LOGOS, ("image/png", "image/webp", "image/avif"),
                                 5 * MB, access=brand_access),
        "brand-media": UploadKind(BRAND_MEDIA, images + ("video/mp4",), 5 * GB,
                                  access=brand_access),
        "user-upload": UploadKind(USER_UPLOADS, images + ("application/pdf",), 50 * MB,
                                  per_caller=True),
    }


@dataclass(frozen=True)
class UploadApiConfig:
    kinds: dict[str, UploadKind] = field(default_factory=default_upload_kinds)
    url_expiry_seconds: int = 900
    multipart_threshold_bytes: int = 100 * MB
    multipart_part_bytes: int = 64 * MB
    throttle_rate_per_second: int = 200
    throttle_burst: int = 400
    jwt_issuer: str | None = None  # None: IAM authorization on every route
    jwt_audience: tuple[str, ...] = ()
    # The functions of the upload pipeline (presign API, upload hasher).
    presign_reserved_concurrency: int = 50  # ~ peak rate x latency (200/s x 0.25 s)
    hasher_reserved_concurrency: int = 50   # also the SQS event source's maximum concurrency
    log_retention_days: int = 365           # function and API access logs (rounded up to a
                                            # retention CloudWatch Logs offers)

    def policy_json(self) -> str:
        """The upload policy as the presign handler reads it (env var UPLOAD_POLICY)."""
        return json.dumps({
            "kinds": {
                name: {"prefix": k.prefix, "content_types": list(k.content_types),
                       "max_bytes": k.max_bytes, "per_caller": k.per_caller,
                       "access": None if k.access is None else k.access.as_json()}
                for name, k in sorted(self.kinds.items())
            },
            "url_expiry_seconds": self.url_expiry_seconds,
            "multipart_threshold_bytes": self.multipart_threshold_bytes,
            "multipart_part_bytes": self.multipart_part_bytes,
        }, sort_keys=True)

    def __post_init__(self) -> None:
        def fail(name: str, problem: str) -> None:
            raise ConfigError(f"upload_api: {name} {problem}")

        if len(self.kinds) > MAX_UPLOAD_KINDS:
            # The dedup alarm sums one metric per kind; a CloudWatch alarm reads at most 10.
            fail("kinds", f"has {len(self.kinds)} kinds; at most {MAX_UPLOAD_KINDS} (one "
                 "alarm watches a metric per kind, and CloudWatch allows 10 in an alarm)")
        for name, kind in self.kinds.items():
            refused = sorted(REFUSED_CONTENT_TYPES & {t.lower() for t in kind.content_types})
            if refused:
                fail(f"kinds.{name}.content_types", f"must not include {', '.join(refused)}: "
                     "active content served from the CDN's domain is stored XSS")
        _check_whole("upload_api", self, ("throttle_rate_per_second", "throttle_burst",
                                          "presign_reserved_concurrency"), 1)
        _check_whole("upload_api", self, ("log_retention_days",), 1, MAX_LOG_RETENTION_DAYS,
                     unit="of days ")
        # The presign handler's own limits, so a policy it would refuse at cold start (every
        # request failing after a clean deploy) fails here instead.
        _check_whole("upload_api", self, ("url_expiry_seconds",), MIN_EXPIRY_SECONDS,
                     MAX_EXPIRY_SECONDS, unit="of seconds ")
        _check_whole("upload_api", self, ("multipart_part_bytes",), S3_MIN_PART_BYTES,
                     S3_MAX_PART_BYTES, unit="of bytes ")
        _check_whole("upload_api", self, ("multipart_threshold_bytes",), 1, unit="of bytes ")
        try:
            UploadPolicy.from_json(self.policy_json())
        except HandlerConfigError as error:
            fail("kinds", f"would be refused by the presign handler: {error}")
        # An SQS event source's maximum concurrency is 2..1000.
        _check_whole("upload_api", self, ("hasher_reserved_concurrency",), 2, 1000)
        if self.jwt_issuer is not None:
            if not self.jwt_issuer.startswith("https://") or len(self.jwt_issuer) <= 8:
                fail("jwt_issuer", f"must be an https:// URL (got {self.jwt_issuer!r})")
            if not self.jwt_audience or not all(isinstance(a, str) and a
                                                for a in self.jwt_audience):
                fail("jwt_audience", "must name at least one audience when jwt_issuer is set")
        elif self.jwt_audience:
            fail("jwt_audience", "is set but jwt_issuer is not (IAM authorization has none)")
