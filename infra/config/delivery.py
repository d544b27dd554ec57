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
# GitHub's numeric user/organization and repository ids: assigned once, never reused.
_GITHUB_ID = re.compile(r"[1-9][0-9]{0,19}")
_BOOTSTRAP_QUALIFIER = re.compile(r"[a-z0-9]{1,10}")  # what `cdk bootstrap --qualifier` accepts
# The roles `cdk bootstrap` creates per account and region; a CDK deployment assumes them.
BOOTSTRAP_ROLE_KINDS = ("deploy", "file-publishing", "image-publishing", "lookup")
# The longest session a GitHub job may ask for (`role-duration-seconds`) on the deploy and
# drift roles. The action's credentials are never refreshed, and the CDK CLI re-assumes the
# bootstrap roles with them, so a deploy job must ask for a session at least as long as its
# timeout: the workflows' test checks it.
MAX_SESSION_SECONDS = 2 * 3600


@dataclass(frozen=True)
class DeliveryConfig:
    """Who may deploy an environment from GitHub Actions (OpenID Connect, no stored keys).

    The deploy role trusts only jobs of ``owner/repo`` that run in the GitHub environment
    named like the estate's environment, where the repository's settings require reviewers
    and restrict deployments to ``branch``. The read-only drift role trusts only ``branch``
    itself (scheduled runs, no environment).

    The token's ``sub`` names the repository in one of two formats. The immutable one
    (``repo:OWNER@OWNER_ID/REPO@REPO_ID:environment:prod``) carries GitHub's numeric ids,
    which a recycled owner or repository name never gets; it is the default for repositories
    created, renamed or transferred since mid-2026 and an opt-in for older ones. The
    name-based one (``repo:OWNER/REPO:environment:prod``) is what an older repository that
    has not opted in still sends. The roles trust the immutable subject, and the name-based
    one too only while ``legacy_subject`` is True (the migration: set it, opt the repository
    in, see a deploy pass, unset it)."""

    owner: str
    repo: str
    owner_id: str  # GitHub's numeric id of ``owner``: `gh api users/OWNER --jq .id`
    repo_id: str   # GitHub's numeric id of ``owner/repo``: `gh api repos/OWNER/REPO --jq .id`
    branch: str = "main"
    # Also trust the name-based subject: only until the repository sends immutable subjects.
    legacy_subject: bool = False
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
        for name in ("owner_id", "repo_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _GITHUB_ID.fullmatch(value):
                fail(name, f"{value!r} must be GitHub's numeric id as a string of digits "
                     "(e.g. \"123456\")")
        if not isinstance(self.legacy_subject, bool):
            fail("legacy_subject", f"must be true or false (got {self.legacy_subject!r})")
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

    def _subjects(self, context: str) -> list[str]:
        """The ``sub`` values the roles accept for ``context`` (what follows the repository):
        the immutable one, then the name-based one during the migration."""
        subjects = [f"repo:{self.owner}@{self.owner_id}/{self.repo}@{self.repo_id}:{context}"]
        if self.legacy_subject:
            subjects.append(f"repo:{self.repository}:{context}")
        return subjects

    def environment_subjects(self, environment: str) -> list[str]:
        """The token's ``sub`` of a job that declares ``environment: <environment>``."""
        return self._subjects(f"environment:{environment}")

    @property
    def branch_subjects(self) -> list[str]:
        """The token's ``sub`` of a job on ``branch`` that declares no environment."""
        return self._subjects(f"ref:refs/heads/{self.branch}")
