"""cdk-nag AWS Solutions and NIST 800-53 R5 run on every synth, with every finding either
fixed or acknowledged precisely, on the resource, with a reason."""
from __future__ import annotations

import json
import re

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_s3 as s3

from infra.nag import PACKS, acknowledge, apply_policy_packs


def test_every_environment_synthesizes_with_no_unacknowledged_finding(estate):
    # The session's `cdk synth` ran app.py, which applies both packs: an open finding would
    # have failed it. Every environment is in the assembly, with its stacks, and the accounts'
    # GitHub trust (stage `delivery`).
    manifest = json.loads((estate.outdir / "manifest.json").read_text())
    assert {a for a in manifest["artifacts"] if a.startswith("assembly-")} == {
        "assembly-dev", "assembly-prod", "assembly-delivery"}
    assert all(estate.stack_ids(env) for env in ("dev", "prod"))


def _probe_app(*, enforce_ssl: bool) -> App:
    """A bucket compliant with both packs except, optionally, TLS enforcement."""
    app = App()
    stack = Stack(app, "Probe", env=Environment(account="111111111111", region="us-east-1"))
    bucket = s3.Bucket(stack, "Bucket", enforce_ssl=enforce_ssl, versioned=True,
                       encryption=s3.BucketEncryption.S3_MANAGED,
                       block_public_access=s3.BlockPublicAccess.BLOCK_ALL)
    acknowledge(bucket, {
        "AwsSolutions-S1": "probe bucket in a unit test; it is never deployed",
        "NIST.800.53.R5-S3BucketLoggingEnabled": "probe bucket in a unit test; never deployed",
        "NIST.800.53.R5-S3BucketReplicationEnabled": "probe bucket in a unit test; never deployed",
        "NIST.800.53.R5-S3DefaultEncryptionKMS": "probe bucket in a unit test; never deployed",
    })
    apply_policy_packs(app)
    return app


def test_the_compliant_probe_bucket_synthesizes():
    _probe_app(enforce_ssl=True).synth()


def test_a_bucket_without_tls_enforcement_makes_synth_fail_on_both_packs():
    with pytest.raises(RuntimeError) as failure:
        _probe_app(enforce_ssl=False).synth()
    report = str(failure.value)
    assert "AwsSolutions::AwsSolutions-S10" in report
    assert "NIST.800.53.R5::NIST.800.53.R5-S3BucketSSLRequestsOnly" in report
    assert report.count("ERROR") == 2


def test_acknowledging_needs_a_real_reason():
    stack = Stack(App(), "Probe")
    with pytest.raises(ValueError, match="needs a real reason"):
        acknowledge(stack, {"AwsSolutions-S1": "ok"})


def test_acknowledging_an_unknown_pack_is_refused():
    stack = Stack(App(), "Probe")
    with pytest.raises(ValueError, match="is not a rule of the packs"):
        acknowledge(stack, {"Serverless-LambdaTracing": "a reason long enough to pass"})


def test_no_acknowledgement_sits_on_a_stack_or_stage(estate):
    roots = {env for env in ("dev", "prod")} | {
        f"{env}/{stack_id}" for env in ("dev", "prod") for stack_id in estate.stack_ids(env)}
    for path, rule, _ in estate.acknowledgements():
        assert path not in roots, f"{rule} acknowledged for a whole stack/stage at {path}"


def test_wildcard_findings_are_acknowledged_one_resource_at_a_time(estate):
    for path, rule, _ in estate.acknowledgements():
        if "IAM5" in rule:
            assert re.search(r"IAM5\[(Resource|Action)::.+\]$", rule), (path, rule)


def test_every_acknowledgement_names_a_pack_rule_and_gives_a_reason(estate):
    found = estate.acknowledgements()
    assert found
    for path, rule, reason in found:
        pack = rule.split("::", 1)[0]
        assert pack in PACKS, (path, rule)
        assert len(reason) >= 20, (path, rule)
