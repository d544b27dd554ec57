"""Upload API: presigned uploads and downloads for the assets bucket.

Entry point ``estate_handlers.presign.handler`` behind an API Gateway HTTP API (payload 2.0):

    POST /uploads           {"kind", "filename", "content_type", "size", "sha256"?}
    POST /uploads/complete  {"key", "upload_id", "action": "complete"|"abort", "parts"?}
    GET  /downloads?key=…[&version_id=…]

The store enforces what we sign, so every constraint the server decides (key, type, size,
hash, storage class, expiry) is bound into the signature or the POST policy; the checks in
this module only give the client a clear 4xx before it uploads anything.

Decisions where the contract is silent:

* Keys. The server chooses every key: ``<prefix>[<caller segment>/]<token>/<filename>``.
  The caller segment (per-caller kinds only) is a readable slug of the principal plus 16
  hex of its SHA-256, so two principals never share a folder even when their slugs agree.
  ``token`` is 16 random hex (unguessable, unique) followed by a 20-hex *owner tag*, a hash
  of the caller id. Hostile file names (paths, control or invisible characters, over 255
  characters) are refused; others are reduced to ``[A-Za-z0-9._-]``.
* Size. The POST policy's ``content-length-range`` is exactly ``size..size`` (not 0..cap):
  the declared size is what gets stored, the same guarantee the signed Content-Length gives
  a PUT, and a client cannot get a cap-sized URL by declaring a small file.
* Multipart ownership. ``/uploads/complete`` recomputes the owner tag (and, for per-caller
  kinds, the caller segment) from the *authorizer* identity and answers 403 when the key's
  tag differs, before any S3 call. S3 itself binds the upload id to the key, so knowing
  another caller's key and upload id is not enough. This is stateless: no secret to manage,
  no ownership table (the dedup table holds one item per hash, nothing else), and it
  survives cold starts. Rejected: an HMAC token (needs a secret the stack does not
  provision), S3 metadata on the upload (unreadable until the upload is complete).
* Multipart uploads sign each part's exact Content-Length, so the total size binds too. They
  cannot bind the whole-object SHA-256 at the store (S3 has no full-object SHA-256 for
  multipart); the upload hasher verifies those after the fact.
* Dedup. A hash is a hit only when the indexed version still exists (HeadObject on key and
  version), its size equals the declared size, and the caller may read the key: another
  caller's user content is never disclosed (the upload proceeds; the hasher marks it later).
* Downloads. Readable: keys under the estate's asset prefixes; under ``user-content/`` only
  the caller's own segment. Unreadable keys are 403 before any S3 call (no existence
  oracle). A GET without ``version_id`` is pinned to the version HeadObject saw.
* Storage class. INTELLIGENT_TIERING under the prefixes the lifecycle rules tier
  (originals, documents, brand media, user uploads); STANDARD elsewhere (logos: small, hot).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import time
import unicodedata
from base64 import b64encode
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from estate_handlers import dedup_index
from estate_handlers._http import (
    ApiError,
    caller_id,
    dig,
    error_response,
    json_body,
    json_response,
    query_params,
    route_of,
)
from estate_handlers._jsonlog import get_logger

# Mirrors of infra.config / infra.constructs.tiering (the Lambda asset cannot import infra/;
# a unit test keeps them equal).
ASSET_PREFIXES = (
    "products/images/original/", "products/images/processed/", "products/images/thumbnails/",
    "products/documents/certificates/", "products/documents/reports/",
    "brands/logos/", "brands/media/", "user-content/uploads/", "user-content/exports/",
)
USER_CONTENT_ROOT = "user-content/"
INTELLIGENT_TIERING_PREFIXES = (
    "products/images/original/", "products/documents/", "brands/media/",
    "user-content/uploads/",
)

MIN_EXPIRY_SECONDS, MAX_EXPIRY_SECONDS = 60, 3600
S3_MIN_PART_BYTES = 5 * 1024 * 1024
S3_MAX_PARTS = 10_000
S3_MAX_SINGLE_UPLOAD_BYTES = 5 * 1024 ** 3
MAX_KEY_BYTES = 1024
MAX_COMPLETE_BODY_BYTES = 1024 * 1024  # 10,000 parts at ~70 bytes each

log = get_logger(__name__)


class ConfigError(ValueError):
    """The function's environment is wrong (a deployment bug, never the client's)."""


# --------------------------------------------------------------------------- policy

@dataclass(frozen=True)
class KindPolicy:
    name: str
    prefix: str
    content_types: frozenset[str]
    max_bytes: int
    per_caller: bool


@dataclass(frozen=True)
class UploadPolicy:
    kinds: dict[str, KindPolicy]
    expiry_seconds: int
    multipart_threshold_bytes: int
    multipart_part_bytes: int

    @classmethod
    def from_json(cls, text: str) -> UploadPolicy:
        """Parse UPLOAD_POLICY (``infra.config.UploadApiConfig.policy_json``)."""
        try:
            raw = json.loads(text)
            kinds = {}
            for name, k in raw["kinds"].items():
                prefix = k["prefix"]
                if not (isinstance(prefix, str) and prefix.endswith("/")
                        and prefix.startswith(ASSET_PREFIXES)):
                    raise ConfigError(f"kind {name!r}: prefix {prefix!r} is not under an "
                                      "asset prefix")
                kinds[name] = KindPolicy(
                    name=name, prefix=prefix,
                    content_types=frozenset(t.lower() for t in k["content_types"]),
                    max_bytes=_positive_int(k["max_bytes"], f"kinds.{name}.max_bytes"),
                    per_caller=bool(k.get("per_caller", False)),
                )
            expiry = _positive_int(raw["url_expiry_seconds"], "url_expiry_seconds")
            part = _positive_int(raw["multipart_part_bytes"], "multipart_part_bytes")
            if part < S3_MIN_PART_BYTES:
                raise ConfigError(f"multipart_part_bytes must be >= {S3_MIN_PART_BYTES}")
            return cls(
                kinds=kinds,
                # Bounded whatever the config says: a week-long URL is a leaked credential.
                expiry_seconds=min(max(expiry, MIN_EXPIRY_SECONDS), MAX_EXPIRY_SECONDS),
                multipart_threshold_bytes=_positive_int(raw["multipart_threshold_bytes"],
                                                        "multipart_threshold_bytes"),
                multipart_part_bytes=part,
            )
        except ConfigError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"UPLOAD_POLICY is malformed: {exc!r}") from None

    def kind_for_key(self, key: str) -> KindPolicy | None:
        matches = [k for k in self.kinds.values() if key.startswith(k.prefix)]
        return max(matches, key=lambda k: len(k.prefix), default=None)

    def per_caller_prefixes(self) -> tuple[str, ...]:
        own = {k.prefix for k in self.kinds.values() if k.per_caller}
        return tuple(sorted(own | {p for p in ASSET_PREFIXES if p.startswith(USER_CONTENT_ROOT)}))


def _positive_int(value: Any, name: str) -> int:
    if type(value) is not int or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return value


# --------------------------------------------------------------------------- identity & keys

def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def caller_segment(caller: str) -> str:
    """The caller's folder under per-caller prefixes: readable slug + hash (injective)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", caller).strip("-")[:40].strip("-") or "caller"
    return f"{slug}-{_sha256_hex(caller)[:16]}"


