"""The synthesized estate, read from the one cloud assembly the pinned CLI produced for this
session (``tests/estate_synth.py``).

``estate.template_json(env, stack)`` / ``estate.template(env, stack)`` give a stack's template,
``estate.stack(env, stack)`` its manifest entry (region, termination protection,
dependencies), ``estate.stages[env].cfg`` the environment's config, and
``estate.acknowledgements()`` every policy-pack acknowledgement the synth recorded. Tests that
need a variant config or construct objects build a small fresh Stack of their own.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace

import estate_synth
import pytest
from aws_cdk.assertions import Template

from infra.environments import ENVIRONMENTS

ACKNOWLEDGED = "aws:cdk:acknowledged-rules"


@dataclass(frozen=True)
class StackInfo:
    """One stack artifact of the assembly, as its manifest describes it."""

    env: str
    stack_id: str  # the construct id inside the stage, e.g. "Cdn"
    artifact_id: str
    account: str
    region: str
    termination_protection: bool
    dependency_ids: tuple[str, ...]  # stack ids in the same stage
    directory: Path

    @property
    def template_file(self) -> Path:
        return self.directory / f"{self.artifact_id}.template.json"


class SynthesizedEstate:
    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir
        self.stages = {name: SimpleNamespace(cfg=make()) for name, make in ENVIRONMENTS.items()}
        self._stacks: dict[str, dict[str, StackInfo]] = {
            env: self._read_stage(env) for env in self.stages}
        self._json: dict[tuple[str, str], dict] = {}
        self._templates: dict[tuple[str, str], Template] = {}

    def _read_stage(self, env: str) -> dict[str, StackInfo]:
        directory = self.outdir / f"assembly-{env}"
        artifacts = json.loads((directory / "manifest.json").read_text())["artifacts"]
        stacks = {aid: a for aid, a in artifacts.items() if a["type"] == "aws:cloudformation:stack"}
        ids = {aid: a["displayName"].split("/", 1)[1] for aid, a in stacks.items()}
        found = {}
        for aid, artifact in stacks.items():
            account, region = artifact["environment"].removeprefix("aws://").split("/")
            found[ids[aid]] = StackInfo(
                env=env, stack_id=ids[aid], artifact_id=aid, account=account, region=region,
                termination_protection=artifact["properties"].get("terminationProtection", False),
                dependency_ids=tuple(ids[d] for d in artifact.get("dependencies", ()) if d in ids),
                directory=directory)
        return found

    def stack(self, env: str, stack_id: str) -> StackInfo:
        return self._stacks[env][stack_id]

    def stack_ids(self, env: str) -> list[str]:
        return list(self._stacks[env])

    def dependencies(self, env: str, stack_id: str) -> list[str]:
        return list(self.stack(env, stack_id).dependency_ids)

    def template_json(self, env: str, stack_id: str) -> dict:
        key = (env, stack_id)
        if key not in self._json:
            self._json[key] = json.loads(self.stack(env, stack_id).template_file.read_text())
        return self._json[key]

    def template(self, env: str, stack_id: str) -> Template:
        key = (env, stack_id)
        if key not in self._templates:
            self._templates[key] = Template.from_json(self.template_json(env, stack_id))
        return self._templates[key]

    def metadata(self, env: str, stack_id: str) -> dict[str, list[dict]]:
        """The construct metadata the synth recorded for a stack: construct path → entries."""
        info = self.stack(env, stack_id)
        return json.loads((info.directory / f"{info.artifact_id}.metadata.json").read_text())

    def acknowledgements(self) -> list[tuple[str, str, str]]:
        """(construct path, pack::rule, reason) for every acknowledgement, like
        ``infra.nag.acknowledgements(app)``."""
        found = []
        for env in self.stages:
            for stack_id in self.stack_ids(env):
                for path, entries in self.metadata(env, stack_id).items():
                    for entry in entries:
                        if entry["type"] == ACKNOWLEDGED:
                            found.extend((path.lstrip("/"), rule, reason)
                                         for rule, reason in entry["data"].items())
        return found

    @cached_property
    def assembly(self):
        """The assembly as aws-cdk's cx_api reads it (loaded only by the tests that use it)."""
        from aws_cdk import cx_api

        return cx_api.CloudAssembly(str(self.outdir))


@pytest.fixture(scope="session")
def estate() -> SynthesizedEstate:
    return SynthesizedEstate(estate_synth.assembly())


@pytest.fixture(scope="session")
def dev_config():
    return ENVIRONMENTS["dev"]()


@pytest.fixture(scope="session")
def prod_config():
    return ENVIRONMENTS["prod"]()


# The upload gate is on in some environments (prod) and off in others (dev): S3 notifications
# feed the queue consumers where it is off, the gate's clean verdicts where it is on.
@pytest.fixture(params=[e for e, make in ENVIRONMENTS.items() if not make().upload_gate.enabled])
def ungated_env(request):
    return request.param


@pytest.fixture(params=[e for e, make in ENVIRONMENTS.items() if make().upload_gate.enabled])
def gated_env(request):
    return request.param
