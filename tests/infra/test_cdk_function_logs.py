"""Every Lambda function in the estate — CDK's own custom-resource functions included — logs
to a named, encrypted log group whose logs expire."""
from __future__ import annotations

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from helpers import resources

from infra.constructs.cdk_function_logs import give_cdk_functions_log_groups

ENVS = ["dev", "prod"]


def _function_log_groups(template: dict) -> dict[str, dict]:
    """function logical id -> the log group resource its LoggingConfig names."""
    groups = resources(template, "AWS::Logs::LogGroup")
    found = {}
    for function_id, function in resources(template, "AWS::Lambda::Function").items():
        ref = function["Properties"].get("LoggingConfig", {}).get("LogGroup", {})
        found[function_id] = groups.get(ref.get("Ref")) if isinstance(ref, dict) else None
    return found


@pytest.mark.parametrize("env", ENVS)
def test_every_function_logs_to_an_encrypted_group_that_expires(estate, env):
    functions = 0
    for stack_id in estate.stack_ids(env):
        for function_id, group in _function_log_groups(
                estate.template_json(env, stack_id)).items():
            functions += 1
            where = f"{stack_id}/{function_id}"
            assert group is not None, f"{where} logs to an implicit /aws/lambda group"
            assert group["Properties"]["RetentionInDays"] > 0, where
            assert "KmsKeyId" in group["Properties"], where
    assert functions >= 2


def test_cdk_cross_region_reference_functions_get_a_log_group_with_retention(tmp_path):
    # Cross-region references create CDK's SSM writer and reader functions while references
    # are resolved, after every Aspect: the case the validation hook exists for.
    app = App(outdir=str(tmp_path))
    producer = Stack(app, "Producer", env=Environment(account="111111111111", region="us-east-1"),
                     cross_region_references=True)
    bucket = s3.Bucket(producer, "Bucket")
    consumer = Stack(app, "Consumer", env=Environment(account="111111111111", region="us-west-2"),
                     cross_region_references=True)
    s3.CfnBucket(consumer, "Named", bucket_name=f"{bucket.bucket_name}-copy")
    give_cdk_functions_log_groups(app, retention_days=30,
                                  log_group_name=lambda stack, fn: f"/test/{stack}/{fn}")
    assembly = app.synth()
    names = set()
    for stack in (producer, consumer):
        template = Template.from_json(assembly.get_stack_artifact(stack.artifact_id).template)
        groups = _function_log_groups(template.to_json())
        assert groups and all(g is not None for g in groups.values()), groups
        for group in groups.values():
            assert group["Properties"]["RetentionInDays"] == 30
            names.add(group["Properties"]["LogGroupName"])
    assert names == {"/test/Producer/cross-region-export-writer",
                     "/test/Consumer/cross-region-export-reader"}
