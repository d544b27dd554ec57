"""CLI: choose which region answers the upload hostname, with no code change, no deploy, and
nothing in us-east-1.

    python -m tools.failover --env prod --region us-west-2 [--yes]   # fail over (pin)
    python -m tools.failover --env prod --failback [--yes]           # fail back (= --region us-east-1)
    python -m tools.failover --env prod --status

The upload hostname's PRIMARY failover record uses a calculated Route 53 health check that
needs both of its children healthy (``infra/constructs/write_failover.py``): the endpoint
check on the primary's health route (``GET /health-<stack id>``), and the switch, a Route 53
check on a CloudWatch alarm in the replica region over a metric this tool writes there with
PutMetricData: 1 pins writes to the replica region (the alarm goes to ALARM, the switch check
and so the calculated check turn unhealthy), 0 releases them (the primary serves while its health route answers).

Only the replica region's CloudWatch is called to move writes: no Route 53 API and no
CloudFormation lookup (the Route 53 control plane is in us-east-1, the region whose outage a
failover is for; the alarm name comes from the config). The tool prints what it will change,
asks (``--yes`` skips the question; without a terminal it must be given), writes the metric,
then waits for the alarm to show the new state, writing the value again each minute, and
writes it for ``HOLD_WRITES`` more minutes: the alarm and Route 53 evaluate one-minute periods,
and Route 53 must find a datapoint in one it reads.

``--status`` reads the switch's alarm (replica region) and the primary region's
``Writes-Served-By-<replica>`` alarm, which follows Route 53's verdict on the calculated check.

Exit codes: 0 changed, or already in place (the value is written and held again: Route 53
reads the metric, not the alarm); 1 an AWS call failed or the alarm did not follow
within ``--wait`` seconds; 2 usage error (nothing was changed).
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra.config import (
    WRITE_SWITCH_METRIC,
    WRITE_SWITCH_NAMESPACE,
    WRITE_SWITCH_PINNED,
    WRITE_SWITCH_RELEASED,
    ConfigError,
    EnvironmentConfig,
)
from infra.environments import ENVIRONMENTS
from tools.cli import Parser, UsageError, non_negative, run_main

AWS_FAILED = 1
# The alarm state each switch value leads to.
STATE_OF = {WRITE_SWITCH_PINNED: "ALARM", WRITE_SWITCH_RELEASED: "OK"}
WAIT_SECONDS = 300
POLL_SECONDS = 15
REPUBLISH_SECONDS = 60
# Route 53 reads the metric's data stream itself, on a schedule AWS does not document: after
# the alarm has moved, the value is written for a few more minutes, so Route 53 finds it in
# whichever minute it reads (with no datapoint it keeps its last known status).
HOLD_WRITES = 3


class AwsFailed(Exception):
    """An AWS call failed, or the switch did not take; what was changed before is printed."""


@dataclass(frozen=True)
class Switch:
    """The switch's alarm as read, and the value to write."""

    alarm_name: str
    state: str  # OK, ALARM or INSUFFICIENT_DATA
    target: int

    def describe(self, cfg: EnvironmentConfig) -> list[str]:
        serving = {"OK": f"{cfg.primary_region} while its /health answers, else "
                         f"{cfg.replica_region}",
                   "ALARM": f"{cfg.replica_region} (pinned: the primary is marked unhealthy)",
                   "INSUFFICIENT_DATA": f"{cfg.primary_region} while its /health answers, else "
                                        f"{cfg.replica_region} (never switched: Route 53 "
                                        "keeps the switch's last known status, healthy when "
                                        "new)"}
        return [f"Failover switch: alarm {self.alarm_name} ({cfg.replica_region})",
                f"  state {self.state} -> {STATE_OF[self.target]} "
                f"(metric {WRITE_SWITCH_NAMESPACE}/{WRITE_SWITCH_METRIC} = {self.target})",
                f"  {cfg.upload_domain_name} now answers with: {serving[self.state]}",
                f"  after the change:                   {serving[STATE_OF[self.target]]}",
                "  (Route 53 reads the switch's metric itself, within minutes; resolvers "
                "follow within the record's TTL, 60 s)"]


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m tools.failover",
               description="Send uploads to a region: flip the upload hostname's failover "
                           "switch (a metric in the replica region; no code change, no deploy, "
                           "no us-east-1 call).")
    p.add_argument("--env", required=True, choices=sorted(ENVIRONMENTS))
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--region", help="the region that should serve writes afterwards")
    what.add_argument("--failback", action="store_true",
                      help="give writes back to the primary region (same as its --region)")
    what.add_argument("--status", action="store_true", help="print the state, change nothing")
    p.add_argument("--yes", action="store_true", help="do not ask before changing")
    p.add_argument("--wait", type=non_negative("seconds"), default=WAIT_SECONDS,
                   help=f"seconds to wait for the switch's alarm to follow "
                        f"(default {WAIT_SECONDS})")
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


