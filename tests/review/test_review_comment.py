"""The pull request's review comment and the destructive-change gate.

The golden file is the comment for the two real synthesized revisions of the tiny estate
(``revisions``, conftest.py), re-recorded after an intended change with
``pytest tests/review/test_review_comment.py --snapshot-update``."""
from __future__ import annotations

from pathlib import Path

import pytest
from review_helpers import SECURITY, STACKS, write_assembly
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from tools.review.__main__ import main
from tools.review.assembly import load_assembly
from tools.review.comment import (
    MARKER,
    MAX_COMMENT_CHARS,
    OVERRIDE_LABEL,
    comment_body,
    parse_labels,
)
from tools.review.diff import Finding, ResourceChange, Review, StackDiff, diff_assemblies
from tools.review.report import cost_section

RISKY = "### Risky changes, per environment"


class MarkdownSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    _file_extension = "md"


def _comment(base: Path, head: Path, labels: list[str]) -> str:
    before, after = load_assembly(base), load_assembly(head)
    cost, _ = cost_section(before, after)
    return comment_body(diff_assemblies(before, after), "`main` (1111aaaa)",
                        "`feature` (2222bbbb)", labels, cost)


@pytest.fixture(scope="module")
def blocked(revisions) -> str:
    return _comment(*revisions, labels=["documentation"])


def test_comment_of_two_real_revisions_matches_the_golden_file(blocked, snapshot):
    assert blocked == snapshot.use_extension(MarkdownSnapshot)


def test_comment_starts_with_the_marker_then_the_verdict_then_the_risky_changes(blocked):
    lines = blocked.splitlines()
    assert lines[0] == MARKER and lines[0].startswith("<!--") and lines[0].endswith("-->")
    assert lines[1].startswith("## Infrastructure review: `main` (1111aaaa) → `feature`")
    assert blocked.index("⛔ **Blocked") < blocked.index(RISKY) < blocked.index(SECURITY) \
        < blocked.index(STACKS)
    assert blocked.count(MARKER) == 1


def test_risky_section_names_each_resource_at_risk_and_why_dangers_before_warnings(blocked):
    risky = blocked[blocked.index(RISKY):blocked.index("\n---\n")]
    lines = [line for line in risky.splitlines() if line.startswith("- ")]
    assert any("`dev/Assets`" in line and "`Named" in line and "`BucketName` forces replacement"
               in line for line in lines)
    assert any("`dev/Legacy`" in line and "`Old" in line for line in lines)
    levels = [line[2] for line in lines]  # ⛔ or ⚠
    assert levels == sorted(levels, key=lambda icon: icon != "⛔") and "⚠" in levels


def test_with_the_label_the_comment_records_the_override(revisions):
    text = _comment(*revisions, labels=[OVERRIDE_LABEL])
    assert f"allowed by the label `{OVERRIDE_LABEL}`" in text and "Blocked" not in text


def _cli(base: Path, head: Path, tmp_path: Path, *extra: str) -> tuple[int, str]:
    comment = tmp_path / "comment.md"
    try:
        code = main(["--base-dir", str(base), "--head-dir", str(head), "--output",
                     str(tmp_path / "report.md"), "--comment", str(comment), *extra])
    except SystemExit as usage_error:  # argparse's way out, as `python -m` would exit
        code = usage_error.code
    return code, comment.read_text(encoding="utf-8") if comment.exists() else ""


def test_gate_fails_a_risky_change_without_the_label(revisions, tmp_path):
    code, text = _cli(*revisions, tmp_path, "--labels", '["documentation"]')
    assert code == 2 and "⛔ **Blocked" in text


def test_gate_passes_a_risky_change_with_the_label(revisions, tmp_path, capsys):
    code, text = _cli(*revisions, tmp_path, "--labels", f'["bug", "{OVERRIDE_LABEL}"]')
    assert code == 0 and OVERRIDE_LABEL in text
    assert f"allowed by the label '{OVERRIDE_LABEL}'" in capsys.readouterr().err


def test_gate_passes_when_nothing_is_risky(revisions, tmp_path):
    base, _ = revisions
    code, text = _cli(base, base, tmp_path, "--labels", "[]")
    assert code == 0 and text.startswith(MARKER) and "✅" in text


def test_gate_refuses_labels_it_cannot_read_as_a_usage_error(revisions, tmp_path, capsys):
    code, text = _cli(*revisions, tmp_path, "--labels", '{"name": "x"}')
    assert code == 1 and text == "" and "--labels" in capsys.readouterr().err


def test_labels_are_read_from_json_or_comma_separated_text():
    assert parse_labels(f'["{OVERRIDE_LABEL}", "x"]') == [OVERRIDE_LABEL, "x"]
    assert parse_labels(f" a , {OVERRIDE_LABEL},") == ["a", OVERRIDE_LABEL]
    assert parse_labels("") == []