def owner_tag(caller: str) -> str:
    return _sha256_hex("owner\0" + caller)[:20]


_TOKEN = re.compile(r"[0-9a-f]{16}([0-9a-f]{20})")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_REJECTED_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def _has_control_chars(text: str) -> bool:
    return any(unicodedata.category(c) in _REJECTED_CATEGORIES for c in text)


def sanitize_filename(name: Any) -> str:
    """A safe last key segment from a client file name, or ApiError(400)."""
    if not isinstance(name, str):
        raise ApiError(400, "invalid_filename", "filename must be a string.")
    if not name.strip() or len(name) > 255:
        raise ApiError(400, "invalid_filename", "filename must be 1 to 255 characters.")
    if "/" in name or "\\" in name or name.strip() in (".", ".."):
        raise ApiError(400, "invalid_filename",
                       "filename must be a bare file name, not a path.")
    if _has_control_chars(name):
        raise ApiError(400, "invalid_filename",
                       "filename must not contain control or invisible characters.")
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem, dot, ext = ascii_name.rpartition(".")
    if not dot:
        stem, ext = ascii_name, ""
    stem = re.sub(r"\.{2,}", ".", _UNSAFE_CHARS.sub("-", stem)).strip("-._")[:100].strip("-._")
    ext = _UNSAFE_CHARS.sub("", ext)[:16].lower()
    stem = stem or "file"
    return f"{stem}.{ext}" if ext else stem