def target_value(cfg: EnvironmentConfig, region: str) -> int:
    if region == cfg.primary_region:
        return WRITE_SWITCH_RELEASED
    if region == cfg.replica_region:
        return WRITE_SWITCH_PINNED
    raise UsageError(f"--region {region!r} has no write path in {cfg.name}: choose "
                     f"{cfg.primary_region} or {cfg.replica_region}")


def _call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise AwsFailed(f"{what}: {exc}") from None


def alarm_state(cloudwatch, name: str, region: str) -> str:
    alarms = _call(f"reading alarm {name} ({region})", cloudwatch.describe_alarms,
                   AlarmNames=[name], AlarmTypes=["MetricAlarm"])["MetricAlarms"]
    if not alarms:
        raise AwsFailed(f"alarm {name} does not exist in {region} (deployed without a hosted "
                        "zone, or not yet deployed?)")
    return alarms[0]["StateValue"]


def write_switch(cloudwatch, cfg: EnvironmentConfig, value: int) -> None:
    _call(f"writing {WRITE_SWITCH_NAMESPACE}/{WRITE_SWITCH_METRIC} = {value} "
          f"({cfg.replica_region})", cloudwatch.put_metric_data,
          Namespace=WRITE_SWITCH_NAMESPACE,
          MetricData=[{"MetricName": WRITE_SWITCH_METRIC, "Value": value, "Unit": "None",
                       "Dimensions": [{"Name": k, "Value": v}
                                      for k, v in cfg.write_switch_dimensions.items()]}])


def confirmed(ask: Callable[[str], str], assume_yes: bool, interactive: bool) -> bool:
    if assume_yes:
        return True
    if not interactive:
        raise UsageError("not a terminal: pass --yes to change without a question")
    return ask("Change it? [y/N] ").strip().lower() in ("y", "yes")


class NotYetFollowed(AwsFailed):
    """The value is written, but the alarm has not shown it within ``--wait``."""


def wait_for(cloudwatch, cfg: EnvironmentConfig, switch: Switch, *, wait: float,
             clock: Callable[[], float], sleep: Callable[[float], None]) -> str:
    """Poll the alarm until it shows the target state; write the value again every minute
    meanwhile (each write is a datapoint in the minute the alarm and Route 53 evaluate)."""
    wanted = STATE_OF[switch.target]
    started = last_write = clock()
    while True:
        state = alarm_state(cloudwatch, switch.alarm_name, cfg.replica_region)
        if state == wanted:
            return state
        if clock() - started >= wait:
            raise NotYetFollowed(f"the metric is written and held, but alarm "
                                 f"{switch.alarm_name} is still {state} after {wait:g} s (not "
                                 f"{wanted}): check it and Route 53 with --status, and run "
                                 "the command again")
        sleep(POLL_SECONDS)
        if clock() - last_write >= REPUBLISH_SECONDS:
            write_switch(cloudwatch, cfg, switch.target)
            last_write = clock()


