"""The content-hash dedup index: one DynamoDB item per distinct SHA-256.

Written by the upload hasher (the only writer), read by the presign API.
Item shape (partition key ``sha256``, no sort key)::

    sha256      S  64 lowercase hex characters
    key         S  the canonical object key (first upload of these bytes)
    version_id  S  the canonical object version
    size        N  bytes
    first_seen  S  ISO-8601 UTC timestamp of the first upload

The table name reaches every handler as the ``DEDUP_TABLE_NAME`` environment variable.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

PARTITION_KEY = "sha256"
TABLE_ENV = "DEDUP_TABLE_NAME"

SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class CanonicalObject:
    sha256: str
    key: str
    version_id: str
    size: int
    first_seen: str

    @classmethod
    def from_item(cls, item: dict) -> "CanonicalObject":
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
