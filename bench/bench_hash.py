"""Benchmark (not a test) of the upload hasher's streaming SHA-256.

Per object size (1 MB, 100 MB, 1 GB):
- throughput of ``hasher.sha256_stream`` reading a botocore ``StreamingBody`` in
  HASH_CHUNK_BYTES chunks, as a ratio to ``hashlib.sha256`` over the same bytes already in
  memory, measured in the same run (target >= 0.9), best of several runs; once with a source
  that costs nothing (the hasher's overhead) and once with one that copies like a socket;
- peak memory while hashing, in a fresh subprocess per size: growth of its own peak RSS
  (VmHWM) over the baseline taken just before hashing, and the tracemalloc peak (target:
  flat, <= 64 MB).

The body is a fake stream that serves one pre-built chunk over and over, so a 1 GB object
costs no RAM for the source (the in-memory baseline of the throughput run does allocate it).

    .venv/bin/python bench/bench_hash.py            # 1 MB, 100 MB, 1 GB
    .venv/bin/python bench/bench_hash.py --quick    # skip 1 GB
    .venv/bin/python bench/bench_hash.py --check    # exit 1 when a target is missed
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lambda"))

from botocore.response import StreamingBody  # noqa: E402
from estate_handlers import hasher  # noqa: E402

MB = 1024 * 1024
SIZES = {"1 MB": MB, "100 MB": 100 * MB, "1 GB": 1024 * MB}
TARGET_RATIO = 0.9
MEMORY_BUDGET_MB = 64


class FakeRawStream:
    """``size`` bytes served as repeats of one ``block``; holds nothing else.

    ``copy=False`` hands out the block itself (the source costs nothing: the hasher's own
    throughput); ``copy=True`` returns a new bytes object per read, as a socket read does
    (the real allocation pattern, one chunk alive at a time, at the price of a memcpy).
    """

    def __init__(self, size: int, block: bytes, copy: bool):
        self._left = size
        self._block = block
        self._view = memoryview(block)
        self._copy = copy

    def read(self, amt: int | None = None) -> bytes:
        if amt is None or amt > len(self._block):
            raise ValueError("the fake serves at most one block per read; read in chunks")
        n = min(amt, self._left)
        self._left -= n
        if self._copy:
            return bytes(self._view[:n])
        return self._block if n == len(self._block) else self._block[:n]


def pattern(chunk: int) -> bytes:
    return hashlib.shake_256(b"bench").digest(chunk)  # incompressible, deterministic


def body(size: int, block: bytes, copy: bool = True) -> StreamingBody:
    return StreamingBody(FakeRawStream(size, block, copy), size)


def in_memory(size: int, chunk: int) -> bytes:
    block = pattern(chunk)
    whole, tail = divmod(size, chunk)
    return block * whole + block[:tail]


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def hash_in_memory(size: int, chunk: int, repeat: int) -> tuple[float, str]:
    data = in_memory(size, chunk)  # freed on return, before the streaming runs
    return best_of(lambda: hashlib.sha256(data).hexdigest(), repeat)


def throughput(size: int, chunk: int) -> dict:
    repeat = max(3, min(50, (200 * MB) // size))
    block = pattern(chunk)
    t_mem, expected = hash_in_memory(size, chunk, repeat)
    result = {"memory_mb_s": size / MB / t_mem}
    for name, copy in (("", False), ("_copy", True)):
        t, (digest, count) = best_of(lambda copy=copy: hasher.sha256_stream(body(size, block, copy), chunk), repeat)
        if (digest, count) != (expected, size):
            raise SystemExit(f"digest mismatch at {size} bytes: the benchmark is not hashing the same bytes")
        result[f"stream{name}_mb_s"] = size / MB / t
        result[f"ratio{name}"] = t_mem / t
    return result


def peak_rss_kb() -> int:
    """This process's peak RSS since exec (VmHWM). Not ``ru_maxrss``: Linux carries the parent's
    high-water mark into a child, and the parent has just built the in-memory copy, so every
    child would start at the parent's peak and show no growth at all."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0])


def measure_memory_here(size: int, chunk: int) -> dict:
    """Runs in the child: RSS growth over the pre-hash baseline, then tracemalloc's peak."""
    block = pattern(chunk)
    hasher.sha256_stream(body(MB, block), chunk)  # warm up: first-call allocations are not per-size
    baseline = peak_rss_kb()
    hasher.sha256_stream(body(size, block), chunk)
    rss_growth_kb = peak_rss_kb() - baseline
    stream = body(size, block)
    tracemalloc.start()
    hasher.sha256_stream(stream, chunk)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"rss_growth_mb": rss_growth_kb / 1024, "tracemalloc_peak_mb": peak / MB,
            "baseline_rss_mb": baseline / 1024}


def measure_memory(size: int, chunk: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child-memory", str(size), "--chunk", str(chunk)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1 GB object")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a target is missed (make bench-check)")
    parser.add_argument("--chunk", type=int, default=hasher.DEFAULT_CHUNK_BYTES, help="bytes per read")
    parser.add_argument("--child-memory", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_memory is not None:
        print(json.dumps(measure_memory_here(args.child_memory, args.chunk)))
        return 0

    sizes = {k: v for k, v in SIZES.items() if not (args.quick and v > 100 * MB)}
    print(f"upload hasher: streaming SHA-256, chunk {args.chunk // 1024} KiB, Python {sys.version.split()[0]}")
    print(f"{'object':>7} | {'in-memory MB/s':>14} | {'stream MB/s':>11} | {'ratio':>5} | "
          f"{'ratio, copying source':>21} | {'RSS growth MB':>13} | {'tracemalloc peak MB':>19}")
    print("-" * 111)
    ok = True
    for label, size in sizes.items():
        t = throughput(size, args.chunk)
        m = measure_memory(size, args.chunk)
        ok &= t["ratio"] >= TARGET_RATIO and max(m["rss_growth_mb"], m["tracemalloc_peak_mb"]) <= MEMORY_BUDGET_MB
        print(f"{label:>7} | {t['memory_mb_s']:>14.0f} | {t['stream_mb_s']:>11.0f} | {t['ratio']:>5.2f} | "
              f"{t['ratio_copy']:>21.2f} | {m['rss_growth_mb']:>13.1f} | {m['tracemalloc_peak_mb']:>19.2f}")
    print(f"targets: ratio >= {TARGET_RATIO}, memory <= {MEMORY_BUDGET_MB} MB above baseline and flat "
          f"-> {'met' if ok else 'NOT met'}")
    print("ratio: source free (the hasher's own cost); copying source: a new bytes per read, like a "
          "socket; memory: copying source, fresh subprocess per size")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
