"""S3 Batch Operations jobs of the operator tools: a (bucket, key, version id) CSV manifest
uploaded to S3, a job over exactly those versions, a completion report next to the manifest.

- ``create_copy_job`` (``tools.restore``): hand the copies to Batch Operations when a prefix is
  too big for one machine: an ``S3PutObjectCopy`` job run by the restore role of the Recovery
  stack. Delete markers, objects above 5 GB (the job's copy limit) and archived objects stay
  with the local run. Under the upload gate's prefixes the job copies only versions GuardDuty
  tagged clean: its role is exempt from none of the gate's bucket-policy denies
  (docs/upload-gate.md), so it could not read any other version, and must not be able to.
  Those versions are left to the local run, whose reads the same denies refuse: the report
  names them as failed.
- ``create_replication_job`` (``tools.reconcile``): an S3 Batch Replication job
  (``S3ReplicateObject``) on the source bucket's own replication rule, run by the Replica
  stack's Batch Replication role.

The job id is deterministic for the same arguments (``ClientRequestToken``), so running the
same command again does not start a second job; ``unfinished_jobs`` finds a job a rerun with
another plan would overlap.
"""
from __future__ import annotations

import csv
import hashlib
import io
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from estate_handlers.layout import SCAN_CLEAN, scan_status
from estate_handlers.s3_errors import is_missing

MANIFEST_FIELDS = ["Bucket", "Key", "VersionId"]
BATCH_COPY_LIMIT = 5 * 1024 ** 3
DESCRIPTION_LIMIT = 256  # characters S3 Control keeps of a job's description
# Every status before a job's tasks are done; Completing, Failing and Cancelling start no task.
UNFINISHED_JOB_STATUSES = ["New", "Preparing", "Suspended", "Ready", "Active", "Pausing", "Paused"]


@dataclass(frozen=True)
class BatchTarget:
    account_id: str
    region: str
    role_arn: str
    manifest_bucket: str
    manifest_prefix: str  # ends with "/"


def gated_prefixes_of(bucket: str) -> tuple[str, ...]:
    """The prefixes the upload gate guards in ``bucket``: those of the shipped environment
    whose assets bucket it is (none when its gate is off, or for any other bucket)."""
    from infra.environments import ENVIRONMENTS  # the whole estate's config: only when asked

    for make in ENVIRONMENTS.values():
        cfg = make()
        if cfg.assets_bucket_name == bucket:
            return cfg.upload_gate.gated_prefixes
    return ()


def job_may_copy(s3, bucket: str, key: str, version_id: str,
                 gated_prefixes: Sequence[str]) -> bool:
    """Whether the job's role can copy this version: outside the gated prefixes always; inside,
    only a version tagged clean. A tag that cannot be read counts as not clean (the local run
    then meets the same answer from S3 and reports it)."""
    if not any(key.startswith(prefix) for prefix in gated_prefixes):
        return True
    try:
        tags = s3.get_object_tagging(Bucket=bucket, Key=key, VersionId=version_id)["TagSet"]
    except (ClientError, BotoCoreError):
        return False
    return scan_status(tags) == SCAN_CLEAN


def run_token(*parts: str) -> str:
    """Same arguments → same token → the same job, never a second one."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def manifest_row(bucket: str, key: str, version_id: str) -> str:
    """One CSV line; Batch Operations requires URL-encoded keys in a CSV manifest."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(
        [bucket, urllib.parse.quote(key, safe="/"), version_id])
    return out.getvalue()


def parse_manifest(text: str) -> list[tuple[str, str, str]]:
    """(bucket, key, version id) rows of a manifest, keys decoded (for checks and tests)."""
    return [(b, urllib.parse.unquote(k), v) for b, k, v in csv.reader(io.StringIO(text))]


def create_copy_job(s3control, s3, target: BatchTarget, *, manifest_path: str, token: str,
                    dest_bucket: str, description: str) -> str:
    """Upload the manifest (unless this token's is there), create the job, return its id."""
    key, etag = _manifest(s3, target, token, manifest_path)
    return _create_job(s3control, target, key=key, etag=etag, token=token,
                       description=description, operation={"S3PutObjectCopy": {
                           "TargetResource": f"arn:aws:s3:::{dest_bucket}",
                           "MetadataDirective": "COPY",
                           "ChecksumAlgorithm": "SHA256",
                           # No SSEAwsKmsKeyId: the destination bucket's default key encrypts
                           # the copies.
                           "BucketKeyEnabled": True,
                       }})


