"""Decode once, as small as possible; orient; sRGB 8-bit; cascade down the widths; encode.

- **Shrink on load**: a JPEG is decoded with libjpeg's DCT scaling (``draft``) straight to
  the smallest power-of-two reduction that is still at least the largest rendition, so a
  50 MP photo is decoded as ~3 MP of pixels, never 50 MP.
- **Orientation**: the EXIF (or AVIF irot/imir) orientation is applied to the pixels, then
  forgotten: outputs carry no metadata at all.
- **Colour**: an embedded ICC profile (Display P3, Adobe RGB, a CMYK press profile) is
  converted to sRGB with LittleCMS; CMYK without a profile is converted naively; 16-bit
  samples are scaled (not clipped) to 8 bits. Outputs are untagged sRGB, which is what
  browsers assume for untagged images.
- **Alpha** is kept for AVIF and WebP; the JPEG fallback is flattened onto white. An alpha
  channel that is fully opaque is dropped (smaller files, same pixels).
- **Animated** inputs (APNG, animated WebP, AVIF sequences): the first frame only.
- **Never upscale**: a width above the original's yields the original's width under the
  same key, so every key a storefront computes exists.
- **Height cap**: no output is taller than every enabled encoder can write (WebP: 16383 px
  a side). A taller rendition (a 750×18000 product-detail strip) is scaled down until it
  fits, narrower than asked, under the same key: the shop still gets every image, and the
  manifest records each output's real size. Only a shape no 1-px-wide column can fit
  (taller than the cap to 1) is refused, from the header, as ``unsupported-dimensions``.
- **Cascade**: each width is resized (Lanczos) from the previous, larger rendition rather
  than from the decoded original: cheaper, and indistinguishable at these ratios.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, replace

from PIL import Image, ImageCms, ImageOps

from estate_handlers.renditions import jpegli
from estate_handlers.renditions.settings import AVIF_SPEED, JPEG_ENCODER, Settings
from estate_handlers.renditions.sniff import Inspection, Rejected, decoding_works, displayed_size

CONTENT_TYPE = {"avif": "image/avif", "webp": "image/webp", "jpeg": "image/jpeg"}
EXTENSION = {"avif": "avif", "webp": "webp", "jpeg": "jpg"}
# Encoder effort: Pillow 13's defaults, kept on purpose (``settings.AVIF_SPEED`` is the default of
# ``Settings.avif_speed``, the one effort the config may change). ``bench_renditions.py
# --encoders`` compares settings by the bytes each needs to match the shipped setting's
# perceptual quality (SSIMULACRA2, per width, three 12 MP photos; docs/renditions.md has the
# table and the arithmetic). Egress is the estate's largest bill, so a setting that saves CPU
# must not cost bytes at the same quality:
# - AVIF speed 6 with tune=iq (this libavif + libaom's default for still images): nothing but
#   speed 5 (-5 to -8 % for 4.8x the CPU: +$1.4k/month) beats it by more than the spread
#   between photos. Speed 8 / 9 save 0.9 / 1.3 CPU-s per original (~$210 / $320 a month at
#   9 M originals) for +15-22 % / +18-29 % AVIF bytes: they pay only while AVIF is under
#   ~4-7 % of the CDN's egress bill. tune=ssim and deltaq-mode=0 shrink files at the same
#   ``quality`` by lowering it: at equal quality they are -4.6..+1.0 % / +4.5..+5.7 %.
# - WebP method 4: 6 is ~-5 % bytes for +80 % CPU, 2 is +2..+8 % for -57 %; WebP only reaches
#   browsers without AVIF, so either way the difference is under $55 a month.
# - Threads: Pillow's default (the CPUs the process may use); at speed 6 a second thread
#   shortens an encode by only ~5-10 %, and the function's 2048 MB buys ~1.2 vCPU anyway.
WEBP_METHOD = 4
# libaom's temporal dependency model (TPL) plans references between frames; a still image
# has none, yet its buffers are allocated. Off, the output is byte-identical (tested) and
# the encoder's peak is ~5 MB lower at 2048 px. ``advanced`` options are libaom's: the only
# AVIF encoder Pillow's wheels bundle, named so a wheel without it fails loudly.
AVIF_CODEC = "aom"
AVIF_AOM_OPTIONS = {"enable-tpl-model": "0"}
FLATTEN_ON = (255, 255, 255)
_SRGB = ImageCms.createProfile("sRGB")
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)
# Pillow's AVIF plugin reports libavif's decode failures ("Failed to decode frame 0") as
# RuntimeError; caught only around the calls that decode, so a bug elsewhere still surfaces.
_LOAD_ERRORS = (*_DECODE_ERRORS, RuntimeError)
# What an encoder raises for an image it cannot write (a side over its limit, an allocation
# it refuses): this original's problem, refused, never retried.
_ENCODE_ERRORS = (OSError, ValueError, RuntimeError)
# Each encoder's largest side: libwebp's WEBP_MAX_DIMENSION, AV1's frame size (libaom),
# jpegli's and libjpeg-turbo's JPEG_MAX_DIMENSION.
MAX_SIDE = {"webp": 16383, "avif": 65536, "jpeg": jpegli.MAX_DIMENSION}


@dataclass(frozen=True)
class Encoded:
    requested_width: int
    width: int
    height: int
    format: str
    body: bytes

    @property
    def content_type(self) -> str:
        return CONTENT_TYPE[self.format]


def max_height(settings: Settings) -> int:
    """The tallest output every enabled encoder can write."""
    return min(MAX_SIDE[fmt] for fmt in settings.formats)


def fitted_size(width: int, height: int, requested: int, tallest: int) -> tuple[int, int]:
    """An image of ``width`` x ``height`` at ``requested`` width: never upscaled, never
    taller than ``tallest`` (then narrower than asked, the aspect ratio kept)."""
    scale = min(1.0, requested / width, tallest / height)
    if scale == 1.0:
        return width, height
    return max(1, round(width * scale)), max(1, min(tallest, round(height * scale)))


def check_dimensions(inspection: Inspection, settings: Settings) -> None:
    """Refuse, from the header and before any encode, a shape no output can be made of."""
    tallest = max_height(settings)
    if inspection.height > tallest * inspection.width:
        raise Rejected("unsupported-dimensions",
                       f"{inspection.width}x{inspection.height}: taller than {tallest}:1")


def as_decoded(inspection: Inspection, decoded: Image.Image) -> Inspection:
    """The inspection with the size as displayed once decoded: a PNG's eXIf chunk after its
    image data is only read by the decode, which then turns the pixels (``decode``); PNGs are
    not shrunk on load, so the decoded size is the displayed size."""
    if inspection.format != "png" or decoded.size == (inspection.width, inspection.height):
        return inspection
    return replace(inspection, width=decoded.width, height=decoded.height)


def shrink_on_load(im: Image.Image, largest_width: int) -> None:
    """Ask the JPEG decoder for the smallest DCT-scaled size still >= ``largest_width``."""
    # "MPO": a JPEG with an MPF index (a phone's gain map or depth map after it); its first
    # frame is the photo itself, decoded by the same libjpeg, so DCT scaling applies.
    if im.format not in ("JPEG", "MPO"):
        return
    out_width, _ = displayed_size(im)
    if out_width <= largest_width:
        return
    scale = largest_width / out_width
    requested = (max(1, int(im.width * scale) + 1), max(1, int(im.height * scale) + 1))
    im.draft(im.mode if im.mode in ("RGB", "L", "CMYK") else None, requested)


def _colour_key_of_16_bit_rgb(im: Image.Image) -> tuple[int, ...] | None:
    """A 16-bit RGB PNG's tRNS colour key as 8-bit samples, read before the load: Pillow keeps
    each sample's high byte but the key's 16 bits, which then never match (or match other
    pixels). The PNG's bit depth shows in its tile's raw mode, not in the key's values."""
    key = im.info.get("transparency")
    if im.format != "PNG" or not isinstance(key, tuple) or not im.tile \
            or im.tile[0].args != "RGB;16B":
        return None
    return tuple(v >> 8 for v in key)


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info


