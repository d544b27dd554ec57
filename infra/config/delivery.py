"""Delivery from GitHub Actions: which repository, branch and environments may deploy."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .common import ConfigError

# GitHub's rules: an owner (user or organization) is 1-39 letters, digits or single inner
# hyphens; a repository name is letters, digits, '.', '_' or '-' ("." and ".." are reserved).
_GITHUB_OWNER = re.compile(r"[A-Za-z0-9](-?[A-Za-z0-9]){0,38}")
_GITHUB_REPO = re.compile(r"[A-Za-z0-9._-]{1,100}")
_GIT_BRANCH = re.compile(r"[A-Za-z0-9._/-]{1,200}")
_BOOTSTRAP_QUALIFIER = re.compile(r"[a-z0-9]{1,10}")  # what `cdk bootstrap --qualifier` accepts
# The roles `cdk bootstrap` creates per account and region; a CDK deployment assumes them.
BOOTSTRAP_ROLE_KINDS = ("deploy", "file-publishing", "image-publishing", "lookup")


@dataclass(frozen=True)
class DeliveryConfig:
    """Who may deploy an environment from GitHub Actions (OpenID Connect, no stored keys).

    The deploy role trusts only jobs of ``owner/repo`` that run in the GitHub environment
    named like the estate's environment (``repo:OWNER/REPO:environment:prod``), where the
    repository's settings require reviewers and restrict deployments to ``branch``. The
    read-only drift role trusts only ``branch`` itself (scheduled runs, no environment)."""

    owner: str
    repo: str
    branch: str = "main"
    bootstrap_qualifier: str = "hnb659fds"  # CDK's default; change with `cdk bootstrap --qualifier`
    # An account holds one provider per URL: True when another stack already created GitHub's
    # (the roles then refer to it by ARN instead of creating a second, which would fail).
    existing_oidc_provider: bool = False

    def __post_init__(self) -> None:
        def fail(name: str, problem: str) -> None:
            raise ConfigError(f"delivery: {name} {problem}")

        if not isinstance(self.owner, str) or not _GITHUB_OWNER.fullmatch(self.owner):
            fail("owner", f"{self.owner!r} is not a GitHub user or organization name")
        if not isinstance(self.repo, str) or not _GITHUB_REPO.fullmatch(self.repo) \
                or self.repo in (".", ".."):
            fail("repo", f"{self.repo!r} is not a GitHub repository name")
        if not isinstance(self.branch, str) or not _GIT_BRANCH.fullmatch(self.branch) \
                or ".." in self.branch or self.branch.startswith(("/", "refs/")) \
                or self.branch.endswith(("/", ".lock")):
            fail("branch", f"{self.branch!r} is not a branch name like 'main'")
        if not isinstance(self.existing_oidc_provider, bool):
            fail("existing_oidc_provider", f"must be true or false "
                 f"(got {self.existing_oidc_provider!r})")
        if not isinstance(self.bootstrap_qualifier, str) \
                or not _BOOTSTRAP_QUALIFIER.fullmatch(self.bootstrap_qualifier):
            fail("bootstrap_qualifier", f"{self.bootstrap_qualifier!r} must be 1-10 lowercase "
                 "letters or digits (the `cdk bootstrap --qualifier`)")

    @property
    def repository(self) -> str:
        return f"{self.owner}/{self.repo}"

    def environment_subject(self, environment: str) -> str:
        """The token's ``sub`` of a job that declares ``environment: <environment>``."""
        return f"repo:{self.repository}:environment:{environment}"

    @property
    def branch_subject(self) -> str:
        """The token's ``sub`` of a job on ``branch`` that declares no environment."""
        return f"repo:{self.repository}:ref:refs/heads/{self.branch}"
