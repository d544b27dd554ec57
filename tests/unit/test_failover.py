"""tools.failover against stubbed AWS clients (botocore Stubber: no AWS call leaves the test).

Moving writes calls only CloudWatch in the replica region; a Route 53, CloudFormation or
us-east-1 client is never given to the tool, so a call to one could not even be made."""
from __future__ import annotations

import io

import boto3
import pytest
from botocore.stub import Stubber

from infra.environments import ENVIRONMENTS
from tools.failover.cli import main

PROD = ENVIRONMENTS["prod"]()
SWITCH = "justkalm-prod-Writes-Pinned-To-us-west-2"
SERVED_BY = "justkalm-prod-Writes-Served-By-us-west-2-Critical"
METRIC = {"Namespace": "StorageEstate/WriteFailover", "MetricData": [{
    "MetricName": "WritesPinnedToReplicaRegion", "Unit": "None",
    "Dimensions": [{"Name": "Environment", "Value": "prod"}]}]}


def cloudwatch(region: str = "us-west-2"):
    return boto3.client("cloudwatch", region_name=region, aws_access_key_id="x",
                        aws_secret_access_key="x")


def expect_state(cw: Stubber, state: str, name: str = SWITCH) -> None:
    cw.add_response("describe_alarms", {"MetricAlarms": [{
        "AlarmName": name, "StateValue": state}]},
        {"AlarmNames": [name], "AlarmTypes": ["MetricAlarm"]})


def expect_write(cw: Stubber, value: int, times: int = 1) -> None:
    metric = {**METRIC, "MetricData": [{**METRIC["MetricData"][0], "Value": value}]}
    for _ in range(times):
        cw.add_response("put_metric_data", {}, metric)


HOLD = 3  # writes after the alarm has moved, a minute apart, for Route 53's own reading


def expect_switch(cw: Stubber, before: str, value: int) -> None:
    """A whole switch: the alarm read, the value written, the alarm read again in its new
    state, then the value held for Route 53."""
    expect_state(cw, before)
    expect_write(cw, value)
    expect_state(cw, "ALARM" if value == 1 else "OK")
    expect_write(cw, value, HOLD)


class Clock:
    def __init__(self):
        self.now, self.slept = 0.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def run(argv, client, answer="y", interactive=True, primary=None, clock=None):
    out, asked = io.StringIO(), []
    clock = clock or Clock()

    def ask(prompt):
        asked.append(prompt)
        return answer

    code = main(argv, cloudwatch=client, primary_cloudwatch=primary, out=out, ask=ask,
                interactive=interactive, clock=clock, sleep=clock.sleep)
    return code, out.getvalue(), asked


def test_failover_asks_then_pins_writes_with_one_metric_in_the_replica_region():
    client = cloudwatch()
    assert client.meta.region_name == PROD.replica_region
    with Stubber(client) as cw:
        expect_switch(cw, "OK", 1)
        code, out, asked = run(["--env", "prod", "--region", "us-west-2"], client)
        cw.assert_no_pending_responses()
    assert code == 0
    assert asked == ["Change it? [y/N] "]
    assert "state OK -> ALARM" in out
    assert f"after the change:                   {PROD.replica_region}" in out
    assert "uploads.justkalm.example" in out
    assert f"alarm {SWITCH} is ALARM" in out


def test_failback_releases_without_a_question_under_yes():
    client = cloudwatch()
    with Stubber(client) as cw:
        expect_switch(cw, "ALARM", 0)
        code, out, asked = run(["--env", "prod", "--failback", "--yes"], client,
                               interactive=False)
        cw.assert_no_pending_responses()
    assert (code, asked) == (0, [])
    assert "state ALARM -> OK" in out


