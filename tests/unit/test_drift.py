"""The drift check (tools.drift) against CloudFormation's real API shapes: botocore's Stubber
validates every request and response against the service model, so a wrong parameter name or
a response field CloudFormation does not send fails here."""
from __future__ import annotations

import io
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from tools.drift import cli
from tools.drift.cli import main
from tools.drift.detect import RESOURCE_STATUSES, detect_region
from tools.drift.expected import expected_stacks

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
                         {"StackName": name, "StackResourceDriftStatusFilters": FILTERS})


FILTERS = ["MODIFIED", "DELETED", "UNKNOWN", "UNSUPPORTED"]


def test_the_resource_filter_fits_the_apis_limit():
    # The Stubber checks types and enums but not a list's length; CloudFormation does.
    shape = botocore.session.get_session().get_service_model("cloudformation") \
        .operation_model("DescribeStackResourceDrifts").input_shape \
        .members["StackResourceDriftStatusFilters"]
    assert len(RESOURCE_STATUSES) <= shape.metadata["max"]
    assert set(RESOURCE_STATUSES) <= set(shape.member.enum)


def _drift(logical_id: str, status: str, rtype: str = "AWS::S3::Bucket",
           properties: list[dict] | None = None) -> dict:
    drift = {"StackId": "arn:aws:cloudformation:us-east-1:111111111111:stack/dev-Assets/x",
             "LogicalResourceId": logical_id, "PhysicalResourceId": f"{logical_id.lower()}-phys",
             "ResourceType": rtype, "StackResourceDriftStatus": status, "Timestamp": TIME}
    if properties is not None:
        drift["PropertyDifferences"] = properties
    return drift


def test_the_expected_stacks_are_checked_not_whatever_is_live_and_polled_until_done():
    cfn, sleeps = _client(), []
    with Stubber(cfn) as stubber:
        _describe(stubber, _stack("dev-Assets"), _stack("prod-Assets"), _stack("dev-Stray"),
                  _stack("devtools-Build"))
        _detect(stubber, "dev-Assets", "d1")
        _status(stubber, "d1", "DETECTION_IN_PROGRESS")
        _status(stubber, "d1", "DETECTION_COMPLETE", "DRIFTED")
        _drifts(stubber, "dev-Assets", [_drift("Logs", "DELETED"), _drift(
            "Assets", "MODIFIED", properties=[{
                "PropertyPath": "/VersioningConfiguration/Status", "ExpectedValue": "Enabled",
                "ActualValue": "Suspended", "DifferenceType": "NOT_EQUAL"}]),
            _drift("Permission", "NOT_CHECKED", rtype="AWS::Lambda::Permission")])
        (result,) = detect_region(cfn, "us-east-1", ["dev-Assets"], poll_seconds=7,
                                  sleep=sleeps.append)
        stubber.assert_no_pending_responses()
    assert sleeps == [7]
    assert (result.name, result.status, result.problem) == ("dev-Assets", "DRIFTED", "")
    assert [(r.logical_id, r.status) for r in result.resources] == [
        ("Assets", "MODIFIED"), ("Logs", "DELETED")]
    assert [(r.logical_id, r.rtype) for r in result.not_checked] == [
        ("Permission", "AWS::Lambda::Permission")]
    (prop,) = result.resources[0].properties
    assert (prop.path, prop.expected, prop.actual, prop.kind) == (
        "/VersioningConfiguration/Status", "Enabled", "Suspended", "NOT_EQUAL")


EXPECTED = {"dev-Assets": "us-east-1", "dev-Cdn": "us-east-1"}


@pytest.fixture(autouse=True)
def expected(monkeypatch):
    """The CLI tests check two stacks of dev in us-east-1 (the real list is tested below)."""
    monkeypatch.setattr(cli, "expected_stacks", lambda env: dict(EXPECTED))


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


def _detecting_both(stubber: Stubber) -> None:
    """Both stacks live, detection started on `dev-Assets` ("a") and `dev-Cdn` ("c")."""
    _describe(stubber, _stack("dev-Assets"), _stack("dev-Cdn"))
    _detect(stubber, "dev-Assets", "a")
    _detect(stubber, "dev-Cdn", "c")


