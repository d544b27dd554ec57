"""The accounts' trust of GitHub Actions (stage `delivery`): the OIDC provider, and roles whose
trust policies IAM evaluates to "allow" for exactly one repository and one environment (deploy)
or branch (drift), and which can do nothing but assume CDK's bootstrap roles.

The trust conditions are evaluated here the way IAM does (every condition operator and key
must hold; a key with several values holds when any value matches; StringEquals is exact and
case-sensitive; StringLike honours * and ?), against the claims GitHub puts in real tokens."""
from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import estate_synth
import pytest
from aws_cdk import App
from aws_cdk.assertions import Template
from helpers import resources

from infra.app_builder import configs_from_context, every_config
from infra.config import BOOTSTRAP_ROLE_KINDS, MAX_SESSION_SECONDS, ConfigError, DeliveryConfig
from infra.constructs.github_oidc import GITHUB_OIDC_HOST
from infra.delivery_stage import DeliveryStage
from infra.environments import DELIVERY, ENVIRONMENTS, dev, prod
from infra.nag import apply_policy_packs
from tools import github_roles
from tools.drift.expected import expected_stacks

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
REPO = DELIVERY.repository  # justkalm/storage-estate
# The same repository in GitHub's immutable subject format: each name followed by its id.
REPO_IDS = f"{DELIVERY.owner}@{DELIVERY.owner_id}/{DELIVERY.repo}@{DELIVERY.repo_id}"
AUD = "sts.amazonaws.com"


def _matches(operator: str, pattern: str, value: str) -> bool:
    if operator == "StringEquals":
        return value == pattern
    if operator == "StringLike":  # IAM's wildcards: * any run of characters, ? one character
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        return re.fullmatch(regex, value, flags=re.DOTALL) is not None
    raise AssertionError(f"condition operator {operator} is not evaluated by this test")


def allows(statement: dict, claims: dict[str, str]) -> bool:
    """Whether an Allow statement of a trust policy admits a web-identity request whose token
    carries ``claims`` (``aud``, ``sub``), as IAM evaluates its Condition block."""
    if statement.get("Effect") != "Allow" or \
            statement.get("Action") != "sts:AssumeRoleWithWebIdentity":
        return False
    context = {f"{GITHUB_OIDC_HOST}:{claim}": value for claim, value in claims.items()}
    for operator, keys in statement.get("Condition", {}).items():
        for key, patterns in keys.items():
            patterns = patterns if isinstance(patterns, list) else [patterns]
            if key not in context or not any(_matches(operator, p, context[key])
                                              for p in patterns):
                return False
    return True


def trust_admits(role: dict, claims: dict[str, str]) -> bool:
    return any(allows(s, claims) for s in role["Properties"]["AssumeRolePolicyDocument"]
               ["Statement"])


def test_the_evaluator_treats_string_like_as_a_pattern_and_string_equals_as_text():
    like = {"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringLike": {f"{GITHUB_OIDC_HOST}:sub": f"repo:{REPO}:*"}}}
    equals = {**like, "Condition": {"StringEquals": {f"{GITHUB_OIDC_HOST}:sub": f"repo:{REPO}:*"}}}
    fork_pr = {"sub": f"repo:{REPO}:pull_request"}
    assert allows(like, fork_pr) and not allows(equals, fork_pr)
    assert not allows(like, {"sub": f"repo:{REPO}-fork:pull_request"})
    assert not allows(like, {"aud": AUD})  # a condition key absent from the request: no match


@pytest.fixture(scope="module")
def templates(estate) -> dict[str, dict]:
    """The delivery stacks of the session's CLI synth (app.py's own wiring), by stack id."""
    folder = estate.outdir / "assembly-delivery"
    artifacts = json.loads((folder / "manifest.json").read_text())["artifacts"]
    return {a["displayName"].split("/", 1)[1]:
            json.loads((folder / a["properties"]["templateFile"]).read_text())
            for a in artifacts.values() if a["type"] == "aws:cloudformation:stack"}


