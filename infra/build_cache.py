"""Folders built once and kept under ``.build/`` (gitignored): filled aside, renamed into place."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def publish(final: Path, build: Callable[[Path], None], *, complete: Callable[[Path], bool],
            prefix: str | None = None) -> Path:
    """``build(staging)`` into a new temporary sibling of ``final``, then rename it to
    ``final``: an interrupted or failed build leaves nothing a later run would trust. When a
    concurrent build of the same key got there first (``complete(final)``), its copy stays."""
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=prefix or f".{final.name}-", dir=final.parent))
    try:
        build(staging)
        try:
            os.replace(staging, final)
        except OSError:
            if not complete(final):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final
