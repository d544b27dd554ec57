"""The local servers of a session that runs the handler tests, started when the session
starts rather than at the first test that needs them.

SeaweedFS takes ~2.7 s to come up and DynamoDB Local's JVM a few seconds, mostly waiting;
started on first use, a test's set-up waited that long. Started with the session
(``tests/conftest.py``), the wait runs while the worker collects and runs its other tests.
``starting`` is what ``start_servers`` returned, or None when nothing was started early (the
session's ``_starting_servers`` fixture then starts them itself).
"""
from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import Future
from pathlib import Path

from local_services import start_servers, stop_started

starting: dict[str, Future] | None = None
_workdir: Path | None = None


def start(primary_region_s3: bool = False) -> None:
    """Start the servers; with ``primary_region_s3``, the outage drill's second SeaweedFS too."""
    global starting, _workdir
    if starting is None:
        _workdir = Path(tempfile.mkdtemp(prefix="local-servers-"))
        starting = start_servers(_workdir, primary_region_s3)


def stop() -> None:
    global starting, _workdir
    if starting is not None:
        stop_started(starting)
        starting = None
    if _workdir is not None:
        shutil.rmtree(_workdir, ignore_errors=True)
        _workdir = None
