"""What the review knows about CloudFormation: replacement, statefulness, security relevance.

REPLACES is a curated subset, not the whole registry: the resource types this estate uses (and
close neighbours), with the properties whose change makes CloudFormation *replace* the resource
(property reference: "Update requires: Replacement"; registry schema: `createOnlyProperties`).
`tests/review/test_review_rules.py` cross-checks it both ways against the registry schemas that
ship with cfn-lint (every entry create-only there, every create-only property here); the few
entries taken from the property reference alone are listed in DOCUMENTED_ONLY.
A modified resource of a type not listed reports replacement "unknown" with its changed
properties, so the reviewer checks it rather than the tool guessing "no".
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tools.review.cfn import MISSING, render

REPLACES: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in {
    "AWS::S3::Bucket": {"BucketName", "BucketNamePrefix", "BucketNamespace"},
    "AWS::S3::BucketPolicy": {"Bucket"},
    "AWS::S3::AccessPoint": {"Name", "Bucket", "VpcConfiguration", "BucketAccountId"},
    "AWS::KMS::Key": set(),  # immutable properties fail the update instead: see UPDATE_FAILS
    "AWS::KMS::Alias": {"AliasName"},
    "AWS::DynamoDB::Table": {"TableName", "KeySchema", "LocalSecondaryIndexes",
                             "ImportSourceSpecification"},  # + key AttributeDefinitions, see diff
    "AWS::DynamoDB::GlobalTable": {"TableName", "KeySchema", "LocalSecondaryIndexes"},
    "AWS::Lambda::Function": {"FunctionName", "PackageType", "TenancyConfig"},
    "AWS::Lambda::Permission": {"Action", "FunctionName", "Principal", "SourceArn",
                                "SourceAccount", "PrincipalOrgID", "FunctionUrlAuthType",
                                "EventSourceToken", "InvokedViaFunctionUrl"},
    "AWS::Lambda::Version": {"FunctionName", "Description", "CodeSha256",
                             "ProvisionedConcurrencyConfig", "RuntimePolicy"},
    "AWS::Lambda::Alias": {"Name", "FunctionName"},
    "AWS::IAM::Role": {"RoleName", "Path"},
    "AWS::IAM::Policy": set(),
    "AWS::IAM::ManagedPolicy": {"ManagedPolicyName", "Path", "Description"},
    "AWS::SQS::Queue": {"QueueName", "FifoQueue"},
    "AWS::SQS::QueuePolicy": set(),
    "AWS::SNS::Topic": {"TopicName", "FifoTopic"},
    "AWS::SNS::TopicPolicy": set(),
    "AWS::Logs::LogGroup": {"LogGroupName"},
    "AWS::Logs::SubscriptionFilter": {"FilterName", "LogGroupName"},
    # CloudFront distributions, OAC and policies update in place; only name-keyed ones replace.
    "AWS::CloudFront::Distribution": set(),
    "AWS::CloudFront::OriginAccessControl": set(),
    "AWS::CloudFront::CloudFrontOriginAccessIdentity": set(),
    "AWS::CloudFront::ResponseHeadersPolicy": set(),
    "AWS::CloudFront::CachePolicy": set(),
    "AWS::CloudFront::Function": {"Name"},
    "AWS::CloudFront::KeyValueStore": {"Name"},
    "AWS::Route53::RecordSet": {"HostedZoneId", "HostedZoneName", "Name", "Type"},
    "AWS::Route53::HostedZone": {"Name", "DelegationSetId"},
    "AWS::CertificateManager::Certificate": {"DomainName", "SubjectAlternativeNames",
                                             "DomainValidationOptions", "ValidationMethod",
                                             "KeyAlgorithm", "CertificateAuthorityArn",
                                             "CertificateExport"},
    "AWS::WAFv2::WebACL": {"Name", "Scope"},
    "AWS::WAFv2::IPSet": {"Name", "Scope"},
    "AWS::WAFv2::WebACLAssociation": {"ResourceArn", "WebACLArn"},
    "AWS::Backup::BackupVault": {"BackupVaultName", "EncryptionKeyArn"},
    "AWS::Backup::BackupPlan": set(),
    "AWS::Backup::BackupSelection": {"BackupPlanId", "BackupSelection"},
    "AWS::Events::Rule": {"Name"},
    "AWS::SSM::Parameter": {"Name"},
    "AWS::CloudWatch::Alarm": {"AlarmName"},
}.items()}

# Entries from the property reference that the registry schemas do not list as create-only:
# a DynamoDB key or LSI cannot change in place; a DNS record is identified by its name and type,
# so changing either deletes the old record and creates a new one; ACM cannot re-validate.
DOCUMENTED_ONLY: dict[str, frozenset[str]] = {
    "AWS::DynamoDB::Table": frozenset({"KeySchema", "LocalSecondaryIndexes"}),
    "AWS::DynamoDB::GlobalTable": frozenset({"KeySchema", "LocalSecondaryIndexes"}),
    "AWS::Route53::RecordSet": frozenset({"Name", "Type"}),
    "AWS::CertificateManager::Certificate": frozenset({"ValidationMethod"}),
}

# Changing these makes the update FAIL, whatever UpdateReplacePolicy says (KMS guards its keys).
UPDATE_FAILS: dict[str, frozenset[str]] = {
    "AWS::KMS::Key": frozenset({"KeySpec", "KeyUsage", "Origin", "MultiRegion"}),
}

# Resources that hold data (or, for keys, make data readable): replacing or deleting them loses it.
STATEFUL: frozenset[str] = frozenset({
    "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable",
    "AWS::Logs::LogGroup", "AWS::SQS::Queue", "AWS::Cognito::UserPool", "AWS::Backup::BackupVault",
    "AWS::RDS::DBInstance", "AWS::RDS::DBCluster", "AWS::EFS::FileSystem", "AWS::Kinesis::Stream",
    "AWS::SecretsManager::Secret", "AWS::OpenSearchService::Domain", "AWS::EC2::Volume",
})

# Deletion/UpdateReplace policies that keep the data; an absent policy means Delete.
RETAINING: frozenset[str] = frozenset({"Retain", "RetainExceptOnCreate"})
# Snapshot keeps the data only for the types CloudFormation can snapshot (the DeletionPolicy
# attribute's reference); CDK lets it be set on a bucket or a table all the same.
SNAPSHOT_TYPES: frozenset[str] = frozenset({
    "AWS::EC2::Volume", "AWS::ElastiCache::CacheCluster", "AWS::ElastiCache::ReplicationGroup",
    "AWS::Neptune::DBCluster", "AWS::RDS::DBCluster", "AWS::RDS::DBInstance",
    "AWS::Redshift::Cluster", "AWS::DocDB::DBCluster",
})


def retains(policy: str, rtype: str) -> bool:
    """Does this Deletion/UpdateReplace policy keep the resource's data?"""
    return policy in RETAINING or (policy == "Snapshot" and rtype in SNAPSHOT_TYPES)