def _role(template: dict, role_name: str) -> dict:
    (role,) = [r for r in resources(template, "AWS::IAM::Role").values()
               if r["Properties"]["RoleName"] == role_name]
    return role


def test_one_stack_per_account_with_the_provider_for_github_tokens(templates, estate):
    assert sorted(templates) == sorted(ENVIRONMENTS)  # dev and prod live in different accounts
    for env, template in templates.items():
        (provider,) = resources(template, "AWS::IAM::OIDCProvider").values()
        assert provider["Properties"]["Url"] == "https://token.actions.githubusercontent.com"
        assert provider["Properties"]["ClientIdList"] == [AUD]
        cfg = estate.stages[env].cfg
        roles = resources(template, "AWS::IAM::Role").values()
        assert {r["Properties"]["RoleName"] for r in roles} == {
            cfg.github_deploy_role_name, cfg.github_drift_role_name}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_deploy_trust_is_exactly_this_repository_in_this_github_environment(templates, env):
    """The estate's repository predates immutable subjects (legacy_subject=True): both of
    its formats, exactly, and the audience."""
    assert DELIVERY.legacy_subject
    role = _role(templates[env], f"justkalm-{env}-github-deploy")
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Condition"] == {"StringEquals": {
        f"{GITHUB_OIDC_HOST}:aud": AUD,
        f"{GITHUB_OIDC_HOST}:sub": [f"repo:{REPO_IDS}:environment:{env}",
                                    f"repo:{REPO}:environment:{env}"]}}
    assert statement["Principal"] == {"Federated": {
        "Ref": next(iter(resources(templates[env], "AWS::IAM::OIDCProvider")))}}
    assert trust_admits(role, {"aud": AUD, "sub": f"repo:{REPO}:environment:{env}"})
    assert trust_admits(role, {"aud": AUD, "sub": f"repo:{REPO_IDS}:environment:{env}"})


REFUSED = {
    "another repository": "repo:someone-else/storage-estate:environment:{env}",
    "a repository whose name extends ours": "repo:justkalm/storage-estate-fork:environment:{env}",
    "a pull request from a fork": "repo:attacker/storage-estate:pull_request",
    "a pull request in this repository": f"repo:{REPO}:pull_request",
    "the main branch without the environment": f"repo:{REPO}:ref:refs/heads/main",
    "another branch": f"repo:{REPO}:ref:refs/heads/feature",
    "another environment": f"repo:{REPO}:environment:{{other}}",
    "the environment name in another case": f"repo:{REPO}:environment:{{upper}}",
    "a tag": f"repo:{REPO}:ref:refs/tags/v1.0.0",
    # Immutable subjects: a recycled name gets new ids, so the ids are what must match.
    "a recycled owner name (another owner id)":
        f"repo:justkalm@999/storage-estate@{DELIVERY.repo_id}:environment:{{env}}",
    "a recycled repository name (another repository id)":
        f"repo:justkalm@{DELIVERY.owner_id}/storage-estate@999:environment:{{env}}",
    "our ids under another repository name":
        f"repo:justkalm@{DELIVERY.owner_id}/other@{DELIVERY.repo_id}:environment:{{env}}",
    "our ids in another environment": f"repo:{REPO_IDS}:environment:{{other}}",
    "our ids on the main branch without the environment": f"repo:{REPO_IDS}:ref:refs/heads/main",
    "our ids in a pull request": f"repo:{REPO_IDS}:pull_request",
}


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("who", sorted(REFUSED))
def test_deploy_trust_refuses(templates, env, who):
    other = "prod" if env == "dev" else "dev"
    sub = REFUSED[who].format(env=env, other=other, upper=env.upper())
    role = _role(templates[env], f"justkalm-{env}-github-deploy")
    assert not trust_admits(role, {"aud": AUD, "sub": sub})


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_deploy_trust_refuses_a_token_for_another_audience(templates, env):
    role = _role(templates[env], f"justkalm-{env}-github-deploy")
    sub = f"repo:{REPO}:environment:{env}"
    assert not trust_admits(role, {"aud": f"https://github.com/{REPO.split('/')[0]}", "sub": sub})
    assert not trust_admits(role, {"sub": sub})


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_drift_trust_is_the_main_branch_only(templates, env):
    role = _role(templates[env], f"justkalm-{env}-github-drift")
    assert trust_admits(role, {"aud": AUD, "sub": f"repo:{REPO}:ref:refs/heads/main"})
    assert trust_admits(role, {"aud": AUD, "sub": f"repo:{REPO_IDS}:ref:refs/heads/main"})
    for sub in (f"repo:{REPO}:ref:refs/heads/feature", f"repo:{REPO}:pull_request",
                f"repo:{REPO_IDS}:ref:refs/heads/feature", f"repo:{REPO_IDS}:pull_request",
                "repo:justkalm@999/storage-estate@999:ref:refs/heads/main",
                f"repo:{REPO}:environment:{env}", "repo:attacker/storage-estate:pull_request",
                "repo:attacker/storage-estate:ref:refs/heads/main"):
        assert not trust_admits(role, {"aud": AUD, "sub": sub}), sub


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_role_sessions_may_last_as_long_as_the_workflows_ask(templates, env):
    """deploy.yml asks for 2 h sessions (its jobs may run 90 min); STS refuses a request
    longer than the role's MaxSessionDuration."""
    for kind in ("deploy", "drift"):
        role = _role(templates[env], f"justkalm-{env}-github-{kind}")
        assert role["Properties"]["MaxSessionDuration"] == MAX_SESSION_SECONDS == 7200


