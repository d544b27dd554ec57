"""Originals that are real pictures in awkward shapes, or broken in ways the decoders report
unusually: each is either rendered whole or refused cleanly (a ``Rejected``, tagged, nothing
half-written), never an exception that would retry it into the dead-letter queue.

Driven through ``pipeline.process_object`` against a small in-memory S3, with a small rendition
set and libaom's fastest speed so encodes stay fast."""
from __future__ import annotations

import io
import json
import struct
import zlib

import pytest
from botocore.exceptions import ClientError
from estate_handlers.object_events import ObjectVersion
from estate_handlers.renditions import imaging, keys, pipeline, sniff
from estate_handlers.renditions.settings import MAX_AVIF_SPEED, Settings
from PIL import Image, ImageCms, ImageDraw

SMALL = Settings(processed_widths=(128,), thumbnail_widths=(48,), avif_speed=MAX_AVIF_SPEED)
KEY = "products/images/original/ab12/look.jpg"
CAP = 100_000_000


class MemoryS3:
    """The S3 calls ``process_object`` makes, on one versioned key, in memory."""

    def __init__(self, body: bytes, key: str = KEY):
        self.objects = {key: body}
        self.tags: dict[str, list] = {key: []}
        self.puts: list[str] = []

    def head_object(self, Bucket, Key, **_):
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "404"}}, "HeadObject")
        return {"ContentLength": len(self.objects[Key]), "VersionId": "v1"}

    def get_object(self, Bucket, Key, **_):
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject")
        return {"Body": io.BytesIO(self.objects[Key])}

    def get_object_tagging(self, Bucket, Key, **_):
        return {"TagSet": list(self.tags.get(Key, []))}

    def put_object_tagging(self, Bucket, Key, Tagging, **_):
        self.tags[Key] = Tagging["TagSet"]

    def put_object(self, Bucket, Key, Body, **_):
        self.objects[Key] = Body
        self.puts.append(Key)
        return {"VersionId": f"v{len(self.puts)}"}


def process(body: bytes, key: str = KEY, settings: Settings = SMALL):
    s3 = MemoryS3(body, key)
    outcome = pipeline.process_object(s3, ObjectVersion("bucket", key, "v1"), settings)
    return outcome, s3


def tags(s3: MemoryS3, key: str = KEY) -> dict:
    return {t["Key"]: t["Value"] for t in s3.tags[key]}


def manifest(s3: MemoryS3, key: str = KEY) -> dict:
    return json.loads(s3.objects[keys.manifest_key(key)])


def rendition(s3: MemoryS3, entry: dict) -> Image.Image:
    im = Image.open(io.BytesIO(s3.objects[entry["key"]]))
    im.load()
    return im


def assert_refused(outcome, s3: MemoryS3, reason: str, key: str = KEY) -> None:
    assert (outcome.status, outcome.detail) == ("rejected", reason)
    assert tags(s3, key) == {"processing-status": "rejected", "processing-reason": reason}
    assert s3.puts == []


def photo(size=(160, 120)) -> Image.Image:
    return Image.effect_mandelbrot(size, (-2.0, -1.2, 1.0, 1.2), 60).convert("RGB")


def encoded(im: Image.Image, fmt: str, **save) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **save)
    return out.getvalue()


# ---------------------------------------------------------------- dimensions and encoders

def test_a_strip_taller_than_webp_allows_renders_every_key_scaled_to_fit():
    # A long product-detail strip: 16500 px is over libwebp's 16383 a side.
    strip = Image.linear_gradient("L").resize((40, 16500)).convert("RGB")
    outcome, s3 = process(encoded(strip, "PNG"), KEY.replace(".jpg", ".png"))
    assert outcome.status == "rendered"
    renditions = manifest(s3, KEY.replace(".jpg", ".png"))["renditions"]
    assert {e["requested_width"] for e in renditions} == set(SMALL.widths)
    assert len(renditions) == len(SMALL.widths) * len(SMALL.formats)
    for entry in renditions:
        im = rendition(s3, entry)
        assert im.size == (entry["width"], entry["height"])
        assert im.height <= imaging.MAX_SIDE["webp"]
        assert abs(im.width / im.height - 40 / 16500) < 0.001  # scaled, not cropped


