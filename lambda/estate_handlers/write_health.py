"""The health route of a region's upload API (``GET /health-<stack id>``): can this region take
a write right now?

Route 53 health checks call it (they cannot sign requests, so the route is the API's only
one without an authorizer; it reads nothing and returns nothing but a status). Every probe
writes an object of its own into the region's bucket, the write an upload makes (stored, and
encrypted with the bucket's S3 Bucket Key): ``ops/write-health/<region>/<UTC minute>/<random>``.
Only S3's 200 is healthy. A probe that could pass without storing anything would hide a partial
outage: with one key per minute, a single successful write made every other probe of that minute
a 412, and Route 53 (healthy while more than 18 % of its checkers say so) stayed on a Region
refusing nine writes in ten. A lifecycle rule expires the probe objects after a day
(``infra/constructs/tiering.py``).

A container writes at most once a second (``MIN_WRITE_INTERVAL``): a probe within a second of
its container's last write gets that write's answer. Route 53 sends one or two a second, so its
probes are writes; a caller who learned the path cannot make more than the function's reserved
executions a second (each object is replicated and billed in Standard-IA for 30 days).

200 ``{"status": "ok"}``: S3 stored the probe. 503: anything else (error, timeout).
"""
from __future__ import annotations

import json
import os
import time
import uuid
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
# The probes of one minute share a folder (for reading them back), each a key of its own.
MINUTE_FORMAT = "%Y-%m-%dT%H:%MZ"
MIN_WRITE_INTERVAL = 1.0  # seconds between one container's probe writes
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
    token: Callable[[], str] = field(default=lambda: uuid.uuid4().hex)

    @classmethod
    def from_env(cls, environ: Any = None) -> Deps:
        env = os.environ if environ is None else environ
        require_env(env, BUCKET_ENV)
        where = region(env)
        return cls(s3=client("s3", _CONFIG, where), bucket=env[BUCKET_ENV],
                   prefix=f"{WRITE_HEALTH_PREFIX}{where}/")

    def key(self) -> str:
        """A new probe object, under this UTC minute's folder."""
        return f"{self.prefix}{self.now().astimezone(UTC).strftime(MINUTE_FORMAT)}/{self.token()}"


current_deps = once(Deps.from_env)


def write_accepted(deps: Deps) -> bool:
    """True when S3 stored this probe's own object."""
    key = deps.key()
    try:
        deps.s3.put_object(Bucket=deps.bucket, Key=key, Body=b"ok")
        return True
    except ClientError as exc:
        status, code = http_status(exc), error_code(exc)
        logger.warning("write probe refused", extra={"code": code, "status": status, "key": key})
        return False
    except BotoCoreError as exc:  # timeouts, connection errors: the region cannot write
        logger.warning("write probe failed", extra={"error": type(exc).__name__, "key": key})
        return False


@dataclass
class _LastWrite:
    at: float = float("-inf")  # time.monotonic() of the container's last probe write
    healthy: bool = False


_last = _LastWrite()


def probe(deps: Deps, clock: Callable[[], float] = time.monotonic,
          last: _LastWrite | None = None) -> bool:
    """This container's answer: a new write, unless it wrote less than a second ago."""
    last = _last if last is None else last
    now = clock()
    if now - last.at < MIN_WRITE_INTERVAL:
        return last.healthy
    last.at, last.healthy = now, write_accepted(deps)
    return last.healthy


def response(healthy: bool) -> dict:
    return {"statusCode": 200 if healthy else 503,
            "headers": {"content-type": "application/json", "cache-control": "no-store"},
            "body": json.dumps({"status": "ok" if healthy else "unavailable"})}


def handler(event: dict, context: Any) -> dict:
    return response(probe(current_deps()))
