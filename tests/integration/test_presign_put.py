"""Presigned PUT (with sha256) and the dedup index, against SeaweedFS and DynamoDB Local.

SeaweedFS 4.48 verifies a signed ``x-amz-checksum-sha256`` against the body (BadDigest),
and every signed header (Content-Type, Content-Length, checksum, storage class) is part of
the SigV4 signature, so a client that changes any of them gets SignatureDoesNotMatch.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
from estate_handlers.dedup_index import CanonicalObject
from local_services import http, post_form, s3_error_code, signing_clock

ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:iam::123456789012:user/bob"
BODY = b"%PDF-1.7\n" + b"certificate of origin, lot 42\n" * 40
SHA = hashlib.sha256(BODY).hexdigest()


def issue_put(api, body=BODY, kind="certificate", content_type="application/pdf", caller=ALICE):
    status, resp = api.upload(caller=caller, kind=kind, filename="cert.pdf",
                              content_type=content_type, size=len(body),
                              sha256=hashlib.sha256(body).hexdigest())
    assert status == 200, resp
    assert resp["deduplicated"] is False and resp["upload"]["method"] == "PUT"
    return resp


def put(resp, body=BODY, **header_overrides):
    headers = {**resp["upload"]["headers"], **header_overrides}
    return http("PUT", resp["upload"]["url"], body, headers)


def versions(s3_client, bucket):
    return s3_client.list_object_versions(Bucket=bucket).get("Versions", [])


def index(dynamodb_client, table, key, version_id, body=BODY):
    item = CanonicalObject(sha256=hashlib.sha256(body).hexdigest(), key=key,
                           version_id=version_id, size=len(body),
                           first_seen="2026-01-01T00:00:00Z")
    dynamodb_client.put_item(TableName=table, Item=item.to_item())


def stored(s3_client, bucket, key, body=BODY, content_type="application/pdf"):
    return s3_client.put_object(Bucket=bucket, Key=key, Body=body,
                                ContentType=content_type)["VersionId"]


def test_issued_put_stores_the_bytes_with_their_checksum(presign_api, s3_client):
    resp = issue_put(presign_api)
    status, _ = put(resp)
    assert status == 200
    head = s3_client.head_object(Bucket=presign_api.bucket, Key=resp["key"],
                                 ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    assert head["ContentLength"] == len(BODY)
    assert head["StorageClass"] == "INTELLIGENT_TIERING"
    assert resp["key"].startswith("products/documents/certificates/")


def test_put_url_signs_type_length_checksum_and_storage_class(presign_api):
    resp = issue_put(presign_api)
    query = parse_qs(urlsplit(resp["upload"]["url"]).query)
    assert query["X-Amz-SignedHeaders"] == [
        "content-length;content-type;host;if-none-match;x-amz-checksum-sha256;"
        "x-amz-storage-class"]
    assert resp["upload"]["headers"]["x-amz-checksum-sha256"] == \
        base64.b64encode(bytes.fromhex(SHA)).decode()
    assert resp["upload"]["headers"]["Content-Length"] == str(len(BODY))


def test_a_put_url_writes_its_key_once_a_replay_is_refused(presign_api, s3_client):
    # Within its expiry the URL could otherwise replace what a dedup answer points others at.
    resp = issue_put(presign_api)
    assert put(resp)[0] == 200
    status, body = put(resp)
    assert (status, s3_error_code(body)) == (412, "PreconditionFailed")
    assert len(versions(s3_client, presign_api.bucket)) == 1


def test_store_rejects_a_body_whose_hash_differs(presign_api, s3_client):
    resp = issue_put(presign_api)
    same_length = BODY[:-1] + b"X"
    status, body = put(resp, same_length)
    assert (status, s3_error_code(body)) == (400, "BadDigest")
    assert versions(s3_client, presign_api.bucket) == []


def test_store_rejects_a_body_larger_than_declared(presign_api, s3_client):
    resp = issue_put(presign_api)
    status, body = put(resp, BODY + b"more")
    assert (status, s3_error_code(body)) == (403, "SignatureDoesNotMatch")
    assert versions(s3_client, presign_api.bucket) == []


def test_store_rejects_a_content_type_other_than_issued(presign_api, s3_client):
    resp = issue_put(presign_api)
    status, body = put(resp, **{"Content-Type": "text/html"})
    assert (status, s3_error_code(body)) == (403, "SignatureDoesNotMatch")
    assert versions(s3_client, presign_api.bucket) == []


def test_store_rejects_a_put_without_the_signed_checksum_header(presign_api, s3_client):
    resp = issue_put(presign_api)
    headers = {k: v for k, v in resp["upload"]["headers"].items()
               if k != "x-amz-checksum-sha256"}
    status, body = http("PUT", resp["upload"]["url"], BODY, headers)
    assert (status, s3_error_code(body)) == (403, "SignatureDoesNotMatch")
    assert versions(s3_client, presign_api.bucket) == []


def test_store_rejects_a_tampered_signature(presign_api, s3_client):
    resp = issue_put(presign_api)
    url = resp["upload"]["url"]
    forged = url[:-1] + ("0" if url[-1] != "0" else "1")
    status, body = http("PUT", forged, BODY, resp["upload"]["headers"])
    assert (status, s3_error_code(body)) == (403, "SignatureDoesNotMatch")
    assert versions(s3_client, presign_api.bucket) == []


def test_store_rejects_a_key_other_than_issued(presign_api, s3_client):
    resp = issue_put(presign_api)
    url = resp["upload"]["url"].replace("/cert.pdf?", "/other.pdf?")
    assert url != resp["upload"]["url"]
    status, body = http("PUT", url, BODY, resp["upload"]["headers"])
    assert (status, s3_error_code(body)) == (403, "SignatureDoesNotMatch")
    assert versions(s3_client, presign_api.bucket) == []


def test_store_rejects_an_expired_put_url(presign_api, s3_client):
    presign_api.configure(url_expiry_seconds=60)
    with signing_clock(datetime.datetime.utcnow() - datetime.timedelta(hours=2)):
        resp = issue_put(presign_api)
    status, body = put(resp)
    assert (status, s3_error_code(body)) == (403, "AccessDenied")
    assert b"expired" in body.lower()
    assert versions(s3_client, presign_api.bucket) == []


def test_known_hash_of_an_existing_object_is_deduplicated_without_a_url(
        presign_api, s3_client, dynamodb_client, settled_canonicals):
    key = "products/documents/certificates/existing/cert.pdf"
    index(dynamodb_client, presign_api.table, key, stored(s3_client, presign_api.bucket, key))
    status, resp = presign_api.upload(kind="certificate", filename="again.pdf",
                                      content_type="application/pdf", size=len(BODY), sha256=SHA)
    assert status == 200
    assert resp == {"deduplicated": True, "key": key}
    assert len(versions(s3_client, presign_api.bucket)) == 1


def test_a_copy_younger_than_its_urls_is_not_a_dedup_hit(presign_api, s3_client,
                                                         dynamodb_client):
    """A presigned POST can be sent again until it expires (S3 takes no If-None-Match on a
    POST): answered with the key of a copy uploaded through one, another caller would point at
    whatever the uploader sends next."""
    status, alices = presign_api.upload(caller=ALICE, kind="certificate", filename="c.pdf",
                                        content_type="application/pdf", size=len(BODY))
    assert status == 200 and alices["upload"]["method"] == "POST"
    url, fields = alices["upload"]["url"], alices["upload"]["fields"]
    assert post_form(url, fields, BODY)[0] == 204
    (stored_version,) = versions(s3_client, presign_api.bucket)
    index(dynamodb_client, presign_api.table, alices["key"], stored_version["VersionId"])
    # Indexed, current, readable by Bob, of his kind and size: only its age keeps it out.
    assert issue_put(presign_api, caller=BOB)["key"] != alices["key"]
    # ...and rightly: the same form, sent again with other bytes, replaces it.
    assert post_form(url, fields, BODY.upper())[0] == 204
    assert len(versions(s3_client, presign_api.bucket)) == 2


def test_a_copy_is_a_dedup_hit_once_older_than_its_urls_can_be(presign_api, s3_client,
                                                                dynamodb_client, monkeypatch):
    from estate_handlers import s3_plans

    key = "products/documents/certificates/old/cert.pdf"
    index(dynamodb_client, presign_api.table, key, stored(s3_client, presign_api.bucket, key))
    assert issue_put(presign_api)["key"] != key  # seconds old
    # S3 says it was written the URLs' expiry plus the margin ago (900 + 300 s by default):
    real = s3_plans.version_age_seconds
    monkeypatch.setattr(s3_plans, "version_age_seconds", lambda head: real(head) + 1_200)
    status, resp = presign_api.upload(kind="certificate", filename="again.pdf",
                                      content_type="application/pdf", size=len(BODY), sha256=SHA)
    assert (status, resp) == (200, {"deduplicated": True, "key": key})


@pytest.mark.parametrize("key", [
    "products/images/original/sku-9/photo.jpg",  # another kind's prefix, readable by all
    "brands/logos/acme/logo.pdf",
])
def test_a_canonical_stored_as_another_kind_is_not_a_dedup_hit(
        presign_api, s3_client, dynamodb_client, settled_canonicals, key):
    index(dynamodb_client, presign_api.table, key, stored(s3_client, presign_api.bucket, key))
    resp = issue_put(presign_api)  # a certificate of the same bytes: its own upload, its prefix
    assert resp["key"].startswith("products/documents/certificates/")


def test_a_callers_own_upload_is_not_a_dedup_hit_for_a_shared_kind(
        presign_api, s3_client, dynamodb_client, settled_canonicals):
    status, own = presign_api.upload(caller=ALICE, kind="user-upload", filename="cv.pdf",
                                     content_type="application/pdf", size=len(BODY), sha256=SHA)
    assert status == 200 and put(own)[0] == 200
    index(dynamodb_client, presign_api.table, own["key"],
          versions(s3_client, presign_api.bucket)[0]["VersionId"])
    # Alice may read her folder, but a certificate there would be no certificate at all.
    assert issue_put(presign_api, caller=ALICE)["key"] != own["key"]


def test_index_entry_for_a_deleted_version_is_not_a_dedup_hit(
        presign_api, s3_client, dynamodb_client, settled_canonicals):
    key = "products/documents/certificates/gone/cert.pdf"
    version = stored(s3_client, presign_api.bucket, key)
    index(dynamodb_client, presign_api.table, key, version)
    s3_client.delete_object(Bucket=presign_api.bucket, Key=key, VersionId=version)
    resp = issue_put(presign_api)
    assert resp["key"] != key
    assert put(resp)[0] == 200


@pytest.mark.parametrize("hidden_by", ["delete marker", "newer version"])
def test_an_indexed_version_that_is_no_longer_current_is_not_a_dedup_hit(
        presign_api, s3_client, dynamodb_client, settled_canonicals, hidden_by):
    # The key now serves a 404 or other bytes: pointing a caller at it would hand them those.
    key = f"products/documents/certificates/{hidden_by.replace(' ', '-')}/cert.pdf"
    version = stored(s3_client, presign_api.bucket, key)
    index(dynamodb_client, presign_api.table, key, version)
    if hidden_by == "delete marker":
        s3_client.delete_object(Bucket=presign_api.bucket, Key=key)
    else:
        s3_client.put_object(Bucket=presign_api.bucket, Key=key, Body=b"other bytes")
    assert issue_put(presign_api)["key"] != key


def test_index_entry_for_a_missing_version_id_is_not_a_dedup_hit(
        presign_api, s3_client, dynamodb_client, settled_canonicals):
    key = "products/documents/certificates/stale/cert.pdf"
    stored(s3_client, presign_api.bucket, key)
    index(dynamodb_client, presign_api.table, key, "0" * 32)
    assert issue_put(presign_api)["key"] != key


def test_user_content_is_a_dedup_hit_for_its_owner_only(
        presign_api, s3_client, dynamodb_client, settled_canonicals):
    status, bobs = presign_api.upload(caller=BOB, kind="user-upload", filename="cv.pdf",
                                      content_type="application/pdf", size=len(BODY), sha256=SHA)
    assert status == 200 and put(bobs)[0] == 200
    bob_version = versions(s3_client, presign_api.bucket)[0]["VersionId"]
    index(dynamodb_client, presign_api.table, bobs["key"], bob_version)

    alices = issue_put(presign_api, kind="user-upload", caller=ALICE)
    assert alices["key"] != bobs["key"]
    status, again = presign_api.upload(caller=BOB, kind="user-upload", filename="cv.pdf",
                                       content_type="application/pdf", size=len(BODY),
                                       sha256=SHA)
    assert again == {"deduplicated": True, "key": bobs["key"]}
