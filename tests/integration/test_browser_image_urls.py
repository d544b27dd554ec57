"""A real browser loads a storefront page of negotiated image URLs (/i/...) and gets AVIF.

Headless Chromium (the suite's ``chromium`` fixture) loads ``browser/image_page.html`` from
``browser/image_server.mjs``, a Node server that runs the CloudFront Function exactly as the
synth generates it (``image_url_code``) on every /i/ request and serves the rendition it
rewrote to from a folder the real pipeline rendered a real photograph into (keys from
``keys.rendition_key``), answering as S3 would (the stored Cache-Control, S3's
response-cache-control on a 200 only, 403 for a missing key) under the /i/* behaviour's
response headers policy as CloudFront applies it. The page sends Accept-CH/Critical-CH as
docs/image-urls.md says a storefront should.
"""
from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest
from estate_handlers.renditions import imaging
from estate_handlers.renditions.keys import ORIGINALS, rendition_key
from estate_handlers.renditions.pipeline import CACHE_IMMUTABLE
from estate_handlers.renditions.settings import MAX_AVIF_SPEED
from renditions_images import photo

from infra.config import RenditionsConfig
from infra.constructs.image_urls import (
    CACHE_CONTROL,
    ORIGIN_CACHE_CONTROL_PARAMETER,
    image_url_code,
    image_url_headers,
)

BROWSER_DIR = Path(__file__).parent / "browser"
ORIGINAL = f"{ORIGINALS}sku-1/coffee.jpg"  # the page's /i/sku-1/coffee.jpg


@pytest.fixture(scope="module")
def image_server(tmp_path_factory):
    """The rendered store and the Node server over it; yields its base URL."""
    # The shipped widths and formats (the function's code depends on them); the fastest AVIF
    # speed, since what is checked is which rendition the browser gets, not its bytes.
    settings = replace(RenditionsConfig().settings(), avif_speed=MAX_AVIF_SPEED)
    root = tmp_path_factory.mktemp("image-urls")
    store = root / "store"
    for encoded in imaging.render_each(photo("coffee"), settings):  # 600x400: widths above 600 are 600
        key = rendition_key(ORIGINAL, encoded.requested_width, encoded.format,
                            encoded.requested_width in settings.thumbnail_widths)
        (store / key).parent.mkdir(parents=True, exist_ok=True)
        (store / key).write_bytes(encoded.body)
    function = root / "image_url.js"
    function.write_text(image_url_code(settings))
    with subprocess.Popen(
            ["node", str(BROWSER_DIR / "image_server.mjs"), str(function), str(store) + "/",
             str(BROWSER_DIR / "image_page.html"), json.dumps(image_url_headers(cors=False)),
             CACHE_IMMUTABLE, json.dumps([ORIGIN_CACHE_CONTROL_PARAMETER])],
            stdout=subprocess.PIPE, text=True) as server:
        try:
            line = server.stdout.readline()
            assert line.startswith("listening "), line
            yield f"http://127.0.0.1:{line.split()[1]}"
        finally:
            server.terminate()  # leaving the block closes its pipe and waits for it


def _load(chromium, base: str, scale: float) -> tuple[dict, list[dict], list[dict]]:
    """Natural widths of the page's images, the browser's image responses, and the /i/
    requests the server saw for this page."""
    context = chromium.new_context(device_scale_factor=scale, viewport={"width": 800, "height": 600})
    try:
        page = context.new_page()
        responses = []
        page.on("response", lambda r: responses.append(
            {"url": r.url, "status": r.status,
             **{k: r.headers.get(k) for k in ("content-type", "vary", "cache-control")}})
            if "/i/" in r.url else None)
        page.goto(f"{base}/page.html", wait_until="load")
        widths = page.evaluate("""() => Object.fromEntries([...document.images].map(
            (img) => [img.id, {natural: img.naturalWidth, complete: img.complete, src: img.currentSrc}]))""")
    finally:
        context.close()
    log = json.loads(urllib.request.urlopen(f"{base}/log", timeout=10).read())
    return widths, responses, log


