"""Read cloud assemblies (cdk.out folders) and synthesize revisions into them.

A committed revision is synthesized once: its assembly is kept under
``<repo>/.review/assemblies/<commit>-<toolchain>/`` (gitignored), where ``<toolchain>`` names
the Python and aws-cdk-lib that produced it, and the next review of that commit reads it
there (the base of a branch is reviewed again and again). The newest ``KEPT_ASSEMBLIES`` stay.
The working tree is never cached: it changes between runs.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CACHE = Path(".review") / "assemblies"
KEPT_ASSEMBLIES = 6
# What the review cannot vary per side: both revisions are synthesized with the running
# interpreter's packages (the head's), so a change to these pins is invisible to the diff.
TOOLCHAIN_FILES = ("requirements.txt", "requirements-dev.txt")
# uv, which installs them, also reads its settings from these (docs.astral.sh/uv, configuration
# files): an index or an override there changes what is installed as much as a pin does.
UV_CONFIG_FILES = ("uv.toml", "pyproject.toml")


class ReviewError(Exception):
    """A usage or synthesis problem: the CLI prints it and exits 1."""


@dataclass(frozen=True)
class StackTemplate:
    name: str  # display name such as "dev/Assets": what pairs a stack across revisions
    artifact_id: str
    template: dict[str, Any]
    region: str | None = None  # from the artifact's environment (aws://account/region)


def load_assembly(outdir: Path) -> dict[str, StackTemplate]:
    """Every stack of an assembly, nested (one per Stage) assemblies included, by display name."""
    manifest_path = outdir / "manifest.json"
    if not manifest_path.is_file():
        raise ReviewError(f"{outdir} is not a cloud assembly (no manifest.json)")
    manifest = _json_object(manifest_path)
    artifacts = manifest.get("artifacts", {})
    if not isinstance(artifacts, dict):
        raise ReviewError(f"{manifest_path}: \"artifacts\" is not an object")
    stacks: dict[str, StackTemplate] = {}
    for artifact_id, artifact in artifacts.items():
        if not isinstance(artifact, dict):
            raise ReviewError(f"{manifest_path}: artifact {artifact_id!r} is not an object")
        props = artifact.get("properties", {})
        if artifact.get("type") == "aws:cloudformation:stack":
            # Artifact ids carry a hash of the construct path; the display name is the readable path.
            name = artifact.get("displayName") or artifact_id
            template_path = outdir / _artifact_file(manifest_path, artifact_id, props,
                                                    "templateFile")
            if not template_path.is_file():
                raise ReviewError(f"{manifest_path}: artifact {artifact_id!r} names "
                                  f"{template_path.name}, which is not in the assembly")
            template = _json_object(template_path)
            environment = artifact.get("environment", "")
            region = environment.rpartition("/")[2] if isinstance(environment, str) else ""
            stacks[name] = StackTemplate(name, artifact_id, template,
                                         region if region and region != "unknown-region" else None)
        elif artifact.get("type") == "cdk:cloud-assembly":
            stacks.update(load_assembly(
                outdir / _artifact_file(manifest_path, artifact_id, props, "directoryName")))
    return stacks


def _json_object(path: Path) -> dict[str, Any]:
    """A JSON object read from ``path``; anything else is a ReviewError naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ReviewError(f"cannot read {path}: {error}") from None
    except json.JSONDecodeError as error:
        raise ReviewError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ReviewError(f"{path} is not a JSON object")
    return data


def _artifact_file(manifest_path: Path, artifact_id: str, props: object, key: str) -> str:
    """``properties[key]`` of an artifact: the file or folder it names in the assembly."""
    value = props.get(key) if isinstance(props, dict) else None
    if not isinstance(value, str) or not value:
        raise ReviewError(f"{manifest_path}: artifact {artifact_id!r} has no properties.{key}")
    return value


