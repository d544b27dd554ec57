"""tools.failover against stubbed AWS clients (botocore Stubber: no AWS call leaves the test)."""
from __future__ import annotations

import io

import boto3
import pytest
from botocore.stub import Stubber

from infra.environments import ENVIRONMENTS
from tools.failover.cli import main

CHECK = "11111111-2222-3333-4444-555555555555"
PROD = ENVIRONMENTS["prod"]()


def clients():
    cloudformation = boto3.client("cloudformation", region_name="us-east-1",
                                  aws_access_key_id="x", aws_secret_access_key="x")
    route53 = boto3.client("route53", region_name="us-east-1",
                           aws_access_key_id="x", aws_secret_access_key="x")
    return cloudformation, route53


def expect_reads(cf: Stubber, r53: Stubber, threshold: int, version: int = 7) -> None:
    cf.add_response("describe_stacks", {"Stacks": [{
        "StackName": "prod-UploadApi", "CreationTime": "2026-01-01T00:00:00Z",
        "StackStatus": "UPDATE_COMPLETE",
        "Outputs": [{"OutputKey": "UploadApiUrl", "OutputValue": "https://x"},
                    {"OutputKey": "WritesHealthCheckId", "OutputValue": CHECK}]}]},
        {"StackName": "prod-UploadApi"})
    r53.add_response("get_health_check", {"HealthCheck": {
        "Id": CHECK, "CallerReference": "ref", "HealthCheckVersion": version,
        "HealthCheckConfig": {"Type": "CALCULATED", "HealthThreshold": threshold,
                              "ChildHealthChecks": ["child"]}}}, {"HealthCheckId": CHECK})
    r53.add_response("list_tags_for_resource", {"ResourceTagSet": {
        "ResourceType": "healthcheck", "ResourceId": CHECK,
        "Tags": [{"Key": "Name", "Value": "justkalm-prod-writes-us-east-1"}]}},
        {"ResourceType": "healthcheck", "ResourceId": CHECK})


def expect_update(r53: Stubber, *, version: int, threshold: int) -> None:
    """The one change, made with the version read (a concurrent change fails it)."""
    r53.add_response("update_health_check", {"HealthCheck": {
        "Id": CHECK, "CallerReference": "ref", "HealthCheckVersion": version + 1,
        "HealthCheckConfig": {"Type": "CALCULATED", "HealthThreshold": threshold}}},
        {"HealthCheckId": CHECK, "HealthCheckVersion": version, "HealthThreshold": threshold})


def run(argv, cf_client, r53_client, answer="y", interactive=True):
    out, asked = io.StringIO(), []

    def ask(prompt):
        asked.append(prompt)
        return answer

    code = main(argv, cloudformation=cf_client, route53=r53_client, out=out, ask=ask,
                interactive=interactive)
    return code, out.getvalue(), asked


def test_failover_prints_the_change_asks_then_forces_the_primary_unhealthy():
    cf_client, r53_client = clients()
    with Stubber(cf_client) as cf, Stubber(r53_client) as r53:
        expect_reads(cf, r53, threshold=1, version=7)
        expect_update(r53, version=7, threshold=2)
        code, out, asked = run(["--env", "prod", "--region", "us-west-2"], cf_client, r53_client)
        r53.assert_no_pending_responses()
    assert code == 0
    assert asked == ["Change it? [y/N] "]
    assert "HealthThreshold 1 -> 2" in out
    assert f"after the change:                   {PROD.replica_region}" in out
    assert "uploads.justkalm.example" in out


def test_failback_restores_following_the_primary_without_a_question_under_yes():
    cf_client, r53_client = clients()
    with Stubber(cf_client) as cf, Stubber(r53_client) as r53:
        expect_reads(cf, r53, threshold=2, version=8)
        expect_update(r53, version=8, threshold=1)
        code, out, asked = run(["--env", "prod", "--failback", "--yes"],
                               cf_client, r53_client, interactive=False)
        r53.assert_no_pending_responses()
    assert (code, asked) == (0, [])
    assert "HealthThreshold 2 -> 1" in out


@pytest.mark.parametrize("threshold, argv, answer, asked, says", [
    # a "no" at the question
    (1, ["--region", "us-west-2"], "n", ["Change it? [y/N] "], "Nothing changed."),
    # already where it was asked to go
    (2, ["--region", "us-west-2"], "y", [], "nothing to change"),
    # --status only reads
    (2, ["--status"], "y", [], f"answers with: {PROD.replica_region}"),
])
def test_nothing_is_changed_when(threshold, argv, answer, asked, says):
    cf_client, r53_client = clients()
    with Stubber(cf_client) as cf, Stubber(r53_client) as r53:
        expect_reads(cf, r53, threshold=threshold)
        # no update_health_check stubbed: a call would raise
        code, out, questions = run(["--env", "prod", *argv], cf_client, r53_client,
                                   answer=answer)
    assert (code, questions) == (0, asked)
    assert says in out


def test_without_a_terminal_it_needs_yes(capsys):
    cf_client, r53_client = clients()
    with Stubber(cf_client) as cf, Stubber(r53_client) as r53:
        expect_reads(cf, r53, threshold=1)
        code, _, asked = run(["--env", "prod", "--region", "us-west-2"], cf_client, r53_client,
                             interactive=False)
    assert (code, asked) == (2, [])
    assert "pass --yes" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--env", "prod", "--region", "eu-west-1"], "has no write path"),
    (["--env", "dev", "--region", "us-west-2"], "no hosted zone"),
    (["--env", "nope", "--region", "us-west-2"], "invalid choice"),
    (["--env", "prod"], "one of the arguments --region --failback --status is required"),
    (["--env", "prod", "--region", "us-west-2", "--failback"], "not allowed with"),
])
def test_usage_errors_exit_2_with_one_line_and_no_aws_call(argv, message, capsys):
    cf_client, r53_client = clients()
    with Stubber(cf_client), Stubber(r53_client):  # any call would fail: nothing is stubbed
        code, _, _ = run(argv, cf_client, r53_client)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_an_aws_failure_exits_1_and_names_the_call(capsys):
    cf_client, r53_client = clients()
    with Stubber(cf_client) as cf, Stubber(r53_client):
        cf.add_client_error("describe_stacks", "ValidationError", "Stack does not exist")
        code, _, _ = run(["--env", "prod", "--region", "us-west-2"], cf_client, r53_client)
    assert code == 1
    assert "reading stack prod-UploadApi" in capsys.readouterr().err


def test_a_health_check_that_is_not_the_calculated_switch_is_refused(capsys):
    cf_client, r53_client = clients()
    with Stubber(cf_client) as cf, Stubber(r53_client) as r53:
        cf.add_response("describe_stacks", {"Stacks": [{
            "StackName": "prod-UploadApi", "CreationTime": "2026-01-01T00:00:00Z",
            "StackStatus": "UPDATE_COMPLETE",
            "Outputs": [{"OutputKey": "WritesHealthCheckId", "OutputValue": CHECK}]}]})
        r53.add_response("get_health_check", {"HealthCheck": {
            "Id": CHECK, "CallerReference": "ref", "HealthCheckVersion": 1,
            "HealthCheckConfig": {"Type": "HTTPS"}}})
        code, _, _ = run(["--env", "prod", "--region", "us-west-2"], cf_client, r53_client)
    assert code == 1
    assert "not the CALCULATED check" in capsys.readouterr().err
