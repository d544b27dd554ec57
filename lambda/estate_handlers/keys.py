"""Key rules of the upload API: who owns which folder, what a safe key looks like.

The server chooses every key: ``<prefix>[<caller segment>/]<token>/<filename>``. The caller
segment (per-caller kinds only) is a readable slug of the principal plus 16 hex of its
SHA-256, so two principals never share a folder even when their slugs agree. ``token`` is 16
random hex (unguessable, unique) followed by a 20-hex *owner tag*, a hash of the caller id,
which lets ``/uploads/complete`` check ownership statelessly. Hostile file names (paths,
control or invisible characters, over 255 characters) are refused; others are reduced to
``[A-Za-z0-9._-]``.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from typing import Any

from estate_handlers._http import ApiError
from estate_handlers.layout import INTELLIGENT_TIERING_PREFIXES

MAX_KEY_BYTES = 1024
_TIERED = tuple(INTELLIGENT_TIERING_PREFIXES.values())
TOKEN = re.compile(r"[0-9a-f]{16}([0-9a-f]{20})")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_REJECTED_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def caller_segment(caller: str) -> str:
    """The caller's folder under per-caller prefixes: readable slug + hash (injective)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", caller).strip("-")[:40].strip("-") or "caller"
    return f"{slug}-{_sha256_hex(caller)[:16]}"


def owner_tag(caller: str) -> str:
    return _sha256_hex("owner\0" + caller)[:20]


def has_control_chars(text: str) -> bool:
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
    if has_control_chars(name):
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


def new_key(prefix: str, per_caller: bool, caller: str, filename: str) -> str:
    folder = f"{caller_segment(caller)}/" if per_caller else ""
    key = f"{prefix}{folder}{secrets.token_hex(8)}{owner_tag(caller)}/{filename}"
    # Belt and braces: whatever the sanitizer becomes, never sign outside the kind's prefix.
    assert key.startswith(prefix) and "/../" not in key and "//" not in key
    return key


def validate_key(key: Any) -> str:
    """A well-formed object key (ApiError 400 otherwise). Says nothing about access."""
    if not isinstance(key, str) or not key:
        raise ApiError(400, "invalid_key", "key must be a non-empty string.")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise ApiError(400, "invalid_key", f"key must be at most {MAX_KEY_BYTES} bytes.")
    if has_control_chars(key) or "\\" in key:
        raise ApiError(400, "invalid_key", "key contains control or invisible characters.")
    if any(segment in ("", ".", "..") for segment in key.split("/")):
        raise ApiError(400, "invalid_key", "key must be an object path without empty, "
                       "'.' or '..' segments (no leading or trailing '/').")
    return key


def is_owned_by(rest: str, per_caller: bool, caller: str) -> bool:
    """Whether the key part after its kind's prefix was issued to ``caller``."""
    parts = rest.split("/")
    if per_caller:
        if parts[0] != caller_segment(caller):
            return False
        parts = parts[1:]
    token = TOKEN.fullmatch(parts[0]) if len(parts) == 2 else None
    return token is not None and secrets.compare_digest(token.group(1), owner_tag(caller))


def is_tiered(key_or_prefix: str) -> bool:
    """Under one of the prefixes the lifecycle rules tier (uploads there are written in
    Intelligent-Tiering directly)."""
    return key_or_prefix.startswith(_TIERED)


def storage_class_for(key: str) -> str:
    """INTELLIGENT_TIERING under the prefixes the lifecycle rules tier; STANDARD elsewhere."""
    return "INTELLIGENT_TIERING" if is_tiered(key) else "STANDARD"
