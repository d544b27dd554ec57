"""Upload policy: what each kind of upload may be, who may use it, and the checks that turn a
request body into a valid request or a clear 4xx. No AWS calls here.

The policy arrives as JSON in ``UPLOAD_POLICY`` (``infra.config.UploadApiConfig.policy_json``).
Kinds with an ``access`` entry are restricted: only a caller whose IAM principal ARN matches
one of its patterns, or whose JWT carries one of its scopes or groups, may use them; every
other caller gets 403 before any URL is issued or any AWS call is made.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from estate_handlers import keys
from estate_handlers._http import ApiError, ConfigError
from estate_handlers.layout import ASSET_PREFIXES, REFUSED_CONTENT_TYPES, USER_CONTENT

MIN_EXPIRY_SECONDS, MAX_EXPIRY_SECONDS = 60, 3600
S3_MIN_PART_BYTES = 5 * 1024 * 1024
S3_MAX_PART_BYTES = 5 * 1024 ** 3
S3_MAX_PARTS = 10_000
S3_MAX_SINGLE_UPLOAD_BYTES = 5 * 1024 ** 3


@dataclass(frozen=True)
class Caller:
    """The authenticated principal, from the authorizer context only."""

    id: str                                  # IAM user ARN / user id, or the JWT subject
    iam_arn: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    groups: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class KindAccess:
    iam_principals: tuple[str, ...]
    jwt_scopes: frozenset[str]
    jwt_groups: frozenset[str]

    def admits(self, caller: Caller) -> bool:
        return bool(
            (caller.iam_arn and any(fnmatchcase(caller.iam_arn, p) for p in self.iam_principals))
            or caller.scopes & self.jwt_scopes or caller.groups & self.jwt_groups)


@dataclass(frozen=True)
class KindPolicy:
    name: str
    prefix: str
    content_types: frozenset[str]
    max_bytes: int
    per_caller: bool
    access: KindAccess | None = None  # None: every authorized caller

    def authorize(self, caller: Caller) -> None:
        if self.access is not None and not self.access.admits(caller):
            raise ApiError(403, "forbidden",
                           f"The caller may not upload kind {self.name!r}.")


@dataclass(frozen=True)
class UploadPolicy:
    kinds: dict[str, KindPolicy]
    expiry_seconds: int
    multipart_threshold_bytes: int
    multipart_part_bytes: int

    @classmethod
    def from_json(cls, text: str) -> UploadPolicy:
        try:
            raw = json.loads(text)
            kinds = {name: _kind(name, k) for name, k in raw["kinds"].items()}
            expiry = _positive_int(raw["url_expiry_seconds"], "url_expiry_seconds")
            part = _positive_int(raw["multipart_part_bytes"], "multipart_part_bytes")
            if not S3_MIN_PART_BYTES <= part <= S3_MAX_PART_BYTES:
                raise ConfigError(f"multipart_part_bytes must be in "
                                  f"{S3_MIN_PART_BYTES}..{S3_MAX_PART_BYTES} (S3's part sizes)")
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
        return tuple(sorted(own | {p for p in ASSET_PREFIXES if p.startswith(USER_CONTENT)}))

    def may_read(self, key: str, caller: str) -> bool:
        """Whether ``caller`` may download ``key`` (already validated): the estate's asset
        prefixes, and under per-caller prefixes only the caller's own segment."""
        if not key.startswith(ASSET_PREFIXES + tuple(k.prefix for k in self.kinds.values())):
            return False
        for prefix in self.per_caller_prefixes():
            if key.startswith(prefix):
                return key.startswith(f"{prefix}{keys.caller_segment(caller)}/")
        return True

    def check_upload_owner(self, key: str, caller: Caller) -> KindPolicy:
        """The kind of a key this caller was issued and may still use, or ApiError(403)."""
        kind = self.kind_for_key(key)
        if kind is None or not keys.is_owned_by(key[len(kind.prefix):], kind.per_caller,
                                                caller.id):
            raise ApiError(403, "forbidden",
                           "This upload was not issued to the calling identity.")
        kind.authorize(caller)
        return kind


