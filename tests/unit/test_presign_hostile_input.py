"""Property tests: whatever a client sends, the upload API answers a 4xx with a clear
message, no URL and no AWS call, or (for valid requests) a key inside the kind's prefix.

No servers: presigning is offline (a real boto3 client with dummy credentials) and every
network call is refused and recorded by the fakes below.
"""
from __future__ import annotations

import base64
import json
import re

import boto3
from botocore.config import Config
from estate_handlers import presign
from estate_handlers._http import MAX_BODY_BYTES
from estate_handlers.keys import caller_segment
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lambda_context import one_invocation

from infra.config import UploadApiConfig

POLICY = presign.UploadPolicy.from_json(UploadApiConfig().policy_json())
ALICE = "arn:aws:iam::123456789012:user/alice"
VALID = {"kind": "product-image", "filename": "look.png", "content_type": "image/png",
         "size": 1000}
SAFE_KEY = re.compile(r"[A-Za-z0-9._/-]+")
FAST = settings(max_examples=60, deadline=None)


_REAL = {
    service: boto3.client(
        service, region_name="us-east-1", aws_access_key_id="AKIDUNITTEST",
        aws_secret_access_key="unit-test-secret",
        endpoint_url="https://s3.us-east-1.amazonaws.com" if service == "s3" else None,
        config=Config(signature_version="s3v4") if service == "s3" else None)
    for service in ("s3", "dynamodb")
}


class RefusingAws:
    """Presigns for real (offline); records and refuses every network call."""

    def __init__(self, service: str):
        self.calls: list[str] = []
        self._real = _REAL[service]

    def generate_presigned_post(self, *args, **kwargs):
        return self._real.generate_presigned_post(*args, **kwargs)

    def generate_presigned_url(self, *args, **kwargs):
        return self._real.generate_presigned_url(*args, **kwargs)

    def get_item(self, **kwargs):  # the dedup index: always a miss
        self.calls.append("get_item")
        return {}

    def __getattr__(self, name):
        def refuse(**kwargs):
            self.calls.append(name)
            raise AssertionError(f"unexpected AWS call {name}")
        return refuse


def fresh_deps() -> presign.Deps:
    """New call recorders per example (hypothesis reuses function-scoped fixtures)."""
    return presign.Deps(s3=RefusingAws("s3"), dynamodb=RefusingAws("dynamodb"),
                        bucket="acme-assets-dev", table="dedup", policy=POLICY)


def event(method="POST", path="/uploads", body=None, *, b64=False, query="", caller=ALICE):
    ev = {"version": "2.0", "routeKey": f"{method} {path}", "rawPath": path,
          "rawQueryString": query, "isBase64Encoded": b64,
          "requestContext": {"http": {"method": method, "path": path}}}
    if caller is not None:
        ev["requestContext"]["authorizer"] = {"iam": {"userArn": caller}}
    if body is not None:
        ev["body"] = body
    return ev


# The last request's client-controlled text (path, query, decoded body): an error may quote it
# back (an unknown field's name), and Hypothesis also draws strings from this module's own
# literals, so a body can hold "http" or "signature" itself.
_last_sent = {"text": ""}


def call(deps, ev):
    body = ev.get("body") or ""
    if ev.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body + "==").decode("latin-1")
        except ValueError:
            pass  # not base64: the handler refuses it as sent
    _last_sent["text"] = " ".join([ev["rawPath"], ev["rawQueryString"], body]).lower()
    response = one_invocation(presign.handle, ev, deps)
    return response["statusCode"], json.loads(response["body"]), response["body"]


def assert_clean_4xx(deps, status, payload, raw, allowed=(400, 403, 404, 413, 415)):
    assert status in allowed, payload
    assert set(payload) == {"error", "message"}
    assert re.fullmatch(r"[a-z0-9_]+", payload["error"])
    assert payload["message"].endswith(".") and len(payload["message"]) < 400
    # Nothing the handler made (a URL, a signature) leaks into an error; what the client sent
    # may come back.
    for marker in ("http", "signature"):
        assert marker not in raw.lower() or marker in _last_sent["text"], raw
    assert deps.s3.calls == [] and deps.dynamodb.calls == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12)

