"""The assembly every infra test reads is the pinned CLI's `cdk synth` (the README's first
command): every environment, every stack, with CDK's own bookkeeping in place."""
from __future__ import annotations

import json


def test_cli_synthesizes_every_environment(estate):
    manifest = json.loads((estate.outdir / "manifest.json").read_text())
    assert {"assembly-dev", "assembly-prod"} <= set(manifest["artifacts"])


def test_templates_read_by_the_tests_are_the_clis_output(estate):
    # Only the CLI adds construct-path metadata and the CDKMetadata resource (an in-process
    # App does not): the tests see the CLI's templates, not a second synthesis.
    for env in ("dev", "prod"):
        for stack_id in estate.stack_ids(env):
            resources = estate.template_json(env, stack_id)["Resources"]
            assert any(r["Type"] == "AWS::CDK::Metadata" for r in resources.values()), stack_id
            assert all("aws:cdk:path" in r.get("Metadata", {}) for r in resources.values()), \
                stack_id
