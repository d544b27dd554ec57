"""`make bench` runs each quick benchmark; `make bench-check` exits with its checks' status.

Read from make's dry run (``-n``, with ``install`` taken as done), so nothing is installed or
benchmarked here."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _dry_run(target: str) -> list[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    result = subprocess.run(["make", "--no-print-directory", "-n", "-o", "install", target],
                            cwd=REPO, env=environ, capture_output=True, text=True, check=True)
    return result.stdout.splitlines()


def test_make_bench_runs_each_quick_benchmark_once():
    scripts = [line.split()[1:] for line in _dry_run("bench")]
    assert scripts == [
        ["bench/bench_presign.py"],
        ["bench/bench_hash.py", "--quick"],
        ["bench/bench_renditions.py", "--quick"],
        ["bench/bench_image_url.py"],
        # 1,000 keys, plus a configuration with 20 ms of simulated S3 latency
        ["bench/bench_restore.py", "--quick", "--latency-ms", "20"],
    ]


def test_make_bench_check_runs_nothing_after_its_checks_status():
    # A line after `exit $status` would run only when every check passed, and would decide
    # the exit code instead of the checks.
    assert _dry_run("bench-check")[-1].strip() == "exit $status"
