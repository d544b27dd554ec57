"""cfn-lint finds no error in any synthesized template."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _lint_errors(paths: list[Path]) -> list[str]:
    # parseable format: file:line:col:end_line:end_col:RULE:message; E-rules are errors.
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", "--",
         *map(str, paths)], capture_output=True, text=True, check=False)
    assert result.returncode in (0, 2, 4, 6, 8, 10, 12, 14), result.stderr
    return [line for line in result.stdout.splitlines()
            if line.split(":")[5:6] and line.split(":")[5].startswith("E")]


def test_cfn_lint_reports_no_errors(estate, tmp_path):
    paths = []
    for env in ("dev", "prod"):
        for stack_id in estate.stack_ids(env):
            path = tmp_path / f"{env}-{stack_id}.template.json"
            path.write_text(json.dumps(estate.template_json(env, stack_id)))
            paths.append(path)
    assert _lint_errors(paths) == []


def test_cfn_lint_would_catch_an_invalid_template(tmp_path):
    bad = tmp_path / "bad.template.json"
    bad.write_text(json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket",
                                                   "Properties": {"NoSuchProperty": 1}}}}))
    assert _lint_errors([bad])
