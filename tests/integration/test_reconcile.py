"""The reconciliation after a failback, against the local services (SeaweedFS for both
Regions' buckets, DynamoDB Local for the dedup index) with the real handlers: the hasher's
``process_object`` and the renditions pipeline's, called by ``tools.reconcile``.

The outage left every state an upload taken in the secondary can be in, one upload each. No
Malware Protection plan protects the secondary's bucket, so nothing is ever scanned there: a
verdict on a secondary version is the primary's, brought back by replica modification sync.

- ``done``: replicated, scanned and hashed in the primary, its tags synced back;
- ``unprocessed``: a product original, replicated and scanned clean in the primary, never
  hashed nor rendered (the primary's pipeline failed on it: its dead-letter queue);
- ``unreplicated``: a product original whose replication back FAILED: the primary has no copy
  and nobody has a verdict (S3 never retries it; reconcile starts S3 Batch Replication);
- ``unscanned``: replicated, but the primary's scan of it never ran;
- ``infected``: replicated, THREATS_FOUND in the primary, the verdict synced back.

(The window, ``--since``/``--until``, is the command-line test's.)

The primary's S3 client enforces the upload gate as its bucket policy does in AWS
(``GateEnforcingS3``: reading a gated version not tagged clean is 403; the local server has no
bucket policies), so a read the tool makes too early fails here as it would there.

GuardDuty is a stubbed client per Region (``two_regions.StubbedGuardDuty``): on-demand scan
requests are recorded, and refused for a bucket without a plan (the secondary's), as
GuardDuty refuses them; its verdict tag is what the test writes, as GuardDuty would
(``two_regions.guardduty_scans``). S3 Batch Operations is a stubbed S3 Control client
(``two_regions.StubbedBatchOperations``); the job's effect, and replication, are
``two_regions.replicate``. Proven: a dry run changes nothing; the runs converge (one Batch
Replication job of exactly the version the primary lacks, then the primary's scan of its
arrival, then hash and render) and a last run does nothing; each primary version is hashed
once and rendered once (every rendition key has exactly one version); nothing in the window
is left unscanned; nothing is scanned, copied or processed in or out of the secondary that
the gate denies; malware is never processed.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import boto3
import pytest
import renditions_images as images
from botocore.exceptions import ClientError
from estate_handlers import dedup_index, hasher
from estate_handlers.layout import (
    CONTENT_SHA256_TAG,
    HASHED_PREFIXES,
    SCAN_CLEAN,
    SCAN_STATUS_TAG,
    SCAN_THREATS,
)
from estate_handlers.renditions import keys, pipeline
from estate_handlers.renditions.settings import Settings
from gate_enforcing import GateEnforcingS3
from two_regions import (
    StubbedBatchOperations,
    StubbedGuardDuty,
    guardduty_scans,
    replicate,
    sync_tags_back,
    tags,
)

from infra.environments import ENVIRONMENTS
from tools.reconcile import cli, engine
from tools.restore import batch

# Rendering is not what is tested here: two widths, no AVIF (the slow encoder).
SMALL = Settings(processed_widths=(160,), thumbnail_widths=(48,), formats=("webp", "jpeg"))
GATED = ("user-content/uploads/", "products/images/original/", "products/documents/",
         "brands/")
KEYS = {
    "done": "user-content/uploads/alice-0123456789abcdef/a1/receipt.pdf",
    "unprocessed": "products/images/original/b2/look.jpg",
    "unreplicated": "products/images/original/c3/coat.jpg",
    "unscanned": "products/documents/reports/d4/report.pdf",
    "infected": "user-content/uploads/bob-0123456789abcdef/e5/invoice.pdf",
}


PROD = ENVIRONMENTS["prod"]()
JOBS_PREFIX = "reconcile-jobs/"


@pytest.fixture
def guardduty(fresh_bucket):
    # A plan protects the primary's bucket only, as in the estate.
    return {"primary": StubbedGuardDuty("us-east-1", protected=(fresh_bucket,)),
            "secondary": StubbedGuardDuty("us-west-2")}


@pytest.fixture
def batch_ops():
    return StubbedBatchOperations("us-west-2")


@pytest.fixture
def estate(s3_endpoint, fresh_bucket, second_bucket, hasher_deps, guardduty, batch_ops):
    primary_gd, secondary_gd = guardduty["primary"], guardduty["secondary"]
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    deps = hasher.Deps(s3=s3, dynamodb=hasher_deps.dynamodb, table_name=hasher_deps.table_name)
    jobs = engine.ReplicationJobs(batch_ops.client, batch.BatchTarget(
        PROD.account, "us-west-2", PROD.reverse_batch_replication_role_arn, second_bucket,
        JOBS_PREFIX))
    return engine.Estate(primary=engine.Region(GateEnforcingS3(s3, fresh_bucket, GATED), fresh_bucket,
                                               primary_gd.client),
                         # The secondary's GuardDuty (no plan) is there to refuse any request.
                         secondary=engine.Region(s3, second_bucket, secondary_gd.client),
                         hasher=deps, render_settings=SMALL, gated_prefixes=GATED,
                         replication=jobs)


@pytest.fixture
def counted(monkeypatch):
    """Every hasher and renditions call the reconciliation makes, by (key, version)."""
    calls = {"hash": Counter(), "render": Counter()}
    real_hash, real_render = hasher.process_object, pipeline.process_object

    def hash_once(obj, deps, **kw):
        calls["hash"][(obj.key, obj.version_id)] += 1
        return real_hash(obj, deps, **kw)

    def render_once(s3, obj, settings, **kw):
        calls["render"][(obj.key, obj.version_id)] += 1
        return real_render(s3, obj, settings, **kw)

    monkeypatch.setattr(hasher, "process_object", hash_once)
    monkeypatch.setattr(pipeline, "process_object", render_once)
    return calls


def outage(estate: engine.Estate) -> None:
    """Write the states above into the secondary, and what replication, the primary's plan and
    pipeline and replica modification sync made of them."""
    s3, primary, secondary = estate.primary.s3.unguarded, estate.primary.bucket, estate.secondary.bucket

    def put(name: str, body: bytes, content_type: str) -> str:
        return s3.put_object(Bucket=secondary, Key=KEYS[name], Body=body,
                             ContentType=content_type)["VersionId"]

    def back_home(name: str, version: str, verdict: str | None = SCAN_CLEAN,
                  hashed: bool = False) -> None:
        arrived = replicate(s3, secondary, s3, primary, KEYS[name])
        if verdict:  # the primary's plan scans the arrival
            guardduty_scans(s3, primary, KEYS[name], arrived, verdict)
        if hashed:  # the primary's hasher, released by the clean verdict
            hasher.process_object(engine.ObjectVersion(primary, KEYS[name], arrived),
                                  estate.hasher)
        sync_tags_back(s3, primary, s3, secondary, KEYS[name], version)

    back_home("done", put("done", b"%PDF-1.7 receipt", "application/pdf"), hashed=True)
    back_home("unprocessed", put("unprocessed", images.jpeg(images.photo("coffee")),
                                 "image/jpeg"))
    put("unreplicated", images.jpeg(images.photo("chelsea")), "image/jpeg")  # FAILED
    back_home("unscanned", put("unscanned", b"%PDF-1.7 never scanned", "application/pdf"),
              verdict=None)
    back_home("infected", put("infected", b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR",
                              "application/pdf"), verdict=SCAN_THREATS)


def run(estate, apply: bool) -> dict[str, engine.Finding]:
    findings = cli.reconcile(estate, None, None, apply=apply)
    by_name = {name: f for f in findings for name, key in KEYS.items() if f.key == key}
    assert len(by_name) == len(findings)
    return by_name


def primary_state(estate) -> list:
    s3, bucket = estate.primary.s3.unguarded, estate.primary.bucket
    versions = s3.list_object_versions(Bucket=bucket).get("Versions", [])
    return sorted((v["Key"], v["VersionId"], json.dumps(tags(s3, bucket, v["Key"],
                                                              v["VersionId"]), sort_keys=True))
                  for v in versions)


def index(estate) -> list:
    return estate.hasher.dynamodb.scan(TableName=estate.hasher.table_name)["Items"]


def current_version(estate, name: str) -> str:
    return estate.primary.s3.unguarded.head_object(Bucket=estate.primary.bucket,
                                         Key=KEYS[name])["VersionId"]


def test_reconciliation_converges_and_does_each_thing_once(estate, guardduty, batch_ops,
                                                           counted):
    outage(estate)
    counted["hash"].clear()  # the primary's own hashing during the outage
    before = (primary_state(estate), index(estate))
    secondary, s3 = estate.secondary.bucket, estate.primary.s3.unguarded
    unreplicated = s3.head_object(Bucket=secondary, Key=KEYS["unreplicated"])["VersionId"]

    plan = run(estate, apply=False)
    assert (primary_state(estate), index(estate)) == before, "a dry run changes nothing"
    assert {n: (f.state, f.actions) for n, f in plan.items()} == {
        "done": ("reconciled", []),
        "unprocessed": ("planned", ["hash", "render"]),
        "unreplicated": ("planned", ["batch-replicate", "scan", "hash", "render"]),
        "unscanned": ("pending", ["scan"]),
        "infected": ("quarantined", []),
    }
    assert counted == {"hash": Counter(), "render": Counter()} and batch_ops.jobs == []

    first = run(estate, apply=True)
    requested = guardduty["primary"].requested
    assert {n: f.state for n, f in first.items()} == {
        "done": "reconciled", "unprocessed": "reconciled", "unreplicated": "pending",
        "unscanned": "pending", "infected": "quarantined"}
    assert first["unprocessed"].outcomes == {"hash": "canonical", "render": "rendered"}
    # The upload the primary lacks is neither read nor scanned in the secondary: one S3 Batch
    # Replication job, on the secondary's rule back, of exactly that version.
    (job,) = batch_ops.jobs
    job_id = first["unreplicated"].job_id
    assert job_id == batch_ops.job_id(job["ClientRequestToken"])
    assert job_id in first["unreplicated"].detail
    manifest_key = f"{JOBS_PREFIX}{job['ClientRequestToken']}/manifest.csv"
    assert job["Operation"] == {"S3ReplicateObject": {}}
    assert job["RoleArn"] == PROD.reverse_batch_replication_role_arn
    assert (job["AccountId"], job["ConfirmationRequired"]) == (PROD.account, False)
    stored = s3.get_object(Bucket=secondary, Key=manifest_key)
    assert job["Manifest"] == {
        "Spec": {"Format": "S3BatchOperations_CSV_20180820",
                 "Fields": ["Bucket", "Key", "VersionId"]},
        "Location": {"ObjectArn": f"arn:aws:s3:::{secondary}/{manifest_key}",
                     "ETag": stored["ETag"].strip('"')}}
    assert batch.parse_manifest(stored["Body"].read().decode()) == [
        (secondary, KEYS["unreplicated"], unreplicated)]
    assert job["Report"]["Bucket"] == f"arn:aws:s3:::{secondary}"
    assert job["Report"]["Prefix"].startswith(JOBS_PREFIX)
    assert KEYS["unreplicated"] not in {k for k, _, _ in primary_state(estate)}
    unscanned = current_version(estate, "unscanned")
    assert requested == [(estate.primary.bucket, KEYS["unscanned"], unscanned)]

    # A rerun before the job has replicated it asks for that same job (same versions, same
    # token, same manifest): S3 Control answers with the job it created.
    again = run(estate, apply=True)
    assert (again["unreplicated"].state, again["unreplicated"].job_id) == ("pending", job_id)
    assert batch_ops.jobs == [job, job]

    # The job replicates the version home; the primary's plan scans it as an upload, and the
    # requested scan of the other version lands.
    arrived = replicate(s3, secondary, s3, estate.primary.bucket, KEYS["unreplicated"])
    guardduty_scans(s3, estate.primary.bucket, KEYS["unreplicated"], arrived)
    guardduty_scans(s3, estate.primary.bucket, KEYS["unscanned"], unscanned)
    second = run(estate, apply=True)
    assert {n: f.state for n, f in second.items()} == {
        "done": "reconciled", "unprocessed": "reconciled", "unreplicated": "reconciled",
        "unscanned": "reconciled", "infected": "quarantined"}
    assert second["unreplicated"].actions == ["hash", "render"]
    assert second["unreplicated"].primary_version == arrived
    assert second["unscanned"].actions == ["hash"]

    after = (primary_state(estate), index(estate))
    last = run(estate, apply=True)
    assert set(last) == set(second)  # it looked at every key again...
    assert all(not f.actions for f in last.values()), "a re-run does nothing"
    assert (primary_state(estate), index(estate)) == after
    # The scan was asked for by the two runs before its verdict, never again after it.
    assert requested == [(estate.primary.bucket, KEYS["unscanned"], unscanned)] * 2
    assert len(batch_ops.jobs) == 2
    assert guardduty["secondary"].requested == guardduty["secondary"].refused == []

    # Each primary version hashed once, rendered once; the primary's earlier hash was enough.
    assert set(counted["hash"].values()) == {1} and set(counted["render"].values()) == {1}
    assert {k for k, _ in counted["hash"]} == {KEYS[n] for n in
                                               ("unprocessed", "unreplicated", "unscanned")}
    _each_rendition_written_once(estate, ("unprocessed", "unreplicated"))
    for name in ("done", "unprocessed", "unreplicated", "unscanned"):
        primary_tags = tags(s3, estate.primary.bucket, KEYS[name])
        assert primary_tags[SCAN_STATUS_TAG] == "NO_THREATS_FOUND", f"{name} left unscanned"
        assert dedup_index.get_canonical(estate.hasher.dynamodb, estate.hasher.table_name,
                                         primary_tags[CONTENT_SHA256_TAG]) is not None
    # Malware stays as the primary's scan left it: one version, never hashed or rendered.
    listed = s3.list_object_versions(Bucket=estate.primary.bucket, Prefix=KEYS["infected"])
    assert len(listed["Versions"]) == 1
    assert tags(s3, estate.primary.bucket, KEYS["infected"])[SCAN_STATUS_TAG] == SCAN_THREATS


def test_guardduty_refuses_an_on_demand_scan_where_no_plan_protects_the_bucket(estate, guardduty):
    # What the reconciliation used to ask for in the secondary: GuardDuty refuses it there.
    key = KEYS["unreplicated"]
    version = estate.secondary.s3.put_object(Bucket=estate.secondary.bucket, Key=key,
                                             Body=b"x")["VersionId"]
    with pytest.raises(ClientError, match="Malware Protection plan"):
        engine.request_scan(estate.secondary, key, version)
    assert guardduty["secondary"].refused == [(estate.secondary.bucket, key, version)]


def test_without_a_job_the_versions_are_failed_and_say_why(estate):
    key = KEYS["unreplicated"]
    estate.secondary.s3.put_object(Bucket=estate.secondary.bucket, Key=key, Body=b"x")
    no_role = engine.Estate(primary=estate.primary, secondary=estate.secondary,
                            hasher=estate.hasher, render_settings=SMALL, gated_prefixes=GATED)
    (finding,) = cli.reconcile(no_role, None, None, apply=True)
    assert finding.state == "failed" and "no Batch Replication role" in finding.detail

    refused = StubbedBatchOperations("us-west-2")
    refused.client.meta.events.unregister("provide-client-params.s3-control.CreateJob",
                                          refused._record)
    refused._stubber.add_client_error("create_job", service_error_code="AccessDenied",
                                      service_message="not allowed to pass the role",
                                      http_status_code=403)
    denied = engine.Estate(primary=estate.primary, secondary=estate.secondary,
                           hasher=estate.hasher, render_settings=SMALL, gated_prefixes=GATED,
                           replication=engine.ReplicationJobs(refused.client,
                                                              estate.replication.target))
    (finding,) = cli.reconcile(denied, None, None, apply=True)
    assert finding.state == "failed" and finding.job_id is None
    assert "job was not created (AccessDenied" in finding.detail


class SaysReplica:
    """A client whose HeadObject says REPLICA for ``keys`` (the local store never replicates)."""

    def __init__(self, s3, keys: set[str]):
        self._s3, self._keys = s3, keys

    def __getattr__(self, name):
        return getattr(self._s3, name)

    def head_object(self, **kwargs):
        found = self._s3.head_object(**kwargs)
        return {**found, "ReplicationStatus": "REPLICA"} if kwargs["Key"] in self._keys else found


def test_after_failback_only_uploads_taken_in_the_secondary_are_reconciled(estate):
    # Past --until the secondary also holds the primary's new uploads, replicated to it: those
    # are the primary pipeline's. An upload taken here after failback (a URL issued before it)
    # is not, even under a gated prefix where this bucket refuses to read it (it denies reads
    # before a clean verdict like the primary, and nothing scans here): the version id, which
    # replication keeps, says whether the primary wrote it.
    s3, secondary = estate.primary.s3.unguarded, estate.secondary.bucket
    taken_here = "user-content/uploads/alice-0123456789abcdef/f6/late.pdf"
    gated_replica = "user-content/uploads/alice-0123456789abcdef/f7/theirs.pdf"
    ungated_replica = "brands/acme/g8/logo.png"
    gated = tuple(prefix for prefix in GATED if prefix != "brands/")  # brands/ ungated here
    until = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    s3.put_object(Bucket=secondary, Key=taken_here, Body=b"%PDF late")
    replicated = s3.put_object(Bucket=secondary, Key=gated_replica, Body=b"%PDF theirs")
    s3.put_object(Bucket=secondary, Key=ungated_replica, Body=b"png")
    # The primary lists the replicated version's id as its own (replication keeps ids).
    primary = estate.primary.s3

    class ListsTheirs:
        def __getattr__(self, name):
            return getattr(primary, name)

        def get_paginator(self, name):
            paginator = primary.get_paginator(name)

            class Pages:
                def paginate(self, **kwargs):
                    for page in paginator.paginate(**kwargs):
                        if kwargs.get("Prefix") == gated_replica:
                            page = {**page, "Versions": [{
                                "Key": gated_replica, "VersionId": replicated["VersionId"],
                                "IsLatest": True}]}
                        yield page
            return Pages()

    late = engine.Estate(
        primary=engine.Region(ListsTheirs(), estate.primary.bucket, estate.primary.guardduty),
        secondary=engine.Region(SaysReplica(GateEnforcingS3(s3, secondary, gated),
                                            {ungated_replica}),
                                secondary, estate.secondary.guardduty),
        hasher=estate.hasher, render_settings=SMALL, gated_prefixes=gated,
        replication=estate.replication)
    findings = cli.reconcile(late, None, until + dt.timedelta(minutes=20), apply=False,
                             originals_from=until)
    assert [(f.key, f.state) for f in findings] == [(taken_here, engine.PLANNED)]
    assert findings[0].actions[0] == engine.REPLICATE


def test_a_listing_that_stops_half_way_is_a_failed_finding_not_a_traceback(estate, capsys):
    s3 = estate.secondary.s3
    s3.put_object(Bucket=estate.secondary.bucket, Key=KEYS["unreplicated"], Body=b"x")

    class StopsListing:
        def __getattr__(self, name):
            return getattr(s3, name)

        def get_paginator(self, name):
            if name != "list_object_versions":
                return s3.get_paginator(name)

            class Pages:
                def paginate(self, **kwargs):
                    if kwargs["Prefix"] != HASHED_PREFIXES[0]:
                        raise ClientError({"Error": {"Code": "SlowDown", "Message": "Reduce"}},
                                          "ListObjectVersions")
                    yield from s3.get_paginator(name).paginate(**kwargs)
            return Pages()

    stopping = engine.Estate(
        primary=estate.primary,
        secondary=engine.Region(StopsListing(), estate.secondary.bucket,
                                estate.secondary.guardduty),
        hasher=estate.hasher, render_settings=SMALL, gated_prefixes=GATED,
        replication=estate.replication)
    findings = cli.reconcile(stopping, None, None, apply=False)
    assert [f.key for f in findings] == [KEYS["unreplicated"], cli.LISTING]
    stopped = findings[-1]
    assert stopped.state == engine.FAILED and "SlowDown" in stopped.detail
    assert "after the 1 above were not checked" in stopped.detail
    assert engine.FAILED in engine.NEEDS_RERUN  # so the command exits 1: run it again


def test_a_job_that_finished_without_the_versions_is_tried_again_then_left_failed(
        estate, batch_ops):
    # A task that failed (a key, the role, a version deleted in the destination) ends the job
    # while the version is still missing: the same token would only give that job back.
    outage(estate)
    first = run(estate, apply=True)["unreplicated"]
    assert first.state == "pending", first.detail
    batch_ops.statuses[first.job_id] = "Cancelled"  # each of S3 Control's ends is met once
    retried = run(estate, apply=True)["unreplicated"]
    assert retried.state == "pending" and retried.job_id != first.job_id, retried.detail
    assert f"{first.job_id} (Cancelled;" in retried.detail
    tokens = [job["ClientRequestToken"] for job in batch_ops.jobs]
    assert tokens[1:] == [tokens[0], engine.replication_token(tokens[0], 1)]
    assert len(tokens[-1]) <= 64  # S3 Control's limit

    batch_ops.statuses[retried.job_id] = "Complete"
    last = engine.replication_token(tokens[0], engine.REPLICATION_ATTEMPTS - 1)
    batch_ops.statuses[batch_ops.job_id(last)] = "Failed"
    given_up = run(estate, apply=True)["unreplicated"]
    assert given_up.state == "failed" and given_up.job_id is None
    assert f"{engine.REPLICATION_ATTEMPTS} S3 Batch Replication jobs finished" in given_up.detail
    assert f"s3://{estate.secondary.bucket}/{JOBS_PREFIX}{last}/" in given_up.detail


def _each_rendition_written_once(estate, names) -> None:
    s3, bucket = estate.primary.s3.unguarded, estate.primary.bucket
    versions = Counter(v["Key"] for prefix in (keys.PROCESSED, keys.THUMBNAILS)
                       for v in s3.list_object_versions(Bucket=bucket, Prefix=prefix)
                       .get("Versions", []))
    expected = {keys.manifest_key(KEYS[n]) for n in names} | {
        keys.rendition_key(KEYS[n], w, f, w in SMALL.thumbnail_widths)
        for n in names for w in SMALL.widths for f in SMALL.formats}
    assert set(versions) == expected and set(versions.values()) == {1}


def test_other_bytes_are_a_conflict_a_deletion_is_kept_and_errors_are_reported(
        estate, monkeypatch):
    s3, primary, secondary = estate.primary.s3.unguarded, estate.primary.bucket, estate.secondary.bucket
    key = KEYS["done"]
    s3.put_object(Bucket=secondary, Key=key, Body=b"%PDF-1.7 from the outage",
                  Tagging=f"{SCAN_STATUS_TAG}=NO_THREATS_FOUND")
    theirs = s3.put_object(Bucket=primary, Key=key, Body=b"%PDF-1.7 written by hand",
                           Tagging=f"{SCAN_STATUS_TAG}=NO_THREATS_FOUND")["VersionId"]
    (finding,) = cli.reconcile(estate, None, None, apply=True)
    assert (finding.state, finding.actions, finding.primary_version) == (
        "conflict", [], theirs)
    assert s3.head_object(Bucket=primary, Key=key)["VersionId"] == theirs

    # Deleted in the primary since (a delete marker is current): never brought back.
    s3.delete_object(Bucket=primary, Key=key)
    (finding,) = cli.reconcile(estate, None, None, apply=True)
    assert (finding.state, finding.actions) == ("reconciled", [])
    assert "deleted in the primary" in finding.detail
    assert "DeleteMarker" in str(s3.list_object_versions(Bucket=primary, Prefix=key))
    assert len(s3.list_object_versions(Bucket=primary, Prefix=key)["Versions"]) == 1

    def unreachable(*_args, **_kw):
        raise ConnectionError("the primary does not answer")

    monkeypatch.setattr(engine, "primary_versions", unreachable)
    (finding,) = cli.reconcile(estate, None, None, apply=True)
    assert finding.state == "failed" and "ConnectionError" in finding.detail


# ------------------------------------------------------------------ the command line

def test_the_command_plans_by_default_and_exits_1_while_something_is_pending(
        estate, batch_ops, tmp_path, capsys):
    s3, secondary = estate.secondary.s3, estate.secondary.bucket
    s3.put_object(Bucket=secondary, Key=KEYS["done"], Body=b"%PDF-1.7 scanned",
                  Tagging=f"{SCAN_STATUS_TAG}=NO_THREATS_FOUND")
    s3.put_object(Bucket=secondary, Key=KEYS["unscanned"], Body=b"%PDF-1.7 not replicated")
    report = tmp_path / "report.json"

    def command(*extra: str) -> int:
        return cli.main(["--env", "prod", "--table", estate.hasher.table_name,
                         "--bucket", estate.primary.bucket, "--secondary-bucket", secondary,
                         "--report", str(report), *extra],
                        make_estate=lambda settings, table: estate)

    assert command() == 0  # a plan: nothing is pending yet
    out = capsys.readouterr().out
    assert "dry run: nothing changed" in out and "copy-to-primary to do: 1" in out
    assert "batch-replicate to do: 1" in out
    assert primary_state(estate) == [] and batch_ops.jobs == []
    assert {f["state"] for f in json.loads(report.read_text())["findings"]} == {"planned"}

    assert command("--yes") == 1  # the copy awaits the primary's scan, the other the job
    out = capsys.readouterr().out
    (job,) = batch_ops.jobs
    job_id = batch_ops.job_id(job["ClientRequestToken"])
    assert f"S3 Batch Replication job {job_id} replicates 1 versions" in out
    assert f"aws s3control describe-job --account-id {PROD.account} --job-id {job_id}" in out
    written = json.loads(report.read_text())
    assert written["batch_replication_jobs"] == [job_id]
    assert {(f["key"], f["state"], f["job_id"]) for f in written["findings"]} == {
        (KEYS["done"], "pending", None), (KEYS["unscanned"], "pending", job_id)}

    since_now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    assert command("--since", since_now.isoformat()) == 0  # nothing written in that window
    assert "0 versions written in the secondary checked" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--env", "prod"], "required: --table"),
    (["--env", "staging", "--table", "dedup"], "--env must be one of"),
    (["--env", "prod", "--table", "dedup", "--since", "2026-11-20"], "no time zone"),
    (["--env", "prod", "--table", "dedup", "--bucket", "Not_A_Bucket"],
     "not an S3 bucket name"),
    (["--env", "prod", "--table", "dedup", "--bucket", "same-bucket",
      "--secondary-bucket", "same-bucket"], "must differ"),
    (["--env", "prod", "--table", "dedup", "--dry-run", "--yes"], "not allowed with"),
    (["--env", "prod", "--table", "", "--yes"], "not a DynamoDB table name"),
    (["--env", "prod", "--table", "ab", "--yes"], "not a DynamoDB table name"),
    (["--env", "prod", "--table", "dedup index", "--yes"], "not a DynamoDB table name"),
    (["--env", "prod", "--table", "d" * 256, "--yes"], "not a DynamoDB table name"),
])
def test_bad_input_is_one_line_exit_2_and_touches_nothing(argv, message, capsys):
    def no_estate(settings, table):
        raise AssertionError("no client may be built for bad input")

    assert cli.main(argv, make_estate=no_estate) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def _outage_copy(estate) -> None:
    """One clean upload only the secondary holds: a run with --yes copies it."""
    estate.secondary.s3.put_object(Bucket=estate.secondary.bucket, Key=KEYS["done"],
                                   Body=b"%PDF-1.7 scanned",
                                   Tagging=f"{SCAN_STATUS_TAG}=NO_THREATS_FOUND")


def _named(estate, settings, table: str) -> engine.Estate:
    """``estate``'s clients on the buckets and table the command line names."""
    return engine.Estate(
        primary=engine.Region(estate.primary.s3, settings.primary_bucket,
                              estate.primary.guardduty),
        secondary=engine.Region(estate.secondary.s3, settings.secondary_bucket,
                                estate.secondary.guardduty),
        hasher=hasher.Deps(s3=estate.hasher.s3, dynamodb=estate.hasher.dynamodb,
                           table_name=table),
        render_settings=estate.render_settings, gated_prefixes=estate.gated_prefixes,
        replication=estate.replication)