def test_chromium_gets_avif_at_the_stored_width_its_density_needs(chromium, image_server):
    widths, responses, log = _load(chromium, image_server, scale=2)
    # Both decoded (natural sizes are in CSS px: the 2x candidate's 600 px over 2, and the
    # fluid slot's sizes). A 300 CSS px slot at DPR 2 needs 600 px; the fluid slot (250 px)
    # needs 500, so the 600 rendition too.
    assert widths["fixed"] == {"complete": True, "natural": 300,
                               "src": f"{image_server}/i/sku-1/coffee.jpg?w=300&dpr=2"}, widths
    assert widths["fluid"]["complete"] and widths["fluid"]["natural"] == 250, widths
    assert responses and all(r["status"] == 200 and r["content-type"] == "image/avif"
                             for r in responses), responses
    assert all("Accept" in r["vary"] for r in responses)
    assert all(r["cache-control"] == CACHE_CONTROL for r in responses), responses
    for entry in log:
        assert "image/avif" in entry["accept"]
        assert entry["uri"].endswith("/w600.avif"), entry
    # Chromium sent the hints the page asked for (Accept-CH), and the function used them.
    fixed = [e for e in log if "dpr=2" in e["url"]]
    assert fixed and all(e["dpr"] == "2" for e in fixed), log
    assert any(e["width"] == "500" for e in log), log


def test_at_density_one_the_same_urls_get_the_smaller_rendition(chromium, image_server):
    widths, responses, log = _load(chromium, image_server, scale=1)
    assert widths["fixed"]["natural"] == 300 and widths["fixed"]["src"].endswith("?w=300"), widths
    assert all(r["content-type"] == "image/avif" for r in responses), responses
    assert log and {e["uri"].rsplit("/", 1)[1] for e in log} == {"w300.avif"}, log


def test_a_hostile_image_url_is_refused_and_the_direct_url_still_served(image_server):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{image_server}/i/sku-1/..%2F..%2Foriginal/coffee.jpg?w=300")
    assert refused.value.code == 400
    direct = rendition_key(ORIGINAL, 300, "webp", thumbnail=True)
    with urllib.request.urlopen(f"{image_server}/{direct}") as response:
        assert response.headers["Content-Type"] == "image/webp"


def _get(url: str):
    """Status and headers (looked up case-insensitively) of one GET."""
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def test_an_image_url_error_is_never_cached_by_the_browser(image_server):
    """A rendition not written yet (S3's 403) and a refused URL (the function's 400) carry
    no-store; only a 200 gets the week, and the direct URL keeps the stored year."""
    status, headers = _get(f"{image_server}/i/sku-1/not-rendered-yet.jpg?w=300")
    assert status == 403
    assert headers["Cache-Control"] == "no-store", headers
    assert "Accept" in headers["Vary"]
    status, headers = _get(f"{image_server}/i/sku-1/coffee.jpg")  # no w
    assert (status, headers["Cache-Control"]) == (400, "no-store"), headers
    status, headers = _get(f"{image_server}/i/sku-1/coffee.jpg?w=300")
    assert (status, headers["Cache-Control"]) == (200, CACHE_CONTROL), headers
    direct = rendition_key(ORIGINAL, 300, "webp", thumbnail=True)
    status, headers = _get(f"{image_server}/{direct}")
    assert (status, headers["Cache-Control"]) == (200, CACHE_IMMUTABLE), headers


def test_a_viewer_cannot_choose_the_cache_control_s3_answers_with(image_server):
    status, headers = _get(f"{image_server}/i/sku-1/coffee.jpg?w=300"
                           "&response-cache-control=public%2C%20max-age%3D31536000%2C%20immutable"
                           "&response-content-type=text%2Fhtml")
    assert status == 200
    assert headers["Cache-Control"] == CACHE_CONTROL
    assert headers["Content-Type"].startswith("image/")