def test_a_shape_no_output_could_fit_is_refused_from_the_header_before_decoding(monkeypatch):
    column = Image.new("RGB", (1, 16500), (20, 90, 200))
    monkeypatch.setattr(imaging, "decode", lambda *a, **k: pytest.fail("decoded"))
    outcome, s3 = process(encoded(column, "PNG"))
    assert_refused(outcome, s3, "unsupported-dimensions")


def test_an_encoder_that_cannot_write_an_image_refuses_it_and_leaves_no_output(monkeypatch):
    real = imaging.encode
    calls = []

    def fails_on_the_fourth(im, fmt, quality, **overrides):
        calls.append(fmt)
        if len(calls) == 4:  # after a whole width's worth of outputs was encoded
            raise ValueError("encoding error 5: Image size exceeds WebP limit")
        return real(im, fmt, quality, **overrides)

    monkeypatch.setattr(imaging, "encode", fails_on_the_fourth)
    outcome, s3 = process(encoded(photo(), "JPEG"))
    assert_refused(outcome, s3, "unencodable")


# A fault of the deployment (a codec or library missing from the layer) fails every original
# alike: it must raise, so the record is retried and lands in the dead-letter queue until the
# layer is mended, never tag every original rejected for good.

def assert_untouched(s3: MemoryS3) -> None:
    assert s3.tags[KEY] == [] and s3.puts == []


def test_an_encoder_missing_from_the_layer_is_retried_not_a_refusal(monkeypatch):
    monkeypatch.setattr(imaging, "AVIF_CODEC", "no-such-codec")
    s3 = MemoryS3(encoded(photo(), "JPEG"))
    with pytest.raises(ValueError):
        pipeline.process_object(s3, ObjectVersion("bucket", KEY, "v1"), SMALL)
    assert_untouched(s3)


def _raises(error: Exception):
    def broken(*args, **kwargs):
        raise error
    return broken


@pytest.mark.parametrize(("owner", "name", "error", "fmt"), [
    ("jpegli", "_api", OSError("cannot load library libjpegli.so"), "JPEG"),
    # The header reads without a decoder; decoding the pixels fails, for every image alike.
    ("PIL.Image", "_getdecoder", OSError("decoder jpeg not available"), "JPEG"),
    ("PIL.AvifImagePlugin._avif", "AvifDecoder", RuntimeError("no AV1 decoder"), "AVIF"),
], ids=["jpeg library will not load", "pixel decoder missing", "AVIF decoder missing"])
def test_a_library_or_decoder_missing_from_the_layer_is_retried_not_a_refusal(
        monkeypatch, owner, name, error, fmt):
    from estate_handlers.renditions import jpegli
    from PIL import AvifImagePlugin
    key = KEY if fmt == "JPEG" else KEY.replace(".jpg", ".avif")
    body = encoded(photo(), fmt, **({"speed": MAX_AVIF_SPEED} if fmt == "AVIF" else {}))
    target = {"jpegli": jpegli, "PIL.Image": Image,
              "PIL.AvifImagePlugin._avif": AvifImagePlugin._avif}[owner]
    monkeypatch.setattr(target, name, _raises(error))
    s3 = MemoryS3(body, key)
    with pytest.raises(type(error), match=str(error)):
        pipeline.process_object(s3, ObjectVersion("bucket", key, "v1"), SMALL)
    assert s3.tags[key] == [] and s3.puts == []


# ---------------------------------------------------------------- AVIF decode errors

def _avif_with_corrupt_pixels() -> bytes:
    avif = bytearray(encoded(photo(), "AVIF", speed=MAX_AVIF_SPEED))
    mdat = avif.find(b"mdat")
    for i in range(mdat + 20, mdat + 60):  # inside the coded frame, past its OBU headers
        avif[i] ^= 0xFF
    return bytes(avif)


def test_a_corrupt_avif_is_refused_as_undecodable_not_retried():
    key = KEY.replace(".jpg", ".avif")
    outcome, s3 = process(_avif_with_corrupt_pixels(), key)
    assert_refused(outcome, s3, "undecodable", key)