def _cli_context(app_dir: Path) -> dict[str, Any]:
    """The context `cdk synth` would pass: cdk.context.json overlaid by cdk.json's "context".

    Running app.py directly skips the CLI, so without this the feature flags in cdk.json
    would be missing and the templates would differ from what `cdk deploy` ships.
    """
    context: dict[str, Any] = {}
    for name, key in (("cdk.context.json", None), ("cdk.json", "context")):
        path = app_dir / name
        if path.is_file():
            data = json.loads(path.read_text())
            context.update(data.get(key, {}) if key else data)
    return context


def synthesize(app_dir: Path, outdir: Path, python: str = sys.executable) -> Path:
    """Run `<python> app.py` in app_dir with CDK_OUTDIR=outdir; return outdir."""
    if not (app_dir / "app.py").is_file():
        raise ReviewError(f"no app.py in {app_dir}")
    env = {
        **os.environ,
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps(_cli_context(app_dir)),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        # The review compares templates; whether they are valid CloudFormation is the test
        # suite's question (infra/nag.py), and CDK's validator would double each synth.
        "CDK_VALIDATION": "false",
    }
    proc = subprocess.run([python, "app.py"], cwd=app_dir, env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
        raise ReviewError(f"synthesis failed in {app_dir} (exit {proc.returncode}):\n{tail}")
    if not (outdir / "manifest.json").is_file():
        raise ReviewError(f"app.py in {app_dir} wrote no cloud assembly (does it call app.synth()?)")
    return outdir


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)


def repo_root(start: Path) -> Path:
    proc = _git(start, "rev-parse", "--show-toplevel")
    if proc.returncode != 0:
        raise ReviewError(f"{start} is not inside a git repository")
    return Path(proc.stdout.strip())


def resolve_commit(repo: Path, ref: str) -> str | None:
    proc = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    return proc.stdout.strip() if proc.returncode == 0 else None


def default_base(repo: Path) -> str:
    """origin/main when the remote branch is known, else main, else HEAD."""
    return next((ref for ref in ("origin/main", "main") if resolve_commit(repo, ref)), "HEAD")


@contextmanager
def worktree(repo: Path, ref: str) -> Iterator[Path]:
    """A detached worktree of ref in a temporary folder, removed afterwards whatever happens."""
    commit = resolve_commit(repo, ref)
    if commit is None:
        raise ReviewError(f"unknown git revision: {ref}")
    holder = Path(tempfile.mkdtemp(prefix="review-worktree-"))
    path = holder / "src"
    added = _git(repo, "worktree", "add", "--detach", str(path), commit)
    if added.returncode != 0:
        shutil.rmtree(holder, ignore_errors=True)
        raise ReviewError(f"git worktree add failed for {ref}: {added.stderr.strip()}")
    try:
        yield path
    finally:
        # --force: synthesis leaves untracked files (__pycache__) that would block a plain remove.
        if _git(repo, "worktree", "remove", "--force", str(path)).returncode != 0:
            shutil.rmtree(holder, ignore_errors=True)
            _git(repo, "worktree", "prune")  # drop the bookkeeping of the folder just deleted
        shutil.rmtree(holder, ignore_errors=True)


def _toolchain(python: str) -> str:
    """What besides the commit decides its templates: the interpreter and its aws-cdk-lib."""
    probe = subprocess.run([python, "-c", "from importlib.metadata import version; "
                            "print(version('aws-cdk-lib'))"],
                           capture_output=True, text=True, check=False)
    return hashlib.sha256(f"{python}\0{probe.stdout.strip()}".encode()).hexdigest()[:12]


def cached_assembly(repo: Path, commit: str, python: str = sys.executable) -> Path:
    """Where the assembly of ``commit`` is kept (it exists when it has a manifest.json)."""
    return repo / CACHE / f"{commit}-{_toolchain(python)}"


