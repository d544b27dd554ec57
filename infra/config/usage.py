"""The usage model of one environment: the cost estimator's input (``python -m tools.cost``)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .common import ConfigError, _check_whole
from .layout import ASSET_PREFIXES, DOCUMENTS


@dataclass(frozen=True)
class StoredGroup:
    """Bytes under one prefix of the assets bucket. Ages are spread evenly over ``age_span_days``
    (steady growth), so a lifecycle or tiering day in the template decides which share sits in
    which class; ``hot_share`` is re-read every month and stays in Frequent Access. A group with
    ``gb_per_day`` instead holds what its expiration rule keeps (gb_per_day x expiration days)."""

    gb: float = 0.0
    age_span_days: int = 365
    hot_share: float = 0.0
    gb_per_day: float = 0.0


@dataclass(frozen=True)
class FunctionUsage:
    """One function's work, matched to functions whose logical id contains the key."""

    invocations_per_upload: float
    seconds_per_invocation: float


@dataclass(frozen=True)
class UsageConfig:
    """What an environment does in a month (30 days): the cost estimator's input
    (``python -m tools.cost``); the template decides everything else. See docs/cost.md."""

    stored: dict[str, StoredGroup] = field(default_factory=dict)  # assets prefix -> bytes
    avg_object_mb: float = 2.0            # object count for Intelligent-Tiering monitoring
    uploads_per_day: float = 1000.0
    upload_mix: dict[str, tuple[float, float]] = field(  # kind -> (share, average MB)
        default_factory=lambda: {"product-image": (1.0, 2.0)})
    renditions_per_original: float = 0.0  # rendition objects written per product image
    rendition_avg_mb: float = 0.2
    duplicate_share: float = 0.0          # uploads the hasher tags as duplicates
    noncurrent_gb_per_day: float = 0.0    # bytes overwritten or deleted (become noncurrent)
    s3_gets_per_upload: float = 2.0       # hasher + rendition reads of the original
    cdn_requests_per_month: dict[str, float] = field(default_factory=dict)  # region class ->
    cdn_gb_per_month: dict[str, float] = field(default_factory=dict)        # region class ->
    cdn_cache_hit_ratio: float = 0.95
    cdn_function_share: float = 0.02      # requests of the default behaviour (its edge 404 function)
    api_calls_per_upload: float = 1.5     # presign + complete/download
    functions: dict[str, FunctionUsage] = field(default_factory=dict)
    queue_messages_per_upload: dict[str, float] = field(default_factory=dict)
    kms_requests_per_month: float = 0.0
    kms_key_age_days: int = 365           # each yearly rotation adds a key version
    log_gb_per_month: dict[str, float] = field(default_factory=dict)  # log group id part ->
    access_log_gb_per_month: dict[str, float] = field(default_factory=dict)  # region ->
    cdn_log_gb_per_month: float = 0.0
    alarm_notifications_per_month: float = 100.0
    dedup_index_gb: float = 0.0
    backups_gb: float = 0.0               # in the backups bucket, aged evenly over:
    backups_age_span_days: int = 35
    aws_backup_gb: float = 0.0            # AWS Backup copies, when a backup plan selects them
    # Share of a month the replica region serves writes (failover windows): its write path's
    # requests, functions and queues are priced at this share; health checks and keys always.
    secondary_write_share: float = 0.001
    # Route 53 probes the health route of the primary from about 15 checkers every 10 s: each probe
    # is an API request, a Lambda invocation and a (conditional) S3 PUT.
    health_probes_per_minute: float = 90.0
    # Prepared once vs rendered per miss (tools/cost, "rendering compute"; figures from
    # bench/bench_anchor.py: CPU-seconds of the whole stored set of a 12 MP original, and of
    # one sharp render of one (width, format) at its defaults).
    cdn_image_request_share: float = 0.9  # CDN requests for product renditions (/i/ URLs)
    rendition_cpu_seconds_per_original: float = 2.7
    anchor_cpu_seconds_per_render: float = 0.9

    def __post_init__(self) -> None:
        def fail(name: str, problem: str) -> None:
            raise ConfigError(f"usage: {name} {problem}")

        def number(name: str, value: object, upper: float | None = None) -> None:
            # NaN compares false with every bound, so it needs its own test, as does infinity.
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0 \
                    or (upper is not None and value > upper):
                fail(name, f"must be a finite number >= 0{f' and <= {upper}' if upper else ''} "
                     f"(got {value!r})")

        for name, value in vars(self).items():
            if isinstance(value, (int, float)) and not name.endswith("_days"):
                upper = 1 if name.endswith(("_share", "_ratio")) else None
                number(name, value, upper)
        _check_whole("usage", self, ("kms_key_age_days", "backups_age_span_days"), 1)
        for prefix, group in self.stored.items():
            if prefix not in ASSET_PREFIXES and prefix not in (DOCUMENTS,):
                fail("stored", f"key {prefix!r} is not a prefix of the assets bucket")
            _check_whole(f"usage: stored[{prefix!r}]", group, ("age_span_days",), 1)
            for name in ("gb", "hot_share", "gb_per_day"):
                number(f"stored[{prefix!r}].{name}", getattr(group, name),
                       1 if name == "hot_share" else None)
        shares = sum(share for share, _ in self.upload_mix.values())
        if self.upload_mix and abs(shares - 1) > 1e-6:
            fail("upload_mix", f"shares must add up to 1 (got {shares:g})")
        for kind, (share, size) in self.upload_mix.items():
            number(f"upload_mix[{kind!r}]", share, 1)
            number(f"upload_mix[{kind!r}] size", size)
        for mapping in ("cdn_requests_per_month", "cdn_gb_per_month", "queue_messages_per_upload",
                        "log_gb_per_month", "access_log_gb_per_month"):
            for key, value in getattr(self, mapping).items():
                number(f"{mapping}[{key!r}]", value)
        for key, usage in self.functions.items():
            number(f"functions[{key!r}].invocations_per_upload", usage.invocations_per_upload)
            number(f"functions[{key!r}].seconds_per_invocation", usage.seconds_per_invocation)

    @property
    def upload_gb_per_day(self) -> float:
        return self.uploads_per_day * sum(s * mb for s, mb in self.upload_mix.values()) / 1024