def create_replication_job(s3control, s3, target: BatchTarget, *, manifest_path: str,
                           token: str, description: str) -> str:
    """S3 Batch Replication of the manifest's versions on their bucket's replication rule
    (the destination, key and role are the rule's; the job's role only starts it); its id."""
    key, etag = _manifest(s3, target, token, manifest_path)
    return _create_job(s3control, target, key=key, etag=etag, token=token,
                       description=description, operation={"S3ReplicateObject": {}})


def manifest_key(target: BatchTarget, token: str) -> str:
    return f"{target.manifest_prefix}{token}/manifest.csv"


def has_manifest(s3, target: BatchTarget, token: str) -> bool:
    """Did a run with this token upload its manifest (the same plan ran before)?"""
    return _existing_etag(s3, target.manifest_bucket, manifest_key(target, token)) is not None


def unfinished_jobs(s3control, account_id: str, description_head: str) -> list[tuple[str, str]]:
    """(job id, status) of the account's jobs not finished yet whose description starts with
    ``description_head`` (as S3 Control keeps it: cut at 256 characters)."""
    head = description_head[:DESCRIPTION_LIMIT]
    found, page_token = [], {}
    while True:
        page = s3control.list_jobs(AccountId=account_id, JobStatuses=UNFINISHED_JOB_STATUSES,
                                   MaxResults=1000, **page_token)
        found += [(job["JobId"], job["Status"]) for job in page.get("Jobs", [])
                  if job.get("Description", "").startswith(head)]
        if not page.get("NextToken"):
            return found
        page_token = {"NextToken": page["NextToken"]}


def _manifest(s3, target: BatchTarget, token: str, path: str) -> tuple[str, str]:
    """The token's manifest in S3 (key, ETag): the one already uploaded under this token, as
    it is, else ``path`` uploaded. A rerun must send the very request of the first run to get
    that job back: under SSE-KMS a new upload of the same bytes has another ETag, and S3
    Control refuses a reused token with other parameters."""
    key = manifest_key(target, token)
    etag = _existing_etag(s3, target.manifest_bucket, key) \
        or _upload(s3, path, target.manifest_bucket, key)
    return key, etag


def _create_job(s3control, target: BatchTarget, *, key: str, etag: str, token: str,
                description: str, operation: dict) -> str:
    response = s3control.create_job(
        AccountId=target.account_id,
        ConfirmationRequired=False,
        Operation=operation,
        Manifest={
            "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": MANIFEST_FIELDS},
            "Location": {"ObjectArn": f"arn:aws:s3:::{target.manifest_bucket}/{key}",
                         "ETag": etag},
        },
        Report={
            "Bucket": f"arn:aws:s3:::{target.manifest_bucket}",
            "Prefix": f"{target.manifest_prefix}{token}/report",
            "Format": "Report_CSV_20180820",
            "Enabled": True,
            "ReportScope": "AllTasks",
        },
        Priority=10,
        RoleArn=target.role_arn,
        ClientRequestToken=token,
        Description=description[:DESCRIPTION_LIMIT],
    )
    return response["JobId"]


def _existing_etag(s3, bucket: str, key: str) -> str | None:
    try:
        return s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise


def _upload(s3, path: str, bucket: str, key: str) -> str:
    # Managed transfer: a manifest of many millions of rows is larger than one PUT allows.
    s3.upload_file(path, bucket, key, ExtraArgs={"ContentType": "text/csv"})
    return s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')


def describe_job_command(target: BatchTarget, job_id: str) -> str:
    return (f"aws s3control describe-job --account-id {target.account_id} --job-id {job_id} "
            f"--region {target.region} --query 'Job.[Status,ProgressSummary]'")


def follow_hint(target: BatchTarget, job_id: str) -> str:
    return (f"{describe_job_command(target, job_id)}\n"
            f"completion report: s3://{target.manifest_bucket}/{target.manifest_prefix}")
