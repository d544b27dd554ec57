"""S3 and EventBridge ARNs by physical name, and the conditions policies repeat. Policies name
the estate's buckets and rules by literal ARN (not a token), so a queue, key or role policy can
name them without a dependency on the stack or resource that creates them."""
from __future__ import annotations

from collections.abc import Iterable


def bucket_arn(bucket_name: str) -> str:
    return f"arn:aws:s3:::{bucket_name}"


def rule_arn(region: str, account: str, rule_name: str) -> str:
    """An EventBridge rule on the default bus (``rule_name`` may end in ``*``)."""
    return f"arn:aws:events:{region}:{account}:rule/{rule_name}"


def object_arns(bucket_name: str, prefixes: Iterable[str]) -> list[str]:
    """Every object under each prefix (one ARN per prefix, ``<prefix>*``)."""
    return [f"{bucket_arn(bucket_name)}/{prefix}*" for prefix in prefixes]


def via(service: str, region: str) -> dict[str, str]:
    """``kms:ViaService`` for a key used only through ``service`` in ``region`` (a role's key
    statements: the key works for that service's requests, never for a direct KMS call)."""
    return {"kms:ViaService": f"{service}.{region}.amazonaws.com"}


def only_via(service: str, region: str) -> dict[str, dict[str, str]]:
    """Conditions of a key statement that needs nothing but :func:`via`."""
    return {"StringEquals": via(service, region)}


def for_account(account: str) -> dict[str, dict[str, str]]:
    """A service principal acting for this account only (the trusts of the AWS Backup and
    S3 Batch Operations roles)."""
    return {"StringEquals": {"aws:SourceAccount": account}}


def from_bucket(bucket_name: str, account: str) -> dict:
    """Conditions for a service principal acting for this account's bucket only (S3
    notifications): the confused-deputy guard AWS documents."""
    return {"ArnEquals": {"aws:SourceArn": bucket_arn(bucket_name)},
            "StringEquals": {"aws:SourceAccount": account}}
