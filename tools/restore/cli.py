"""CLI: put a prefix back the way it was at a moment.

    python -m tools.restore --bucket B --prefix P --at 2026-11-20T10:00:00Z
        [--to-bucket B2] [--to-prefix P2] [--from-replica] [--dry-run] [--remove-newer]
        [--workers N] [--report FILE] [--yes] [--batch-operations ...]

Exit codes: 0 restored (or nothing to do), 1 some keys failed (the report says which), wait for
their scan (``restored-pending-scan``: rerun once scanned) or the Batch Operations job was not
created, 2 usage error (nothing was changed).

Two phases. The plan streams the listing(s) into decisions spooled to a temporary file (memory
flat in the number of versions; the dry run stops here, writing the whole plan to --report).
Then N workers carry the decisions out, each idempotent and verified (``copier``), with at most
a few per worker in flight.
"""
from __future__ import annotations

import argparse
import collections
import datetime as dt
import email.utils
import functools
import hashlib
import json
import os
import queue
import re
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import botocore.session
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.utils import parse_timestamp
from tqdm import tqdm

from infra.config import RESTORE_JOBS_PREFIX
from tools.cli import (
    Parser,
    UsageError,
    aws_error,
    bucket,
    moment,
    region,
    replica_bucket_name,
    require_bucket,
    run_main,
    writable_file,
)
from tools.restore import batch as batch_ops
from tools.restore.copier import (
    ARCHIVE_REPORTED,
    COPY_OBJECT_LIMIT,
    FAILED,
    MB,
    RESTORE_IN_PROGRESS,
    RESTORE_REQUESTED,
    RESTORED_PENDING_SCAN,
    CopyOptions,
    Location,
    Restorer,
)
from tools.restore.listing import key_states
from tools.restore.plan import ACTIONS, COPY, DELETE_MARKER, Decision, plan

KEYS_FAILED = 1
DRY_RUN = "dry-run"  # a report entry's outcome when nothing was done
IN_BATCH_JOB = "copied-by-batch-job"
SAMPLE_KEYS = 10
# Default above which the copies go to S3 Batch Operations (RecoveryConfig documents it too).
DEFAULT_BATCH_THRESHOLD = 100_000
GATE_CHECK_CHUNK = 1024  # decisions whose scan tags are read before the next are taken
# Upper bound of --workers. S3 serves about 3,500 writes a second per prefix, which a few dozen
# workers already reach (more only earn SlowDown retries), and the connection pool is sized
# from the workers (``client_config``): a huge value would build a pool and threads for nothing,
# or hang the run.
MAX_WORKERS = 256
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}", re.ASCII)


class BatchSubmitError(Exception):
    pass


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def _workers(text: str) -> int:
    value = _positive(text)
    if value > MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers from 1 to {MAX_WORKERS}")
    return value


def _account_id(text: str) -> str:
    # Checked here: S3 Control puts the account in its endpoint's host name, so a bad one
    # would only fail after the manifest was uploaded.
    if not _ACCOUNT_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a 12-digit AWS account ID")
    return text


