"""Pure parts of the renditions function: format sniffing and structure checks, the rendition
settings, the key scheme, the perceptual hash. No AWS, small in-memory images."""
from __future__ import annotations

import io
import struct

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from estate_handlers.renditions import fingerprints, imaging, jpegli, keys, sniff
from estate_handlers.renditions.settings import Settings, SettingsError
from PIL import Image, ImageFilter

CAP = 100_000_000


def _encoded(fmt: str, size=(64, 48), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 120, 40) if mode == "RGB" else (200, 120, 40, 128)).save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize("fmt, pil", [("jpeg", "JPEG"), ("png", "PNG"), ("webp", "WEBP"),
                                      ("avif", "AVIF")])
def test_each_allowed_format_is_recognised_from_its_bytes_with_its_header_size(fmt, pil):
    inspection, _ = sniff.inspect(_encoded(pil), CAP)
    assert (inspection.format, inspection.width, inspection.height) == (fmt, 64, 48)


def test_heic_is_refused_even_though_it_is_an_iso_media_file():
    heic = struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic"
    with pytest.raises(sniff.Rejected) as err:
        sniff.inspect(heic + b"\x00" * 64, CAP)
    assert err.value.reason == "unsupported-format"


@pytest.mark.parametrize("body", [_encoded("GIF"), _encoded("BMP"), b"%PDF-1.7\n",
                                  b"<svg xmlns='http://www.w3.org/2000/svg'/>"])
def test_formats_outside_the_allow_list_are_refused(body):
    with pytest.raises(sniff.Rejected, match="unsupported-format"):
        sniff.inspect(body, CAP)


def test_the_pixel_cap_is_checked_against_the_header():
    with pytest.raises(sniff.Rejected, match="too-many-pixels"):
        sniff.inspect(_encoded("PNG", size=(200, 100)), 200 * 100 - 1)


@pytest.mark.parametrize("pil", ["WEBP", "AVIF", "PNG"])
def test_a_cut_file_is_refused_as_truncated(pil):
    body = _encoded(pil, size=(256, 256))
    with pytest.raises(sniff.Rejected) as err:
        sniff.check_structure(sniff.sniff_format(body), body[:-10])
    assert err.value.reason == "truncated"


@pytest.mark.parametrize(("pil", "reason"), [
    ("WEBP", "trailing-data"), ("PNG", "trailing-data"), ("JPEG", "trailing-data"),
    # AVIF has no end marker: the appended bytes read as one more box, whose size ("<scr")
    # runs past the end of the file
    ("AVIF", "truncated")])
def test_bytes_after_the_images_end_are_refused(pil, reason):
    body = _encoded(pil) + b"<script>alert(1)</script>"
    with pytest.raises(sniff.Rejected) as err:
        sniff.check_structure(sniff.sniff_format(body), body)
    assert err.value.reason == reason


def test_widths_are_listed_largest_first_across_processed_and_thumbnails():
    assert Settings().widths == (2048, 1200, 600, 300)


@pytest.mark.parametrize("overrides, field", [
    ({"processed_widths": (0,)}, "processed_widths"),
    ({"thumbnail_widths": (2048,)}, "distinct"),
    ({"formats": ("avif", "webp")}, "jpeg"),
    ({"quality": (("avif", 0), ("webp", 80), ("jpeg", 82))}, "quality of avif"),
    ({"max_pixels": True}, "max_pixels"),
    ({"avif_speed": 11}, "avif_speed"),
    ({"avif_speed": "6"}, "avif_speed"),
])
def test_invalid_settings_are_refused_naming_the_problem(overrides, field):
    with pytest.raises(SettingsError, match=field):
        Settings(**overrides)


def test_settings_survive_their_json_round_trip():
    settings = Settings(processed_widths=(1600,), thumbnail_widths=(400, 200))
    assert Settings.from_json(settings.to_json()) == settings


def test_a_malformed_config_is_a_settings_error():
    with pytest.raises(SettingsError, match="RENDITIONS_CONFIG"):
        Settings.from_json("{not json")


def test_rendition_keys_keep_the_originals_path_and_name():
    original = "products/images/original/3f9a/look 07.png"
    assert keys.rendition_key(original, 1200, "avif", thumbnail=False) == \
        "products/images/processed/3f9a/look 07.png/w1200.avif"
    assert keys.rendition_key(original, 300, "jpeg", thumbnail=True) == \
        "products/images/thumbnails/3f9a/look 07.png/w300.jpg"
    assert keys.manifest_key(original) == "products/images/processed/3f9a/look 07.png/manifest.json"


@pytest.mark.parametrize("key", ["products/images/processed/a.jpg", "products/images/original/",
                                 "products/images/original/folder/"])