def _in_sync(stubber: Stubber, name: str, detection_id: str) -> None:
    _status(stubber, detection_id, "DETECTION_COMPLETE", "IN_SYNC")
    _drifts(stubber, name, [])


def test_drift_is_reported_in_the_job_summary_and_exits_1(tmp_path):
    def stub(stubber):
        _detecting_both(stubber)
        _status(stubber, "a", "DETECTION_COMPLETE", "DRIFTED")
        _drifts(stubber, "dev-Assets", [_drift("Assets", "MODIFIED", properties=[{
            "PropertyPath": "/Tags/0/Value", "ExpectedValue": "dev", "ActualValue": "a|b",
            "DifferenceType": "NOT_EQUAL"}])])
        _in_sync(stubber, "dev-Cdn", "c")
    code, out, summary = _run(tmp_path, stub)
    assert code == 1 and summary == out
    assert "⚠️ **1 resource(s) drifted**" in out
    assert "| `dev-Assets` | us-east-1 | ⚠️ DRIFTED | 1 | 0 |" in out
    assert "| `dev-Cdn` | us-east-1 | ✅ IN_SYNC | 0 | 0 |" in out
    assert "- **MODIFIED** `Assets` (AWS::S3::Bucket) `assets-phys`" in out
    assert "| `/Tags/0/Value` | NOT_EQUAL | dev | a\\|b |" in out


def _both_in_sync(detection_a: str = "DETECTION_COMPLETE", reason: str | None = None,
                  not_checked: list[dict] | None = None):
    """`dev-Assets` (its detection ends with ``detection_a``) and `dev-Cdn`, nothing drifted."""
    def stub(stubber):
        _detecting_both(stubber)
        _status(stubber, "a", detection_a, "IN_SYNC", reason=reason)
        _drifts(stubber, "dev-Assets", not_checked or [])
        _in_sync(stubber, "dev-Cdn", "c")
    return stub


def test_everything_in_sync_exits_0(tmp_path):
    code, out, _ = _run(tmp_path, _both_in_sync())
    assert code == 0 and "✅ Every expected stack is in sync" in out


def test_resources_cloudformation_did_not_check_are_counted_not_passed_as_in_sync(tmp_path):
    code, out, _ = _run(tmp_path, _both_in_sync(not_checked=[
        _drift("Invoke", "NOT_CHECKED", rtype="AWS::Lambda::Permission"),
        _drift("Record", "NOT_CHECKED", rtype="Custom::CrossRegionRecord")]))
    assert code == 0, "not checked is neither drift nor an incomplete detection"
    assert "| `dev-Assets` | us-east-1 | ✅ IN_SYNC | 0 | 2 |" in out
    assert "➖ 2 resource(s) not checked by CloudFormation" in out
    assert "- `dev-Assets`: `Invoke` (AWS::Lambda::Permission), `Record` " \
           "(Custom::CrossRegionRecord)" in out


def test_failed_detection_keeps_partial_results_and_says_why(tmp_path):
    code, out, _ = _run(tmp_path, _both_in_sync(
        "DETECTION_FAILED", reason="Failed to detect drift on resource [Gate]: access denied"))
    assert code == 3 and "Failed to detect drift on resource [Gate]" in out
    assert "| `dev-Cdn` | us-east-1 | ✅ IN_SYNC |" in out


def test_a_failed_detection_whose_resource_list_also_fails_keeps_both_reasons(tmp_path):
    def stub(stubber):
        _detecting_both(stubber)
        _status(stubber, "a", "DETECTION_FAILED", "IN_SYNC",
                reason="Failed to detect drift on resource [Gate]")
        stubber.add_client_error("describe_stack_resource_drifts", "Throttling",
                                 "Rate exceeded", expected_params={
                                     "StackName": "dev-Assets",
                                     "StackResourceDriftStatusFilters": FILTERS})
        _in_sync(stubber, "dev-Cdn", "c")
    code, out, _ = _run(tmp_path, stub)
    assert code == 3
    assert "Failed to detect drift on resource [Gate]" in out and "Rate exceeded" in out


