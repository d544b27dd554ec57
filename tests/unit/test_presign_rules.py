"""The presign handler's rules, one per test, without servers (fakes for AWS calls;
presigning itself is offline and real)."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config
from estate_handlers import keys, presign, s3_plans
from estate_handlers._http import ApiError, ConfigError
from estate_handlers.dedup_index import CanonicalObject
from estate_handlers.keys import caller_segment
from estate_handlers.upload_policy import parse_completion, part_sizes
from hypothesis import given, settings
from hypothesis import strategies as st
from lambda_context import one_invocation

from infra.config import MB, UploadApiConfig

ALICE = "arn:aws:iam::123456789012:user/alice"
VALID = {"kind": "product-image", "filename": "look.png", "content_type": "image/png",
         "size": 1000}
SHA = hashlib.sha256(b"x").hexdigest()


class FakeAws:
    """Offline presigning plus canned answers for the few network calls under test."""

    def __init__(self, real, **answers):
        self._real, self._answers, self.calls = real, answers, []

    def generate_presigned_post(self, *args, **kwargs):
        return self._real.generate_presigned_post(*args, **kwargs)

    def generate_presigned_url(self, *args, **kwargs):
        return self._real.generate_presigned_url(*args, **kwargs)

    def __getattr__(self, name):
        def answer(**kwargs):
            self.calls.append((name, kwargs))
            if name not in self._answers:
                raise AssertionError(f"unexpected AWS call {name}")
            return self._answers[name](**kwargs)
        return answer


@pytest.fixture(scope="module")
def real_s3():
    return boto3.client("s3", region_name="us-east-1", aws_access_key_id="AKIDUNIT",
                        aws_secret_access_key="secret", config=Config(signature_version="s3v4"),
                        endpoint_url="https://s3.us-east-1.amazonaws.com")


def deps(real_s3, s3=None, dynamodb=None, **policy):
    return presign.Deps(
        s3=FakeAws(real_s3, **(s3 or {})), dynamodb=FakeAws(None, **(dynamodb or {})),
        bucket="acme-assets-dev", table="dedup",
        policy=presign.UploadPolicy.from_json(UploadApiConfig(**policy).policy_json()))


def call(d, body=None, method="POST", path="/uploads", query="", authorizer=None):
    ev = {"version": "2.0", "routeKey": f"{method} {path}", "rawPath": path,
          "rawQueryString": query, "isBase64Encoded": False,
          "requestContext": {"http": {"method": method, "path": path},
                             "authorizer": authorizer or {"iam": {"userArn": ALICE}}}}
    if body is not None:
        ev["body"] = json.dumps(body)
    response = one_invocation(presign.handle, ev, d)
    return response["statusCode"], json.loads(response["body"])


# --------------------------------------------------------------------------- config

def test_policy_is_read_from_the_infra_policy_json():
    policy = presign.UploadPolicy.from_json(UploadApiConfig().policy_json())
    for name, kind in UploadApiConfig().kinds.items():
        parsed = policy.kinds[name]
        assert (parsed.prefix, parsed.content_types, parsed.max_bytes, parsed.per_caller) == \
            (kind.prefix, frozenset(kind.content_types), kind.max_bytes, kind.per_caller)


def _policy(**changes) -> str:
    """The shipped policy JSON with ``changes``: what the handler must withstand even where
    the config (which refuses these values) is bypassed."""
    return json.dumps({**json.loads(UploadApiConfig().policy_json()), **changes})


@pytest.mark.parametrize(("configured", "used"), [(1, 60), (59, 60), (900, 900), (86400, 3600)])
def test_url_expiry_is_bounded_to_60_3600_seconds(configured, used):
    policy = _policy(url_expiry_seconds=configured)
    assert presign.UploadPolicy.from_json(policy).expiry_seconds == used


@pytest.mark.parametrize("part_bytes", [MB, 6 * 1024 * MB])
def test_part_size_outside_s3s_part_sizes_is_a_config_error(part_bytes):
    with pytest.raises(ConfigError, match="multipart_part_bytes"):
        presign.UploadPolicy.from_json(_policy(multipart_part_bytes=part_bytes))


def test_kind_prefix_outside_the_asset_prefixes_is_a_config_error():
    kinds = {"evil": {"prefix": "internal/", "content_types": ["image/png"], "max_bytes": MB,
                      "per_caller": False, "access": None}}
    with pytest.raises(ConfigError, match="not under an asset prefix"):
        presign.UploadPolicy.from_json(_policy(kinds=kinds))


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_s3_urls_use_the_buckets_regional_endpoint(monkeypatch, region):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDUNIT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it caches credentials: keep ours local
    client = presign.make_s3_client(region)
    post = client.generate_presigned_post("acme-assets-dev", "brands/logos/a.png")
    assert post["url"] == f"https://acme-assets-dev.s3.{region}.amazonaws.com/"


# --------------------------------------------------------------------------- identity & keys

def test_jwt_subject_is_the_caller(real_s3):
    status, resp = call(deps(real_s3), {**VALID, "kind": "user-upload"},
                        authorizer={"jwt": {"claims": {"sub": "auth0|42"}}})
    assert status == 200
    assert resp["key"].startswith(f"user-content/uploads/{caller_segment('auth0|42')}/")


def test_iam_user_id_is_the_caller_when_there_is_no_user_arn(real_s3):
    status, resp = call(deps(real_s3), {**VALID, "kind": "user-upload"},
                        authorizer={"iam": {"userId": "AIDAEXAMPLE"}})
    assert status == 200
    assert caller_segment("AIDAEXAMPLE") in resp["key"]


def test_callers_whose_ids_slug_alike_get_different_folders():
    assert caller_segment("auth0|42") != caller_segment("auth0:42")
    assert caller_segment("auth0|42").startswith("auth0-42-")


def test_owner_tags_differ_between_callers():
    assert keys.owner_tag(ALICE) != keys.owner_tag(ALICE + " ")


@pytest.mark.parametrize(("given_name", "stored"), [
    ("Été 2026 (final).PNG", "Ete-2026-final.png"),
    ("照片.png", "file.png"),
    (".bashrc", "file.bashrc"),
    ("a..b...png", "a.b.png"),
    ("no extension", "no-extension"),
])
def test_filename_is_sanitized_into_the_last_key_segment(given_name, stored):
    assert keys.sanitize_filename(given_name) == stored


def test_generated_keys_are_unique(real_s3):
    d = deps(real_s3)
    keys = {call(d, VALID)[1]["key"] for _ in range(20)}
    assert len(keys) == 20


def test_client_chosen_key_field_is_refused(real_s3):
    status, resp = call(deps(real_s3), {**VALID, "key": "products/images/original/mine.png"})
    assert (status, resp["error"]) == (400, "unknown_field")


def test_content_type_is_matched_case_insensitively_and_bound_lowercase(real_s3):
    status, resp = call(deps(real_s3), {**VALID, "content_type": " IMAGE/PNG "})
    assert status == 200 and resp["upload"]["fields"]["Content-Type"] == "image/png"


# --------------------------------------------------------------------------- routes

def test_unknown_route_is_404(real_s3):
    assert call(deps(real_s3), VALID, path="/admin")[0] == 404


def test_wrong_method_on_a_known_path_is_405(real_s3):
    assert call(deps(real_s3), method="DELETE", path="/uploads")[0] == 405


def test_reported_expiry_is_the_signed_expiry(real_s3):
    d = deps(real_s3, dynamodb={"get_item": lambda **kw: {}}, url_expiry_seconds=300)
    status, resp = call(d, {**VALID, "sha256": SHA})
    assert status == 200 and resp["expires_in"] == 300
    assert parse_qs(urlsplit(resp["upload"]["url"]).query)["X-Amz-Expires"] == ["300"]


def test_hash_miss_issues_a_put_signing_the_checksum(real_s3):
    d = deps(real_s3, dynamodb={"get_item": lambda **kw: {}})
    status, resp = call(d, {**VALID, "sha256": SHA})
    assert status == 200 and resp["upload"]["method"] == "PUT"
    assert resp["upload"]["headers"]["x-amz-checksum-sha256"] == \
        base64.b64encode(hashlib.sha256(b"x").digest()).decode()
    signed = parse_qs(urlsplit(resp["upload"]["url"]).query)["X-Amz-SignedHeaders"][0]
    assert {"content-type", "content-length", "x-amz-checksum-sha256"} <= set(signed.split(";"))


def test_index_entry_of_another_size_is_not_a_dedup_hit(real_s3):
    item = CanonicalObject(SHA, "products/images/original/a/b.png", "v1", 999, "2026-01-01")
    d = deps(real_s3, dynamodb={"get_item": lambda **kw: {"Item": item.to_item()}})
    status, resp = call(d, {**VALID, "sha256": SHA})  # declares 1000 bytes
    assert status == 200 and resp["deduplicated"] is False
    assert [name for name, _ in d.s3.calls] == []  # no HeadObject either


def test_sizes_above_the_threshold_get_a_multipart_plan(real_s3):
    d = deps(real_s3, s3={"create_multipart_upload": lambda **kw: {"UploadId": "u-1"}},
             multipart_threshold_bytes=10 * MB, multipart_part_bytes=8 * MB)
    status, resp = call(d, {**VALID, "size": 20 * MB})
    assert status == 200 and resp["upload"]["method"] == "MULTIPART"
    assert [p["headers"]["Content-Length"] for p in resp["upload"]["parts"]] == \
        [str(8 * MB), str(8 * MB), str(4 * MB)]
    (name, kwargs), = d.s3.calls
    assert kwargs["Key"] == resp["key"] and kwargs["StorageClass"] == "INTELLIGENT_TIERING"


def test_completion_by_another_caller_never_reaches_s3(real_s3):
    d = deps(real_s3, s3={"create_multipart_upload": lambda **kw: {"UploadId": "u-1"}},
             multipart_threshold_bytes=10 * MB)
    _, plan = call(d, {**VALID, "size": 20 * MB})
    d.s3.calls.clear()
    status, resp = call(d, {"key": plan["key"], "upload_id": "u-1", "action": "abort"},
                        path="/uploads/complete",
                        authorizer={"iam": {"userArn": ALICE.replace("alice", "mallory")}})
    assert (status, resp["error"]) == (403, "forbidden") and d.s3.calls == []


@settings(max_examples=200, deadline=None)
@given(size=st.integers(min_value=1, max_value=5 * 1024 ** 4),
       part=st.integers(min_value=5 * MB, max_value=5 * 1024 ** 3))
def test_parts_cover_the_size_within_s3_limits(size, part):
    sizes = part_sizes(size, part)
    assert sum(sizes) == size and len(sizes) <= 10_000
    assert all(s == sizes[0] for s in sizes[:-1]) and sizes[-1] <= sizes[0]


def test_logs_never_contain_urls_signatures_or_policies(real_s3):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(presign.logger.registered_formatter)
    presign.logger.addHandler(handler)
    try:
        d = deps(real_s3, dynamodb={"get_item": lambda **kw: {}},
                 s3={"head_object": lambda **kw: {"VersionId": "v1"}})
        _, post = call(d, VALID)
        _, put = call(d, {**VALID, "sha256": SHA})
        _, get = call(d, method="GET", path="/downloads",
                      query="key=products/images/processed/a.webp")
    finally:
        presign.logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["status"] for line in lines] == [200, 200, 200]
    text = stream.getvalue()
    secrets = [post["upload"]["fields"]["x-amz-signature"], post["upload"]["fields"]["policy"],
               parse_qs(urlsplit(put["upload"]["url"]).query)["X-Amz-Signature"][0],
               parse_qs(urlsplit(get["url"]).query)["X-Amz-Signature"][0]]
    assert "https://" not in text and not any(s in text for s in secrets)


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_s3_download_urls_use_the_buckets_regional_endpoint(monkeypatch, region):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDUNIT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it caches credentials: keep ours local
    url = presign.make_s3_client(region).generate_presigned_url(
        "get_object", Params={"Bucket": "acme-assets-dev", "Key": "brands/logos/a.png"})
    assert url.startswith(f"https://acme-assets-dev.s3.{region}.amazonaws.com/brands/logos/a.png?")


@pytest.mark.parametrize("numbers", [[2], [1, 3], [1, 2, 2], [2, 1], [0, 1]])
def test_a_completion_must_list_parts_1_2_3_in_order(numbers):
    # Only then is the stored object the whole planned upload (no part skipped).
    etag = '"' + "0" * 32 + '"'
    body = {"key": "user-content/uploads/u/k.bin", "upload_id": "abc", "action": "complete",
            "parts": [{"part_number": n, "etag": etag} for n in numbers]}
    with pytest.raises(ApiError) as err:
        parse_completion(body)
    assert (err.value.status, err.value.code) == (400, "invalid_parts")
    body["parts"] = [{"part_number": n, "etag": etag} for n in range(1, len(numbers) + 1)]
    assert [p["PartNumber"] for p in parse_completion(body).parts] == \
        list(range(1, len(numbers) + 1))


def test_a_version_s_age_is_read_from_s3_s_clock():
    from datetime import UTC, datetime, timedelta

    from estate_handlers.s3_plans import version_age_seconds

    written = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    answer = {"LastModified": written,
              "ResponseMetadata": {"HTTPHeaders": {"date": "Thu, 03 Dec 2026 12:20:00 GMT"}}}
    assert version_age_seconds(answer) == 1_200.0  # whatever this machine's clock says
    assert version_age_seconds({"VersionId": "v1"}) is None  # no LastModified: never settled
    # no Date in the answer: this function's clock
    recent = {"LastModified": datetime.now(UTC) - timedelta(seconds=30)}
    assert 29 <= version_age_seconds(recent) <= 60


@pytest.mark.parametrize(("key", "disposition"), [
    ("products/documents/certificates/sku-1/cert.pdf",
     "attachment; filename=\"cert.pdf\"; filename*=UTF-8''cert.pdf"),
    # a key stored before the upload API cleaned names: no quote or header break survives
    ('brands/media/acme/spring "look"\r\nX: y.mp4',
     "attachment; filename=\"spring__look___X__y.mp4\"; "
     "filename*=UTF-8''spring%20%22look%22%0D%0AX%3A%20y.mp4"),
])
def test_a_download_is_an_attachment_named_after_its_key(key, disposition):
    assert s3_plans.attachment_disposition(key) == disposition


def test_the_null_versions_verdict_is_the_one_read():
    # version_id=null names the version written before versioning was on: its own verdict
    # decides, not the current version's (the URL is signed for the null version).
    asked = []

    class Tags:
        def get_object_tagging(self, **request):
            asked.append(request)
            return {"TagSet": [{"Key": "GuardDutyMalwareScanStatus", "Value": "THREATS_FOUND"}]}

    store = s3_plans.Store(s3=Tags(), dynamodb=None, bucket="b", table="t", policy=None,
                           scan_gated_prefixes=("user-content/uploads/",))
    with pytest.raises(ApiError) as refused:
        s3_plans.require_clean(store, "user-content/uploads/u/x.pdf", "null")
    assert refused.value.status == 403
    assert asked == [{"Bucket": "b", "Key": "user-content/uploads/u/x.pdf", "VersionId": "null"}]