def _role_arn(text: str) -> str:
    if not _ROLE_ARN.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an IAM role ARN such as arn:aws:iam::111111111111:role/name")
    return text


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m tools.restore",
                description="Restore every key under a prefix to the version current at a "
                            "moment, as new current versions (history is never rewritten).")
    p.add_argument("--bucket", required=True, type=bucket, help="the bucket to restore")
    p.add_argument("--prefix", required=True, help="the prefix to restore ('' = whole bucket)")
    p.add_argument("--at", required=True, type=moment, metavar="TIME",
                   help="ISO 8601 moment with a time zone, e.g. 2026-11-20T10:00:00Z")
    p.add_argument("--to-bucket", type=bucket, help="write the restored state into this bucket")
    p.add_argument("--to-prefix", help="write the restored state under this prefix")
    p.add_argument("--from-replica", action="store_true",
                   help="disaster mode: read the history from the replica bucket")
    p.add_argument("--replica-bucket", type=bucket,
                   help="replica bucket (default: <bucket>-replica)")
    p.add_argument("--replica-region", type=region, default="us-west-2", help="(default: us-west-2)")
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p.add_argument("--remove-newer", action="store_true",
                   help="add a delete marker to keys that did not exist at --at")
    p.add_argument("--workers", type=_workers, default=16,
                   help=f"parallel copies, 1 to {MAX_WORKERS} (default 16)")
    p.add_argument("--report", type=writable_file, metavar="FILE",
                   help="write the JSON report (every key) here")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--request-archive-restore", action="store_true",
                   help="for versions in an archive tier, request a restore (rerun later)")
    p.add_argument("--archive-restore-tier", choices=["Standard", "Bulk", "Expedited"],
                   default="Standard")
    p.add_argument("--batch-operations", action="store_true",
                   help="copy through an S3 Batch Operations job instead of from this machine")
    p.add_argument("--batch-threshold", type=_positive, default=DEFAULT_BATCH_THRESHOLD,
                   help=f"copies above which Batch Operations is used (default "
                        f"{DEFAULT_BATCH_THRESHOLD})")
    p.add_argument("--batch-role-arn", type=_role_arn,
                   help="the restore role (Recovery stack output RestoreBatchRoleArn)")
    p.add_argument("--account-id", type=_account_id,
                   help="for Batch Operations (default: from STS)")
    p.add_argument("--multipart-threshold-mb", type=_positive,
                   default=COPY_OBJECT_LIMIT // MB, help=argparse.SUPPRESS)
    p.add_argument("--part-size-mb", type=_positive, default=512, help=argparse.SUPPRESS)
    p.add_argument("--page-size", type=_positive, default=1000, help=argparse.SUPPRESS)
    return p


@dataclass
class Run:
    """Resolved arguments: where history is read, where the state is written."""

    args: argparse.Namespace
    source_bucket: str
    source_prefix: str
    dest_bucket: str
    dest_prefix: str
    source_region: str | None = None

    @property
    def in_place(self) -> bool:
        return (self.source_bucket, self.source_prefix) == (self.dest_bucket, self.dest_prefix)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Run:
        if args.from_replica:
            if args.to_bucket or args.to_prefix is not None:
                raise UsageError("--from-replica restores the primary prefix itself; "
                                 "it cannot be combined with --to-bucket/--to-prefix")
            return cls(args, args.replica_bucket or replica_bucket_name(args.bucket), args.prefix,
                       args.bucket, args.prefix, source_region=args.replica_region)
        if args.replica_bucket:
            raise UsageError("--replica-bucket needs --from-replica")
        run = cls(args, args.bucket, args.prefix, args.to_bucket or args.bucket,
                  args.prefix if args.to_prefix is None else args.to_prefix)
        if run.dest_bucket == run.source_bucket and not run.in_place and (
                run.dest_prefix.startswith(run.source_prefix)
                or run.source_prefix.startswith(run.dest_prefix)):
            raise UsageError(f"--to-prefix {run.dest_prefix!r} overlaps --prefix "
                             f"{run.source_prefix!r}: the restore would list its own output")
        return run


@dataclass
class PlanSummary:
    counts: collections.Counter = field(default_factory=collections.Counter)
    bytes: collections.Counter = field(default_factory=collections.Counter)
    samples: dict[str, list[str]] = field(default_factory=lambda: collections.defaultdict(list))
    versions: int = 0

    def add(self, decision: Decision) -> None:
        self.counts[decision.action] += 1
        self.bytes[decision.action] += decision.size
        if len(self.samples[decision.action]) < SAMPLE_KEYS:
            self.samples[decision.action].append(decision.dest_key)

    @property
    def actions(self) -> int:
        return sum(self.counts[a] for a in ACTIONS)

    def render(self, run: Run) -> str:
        lines = [f"restore s3://{run.source_bucket}/{run.source_prefix} as of "
                 f"{run.args.at.isoformat()} into s3://{run.dest_bucket}/{run.dest_prefix}",
                 f"  {self.versions} versions and delete markers listed"]
        for action, count in sorted(self.counts.items()):
            size = f", {self.bytes[action]:,} bytes" if self.bytes[action] else ""
            lines.append(f"  {action}: {count} keys{size}")
            lines.extend(f"    {key}" for key in self.samples[action])
            if count > len(self.samples[action]):
                lines.append(f"    … and {count - len(self.samples[action])} more")
        return "\n".join(lines)


class ReportWriter:
    """Streams the JSON report: every key as it is done, then the summary."""

    def __init__(self, path: str | Path | None):
        self._file = open(path, "w", encoding="utf-8") if path else None
        self._first = True
        if self._file:
            self._file.write('{"keys": [\n')

    def add(self, entry: dict) -> None:
        if self._file:
            self._file.write(("" if self._first else ",\n") + json.dumps(entry, ensure_ascii=False))
            self._first = False

    def close(self, summary: dict) -> None:
        if self._file:
            self._file.write(f'\n], "summary": {json.dumps(summary)}}}\n')
            self._file.close()


def client_config(workers: int) -> Config:
    # Adaptive mode: exponential backoff with jitter on throttling (SlowDown, 503) and a
    # client-side rate limiter that backs all workers off together. Pool: each worker may have
    # a copy and a source read in flight at once (``Restorer``), plus the listing.
    return Config(signature_version="s3v4", max_pool_connections=2 * workers + 4,
                  retries={"mode": "adaptive", "max_attempts": 10})


def s3_timestamp(value):
    """S3's timestamps — ISO 8601 in XML bodies, RFC 1123 in headers — parsed by the standard
    library. botocore's default goes through dateutil, several percent of a small request's
    CPU, paid on every response; anything else still goes to botocore's parser."""
    if isinstance(value, str):
        try:
            moment = (dt.datetime.fromisoformat(value) if value[:4].isdigit()
                      else email.utils.parsedate_to_datetime(value))
        except (TypeError, ValueError):
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment
    return parse_timestamp(value)


@functools.cache
def _session() -> boto3.session.Session:
    """One per process, like boto3's default session (service models load once)."""
    core = botocore.session.get_session()
    core.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=s3_timestamp)
    return boto3.session.Session(botocore_session=core)


