"""End to end on a throwaway git repository: a git ref is synthesized in a temporary
worktree with this venv's python, compared with the working tree, and the worktree removed."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest
from review_helpers import write_assembly

from tools.review.__main__ import main
from tools.review.assembly import default_base

APP = """\
from aws_cdk import App, RemovalPolicy, Stack, Stage
from aws_cdk import aws_s3 as s3

app = App()
stack = Stack(Stage(app, "dev"), "Store")
s3.Bucket(stack, "Data", bucket_name="{name}", removal_policy=RemovalPolicy.RETAIN)
app.synth()
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout


def make_repo(repo: Path) -> Path:
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "review@example.invalid")
    git(repo, "config", "user.name", "review test")
    (repo / "app.py").write_text(APP.format(name="throwaway-v1"))
    git(repo, "add", "app.py")
    git(repo, "commit", "-q", "-m", "v1")
    return repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = make_repo(tmp_path_factory.mktemp("git") / "repo")
    git(repo, "checkout", "-q", "-b", "broken")
    (repo / "app.py").write_text("raise RuntimeError('boom: app does not synthesize')\n")
    git(repo, "commit", "-q", "-am", "broken")
    git(repo, "checkout", "-q", "--orphan", "empty")
    git(repo, "rm", "-q", "-rf", ".")
    git(repo, "commit", "-q", "--allow-empty", "-m", "before the app existed")
    git(repo, "checkout", "-q", "main")
    (repo / "app.py").write_text(APP.format(name="throwaway-v2"))  # uncommitted head change
    return repo


def review_in(repo: Path, scratch: Path, argv: list[str]) -> tuple[int, str]:
    """Run the CLI from inside repo with temporary folders created under scratch."""
    report = scratch / "report.md"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(repo)
        mp.setattr(tempfile, "tempdir", str(scratch))  # so leftovers would be visible here
        code = main([*argv, "--output", str(report)])
    return code, report.read_text() if report.exists() else ""


@pytest.fixture(scope="module")
def default_run(repo: Path, tmp_path_factory: pytest.TempPathFactory):
    scratch = tmp_path_factory.mktemp("scratch")
    code, report = review_in(repo, scratch, [])
    return code, report, scratch


def test_default_review_compares_main_with_the_working_tree(default_run):
    _, report, _ = default_run
    assert report.startswith("## Infrastructure review: `main` (") and "→ working tree" in report


def test_bucket_renamed_in_the_working_tree_is_reported_and_exits_2(default_run):
    code, report, _ = default_run
    assert code == 2 and "**yes** (`BucketName`)" in report


def test_worktree_is_removed_after_the_review(repo, default_run):
    _, _, scratch = default_run
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert [p.name for p in scratch.iterdir()] == ["report.md"]


def test_failed_synthesis_exits_1_and_still_removes_the_worktree(repo, tmp_path, capsys):
    code, _ = review_in(repo, tmp_path, ["--base", "broken", "--head", "main"])
    assert code == 1 and "boom: app does not synthesize" in capsys.readouterr().err
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert list(tmp_path.iterdir()) == []


def test_revision_without_app_py_counts_as_an_empty_estate(repo, tmp_path):
    code, report = review_in(repo, tmp_path, ["--base", "empty", "--head", "main"])
    assert code == 0 and "#### `dev/Store` — added" in report


def test_unknown_revision_exits_1(repo, tmp_path):
    assert review_in(repo, tmp_path, ["--base", "no-such-branch"])[0] == 1


def test_default_base_prefers_origin_main_over_main(tmp_path):
    repo = make_repo(tmp_path / "repo")
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    assert default_base(repo) == "origin/main"


def test_default_base_falls_back_to_main(repo):
    assert default_base(repo) == "main"


