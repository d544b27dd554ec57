"""The estate's cloud assembly, synthesized ONCE per test session through the pinned CDK CLI
(``node_modules/.bin/cdk synth``, the README's first command), so the infra tests assert on
exactly what ``make synth`` produces — policy packs included: an unacknowledged finding fails
the synth and with it every test that reads the assembly.

``start()`` launches the synth in the background when the session starts (in the xdist
controller when tests run in parallel) and publishes its folder in ``ESTATE_SYNTH_DIR``, which
xdist workers inherit. While it runs, it holds an exclusive lock on ``<folder>/lock``;
``assembly()`` waits for that lock, in whichever process needs the assembly — so the handler
tests and the local servers they start use the time the CLI takes.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CDK = ROOT / "node_modules" / ".bin" / "cdk"
ENV_VAR = "ESTATE_SYNTH_DIR"
# Runs the CLI, then records its exit code (the lock is held until this shell exits).
# ``validate-templates``: CDK's CloudFormation validation, which `make synth` leaves out
# (infra/nag.py), runs on the assembly every infra test reads.
_WRAPPER = ('"$0" synth --quiet -c validate-templates=true --output "$1" >"$2" 2>&1; '
            'echo $? >"$3"')

_process: subprocess.Popen | None = None


def start() -> Path:
    """Start the session's synth unless one is running; its folder."""
    global _process
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    if not CDK.exists():
        raise RuntimeError("node_modules/.bin/cdk is missing: run `make install` "
                           "(npm ci installs the pinned CLI)")
    workdir = Path(tempfile.mkdtemp(prefix="estate-synth-"))
    lock = workdir / "lock"
    with lock.open("w") as held:
        # Locked before the synth starts, so a reader can never get in first; the child's own
        # descriptor (same open file) keeps the lock after this one closes.
        fcntl.flock(held, fcntl.LOCK_EX)
        env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
               "CDK_DISABLE_VERSION_CHECK": "true", "CDK_DISABLE_CLI_TELEMETRY": "true"}
        _process = subprocess.Popen(
            ["sh", "-c", _WRAPPER, str(CDK),
             str(workdir / "cdk.out"), str(workdir / "synth.log"), str(workdir / "exit-code")],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, pass_fds=(held.fileno(),),
            start_new_session=True)
        os.environ[ENV_VAR] = str(workdir)
    return workdir


def assembly() -> Path:
    """The synthesized cdk.out folder, once the CLI has finished; raises with its output if
    it failed. Starts the synth if nothing did."""
    workdir = start()
    with (workdir / "lock").open("r") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)  # blocks while the synth runs
    code_file = workdir / "exit-code"
    code = code_file.read_text().strip() if code_file.exists() else "(killed)"
    if code != "0":
        log = workdir / "synth.log"
        raise RuntimeError(f"cdk synth failed (exit {code}):\n"
                           f"{log.read_text() if log.exists() else ''}")
    return workdir / "cdk.out"


def stop() -> None:
    """End the synth this process started (if still running) and remove its folder."""
    global _process
    if _process is None:
        return
    if _process.poll() is None:
        os.killpg(_process.pid, 9)
    _process.wait()
    shutil.rmtree(os.environ.pop(ENV_VAR), ignore_errors=True)
    _process = None
