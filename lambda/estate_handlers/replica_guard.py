"""Keeps this region's replica of the dedup index protected as the primary table is: deletion
protection and point-in-time recovery.

Both are settings of each replica of a global table, set in the replica's own region (DynamoDB:
"You must enable deletion protection on each replica"). The replica is created by a deploy-time
``UpdateTable`` that returns at once; DynamoDB then builds it (minutes for an empty table, hours
for a large one) and takes neither setting before it is ACTIVE, longer than a deploy can wait. This
runs on a schedule instead: on an ACTIVE replica it turns on whatever is off (also when someone
turned it off), and counts ``DEDUP_REPLICA_PROTECTED_METRIC``: 1 when both are on after the run, else 0,
which an alarm watches.

A run that finds the table busy (a replica or setting update in progress) stops there and counts
0; the next run goes on. Any other error fails the run (the function's error alarm).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from estate_handlers.emf import log_metrics
from estate_handlers.layout import DEDUP_REPLICA_PROTECTED_METRIC, TABLE_ENV
from estate_handlers.runtime import (
    IN_LAMBDA,
    client,
    count,
    logger,
    metrics,
    once,
    region,
    require_env,
)
from estate_handlers.s3_errors import error_code

DELETION_PROTECTION = "deletion protection"
POINT_IN_TIME_RECOVERY = "point-in-time recovery"
# Answers that mean "not yet": no replica in this region yet, an update in progress, or the
# continuous backups of a table DynamoDB has just built not yet on ("Backups are being enabled
# for the table ... retry later"), which point-in-time recovery needs.
_NOT_YET = {"ResourceNotFoundException", "TableNotFoundException", "ResourceInUseException",
            "ContinuousBackupsUnavailableException"}
_PITR_ON = {"ENABLED", "ENABLING"}
_CONFIG = Config(connect_timeout=5, read_timeout=10,
                 retries={"mode": "standard", "total_max_attempts": 3})


@dataclass(frozen=True)
class Deps:
    dynamodb: Any  # a client of this region's DynamoDB
    table_name: str

    @classmethod
    def from_env(cls, environ: Any = None) -> Deps:
        env = os.environ if environ is None else environ
        require_env(env, TABLE_ENV)
        return cls(dynamodb=client("dynamodb", _CONFIG, region(env)), table_name=env[TABLE_ENV])


@dataclass(frozen=True)
class GuardRun:
    status: str  # the replica's TableStatus; "MISSING" before DynamoDB has created it
    turned_on: tuple[str, ...]  # settings this run turned on
    protected: bool  # both settings on (or being turned on) after the run


def protect(deps: Deps) -> GuardRun:
    """Turn on deletion protection and point-in-time recovery where they are off."""
    try:
        table = deps.dynamodb.describe_table(TableName=deps.table_name)["Table"]
    except ClientError as exc:
        if error_code(exc) in _NOT_YET:
            return GuardRun("MISSING", (), False)
        raise
    status = table["TableStatus"]
    if status != "ACTIVE":
        return GuardRun(status, (), False)
    turned_on: list[str] = []
    try:
        recovery = deps.dynamodb.describe_continuous_backups(TableName=deps.table_name)[
            "ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
        # Continuous backups first: they leave the table ACTIVE, an UpdateTable does not.
        if recovery.get("PointInTimeRecoveryStatus") not in _PITR_ON:
            deps.dynamodb.update_continuous_backups(
                TableName=deps.table_name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
            turned_on.append(POINT_IN_TIME_RECOVERY)
        if not table.get("DeletionProtectionEnabled"):
            deps.dynamodb.update_table(TableName=deps.table_name, DeletionProtectionEnabled=True)
            turned_on.append(DELETION_PROTECTION)
    except ClientError as exc:
        if error_code(exc) not in _NOT_YET:
            raise
        return GuardRun(status, tuple(turned_on), False)
    return GuardRun(status, tuple(turned_on), True)


def run(deps: Deps) -> dict:
    result = protect(deps)
    count(DEDUP_REPLICA_PROTECTED_METRIC, 1 if result.protected else 0)
    fields = {"table": deps.table_name, "status": result.status,
              "turned_on": list(result.turned_on), "protected": result.protected}
    if result.turned_on:
        logger.warning("dedup index replica: protection turned on", extra=fields)
    elif not result.protected:
        logger.info("dedup index replica not ready for its settings yet", extra=fields)
    return fields


current_deps = once(Deps.from_env)


@logger.inject_lambda_context
@log_metrics(metrics)
def handler(event: Any, context: Any) -> dict:
    return run(current_deps())


if IN_LAMBDA:
    current_deps()  # init phase: once per container, with Lambda's CPU boost
