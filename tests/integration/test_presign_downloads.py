"""GET /downloads: presigned GETs for objects that exist and that the caller may read."""
from __future__ import annotations

import urllib.request
from urllib.parse import quote

from estate_handlers.keys import caller_segment
from local_services import http

ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:iam::123456789012:user/bob"


def download(api, key, version_id=None, caller=ALICE):
    query = f"key={quote(key, safe='')}"
    if version_id is not None:
        query += f"&version_id={quote(version_id, safe='')}"
    return api.call("GET", "/downloads", query=query, caller=caller)


def put(s3_client, bucket, key, body):
    return s3_client.put_object(Bucket=bucket, Key=key, Body=body)["VersionId"]


def test_download_url_serves_the_object(presign_api, s3_client):
    key = "products/images/processed/look-01/1200w.webp"
    put(s3_client, presign_api.bucket, key, b"rendition")
    status, resp = download(presign_api, key)
    assert status == 200 and 60 <= resp["expires_in"] <= 3600
    assert http("GET", resp["url"]) == (200, b"rendition")


def test_download_without_version_is_pinned_to_the_version_that_was_checked(
        presign_api, s3_client):
    key = "products/documents/reports/q1.pdf"
    put(s3_client, presign_api.bucket, key, b"first")
    _, resp = download(presign_api, key)
    put(s3_client, presign_api.bucket, key, b"second")
    assert http("GET", resp["url"]) == (200, b"first")


def test_download_of_an_older_version_serves_that_version(presign_api, s3_client):
    key = "brands/logos/acme.svg"
    first = put(s3_client, presign_api.bucket, key, b"<svg>1</svg>")
    put(s3_client, presign_api.bucket, key, b"<svg>2</svg>")
    _, resp = download(presign_api, key, first)
    assert http("GET", resp["url"]) == (200, b"<svg>1</svg>")


def test_missing_key_is_404(presign_api):
    status, resp = download(presign_api, "products/images/original/nope/missing.png")
    assert (status, resp["error"]) == (404, "not_found")
    assert "url" not in resp


def test_missing_version_of_an_existing_key_is_404(presign_api, s3_client):
    key = "products/images/original/here/look.png"
    put(s3_client, presign_api.bucket, key, b"png")
    status, resp = download(presign_api, key, "0" * 32)
    assert (status, resp["error"]) == (404, "not_found")


def test_deleted_key_is_404(presign_api, s3_client):
    key = "products/images/original/deleted/look.png"
    put(s3_client, presign_api.bucket, key, b"png")
    s3_client.delete_object(Bucket=presign_api.bucket, Key=key)  # a delete marker
    assert download(presign_api, key)[0] == 404


def test_own_user_content_is_downloadable(presign_api, s3_client):
    key = f"user-content/uploads/{caller_segment(ALICE)}/a1/cv.pdf"
    put(s3_client, presign_api.bucket, key, b"%PDF")
    status, resp = download(presign_api, key, caller=ALICE)
    assert status == 200 and http("GET", resp["url"]) == (200, b"%PDF")


def test_another_callers_user_content_is_403_even_when_it_exists(presign_api, s3_client):
    key = f"user-content/uploads/{caller_segment(BOB)}/b1/cv.pdf"
    put(s3_client, presign_api.bucket, key, b"%PDF")
    status, resp = download(presign_api, key, caller=ALICE)
    assert (status, resp["error"]) == (403, "forbidden")
    assert "url" not in resp


def test_key_outside_the_asset_prefixes_is_403(presign_api, s3_client):
    put(s3_client, presign_api.bucket, "internal/secrets.json", b"{}")
    status, resp = download(presign_api, "internal/secrets.json")
    assert (status, resp["error"]) == (403, "forbidden")


def test_the_download_names_its_disposition_whatever_the_uploader_stored(presign_api, s3_client):
    # A presigned PUT signs neither Content-Disposition nor Cache-Control, so an uploader can
    # store their own; the download URL signs the server's, which S3 answers instead.
    key = "products/documents/certificates/sku-1/cert.pdf"
    s3_client.put_object(Bucket=presign_api.bucket, Key=key, Body=b"%PDF-1.7",
                         ContentDisposition="attachment; filename=invoice.exe")
    _, resp = download(presign_api, key)
    with urllib.request.urlopen(resp["url"], timeout=30) as answer:
        assert answer.read() == b"%PDF-1.7"
        assert answer.headers["Content-Disposition"] == \
            "attachment; filename=\"cert.pdf\"; filename*=UTF-8''cert.pdf"
