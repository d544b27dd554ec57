"""After a failback: make every upload the secondary Region took complete in the primary.

For each current version the secondary bucket holds under the upload prefixes, written there
in the window (not a replica of a primary write), the primary must hold the same bytes under
the same key, with a scan verdict, hashed into the dedup index and, for a product original,
rendered. ``examine`` says what is missing; with ``apply`` it also does it, through the real
handlers (``hasher.process_object``, ``renditions.pipeline.process_object``), never a copy of
their logic. Every check reads the current state first, so a second run does nothing.

How "the same bytes" is decided. S3 replication keeps the version id: a primary version with
the secondary's version id is that version. Otherwise (a copy made by an earlier run, a local
stand-in) the sizes must match and so must the SHA-256 — the stored full-object checksum when
both have one, else the bytes streamed through hashlib. ETags are never compared: under
SSE-KMS an ETag is not a digest of the bytes, and multipart ETags depend on the part size.

The upload gate decides the order. A gated version without a clean verdict cannot be read
(the bucket policy denies every reader but the scanner), so nothing reads, copies, hashes or
renders it. In the primary the run asks GuardDuty for an on-demand scan of that exact version
(``SendObjectMalwareScan``, by the plan's role; a copy-in-place would need the read the gate
denies) and reports it pending; the next run finds the verdict. In the secondary it cannot:
no Malware Protection plan protects that bucket (by design), and GuardDuty scans on demand
only in a bucket with one ("The bucket must have a Malware Protection plan configured to use
this API"). So a gated upload the primary does not hold (its replication back FAILED, which S3
never retries, or never ran) goes there by S3 Batch Replication: one job per run over exactly
those versions (``request_replication``), on the secondary's own rule back, which reads with
``s3:GetObjectVersionForReplication`` (not denied by the gate) and keeps the version id; the
primary's plan scans the arrival as any upload, and the next run finds it as the primary's
version with that id. A copy into the primary carries the source's tags
except the verdict (the bucket policy refuses an upload that carries one): the primary's plan
scans the copy as it scans any upload, and its clean verdict releases it to the primary's own
pipeline, so the copy is reported pending too. THREATS_FOUND is reported and left alone (the
verdict function quarantined it where it was scanned).
"""
from __future__ import annotations

import tempfile
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from botocore.exceptions import ClientError
from estate_handlers import dedup_index, hasher
from estate_handlers.layout import (
    ALERTED_TAG,
    CONTENT_SHA256_TAG,
    DEDUP_STATUS_TAG,
    HASHED_PREFIXES,
    SCAN_CLEAN,
    SCAN_STATUS_TAG,
    SCAN_THREATS,
)
from estate_handlers.object_events import ObjectVersion, is_replica
from estate_handlers.renditions import keys as rendition_keys
from estate_handlers.renditions import pipeline
from estate_handlers.renditions.settings import Settings
from estate_handlers.s3_errors import error_code, is_missing

from tools.restore import batch
from tools.restore.copier import _CARRIED, sha256_of

# What a version needs, in the order the run does it (the plan's vocabulary).
REPLICATE = "batch-replicate"  # a gated upload the primary lacks: S3 Batch Replication
# A job that has finished while its versions are still missing is tried again with a new
# token, this many times in all (S3 Control: DescribeJob statuses that end a job).
REPLICATION_ATTEMPTS = 3
FINISHED_JOB_STATUSES = frozenset({"Complete", "Failed", "Cancelled"})
COPY = "copy-to-primary"
SCAN = "scan"
HASH = "hash"
RENDER = "render"
ACTIONS = (REPLICATE, COPY, SCAN, HASH, RENDER)

# Where a version stands after the run.
RECONCILED = "reconciled"   # nothing missing (any more)
PLANNED = "planned"         # dry run: the actions would make it reconciled
PENDING = "pending"         # waiting on a scan; rerun after it
QUARANTINED = "quarantined"  # malware: contained where it was scanned, not copied or processed
UNSCANNABLE = "unscannable"  # GuardDuty could not scan it: an operator decides
CONFLICT = "conflict"       # the primary holds other bytes under the key: never overwritten
FAILED = "failed"
NEEDS_RERUN = frozenset({PENDING, CONFLICT, FAILED, UNSCANNABLE})

# On a copy this tool made: the secondary version it copies. Tags are readable before the
# verdict (the gate denies reads of the bytes only), so a rerun recognises its own copy.
COPIED_FROM_TAG = "reconciled-from-version"


@dataclass(frozen=True)
class Region:
    """One side: its S3 client, its bucket, its GuardDuty client (on-demand scans: the
    primary's only, the one bucket a Malware Protection plan protects)."""

    s3: object
    bucket: str
    guardduty: object = None


