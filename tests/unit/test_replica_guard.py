"""The guard of the dedup index replica: on an ACTIVE replica it turns on point-in-time recovery
and deletion protection where they are off, changes nothing on a replica DynamoDB is still
building or updating, and counts ``DedupReplicaProtected`` for the alarm.

DynamoDB Local has neither setting's API, so botocore's Stubber answers (``stubbed_client``:
requests checked against DynamoDB's model, each expected call made, no other)."""
from __future__ import annotations

import json

import pytest
from estate_handlers import replica_guard
from estate_handlers._http import ConfigError
from estate_handlers.layout import DEDUP_REPLICA_PROTECTED_METRIC
from estate_handlers.replica_guard import (
    DELETION_PROTECTION,
    POINT_IN_TIME_RECOVERY,
    Deps,
    protect,
)
from lambda_context import LambdaContext
from stubbed_client import stubbed_client

TABLE = "dev-Assets-UploadHasherDedupIndex-1ABC"


@pytest.fixture
def dynamodb():
    with stubbed_client("dynamodb", "us-west-2") as client_and_stub:
        yield client_and_stub


def _table(status="ACTIVE", deletion_protection=False) -> dict:
    return {"Table": {"TableName": TABLE, "TableStatus": status,
                      "DeletionProtectionEnabled": deletion_protection}}


def _backups(pitr: str) -> dict:
    return {"ContinuousBackupsDescription": {
        "ContinuousBackupsStatus": "ENABLED",
        "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": pitr}}}


def _describe(stub, status="ACTIVE", deletion_protection=False, pitr: str | None = None):
    stub.add_response("describe_table", _table(status, deletion_protection), {"TableName": TABLE})
    if pitr is not None:
        stub.add_response("describe_continuous_backups", _backups(pitr), {"TableName": TABLE})


def _turn_on_pitr(stub):
    stub.add_response("update_continuous_backups", _backups("ENABLED"), {
        "TableName": TABLE,
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})


def _turn_on_deletion_protection(stub, error: str | None = None):
    expected = {"TableName": TABLE, "DeletionProtectionEnabled": True}
    if error:
        stub.add_client_error("update_table", error, expected_params=expected)
    else:
        stub.add_response("update_table", {"TableDescription": _table("UPDATING", True)["Table"]},
                          expected)


def test_an_unprotected_active_replica_gets_both_settings_recovery_first(dynamodb):
    client, stub = dynamodb
    _describe(stub, pitr="DISABLED")
    _turn_on_pitr(stub)  # Stubber answers in order: this call must come before UpdateTable
    _turn_on_deletion_protection(stub)
    run = protect(Deps(client, TABLE))
    assert run.turned_on == (POINT_IN_TIME_RECOVERY, DELETION_PROTECTION)
    assert run.protected and run.status == "ACTIVE"


def test_a_protected_replica_is_left_as_it_is(dynamodb):
    client, stub = dynamodb
    _describe(stub, deletion_protection=True, pitr="ENABLED")
    run = protect(Deps(client, TABLE))
    assert (run.turned_on, run.protected) == ((), True)


def test_only_the_setting_that_was_turned_off_is_turned_on_again(dynamodb):
    client, stub = dynamodb
    _describe(stub, deletion_protection=False, pitr="ENABLED")
    _turn_on_deletion_protection(stub)
    assert protect(Deps(client, TABLE)).turned_on == (DELETION_PROTECTION,)


def test_recovery_being_enabled_is_not_asked_for_twice(dynamodb):
    client, stub = dynamodb
    _describe(stub, deletion_protection=True, pitr="ENABLING")
    run = protect(Deps(client, TABLE))
    assert (run.turned_on, run.protected) == ((), True)


@pytest.mark.parametrize("status", ["CREATING", "UPDATING"])
def test_a_replica_dynamodb_is_still_building_or_updating_is_not_touched(dynamodb, status):
    client, stub = dynamodb
    _describe(stub, status=status)
    run = protect(Deps(client, TABLE))
    assert (run.status, run.turned_on, run.protected) == (status, (), False)