def test_only_original_objects_have_renditions(key):
    assert not keys.is_original(key)


def _texture() -> Image.Image:
    im = Image.radial_gradient("L").convert("RGB").resize((256, 256))
    im.paste((30, 60, 200), (0, 0, 100, 60))
    return im


def test_phash_barely_moves_for_a_resized_recompressed_copy():
    original = _texture()
    out = io.BytesIO()
    original.resize((180, 180)).save(out, "JPEG", quality=60)
    copy = Image.open(io.BytesIO(out.getvalue())).convert("RGB")
    assert fingerprints.hamming(fingerprints.phash(original), fingerprints.phash(copy)) <= 4


def test_phash_differs_for_a_different_picture():
    other = _texture().transpose(Image.Transpose.ROTATE_90).filter(ImageFilter.GaussianBlur(2))
    assert fingerprints.hamming(fingerprints.phash(_texture()), fingerprints.phash(other)) > 10


class _TagRecorder:
    def __init__(self, existing: list[dict]):
        self.existing, self.written = existing, None

    def get_object_tagging(self, **kwargs):
        return {"TagSet": self.existing}

    def put_object_tagging(self, **kwargs):
        self.written = kwargs["Tagging"]["TagSet"]


def _foreign(n: int) -> list[dict]:
    return [{"Key": f"team-{i}", "Value": "x"} for i in range(n)]


def test_a_rejection_tag_never_drops_another_writers_tag():
    from estate_handlers.object_events import ObjectVersion
    from estate_handlers.renditions.pipeline import tag

    ours = {"processing-status": "rejected", "processing-reason": "truncated"}
    s3 = _TagRecorder(_foreign(9))
    assert tag(s3, ObjectVersion("b", "k", "v"), ours) is True
    assert s3.written == [*_foreign(9), {"Key": "processing-status", "Value": "rejected"}]
    s3 = _TagRecorder(_foreign(10))
    assert tag(s3, ObjectVersion("b", "k", "v"), ours) is False
    assert s3.written is None


def test_the_avif_memory_option_leaves_the_encoded_bytes_unchanged():
    photo = Image.effect_mandelbrot((160, 120), (-2.0, -1.2, 1.0, 1.2), 60).convert("RGB")
    plain = io.BytesIO()
    photo.save(plain, "AVIF", quality=55, speed=imaging.AVIF_SPEED)
    assert imaging.encode(photo, "avif", 55) == plain.getvalue()


def test_the_shipped_avif_is_libaoms_image_quality_tuning_the_one_the_effort_study_measured():
    # The encoder study ranks settings against tune=iq; a Pillow or libaom upgrade that
    # changed the default tuning would silently invalidate its figures.
    photo = Image.effect_mandelbrot((160, 120), (-2.0, -1.2, 1.0, 1.2), 60).convert("RGB")
    tuned = imaging.encode(photo, "avif", 55,
                           advanced={**imaging.AVIF_AOM_OPTIONS, "tune": "iq"})
    assert imaging.encode(photo, "avif", 55) == tuned
    assert imaging.encode(photo, "avif", 55,
                          advanced={**imaging.AVIF_AOM_OPTIONS, "tune": "ssim"}) != tuned


def test_the_configured_avif_speed_reaches_the_encoder_and_survives_the_environment():
    photo = Image.effect_mandelbrot((160, 120), (-2.0, -1.2, 1.0, 1.2), 60).convert("RGB")
    fast = Settings(avif_speed=9)
    assert Settings.from_json(fast.to_json()) == fast
    assert imaging.encode_rendition(photo, "avif", fast) == imaging.encode(photo, "avif", 55,
                                                                            speed=9)
    assert imaging.encode_rendition(photo, "avif", fast) != \
        imaging.encode_rendition(photo, "avif", Settings())
    # Only AVIF has a configured effort: the other formats encode as before.
    assert imaging.encode_rendition(photo, "webp", fast) == imaging.encode(photo, "webp", 80)


PHOTO = Image.effect_mandelbrot((160, 120), (-2.0, -1.2, 1.0, 1.2), 60).convert("RGB")


def test_the_jpeg_fallback_is_jpegli_made_progressive_without_changing_a_pixel():
    body = imaging.encode_rendition(PHOTO, "jpeg", Settings())
    decoded = Image.open(io.BytesIO(body))
    assert decoded.format == "JPEG" and decoded.size == (160, 120)
    assert decoded.info.get("progressive") == 1 and decoded.info.get("progression") == 1
    assert not decoded.getexif() and "icc_profile" not in decoded.info
    # The progressive pass is lossless: the pixels are jpegli's own, adaptive quantization off.
    baseline = jpegli.encode(PHOTO.tobytes(), 160, 120, Settings().quality_of("jpeg"))
    assert decoded.tobytes() == Image.open(io.BytesIO(baseline)).convert("RGB").tobytes()
    assert len(body) < len(baseline)