@dataclass(frozen=True)
class ReplicationJobs:
    """Where S3 Batch Replication jobs of the secondary's rule back are created: its S3 Control
    client, and the account, Region, role (the Replica stack's Batch Replication role) and
    manifest location (the secondary bucket, ``reconcile-jobs/``)."""

    s3control: object
    target: batch.BatchTarget


@dataclass(frozen=True)
class Estate:
    primary: Region
    secondary: Region
    hasher: hasher.Deps            # on the primary's S3 client and dedup table
    render_settings: Settings
    gated_prefixes: tuple[str, ...]  # () when the upload gate is off
    replication: ReplicationJobs | None = None  # None: the environment has no such role

    def gated(self, key: str) -> bool:
        return bool(self.gated_prefixes) and key.startswith(self.gated_prefixes)


@dataclass(frozen=True)
class Written:
    """A current version the secondary took."""

    key: str
    version_id: str
    size: int
    last_modified: datetime


@dataclass
class Finding:
    key: str
    secondary_version: str
    primary_version: str | None = None
    actions: list[str] = field(default_factory=list)
    state: str = RECONCILED
    detail: str = ""
    outcomes: dict[str, str] = field(default_factory=dict)  # action -> what the handler said
    job_id: str | None = None  # the S3 Batch Replication job that replicates it

    def as_dict(self) -> dict:
        return {"key": self.key, "secondary_version": self.secondary_version,
                "primary_version": self.primary_version, "actions": self.actions,
                "state": self.state, "detail": self.detail, "outcomes": self.outcomes,
                "job_id": self.job_id}


# --------------------------------------------------------------------------- listing

def written_in_secondary(estate: Estate, since: datetime | None, until: datetime | None,
                         *, originals_from: datetime | None = None) -> Iterator[Written]:
    """Current versions under the upload prefixes, last written in [since, until); from
    ``originals_from`` on, only the ones written in the secondary itself: after failback the
    primary takes uploads again and replication copies them here, and those are the primary
    pipeline's to process (a reconcile would race it)."""
    side = estate.secondary
    paginator = side.s3.get_paginator("list_object_versions")
    for prefix in HASHED_PREFIXES:
        for page in paginator.paginate(Bucket=side.bucket, Prefix=prefix):
            for version in page.get("Versions", []):
                when = version["LastModified"]
                if not version.get("IsLatest") or version["Key"].endswith("/"):
                    continue
                if (since and when < since) or (until and when >= until):
                    continue
                if originals_from and when >= originals_from \
                        and not written_here(estate, version["Key"], version["VersionId"]):
                    continue
                yield Written(version["Key"], version["VersionId"], version["Size"], when)


def written_here(estate: Estate, key: str, version_id: str) -> bool:
    """Whether the secondary's version was written there, not replicated from the primary: its
    ``ReplicationStatus``. Under a gated prefix the secondary refuses to read a version without
    a clean verdict, and nothing scans there: HeadObject is denied, and the version is a replica
    exactly when the primary lists its version id (replication keeps it). A replica whose
    primary version was deleted since would pass for an upload taken here: the erase tool,
    the one path that deletes versions, empties the replica before the primary for that."""
    try:
        found = head(estate.secondary, key, version_id)
    except ClientError as exc:
        if not (estate.gated(key) and error_code(exc) in ("403", "AccessDenied")):
            raise
        versions, _ = primary_versions(estate, key)
        return all(v["VersionId"] != version_id for v in versions)
    return found is not None and not is_replica(found)


# --------------------------------------------------------------------------- reads

def tags_of(side: Region, key: str, version_id: str) -> dict[str, str]:
    tag_set = side.s3.get_object_tagging(Bucket=side.bucket, Key=key,
                                         VersionId=version_id)["TagSet"]
    return {t["Key"]: t["Value"] for t in tag_set}


def head(side: Region, key: str, version_id: str | None = None) -> dict | None:
    extra = {"VersionId": version_id} if version_id else {}
    try:
        return side.s3.head_object(Bucket=side.bucket, Key=key, ChecksumMode="ENABLED", **extra)
    except ClientError as exc:
        if is_missing(exc) or error_code(exc) == "400":
            return None
        raise


def primary_versions(estate: Estate, key: str) -> tuple[list[dict], bool]:
    """The primary's versions of exactly ``key`` (a listing: allowed before any verdict),
    and whether a delete marker is its current version."""
    side = estate.primary
    versions, deleted = [], False
    # Every page: a key with more than 1,000 versions and markers spans several.
    for page in side.s3.get_paginator("list_object_versions").paginate(Bucket=side.bucket,
                                                                       Prefix=key):
        versions += [v for v in page.get("Versions", []) if v["Key"] == key]
        deleted |= any(m["Key"] == key and m.get("IsLatest")
                       for m in page.get("DeleteMarkers", []))
    return versions, deleted


