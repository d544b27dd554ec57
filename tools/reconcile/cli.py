"""CLI: after a failback, complete in the primary every upload the secondary Region took.

    python -m tools.reconcile --env prod --table DEDUP_TABLE [--since T] [--until T]
        [--bucket B] [--secondary-bucket B2] [--dry-run | --yes] [--report FILE]

Without ``--yes`` it is a dry run: the plan (what each version lacks and what would be done)
and the summary, nothing changed. With ``--yes`` it does it (``engine``) and prints the
audit summary: how many versions were checked, sent to the primary by S3 Batch Replication
(one job, its id and how to follow it), copied, sent to a scan, hashed and rendered, and
every one still pending, in conflict or failed.

Exit codes: 0 everything the secondary took is complete in the primary (or would be, for a
dry run), 1 something is still pending (a Batch Replication job or a scan to wait for: run it
again after it), in conflict or failed (the report says which), 2 usage error, a bucket or
table that does not answer or a report that cannot be written, all checked before anything
is changed (nothing was changed).
"""
from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tools.cli import (
    Parser,
    UsageError,
    aws_error,
    bucket,
    moment,
    replica_bucket_name,
    require_bucket,
    run_main,
)
from tools.reconcile import engine
from tools.restore import batch

NEEDS_RERUN = 1
SAMPLE_KEYS = 10
# DynamoDB's table naming rule.
TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")


def table_name(text: str) -> str:
    if not TABLE_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a DynamoDB table name (3 to 255 letters, digits, _ . -)")
    return text


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m tools.reconcile",
               description="After a failback: make every upload the secondary Region took "
                           "present, scanned, hashed and rendered in the primary.")
    p.add_argument("--env", required=True, help="the environment (its buckets, Regions, gate, "
                                                "rendition set come from its config)")
    p.add_argument("--table", required=True, type=table_name,
                   help="the dedup index table (the hasher's DEDUP_TABLE_NAME)")
    p.add_argument("--since", type=moment, metavar="TIME",
                   help="first moment of the outage window (ISO 8601 with a time zone)")
    p.add_argument("--until", type=moment, metavar="TIME", help="end of the window (excluded)")
    p.add_argument("--bucket", type=bucket, help="the primary bucket (default: the env's)")
    p.add_argument("--secondary-bucket", type=bucket,
                   help="the bucket that took the writes (default: <bucket>-replica)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the plan (the default)")
    mode.add_argument("--yes", action="store_true", help="carry the plan out")
    p.add_argument("--report", metavar="FILE", help="write every finding as JSON here")
    return p


# The failover record's TTL is 60 s; resolvers and clients hold answers longer than they should.
DNS_MARGIN_SECONDS = 300


@dataclass(frozen=True)
class Settings:
    """What the environment's config decides."""

    primary_bucket: str
    secondary_bucket: str
    primary_region: str
    secondary_region: str
    gated_prefixes: tuple[str, ...]
    render_settings: object
    account: str = ""
    batch_replication_role_arn: str | None = None  # None: the env has no such role (no gate)
    # How long after --until uploads can still land in the secondary: a URL it issued before
    # failback stays valid for the upload API's expiry, and clients keep the old DNS answer.
    late_write_seconds: int = 0

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        from infra.environments import ENVIRONMENTS
        if args.env not in ENVIRONMENTS:
            raise UsageError(f"--env must be one of {', '.join(ENVIRONMENTS)}, not {args.env!r}")
        if args.since and args.until and args.since >= args.until:
            raise UsageError("--since must be before --until")
        cfg = ENVIRONMENTS[args.env]()
        primary = args.bucket or cfg.assets_bucket_name
        secondary = args.secondary_bucket or replica_bucket_name(primary)
        if secondary == primary:
            raise UsageError("--secondary-bucket must differ from the primary bucket")
        gated = cfg.upload_gate.gated_prefixes
        # The Replica stack creates the role where the gate is on (and the rule back exists).
        role = cfg.reverse_batch_replication_role_arn if gated else None
        return cls(primary, secondary, cfg.primary_region, cfg.replica_region, gated,
                   cfg.renditions.settings(), cfg.account, role,
                   late_write_seconds=cfg.upload_api.url_expiry_seconds + DNS_MARGIN_SECONDS)


def build_estate(settings: Settings, table: str) -> engine.Estate:
    """Clients from the standard AWS environment (credentials, ``AWS_ENDPOINT_URL_*``)."""
    from estate_handlers import hasher
    from estate_handlers.layout import RECONCILE_JOBS_PREFIX
    config = Config(signature_version="s3v4", retries={"mode": "standard",
                                                       "total_max_attempts": 5})

    def s3(name: str):
        return boto3.client("s3", region_name=name, config=config)

    # GuardDuty only in the primary: no plan protects the secondary's bucket, and GuardDuty
    # scans on demand only in a bucket with one.
    primary = engine.Region(s3(settings.primary_region), settings.primary_bucket,
                            boto3.client("guardduty", region_name=settings.primary_region,
                                         config=config))
    secondary = engine.Region(s3(settings.secondary_region), settings.secondary_bucket)
    replication = None
    if settings.batch_replication_role_arn:
        # A Batch Replication job is created in its source bucket's Region.
        replication = engine.ReplicationJobs(
            boto3.client("s3control", region_name=settings.secondary_region, config=config),
            batch.BatchTarget(settings.account, settings.secondary_region,
                              settings.batch_replication_role_arn, settings.secondary_bucket,
                              RECONCILE_JOBS_PREFIX))
    dynamodb = boto3.client("dynamodb", region_name=settings.primary_region,
                            config=hasher.client_config())
    return engine.Estate(primary=primary, secondary=secondary,
                         hasher=hasher.Deps(s3=primary.s3, dynamodb=dynamodb, table_name=table),
                         render_settings=settings.render_settings,
                         gated_prefixes=settings.gated_prefixes, replication=replication)