def make_clients(run: Run) -> tuple[object, object]:
    """(source client, destination client). Endpoint, credentials and Region come from the
    standard AWS environment (``AWS_ENDPOINT_URL_S3`` included)."""
    session = _session()
    config = client_config(run.args.workers)
    dest = session.client("s3", config=config)
    source = session.client("s3", region_name=run.source_region, config=config) \
        if run.source_region else dest
    return source, dest


def build_plan(run: Run, source_s3, dest_s3, spool) -> PlanSummary:
    """Stream the decisions into ``spool`` (one JSON line each) and summarize them."""
    summary = PlanSummary()

    def counted(states):
        for state in states:
            summary.versions += state.versions
            yield state

    page = run.args.page_size
    source = counted(key_states(source_s3, run.source_bucket, run.source_prefix, run.args.at,
                                page_size=page))
    dest = None if run.in_place else counted(
        key_states(dest_s3, run.dest_bucket, run.dest_prefix, page_size=page))
    for decision in plan(source, run.source_prefix, run.dest_prefix, dest,
                         remove_newer=run.args.remove_newer, exact=not run.args.from_replica):
        summary.add(decision)
        spool.write(json.dumps(decision.to_json(), ensure_ascii=False) + "\n")
    spool.flush()
    spool.seek(0)
    return summary


def _decisions(spool):
    for line in spool:
        yield Decision.from_json(json.loads(line))


def _confirm(run: Run, summary: PlanSummary) -> None:
    # The live bucket is the one --bucket names: the source of an ordinary restore, the
    # destination of --from-replica (its source is the replica).
    risky = run.dest_bucket == run.args.bucket or summary.counts[DELETE_MARKER]
    if run.args.yes or not summary.actions or not risky:
        return
    if not sys.stdin.isatty():
        raise UsageError("this run writes to the live bucket; confirm with --yes "
                         "(no terminal to ask on)")
    answer = input(f"Type the bucket name ({run.dest_bucket}) to restore "
                   f"{summary.actions} keys: ")
    if answer.strip() != run.dest_bucket:
        raise UsageError("not confirmed; nothing was changed")


