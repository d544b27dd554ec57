"""A real browser uploads with the upload API's URLs, under the bucket's CORS rules.

Headless Chromium (Debian's ``chromium``, driven by Playwright; no browser download) loads
``browser/upload_page.html`` from a local http.server origin and runs the page's own
``fetch`` calls against the local SeaweedFS. The bucket gets the rules the template gets
(``cors_rule_specs``, the function that builds the template's ``CorsConfiguration``), with
the test page's origin as the configured one: a local S3 without rules allows every origin,
unlike AWS, so the rules are always applied.

What CORS can and cannot refuse (in AWS and here alike): a PUT (and every multipart part) is
preflighted, so a page from another origin never sends it; a form POST is a "simple"
request that the browser sends without a preflight and then hides the answer from the page.
The POST's own protection is its signed policy, not CORS; that test says so.
"""
from __future__ import annotations

import dataclasses
import hashlib
import http.server
import threading
from functools import partial
from pathlib import Path

import pytest

from infra.config import MB
from infra.constructs.browser_uploads import cors_rule_specs
from infra.environments import ENVIRONMENTS

PAGE_DIR = Path(__file__).parent / "browser"
ALICE = "arn:aws:iam::123456789012:user/alice"


def page_bytes(size: int) -> bytes:
    """The bytes ``testBytes(size)`` of the page makes (a pattern that repeats every 256)."""
    period = bytes((i * 31 + 7) & 255 for i in range(256))
    return (period * (size // 256 + 1))[:size]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture(scope="session")
def page_origins():
    """Two origins serving the upload page: the configured one, and one that is not."""
    servers = []
    for _ in range(2):
        handler = partial(_QuietHandler, directory=str(PAGE_DIR))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    try:
        yield tuple(f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def api(presign_api, s3_client, page_origins):
    """The presign handler on a fresh bucket carrying the template's CORS rules, with the
    first page origin as the configured storefront origin."""
    allowed, _ = page_origins
    cors = dataclasses.replace(ENVIRONMENTS["dev"]().assets_cors, allowed_origins=(allowed,))
    s3_client.put_bucket_cors(Bucket=presign_api.bucket,
                              CORSConfiguration={"CORSRules": cors_rule_specs(cors)})
    return presign_api


@pytest.fixture(scope="session")
def open_page(chromium):
    """The upload page loaded from an origin; one page per origin for the session (the page
    keeps no state between calls, and loading it is the slow part of a browser test)."""
    contexts, pages = [], {}

    def open_at(origin: str):
        if origin not in pages:
            context = chromium.new_context()
            contexts.append(context)
            pages[origin] = context.new_page()
            pages[origin].goto(f"{origin}/upload_page.html")
        return pages[origin]

    yield open_at
    for context in contexts:
        context.close()


def _plan(api, size: int, sha256: str | None = None, kind="product-image",
          content_type="image/png") -> dict:
    fields = {"kind": kind, "filename": "look.png", "content_type": content_type, "size": size}
    if sha256 is not None:
        fields["sha256"] = sha256
    status, resp = api.upload(caller=ALICE, **fields)
    assert status == 200, resp
    return resp


def _stored(s3_client, api, key: str) -> bytes:
    return s3_client.get_object(Bucket=api.bucket, Key=key)["Body"].read()


def _absent(s3_client, api, key: str) -> bool:
    listed = s3_client.list_object_versions(Bucket=api.bucket, Prefix=key)
    return not listed.get("Versions") and not listed.get("DeleteMarkers")


def test_allowed_origin_uploads_with_the_presigned_post(api, open_page, page_origins, s3_client):
    plan = _plan(api, 1024)
    assert plan["upload"]["method"] == "POST"
    page = open_page(page_origins[0])
    result = page.evaluate("([u, t, n]) => presignedPost(u, t, n)",
                           [plan["upload"], "image/png", 1024])
    assert result["ok"] and result["status"] in (200, 201, 204), result
    assert _stored(s3_client, api, plan["key"]) == page_bytes(1024)


def test_allowed_origin_uploads_with_the_checksum_bound_put(api, open_page, page_origins,
                                                           s3_client):
    plan = _plan(api, 2048, sha256=hashlib.sha256(page_bytes(2048)).hexdigest())
    assert plan["upload"]["method"] == "PUT"
    assert "x-amz-checksum-sha256" in plan["upload"]["headers"]
    page = open_page(page_origins[0])
    result = page.evaluate("([u, n]) => presignedPut(u, n)", [plan["upload"], 2048])
    assert result["ok"] and result["status"] == 200, result
    assert result["versionId"], "x-amz-version-id is exposed to the page"
    assert _stored(s3_client, api, plan["key"]) == page_bytes(2048)


def test_allowed_origin_completes_a_two_part_upload_from_the_part_etags_it_read(
        api, open_page, page_origins, s3_client):
    api.configure(multipart_threshold_bytes=5 * MB, multipart_part_bytes=5 * MB)
    size = 5 * MB + 1024
    plan = _plan(api, size, kind="brand-media", content_type="video/mp4")
    assert plan["upload"]["method"] == "MULTIPART" and len(plan["upload"]["parts"]) == 2
    page = open_page(page_origins[0])
    result = page.evaluate("([u, n]) => multipartParts(u, n)", [plan["upload"], size])
    assert result["ok"], result
    assert all(p["etag"] for p in result["parts"]), "ETag is exposed to the page"
    status, done = api.call("POST", "/uploads/complete", caller=ALICE, body={
        "key": plan["key"], "upload_id": plan["upload"]["upload_id"], "action": "complete",
        "parts": result["parts"]})
    assert status == 200 and done["completed"], done
    assert _stored(s3_client, api, plan["key"]) == page_bytes(size)


def test_allowed_origin_downloads_with_a_presigned_get(api, open_page, page_origins,
                                                       s3_client):
    plan = _plan(api, 512, sha256=hashlib.sha256(page_bytes(512)).hexdigest())
    page = open_page(page_origins[0])
    assert page.evaluate("([u, n]) => presignedPut(u, n)", [plan["upload"], 512])["ok"]
    status, download = api.call("GET", "/downloads", caller=ALICE, query=f"key={plan['key']}")
    assert status == 200, download
    result = page.evaluate("(url) => presignedGet(url)", download["url"])
    assert result == {"ok": True, "status": 200, "size": 512,
                      "versionId": result["versionId"]} and result["versionId"]


def test_another_origin_is_refused_the_put_and_nothing_is_stored(api, open_page, page_origins,
                                                                 s3_client):
    plan = _plan(api, 2048, sha256=hashlib.sha256(page_bytes(2048)).hexdigest())
    page = open_page(page_origins[1])
    result = page.evaluate("([u, n]) => presignedPut(u, n)", [plan["upload"], 2048])
    assert result["ok"] is False and "TypeError" in result["error"], result
    assert _absent(s3_client, api, plan["key"])


def test_another_origin_is_refused_every_multipart_part(api, open_page, page_origins,
                                                        s3_client):
    api.configure(multipart_threshold_bytes=5 * MB, multipart_part_bytes=5 * MB)
    size = 5 * MB + 1024
    plan = _plan(api, size, kind="brand-media", content_type="video/mp4")
    page = open_page(page_origins[1])
    result = page.evaluate("([u, n]) => multipartParts(u, n)", [plan["upload"], size])
    assert result["ok"] is False and result["part"] == 1, result
    assert s3_client.list_parts(Bucket=api.bucket, Key=plan["key"],
                                UploadId=plan["upload"]["upload_id"]).get("Parts", []) == []


def test_another_origin_cannot_read_the_answer_to_a_presigned_post(api, open_page, page_origins):
    # A form POST is a simple request: browsers send it without asking and then hide the
    # answer. What refuses a forged POST is its signed policy (tests/integration/
    # test_presign_post.py), so this only shows the page learns nothing.
    plan = _plan(api, 1024)
    page = open_page(page_origins[1])
    result = page.evaluate("([u, t, n]) => presignedPost(u, t, n)",
                           [plan["upload"], "image/png", 1024])
    assert result["ok"] is False and "TypeError" in result["error"], result
