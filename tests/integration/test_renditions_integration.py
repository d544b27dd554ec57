"""The renditions function in-process against the local S3 (SeaweedFS): real photographs and
hostile files in, renditions + manifest (or a rejected tag) out, through the real entry point.

The tests use a small rendition set (processed 320/200, thumbnails 96/48) and libaom's fastest
AVIF speed so encodes stay fast: no test here judges bytes, only what comes out and where (the
shipped encoder settings are tests/unit/test_renditions_rules.py's). One test uses the shipped
widths to prove "never upscale".
"""
from __future__ import annotations

import io
import json
from dataclasses import replace
from types import SimpleNamespace

import pytest
import renditions_images as images
from aws_events import s3_notification, sqs_event, sqs_record
from estate_handlers.renditions import handler as entry
from estate_handlers.renditions import keys
from estate_handlers.renditions.settings import CONFIG_ENV, MAX_AVIF_SPEED, Settings
from PIL import Image

SMALL = Settings(processed_widths=(320, 200), thumbnail_widths=(96, 48), avif_speed=MAX_AVIF_SPEED)
ORIGINAL = "products/images/original/3f9a0c1d2e4b5a67/look 07.jpg"
CONTEXT = SimpleNamespace(function_name="renditions", memory_limit_in_mb=2048,
                          invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:renditions",
                          aws_request_id="req-1")


@pytest.fixture
def run(monkeypatch, s3_endpoint, s3_client, fresh_bucket):
    """Upload bytes as an original, deliver its S3 event through SQS to the handler."""
    monkeypatch.setenv(CONFIG_ENV, SMALL.to_json())
    monkeypatch.setattr(entry, "_s3", None)
    monkeypatch.setattr(entry, "_settings", None)

    def upload(body: bytes, key: str = ORIGINAL, content_type: str = "image/jpeg") -> dict:
        put = s3_client.put_object(Bucket=fresh_bucket, Key=key, Body=body,
                                   ContentType=content_type)
        return {"key": key, "version_id": put["VersionId"], "etag": put["ETag"], "size": len(body)}

    def deliver(uploaded: dict) -> dict:
        event = sqs_event(sqs_record(s3_notification(
            fresh_bucket, uploaded["key"], uploaded["version_id"], uploaded["size"],
            uploaded["etag"])))
        return entry.handler(event, CONTEXT)

    def process(body: bytes, key: str = ORIGINAL, **kw) -> dict:
        uploaded = upload(body, key, **kw)
        assert deliver(uploaded) == {"batchItemFailures": []}
        return uploaded

    return SimpleNamespace(upload=upload, deliver=deliver, process=process,
                           bucket=fresh_bucket, s3=s3_client)


def _get(run, key: str) -> tuple[bytes, dict]:
    got = run.s3.get_object(Bucket=run.bucket, Key=key)
    return got["Body"].read(), got


def _manifest(run, original: str = ORIGINAL) -> dict:
    return json.loads(_get(run, keys.manifest_key(original))[0])


def _rendition(run, width: int, fmt: str, original: str = ORIGINAL) -> Image.Image:
    thumbnail = width in SMALL.thumbnail_widths
    body, _ = _get(run, keys.rendition_key(original, width, fmt, thumbnail))
    im = Image.open(io.BytesIO(body))
    im.load()
    return im





def _tags(run, uploaded: dict) -> dict:
    tags = run.s3.get_object_tagging(Bucket=run.bucket, Key=uploaded["key"],
                                     VersionId=uploaded["version_id"])["TagSet"]
    return {t["Key"]: t["Value"] for t in tags}


def _all_keys(run) -> list[tuple[str, str]]:
    versions = run.s3.list_object_versions(Bucket=run.bucket).get("Versions", [])
    return sorted((v["Key"], v["VersionId"]) for v in versions)


def _rendered_keys(run) -> set[str]:
    return {k for k, _ in _all_keys(run) if not k.startswith(keys.ORIGINALS)}


# ---------------------------------------------------------------- the set and the manifest

def test_a_real_photograph_yields_every_width_in_every_format_plus_a_manifest(run):
    run.process(images.jpeg(images.photo("coffee")))
    expected = {keys.rendition_key(ORIGINAL, w, f, w in SMALL.thumbnail_widths)
                for w in SMALL.widths for f in SMALL.formats} | {keys.manifest_key(ORIGINAL)}
    assert _rendered_keys(run) == expected


