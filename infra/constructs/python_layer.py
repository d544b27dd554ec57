"""PythonLayer: a Lambda layer of pinned third-party packages, built without Docker.

CDK's own bundling (``PythonLayerVersion``, ``BundlingOptions``) runs pip inside a Docker
image of the Lambda runtime. The estate builds on machines without Docker, so the layer is
assembled by pip itself, told which machine it is installing for:

    pip install --only-binary=:all: --platform manylinux2014_aarch64
                --platform manylinux_2_28_aarch64 --python-version 3.14 --implementation cp
                --target <cache>/<digest>/python -r <requirements>

``--only-binary=:all:`` is what makes this safe: pip may only pick wheels whose tags match
the target (Linux, arm64, CPython 3.14 or abi3 or pure Python); nothing is compiled on the
build machine, so nothing built for x86_64 or the build machine's Python can slip in. A
package without such a wheel makes pip fail, and synth fails with pip's own explanation.

The result lives under ``python-layers/<name>-<digest>/`` in the estate's build cache
(``infra/build_cache.py``: ``~/.cache/storage-estate`` unless configured, shared by every
clone and worktree on the machine), where ``<digest>`` is the SHA-256 of the requirements
file plus the target (platforms, Python, implementation): a later synth, in this checkout or
another, reuses it (no pip run), a changed pin or target builds a new one. Builds go
to a temporary sibling directory first and are renamed into place, so an interrupted pip run
never leaves a half-filled cache entry that later synths would trust.

Next to the folder, the same cache entry holds the layer as a zip (``<digest>.zip``, built
once, also renamed into place), and the asset is that one file with ``<digest>`` as its
asset hash. A folder asset would cost every synth a walk of its ~900 files: CDK fingerprints
the tree to name the asset, then copies it file by file into the assembly (and the CLI zips
it again at deploy). The digest already names the content (same pins, same target, same
wheels: pip only takes published wheels), so the tree never needs hashing; a single file is
copied in one call, and uploaded as it is.

Lambda puts ``/opt/python`` on ``sys.path``: that is why the packages go under ``python/``.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aws_cdk import AssetHashType, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.build_cache import cache_home, publish, used
from infra.constructs.lambda_target import ARCHITECTURE, RUNTIME

CACHE_ROOT = cache_home() / "python-layers"
# manylinux2014 (glibc 2.17) and manylinux_2_28: both run on Amazon Linux 2023 (glibc 2.34),
# the OS of the python3.14 runtime. Listing both lets pip pick whichever a project ships.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
PYTHON_VERSION = "3.14"  # must match RUNTIME
IMPLEMENTATION = "cp"
# The folder Lambda adds to sys.path for a Python layer.
LAYER_SUBDIR = "python"
_PIP_TAIL_LINES = 25
# Zip entries get this timestamp, so a rebuilt zip of the same folder has the same bytes.
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)
_NOT_PACKAGED = ("__pycache__", ".pyc")


class LayerBuildError(RuntimeError):
    """pip could not assemble the layer; the message says which file and what pip said."""


def cache_key(requirements: Path, platforms: Sequence[str] = PLATFORMS,
              python_version: str = PYTHON_VERSION,
              implementation: str = IMPLEMENTATION) -> str:
    """Digest of what decides the layer's content: the pins and the target machine."""
    digest = hashlib.sha256()
    digest.update(requirements.read_bytes())
    digest.update("\0".join([*platforms, python_version, implementation]).encode())
    return digest.hexdigest()[:32]


def pip_command(requirements: Path, target: Path, platforms: Sequence[str] = PLATFORMS,
                python_version: str = PYTHON_VERSION,
                implementation: str = IMPLEMENTATION) -> list[str]:
    platform_args = [arg for platform in platforms for arg in ("--platform", platform)]
    return [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-compile",  # .pyc of the build machine's Python would be dead weight
        "--only-binary=:all:", *platform_args,
        "--python-version", python_version, "--implementation", implementation,
        "--target", str(target), "-r", str(requirements),
    ]


def build_layer(requirements: Path, cache_root: Path = CACHE_ROOT,
                platforms: Sequence[str] = PLATFORMS, python_version: str = PYTHON_VERSION,
                implementation: str = IMPLEMENTATION, runner=subprocess.run) -> Path:
    """The layer's root folder (holding ``python/``), built once per cache key."""
    requirements = Path(requirements).resolve()
    if not requirements.is_file():
        raise LayerBuildError(f"layer requirements file {requirements} does not exist")
    key = cache_key(requirements, platforms, python_version, implementation)
    final = cache_root / f"{requirements.stem}-{key}"
    if (final / LAYER_SUBDIR).is_dir():
        return used(final)

    def pip_install(staging: Path) -> None:
        command = pip_command(requirements, staging / LAYER_SUBDIR, platforms,
                              python_version, implementation)
        result = runner(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            said = "\n".join((result.stderr or result.stdout or "").strip()
                             .splitlines()[-_PIP_TAIL_LINES:])
            raise LayerBuildError(
                f"pip could not build the Lambda layer from {requirements} for "
                f"{'/'.join(platforms)}, CPython {python_version} (exit {result.returncode}). "
                "Every package needs a wheel for that target (no source builds); "
                f"pip said:\n{said}")

    # A concurrent build of the same key is identical: whichever is renamed first stays.
    return publish(final, pip_install, complete=lambda f: (f / LAYER_SUBDIR).is_dir(),
                   prefix=f".{requirements.stem}-")


def build_layers(requirements: Sequence[Path]) -> list[Path]:
    """``build_layer`` for several requirements files side by side: on a first synth (a fresh
    clone) each pip run spends most of its time waiting on the package index, not the CPU."""
    with ThreadPoolExecutor(max_workers=max(len(requirements), 1)) as pool:
        return list(pool.map(build_layer, requirements))


def layer_zip(folder: Path) -> Path:
    """``<folder>.zip``: the layer folder's content (``python/...`` at the root, the layout
    Lambda unpacks into ``/opt``), built once and renamed into place."""
    final = folder.with_name(f"{folder.name}.zip")
    if final.is_file():
        return used(final)
    handle, staging = tempfile.mkstemp(prefix=f".{folder.name}-", suffix=".zip",
                                       dir=folder.parent)
    os.close(handle)
    try:
        with zipfile.ZipFile(staging, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            for path in sorted(folder.rglob("*")):
                relative = path.relative_to(folder)
                if path.is_dir() or any(part.endswith(_NOT_PACKAGED) for part in relative.parts):
                    continue
                entry = zipfile.ZipInfo(relative.as_posix(), date_time=_ZIP_DATE)
                entry.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(entry, path.read_bytes())
        os.replace(staging, final)
    finally:
        Path(staging).unlink(missing_ok=True)
    return final


class PythonLayer(Construct):
    """A layer for the estate's runtime and architecture, from one pinned requirements file."""

    def __init__(self, scope: Construct, construct_id: str, *, requirements: Path,
                 description: str, license_info: str | None = None) -> None:
        super().__init__(scope, construct_id)
        self.requirements = Path(requirements)
        self.folder = build_layer(self.requirements)
        self.zip = layer_zip(self.folder)
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            description=description,
            # The cache key names the content: no fingerprint of the tree (see above).
            code=lambda_.Code.from_asset(str(self.zip), asset_hash_type=AssetHashType.CUSTOM,
                                         asset_hash=self.folder.name),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            license=license_info,
            # Old versions stay until no function uses them; deleting one a deployed
            # function still names would break its next cold start.
            removal_policy=RemovalPolicy.RETAIN,
        )