@pytest.mark.parametrize("verdict", ["UNKNOWN", "NOT_CHECKED"])
def test_a_finished_detection_that_compared_nothing_is_incomplete_not_in_sync(tmp_path,
                                                                              verdict):
    # StackDriftStatus UNKNOWN: CloudFormation could not run detection; NOT_CHECKED: never
    # checked. Neither is a verdict that the stack is in sync.
    code, out, _ = _run(tmp_path, _both_in_sync_but_assets(verdict))
    assert code == 3
    assert f"drift status {verdict}" in out and "Every expected stack is in sync" not in out


def _both_in_sync_but_assets(verdict: str):
    def stub(stubber):
        _detecting_both(stubber)
        _status(stubber, "a", "DETECTION_COMPLETE", verdict)
        _drifts(stubber, "dev-Assets", [])
        _in_sync(stubber, "dev-Cdn", "c")
    return stub


def test_resources_detection_could_not_compare_are_listed_apart(tmp_path):
    code, out, _ = _run(tmp_path, _both_in_sync(not_checked=[
        _drift("Fn", "UNKNOWN", rtype="AWS::Lambda::Function"),
        _drift("Thing", "UNSUPPORTED", rtype="AWS::Some::Thing")]))
    assert code == 0
    assert "| `dev-Assets` | us-east-1 | ✅ IN_SYNC | 0 | 2 |" in out


def test_a_first_create_that_rolled_back_is_missing_not_checked(tmp_path):
    def stub(stubber):
        _describe(stubber, _stack("dev-Assets", "ROLLBACK_COMPLETE"), _stack("dev-Cdn"))
        _detect(stubber, "dev-Cdn", "c")
        _in_sync(stubber, "dev-Cdn", "c")
    code, out, _ = _run(tmp_path, stub)
    assert code == 1
    assert "| `dev-Assets` | us-east-1 | ⛔ MISSING |" in out and "ROLLBACK_COMPLETE" in out


def test_a_detection_still_running_at_the_timeout_is_reported_incomplete(tmp_path):
    def stub(stubber):
        _detecting_both(stubber)
        _status(stubber, "a", "DETECTION_IN_PROGRESS")
        _in_sync(stubber, "dev-Cdn", "c")
        for _ in range(2):
            _status(stubber, "a", "DETECTION_IN_PROGRESS")
    code, out, _ = _run(tmp_path, stub, "--poll-seconds", "5", "--timeout-seconds", "10")
    assert code == 3 and "detection still running when the run's wait ran out" in out


@pytest.mark.parametrize("gone", [None, "DELETE_IN_PROGRESS", "REVIEW_IN_PROGRESS"])
def test_an_expected_stack_that_is_not_live_is_drift_not_in_sync(tmp_path, gone):
    """A stack deleted by hand used to be skipped (the list came from what was live)."""
    def stub(stubber):
        _describe(stubber, _stack("dev-Assets"), *([_stack("dev-Cdn", gone)] if gone else []))
        _detect(stubber, "dev-Assets", "a")
        _in_sync(stubber, "dev-Assets", "a")
    code, out, _ = _run(tmp_path, stub)
    assert code == 1
    assert "⛔ **1 expected stack(s) missing**" in out
    assert "| `dev-Cdn` | us-east-1 | ⛔ MISSING | 0 | 0 | expected but not deployed" in out
    assert (f"({gone})" in out) if gone else "_IN_PROGRESS" not in out


@pytest.mark.parametrize("busy", ["UPDATE_IN_PROGRESS", "CREATE_IN_PROGRESS",
                                  "UPDATE_ROLLBACK_IN_PROGRESS", "IMPORT_IN_PROGRESS"])