# Properties holding IAM-style policy documents (IAM::Role inline Policies are handled in diff).
POLICY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "AWS::S3::BucketPolicy": ("PolicyDocument",),
    "AWS::IAM::Policy": ("PolicyDocument",),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument",),
    "AWS::IAM::Role": ("AssumeRolePolicyDocument",),
    "AWS::KMS::Key": ("KeyPolicy",),
    "AWS::SQS::QueuePolicy": ("PolicyDocument",),
    "AWS::SNS::TopicPolicy": ("PolicyDocument",),
}

# Other security- or data-relevant properties: any change is listed in the security section.
SECURITY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "AWS::S3::Bucket": ("PublicAccessBlockConfiguration", "BucketEncryption", "AccessControl",
                        "VersioningConfiguration", "ReplicationConfiguration",
                        "LifecycleConfiguration", "ObjectLockEnabled", "ObjectLockConfiguration",
                        "OwnershipControls"),
    "AWS::KMS::Key": ("EnableKeyRotation", "Enabled", "PendingWindowInDays"),
    "AWS::IAM::Role": ("ManagedPolicyArns", "PermissionsBoundary"),
    "AWS::IAM::User": ("ManagedPolicyArns", "PermissionsBoundary"),
    "AWS::IAM::Group": ("ManagedPolicyArns",),
    "AWS::IAM::Policy": ("Roles", "Users", "Groups"),
    "AWS::IAM::ManagedPolicy": ("Roles", "Users", "Groups"),
    "AWS::DynamoDB::Table": ("SSESpecification", "PointInTimeRecoverySpecification",
                             "DeletionProtectionEnabled"),
    "AWS::Logs::LogGroup": ("RetentionInDays", "KmsKeyId"),
    "AWS::SQS::Queue": ("KmsMasterKeyId", "SqsManagedSseEnabled", "MessageRetentionPeriod"),
    "AWS::WAFv2::WebACL": ("Rules", "DefaultAction"),
    "AWS::CloudFront::Distribution": ("DistributionConfig",),  # narrowed by CLOUDFRONT_WORDS
    "AWS::CloudFront::OriginAccessControl": ("OriginAccessControlConfig",),
    "AWS::Lambda::Permission": ("Principal", "SourceArn", "SourceAccount", "FunctionUrlAuthType"),
    "AWS::Lambda::Url": ("AuthType", "Cors"),
}