def test_while_the_alarm_lags_it_writes_the_value_again_each_minute():
    # One datapoint must fall in a minute the alarm (and Route 53) evaluates.
    client, clock = cloudwatch(), Clock()
    with Stubber(client) as cw:
        expect_state(cw, "OK")
        expect_write(cw, 1)
        for _ in range(4):  # 0, 15, 30, 45 s: still OK
            expect_state(cw, "OK")
        expect_write(cw, 1)  # 60 s: again
        expect_state(cw, "ALARM")
        expect_write(cw, 1, HOLD)
        code, _, _ = run(["--env", "prod", "--region", "us-west-2", "--yes"], client,
                         clock=clock)
        cw.assert_no_pending_responses()
    assert code == 0
    assert clock.slept == [15, 15, 15, 15, 60, 60, 60]


def test_an_alarm_that_never_follows_exits_1_after_the_wait(capsys):
    client = cloudwatch()
    with Stubber(client) as cw:
        expect_state(cw, "OK")
        expect_write(cw, 1)
        expect_state(cw, "OK")  # at 0 s
        expect_state(cw, "OK")  # at 15 s
        expect_state(cw, "OK")  # at 30 s: the wait is over
        # The value is written either way, and Route 53 reads the metric: it is held.
        expect_write(cw, 1, HOLD)
        clock = Clock()
        code, out, _ = run(["--env", "prod", "--region", "us-west-2", "--yes", "--wait", "30"],
                           client, clock=clock)
        cw.assert_no_pending_responses()
    assert code == 1
    assert "Written: WritesPinnedToReplicaRegion = 1" in out and "The alarm lags" in out
    # It gave up waiting because the wait was over, not because an AWS call failed.
    assert clock.slept == [15, 15, 60, 60, 60]
    err = capsys.readouterr().err
    assert "written and held, but alarm" in err and "is still OK after 30 s (not ALARM)" in err


def test_no_wait_still_holds_the_value_and_says_it_is_not_confirmed(capsys):
    client = cloudwatch()
    with Stubber(client) as cw:
        expect_state(cw, "OK")
        expect_write(cw, 1)
        expect_state(cw, "OK")  # at 0 s: the wait (none) is over
        expect_write(cw, 1, HOLD)
        code, _, _ = run(["--env", "prod", "--region", "us-west-2", "--yes", "--wait", "0"],
                         client)
        cw.assert_no_pending_responses()
    assert code == 1
    assert "still OK after 0 s (not ALARM)" in capsys.readouterr().err


def test_nothing_is_written_after_a_no():
    client = cloudwatch()
    with Stubber(client) as cw:
        expect_state(cw, "OK")
        # no put_metric_data stubbed: a call would raise
        code, out, questions = run(["--env", "prod", "--region", "us-west-2"], client,
                                   answer="n")
    assert (code, questions) == (0, ["Change it? [y/N] "])
    assert "Nothing changed." in out


@pytest.mark.parametrize("state, argv, value", [
    ("ALARM", ["--region", "us-west-2"], 1),
    ("OK", ["--failback"], 0),
])
def test_a_switch_already_in_place_is_written_and_held_again_without_a_question(state, argv,
                                                                                  value):
    # Route 53 reads the metric, not the alarm: a rerun after an interrupted hold must write.
    client = cloudwatch()
    with Stubber(client) as cw:
        expect_state(cw, state)
        expect_write(cw, value)
        expect_write(cw, value, HOLD)
        code, out, questions = run(["--env", "prod", *argv], client, answer="n")
        cw.assert_no_pending_responses()
    assert (code, questions) == (0, [])
    assert f"already {state}: writing {value} again" in out


def test_a_never_switched_alarm_can_be_pinned():
    client = cloudwatch()
    with Stubber(client) as cw:
        expect_switch(cw, "INSUFFICIENT_DATA", 1)
        code, out, _ = run(["--env", "prod", "--region", "us-west-2", "--yes"], client)
    assert code == 0
    assert "never switched" in out


def test_status_reads_the_switch_and_route_53s_verdict_and_changes_nothing():
    client, primary = cloudwatch(), cloudwatch("us-east-1")
    with Stubber(client) as cw, Stubber(primary) as east:
        expect_state(cw, "ALARM")
        expect_state(east, "ALARM", SERVED_BY)
        code, out, asked = run(["--env", "prod", "--status"], client, primary=primary)
    assert (code, asked) == (0, [])
    assert f"answers with: {PROD.replica_region} (pinned" in out
    assert f"alarm {SERVED_BY} (us-east-1) is ALARM: us-west-2 serves writes" in out