traversal_names = st.sampled_from([
    "../../etc/passwd", "..", ".", "/etc/passwd", "C:\\Windows\\win.ini", "a/../../b.png",
    "..\\..\\secret.png", "/", "//server/share.png", "products/images/original/x.png",
])
control_chars = st.characters(categories=["Cc", "Cf", "Zl", "Zp"])


@FAST
@given(body=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(
    lambda b: b.decode("latin-1"))))
def test_non_json_bodies_are_400(body):
    aws = fresh_deps()
    try:
        json.loads(body)
        return  # the odd valid JSON document is covered by the next property
    except ValueError:
        pass
    status, payload, raw = call(aws, event(body=body))
    assert_clean_4xx(aws, status, payload, raw, allowed=(400,))


@FAST
@given(doc=json_values)
def test_arbitrary_json_documents_are_4xx(doc):
    aws = fresh_deps()
    status, payload, raw = call(aws, event(body=json.dumps(doc)))
    assert_clean_4xx(aws, status, payload, raw)


@FAST
@given(field=st.sampled_from(sorted(VALID)), value=json_values)
def test_wrong_json_types_are_400_naming_the_field(field, value):
    aws = fresh_deps()
    if isinstance(value, type(VALID[field])) and not isinstance(value, bool):
        return  # a right-typed value is a different property
    status, payload, raw = call(aws, event(body=json.dumps({**VALID, field: value})))
    assert_clean_4xx(aws, status, payload, raw, allowed=(400,))
    assert field in payload["message"] or field.replace("_", " ") in payload["message"]


@FAST
@given(missing=st.sets(st.sampled_from(sorted(VALID)), min_size=1))
def test_missing_fields_are_400_naming_one(missing):
    aws = fresh_deps()
    body = {k: v for k, v in VALID.items() if k not in missing}
    status, payload, raw = call(aws, event(body=json.dumps(body)))
    assert_clean_4xx(aws, status, payload, raw, allowed=(400,))
    assert payload["error"] == "missing_field"
    assert any(repr(m) in payload["message"] for m in missing)


@FAST
@given(name=traversal_names | st.builds(lambda a, b: f"{a}/{b}", st.text(max_size=10),
                                         st.text(max_size=10)))
def test_path_like_filenames_are_400(name):
    aws = fresh_deps()
    status, payload, raw = call(aws, event(body=json.dumps({**VALID, "filename": name})))
    assert_clean_4xx(aws, status, payload, raw, allowed=(400,))
    assert payload["error"] == "invalid_filename"


@FAST
@given(prefix=st.text(max_size=10), bad=control_chars, suffix=st.text(max_size=10))
def test_filenames_with_control_or_invisible_characters_are_400(prefix, bad, suffix):
    aws = fresh_deps()
    name = f"{prefix}{bad}{suffix}.png"
    status, payload, raw = call(aws, event(body=json.dumps({**VALID, "filename": name})))
    assert_clean_4xx(aws, status, payload, raw, allowed=(400,))


@FAST
@given(name=st.text(min_size=256, max_size=5000))
@example(name="a" * 5000)  # 400: within the body cap
@example(name="\u00e9" * 3000)  # 413: 18,000 bytes of escapes
def test_huge_filenames_are_400_or_413_when_the_body_is_over_the_cap(name):
    # json.dumps escapes each non-ASCII character (6 or 12 bytes), so a 5,000-character name
    # can make the body itself too large: that is refused first, as 413.
    aws = fresh_deps()
    body = json.dumps({**VALID, "filename": name})
    status, payload, raw = call(aws, event(body=body))
    expected = 413 if len(body.encode()) > MAX_BODY_BYTES else 400
    assert_clean_4xx(aws, status, payload, raw, allowed=(expected,))


