"""CLI: choose which region answers the upload hostname, with no code change and no deploy.

    python -m tools.failover --env prod --region us-west-2 [--yes]   # fail over
    python -m tools.failover --env prod --failback [--yes]           # fail back (= --region us-east-1)
    python -m tools.failover --env prod --status

The upload hostname's PRIMARY failover record uses a calculated Route 53 health check over the
primary's ``GET /health`` check (``infra/constructs/write_failover.py``). Its
``HealthThreshold`` is the switch: 1 follows the primary's health (normal; automatic failover
when the primary cannot write), 2 is "always unhealthy" (writes go to the replica region,
whatever the primary's state: a planned failover, or a primary that answers /health but fails
real uploads). Failing back sets 1 again: the primary serves as soon as it is healthy.

The tool finds the health check in the UploadApi stack's output ``WritesHealthCheckId``,
prints exactly what it will change (and what it is now), asks before changing it (``--yes``
skips the question; without a terminal it must be given), then updates the check with the
version it read, so a concurrent change makes it fail instead of overwrite.

Exit codes: 0 changed, or nothing to change; 1 an AWS call failed; 2 usage error (nothing
was changed).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra.config import ConfigError, EnvironmentConfig
from infra.environments import ENVIRONMENTS
from tools.cli import Parser, UsageError, run_main

AWS_FAILED = 1
HEALTH_CHECK_OUTPUT = "WritesHealthCheckId"
# write_failover.FOLLOW_ENDPOINT / FORCE_UNHEALTHY (kept literal: the tool must not import CDK).
FOLLOW_PRIMARY, FORCE_REPLICA = 1, 2


class AwsFailed(Exception):
    """An AWS call failed; what was changed before it is printed."""


@dataclass(frozen=True)
class Switch:
    """The one change: the calculated health check's threshold."""

    health_check_id: str
    name: str
    version: int
    current: int
    target: int

    def describe(self, cfg: EnvironmentConfig) -> list[str]:
        serving = {FOLLOW_PRIMARY: f"{cfg.primary_region} while its /health answers, else "
                                   f"{cfg.replica_region}",
                   FORCE_REPLICA: f"{cfg.replica_region} (the primary is marked unhealthy)",
                   0: f"{cfg.primary_region} always (forced healthy)"}
        return [f"Route 53 health check {self.health_check_id} ({self.name})",
                f"  HealthThreshold {self.current} -> {self.target}",
                f"  {cfg.upload_domain_name} now answers with: {serving.get(self.current, '?')}",
                f"  after the change:                   {serving[self.target]}",
                "  (resolvers pick it up within the record's TTL, 60 s)"]


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m tools.failover",
               description="Send uploads to a region: switch the upload hostname's Route 53 "
                           "failover (no code change, no deploy).")
    p.add_argument("--env", required=True, choices=sorted(ENVIRONMENTS))
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--region", help="the region that should serve writes afterwards")
    what.add_argument("--failback", action="store_true",
                      help="give writes back to the primary region (same as its --region)")
    what.add_argument("--status", action="store_true", help="print the state, change nothing")
    p.add_argument("--yes", action="store_true", help="do not ask before changing")
    return p


def environment(name: str) -> EnvironmentConfig:
    try:
        cfg = ENVIRONMENTS[name]()
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if cfg.upload_domain_name is None:
        raise UsageError(f"environment {name!r} has no hosted zone, so no failover record: its "
                         "clients use one region's upload API URL (see the UploadApi outputs)")
    return cfg


def target_threshold(cfg: EnvironmentConfig, region: str) -> int:
    if region == cfg.primary_region:
        return FOLLOW_PRIMARY
    if region == cfg.replica_region:
        return FORCE_REPLICA
    raise UsageError(f"--region {region!r} has no write path in {cfg.name}: choose "
                     f"{cfg.primary_region} or {cfg.replica_region}")


def _call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise AwsFailed(f"{what}: {exc}") from None


