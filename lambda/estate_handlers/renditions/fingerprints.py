"""What a page needs before the image arrives, and what near-duplicate search needs later.

- ``lqip``: a ~16 px wide WebP as a ``data:`` URI (a few hundred bytes) that a page inlines
  and blurs with CSS while the real rendition loads;
- ``dominant_color``: the most common colour of a 64 px version (median-cut to 8 colours),
  as ``#rrggbb``, for a solid placeholder;
- ``phash``: the classic 64-bit DCT perceptual hash (32×32 greyscale, the 8×8 lowest
  frequencies, each bit = coefficient above their median, DC excluded), as 16 hex digits.
  Near-identical images differ in few bits (Hamming distance), whatever their size or
  encoding. Pure Python: 32×32 input, a fraction of a millisecond per coefficient.
"""
from __future__ import annotations

import base64
import io
import math
import statistics

from PIL import Image

LQIP_WIDTH = 16
LQIP_QUALITY = 40
PALETTE_SIDE = 64
PHASH_SIDE = 32
PHASH_BITS_SIDE = 8

_COS = [[math.cos((2 * x + 1) * u * math.pi / (2 * PHASH_SIDE)) for x in range(PHASH_SIDE)]
        for u in range(PHASH_BITS_SIDE)]


def _on_white(im: Image.Image) -> Image.Image:
    if im.mode != "RGBA":
        return im.convert("RGB")
    background = Image.new("RGB", im.size, (255, 255, 255))
    background.paste(im, mask=im.getchannel("A"))
    return background


def lqip(im: Image.Image) -> str:
    height = max(1, round(im.height * LQIP_WIDTH / im.width))
    tiny = im.resize((LQIP_WIDTH, height), Image.Resampling.BOX)
    out = io.BytesIO()
    tiny.save(out, "WEBP", quality=LQIP_QUALITY, method=6)
    return "data:image/webp;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def dominant_color(im: Image.Image) -> str:
    small = _on_white(im)
    small.thumbnail((PALETTE_SIDE, PALETTE_SIDE), Image.Resampling.BOX)
    quantized = small.quantize(colors=8, method=Image.Quantize.MEDIANCUT)
    count, index = max(quantized.getcolors())
    palette = quantized.getpalette()
    r, g, b = palette[3 * index:3 * index + 3]
    return f"#{r:02x}{g:02x}{b:02x}"


def phash(im: Image.Image) -> str:
    grey = _on_white(im).convert("L").resize((PHASH_SIDE, PHASH_SIDE), Image.Resampling.LANCZOS)
    pixels = list(grey.tobytes())  # mode L: one byte per pixel
    rows = [pixels[y * PHASH_SIDE:(y + 1) * PHASH_SIDE] for y in range(PHASH_SIDE)]
    # 2-D DCT-II restricted to the 8x8 lowest frequencies: rows first, then columns.
    row_dct = [[sum(c * p for c, p in zip(_COS[u], row, strict=True))
                for u in range(PHASH_BITS_SIDE)] for row in rows]
    coefficients = [
        sum(_COS[v][y] * row_dct[y][u] for y in range(PHASH_SIDE))
        for v in range(PHASH_BITS_SIDE) for u in range(PHASH_BITS_SIDE)
    ]
    median = statistics.median(coefficients[1:])  # DC (overall brightness) excluded
    bits = 0
    for coefficient in coefficients:
        bits = (bits << 1) | (coefficient > median)
    return f"{bits:016x}"


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()