@FAST
@given(name=st.text(min_size=1, max_size=255))
def test_any_accepted_filename_yields_a_safe_key_inside_the_prefix(name):
    aws = fresh_deps()
    status, payload, raw = call(aws, event(body=json.dumps({**VALID, "filename": name})))
    if status != 200:
        assert_clean_4xx(aws, status, payload, raw, allowed=(400,))
        return
    key = payload["key"]
    assert key.startswith("products/images/original/")
    assert SAFE_KEY.fullmatch(key) and "/../" not in key and "//" not in key
    assert key.count("/") == "products/images/original/".count("/") + 1
    assert payload["upload"]["fields"]["key"] == key


@FAST
@given(caller=st.text(min_size=1, max_size=300).filter(str.strip))
def test_any_caller_id_yields_its_own_safe_folder_for_user_uploads(caller):
    aws = fresh_deps()
    body = {**VALID, "kind": "user-upload"}
    status, payload, _ = call(aws, event(body=json.dumps(body), caller=caller))
    assert status == 200
    folder = payload["key"].split("/")[2]
    assert SAFE_KEY.fullmatch(folder) and folder not in (".", "..")
    assert folder == caller_segment(caller)


@FAST
@given(content_type=st.text(max_size=60).filter(
    lambda t: t.strip().lower() not in {"image/jpeg", "image/png", "image/webp", "image/avif"}))
def test_content_types_outside_the_kind_are_415_or_400(content_type):
    aws = fresh_deps()
    status, payload, raw = call(aws, event(body=json.dumps({**VALID,
                                                            "content_type": content_type})))
    assert_clean_4xx(aws, status, payload, raw, allowed=(400, 415))


@FAST
@given(size=st.integers(min_value=50 * 1024 * 1024 + 1, max_value=10 ** 30))
def test_sizes_over_the_cap_are_413(size):
    aws = fresh_deps()
    status, payload, raw = call(aws, event(body=json.dumps({**VALID, "size": size})))
    assert_clean_4xx(aws, status, payload, raw, allowed=(413,))


@FAST
@given(size=st.integers(max_value=0) | st.floats(allow_nan=False) | st.booleans())
def test_non_positive_or_fractional_sizes_are_400(size):
    aws = fresh_deps()
    status, payload, raw = call(aws, event(body=json.dumps({**VALID, "size": size})))
    assert_clean_4xx(aws, status, payload, raw, allowed=(400,))


@FAST
@given(sha=st.text(max_size=80).filter(lambda s: not re.fullmatch(r"[0-9a-f]{64}", s)))
def test_malformed_sha256_is_400(sha):
    aws = fresh_deps()
    status, payload, raw = call(aws, event(body=json.dumps({**VALID, "sha256": sha})))
    assert_clean_4xx(aws, status, payload, raw, allowed=(400,))
    assert payload["error"] == "invalid_sha256"


@FAST
@given(doc=json_values)
def test_base64_encoded_bodies_get_the_same_answer_as_plain_ones(doc):
    aws = fresh_deps()
    text = json.dumps(doc)
    plain = call(aws, event(body=text))
    encoded = call(aws, event(body=base64.b64encode(text.encode()).decode(), b64=True))
    assert plain[0] == encoded[0] and plain[1].get("error") == encoded[1].get("error")