def _permissions(template: dict, role_logical_id: str) -> list[dict]:
    """Every statement granted to the role: managed policies that name it, inline policies."""
    statements = []
    for kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
        for policy in resources(template, kind).values():
            if {"Ref": role_logical_id} in policy["Properties"].get("Roles", []):
                statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("role_kind,allowed_kinds", [("deploy", BOOTSTRAP_ROLE_KINDS),
                                                      ("drift", ("lookup",))])
def test_roles_can_only_assume_cdk_bootstrap_roles(templates, estate, env, role_kind,
                                                   allowed_kinds):
    cfg = estate.stages[env].cfg
    template = templates[env]
    name = f"justkalm-{env}-github-{role_kind}"
    logical_id = next(lid for lid, r in resources(template, "AWS::IAM::Role").items()
                      if r["Properties"]["RoleName"] == name)
    role = resources(template, "AWS::IAM::Role")[logical_id]["Properties"]
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    (statement,) = _permissions(template, logical_id)
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
    expected = {f"arn:aws:iam::{cfg.account}:role/cdk-hnb659fds-{kind}-role-{cfg.account}-{region}"
                for kind in allowed_kinds for region in ("us-east-1", "us-west-2")}
    assert set(statement["Resource"]) == expected


def test_environments_sharing_an_account_share_one_stack_and_an_existing_provider():
    shared = DeliveryConfig(owner="justkalm", repo="storage-estate", owner_id="100000001",
                            repo_id="900000001", existing_oidc_provider=True)
    app = App()
    stage = DeliveryStage(app, [replace(make("333333333333"), delivery=shared)
                                for make in (dev, prod)])
    apply_policy_packs(app)  # zero unacknowledged findings, or Template.from_stack raises
    (stack,) = stage.stacks_by_id.values()
    assert stack.node.id == "dev-prod"
    template = Template.from_stack(stack).to_json()
    assert resources(template, "AWS::IAM::OIDCProvider") == {}
    principals = {json.dumps(r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
                             ["Principal"]) for r in resources(template, "AWS::IAM::Role").values()}
    assert len(principals) == 1 and "oidc-provider/token.actions.githubusercontent.com" in \
        principals.pop()
    assert len(resources(template, "AWS::IAM::Role")) == 4


