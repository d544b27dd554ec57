"""Presigned POST (no sha256): the store itself enforces what the handler signed.

SeaweedFS 4.48 checks every POST policy condition used here (exact key, Content-Type,
content-length-range, x-amz-storage-class), the policy expiration, the signature and
extra form fields; each test uploads with urllib exactly as a browser form would.
"""
from __future__ import annotations

import base64
import datetime
import json

from local_services import post_form, s3_error_code, signing_clock

BODY = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


BODY_SIZE = len(BODY)


def issue_post(api, size=BODY_SIZE, kind="product-image", content_type="image/png"):
    status, resp = api.upload(kind=kind, filename="look 01.png", content_type=content_type,
                              size=size)
    assert status == 200, resp
    assert resp["upload"]["method"] == "POST"
    return resp


def object_versions(s3_client, bucket):
    return s3_client.list_object_versions(Bucket=bucket).get("Versions", [])


def test_issued_post_uploads_the_declared_bytes_to_the_issued_key(presign_api, s3_client):
    resp = issue_post(presign_api)
    status, _ = post_form(resp["upload"]["url"], resp["upload"]["fields"], BODY)
    assert status == 204
    head = s3_client.head_object(Bucket=presign_api.bucket, Key=resp["key"])
    assert head["ContentLength"] == len(BODY)
    assert head["ContentType"] == "image/png"
    assert head["StorageClass"] == "INTELLIGENT_TIERING"
    assert resp["key"].startswith("products/images/original/")


def test_post_policy_binds_exact_size_type_key_and_storage_class(presign_api):
    resp = issue_post(presign_api)
    policy = json.loads(base64.b64decode(resp["upload"]["fields"]["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", len(BODY), len(BODY)] in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert {"key": resp["key"]} in conditions
    assert {"x-amz-storage-class": "INTELLIGENT_TIERING"} in conditions


def test_store_rejects_a_body_larger_than_declared(presign_api, s3_client):
    resp = issue_post(presign_api)
    status, body = post_form(resp["upload"]["url"], resp["upload"]["fields"], BODY + b"x")
    assert (status, s3_error_code(body)) == (400, "EntityTooLarge")
    assert object_versions(s3_client, presign_api.bucket) == []


def test_store_rejects_a_body_smaller_than_declared(presign_api, s3_client):
    resp = issue_post(presign_api)
    status, body = post_form(resp["upload"]["url"], resp["upload"]["fields"], BODY[:-1])
    assert (status, s3_error_code(body)) == (400, "EntityTooSmall")
    assert object_versions(s3_client, presign_api.bucket) == []


def test_store_rejects_a_content_type_other_than_issued(presign_api, s3_client):
    resp = issue_post(presign_api)
    fields = {**resp["upload"]["fields"], "Content-Type": "text/html"}
    status, body = post_form(resp["upload"]["url"], fields, BODY)
    assert (status, s3_error_code(body)) == (403, "AccessDenied")
    assert object_versions(s3_client, presign_api.bucket) == []


def test_store_rejects_a_key_other_than_issued(presign_api, s3_client):
    resp = issue_post(presign_api)
    fields = {**resp["upload"]["fields"], "key": "products/images/original/chosen-by-client.png"}
    status, body = post_form(resp["upload"]["url"], fields, BODY)
    assert (status, s3_error_code(body)) == (403, "AccessDenied")
    assert object_versions(s3_client, presign_api.bucket) == []


def test_store_rejects_a_different_storage_class(presign_api, s3_client):
    resp = issue_post(presign_api)
    fields = {**resp["upload"]["fields"], "x-amz-storage-class": "STANDARD"}
    status, body = post_form(resp["upload"]["url"], fields, BODY)
    assert (status, s3_error_code(body)) == (403, "AccessDenied")
    assert object_versions(s3_client, presign_api.bucket) == []


def test_store_rejects_a_tampered_signature(presign_api, s3_client):
    resp = issue_post(presign_api)
    signature = resp["upload"]["fields"]["x-amz-signature"]
    forged = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    fields = {**resp["upload"]["fields"], "x-amz-signature": forged}
    status, body = post_form(resp["upload"]["url"], fields, BODY)
    assert (status, s3_error_code(body)) == (403, "SignatureDoesNotMatch")
    assert object_versions(s3_client, presign_api.bucket) == []


def test_store_rejects_a_tampered_policy(presign_api, s3_client):
    resp = issue_post(presign_api, size=10)
    policy = json.loads(base64.b64decode(resp["upload"]["fields"]["policy"]))
    policy["conditions"] = [c for c in policy["conditions"]
                            if not (isinstance(c, list) and c[0] == "content-length-range")]
    fields = {**resp["upload"]["fields"],
              "policy": base64.b64encode(json.dumps(policy).encode()).decode()}
    status, body = post_form(resp["upload"]["url"], fields, BODY)
    assert (status, s3_error_code(body)) == (403, "SignatureDoesNotMatch")
    assert object_versions(s3_client, presign_api.bucket) == []


def test_store_rejects_an_extra_form_field(presign_api, s3_client):
    resp = issue_post(presign_api)
    fields = {**resp["upload"]["fields"], "x-amz-meta-owner": "mallory"}
    status, body = post_form(resp["upload"]["url"], fields, BODY)
    assert (status, s3_error_code(body)) == (403, "AccessDenied")
    assert object_versions(s3_client, presign_api.bucket) == []


def test_store_rejects_an_expired_post_policy(presign_api, s3_client):
    # Issued "two hours ago" with the shortest expiry the handler allows (60 s): no sleeping.
    presign_api.configure(url_expiry_seconds=60)
    with signing_clock(datetime.datetime.utcnow() - datetime.timedelta(hours=2)):
        resp = issue_post(presign_api)
    assert resp["expires_in"] == 60
    status, body = post_form(resp["upload"]["url"], resp["upload"]["fields"], BODY)
    assert (status, s3_error_code(body)) == (403, "AccessDenied")
    assert b"expired" in body.lower()
    assert object_versions(s3_client, presign_api.bucket) == []


def test_brand_logo_post_binds_standard_storage_class(presign_api, s3_client):
    resp = issue_post(presign_api, kind="brand-logo")
    assert resp["upload"]["fields"]["x-amz-storage-class"] == "STANDARD"
    status, _ = post_form(resp["upload"]["url"], resp["upload"]["fields"], BODY)
    assert status == 204
    assert s3_client.head_object(Bucket=presign_api.bucket, Key=resp["key"])["ContentType"] \
        == "image/png"
