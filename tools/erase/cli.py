"""CLI: erase one user's content — every version and delete marker — from primary and replica.

    python -m tools.erase --bucket B --user <caller segment> (--audit-bucket A | --audit-file F)
        (--dedup-table T | --skip-dedup-index) [--replica-bucket R] [--replica-region us-west-2]
        [--dry-run] [--report FILE] [--yes]

This is the one place code deletes object versions, on purpose: a user's right to erasure.
Versioning would otherwise keep every upload forever (a plain delete only adds a marker), and
delete markers and lifecycle expirations never replicate, so the replica is erased separately.

Scope: ``user-content/uploads/<segment>/`` and ``user-content/exports/<segment>/`` — nothing
else. The segment must be exactly what the upload API derives for a caller (slug + 16 hex
digits); ``..``, ``/``, empty, wildcards or any other shape is refused before an AWS call, and
every listed key is checked again against the exact prefix before it is deleted.

The dedup index (``--dedup-table``, the Assets stack's table; its global replica follows)
names the canonical copy of each hashed upload by key, and the key holds the file name: its
items whose key lies under the user's folders are deleted too (conditionally: an item another
upload took over meanwhile stays). The table is read in the default Region (the primary's).
A real run needs ``--dedup-table`` or an explicit ``--skip-dedup-index``, and then the run and
its audit record say the index was not checked. Point-in-time recovery keeps the table's earlier states for
35 days (docs/restore.md).

The audit record says who erased which user when, and how many versions and markers went
from where — never the keys (file names are user content). The user is recorded as the
SHA-256 of the segment: a later "was X erased?" can be answered by hashing X, while the audit
log itself holds no readable identifier. With ``--audit-bucket`` the record is one JSON object
under ``audit/erasure/``, locked for ``--audit-retain-days`` (six years by default: erasure is
proved for as long as a claim about it can be raised) in the bucket's default Object Lock mode
(COMPLIANCE in prod's backups bucket: nobody can alter or delete it until then). A bucket
without Object Lock is refused before anything is erased, unless ``--audit-retain-days 0``.

Exit codes: 0 erased (or nothing to erase), 1 some versions or index entries could not be
deleted (the report says where; the audit record is written all the same) or the audit record
could not be stored (it is printed instead), 2 usage error, a bucket or dedup table that does
not answer or an audit file or report that cannot be written, all checked before anything is
deleted (nothing was changed).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import sys
import uuid
from dataclasses import dataclass, field

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from estate_handlers.s3_errors import error_code

from infra.config import USER_EXPORTS, USER_UPLOADS
from infra.config.common import ERASURE_AUDIT_PREFIX
from infra.config.common import MAX_OBJECT_LOCK_DAYS as MAX_RETAIN_DAYS
from tools.cli import (
    Parser,
    UsageError,
    bucket,
    region,
    replica_bucket_name,
    require_bucket,
    run_main,
)

SOME_FAILED = 1
# The upload API's caller segment: a slug of the principal (letters, digits, single hyphens
# inside, at most 40) and the first 16 hex digits of its SHA-256.
SEGMENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}[A-Za-z0-9])?-[0-9a-f]{16}")
DELETE_BATCH = 1000  # DeleteObjects' maximum
# Six years: erasure is proved for as long as a claim about it can be raised (limitation
# periods of six years are common); operators can ask for more or less.
AUDIT_RETAIN_DAYS = 6 * 365


def _segment(text: str) -> str:
    if not SEGMENT.fullmatch(text or ""):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a caller segment (like alice-0123456789abcdef, as the upload API "
            "writes it); nothing outside one user's folder can be erased")
    return text


def _days(text: str) -> int:
    if not text.isdigit() or int(text) > MAX_RETAIN_DAYS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days from 0 to "
                                         f"{MAX_RETAIN_DAYS}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m tools.erase",
                description="Erase one user's uploads and exports, every version, from the "
                            "primary and the replica bucket, and record an audit entry.")
    p.add_argument("--bucket", required=True, type=bucket, help="the assets (primary) bucket")
    p.add_argument("--user", required=True, type=_segment, metavar="SEGMENT",
                   help="the caller segment, the folder under user-content/uploads/")
    index = p.add_mutually_exclusive_group()
    index.add_argument("--dedup-table", metavar="TABLE",
                       help="the dedup index (the Assets stack's UploadHasherDedupIndex table): "
                            "its items naming the user's keys are deleted too")
    index.add_argument("--skip-dedup-index", action="store_true",
                       help="leave the dedup index alone (it may still name the user's keys)")
    p.add_argument("--replica-bucket", type=bucket, help="default: <bucket>-replica")
    p.add_argument("--replica-region", type=region, default="us-west-2",
                   help="(default: us-west-2)")
    audit = p.add_mutually_exclusive_group(required=True)
    audit.add_argument("--audit-bucket", type=bucket,
                       help="write the audit record here (e.g. the Object-Lock backups bucket)")
    audit.add_argument("--audit-file", help="append the audit record (one JSON line) here")
    p.add_argument("--audit-region", type=region, default=None,
                   help="Region of --audit-bucket")
    p.add_argument("--audit-retain-days", type=_days, default=AUDIT_RETAIN_DAYS, metavar="DAYS",
                   help="lock the record in --audit-bucket this many days, in the bucket's "
                        "default Object Lock mode (COMPLIANCE if it has none); 0: the bucket's "
                        f"default retention only (default: {AUDIT_RETAIN_DAYS})")
    p.add_argument("--operator", help="who runs the erasure (default: the caller's AWS identity)")
    p.add_argument("--dry-run", action="store_true", help="count what would go; delete nothing")
    p.add_argument("--report", help="write the JSON report here")
    p.add_argument("--yes", action="store_true", help="required for a real erasure")
    return p


def user_prefixes(segment: str) -> list[str]:
    if not SEGMENT.fullmatch(segment):
        raise UsageError(f"{segment!r} is not a caller segment")
    return [f"{USER_UPLOADS}{segment}/", f"{USER_EXPORTS}{segment}/"]


@dataclass
class Tally:
    bucket: str
    prefix: str
    versions: int = 0
    delete_markers: int = 0
    bytes: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    # The page whose DeleteObjects raised: S3 may have applied it all the same (a read timeout
    # after the request arrived). The check of what remains decides which were erased.
    unconfirmed: list = field(default_factory=list)


class WiderListing(RuntimeError):
    """A listing named a key outside the prefix it was asked for: nothing of it is deleted."""


def _pages(s3, bucket: str, prefix: str):
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        items = [(v, False) for v in page.get("Versions", [])] + \
                [(m, True) for m in page.get("DeleteMarkers", [])]
        for item, _ in items:
            if not item["Key"].startswith(prefix):  # never trust a listing with a wider scope
                raise WiderListing(f"listing of {prefix!r} returned a key outside it")
        yield items


def _code(exc: Exception) -> str:
    """An AWS failure as its error code (or exception name): codes only, as the report holds
    no key and no message that could quote one."""
    return error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__


def erase_prefix(s3, bucket: str, prefix: str, *, dry_run: bool) -> Tally:
    """Delete every version and delete marker under ``prefix`` (or count them). An S3 error
    stops this location only: it is counted as failed, so the other locations are still
    erased and the audit record still written (a rerun finishes the job)."""
    tally = Tally(bucket, prefix)
    try:
        _erase_pages(s3, tally, dry_run=dry_run)
    # e.g. the connection lost half-way; or a listing that named a key outside the prefix
    except (ClientError, BotoCoreError, WiderListing) as exc:
        tally.failed += 1
        tally.errors.append(f"{_code(exc)}: stopped after {tally.versions} versions and "
                            f"{tally.delete_markers} markers (rerun)")
    return tally


def _erase_pages(s3, tally: Tally, *, dry_run: bool) -> None:
    """Counts what a dry run would erase, and what a real run did erase: a version S3 refused
    to delete is counted as failed, never as erased."""
    bucket, prefix = tally.bucket, tally.prefix
    for items in _pages(s3, bucket, prefix):
        refused: set[tuple[str, str]] = set()
        objects = [{"Key": i["Key"], "VersionId": i["VersionId"]} for i, _ in items]
        tally.unconfirmed = [] if dry_run else items
        for start in range(0, len(objects), DELETE_BATCH) if not dry_run else ():
            response = s3.delete_objects(Bucket=bucket, Delete={
                "Objects": objects[start:start + DELETE_BATCH], "Quiet": True})
            for error in response.get("Errors", []):
                refused.add((error.get("Key"), error.get("VersionId")))
                tally.failed += 1
                if len(tally.errors) < 10:  # codes only: keys are user content, and S3's
                    tally.errors.append(str(error.get("Code")))  # messages may quote them
        tally.unconfirmed = []
        _count(tally, [(i, m) for i, m in items if (i["Key"], i["VersionId"]) not in refused])


def _count(tally: Tally, items) -> None:
    for item, marker in items:
        if marker:
            tally.delete_markers += 1
        else:
            tally.versions += 1
            tally.bytes += item.get("Size", 0)


@dataclass
class IndexTally:
    table: str
    entries: int = 0
    failed: bool = False
    errors: list[str] = field(default_factory=list)


def erase_index_entries(dynamodb, table: str, prefixes: list[str], *,
                        dry_run: bool) -> IndexTally:
    """Delete (or count) the dedup index's items whose canonical key lies under ``prefixes``.
    The index is keyed by content hash, so this is a Scan filtered on the key: rare, and
    billed by the table's size. Each delete holds only if the item still names that key (an
    identical upload may have taken it over since)."""
    tally = IndexTally(table)
    names = {"#k": "key"}
    values = {f":p{i}": {"S": prefix} for i, prefix in enumerate(prefixes)}
    scan = {"TableName": table, "ProjectionExpression": "sha256, #k",
            "FilterExpression": " OR ".join(f"begins_with(#k, :p{i})"
                                            for i in range(len(prefixes))),
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
    try:
        for page in dynamodb.get_paginator("scan").paginate(**scan):
            for item in page.get("Items", []):
                if not item["key"]["S"].startswith(tuple(prefixes)):  # never trust a filter
                    continue
                if not dry_run and not _delete_index_item(dynamodb, table, item):
                    continue
                tally.entries += 1
    except (ClientError, BotoCoreError) as exc:
        tally.failed = True  # a rerun finishes it; the record says the index is not done
        tally.errors.append(f"{_code(exc)}: stopped after {tally.entries} entries (rerun)")
    return tally


def _delete_index_item(dynamodb, table: str, item: dict) -> bool:
    try:
        dynamodb.delete_item(TableName=table, Key={"sha256": item["sha256"]},
                             ConditionExpression="#k = :key",
                             ExpressionAttributeNames={"#k": "key"},
                             ExpressionAttributeValues={":key": item["key"]})
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False  # another upload's key now: not the user's any more
        raise
    return True


def remaining(s3, bucket: str, prefix: str) -> set[tuple[str, str]]:
    """(key, version id) of every version and marker still under ``prefix``."""
    return {(item["Key"], item["VersionId"]) for items in _pages(s3, bucket, prefix)
            for item, _ in items}


def _caller_arn() -> str:
    try:
        return boto3.client("sts").get_caller_identity()["Arn"]
    except (ClientError, BotoCoreError) as exc:
        raise UsageError(f"cannot tell who runs the erasure ({exc}): pass --operator; "
                         "nothing was erased") from None


def audit_lock_mode(s3, bucket: str, retain_days: int) -> str | None:
    """The Object Lock mode the audit record is written with (None: the bucket's default
    retention only). Checked before anything is erased: a record S3 would refuse to lock, or
    one anybody could delete, is a usage error while nothing has changed yet."""
    if retain_days == 0:
        return None
    try:
        config = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    except ClientError as exc:
        if error_code(exc) != "ObjectLockConfigurationNotFoundError":
            raise UsageError(f"cannot read the Object Lock configuration of s3://{bucket} "
                             f"({error_code(exc)}); nothing was erased") from None
        config = {}
    if config.get("ObjectLockEnabled") != "Enabled":
        raise UsageError(f"s3://{bucket} has no Object Lock, so the audit record could be "
                         "altered: use the backups bucket, or --audit-retain-days 0 to accept "
                         "that; nothing was erased")
    return config.get("Rule", {}).get("DefaultRetention", {}).get("Mode", "COMPLIANCE")


def _why_no_index(args) -> str:
    return "--skip-dedup-index" if args.skip_dedup_index else "no --dedup-table"


def _prefix_kind(tally: Tally) -> str:
    return tally.prefix.split("/")[1]  # "uploads" or "exports"


def _audit_record(args, operator: str, tallies: list[Tally], started: dt.datetime,
                  index: IndexTally | None = None) -> dict:
    return {
        "event": "user-content-erasure",
        "id": str(uuid.uuid4()),
        "user_sha256": hashlib.sha256(args.user.encode()).hexdigest(),
        "operator": operator,
        "started": started.isoformat(),
        "finished": dt.datetime.now(dt.UTC).isoformat(),
        "dry_run": args.dry_run,
        "locations": [{"bucket": t.bucket, "prefix_kind": _prefix_kind(t),
                       "versions": t.versions, "delete_markers": t.delete_markers,
                       "bytes": t.bytes, "failed": t.failed} for t in tallies],
        "dedup_index": (f"not checked ({_why_no_index(args)})" if index is None else
                        {"table": index.table, "entries": index.entries,
                         "failed": index.failed}),
    }


def _audit_client(args):
    return boto3.client("s3", region_name=args.audit_region, config=Config(
        signature_version="s3v4", retries={"mode": "standard"}))


def _same_file(first: str, second: str) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:  # one does not exist yet
        return os.path.abspath(first) == os.path.abspath(second)


def open_outputs(args, stack: contextlib.ExitStack) -> tuple:
    """The audit file (appended to) and the report, opened on ``stack`` before anything is
    erased: a path that cannot be written is then a usage error while nothing has changed,
    not a crash after the erasure that leaves no record of it. A file this call created is
    removed again when a later one cannot be opened (the run never started)."""
    if args.audit_file and args.report and _same_file(args.audit_file, args.report):
        raise UsageError("--report would overwrite the --audit-file log: give it another "
                         "path; nothing was erased")
    files, created = [], []
    for flag, path, mode in (("--audit-file", args.audit_file, "a"),
                             ("--report", args.report, "w")):
        if not path:
            files.append(None)
            continue
        new = not os.path.exists(path)
        try:
            files.append(stack.enter_context(open(path, mode, encoding="utf-8")))
        except OSError as exc:
            stack.close()
            for made in created:
                os.remove(made)
            raise UsageError(f"cannot write {flag} {path} ({exc.strerror or exc}); nothing "
                             "was erased") from None
        if new:
            created.append(path)
    return tuple(files)


def write_audit(args, record: dict, audit, lock_mode: str | None = None, log=None) -> str:
    """The record into ``log`` (the open ``--audit-file``), else into ``--audit-bucket``."""
    if log is not None:
        log.write(json.dumps(record, sort_keys=True) + "\n")
        log.flush()
        return args.audit_file
    key = f"{ERASURE_AUDIT_PREFIX}{record['finished'][:10]}/{record['id']}.json"
    lock = {} if lock_mode is None else {
        "ObjectLockMode": lock_mode,
        "ObjectLockRetainUntilDate": dt.datetime.fromisoformat(record["finished"])
        + dt.timedelta(days=args.audit_retain_days)}
    audit.put_object(Bucket=args.audit_bucket, Key=key, ContentType="application/json",
                     Body=json.dumps(record, sort_keys=True).encode(), ChecksumAlgorithm="SHA256",
                     **lock)
    return f"s3://{args.audit_bucket}/{key}"


def main(argv: list[str] | None = None, *, stdout=None) -> int:
    return run_main(parser(), lambda args: _main(args, stdout or sys.stdout), argv)


def _main(args, stdout) -> int:
    if not args.dry_run and not args.yes:
        raise UsageError("erasure deletes every version for good; confirm with --yes "
                         "(or look first with --dry-run)")
    if not args.dry_run and args.dedup_table is None and not args.skip_dedup_index:
        raise UsageError("the dedup index names the user's uploads by key: pass --dedup-table "
                         "(the Assets stack's table), or --skip-dedup-index to leave it; nothing "
                         "was erased")
    started = dt.datetime.now(dt.UTC)
    config = Config(signature_version="s3v4", retries={"mode": "adaptive", "max_attempts": 10})
    primary = boto3.client("s3", config=config)
    replica = boto3.client("s3", region_name=args.replica_region, config=config)
    replica_bucket = args.replica_bucket or replica_bucket_name(args.bucket)
    audit = None if args.audit_file else _audit_client(args)
    for client, name in ((primary, args.bucket), (replica, replica_bucket),
                         (audit, args.audit_bucket)):
        if client is not None:
            require_bucket(client, name, unchanged="nothing was erased")
    dynamodb = None if args.dedup_table is None else boto3.client(
        "dynamodb", config=Config(retries={"mode": "adaptive", "max_attempts": 10}))
    if dynamodb is not None:
        _require_table(dynamodb, args.dedup_table)
    lock_mode = None if audit is None else audit_lock_mode(audit, args.audit_bucket,
                                                           args.audit_retain_days)
    operator = args.operator or _caller_arn()
    with contextlib.ExitStack() as stack:
        audit_log, report = open_outputs(args, stack)
        tallies = _erase(args, primary, replica, replica_bucket)
        index = None if dynamodb is None else erase_index_entries(
            dynamodb, args.dedup_table, user_prefixes(args.user), dry_run=args.dry_run)
        record = _audit_record(args, operator, tallies, started, index)
        # A dry run changed nothing: its record keeps only the bucket's default retention (the
        # check above still ran, so a dry run shows a real run would be refused).
        try:
            where = write_audit(args, record, audit, None if args.dry_run else lock_mode,
                                audit_log)
        except (ClientError, BotoCoreError, OSError) as exc:
            # The erasure is done and cannot be undone: the record must not be lost with it.
            where = None
            print(f"erase: the audit record was NOT written ({_code(exc)}); it is printed "
                  "below: file it by hand", file=sys.stderr)
        verb = "would erase" if args.dry_run else "erased"
        for t in tallies:
            print(f"{verb} s3://{t.bucket}/{t.prefix}: {t.versions} versions ({t.bytes} bytes), "
                  f"{t.delete_markers} delete markers" + (f", {t.failed} FAILED" if t.failed
                                                          else ""), file=stdout)
        if index is None:
            print(f"dedup index NOT checked ({_why_no_index(args)}): it may still name this "
                  "user's keys", file=stdout)
        else:
            print(f"{verb} {index.entries} dedup index entries naming the user's keys"
                  + (" (FAILED: rerun)" if index.failed else ""), file=stdout)
        if where is None:
            print(f"audit record (NOT stored): {json.dumps(record, sort_keys=True)}", file=stdout)
        else:
            print(f"audit record: {where}", file=stdout)
        if report is not None:
            # Located as the record locates them (bucket, kind of prefix): the prefix holds
            # the user's segment, which the record keeps only as a hash.
            errors = {f"{t.bucket}/{_prefix_kind(t)}": t.errors for t in tallies if t.errors}
            if index is not None and index.errors:
                errors["dedup-index"] = index.errors
            json.dump({**record, "errors": errors}, report, indent=2)
    return SOME_FAILED if where is None or any(t.failed for t in tallies) \
        or (index is not None and index.failed) else 0


def _require_table(dynamodb, table: str) -> None:
    try:
        dynamodb.describe_table(TableName=table)
    except (ClientError, BotoCoreError) as exc:
        raise UsageError(f"the dedup index {table!r} does not answer ({_code(exc)}): check its "
                         "name (the Assets stack's table) and Region; nothing was erased") from None


def _erase(args, primary, replica, replica_bucket: str) -> list[Tally]:
    """Erase (or count) every location, then count what is left of each. The replica first:
    a run that stops half-way then leaves versions the primary still holds, never one only
    the replica does, which the reconcile tool (past a failback's --until) could take for an
    upload written there and send back to the primary."""
    locations = ((primary, args.bucket), (replica, replica_bucket))
    erased = {bucket: [erase_prefix(client, bucket, prefix, dry_run=args.dry_run)
                       for prefix in user_prefixes(args.user)]
              for client, bucket in reversed(locations)}
    tallies = [tally for _, bucket in locations for tally in erased[bucket]]
    if args.dry_run:
        return tallies
    for tally, client in zip(tallies, (primary, primary, replica, replica), strict=True):
        try:
            still = remaining(client, tally.bucket, tally.prefix)
        except (ClientError, BotoCoreError, WiderListing) as exc:
            tally.failed += 1
            tally.errors.append(f"{_code(exc)}: could not check what remains (rerun)")
            continue
        # What is left is the failure, whatever the deletes said: a refused version is still
        # there (counted once, not again), a replica still arriving was never tried. What an
        # interrupted delete took is erased after all.
        _count(tally, [(item, marker) for item, marker in tally.unconfirmed
                       if (item["Key"], item["VersionId"]) not in still])
        tally.unconfirmed = []
        left = len(still)
        tally.failed = left
        if left:  # a rerun finishes it
            tally.errors.append(f"{left} versions remain after erasure (rerun)")
    return tallies
