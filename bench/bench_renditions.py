"""Renditions: the shipped pipeline vs a naive baseline (and pyvips), same run, same machine.

For 12, 24 and 50 MP JPEGs (real photographs from scikit-image, upscaled, with grain so
they compress like camera output), each implementation produces the whole default rendition
set (2048/1200/600/300 x AVIF/WebP/JPEG, same qualities; the same AVIF and WebP encoders and
effort, while the pipeline's JPEG is jpegli plus mozjpeg's lossless pass and the baseline's
libjpeg-turbo, so JPEG work and bytes differ) in a fresh
subprocess, which reports its wall time, its CPU time (user + system, all threads: the
figure that survives a contended machine) and its peak RSS (VmHWM):

- ``pipeline``: what the function runs (``estate_handlers.renditions``): sniff + header
  check, JPEG shrink-on-load (``draft``), orientation, sRGB, Lanczos cascade, encode;
- ``baseline``: the naive way: full decode, a Lanczos resize of the full image per width,
  save each format with Pillow's defaults at the same qualities (``naive_encode``: the
  pipeline's AVIF and WebP effort is Pillow's default; its only extra AVIF option leaves the
  bytes unchanged);
- ``pyvips``: libvips (``thumbnail_buffer`` shrink-on-load, then ``thumbnail_image``
  cascade; heifsave AV1 at the matching effort, webpsave, jpegsave), for the library choice.

``pipeline-decode`` / ``baseline-decode``: the same two without encoding (decode + resize
only, what shrink-on-load and the cascade change), printed as their own ratio.
``largest-avif``: the pipeline's decode and only its largest AVIF: the lowest peak any
pipeline with this encoder can have. ``pipeline-avif-speed9``: a what-if, not shipped (the
pipeline with libaom at speed 9, the only speed whose CPU fits the time target).

Targets (checked, every size), on what this pipeline changes, decode + resize:
``pipeline-decode`` / ``baseline-decode`` time <= 0.35 and peak RSS <= 0.5. ``--check`` exits 1
when one is missed. The time target must hold for wall time AND CPU time: on a shared machine
another process can stretch the baseline's wall time and make a ratio pass by accident; CPU
time is not moved by that. The whole encode set (pipeline / baseline) is reported, not
checked: there the AV1 encoder's own work and memory dominate, the same in both, and no
pipeline reaches 0.35x / 0.5x without costing more in CDN bytes than it saves in compute
(``--encoders``). What the encoders are judged on is bytes at equal quality and CPU per
original against the on-the-fly anchor (sharp): ``bench_anchor.py``. Also printed per size:
the lowest time ratio these encoders allow (the baseline's encode CPU over its total: the
AVIF and WebP encodes are the same work in both, the JPEG encodes are not: approximate), the
lowest peak ratio (``largest-avif``), the what-if's ratios and AVIF bytes, the bytes per
format of each implementation, GB-seconds per image at the function's memory size and the
monthly compute cost at the platform's volume.

``--encoders`` runs only the encoder effort study on the four widths of a 12 MP photo (three
of scikit-image's: still life, portrait, fur; a few minutes each): per
setting, CPU, bytes and SSIMULACRA2 at the configured quality, and the bytes it needs to match
the shipped setting's perceptual score at every width: the figures behind
``Settings.avif_speed``, ``imaging.WEBP_METHOD`` and ``imaging.AVIF_AOM_OPTIONS``.

    .venv/bin/python bench/bench_renditions.py [--quick] [--check] [--repeat N] [--encoders]
"""
from __future__ import annotations

import argparse
import io
import itertools
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lambda"))
sys.path.insert(0, str(REPO))

TIME_TARGET = 0.35
MEMORY_TARGET = 0.5
DECODE_REPEAT = 3
SIZES_MP = {12: (4240, 2832), 24: (6000, 4000), 50: (8660, 5773)}
IMPLEMENTATIONS = ("pipeline", "baseline", "pyvips", "pipeline-decode", "baseline-decode",
                   "largest-avif", "pipeline-avif-speed9")
