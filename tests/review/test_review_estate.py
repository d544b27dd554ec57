"""The review of two small real CDK apps (a Stage each, so assemblies are nested) that differ
in known ways (``revisions`` in conftest.py): each test checks one change lands in the right
section of the report."""
from __future__ import annotations

from pathlib import Path

import pytest
from review_helpers import SECURITY, STACKS, lines_with, run_cli, section


@pytest.fixture(scope="module")
def result(revisions: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    base, head = revisions
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
    # Named (replaced), Scratch (retention), Logs (rename), Old (removed): one count each.
    assert headline.startswith("⛔ **4 stateful resource(s) with data at risk**")


def test_exit_code_is_2_when_a_stateful_resource_is_at_risk(result):
    assert result[0] == 2


def test_identical_assemblies_exit_0_and_report_no_changes(revisions, tmp_path):
    code, text = run_cli(revisions[0], revisions[0], tmp_path / "same.md")
    assert (code, "No infrastructure changes." in text) == (0, True)
