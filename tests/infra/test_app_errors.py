"""`app.py` with bad context: one line that names the field, a non-zero exit, no traceback.

Each bad value through the function app.py calls first, in-process; and once the real entry
point as `cdk synth` runs it (context through CDK_CONTEXT_JSON): it fails before any construct
exists, so that costs an interpreter start, not a synth.
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


CASES = [
    ({"env": "staging"}, "env='staging'"),
    ({"env": "prod", "account_prod": "12345"}, "account '12345'"),
    ({"account_dev": "not-an-account"}, "account 'not-an-account'"),
]


@pytest.mark.parametrize("context,field", CASES)
def test_bad_context_is_one_line_naming_the_field_and_exit_1_before_any_construct(
        context, field, capsys):
    # What app.py calls first, before it imports any construct library.
    from aws_cdk import App

    from infra.app_builder import configs_or_exit

    with pytest.raises(SystemExit) as stop:
        configs_or_exit(App(context=context))
    assert stop.value.code == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and field in lines[0], lines


def test_the_real_entry_point_prints_that_line_exits_non_zero_and_synthesizes_nothing(tmp_path):
    context, field = CASES[0]
    result = run_app(context, tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and field in lines[0], lines
    assert not list(tmp_path.iterdir()), "nothing is synthesized"
