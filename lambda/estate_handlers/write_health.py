"""The health route of a region's upload API (``GET /health-<stack id>``): can this region take
a write right now?

Route 53 health checks call it (they cannot sign requests, so the route is the API's only
one without an authorizer; it reads nothing and returns nothing but a status). It asks S3 for
a write into the region's own bucket: a conditional PutObject (``If-None-Match: *``) of a key
named after the current UTC minute, ``ops/write-health/<region>/<YYYY-MM-DDTHH:MMZ>``.

The first probe of each minute creates that object: the write an upload makes, stored and
encrypted with the bucket's S3 Bucket Key, so an S3 write path that stores nothing turns the
check unhealthy within a minute, and a KMS that cannot encrypt does once S3 needs it for that
key, which is when uploads fail too (the Bucket Key is deliberately left on: without it the
check would fail over while uploads still work). The other probes of that minute (Route 53
sends ~90 a minute) get 412 from S3, which evaluated the write and added no version. One fixed
key would exist forever after the first call, and every probe would then be a 412 that stores
no bytes: the check would stay green through an outage of the write path. A lifecycle rule
expires the probe objects after a day (``infra/constructs/tiering.py``).

200 ``{"status": "ok"}``: S3 took the write, refused it because this minute's object exists
(412), or because another checker's write of it was in flight (409 ConditionalRequestConflict:
S3 evaluated the write; the other one stores it). 503: anything else (error, timeout).
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from estate_handlers.layout import WRITE_HEALTH_BUCKET_ENV, WRITE_HEALTH_PREFIX
from estate_handlers.runtime import client, logger, once, region, require_env
from estate_handlers.s3_errors import error_code, http_status

BUCKET_ENV = WRITE_HEALTH_BUCKET_ENV
# One object per minute: the key's time bucket.
MINUTE_FORMAT = "%Y-%m-%dT%H:%MZ"
# S3's refusals that mean "the write path evaluated this write": the object exists (412
# PreconditionFailed), or a concurrent conditional write of the same key is in progress (409
# ConditionalRequestConflict; S3 asks the caller to retry it). Other 409s are not this.
EVALUATED_CODES = ("PreconditionFailed", "ConditionalRequestConflict")
# A Route 53 checker wants the response within 2 s of connecting: a slower S3 is an unhealthy one.
# One attempt in all (botocore's "max_attempts" counts retries, "total_max_attempts" attempts).
_CONFIG = Config(connect_timeout=1, read_timeout=1,
                 retries={"mode": "standard", "total_max_attempts": 1})


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    s3: Any
    bucket: str
    prefix: str  # ops/write-health/<region>/
    now: Callable[[], datetime] = field(default=_utc_now)

    @classmethod
    def from_env(cls, environ: Any = None) -> Deps:
        env = os.environ if environ is None else environ
        require_env(env, BUCKET_ENV)
        where = region(env)
        return cls(s3=client("s3", _CONFIG, where), bucket=env[BUCKET_ENV],
                   prefix=f"{WRITE_HEALTH_PREFIX}{where}/")

    def key(self) -> str:
        """This minute's probe object."""
        return self.prefix + self.now().astimezone(UTC).strftime(MINUTE_FORMAT)


current_deps = once(Deps.from_env)


def write_accepted(deps: Deps) -> bool:
    """True when S3 created this minute's probe object, or evaluated the write and refused it
    only because the object exists or is being written (412, 409)."""
    key = deps.key()
    try:
        deps.s3.put_object(Bucket=deps.bucket, Key=key, Body=b"ok", IfNoneMatch="*")
        return True
    except ClientError as exc:
        status, code = http_status(exc), error_code(exc)
        if status == 412 or code in EVALUATED_CODES:
            return True
        logger.warning("write probe refused", extra={"code": code, "status": status, "key": key})
        return False
    except BotoCoreError as exc:  # timeouts, connection errors: the region cannot write
        logger.warning("write probe failed", extra={"error": type(exc).__name__, "key": key})
        return False


def response(healthy: bool) -> dict:
    return {"statusCode": 200 if healthy else 503,
            "headers": {"content-type": "application/json", "cache-control": "no-store"},
            "body": json.dumps({"status": "ok" if healthy else "unavailable"})}


def handler(event: dict, context: Any) -> dict:
    return response(write_accepted(current_deps()))
