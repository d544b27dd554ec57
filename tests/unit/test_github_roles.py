"""`python -m tools.github_roles`: the role ARNs the workflows assume, in $GITHUB_OUTPUT form."""
from __future__ import annotations

import io
from dataclasses import replace

from infra import environments
from tools.github_roles import main


def test_one_environment_prints_its_three_roles():
    out = io.StringIO()
    assert main(["--env", "prod"], stdout=out) == 0
    assert out.getvalue().splitlines() == [
        "prod_deploy_role=arn:aws:iam::222222222222:role/justkalm-prod-github-deploy",
        "prod_drift_role=arn:aws:iam::222222222222:role/justkalm-prod-github-drift",
        "prod_lookup_role=arn:aws:iam::222222222222:role/"
        "cdk-hnb659fds-lookup-role-222222222222-us-east-1"]


def test_an_environment_without_delivery_has_no_roles(monkeypatch):
    monkeypatch.setitem(environments.ENVIRONMENTS, "dev",
                        lambda: replace(environments.dev(), delivery=None))
    out = io.StringIO()
    assert main([], stdout=out) == 0
    assert [line.split("_", 1)[0] for line in out.getvalue().splitlines()] == ["prod"] * 3


def test_an_unknown_environment_is_a_usage_error(capsys):
    out = io.StringIO()
    assert main(["--env", "staging"], stdout=out) == 2 and out.getvalue() == ""
    assert "'staging' is not one of: dev, prod" in capsys.readouterr().err
