"""Run CloudFormation drift detection on an environment's stacks and collect the results.

The stacks checked are the ones the environment is expected to have (``expected.py``), not
whatever is live: a stack deleted outside the pipeline is reported ``MISSING`` (drift), never
passed over. Each stack's outcome is its own: an API error, a stack CloudFormation is busy
with (``*_IN_PROGRESS``: DetectStackDrift refuses those) or a failed or timed-out detection is
recorded on that stack and the others are still checked and reported. Detection runs on all
stacks of a region at once and is polled.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

DRIFTED_STATUSES = ("MODIFIED", "DELETED")
# Resources CloudFormation did not compare: UNKNOWN (it could not run detection on the
# resource), UNSUPPORTED (a type without drift support) and NOT_CHECKED (which the API
# reference says it does not currently return): neither drift nor in sync, counted apart.
NOT_COMPARED_STATUSES = ("UNKNOWN", "UNSUPPORTED", "NOT_CHECKED")
# The filter of DescribeStackResourceDrifts takes at most 4 statuses (its service model; botocore
# does not check a list's length, CloudFormation does): NOT_CHECKED, never returned, is left out.
RESOURCE_STATUSES = [*DRIFTED_STATUSES, "UNKNOWN", "UNSUPPORTED"]
# The verdicts of a finished detection; UNKNOWN or NOT_CHECKED say nothing was compared.
VERDICTS = ("IN_SYNC", "DRIFTED")
# A stack in these is not there: deleted, being deleted, created by a change set never run, or
# a first create that failed and was rolled back (every resource deleted).
GONE = {"DELETE_COMPLETE", "DELETE_IN_PROGRESS", "REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE"}
AWS_ERRORS = (ClientError, BotoCoreError)


@dataclass(frozen=True)
class PropertyDrift:
    path: str
    expected: str
    actual: str
    kind: str  # ADD, REMOVE or NOT_EQUAL


@dataclass(frozen=True)
class ResourceDrift:
    logical_id: str
    physical_id: str
    rtype: str
    status: str  # MODIFIED, DELETED, or one of NOT_COMPARED_STATUSES
    properties: tuple[PropertyDrift, ...] = ()


@dataclass
class StackDrift:
    name: str
    region: str
    # IN_SYNC, DRIFTED, UNKNOWN, NOT_CHECKED (CloudFormation's), or MISSING: expected, not live
    status: str = "UNKNOWN"
    resources: list[ResourceDrift] = field(default_factory=list)  # MODIFIED or DELETED
    not_checked: list[ResourceDrift] = field(default_factory=list)
    problem: str = ""  # why detection did not complete (partial results may still be listed)
    live_status: str = ""  # a MISSING stack's leftover status (e.g. DELETE_IN_PROGRESS)


def _error(call: str, error: Exception) -> str:
    return f"{call} failed: {error}"


def live_stacks(cfn: Any) -> dict[str, str]:
    """Name → status of every stack of the region that is not gone."""
    live = {}
    for page in cfn.get_paginator("describe_stacks").paginate():
        live.update({s["StackName"]: s["StackStatus"] for s in page["Stacks"]
                     if s["StackStatus"] != "DELETE_COMPLETE"})
    return live


def _resource(drift: dict[str, Any]) -> ResourceDrift:
    return ResourceDrift(
        logical_id=drift["LogicalResourceId"], physical_id=drift.get("PhysicalResourceId", ""),
        rtype=drift["ResourceType"], status=drift["StackResourceDriftStatus"],
        properties=tuple(PropertyDrift(p["PropertyPath"], p.get("ExpectedValue", ""),
                                       p.get("ActualValue", ""), p["DifferenceType"])
                         for p in drift.get("PropertyDifferences", [])))


def drifted_resources(cfn: Any, stack: str) -> list[ResourceDrift]:
    """The stack's resources that drifted or were not checked, by logical id."""
    found, token = [], {}
    while True:  # botocore has no paginator for this call: follow NextToken by hand
        page = cfn.describe_stack_resource_drifts(
            StackName=stack, StackResourceDriftStatusFilters=RESOURCE_STATUSES, **token)
        found += [_resource(d) for d in page["StackResourceDrifts"]]
        if not page.get("NextToken"):
            return sorted(found, key=lambda r: r.logical_id)
        token = {"NextToken": page["NextToken"]}


