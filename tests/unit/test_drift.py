"""The drift check (tools.drift) against CloudFormation's real API shapes: botocore's Stubber
validates every request and response against the service model, so a wrong parameter name or
a response field CloudFormation does not send fails here."""
from __future__ import annotations

import io
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from tools.drift.cli import main
from tools.drift.detect import detect_region

TIME = "2026-12-01T00:00:00Z"


def _client():
    return boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def _stack(name: str, status: str = "UPDATE_COMPLETE") -> dict:
    return {"StackName": name, "StackStatus": status, "CreationTime": TIME}


def _describe(stubber: Stubber, *stacks: dict) -> None:
    stubber.add_response("describe_stacks", {"Stacks": list(stacks)}, {})


def _detect(stubber: Stubber, name: str, detection_id: str) -> None:
    stubber.add_response("detect_stack_drift", {"StackDriftDetectionId": detection_id},
                         {"StackName": name})


def _status(stubber: Stubber, detection_id: str, detection: str, drift: str | None = None,
            reason: str | None = None) -> None:
    response = {"StackId": f"arn:aws:cloudformation:us-east-1:111111111111:stack/{detection_id}/x",
                "StackDriftDetectionId": detection_id, "DetectionStatus": detection,
                "Timestamp": TIME}
    if drift:
        response["StackDriftStatus"] = drift
    if reason:
        response["DetectionStatusReason"] = reason
    stubber.add_response("describe_stack_drift_detection_status", response,
                         {"StackDriftDetectionId": detection_id})


