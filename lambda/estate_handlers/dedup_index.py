"""The content-hash dedup index: one DynamoDB item per distinct SHA-256.

Written by the upload hasher (the only writer), read by the presign API.
Item shape (partition key ``sha256``, no sort key)::

    sha256      S  64 lowercase hex characters
    key         S  the canonical object key (first upload of these bytes)
    version_id  S  the canonical object version
    size        N  bytes
    first_seen  S  ISO-8601 UTC timestamp of the first upload

The table name reaches every handler as the ``DEDUP_TABLE_NAME`` environment variable. The
tags the hasher writes, the partition key and the hashed prefixes are shared names
(``estate_handlers.layout``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from botocore.exceptions import ClientError

from estate_handlers.layout import DEDUP_PARTITION_KEY

PARTITION_KEY = DEDUP_PARTITION_KEY

SHA256_HEX = re.compile(r"[0-9a-f]{64}")

# ``duplicate-of`` when the canonical key is not a valid tag value (over 256 characters or
# outside S3's tag charset): points at the index item instead, i.e. "dedup-index:<sha256>".
DUPLICATE_OF_INDEX_PREFIX = "dedup-index:"


@dataclass(frozen=True)
class CanonicalObject:
    sha256: str
    key: str
    version_id: str
    size: int
    first_seen: str

    @classmethod
    def from_item(cls, item: dict) -> CanonicalObject:
        return cls(
            sha256=item["sha256"]["S"],
            key=item["key"]["S"],
            version_id=item["version_id"]["S"],
            size=int(item["size"]["N"]),
            first_seen=item["first_seen"]["S"],
        )

    def to_item(self) -> dict:
        return {
            "sha256": {"S": self.sha256},
            "key": {"S": self.key},
            "version_id": {"S": self.version_id},
            "size": {"N": str(self.size)},
            "first_seen": {"S": self.first_seen},
        }


def get_canonical(dynamodb, table_name: str, sha256: str) -> CanonicalObject | None:
    """The canonical object for ``sha256``, or None. Strongly consistent: a hash
    recorded a moment ago must dedup the next request."""
    if not SHA256_HEX.fullmatch(sha256):
        raise ValueError("sha256 must be 64 lowercase hex characters")
    resp = dynamodb.get_item(
        TableName=table_name, Key={PARTITION_KEY: {"S": sha256}}, ConsistentRead=True
    )
    item = resp.get("Item")
    return CanonicalObject.from_item(item) if item else None


def put_canonical_if_absent(dynamodb, table_name: str, candidate: CanonicalObject) -> CanonicalObject | None:
    """Record ``candidate`` as the canonical object of its hash unless one exists.

    Returns None when written, else the item that was already there. The condition makes
    the first writer win when two uploads of the same bytes are hashed concurrently.
    """
    try:
        dynamodb.put_item(
            TableName=table_name,
            Item=candidate.to_item(),
            ConditionExpression="attribute_not_exists(#pk)",
            ExpressionAttributeNames={"#pk": PARTITION_KEY},
        )
        return None
    except ClientError as exc:
        if not _condition_failed(exc):
            raise
    existing = get_canonical(dynamodb, table_name, candidate.sha256)
    if existing is None:  # removed by hand between the two calls: nothing to compare with
        raise ConcurrentIndexChange(candidate.sha256)
    return existing


def replace_canonical(dynamodb, table_name: str, old: CanonicalObject, key: str, version_id: str) -> bool:
    """Point the hash at (key, version_id) if it still points at ``old``'s version.

    False when another writer moved it first: the caller re-reads and decides again.
    ``first_seen`` and ``size`` stay: they describe the bytes, not the object holding them.
    """
    try:
        dynamodb.update_item(
            TableName=table_name,
            Key={PARTITION_KEY: {"S": old.sha256}},
            UpdateExpression="SET #key = :key, #version = :version",
            ConditionExpression="#key = :old_key AND #version = :old_version",
            ExpressionAttributeNames={"#key": "key", "#version": "version_id"},
            ExpressionAttributeValues={
                ":key": {"S": key},
                ":version": {"S": version_id},
                ":old_key": {"S": old.key},
                ":old_version": {"S": old.version_id},
            },
        )
        return True
    except ClientError as exc:
        if not _condition_failed(exc):
            raise
        return False


def _condition_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class ConcurrentIndexChange(RuntimeError):
    """The index item changed under us more often than a retry should allow."""
