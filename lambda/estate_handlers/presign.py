"""Upload API: presigned uploads and downloads for the assets bucket.

Entry point ``estate_handlers.presign.handler`` behind an API Gateway HTTP API (payload 2.0),
routed by Powertools' ``APIGatewayHttpResolver``:

    POST /uploads            {"kind", "filename", "content_type", "size", "sha256"?}
    POST /uploads/complete   {"key", "upload_id", "action": "complete"|"abort", "parts"?}
    GET  /downloads?key=…[&version_id=…]
    POST /downloads/restore  {"key", "version_id"?}

This module is the thin entry point (routes, identity, errors, one log line per request);
the rules live beside it: ``upload_policy`` (kinds, who may use them, request checks),
``keys`` (key rules), ``s3_plans`` (what is signed and the few S3 calls). Every domain error
is an ``ApiError`` rendered as ``{"error", "message"}`` with its 4xx; anything else is a 500
that says nothing about the cause.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from botocore.config import Config

from estate_handlers import keys, s3_plans
from estate_handlers._http import ApiError, dig, json_body, query_params
from estate_handlers.emf import log_metrics
from estate_handlers.layout import (
    ASSETS_BUCKET_ENV,
    DEDUP_FAILED_METRIC,
    SCAN_GATED_PREFIXES_ENV,
    SCAN_HOLDS_UNSCANNED_ENV,
    TABLE_ENV,
    UPLOAD_POLICY_ENV,
)
from estate_handlers.runtime import (
    IN_LAMBDA,
    ConfigError,
    client,
    count,
    count_fault,
    logger,
    metrics,
    once,
    region,
    require_env,
)
from estate_handlers.upload_policy import (
    Caller,
    UploadPolicy,
    parse_completion,
    parse_object_ref,
    parse_upload_request,
)

MAX_CALLER_ID_CHARS = 2048
MAX_COMPLETE_BODY_BYTES = 1024 * 1024  # 10,000 parts at ~70 bytes each
_JSON_HEADERS = {"cache-control": "no-store"}

app = APIGatewayHttpResolver()


# --------------------------------------------------------------------------- dependencies

@dataclass(frozen=True)
class Deps(s3_plans.Store):
    @classmethod
    def from_env(cls, environ: Any = None) -> Deps:
        env = os.environ if environ is None else environ
        require_env(env, ASSETS_BUCKET_ENV, TABLE_ENV, UPLOAD_POLICY_ENV)
        where = region(env)
        gated = tuple(p.strip() for p in env.get(SCAN_GATED_PREFIXES_ENV, "").split(",")
                      if p.strip())
        return cls(s3=make_s3_client(where), dynamodb=make_dynamodb_client(where),
                   bucket=env[ASSETS_BUCKET_ENV], table=env[TABLE_ENV],
                   policy=UploadPolicy.from_json(env[UPLOAD_POLICY_ENV]),
                   scan_gated_prefixes=gated,
                   scan_holds_unscanned=env.get(SCAN_HOLDS_UNSCANNED_ENV, "true") != "false")


_TIMEOUTS = {"connect_timeout": 2, "read_timeout": 5,
             "retries": {"mode": "standard", "max_attempts": 3}}


def make_s3_client(region_name: str):
    """SigV4 client whose presigned URLs name the bucket's regional endpoint
    (``bucket.s3.<region>.amazonaws.com``). With s3v4 and the default addressing style,
    botocore presigns for the global ``bucket.s3.amazonaws.com``, which answers 307 for
    young buckets outside us-east-1 (fatal to a browser POST); "regional" does the same
    for us-east-1 itself. No endpoint_url argument: it would override AWS_ENDPOINT_URL_S3,
    under which (local servers) virtual hosting cannot work and botocore picks path style."""
    custom = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    s3 = {"us_east_1_regional_endpoint": "regional"}
    if not custom:
        s3["addressing_style"] = "virtual"
    return client("s3", Config(signature_version="s3v4", s3=s3, **_TIMEOUTS), region_name)


# The dedup lookup (a strongly consistent GetItem, milliseconds when DynamoDB is well) must give
# up early enough to issue the upload anyway within the function's 10 s: two attempts of 1 s to
# connect and 1 s per read, and standard mode's backoff (up to 1 s) between them: ~5 s.
_DEDUP_TIMEOUTS = {"connect_timeout": 1, "read_timeout": 1,
                   "retries": {"mode": "standard", "total_max_attempts": 2}}


def make_dynamodb_client(region_name: str):
    return client("dynamodb", Config(**_DEDUP_TIMEOUTS), region_name)


current_deps = once(Deps.from_env)


# --------------------------------------------------------------------------- identity

def caller_of() -> Caller:
    """The authenticated principal, from the authorizer context only (never from headers,
    the body or the query string, which the client controls): IAM user ARN (or user id),
    else the JWT subject; plus the JWT's scopes and groups for per-kind access."""
    authorizer = app.current_event.request_context.authorizer
    try:
        iam_arn, iam_id = authorizer.iam.user_arn, authorizer.iam.user_id
        claims, scopes = authorizer.jwt_claim, authorizer.jwt_scopes
    except (AttributeError, TypeError):  # an authorizer that is not an object
        iam_arn = iam_id = claims = scopes = None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    for value in (iam_arn, iam_id, subject):
        if isinstance(value, str) and value.strip() and len(value) <= MAX_CALLER_ID_CHARS:
            return Caller(id=value, iam_arn=iam_arn if value == iam_arn else None,
                          scopes=_names(scopes) | _names((claims or {}).get("scope")),
                          groups=_names((claims or {}).get("groups"))
                          | _names((claims or {}).get("cognito:groups")))
    raise ApiError(403, "forbidden", "The request carries no authenticated caller identity.")