def test_a_report_that_cannot_be_written_stops_the_run_before_anything_is_changed(
        estate, tmp_path, capsys):
    _outage_copy(estate)
    code = cli.main(["--env", "prod", "--table", estate.hasher.table_name,
                     "--bucket", estate.primary.bucket,
                     "--secondary-bucket", estate.secondary.bucket,
                     "--report", str(tmp_path / "no-such-folder" / "report.json"), "--yes"],
                    make_estate=lambda settings, table: estate)
    err = capsys.readouterr().err
    assert code == 2 and "cannot write --report" in err and "Traceback" not in err
    assert primary_state(estate) == []


@pytest.mark.parametrize("missing", ["--bucket", "--secondary-bucket", "--table"])
def test_a_bucket_or_table_that_does_not_answer_stops_the_run_before_anything_is_changed(
        estate, capsys, missing):
    _outage_copy(estate)
    names = {"--bucket": estate.primary.bucket,
             "--secondary-bucket": estate.secondary.bucket,
             "--table": estate.hasher.table_name,
             missing: "no-such-name-0123456789"}
    code = cli.main(["--env", "prod", "--yes",
                     *(arg for flag, name in names.items() for arg in (flag, name))],
                    make_estate=lambda settings, table: _named(estate, settings, table))
    err = capsys.readouterr().err
    assert code == 2 and "does not answer" in err and "Traceback" not in err
    assert primary_state(estate) == []