WHAT_IF_AVIF_SPEED = 9  # the only libaom speed whose CPU fits the time target (docs/benchmarks.md)

# Volume and prices (us-east-1, Lambda arm64, first pricing tier).
UPLOADS_PER_DAY = 1_200_000
PRODUCT_IMAGE_SHARE = 0.25  # assumed: a quarter of uploads are product originals
PRICE_PER_GB_SECOND = 0.0000133334
PRICE_PER_MILLION_REQUESTS = 0.20
PRICE_PER_1000_PUTS = 0.005
DAYS_PER_MONTH = 30


STUDY_PHOTOS = ("coffee", "astronaut", "chelsea")  # still life, portrait, fur: scikit-image's


def make_photo(path: Path, size: tuple[int, int], photo: str = "coffee") -> None:
    import numpy as np
    from PIL import Image
    from skimage import data

    im = Image.fromarray(getattr(data, photo)()).resize(size, Image.Resampling.BICUBIC)
    grain = np.random.default_rng(size[0]).normal(0, 6, (size[1], size[0], 3))
    arr = np.clip(np.asarray(im, dtype=np.int16) + grain, 0, 255).astype(np.uint8)
    Image.fromarray(arr).save(path, "JPEG", quality=90)


# ------------------------------------------------------------------ the implementations

def run_pipeline(path: str, encode: bool = True, **config) -> dict[str, int]:
    """What ``pipeline.render_and_store`` does, minus S3: the original is read here and
    released before encoding, each body is dropped once counted (the function stores it).
    ``config``: ``Settings`` fields other than the defaults (the what-if)."""
    from estate_handlers.renditions import imaging, sniff
    from estate_handlers.renditions.settings import Settings

    settings = Settings(**config)
    data = Path(path).read_bytes()
    inspection, im = sniff.inspect(data, settings.max_pixels)
    decoded = imaging.decode(im, inspection, settings)
    del im, data
    if not encode:
        cascade = imaging.resize_cascade(decoded, settings.widths)
        del decoded
        return {"width": sum(resized.width for _, resized in cascade)}
    renditions = imaging.render_each(decoded, settings)
    del decoded
    produced = dict.fromkeys(settings.formats, 0)
    for encoded in renditions:
        produced[encoded.format] += len(encoded.body)
    return produced


def run_largest_avif(path: str) -> dict[str, int]:
    """The floor of any pipeline's peak memory with this encoder: the pipeline's decode, then
    only its largest rendition encoded as AVIF (the encoder's buffers scale with the frame)."""
    from estate_handlers.renditions import imaging, sniff
    from estate_handlers.renditions.settings import Settings

    settings = Settings()
    data = Path(path).read_bytes()
    inspection, im = sniff.inspect(data, settings.max_pixels)
    decoded = imaging.decode(im, inspection, settings)
    del im, data
    _, largest = next(imaging.resize_cascade(decoded, settings.widths))
    del decoded
    return {"avif": len(imaging.encode_rendition(largest, "avif", settings))}


def naive_encode(im, fmt: str, quality: int) -> bytes:
    """What a naive implementation writes: Pillow's defaults (AVIF speed 6 on every usable
    CPU, WebP method 4, baseline JPEG) at the pipeline's qualities, so the pixels match."""
    out = io.BytesIO()
    im.save(out, {"avif": "AVIF", "webp": "WEBP", "jpeg": "JPEG"}[fmt], quality=quality)
    return out.getvalue()


def run_baseline(path: str, encode: bool = True) -> dict[str, int]:
    from estate_handlers.renditions.settings import Settings
    from PIL import Image

    settings = Settings()
    data = Path(path).read_bytes()
    im = Image.open(io.BytesIO(data))
    im.load()
    im = im.convert("RGB")
    produced = dict.fromkeys(settings.formats if encode else ("width",), 0)
    for width in settings.widths:
        resized = im.resize((width, round(im.height * width / im.width)),
                            Image.Resampling.LANCZOS)
        if not encode:
            produced["width"] += resized.width
            continue
        for fmt in settings.formats:
            produced[fmt] += len(naive_encode(resized, fmt, settings.quality_of(fmt)))
    return produced


