"""Turn the app's context into validated environment configs (the only place context is read)."""
from __future__ import annotations

import dataclasses
import difflib
import sys

from aws_cdk import App

from infra.config import ConfigError, EnvironmentConfig
from infra.environments import ENVIRONMENTS


def configs_from_context(app: App) -> list[EnvironmentConfig]:
    """`-c env=<name>` selects one environment (default: all);
    `-c account_<name>=<12 digits>` replaces that environment's placeholder account;
    `-c first_deploy=true` (a brand-new environment only) leaves out the replica bucket's
    rule back to the assets bucket, which S3 refuses before that bucket exists."""
    _refuse_unknown_account_keys(app)
    selected = app.node.try_get_context("env")
    # CDK_CONTEXT_JSON can carry any JSON value; a list or object is no environment name
    # (and could not even be looked up: it is unhashable).
    if selected is not None and not isinstance(selected, str):
        raise ConfigError(f"context env={selected!r} must be one of: {', '.join(ENVIRONMENTS)}")
    if selected is not None and selected not in ENVIRONMENTS:
        raise ConfigError(f"context env='{selected}' is not one of: {', '.join(ENVIRONMENTS)}")
    for flag in FLAGS:  # a value that is neither would silently mean "no"
        value = app.node.try_get_context(flag)
        if value not in (None, "true", "false", True, False):
            raise ConfigError(f"context {flag}={value!r} must be true or false")
    return [_config(app, name) for name in ([selected] if selected else list(ENVIRONMENTS))]


def every_config(app: App) -> list[EnvironmentConfig]:
    """Every environment's config, whichever ``-c env=`` selected: what is shared between
    environments (an account's trust of GitHub) must be grouped the same way every time."""
    return [_config(app, name) for name in ENVIRONMENTS]


def _config(app: App, name: str) -> EnvironmentConfig:
    account = app.node.try_get_context(f"account_{name}")
    cfg = ENVIRONMENTS[name](str(account)) if account is not None else ENVIRONMENTS[name]()
    if app.node.try_get_context("first_deploy") in ("true", True):  # no assets bucket yet
        cfg = dataclasses.replace(cfg, replicate_back=False)
    return cfg


# The estate's true/false context flags: ``validate-templates`` (infra/nag.py) and
# ``first_deploy``.
FLAGS = ("first_deploy", "validate-templates")


def _refuse_unknown_account_keys(app: App) -> None:
    """An ``account_<name>`` key for no environment, or a misspelt one (``acount_dev``),
    would leave the placeholder account in place without a word: refuse it. So would a
    misspelt flag (``first-deploy``) leave its default: refuse those too.

    CDK keeps its own keys in the same context (feature flags ``@aws-cdk/...``,
    ``aws:cdk:...``, lookups such as ``availability-zones:account=...``); they all contain
    ``@``, ``:`` or ``/``, which the estate's keys never do, so they are never looked at."""
    accounts = [f"account_{name}" for name in ENVIRONMENTS]
    for key in app.node.get_all_context():
        if key in accounts or any(mark in key for mark in "@:/"):
            continue
        if key.startswith("account_") or difflib.get_close_matches(key, accounts, cutoff=0.85):
            raise ConfigError(f"context {key} is not an environment's account: use one of "
                              f"{', '.join(accounts)}")
        if key not in (*FLAGS, "env") and difflib.get_close_matches(key, [*FLAGS, "env"],
                                                                     cutoff=0.8):
            raise ConfigError(f"context {key} is not one of the estate's: "
                              f"{', '.join(('env', *FLAGS))}")


def configs_or_exit(app: App, read=configs_from_context) -> list[EnvironmentConfig]:
    """``read`` (``configs_from_context``, or ``every_config``), but a bad ``-c env=``/``-c
    account_<env>=`` or config value ends the app with one line naming the field (exit 1),
    not a traceback."""
    try:
        return read(app)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
