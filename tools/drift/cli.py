"""`python -m tools.drift --env prod [--region R ...] [--summary FILE]`.

Exit codes: 0 every expected stack in sync; 1 drift found (a resource changed or deleted, or
an expected stack missing), even where detection could not complete for another stack: drift
found is never hidden behind a check that failed; 2 usage error; 3 no drift found, but
detection could not complete for some stack (AWS error, a stack CloudFormation is updating, a
failed or timed-out detection, one that compared nothing) — the report, always printed, says
which stack and why.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from tools.cli import Parser, UsageError, non_negative, region, run_main, writable_file
from tools.drift.detect import AWS_ERRORS, StackDrift, detect_region
from tools.drift.expected import expected_stacks
from tools.drift.report import drifted, incomplete, render

DRIFTED, INCOMPLETE = 1, 3


_seconds = non_negative("seconds")


def _poll_seconds(text: str) -> float:
    """Seconds between polls, > 0: with 0 the time waited never grows, so the timeout would
    never be reached."""
    value = _seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number of seconds > 0")
    return value


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m tools.drift",
               description="CloudFormation drift detection on one environment's stacks.")
    p.add_argument("--env", required=True, help="the estate environment (dev, prod)")
    p.add_argument("--region", action="append", type=region, metavar="REGION",
                   help="region to check (repeatable; default: every region the "
                        "environment uses)")
    p.add_argument("--summary", type=writable_file, metavar="FILE",
                   help="append the Markdown report here (e.g. $GITHUB_STEP_SUMMARY)")
    p.add_argument("--poll-seconds", type=_poll_seconds, default=5.0, metavar="SECONDS",
                   help="wait between status checks (> 0)")
    p.add_argument("--timeout-seconds", type=_seconds, default=900.0, metavar="SECONDS",
                   help="give up on detections still running this long after the run began, "
                        "all regions together (>= 0)")
    return p


def _regions(args: argparse.Namespace) -> list[str]:
    from infra.environments import ENVIRONMENTS

    if args.env not in ENVIRONMENTS:
        raise UsageError(f"--env {args.env!r} is not one of: {', '.join(ENVIRONMENTS)}")
    return args.region or list(ENVIRONMENTS[args.env]().regions)


def _default_client(region: str) -> Any:
    import boto3

    return boto3.client("cloudformation", region_name=region)


def check(args: argparse.Namespace, client: Callable[[str], Any], stdout=None,
          sleep: Callable[[float], None] | None = None) -> int:
    regions = _regions(args)
    expected = expected_stacks(args.env)
    options: dict[str, Any] = {"poll_seconds": args.poll_seconds}
    if sleep is not None:
        options["sleep"] = sleep
    # One wait for the whole run, shared by the regions checked one after another: the job's
    # own timeout must not end the run before its report is written.
    deadline = time.monotonic() + args.timeout_seconds
    results: list[StackDrift] = []
    for where in dict.fromkeys(regions):
        names = sorted(name for name, stack_region in expected.items() if stack_region == where)
        if not names:
            continue
        # One region's failure is that region's stacks' result: the others are still checked.
        try:
            results += detect_region(client(where), where, names, **options,
                                     timeout_seconds=max(0.0, deadline - time.monotonic()))
        except AWS_ERRORS as error:
            results += [StackDrift(name, where, problem=f"no CloudFormation client: {error}")
                        for name in names]
    text = render(args.env, results)
    (stdout or sys.stdout).write(text)
    if args.summary:
        with args.summary.open("a", encoding="utf-8") as summary:
            summary.write(text)
    # Drift found wins: a stack that could not be checked must not hide one that drifted.
    if drifted(results):
        return DRIFTED
    return INCOMPLETE if incomplete(results) or not results else 0


def main(argv: list[str] | None = None, *, client: Callable[[str], Any] = _default_client,
         stdout=None, sleep: Callable[[float], None] | None = None) -> int:
    return run_main(parser(), lambda args: check(args, client, stdout, sleep), argv)