def run_pyvips(data: bytes) -> dict[str, int]:
    import pyvips
    from estate_handlers.renditions.settings import Settings

    settings = Settings()
    widths = settings.widths
    current = pyvips.Image.thumbnail_buffer(data, widths[0], no_rotate=False).copy_memory()
    total = dict.fromkeys(("avif", "webp", "jpeg"), 0)
    for width in widths:
        if width < current.width:
            current = current.thumbnail_image(width)
        total["avif"] += len(current.heifsave_buffer(Q=settings.quality_of("avif"), compression="av1",
                                             effort=9 - settings.avif_speed, strip=True))
        total["webp"] += len(current.webpsave_buffer(Q=settings.quality_of("webp"), strip=True))
        total["jpeg"] += len(current.jpegsave_buffer(Q=settings.quality_of("jpeg"), strip=True,
                                             optimize_coding=True, interlace=True))
    return total


def worker(implementation: str, path: str) -> None:
    run = {"pipeline": run_pipeline, "baseline": run_baseline,
           "pyvips": lambda p: run_pyvips(Path(p).read_bytes()),
           # The part the pipeline changes (decode + resize); the encoders are the same.
           "pipeline-decode": lambda p: run_pipeline(p, encode=False),
           "baseline-decode": lambda p: run_baseline(p, encode=False),
           "largest-avif": run_largest_avif,
           # What-if, not shipped: RenditionsConfig(avif_speed=9) (docs/renditions.md: its byte cost).
           "pipeline-avif-speed9": lambda p: run_pipeline(p, avif_speed=WHAT_IF_AVIF_SPEED),
           }[implementation]
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    produced = run(path)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak_rss_mb(), "bytes": produced}))


def _cpu_seconds() -> float:
    """User + system CPU of this process, all threads: unlike wall time, barely moved by
    other processes competing for the cores (a shared CI machine)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's peak RSS since exec (VmHWM). ``ru_maxrss`` would not do: Linux carries
    the parent's high-water mark across fork+exec into the child's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(implementation: str, path: Path, repeat: int) -> dict:
    """Best time and its peak RSS over ``repeat`` fresh processes (one decode each)."""
    best = None
    for _ in range(repeat):
        out = subprocess.run([sys.executable, __file__, "--worker", implementation, str(path)],
                             check=True, capture_output=True, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    return best


# Encoder settings for the effort study: (format, label, overrides of imaging.encoder_options);
# the first of each format is what the function ships. Each varies one thing from it.
ENCODER_SETTINGS = (
    ("avif", "speed 6, tune iq (shipped)", {}),
    ("avif", "speed 5", {"speed": 5}),
    ("avif", "speed 7", {"speed": 7}),
    ("avif", "speed 8", {"speed": 8}),
    ("avif", "speed 9", {"speed": 9}),
    ("avif", "tune ssim", {"tune": "ssim"}),
    ("avif", "tune psnr", {"tune": "psnr"}),
    ("avif", "deltaq-mode 0", {"deltaq-mode": "0"}),
    ("avif", "speed 9, tune ssim", {"speed": 9, "tune": "ssim"}),
    ("avif", "no rect partitions", {"enable-rect-partitions": "0"}),
    ("webp", "method 4 (shipped)", {}),
    ("webp", "method 2", {"method": 2}),
    ("webp", "method 6", {"method": 6}),
)
QUALITY_STEP = 5


def study_options(fmt: str, overrides: dict) -> dict:
    """The shipped options with ``overrides`` applied; libaom's own (``tune``, ``deltaq-mode``,
    ...) go to ``advanced``, Pillow's (``speed``, ``method``) stay top-level."""
    from estate_handlers.renditions import imaging

    options = imaging.encoder_options(fmt)
    for key, value in overrides.items():
        if key in options or fmt != "avif":
            options[key] = value
        else:
            options["advanced"] = {**options["advanced"], key: value}
    return options