def _prune(cache: Path) -> None:
    kept = sorted((p for p in cache.iterdir() if not p.name.startswith(".")),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in kept[KEPT_ASSEMBLIES:]:
        shutil.rmtree(stale, ignore_errors=True)


def synthesize_ref(repo: Path, ref: str, python: str = sys.executable) -> Path | None:
    """The assembly of ref, synthesized in a temporary worktree unless a review already did;
    None when that revision has no app.py yet."""
    commit = resolve_commit(repo, ref)
    if commit is None:
        raise ReviewError(f"unknown git revision: {ref}")
    final = cached_assembly(repo, commit, python)
    if (final / "manifest.json").is_file():
        os.utime(final)  # most recently used: the last to be pruned
        return final
    with worktree(repo, commit) as path:
        if not (path / "app.py").is_file():
            return None  # e.g. the base of the change that introduces the app
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".synth-", dir=final.parent))
        try:
            synthesize(path, staging, python)
            os.replace(staging, final)  # whole or not at all; a concurrent twin is identical
        except OSError:
            if not (final / "manifest.json").is_file():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    _prune(final.parent)
    return final


_NAMED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(.*)$", re.DOTALL)
_INCLUDE = re.compile(r"^(?:-r|-c|--requirement|--constraint)(?:\s+|=)(\S+)$")


def _requirement(line: str) -> str:
    """One requirement as pip reads it, spelled one way: the name lower-cased with runs of
    ``-_.`` as one ``-`` (PEP 503), no whitespace before its markers, the markers' spacing
    collapsed. ``Pillow==13.0`` and ``pillow == 13.0`` are the same pin."""
    spec, semicolon, markers = line.partition(";")
    spec = "".join(spec.split())
    named = _NAMED.match(spec)
    if named and not spec.startswith("-"):
        spec = re.sub(r"[-_.]+", "-", named.group(1)).lower() + named.group(2)
    return spec + (";" + " ".join(markers.split()) if semicolon else "")


def pins(text: str | None, read: Any, seen: frozenset[str] = frozenset()) -> list[str] | None:
    """What pip installs from a requirements file, comparable: its logical lines (backslash
    continuations joined, so a ``--hash`` stays with its package), comments dropped where pip
    drops them (a ``#`` at the start or after whitespace; a URL's ``#sha256=`` fragment is
    kept), each requirement spelled one way, in no order, and the pins of every ``-r``/``-c``
    file it includes, read with ``read(name)`` (None: no such file)."""
    if text is None:
        return None
    found: list[str] = []
    for line in text.replace("\\\n", " ").splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if not line:
            continue
        included = _INCLUDE.match(line)
        if included and included.group(1) not in seen:
            name = included.group(1)
            found += [f"{name}: {pin}" for pin in
                      pins(read(name), read, seen | {name}) or ["(missing)"]]
        else:
            found.append(_requirement(line))
    return sorted(found)


def _file_at(repo: Path, commit: str | None, name: str) -> str | None:
    """``name`` at ``commit``, or in the working tree when ``commit`` is None; None if absent."""
    if commit is None:
        path = repo / name
        return path.read_text(encoding="utf-8") if path.is_file() else None
    proc = _git(repo, "show", f"{commit}:{name}")
    return proc.stdout if proc.returncode == 0 else None


def toolchain_changes(repo: Path, base: str, head: str | None) -> list[str]:
    """The TOOLCHAIN_FILES whose pins differ between the commits ``base`` and ``head`` (None:
    the working tree). The base is synthesized with the head's interpreter and libraries, so
    when they differ, what an upgrade changes in the templates cannot be seen by comparing
    them. A base without app.py is an empty estate: nothing of it is synthesized."""
    if _file_at(repo, base, "app.py") is None:
        return []
    def at(commit: str | None):
        return lambda name: _file_at(repo, commit, name)

    # Each file's own includes are followed, except the files compared on their own here.
    compared = frozenset(TOOLCHAIN_FILES)
    changed = [name for name in TOOLCHAIN_FILES
               if pins(at(base)(name), at(base), compared)
               != pins(at(head)(name), at(head), compared)]
    # uv reads these from the working folder too (index, overrides): any change counts.
    return changed + [name for name in UV_CONFIG_FILES
                      if _file_at(repo, base, name) != _file_at(repo, head, name)]
