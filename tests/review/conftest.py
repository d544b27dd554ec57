"""Fixtures for the review tool tests (plain helpers live in review_helpers.py)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from review_helpers import run_cli, write_assembly

Run = Callable[[dict[str, Any], dict[str, Any]], tuple[int, str]]


@pytest.fixture
def review_resources(tmp_path: Path) -> Run:
    """Review one stack `dev/Main` whose Resources go from `before` to `after`."""
    def run(before: dict[str, Any], after: dict[str, Any]) -> tuple[int, str]:
        base = write_assembly(tmp_path / "base", {"dev/Main": {"Resources": before}})
        head = write_assembly(tmp_path / "head", {"dev/Main": {"Resources": after}})
        return run_cli(base, head, tmp_path / "report.md")
    return run
