"""Test images for the renditions pipeline: real photographs (scikit-image's sample photos,
shipped inside its wheel: no network) and generated hostile files. All small."""
from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageCms
from skimage import data as samples

EXIF_ORIENTATION = 0x0112
GPS_IFD = 0x8825


def photo(name: str = "coffee") -> Image.Image:
    """A real photograph (coffee 600x400, chelsea 451x300, astronaut 512x512, rocket 640x427)."""
    return Image.fromarray(getattr(samples, name)()).convert("RGB")


def jpeg(im: Image.Image, **save) -> bytes:
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90, **save)
    return out.getvalue()


def png(im: Image.Image, **save) -> bytes:
    out = io.BytesIO()
    im.save(out, "PNG", **save)
    return out.getvalue()


def marked_landscape() -> Image.Image:
    """300x200, red left half, blue right half, a green square at the top-left corner."""
    im = Image.new("RGB", (300, 200), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 150, 200))
    im.paste((0, 255, 0), (0, 0, 40, 40))
    return im


def stored_for_orientation(upright: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera stores so that applying ``orientation`` yields ``upright``."""
    inverse = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90,
               8: Image.Transpose.ROTATE_270}[orientation]
    return upright.transpose(inverse)


def jpeg_with_orientation(orientation: int) -> bytes:
    stored = stored_for_orientation(marked_landscape(), orientation)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    return jpeg(stored, exif=exif.tobytes())


XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
       b'02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
       b'exif:GPSLatitude="48,51.5N" exif:GPSLongitude="2,17.7E"/></rdf:RDF></x:xmpmeta>')


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)})
    return jpeg(photo("chelsea"), exif=exif.tobytes(), xmp=XMP,
                icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())


def cmyk_jpeg() -> bytes:
    return jpeg(photo("astronaut").resize((320, 320)).convert("CMYK"))


def png_16bit_rgb(width: int = 320, height: int = 200) -> bytes:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one): a horizontal grey ramp."""
    rows = b""
    for _ in range(height):
        row = b"".join(struct.pack(">HHH", v, v, v)
                       for v in (x * 65535 // (width - 1) for x in range(width)))
        rows += b"\x00" + row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def png_16bit_grey() -> bytes:
    im = Image.new("I;16", (320, 200))
    im.putdata([x * 65535 // 319 for _ in range(200) for x in range(320)])
    return png(im)


def transparent_png() -> bytes:
    """A real photo cut into a disc on a fully transparent background."""
    im = photo("astronaut").resize((320, 320)).convert("RGBA")
    mask = Image.new("L", im.size, 0)
    from PIL import ImageDraw
    ImageDraw.Draw(mask).ellipse((40, 40, 280, 280), fill=255)
    im.putalpha(mask)
    return png(im)


def jpeg_bomb(side: int = 30000) -> bytes:
    """A real JPEG whose frame header claims side x side pixels: a few hundred bytes that
    would need ~2.7 GB to decode."""
    data = bytearray(jpeg(Image.new("RGB", (16, 16), (128, 128, 128))))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, side, side)
    return bytes(data)


def png_bomb(side: int = 30000) -> bytes:
    """A PNG whose IHDR claims side x side (valid CRC), with a short IDAT of zeros."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + chunk(b"IEND", b""))


def truncated_jpeg() -> bytes:
    whole = jpeg(photo("coffee"))
    return whole[: len(whole) * 2 // 3]


def html_named_jpg() -> bytes:
    return b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def jpeg_with_zip_appended() -> bytes:
    return jpeg(photo("chelsea")) + b"PK\x03\x04" + b"\x00" * 26 + b"payload.js"