@pytest.mark.parametrize("field,value", [
    ("owner", "-justkalm"), ("owner", "just kalm"), ("owner", "a" * 40),
    ("repo", "storage estate"), ("repo", ".."), ("repo", ""),
    ("branch", "refs/heads/main"), ("branch", "main/"), ("branch", "a..b"),
    ("bootstrap_qualifier", "Hnb659fds"), ("bootstrap_qualifier", "qualifier-too-long"),
    ("existing_oidc_provider", "yes"),
    ("owner_id", ""), ("owner_id", "12a"), ("owner_id", "0123"), ("owner_id", 100000001),
    ("owner_id", "justkalm"), ("repo_id", "-1"), ("repo_id", "9" * 21), ("repo_id", None),
    ("legacy_subject", "false"),
])
def test_delivery_config_refuses_bad_values_naming_the_field(field, value):
    args = {"owner": "justkalm", "repo": "storage-estate", "owner_id": "100000001",
            "repo_id": "900000001", field: value}
    with pytest.raises(ConfigError, match=f"delivery: {field} "):
        DeliveryConfig(**args)


def test_without_legacy_subject_the_trust_is_the_immutable_subject_only():
    """A repository that sends immutable subjects (created, renamed or transferred since
    mid-2026, or opted in): the name-based subject, which a new owner of a recycled name
    would also get, is no longer trusted."""
    immutable = replace(DELIVERY, legacy_subject=False)
    stage = DeliveryStage(App(), [replace(dev(), delivery=immutable)])
    (stack,) = stage.stacks_by_id.values()
    roles = {r["Properties"]["RoleName"]: r for r in resources(
        Template.from_stack(stack).to_json(), "AWS::IAM::Role").values()}
    deploy, drift = roles["justkalm-dev-github-deploy"], roles["justkalm-dev-github-drift"]
    (statement,) = deploy["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Condition"]["StringEquals"] == {
        f"{GITHUB_OIDC_HOST}:aud": AUD,
        f"{GITHUB_OIDC_HOST}:sub": [f"repo:{REPO_IDS}:environment:dev"]}
    assert trust_admits(deploy, {"aud": AUD, "sub": f"repo:{REPO_IDS}:environment:dev"})
    assert not trust_admits(deploy, {"aud": AUD, "sub": f"repo:{REPO}:environment:dev"})
    assert trust_admits(drift, {"aud": AUD, "sub": f"repo:{REPO_IDS}:ref:refs/heads/main"})
    assert not trust_admits(drift, {"aud": AUD, "sub": f"repo:{REPO}:ref:refs/heads/main"})


def test_an_environment_without_delivery_gets_no_github_roles():
    unconfigured = replace(dev(), delivery=None)
    stage = DeliveryStage(App(), [unconfigured])
    assert stage.stacks_by_id == {}
    with pytest.raises(ConfigError, match="delivery is not configured"):
        unconfigured.bootstrap_role_arns()


