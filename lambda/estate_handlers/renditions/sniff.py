"""What an uploaded file is, decided from its bytes alone — before any pixel is decoded.

1. **Magic bytes** name the format; the key's extension and the declared Content-Type are
   never consulted (an HTML page named ``.jpg`` is HTML). Allowed: JPEG, PNG, WebP, AVIF.
   HEIC is refused: the image library shipped here has no HEIC decoder, and adding one
   (libheif) means another parser of hostile input for a format browsers cannot show anyway.
2. **Header dimensions** (Pillow's ``open`` is lazy: it parses the header, restricted to the
   sniffed format's plugin, and decodes nothing) against the pixel cap: a 30000×30000
   "decompression bomb" is refused while it is still a few hundred bytes of header.
3. **Structure**: the container must end where it says it ends — a JPEG with its EOI marker,
   a PNG with its IEND chunk, a WebP whose RIFF size covers the file exactly, an AVIF whose
   top-level boxes tile the file. A truncated upload fails here, and so does a polyglot
   (an image with a ZIP, HTML or script appended after the image's end).

Every refusal is a :class:`Rejected` with a short, tag-safe reason.
"""
from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from PIL import Image

# Pillow's own bomb guard (Image.MAX_IMAGE_PIXELS, an error above twice its ~89 MP default)
# stays as a second line; the configured cap below is checked first, from the header.
PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "avif": "AVIF"}
AVIF_BRANDS = frozenset({b"avif", b"avis"})
HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


class Rejected(Exception):
    """This original will never render; ``reason`` is short and valid as an S3 tag value."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Inspection:
    format: str   # one of PIL_FORMAT's keys
    width: int
    height: int
    frames: int   # > 1: animated; only the first frame is rendered


def sniff_format(data: bytes) -> str:
    if not data:
        raise Rejected("empty")
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == PNG_SIGNATURE:
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and len(data) >= 16:
        size = struct.unpack(">I", data[:4])[0]
        brands = {data[8:12]} | {data[i:i + 4] for i in range(16, min(size, len(data)) - 3, 4)}
        if brands & AVIF_BRANDS:
            return "avif"
        if brands & HEIF_BRANDS:
            raise Rejected("unsupported-format", "HEIF/HEIC")
    raise Rejected("unsupported-format", repr(data[:12]))


def check_structure(fmt: str, data: bytes) -> None:
    if fmt == "jpeg":
        end = data.rstrip(b"\x00")  # some encoders pad after EOI with zeros
        if not end.endswith(b"\xff\xd9"):
            raise Rejected("truncated" if b"\xff\xd9" not in data[-65536:] else "trailing-data",
                           "JPEG does not end with its EOI marker")
    elif fmt == "png":
        if not data.endswith(PNG_IEND):
            raise Rejected("truncated" if PNG_IEND not in data else "trailing-data",
                           "PNG does not end with its IEND chunk")
    elif fmt == "webp":
        riff_size = struct.unpack("<I", data[4:8])[0] + 8
        padded = riff_size + (riff_size & 1)
        if len(data) < riff_size:
            raise Rejected("truncated", f"RIFF says {riff_size} bytes, file has {len(data)}")
        if len(data) not in (riff_size, padded):
            raise Rejected("trailing-data", f"RIFF says {riff_size} bytes, file has {len(data)}")
    elif fmt == "avif":
        offset = 0
        while offset < len(data):
            if offset + 8 > len(data):
                raise Rejected("truncated", "partial box header")
            size = struct.unpack(">I", data[offset:offset + 4])[0]
            if size == 1:
                if offset + 16 > len(data):
                    raise Rejected("truncated", "partial box header")
                size = struct.unpack(">Q", data[offset + 8:offset + 16])[0]
            elif size == 0:
                size = len(data) - offset  # "to the end of the file"
            if size < 8:
                raise Rejected("unreadable-header", f"box of {size} bytes")
            if offset + size > len(data):
                raise Rejected("truncated", "box runs past the end of the file")
            offset += size


def open_header(fmt: str, data: bytes, max_pixels: int) -> Image.Image:
    """The image, opened lazily (header parsed, no pixel decoded), within the pixel cap."""
    try:
        im = Image.open(io.BytesIO(data), formats=[PIL_FORMAT[fmt]])
    except Image.DecompressionBombError as exc:
        raise Rejected("too-many-pixels", str(exc)) from exc
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        raise Rejected("unreadable-header", str(exc)[:200]) from exc
    width, height = im.size
    if width <= 0 or height <= 0:
        raise Rejected("unreadable-header", f"{width}x{height}")
    if width * height > max_pixels:
        raise Rejected("too-many-pixels", f"{width}x{height} > {max_pixels}")
    return im


def inspect(data: bytes, max_pixels: int) -> tuple[Inspection, Image.Image]:
    """Magic bytes, then the header's dimensions, then the container's structure."""
    fmt = sniff_format(data)
    im = open_header(fmt, data, max_pixels)
    check_structure(fmt, data)
    return Inspection(fmt, im.width, im.height, getattr(im, "n_frames", 1)), im