def test_a_stack_cloudformation_is_updating_is_skipped_reported_and_the_rest_checked(tmp_path,
                                                                                      busy):
    """DetectStackDrift refuses a stack in an *_IN_PROGRESS state (ValidationError): it is not
    asked, the stack is reported as not checked, and the run is incomplete (exit 3)."""
    def stub(stubber):
        _describe(stubber, _stack("dev-Assets", busy), _stack("dev-Cdn"))
        _detect(stubber, "dev-Cdn", "c")
        _in_sync(stubber, "dev-Cdn", "c")
    code, out, summary = _run(tmp_path, stub)
    assert code == 3 and summary == out
    assert f"| `dev-Assets` | us-east-1 | ❓ UNKNOWN | 0 | 0 | not checked: {busy}" in out
    assert "| `dev-Cdn` | us-east-1 | ✅ IN_SYNC | 0 | 0 |" in out
    assert "❓ **detection incomplete for 1 stack(s)**" in out


def test_one_stacks_api_error_is_recorded_on_it_and_every_other_result_is_printed(
        tmp_path, capsys):
    def stub(stubber):
        _describe(stubber, _stack("dev-Assets"), _stack("dev-Cdn"))
        stubber.add_client_error("detect_stack_drift", "ValidationError",
                                 "Stack dev-Assets is in UPDATE_IN_PROGRESS state",
                                 expected_params={"StackName": "dev-Assets"})
        _detect(stubber, "dev-Cdn", "c")
        _status(stubber, "c", "DETECTION_COMPLETE", "DRIFTED")
        _drifts(stubber, "dev-Cdn", [_drift("Distribution", "MODIFIED")])
    code, out, summary = _run(tmp_path, stub)
    assert code == 1, "drift found is never hidden behind another stack's failed check"
    assert summary == out and "Traceback" not in capsys.readouterr().err
    assert "DetectStackDrift failed: An error occurred (ValidationError)" in out
    assert "| `dev-Cdn` | us-east-1 | ⚠️ DRIFTED | 1 |" in out
    assert "⚠️ **1 resource(s) drifted**" in out and "detection incomplete for 1" in out


def test_an_error_while_polling_one_detection_leaves_the_others_running(tmp_path):
    def stub(stubber):
        _detecting_both(stubber)
        stubber.add_client_error("describe_stack_drift_detection_status", "Throttling",
                                 "Rate exceeded", expected_params={"StackDriftDetectionId": "a"})
        _in_sync(stubber, "dev-Cdn", "c")
    code, out, _ = _run(tmp_path, stub)
    assert code == 3 and "DescribeStackDriftDetectionStatus failed" in out
    assert "| `dev-Cdn` | us-east-1 | ✅ IN_SYNC |" in out


def test_listing_the_stacks_failing_is_reported_on_every_expected_stack(tmp_path):
    def stub(stubber):
        stubber.add_client_error("describe_stacks", "AccessDenied", "not authorized")
    code, out, summary = _run(tmp_path, stub)
    assert code == 3 and summary == out
    assert out.count("DescribeStacks failed: An error occurred (AccessDenied)") == 2


def test_a_region_without_a_client_is_reported_and_the_other_regions_still_checked(
        monkeypatch, tmp_path):
    from botocore.exceptions import NoCredentialsError

    monkeypatch.setattr(cli, "expected_stacks",
                        lambda env: {"dev-Assets": "us-east-1", "dev-Replica": "us-west-2"})
    cfn = _client()
    out = io.StringIO()

    def client(region):
        if region == "us-west-2":
            raise NoCredentialsError()
        return cfn
    with Stubber(cfn) as stubber:
        _describe(stubber, _stack("dev-Assets"))
        _detect(stubber, "dev-Assets", "a")
        _in_sync(stubber, "dev-Assets", "a")
        code = main(["--env", "dev"], client=client, stdout=out, sleep=lambda _s: None)
    assert code == 3
    assert "| `dev-Assets` | us-east-1 | ✅ IN_SYNC |" in out.getvalue()
    assert "| `dev-Replica` | us-west-2 | ❓ UNKNOWN | 0 | 0 | no CloudFormation client" in \
        out.getvalue()


