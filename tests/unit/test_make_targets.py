"""What the Makefile's verbs run: `make bench` each quick benchmark once, `make bench-check` its
checks' status, `make diff` every stack without ENV, `make lint` a fresh assembly, `make drift`
which failure it was.

Read from make's dry run (``-n``, with ``install`` taken as done), so nothing is installed or
benchmarked here."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _dry_run(target: str, *variables: str) -> list[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    result = subprocess.run(["make", "--no-print-directory", "-n", "-o", "install", target,
                             *variables],
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


def test_make_diff_without_env_compares_every_stage_stack():
    # Every stack sits inside a stage: `--all` selects none of them (the CLI ignores it for
    # diff and reports 0 differences), `**` selects them all.
    (command,) = _dry_run("diff")
    assert command.endswith("'**'") and "--all" not in command


def test_make_diff_with_env_compares_that_environment():
    (command,) = _dry_run("diff", "ENV=prod")
    assert "-c env=prod 'prod/*'" in command


def test_make_lint_lints_a_fresh_assembly():
    commands = _dry_run("lint")
    synth = next(i for i, c in enumerate(commands) if " synth " in f" {c} ")
    assert "rm -rf cdk.out" in commands[synth - 1]


def _drift_run_with_a_tool_exiting(tmp_path, code: int) -> subprocess.CompletedProcess:
    """``make drift`` run for real, with a stand-in for the tool that exits with ``code``."""
    tool = tmp_path / "drift-tool"
    tool.write_text(f"#!/bin/sh\nexit {code}\n")
    tool.chmod(0o755)
    environ = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    return subprocess.run(["make", "--no-print-directory", "-o", "install", "drift", "ENV=prod",
                           f"PY={tool}"], cwd=REPO, env=environ, capture_output=True, text=True)


@pytest.mark.parametrize(("code", "says"), [(1, "exit 1: drift found"),
                                           (3, "exit 3: no drift found, but detection incomplete"),
                                           (2, "exit 2: usage error")])
def test_make_drift_says_which_failure_make_turned_into_its_exit_2(tmp_path, code, says):
    result = _drift_run_with_a_tool_exiting(tmp_path, code)
    assert result.returncode == 2 and f"tools.drift {says}" in result.stderr


def test_make_drift_in_sync_is_quiet_and_succeeds(tmp_path):
    result = _drift_run_with_a_tool_exiting(tmp_path, 0)
    assert result.returncode == 0 and "tools.drift" not in result.stderr