def status(cfg: EnvironmentConfig, cloudwatch, primary_cloudwatch, out: TextIO) -> int:
    state = alarm_state(cloudwatch, cfg.write_switch_alarm_name, cfg.replica_region)
    switch = Switch(cfg.write_switch_alarm_name, state, WRITE_SWITCH_RELEASED)
    lines = switch.describe(cfg)
    print("\n".join([lines[0], f"  state {state}",
                     lines[2].replace("now answers", "answers")]), file=out)
    served = cfg.writes_served_by_replica_alarm_name
    meaning = {"ALARM": f"{cfg.replica_region} serves writes",
               "OK": f"{cfg.primary_region} serves writes"}
    try:  # the primary region may be the one that is down: the switch is printed already
        verdict = alarm_state(primary_cloudwatch, served, cfg.primary_region)
    except AwsFailed as exc:
        print(f"Route 53's verdict: unavailable ({exc})", file=out)
        return AWS_FAILED
    print(f"Route 53's verdict: alarm {served} ({cfg.primary_region}) is {verdict}: "
          f"{meaning.get(verdict, 'no data from Route 53')}", file=out)
    return 0


def run(args: argparse.Namespace, *, cloudwatch, primary_cloudwatch, out: TextIO,
        ask: Callable[[str], str], interactive: bool, clock: Callable[[], float],
        sleep: Callable[[float], None]) -> int:
    cfg = environment(args.env)
    if args.status:
        return status(cfg, cloudwatch, primary_cloudwatch, out)
    target = WRITE_SWITCH_RELEASED if args.failback else target_value(cfg, args.region)
    switch = Switch(cfg.write_switch_alarm_name,
                    alarm_state(cloudwatch, cfg.write_switch_alarm_name, cfg.replica_region),
                    target)
    lines = switch.describe(cfg)
    # Route 53 reads the metric, not the alarm: an alarm already in the target state does not
    # prove Route 53 saw the value (a run interrupted during the hold, a recreated check), so
    # the value is written and held again, which changes nothing if it had.
    already = switch.state == STATE_OF[target]
    if already:
        print("\n".join(lines[:1] + [f"  already {switch.state}: writing {target} again so "
                                      "Route 53 reads it too"]), file=out)
    else:
        print("This will change:\n" + "\n".join(lines), file=out)
        if not confirmed(ask, args.yes, interactive):
            print("Nothing changed.", file=out)
            return 0
    write_switch(cloudwatch, cfg, target)
    lagging = None
    if not already:
        print(f"Written: {WRITE_SWITCH_METRIC} = {target}. Waiting for the alarm to read "
              f"{STATE_OF[target]} (up to {args.wait:g} s)...", file=out)
        try:
            wait_for(cloudwatch, cfg, switch, wait=args.wait, clock=clock, sleep=sleep)
        except NotYetFollowed as exc:
            # The value is written either way, and Route 53 reads the metric, not the alarm:
            # it is held all the same, or a check that reads it late would find one datapoint
            # and a run reported as failed would still move writes.
            lagging = exc
    print(f"{'The alarm reads ' + STATE_OF[target] if lagging is None else 'The alarm lags'}; "
          f"writing the value for {HOLD_WRITES} more minutes so Route 53 reads it too...",
          file=out)
    for _ in range(HOLD_WRITES):
        sleep(REPUBLISH_SECONDS)
        write_switch(cloudwatch, cfg, target)
    if lagging is not None:
        raise lagging
    print(f"Changed: alarm {switch.alarm_name} is {STATE_OF[target]}. Watch the alarm "
          f"{cfg.writes_served_by_replica_alarm_name} ({cfg.primary_region}) or --status.",
          file=out)
    return 0


def main(argv: list[str] | None = None, *, cloudwatch=None, primary_cloudwatch=None,
         out: TextIO = sys.stdout, ask: Callable[[str], str] = input,
         interactive: bool | None = None, clock: Callable[[], float] = time.monotonic,
         sleep: Callable[[float], None] = time.sleep) -> int:
    def body(args: argparse.Namespace) -> int:
        cfg = environment(args.env)
        return run(args,
                   # The switch: CloudWatch in the replica region, nothing in us-east-1.
                   cloudwatch=cloudwatch or boto3.client("cloudwatch",
                                                         region_name=cfg.replica_region),
                   # Only --status asks the primary region (Route 53's verdict).
                   primary_cloudwatch=primary_cloudwatch or (
                       boto3.client("cloudwatch", region_name=cfg.primary_region)
                       if args.status else None),
                   out=out, ask=ask,
                   interactive=sys.stdin.isatty() if interactive is None else interactive,
                   clock=clock, sleep=sleep)

    return run_main(parser(), body, argv, failures={AwsFailed: AWS_FAILED})
