"""What Powertools' resolver does not do for us: strict request parsing.

Powertools' ``json_body`` accepts NaN/Infinity, keeps the last of duplicate keys and decodes
invalid base64 leniently; its ``query_string_parameters`` joins repeated names with commas
(ambiguous for object keys). These functions read the raw payload-2.0 event instead, and turn
every malformed input into an ``ApiError`` (a 4xx with a stable code and a sentence for
humans), which the resolver's exception handler renders as ``{"error", "message"}``.
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qsl

MAX_BODY_BYTES = 16 * 1024  # an upload request is a few hundred bytes


class ConfigError(ValueError):
    """The function's environment is wrong (a deployment bug, never the caller's)."""


class ApiError(Exception):
    """A client error: HTTP status, a stable machine code and a human sentence."""

    def __init__(self, status: int, code: str, message: str, **details: Any):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details  # extra fields of the answer, e.g. a restore's progress

    def payload(self) -> dict:
        return {"error": self.code, "message": self.message, **self.details}


def dig(obj: Any, *path: str) -> Any:
    """``obj[path[0]][path[1]]...`` or None when any step is missing or not a dict."""
    for name in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(name)
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    obj: dict = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def json_body(event: dict, max_bytes: int = MAX_BODY_BYTES) -> dict:
    """The request body as a JSON object. Handles ``isBase64Encoded`` (API Gateway sets it
    for non-text content types); rejects NaN/Infinity, duplicate keys and non-objects."""
    body = event.get("body")
    if body is None or body == "":
        raise ApiError(400, "missing_body", "The request needs a JSON object body.")
    if not isinstance(body, str):
        raise ApiError(400, "malformed_json", "The request body must be JSON text.")
    if len(body) > 4 * max_bytes:  # cheap bound before decoding anything
        raise ApiError(413, "request_too_large",
                       f"The request body is larger than {max_bytes} bytes.")
    if event.get("isBase64Encoded") is True:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "malformed_body", "The request body is flagged as base64 "
                           "but is not valid base64.") from None
    else:
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(400, "malformed_body", "The request body is not valid UTF-8.") from None
    if len(raw) > max_bytes:
        raise ApiError(413, "request_too_large",
                       f"The request body is larger than {max_bytes} bytes.")
    try:
        text = raw.decode("utf-8")
        parsed = json.loads(text, parse_constant=_reject_constant,
                            object_pairs_hook=_no_duplicate_keys)
    except UnicodeDecodeError:
        raise ApiError(400, "malformed_body", "The request body is not valid UTF-8.") from None
    except (ValueError, RecursionError):
        raise ApiError(400, "malformed_json", "The request body is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise ApiError(400, "malformed_json", "The request body must be a JSON object.")
    return parsed


def query_params(event: dict, allowed: frozenset[str]) -> dict[str, str]:
    """Query string parameters, each at most once. ``rawQueryString`` first: the parsed
    ``queryStringParameters`` joins repeated names with commas, which is ambiguous for keys."""
    raw = event.get("rawQueryString")
    if isinstance(raw, str):
        if len(raw) > 8192:
            raise ApiError(400, "invalid_query", "The query string is too long.")
        try:
            pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=bool(raw),
                              errors="strict", max_num_fields=len(allowed) + 1)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "invalid_query", "The query string is malformed.") from None
    else:
        params = event.get("queryStringParameters") or {}
        if not isinstance(params, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in params.items()):
            raise ApiError(400, "invalid_query", "The query string is malformed.")
        pairs = list(params.items())
    out: dict[str, str] = {}
    for name, value in pairs:
        if name not in allowed:
            raise ApiError(400, "invalid_query", f"Unknown query parameter {name[:64]!r}; "
                           f"expected {', '.join(sorted(allowed))}.")
        if name in out:
            raise ApiError(400, "invalid_query", f"Query parameter {name!r} is repeated.")
        out[name] = value
    return out