def to_srgb_8bit(im: Image.Image) -> Image.Image:
    """An RGB or RGBA image in sRGB with 8-bit samples, and no metadata."""
    icc = im.info.get("icc_profile")
    key = im.info.get("transparency")
    if im.mode.startswith("I;16") or im.mode == "I":
        # 16-bit greyscale: scale 0..65535 onto 0..255 (a plain convert would clip), and its
        # tRNS colour key the same way (point() truncates), or it never matches a sample
        # again. The 8-bit key also covers the 256 neighbours that share its byte.
        im = im.convert("I").point(lambda v: v * (1 / 257)).convert("L")
        if isinstance(key, int):
            im.info["transparency"] = int(key * (1 / 257))
    alpha = _has_alpha(im)
    if icc and _is_rgb_profile(icc) and (im.mode not in ("RGB", "RGBA", "CMYK")
                                         or "transparency" in im.info):
        # A palette (or a tRNS colour key) is not something LittleCMS converts, and its
        # transform would drop info["transparency"]: expand to RGB(A) first, tRNS applied.
        im = im.convert("RGBA" if alpha else "RGB")
    if icc and im.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out_mode = "RGBA" if im.mode == "RGBA" else "RGB"
            im = ImageCms.profileToProfile(im, source, _SRGB, outputMode=out_mode,
                                           renderingIntent=ImageCms.Intent.PERCEPTUAL)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: treat the samples as sRGB rather than refuse the image
    target = "RGBA" if alpha else "RGB"
    if im.mode != target:
        im = im.convert(target)
    if target == "RGBA" and im.getchannel("A").getextrema() == (255, 255):
        im = im.convert("RGB")
    im.info = {}  # no EXIF, XMP, ICC, comments, text chunks: nothing reaches an output
    return im


