"""``GET /health`` of a region's upload API: can this region take a write right now?

Route 53 health checks call it (they cannot sign requests, so the route is the API's only
one without an authorizer; it reads nothing and returns nothing but a status). It asks S3 for
a write into the region's own bucket: a conditional PutObject (``If-None-Match: *``) of one
fixed key. The first call creates the object (through SSE-KMS with the bucket's key); every
later call is answered 412 by S3's write path after it evaluated the request, which proves the
path answers without adding a version per probe (Route 53 probes ~30 times a minute; a plain
PUT would pile up noncurrent versions and replicate each one).

200 ``{"status": "ok"}``: S3 took or evaluated the write. 503: it did not (error, timeout).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from estate_handlers.runtime import client, logger, once, region, require_env

BUCKET_ENV = "WRITE_HEALTH_BUCKET"
HEALTH_KEY_PREFIX = "ops/write-health/"
# A Route 53 checker wants the response within 2 s of connecting: a slower S3 is an unhealthy one.
# One attempt in all (botocore's "max_attempts" counts retries, "total_max_attempts" attempts).
_CONFIG = Config(connect_timeout=1, read_timeout=1,
                 retries={"mode": "standard", "total_max_attempts": 1})


@dataclass(frozen=True)
class Deps:
    s3: Any
    bucket: str
    key: str

    @classmethod
    def from_env(cls, environ: Any = None) -> Deps:
        env = os.environ if environ is None else environ
        require_env(env, BUCKET_ENV)
        where = region(env)
        return cls(s3=client("s3", _CONFIG, where), bucket=env[BUCKET_ENV],
                   key=f"{HEALTH_KEY_PREFIX}{where}")


current_deps = once(Deps.from_env)


def write_accepted(deps: Deps) -> bool:
    """True when S3 created the probe object or refused it only because it exists (412)."""
    try:
        deps.s3.put_object(Bucket=deps.bucket, Key=deps.key, Body=b"ok", IfNoneMatch="*")
        return True
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = exc.response.get("Error", {}).get("Code")
        if status == 412 or code == "PreconditionFailed":
            return True
        logger.warning("write probe refused", extra={"code": code, "status": status})
        return False
    except BotoCoreError as exc:  # timeouts, connection errors: the region cannot write
        logger.warning("write probe failed", extra={"error": type(exc).__name__})
        return False


def response(healthy: bool) -> dict:
    return {"statusCode": 200 if healthy else 503,
            "headers": {"content-type": "application/json", "cache-control": "no-store"},
            "body": json.dumps({"status": "ok" if healthy else "unavailable"})}


def handler(event: dict, context: Any) -> dict:
    return response(write_accepted(current_deps()))