def test_the_timeout_is_one_wait_for_the_whole_run_not_one_per_region(monkeypatch):
    # Regions are checked one after another: a wait per region would add up past the job's
    # own timeout, which ends the job before it writes any report.
    monkeypatch.setattr(cli, "expected_stacks",
                        lambda env: {"dev-Assets": "us-east-1", "dev-Replica": "us-west-2"})
    now = [0.0]
    monkeypatch.setattr(cli.time, "monotonic", lambda: now[0])
    east, west = _client(), _client()
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds
    with Stubber(east) as first, Stubber(west) as second:
        _describe(first, _stack("dev-Assets"))
        _detect(first, "dev-Assets", "a")
        for _ in range(3):  # at 0, 5 and 10 s: still running, and the 10 s are spent
            _status(first, "a", "DETECTION_IN_PROGRESS")
        _describe(second, _stack("dev-Replica"))
        _detect(second, "dev-Replica", "r")
        _status(second, "r", "DETECTION_IN_PROGRESS")  # checked once, no wait left
        code = main(["--env", "dev", "--poll-seconds", "5", "--timeout-seconds", "10"],
                    client=lambda region: east if region == "us-east-1" else west,
                    stdout=io.StringIO(), sleep=sleep)
        first.assert_no_pending_responses()
        second.assert_no_pending_responses()
    assert code == 3 and sum(slept) == 10


def test_a_region_with_no_expected_stack_checks_nothing_and_is_not_in_sync(tmp_path):
    calls = []
    out = io.StringIO()
    code = main(["--env", "dev", "--region", "eu-west-1"], client=calls.append, stdout=out)
    assert code == 3 and calls == [] and "nothing was checked" in out.getvalue()


def test_unknown_environment_is_a_usage_error_without_any_call(capsys):
    calls = []
    code = main(["--env", "staging"], client=calls.append)
    assert code == 2 and calls == [] and "'staging'" in capsys.readouterr().err


def test_by_default_every_stack_the_config_expects_is_checked_in_its_region(monkeypatch):
    """The real list (no stand-in): nothing is live, so each expected stack, the account's
    delivery stack included, is reported missing in its own region."""
    monkeypatch.setattr(cli, "expected_stacks", expected_stacks)
    seen, out = [], io.StringIO()

    def client(region):
        seen.append(region)
        cfn = _client()
        stubber = Stubber(cfn)
        _describe(stubber, _stack("x"))
        stubber.activate()
        return cfn
    assert main(["--env", "dev"], client=client, stdout=out) == 1
    assert seen == ["us-east-1", "us-west-2"]
    report = out.getvalue()
    for name, region in expected_stacks("dev").items():
        assert f"| `{name}` | {region} | ⛔ MISSING |" in report
    assert "| `delivery-dev` | us-east-1 | ⛔ MISSING |" in report
    assert "⛔ **12 expected stack(s) missing**" in report


@pytest.mark.parametrize("argv", [[], ["--env", "dev", "--poll-seconds", "soon"]])
def test_bad_arguments_exit_2(argv, capsys):
    assert main(argv, client=lambda region: pytest.fail("no AWS call on bad input")) == 2


def test_drifted_resources_follow_next_token():
    from tools.drift.detect import drifted_resources

    cfn = _client()
    params = {"StackName": "dev-Assets", "StackResourceDriftStatusFilters": FILTERS}
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
        _detecting_both(stubber)
        _status(stubber, "a", "DETECTION_IN_PROGRESS")
        _in_sync(stubber, "dev-Cdn", "c")
    code, out, _ = _run(tmp_path, stub, "--timeout-seconds", "0")
    assert code == 3 and "detection still running when the run's wait ran out" in out


@pytest.mark.parametrize("bound", [{"poll_seconds": 0}, {"poll_seconds": float("nan")},
                                   {"timeout_seconds": float("inf")}])
def test_detect_region_refuses_a_wait_that_could_never_end(bound):
    with pytest.raises(ValueError, match=next(iter(bound))):
        detect_region(_client(), "us-east-1", ["dev-Assets"], sleep=lambda _s: None, **bound)


@pytest.mark.parametrize("summary", ["missing-folder/summary.md", "."])
def test_an_unwritable_summary_is_a_usage_error_before_any_aws_call(
        summary, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["--env", "dev", "--region", "us-east-1", "--summary", summary],
                client=lambda region: pytest.fail("no AWS call on bad input"))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "--summary" in err
    assert [p.name for p in tmp_path.iterdir()] == []
