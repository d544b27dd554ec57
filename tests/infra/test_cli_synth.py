"""`cdk synth` through the project's pinned CLI (the README's first command) synthesizes every
environment with the policy packs, and produces exactly the templates the tests assert on."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"


@pytest.fixture(scope="module")
def cli_out(tmp_path_factory) -> Path:
    if not CDK.exists():
        pytest.fail("node_modules/.bin/cdk is missing: run `make install` (npm ci installs the pinned CLI)")
    out = tmp_path_factory.mktemp("cli.out")
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
           "CDK_DISABLE_VERSION_CHECK": "true", "CDK_DISABLE_CLI_TELEMETRY": "true"}
    result = subprocess.run([str(CDK), "synth", "--quiet", "--output", str(out)], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _without_cli_metadata(template: dict) -> dict:
    """Drop what only the CLI adds: construct-path metadata and the CDKMetadata resource."""
    resources = {k: {f: v for f, v in r.items() if f != "Metadata"}
                 for k, r in template["Resources"].items() if r["Type"] != "AWS::CDK::Metadata"}
    conditions = {k: v for k, v in template.get("Conditions", {}).items()
                  if k != "CDKMetadataAvailable"}
    return {**template, "Resources": resources, "Conditions": conditions}


def test_cli_synthesizes_every_environment(cli_out):
    manifest = json.loads((cli_out / "manifest.json").read_text())
    assert {"assembly-dev", "assembly-prod"} <= set(manifest["artifacts"])


def test_cli_templates_are_the_ones_the_tests_assert_on(cli_out, estate):
    for env in ("dev", "prod"):
        for stack_id in estate.stack_ids(env):
            artifact = estate.stack(env, stack_id).artifact_id
            cli_template = json.loads(
                (cli_out / f"assembly-{env}" / f"{artifact}.template.json").read_text())
            assert _without_cli_metadata(cli_template) == _without_cli_metadata(
                estate.template_json(env, stack_id)), f"{env}/{stack_id}"
