"""The reconciliation after a failback, against the local services (SeaweedFS for both
Regions' buckets, DynamoDB Local for the dedup index) with the real handlers: the hasher's
``process_object`` and the renditions pipeline's, called by ``tools.reconcile``.

The outage left every state the secondary can leave, one upload each:

- ``done``: written, scanned and hashed in the secondary, then replicated (tags and all);
- ``unprocessed``: a product original, scanned and replicated, never hashed nor rendered
  (the secondary's pipeline failed on it: its dead-letter queue);
- ``unreplicated``: a product original, scanned clean, that replication never brought;
- ``unscanned``: replicated without a verdict (the secondary's scan never ran);
- ``infected``: THREATS_FOUND in the secondary, never replicated.

(The window, ``--since``/``--until``, is the command-line test's.)

The primary's S3 client enforces the upload gate as its bucket policy does in AWS
(``GateEnforcingS3``: reading a gated version not tagged clean is 403; the local server has no
bucket policies), so a read the tool makes too early fails here as it would there.

GuardDuty is a stubbed client (on-demand scan requests recorded); its verdict tag is what
the test writes, as GuardDuty would (``two_regions.guardduty_scans``). Replication is
``two_regions.replicate``. Proven: a dry run changes nothing; the runs converge (copy, then
the scan the primary runs on the copy, then hash and render) and a last run does nothing;
each primary version is hashed once and rendered once (every rendition key has exactly one
version); nothing in the window is left unscanned; malware is never copied.
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
from estate_handlers.layout import CONTENT_SHA256_TAG, SCAN_STATUS_TAG, SCAN_THREATS
from estate_handlers.renditions import keys, pipeline
from estate_handlers.renditions.settings import Settings
from two_regions import StubbedGuardDuty, guardduty_scans, replicate, tags

from tools.reconcile import cli, engine

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


class GateEnforcingS3:
    """The tool's client of the primary bucket: GetObject and HeadObject of a gated version
    not tagged clean are 403, as DenyReadsUntilScannedClean makes them (tagging and listing
    stay open). ``unguarded``: the plain client, for the test's own set-up and checks."""

    def __init__(self, s3, bucket: str, gated: tuple[str, ...]):
        self._s3, self._bucket, self._gated = s3, bucket, gated
        self.unguarded = s3

    def __getattr__(self, name):
        return getattr(self._s3, name)

    def head_object(self, **kwargs):
        self._deny_unless_clean(kwargs)
        return self._s3.head_object(**kwargs)

    def get_object(self, **kwargs):
        self._deny_unless_clean(kwargs)
        return self._s3.get_object(**kwargs)

    def _deny_unless_clean(self, kwargs) -> None:
        if kwargs["Bucket"] != self._bucket or not kwargs["Key"].startswith(self._gated):
            return
        version = {"VersionId": kwargs["VersionId"]} if kwargs.get("VersionId") else {}
        try:
            tag_set = self._s3.get_object_tagging(Bucket=kwargs["Bucket"], Key=kwargs["Key"],
                                                  **version)["TagSet"]
        except ClientError:
            return  # missing: S3 answers as it would
        if {t["Key"]: t["Value"] for t in tag_set}.get(SCAN_STATUS_TAG) != "NO_THREATS_FOUND":
            raise ClientError({"Error": {"Code": "403", "Message": "Forbidden"},
                               "ResponseMetadata": {"HTTPStatusCode": 403}}, "HeadObject")


@pytest.fixture
def guardduty():
    return {"primary": StubbedGuardDuty("us-east-1"), "secondary": StubbedGuardDuty("us-west-2")}


