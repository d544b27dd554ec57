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

   A JPEG's end is found by walking its segments from SOI (length-prefixed segments; after
   each SOS, the entropy-coded data up to the next marker that is neither a stuffed ``FF00``
   nor a restart ``FFD0``-``FFD7``) to its EOI — never by looking at the file's last bytes,
   which a ``JPEG + ZIP + FFD9`` polyglot controls. Phones append data after EOI, so these
   trailers are accepted, each checked for its own structure (anything else is
   ``trailing-data``):

   - more JPEGs, each walked the same way: MPF images (CIPA DC-007: Ultra HDR gain maps,
     depth maps, preview images), which phones append to the primary image;
   - an MP4 whose first box is ``ftyp`` and whose boxes tile the rest of the file: Google
     and Samsung "motion photos" (the short video after the photo);
   - a Samsung SEF trailer (``…SEFH`` directory, ending ``SEFT``) whose directory accounts
     for every byte from the trailer's start: Galaxy cameras write it on every photo;
   - zero bytes, which some encoders pad with.

   Refusing these would refuse most photos straight off a current phone; a ZIP or HTML page
   can still hide inside a video or a SEF block, but never reaches a reader by itself: only
   the decoded pixels of the primary image are ever served.

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
    width: int    # as displayed: EXIF orientations 5-8 swap the stored width and height
    height: int
    frames: int   # > 1: animated; only the first frame is rendered


ROTATED_ORIENTATIONS = frozenset({5, 6, 7, 8})  # EXIF orientations that turn the image 90°


def displayed_size(im: Image.Image) -> tuple[int, int]:
    """(width, height) once the EXIF orientation is applied (what every rendition shows)."""
    if im.format == "PNG" and "exif" not in im.info:
        # An eXIf chunk after the image data is only found by decoding it (Pillow's getexif
        # would load every pixel here, before any check): unrotated until the decode
        # (imaging.as_decoded).
        return im.size
    try:
        orientation = im.getexif().get(0x0112, 1)
    except (OSError, SyntaxError, ValueError, struct.error, EOFError):
        orientation = 1  # unreadable EXIF: the decode decides whether the image is usable
    return (im.height, im.width) if orientation in ROTATED_ORIENTATIONS else im.size


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


_STANDALONE_MARKERS = frozenset({0x01, 0xD8, *range(0xD0, 0xD8)})  # no length field


