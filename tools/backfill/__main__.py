"""python -m tools.backfill --env dev --out manifest.csv [--inventory …] [--create]

Writes the manifest CSV of every current product original and prints the S3 Batch
Operations CreateJob request; with ``--create`` uploads the manifest and creates the job
(it waits for confirmation in the console unless ``--no-confirm``). Needs AWS credentials
for the listing, the inventory on S3, and ``--create``; a local inventory needs none.

Exit codes: 0 done, 1 the job was not created (AWS refused the upload or the job; the message
says which and whether the manifest is on S3), 2 usage error or unreadable input (nothing was
uploaded).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from tools.backfill import (
    BackfillError,
    create_job_request,
    entries_from_inventory,
    entries_from_listing,
    load_inventory_manifest,
    manifest_csv,
    manifest_key,
    upload_manifest,
)
from tools.cli import UsageError, aws_error, require_bucket, writable_file

# Unqualified only: the backfill role may invoke the function's own ARN, and IAM does not let
# that cover an alias or version (``...:function:name:live``), so every task would be denied.
_FUNCTION_ARN = re.compile(r"arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):function:[A-Za-z0-9_-]+")
JOB_NOT_CREATED = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.backfill", description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="environment name (dev, prod)")
    # Checked while parsing, before the listing or inventory is read (hours for a large bucket).
    parser.add_argument("--out", type=writable_file, default="renditions-backfill.csv",
                        help="where to write the manifest CSV (default: %(default)s)")
    parser.add_argument("--inventory", metavar="MANIFEST_JSON",
                        help="an S3 Inventory manifest.json (local path or s3:// URI) instead "
                             "of listing the bucket")
    parser.add_argument("--function-arn",
                        help="the renditions function (stack output RenditionsFunctionArn)")
    parser.add_argument("--job-name", default=None, help="default: renditions-<UTC timestamp>")
    parser.add_argument("--create", action="store_true",
                        help="upload the manifest and create the job (needs AWS credentials)")
    parser.add_argument("--no-confirm", action="store_true",
                        help="with --create: run without confirmation in the console")
    return parser


def main(argv=None, *, s3=None, s3control=None) -> int:
    args = _parser().parse_args(argv)
    from infra.environments import ENVIRONMENTS

    if args.env not in ENVIRONMENTS:
        print(f"error: --env must be one of {', '.join(ENVIRONMENTS)}", file=sys.stderr)
        return 2
    function = _FUNCTION_ARN.fullmatch(args.function_arn) if args.function_arn is not None else None
    if args.function_arn is not None and function is None:
        print(f"error: --function-arn {args.function_arn!r} is not a Lambda function ARN "
              "without an alias or version (the stack output RenditionsFunctionArn)",
              file=sys.stderr)
        return 2
    if args.create and args.function_arn is None:
        print("error: --create needs --function-arn (the stack output RenditionsFunctionArn)",
              file=sys.stderr)
        return 2
    cfg = ENVIRONMENTS[args.env]()
    # The backfill role may invoke this environment's renditions function only, so a function
    # of another account or Region (another environment's output) would fail every task.
    if function is not None and function.group(1, 2) != (cfg.primary_region, cfg.account):
        print(f"error: --function-arn {args.function_arn!r} is not in --env {args.env}'s account "
              f"{cfg.account} and Region {cfg.primary_region}", file=sys.stderr)
        return 2
    job_name = args.job_name or f"renditions-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", job_name):
        print("error: --job-name may hold letters, digits, '.', '_' and '-' only", file=sys.stderr)
        return 2

    needs_aws = args.create or args.inventory is None or args.inventory.startswith("s3://")
    if needs_aws and s3 is None:
        import boto3

        s3 = boto3.client("s3", region_name=cfg.primary_region)
    if args.create:
        # Checked before the listing: a bucket that does not answer would otherwise be found
        # only at the upload, after the whole manifest was built.
        try:
            require_bucket(s3, cfg.assets_bucket_name, unchanged="nothing was uploaded")
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    try:
        if args.inventory:
            manifest, read_file = load_inventory_manifest(args.inventory, s3)
            entries = entries_from_inventory(manifest, read_file)
        else:
            entries = entries_from_listing(s3, cfg.assets_bucket_name)
        body, count = manifest_csv(entries)
    except BackfillError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError, ClientError, BotoCoreError) as exc:
        # A data file missing beside a downloaded manifest, a corrupt one, or S3 refusing:
        # nothing has been written yet.
        print(f"error: cannot read the originals to backfill: {exc}", file=sys.stderr)
        return 2
    try:
        args.out.write_text(body)
    except OSError as exc:
        print(f"error: cannot write --out {args.out}: {exc}; nothing was uploaded", file=sys.stderr)
        return 2
    print(f"wrote {count} originals to {args.out}", file=sys.stderr)

    key, etag = manifest_key(job_name), "<ETag of the uploaded manifest>"
    if args.create and count == 0:
        print("no originals to backfill: no job created", file=sys.stderr)
        return 0
    if args.create:
        try:
            key, etag = upload_manifest(s3, cfg.assets_bucket_name, job_name, body)
        except (ClientError, BotoCoreError) as exc:
            print(f"error: cannot upload the manifest to s3://{cfg.assets_bucket_name}/{key} "
                  f"({aws_error(exc)}): no job created", file=sys.stderr)
            return JOB_NOT_CREATED
    request = create_job_request(
        account_id=cfg.account, bucket=cfg.assets_bucket_name, manifest_object_key=key,
        manifest_etag=etag, function_arn=args.function_arn or "<RenditionsFunctionArn>",
        role_arn=cfg.renditions_backfill_role_arn, job_name=job_name,
        confirmation_required=not args.no_confirm)
    if not args.create:
        print(json.dumps(request, indent=2))
        print(f"upload {args.out} to s3://{cfg.assets_bucket_name}/{key}, or re-run with "
              "--create", file=sys.stderr)
        return 0
    try:
        if s3control is None:
            import boto3

            s3control = boto3.client("s3control", region_name=cfg.primary_region)
        job = s3control.create_job(**request)
    except (ClientError, BotoCoreError) as exc:
        print(f"error: S3 Batch Operations did not create the job ({aws_error(exc)}); the "
              f"manifest is at s3://{cfg.assets_bucket_name}/{key}, re-run with --create to "
              "try again", file=sys.stderr)
        return JOB_NOT_CREATED
    print(json.dumps({"JobId": job["JobId"], "manifest": f"s3://{cfg.assets_bucket_name}/{key}",
                      "originals": count}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
