"""Price one environment: every resource of its synthesized stacks, by type, with the usage model.

The template decides what exists and how it is configured (how many keys and alarms, lifecycle
and tiering days, replica storage class, RTC on or off, function memory, log retention); the
usage model (``infra.config.UsageConfig``) decides how much it is used. A month is 30 days.
A type without a rule here is an error naming the type: never a silent $0.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from estate_handlers.keys import is_tiered
from estate_handlers.layout import EMF_METRICS, HASHED_PREFIXES, UPLOAD_KINDS

from infra.config import DUPLICATE_TAG, EnvironmentConfig, UsageConfig
from infra.constructs.image_urls import IMAGE_URL_PATH_PATTERN
from infra.environments import ENVIRONMENTS
from tools.cost.prices import CostError, PriceTable, default_table
from tools.review.assembly import StackTemplate

MONTH_DAYS = 30
IT_INFREQUENT_AFTER, IT_ARCHIVE_INSTANT_AFTER = 30, 90  # Intelligent-Tiering's own clock
ROTATED_VERSIONS_BILLED = 2  # KMS bills the first and second rotation of a key, not later ones
UNBOUNDED_DAYS = 365  # what "never expires" is priced as: one year of accumulation (it grows)
CLOUDFRONT_ADDITIONAL_METRICS = 8
# A replication rule with metrics on publishes ReplicationLatency, BytesPendingReplication and
# OperationsPendingReplication in the destination bucket's Region, OperationsFailedReplication
# in the source's; S3 bills them as CloudWatch custom metrics.
REPLICATION_METRICS_AT_DESTINATION, REPLICATION_METRICS_AT_SOURCE = 3, 1
# Each probe of the health route writes an object of its own (estate_handlers.write_health);
# the whole-bucket replication rule copies each one. Standard-IA bills at least 128 KB for at
# least 30 days per object, however small and however soon the lifecycle deletes it.
IA_MIN_BILLED_GB, IA_MIN_BILLED_DAYS = 128 / 1024 / 1024, 30
# Edge location groups each CloudFront price class serves (None: all of them).
PRICE_CLASSES = {"PriceClass_All": None, "PriceClass_100": {"na", "eu"},
                 "PriceClass_200": {"na", "eu", "za_me", "jp", "apac", "in"}}

SERVICES = {"s3": "S3", "cloudfront": "CloudFront", "waf": "WAF", "lambda": "Lambda",
            "sqs": "SQS", "kms": "KMS", "cw": "CloudWatch", "logs": "CloudWatch Logs",
            "sns": "SNS", "dynamodb": "DynamoDB", "apigw": "API Gateway", "backup": "AWS Backup",
            "guardduty": "GuardDuty", "events": "EventBridge", "route53": "Route 53",
            "ssm": "Systems Manager"}
STORAGE_CLASSES = {"STANDARD": "standard", "STANDARD_IA": "standard_ia",
                   "ONEZONE_IA": "onezone_ia", "GLACIER_IR": "glacier_ir", "GLACIER": "glacier",
                   "DEEP_ARCHIVE": "deep_archive", "INTELLIGENT_TIERING": "intelligent_tiering"}
TRANSITION_PRICES = {"INTELLIGENT_TIERING": "s3.transition.it", "GLACIER_IR":
                     "s3.transition.glacier_ir", "DEEP_ARCHIVE": "s3.transition.deep_archive"}

# Types that cost nothing by themselves (their usage is priced where it happens, e.g. a
# CloudFront function per invocation under its distribution, an event source mapping as
# queue requests, a certificate: public ACM certificates are free).
FREE_TYPES = frozenset({
    "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SQS::QueueInlinePolicy",
    "AWS::SNS::TopicPolicy", "AWS::SNS::TopicInlinePolicy", "AWS::KMS::Alias",
    "AWS::Lambda::Permission", "AWS::Lambda::EventSourceMapping", "AWS::Lambda::Version",
    "AWS::Lambda::Alias", "AWS::Lambda::Url", "AWS::Lambda::EventInvokeConfig",
    "AWS::Lambda::LayerVersion", "AWS::Lambda::LayerVersionPermission",
    "AWS::CloudFront::CachePolicy", "AWS::CloudFront::OriginAccessControl",
    "AWS::CloudFront::ResponseHeadersPolicy", "AWS::CloudFront::OriginRequestPolicy",
    "AWS::CloudFront::Function", "AWS::Logs::DeliverySource", "AWS::Logs::DeliveryDestination",
    "AWS::Logs::ResourcePolicy", "AWS::Logs::MetricFilter", "AWS::Logs::SubscriptionFilter",
    "AWS::WAFv2::LoggingConfiguration", "AWS::WAFv2::WebACLAssociation", "AWS::WAFv2::IPSet",
    "AWS::WAFv2::RegexPatternSet", "AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Stage", "AWS::ApiGatewayV2::Authorizer",
    "AWS::ApiGatewayV2::Deployment", "AWS::ApiGatewayV2::ApiMapping",
    "AWS::ApiGatewayV2::DomainName", "AWS::CertificateManager::Certificate",
    "AWS::Route53::RecordSet", "AWS::Route53::RecordSetGroup", "AWS::Events::Rule",
    "AWS::Backup::BackupVault", "AWS::Backup::BackupPlan", "AWS::CDK::Metadata",
})
FREE_PREFIXES = ("AWS::IAM::", "Custom::", "AWS::CloudFormation::")


class UnpricedTypes(CostError):
    def __init__(self, types: Iterable[str]):
        self.types = sorted(set(types))
        super().__init__("the estimator cannot price these resource types (add a rule in "
                         "tools/cost/estimate.py and a price in tools/cost/prices.csv): "
                         + ", ".join(self.types))


@dataclass(frozen=True)
class Line:
    service: str
    item: str
    region: str
    quantity: float  # in the price's unit
    unit: str
    usd: float
    dimension: str


@dataclass
class Estimate:
    env: str
    lines: list[Line]
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    def drivers(self, n: int = 3) -> list[Line]:
        return sorted(self.lines, key=lambda line: -line.usd)[:n]

    def by_key(self) -> dict[tuple[str, str, str], Line]:
        return {(line.service, line.item, line.region): line for line in self.lines}


class _Context:
    def __init__(self, cfg: EnvironmentConfig, usage: UsageConfig,
                 stacks: list[StackTemplate]):
        self.cfg, self.usage, self.stacks = cfg, usage, stacks
        self.metered: dict[tuple[str, str], float] = {}
        self.notes: list[str] = []
        self.resources = [(s, lid, r) for s in stacks
                          for lid, r in s.template.get("Resources", {}).items()]
        self.assets = next((r.get("Properties", {}) for _, _, r in self.resources
                            if r.get("Type") == "AWS::S3::Bucket" and
                            r.get("Properties", {}).get("BucketName") == cfg.assets_bucket_name),
                           None)

    def add(self, dimension: str, region: str, quantity: float) -> None:
        if quantity > 0:
            key = (region, dimension)
            self.metered[key] = self.metered.get(key, 0.0) + quantity

    def region(self, stack: StackTemplate) -> str:
        return stack.region or self.cfg.primary_region

    def write_share(self, stack: StackTemplate) -> float:
        """The share of the month's writes a stack's write path serves: the replica region's
        upload API only while it serves writes (failover windows), every other stack all."""
        if stack.name.endswith(f"/UploadApi-{self.cfg.replica_region}"):
            return self.usage.secondary_write_share
        return 1.0

    # Monthly volumes the model derives from uploads.
    @property
    def uploads(self) -> float:
        return self.usage.uploads_per_day * MONTH_DAYS

    @property
    def renditions(self) -> float:
        images = self.usage.upload_mix.get("product-image", (0.0, 0.0))[0]
        return self.uploads * images * self.usage.renditions_per_original

    @property
    def new_gb(self) -> float:
        return (self.usage.upload_gb_per_day * MONTH_DAYS
                + self.renditions * self.usage.rendition_avg_mb / 1024)

    def uploads_under(self, prefixes: Iterable[str]) -> tuple[float, float]:
        """(objects, GB) uploaded per month under any of `prefixes` ("" is everything)."""
        prefixes = tuple(prefixes)
        objects = gigabytes = 0.0
        for kind, (share, mb) in self.usage.upload_mix.items():
            if any(self.cfg.upload_api.kinds[kind].prefix.startswith(p) for p in prefixes):
                objects += self.uploads * share
                gigabytes += self.uploads * share * mb / 1024
        return objects, gigabytes

    @property
    def cdn_requests(self) -> float:
        return sum(self.usage.cdn_requests_per_month.values())


def _matching(usage: dict[str, Any], logical_id: str) -> Any:
    """The usage whose key is the longest part of the logical id (None: no key matches)."""
    keys = [k for k in usage if k.lower() in logical_id.lower()]
    return usage[max(keys, key=len)] if keys else None


# --- S3 ---------------------------------------------------------------------------------

def _rules(props: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in props.get("LifecycleConfiguration", {}).get("Rules", [])
            if r.get("Status", "Enabled") == "Enabled"]


def _rule_prefix(rule: dict[str, Any]) -> str | None:
    """The prefix a rule covers entirely ("" the whole bucket); None when tags filter it."""
    filt = rule.get("Filter", {}) if isinstance(rule.get("Filter"), dict) else {}
    if rule.get("TagFilters") or filt.get("Tag") or filt.get("And"):
        return None
    return rule.get("Prefix") or filt.get("Prefix") or ""


def _applies(rule: dict[str, Any], prefix: str) -> bool:
    """The rule covers every object under `prefix` (tag-filtered rules cover only some)."""
    covered = _rule_prefix(rule)
    return covered is not None and prefix.startswith(covered)


def _share(start: float, end: float, span: float) -> float:
    """Share of bytes whose age falls in [start, end) when ages spread evenly over [0, span)."""
    return max(0.0, min(end, span) - min(start, span)) / span


def _archive_days(props: dict[str, Any], prefix: str) -> tuple[float, float]:
    for conf in props.get("IntelligentTieringConfigurations", []):
        if conf.get("Status") == "Enabled" and prefix.startswith(conf.get("Prefix") or ""):
            days = {t["AccessTier"]: t["Days"] for t in conf.get("Tierings", [])}
            return (days.get("ARCHIVE_ACCESS", math.inf),
                    days.get("DEEP_ARCHIVE_ACCESS", math.inf))
    return math.inf, math.inf


def storage_mix(props: dict[str, Any], prefix: str, gb: float, span: float,
                hot_share: float = 0.0) -> dict[str, float]:
    """GB per priced storage dimension for `gb` under `prefix`, aged evenly over `span` days:
    the bucket's lifecycle transitions pick the class by age, Intelligent-Tiering's tiers by
    days in the class (the hot share, re-read monthly, stays in Frequent Access)."""
    starts = {0: "STANDARD"}
    for rule in _rules(props):
        if _applies(rule, prefix):
            for t in rule.get("Transitions", []):
                starts[int(t.get("TransitionInDays", 0))] = t["StorageClass"]
    bounds = sorted(starts)
    out: dict[str, float] = {}

    def put(dim: str, value: float) -> None:
        if value > 0:
            out[dim] = out.get(dim, 0.0) + value

    for i, start in enumerate(bounds):
        end = bounds[i + 1] if i + 1 < len(bounds) else math.inf
        klass = starts[start]
        if klass not in STORAGE_CLASSES:
            raise CostError(f"storage class {klass} (rule for {prefix or 'the bucket'}) "
                            "has no price in the estimator")
        share = _share(start, end, span)
        if klass != "INTELLIGENT_TIERING":
            put(f"s3.storage.{STORAGE_CLASSES[klass]}", gb * share)
            continue
        archive, deep = _archive_days(props, prefix)
        tiers = [("it_frequent", 0, IT_INFREQUENT_AFTER),
                 ("it_infrequent", IT_INFREQUENT_AFTER, IT_ARCHIVE_INSTANT_AFTER),
                 ("it_archive_instant", IT_ARCHIVE_INSTANT_AFTER, min(archive, deep)),
                 ("it_archive", archive, deep), ("it_deep_archive", deep, math.inf)]
        put("s3.storage.it_frequent", gb * share * hot_share)
        for dim, low, high in tiers:
            if high > low:
                age_share = _share(start + low, min(end, start + high), span)
                put(f"s3.storage.{dim}", gb * (1 - hot_share) * age_share)
    return out


def _expiration_days(props: dict[str, Any], prefix: str) -> int | None:
    days = [r["ExpirationInDays"] for r in _rules(props)
            if _applies(r, prefix) and "ExpirationInDays" in r]
    return min(days) if days else None


def _noncurrent_mix(props: dict[str, Any], gb_per_day: float,
                    klass: str = "STANDARD") -> tuple[dict[str, float], bool]:
    """GB of noncurrent versions per class: each version spends the days between its
    transitions in each class, until it expires. (mix, expires?)"""
    rule = next((r for r in _rules(props) if _applies(r, "") and
                 ("NoncurrentVersionExpiration" in r or "NoncurrentVersionTransitions" in r)),
                {})
    expires = rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays")
    end = expires if expires is not None else UNBOUNDED_DAYS
    starts = {0: klass}
    for t in rule.get("NoncurrentVersionTransitions", []):
        starts[int(t.get("TransitionInDays", t.get("NoncurrentDays", 0)))] = t["StorageClass"]
    bounds = sorted(d for d in starts if d < end) + [end]
    mix: dict[str, float] = {}
    for start, stop in zip(bounds, bounds[1:], strict=False):
        klass_key = STORAGE_CLASSES.get(starts[start], "standard")
        dim = "s3.storage.it_frequent" if klass_key == "intelligent_tiering" \
            else f"s3.storage.{klass_key}"
        mix[dim] = mix.get(dim, 0.0) + gb_per_day * (stop - start)
    return mix, expires is not None


def _assets_bucket(ctx: _Context, region: str, props: dict[str, Any]) -> None:
    usage = ctx.usage
    it_gb = 0.0
    for prefix, group in usage.stored.items():
        if group.gb_per_day:
            days = _expiration_days(props, prefix)
            if days is None:
                raise CostError(f"usage: stored[{prefix!r}] gives gb_per_day but no lifecycle "
                                f"rule of {ctx.cfg.assets_bucket_name} expires {prefix}")
            mix = storage_mix(props, prefix, group.gb_per_day * days, days)
        else:
            mix = storage_mix(props, prefix, group.gb, group.age_span_days, group.hot_share)
        for dim, gb in mix.items():
            ctx.add(dim, region, gb)
            it_gb += gb if dim.startswith("s3.storage.it_") else 0.0
    ctx.add("s3.it_monitoring", region, it_gb * 1024 / usage.avg_object_mb)
    duplicates = _duplicates_gb(ctx, props)
    if duplicates:
        ctx.add("s3.storage.it_frequent", region, duplicates)
    mix, expires = _noncurrent_mix(props, usage.noncurrent_gb_per_day)
    if not expires and usage.noncurrent_gb_per_day:
        ctx.notes.append(f"{ctx.cfg.assets_bucket_name}: noncurrent versions never expire; "
                         f"priced as {UNBOUNDED_DAYS} days of them")
    for dim, gb in mix.items():
        ctx.add(dim, region, gb)
    noncurrent_objects = usage.noncurrent_gb_per_day * MONTH_DAYS * 1024 / usage.avg_object_mb
    if "s3.storage.glacier_ir" in mix:
        ctx.add("s3.transition.glacier_ir", region, noncurrent_objects)
    # Requests: every upload and rendition is a PUT; reads of originals, and CDN misses, GETs.
    # The hasher, per hashed upload: two HeadObjects (the version's checksum, the canonical's
    # currency), GetObjectTagging, then PutObjectTagging with its content-sha256 and status.
    hashed, _ = ctx.uploads_under(HASHED_PREFIXES)
    ctx.add("s3.requests.put", region, ctx.uploads + ctx.renditions + hashed)
    ctx.add("s3.requests.get", region, ctx.uploads * usage.s3_gets_per_upload
            + ctx.cdn_requests * (1 - usage.cdn_cache_hit_ratio) + 3 * hashed)
    for rule in _rules(props):  # each uploaded object transitions once per rule it meets
        covered = _rule_prefix(rule)
        for t in rule.get("Transitions", []) if covered is not None else []:
            # The upload API writes these prefixes' objects in Intelligent-Tiering already
            # (keys.storage_class_for): a rule into that class never moves them.
            if t["StorageClass"] == "INTELLIGENT_TIERING" and is_tiered(covered):
                continue
            if t["StorageClass"] in TRANSITION_PRICES:
                objects, _ = ctx.uploads_under([covered])
                ctx.add(TRANSITION_PRICES[t["StorageClass"]], region, objects)
    for rule in props.get("ReplicationConfiguration", {}).get("Rules", []):
        if rule.get("Status") != "Enabled":
            continue
        ctx.add("s3.transfer.inter_region", region, ctx.new_gb)
        if rule.get("Destination", {}).get("ReplicationTime", {}).get("Status") == "Enabled":
            ctx.add("s3.rtc", region, ctx.new_gb)
        break


def _duplicates_gb(ctx: _Context, assets: dict[str, Any]) -> float:
    """The hasher's duplicates the assets bucket holds (and the replica, which mirrors its
    expirations): as many days of them as the duplicate rule keeps; without one (the default,
    docs/dedup.md) they accumulate: priced as a year of them, all in the class they were
    written in (the level after a year; it grows every year)."""
    days = [r["ExpirationInDays"] for r in _rules(assets) if "ExpirationInDays" in r
            and {"Key": DUPLICATE_TAG[0], "Value": DUPLICATE_TAG[1]} in r.get("TagFilters", [])]
    daily = ctx.usage.upload_gb_per_day * ctx.usage.duplicate_share
    if not days and daily:
        note = (f"{ctx.cfg.assets_bucket_name}: duplicates never expire; priced as "
                f"{UNBOUNDED_DAYS} days of them")
        if note not in ctx.notes:
            ctx.notes.append(note)
    return daily * (min(days) if days else UNBOUNDED_DAYS)


def _replica_bucket(ctx: _Context, region: str, props: dict[str, Any]) -> None:
    rules = [r for r in (ctx.assets or {}).get("ReplicationConfiguration", {}).get("Rules", [])
             if r.get("Status") == "Enabled"]
    if not rules:
        ctx.notes.append(f"{ctx.cfg.replica_bucket_name}: nothing replicates into it")
        return
    klass = rules[0].get("Destination", {}).get("StorageClass", "STANDARD")
    if klass not in STORAGE_CLASSES or klass == "INTELLIGENT_TIERING":
        raise CostError(f"replica storage class {klass} has no price in the estimator")
    # Replicas keep the class the replication rule gives them (the replica's own lifecycle
    # only expires noncurrent versions); it holds every current object of the assets bucket.
    current = sum(g.gb or g.gb_per_day * (_expiration_days(ctx.assets or {}, p) or 0)
                  for p, g in ctx.usage.stored.items()) + _duplicates_gb(ctx, ctx.assets or {})
    ctx.add(f"s3.storage.{STORAGE_CLASSES[klass]}", region, current)
    mix, _ = _noncurrent_mix(props, ctx.usage.noncurrent_gb_per_day, klass)
    for dim, gb in mix.items():
        ctx.add(dim, region, gb)
    put = "s3.requests.put_ia" if klass == "STANDARD_IA" else "s3.requests.put"
    ctx.add(put, region, ctx.uploads + ctx.renditions)
    # The rule back to the assets bucket carries only what was written here: the uploads of
    # failover windows (replicas are never replicated again).
    for rule in props.get("ReplicationConfiguration", {}).get("Rules", []):
        if rule.get("Status") != "Enabled":
            continue
        window_gb = ctx.usage.upload_gb_per_day * MONTH_DAYS * ctx.usage.secondary_write_share
        ctx.add("s3.transfer.inter_region", region, window_gb)
        if rule.get("Destination", {}).get("ReplicationTime", {}).get("Status") == "Enabled":
            ctx.add("s3.rtc", region, window_gb)
        break


def _age_spread_bucket(ctx: _Context, region: str, props: dict[str, Any], gb: float,
                       span: int) -> None:
    for dim, value in storage_mix(props, "", gb, span).items():
        ctx.add(dim, region, value)


def _log_bucket(ctx: _Context, region: str, props: dict[str, Any], name: str) -> None:
    per_month = ctx.usage.access_log_gb_per_month.get(region, 0.0)
    if region == ctx.cfg.primary_region:
        per_month += ctx.usage.cdn_log_gb_per_month
    days = _expiration_days(props, "")
    if days is None:
        ctx.notes.append(f"{name}: logs never expire; priced as {UNBOUNDED_DAYS} days of them")
    ctx.add("s3.storage.standard", region, per_month / MONTH_DAYS * (days or UNBOUNDED_DAYS))


def _replication_metrics(ctx: _Context, region: str, props: dict[str, Any]) -> None:
    other = ctx.cfg.replica_region if region == ctx.cfg.primary_region else ctx.cfg.primary_region
    for rule in props.get("ReplicationConfiguration", {}).get("Rules", []):
        metrics = rule.get("Destination", {}).get("Metrics", {})
        if rule.get("Status") == "Enabled" and metrics.get("Status") == "Enabled":
            ctx.add("cw.metric.custom", other, REPLICATION_METRICS_AT_DESTINATION)
            ctx.add("cw.metric.custom", region, REPLICATION_METRICS_AT_SOURCE)


def _s3_bucket(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
    props, region, cfg = res.get("Properties", {}), ctx.region(stack), ctx.cfg
    _replication_metrics(ctx, region, props)
    name = props.get("BucketName")
    if name == cfg.assets_bucket_name:
        _assets_bucket(ctx, region, props)
    elif name == cfg.replica_bucket_name:
        _replica_bucket(ctx, region, props)
    elif name == cfg.backups_bucket_name:
        _age_spread_bucket(ctx, region, props, ctx.usage.backups_gb,
                           ctx.usage.backups_age_span_days)
    elif name in {cfg.access_log_bucket_name(r) for r in cfg.regions}:
        _log_bucket(ctx, region, props, name)
    else:
        ctx.notes.append(f"{stack.name} {lid}: a bucket the usage model does not describe "
                         "(its storage is not estimated)")


# --- everything else ---------------------------------------------------------------------

def _kms_key(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
    props, region = res.get("Properties", {}), ctx.region(stack)
    ctx.add("kms.key", region, 1)
    if props.get("EnableKeyRotation"):
        period = props.get("RotationPeriodInDays", 365)
        ctx.add("kms.rotation", region,
                min(ROTATED_VERSIONS_BILLED, ctx.usage.kms_key_age_days // period))


def _alarm(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
    props = res.get("Properties", {})
    stats = [m["MetricStat"] for m in props.get("Metrics", []) if "MetricStat" in m]
    periods = [s.get("Period", 60) for s in stats] or [props.get("Period", 60)]
    high_res = min(periods) < 60
    ctx.add("cw.alarm.high_resolution" if high_res else "cw.alarm.standard",
            ctx.region(stack), max(1, len(stats)))


def _emf_series(ctx: _Context, handler: str) -> int:
    """The custom metric series a function's handler publishes (``layout.EMF_METRICS``)."""
    declared = EMF_METRICS.get(handler.rpartition(".")[0], {})
    kinds = len(ctx.cfg.upload_api.kinds)
    return sum(sum(kinds if v == UPLOAD_KINDS else 1 for v in values) or 1
               for values in declared.values())


