"""The Docker-free layer build: wheels for Lambda's arm64 / CPython 3.14 only, cached, loud on failure."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from infra import build_cache, control_tower
from infra.build_cache import cache_home
from infra.constructs.python_layer import (
    CACHE_ROOT,
    LAYER_SUBDIR,
    PLATFORMS,
    LayerBuildError,
    build_layer,
    build_layers,
    cache_key,
    layer_zip,
)

REPO = Path(__file__).resolve().parents[2]
RENDITIONS_REQUIREMENTS = REPO / "lambda" / "requirements-renditions.txt"
HANDLER_REQUIREMENTS = REPO / "lambda" / "requirements.txt"


def _pins(requirements: Path) -> dict[str, str]:
    pins = {}
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[_canonical(name)] = version
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _wheel_tags(site: Path) -> dict[str, list[str]]:
    """dist-info folder name -> the Tag lines of its WHEEL file."""
    return {
        wheel.parent.name: [line.split(":", 1)[1].strip()
                            for line in wheel.read_text().splitlines() if line.startswith("Tag:")]
        for wheel in site.glob("*.dist-info/WHEEL")
    }


def _runs_on_lambda_arm64_cp314(tag: str) -> bool:
    python, abi, platform = tag.split("-")
    if platform == "any":
        return abi == "none" and python.startswith(("py3", "py2.py3"))
    on_linux_arm64 = platform.startswith("manylinux") and platform.endswith("_aarch64")
    right_python = python == "cp314" or (abi == "abi3" and python.startswith("cp3"))
    return on_linux_arm64 and right_python


@pytest.fixture(scope="module")
def renditions_layer() -> Path:
    return build_layer(RENDITIONS_REQUIREMENTS) / LAYER_SUBDIR


@pytest.fixture(scope="module", params=[RENDITIONS_REQUIREMENTS, HANDLER_REQUIREMENTS],
                ids=["renditions", "handler-packages"])
def each_layer(request) -> tuple[Path, Path]:
    """(requirements file, the layer's site folder) for every layer the estate ships."""
    return request.param, build_layer(request.param) / LAYER_SUBDIR


def test_every_wheel_in_each_layer_targets_lambda_arm64_python_3_14(each_layer):
    _, site = each_layer
    tags = _wheel_tags(site)
    assert tags, "the layer holds no installed wheels"
    wrong = {dist: t for dist, t in tags.items()
             if not any(_runs_on_lambda_arm64_cp314(tag) for tag in t)}
    assert wrong == {}


def test_the_image_library_in_the_layer_is_a_native_arm64_wheel(renditions_layer):
    pillow = next(t for dist, t in _wheel_tags(renditions_layer).items()
                  if dist.lower().startswith("pillow-"))
    assert any(tag.startswith("cp314-cp314-manylinux") and tag.endswith("_aarch64")
               for tag in pillow)


def test_each_layer_holds_exactly_its_pinned_distributions(each_layer):
    requirements, site = each_layer
    installed = {}
    for dist in site.glob("*.dist-info"):
        name, version = dist.name.removesuffix(".dist-info").rsplit("-", 1)
        installed[_canonical(name)] = version
    assert installed == _pins(requirements)


def test_a_second_build_reuses_the_cache_without_running_pip(renditions_layer):
    def pip_must_not_run(*args, **kwargs):
        raise AssertionError("pip ran although the layer is cached")

    assert build_layer(RENDITIONS_REQUIREMENTS, runner=pip_must_not_run) / LAYER_SUBDIR \
        == renditions_layer


def test_the_cache_key_changes_with_the_pins_and_with_the_target(tmp_path):
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("Pillow==13.0.0\n")
    first = cache_key(reqs)
    assert cache_key(reqs, platforms=("manylinux2014_x86_64",)) != first
    assert cache_key(reqs, python_version="3.13") != first
    reqs.write_text("Pillow==12.0.0\n")
    assert cache_key(reqs) != first


def test_pip_asks_for_wheels_of_the_target_platform_only(tmp_path):
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("Pillow==13.0.0\n")
    seen = []

    def fake_pip(command, **kwargs):
        seen.append(command)
        Path(command[command.index("--target") + 1]).mkdir(parents=True)
        return subprocess.CompletedProcess(command, 0, "", "")

    build_layer(reqs, cache_root=tmp_path / "cache", runner=fake_pip)
    command = seen[0]
    assert "--only-binary=:all:" in command
    assert [command[i + 1] for i, arg in enumerate(command) if arg == "--platform"] \
        == list(PLATFORMS)
    assert command[command.index("--python-version") + 1] == "3.14"
    assert command[command.index("--implementation") + 1] == "cp"


def test_a_pip_failure_names_the_file_and_quotes_pip_and_caches_nothing(tmp_path):
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("no-such-package==1.0\n")

    def failing_pip(command, **kwargs):
        return subprocess.CompletedProcess(
            command, 1, "", "ERROR: No matching distribution found for no-such-package==1.0")

    with pytest.raises(LayerBuildError, match="No matching distribution") as err:
        build_layer(reqs, cache_root=tmp_path / "cache", runner=failing_pip)
    assert str(reqs) in str(err.value)
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_missing_requirements_file_is_a_clear_error(tmp_path):
    with pytest.raises(LayerBuildError, match="does not exist"):
        build_layer(tmp_path / "absent.txt", cache_root=tmp_path / "cache")


def test_the_tests_run_the_same_pillow_powertools_and_sdk_the_layers_ship():
    dev = {}
    for line in (REPO / "requirements-dev.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==")
            dev[_canonical(name)] = version
    layer = _pins(RENDITIONS_REQUIREMENTS)
    for name in ("pillow", "aws-lambda-powertools"):
        assert dev[name] == layer[name], name
    assert dev["aws-lambda-powertools"] == _pins(HANDLER_REQUIREMENTS)["aws-lambda-powertools"]
    for requirements in (HANDLER_REQUIREMENTS, RENDITIONS_REQUIREMENTS):
        for name in ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six",
                     "urllib3"):
            assert dev[name] == _pins(requirements)[name], (requirements.name, name)


