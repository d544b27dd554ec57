"""`app.py` with bad context: one line that names the field, a non-zero exit, no traceback.

Runs the real entry point as `cdk synth` does (context through CDK_CONTEXT_JSON); it fails
before any construct exists, so each case costs an interpreter start, not a synth.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_app(context: dict, outdir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(outdir),
           "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    return subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("context,field", [
    ({"env": "staging"}, "env='staging'"),
    ({"env": "prod", "account_prod": "12345"}, "account '12345'"),
    ({"account_dev": "not-an-account"}, "account 'not-an-account'"),
])
def test_bad_context_prints_one_line_naming_the_field_and_exits_non_zero(
        context, field, tmp_path):
    result = run_app(context, tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and field in lines[0], lines
    assert not list(tmp_path.iterdir()), "nothing is synthesized"