def _is_rgb_profile(icc: bytes) -> bool:
    return icc[16:20] == b"RGB "  # the ICC header's data colour space


def decode(im: Image.Image, inspection: Inspection, settings: Settings) -> Image.Image:
    """The first frame, shrunk on load, oriented, sRGB 8-bit, metadata-free."""
    try:
        if inspection.frames > 1:
            im.seek(0)
        shrink_on_load(im, max(settings.widths))
        key = _colour_key_of_16_bit_rgb(im)
        im.load()
        if key is not None:
            im.info["transparency"] = key
    except _LOAD_ERRORS as exc:
        if not decoding_works(inspection.format):
            raise  # the codec, not the upload: retried, and in the DLQ if it stays broken
        raise Rejected("undecodable", str(exc)[:200]) from exc
    try:
        im = ImageOps.exif_transpose(im)
        return to_srgb_8bit(im)
    except _DECODE_ERRORS as exc:
        raise Rejected("undecodable", str(exc)[:200]) from exc


def _flatten(im: Image.Image) -> Image.Image:
    if im.mode != "RGBA":
        return im
    background = Image.new("RGB", im.size, FLATTEN_ON)
    background.paste(im, mask=im.getchannel("A"))
    return background


PILLOW_FORMAT = {"avif": "AVIF", "webp": "WEBP", "jpeg": "JPEG"}


def encoder_options(fmt: str) -> dict:
    """Pillow ``save`` keywords for ``fmt`` other than quality (a fresh dict each call)."""
    if fmt == "avif":
        return {"speed": AVIF_SPEED, "codec": AVIF_CODEC, "advanced": dict(AVIF_AOM_OPTIONS)}
    if fmt == "webp":
        return {"method": WEBP_METHOD}
    return {"optimize": True, "progressive": True}


