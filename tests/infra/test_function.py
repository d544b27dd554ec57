"""EstateFunction, the one construct every Lambda of the estate is built with, tested once on
a fresh Stack (as aws-cdk's own module tests do); the functions' own tests only check what
their callers choose (memory, timeout, environment, permissions)."""
from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template
from helpers import only, resources

from infra.config import METRICS_NAMESPACE
from infra.constructs.function import HANDLER_PACKAGES_ID, EstateFunction

NAME = "probe-fn"
OWN = iam.PolicyStatement(sid="ReadOneObject", actions=["s3:GetObject"],
                          resources=["arn:aws:s3:::probe-bucket/one.txt"])


@pytest.fixture(scope="module")
def built() -> tuple[EstateFunction, dict]:
    stack = Stack(App(), "Probe", env=Environment(account="111111111111", region="us-east-1"))
    fn = EstateFunction(stack, "Fn", name=NAME, description="probe", handler="probe.handler",
                        memory_size=256, timeout=Duration.seconds(20),
                        environment={"MODE": "probe"}, reserved_concurrency=3,
                        log_retention_days=200, statements=[OWN])
    return fn, Template.from_stack(stack).to_json()


@pytest.fixture(scope="module")
def template(built) -> dict:
    return built[1]


def _function(template: dict) -> dict:
    return only(template, "AWS::Lambda::Function")[1]


def test_runs_python_3_14_on_arm64_with_what_the_caller_chose(template):
    props = _function(template)["Properties"]
    assert (props["Runtime"], props["Architectures"]) == ("python3.14", ["arm64"])
    assert (props["Handler"], props["MemorySize"], props["Timeout"]) == ("probe.handler", 256, 20)
    assert props["ReservedConcurrentExecutions"] == 3


def test_environment_is_the_callers_plus_the_powertools_service_and_namespace(template):
    variables = _function(template)["Properties"]["Environment"]["Variables"]
    assert variables == {"MODE": "probe", "POWERTOOLS_SERVICE_NAME": NAME,
                         "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE}


def test_runs_with_the_stacks_one_handler_packages_layer_built_for_its_target(template):
    [ref] = _function(template)["Properties"]["Layers"]
    layer = template["Resources"][ref["Ref"]]
    assert ref["Ref"].startswith(HANDLER_PACKAGES_ID)
    assert layer["Type"] == "AWS::Lambda::LayerVersion"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.14"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


def test_exposes_its_timeout_for_the_duration_alarm(built):
    fn, _ = built
    assert fn.timeout.to_seconds() == 20


def test_has_no_half_configured_tracing(template):
    assert "TracingConfig" not in _function(template)["Properties"]


def test_logs_to_its_own_named_encrypted_log_group_kept_at_least_the_asked_days(template):
    props = _function(template)["Properties"]
    group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
    group = template["Resources"][group_id]
    assert group["Properties"]["LogGroupName"] == f"/estate/lambda/{NAME}"
    assert group["Properties"]["RetentionInDays"] == 365  # the first offered value >= 200
    key_id = group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]
    assert template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    assert (group["DeletionPolicy"], group["UpdateReplacePolicy"]) == (
        "RetainExceptOnCreate", "Retain")


def test_role_is_for_lambda_and_holds_one_customer_managed_policy_only(template):
    role_id, role = only(template, "AWS::IAM::Role")
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": "sts:AssumeRole", "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"}}]
    assert "Policies" not in role["Properties"]
    assert "ManagedPolicyArns" not in role["Properties"]
    assert not resources(template, "AWS::IAM::Policy")  # no inline policy from implicit grants
    _, policy = only(template, "AWS::IAM::ManagedPolicy")
    assert policy["Properties"]["Roles"] == [{"Ref": role_id}]


def test_policy_is_the_callers_statements_plus_its_own_logs(template):
    _, policy = only(template, "AWS::IAM::ManagedPolicy")
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert set(statements) == {"ReadOneObject", "WriteOwnLogs"}
    group_id = _function(template)["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert statements["WriteOwnLogs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statements["WriteOwnLogs"]["Resource"] == {"Fn::GetAtt": [group_id, "Arn"]}


def test_function_waits_for_its_policy(template):
    policy_id, _ = only(template, "AWS::IAM::ManagedPolicy")
    assert policy_id in _function(template)["DependsOn"]