def _start(cfn: Any, results: dict[str, StackDrift]) -> dict[str, str]:
    """Start detection on every expected stack that can be checked; detection id → name."""
    try:
        live = live_stacks(cfn)
    except AWS_ERRORS as error:
        for result in results.values():
            result.problem = _error("DescribeStacks", error)
        return {}
    pending = {}
    for name, result in results.items():
        status = live.get(name)
        if status is None or status in GONE:
            result.status, result.live_status = "MISSING", status or ""
        elif status.endswith("_IN_PROGRESS"):
            result.problem = (f"not checked: {status} (CloudFormation is working on the stack; "
                              "check again when it has finished)")
        else:
            try:
                pending[cfn.detect_stack_drift(StackName=name)["StackDriftDetectionId"]] = name
            except AWS_ERRORS as error:
                result.problem = _error("DetectStackDrift", error)
    return pending


def _finish(cfn: Any, result: StackDrift, status: dict[str, Any]) -> None:
    result.status = status.get("StackDriftStatus", "UNKNOWN")
    if status["DetectionStatus"] == "DETECTION_FAILED":
        # CloudFormation still reports what it could check (e.g. a resource type it cannot
        # read is skipped): keep those results and say why it is incomplete.
        result.problem = status.get("DetectionStatusReason", "detection failed")
    elif result.status not in VERDICTS:
        # A finished detection that compared nothing is no verdict of "in sync".
        result.problem = (f"drift status {result.status}: "
                          f"{status.get('DetectionStatusReason') or 'nothing was compared'}")
    try:
        found = drifted_resources(cfn, result.name)
    except AWS_ERRORS as error:
        result.problem = "; ".join(filter(None, [
            result.problem, _error("DescribeStackResourceDrifts", error)]))
        return
    result.resources = [r for r in found if r.status in DRIFTED_STATUSES]
    result.not_checked = [r for r in found if r.status in NOT_COMPARED_STATUSES]


def detect_region(cfn: Any, region: str, stacks: list[str], *, poll_seconds: float = 5,
                  timeout_seconds: float = 900,
                  sleep: Callable[[float], None] = time.sleep) -> list[StackDrift]:
    """Drift of the ``stacks`` expected in one region (``cfn``: that region's client)."""
    # The wait ends only when the time waited reaches the timeout: a poll of 0 or a NaN or
    # infinite bound would poll forever, a negative poll would make time run backwards.
    if not (math.isfinite(poll_seconds) and poll_seconds > 0):
        raise ValueError(f"poll_seconds must be finite and > 0 (got {poll_seconds!r})")
    if not (math.isfinite(timeout_seconds) and timeout_seconds >= 0):
        raise ValueError(f"timeout_seconds must be finite and >= 0 (got {timeout_seconds!r})")
    results = {name: StackDrift(name, region) for name in sorted(stacks)}
    pending = _start(cfn, results)
    waited = 0.0
    while pending:
        for detection_id, name in list(pending.items()):
            try:
                status = cfn.describe_stack_drift_detection_status(
                    StackDriftDetectionId=detection_id)
            except AWS_ERRORS as error:
                del pending[detection_id]
                results[name].problem = _error("DescribeStackDriftDetectionStatus", error)
                continue
            if status["DetectionStatus"] == "DETECTION_IN_PROGRESS":
                continue
            del pending[detection_id]
            _finish(cfn, results[name], status)
        if pending:
            if waited >= timeout_seconds:
                for name in pending.values():
                    results[name].problem = ("detection still running when the run's wait "
                                             "ran out")
                break
            sleep(poll_seconds)
            waited += poll_seconds
    return list(results.values())
