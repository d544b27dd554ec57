"""Run CloudFormation drift detection on an environment's stacks and collect the results.

The stacks are found by name, in each region the environment uses: CDK names a stage's
stacks ``<stage>-<stack id>`` (``dev-Assets``), so a stack added to the app is checked without
touching this tool. (Not by stack tags: ``@aws-cdk/core:explicitStackTags`` keeps the stage's
tags on the resources only.) Detection runs on all stacks of a region at once and is polled.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DRIFTED_STATUSES = ["MODIFIED", "DELETED"]  # NOT_CHECKED and IN_SYNC are not drift
GONE = {"DELETE_COMPLETE", "REVIEW_IN_PROGRESS", "DELETE_IN_PROGRESS"}


class DetectionError(Exception):
    """Drift could not be determined (API error, failed or timed-out detection)."""


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
    status: str  # MODIFIED or DELETED
    properties: tuple[PropertyDrift, ...] = ()


@dataclass
class StackDrift:
    name: str
    region: str
    status: str = "UNKNOWN"  # IN_SYNC, DRIFTED, UNKNOWN, NOT_CHECKED
    resources: list[ResourceDrift] = field(default_factory=list)
    problem: str = ""  # why detection did not complete (partial results may still be listed)


def environment_stacks(cfn: Any, env: str) -> list[str]:
    """Names of the live stacks of this environment's stage (``<env>-...``)."""
    names = []
    for page in cfn.get_paginator("describe_stacks").paginate():
        names += [stack["StackName"] for stack in page["Stacks"]
                  if stack["StackName"].startswith(f"{env}-") and stack["StackStatus"] not in GONE]
    return sorted(names)


def _resource(drift: dict[str, Any]) -> ResourceDrift:
    return ResourceDrift(
        logical_id=drift["LogicalResourceId"], physical_id=drift.get("PhysicalResourceId", ""),
        rtype=drift["ResourceType"], status=drift["StackResourceDriftStatus"],
        properties=tuple(PropertyDrift(p["PropertyPath"], p.get("ExpectedValue", ""),
                                       p.get("ActualValue", ""), p["DifferenceType"])
                         for p in drift.get("PropertyDifferences", [])))


def drifted_resources(cfn: Any, stack: str) -> list[ResourceDrift]:
    found, token = [], {}
    while True:  # botocore has no paginator for this call: follow NextToken by hand
        page = cfn.describe_stack_resource_drifts(
            StackName=stack, StackResourceDriftStatusFilters=DRIFTED_STATUSES, **token)
        found += [_resource(d) for d in page["StackResourceDrifts"]]
        if not page.get("NextToken"):
            return sorted(found, key=lambda r: r.logical_id)
        token = {"NextToken": page["NextToken"]}


def detect_region(cfn: Any, region: str, env: str, *, poll_seconds: float = 5,
                  timeout_seconds: float = 900,
                  sleep: Callable[[float], None] = time.sleep) -> list[StackDrift]:
    """Drift of every stack of ``env`` in one region (``cfn``: that region's client)."""
    # The wait ends only when the time waited reaches the timeout: a poll of 0 or a NaN or
    # infinite bound would poll forever, a negative poll would make time run backwards.
    if not (math.isfinite(poll_seconds) and poll_seconds > 0):
        raise ValueError(f"poll_seconds must be finite and > 0 (got {poll_seconds!r})")
    if not (math.isfinite(timeout_seconds) and timeout_seconds >= 0):
        raise ValueError(f"timeout_seconds must be finite and >= 0 (got {timeout_seconds!r})")
    results = {name: StackDrift(name, region) for name in environment_stacks(cfn, env)}
    pending = {cfn.detect_stack_drift(StackName=name)["StackDriftDetectionId"]: name
               for name in results}
    waited = 0.0
    while pending:
        for detection_id, name in list(pending.items()):
            status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)
            if status["DetectionStatus"] == "DETECTION_IN_PROGRESS":
                continue
            del pending[detection_id]
            result = results[name]
            result.status = status.get("StackDriftStatus", "UNKNOWN")
            if status["DetectionStatus"] == "DETECTION_FAILED":
                # CloudFormation still reports what it could check (e.g. a resource type it
                # cannot read is skipped): keep those results and say why it is incomplete.
                result.problem = status.get("DetectionStatusReason", "detection failed")
            result.resources = drifted_resources(cfn, name)
        if pending:
            if waited >= timeout_seconds:
                for name in pending.values():
                    results[name].problem = f"detection still running after {timeout_seconds:g} s"
                break
            sleep(poll_seconds)
            waited += poll_seconds
    return list(results.values())