def new_key(kind: KindPolicy, caller: str, filename: str) -> str:
    folder = f"{caller_segment(caller)}/" if kind.per_caller else ""
    key = f"{kind.prefix}{folder}{secrets.token_hex(8)}{owner_tag(caller)}/{filename}"
    # Belt and braces: whatever the sanitizer becomes, never sign outside the kind's prefix.
    assert key.startswith(kind.prefix) and "/../" not in key and "//" not in key
    return key


def validate_key(key: Any) -> str:
    """A well-formed object key (ApiError 400 otherwise). Says nothing about access."""
    if not isinstance(key, str) or not key:
        raise ApiError(400, "invalid_key", "key must be a non-empty string.")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise ApiError(400, "invalid_key", f"key must be at most {MAX_KEY_BYTES} bytes.")
    if _has_control_chars(key) or "\\" in key:
        raise ApiError(400, "invalid_key", "key contains control or invisible characters.")
    if any(segment in ("", ".", "..") for segment in key.split("/")):
        raise ApiError(400, "invalid_key", "key must be an object path without empty, "
                       "'.' or '..' segments (no leading or trailing '/').")
    return key


def may_read(key: str, caller: str, policy: UploadPolicy) -> bool:
    """Whether ``caller`` may download ``key`` (already validated)."""
    if not key.startswith(ASSET_PREFIXES + tuple(k.prefix for k in policy.kinds.values())):
        return False
    for prefix in policy.per_caller_prefixes():
        if key.startswith(prefix):
            return key.startswith(f"{prefix}{caller_segment(caller)}/")
    return True


def check_upload_owner(key: str, caller: str, policy: UploadPolicy) -> KindPolicy:
    """The kind of a key this caller was issued, or ApiError(403)."""
    denied = ApiError(403, "forbidden", "This upload was not issued to the calling identity.")
    kind = policy.kind_for_key(key)
    if kind is None:
        raise denied
    parts = key[len(kind.prefix):].split("/")
    if kind.per_caller:
        if parts[0] != caller_segment(caller):
            raise denied
        parts = parts[1:]
    token = _TOKEN.fullmatch(parts[0]) if len(parts) == 2 else None
    if token is None or not secrets.compare_digest(token.group(1), owner_tag(caller)):
        raise denied
    return kind


def storage_class_for(key: str) -> str:
    return "INTELLIGENT_TIERING" if key.startswith(INTELLIGENT_TIERING_PREFIXES) else "STANDARD"


# --------------------------------------------------------------------------- request validation

@dataclass(frozen=True)
class UploadRequest:
    kind: KindPolicy
    filename: str
    content_type: str
    size: int
    sha256: str | None


_UPLOAD_FIELDS = frozenset({"kind", "filename", "content_type", "size", "sha256"})


