"""AWS Control Tower's proactive controls (cfn-guard rules of @cdklabs/cdk-validator-cfnguard)
on every template of the assembly: each finding is on the accept-list, with its reason, and
each accepted control still fails somewhere (no stale entries)."""
from __future__ import annotations

import json

import pytest

from infra import control_tower
from infra.constructs.encryption import GRANTS_ONLY_FOR_AWS_SERVICES


@pytest.fixture(scope="module")
def guard_root():
    return control_tower.unpacked()


@pytest.fixture(scope="module")
def findings(estate, guard_root):
    templates = [estate.stack(env, stack_id).template_file
                 for env in estate.stages for stack_id in estate.stack_ids(env)]
    return control_tower.check(templates, guard_root)


def test_every_finding_is_on_the_accept_list(findings):
    assert [f for f in findings if not f.accepted()] == []


def test_every_accepted_control_still_fails_somewhere(findings):
    failing = {f.control for f in findings}
    assert sorted(set(control_tower.ACCEPTED) - failing) == []


def test_every_accepted_control_is_a_control_of_the_pack_with_a_reason(guard_root):
    known = control_tower.controls(guard_root)
    for control, entry in control_tower.ACCEPTED.items():
        assert control in known, control
        assert len(entry.reason) > 60 and entry.resources, control


def test_the_key_grant_control_is_not_accepted_and_checks_every_key(estate, findings):
    assert "CT.KMS.PR.3" not in control_tower.ACCEPTED
    assert [f for f in findings if f.control.startswith("CT.KMS.")] == []
    keys = sum(1 for env in estate.stages for stack_id in estate.stack_ids(env)
               for r in estate.template_json(env, stack_id)["Resources"].values()
               if r["Type"] == "AWS::KMS::Key")
    assert keys >= 16


def _key_template(condition: dict) -> dict:
    statement = {"Sid": "GrantsOnlyForAwsResources", "Effect": "Deny", "Principal": {"AWS": "*"},
                 "Action": "kms:CreateGrant", "Resource": "*", "Condition": condition}
    admin = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
             "Action": "kms:*", "Resource": "*"}
    return {"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {
        "EnableKeyRotation": True,
        "KeyPolicy": {"Version": "2012-10-17", "Statement": [admin, statement]}}}}}


@pytest.mark.parametrize("condition,fails", [
    (GRANTS_ONLY_FOR_AWS_SERVICES, False),
    # The estate's earlier deny: Bool on the grant key alone.
    ({"Bool": {"kms:GrantIsForAWSResource": "false"}}, True),
    ({"BoolIfExists": {"kms:GrantIsForAWSResource": "false"}}, True),
], ids=["estate", "bool-grant-key-only", "without-principal-is-service"])
def test_the_grant_control_tells_the_estate_statement_from_weaker_ones(
        tmp_path, guard_root, condition, fails):
    template = tmp_path / "key.template.json"
    template.write_text(json.dumps(_key_template(condition)))
    controls = {f.control for f in control_tower.check([template], guard_root)}
    assert ("CT.KMS.PR.3" in controls) is fails