def _lambda(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
    props, region = res.get("Properties", {}), ctx.region(stack)
    work = _matching(ctx.usage.functions, lid)
    # Custom metrics are billed for the hours they are published in: a function of the
    # usage model publishes as it is used (the replica region's write path only while it
    # serves writes); one outside it (the dedup replica guard) runs every hour.
    ctx.add("cw.metric.custom", region, _emf_series(ctx, str(props.get("Handler", "")))
            * (ctx.write_share(stack) if work is not None else 1.0))
    if work is None:
        ctx.notes.append(f"{stack.name} {lid}: function without usage in the model "
                         "(deploy-time custom-resource handlers and the hourly dedup replica guard "
                         "cost ~$0)")
        return
    invocations = ctx.uploads * work.invocations_per_upload * ctx.write_share(stack)
    arch = (props.get("Architectures") or ["x86_64"])[0]
    ctx.add("lambda.requests", region, invocations)
    ctx.add(f"lambda.compute.{arch}", region, invocations * work.seconds_per_invocation
            * props.get("MemorySize", 128) / 1024)


def _queue(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
    per_upload = _matching(ctx.usage.queue_messages_per_upload, lid)
    if per_upload is None:
        ctx.notes.append(f"{stack.name} {lid}: queue without usage in the model")
        return
    batch = next((r.get("Properties", {}).get("BatchSize", 10) for _, _, r in ctx.resources
                  if r.get("Type") == "AWS::Lambda::EventSourceMapping" and
                  r.get("Properties", {}).get("EventSourceArn") == {"Fn::GetAtt": [lid, "Arn"]}),
                 10)
    kind = "fifo" if res.get("Properties", {}).get("FifoQueue") else "standard"
    # One send per message; one receive and one delete per batch.
    ctx.add(f"sqs.requests.{kind}", ctx.region(stack),
            ctx.uploads * per_upload * (1 + 2 / batch))


def _log_group(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
    gb = _matching(ctx.usage.log_gb_per_month, lid)
    if gb is None:
        ctx.notes.append(f"{stack.name} {lid}: log group without usage in the model")
        return
    days = res.get("Properties", {}).get("RetentionInDays", UNBOUNDED_DAYS)
    gb *= ctx.write_share(stack)
    ctx.add("logs.ingest", ctx.region(stack), gb)
    ctx.add("logs.storage", ctx.region(stack), gb * days / MONTH_DAYS)


def _distribution(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
    usage = ctx.usage
    config = res.get("Properties", {}).get("DistributionConfig", {})
    # A cheaper price class serves viewers outside it from North American/European edges,
    # billed at those edges' prices (and slower: the template's choice shows in both).
    served = PRICE_CLASSES.get(config.get("PriceClass", "PriceClass_All"))
    for klass, gb in usage.cdn_gb_per_month.items():
        ctx.add(f"cloudfront.egress.{klass if served is None or klass in served else 'na'}",
                "global", gb)
    for klass, requests in usage.cdn_requests_per_month.items():
        ctx.add(f"cloudfront.requests.{klass if served is None or klass in served else 'na'}",
                "global", requests)
    shields = [o["OriginShield"]["OriginShieldRegion"] for o in config.get("Origins", [])
               if o.get("OriginShield", {}).get("Enabled")]
    if shields:  # the primary origin's shield takes every edge miss
        ctx.add("cloudfront.origin_shield", shields[0],
                ctx.cdn_requests * (1 - usage.cdn_cache_hit_ratio))
    # Each function association runs on every request of its behaviour: the image URLs'
    # function on every product-rendition request, the default behaviour's on the few
    # requests that reach it (the edge 404).
    for behaviour in [config.get("DefaultCacheBehavior", {}), *config.get("CacheBehaviors", [])]:
        share = (usage.cdn_image_request_share
                 if behaviour.get("PathPattern") == IMAGE_URL_PATH_PATTERN
                 else usage.cdn_function_share)
        invocations = len(behaviour.get("FunctionAssociations", [])) * ctx.cdn_requests * share
        if invocations:
            ctx.add("cloudfront.function", "global", invocations)


def _monitoring_subscription(ctx: _Context, stack: StackTemplate, lid: str,
                             res: dict[str, Any]) -> None:
    status = res.get("Properties", {}).get("MonitoringSubscription", {}).get(
        "RealtimeMetricsSubscriptionConfig", {}).get("RealtimeMetricsSubscriptionStatus")
    if status == "Enabled":
        ctx.add("cloudfront.additional_metrics", "global", CLOUDFRONT_ADDITIONAL_METRICS)


def _web_acl(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
    props = res.get("Properties", {})
    ctx.add("waf.web_acl", "global", 1)
    ctx.add("waf.rule", "global", len(props.get("Rules", [])))
    requests = ctx.cdn_requests if props.get("Scope") == "CLOUDFRONT" \
        else ctx.uploads * ctx.usage.api_calls_per_upload
    ctx.add("waf.requests", "global", requests)


def _table(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
    props, region = res.get("Properties", {}), ctx.region(stack)
    if props.get("BillingMode") != "PAY_PER_REQUEST":
        raise CostError(f"{stack.name} {lid}: provisioned-capacity DynamoDB tables are not "
                        "priced by the estimator")
    ctx.add("dynamodb.write", region, ctx.uploads)  # one conditional put per hashed upload
    ctx.add("dynamodb.read", region, ctx.uploads)   # one lookup per presign with a hash
    ctx.add("dynamodb.storage", region, ctx.usage.dedup_index_gb)
    if props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
        ctx.add("dynamodb.pitr", region, ctx.usage.dedup_index_gb)


def _api(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
    if res.get("Properties", {}).get("ProtocolType", "HTTP") != "HTTP":
        raise CostError(f"{stack.name} {lid}: only HTTP APIs are priced by the estimator")
    ctx.add("apigw.http", ctx.region(stack),
            ctx.uploads * ctx.usage.api_calls_per_upload * ctx.write_share(stack))


def _topic(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
    ctx.add("sns.publish", ctx.region(stack), ctx.usage.alarm_notifications_per_month)


def _subscription(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
    protocol = res.get("Properties", {}).get("Protocol", "")
    dim = {"email": "sns.email", "email-json": "sns.email", "https": "sns.https",
           "http": "sns.https"}.get(protocol)
    if dim:  # deliveries to SQS and Lambda are free
        ctx.add(dim, ctx.region(stack), ctx.usage.alarm_notifications_per_month)


def _malware_plan(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
    bucket = res.get("Properties", {}).get("ProtectedResource", {}).get("S3Bucket", {})
    objects, gigabytes = ctx.uploads_under(bucket.get("ObjectPrefixes") or [""])
    ctx.add("guardduty.malware_s3.objects", ctx.region(stack), objects)
    ctx.add("guardduty.malware_s3.gb", ctx.region(stack), gigabytes)
    actions = res.get("Properties", {}).get("Actions", {})
    if actions.get("Tagging", {}).get("Status") == "ENABLED":  # one PutObjectTagging a scan
        ctx.add("s3.requests.put", ctx.region(stack), objects)


def _health_check(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
    """Route 53 bills a health check of an AWS endpoint per month, plus each optional
    feature (HTTPS, fast interval) it uses; calculated checks at the basic rate."""
    config = res.get("Properties", {}).get("HealthCheckConfig", {})
    ctx.add("route53.health_check", "global", 1)
    features = (config.get("Type") in ("HTTPS", "HTTPS_STR_MATCH")) \
        + (config.get("RequestInterval", 30) == 10) + bool(config.get("MeasureLatency"))
    ctx.add("route53.health_check_feature", "global", features)
    if config.get("Type") in ("HTTPS", "HTTP", "HTTPS_STR_MATCH"):  # probes of the health route
        probes, region = ctx.usage.health_probes_per_minute * 60 * 24 * MONTH_DAYS, \
            ctx.region(stack)
        ctx.add("apigw.http", region, probes)
        ctx.add("lambda.requests", region, probes)
        ctx.add("s3.requests.put", region, probes)
        _replicated_probe_objects(ctx, region, probes)


def _replicated_probe_objects(ctx: _Context, region: str, objects: float) -> None:
    """Every probe object in the primary's bucket replicates into the replica: a PUT there,
    and in Standard-IA the class's minimum charge. Transfer and RTC are billed by the GB:
    nothing at 2 bytes an object."""
    if region != ctx.cfg.primary_region:
        return
    rules = [r for r in (ctx.assets or {}).get("ReplicationConfiguration", {}).get("Rules", [])
             if r.get("Status") == "Enabled"]
    if not rules:
        return
    klass = rules[0].get("Destination", {}).get("StorageClass", "STANDARD")
    replica = ctx.cfg.replica_region
    if klass == "STANDARD_IA":
        ctx.add("s3.requests.put_ia", replica, objects)
        ctx.add("s3.storage.standard_ia", replica,
                objects * IA_MIN_BILLED_GB * IA_MIN_BILLED_DAYS / MONTH_DAYS)
    else:
        ctx.add("s3.requests.put", replica, objects)


def _sdk_call(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
    """A deploy-time SDK call costs nothing itself; one that creates a DynamoDB global-table
    replica brings the replica's replicated writes and storage, in the stack's region."""
    if "ReplicaUpdates" not in json.dumps(res.get("Properties", {}).get("Create", "")):
        return
    region = ctx.region(stack)
    ctx.add("dynamodb.replicated_write", region, ctx.uploads)  # every index write, replicated
    ctx.add("dynamodb.storage", region, ctx.usage.dedup_index_gb)


def _backup_selection(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
    key = (ctx.region(stack), "backup.s3")
    if key not in ctx.metered:  # one backup copy of the estate, however many selections
        ctx.add("backup.s3", ctx.region(stack), ctx.usage.aws_backup_gb)


def _fixed(dimension: str, region: str | None = None) -> Callable[..., None]:
    def rule(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
        ctx.add(dimension, region or ctx.region(stack), 1)
    return rule


def _parameter(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
    if res.get("Properties", {}).get("Tier") == "Advanced":
        ctx.add("ssm.advanced_parameter", ctx.region(stack), 1)


def _vended_logs(ctx: _Context, stack: StackTemplate, lid: str, res: dict[str, Any]) -> None:
    ctx.add("logs.vended_s3", ctx.region(stack), ctx.usage.cdn_log_gb_per_month)


RULES: dict[str, Callable[[_Context, StackTemplate, str, dict[str, Any]], None]] = {
    "AWS::S3::Bucket": _s3_bucket, "AWS::KMS::Key": _kms_key,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::CompositeAlarm": _fixed("cw.alarm.composite"),
    "AWS::CloudWatch::Dashboard": _fixed("cw.dashboard"),
    "AWS::Lambda::Function": _lambda, "AWS::SQS::Queue": _queue,
    "AWS::Logs::LogGroup": _log_group, "AWS::Logs::Delivery": _vended_logs,
    "AWS::CloudFront::Distribution": _distribution,
    "AWS::CloudFront::MonitoringSubscription": _monitoring_subscription,
    "AWS::WAFv2::WebACL": _web_acl, "AWS::DynamoDB::Table": _table,
    "AWS::ApiGatewayV2::Api": _api, "AWS::SNS::Topic": _topic,
    "AWS::SNS::Subscription": _subscription,
    "AWS::GuardDuty::MalwareProtectionPlan": _malware_plan,
    "AWS::Backup::BackupSelection": _backup_selection,
    "AWS::Route53::HostedZone": _fixed("route53.hosted_zone", "global"),
    "AWS::Route53::HealthCheck": _health_check, "Custom::AWS": _sdk_call,
    "AWS::SSM::Parameter": _parameter,
}


def _free(resource_type: object) -> bool:
    return resource_type in FREE_TYPES or str(resource_type).startswith(FREE_PREFIXES)


def unpriced_types(stacks: Iterable[StackTemplate]) -> list[str]:
    return sorted({r.get("Type", "?") for s in stacks
                   for r in s.template.get("Resources", {}).values()
                   if r.get("Type") not in RULES and not _free(r.get("Type"))})


def estimate(cfg: EnvironmentConfig, stacks: list[StackTemplate],
             usage: UsageConfig | None = None, table: PriceTable | None = None) -> Estimate:
    """The monthly estimate of one environment from its stacks (all of one stage)."""
    missing = unpriced_types(stacks)
    if missing:
        raise UnpricedTypes(missing)
    table = table or default_table()
    ctx = _Context(cfg, usage or cfg.usage, stacks)
    for stack, lid, res in ctx.resources:
        rule = RULES.get(res.get("Type", ""))
        if rule:
            rule(ctx, stack, lid, res)
    if any(r.get("Type") == "AWS::KMS::Key" for _, _, r in ctx.resources):
        ctx.add("kms.requests", cfg.primary_region, ctx.usage.kms_requests_per_month)
    lines = []
    for (region, dim), quantity in sorted(ctx.metered.items()):
        price = table.get(region, dim)
        lines.append(Line(SERVICES[dim.split(".")[0]], price.item, region,
                          quantity / price.per, price.unit, price.cost(quantity), dim))
    lines.sort(key=lambda line: (line.service, -line.usd))
    return Estimate(cfg.name, lines, ctx.notes)


def by_environment(stacks: dict[str, StackTemplate]) -> dict[str, list[StackTemplate]]:
    envs: dict[str, list[StackTemplate]] = {}
    for name, stack in stacks.items():
        envs.setdefault(name.split("/")[0], []).append(stack)
    return envs


def environment_estimate(env: str, stacks: list[StackTemplate],
                         usage: UsageConfig | None = None) -> Estimate:
    """One stage's estimate. A stage that is no environment (the delivery stage: the deploy
    roles and their OIDC provider) has no usage model; it is $0 only if every one of its
    resources is free, else an error naming the stage."""
    if env not in ENVIRONMENTS and all(_free(r.get("Type")) for s in stacks
                                       for r in s.template.get("Resources", {}).values()):
        return Estimate(env, [])
    if env not in ENVIRONMENTS:
        raise CostError(f"no usage model for environment {env!r} "
                        f"(infra/environments.py has {', '.join(sorted(ENVIRONMENTS))})")
    return estimate(ENVIRONMENTS[env](), stacks, usage)


# Lambda allocates CPU in proportion to memory: one full vCPU at 1,769 MB. A CPU-second of
# image work therefore costs 1.769 GB-seconds, whatever memory size the function has.
MB_PER_VCPU = 1769
RENDER_PRICE_DIMENSION = "lambda.compute.arm64"


@dataclass(frozen=True)
class RenderingCompute:
    """Renditions prepared once per original vs rendered on every cache miss (the anchor)."""

    originals: float            # product originals rendered a month (duplicates copy, not render)
    prepared_cpu_seconds: float
    anchor_renders: float       # CDN misses for product renditions a month: each one a render
    anchor_cpu_seconds: float
    usd_per_cpu_second: float

    @property
    def prepared_usd(self) -> float:
        return self.prepared_cpu_seconds * self.usd_per_cpu_second

    @property
    def anchor_usd(self) -> float:
        return self.anchor_cpu_seconds * self.usd_per_cpu_second


def rendering_compute(usage: UsageConfig, region: str,
                      table: PriceTable | None = None) -> RenderingCompute:
    """A month of image compute both ways, at arm64 Lambda's GB-second price in ``region``.

    Prepared once: each product original not tagged as a duplicate is rendered once (its whole
    stored set). Rendered per miss: every CDN request for a product rendition that misses the
    cache (the same misses that reach S3 today, ``cdn_cache_hit_ratio``) is a render, in
    whichever edge location or Region missed: an on-the-fly renderer has nothing stored to
    copy, so the set is rendered again after each eviction and in each place it is missed.
    """
    table = table or default_table()
    product_share = usage.upload_mix.get("product-image", (0.0, 0.0))[0]
    originals = usage.uploads_per_day * MONTH_DAYS * product_share * (1 - usage.duplicate_share)
    renders = (sum(usage.cdn_requests_per_month.values()) * usage.cdn_image_request_share
               * (1 - usage.cdn_cache_hit_ratio))
    price = table.get(region, RENDER_PRICE_DIMENSION)
    return RenderingCompute(
        originals=originals,
        prepared_cpu_seconds=originals * usage.rendition_cpu_seconds_per_original,
        anchor_renders=renders,
        anchor_cpu_seconds=renders * usage.anchor_cpu_seconds_per_render,
        usd_per_cpu_second=price.cost(MB_PER_VCPU / 1024),
    )