def test_every_rendition_decodes_at_its_promised_width_keeping_the_aspect_ratio(run):
    run.process(images.jpeg(images.photo("coffee")))  # 600x400
    for fmt in SMALL.formats:
        for width in SMALL.widths:
            im = _rendition(run, width, fmt)
            assert (im.format.lower(), im.size) == (fmt, (width, round(width * 400 / 600)))


def test_renditions_are_immutable_for_caches_and_typed(run):
    run.process(images.jpeg(images.photo("coffee")))
    for entry_ in _manifest(run)["renditions"]:
        _, got = _get(run, entry_["key"])
        assert (got["CacheControl"], got["ContentType"]) == (
            "public, max-age=31536000, immutable", entry_["content_type"])


def test_the_manifest_lists_every_rendition_with_its_real_size_and_bytes(run):
    run.process(images.jpeg(images.photo("coffee")))
    manifest = _manifest(run)
    assert len(manifest["renditions"]) == len(SMALL.widths) * len(SMALL.formats)
    for entry_ in manifest["renditions"]:
        body, _ = _get(run, entry_["key"])
        im = Image.open(io.BytesIO(body))
        assert (entry_["bytes"], entry_["width"], entry_["height"]) == (len(body), *im.size)


def test_the_manifest_records_the_originals_sha256_version_placeholder_and_phash(run):
    body = images.jpeg(images.photo("coffee"))
    uploaded = run.process(body)
    manifest = _manifest(run)
    import hashlib
    assert manifest["original"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["original"]["version_id"] == uploaded["version_id"]
    assert manifest["placeholder"]["lqip"].startswith("data:image/webp;base64,")
    assert len(manifest["placeholder"]["lqip"]) < 1000
    assert len(manifest["placeholder"]["dominant_color"]) == 7
    assert len(manifest["phash"]) == 16


def test_the_shipped_defaults_never_upscale_a_small_original(run, monkeypatch):
    # The shipped widths; the speed only changes bytes, which this test does not look at.
    monkeypatch.setenv(CONFIG_ENV, replace(Settings(), avif_speed=MAX_AVIF_SPEED).to_json())
    run.process(images.jpeg(images.photo("coffee")))  # 600 wide: below 2048, 1200 and 600
    widths = {(e["requested_width"], e["width"]) for e in _manifest(run)["renditions"]}
    assert widths == {(2048, 600), (1200, 600), (600, 600), (300, 300)}


# ---------------------------------------------------------------- pixels done right

@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied_to_the_pixels(run, orientation):
    run.process(images.jpeg_with_orientation(orientation))
    im = _rendition(run, 200, "webp").convert("RGB")
    assert im.size == (200, round(200 * 200 / 300))  # landscape again
    top_left, right_middle = im.getpixel((5, 5)), im.getpixel((im.width - 5, im.height // 2))
    assert top_left[1] > 200 and top_left[0] < 60   # the green corner mark is top-left
    assert right_middle[2] > 200 and right_middle[0] < 60  # blue half on the right


def test_a_gps_tagged_photo_yields_outputs_with_no_exif_xmp_or_icc(run):
    run.process(images.jpeg_with_gps())
    for fmt, width in ((f, w) for f in SMALL.formats for w in SMALL.widths):
        thumbnail = width in SMALL.thumbnail_widths
        body, _ = _get(run, keys.rendition_key(ORIGINAL, width, fmt, thumbnail))
        im = Image.open(io.BytesIO(body))
        assert not set(im.info) & {"exif", "xmp", "icc_profile", "XML:com.adobe.xmp"}
        assert dict(im.getexif()) == {}
        assert b"GPS" not in body and b"48,51.5N" not in body and b"PhoneMaker" not in body


def test_a_cmyk_jpeg_comes_out_as_srgb_rgb(run):
    run.process(images.cmyk_jpeg())
    for fmt in ("avif", "webp", "jpeg"):
        assert _rendition(run, 200, fmt).mode == "RGB"


@pytest.mark.parametrize("make", [images.png_16bit_rgb, images.png_16bit_grey])
def test_a_16_bit_png_comes_out_8_bit_with_its_ramp_scaled_not_clipped(run, make):
    run.process(make(), key="products/images/original/ab/ramp.png", content_type="image/png")
    im = _rendition(run, 200, "webp", "products/images/original/ab/ramp.png")
    assert im.mode == "RGB"
    row = [im.getpixel((x, 10))[0] for x in (2, im.width // 2, im.width - 3)]
    assert row[0] < 20 and 100 < row[1] < 156 and row[2] > 235


def test_a_transparent_png_keeps_its_alpha_in_avif_and_webp(run):
    key = "products/images/original/ab/disc.png"
    run.process(images.transparent_png(), key=key, content_type="image/png")
    for fmt in ("avif", "webp"):
        im = _rendition(run, 200, fmt, key)
        assert im.mode == "RGBA"
        assert im.getpixel((2, 2))[3] == 0 and im.getpixel((100, 100))[3] == 255


def test_the_jpeg_fallback_of_a_transparent_png_is_flattened_on_white(run):
    key = "products/images/original/ab/disc.png"
    run.process(images.transparent_png(), key=key, content_type="image/png")
    im = _rendition(run, 200, "jpeg", key)
    assert im.mode == "RGB" and min(im.getpixel((2, 2))) > 245


# ---------------------------------------------------------------- hostile input

HOSTILE = {
    "a 30000x30000 JPEG bomb": (images.jpeg_bomb, "too-many-pixels"),
    "a 30000x30000 PNG bomb": (images.png_bomb, "too-many-pixels"),
    "a truncated JPEG": (images.truncated_jpeg, "truncated"),
    "an HTML page named .jpg": (images.html_named_jpg, "unsupported-format"),
    "a JPEG with a ZIP appended": (images.jpeg_with_zip_appended, "trailing-data"),
    "an empty object": (lambda: b"", "empty"),
    # The polyglot guard walks the JPEG to its EOI: the file's last two bytes prove nothing.
    "a JPEG with a ZIP appended that ends with FFD9": (
        lambda: images.jpeg_with_zip_appended() + b"\xff\xd9", "trailing-data"),
    "a 1x17000 column no encoder can fit": (
        lambda: images.png(Image.new("RGB", (1, 17000))), "unsupported-dimensions"),
}


def _refuse_to_decode(self):
    raise AssertionError("pixels were decoded")


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_files_are_rejected_and_tagged_without_decoding(run, monkeypatch, name):
    from PIL import ImageFile

    make, reason = HOSTILE[name]
    body = make()
    with monkeypatch.context() as no_decoding:
        no_decoding.setattr(ImageFile.ImageFile, "load", _refuse_to_decode)
        uploaded = run.process(body)
    assert _tags(run, uploaded) == {"processing-status": "rejected", "processing-reason": reason}
    assert _rendered_keys(run) == set()


def test_a_rejected_original_is_not_retried_or_written_again(run):
    uploaded = run.process(images.html_named_jpg())
    before = _all_keys(run)
    assert run.deliver(uploaded) == {"batchItemFailures": []}
    assert _all_keys(run) == before


def test_rejection_keeps_the_tags_other_writers_put_there(run):
    uploaded = run.upload(images.html_named_jpg())
    run.s3.put_object_tagging(Bucket=run.bucket, Key=ORIGINAL, VersionId=uploaded["version_id"],
                              Tagging={"TagSet": [{"Key": "dedup-status", "Value": "canonical"}]})
    run.deliver(uploaded)
    assert _tags(run, uploaded)["dedup-status"] == "canonical"


def test_rejection_keeps_tags_another_writer_put_there_while_it_ran(run, monkeypatch):
    from estate_handlers.renditions import pipeline

    uploaded = run.upload(images.html_named_jpg())
    render = pipeline.render_and_store

    def hasher_tags_meanwhile(s3, obj, settings):  # after the pipeline read the tags
        run.s3.put_object_tagging(
            Bucket=run.bucket, Key=ORIGINAL, VersionId=uploaded["version_id"],
            Tagging={"TagSet": [{"Key": "dedup-status", "Value": "canonical"}]})
        return render(s3, obj, settings)

    monkeypatch.setattr(pipeline, "render_and_store", hasher_tags_meanwhile)
    run.deliver(uploaded)
    assert _tags(run, uploaded) == {"dedup-status": "canonical", "processing-status": "rejected",
                                    "processing-reason": "unsupported-format"}


# ---------------------------------------------------------------- idempotence and versions

def test_a_redelivered_event_writes_nothing_new(run):
    uploaded = run.process(images.jpeg(images.photo("chelsea")))
    before = _all_keys(run)
    assert run.deliver(uploaded) == {"batchItemFailures": []}
    assert _all_keys(run) == before


def test_a_new_version_of_the_original_replaces_the_renditions(run):
    run.process(images.jpeg(images.photo("chelsea")))
    second = run.process(images.jpeg(images.photo("astronaut")))  # square now
    manifest = _manifest(run)
    assert manifest["original"]["version_id"] == second["version_id"]
    assert _rendition(run, 200, "jpeg").size == (200, 200)


def test_an_event_for_a_superseded_version_writes_nothing(run):
    first = run.upload(images.jpeg(images.photo("chelsea")))
    run.process(images.jpeg(images.photo("astronaut")))
    before = _all_keys(run)
    assert run.deliver(first) == {"batchItemFailures": []}
    assert _all_keys(run) == before


def _tagged_duplicate(run, body: bytes, key: str) -> dict:
    """``body`` uploaded under ``key`` and tagged as the hasher tags a duplicate of ORIGINAL."""
    import hashlib

    uploaded = run.upload(body, key=key)
    run.s3.put_object_tagging(
        Bucket=run.bucket, Key=key, VersionId=uploaded["version_id"],
        Tagging={"TagSet": [{"Key": "content-sha256", "Value": hashlib.sha256(body).hexdigest()},
                            {"Key": "dedup-status", "Value": "duplicate"},
                            {"Key": "duplicate-of", "Value": ORIGINAL}]})
    return uploaded


def test_a_byte_for_byte_duplicate_reuses_the_canonicals_renditions_by_copy(run, monkeypatch):
    body = images.jpeg(images.photo("chelsea"))
    run.process(body)
    canonical = _manifest(run)
    duplicate_key = "products/images/original/77aa/same.jpg"
    uploaded = _tagged_duplicate(run, body, duplicate_key)
    from estate_handlers.renditions import imaging
    monkeypatch.setattr(imaging, "decode", lambda *a, **k: pytest.fail("decoded a duplicate"))
    assert run.deliver(uploaded) == {"batchItemFailures": []}
    manifest = _manifest(run, duplicate_key)
    assert manifest["reused_from"] == ORIGINAL
    for mine, theirs in zip(manifest["renditions"], canonical["renditions"], strict=True):
        assert _get(run, mine["key"])[0] == _get(run, theirs["key"])[0]


def test_a_duplicate_whose_canonical_s_rendition_version_is_gone_is_rendered(run):
    """A restore copied the canonical's manifest, or the version's noncurrent days passed: the
    named version no longer exists, so the duplicate is rendered instead (no retries)."""
    body = images.jpeg(images.photo("chelsea"))
    run.process(body)
    first = _manifest(run)["renditions"][0]
    run.s3.put_object(Bucket=run.bucket, Key=first["key"], Body=b"newer")
    run.s3.delete_object(Bucket=run.bucket, Key=first["key"], VersionId=first["version_id"])
    duplicate_key = "products/images/original/77ac/same.jpg"
    uploaded = _tagged_duplicate(run, body, duplicate_key)
    assert run.deliver(uploaded) == {"batchItemFailures": []}
    manifest = _manifest(run, duplicate_key)
    assert manifest["reused_from"] is None  # rendered
    assert _get(run, manifest["renditions"][0]["key"])[0] != b"newer"


def test_a_duplicate_copies_the_renditions_its_canonical_s_manifest_names(run):
    """The canonical's original is overwritten and its new render has rewritten a rendition,
    but not yet its manifest: the duplicate still gets the bytes of its own content."""
    body = images.jpeg(images.photo("chelsea"))
    run.process(body)
    canonical = _manifest(run)
    first = canonical["renditions"][0]
    rendered_bytes = _get(run, first["key"])[0]
    run.s3.put_object(Bucket=run.bucket, Key=first["key"], Body=b"another original's rendition")
    duplicate_key = "products/images/original/77ab/same.jpg"
    uploaded = _tagged_duplicate(run, body, duplicate_key)
    assert run.deliver(uploaded) == {"batchItemFailures": []}
    mine = _manifest(run, duplicate_key)["renditions"][0]
    assert _get(run, mine["key"])[0] == rendered_bytes
    head = run.s3.head_object(Bucket=run.bucket, Key=mine["key"])
    assert mine["version_id"] == head["VersionId"]


# ---------------------------------------------------------------- batch operations (backfill)

def test_a_batch_operations_task_renders_and_reports_success(run):
    uploaded = run.upload(images.jpeg(images.photo("coffee")))
    event = {"invocationSchemaVersion": "2.0", "invocationId": "inv-1",
             "job": {"id": "job-1", "userArguments": {}},
             "tasks": [{"taskId": "t1", "s3Bucket": run.bucket,
                        "s3Key": ORIGINAL.replace(" ", "+"), "s3VersionId": uploaded["version_id"]}]}
    response = entry.handler(event, CONTEXT)
    assert response["invocationSchemaVersion"] == "2.0"
    assert response["invocationId"] == "inv-1"
    assert response["treatMissingKeysAs"] == "PermanentFailure"
    assert [(r["taskId"], r["resultCode"]) for r in response["results"]] == [("t1", "Succeeded")]
    assert _manifest(run)["original"]["version_id"] == uploaded["version_id"]


def test_a_batch_operations_task_for_a_rejected_file_is_a_permanent_failure(run):
    uploaded = run.upload(images.html_named_jpg())
    event = {"invocationSchemaVersion": "2.0", "invocationId": "inv-2", "job": {"id": "j"},
             "tasks": [{"taskId": "t1", "s3Bucket": run.bucket, "s3Key": ORIGINAL,
                        "s3VersionId": uploaded["version_id"]}]}
    [result] = entry.handler(event, CONTEXT)["results"]
    assert (result["resultCode"], result["resultString"]) == (
        "PermanentFailure", "rejected: unsupported-format")


# ---------------------------------------------------------------- end to end

def test_an_original_uploaded_through_the_upload_api_gets_its_renditions_and_manifest(
        presign_api, s3_client, monkeypatch, s3_endpoint):
    import hashlib

    from local_services import http

    monkeypatch.setenv(CONFIG_ENV, SMALL.to_json())
    monkeypatch.setattr(entry, "_s3", None)
    monkeypatch.setattr(entry, "_settings", None)
    body = images.jpeg(images.photo("rocket"))
    status, plan = presign_api.upload(kind="product-image", filename="look 07.jpg",
                                      content_type="image/jpeg", size=len(body),
                                      sha256=hashlib.sha256(body).hexdigest())
    assert status == 200 and plan["key"].startswith(keys.ORIGINALS)
    assert http("PUT", plan["upload"]["url"], body, plan["upload"]["headers"])[0] == 200
    head = s3_client.head_object(Bucket=presign_api.bucket, Key=plan["key"])
    event = sqs_event(sqs_record(s3_notification(presign_api.bucket, plan["key"],
                                                 head["VersionId"], len(body), head["ETag"])))

    assert entry.handler(event, CONTEXT) == {"batchItemFailures": []}

    manifest = json.loads(s3_client.get_object(
        Bucket=presign_api.bucket, Key=keys.manifest_key(plan["key"]))["Body"].read())
    assert manifest["original"]["version_id"] == head["VersionId"]
    for entry_ in manifest["renditions"]:
        got = s3_client.get_object(Bucket=presign_api.bucket, Key=entry_["key"])
        assert Image.open(io.BytesIO(got["Body"].read())).width == entry_["width"] == \
            entry_["requested_width"]


def test_a_malformed_message_fails_alone_and_the_rest_of_the_batch_renders(run):
    uploaded = run.upload(images.jpeg(images.photo("chelsea")))
    good = sqs_record(s3_notification(run.bucket, ORIGINAL, uploaded["version_id"],
                                      uploaded["size"], uploaded["etag"]))
    bad = sqs_record("not json at all")
    response = entry.handler(sqs_event(bad, good), CONTEXT)
    assert response == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    assert _manifest(run)["original"]["version_id"] == uploaded["version_id"]