def execute(run: Run, restorer: Restorer, decisions, total: int, report: ReportWriter,
            keep=lambda decision: True) -> collections.Counter:
    """Carry out every decision with ``run.args.workers`` threads; at most 4 per worker are
    in flight, so memory does not grow with the number of keys. Finished work comes back
    through a queue (O(1) per key, where waiting on the set of pending futures is O(pending))."""
    outcomes: collections.Counter = collections.Counter()
    quiet = not sys.stderr.isatty() or bool(os.environ.get("CI"))
    limit = run.args.workers * 4
    finished: queue.SimpleQueue = queue.SimpleQueue()
    with tqdm(total=total, unit="key", disable=quiet, file=sys.stderr) as bar, \
            ThreadPoolExecutor(max_workers=run.args.workers) as pool:
        in_flight = 0

        def record(entry: dict) -> None:
            outcomes[entry["outcome"]] += 1
            report.add(entry)
            bar.update(1)

        def collect_one() -> None:
            nonlocal in_flight
            record(finished.get().result())  # a BaseException (a crash) ends the run here
            in_flight -= 1

        for decision in decisions:
            if decision.action not in ACTIONS or not keep(decision):
                outcome = decision.action if decision.action not in ACTIONS else IN_BATCH_JOB
                record({"key": decision.dest_key, "source_key": decision.source_key,
                        "action": decision.action, "outcome": outcome,
                        "version_id": decision.version_id})
                continue
            pool.submit(restorer.carry_out, decision).add_done_callback(finished.put)
            in_flight += 1
            while in_flight > limit:
                collect_one()
        while in_flight:
            collect_one()
    return outcomes


def _why_not_batch(run: Run) -> str | None:
    """Why this run cannot use Batch Operations, or None when it can."""
    if not run.args.batch_role_arn:
        return ("Batch Operations needs --batch-role-arn (the Recovery stack's "
                "RestoreBatchRoleArn output)")
    if run.dest_prefix != run.source_prefix or run.args.from_replica:
        return ("Batch Operations copies keys unchanged: it cannot restore into another "
                "prefix or from the replica")
    if run.dest_bucket != run.source_bucket:
        # The Recovery stack's Batch role may read and write the assets bucket only.
        return "the Batch Operations role may only restore within its own bucket"
    return None


def _use_batch(run: Run, copies: int, stdout) -> bool:
    """``--batch-operations`` asks for it (a usage error if it cannot be used); above
    ``--batch-threshold`` it is used when it can be, else the copies run from here, said so."""
    reason = _why_not_batch(run)
    if run.args.batch_operations:
        if reason:
            raise UsageError(f"{reason}; run without --batch-operations")
        return True
    if copies <= run.args.batch_threshold:
        return False
    if reason:
        print(f"  ({copies} copies, above --batch-threshold, run from this machine: {reason})",
              file=stdout)
        return False
    return True


def _versioned(s3, bucket_name: str) -> None:
    """The restore writes into a versioned bucket only: there a copy is a new version and a
    removal a delete marker, and every earlier version stays. Unversioned (or suspended), a
    copy replaces the object for good and a removal deletes it."""
    try:
        status = s3.get_bucket_versioning(Bucket=bucket_name).get("Status")
    except (ClientError, BotoCoreError) as exc:
        raise UsageError(f"cannot read the versioning of s3://{bucket_name} ({aws_error(exc)}); "
                         "nothing was changed") from None
    if status != "Enabled":
        raise UsageError(f"s3://{bucket_name} does not have versioning enabled "
                         f"({status or 'never enabled'}): a restore there would overwrite and "
                         "delete for good; nothing was changed")


def _batch_target(run: Run, dest_s3) -> batch_ops.BatchTarget:
    args = run.args
    try:
        account = args.account_id or boto3.client("sts").get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as exc:
        raise UsageError(f"cannot find the AWS account for Batch Operations "
                         f"({aws_error(exc)}): pass --account-id; nothing was changed") from None
    region = dest_s3.meta.region_name
    # Manifests and job reports go into the restored bucket itself: the Recovery stack's
    # Batch role may read and write that bucket only, and its lifecycle expires the prefix.
    return batch_ops.BatchTarget(account, region, args.batch_role_arn, run.dest_bucket,
                                 RESTORE_JOBS_PREFIX)


def main(argv: list[str] | None = None, *, stdout=None) -> int:
    return run_main(parser(), lambda args: _main(args, stdout or sys.stdout), argv,
                    failures={BatchSubmitError: KEYS_FAILED})