def _reject_unknown(body: dict, allowed: frozenset[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        shown = ", ".join(repr(u[:40]) for u in unknown[:5])
        raise ApiError(400, "unknown_field", f"Unknown field(s) {shown}; expected "
                       f"{', '.join(sorted(allowed))}.")


def _required(body: dict, name: str) -> Any:
    if body.get(name) is None:
        raise ApiError(400, "missing_field", f"Field {name!r} is required.")
    return body[name]


def parse_upload_request(body: dict, policy: UploadPolicy) -> UploadRequest:
    """Shape errors (400) first, then policy errors: 415 for the type, 413 for the size."""
    _reject_unknown(body, _UPLOAD_FIELDS)
    kind_name = _required(body, "kind")
    if not isinstance(kind_name, str) or kind_name not in policy.kinds:
        raise ApiError(400, "invalid_kind",
                       f"kind must be one of: {', '.join(sorted(policy.kinds))}.")
    kind = policy.kinds[kind_name]
    filename = sanitize_filename(_required(body, "filename"))
    content_type = _required(body, "content_type")
    if not isinstance(content_type, str) or not 0 < len(content_type) <= 255:
        raise ApiError(400, "invalid_content_type",
                       "content_type must be a string of 1 to 255 characters.")
    size = _required(body, "size")
    if type(size) is not int or size < 1:
        raise ApiError(400, "invalid_size", "size must be a whole number of bytes >= 1.")
    sha256 = body.get("sha256")
    if sha256 is not None and not (isinstance(sha256, str)
                                   and dedup_index.SHA256_HEX.fullmatch(sha256)):
        raise ApiError(400, "invalid_sha256",
                       "sha256 must be 64 lowercase hexadecimal characters.")
    content_type = content_type.strip().lower()
    if content_type not in kind.content_types:
        raise ApiError(415, "unsupported_content_type",
                       f"Content type not allowed for kind {kind.name!r}; allowed: "
                       f"{', '.join(sorted(kind.content_types))}.")
    if size > kind.max_bytes:
        raise ApiError(413, "too_large", f"size {size} exceeds the {kind.max_bytes}-byte "
                       f"cap of kind {kind.name!r}.")
    return UploadRequest(kind, filename, content_type, size, sha256)


def part_sizes(size: int, part_bytes: int) -> list[int]:
    """Sizes of the parts of a ``size``-byte multipart upload (last part may be smaller)."""
    if math.ceil(size / part_bytes) > S3_MAX_PARTS:  # grow the part, whole MiB
        part_bytes = math.ceil(size / S3_MAX_PARTS / 2 ** 20) * 2 ** 20
    full, rest = divmod(size, part_bytes)
    return [part_bytes] * full + ([rest] if rest else [])


def post_policy(req: UploadRequest, key: str) -> tuple[dict, list]:
    """Fields and conditions of a presigned POST bound to one key, type, size and class.
    (botocore adds the bucket and key conditions itself.)"""
    storage_class = storage_class_for(key)
    fields = {"Content-Type": req.content_type, "x-amz-storage-class": storage_class}
    conditions = [
        {"Content-Type": req.content_type},
        ["content-length-range", req.size, req.size],
        {"x-amz-storage-class": storage_class},
    ]
    return fields, conditions


def put_params(bucket: str, key: str, req: UploadRequest) -> tuple[dict, dict]:
    """PutObject parameters and the headers the client must send; every one is signed
    (botocore signs each header the operation serializes), so the store refuses a body
    whose type, length or SHA-256 differs."""
    checksum = b64encode(bytes.fromhex(req.sha256 or "")).decode()
    storage_class = storage_class_for(key)
    params = {"Bucket": bucket, "Key": key, "ContentType": req.content_type,
              "ContentLength": req.size, "ChecksumSHA256": checksum,
              "StorageClass": storage_class}
    headers = {"Content-Type": req.content_type, "Content-Length": str(req.size),
               "x-amz-checksum-sha256": checksum, "x-amz-storage-class": storage_class}
    return params, headers


# --------------------------------------------------------------------------- AWS wiring

@dataclass(frozen=True)
class Deps:
    s3: Any
    dynamodb: Any
    bucket: str
    table: str
    policy: UploadPolicy

    @classmethod
    def from_env(cls, environ: Any = None) -> Deps:
        env = os.environ if environ is None else environ
        missing = [n for n in ("ASSETS_BUCKET_NAME", dedup_index.TABLE_ENV, "UPLOAD_POLICY")
                   if not env.get(n)]
        if missing:
            raise ConfigError(f"missing environment variable(s): {', '.join(missing)}")
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        return cls(s3=make_s3_client(region), dynamodb=make_dynamodb_client(region),
                   bucket=env["ASSETS_BUCKET_NAME"], table=env[dedup_index.TABLE_ENV],
                   policy=UploadPolicy.from_json(env["UPLOAD_POLICY"]))


_TIMEOUTS = {"connect_timeout": 2, "read_timeout": 5,
             "retries": {"mode": "standard", "max_attempts": 3}}


def make_s3_client(region: str):
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
    return boto3.client("s3", region_name=region, config=Config(
        signature_version="s3v4", s3=s3, **_TIMEOUTS))


def make_dynamodb_client(region: str):
    return boto3.client("dynamodb", region_name=region, config=Config(**_TIMEOUTS))


def _error_code(exc: ClientError) -> str:
    return str(dig(exc.response, "Error", "Code") or "")


def _http_status(exc: ClientError) -> int:
    return int(dig(exc.response, "ResponseMetadata", "HTTPStatusCode") or 0)


def _object_exists(deps: Deps, key: str, version_id: str | None) -> dict | None:
    """HeadObject's response, or None when the key/version does not exist (or the version
    id is one S3 cannot parse: a 400 without a body)."""
    kwargs = {"Bucket": deps.bucket, "Key": key}
    if version_id is not None:
        kwargs["VersionId"] = version_id
    try:
        return deps.s3.head_object(**kwargs)
    except ClientError as exc:
        if _http_status(exc) == 404 or _error_code(exc) in ("NoSuchKey", "NoSuchVersion", "404"):
            return None
        if version_id is not None and _http_status(exc) == 400:
            return None
        raise


# --------------------------------------------------------------------------- routes

def issue_upload(deps: Deps, caller: str, event: dict) -> dict:
    req = parse_upload_request(json_body(event), deps.policy)
    if req.sha256 is not None:
        existing = _dedup_hit(deps, caller, req)
        if existing is not None:
            return {"deduplicated": True, "key": existing}
    key = new_key(req.kind, caller, req.filename)
    expires = deps.policy.expiry_seconds
    if req.size > min(deps.policy.multipart_threshold_bytes, S3_MAX_SINGLE_UPLOAD_BYTES):
        upload = _multipart_plan(deps, key, req)
    elif req.sha256 is None:
        fields, conditions = post_policy(req, key)
        post = deps.s3.generate_presigned_post(deps.bucket, key, Fields=fields,
                                               Conditions=conditions, ExpiresIn=expires)
        upload = {"method": "POST", "url": post["url"], "fields": post["fields"]}
    else:
        params, headers = put_params(deps.bucket, key, req)
        url = deps.s3.generate_presigned_url("put_object", Params=params, ExpiresIn=expires)
        upload = {"method": "PUT", "url": url, "headers": headers}
    return {"deduplicated": False, "key": key, "upload": upload, "expires_in": expires}


def _dedup_hit(deps: Deps, caller: str, req: UploadRequest) -> str | None:
    canonical = dedup_index.get_canonical(deps.dynamodb, deps.table, req.sha256)
    if canonical is None or canonical.size != req.size or not canonical.version_id:
        return None
    try:
        validate_key(canonical.key)
    except ApiError:
        return None
    if not may_read(canonical.key, caller, deps.policy):
        return None
    if _object_exists(deps, canonical.key, canonical.version_id) is None:
        return None  # deleted since it was indexed: a stale entry is not a hit
    return canonical.key


def _multipart_plan(deps: Deps, key: str, req: UploadRequest) -> dict:
    created = deps.s3.create_multipart_upload(
        Bucket=deps.bucket, Key=key, ContentType=req.content_type,
        StorageClass=storage_class_for(key))
    upload_id = created["UploadId"]
    sizes = part_sizes(req.size, deps.policy.multipart_part_bytes)
    parts = [
        {"part_number": number,
         "url": deps.s3.generate_presigned_url(
             "upload_part", ExpiresIn=deps.policy.expiry_seconds,
             Params={"Bucket": deps.bucket, "Key": key, "UploadId": upload_id,
                     "PartNumber": number, "ContentLength": length}),
         "headers": {"Content-Length": str(length)}}
        for number, length in enumerate(sizes, start=1)
    ]
    return {"method": "MULTIPART", "upload_id": upload_id, "part_size": sizes[0],
            "parts": parts, "complete": {"method": "POST", "path": "/uploads/complete"}}


_COMPLETE_FIELDS = frozenset({"key", "upload_id", "action", "parts"})
_UPLOAD_ID = re.compile(r"[\x21-\x7e]{1,1024}")
_ETAG = re.compile(r"[\x20-\x7e]{1,128}")


def parse_completion(body: dict) -> tuple[str, str, str, list[dict]]:
    _reject_unknown(body, _COMPLETE_FIELDS)
    key = validate_key(_required(body, "key"))
    upload_id = _required(body, "upload_id")
    if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
        raise ApiError(400, "invalid_upload_id", "upload_id must be the id /uploads issued.")
    action = _required(body, "action")
    if action not in ("complete", "abort"):
        raise ApiError(400, "invalid_action", "action must be 'complete' or 'abort'.")
    parts = body.get("parts")
    if action == "abort":
        if parts is not None:
            raise ApiError(400, "invalid_parts", "parts is only for action 'complete'.")
        return key, upload_id, action, []
    if not isinstance(parts, list) or not 0 < len(parts) <= S3_MAX_PARTS:
        raise ApiError(400, "invalid_parts",
                       f"parts must be a list of 1 to {S3_MAX_PARTS} parts.")
    out, previous = [], 0
    for part in parts:
        number = part.get("part_number") if isinstance(part, dict) else None
        etag = part.get("etag") if isinstance(part, dict) else None
        if not (isinstance(part, dict) and set(part) == {"part_number", "etag"}
                and type(number) is int and previous < number <= S3_MAX_PARTS
                and isinstance(etag, str) and _ETAG.fullmatch(etag)):
            raise ApiError(400, "invalid_parts", "Each part must be {\"part_number\", "
                           "\"etag\"} with part numbers ascending from 1.")
        out.append({"PartNumber": number, "ETag": etag})
        previous = number
    return key, upload_id, action, out


def finish_multipart(deps: Deps, caller: str, event: dict) -> dict:
    key, upload_id, action, parts = parse_completion(
        json_body(event, max_bytes=MAX_COMPLETE_BODY_BYTES))
    check_upload_owner(key, caller, deps.policy)
    try:
        if action == "abort":
            deps.s3.abort_multipart_upload(Bucket=deps.bucket, Key=key, UploadId=upload_id)
            return {"key": key, "aborted": True}
        done = deps.s3.complete_multipart_upload(
            Bucket=deps.bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": parts})
    except ClientError as exc:
        code = _error_code(exc)
        if code == "NoSuchUpload":
            raise ApiError(404, "upload_not_found", "No such multipart upload in progress "
                           "for this key (completed, aborted or never started).") from None
        if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML",
                    "InvalidArgument"):
            raise ApiError(400, "invalid_parts", "The store refused the part list: "
                           f"{code}.") from None
        raise
    return {"key": key, "version_id": done.get("VersionId"), "completed": True}


_VERSION_ID = re.compile(r"[A-Za-z0-9._+/=-]{1,1024}")


def issue_download(deps: Deps, caller: str, event: dict) -> dict:
    query = query_params(event, frozenset({"key", "version_id"}))
    key = validate_key(query.get("key"))
    version_id = query.get("version_id")
    if version_id is not None and not _VERSION_ID.fullmatch(version_id):
        raise ApiError(400, "invalid_version_id", "version_id is not a valid version id.")
    if not may_read(key, caller, deps.policy):
        raise ApiError(403, "forbidden", "The caller may not read this key.")
    head = _object_exists(deps, key, version_id)
    if head is None:
        raise ApiError(404, "not_found", "No such object (or no such version of it).")
    pinned = version_id or head.get("VersionId")
    params = {"Bucket": deps.bucket, "Key": key}
    if pinned:
        params["VersionId"] = pinned
    expires = deps.policy.expiry_seconds
    url = deps.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)
    return {"url": url, "expires_in": expires}


ROUTES = {
    ("POST", "/uploads"): issue_upload,
    ("POST", "/uploads/complete"): finish_multipart,
    ("GET", "/downloads"): issue_download,
}


def handle(event: Any, deps: Deps | None) -> dict:
    """The whole request: route, identity, validation, AWS calls, one log line."""
    started = time.perf_counter()
    fields: dict[str, Any] = {}
    try:
        if not isinstance(event, dict):
            raise ApiError(400, "malformed_request", "The event is not an HTTP API request.")
        fields["request_id"] = dig(event, "requestContext", "requestId")
        method, path = route_of(event)
        fields["route"] = f"{method} {path}"
        route = ROUTES.get((method, path))
        if route is None:
            if path in {p for _, p in ROUTES}:
                raise ApiError(405, "method_not_allowed", f"{method} is not allowed on {path}.")
            raise ApiError(404, "not_found", "No such route.")
        caller = caller_id(event)
        fields["caller"] = owner_tag(caller)  # a pseudonym: JWT subjects can be personal data
        if deps is None:
            raise RuntimeError(f"presign handler is not configured: {_INIT_ERROR}")
        payload = route(deps, caller, event)
        response = json_response(200, payload)
        fields.update(status=200, key=payload.get("key"),
                      deduplicated=payload.get("deduplicated"))
    except ApiError as err:
        response = error_response(err)
        fields.update(status=err.status, error=err.code)
    except Exception:  # a server fault (AWS down, misconfiguration), never bad input
        fields.update(status=500, error="internal_error")
        log.exception("request failed", extra={"fields": fields})
        return json_response(500, {"error": "internal_error",
                                   "message": "The server failed; retry later."})
    fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
    log.info("request", extra={"fields": fields})
    return response


def handler(event: Any, context: Any = None) -> dict:
    return handle(event, _DEPS)


# Clients at module load: the init phase runs once per container, with a CPU boost.
_INIT_ERROR: ConfigError | None = None
try:
    _DEPS: Deps | None = Deps.from_env()
except ConfigError as _exc:
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        raise  # in Lambda a broken environment must fail the deployment's first call loudly
    _DEPS, _INIT_ERROR = None, _exc