def bytes_at_score(points: list[tuple[float, int]], target: float) -> float | None:
    """Bytes at which a setting reaches ``target`` (linear between the two bracketing
    (score, bytes) points of its quality sweep); None when the sweep does not bracket it."""
    ordered = sorted(points)
    for (s_lo, b_lo), (s_hi, b_hi) in itertools.pairwise(ordered):
        if s_lo <= target <= s_hi:
            if s_hi == s_lo:
                return float(min(b_lo, b_hi))
            return b_lo + (target - s_lo) * (b_hi - b_lo) / (s_hi - s_lo)
    return None


class PerceptualScorer:
    """SSIMULACRA2 (py-ssimulacra2, a Python port of libjxl's metric: close to, not bit-equal
    with, the C++ tool; used here to rank settings, not as an absolute score) of an encoded
    body against the unencoded rendition it was made from."""

    def __init__(self, levels):
        self.references = []
        for level in levels:
            out = io.BytesIO()
            level.save(out, "PNG", compress_level=0)
            self.references.append(out.getvalue())

    def __call__(self, index: int, body: bytes) -> float:
        from ssimulacra2.ssimulacra2 import compute_ssimulacra2

        return float(compute_ssimulacra2(io.BytesIO(self.references[index]), io.BytesIO(body)))


def sweep_point(levels, fmt: str, quality: int, options: dict, score) -> dict:
    """One quality of one setting over every width: CPU, bytes and score per width."""
    from estate_handlers.renditions import imaging

    started, bodies = _cpu_seconds(), []
    for level in levels:
        bodies.append(imaging.encode(level, fmt, quality, **options))
    cpu = _cpu_seconds() - started
    return {"quality": quality, "cpu": cpu, "bytes": [len(b) for b in bodies],
            "scores": [score(i, body) for i, body in enumerate(bodies)]}


def equal_quality_bytes(levels, fmt: str, options: dict, configured: int, targets: list[float],
                        score, first: dict) -> tuple[float | None, list[int]]:
    """Total bytes over the widths when each width matches the shipped setting's score:
    the quality is stepped from ``configured`` until every width's target is bracketed."""
    points = {configured: first}
    low = high = configured
    for _ in range(8):
        per_width = [[(p["scores"][i], p["bytes"][i]) for p in points.values()]
                     for i in range(len(levels))]
        if all(bytes_at_score(pw, t) is not None for pw, t in zip(per_width, targets, strict=True)):
            return sum(bytes_at_score(pw, t) for pw, t in zip(per_width, targets, strict=True)), \
                sorted(points)
        below = any(min(s for s, _ in pw) > t for pw, t in zip(per_width, targets, strict=True))
        above = any(max(s for s, _ in pw) < t for pw, t in zip(per_width, targets, strict=True))
        if below and low - QUALITY_STEP >= 1:
            low -= QUALITY_STEP
            points[low] = sweep_point(levels, fmt, low, options, score)
        if above and high + QUALITY_STEP <= 100:
            high += QUALITY_STEP
            points[high] = sweep_point(levels, fmt, high, options, score)
        if not ((below and low - QUALITY_STEP >= 1) or (above and high + QUALITY_STEP <= 100)):
            break
    return None, sorted(points)