def _drifts(stubber: Stubber, name: str, drifts: list[dict]) -> None:
    stubber.add_response("describe_stack_resource_drifts", {"StackResourceDrifts": drifts},
                         {"StackName": name,
                          "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]})


def _drift(logical_id: str, status: str, rtype: str = "AWS::S3::Bucket",
           properties: list[dict] | None = None) -> dict:
    drift = {"StackId": "arn:aws:cloudformation:us-east-1:111111111111:stack/dev-Assets/x",
             "LogicalResourceId": logical_id, "PhysicalResourceId": f"{logical_id.lower()}-phys",
             "ResourceType": rtype, "StackResourceDriftStatus": status, "Timestamp": TIME}
    if properties is not None:
        drift["PropertyDifferences"] = properties
    return drift


def test_only_live_stacks_of_the_environment_are_checked_and_polled_until_done():
    cfn, sleeps = _client(), []
    with Stubber(cfn) as stubber:
        _describe(stubber, _stack("dev-Assets"), _stack("prod-Assets"), _stack("delivery-dev"),
                  _stack("devtools-Build"), _stack("dev-Old", status="DELETE_COMPLETE"))
        _detect(stubber, "dev-Assets", "d1")
        _status(stubber, "d1", "DETECTION_IN_PROGRESS")
        _status(stubber, "d1", "DETECTION_COMPLETE", "DRIFTED")
        _drifts(stubber, "dev-Assets", [_drift("Logs", "DELETED"), _drift(
            "Assets", "MODIFIED", properties=[{
                "PropertyPath": "/VersioningConfiguration/Status", "ExpectedValue": "Enabled",
                "ActualValue": "Suspended", "DifferenceType": "NOT_EQUAL"}])])
        (result,) = detect_region(cfn, "us-east-1", "dev", poll_seconds=7, sleep=sleeps.append)
        stubber.assert_no_pending_responses()
    assert sleeps == [7]
    assert (result.name, result.status, result.problem) == ("dev-Assets", "DRIFTED", "")
    assert [(r.logical_id, r.status) for r in result.resources] == [
        ("Assets", "MODIFIED"), ("Logs", "DELETED")]
    (prop,) = result.resources[0].properties
    assert (prop.path, prop.expected, prop.actual, prop.kind) == (
        "/VersioningConfiguration/Status", "Enabled", "Suspended", "NOT_EQUAL")


def _run(tmp_path: Path, stub, *extra: str) -> tuple[int, str, str]:
    cfn = _client()
    out = io.StringIO()
    summary = tmp_path / "summary.md"
    with Stubber(cfn) as stubber:
        stub(stubber)
        code = main(["--env", "dev", "--region", "us-east-1", "--summary", str(summary), *extra],
                     client=lambda region: cfn, stdout=out, sleep=lambda _s: None)
        stubber.assert_no_pending_responses()
    return code, out.getvalue(), summary.read_text() if summary.exists() else ""


def test_drift_is_reported_in_the_job_summary_and_exits_1(tmp_path):
    def stub(stubber):
        _describe(stubber, _stack("dev-Assets"), _stack("dev-Cdn"))
        _detect(stubber, "dev-Assets", "a")
        _detect(stubber, "dev-Cdn", "c")
        _status(stubber, "a", "DETECTION_COMPLETE", "DRIFTED")
        _drifts(stubber, "dev-Assets", [_drift("Assets", "MODIFIED", properties=[{
            "PropertyPath": "/Tags/0/Value", "ExpectedValue": "dev", "ActualValue": "a|b",
            "DifferenceType": "NOT_EQUAL"}])])
        _status(stubber, "c", "DETECTION_COMPLETE", "IN_SYNC")
        _drifts(stubber, "dev-Cdn", [])
    code, out, summary = _run(tmp_path, stub)
    assert code == 1 and summary == out
    assert "⚠️ **1 resource(s) drifted**" in out
    assert "| `dev-Assets` | us-east-1 | ⚠️ DRIFTED | 1 |" in out
    assert "| `dev-Cdn` | us-east-1 | ✅ IN_SYNC | 0 |" in out
    assert "- **MODIFIED** `Assets` (AWS::S3::Bucket) `assets-phys`" in out
    assert "| `/Tags/0/Value` | NOT_EQUAL | dev | a\\|b |" in out


def _one_stack(detection: str, reason: str | None = None):
    """One stack `dev-Assets`, whose detection ends with ``detection`` and nothing drifted."""
    def stub(stubber):
        _describe(stubber, _stack("dev-Assets"))
        _detect(stubber, "dev-Assets", "a")
        _status(stubber, "a", detection, "IN_SYNC", reason=reason)
        _drifts(stubber, "dev-Assets", [])
    return stub


def test_everything_in_sync_exits_0(tmp_path):
    code, out, _ = _run(tmp_path, _one_stack("DETECTION_COMPLETE"))
    assert code == 0 and "✅ Every stack is in sync" in out


def test_failed_detection_keeps_partial_results_and_says_why(tmp_path):
    code, out, _ = _run(tmp_path, _one_stack(
        "DETECTION_FAILED", reason="Failed to detect drift on resource [Gate]: access denied"))
    assert code == 3 and "Failed to detect drift on resource [Gate]" in out


def test_a_detection_still_running_at_the_timeout_is_reported_incomplete(tmp_path):
    def stub(stubber):
        _describe(stubber, _stack("dev-Assets"))
        _detect(stubber, "dev-Assets", "a")
        for _ in range(3):
            _status(stubber, "a", "DETECTION_IN_PROGRESS")
    code, out, _ = _run(tmp_path, stub, "--poll-seconds", "5", "--timeout-seconds", "10")
    assert code == 3 and "still running after 10 s" in out


def test_no_stack_found_is_not_reported_as_in_sync(tmp_path):
    code, out, _ = _run(tmp_path, lambda stubber: _describe(stubber, _stack("prod-A")))
    assert code == 3 and "nothing was checked" in out


def test_an_aws_error_is_one_line_and_exit_3(tmp_path, capsys):
    def stub(stubber):
        _describe(stubber, _stack("dev-Assets"))
        stubber.add_client_error("detect_stack_drift", "AccessDenied", "not authorized",
                                 expected_params={"StackName": ANY})
    code, out, summary = _run(tmp_path, stub)
    assert code == 3 and out == "" and summary == ""
    assert "drift detection failed" in capsys.readouterr().err


def test_unknown_environment_is_a_usage_error_without_any_call(capsys):
    calls = []
    code = main(["--env", "staging"], client=calls.append)
    assert code == 2 and calls == [] and "'staging'" in capsys.readouterr().err


def test_default_regions_are_the_environments_regions():
    seen = []

    def client(region):
        seen.append(region)
        cfn = _client()
        stubber = Stubber(cfn)
        _describe(stubber, _stack("x"))
        stubber.activate()
        return cfn
    assert main(["--env", "dev"], client=client, stdout=io.StringIO()) == 3
    assert seen == ["us-east-1", "us-west-2"]


@pytest.mark.parametrize("argv", [[], ["--env", "dev", "--poll-seconds", "soon"]])
def test_bad_arguments_exit_2(argv, capsys):
    assert main(argv, client=lambda region: pytest.fail("no AWS call on bad input")) == 2


def test_drifted_resources_follow_next_token():
    from tools.drift.detect import drifted_resources

    cfn = _client()
    params = {"StackName": "dev-Assets", "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]}
    with Stubber(cfn) as stubber:
        stubber.add_response("describe_stack_resource_drifts", {
            "StackResourceDrifts": [_drift("B", "DELETED")], "NextToken": "page-2"}, params)
        stubber.add_response("describe_stack_resource_drifts", {
            "StackResourceDrifts": [_drift("A", "MODIFIED")]}, {**params, "NextToken": "page-2"})
        found = drifted_resources(cfn, "dev-Assets")
        stubber.assert_no_pending_responses()
    assert [r.logical_id for r in found] == ["A", "B"]


@pytest.mark.parametrize(("option", "value"), [
    ("--poll-seconds", "-1"), ("--poll-seconds", "0"), ("--poll-seconds", "nan"),
    ("--poll-seconds", "inf"), ("--timeout-seconds", "-5"), ("--timeout-seconds", "nan"),
    ("--timeout-seconds", "inf"),
])
def test_a_wait_that_could_never_end_is_a_usage_error_before_any_aws_call(
        option, value, capsys):
    code = main(["--env", "dev", "--region", "us-east-1", option, value],
                client=lambda region: pytest.fail("no AWS call on bad input"),
                sleep=lambda _s: pytest.fail("no wait on bad input"))
    err = capsys.readouterr().err
    assert code == 2, "2 is the usage error; 1 would say drift was found"
    assert "Traceback" not in err and f"argument {option}: {value!r}" in err


def test_a_timeout_of_0_still_checks_once_and_reports_incomplete(tmp_path):
    def stub(stubber):
        _describe(stubber, _stack("dev-Assets"))
        _detect(stubber, "dev-Assets", "a")
        _status(stubber, "a", "DETECTION_IN_PROGRESS")
    code, out, _ = _run(tmp_path, stub, "--timeout-seconds", "0")
    assert code == 3 and "still running after 0 s" in out


@pytest.mark.parametrize("bound", [{"poll_seconds": 0}, {"poll_seconds": float("nan")},
                                   {"timeout_seconds": float("inf")}])
def test_detect_region_refuses_a_wait_that_could_never_end(bound):
    with pytest.raises(ValueError, match=next(iter(bound))):
        detect_region(_client(), "us-east-1", "dev", sleep=lambda _s: None, **bound)


@pytest.mark.parametrize("summary", ["missing-folder/summary.md", "."])
def test_an_unwritable_summary_is_a_usage_error_before_any_aws_call(
        summary, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["--env", "dev", "--region", "us-east-1", "--summary", summary],
                client=lambda region: pytest.fail("no AWS call on bad input"))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "--summary" in err
    assert [p.name for p in tmp_path.iterdir()] == []
