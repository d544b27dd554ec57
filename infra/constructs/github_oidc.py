"""GitHub Actions' way into an account: the OpenID Connect provider and roles whose trust
names one repository and one kind of job exactly.

A GitHub job with ``permissions: id-token: write`` gets a token signed by
``token.actions.githubusercontent.com`` whose ``sub`` says which repository and which
environment (or branch) it runs for, and whose ``aud`` is what the job asked for
(``sts.amazonaws.com`` with aws-actions/configure-aws-credentials). The trust compares both
with ``StringEquals`` — no wildcard — so a fork, another repository, a pull request or another
environment never matches. The roles can do one thing: assume CDK's bootstrap roles, which
do the actual work and already exist per account and region (``cdk bootstrap``).
"""
from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import MAX_SESSION_SECONDS

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"  # what aws-actions/configure-aws-credentials requests


def github_oidc_provider_arn(scope: Construct, existing: bool) -> str:
    """The account's provider for GitHub's tokens: created here, or the one that exists."""
    if existing:
        return Stack.of(scope).format_arn(service="iam", region="", resource="oidc-provider",
                                          resource_name=GITHUB_OIDC_HOST)
    provider = iam.OidcProviderNative(scope, "GitHubOidcProvider", url=GITHUB_OIDC_URL,
                                      client_ids=[STS_AUDIENCE])
    return provider.oidc_provider_arn


def github_trust_conditions(subjects: list[str]) -> dict[str, dict[str, str | list[str]]]:
    """Exact ``aud`` and ``sub``: one repository, one environment or branch. ``subjects`` are
    the same job's ``sub`` in GitHub's formats (immutable ids, and during a migration the
    name-based one); IAM's StringEquals holds when the token's value equals any of them."""
    if not subjects or not all(isinstance(s, str) and s.startswith("repo:") for s in subjects):
        raise ValueError(f"subjects must be GitHub 'repo:…' subjects (got {subjects!r})")
    return {"StringEquals": {f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                             f"{GITHUB_OIDC_HOST}:sub": list(subjects)}}


class GitHubRole(Construct):
    """A role a GitHub job whose token's ``sub`` is one of ``subjects`` assumes, allowed only
    to assume the roles ``may_assume`` (ARNs listed one by one, never a pattern)."""

    def __init__(self, scope: Construct, construct_id: str, *, provider_arn: str,
                 subjects: list[str], role_name: str, description: str, may_assume: list[str]) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self, "Role", role_name=role_name, description=description,
            assumed_by=iam.WebIdentityPrincipal(provider_arn,
                                                conditions=github_trust_conditions(subjects)),
            max_session_duration=Duration.seconds(MAX_SESSION_SECONDS))
        self.policy = iam.ManagedPolicy(
            self, "Policy", roles=[self.role],
            description=f"{role_name}: assume the CDK bootstrap roles, nothing else",
            statements=[iam.PolicyStatement(sid="AssumeCdkBootstrapRoles",
                                            actions=["sts:AssumeRole"], resources=may_assume)])