# Of a distribution's config, only these settings are security-relevant (origin access, TLS, WAF).
CLOUDFRONT_WORDS = ("ViewerProtocolPolicy", "OriginAccessControlId", "OriginAccessIdentity",
                    "WebACLId", "MinimumProtocolVersion", "TrustedKeyGroups", "Logging")


def _shorter(old: Any, new: Any) -> bool:
    return isinstance(new, int | float) and (old is MISSING or (isinstance(old, int | float)
                                                                 and new < old))


def _days(old: Any, new: Any, what: str) -> str:
    return (f"{what} shortened {old} → {new} days" if old is not MISSING
            else f"{what} now after {new} days")


def _rule_id(path: str) -> str:
    return path.split("[", 1)[1].split("]", 1)[0]


def _now(old: Any, new: Any) -> str:
    """`old → new` on a modified resource, just `new` on an added one (old is MISSING)."""
    return f"{new}" if old is MISSING else f"{old} → {new}"


@dataclass(frozen=True)
class Weakening:
    """A changed leaf that weakens protection: (type, path test, old/new test, message).

    `on_create`: the rule also applies to an added resource, with old MISSING; only set for
    settings that are a risk by their value alone (public, unauthenticated, plain HTTP, an
    administrator policy). Rules about *losing* a protection (versioning, retention, rotation,
    PITR, WAF rules) do not: a new resource has nothing yet to lose, and flagging every default
    would bury the real findings of a first deploy under noise."""
    rtype: str
    matches: Callable[[str], bool]
    weakens: Callable[[Any, Any], bool]
    message: Callable[[str, Any, Any], str]
    on_create: bool = False


