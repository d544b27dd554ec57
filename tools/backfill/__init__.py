"""Backfill renditions for originals that predate the pipeline, on S3 Batch Operations.

Not a loop on one machine: this tool only writes the job's manifest (a CSV of
``bucket,key,version_id``, one line per current original version, keys URL-encoded as Batch
Operations requires) and builds the ``s3control.create_job`` request that makes S3 invoke the
renditions function for every line (``LambdaInvoke``, invocation schema 2.0). S3 then runs,
retries and reports the job; the function is idempotent, so re-running a job (or a line the
queue already handled) writes nothing new.

Where the entries come from: a listing of the bucket's versions under the originals prefix
(``ListObjectVersions``, current versions only), or an S3 Inventory report (its
``manifest.json`` and the CSV files it names) for buckets too large to list.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, unquote_plus

ORIGINALS = "products/images/original/"
# Under the assets bucket: the backfill role reads manifests and writes reports there only.
MANIFESTS = "ops/renditions-backfill/manifests/"
REPORTS = "ops/renditions-backfill/reports"
MANIFEST_FORMAT = "S3BatchOperations_CSV_20180820"
MANIFEST_FIELDS = ["Bucket", "Key", "VersionId"]
REPORT_FORMAT = "Report_CSV_20180820"
SCHEMA_VERSION = "2.0"
JOB_PRIORITY = 10


class BackfillError(ValueError):
    """Bad input for a backfill (inventory manifest, arguments); the message says what."""


@dataclass(frozen=True)
class Entry:
    bucket: str
    key: str
    version_id: str


def is_original(key: str) -> bool:
    return key.startswith(ORIGINALS) and not key.endswith("/")


def entries_from_listing(s3, bucket: str) -> Iterator[Entry]:
    """Current versions of the originals (delete markers, old versions, folders skipped)."""
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=ORIGINALS):
        for version in page.get("Versions", []):
            if version.get("IsLatest") and is_original(version["Key"]):
                yield Entry(bucket, version["Key"], version["VersionId"])


def entries_from_inventory(manifest: dict, read_file) -> Iterator[Entry]:
    """Entries from an S3 Inventory report (CSV format). ``read_file(key)`` returns the bytes
    of one data file the manifest names (gzip-compressed CSV, keys URL-encoded)."""
    if not isinstance(manifest, dict):
        raise BackfillError(f"the inventory manifest is a JSON {type(manifest).__name__}, not an "
                            "object: is it the report's manifest.json?")
    if manifest.get("fileFormat") != "CSV":
        raise BackfillError(f"inventory format {manifest.get('fileFormat')!r} is not supported "
                            "(configure the inventory as CSV)")
    schema = manifest.get("fileSchema")
    if not isinstance(schema, str):
        raise BackfillError(f"the inventory manifest's fileSchema is {schema!r}, not a list of "
                            "column names")
    columns = [c.strip() for c in schema.split(",")]
    for required in ("Bucket", "Key", "VersionId"):
        if required not in columns:
            raise BackfillError(f"inventory has no {required} column (fileSchema: "
                                f"{schema!r}); enable versions in the inventory")
    files = manifest.get("files")
    # Every entry is checked before the first data file is read: a bad one is then found
    # before any work, not after millions of lines.
    if not isinstance(files, list) or not all(
            isinstance(f, dict) and isinstance(f.get("key"), str) and f["key"] for f in files):
        raise BackfillError("the inventory manifest's files must be a list of {\"key\": ...} "
                            f"entries, one per data file; found {json.dumps(files)[:200]}")
    for data_file in files:
        text = gzip.decompress(read_file(data_file["key"])).decode("utf-8")
        for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            if len(row) != len(columns):
                raise BackfillError(f"inventory data file {data_file['key']} line {line} has "
                                    f"{len(row)} fields, the fileSchema names {len(columns)}")
            record = dict(zip(columns, row, strict=True))
            if record.get("IsLatest", "true") != "true" or record.get("IsDeleteMarker") == "true":
                continue
            # S3 Inventory writes keys form-encoded: a space is "+", a "+" is "%2B".
            key = unquote_plus(record["Key"])
            if is_original(key):
                yield Entry(record["Bucket"], key, record["VersionId"])


def manifest_csv(entries: Iterable[Entry]) -> tuple[str, int]:
    """The Batch Operations CSV manifest (no header; keys URL-encoded) and its line count."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    count = 0
    for entry in entries:
        writer.writerow([entry.bucket, quote(entry.key, safe="/"), entry.version_id])
        count += 1
    return out.getvalue(), count


def manifest_key(job_name: str) -> str:
    return f"{MANIFESTS}{job_name}.csv"


def create_job_request(*, account_id: str, bucket: str, manifest_object_key: str,
                       manifest_etag: str, function_arn: str, role_arn: str, job_name: str,
                       confirmation_required: bool = True, token: str | None = None) -> dict:
    """The ``s3control.create_job`` parameters of one backfill job."""
    return {
        "AccountId": account_id,
        "ConfirmationRequired": confirmation_required,
        "Operation": {"LambdaInvoke": {
            "FunctionArn": function_arn,
            "InvocationSchemaVersion": SCHEMA_VERSION,
            "UserArguments": {"purpose": "renditions-backfill", "job": job_name},
        }},
        "Manifest": {
            "Spec": {"Format": MANIFEST_FORMAT, "Fields": MANIFEST_FIELDS},
            "Location": {"ObjectArn": f"arn:aws:s3:::{bucket}/{manifest_object_key}",
                         "ETag": manifest_etag},
        },
        "Report": {
            "Bucket": f"arn:aws:s3:::{bucket}",
            "Prefix": REPORTS,
            "Format": REPORT_FORMAT,
            "Enabled": True,
            "ReportScope": "FailedTasksOnly",  # rejected originals and errors, not the millions of successes
        },
        "ClientRequestToken": token or str(uuid.uuid4()),
        "Description": f"Renditions backfill {job_name}"[:256],
        "Priority": JOB_PRIORITY,
        "RoleArn": role_arn,
    }


def upload_manifest(s3, bucket: str, job_name: str, body: str) -> tuple[str, str]:
    """(key, ETag) of the uploaded manifest; Batch Operations pins the job to that ETag."""
    key = manifest_key(job_name)
    put = s3.put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"),
                        ContentType="text/csv")
    return key, put["ETag"].strip('"')


def load_inventory_manifest(path_or_uri: str, s3=None) -> tuple[dict, callable]:
    """(manifest, read_file) from a local manifest.json or an s3://bucket/key URI."""
    if path_or_uri.startswith("s3://"):
        bucket, _, key = path_or_uri[len("s3://"):].partition("/")
        if s3 is None:
            raise BackfillError("an s3:// inventory manifest needs AWS access")
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        destination = manifest.get("destinationBucket") if isinstance(manifest, dict) else None
        destination = (destination.removeprefix("arn:aws:s3:::")
                       if isinstance(destination, str) else "") or bucket
        return manifest, lambda data_key: s3.get_object(Bucket=destination, Key=data_key)["Body"].read()
    from pathlib import Path

    path = Path(path_or_uri)
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BackfillError(f"cannot read the inventory manifest {path}: {exc}") from exc
    # A downloaded inventory: the data files sit beside manifest.json, by their base name.
    return manifest, lambda data_key: (path.parent / Path(data_key).name).read_bytes()
