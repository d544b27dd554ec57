#!/usr/bin/env python3
"""Benchmark of synth time (not a test): `.venv/bin/python bench/bench_synth.py`.

``python app.py`` (every environment, policy packs applied, into a fresh empty cloud
assembly folder: assets are staged from scratch, as on a first synth) against the floor app
``bench/floor_app.py`` (20 stacks, one KMS-encrypted versioned bucket each), same venv, same
Node. The two alternate, ``--runs`` each (default 3); the ratio is best against best, so
load from other processes, which can only add time, distorts it least.
Budget: app / floor <= 1.5 (``SYNTH_BUDGET``).

``--check`` exits 1 when the ratio misses its budget. ``--validated`` adds a third
candidate: the app with CDK's CloudFormation validation on (``-c validate-templates=true``,
what the suite, `make diff` and `make deploy` run; reported, not judged).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SYNTH_BUDGET = 1.5
COMMANDS = {
    "app": [sys.executable, str(REPO / "app.py")],
    "floor": [sys.executable, str(REPO / "bench" / "floor_app.py")],
}
QUIET_NODE = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
              "CDK_DISABLE_VERSION_CHECK": "true", "CDK_DISABLE_CLI_TELEMETRY": "true"}


VALIDATED = {"CDK_CONTEXT_JSON": json.dumps({"validate-templates": "true"})}


def synth_seconds(command: list[str], extra_env: dict[str, str]) -> float:
    """Wall time of one synth into a new, empty assembly folder (removed afterwards)."""
    outdir = Path(tempfile.mkdtemp(prefix="bench-synth-"))
    try:
        env = {**os.environ, **QUIET_NODE, **extra_env, "CDK_OUTDIR": str(outdir)}
        start = time.perf_counter()
        subprocess.run(command, cwd=REPO, env=env, check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return time.perf_counter() - start
    except subprocess.CalledProcessError as exc:
        sys.exit(f"{' '.join(command)} failed (exit {exc.returncode}):\n{exc.stderr.decode()}")
    finally:
        shutil.rmtree(outdir, ignore_errors=True)


def best_of_alternating(runs: int, validated: bool) -> dict[str, list[float]]:
    candidates = {name: (command, {}) for name, command in COMMANDS.items()}
    if validated:
        candidates["app, validated"] = (COMMANDS["app"], VALIDATED)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(runs):
        for name, (command, extra_env) in candidates.items():
            times[name].append(synth_seconds(command, extra_env))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="synths of each app, alternating")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 when app / floor exceeds {SYNTH_BUDGET}")
    parser.add_argument("--validated", action="store_true",
                        help="also time the app with CDK's CloudFormation validation on")
    args = parser.parse_args()
    times = best_of_alternating(args.runs, args.validated)
    for name, values in times.items():
        print(f"{name:>14}: best {min(values):5.2f} s  (runs: "
              f"{', '.join(f'{v:.2f}' for v in values)})")
    if args.validated:
        print(f"validated app / floor: {min(times['app, validated']) / min(times['floor']):.2f}x"
              " (reported, not judged)")
    ratio = min(times["app"]) / min(times["floor"])
    verdict = "met" if ratio <= SYNTH_BUDGET else "MISSED"
    print(f"synth ratio app / floor: {ratio:.2f}x  (budget <= {SYNTH_BUDGET}x: {verdict})")
    return 1 if args.check and ratio > SYNTH_BUDGET else 0


if __name__ == "__main__":
    sys.exit(main())
