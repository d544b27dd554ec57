"""python -m tools.scan_existing --env prod [--prefix P] [--dry-run] [--workers N]

Sends every current version under the environment's gated prefixes that has no scan verdict
to GuardDuty's on-demand scan (``SendObjectMalwareScan``), then prints what it found and did.
A rerun skips what has a verdict by then, so run it again once the scans have caught up
(``--dry-run`` counts what is left) before the gate holds unscanned versions back. Needs AWS
credentials with ``s3:ListBucketVersions``, ``s3:GetObjectVersionTagging``,
``s3:GetObjectVersion`` (HeadObject of an Intelligent-Tiering version, for its archive status:
allowed by the gate only while ``hold_unscanned`` is false, the window this tool is for) and
``guardduty:SendObjectMalwareScan``.

Archived versions (Glacier Flexible Retrieval, Deep Archive, Intelligent-Tiering's archive
tiers) are counted, not sent, unless a restored copy is there: GuardDuty does not scan
archive tiers. ``--rescan-failed`` sends
versions whose scan failed (``FAILED``, ``ACCESS_DENIED``) again.

Exit codes: 0 every version without a verdict was sent (or would be), 1 some failed (listed on
stderr) or the listing stopped (the counts so far are printed), 2 usage error: nothing was sent.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tools.cli import Parser, UsageError, aws_error, require_bucket, run_main
from tools.scan_existing import FAILED, scan_existing

SOME_FAILED = 1


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m tools.scan_existing", description=__doc__.splitlines()[0])
    p.add_argument("--env", required=True, help="environment name (its assets bucket and gate)")
    p.add_argument("--prefix", help="one folder inside a gated prefix (default: every gated "
                                    "prefix)")
    p.add_argument("--dry-run", action="store_true",
                   help="count the versions without a verdict; send nothing")
    p.add_argument("--rescan-failed", action="store_true",
                   help="also send versions whose scan failed (FAILED, ACCESS_DENIED)")
    p.add_argument("--workers", type=int, default=16, choices=range(1, 65), metavar="1-64",
                   help="requests in flight (default: %(default)s)")
    return p


def main(argv: list[str] | None = None, *, s3=None, guardduty=None, stdout=None) -> int:
    return run_main(parser(), lambda args: _main(args, s3, guardduty, stdout or sys.stdout),
                    argv)


def _main(args: argparse.Namespace, s3, guardduty, stdout) -> int:
    from infra.environments import ENVIRONMENTS

    if args.env not in ENVIRONMENTS:
        raise UsageError(f"--env must be one of {', '.join(ENVIRONMENTS)}")
    cfg = ENVIRONMENTS[args.env]()
    gated = cfg.upload_gate.gated_prefixes
    if not gated:
        raise UsageError(f"the upload gate is off in {args.env}: GuardDuty has no plan for "
                         "its bucket, so there is nothing to scan with; nothing was sent")
    prefixes = gated
    if args.prefix is not None:
        if not args.prefix.startswith(gated):
            raise UsageError(f"--prefix {args.prefix!r} is not inside a gated prefix "
                             f"({', '.join(gated)}); nothing was sent")
        prefixes = (args.prefix,)
    config = Config(retries={"mode": "adaptive", "max_attempts": 10},
                    max_pool_connections=args.workers)
    s3 = s3 or boto3.client("s3", region_name=cfg.primary_region, config=config)
    guardduty = guardduty or boto3.client("guardduty", region_name=cfg.primary_region,
                                          config=config)
    bucket = cfg.assets_bucket_name
    require_bucket(s3, bucket, unchanged="nothing was sent")
    counts: Counter = Counter()
    stopped = None
    try:
        scan_existing(s3, guardduty, bucket, prefixes, dry_run=args.dry_run,
                      workers=args.workers, report=sys.stderr,
                      rescan_failed=args.rescan_failed, counts=counts)
    except (ClientError, BotoCoreError) as exc:
        stopped = aws_error(exc)
    print(f"s3://{bucket} {', '.join(prefixes)}: current versions: {sum(counts.values())}"
          + (" so far" if stopped else ""), file=stdout)
    for outcome, count in sorted(counts.items()):
        print(f"  {outcome}: {count}", file=stdout)
    if stopped:
        print(f"{parser().prog}: the listing stopped ({stopped}); run again to go on: versions "
              "with a verdict by then are skipped", file=sys.stderr)
    return SOME_FAILED if counts[FAILED] or stopped else 0