def _main(args: argparse.Namespace, stdout) -> int:
    run = Run.from_args(args)
    source_s3, dest_s3 = make_clients(run)
    restorer = Restorer(Location(source_s3, run.source_bucket), Location(dest_s3, run.dest_bucket),
                        CopyOptions(multipart_threshold=args.multipart_threshold_mb * MB,
                                    part_size=args.part_size_mb * MB,
                                    request_archive_restore=args.request_archive_restore,
                                    archive_restore_tier=args.archive_restore_tier,
                                    gated_prefixes=tuple(
                                        batch_ops.gated_prefixes_of(run.dest_bucket))),
                        readers=args.workers)
    require_bucket(source_s3, run.source_bucket)
    if run.dest_bucket != run.source_bucket:
        require_bucket(dest_s3, run.dest_bucket)
    _versioned(dest_s3, run.dest_bucket)
    with restorer, tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        try:
            summary = build_plan(run, source_s3, dest_s3, spool)
        except (ClientError, BotoCoreError) as exc:
            raise UsageError(f"cannot list the versions to restore ({aws_error(exc)}); "
                             "nothing was changed") from None
        print(summary.render(run), file=stdout)
        use_batch = _use_batch(run, summary.counts[COPY], stdout)
        if args.dry_run:
            if use_batch:
                print("  (the copies would run as an S3 Batch Operations job)", file=stdout)
            # The whole plan, key by key (the console shows a sample): what a --yes run does.
            planned = ReportWriter(args.report)
            for decision in _decisions(spool):
                planned.add({"key": decision.dest_key, "source_key": decision.source_key,
                             "action": decision.action, "outcome": DRY_RUN,
                             "version_id": decision.version_id})
            planned.close({"outcomes": {}, "plan": dict(summary.counts),
                           "at": args.at.isoformat(), "dry_run": True,
                           "batch_operations": use_batch})
            return 0
        target = _batch_target(run, dest_s3) if use_batch else None
        _confirm(run, summary)
        report = ReportWriter(args.report)
        keep, job_id = (lambda decision: True), None
        if target is not None:
            try:
                job_id, keep = _submit_batch(run, target, dest_s3, spool, summary)
            except BatchSubmitError as exc:  # nothing was copied: the report says so, whole
                report.close({"outcomes": {}, "plan": dict(summary.counts),
                              "at": args.at.isoformat(), "batch_job_id": None,
                              "error": str(exc)})
                raise
            spool.seek(0)
        outcomes = execute(run, restorer, _decisions(spool), sum(summary.counts.values()),
                           report, keep)
        report.close({"outcomes": dict(outcomes), "plan": dict(summary.counts),
                      "at": args.at.isoformat(), "batch_job_id": job_id})
    print("outcomes: " + ", ".join(f"{k}={v}" for k, v in sorted(outcomes.items())), file=stdout)
    archived = sum(outcomes[o] for o in (ARCHIVE_REPORTED, RESTORE_REQUESTED, RESTORE_IN_PROGRESS))
    if archived:
        print(f"{archived} keys are in an archive tier and were not restored"
              + ("" if args.request_archive_restore else
                 " (rerun with --request-archive-restore, then again once restored)"),
              file=stdout)
    if outcomes[RESTORED_PENDING_SCAN]:
        print(f"{outcomes[RESTORED_PENDING_SCAN]} keys were copied in parts under the upload "
              "gate: GuardDuty scans each new version as an upload; rerun once they are "
              "scanned to verify them", file=stdout)
    if job_id:
        print(f"S3 Batch Operations job {job_id} copies the rest; follow it with:\n  "
              + batch_ops.follow_hint(target, job_id), file=stdout)
    if outcomes[FAILED]:
        print(f"{outcomes[FAILED]} keys failed; see the report", file=sys.stderr)
        return KEYS_FAILED
    return KEYS_FAILED if outcomes[RESTORED_PENDING_SCAN] else 0


def batch_can_copy(decision: Decision) -> bool:
    """Whether the job copies this decision. Not: delete markers, versions above the job's
    5 GB limit, archived versions, and Intelligent-Tiering versions, which may sit in an
    archive tier the listing does not show and the job's copy would fail on; the local run
    finds that out and reports it."""
    return decision.action == COPY and decision.size <= batch_ops.BATCH_COPY_LIMIT \
        and decision.storage_class != "INTELLIGENT_TIERING"


