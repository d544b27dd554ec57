"""Command-line behaviour: usage errors exit 1, output goes where asked."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from review_helpers import write_assembly

from tools.review.__main__ import main

STACK = {"dev/Main": {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}}


def test_unknown_option_exits_1():
    with pytest.raises(SystemExit) as exited:
        main(["--bogus"])
    assert exited.value.code == 1


def test_head_ref_and_worktree_together_exit_1():
    with pytest.raises(SystemExit) as exited:
        main(["--head", "HEAD", "--worktree"])
    assert exited.value.code == 1


def test_folder_without_a_manifest_exits_1(tmp_path, capsys):
    code = main(["--base-dir", str(tmp_path), "--head-dir", str(tmp_path)])
    assert code == 1 and "not a cloud assembly" in capsys.readouterr().err


def test_report_goes_to_stdout_without_output(tmp_path, capsys):
    same = write_assembly(tmp_path / "a", STACK)
    main(["--base-dir", str(same), "--head-dir", str(same)])
    assert capsys.readouterr().out.startswith("## Infrastructure review")


def test_runs_as_a_module_from_the_repository_root(tmp_path):
    same = write_assembly(tmp_path / "a", STACK)
    proc = subprocess.run([sys.executable, "-m", "tools.review", "--base-dir", str(same),
                           "--head-dir", str(same), "--format", "markdown"],
                          cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True)
    assert (proc.returncode, "No infrastructure changes." in proc.stdout) == (0, True)


def _usage_error(argv: list[str], capsys) -> str:
    """stderr of a usage error: exit 1 (2 would mean "risky"), one line, no traceback."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize("threshold", ["-1", "nan", "inf"])
def test_a_cost_threshold_that_is_negative_or_not_finite_is_a_usage_error(
        threshold, tmp_path, capsys):
    same = write_assembly(tmp_path / "a", STACK)
    err = _usage_error(["--base-dir", str(same), "--head-dir", str(same),
                        "--cost-threshold", threshold], capsys)
    assert f"argument --cost-threshold: {threshold!r}" in err


def test_a_cost_threshold_of_0_is_accepted_and_identical_assemblies_pass(tmp_path, capsys):
    same = write_assembly(tmp_path / "a", STACK)
    assert main(["--base-dir", str(same), "--head-dir", str(same),
                 "--cost-threshold", "0"]) == 0


@pytest.mark.parametrize(("side", "ref"), [
    (["--base-dir", "{a}", "--base", "HEAD"], "--base"),
    (["--head-dir", "{a}", "--head", "HEAD"], "--head"),
    (["--head-dir", "{a}", "--worktree"], "--worktree"),
])
def test_an_assembly_folder_and_a_revision_for_the_same_side_is_a_usage_error(
        side, ref, tmp_path, capsys):
    same = write_assembly(tmp_path / "a", STACK)
    argv = [arg.format(a=same) for arg in side]
    err = _usage_error(["--base-dir", str(same), "--head-dir", str(same), *argv], capsys)
    assert f"{argv[0]} and {ref} name the same side" in err


@pytest.mark.parametrize("option", ["--output", "--comment"])
@pytest.mark.parametrize("target", ["missing-folder/r.md", "."])
def test_an_unwritable_output_is_a_usage_error_before_any_work(
        option, target, tmp_path, monkeypatch, capsys):
    same = write_assembly(tmp_path / "a", STACK)
    monkeypatch.chdir(tmp_path)
    err = _usage_error(["--base-dir", str(same), "--head-dir", str(same), option, target],
                       capsys)
    assert f"argument {option}: {target!r}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def _manifest(root: Path, text: str) -> Path:
    root.mkdir()
    (root / "manifest.json").write_text(text)
    return root


@pytest.mark.parametrize(("manifest", "message"), [
    ('{"artifacts": {', "manifest.json is not valid JSON"),
    ('["not", "an", "object"]', "manifest.json is not a JSON object"),
    ('{"artifacts": {"Main": {"type": "aws:cloudformation:stack", "properties": {}}}}',
     "artifact 'Main' has no properties.templateFile"),
    ('{"artifacts": {"Main": {"type": "aws:cloudformation:stack", '
     '"properties": {"templateFile": "gone.json"}}}}', "gone.json, which is not in the assembly"),
    ('{"artifacts": {"dev": {"type": "cdk:cloud-assembly"}}}',
     "artifact 'dev' has no properties.directoryName"),
])
def test_a_broken_assembly_is_one_line_and_exit_1(manifest, message, tmp_path, capsys):
    broken = _manifest(tmp_path / "broken", manifest)
    same = write_assembly(tmp_path / "a", STACK)
    assert main(["--base-dir", str(broken), "--head-dir", str(same)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and message in err


def test_a_template_that_is_not_json_is_one_line_and_exit_1(tmp_path, capsys):
    broken = write_assembly(tmp_path / "broken", STACK)
    (template,) = broken.glob("assembly-dev/*.template.json")
    template.write_text("{")
    same = write_assembly(tmp_path / "a", STACK)
    assert main(["--base-dir", str(broken), "--head-dir", str(same)]) == 1
    assert f"{template.name} is not valid JSON" in capsys.readouterr().err


def test_a_review_that_cannot_run_replaces_the_comment_with_a_failure(tmp_path):
    # The comment job edits the pull request's comment in place: with no new comment, the last
    # verdict (perhaps a pass) would stay up beside a failing check.
    from tools.review.comment import MARKER
    broken = write_assembly(tmp_path / "broken", STACK)
    (template,) = broken.glob("assembly-dev/*.template.json")
    template.write_text("{")
    same = write_assembly(tmp_path / "a", STACK)
    comment = tmp_path / "comment.md"
    comment.write_text("an earlier verdict")
    assert main(["--base-dir", str(broken), "--head-dir", str(same),
                 "--comment", str(comment)]) == 1
    body = comment.read_text()
    assert body.startswith(MARKER + "\n### ⛔ The infrastructure review could not run")
    assert f"{template.name} is not valid JSON" in body


def test_a_failure_comment_shows_the_error_as_text_it_cannot_escape():
    from tools.review.comment import FAILURE_DETAIL_CHARS, failure_body
    fence = "`" * 3
    body = failure_body(f"boom {fence}\n# injected heading\n" + "x" * 5000)
    assert body.count(fence) == 2  # the comment's own fence, opened and closed
    assert "# injected heading" not in body  # cut: only the error's last characters are kept
    assert len(body) < FAILURE_DETAIL_CHARS + 500


def test_a_review_that_breaks_after_synthesis_also_replaces_the_comment(tmp_path, monkeypatch):
    from tools.review import __main__ as review_main
    from tools.review.comment import MARKER

    def broken(*args):
        raise KeyError("Resources")

    monkeypatch.setattr(review_main, "diff_assemblies", broken)
    same = write_assembly(tmp_path / "a", STACK)
    comment = tmp_path / "comment.md"
    comment.write_text("an earlier verdict")
    with pytest.raises(KeyError):
        main(["--base-dir", str(same), "--head-dir", str(same), "--comment", str(comment)])
    assert comment.read_text().startswith(MARKER) and "KeyError" in comment.read_text()