def test_jpeglis_c_api_through_cffi_is_pyjpegli_byte_for_byte_with_adaptive_quantization_on():
    import pyjpegli

    # pyjpegli's encode is jpegli's defaults: the same library, called the same way, so the
    # struct layout declared for cffi is the one jpegli was built with.
    for quality in (40, 82, 95):
        assert jpegli.encode(PHOTO.tobytes(), 160, 120, quality, adaptive_quantization=True) \
            == pyjpegli.encode(PHOTO.tobytes(), 160, 120, quality=quality)
    off = jpegli.encode(PHOTO.tobytes(), 160, 120, 82)
    assert off != pyjpegli.encode(PHOTO.tobytes(), 160, 120, quality=82)
    decoded = Image.open(io.BytesIO(off))
    assert (decoded.format, decoded.mode, decoded.size) == ("JPEG", "RGB", (160, 120))
    # One-pixel and odd-sized images take the same path (edge blocks, 4:2:0 padding).
    for size in ((1, 1), (17, 3)):
        tiny = PHOTO.resize(size)
        assert Image.open(io.BytesIO(jpegli.encode(tiny.tobytes(), *size, 82))).size == size


def test_a_struct_layout_jpegli_was_not_built_with_is_refused_not_misread():
    import subprocess
    import sys

    # What a drifted declaration would meet: jpegli checks the size it is handed, and its
    # error_exit ends the process with the reason on stderr (run in a child process).
    code = ("from estate_handlers.renditions import jpegli\n"
            "ffi, lib, _ = jpegli._api()\n"
            "c = ffi.new('jpeg_compress_struct *'); e = ffi.new('jpeg_error_mgr *')\n"
            "c.err = lib.jpegli_std_error(e)\n"
            "lib.jpegli_CreateCompress(c, jpegli.LIB_VERSION, ffi.sizeof(c[0]) - 8)\n"
            "print('returned')\n")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={"PYTHONPATH": ":".join(sys.path)}, timeout=60)
    assert child.returncode != 0 and "returned" not in child.stdout
    assert "wrong size" in child.stderr


@pytest.mark.parametrize("args, message", [
    ((b"\0" * 3, 0, 1, 82), "outside"),
    ((b"\0" * 3, 1, 70_000, 82), "outside"),
    ((b"\0" * 3, 1, 1, 0), "quality"),
    ((b"\0" * 3, 1, 1, 101), "quality"),
    ((b"\0" * 4, 1, 1, 82), "packed RGB"),
])
def test_jpegli_refuses_what_would_reach_its_error_exit(args, message):
    with pytest.raises(ValueError, match=message):
        jpegli.encode(*args)


def test_the_jpeg_encoder_is_a_setting_and_reaches_the_digest():
    assert Settings().jpeg_encoder == "jpegli-aq-off"
    for name in ("jpegli", "libjpeg-turbo"):
        other = Settings(jpeg_encoder=name)
        assert Settings.from_json(other.to_json()) == other
        assert other.to_json() != Settings().to_json()  # so renditions made before are remade
        assert imaging.encode_rendition(PHOTO, "jpeg", other) == imaging.encode(
            PHOTO, "jpeg", Settings().quality_of("jpeg"), encoder=name)
        assert imaging.encode_rendition(PHOTO, "jpeg", other) != \
            imaging.encode_rendition(PHOTO, "jpeg", Settings())
    with pytest.raises(SettingsError, match="jpeg_encoder"):
        Settings(jpeg_encoder="mozjpeg")


@pytest.mark.parametrize(("error", "code"), [
    (ClientError({"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                 "HeadObject"), "PermanentFailure"),  # e.g. held by the upload gate
    (ClientError({"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}},
                 "GetObject"), "TemporaryFailure"),
    (ReadTimeoutError(endpoint_url="https://s3.example"), "TemporaryFailure"),
    (ValueError("a bug"), "PermanentFailure"),
])
def test_a_batch_task_s_result_says_whether_a_retry_can_help(monkeypatch, error, code):
    from estate_handlers.renditions import handler

    def fails(obj):
        raise error

    monkeypatch.setattr(handler, "handle_object", fails)
    result = handler.batch_operations_task({"taskId": "t1", "s3Bucket": "b",
                                            "s3Key": "products/images/original/a+b.jpg"})
    assert result["taskId"] == "t1" and result["resultCode"] == code
