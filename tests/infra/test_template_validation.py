"""CDK's CloudFormation validation is opt-in (`-c validate-templates=true`): off for `make synth`,
on for the suite's synth, `make diff` and `make deploy` — and when on, it really rejects."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, CfnResource, Stack

from infra.nag import TEMPLATE_VALIDATION_CONTEXT, apply_template_validation

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"


def _app_with_an_invalid_bucket(context: dict) -> App:
    # Built like app.py, with cdk.json's feature flags (validateAgainstDefaultRules makes the
    # validator's findings errors): CDK's default instance off, the context decides.
    flags = json.loads(CDK_JSON.read_text())["context"]
    app = App(context={**flags, **context}, builtin_cloud_formation_validation=False)
    CfnResource(Stack(app, "Probe"), "Bucket", type="AWS::S3::Bucket",
                properties={"NoSuchProperty": 1})
    return app


def test_without_the_context_synth_does_not_validate_templates():
    app = _app_with_an_invalid_bucket({})
    assert apply_template_validation(app) is False
    app.synth()  # the invalid property passes: nothing validated it


def test_with_the_context_synth_rejects_an_invalid_template():
    # tests/conftest.py sets CDK_VALIDATION=false for test processes: that only turns off
    # CDK's default instance, not the one this registers (which the suite's synth relies on).
    app = _app_with_an_invalid_bucket({TEMPLATE_VALIDATION_CONTEXT: "true"})
    assert apply_template_validation(app) is True
    with pytest.raises(Exception, match="NoSuchProperty"):
        app.synth()
