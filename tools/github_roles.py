"""The roles GitHub Actions assumes, from the environments' config (one source of truth, no
role ARN typed into repository settings): `python -m tools.github_roles [--env E]` prints
``<env>_deploy_role=ARN``, ``<env>_drift_role=ARN`` and ``<env>_lookup_role=ARN`` lines, the
format of ``$GITHUB_OUTPUT``. Needs no AWS credentials; imports botocore (through the tools'
shared CLI helpers), so the workflow installs boto3 first.
"""
from __future__ import annotations

import argparse
import sys

from tools.cli import Parser, UsageError, run_main


def role_lines(env: str | None = None) -> list[str]:
    from infra.environments import ENVIRONMENTS

    if env is not None and env not in ENVIRONMENTS:
        raise UsageError(f"--env {env!r} is not one of: {', '.join(ENVIRONMENTS)}")
    lines = []
    for name in [env] if env else list(ENVIRONMENTS):
        cfg = ENVIRONMENTS[name]()
        if cfg.delivery is None:
            continue
        lines += [f"{name}_deploy_role={cfg.github_deploy_role_arn}",
                  f"{name}_drift_role={cfg.github_drift_role_arn}",
                  # the drift check works through the primary region's lookup role
                  f"{name}_lookup_role={cfg.bootstrap_role_arns('lookup')[0]}"]
    return lines


def main(argv: list[str] | None = None, stdout=None) -> int:
    parser = Parser(prog="python -m tools.github_roles",
                    description="Print the GitHub Actions roles of each environment.")
    parser.add_argument("--env", help="one environment (default: every one)")

    def body(args: argparse.Namespace) -> int:
        lines = role_lines(args.env)
        (stdout or sys.stdout).write("".join(f"{line}\n" for line in lines))
        return 0
    return run_main(parser, body, argv)


if __name__ == "__main__":
    sys.exit(main())