def _names(value: Any) -> frozenset[str]:
    """Scopes/groups as API Gateway passes them: a list, a space-separated string, or a
    flattened array like ``[a b]``."""
    if isinstance(value, str):
        value = value.strip().strip("[]").replace(",", " ").split()
    if not isinstance(value, list):
        return frozenset()
    return frozenset(v for v in value if isinstance(v, str) and v)


def _request() -> tuple[Deps, Caller, dict]:
    caller = caller_of()
    # A pseudonym in the log line: JWT subjects can be personal data.
    logger.append_keys(caller=keys.owner_tag(caller.id))
    return app.context["deps"], caller, app.current_event.raw_event


# --------------------------------------------------------------------------- routes

@app.post("/uploads")
def issue_upload() -> dict:
    deps, caller, event = _request()
    req = parse_upload_request(json_body(event), deps.policy, caller)
    if req.sha256 is not None:
        try:
            existing = s3_plans.dedup_hit(deps, caller.id, req)
        except s3_plans.DedupIndexUnavailable:
            # Deduplication saves storage; it is not part of the write. With DynamoDB impaired
            # and S3 healthy the health route stays green (it probes S3), so failing here would
            # stop uploads without a failover: issue the upload, and the hasher dedups later.
            logger.warning("dedup index unavailable: upload issued without a lookup",
                           exc_info=True)
            count(DEDUP_FAILED_METRIC, kind=req.kind.name)
            existing = None
        if existing is not None:
            count("DedupHits", kind=req.kind.name)
            return {"deduplicated": True, "key": existing}
    key = keys.new_key(req.kind.prefix, req.kind.per_caller, caller.id, req.filename)
    upload = s3_plans.upload_plan(deps, key, req)
    count("UrlsIssued", kind=req.kind.name)
    return {"deduplicated": False, "key": key, "upload": upload,
            "expires_in": deps.policy.expiry_seconds}


@app.post("/uploads/complete")
def complete_upload() -> dict:
    deps, caller, event = _request()
    done = parse_completion(json_body(event, max_bytes=MAX_COMPLETE_BODY_BYTES))
    deps.policy.check_upload_owner(done.key, caller)
    return s3_plans.finish_multipart(deps, done)


@app.get("/downloads")
def issue_download() -> dict:
    deps, caller, event = _request()
    key, version_id = parse_object_ref(query_params(event, frozenset({"key", "version_id"})),
                                       caller.id, deps.policy)
    answer = s3_plans.download_plan(deps, key, version_id)
    count("UrlsIssued", kind="download")
    return answer


