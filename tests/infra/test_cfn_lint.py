"""cfn-lint finds no error in any synthesized template — and would find one in a bad template.

One cfn-lint run lints every template of the estate together with a known-bad probe (cfn-lint
takes seconds to start): the probe's error proves the run really checks, the estate's files
must have none."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = "invalid-probe.template.json"


def _lint_errors(paths: list[Path]) -> list[str]:
    # parseable format: file:line:col:end_line:end_col:RULE:message; E-rules are errors.
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", "--",
         *map(str, paths)], capture_output=True, text=True, check=False)
    assert result.returncode in (0, 2, 4, 6, 8, 10, 12, 14), result.stderr
    return [line for line in result.stdout.splitlines()
            if line.split(":")[5:6] and line.split(":")[5].startswith("E")]


@pytest.fixture(scope="module")
def lint(estate, tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("cfn-lint")
    probe = folder / PROBE
    probe.write_text(json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket",
                                                     "Properties": {"NoSuchProperty": 1}}}}))
    paths = [probe]
    for env in ("dev", "prod"):
        for stack_id in estate.stack_ids(env):
            paths.append(estate.stack(env, stack_id).template_file)
    return _lint_errors(paths)


def test_cfn_lint_reports_no_errors(lint):
    assert [line for line in lint if PROBE not in line] == []


def test_cfn_lint_would_catch_an_invalid_template(lint):
    assert [line for line in lint if PROBE in line]
