"""One environment's configuration: accounts, regions, days, each concern's settings, and every
physical name derived from them."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .browser_uploads import BucketCorsConfig
from .cdn import CdnConfig, CdnNames
from .common import MAX_LOG_RETENTION_DAYS, MAX_OBJECT_LOCK_DAYS, ConfigError, _check_whole
from .delivery import BOOTSTRAP_ROLE_KINDS, DeliveryConfig
from .layout import layout_replica_bucket_name
from .monitoring import MonitoringConfig
from .recovery import RecoveryConfig
from .renditions import RenditionsConfig
from .tiering import ObjectExpiry
from .upload_api import UploadApiConfig
from .upload_gate import UploadGateConfig, UploadGateNames
from .usage import UsageConfig

# The failover switch (docs/multi-region-writes.md): a metric `make failover` writes in the
# replica region with PutMetricData, an alarm on it there, and the Route 53 check on that alarm
# that the PRIMARY record's calculated check needs healthy. 1 pins writes to the replica
# region, 0 releases them. No Route 53 or us-east-1 call is needed to move writes.
WRITE_SWITCH_NAMESPACE = "StorageEstate/WriteFailover"
WRITE_SWITCH_METRIC = "WritesPinnedToReplicaRegion"
WRITE_SWITCH_PINNED, WRITE_SWITCH_RELEASED = 1, 0

_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d")
# The estate writes its ARNs in the commercial partition (arn:aws:...): GovCloud, China and
# the ISO Regions have partitions of their own.
_OTHER_PARTITION = re.compile(r"(cn|[a-z]{2}-gov|[a-z]{2}-iso[a-z]?)-.*")
# S3 general purpose bucket naming rules, minus the forms S3 reserves.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_ORG = re.compile(r"[a-z0-9][a-z0-9-]{0,20}[a-z0-9]")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_IAM_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)  # IAM: ASCII letters only


# IAM role names, Lambda function names and EventBridge rule names: at most 64 characters.
MAX_DERIVED_NAME = 64


def _fail(env: str, field_name: str, problem: str) -> None:
    raise ConfigError(f"config '{env}': {field_name} {problem}")


# Prefixes and suffixes S3 reserves (general purpose bucket naming rules).
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3")


def _check_bucket_name(env: str, field_name: str, name: str) -> None:
    if not _BUCKET.fullmatch(name) or ".." in name or name.startswith(_RESERVED_PREFIXES) \
            or name.endswith(_RESERVED_SUFFIXES) or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        _fail(env, field_name, f"'{name}' is not a valid S3 bucket name "
              "(3-63 lowercase letters, digits, dots or hyphens)")


def function_log_group_name(function_name: str) -> str:
    """Every estate function logs to its own group under ``/estate/lambda/``."""
    return f"/estate/lambda/{function_name}"


@dataclass(frozen=True)
class EnvironmentConfig:
    """Everything that differs between environments. Regions, names and days only:
    the rules (encryption, TLS, replication shape) are the constructs' business."""

    name: str
    account: str
    org: str
    alarm_email: str
    primary_region: str = "us-east-1"
    replica_region: str = "us-west-2"
    backups_region: str = "us-west-2"
    noncurrent_version_expiration_days: int = 90
    noncurrent_glacier_ir_after_days: int = 30
    exports_expiration_days: int = 7
    access_log_retention_days: int = 365
    backups_retention_days: int = 35
    backups_deep_archive_after_days: int = 30
    backups_compliance_mode: bool = False
    # Off (None) unless every client can find a duplicate's bytes by another key. The hasher
    # tags a duplicate only after the upload API has handed its key to a client (no dedup
    # answer yet, no sha256 given, or a copy too young to name), and a client keeps that key:
    # expiring it turns the client's stored key into a 404 and leaves its renditions without an
    # original to render from. Tagging goes on either way (what could be reclaimed).
    duplicate_expiration_days: int | None = None
    termination_protection: bool = True
    upload_api: UploadApiConfig = field(default_factory=UploadApiConfig)
    cdn: CdnConfig = field(default_factory=CdnConfig)
    chat_webhook_url: str | None = None
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)
    usage: UsageConfig = field(default_factory=UsageConfig)
    assets_cors: BucketCorsConfig = field(default_factory=BucketCorsConfig)
    # The only principal that may disable, delete or re-policy the backups and replica keys
    # (and so the only way to change those key policies through CloudFormation: deploy with
    # it as the execution role). Owned by the security team, outside the estate.
    break_glass_role_name: str = "storage-estate-break-glass"
    # Logs of CDK's own custom-resource functions (the dedup replica's deploy-time calls): a
    # year, like every estate log group (Control Tower CT.CLOUDWATCH.PR.2 asks for one).
    cdk_function_log_retention_days: int = 365
    upload_gate: UploadGateConfig = field(default_factory=UploadGateConfig)
    renditions: RenditionsConfig = field(default_factory=RenditionsConfig)
    recovery: RecoveryConfig = field(default_factory=RecoveryConfig)
    # The replica bucket's rule back to the assets bucket. S3 refuses a rule whose destination
    # does not exist yet: only a brand-new environment's first deploy sets it False
    # (``-c first_deploy=true``); every later deploy has it.
    replicate_back: bool = True
    # GitHub Actions may deploy this environment (None: only people, with their own credentials).
    delivery: DeliveryConfig | None = None

    def __post_init__(self) -> None:
        env = self.name or "<unnamed>"
        if not re.fullmatch(r"[a-z][a-z0-9]{1,9}", self.name or ""):
            _fail(env, "name", "must be 2-10 lowercase letters or digits")
        if not self.account:
            _fail(env, "account", "is missing (a 12-digit AWS account id)")
        if not _ACCOUNT.fullmatch(self.account):
            _fail(env, "account", f"'{self.account}' is not a 12-digit AWS account id")
        if not _ORG.fullmatch(self.org or ""):
            _fail(env, "org", f"'{self.org}' must be lowercase letters, digits or hyphens")
        for region_field in ("primary_region", "replica_region", "backups_region"):
            value = getattr(self, region_field)
            if not _REGION.fullmatch(value or ""):
                _fail(env, region_field, f"'{value}' is not an AWS region name")
            if _OTHER_PARTITION.fullmatch(value):
                _fail(env, region_field, f"'{value}' is outside the commercial partition (aws), "
                      "where every ARN the estate writes lives")
        if self.primary_region != "us-east-1":
            # CloudFront certificates, WAF (CLOUDFRONT scope) and their metrics live there.
            _fail(env, "primary_region", "must be us-east-1 (CloudFront, ACM and WAF scope)")
        if self.replica_region == self.primary_region:
            _fail(env, "replica_region",
                  f"must differ from primary_region ({self.primary_region}): "
                  "cross-region replication needs a second region")
        _check_whole(f"config '{env}'", self, (
            "noncurrent_version_expiration_days", "noncurrent_glacier_ir_after_days",
            "exports_expiration_days", "access_log_retention_days",
            "backups_deep_archive_after_days"), 1, unit="of days ")
        if self.duplicate_expiration_days is not None:
            _check_whole(f"config '{env}'", self, ("duplicate_expiration_days",), 1,
                         unit="of days ")
        _check_whole(f"config '{env}'", self, ("backups_retention_days",), 1,
                     MAX_OBJECT_LOCK_DAYS, unit="of days ")
        _check_whole(f"config '{env}'", self, ("cdk_function_log_retention_days",), 1,
                     MAX_LOG_RETENTION_DAYS, unit="of days ")
        if self.noncurrent_version_expiration_days <= self.noncurrent_glacier_ir_after_days:
            _fail(env, "noncurrent_version_expiration_days",
                  "must be greater than noncurrent_glacier_ir_after_days")
        if self.noncurrent_version_expiration_days < self.recovery.continuous_backup_days:
            # The restore tool works from noncurrent versions: they must reach at least as far
            # back as the point-in-time backups, or the cheap, self-service layer has a hole.
            _fail(env, "noncurrent_version_expiration_days",
                  f"({self.noncurrent_version_expiration_days}) must be at least "
                  f"recovery.continuous_backup_days ({self.recovery.continuous_backup_days})")
        if not _EMAIL.fullmatch(self.alarm_email or ""):
            _fail(env, "alarm_email", f"'{self.alarm_email}' is not an email address")
        for name in (self.assets_bucket_name, self.replica_bucket_name, self.backups_bucket_name,
                     *map(self.access_log_bucket_name, self.regions)):
            _check_bucket_name(env, "org", name)
        for what, name in self._derived_names():
            if len(name) > MAX_DERIVED_NAME:
                _fail(env, "org", f"'{self.org}' with name '{self.name}' makes the {what} "
                      f"{name!r} {len(name)} characters long (IAM, Lambda and EventBridge "
                      f"allow {MAX_DERIVED_NAME}): shorten org or name")
        url = self.chat_webhook_url
        if url is not None and (not isinstance(url, str) or not url.startswith("https://")
                                or len(url) <= len("https://")):
            _fail(env, "chat_webhook_url", "must be an https:// URL (SNS delivers to it over TLS)")
        unknown = sorted(set(self.usage.upload_mix) - set(self.upload_api.kinds))
        if unknown:
            _fail(env, "usage.upload_mix", f"names upload kinds upload_api does not define: "
                  f"{', '.join(unknown)}")
        if self.delivery is not None and not isinstance(self.delivery, DeliveryConfig):
            _fail(env, "delivery", f"must be a DeliveryConfig or None (got {self.delivery!r})")
        if not isinstance(self.break_glass_role_name, str) \
                or not _IAM_ROLE_NAME.fullmatch(self.break_glass_role_name):
            _fail(env, "break_glass_role_name", f"{self.break_glass_role_name!r} is not an IAM "
                  "role name (1-64 letters, digits or +=,.@_-)")

    # Physical names: stable, derived, never typed twice.
    def _derived_names(self) -> list[tuple[str, str]]:
        """(what, name) of every role, function and rule name the estate derives from the
        org and the environment's name."""
        roles = sorted({attr for klass in type(self).__mro__ for attr, value in vars(klass).items()
                        if attr.endswith("_role_name") and isinstance(value, property)})
        gate = self.upload_gate_names
        return [
            *((f"role name ({attr})", getattr(self, attr)) for attr in roles),
            *(("function name", name) for name in (
                self.upload_hasher_name, self.renditions_name, gate.verdict_function,
                *(f(region) for region in (self.primary_region, self.replica_region)
                  for f in (self.presign_name_in, self.write_health_name_in)),
                self.dedup_replica_guard_name_in(self.replica_region))),
            *(("rule name", name) for name in (
                gate.uploads_rule, gate.not_clean_rule, gate.tagging_failed_rule,
                *map(gate.release_rule, gate.RELEASE_CONSUMERS),
                self.backup_jobs_failed_rule, self.backup_points_stopped_rule)),
        ]

    @property
    def assets_bucket_name(self) -> str:
        return f"{self.org}-assets-{self.name}"

    @property
    def replica_bucket_name(self) -> str:
        return layout_replica_bucket_name(self.assets_bucket_name)

    @property
    def backups_bucket_name(self) -> str:
        return f"{self.org}-backups-{self.name}"

    @property
    def replication_role_name(self) -> str:
        return f"{self.assets_bucket_name}-replication"

    # Each data bucket's key is aliased after its bucket.
    @property
    def assets_key_alias(self) -> str:
        return f"alias/{self.assets_bucket_name}"

    @property
    def replica_key_alias(self) -> str:
        return f"alias/{self.replica_bucket_name}"

    @property
    def backups_key_alias(self) -> str:
        return f"alias/{self.backups_bucket_name}"

    @property
    def replica_key_alias_arn(self) -> str:
        """S3 accepts an alias ARN as a rule's ReplicaKmsKeyID: the Assets stack names the
        replica key without referencing it."""
        return f"arn:aws:kms:{self.replica_region}:{self.account}:{self.replica_key_alias}"

    @property
    def replication_role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.replication_role_name}"

    @property
    def reverse_replication_role_name(self) -> str:
        """The role S3 assumes to replicate writes made in the replica region back."""
        return f"{self.replica_bucket_name}-replication"

    @property
    def reverse_replication_role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.reverse_replication_role_name}"

    @property
    def reverse_batch_replication_role_name(self) -> str:
        """The role S3 Batch Operations assumes to replicate, on the replica bucket's rule back,
        the window uploads whose live replication failed (``tools.reconcile``)."""
        return f"{self.replica_bucket_name}-batch-replication"

    @property
    def reverse_batch_replication_role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.reverse_batch_replication_role_name}"

    @property
    def assets_key_alias_arn(self) -> str:
        """The reverse rule names the assets key by alias ARN, like the forward rule the
        replica key: the Replica stack deploys first and cannot reference it."""
        return f"arn:aws:kms:{self.primary_region}:{self.account}:{self.assets_key_alias}"

    @property
    def upload_domain_name(self) -> str | None:
        """The one upload hostname browsers use, answered by whichever region serves writes
        (Route 53 failover records); None without a hosted zone (dev: each region's
        execute-api URL, no failover)."""
        zone = self.cdn.hosted_zone_name
        return f"uploads.{zone}" if zone else None

    def presign_name_in(self, region: str) -> str:
        """The presign function of the write path in ``region`` (the primary keeps its name)."""
        return self.presign_name if region == self.primary_region \
            else f"{self.presign_name}-{region}"

    def upload_api_name_in(self, region: str) -> str:
        return self.upload_api_name if region == self.primary_region \
            else f"{self.upload_api_name}-{region}"

    def upload_api_access_log_group_name_in(self, region: str) -> str:
        return f"/estate/apigateway/{self.upload_api_name_in(region)}"

    def dedup_replica_guard_name_in(self, region: str) -> str:
        """The function that keeps the dedup index's replica in ``region`` protected."""
        return f"{self.org}-{self.name}-dedup-replica-guard-{region}"

    def write_health_name_in(self, region: str) -> str:
        """The function behind the health route of the write path in ``region``."""
        return f"{self.org}-{self.name}-write-health-{region}"

    @property
    def write_switch_alarm_name(self) -> str:
        """The alarm (replica region) on the failover switch's metric: ALARM pins writes to
        the replica region (its Route 53 check turns unhealthy)."""
        return f"{self.alarm_name_prefix}-Writes-Pinned-To-{self.replica_region}"

    @property
    def write_switch_dimensions(self) -> dict[str, str]:
        return {"Environment": self.name}

    @property
    def writes_served_by_replica_alarm_name(self) -> str:
        """The primary region's alarm on the PRIMARY record's calculated check (Route 53
        publishes its HealthCheckStatus there): ALARM while the replica region serves writes
        (``write_alarms.writes_failed_over_alarm``)."""
        return f"{self.alarm_name_prefix}-Writes-Served-By-{self.replica_region}-Critical"

    def dedup_index_key_description_in(self, region: str) -> str:
        return f"Encrypts the dedup index of the {self.name} write path in {region}"

    @property
    def upload_hasher_name(self) -> str:
        """The upload hasher function (log group, role and policy descriptions)."""
        return f"{self.org}-{self.name}-upload-hasher"

    @property
    def presign_name(self) -> str:
        """The presign function (log group, descriptions) and its JWT authorizer's prefix."""
        return f"{self.org}-{self.name}-presign"

    @property
    def upload_api_name(self) -> str:
        return f"{self.org}-{self.name}-uploads"

    @property
    def upload_api_access_log_group_name(self) -> str:
        return f"/estate/apigateway/{self.upload_api_name}"

    @property
    def object_expiry(self) -> ObjectExpiry:
        gate = self.upload_gate
        return ObjectExpiry(
            exports_days=self.exports_expiration_days,
            duplicates_days=self.duplicate_expiration_days,
            quarantine_days=gate.quarantine_expiration_days if gate.enabled else None,
            noncurrent_glacier_ir_after_days=self.noncurrent_glacier_ir_after_days,
            noncurrent_expiration_days=self.noncurrent_version_expiration_days)

    @property
    def renditions_name(self) -> str:
        """The renditions function (log group, role and policy descriptions)."""
        return f"{self.org}-{self.name}-renditions"

    @property
    def renditions_backfill_role_name(self) -> str:
        """The role S3 Batch Operations assumes to backfill renditions (tools/backfill names it)."""
        return f"{self.assets_bucket_name}-renditions-backfill"

    @property
    def renditions_backfill_role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.renditions_backfill_role_name}"

    @property
    def cdn_name(self) -> str:
        """The CDN's web ACL (and its metric name); the prefix of its other names."""
        return f"{self.org}-assets-{self.name}"

    @property
    def cdn_names(self) -> CdnNames:
        return CdnNames(self.cdn_name)

    @property
    def cdn_access_log_source_name(self) -> str:
        return self.cdn_names.access_log_source

    @property
    def alarm_name_prefix(self) -> str:
        """Every alarm, alarm topic and topic key alias of the environment starts with it."""
        return f"{self.org}-{self.name}"

    # The EventBridge rules that send AWS Backup's holes to the alarm topic.
    @property
    def backup_jobs_failed_rule(self) -> str:
        return f"{self.alarm_name_prefix}-backup-jobs-failed"

    @property
    def backup_points_stopped_rule(self) -> str:
        return f"{self.alarm_name_prefix}-backup-points-stopped"

    @property
    def alarm_topic_name(self) -> str:
        """The alarm topic of each region the estate alarms in (topic names are regional)."""
        return f"{self.alarm_name_prefix}-alarms"

    @property
    def alarm_topic_key_alias(self) -> str:
        return f"alias/{self.alarm_topic_name}"

    @property
    def dashboard_name(self) -> str:
        return f"{self.org}-storage-estate-{self.name}"

    @property
    def upload_gate_name(self) -> str:
        """Prefix of the upload gate's rules and function."""
        return f"{self.org}-{self.name}-upload-gate"

    @property
    def upload_gate_names(self) -> UploadGateNames:
        return UploadGateNames(self.upload_gate_name)

    @property
    def malware_scan_role_name(self) -> str:
        return f"{self.assets_bucket_name}-malware-scan"

    @property
    def break_glass_role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.break_glass_role_name}"

    @property
    def backups_writer_policy_name(self) -> str:
        return f"{self.backups_bucket_name}-writer"

    @property
    def erasure_audit_policy_name(self) -> str:
        return f"{self.backups_bucket_name}-erasure-audit"

    def cdk_function_log_group_name(self, stack_id: str, function: str) -> str:
        return function_log_group_name(f"{self.org}-{self.name}-{stack_id.lower()}-{function}")

    @property
    def backup_vault_name(self) -> str:
        return f"{self.org}-assets-{self.name}-vault"

    @property
    def backup_vault_key_alias(self) -> str:
        return f"alias/{self.backup_vault_name}"

    @property
    def backup_role_name(self) -> str:
        return f"{self.assets_bucket_name}-backup"

    @property
    def restore_batch_role_name(self) -> str:
        return f"{self.assets_bucket_name}-restore-batch"

    @property
    def github_deploy_role_name(self) -> str:
        """The role a GitHub Actions deploy job of this environment assumes (OIDC)."""
        return f"{self.org}-{self.name}-github-deploy"

    @property
    def github_drift_role_name(self) -> str:
        """The read-only role the scheduled drift check of this environment assumes (OIDC)."""
        return f"{self.org}-{self.name}-github-drift"

    @property
    def github_deploy_role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.github_deploy_role_name}"

    @property
    def github_drift_role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.github_drift_role_name}"

    def bootstrap_role_arns(self, *kinds: str) -> list[str]:
        """The CDK bootstrap roles of this account, in every region the estate uses
        (``cdk-<qualifier>-<kind>-role-<account>-<region>``)."""
        if self.delivery is None:
            raise ConfigError(f"config '{self.name}': delivery is not configured")
        qualifier = self.delivery.bootstrap_qualifier
        return [f"arn:aws:iam::{self.account}:role/cdk-{qualifier}-{kind}-role-"
                f"{self.account}-{region}" for kind in kinds or BOOTSTRAP_ROLE_KINDS
                for region in self.regions]

    def access_log_bucket_name(self, region: str) -> str:
        return f"{self.org}-access-logs-{self.name}-{region}"

    @property
    def regions(self) -> tuple[str, ...]:
        """Every region the estate uses, primary first, without repeats."""
        return tuple(dict.fromkeys((self.primary_region, self.replica_region,
                                    self.backups_region)))