@app.post("/downloads/restore")
def restore_download() -> Response:
    deps, caller, event = _request()
    body = json_body(event)
    unknown = sorted(set(body) - {"key", "version_id"})
    if unknown:
        raise ApiError(400, "unknown_field", "Unknown field(s); expected key, version_id.")
    ref = {k: v for k, v in body.items() if v is not None}
    if not all(isinstance(v, str) for v in ref.values()):
        raise ApiError(400, "invalid_key", "key and version_id must be strings.")
    key, version_id = parse_object_ref(ref, caller.id, deps.policy)
    status, answer = s3_plans.request_restore(deps, key, version_id)
    return _json(status, answer)


# --------------------------------------------------------------------------- errors

def _json(status: int, payload: dict) -> Response:
    return Response(status_code=status, content_type="application/json",
                    body=json.dumps(payload, separators=(",", ":")), headers=_JSON_HEADERS)


@app.exception_handler(ApiError)
def _client_error(err: ApiError) -> Response:
    return _json(err.status, err.payload())


ROUTE_PATHS = frozenset({"/uploads", "/uploads/complete", "/downloads", "/downloads/restore"})


@app.not_found
def _no_route(_: NotFoundError) -> Response:
    path = app.current_event.path
    if path in ROUTE_PATHS:
        method = app.current_event.http_method
        return _json(405, {"error": "method_not_allowed",
                           "message": f"{method} is not allowed on {path}."})
    return _json(404, {"error": "not_found", "message": "No such route."})


@app.exception_handler(Exception)
def _server_fault(_: Exception) -> Response:
    # A server fault (AWS down, misconfiguration), never bad input: nothing about the cause
    # goes to the client; the traceback goes to the log.
    logger.exception("request failed")
    count_fault()
    return _json(500, {"error": "internal_error", "message": "The server failed; retry later."})


# --------------------------------------------------------------------------- entry point

def _is_http_request(event: Any) -> bool:
    return (isinstance(event, dict) and isinstance(event.get("rawPath"), str)
            and isinstance(dig(event, "requestContext", "http", "method"), str)
            and isinstance(event.get("requestContext"), dict)
            and isinstance(event.get("headers", {}) or {}, dict))


def handle(event: Any, deps: Deps | None) -> dict:
    """The whole request: route, identity, validation, AWS calls, one log line."""
    started = time.perf_counter()
    if not _is_http_request(event):
        return {"statusCode": 400, "headers": {"content-type": "application/json", **_JSON_HEADERS},
                "body": json.dumps({"error": "malformed_request",
                                    "message": "The event is not an HTTP API request."})}
    fields = {"request_id": dig(event, "requestContext", "requestId"),
              "route": f"{dig(event, 'requestContext', 'http', 'method')} {event['rawPath']}"}
    # The $default stage (the only one this API has) unless the event names one: the
    # resolver reads it to strip a stage prefix from the path.
    event = {**event, "requestContext": {"stage": "$default", **event["requestContext"]}}
    app.append_context(deps=_Unconfigured() if deps is None else deps)
    try:
        result = app.resolve(event, None)
    finally:
        logger.remove_keys(["caller"])
    status = result["statusCode"]
    fields.update(status=status, duration_ms=round((time.perf_counter() - started) * 1000, 2))
    if status >= 400:
        try:
            fields["error"] = json.loads(result["body"]).get("error")
        except (ValueError, AttributeError):
            pass
    logger.info("request", extra=fields)
    return result


class _Unconfigured:
    """Stands in when the environment is incomplete outside Lambda: any use is a 500."""

    def __getattr__(self, name: str):
        raise RuntimeError("presign handler is not configured")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@log_metrics(metrics)
def handler(event: Any, context: Any) -> dict:
    try:
        deps = current_deps()
    except ConfigError:
        logger.exception("presign handler is not configured")
        deps = None
    return handle(event, deps)


if IN_LAMBDA:
    current_deps()  # init phase: once per container, with Lambda's CPU boost