def test_a_programming_error_during_decoding_is_not_mistaken_for_a_bad_file(monkeypatch):
    def broken(im):
        raise RuntimeError("a bug, not a file")

    monkeypatch.setattr(imaging, "to_srgb_8bit", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        process(encoded(photo(), "JPEG"))


# ---------------------------------------------------------------- what follows a JPEG's EOI

JPEG = encoded(photo(), "JPEG", quality=85)


def samsung_trailer() -> bytes:
    """A Galaxy camera's SEF trailer: one data block, its SEFH directory, SEFT."""
    block = b"\x00\x00\x01\x0a" + struct.pack("<I", 14) + b"Image_UTC_Data" + b"1700000000000"
    entry = struct.pack("<HHII", 0, 0x0A01, len(block), len(block))
    directory = b"SEFH" + struct.pack("<II", 106, 1) + entry
    return block + directory + struct.pack("<I", len(directory)) + b"SEFT"


def mp4() -> bytes:
    """A motion photo's video: ``ftyp`` first, boxes to the end of the file."""
    return (struct.pack(">I", 24) + b"ftypmp42" + b"\x00" * 4 + b"isommp42"
            + struct.pack(">I", 16) + b"mdat" + b"\x00" * 8)


@pytest.mark.parametrize("trailer", [samsung_trailer(), mp4(), b"\x00" * 16],
                         ids=["samsung-sef", "motion-photo-mp4", "zero-padding"])
def test_trailers_phones_write_after_the_eoi_are_accepted_and_the_photo_rendered(trailer):
    outcome, s3 = process(JPEG + trailer)
    assert outcome.status == "rendered"
    assert len(manifest(s3)["renditions"]) == len(SMALL.widths) * len(SMALL.formats)


def test_mpf_images_after_the_primary_are_accepted():
    gain_map = encoded(photo((40, 30)).convert("L"), "JPEG")
    sniff.check_structure("jpeg", JPEG + gain_map + b"\x00\x00" + gain_map)


@pytest.mark.parametrize("tail", [
    b"PK\x03\x04" + b"\x00" * 26 + b"payload.js" + b"\xff\xd9",
    b"<script>alert(1)</script>\xff\xd9",
    b"junk",
    encoded(photo((40, 30)), "JPEG")[:-200],          # an appended JPEG that is cut short
    mp4()[:-4],                                        # an MP4 whose boxes overrun the file
    b"<html>" + samsung_trailer()[-8:],                # SEFT without its directory
    b"PK\x03\x04" + b"\x00" * 40 + samsung_trailer(),  # a directory that leaves bytes before it
], ids=["zip-ending-ffd9", "script-ending-ffd9", "junk", "cut-jpeg", "cut-mp4", "bare-seft",
        "zip-before-sef"])
def test_anything_else_after_the_eoi_is_refused_even_when_the_file_ends_with_ffd9(tail):
    with pytest.raises(sniff.Rejected) as err:
        sniff.check_structure("jpeg", JPEG + tail)
    assert err.value.reason == "trailing-data"


# An FF D9 pair inside a segment (here a comment) is not the image's end: only walking the
# segments tells; a search for the first FF D9 would stop there.
EOI_IN_A_COMMENT = {"comment": b"\xff\xd9 is not the end"}


@pytest.mark.parametrize("save", [{"progressive": True}, {"restart_marker_blocks": 4},
                                  {"progressive": True, "restart_marker_rows": 1}],
                         ids=["progressive", "restart-markers", "both"])
def test_scans_that_look_like_markers_inside_still_find_the_real_eoi(save):
    body = encoded(photo((320, 240)), "JPEG", quality=90, **save, **EOI_IN_A_COMMENT)
    assert body.find(b"\xff\xd9") < len(body) - 2  # an early pair is really there
    assert sniff.jpeg_end(body) == len(body)
    sniff.check_structure("jpeg", body)


def test_a_jpeg_cut_inside_its_scan_is_truncated_even_with_an_eoi_pair_in_the_data():
    body = encoded(photo((320, 240)), "JPEG", quality=90, **EOI_IN_A_COMMENT)
    cut = body[: len(body) * 2 // 3]
    assert b"\xff\xd9" in cut
    with pytest.raises(sniff.Rejected) as err:
        sniff.check_structure("jpeg", cut)
    assert err.value.reason == "truncated"


# ---------------------------------------------------------------- colour and transparency

def _s15(x: float) -> bytes:
    return struct.pack(">i", round(x * 65536))


def display_p3_profile() -> bytes:
    """A minimal ICC v2 matrix/TRC profile with Display P3's primaries (adapted to D50)."""
    def xyz(x, y, z):
        return b"XYZ " + b"\0" * 4 + _s15(x) + _s15(y) + _s15(z)

    desc = b"Display P3 test\0"
    tags = [(b"desc", b"desc" + b"\0" * 4 + struct.pack(">I", len(desc)) + desc + b"\0" * 78),
            (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
            (b"rXYZ", xyz(0.5151, 0.2412, -0.0011)), (b"gXYZ", xyz(0.2920, 0.6922, 0.0419)),
            (b"bXYZ", xyz(0.1571, 0.0666, 0.7841))]
    gamma = b"curv" + b"\0" * 4 + struct.pack(">IH", 1, round(2.2 * 256))
    tags += [(b"rTRC", gamma), (b"gTRC", gamma), (b"bTRC", gamma)]
    offset, table, data = 128 + 4 + 12 * len(tags), b"", b""
    for signature, body in tags:
        data += b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    header = (struct.pack(">I", offset + len(data)) + b"lcms" + struct.pack(">I", 0x02100000)
              + b"mntrRGB XYZ " + b"\0" * 12 + b"acsp" + b"\0" * 28
              + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + b"\0" * 48)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


P3 = display_p3_profile()
P3_SAMPLE = (60, 170, 110)  # a green well inside both gamuts: its sRGB value differs visibly


def _p3_in_srgb(colour) -> tuple[int, ...]:
    source = ImageCms.ImageCmsProfile(io.BytesIO(P3))
    converted = ImageCms.profileToProfile(Image.new("RGB", (1, 1), colour), source,
                                          ImageCms.createProfile("sRGB"), outputMode="RGB")
    return converted.getpixel((0, 0))


def test_a_palette_png_tagged_display_p3_comes_out_in_srgb():
    key = KEY.replace(".jpg", ".png")
    palette = Image.new("RGB", (96, 64), P3_SAMPLE).quantize(4)
    outcome, s3 = process(encoded(palette, "PNG", icc_profile=P3), key)
    assert outcome.status == "rendered"
    expected = _p3_in_srgb(P3_SAMPLE)
    assert max(abs(a - b) for a, b in zip(expected, P3_SAMPLE, strict=True)) > 15
    for entry in manifest(s3, key)["renditions"]:
        got = rendition(s3, entry).convert("RGB").getpixel((10, 10))
        assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) <= 6, entry["key"]


def test_an_rgb_png_with_a_colour_key_and_a_profile_keeps_its_transparency():
    key = KEY.replace(".jpg", ".png")
    keyed = Image.new("RGB", (96, 64), (255, 255, 255))
    ImageDraw.Draw(keyed).ellipse((16, 8, 80, 56), fill=P3_SAMPLE)
    body = encoded(keyed, "PNG", transparency=(255, 255, 255), icc_profile=P3)
    outcome, s3 = process(body, key)
    assert outcome.status == "rendered"
    expected = _p3_in_srgb(P3_SAMPLE)
    for entry in manifest(s3, key)["renditions"]:
        if entry["format"] == "jpeg" or entry["width"] != 96:
            continue
        im = rendition(s3, entry).convert("RGBA")
        assert im.getpixel((1, 1))[3] == 0, entry["key"]   # the keyed background
        centre = im.getpixel((48, 32))
        assert centre[3] == 255
        assert max(abs(a - b) for a, b in zip(centre[:3], expected, strict=True)) <= 6


# ---------------------------------------------------------------- JPEGs with an MPF index

def mpo(size=(1024, 768)) -> bytes:
    return encoded(photo(size), "MPO", save_all=True, append_images=[photo((64, 48))])


def test_a_jpeg_with_an_mpf_index_is_one_picture_shrunk_on_load():
    inspection, im = sniff.inspect(mpo(), CAP)
    assert im.format == "MPO" and (inspection.format, inspection.frames) == ("jpeg", 1)
    imaging.shrink_on_load(im, 200)
    assert im.size == (256, 192)  # DCT-scaled by 1/4 before decoding, not decoded whole


def test_a_jpeg_with_an_mpf_index_renders_and_its_manifest_says_one_frame():
    outcome, s3 = process(mpo((320, 240)))
    assert outcome.status == "rendered"
    assert manifest(s3)["original"]["frames"] == 1


# ---------------------------------------------------------------- orientation

@pytest.mark.parametrize("orientation, displayed", [(1, (300, 200)), (3, (300, 200)),
                                                    (6, (200, 300)), (8, (200, 300))])
def test_the_manifest_records_the_originals_size_as_displayed(orientation, displayed):
    exif = Image.Exif()
    exif[0x0112] = orientation
    outcome, s3 = process(encoded(photo((300, 200)), "JPEG", exif=exif.tobytes()))
    assert outcome.status == "rendered"
    original = manifest(s3)["original"]
    assert (original["width"], original["height"]) == displayed
    largest = max(manifest(s3)["renditions"], key=lambda e: e["width"])
    assert (largest["width"] > largest["height"]) == (displayed[0] > displayed[1])


def _with_late_exif(png: bytes, orientation: int) -> bytes:
    """The PNG with an eXIf chunk after its image data (allowed; Pillow reads it on decode)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = exif.tobytes()
    chunk = struct.pack(">I", len(data)) + b"eXIf" + data + struct.pack(
        ">I", zlib.crc32(b"eXIf" + data))
    end = png.rindex(b"\x00\x00\x00\x00IEND")
    return png[:end] + chunk + png[end:]


@pytest.mark.parametrize("orientation, displayed", [(3, (300, 200)), (6, (200, 300))])
def test_a_png_oriented_by_an_exif_chunk_after_its_pixels_records_the_displayed_size(
        orientation, displayed):
    key = KEY.replace(".jpg", ".png")
    outcome, s3 = process(_with_late_exif(encoded(photo((300, 200)), "PNG"), orientation), key)
    assert outcome.status == "rendered"
    original = manifest(s3, key)["original"]
    assert (original["width"], original["height"]) == displayed
    largest = max(manifest(s3, key)["renditions"], key=lambda e: e["width"])
    assert (largest["width"] > largest["height"]) == (displayed[0] > displayed[1])


def test_a_png_turned_by_its_late_exif_into_an_impossible_strip_is_refused_unwritten():
    # 16500x1 fits (scaled down); turned, 1x16500 is taller than any encoder allows a column.
    wide = Image.linear_gradient("L").resize((16500, 1)).convert("RGB")
    key = KEY.replace(".jpg", ".png")
    outcome, s3 = process(_with_late_exif(encoded(wide, "PNG"), 6), key)
    assert_refused(outcome, s3, "unsupported-dimensions", key)
    assert set(s3.objects) == {key}


def test_a_canonical_manifest_of_the_previous_schema_is_rendered_again_not_reused():
    # Schema 1 recorded the stored size: copying it into a duplicate's new manifest would
    # mix the two meanings of original.width/height.
    s3 = MemoryS3(encoded(photo(), "JPEG"))
    canonical = "products/images/original/cd34/look.jpg"
    old = {"schema": 1, "original": {"sha256": "f" * 64, "format": "jpeg", "width": 160,
                                      "height": 120}, "settings_digest":
           pipeline.settings_digest(SMALL), "placeholder": "", "phash": "",
           "renditions": [{"kind": "processed", "requested_width": 128, "format": "avif",
                           "key": "products/images/processed/cd34/look-w128.avif",
                           # only the schema can refuse it: it names its bytes' version
                           "version_id": "r1"}]}
    s3.objects[keys.manifest_key(canonical)] = json.dumps(old).encode()
    s3.copy_object = lambda **kw: pytest.fail("reused a schema-1 manifest")
    tags_ = {pipeline.DEDUP_STATUS_TAG: pipeline.DUPLICATE, pipeline.DUPLICATE_OF_TAG: canonical,
             pipeline.CONTENT_SHA256_TAG: "f" * 64}
    assert pipeline.try_reuse(s3, ObjectVersion("bucket", KEY, "v1"), tags_, 100, SMALL) is None


def test_an_own_manifest_of_the_previous_schema_is_rendered_again():
    # Unchanged means this version, this rendition set and this schema: an older schema's
    # manifest (stored sizes, no rendition versions) is replaced, so duplicates can reuse it.
    s3 = MemoryS3(encoded(photo(), "JPEG"))
    s3.objects[keys.manifest_key(KEY)] = json.dumps({
        "schema": 2, "original": {"version_id": "v1"},
        "settings_digest": pipeline.settings_digest(SMALL)}).encode()
    outcome = pipeline.process_object(s3, ObjectVersion("bucket", KEY, "v1"), SMALL)
    assert outcome.status == "rendered" and manifest(s3)["schema"] == pipeline.MANIFEST_SCHEMA


class OverwrittenDuringEncode(MemoryS3):
    """A newer version of the original is uploaded (or, ``deleted``, a delete marker put)
    after ``heads`` HeadObject answers."""

    def __init__(self, body: bytes, heads: int, deleted: bool = False):
        super().__init__(body)
        self.heads, self.deleted = heads, deleted

    def head_object(self, Bucket, Key, **kwargs):
        answer = super().head_object(Bucket, Key, **kwargs)
        self.heads -= 1
        if self.heads >= 0 or Key != KEY:
            return answer
        if self.deleted:
            raise ClientError({"Error": {"Code": "404"}}, "HeadObject")
        return {**answer, "VersionId": "v2"}


@pytest.mark.parametrize(("heads", "written"), [(1, 0), (2, 6)])  # SMALL: 6 renditions
def test_a_version_overwritten_while_it_renders_writes_no_manifest_over_the_newer_one(
        heads, written):
    # heads=1: overwritten during the encode, nothing is written; heads=2: during the
    # uploads, its renditions are written but not its manifest (the newer render's comes).
    s3 = OverwrittenDuringEncode(encoded(photo(), "JPEG"), heads)
    outcome = pipeline.process_object(s3, ObjectVersion("bucket", KEY, "v1"), SMALL)
    assert (outcome.status, outcome.detail) == ("superseded", "current version is v2")
    assert keys.manifest_key(KEY) not in s3.objects and len(s3.puts) == written
    assert outcome.written == written


def test_an_original_deleted_while_it_renders_gets_no_renditions():
    s3 = OverwrittenDuringEncode(encoded(photo(), "JPEG"), heads=1, deleted=True)
    outcome = pipeline.process_object(s3, ObjectVersion("bucket", KEY, "v1"), SMALL)
    assert (outcome.status, outcome.detail, outcome.written) == ("skipped", "gone", 0)
    assert s3.puts == []


def _png_16bit_rgb_with_colour_key(key: bytes = b"\x12\x34" * 3, width: int = 8,
                                   height: int = 8) -> bytes:
    """A 16-bit RGB PNG (Pillow cannot write one): its left half is the tRNS colour key."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    red = b"\xff\xff\x00\x00\x00\x00"
    row = b"\x00" + b"".join(key if x < width // 2 else red for x in range(width))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
            + chunk(b"tRNS", key) + chunk(b"IDAT", zlib.compress(row * height))
            + chunk(b"IEND", b""))


def _png_16bit_grey_with_colour_key() -> bytes:
    im = Image.new("I;16", (8, 8), 40000)
    im.putpixel((6, 0), 1000)
    out = io.BytesIO()
    im.save(out, "PNG", transparency=40000)
    return out.getvalue()


@pytest.mark.parametrize("body", [
    _png_16bit_rgb_with_colour_key(),
    # a key whose samples all fit in a byte is still a 16-bit key: (0, 0, 200) reads as black
    _png_16bit_rgb_with_colour_key(b"\x00\x00\x00\x00\x00\xc8"),
    _png_16bit_grey_with_colour_key()], ids=["rgb", "rgb-small-key", "grey"])
def test_a_16_bit_png_keeps_its_colour_key_transparency(body):
    # Pillow reads 16-bit samples as 8-bit but keeps the tRNS key's 16 bits.
    inspection, im = sniff.inspect(body, CAP)
    decoded = imaging.decode(im, inspection, SMALL)
    assert decoded.mode == "RGBA"
    assert decoded.getpixel((0, 0))[3] == 0 and decoded.getpixel((6, 0))[3] == 255
