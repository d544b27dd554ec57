"""Synthesize each shipped environment once per test session (policy packs applied).

`estate` gives the synthesized Stage objects; `template(env, stack)` gives an
`aws_cdk.assertions.Template` read from the synthesized assembly, so a test never
re-synthesizes. Tests that need a variant config build their own small app.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.environments import ENVIRONMENTS
from infra.nag import apply_policy_packs
from infra.stage import EstateStage

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"


def cdk_json_context() -> dict:
    """The feature flags `cdk synth` passes: tests synthesize what the CLI synthesizes."""
    return json.loads(CDK_JSON.read_text())["context"]


class SynthesizedEstate:
    def __init__(self, outdir: Path) -> None:
        self.app = App(outdir=str(outdir), context=cdk_json_context())
        self.stages = {name: EstateStage(self.app, make()) for name, make in ENVIRONMENTS.items()}
        apply_policy_packs(self.app)
        self.assembly = self.app.synth()  # raises on any unacknowledged policy finding
        self._templates: dict[tuple[str, str], Template] = {}

    def stack(self, env: str, stack_id: str):
        return self.stages[env].node.find_child(stack_id)

    def template_json(self, env: str, stack_id: str) -> dict:
        stack = self.stack(env, stack_id)
        stage_assembly = self.assembly.get_nested_assembly(f"assembly-{env}")
        return stage_assembly.get_stack_artifact(stack.artifact_id).template

    def template(self, env: str, stack_id: str) -> Template:
        key = (env, stack_id)
        if key not in self._templates:
            self._templates[key] = Template.from_json(self.template_json(env, stack_id))
        return self._templates[key]

    def dependencies(self, env: str, stack_id: str) -> list[str]:
        return [s.node.id for s in self.stack(env, stack_id).dependencies]

    def stack_ids(self, env: str) -> list[str]:
        return [s.node.id for s in self.stages[env].stacks]


@pytest.fixture(scope="session")
def estate(tmp_path_factory) -> SynthesizedEstate:
    return SynthesizedEstate(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def dev_config():
    return ENVIRONMENTS["dev"]()


@pytest.fixture(scope="session")
def prod_config():
    return ENVIRONMENTS["prod"]()


def resources_of(template_json: dict, cfn_type: str) -> dict[str, dict]:
    return {k: v for k, v in template_json["Resources"].items() if v["Type"] == cfn_type}


def dumps(value) -> str:
    return json.dumps(value, sort_keys=True)