def _leaf(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def _origin_leaf(path: str) -> str:
    """`OriginAccessControlId of origin `assets`` for a per-origin setting: two origins losing
    the same setting must read as two different findings."""
    origin = re.search(r"Origins\[([^\]]+)\]", path)
    return _leaf(path) + (f" of origin `{origin.group(1)}`" if origin else "")


# AWS managed policies that grant (nearly) everything, or everything of a service: attaching
# one is a widening however the role's own statements read.
PRIVILEGED_MANAGED_POLICY = re.compile(r"(?:^|/)(AdministratorAccess[\w-]*|PowerUserAccess"
                                       r"|[\w-]*FullAccess[\w-]*)$")


def _managed_policies(value: Any) -> set[str]:
    values = value if isinstance(value, list) else [] if value is MISSING else [value]
    return {render(v) for v in values}


def privileged_policies_gained(old: Any, new: Any) -> list[str]:
    gained = _managed_policies(new) - _managed_policies(old)
    return sorted(m.group(1) for arn in gained if (m := PRIVILEGED_MANAGED_POLICY.search(arn)))


S3 = "AWS::S3::Bucket"
KMS_SSE = ("aws:kms", "aws:kms:dsse")
WEAKENINGS: tuple[Weakening, ...] = (
    Weakening(S3, lambda p: p.startswith("PublicAccessBlockConfiguration."),
              # New: only an explicit false. An absent block is S3's default, all four on.
              lambda o, n: o is True and n is not True or o is MISSING and n is False,
              lambda p, o, n: f"public access block: {_leaf(p)} {_now(o, n)}",
              on_create=True),
    Weakening(S3, lambda p: p.endswith("SSEAlgorithm"),
              lambda o, n: o in KMS_SSE and n not in KMS_SSE,
              lambda p, o, n: f"bucket encryption {o} → {n}"),
    Weakening(S3, lambda p: p == "AccessControl",
              lambda o, n: isinstance(n, str) and n.startswith(("Public", "AuthenticatedRead")),
              lambda p, o, n: f"canned ACL {_now(o, n)}", on_create=True),
    Weakening(S3, lambda p: p == "VersioningConfiguration.Status",
              lambda o, n: o == "Enabled" and n != "Enabled",
              lambda p, o, n: f"versioning {o} → {n}"),
    Weakening(S3, lambda p: p.startswith("ReplicationConfiguration.Rules[") and p.endswith(".Status"),
              lambda o, n: o == "Enabled" and n != "Enabled",
              lambda p, o, n: f"replication rule `{_rule_id(p)}` "
              + ("removed" if n is MISSING else f"{o} → {n}")),
    Weakening(S3, lambda p: p.startswith("LifecycleConfiguration.Rules[")
              and p.endswith((".ExpirationInDays", ".NoncurrentVersionExpirationInDays",
                              "NoncurrentVersionExpiration.NoncurrentDays")),
              _shorter,
              lambda p, o, n: f"lifecycle rule `{_rule_id(p)}`: "
              + _days(o, n, "noncurrent-version expiration" if "Noncurrent" in p else "expiration")),
    Weakening(S3, lambda p: p.startswith("LifecycleConfiguration.Rules[") and p.endswith(".Status"),
              lambda o, n: o == "Disabled" and n == "Enabled",
              lambda p, o, n: f"lifecycle rule `{_rule_id(p)}` enabled"),
    Weakening(S3, lambda p: p == "ObjectLockEnabled",
              lambda o, n: o is True and n is not True,
              lambda p, o, n: f"Object Lock {o} → {n}"),
    Weakening(S3, lambda p: p == "ObjectLockConfiguration.Rule.DefaultRetention.Mode",
              lambda o, n: o == "COMPLIANCE" and n != "COMPLIANCE",
              lambda p, o, n: f"Object Lock mode {o} → {n}"),
    Weakening("AWS::KMS::Key", lambda p: p == "EnableKeyRotation",
              lambda o, n: o is True and n is not True,
              lambda p, o, n: f"key rotation {o} → {n}"),
    Weakening("AWS::Logs::LogGroup", lambda p: p == "RetentionInDays",
              lambda o, n: _shorter(o, n),
              lambda p, o, n: _days(o, n, "log retention")),
    Weakening("AWS::DynamoDB::Table", lambda p: p.endswith(("PointInTimeRecoveryEnabled",
                                                             "DeletionProtectionEnabled")),
              lambda o, n: o is True and n is not True,
              lambda p, o, n: f"{_leaf(p)} {o} → {n}"),
    Weakening("AWS::WAFv2::WebACL", lambda p: p.startswith("Rules[") and p.endswith(".Priority"),
              lambda o, n: o is not MISSING and n is MISSING,
              lambda p, o, n: f"WAF rule `{_rule_id(p)}` removed"),
    Weakening("AWS::WAFv2::WebACL",
              lambda p: p.startswith("Rules[") and p.endswith(("Action.Count", "Action.Allow")),
              lambda o, n: o is MISSING and n is not MISSING,
              lambda p, o, n: f"WAF rule `{_rule_id(p)}` now {_leaf(p)}s matching requests"),
    Weakening("AWS::WAFv2::WebACL", lambda p: p == "DefaultAction.Allow",
              lambda o, n: o is MISSING and n is not MISSING,
              lambda p, o, n: "WAF default action is now Allow"),
    Weakening("AWS::CloudFront::Distribution", lambda p: p.endswith("ViewerProtocolPolicy"),
              lambda o, n: n == "allow-all",
              lambda p, o, n: f"viewer protocol {_now(o, n)} (plain HTTP served)",
              on_create=True),
    Weakening("AWS::CloudFront::Distribution",
              lambda p: p.endswith(("OriginAccessControlId", "OriginAccessIdentity", "WebACLId")),
              lambda o, n: o not in (MISSING, "") and n in (MISSING, ""),
              lambda p, o, n: f"{_origin_leaf(p)} removed"),
    Weakening("AWS::CloudFront::OriginAccessControl", lambda p: p.endswith("SigningBehavior"),
              lambda o, n: n == "never",
              lambda p, o, n: f"origin access control signing {_now(o, n)}", on_create=True),
    Weakening("AWS::Lambda::Url", lambda p: p == "AuthType",
              lambda o, n: n == "NONE", lambda p, o, n: "function URL is now unauthenticated",
              on_create=True),
    Weakening("AWS::Lambda::Permission", lambda p: p == "Principal",
              lambda o, n: n == "*", lambda p, o, n: "invoke permission granted to `*`",
              on_create=True),
    *(Weakening(rtype, lambda p: p == "ManagedPolicyArns",
                lambda o, n: bool(privileged_policies_gained(o, n)),
                lambda p, o, n: "**managed policy attached**: " + ", ".join(
                    f"`{name}`" for name in privileged_policies_gained(o, n)),
                on_create=True)
      for rtype in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")),
)


def object_lock_days(props: dict[str, Any]) -> int | None:
    """Default Object Lock retention in days (Years count 365), None without a default rule."""
    retention = (props.get("ObjectLockConfiguration") or {}).get("Rule", {}).get(
        "DefaultRetention", {})
    if isinstance(retention.get("Days"), int):
        return int(retention["Days"])
    if isinstance(retention.get("Years"), int):
        return int(retention["Years"]) * 365
    return None
