"""Multipart plans: presigned UploadPart URLs and caller-bound completion/abort.

The policy is shrunk (threshold and part size 5 MiB, S3's minimum part) so a 5 MiB + 1 KiB
upload takes the multipart path. Each part URL signs the part's Content-Length, which
SeaweedFS enforces; ownership is enforced by the handler before any S3 call.
"""
from __future__ import annotations

import os

import pytest
from local_services import http, s3_error_code

from infra.config import MB

ALICE = "arn:aws:iam::123456789012:user/alice"
MALLORY = "arn:aws:iam::123456789012:user/mallory"
BODY = os.urandom(5 * MB + 1024)


@pytest.fixture
def api(presign_api):
    presign_api.configure(multipart_threshold_bytes=5 * MB, multipart_part_bytes=5 * MB)
    return presign_api


def plan(api, kind="brand-media", content_type="video/mp4", caller=ALICE):
    status, resp = api.upload(caller=caller, kind=kind, filename="runway.mp4",
                              content_type=content_type, size=len(BODY))
    assert status == 200, resp
    assert resp["upload"]["method"] == "MULTIPART"
    return resp


def finish(api, resp, parts=None, action="complete", caller=ALICE):
    body = {"key": resp["key"], "upload_id": resp["upload"]["upload_id"], "action": action}
    if parts is not None:
        body["parts"] = parts
    return api.call("POST", "/uploads/complete", body=body, caller=caller)


@pytest.fixture
def uploaded(api, s3_client):
    """A planned multipart upload whose parts are all uploaded, and their part list."""
    resp = plan(api)
    offset = 0
    for part in resp["upload"]["parts"]:
        size = int(part["headers"]["Content-Length"])
        assert http("PUT", part["url"], BODY[offset:offset + size], part["headers"])[0] == 200
        offset += size
    listed = s3_client.list_parts(Bucket=api.bucket, Key=resp["key"],
                                  UploadId=resp["upload"]["upload_id"])["Parts"]
    parts = [{"part_number": p["PartNumber"], "etag": p["ETag"]} for p in listed]
    return resp, parts


def test_large_upload_gets_one_signed_url_per_part_with_exact_lengths(api):
    resp = plan(api)
    lengths = [int(p["headers"]["Content-Length"]) for p in resp["upload"]["parts"]]
    assert lengths == [5 * MB, 1024]
    assert [p["part_number"] for p in resp["upload"]["parts"]] == [1, 2]


def test_owner_completes_the_upload_and_the_object_exists(api, uploaded, s3_client):
    resp, parts = uploaded
    status, done = finish(api, resp, parts)
    assert status == 200 and done["completed"] is True
    head = s3_client.head_object(Bucket=api.bucket, Key=resp["key"])
    assert head["ContentLength"] == len(BODY)
    assert head["ContentType"] == "video/mp4"
    assert head["VersionId"] == done["version_id"]
    assert s3_client.get_object(Bucket=api.bucket, Key=resp["key"])["Body"].read() == BODY


def test_another_caller_cannot_complete_the_upload_even_with_key_and_upload_id(
        api, uploaded, s3_client):
    resp, parts = uploaded
    status, err = finish(api, resp, parts, caller=MALLORY)
    assert status == 403 and err["error"] == "forbidden"
    assert s3_client.list_object_versions(Bucket=api.bucket).get("Versions", []) == []
    assert finish(api, resp, parts)[0] == 200  # still the owner's to complete


def test_another_caller_cannot_abort_the_upload(api, uploaded):
    resp, parts = uploaded
    status, err = finish(api, resp, action="abort", caller=MALLORY)
    assert status == 403 and err["error"] == "forbidden"
    assert finish(api, resp, parts)[0] == 200


def test_another_caller_cannot_complete_a_per_caller_upload(api):
    resp = plan(api, kind="user-upload", content_type="application/pdf")
    status, _ = finish(api, resp, [{"part_number": 1, "etag": '"x"'}], caller=MALLORY)
    assert status == 403


def test_owner_abort_ends_the_upload(api, uploaded):
    resp, parts = uploaded
    assert finish(api, resp, action="abort") == (200, {"key": resp["key"], "aborted": True})
    status, err = finish(api, resp, parts)
    assert (status, err["error"]) == (404, "upload_not_found")


def test_completion_with_a_wrong_etag_is_a_400_and_stores_nothing(api, uploaded, s3_client):
    resp, parts = uploaded
    parts[0]["etag"] = '"00000000000000000000000000000000"'
    status, err = finish(api, resp, parts)
    assert (status, err["error"]) == (400, "invalid_parts")
    assert s3_client.list_object_versions(Bucket=api.bucket).get("Versions", []) == []


def test_store_rejects_a_part_of_another_length(api):
    resp = plan(api)
    last = resp["upload"]["parts"][-1]
    status, body = http("PUT", last["url"], b"x" * 1025, last["headers"])
    assert (status, s3_error_code(body)) == (403, "SignatureDoesNotMatch")