@FAST
@given(body=st.text(min_size=1, max_size=100).filter(
    lambda s: not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", s) or len(s) % 4))
def test_invalid_base64_bodies_are_400(body):
    aws = fresh_deps()
    status, payload, raw = call(aws, event(body=body, b64=True))
    assert_clean_4xx(aws, status, payload, raw, allowed=(400,))


def test_huge_bodies_are_413_before_parsing():
    aws = fresh_deps()
    body = json.dumps({**VALID, "filename": "a" * 100_000})
    status, payload, raw = call(aws, event(body=body))
    assert_clean_4xx(aws, status, payload, raw, allowed=(413,))


def test_deeply_nested_json_is_400():
    aws = fresh_deps()
    status, payload, raw = call(aws, event(body="[" * 5000 + "]" * 5000))
    assert_clean_4xx(aws, status, payload, raw, allowed=(400,))


@FAST
@given(key=traversal_names.filter(lambda k: not k.startswith("products/")) | st.text(
    max_size=60) | st.sampled_from(["products/images/original/../../../etc/passwd",
                                   "brands/media//x.mp4", "brands/./media/x", "/brands/logos/a"])
    | st.builds(
    lambda a, b: f"user-content/uploads/{a}/{b}", st.text(max_size=12), st.text(max_size=12)))
def test_download_of_hostile_or_foreign_keys_is_4xx_without_touching_s3(key):
    aws = fresh_deps()
    from urllib.parse import quote
    status, payload, raw = call(aws, event("GET", "/downloads", query=f"key={quote(key)}"))
    assert_clean_4xx(aws, status, payload, raw, allowed=(400, 403))


@FAST
@given(query=st.text(max_size=80))
def test_arbitrary_download_query_strings_are_4xx_or_reach_only_head_object(query):
    aws = fresh_deps()
    status, payload, raw = call(aws, event("GET", "/downloads", query=query))
    if aws.s3.calls:  # a readable, well-formed key: HeadObject is the one call allowed
        assert aws.s3.calls == ["head_object"]
        return
    assert_clean_4xx(aws, status, payload, raw, allowed=(400, 403))


@FAST
@given(doc=json_values | st.fixed_dictionaries(
    {"key": st.text(max_size=40), "upload_id": st.text(max_size=40),
     "action": st.sampled_from(["complete", "abort", "delete", ""]),
     "parts": json_values}))
def test_hostile_completion_bodies_are_4xx_without_touching_s3(doc):
    aws = fresh_deps()
    status, payload, raw = call(aws, event(path="/uploads/complete", body=json.dumps(doc)))
    assert_clean_4xx(aws, status, payload, raw, allowed=(400, 403))


unusable_ids = st.none() | st.integers() | st.lists(st.text(max_size=5), max_size=2) | \
    st.sampled_from(["", " ", "\t\n"]) | st.text(min_size=2049, max_size=2100)
authorizers = st.one_of(
    json_values.filter(lambda a: not (isinstance(a, dict) and ("iam" in a or "jwt" in a))),
    st.builds(lambda v: {"iam": v}, json_values.filter(lambda v: not isinstance(v, dict))),
    st.builds(lambda v: {"iam": {"userArn": v}}, unusable_ids),
    st.builds(lambda u, i: {"iam": {"userArn": u, "userId": i}}, unusable_ids, unusable_ids),
    st.builds(lambda v: {"jwt": {"claims": {"sub": v}}}, unusable_ids),
    st.builds(lambda v: {"jwt": {"claims": v}}, json_values.filter(
        lambda v: not isinstance(v, dict) or "sub" not in v)),
)


@FAST
@given(authorizer=authorizers)
def test_requests_without_a_usable_identity_are_403(authorizer):
    aws = fresh_deps()
    ev = event(body=json.dumps(VALID), caller=None)
    ev["requestContext"]["authorizer"] = authorizer
    # Identity-looking headers are client-controlled: never an identity.
    ev["headers"] = {"x-amz-user-arn": ALICE, "authorization": "Bearer forged"}
    status, payload, raw = call(aws, ev)
    assert_clean_4xx(aws, status, payload, raw, allowed=(403,))


@FAST
@given(ev=json_values)
def test_events_that_are_not_http_requests_are_4xx(ev):
    aws = fresh_deps()
    response = one_invocation(presign.handle, ev, aws)
    assert 400 <= response["statusCode"] < 500
    assert "url" not in response["body"]


@FAST
@given(doc=json_values | st.fixed_dictionaries(
    {"key": json_values | st.text(max_size=40), "version_id": json_values}))
def test_hostile_restore_bodies_are_4xx_without_touching_s3(doc):
    aws = fresh_deps()
    status, payload, raw = call(aws, event(path="/downloads/restore", body=json.dumps(doc)))
    if aws.s3.calls:  # a readable, well-formed key: HeadObject is the one call allowed first
        assert aws.s3.calls == ["head_object"]
        return
    assert_clean_4xx(aws, status, payload, raw, allowed=(400, 403))