def _gate_checked(run: Run, s3, decisions, gated: tuple[str, ...]):
    """(decision, whether the job's role may copy it) for every decision, in order; the tags of
    gated candidates are read ``run.args.workers`` at a time, a bounded chunk in flight."""
    def check(decision: Decision) -> bool:
        return not batch_can_copy(decision) or batch_ops.job_may_copy(
            s3, run.source_bucket, decision.source_key, decision.version_id, gated)

    with ThreadPoolExecutor(max_workers=run.args.workers) as pool:
        chunk: list[Decision] = []
        for decision in decisions:
            chunk.append(decision)
            if len(chunk) >= GATE_CHECK_CHUNK:
                yield from zip(chunk, pool.map(check, chunk), strict=True)
                chunk = []
        yield from zip(chunk, pool.map(check, chunk), strict=True)


def _submit_batch(run: Run, target: batch_ops.BatchTarget, dest_s3, spool,
                  summary: PlanSummary):
    """Write the manifest of the copies the job can do, create the job; the local run keeps
    the rest (delete markers, archived versions, objects above the job's 5 GB limit, and
    under the upload gate's prefixes every version not scanned clean)."""
    gated = batch_ops.gated_prefixes_of(run.source_bucket)
    left_to_local: set[tuple[str, str]] = set()

    def in_job(decision: Decision) -> bool:
        return batch_can_copy(decision) and \
            (decision.source_key, decision.version_id) not in left_to_local

    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".csv") as manifest:
        rows = 0
        listed = hashlib.sha256()
        for decision, may in _gate_checked(run, dest_s3, _decisions(spool), gated):
            if not may:
                left_to_local.add((decision.source_key, decision.version_id))
            elif batch_can_copy(decision):
                row = batch_ops.manifest_row(run.source_bucket, decision.source_key,
                                             decision.version_id)
                manifest.write(row)
                listed.update(row.encode())
                rows += 1
        manifest.flush()
        if not rows:
            return None, (lambda decision: True)
        # The same arguments and the same versions to copy: the same token, so a rerun gets
        # the first run's job back. The manifest's rows are part of it: a rerun after more keys
        # changed plans other copies, which the first job does not hold and this run leaves
        # to the job, so it needs a job of its own.
        # In UTC: the same moment typed with another offset is the same restore.
        moment_utc = run.args.at.astimezone(dt.UTC).isoformat()
        token = batch_ops.run_token(run.source_bucket, run.source_prefix, moment_utc,
                                    run.dest_bucket, listed.hexdigest())
        head = f"restore {run.source_bucket}/{run.source_prefix} to {moment_utc} ("
        try:
            s3control = boto3.client("s3control", region_name=target.region)
            _refuse_overlap(s3control, dest_s3, target, token, head)
            job_id = batch_ops.create_copy_job(
                s3control, dest_s3, target, manifest_path=manifest.name, token=token,
                dest_bucket=run.dest_bucket, description=f"{head}{rows} versions)")
        except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
            raise BatchSubmitError(f"the S3 Batch Operations job was not created: {aws_error(exc)} "
                                   f"(token {token}; an earlier job with these arguments may "
                                   "exist: aws s3control list-jobs)") from None
    return job_id, (lambda decision: not in_job(decision))


def _refuse_overlap(s3control, dest_s3, target: batch_ops.BatchTarget, token: str,
                    head: str) -> None:
    """A rerun while an earlier job of this restore still copies plans the keys that job has
    not reached yet: a second job would copy them twice. The same plan (its manifest already
    uploaded) gets its own job back from S3 Control and needs no check."""
    if batch_ops.has_manifest(dest_s3, target, token):
        return
    running = batch_ops.unfinished_jobs(s3control, target.account_id, head)
    if running:
        jobs = ", ".join(f"{job_id} ({status})" for job_id, status in running)
        raise BatchSubmitError(
            f"an S3 Batch Operations job of this restore has not finished: {jobs}; nothing was "
            f"changed. Wait for it ({batch_ops.describe_job_command(target, running[0][0])}), then run "
            "again: the rerun plans only what the job did not restore")
