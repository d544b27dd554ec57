"""`make install`'s venv recipe, run by make in a scratch folder with stand-ins for the system's
Python and for uv: which uv installs the pins, in what order, and what it keeps.

The stand-ins log their arguments and do only what the recipe relies on (``-m venv`` makes the
folder, ``-m pip install uv==...`` puts a uv in it); the real tools are exercised by every
``make install`` (CI's clean clone: the system's pip path; a machine that installed before: the
kept uv)."""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from infra.build_cache import cache_home

REPO = Path(__file__).resolve().parents[2]
UV_PIN = re.search(r"^uv==(\S+)", (REPO / "requirements-dev.txt").read_text(), re.M).group(1)

# The system's Python; OLD_PIP: its pip predates --python (22.3), or is missing.
SYSTEM_PYTHON = """#!/bin/sh
echo "python $*" >> "$TOOL_LOG"
case "$1 $2" in
  "-m venv") mkdir -p .venv/bin && cp "$VENV_PYTHON" .venv/bin/python ;;
  "-m pip") [ -n "$OLD_PIP" ] && { echo "no such option: --python" >&2; exit 2; }
            cp "$WORKING_UV" .venv/bin/uv ;;
  *) exit 1 ;;
esac
"""
# The venv's Python, made without pip: ensurepip gives it one, which can install uv.
VENV_PYTHON = """#!/bin/sh
echo "venv python $*" >> "$TOOL_LOG"
case "$1 $2" in
  "-m ensurepip") exit 0 ;;
  "-m pip") cp "$WORKING_UV" .venv/bin/uv ;;
  *) exit 1 ;;
esac
"""
# A uv that works: answers --version, and installs (logs) unless told its cache misses a pin.
WORKING_UV = """#!/bin/sh
echo "uv $*" >> "$TOOL_LOG"
[ "$1" = --version ] && { echo "uv UV_PIN"; exit 0; }
case "$*" in *--offline*) [ -n "$CACHE_MISSES_A_PIN" ] && exit 2 ;; esac
exit 0
""".replace("UV_PIN", UV_PIN)
BROKEN_UV = "#!/bin/sh\necho \"broken uv $*\" >> \"$TOOL_LOG\"\nexit 126\n"


def _script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    for name in ("Makefile", "requirements.txt", "requirements-dev.txt"):
        shutil.copy(REPO / name, tmp_path / name)
    _script(tmp_path / "tools" / "python", SYSTEM_PYTHON)
    _script(tmp_path / "tools" / "uv", WORKING_UV)
    _script(tmp_path / "tools" / "venv-python", VENV_PYTHON)
    return tmp_path


def kept_uv(scratch: Path) -> Path:
    return scratch / "cache" / f"uv-{UV_PIN}" / "uv"


def install(scratch: Path, **env: str | None) -> list[str]:
    """``make .venv/.installed`` with the stand-ins (a None value unsets that variable); the
    tools' calls, in order."""
    log = scratch / "calls.log"
    log.unlink(missing_ok=True)
    environ = {**os.environ, "TOOL_LOG": str(log), "WORKING_UV": str(scratch / "tools" / "uv"),
               "VENV_PYTHON": str(scratch / "tools" / "venv-python"),
               "ESTATE_BUILD_CACHE": str(scratch / "cache"), **env}
    environ = {name: value for name, value in environ.items() if value is not None}
    environ.pop("MAKEFLAGS", None)
    result = subprocess.run(
        ["make", "--no-print-directory", ".venv/.installed",
         f"PYTHON={scratch / 'tools' / 'python'}"],
        cwd=scratch, env=environ, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (scratch / ".venv" / ".installed").exists()
    return log.read_text().splitlines()


def test_a_first_install_gets_uv_from_the_systems_pip_and_keeps_a_copy(scratch):
    superseded = _script(scratch / "cache" / "uv-0.0.1" / "uv", WORKING_UV)
    calls = install(scratch)
    assert calls[0] == "python -m venv --without-pip .venv"
    assert calls[1].startswith("python -m pip --python .venv/bin/python install")
    assert calls[1].endswith(f"uv=={UV_PIN}")
    assert calls[2] == ("uv pip install --offline --quiet --python .venv/bin/python "
                        "-r requirements-dev.txt")
    assert len(calls) == 3
    assert kept_uv(scratch).read_bytes() == (scratch / ".venv" / "bin" / "uv").read_bytes()
    assert not superseded.parent.exists()  # a copy of another version is dropped


def test_a_system_pip_without_python_option_falls_back_to_ensurepip(scratch):
    calls = install(scratch, OLD_PIP="1")
    assert calls[1].startswith("python -m pip --python")
    assert calls[2] == "venv python -m ensurepip --default-pip"
    assert calls[3].startswith("venv python -m pip install") and calls[3].endswith(f"uv=={UV_PIN}")
    assert calls[4].startswith("uv pip install --offline")
    assert kept_uv(scratch).is_file()


def test_a_later_install_uses_the_kept_uv_and_never_the_systems_pip(scratch):
    _script(kept_uv(scratch), WORKING_UV)
    calls = install(scratch)
    assert not any(call.startswith("python -m pip") for call in calls)
    assert calls[1:] == ["uv --version", "uv pip install --offline --quiet --python "
                         ".venv/bin/python -r requirements-dev.txt"]


def test_a_pin_missing_from_uvs_cache_is_installed_online(scratch):
    _script(kept_uv(scratch), WORKING_UV)
    calls = install(scratch, CACHE_MISSES_A_PIN="1")
    installs = [call for call in calls if call.startswith("uv pip install")]
    assert installs == [
        "uv pip install --offline --quiet --python .venv/bin/python -r requirements-dev.txt",
        "uv pip install --quiet --python .venv/bin/python -r requirements-dev.txt"]


def test_a_kept_uv_that_does_not_run_is_replaced(scratch):
    _script(kept_uv(scratch), BROKEN_UV)
    calls = install(scratch)
    assert calls[1] == "broken uv --version"
    assert calls[2].startswith("python -m pip")
    assert kept_uv(scratch).read_text() == WORKING_UV


def test_a_cache_that_cannot_be_written_is_not_an_error(scratch):
    blocked = scratch / "not-a-folder"
    blocked.write_text("a file where the cache folder would go")
    calls = install(scratch, ESTATE_BUILD_CACHE=str(blocked))
    assert calls[1].startswith("python -m pip") and calls[2].startswith("uv pip install")
    assert blocked.is_file()


@pytest.mark.parametrize("variables", [
    {"ESTATE_BUILD_CACHE": "moved"},
    {"ESTATE_BUILD_CACHE": None, "XDG_CACHE_HOME": "xdg"},
    {"ESTATE_BUILD_CACHE": None, "XDG_CACHE_HOME": None, "HOME": "home"},
], ids=["variable", "xdg", "home"])
def test_uv_is_kept_in_the_cache_folder_the_layers_use(scratch, variables):
    # The Makefile's shell locates the cache itself (the venv it would import from does not
    # exist yet): it must find the folder infra/build_cache.py does.
    env = {name: value if value is None else str(scratch / value)
           for name, value in variables.items()}
    install(scratch, **env)
    expected = cache_home({k: v for k, v in env.items() if v is not None}
                          ) / f"uv-{UV_PIN}" / "uv"
    assert expected.is_file()