def health_check_id(cloudformation, cfg: EnvironmentConfig) -> str:
    stack = f"{cfg.name}-UploadApi"
    response = _call(f"reading stack {stack}", cloudformation.describe_stacks, StackName=stack)
    for output in response["Stacks"][0].get("Outputs", []):
        if output["OutputKey"] == HEALTH_CHECK_OUTPUT:
            return output["OutputValue"]
    raise AwsFailed(f"stack {stack} has no output {HEALTH_CHECK_OUTPUT} (deployed without a "
                    "hosted zone?)")


def read_switch(route53, check_id: str, target: int) -> Switch:
    check = _call(f"reading health check {check_id}", route53.get_health_check,
                  HealthCheckId=check_id)["HealthCheck"]
    config = check["HealthCheckConfig"]
    if config.get("Type") != "CALCULATED":
        raise AwsFailed(f"health check {check_id} is {config.get('Type')}, not the CALCULATED "
                        "check of the upload API's PRIMARY record")
    tags = _call(f"reading the tags of {check_id}", route53.list_tags_for_resource,
                 ResourceType="healthcheck", ResourceId=check_id)
    name = next((t["Value"] for t in tags["ResourceTagSet"].get("Tags", [])
                 if t["Key"] == "Name"), "unnamed")
    return Switch(check_id, name, check["HealthCheckVersion"],
                  config.get("HealthThreshold", FOLLOW_PRIMARY), target)


def confirmed(out: TextIO, ask: Callable[[str], str], assume_yes: bool, interactive: bool) -> bool:
    if assume_yes:
        return True
    if not interactive:
        raise UsageError("not a terminal: pass --yes to change without a question")
    return ask("Change it? [y/N] ").strip().lower() in ("y", "yes")


def run(args: argparse.Namespace, *, cloudformation, route53, out: TextIO,
        ask: Callable[[str], str], interactive: bool) -> int:
    cfg = environment(args.env)
    target = FOLLOW_PRIMARY if args.status or args.failback \
        else target_threshold(cfg, args.region)
    switch = read_switch(route53, health_check_id(cloudformation, cfg), target)
    lines = switch.describe(cfg)
    if args.status:
        print("\n".join(lines[:1] + [lines[2].replace("now answers", "answers")]), file=out)
        return 0
    if switch.current == switch.target:
        print("\n".join(lines[:1] + [f"  already at HealthThreshold {switch.current}: "
                                     "nothing to change"]), file=out)
        return 0
    print("This will change:\n" + "\n".join(lines), file=out)
    if not confirmed(out, ask, args.yes, interactive):
        print("Nothing changed.", file=out)
        return 0
    _call(f"updating health check {switch.health_check_id}", route53.update_health_check,
          HealthCheckId=switch.health_check_id, HealthCheckVersion=switch.version,
          HealthThreshold=switch.target)
    print(f"Changed: HealthThreshold is {switch.target}. Watch the alarm "
          f"{cfg.alarm_name_prefix}-Writes-Served-By-{cfg.replica_region}-Critical "
          f"({cfg.primary_region}).", file=out)
    return 0


def main(argv: list[str] | None = None, *, cloudformation=None, route53=None,
         out: TextIO = sys.stdout, ask: Callable[[str], str] = input,
         interactive: bool | None = None) -> int:
    def body(args: argparse.Namespace) -> int:
        cfg_region = ENVIRONMENTS[args.env]().primary_region
        return run(args,
                   cloudformation=cloudformation or boto3.client("cloudformation",
                                                                 region_name=cfg_region),
                   # Route 53 is global; its API lives in us-east-1.
                   route53=route53 or boto3.client("route53", region_name="us-east-1"),
                   out=out, ask=ask,
                   interactive=sys.stdin.isatty() if interactive is None else interactive)

    return run_main(parser(), body, argv, failures={AwsFailed: AWS_FAILED})