def test_before_dynamodb_has_created_the_replica_nothing_is_called(dynamodb):
    client, stub = dynamodb
    stub.add_client_error("describe_table", "ResourceNotFoundException",
                          expected_params={"TableName": TABLE})
    run = protect(Deps(client, TABLE))
    assert (run.status, run.protected) == ("MISSING", False)


def test_a_new_replica_whose_backups_are_still_being_enabled_waits_for_the_next_run(dynamodb):
    client, stub = dynamodb
    _describe(stub, pitr="DISABLED")
    stub.add_client_error("update_continuous_backups", "ContinuousBackupsUnavailableException",
                          expected_params={"TableName": TABLE, "PointInTimeRecoverySpecification":
                                           {"PointInTimeRecoveryEnabled": True}})
    run = protect(Deps(client, TABLE))  # no error: the function's error alarm stays quiet
    assert (run.turned_on, run.protected) == ((), False)


def test_a_table_busy_with_another_update_waits_for_the_next_run(dynamodb):
    client, stub = dynamodb
    _describe(stub, pitr="DISABLED")
    _turn_on_pitr(stub)
    _turn_on_deletion_protection(stub, error="ResourceInUseException")
    run = protect(Deps(client, TABLE))
    assert (run.turned_on, run.protected) == ((POINT_IN_TIME_RECOVERY,), False)


def test_a_refused_call_fails_the_run(dynamodb):
    client, stub = dynamodb
    _describe(stub, deletion_protection=True, pitr="DISABLED")
    stub.add_client_error("update_continuous_backups", "AccessDeniedException",
                          expected_params={"TableName": TABLE, "PointInTimeRecoverySpecification":
                                           {"PointInTimeRecoveryEnabled": True}})
    with pytest.raises(Exception, match="AccessDenied"):
        protect(Deps(client, TABLE))


@pytest.mark.parametrize(("pitr", "protected"), [("ENABLED", 1), (None, 0)])
def test_each_run_counts_whether_the_replica_is_protected(dynamodb, capsys, pitr, protected):
    client, stub = dynamodb
    if pitr:
        _describe(stub, deletion_protection=True, pitr=pitr)
    else:
        _describe(stub, status="CREATING")
    replica_guard.metrics.clear_metrics()
    fields = replica_guard.run(Deps(client, TABLE))
    replica_guard.metrics.flush_metrics()
    [line] = [json.loads(out) for out in capsys.readouterr().out.splitlines()
              if out.startswith('{"_aws"')]
    assert line[DEDUP_REPLICA_PROTECTED_METRIC] in (protected, float(protected), [float(protected)])
    assert fields["protected"] is bool(protected) and fields["table"] == TABLE


def test_the_table_name_comes_from_the_environment():
    with pytest.raises(ConfigError, match="DEDUP_TABLE_NAME"):
        Deps.from_env({"AWS_REGION": "us-west-2"})
    deps = Deps.from_env({"AWS_REGION": "us-west-2", "DEDUP_TABLE_NAME": TABLE})
    assert (deps.table_name, deps.dynamodb.meta.region_name) == (TABLE, "us-west-2")


def test_the_lambda_handler_runs_the_guard_and_writes_its_count(dynamodb, monkeypatch, capsys):
    client, stub = dynamodb
    _describe(stub, status="CREATING")
    monkeypatch.setattr(replica_guard, "current_deps", lambda: Deps(client, TABLE))
    replica_guard.metrics.clear_metrics()
    assert replica_guard.handler({"source": "aws.events"}, LambdaContext())["status"] == "CREATING"
    [line] = [json.loads(out) for out in capsys.readouterr().out.splitlines()
              if out.startswith('{"_aws"')]
    assert line[DEDUP_REPLICA_PROTECTED_METRIC] in (0, 0.0, [0.0])
