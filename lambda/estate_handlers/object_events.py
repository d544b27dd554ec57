"""Object events: the one place that turns a queue message into the object versions it names.

Every queue-driven consumer of the estate (upload hasher, renditions, ...) reads its work
through ``objects_in_message``, so the trigger in the infrastructure can change (an S3
``ObjectCreated`` notification today, a "scan passed" event when the upload gate is on)
without touching the code that reads the bytes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote_plus


@dataclass(frozen=True)
class ObjectVersion:
    bucket: str
    key: str
    version_id: str | None  # None: unversioned bucket (the estate's buckets are versioned)


def objects_in_message(body: str) -> list[ObjectVersion]:
    """The object versions an S3 notification (an SQS message body) announces.

    The one-off ``s3:TestEvent`` and non-ObjectCreated records announce none. Keys arrive
    form-encoded (space as ``+``, the rest percent-encoded UTF-8).
    """
    message = json.loads(body)
    if message.get("Event") == "s3:TestEvent":
        return []
    objects = []
    for record in message.get("Records", []):
        if not record.get("eventName", "").startswith("ObjectCreated:"):
            continue
        s3 = record["s3"]
        objects.append(ObjectVersion(
            bucket=s3["bucket"]["name"],
            key=unquote_plus(s3["object"]["key"]),
            version_id=s3["object"].get("versionId") or None,
        ))
    return objects
