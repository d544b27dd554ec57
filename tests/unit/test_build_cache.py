"""The build cache every checkout on a machine shares: where it is, and what it keeps."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from infra import build_cache
from infra.build_cache import BuildCacheError, cache_home, prune, publish

OLD = time.time() - (build_cache.IDLE_DAYS + 1) * 86400


def test_the_variable_wins_then_xdg_then_the_home_cache(tmp_path):
    assert cache_home({"ESTATE_BUILD_CACHE": str(tmp_path / "mine"),
                       "XDG_CACHE_HOME": "/elsewhere"}) == tmp_path / "mine"
    assert cache_home({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "storage-estate"
    assert cache_home({"HOME": str(tmp_path)}) == tmp_path / ".cache" / "storage-estate"
    assert cache_home({}) == Path.home() / ".cache" / "storage-estate"


def _aged(path: Path, when: float = OLD) -> Path:
    os.utime(path, (when, when))
    return path


def test_a_new_entry_removes_what_has_not_been_used_for_a_month(tmp_path):
    idle_folder = tmp_path / "layer-old"
    idle_folder.mkdir()
    (idle_folder / "f").write_text("x")
    idle_zip = tmp_path / "layer-old.zip"
    idle_zip.write_text("zip")
    left_by_a_killed_build = tmp_path / ".layer-new-abc"
    left_by_a_killed_build.mkdir()
    recent = tmp_path / "layer-recent"
    recent.mkdir()
    for path in (idle_folder, idle_zip, left_by_a_killed_build):
        _aged(path)

    final = publish(tmp_path / "layer-new", lambda staging: (staging / "f").write_text("y"),
                    complete=lambda f: (f / "f").is_file())

    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer-new", "layer-recent"]
    assert (final / "f").read_text() == "y"


def test_prune_keeps_the_entry_it_was_told_to_keep_however_old(tmp_path):
    keep = tmp_path / "kept.zip"
    keep.write_text("z")
    _aged(keep)
    assert prune(tmp_path, keep=keep) == [] and keep.is_file()


def test_a_failed_build_removes_nothing(tmp_path):
    idle = tmp_path / "idle.zip"
    idle.write_text("z")
    _aged(idle)

    def failing(staging: Path) -> None:
        raise RuntimeError("pip failed")

    with pytest.raises(RuntimeError, match="pip failed"):
        publish(tmp_path / "entry", failing, complete=lambda f: False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idle.zip"]


def test_a_cache_folder_that_cannot_be_made_names_itself_and_the_variable(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder would go")
    with pytest.raises(BuildCacheError, match="ESTATE_BUILD_CACHE") as error:
        publish(blocker / "python-layers" / "entry", lambda staging: None,
                complete=lambda f: False)
    assert str(blocker / "python-layers") in str(error.value)