def same_bytes(estate: Estate, item: Written, primary_head: dict) -> bool:
    if primary_head["ContentLength"] != item.size:
        return False
    secondary = estate.secondary
    source = sha256_of(secondary.s3, secondary.bucket, item.key, item.version_id)
    target = sha256_of(estate.primary.s3, estate.primary.bucket, item.key,
                       primary_head["VersionId"], primary_head)
    return source == target


# --------------------------------------------------------------------------- actions

def request_scan(side: Region, key: str, version_id: str) -> None:
    """GuardDuty's on-demand scan of one version, by the plan's own role (the gate lets it
    read): the verdict tag and the scan-result event follow as for an upload. Only the
    primary's bucket has a plan, so only the primary is ever asked."""
    side.guardduty.send_object_malware_scan(
        S3Object={"Bucket": side.bucket, "Key": key, "VersionId": version_id})


def request_replication(estate: Estate, findings: list[Finding], apply: bool) -> str | None:
    """One S3 Batch Replication job over exactly the versions the run found needing it
    (``REPLICATE``), its manifest written by this tool; the job id, or None when there is
    nothing to replicate, it is a dry run, or every attempt has finished without them.

    The token is the versions': a rerun that finds the same versions missing gets the same job
    back (S3 Control's ``ClientRequestToken``); versions that have arrived since are the
    primary's versions with their id, not listed. A job that has finished while its versions
    are still missing did not bring them (a task failed: the role, a key, a version deleted in
    the destination): the next attempt's token starts a new job, up to
    ``REPLICATION_ATTEMPTS``; after the last, the versions are failed, with the jobs and where
    their completion reports are, and are left to the operator."""
    wanted = [f for f in findings if REPLICATE in f.actions and f.state == PENDING]
    if not wanted or not apply:
        return None
    jobs, secondary = estate.replication, estate.secondary
    if jobs is None:
        for f in wanted:
            f.state = FAILED
            f.detail = ("unreadable before a scan, and this environment has no Batch "
                        "Replication role to send it to the primary")
        return None
    rows = sorted((f.key, f.secondary_version) for f in wanted)
    base = batch.run_token(secondary.bucket, *(f"{k}\x00{v}" for k, v in rows))
    finished: list[str] = []
    try:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".csv") as manifest:
            manifest.writelines(batch.manifest_row(secondary.bucket, k, v) for k, v in rows)
            manifest.flush()
            for attempt in range(REPLICATION_ATTEMPTS):
                token = replication_token(base, attempt)
                job_id = batch.create_replication_job(
                    jobs.s3control, secondary.s3, jobs.target, manifest_path=manifest.name,
                    token=token, description=f"reconcile: replicate {len(rows)} versions of "
                                             f"{secondary.bucket} back to "
                                             f"{estate.primary.bucket}")
                status = jobs.s3control.describe_job(
                    AccountId=jobs.target.account_id, JobId=job_id)["Job"]["Status"]
                if status not in FINISHED_JOB_STATUSES:
                    break
                finished.append(f"{job_id} ({status}; report under s3://{secondary.bucket}/"
                                f"{batch.manifest_key(jobs.target, token).rsplit('/', 1)[0]}/)")
            else:
                for f in wanted:
                    f.state = FAILED
                    f.detail = (f"{len(finished)} S3 Batch Replication jobs finished without "
                                f"bringing it to the primary: {'; '.join(finished)}")
                return None
    except Exception as exc:  # noqa: BLE001 - reported on each version it covers
        why = f"{error_code(exc)}: {exc}" if isinstance(exc, ClientError) \
            else f"{type(exc).__name__}: {exc}"
        for f in wanted:
            f.state, f.detail = FAILED, f"the S3 Batch Replication job was not created ({why})"
        return None
    earlier = f" (after {'; '.join(finished)})" if finished else ""
    for f in wanted:
        f.job_id = job_id
        f.detail = (f"S3 Batch Replication job {job_id} replicates it to the primary, whose "
                    f"plan scans it; rerun after the job{earlier}")
    return job_id


def replication_token(base: str, attempt: int) -> str:
    """The job token of one attempt at the same versions (S3 Control takes up to 64 chars)."""
    return base if attempt == 0 else f"{base}-retry{attempt}"


