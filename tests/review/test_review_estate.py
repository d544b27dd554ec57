"""The review of two small real CDK apps (a Stage each, so assemblies are nested) that differ
in known ways: each test checks one change lands in the right section of the report."""
from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App, Duration, RemovalPolicy, Stack, Stage
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from review_helpers import SECURITY, STACKS, lines_with, run_cli, section


def _synth(outdir: Path, head: bool) -> Path:
    """Base (head=False) and head revisions of a tiny storage estate."""
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


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("estate")
    return _synth(root / "base", head=False), _synth(root / "head", head=True)


@pytest.fixture(scope="module")
def result(assemblies: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    base, head = assemblies
    return run_cli(base, head, tmp_path_factory.mktemp("report") / "review.md")


@pytest.fixture(scope="module")
def report(result) -> str:
    return result[1]


@pytest.fixture(scope="module")
def security(report: str) -> str:
    return section(report, SECURITY)


@pytest.fixture(scope="module")
def assets(report: str) -> str:
    return section(report, "#### `dev/Assets`")


def test_bucket_name_change_forces_replacement_naming_the_property(assets):
    assert lines_with(assets, "`Named", "AWS::S3::Bucket", "**yes** (`BucketName`)")


def test_replaced_stateful_bucket_is_reported_as_data_at_risk(security):
    assert lines_with(security, "⛔", "`Named", "**replaced**", "`BucketName` forces replacement")


def test_logical_id_change_is_reported_as_a_probable_rename(assets):
    assert lines_with(assets, "➖ removed", "`Logs", "**probable rename** to `AuditLogs")


def test_renamed_stateful_bucket_is_reported_as_data_at_risk(security):
    assert lines_with(security, "⛔", "`Logs", "→ AuditLogs", "**logical id changed**")


def test_bucket_policy_widened_to_any_principal_is_flagged(security):
    assert lines_with(security, "⚠️", "AWS::S3::BucketPolicy", "`PartnerRead` widened",
                      "principal widened to `*`")


def test_bucket_policy_gained_action_is_listed(security):
    assert lines_with(security, "AWS::S3::BucketPolicy", "`PartnerRead`",
                      "actions + `s3:PutObject`")


def test_iam_statement_widened_lists_gained_actions_and_resources(security):
    [line] = lines_with(security, "⚠️", "AWS::IAM::Policy", "widened")
    assert "actions + `s3:DeleteObject`" in line and "resources + `${Data" in line


def test_lifecycle_expiration_shortened_shows_the_days(security):
    assert lines_with(security, "⚠️", "`Data", "lifecycle rule `expire-old`: "
                      "expiration shortened 365 → 30 days")


def test_retain_to_delete_is_reported_as_data_at_risk(security):
    assert lines_with(security, "⛔", "`Scratch",
                      "DeletionPolicy and UpdateReplacePolicy Retain → Delete")


def test_added_stack_is_listed_as_added(report):
    stacks = section(report, STACKS)
    assert "#### `dev/Audit` — added" in stacks
    assert lines_with(stacks, "➕ added", "`Trail")


def test_removed_stack_is_listed_as_removed(report):
    assert "#### `dev/Legacy` — removed" in section(report, STACKS)


def test_bucket_of_a_removed_stack_is_reported_as_deleted(security):
    assert lines_with(security, "⛔", "**dev/Legacy**", "`Old", "**removed** — deleted")


def test_security_section_comes_before_the_stacks(report):
    assert 0 < report.index(SECURITY) < report.index(STACKS)


def test_headline_counts_stateful_changes_at_risk(report):
    headline = report.splitlines()[2]
    assert headline.startswith("⛔ **") and "put data at risk" in headline


def test_exit_code_is_2_when_a_stateful_resource_is_at_risk(result):
    assert result[0] == 2


def test_identical_assemblies_exit_0_and_report_no_changes(assemblies, tmp_path):
    code, text = run_cli(assemblies[0], assemblies[0], tmp_path / "same.md")
    assert (code, "No infrastructure changes." in text) == (0, True)