def test_status_still_shows_the_switch_when_the_primary_region_does_not_answer(capsys):
    client, primary = cloudwatch(), cloudwatch("us-east-1")
    with Stubber(client) as cw, Stubber(primary) as east:
        expect_state(cw, "OK")
        east.add_client_error("describe_alarms", "ServiceUnavailable", "down",
                              http_status_code=503)
        code, out, _ = run(["--env", "prod", "--status"], client, primary=primary)
    assert code == 1
    assert f"Failover switch: alarm {SWITCH}" in out
    assert "Route 53's verdict: unavailable" in out


def test_without_a_terminal_it_needs_yes(capsys):
    client = cloudwatch()
    with Stubber(client) as cw:
        expect_state(cw, "OK")
        code, _, asked = run(["--env", "prod", "--region", "us-west-2"], client,
                             interactive=False)
    assert (code, asked) == (2, [])
    assert "pass --yes" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--env", "prod", "--region", "eu-west-1"], "has no write path"),
    (["--env", "dev", "--region", "us-west-2"], "no hosted zone"),
    (["--env", "nope", "--region", "us-west-2"], "invalid choice"),
    (["--env", "prod"], "one of the arguments --region --failback --status is required"),
    (["--env", "prod", "--region", "us-west-2", "--failback"], "not allowed with"),
    (["--env", "prod", "--region", "us-west-2", "--wait", "-5"], "must be a finite number"),
    (["--env", "prod", "--region", "us-west-2", "--wait", "nan"], "must be a finite number"),
])
def test_usage_errors_exit_2_with_one_line_and_no_aws_call(argv, message, capsys):
    client = cloudwatch()
    with Stubber(client):  # any call would fail: nothing is stubbed
        code, _, _ = run(argv, client)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_an_aws_failure_exits_1_and_names_the_call(capsys):
    client = cloudwatch()
    with Stubber(client) as cw:
        expect_state(cw, "OK")
        cw.add_client_error("put_metric_data", "AccessDenied", "no cloudwatch:PutMetricData")
        code, _, _ = run(["--env", "prod", "--region", "us-west-2", "--yes"], client)
    assert code == 1
    assert "writing StorageEstate/WriteFailover/WritesPinnedToReplicaRegion = 1 (us-west-2)" \
        in capsys.readouterr().err


def test_a_missing_switch_alarm_is_refused(capsys):
    client = cloudwatch()
    with Stubber(client) as cw:
        cw.add_response("describe_alarms", {"MetricAlarms": []})
        code, _, _ = run(["--env", "prod", "--region", "us-west-2"], client)
    assert code == 1
    assert f"alarm {SWITCH} does not exist in us-west-2" in capsys.readouterr().err


@pytest.mark.parametrize("argv, regions", [
    (["--region", "us-west-2", "--yes"], ["us-west-2"]),  # the switch: nothing in us-east-1
    (["--failback", "--yes"], ["us-west-2"]),
    (["--status"], ["us-west-2", "us-east-1"]),  # and Route 53's verdict, read in us-east-1
])
def test_the_default_clients_are_the_replica_regions_cloudwatch_and_only_status_asks_the_primary(
        monkeypatch, argv, regions):
    made, given = [], {}

    def client(service, region_name=None, **_):
        made.append((service, region_name))
        return f"{service}@{region_name}"

    def run(args, **clients):
        given.update(clients)
        return 0

    monkeypatch.setattr("tools.failover.cli.boto3.client", client)
    monkeypatch.setattr("tools.failover.cli.run", run)
    assert main(["--env", "prod", *argv], out=io.StringIO()) == 0
    assert made == [("cloudwatch", region) for region in regions]
    assert given["cloudwatch"] == "cloudwatch@us-west-2"
    assert given["primary_cloudwatch"] == ("cloudwatch@us-east-1" if "--status" in argv
                                           else None)
