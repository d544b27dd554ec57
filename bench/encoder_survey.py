"""Encoders beyond the wheels' defaults, judged as bench_anchor.py judges the shipped ones.

bench_anchor.py's AVIF and WebP byte targets (<= 0.90x sharp's bytes at equal SSIMULACRA2,
every width) are missed with Pillow's libaom and libwebp, and JPEG's is missed at one point.
This survey measures what else installs from PyPI, by the same method (same pixels, sharp's
score as the target, quality swept in steps of 5 and interpolated; ``bench_anchor.compare_photo``)
on the three photos at their native width and 300 px:

- libaom through Pillow's ``advanced`` options and slower speeds (Pillow 13, in the layer);
- pillow-avif-plugin (BSD-2-Clause; its wheels bundle libavif with aom, SVT-AV1 and rav1e);
- imagecodecs (BSD-3-Clause; libavif + aom, 8- and 10-bit);
- libvips (pyvips + pyvips-binary, LGPL-2.1; mozjpeg's trellis and quantization tables, and
  libwebp's sharp YUV and presets);
- ``webp`` (MIT; libwebp through cffi, with more of WebPConfig than Pillow exposes);
- the shipped JPEG encoder swept from other starting qualities, to show how much of a ratio
  is the quality grid's interpolation rather than the encoder.

Not in ``make bench-check`` (the name does not match ``bench_*.py``): most of these packages are
installed only to measure them, never pinned; a candidate whose package is missing is listed
as skipped. The figures and what was kept are in docs/image-urls.md.

    .venv/bin/python bench/encoder_survey.py [--formats avif,webp,jpeg] [--photos ...]
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import os
import sys
import tempfile
from pathlib import Path

import bench_anchor
from bench_renditions import STUDY_PHOTOS

os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 logs its whole config per encode otherwise


def _pillow_avif_plugin():
    """pillow-avif-plugin's AVIF module, imported without letting it replace Pillow's own
    AVIF plugin (its import registers itself for the same format name)."""
    from PIL import Image

    Image.init()  # Pillow's own plugins registered first, so that they are what is restored
    registries = ("OPEN", "SAVE", "SAVE_ALL", "EXTENSION", "MIME")
    saved = {name: dict(getattr(Image, name)) for name in registries}
    ids = list(Image.ID)
    from pillow_avif import AvifImagePlugin

    for name, value in saved.items():
        getattr(Image, name).clear()
        getattr(Image, name).update(value)
    Image.ID[:] = ids
    return AvifImagePlugin


def plugin_avif(**options):
    plugin = _pillow_avif_plugin()

    def encode(im, quality):
        im = im.copy()
        im.encoderinfo = {"quality": quality, **options}
        out = io.BytesIO()
        plugin._save(im, out, "survey.avif")
        return out.getvalue()
    return encode


def imagecodecs_avif(bits: int, speed: int):
    import numpy as np
    from imagecodecs import _avif

    def encode(im, quality):
        pixels = np.asarray(im)
        if bits == 10:  # 8 -> 10 bit by bit replication, so 255 maps to 1023
            wide = pixels.astype(np.uint16)
            pixels = (wide << 2) | (wide >> 6)
        return _avif.avif_encode(pixels, level=quality, speed=speed, bitspersample=bits,
                                 pixelformat=_avif.AVIF.PIXEL_FORMAT.YUV444)
    return encode


def vips(fmt: str, **options):
    import pyvips

    def encode(im, quality):
        image = pyvips.Image.new_from_memory(im.tobytes(), im.width, im.height, 3, "uchar")
        save = image.jpegsave_buffer if fmt == "jpeg" else image.webpsave_buffer
        return save(Q=quality, strip=True, **options)
    return encode


def pywebp(method: int, **fields):
    import numpy as np
    import webp

    def encode(im, quality):
        config = webp.WebPConfig.new(quality=quality, method=method)
        for name, value in fields.items():
            setattr(config.ptr, name, value)
        return bytes(webp.WebPPicture.from_numpy(np.asarray(im)).encode(config).buffer())
    return encode


def survey() -> list[tuple[str, str, str | None, object]]:
    """(format, label, package it needs or None, factory of encode(im, quality))."""
    pil = bench_anchor.pillow
    mozjpeg = {"optimize_coding": True, "interlace": True, "trellis_quant": True,
               "overshoot_deringing": True, "optimize_scans": True}
    avif = [("avif", f"libaom speed {s}, 4:4:4", None,
             lambda s=s: pil("avif", speed=s, subsampling="4:4:4")) for s in (6, 5, 4, 3, 2)]
    avif += [("avif", f"libaom 4:4:4, {k}={v}", None,
              lambda k=k, v=v: pil("avif", subsampling="4:4:4", **{k: v}))
             for k, v in (("deltaq-strength", "50"), ("deltaq-mode", "3"), ("tune", "ssim"),
                          ("tune", "ssimulacra2"))]
    avif += [
        ("avif", "libaom 4:2:0, sharpness=2", None, lambda: pil("avif", sharpness="2")),
        ("avif", "SVT-AV1 4.1 preset 6, 4:2:0", "pillow_avif",
         lambda: plugin_avif(codec="svt", speed=6)),
        ("avif", "SVT-AV1 4.1 preset 4, 4:2:0", "pillow_avif",
         lambda: plugin_avif(codec="svt", speed=4)),
        ("avif", "SVT-AV1 4.1 preset 6, tune IQ", "pillow_avif",
         lambda: plugin_avif(codec="svt", speed=6, advanced={"tune": "3"})),
        ("avif", "rav1e 0.8 speed 6, 4:2:0", "pillow_avif",
         lambda: plugin_avif(codec="rav1e", speed=6)),
        ("avif", "rav1e 0.8 speed 4, 4:4:4", "pillow_avif",
         lambda: plugin_avif(codec="rav1e", speed=4, subsampling="4:4:4")),
        ("avif", "imagecodecs aom 4:4:4 8-bit s6", "imagecodecs", lambda: imagecodecs_avif(8, 6)),
        ("avif", "imagecodecs aom 4:4:4 10-bit s6", "imagecodecs",
         lambda: imagecodecs_avif(10, 6)),
        ("avif", "imagecodecs aom 4:4:4 10-bit s4", "imagecodecs",
         lambda: imagecodecs_avif(10, 4)),
    ]
    webp_ = [
        ("webp", "libwebp method 6", None, lambda: pil("webp", method=6)),
        ("webp", "libvips sharp YUV, method 4", "pyvips",
         lambda: vips("webp", effort=4, smart_subsample=True)),
        ("webp", "libvips sharp YUV, method 6", "pyvips",
         lambda: vips("webp", effort=6, smart_subsample=True)),
        ("webp", "libvips sharp YUV, m6, 3 passes", "pyvips",
         lambda: vips("webp", effort=6, smart_subsample=True, passes=3)),
        ("webp", "libvips sharp YUV, m6, photo", "pyvips",
         lambda: vips("webp", effort=6, smart_subsample=True, preset="photo")),
        ("webp", "webp m4 filter_sharpness 7", "webp", lambda: pywebp(4, filter_sharpness=7)),
        ("webp", "webp m6 filter_sharpness 7", "webp", lambda: pywebp(6, filter_sharpness=7)),
        ("webp", "webp m6 autofilter", "webp", lambda: pywebp(6, autofilter=1)),
        ("webp", "webp m6 sns 25, filter 20", "webp",
         lambda: pywebp(6, sns_strength=25, filter_strength=20)),
    ]
    jpeg = [("jpeg", f"mozjpeg trellis, table {t}", "pyvips",
             lambda t=t: vips("jpeg", quant_table=t, **mozjpeg)) for t in (0, 2, 3)]
    jpeg.append(("jpeg", "mozjpeg trellis, table 3, 4:4:4", "pyvips",
                 lambda: vips("jpeg", quant_table=3, subsample_mode="off", **mozjpeg)))
    return avif + webp_ + jpeg


def quality_of(fmt: str) -> int:
    """The configured quality: every sweep starts where the shipped setting's does."""
    from estate_handlers.renditions.settings import Settings

    return Settings().quality_of(fmt)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", default=",".join(bench_anchor.FORMATS))
    parser.add_argument("--photos", default=",".join(STUDY_PHOTOS))
    args = parser.parse_args(argv)
    formats = args.formats.split(",")
    shipped = [c for c in bench_anchor.candidates() if c[1] == "shipped" and c[0] in formats]
    tried = list(shipped)
    if "jpeg" in formats:  # the shipped encoder, its sweep started elsewhere on the grid
        encode = next(c[2] for c in shipped if c[0] == "jpeg")
        start = quality_of("jpeg")
        tried += [("jpeg", f"shipped, swept from q{start + d}", encode, start + d)
                  for d in (-4, -2, 2, 4)]
    for fmt, label, package, factory in survey():
        if fmt not in formats:
            continue
        if package and importlib.util.find_spec(package) is None:
            print(f"skipped: {fmt} {label} ({package} is not installed)")
            continue
        tried.append((fmt, label, factory(), quality_of(fmt)))
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        for name in args.photos.split(","):
            rows += bench_anchor.compare_photo(name, Path(tmp_name), tried)
    bench_anchor.report(rows, tried)
    return 0


if __name__ == "__main__":
    sys.exit(main())