def test_the_layer_zip_holds_exactly_the_folder_under_python(each_layer):
    _, site = each_layer
    folder = site.parent
    with zipfile.ZipFile(layer_zip(folder)) as archive:
        names = set(archive.namelist())
        assert archive.testzip() is None
    assert names == {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert all(name.startswith(f"{LAYER_SUBDIR}/") for name in names)


def test_a_rebuilt_zip_of_the_same_folder_has_the_same_bytes(tmp_path):
    folder = tmp_path / "requirements-0123"
    (folder / LAYER_SUBDIR / "pkg").mkdir(parents=True)
    (folder / LAYER_SUBDIR / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (folder / LAYER_SUBDIR / "pkg" / "__pycache__").mkdir()
    (folder / LAYER_SUBDIR / "pkg" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    first = layer_zip(folder).read_bytes()
    layer_zip(folder).unlink()
    assert layer_zip(folder).read_bytes() == first
    with zipfile.ZipFile(folder.with_name(f"{folder.name}.zip")) as archive:
        assert archive.namelist() == [f"{LAYER_SUBDIR}/pkg/__init__.py"]


def test_each_layer_in_the_estate_is_one_zip_file_asset_named_by_its_cache_key(estate):
    stack = estate.stack("dev", "Assets")
    manifest = json.loads((stack.directory / f"{stack.artifact_id}.assets.json").read_text())
    layers = [r for r in estate.template_json("dev", "Assets")["Resources"].values()
              if r["Type"] == "AWS::Lambda::LayerVersion"]
    assert len(layers) == 2  # handler packages and the renditions packages
    for layer in layers:
        source = manifest["files"][layer["Properties"]["Content"]["S3Key"].removesuffix(".zip")][
            "source"]
        assert source["packaging"] == "file"  # uploaded as it is: no tree walk, no re-zip
        with zipfile.ZipFile(stack.directory / source["path"]) as archive:
            assert any(n.startswith(f"{LAYER_SUBDIR}/aws_lambda_powertools/")
                       for n in archive.namelist())


def test_layers_built_side_by_side_land_where_build_layer_puts_them():
    both = [RENDITIONS_REQUIREMENTS, HANDLER_REQUIREMENTS]
    assert build_layers(both) == [build_layer(path) for path in both]


# ------------------------------------------------------- the build cache every checkout shares

def test_every_checkout_shares_the_one_cache():
    # The review tool's worktrees and other clones find what this one built: the cache is
    # not inside the checkout.
    for root in (CACHE_ROOT, control_tower.CACHE_ROOT):
        assert root.parent == cache_home() and REPO not in root.parents


OLD = time.time() - (build_cache.IDLE_DAYS + 1) * 86400


def _aged(path: Path, when: float = OLD) -> Path:
    os.utime(path, (when, when))
    return path


def test_a_cache_hit_counts_as_use(tmp_path):
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("Pillow==13.0.0\n")
    cache = tmp_path / "cache"

    def fake_pip(command, **kwargs):
        target = Path(command[command.index("--target") + 1])
        target.mkdir(parents=True)
        (target / "module.py").write_text("")
        return subprocess.CompletedProcess(command, 0, "", "")

    folder = build_layer(reqs, cache_root=cache, runner=fake_pip)
    archive = layer_zip(folder)
    _aged(folder), _aged(archive)

    def pip_must_not_run(command, **kwargs):
        raise AssertionError("pip ran although the layer is cached")

    assert build_layer(reqs, cache_root=cache, runner=pip_must_not_run) == folder
    assert layer_zip(folder) == archive
    assert folder.stat().st_mtime > OLD + 86400 and archive.stat().st_mtime > OLD + 86400
    # ...so a build of other pins keeps it.
    other = tmp_path / "requirements-other.txt"
    other.write_text("Pillow==12.0.0\n")
    build_layer(other, cache_root=cache, runner=fake_pip)
    assert folder.is_dir() and archive.is_file()
