"""Fixtures for the review tool tests (plain helpers live in review_helpers.py)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from review_helpers import run_cli, write_assembly


def synth_revision(outdir: Path, head: bool) -> Path:
    """Base (head=False) and head revisions of a tiny storage estate."""
    from aws_cdk import App, Duration, RemovalPolicy, Stack, Stage
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_s3 as s3

    app = App(outdir=str(outdir))
    stage = Stage(app, "dev")
    stack = Stack(stage, "Assets")
    retain = RemovalPolicy.RETAIN
    s3.Bucket(stack, "Named", bucket_name="review-named-v2" if head else "review-named-v1",
              removal_policy=retain)
    s3.Bucket(stack, "AuditLogs" if head else "Logs", removal_policy=retain)  # logical-id change
    s3.Bucket(stack, "Scratch", removal_policy=RemovalPolicy.DESTROY if head else retain)
    data = s3.Bucket(stack, "Data", removal_policy=retain, lifecycle_rules=[s3.LifecycleRule(
        id="expire-old", expiration=Duration.days(30 if head else 365))])
    data.add_to_resource_policy(iam.PolicyStatement(
        sid="PartnerRead",
        principals=[iam.AnyPrincipal() if head else iam.AccountPrincipal("123456789012")],
        actions=["s3:GetObject", "s3:PutObject"] if head else ["s3:GetObject"],
        resources=[data.arn_for_objects("*")]))
    worker = iam.Role(stack, "Worker", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    worker.add_to_policy(iam.PolicyStatement(
        actions=["s3:GetObject", "s3:DeleteObject"] if head else ["s3:GetObject"],
        resources=[data.arn_for_objects("*" if head else "reports/*")]))
    if head:
        s3.Bucket(Stack(stage, "Audit"), "Trail")
    else:
        s3.Bucket(Stack(stage, "Legacy"), "Old", removal_policy=RemovalPolicy.DESTROY)
    app.synth()
    return outdir


@pytest.fixture(scope="session")
def revisions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two real synthesized revisions (base, head) of the tiny estate, once per session: the
    tests that use them share one xdist group (tests/conftest.py)."""
    root = tmp_path_factory.mktemp("estate")
    return synth_revision(root / "base", head=False), synth_revision(root / "head", head=True)


Run = Callable[[dict[str, Any], dict[str, Any]], tuple[int, str]]


@pytest.fixture
def review_resources(tmp_path: Path) -> Run:
    """Review one stack `dev/Main` whose Resources go from `before` to `after`."""
    def run(before: dict[str, Any], after: dict[str, Any]) -> tuple[int, str]:
        base = write_assembly(tmp_path / "base", {"dev/Main": {"Resources": before}})
        head = write_assembly(tmp_path / "head", {"dev/Main": {"Resources": after}})
        return run_cli(base, head, tmp_path / "report.md")
    return run