def copy_to_primary(estate: Estate, item: Written, tags: dict[str, str], gated: bool) -> str:
    """The secondary version's bytes, headers and tags (the verdict and its report marker
    left out, ``COPIED_FROM_TAG`` added: a later run knows the copy before it may read it) as
    a new primary version, with a stored SHA-256 checked against the source: at once, or for a
    gated key once the primary's scan released the copy (the gate's bucket policy denies
    reading it before; ``_primary_twin`` compares then), S3 having checked each part's
    SHA-256 on the way in.
    Streams through this machine: the two buckets are in two Regions and may be two
    endpoints; ``upload_fileobj`` goes multipart above 8 MB, so memory stays flat."""
    source, target = estate.secondary, estate.primary
    got = source.s3.get_object(Bucket=source.bucket, Key=item.key, VersionId=item.version_id)
    kept = {k: v for k, v in tags.items() if k not in (SCAN_STATUS_TAG, ALERTED_TAG)}
    kept[COPIED_FROM_TAG] = item.version_id
    extra = {name: got[name] for name in _CARRIED if got.get(name)}
    extra["Metadata"] = got.get("Metadata") or {}
    extra["ChecksumAlgorithm"] = "SHA256"
    if got.get("StorageClass"):
        extra["StorageClass"] = got["StorageClass"]
    if kept:
        extra["Tagging"] = urllib.parse.urlencode(kept)
    try:
        target.s3.upload_fileobj(got["Body"], target.bucket, item.key, ExtraArgs=extra)
    finally:
        got["Body"].close()
    if gated:  # unreadable until scanned clean: its version from the listing, allowed
        versions, _ = primary_versions(estate, item.key)
        return next(v["VersionId"] for v in versions if v.get("IsLatest"))
    written = head(target, item.key)
    if written is None or not same_bytes(estate, item, written):
        raise RuntimeError("the copy in the primary does not match the source's SHA-256")
    return written["VersionId"]


def is_hashed(estate: Estate, tags: dict[str, str]) -> bool:
    sha256 = tags.get(CONTENT_SHA256_TAG)
    if not sha256 or DEDUP_STATUS_TAG not in tags:
        return False
    deps = estate.hasher
    return dedup_index.get_canonical(deps.dynamodb, deps.table_name, sha256) is not None


def is_rendered(estate: Estate, key: str, version_id: str, tags: dict[str, str]) -> bool:
    """A manifest of these bytes (this version, or its twin's when replication made a new id)
    for the current rendition set, or the pipeline's rejection of this version."""
    if tags.get(pipeline.STATUS_TAG) == pipeline.REJECTED:
        return True
    side = estate.primary
    manifest = pipeline.read_manifest(side.s3, side.bucket, key)
    if not manifest or manifest.get("settings_digest") != pipeline.settings_digest(
            estate.render_settings):
        return False
    original = manifest.get("original") or {}
    return original.get("version_id") == version_id or (
        bool(tags.get(CONTENT_SHA256_TAG)) and original.get("sha256") == tags[CONTENT_SHA256_TAG])


# --------------------------------------------------------------------------- one version

def examine(estate: Estate, item: Written, apply: bool) -> Finding:
    """What ``item`` lacks in the primary; with ``apply``, also do it. One version's error
    never stops the run: its finding says ``failed`` and why, and a rerun retries it."""
    finding = Finding(item.key, item.version_id)
    try:
        _examine(estate, item, apply, finding)
    except Exception as exc:  # noqa: BLE001 - reported per version, the run goes on
        finding.state = FAILED
        finding.detail = (f"{error_code(exc)}: {exc}" if isinstance(exc, ClientError)
                          else f"{type(exc).__name__}: {exc}")
    return finding