def encoder_study(path: Path) -> dict[tuple[str, str], float | None]:
    """Each setting encodes the pipeline's four widths (from the same cascade): CPU, bytes and
    SSIMULACRA2 at the configured quality, then the bytes it needs to match the shipped
    setting's score at every width (its quality swept in steps of 5 and interpolated)."""
    from estate_handlers.renditions import imaging, sniff
    from estate_handlers.renditions.settings import Settings

    settings = Settings()
    inspection, im = sniff.inspect(path.read_bytes(), settings.max_pixels)
    levels = [r for _, r in imaging.resize_cascade(imaging.decode(im, inspection, settings),
                                                   settings.widths)]
    score = PerceptualScorer(levels)
    print(f"{'format':>6} {'setting':>28} {'cpu s':>6} {'bytes':>9} {'SSIMU2':>7} "
          f"{'bytes at shipped quality':>25} {'qualities tried'}")
    shipped, deltas = {}, {}
    for fmt, label, overrides in ENCODER_SETTINGS:
        quality = settings.quality_of(fmt)
        options = study_options(fmt, overrides)
        imaging.encode(levels[-1], fmt, quality, **options)  # warm-up: the codec's first call
        first = sweep_point(levels, fmt, quality, options, score)
        if fmt not in shipped:
            shipped[fmt] = first
            equal, tried = float(sum(first["bytes"])), [quality]
        else:
            equal, tried = equal_quality_bytes(levels, fmt, options, quality,
                                               shipped[fmt]["scores"], score, first)
        base = sum(shipped[fmt]["bytes"])
        deltas[(fmt, label)] = None if equal is None else equal / base - 1
        equal_text = "not bracketed" if equal is None else \
            f"{equal:>10,.0f} ({equal / base - 1:+6.1%})"
        print(f"{fmt:>6} {label:>28} {first['cpu']:>6.2f} {sum(first['bytes']):>9,} "
              f"{sum(first['scores']) / len(levels):>7.2f} {equal_text:>25} {tried}")
    return deltas


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 MP only")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--repeat", type=int, default=1, help="processes per case (best time)")
    parser.add_argument("--encoders", action="store_true",
                        help="only the encoder effort study (CPU, bytes, SSIMULACRA2), 3 photos at 12 MP")
    parser.add_argument("--worker", nargs=2, metavar=("IMPL", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.encoders:
        deltas: dict[tuple[str, str], list[float | None]] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for name in STUDY_PHOTOS:
                photo = Path(tmp) / f"{name}-12mp.jpg"
                make_photo(photo, SIZES_MP[12], name)
                print(f"\n{name} (12 MP)")
                for key, delta in encoder_study(photo).items():
                    deltas.setdefault(key, []).append(delta)
        print(f"\nbytes at the shipped setting's quality, vs it, per photo ({', '.join(STUDY_PHOTOS)})")
        for (fmt, label), values in deltas.items():
            shown = ", ".join("not bracketed" if v is None else f"{v:+.1%}" for v in values)
            print(f"{fmt:>6} {label:>28}  {shown}")
        return 0

    # The function's memory size, read from its construct without importing the CDK.
    construct = (REPO / "infra" / "constructs" / "renditions.py").read_text()
    memory_mb = int(re.search(r"^MEMORY_MB = (\d+)", construct, re.MULTILINE).group(1))

    sizes = {12: SIZES_MP[12]} if args.quick else SIZES_MP
    missed = []
    pipeline_seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'MP':>4} {'impl':>20} {'time s':>8} {'cpu s':>7} {'peak MB':>8} {'time x':>7} "
              f"{'cpu x':>6} {'mem x':>6}")
        for mp, size in sizes.items():
            photo = Path(tmp) / f"{mp}mp.jpg"
            make_photo(photo, size)
            # The checked pair is cheap (no encoder): best of at least 3, so that another
            # process on a shared machine cannot decide its wall-time ratio.
            results = {impl: measure(impl, photo, max(args.repeat, DECODE_REPEAT)
                                     if impl.endswith("-decode") else args.repeat)
                       for impl in IMPLEMENTATIONS}
            for impl, r in results.items():
                base = results["baseline-decode" if impl.endswith("-decode") else "baseline"]
                print(f"{mp:>4} {impl:>20} {r['seconds']:>8.2f} {r['cpu']:>7.2f} {r['peak_mb']:>8.0f} "
                      f"{r['seconds'] / base['seconds']:>7.2f} {r['cpu'] / base['cpu']:>6.2f} "
                      f"{r['peak_mb'] / base['peak_mb']:>6.2f}")
            for impl in ("pipeline", "baseline", "pyvips"):
                print(f"{mp:>4} {impl:>20} bytes " + ", ".join(
                    f"{fmt} {size:,}" for fmt, size in results[impl]["bytes"].items()))
            ours, base = results["pipeline"], results["baseline"]
            pipeline_seconds.append(ours["cpu"])
            time_ratio, memory_ratio = ours["seconds"] / base["seconds"], ours["peak_mb"] / base["peak_mb"]
            cpu_ratio = ours["cpu"] / base["cpu"]
            floor = 1 - results["baseline-decode"]["cpu"] / base["cpu"]
            # Approximate: the baseline's JPEG encode (libjpeg-turbo) is not the pipeline's.
            print(f"{mp:>4} lowest CPU ratio with these encoders (free decode+resize; "
                  f"approximate, the JPEG encoders differ): {floor:.2f}")
            memory_floor = results["largest-avif"]["peak_mb"] / base["peak_mb"]
            print(f"{mp:>4} lowest peak ratio with this AVIF encoder (its largest rendition "
                  f"alone): {memory_floor:.2f}")
            what_if = results["pipeline-avif-speed9"]
            print(f"{mp:>4} what-if, not shipped: AVIF speed {WHAT_IF_AVIF_SPEED}: "
                  f"{what_if['seconds'] / base['seconds']:.2f}x wall, "
                  f"{what_if['cpu'] / base['cpu']:.2f}x CPU, "
                  f"{what_if['peak_mb'] / base['peak_mb']:.2f}x peak; AVIF bytes "
                  f"{what_if['bytes']['avif'] / ours['bytes']['avif'] - 1:+.1%} at the same quality "
                  f"setting (see --encoders for equal perceptual quality)")
            print(f"{mp:>4} whole encode set (reported): {time_ratio:.2f}x wall, {cpu_ratio:.2f}x "
                  f"CPU, {memory_ratio:.2f}x peak")
            decode, base_decode = results["pipeline-decode"], results["baseline-decode"]
            decode_time = decode["seconds"] / base_decode["seconds"]
            decode_cpu = decode["cpu"] / base_decode["cpu"]
            decode_peak = decode["peak_mb"] / base_decode["peak_mb"]
            print(f"{mp:>4} decode + resize (checked): {decode_time:.2f}x wall, {decode_cpu:.2f}x "
                  f"CPU (target <= {TIME_TARGET}), {decode_peak:.2f}x peak (<= {MEMORY_TARGET})")
            if max(decode_time, decode_cpu) > TIME_TARGET:
                missed.append(f"{mp} MP decode + resize time {decode_time:.2f}x wall, "
                              f"{decode_cpu:.2f}x CPU > {TIME_TARGET}x")
            if decode_peak > MEMORY_TARGET:
                missed.append(f"{mp} MP decode + resize peak {decode_peak:.2f}x > {MEMORY_TARGET}x")

    seconds = sum(pipeline_seconds) / len(pipeline_seconds)
    gb_seconds = seconds * memory_mb / 1024
    images_per_month = UPLOADS_PER_DAY * PRODUCT_IMAGE_SHARE * DAYS_PER_MONTH
    compute = images_per_month * gb_seconds * PRICE_PER_GB_SECOND
    requests = images_per_month / 1e6 * PRICE_PER_MILLION_REQUESTS
    puts = images_per_month * 13 / 1000 * PRICE_PER_1000_PUTS  # 12 renditions + manifest
    # Billed duration on Lambda is wall time, at ~1.2 vCPU for 2048 MB: the pipeline's CPU
    # time here is the closer estimate of it than its wall time on a contended machine.
    print(f"\nGB-seconds per image at {memory_mb} MB: {gb_seconds:.2f} "
          f"(mean pipeline CPU time {seconds:.2f} s on this machine)")
    print(f"monthly at {UPLOADS_PER_DAY:,} uploads/day x {PRODUCT_IMAGE_SHARE:.0%} product "
          f"images = {images_per_month / 1e6:.1f} M images: Lambda compute ${compute:,.0f} + "
          f"invocations ${requests:,.0f}; S3 PUTs of the renditions ${puts:,.0f}")
    for miss in missed:
        print(f"MISSED: {miss}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
