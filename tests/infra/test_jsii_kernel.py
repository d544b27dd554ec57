"""The suite's jsii kernels run on V8 without background threads (tests/conftest.py sets
JSII_NODE): every process of the suite shares the cores, and those threads only added CPU."""
from __future__ import annotations

import os
from pathlib import Path

import aws_cdk  # noqa: F401  (starts this process's kernel)


def _descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        for task in Path(f"/proc/{stack.pop()}/task").iterdir():
            children = [int(c) for c in (task / "children").read_text().split()]
            found += children
            stack += children
    return found


def test_this_process_kernel_runs_single_threaded():
    kernels = []
    for pid in _descendants(os.getpid()):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # ended meanwhile
        if any(arg.endswith(b"lib/program.js") for arg in argv):
            kernels.append(argv)
    assert kernels, "no jsii kernel under this process"
    assert all(b"--single-threaded" in argv for argv in kernels), kernels