def test_environments_are_listed_most_dangerous_first(tmp_path):
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {}}
    policy = {"Type": "AWS::IAM::Policy", "Properties": {"PolicyName": "p", "Roles": ["r"],
              "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                "Resource": "arn:aws:s3:::b/*"}]}}}
    wider = {**policy, "Properties": {**policy["Properties"], "PolicyDocument": {"Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}]}}}
    base = write_assembly(tmp_path / "base", {
        "dev/Main": {"Resources": {"P": policy}}, "prod/Main": {"Resources": {"B": bucket}}})
    head = write_assembly(tmp_path / "head", {
        "dev/Main": {"Resources": {"P": wider}}, "prod/Main": {"Resources": {}}})
    text = _comment(base, head, [])
    risky = text[text.index(RISKY):text.index("\n---\n")]
    assert risky.index("#### `prod` — ⛔ 1") < risky.index("#### `dev` — ⚠️ 1")


def test_a_comment_over_githubs_limit_is_cut_with_a_pointer_to_the_artifact():
    findings = [Finding("warn", "prod/Main", f"Policy{i}", "AWS::IAM::Policy", "x" * 200)
                for i in range(500)]
    text = comment_body(Review([], findings), "a", "b", [])
    assert len(text) <= MAX_COMMENT_CHARS and text.startswith(MARKER)
    assert text.rstrip().endswith("the `review` artifact of this workflow run.")


KEY = {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True},
       "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}


def _costlier(tmp_path: Path, destructive: bool) -> tuple[Path, Path]:
    """prod gains a KMS key (+$2/month); with `destructive`, a bucket is deleted too."""
    doomed = {"Gone": {"Type": "AWS::S3::Bucket"}} if destructive else {}
    base = write_assembly(tmp_path / "base", {"prod/Main": {"Resources": {"K": KEY, **doomed}}})
    head = write_assembly(tmp_path / "head", {"prod/Main": {"Resources": {"K": KEY, "K2": KEY}}})
    return base, head


def test_a_cost_over_the_threshold_blocks_in_the_comment_as_in_the_exit_code(tmp_path):
    code, text = _cli(*_costlier(tmp_path, destructive=False), tmp_path,
                      "--cost-threshold", "1")
    verdict = text.split("\n\n")[1]
    assert code == 2 and verdict.startswith("⛔ **Blocked: an environment's estimated monthly "
                                            "cost rises by more than the $1.00 threshold**")
    assert f"`{OVERRIDE_LABEL}` does not override this" in verdict


def test_with_a_cost_over_the_threshold_the_label_is_not_said_to_pass_the_check(tmp_path):
    base, head = _costlier(tmp_path, destructive=True)
    code, blocked = _cli(base, head, tmp_path, "--cost-threshold", "1")
    assert code == 2 and "and the check passes" not in blocked
    assert "this gate passes (the cost threshold still fails the check)" in blocked
    code, labelled = _cli(base, head, tmp_path, "--cost-threshold", "1",
                          "--labels", OVERRIDE_LABEL)
    assert code == 2 and labelled.split("\n\n")[1].startswith("⛔ **Blocked: an environment's")


def _balanced(markdown: str) -> bool:
    fences = [line for line in markdown.splitlines() if line.lstrip().startswith("```")]
    return len(fences) % 2 == 0 and markdown.count("<details>") == markdown.count("</details>")


def test_a_cut_comment_closes_its_code_fences_and_details_before_the_note():
    diff = [f"- Statement[{i}].Resource: arn:aws:s3:::bucket-{i}/*" for i in range(40)]
    findings = [Finding("info", "prod/Main", f"Policy{i}", "AWS::IAM::Policy", "changed", diff)
                for i in range(200)]
    changed = StackDiff("prod/Main", "modified", [
        ResourceChange(f"Policy{i}", "AWS::IAM::Policy", "modified", ["PolicyDocument"], "no",
                       lines=diff) for i in range(200)])
    text = comment_body(Review([changed], findings), "a", "b", [])
    assert len(text) <= MAX_COMMENT_CHARS and text.startswith(MARKER)
    assert _balanced(text)
    last_close = max(text.rfind("```"), text.rfind("</details>"))
    assert text.rstrip().endswith("the `review` artifact of this workflow run.")
    assert text.index("… the report is cut here") > last_close


def test_the_toolchain_label_does_not_allow_data_at_risk():
    from tools.review.comment import Gate

    at_risk = (object(),)
    assert not Gate(at_risk, overridden=False, toolchain_allowed=True).passed
    assert Gate(at_risk, overridden=True).passed
    assert not Gate((), overridden=True, toolchain=("requirements.txt",)).passed
    assert Gate((), overridden=False, toolchain=("requirements.txt",),
                toolchain_allowed=True).passed
