"""Folders built once and kept in the estate's build cache: filled aside, renamed into place.

The cache is one folder per machine and user, shared by every clone and worktree of the
repository: ``$ESTATE_BUILD_CACHE`` if set, else ``$XDG_CACHE_HOME/storage-estate`` (by
default ``~/.cache/storage-estate``). Each entry is named by a digest or version of
everything that decides its content (a layer: the pinned requirements and the target; the
Control Tower bundle: its package version), like pip's and npm's caches, so any checkout that
needs the same content can reuse it. The review tool's worktrees are where this matters
most: each reviewed revision is synthesized in a new temporary checkout, which would
otherwise rebuild the Lambda layers with pip every time.

Entries unused for ``IDLE_DAYS`` are removed when a new entry is built (a cache hit
refreshes an entry's time), so changed pins do not pile up old layers.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ENV_VAR = "ESTATE_BUILD_CACHE"
IDLE_DAYS = 30


class BuildCacheError(RuntimeError):
    """The cache folder cannot be created; the message names it and the variable that moves it."""


def cache_home(environ: dict[str, str] | None = None) -> Path:
    """The estate's build cache folder for this user (not created here)."""
    environ = os.environ if environ is None else environ
    if environ.get(ENV_VAR):
        return Path(environ[ENV_VAR]).expanduser()
    home = environ.get("HOME") or str(Path.home())
    base = environ.get("XDG_CACHE_HOME") or str(Path(home) / ".cache")
    return Path(base).expanduser() / "storage-estate"


def used(entry: Path) -> Path:
    """Mark a cache hit (its time is what ``prune`` reads) and return the entry."""
    try:
        os.utime(entry)
    except OSError:
        pass  # a read-only cache still serves its entries
    return entry


def prune(folder: Path, keep: Path, idle_days: float = IDLE_DAYS,
          now: float | None = None) -> list[Path]:
    """Remove the entries of ``folder`` (built ones and interrupted builds' leftovers) last
    used more than ``idle_days`` ago, except ``keep``; the removed paths."""
    cutoff = (time.time() if now is None else now) - idle_days * 86400
    removed = []
    for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
        try:
            idle = entry != keep and entry.stat().st_mtime < cutoff
        except FileNotFoundError:
            continue  # another process's build renamed or removed it meanwhile
        if idle:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def publish(final: Path, build: Callable[[Path], None], *, complete: Callable[[Path], bool],
            prefix: str | None = None) -> Path:
    """``build(staging)`` into a new temporary sibling of ``final``, then rename it to
    ``final``: an interrupted or failed build leaves nothing a later run would trust. When a
    concurrent build of the same key got there first (``complete(final)``), its copy stays.
    Afterwards, entries next to ``final`` unused for ``IDLE_DAYS`` are removed."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BuildCacheError(
            f"cannot create the build cache folder {final.parent} ({error.strerror}): set "
            f"{ENV_VAR} to a writable folder") from error
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
    prune(final.parent, keep=final)
    return final
