#!/usr/bin/env python3
"""The suite's time as a newcomer meets it, as a ratio to the floor app's synth (not a test).

    .venv/bin/python bench/suite_ratio.py [--check] [--ref REF] [--empty-build-cache] [--cold]

1. ``git clone`` of this repository (``--ref``, default: the checked-out branch; committed
   work only) into a temporary folder;
2. there, ``make install`` (a new venv filled by uv from PyPI through uv's cache, ``npm ci``
   through npm's; ``--cold``: both caches new and empty, so everything is downloaded) and
   ``make test`` (chromium already installed; Lambda layers built on first synth into the
   clone's own ``.build/``): the wall time of the two together is the suite's time;
3. the floor app (``bench/floor_app.py``: 20 stacks, one KMS-encrypted versioned bucket each)
   synthesized with the clone's venv, once between install and test and twice after the
   test; the best of the three is the floor (with its imports' bytecode cached, as the
   suite's are);
4. prints suite / floor. Budget: <= 12 (``SUITE_BUDGET``); ``--check`` exits 1 above it.

Both figures come from the same run on the same machine, so the machine's speed cancels;
load from other processes does not (it slows the suite more than a 4-second synth, and
best-of-3 protects only the floor), so measure on an idle machine. The temporary clone is
removed afterwards (``--keep`` leaves it).
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from infra.build_cache import ENV_VAR as ESTATE_BUILD_CACHE  # noqa: E402  (stdlib only)

SUITE_BUDGET = 12.0
CPU_SECONDS: dict[str, float] = {}
FLOOR_APP = "bench/floor_app.py"
QUIET_NODE = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
              "CDK_DISABLE_VERSION_CHECK": "true", "CDK_DISABLE_CLI_TELEMETRY": "true"}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: Path, log: Path, env: dict[str, str] | None = None) -> float:
    """Wall seconds of ``command``; its CPU seconds (user + system, every process it waited
    for) are kept in ``CPU_SECONDS[command[-1]]``: load from other processes inflates wall
    time far more than CPU time."""
    start, cpu = time.perf_counter(), _children_cpu()
    with log.open("a") as out:
        result = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, check=False)
    seconds = time.perf_counter() - start
    CPU_SECONDS[command[-1]] = _children_cpu() - cpu
    if result.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-40:])
        sys.exit(f"{' '.join(command)} failed (exit {result.returncode}) in {cwd}:\n{tail}")
    return seconds


def floor_seconds(clone: Path, log: Path, pycache: Path) -> float:
    outdir = Path(tempfile.mkdtemp(prefix="floor-"))
    try:
        # Bytecode caches written even where the shell says not to (as make does), so the best
        # of three is the floor with its imports compiled, whatever the environment; in a folder
        # of the floor's own, so the floor's first run compiles nothing for the suite.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(QUIET_NODE, CDK_OUTDIR=str(outdir), PYTHONPYCACHEPREFIX=str(pycache))
        return timed([str(clone / ".venv" / "bin" / "python"), FLOOR_APP],
                     clone, log, env)
    finally:
        shutil.rmtree(outdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", help="branch or tag to clone (default: the current branch)")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 when suite / floor exceeds {SUITE_BUDGET}")
    parser.add_argument("--keep", action="store_true", help="leave the temporary clone")
    parser.add_argument("--cold", action="store_true",
                        help="install through new, empty uv and npm caches (the budget is "
                             "judged with warm ones); implies --empty-build-cache")
    parser.add_argument("--empty-build-cache", action="store_true",
                        help="a new, empty estate build cache: the suite builds the Lambda "
                             "layers with pip")
    args = parser.parse_args()
    ref = args.ref or subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=REPO,
                                     capture_output=True, text=True, check=True).stdout.strip()
    workdir = Path(tempfile.mkdtemp(prefix="suite-ratio-"))
    load = os.getloadavg()
    clone, log = workdir / "estate", workdir / "run.log"
    try:
        subprocess.run(["git", "clone", "--quiet", "--branch", ref, str(REPO), str(clone)],
                       check=True)
        # The clone's own venv and node_modules: nothing of this checkout's is reused.
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "ESTATE_SYNTH_DIR")}
        if args.cold:
            env.update(UV_CACHE_DIR=str(workdir / "uv-cache"), npm_config_cache=str(workdir / "npm-cache"))
        empty_build_cache = args.cold or args.empty_build_cache
        if empty_build_cache:
            env[ESTATE_BUILD_CACHE] = str(workdir / "estate-build-cache")
        install = timed(["make", "install"], clone, log, env)
        floors = [floor_seconds(clone, log, workdir / "floor-pycache")]
        floor_cpu = [CPU_SECONDS[FLOOR_APP]]
        test = timed(["make", "test"], clone, log, env)
        for _ in range(2):
            floors.append(floor_seconds(clone, log, workdir / "floor-pycache"))
            floor_cpu.append(CPU_SECONDS[FLOOR_APP])
    finally:
        if args.keep:
            print(f"clone kept in {clone}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    suite, floor = install + test, min(floors)
    ratio = suite / floor
    build_cache = "empty" if empty_build_cache else "shared, as earlier runs left it"
    print(f"make install {install:6.1f} s  make test {test:6.1f} s  together {suite:6.1f} s  "
          f"(build cache: {build_cache})")
    print(f"CPU seconds: make install {CPU_SECONDS['install']:.1f}, make test "
          f"{CPU_SECONDS['test']:.1f}; load average {load[0]:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after")
    print(f"floor synth best {floor:5.2f} s  (runs: {', '.join(f'{f:.2f}' for f in floors)})")
    suite_cpu = CPU_SECONDS["install"] + CPU_SECONDS["test"]
    print(f"CPU seconds, install + test / floor best: {suite_cpu:.1f} / {min(floor_cpu):.2f} = "
          f"{suite_cpu / min(floor_cpu):.1f}x  (reported, not judged: less sensitive to load)")
    verdict = "met" if ratio <= SUITE_BUDGET else "MISSED"
    print(f"suite ratio (install + test) / floor: {ratio:.1f}x  (budget <= {SUITE_BUDGET:g}x: "
          f"{verdict})")
    return 1 if args.check and ratio > SUITE_BUDGET else 0


if __name__ == "__main__":
    sys.exit(main())
