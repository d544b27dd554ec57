"""Command-line behaviour: usage errors exit 1, output goes where asked."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from review_helpers import write_assembly

from tools.review.__main__ import main

STACK = {"dev/Main": {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}}


def test_unknown_option_exits_1():
    with pytest.raises(SystemExit) as exited:
        main(["--bogus"])
    assert exited.value.code == 1


def test_head_ref_and_worktree_together_exit_1():
    with pytest.raises(SystemExit) as exited:
        main(["--head", "HEAD", "--worktree"])
    assert exited.value.code == 1


def test_folder_without_a_manifest_exits_1(tmp_path, capsys):
    code = main(["--base-dir", str(tmp_path), "--head-dir", str(tmp_path)])
    assert code == 1 and "not a cloud assembly" in capsys.readouterr().err


def test_report_goes_to_stdout_without_output(tmp_path, capsys):
    same = write_assembly(tmp_path / "a", STACK)
    main(["--base-dir", str(same), "--head-dir", str(same)])
    assert capsys.readouterr().out.startswith("## Infrastructure review")


def test_runs_as_a_module_from_the_repository_root(tmp_path):
    same = write_assembly(tmp_path / "a", STACK)
    proc = subprocess.run([sys.executable, "-m", "tools.review", "--base-dir", str(same),
                           "--head-dir", str(same), "--format", "markdown"],
                          cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True)
    assert (proc.returncode, "No infrastructure changes." in proc.stdout) == (0, True)