def test_the_roles_the_workflows_assume_are_the_synthesized_ones(templates, estate, capsys):
    """The workflows read role ARNs from `python -m tools.github_roles` (config), so they must
    name the roles the delivery stacks create and the lookup role the drift role may assume."""
    assert github_roles.main([]) == 0
    printed = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    for env, template in templates.items():
        account = estate.stages[env].cfg.account
        names = {r["Properties"]["RoleName"] for r in resources(template, "AWS::IAM::Role").values()}
        for kind in ("deploy", "drift"):
            arn = printed[f"{env}_{kind}_role"]
            assert arn.startswith(f"arn:aws:iam::{account}:role/")
            assert arn.rsplit("/", 1)[1] in names
        (drift_policy,) = [p for p in resources(template, "AWS::IAM::ManagedPolicy").values()
                           if "github-drift" in p["Properties"]["Description"]]
        assert printed[f"{env}_lookup_role"] in drift_policy["Properties"]["PolicyDocument"][
            "Statement"][0]["Resource"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_outputs_point_to_where_the_workflows_get_the_roles_not_to_github_variables(
        templates, env):
    """The workflows read no repository or environment variable (they run tools.github_roles),
    so an output that told operators to set one would send them to do something useless."""
    workflows = "\n".join(p.read_text() for p in WORKFLOWS.glob("*.yml"))
    assert "vars." not in workflows
    outputs = templates[env]["Outputs"]
    for kind in ("Deploy", "Drift"):
        output = outputs[f"{kind}RoleArn{env.capitalize()}"]
        assert output["Value"] == {"Fn::GetAtt": [next(
            lid for lid, r in resources(templates[env], "AWS::IAM::Role").items()
            if r["Properties"]["RoleName"] == f"justkalm-{env}-github-{kind.lower()}"), "Arn"]}
        assert "python -m tools.github_roles" in output["Description"]
        assert "variable" not in output["Description"].lower()


def test_the_drift_check_expects_exactly_the_synthesized_stacks_in_their_regions(estate):
    """tools.drift checks the stacks its config-derived list names (so a stack deleted by hand
    is reported missing): every stack of the environment's stage and the delivery stack of its
    account, under their deployed names and in their regions — no more, no fewer."""
    stacks = {}
    for manifest in estate.outdir.glob("assembly-*/manifest.json"):
        for artifact in json.loads(manifest.read_text())["artifacts"].values():
            if artifact["type"] == "aws:cloudformation:stack":
                stacks[artifact["displayName"]] = (artifact["properties"]["stackName"],
                                                   artifact["environment"].rsplit("/", 1)[1])
    for env in ENVIRONMENTS:
        synthesized = dict(where for display, where in stacks.items()
                           if display.startswith(f"{env}/") or
                           (display.startswith("delivery/") and env in display.split("/")[1]
                            .split("-")))
        assert any(name.startswith("delivery-") for name in synthesized)
        assert expected_stacks(env) == synthesized


def test_the_deploy_jobs_selection_is_the_environments_stage_without_the_trust(estate):
    """deploy.yml runs `cdk deploy --app cdk.out '<env>/*'`: the pinned CLI, reading the
    assembly without synthesizing, selects every stack of the stage and not the delivery
    stack that holds the trust it deploys with. (Prod only: one CLI start, the same pattern.)"""
    env = "prod"
    done = subprocess.run(
        [str(estate_synth.CDK), "ls", "--app", str(estate.outdir), f"{env}/*"],
        capture_output=True, text=True, timeout=120, cwd=estate.outdir.parent,
        env={**os.environ, "CDK_DISABLE_VERSION_CHECK": "true",
             "CDK_DISABLE_CLI_TELEMETRY": "true"})
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0] for line in done.stdout.splitlines() if line.strip()}
    assert listed == {f"{env}/{stack_id}" for stack_id in estate.stack_ids(env)}


@pytest.mark.parametrize("subjects", [[], ["justkalm/storage-estate:environment:prod"], [None]])
def test_trust_conditions_refuse_anything_but_github_subjects(subjects):
    from infra.constructs.github_oidc import github_trust_conditions

    with pytest.raises(ValueError, match="repo:"):
        github_trust_conditions(subjects)


def test_with_one_environment_selected_a_shared_account_keeps_its_one_stack():
    # `cdk deploy -c env=dev 'delivery/*'` must name the stack a full synth names, or a second
    # stack would try to create the account's one OIDC provider for GitHub again.
    shared = {"account_dev": "333333333333", "account_prod": "333333333333"}
    for selected in ({}, {"env": "dev"}, {"env": "prod"}):
        app = App(context={**shared, **selected})
        stage = DeliveryStage(app, configs_from_context(app), every_config(app))
        assert list(stage.stacks_by_id) == ["dev-prod"], selected