def _examine(estate: Estate, item: Written, apply: bool, finding: Finding) -> None:
    gated = estate.gated(item.key)
    twin = _primary_twin(estate, item, finding)
    if finding.state != RECONCILED or finding.detail:  # decided: nothing to copy or complete
        if apply and SCAN in finding.actions:
            request_scan(estate.primary, item.key, finding.primary_version)
        return
    if twin is None:  # replication has not brought it: copy it, once it may be read
        source_tags = tags_of(estate.secondary, item.key, item.version_id)
        verdict = source_tags.get(SCAN_STATUS_TAG)
        if gated and verdict is None:  # unreadable here, and nothing scans here
            finding.actions.append(REPLICATE)
            if not apply:  # then the primary's plan and pipeline, as for a copy
                finding.actions.extend(_after_copy(item.key, gated))
            finding.state = PENDING if apply else PLANNED
            finding.detail = ("not in the primary, unreadable here before a scan: S3 Batch "
                              "Replication sends it to the primary, which scans it")
            return  # the run's one job covers it (request_replication)
        if gated and not _released(source_tags, finding, SCAN):
            return  # a verdict that is not clean: quarantined or unscannable, left alone
        source_head = head(estate.secondary, item.key, item.version_id)
        if source_head is not None and is_replica(source_head):
            finding.detail = "a replica of a primary write that the primary no longer holds"
            finding.state = CONFLICT
            return
        finding.actions.append(COPY)
        if not apply:
            finding.actions.extend(_after_copy(item.key, gated))
            finding.state = PLANNED
            return
        twin = copy_to_primary(estate, item, source_tags, gated)
        finding.primary_version = twin
        if gated:  # the primary's plan scans the copy; its verdict releases it
            finding.state, finding.detail = PENDING, "copied; the primary scans it as an upload"
            return
    finding.primary_version = twin
    _complete(estate, ObjectVersion(estate.primary.bucket, item.key, twin), gated, apply,
              finding)


def _after_copy(key: str, gated: bool) -> list[str]:
    return ([SCAN] if gated else []) + [HASH] + ([RENDER] if rendition_keys.is_original(key)
                                                 else [])


def _primary_twin(estate: Estate, item: Written, finding: Finding) -> str | None:
    """The primary version holding ``item``'s bytes, or None when there is none yet."""
    versions, deleted = primary_versions(estate, item.key)
    if deleted:  # deleted in the primary since: the later decision, even over its own twin
        finding.detail = "deleted in the primary: not copied back"
        return None  # nor hashed or rendered: the index and renditions would revive it
    if any(v["VersionId"] == item.version_id for v in versions):
        return item.version_id  # replication keeps the version id
    current = next((v for v in versions if v.get("IsLatest")), None)
    if current is None:
        return None
    current_tags = tags_of(estate.primary, item.key, current["VersionId"])
    ours = current_tags.get(COPIED_FROM_TAG) == item.version_id  # our copy of item
    verdict = current_tags.get(SCAN_STATUS_TAG)
    if estate.gated(item.key) and verdict != SCAN_CLEAN:  # unreadable: cannot compare yet
        finding.primary_version = current["VersionId"]
        if verdict is None and ours:
            finding.state, finding.detail = PENDING, "copied; the primary scans it as an upload"
        else:  # e.g. replicated before its origin's scan: scan it here
            _released(current_tags, finding, SCAN)
        return None
    if ours and not estate.gated(item.key):
        return current["VersionId"]  # compared with the source when it was copied
    # Another writer's bytes, or our gated copy now released: compare with the source.
    primary_head = head(estate.primary, item.key, current["VersionId"])
    if primary_head is not None and same_bytes(estate, item, primary_head):
        return current["VersionId"]
    finding.primary_version = current["VersionId"]
    finding.state, finding.detail = CONFLICT, "the primary holds other bytes under this key"
    return None


def _released(tags: dict[str, str], finding: Finding, scan_action: str) -> bool:
    """Whether a gated version's verdict lets it be read; otherwise the finding says why."""
    verdict = tags.get(SCAN_STATUS_TAG)
    if verdict == SCAN_CLEAN:
        return True
    if verdict is None:
        finding.actions.append(scan_action)
        finding.state, finding.detail = PENDING, "no scan verdict: on-demand scan requested"
    elif verdict == SCAN_THREATS:
        finding.state, finding.detail = QUARANTINED, "malware: quarantined where it was scanned"
    else:
        finding.state, finding.detail = UNSCANNABLE, f"scan result {verdict}"
    return False


def _complete(estate: Estate, obj: ObjectVersion, gated: bool, apply: bool,
              finding: Finding) -> None:
    """Scan verdict, hash, renditions of the primary version ``obj``."""
    primary = estate.primary
    tags = tags_of(primary, obj.key, obj.version_id)
    if gated and not _released(tags, finding, SCAN):
        if apply and SCAN in finding.actions:
            request_scan(primary, obj.key, obj.version_id)
        return
    if not is_hashed(estate, tags):
        finding.actions.append(HASH)
        if apply:
            finding.outcomes[HASH] = hasher.process_object(obj, estate.hasher)
            tags = tags_of(primary, obj.key, obj.version_id)
    if rendition_keys.is_original(obj.key) and not is_rendered(estate, obj.key,
                                                               obj.version_id, tags):
        finding.actions.append(RENDER)
        if apply:
            outcome = pipeline.process_object(primary.s3, obj, estate.render_settings)
            finding.outcomes[RENDER] = outcome.status
    finding.state = PLANNED if finding.actions and not apply else RECONCILED