def jpeg_end(data: bytes, start: int = 0) -> int:
    """The offset just past the EOI of the JPEG starting (SOI) at ``start``."""
    n = len(data)
    pos = start + 2
    while True:
        # Bytes that are not a marker between segments: libjpeg skips them with a warning.
        pos = data.find(b"\xff", pos)
        if pos < 0:
            raise Rejected("truncated", "JPEG ends before its EOI marker")
        while pos < n and data[pos] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos >= n:
            raise Rejected("truncated", "JPEG ends before its EOI marker")
        marker = data[pos]
        pos += 1
        if marker == 0xD9:
            return pos
        if marker == 0x00 or marker in _STANDALONE_MARKERS:
            continue
        if pos + 2 > n:
            raise Rejected("truncated", "partial JPEG segment header")
        length = struct.unpack(">H", data[pos:pos + 2])[0]
        if length < 2:
            raise Rejected("unreadable-header", f"JPEG segment of {length} bytes")
        if pos + length > n:
            raise Rejected("truncated", "JPEG segment runs past the end of the file")
        pos += length
        if marker == 0xDA:  # entropy-coded data follows its scan header
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= n:
                    raise Rejected("truncated", "JPEG scan data runs to the end of the file")
                following = data[pos + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    pos += 2  # a stuffed FF, or a restart marker: still scan data
                elif following == 0xFF:
                    pos += 1
                else:
                    break  # the next segment's marker


def _boxes_tile(data: bytes, offset: int) -> None:
    """ISO BMFF top-level boxes from ``offset`` cover the rest of ``data`` exactly."""
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


def _is_samsung_trailer(trailer: bytes) -> bool:
    """A Samsung SEF trailer: data blocks, then ``SEFH``, a version, an entry count and
    12-byte entries (type, offset back from ``SEFH``, length), then the directory's length
    and ``SEFT``. Its farthest block must start the trailer: nothing unaccounted before it."""
    if len(trailer) < 24 or not trailer.endswith(b"SEFT"):
        return False
    directory = trailer.rfind(b"SEFH")
    if directory < 0 or directory + 12 > len(trailer) - 8:
        return False
    count = struct.unpack("<I", trailer[directory + 8:directory + 12])[0]
    if count == 0 or directory + 12 + 12 * count > len(trailer) - 8:
        return False
    farthest = 0
    for i in range(count):
        entry = directory + 12 + 12 * i
        back, length = struct.unpack("<II", trailer[entry + 4:entry + 12])
        if back > directory or back < length:
            return False  # a block outside the trailer, or running into the directory
        farthest = max(farthest, back)
    return directory - farthest == 0


def check_jpeg_trailer(data: bytes, end: int) -> None:
    """The bytes after the primary image's EOI are nothing, or trailers phones write."""
    pos = end
    while True:
        # Zero padding, after the last image or between MPF images (a box or SEF block may
        # itself start with zeros: those are not skipped).
        padded = pos
        while padded < len(data) and data[padded] == 0:
            padded += 1
        if padded == len(data):
            return
        if data[padded:padded + 3] == b"\xff\xd8\xff":  # an MPF image: a whole JPEG of its own
            pos = padded
            try:
                pos = jpeg_end(data, pos)
            except Rejected as exc:
                raise Rejected("trailing-data", f"appended JPEG: {exc.detail}") from exc
            continue
        break
    rest = data[pos:]
    if rest[4:8] == b"ftyp":  # a motion photo's MP4
        try:
            _boxes_tile(data, pos)
        except Rejected as exc:
            raise Rejected("trailing-data", f"appended MP4: {exc.detail}") from exc
        return
    if _is_samsung_trailer(rest):
        return
    raise Rejected("trailing-data", f"{len(rest)} bytes after the JPEG's EOI: {rest[:8]!r}")


def check_structure(fmt: str, data: bytes) -> None:
    if fmt == "jpeg":
        check_jpeg_trailer(data, jpeg_end(data))
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
        _boxes_tile(data, 0)


def decoding_works(fmt: str) -> bool:
    """Whether this process can read ``fmt`` at all: a tiny image written and read back. Asked
    only after a read failed, to tell the deployment's fault (a codec missing from the layer),
    which must be retried once it is mended, from the upload's, which is refused for good."""
    try:
        out = io.BytesIO()
        Image.new("RGB", (16, 16), (200, 120, 40)).save(out, PIL_FORMAT[fmt])
        with Image.open(io.BytesIO(out.getvalue()), formats=[PIL_FORMAT[fmt]]) as im:
            im.load()
        return True
    except Exception:  # noqa: BLE001 (any failure here means the codec does not work)
        return False


def open_header(fmt: str, data: bytes, max_pixels: int) -> Image.Image:
    """The image, opened lazily (header parsed, no pixel decoded), within the pixel cap."""
    try:
        im = Image.open(io.BytesIO(data), formats=[PIL_FORMAT[fmt]])
    except Image.DecompressionBombError as exc:
        raise Rejected("too-many-pixels", str(exc)) from exc
    except (OSError, SyntaxError, ValueError, struct.error, EOFError, RuntimeError) as exc:
        # RuntimeError: Pillow's AVIF plugin reports libavif's parse errors with it
        # ("Missing or empty image item", "Not implemented").
        if not decoding_works(fmt):
            raise  # the codec, not the upload: retried, and in the DLQ if it stays broken
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
    # A JPEG with an MPF index (phones' gain maps, depth maps) opens as "MPO", whose frames
    # are those appended images, not an animation: one picture.
    frames = 1 if im.format == "MPO" else getattr(im, "n_frames", 1)
    return Inspection(fmt, *displayed_size(im), frames), im