def check_reachable(estate: engine.Estate) -> None:
    """Both buckets and the dedup table answer before anything is changed: a wrong name or
    Region would otherwise be found per version, after copies into the primary were made."""
    for side in (estate.primary, estate.secondary):
        require_bucket(side.s3, side.bucket)
    deps = estate.hasher
    try:
        deps.dynamodb.describe_table(TableName=deps.table_name)
    except (ClientError, BotoCoreError) as exc:
        raise UsageError(f"table {deps.table_name} does not answer ({aws_error(exc)}): check "
                         "--table and the Region; nothing was changed") from None


def open_report(path: str):
    """The report, opened before anything is changed: a path that cannot be written is a
    usage error then, not a crash after the changes with no report of them."""
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write --report {path} ({exc.strerror or exc}); nothing was "
                         "changed") from None


LISTING = "(the listing)"


def reconcile(estate: engine.Estate, since, until, *, apply: bool,
              originals_from=None) -> list[engine.Finding]:
    """Every version of the window examined (and, with ``apply``, reconciled). A listing that
    stops half-way is one more failed finding: what was done is still summarized and reported,
    and the run asks for a rerun."""
    findings = []
    try:
        for item in engine.written_in_secondary(estate, since, until,
                                                originals_from=originals_from):
            findings.append(engine.examine(estate, item, apply))
    except (ClientError, BotoCoreError) as exc:
        findings.append(engine.Finding(
            LISTING, "", state=engine.FAILED,
            detail=f"finding the secondary's versions stopped ({aws_error(exc)}): the "
                   f"versions after the {len(findings)} above were not checked"))
    engine.request_replication(estate, findings, apply)
    return findings


def summary(findings: list[engine.Finding], *, apply: bool) -> str:
    """The plan (dry run) or the audit summary: counts by action and state, sample keys."""
    actions = collections.Counter(a for f in findings for a in f.actions)
    states = collections.Counter(f.state for f in findings)
    verb = "done" if apply else "to do"
    lines = [f"{len(findings)} versions written in the secondary checked"]
    lines += [f"  {action} {verb}: {actions[action]}" for action in engine.ACTIONS
              if actions[action]]
    for state, count in sorted(states.items()):
        lines.append(f"  {state}: {count}")
        if state in engine.NEEDS_RERUN or state == engine.QUARANTINED:
            samples = [f for f in findings if f.state == state][:SAMPLE_KEYS]
            lines += [f"    {f.key} ({f.secondary_version}): {f.detail}" for f in samples]
    jobs = collections.Counter(f.job_id for f in findings if f.job_id)
    for job_id, count in jobs.items():
        lines.append(f"S3 Batch Replication job {job_id} replicates {count} versions to the "
                     "primary; rerun when it has completed")
    if not apply and any(f.actions for f in findings):
        lines.append("dry run: nothing changed; run again with --yes to do it")
    return "\n".join(lines)


def main(argv: list[str] | None = None, *, stdout=None,
         make_estate: Callable[[Settings, str], engine.Estate] = build_estate) -> int:
    return run_main(parser(), lambda args: _main(args, stdout or sys.stdout, make_estate), argv)


def _main(args, stdout, make_estate) -> int:
    settings = Settings.from_args(args)
    estate = make_estate(settings, args.table)
    check_reachable(estate)
    if not args.report:
        return _run(args, settings, estate, None, stdout)
    with open_report(args.report) as report:
        return _run(args, settings, estate, report, stdout)


def _run(args, settings: Settings, estate: engine.Estate, report, stdout) -> int:
    apply = bool(args.yes)
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    # Writes keep landing in the secondary after failback (URLs it issued, cached DNS): the
    # window reaches past --until by that much, so none of them is missed; past --until it
    # takes only versions written there, not the primary's new uploads replicated to it.
    until = args.until + dt.timedelta(seconds=settings.late_write_seconds) if args.until else None
    findings = reconcile(estate, args.since, until, apply=apply, originals_from=args.until)
    window = f"{args.since.isoformat() if args.since else 'the beginning'} to " \
             f"{until.isoformat() if until else 'now'}" + (
                 f" (--until plus {settings.late_write_seconds} s: URLs issued before failback "
                 "and cached DNS answers still send uploads there)" if until else "")
    print(f"reconcile s3://{settings.secondary_bucket} ({settings.secondary_region}) into "
          f"s3://{settings.primary_bucket} ({settings.primary_region}), writes from {window}",
          file=stdout)
    print(summary(findings, apply=apply), file=stdout)
    job_ids = sorted({f.job_id for f in findings if f.job_id})
    if job_ids and estate.replication is not None:
        print("follow it with:\n  " + batch.follow_hint(estate.replication.target, job_ids[0]),
              file=stdout)
    if report is not None:
        json.dump({"apply": apply, "started": started,
                   "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                   "primary": f"s3://{settings.primary_bucket}",
                   "secondary": f"s3://{settings.secondary_bucket}",
                   "since": args.since, "until": args.until, "window_end": until,
                   "batch_replication_jobs": job_ids,
                   "findings": [f.as_dict() for f in findings]},
                  report, indent=2, default=str)
    unfinished = any(f.state in engine.NEEDS_RERUN for f in findings)
    return NEEDS_RERUN if unfinished else 0