def test_a_reviewed_commit_is_read_from_the_cache_not_synthesized_again(
        repo, default_run, tmp_path, monkeypatch):
    import tools.review.assembly as assembly

    def must_not_synthesize(*args, **kwargs):
        raise AssertionError("a reviewed commit was synthesized again")

    monkeypatch.setattr(assembly, "synthesize", must_not_synthesize)
    code, report = review_in(repo, tmp_path, ["--base", "main", "--head", "main"])
    assert code == 0 and "`main` (" in report
    cached = assembly.cached_assembly(repo, git(repo, "rev-parse", "main").strip())
    assert (cached / "manifest.json").is_file()
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1


@pytest.fixture(scope="module")
def pinned_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """main pins aws-cdk-lib; `bump` changes the pin only; `reworded` only its comments and
    order; `no-pins` deletes requirements-dev.txt. The app is the same everywhere."""
    repo = make_repo(tmp_path_factory.mktemp("pinned") / "repo")
    (repo / "requirements.txt").write_text("# runtime\naws-cdk-lib==2.275.0\nconstructs==10.8.1\n")
    (repo / "requirements-dev.txt").write_text("-r requirements.txt\npytest==8.4.2\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "pins")
    for branch, edit in (
            ("bump", lambda: (repo / "requirements.txt").write_text(
                "# runtime\naws-cdk-lib==2.276.0\nconstructs==10.8.1\n")),
            ("reworded", lambda: (repo / "requirements.txt").write_text(
                "constructs==10.8.1  # jsii's base\n\n# the CDK\naws-cdk-lib==2.275.0\n")),
            ("no-pins", lambda: (repo / "requirements-dev.txt").unlink())):
        git(repo, "checkout", "-q", "-b", branch, "main")
        edit()
        git(repo, "commit", "-q", "-am", branch)
    git(repo, "checkout", "-q", "main")
    return repo


def _review_with_comment(repo: Path, scratch: Path, argv: list[str]) -> tuple[int, str, str]:
    comment = scratch / "comment.md"
    code, report = review_in(repo, scratch, [*argv, "--comment", str(comment)])
    return code, report, comment.read_text() if comment.exists() else ""


def test_a_changed_pin_blocks_the_review_even_with_identical_templates(pinned_repo, tmp_path):
    """Both sides synthesize with this interpreter's aws-cdk-lib, so the templates are equal
    whatever the pull request upgrades: the review says it cannot see the upgrade and fails."""
    code, report, comment = _review_with_comment(pinned_repo, tmp_path,
                                                 ["--base", "main", "--head", "bump"])
    assert code == 2
    assert "⛔ **Toolchain changed: this review is incomplete.** `requirements.txt` changed" in report
    assert "No infrastructure changes." in report
    verdict = comment.split("\n\n")[1]
    assert verdict.startswith("⛔ **Blocked: the toolchain changed.** `requirements.txt` changed")
    assert "allow-toolchain-change" in verdict and "allow-destructive-change" not in verdict


def test_an_assembly_folder_on_one_side_compares_no_pins(pinned_repo, tmp_path):
    """A folder's templates were made by packages nobody knows, so there is nothing to compare
    the revision's pins with: `bump` changes one, and the review neither blocks nor mentions it
    (comparing main's pins with bump's instead would block)."""
    empty = write_assembly(tmp_path / "base-assembly", {})
    code, report, comment = _review_with_comment(
        pinned_repo, tmp_path, ["--base-dir", str(empty), "--head", "bump"])
    assert code == 0 and "#### `dev/Store` — added" in report
    assert "Toolchain" not in report and "toolchain" not in comment


@pytest.mark.parametrize(("labels", "passes"), [
    ('["allow-toolchain-change"]', True),
    # the label that allows data loss is not the one an upgrade needs
    ('["allow-destructive-change"]', False),
])
def test_only_the_toolchain_label_lets_a_toolchain_change_pass(pinned_repo, tmp_path, labels,
                                                               passes):
    code, _, comment = _review_with_comment(
        pinned_repo, tmp_path, ["--base", "main", "--head", "bump", "--labels", labels])
    assert code == (0 if passes else 2)
    allowed = "⚠️ **Toolchain changed, allowed by the label `allow-toolchain-change`.**"
    assert (allowed in comment) == passes


@pytest.mark.parametrize(("head", "changed"), [("reworded", []), ("main", []),
                                               ("no-pins", ["requirements-dev.txt"])])
def test_pins_are_compared_not_comments_or_order(pinned_repo, head, changed):
    from tools.review.assembly import toolchain_changes

    commit = {ref: git(pinned_repo, "rev-parse", ref).strip() for ref in ("main", head)}
    assert toolchain_changes(pinned_repo, commit["main"], commit[head]) == changed


def test_the_working_tree_is_compared_too_and_a_base_without_the_app_is_not(pinned_repo):
    from tools.review.assembly import toolchain_changes

    main_commit = git(pinned_repo, "rev-parse", "main").strip()
    pins = pinned_repo / "requirements-dev.txt"
    original = pins.read_text()
    try:
        pins.write_text(original + "boto3==1.40.61\n")
        assert toolchain_changes(pinned_repo, main_commit, None) == ["requirements-dev.txt"]
    finally:
        pins.write_text(original)
    assert toolchain_changes(pinned_repo, main_commit, None) == []
    git(pinned_repo, "checkout", "-q", "--orphan", "appless")
    try:
        git(pinned_repo, "rm", "-q", "-rf", ".")
        git(pinned_repo, "commit", "-q", "--allow-empty", "-m", "nothing yet")
        appless = git(pinned_repo, "rev-parse", "HEAD").strip()
    finally:
        git(pinned_repo, "checkout", "-q", "-f", "main")
    assert toolchain_changes(pinned_repo, appless, main_commit) == []


def _same(before: str, after: str, files: dict[str, str] | None = None,
          after_files: dict[str, str] | None = None) -> bool:
    from tools.review.assembly import pins

    def reader(given):
        return lambda name: (given or {}).get(name)
    return pins(before, reader(files)) == pins(after, reader(after_files or files))


@pytest.mark.parametrize("after", [
    "aws-cdk-lib == 2.275.0\n",                     # spacing
    "AWS_CDK.lib==2.275.0\n",                        # the name's case and separators (PEP 503)
    "aws-cdk-lib==2.275.0   # the CDK\n",            # a comment
])
def test_the_same_pin_spelled_another_way_is_not_a_toolchain_change(after):
    assert _same("aws-cdk-lib==2.275.0\n", after)


@pytest.mark.parametrize("before, after", [
    # hashes moved between two packages (pip joins continuation lines first)
    ("a==1 \\\n  --hash=sha256:aaa\nb==1 \\\n  --hash=sha256:bbb\n",
     "a==1 \\\n  --hash=sha256:bbb\nb==1 \\\n  --hash=sha256:aaa\n"),
    # a URL's fragment is no comment
    ("pkg @ https://example.invalid/pkg.whl#sha256=aaa\n",
     "pkg @ https://example.invalid/pkg.whl#sha256=bbb\n"),
    # a marker added to an unchanged pin changes where it installs
    ("pkg==1\n", "pkg==1 ; python_version < '3.12'\n"),
])
def test_a_changed_pin_in_any_spelling_is_a_toolchain_change(before, after):
    assert not _same(before, after)


def test_a_pin_moved_into_an_included_file_is_still_compared():
    file = "-c constraints.txt\n"
    assert not _same(file, file, {"constraints.txt": "aws-cdk-lib==2.275.0\n"},
                     {"constraints.txt": "aws-cdk-lib==2.276.0\n"})
    assert _same(file, file, {"constraints.txt": "aws-cdk-lib==2.275.0\n"})


def test_a_uv_setting_added_beside_the_pins_is_a_toolchain_change(pinned_repo):
    from tools.review.assembly import toolchain_changes

    main_commit = git(pinned_repo, "rev-parse", "main").strip()
    (pinned_repo / "uv.toml").write_text('index-url = "https://mirror.invalid/simple"\n')
    try:
        assert toolchain_changes(pinned_repo, main_commit, None) == ["uv.toml"]
    finally:
        (pinned_repo / "uv.toml").unlink()