@pytest.fixture
def estate(s3_endpoint, fresh_bucket, second_bucket, hasher_deps, guardduty):
    primary_gd, secondary_gd = guardduty["primary"], guardduty["secondary"]
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    deps = hasher.Deps(s3=s3, dynamodb=hasher_deps.dynamodb, table_name=hasher_deps.table_name)
    return engine.Estate(primary=engine.Region(GateEnforcingS3(s3, fresh_bucket, GATED), fresh_bucket,
                                               primary_gd.client),
                         secondary=engine.Region(s3, second_bucket, secondary_gd.client),
                         hasher=deps, render_settings=SMALL, gated_prefixes=GATED)


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
    """Write the states above into the secondary (and what replication brought into the
    primary)."""
    s3, primary, secondary = estate.primary.s3.unguarded, estate.primary.bucket, estate.secondary.bucket

    def put(name: str, body: bytes, content_type: str) -> str:
        return s3.put_object(Bucket=secondary, Key=KEYS[name], Body=body,
                             ContentType=content_type)["VersionId"]

    done = put("done", b"%PDF-1.7 receipt", "application/pdf")
    guardduty_scans(s3, secondary, KEYS["done"], done)
    hasher.process_object(engine.ObjectVersion(secondary, KEYS["done"], done), estate.hasher)
    for name in ("unprocessed", "unreplicated"):
        version = put(name, images.jpeg(images.photo("coffee" if name == "unprocessed"
                                                     else "chelsea")), "image/jpeg")
        guardduty_scans(s3, secondary, KEYS[name], version)
    put("unscanned", b"%PDF-1.7 never scanned", "application/pdf")
    infected = put("infected", b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR", "application/pdf")
    guardduty_scans(s3, secondary, KEYS["infected"], infected, SCAN_THREATS)
    for name in ("done", "unprocessed", "unscanned"):
        replicate(s3, secondary, s3, primary, KEYS[name])


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


def test_reconciliation_converges_and_does_each_thing_once(estate, guardduty, counted):
    outage(estate)
    counted["hash"].clear()  # the secondary's own hashing during the outage
    before = (primary_state(estate), index(estate))

    plan = run(estate, apply=False)
    assert (primary_state(estate), index(estate)) == before, "a dry run changes nothing"
    assert {n: (f.state, f.actions) for n, f in plan.items()} == {
        "done": ("reconciled", []),
        "unprocessed": ("planned", ["hash", "render"]),
        "unreplicated": ("planned", ["copy-to-primary", "scan", "hash", "render"]),
        "unscanned": ("pending", ["scan"]),
        "infected": ("quarantined", []),
    }
    assert counted == {"hash": Counter(), "render": Counter()}

    first = run(estate, apply=True)
    requested = guardduty["primary"].requested
    assert {n: f.state for n, f in first.items()} == {
        "done": "reconciled", "unprocessed": "reconciled", "unreplicated": "pending",
        "unscanned": "pending", "infected": "quarantined"}
    assert first["unprocessed"].outcomes == {"hash": "canonical", "render": "rendered"}
    copy = first["unreplicated"].primary_version
    assert copy == current_version(estate, "unreplicated")
    got = estate.primary.s3.unguarded.get_object(Bucket=estate.primary.bucket, Key=KEYS["unreplicated"])
    assert got["Body"].read() == images.jpeg(images.photo("chelsea"))
    assert SCAN_STATUS_TAG not in tags(estate.primary.s3.unguarded, estate.primary.bucket,
                                       KEYS["unreplicated"], copy), "a copy carries no verdict"
    unscanned = current_version(estate, "unscanned")
    assert requested == [(estate.primary.bucket, KEYS["unscanned"], unscanned)]

    # GuardDuty scans the copy (a new upload to the primary) and the requested version.
    guardduty_scans(estate.primary.s3.unguarded, estate.primary.bucket, KEYS["unreplicated"], copy)
    guardduty_scans(estate.primary.s3.unguarded, estate.primary.bucket, KEYS["unscanned"], unscanned)
    second = run(estate, apply=True)
    assert {n: f.state for n, f in second.items()} == {
        "done": "reconciled", "unprocessed": "reconciled", "unreplicated": "reconciled",
        "unscanned": "reconciled", "infected": "quarantined"}
    assert second["unreplicated"].actions == ["hash", "render"]
    assert second["unscanned"].actions == ["hash"]

    after = (primary_state(estate), index(estate))
    last = run(estate, apply=True)
    assert all(not f.actions for f in last.values()), "a re-run does nothing"
    assert (primary_state(estate), index(estate)) == after
    assert len(requested) == 1 and guardduty["secondary"].requested == []

    # Each primary version hashed once, rendered once; the secondary's hash was enough.
    assert set(counted["hash"].values()) == {1} and set(counted["render"].values()) == {1}
    assert {k for k, _ in counted["hash"]} == {KEYS[n] for n in
                                               ("unprocessed", "unreplicated", "unscanned")}
    _each_rendition_written_once(estate, ("unprocessed", "unreplicated"))
    for name in ("done", "unprocessed", "unreplicated", "unscanned"):
        primary_tags = tags(estate.primary.s3.unguarded, estate.primary.bucket, KEYS[name])
        assert primary_tags[SCAN_STATUS_TAG] == "NO_THREATS_FOUND", f"{name} left unscanned"
        assert dedup_index.get_canonical(estate.hasher.dynamodb, estate.hasher.table_name,
                                         primary_tags[CONTENT_SHA256_TAG]) is not None
    listed = estate.primary.s3.unguarded.list_object_versions(Bucket=estate.primary.bucket)
    assert KEYS["infected"] not in {v["Key"] for v in listed.get("Versions", [])}


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
        estate, tmp_path, capsys):
    s3, secondary = estate.secondary.s3, estate.secondary.bucket
    s3.put_object(Bucket=secondary, Key=KEYS["done"], Body=b"%PDF-1.7 scanned",
                  Tagging=f"{SCAN_STATUS_TAG}=NO_THREATS_FOUND")
    s3.put_object(Bucket=secondary, Key=KEYS["unscanned"], Body=b"%PDF-1.7 not scanned")
    report = tmp_path / "report.json"

    def command(*extra: str) -> int:
        return cli.main(["--env", "prod", "--table", estate.hasher.table_name,
                         "--bucket", estate.primary.bucket, "--secondary-bucket", secondary,
                         "--report", str(report), *extra],
                        make_estate=lambda settings, table: estate)

    assert command() == 1  # the unscanned version waits for a scan, whatever the mode
    out = capsys.readouterr().out
    assert "dry run: nothing changed" in out and "copy-to-primary to do: 1" in out
    assert primary_state(estate) == []
    assert {f["state"] for f in json.loads(report.read_text())["findings"]} == {
        "planned", "pending"}
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
        render_settings=estate.render_settings, gated_prefixes=estate.gated_prefixes)


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