def encode_rendition(im: Image.Image, fmt: str, settings: Settings) -> bytes:
    """``im`` as ``fmt`` at the configured quality and effort; an image the encoder cannot
    write is this original's refusal (``unencodable``), not an error to retry."""
    try:
        return encode(im, fmt, settings.quality_of(fmt), **settings.encoder_overrides(fmt))
    except _ENCODE_ERRORS as exc:
        if not encoding_works(fmt, settings):
            raise  # the encoder, not the image: retried, and in the DLQ if it stays broken
        raise Rejected("unencodable", f"{fmt} {im.width}x{im.height}: {str(exc)[:160]}") from exc


def encoding_works(fmt: str, settings: Settings) -> bool:
    """Whether this process can write ``fmt`` with these settings at all (a tiny image).
    Asked only after an encode failed: a library that will not load or a codec the wheel
    lacks fails every original alike, and must be retried once mended, not refused."""
    try:
        encode(Image.new("RGB", (16, 16), (200, 120, 40)), fmt, settings.quality_of(fmt),
               **settings.encoder_overrides(fmt))
        return True
    except Exception:  # noqa: BLE001 (any failure here means the encoder does not work)
        return False


def encode(im: Image.Image, fmt: str, quality: int, **overrides) -> bytes:
    """``overrides`` replace encoder options (the benchmark's effort study uses them); for
    JPEG, ``encoder`` picks jpegli, with or without its adaptive quantization, or Pillow's
    libjpeg-turbo (``settings.JPEG_ENCODERS``)."""
    out = io.BytesIO()
    im.info = {}
    if fmt == "jpeg":
        im = _flatten(im)
        encoder = overrides.pop("encoder", JPEG_ENCODER)
        if encoder.startswith("jpegli"):
            return encode_jpegli(im, quality, adaptive_quantization=encoder == "jpegli")
    im.save(out, PILLOW_FORMAT[fmt], quality=quality, **{**encoder_options(fmt), **overrides})
    return out.getvalue()


def encode_jpegli(im: Image.Image, quality: int, *, adaptive_quantization: bool) -> bytes:
    """An RGB image as a progressive, Huffman-optimized JPEG from jpegli. jpegli writes the
    JFIF header and nothing else (no EXIF, no ICC: untagged sRGB, like every output here);
    jpegtran then rewrites the scans losslessly (the same pixels decode)."""
    import mozjpeg_lossless_optimization

    rgb = im if im.mode == "RGB" else im.convert("RGB")
    baseline = jpegli.encode(rgb.tobytes(), rgb.width, rgb.height, quality,
                             adaptive_quantization=adaptive_quantization)
    return mozjpeg_lossless_optimization.optimize(baseline)


def resize_cascade(im: Image.Image, widths: tuple[int, ...], tallest: int = MAX_SIDE["webp"]):
    """(requested width, image) per width, largest first; never wider than ``im``, never
    taller than ``tallest`` (``max_height``: see "Height cap").

    Each width is made from the previous one and only the current one is referenced, so a
    caller that hands over its only reference to ``im`` (the pipeline deletes its own)
    frees the decoded image once the largest rendition exists, before any encoder runs.
    """
    current = im
    del im
    for width in sorted(widths, reverse=True):
        size = fitted_size(current.width, current.height, width, tallest)
        if size != current.size:
            current = current.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
            current.info = {}
        yield width, current


def render_each(im: Image.Image, settings: Settings):
    """Every (width, format) of the configured set, one at a time, so each body can be
    stored and dropped before the next is encoded. Hand over ``im``: see ``resize_cascade``."""
    cascade = resize_cascade(im, settings.widths, max_height(settings))
    del im
    for requested, resized in cascade:
        for fmt in settings.formats:
            yield Encoded(requested, resized.width, resized.height, fmt,
                          encode_rendition(resized, fmt, settings))