def _kind(name: str, k: dict) -> KindPolicy:
    prefix = k["prefix"]
    if not (isinstance(prefix, str) and prefix.endswith("/") and prefix.startswith(ASSET_PREFIXES)):
        raise ConfigError(f"kind {name!r}: prefix {prefix!r} is not under an asset prefix")
    types = frozenset(t.lower() for t in k["content_types"])
    if types & REFUSED_CONTENT_TYPES:
        raise ConfigError(f"kind {name!r}: content types {sorted(types & REFUSED_CONTENT_TYPES)} "
                          "are active content and never accepted")
    access = k.get("access")
    return KindPolicy(
        name=name, prefix=prefix, content_types=types,
        max_bytes=_positive_int(k["max_bytes"], f"kinds.{name}.max_bytes"),
        per_caller=bool(k.get("per_caller", False)),
        access=None if access is None else KindAccess(
            iam_principals=tuple(access.get("iam_principals", ())),
            jwt_scopes=frozenset(access.get("jwt_scopes", ())),
            jwt_groups=frozenset(access.get("jwt_groups", ()))),
    )


def _positive_int(value: Any, name: str) -> int:
    if type(value) is not int or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return value


# --------------------------------------------------------------------------- requests

@dataclass(frozen=True)
class UploadRequest:
    kind: KindPolicy
    filename: str
    content_type: str
    size: int
    sha256: str | None


_UPLOAD_FIELDS = frozenset({"kind", "filename", "content_type", "size", "sha256"})
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


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


def parse_upload_request(body: dict, policy: UploadPolicy, caller: Caller) -> UploadRequest:
    """Shape errors (400) first, then who may use the kind (403), then policy errors: 415 for
    the type, 413 for the size."""
    _reject_unknown(body, _UPLOAD_FIELDS)
    kind_name = _required(body, "kind")
    if not isinstance(kind_name, str) or kind_name not in policy.kinds:
        raise ApiError(400, "invalid_kind",
                       f"kind must be one of: {', '.join(sorted(policy.kinds))}.")
    kind = policy.kinds[kind_name]
    kind.authorize(caller)
    filename = keys.sanitize_filename(_required(body, "filename"))
    content_type = _required(body, "content_type")
    if not isinstance(content_type, str) or not 0 < len(content_type) <= 255:
        raise ApiError(400, "invalid_content_type",
                       "content_type must be a string of 1 to 255 characters.")
    size = _required(body, "size")
    if type(size) is not int or size < 1:
        raise ApiError(400, "invalid_size", "size must be a whole number of bytes >= 1.")
    sha256 = body.get("sha256")
    if sha256 is not None and not (isinstance(sha256, str) and _SHA256_HEX.fullmatch(sha256)):
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


@dataclass(frozen=True)
class Completion:
    key: str
    upload_id: str
    action: str
    parts: list[dict]


_COMPLETE_FIELDS = frozenset({"key", "upload_id", "action", "parts"})
_UPLOAD_ID = re.compile(r"[\x21-\x7e]{1,1024}")
_ETAG = re.compile(r"[\x20-\x7e]{1,128}")
VERSION_ID = re.compile(r"[A-Za-z0-9._+/=-]{1,1024}")


def parse_completion(body: dict) -> Completion:
    _reject_unknown(body, _COMPLETE_FIELDS)
    key = keys.validate_key(_required(body, "key"))
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
        return Completion(key, upload_id, action, [])
    if not isinstance(parts, list) or not 0 < len(parts) <= S3_MAX_PARTS:
        raise ApiError(400, "invalid_parts",
                       f"parts must be a list of 1 to {S3_MAX_PARTS} parts.")
    out, previous = [], 0
    for part in parts:
        number = part.get("part_number") if isinstance(part, dict) else None
        etag = part.get("etag") if isinstance(part, dict) else None
        if not (isinstance(part, dict) and set(part) == {"part_number", "etag"}
                and type(number) is int and number == previous + 1
                and isinstance(etag, str) and _ETAG.fullmatch(etag)):
            raise ApiError(400, "invalid_parts", "Each part must be {\"part_number\", "
                           "\"etag\"}, numbered 1, 2, 3, ... in order.")
        out.append({"PartNumber": number, "ETag": etag})
        previous = number
    return Completion(key, upload_id, action, out)


def parse_object_ref(query: dict[str, str], caller: str, policy: UploadPolicy
                     ) -> tuple[str, str | None]:
    """(key, version_id) of a download/restore request the caller may read, or a 4xx.
    Unreadable keys are 403 before any S3 call (no existence oracle)."""
    key = keys.validate_key(query.get("key"))
    version_id = query.get("version_id")
    if version_id is not None and not VERSION_ID.fullmatch(version_id):
        raise ApiError(400, "invalid_version_id", "version_id is not a valid version id.")
    if not policy.may_read(key, caller):
        raise ApiError(403, "forbidden", "The caller may not read this key.")
    return key, version_id
