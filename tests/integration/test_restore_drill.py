"""Restore drills against the local S3 server (SeaweedFS), through the tool's own CLI entry.

A prefix lives through phases — created, overwritten, deleted, re-created — each in its own
second, because S3 (and SeaweedFS) list ``LastModified`` at one-second resolution: the moment
that ends a phase is the last second any of its writes carries, read back from the server,
and the next phase starts once the clock has moved past it (a wait of under a second, not a
fixed sleep). Restoring to each boundary must reproduce every key's bytes of that moment.

What SeaweedFS 4.48 does here, as S3 does: versions and delete markers interleaved newest
first in ListObjectVersions, CopyObject/UploadPartCopy from a VersionId, tags and metadata
copied, a stored SHA-256 for objects written with one. It has no archive tiers and no S3
Control: those shapes are in tests/unit/test_restore_*.py with botocore's Stubber. Memory at
scale (a generated listing of 100,000 versions) is in tests/unit/test_restore_plan.py and
bench/bench_restore.py (10,000 real objects), to keep this module fast.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError
from estate_handlers.layout import ALERTED_TAG, SCAN_CLEAN, SCAN_STATUS_TAG
from gate_enforcing import GateEnforcingS3

from tools.restore import cli, copier
from tools.restore.plan import COPY, Decision

PREFIX = "products/images/original/"


@pytest.fixture
def other_bucket(second_bucket):
    """Another destination for a restore."""
    return second_bucket


def restore(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = cli.main([*argv], stdout=out)
    return code, out.getvalue()


def current_state(s3, bucket: str, prefix: str) -> dict[str, bytes]:
    """Every live key under the prefix (relative) → its current bytes."""
    state = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            state[item["Key"][len(prefix):]] = body
    return state


def all_versions(s3, bucket: str, prefix: str = "") -> list[tuple[str, str, bool]]:
    found = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        found += [(v["Key"], v["VersionId"], False) for v in page.get("Versions", [])]
        found += [(m["Key"], m["VersionId"], True) for m in page.get("DeleteMarkers", [])]
    return sorted(found)


def versions_per_key(s3, bucket: str, prefix: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key, _, _ in all_versions(s3, bucket, prefix):
        counts[key] = counts.get(key, 0) + 1
    return counts


class Timeline:
    """Writes phases and remembers, per phase, the server's last second and the state every
    key had then. The same phases go into many prefixes at once (one per test), so the whole
    module waits for the clock only three times."""

    def __init__(self, s3, bucket: str):
        self.s3, self.bucket = s3, bucket
        self.state: dict[str, bytes] = {}
        self.moments: list[dt.datetime] = []
        self.states: list[dict[str, bytes]] = []

    def phase(self, prefixes, puts: dict[str, bytes] = (), deletes: tuple[str, ...] = (),
              extra=lambda: None) -> None:
        """``puts``/``deletes`` (relative keys) in every prefix, then ``extra()`` writes."""
        if self.moments:  # start in a later second than the previous phase's last write
            wait = (self.moments[-1] + dt.timedelta(seconds=1)
                    - dt.datetime.now(dt.UTC)).total_seconds()
            time.sleep(max(0.0, wait) + 0.02)
        jobs = [(prefix + key, body) for prefix in prefixes for key, body in dict(puts).items()]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda job: self.s3.put_object(
                Bucket=self.bucket, Key=job[0], Body=job[1], ContentType="image/jpeg"), jobs))
            list(pool.map(lambda key: self.s3.delete_object(Bucket=self.bucket, Key=key),
                          [prefix + key for prefix in prefixes for key in deletes]))
        extra()
        self.state.update(dict(puts))
        for key in deletes:
            self.state.pop(key, None)
        last = max(v["LastModified"]
                   for page in self.s3.get_paginator("list_object_versions").paginate(
                       Bucket=self.bucket)
                   for v in page.get("Versions", []) + page.get("DeleteMarkers", []))
        self.moments.append(last.astimezone(dt.UTC))
        self.states.append(dict(self.state))

    def at(self, phase: int) -> str:
        return self.moments[phase].isoformat().replace("+00:00", "Z")


DRILL_PREFIXES = 19  # one per test (and parameter) that takes `prefix`
KILL_KEYS = [f"k{i:03d}.jpg" for i in range(60)]
HOSTILE = ["with space.jpg", "ünïcødé/ß 東京.jpg", "a+b=c&d.jpg", "100%25 real.jpg",
           "plus+ and space +.jpg", "quote'\"semi;colon.jpg", "emoji 🎉/x.jpg"]
BIG = bytes(range(256)) * (11 * 4096)  # 11 MiB: three 5 MiB parts


class Drill:
    """The module's bucket: ``prefix()`` hands each test its own copy of the four phases
    (created; overwritten/deleted/created; re-created/overwritten/deleted;
    deleted/overwritten/created). Side prefixes: ``kill/`` (60 keys, old then bad),
    ``hostile/`` (hostile keys, then overwritten), ``meta/`` and ``big/`` (one object with
    type, metadata and tags, then overwritten)."""

    def __init__(self, s3, bucket: str):
        self.s3, self.bucket = s3, bucket
        self.timeline = Timeline(s3, bucket)
        self._free = [f"{PREFIX}drill{i:02d}/" for i in range(DRILL_PREFIXES)]
        drills = list(self._free)
        t = self.timeline

        def first_extras():
            for key in KILL_KEYS:
                s3.put_object(Bucket=bucket, Key=f"kill/{key}", Body=f"old {key}".encode())
            for key in HOSTILE:
                s3.put_object(Bucket=bucket, Key=f"hostile/{key}", Body=key.encode())
            s3.put_object(Bucket=bucket, Key="meta/doc.pdf", Body=b"v0",
                          ContentType="application/pdf",
                          Metadata={"owner": "alice", "source": "scanner"},
                          Tagging="team=docs&confidential=yes")
            s3.put_object(Bucket=bucket, Key="big/video.mp4", Body=BIG, ContentType="video/mp4",
                          Metadata={"cut": "final"}, Tagging="kind=media")

        def second_extras():
            for key in KILL_KEYS:
                s3.put_object(Bucket=bucket, Key=f"kill/{key}", Body=f"bad {key}".encode())
            for key in HOSTILE:
                s3.put_object(Bucket=bucket, Key=f"hostile/{key}", Body=b"overwritten")
            s3.put_object(Bucket=bucket, Key="meta/doc.pdf", Body=b"v1", ContentType="text/plain")
            s3.put_object(Bucket=bucket, Key="big/video.mp4", Body=b"truncated")

        t.phase(drills, puts={"a.jpg": b"a0", "b.jpg": b"b0", "c.jpg": b"c0", "dir/d.jpg": b"d0"},
                extra=first_extras)
        t.phase(drills, puts={"a.jpg": b"a1", "e.jpg": b"e1"}, deletes=("b.jpg",),
                extra=second_extras)
        t.phase(drills, puts={"a.jpg": b"a2", "b.jpg": b"b2", "e.jpg": b"e2"},
                deletes=("c.jpg",))
        t.phase(drills, puts={"b.jpg": b"b3", "f.jpg": b"f3"}, deletes=("a.jpg",))

    def prefix(self) -> str:
        assert self._free, "every drill prefix is taken: raise DRILL_PREFIXES"
        return self._free.pop()

    def at(self, phase: int) -> str:
        return self.timeline.at(phase)

    @property
    def states(self):
        return self.timeline.states


@pytest.fixture(scope="module")
def drill(s3_client):
    name = f"drill-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name)
    s3_client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return Drill(s3_client, name)


@pytest.fixture
def prefix(drill):
    return drill.prefix()


@pytest.mark.parametrize("phase", [0, 1, 2])
def test_in_place_restore_reproduces_every_key_of_each_phase(drill, s3_client, prefix, phase):
    code, out = restore("--bucket", drill.bucket, "--prefix", prefix, "--at", drill.at(phase),
                        "--remove-newer", "--yes")
    assert code == 0, out
    assert current_state(s3_client, drill.bucket, prefix) == drill.states[phase]


def test_restores_keep_history_and_can_go_back_and_forth(drill, s3_client, prefix):
    before = all_versions(s3_client, drill.bucket, prefix)
    for phase in (0, 2, 1):
        code, _ = restore("--bucket", drill.bucket, "--prefix", prefix,
                          "--at", drill.at(phase), "--remove-newer", "--yes")
        assert code == 0
        assert current_state(s3_client, drill.bucket, prefix) == drill.states[phase]
    assert set(before) <= set(all_versions(s3_client, drill.bucket, prefix))


def test_keys_created_after_the_moment_are_left_alone_without_remove_newer(
        drill, s3_client, prefix):
    code, _ = restore("--bucket", drill.bucket, "--prefix", prefix, "--at", drill.at(0), "--yes")
    assert code == 0
    assert current_state(s3_client, drill.bucket, prefix) == {
        **drill.states[0], "e.jpg": b"e2", "f.jpg": b"f3"}


def test_remove_newer_adds_delete_markers_and_never_deletes_a_version(drill, s3_client, prefix):
    before = all_versions(s3_client, drill.bucket, prefix)
    code, _ = restore("--bucket", drill.bucket, "--prefix", prefix, "--at", drill.at(0),
                      "--remove-newer", "--yes")
    assert code == 0
    after = all_versions(s3_client, drill.bucket, prefix)
    assert set(before) <= set(after)
    new_markers = {key for key, _, marker in set(after) - set(before) if marker}
    assert new_markers == {prefix + "e.jpg", prefix + "f.jpg"}


def test_restore_into_another_prefix_writes_exactly_the_state_of_the_moment(
        drill, s3_client, prefix):
    target = "restored/" + prefix
    s3_client.put_object(Bucket=drill.bucket, Key=target + "stray.jpg", Body=b"stray")
    code, _ = restore("--bucket", drill.bucket, "--prefix", prefix, "--at", drill.at(1),
                      "--to-prefix", target, "--yes")
    assert code == 0
    assert current_state(s3_client, drill.bucket, target) == drill.states[1]
    assert current_state(s3_client, drill.bucket, prefix) == drill.states[3]  # untouched


def test_restore_into_another_bucket_needs_no_confirmation(drill, s3_client, prefix,
                                                         other_bucket, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _ = restore("--bucket", drill.bucket, "--prefix", prefix, "--at", drill.at(2),
                      "--to-bucket", other_bucket)
    assert code == 0
    assert current_state(s3_client, other_bucket, prefix) == drill.states[2]


def test_second_run_is_a_no_op(drill, s3_client, prefix, tmp_path):
    args = ("--bucket", drill.bucket, "--prefix", prefix, "--at", drill.at(1),
            "--remove-newer", "--yes")
    assert restore(*args)[0] == 0
    versions = all_versions(s3_client, drill.bucket, prefix)
    code, _ = restore(*args, "--report", str(tmp_path / "again.json"))
    assert code == 0
    assert all_versions(s3_client, drill.bucket, prefix) == versions
    outcomes = json.loads((tmp_path / "again.json").read_text())["summary"]["outcomes"]
    assert set(outcomes) <= {"already-current", "absent", "unchanged"}


def test_dry_run_changes_nothing_and_prints_the_plan(drill, s3_client, prefix):
    versions = all_versions(s3_client, drill.bucket, prefix)
    code, out = restore("--bucket", drill.bucket, "--prefix", prefix, "--at", drill.at(0),
                        "--remove-newer", "--dry-run")
    assert code == 0
    assert all_versions(s3_client, drill.bucket, prefix) == versions
    assert "copy: 3 keys, 6 bytes" in out and "delete-marker: 2 keys" in out
    assert f"{prefix}a.jpg" in out


def test_a_dry_run_reports_every_key_it_would_restore(drill, s3_client, prefix, tmp_path):
    report = tmp_path / "plan.json"
    versions = all_versions(s3_client, drill.bucket, prefix)
    code, _ = restore("--bucket", drill.bucket, "--prefix", prefix, "--at", drill.at(0),
                      "--remove-newer", "--dry-run", "--report", str(report))
    assert code == 0 and all_versions(s3_client, drill.bucket, prefix) == versions
    written = json.loads(report.read_text())
    assert {e["key"]: (e["action"], e["outcome"]) for e in written["keys"]} == {
        prefix + "a.jpg": ("copy", "dry-run"), prefix + "b.jpg": ("copy", "dry-run"),
        prefix + "c.jpg": ("copy", "dry-run"), prefix + "dir/d.jpg": ("unchanged", "dry-run"),
        prefix + "e.jpg": ("delete-marker", "dry-run"),
        prefix + "f.jpg": ("delete-marker", "dry-run")}
    assert written["summary"]["dry_run"] is True and written["summary"]["outcomes"] == {}
    assert written["summary"]["plan"] == {"copy": 3, "delete-marker": 2, "unchanged": 1}


def test_report_lists_every_key_with_its_outcome(drill, prefix, tmp_path):
    report = tmp_path / "report.json"
    code, _ = restore("--bucket", drill.bucket, "--prefix", prefix, "--at", drill.at(0),
                      "--yes", "--report", str(report))
    assert code == 0
    keys = {e["key"]: e["outcome"] for e in json.loads(report.read_text())["keys"]}
    assert keys == {prefix + "a.jpg": "restored", prefix + "b.jpg": "restored",
                    prefix + "c.jpg": "restored", prefix + "dir/d.jpg": "unchanged",
                    prefix + "e.jpg": "newer-kept", prefix + "f.jpg": "newer-kept"}


def test_a_live_bucket_restore_without_yes_and_without_a_terminal_is_refused(
        drill, s3_client, prefix, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    versions = all_versions(s3_client, drill.bucket, prefix)
    code, _ = restore("--bucket", drill.bucket, "--prefix", prefix, "--at", drill.at(0))
    assert code == 2
    assert all_versions(s3_client, drill.bucket, prefix) == versions


def test_a_checksum_mismatch_fails_the_run_with_exit_code_1(drill, prefix, monkeypatch,
                                                             tmp_path):
    real = copier.restored_sha256

    def corrupt_destination(client, bucket, key, *args):
        value = real(client, bucket, key, *args)
        return "bad" if key.endswith("a.jpg") else value

    monkeypatch.setattr(copier, "restored_sha256", corrupt_destination)
    code, _ = restore("--bucket", drill.bucket, "--prefix", prefix, "--at", drill.at(0),
                      "--yes", "--report", str(tmp_path / "r.json"))
    assert code == 1
    failed = [e for e in json.loads((tmp_path / "r.json").read_text())["keys"]
              if e["outcome"] == "failed"]
    assert [e["key"] for e in failed] == [prefix + "a.jpg"]
    assert "SHA-256" in failed[0]["error"]


def _failed_entries(report) -> list[dict]:
    return [e for e in json.loads(report.read_text())["keys"] if e["outcome"] == "failed"]


def test_a_checksum_mismatch_of_a_copy_into_another_prefix_fails_that_key(
        drill, prefix, monkeypatch, tmp_path):
    # Into a fresh prefix the source read overlaps the copy: the check must still bite.
    real = copier.restored_sha256

    def corrupt_destination(client, bucket, key, *args):
        value = real(client, bucket, key, *args)
        return "bad" if key.endswith("a.jpg") else value

    monkeypatch.setattr(copier, "restored_sha256", corrupt_destination)
    target = "mismatch/" + prefix
    code, _ = restore("--bucket", drill.bucket, "--prefix", prefix, "--at", drill.at(0),
                      "--to-prefix", target, "--yes", "--report", str(tmp_path / "r.json"))
    assert code == 1
    failed = _failed_entries(tmp_path / "r.json")
    assert [e["key"] for e in failed] == [target + "a.jpg"]
    assert "SHA-256" in failed[0]["error"]


def test_a_copy_whose_source_cannot_be_read_fails_and_names_the_unverified_version(
        drill, s3_client, prefix, monkeypatch, tmp_path):
    real = copier.describe_version

    def unreadable_a(client, bucket, key, *args):
        if key.endswith("a.jpg"):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject")
        return real(client, bucket, key, *args)

    monkeypatch.setattr(copier, "describe_version", unreadable_a)
    target = "unreadable/" + prefix
    code, _ = restore("--bucket", drill.bucket, "--prefix", prefix, "--at", drill.at(0),
                      "--to-prefix", target, "--yes", "--report", str(tmp_path / "r.json"))
    assert code == 1
    [failed] = _failed_entries(tmp_path / "r.json")
    assert failed["key"] == target + "a.jpg" and "AccessDenied" in failed["error"]
    assert failed["new_version_id"] == s3_client.head_object(
        Bucket=drill.bucket, Key=target + "a.jpg")["VersionId"]


def test_a_copy_that_reports_its_sha256_is_not_read_back(drill, prefix, monkeypatch):
    # S3 returns the SHA-256 it computed for the copy; the local server does not, so the
    # tool's copy is wrapped to report it, as S3 would (the source version's bytes).
    real_copy, real_read, reads = copier.Restorer._copy, copier.streamed_sha256, []

    def reporting_copy(self, decision):
        new_version, _ = real_copy(self, decision)
        return new_version, real_read(self.source.client, self.source.bucket,
                                      decision.source_key, decision.version_id)

    monkeypatch.setattr(copier.Restorer, "_copy", reporting_copy)
    monkeypatch.setattr(copier, "streamed_sha256",
                        lambda client, bucket, key, *a: reads.append(key) or real_read(
                            client, bucket, key, *a))
    target = "reported/" + prefix
    code, _ = restore("--bucket", drill.bucket, "--prefix", prefix, "--at", drill.at(0),
                      "--to-prefix", target, "--yes")
    assert code == 0
    assert not [key for key in reads if key.startswith(target)]


# ------------------------------------------------------------------ interrupted run

class _Killed(BaseException):
    """Stands for the process dying: not an Exception, so no per-key handler catches it."""


def test_a_run_killed_midway_and_restarted_completes_without_copying_twice(
        drill, s3_client, monkeypatch):
    real_copy, copies = copier.Restorer._copy, []

    def dying_copy(self, decision):
        if len(copies) >= 20:
            raise _Killed()
        copies.append(decision.dest_key)
        return real_copy(self, decision)

    args = ("--bucket", drill.bucket, "--prefix", "kill/", "--at", drill.at(0), "--yes",
            "--workers", "4")
    monkeypatch.setattr(copier.Restorer, "_copy", dying_copy)
    with pytest.raises(_Killed):
        restore(*args)
    assert 20 <= len(copies) < len(KILL_KEYS)
    monkeypatch.setattr(copier.Restorer, "_copy",
                        lambda self, d: copies.append(d.dest_key) or real_copy(self, d))
    assert restore(*args)[0] == 0
    assert sorted(copies) == sorted(f"kill/{k}" for k in KILL_KEYS)  # each copied once
    assert set(versions_per_key(s3_client, drill.bucket, "kill/").values()) == {3}
    assert current_state(s3_client, drill.bucket, "kill/") == {
        k: f"old {k}".encode() for k in KILL_KEYS}


# ------------------------------------------------------------------ object fidelity

def test_hostile_keys_round_trip_into_another_prefix_and_in_place(drill, s3_client):
    code, _ = restore("--bucket", drill.bucket, "--prefix", "hostile/", "--at", drill.at(0),
                      "--to-prefix", "hostile-copy/", "--yes")
    assert code == 0
    expected = {k: k.encode() for k in HOSTILE}
    assert current_state(s3_client, drill.bucket, "hostile-copy/") == expected
    code, _ = restore("--bucket", drill.bucket, "--prefix", "hostile/", "--at", drill.at(0),
                      "--yes")
    assert code == 0
    assert current_state(s3_client, drill.bucket, "hostile/") == expected


def test_content_type_metadata_and_tags_are_kept(drill, s3_client):
    code, _ = restore("--bucket", drill.bucket, "--prefix", "meta/", "--at", drill.at(0),
                      "--yes")
    assert code == 0
    head = s3_client.head_object(Bucket=drill.bucket, Key="meta/doc.pdf")
    assert (head["ContentType"], head["Metadata"]) == (
        "application/pdf", {"owner": "alice", "source": "scanner"})
    tags = s3_client.get_object_tagging(Bucket=drill.bucket, Key="meta/doc.pdf")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "docs", "confidential": "yes"}


def test_objects_above_the_multipart_threshold_are_copied_in_ranged_parts(drill, s3_client):
    code, out = restore("--bucket", drill.bucket, "--prefix", "big/", "--at", drill.at(0),
                        "--yes", "--multipart-threshold-mb", "5", "--part-size-mb", "5")
    assert code == 0, out
    got = s3_client.get_object(Bucket=drill.bucket, Key="big/video.mp4")
    assert got["Body"].read() == BIG
    assert got["ETag"].endswith('-3"')  # three ranged parts, not one CopyObject
    assert (got["ContentType"], got["Metadata"]) == ("video/mp4", {"cut": "final"})
    tags = s3_client.get_object_tagging(Bucket=drill.bucket, Key="big/video.mp4")["TagSet"]
    assert tags == [{"Key": "kind", "Value": "media"}]


GATED_KEY = "user-content/uploads/alice-0123456789abcdef/a1/film.mp4"


def test_a_gated_version_above_the_multipart_threshold_waits_for_its_scan_then_verifies(
        s3_client, fresh_bucket):
    # CopyObject names no tags (it copies them), but CreateMultipartUpload must name them:
    # GuardDuty's verdict stays behind, and the new version gets its own from its scan.
    clean = f"{SCAN_STATUS_TAG}={SCAN_CLEAN}&{ALERTED_TAG}=x&kind=media"
    old = s3_client.put_object(Bucket=fresh_bucket, Key=GATED_KEY, Body=BIG,
                               ContentType="video/mp4", Tagging=clean)["VersionId"]
    broken = s3_client.put_object(Bucket=fresh_bucket, Key=GATED_KEY, Body=b"broken",
                                  Tagging=f"{SCAN_STATUS_TAG}={SCAN_CLEAN}")["VersionId"]
    options = copier.CopyOptions(multipart_threshold=5 * copier.MB, part_size=5 * copier.MB,
                                 gated_prefixes=("user-content/uploads/",))
    restorer = copier.Restorer(copier.Location(s3_client, fresh_bucket),
                               copier.Location(GateEnforcingS3(s3_client, fresh_bucket, options.gated_prefixes),
                                              fresh_bucket), options)

    def restore_over(current: str) -> dict:
        return restorer.carry_out(Decision(COPY, GATED_KEY, GATED_KEY, version_id=old,
                                           size=len(BIG), storage_class="STANDARD",
                                           dest_version_id=current))

    entry = restore_over(broken)
    assert entry["outcome"] == copier.RESTORED_PENDING_SCAN, entry
    new = entry["new_version_id"]
    tags = s3_client.get_object_tagging(Bucket=fresh_bucket, Key=GATED_KEY,
                                        VersionId=new)["TagSet"]
    assert tags == [{"Key": "kind", "Value": "media"}]
    assert s3_client.get_object(Bucket=fresh_bucket, Key=GATED_KEY)["Body"].read() == BIG
    # GuardDuty scans the new version as an upload; the rerun then verifies it, copying nothing.
    s3_client.put_object_tagging(Bucket=fresh_bucket, Key=GATED_KEY, VersionId=new, Tagging={
        "TagSet": [*tags, {"Key": SCAN_STATUS_TAG, "Value": SCAN_CLEAN}]})
    again = restore_over(new)
    assert (again["outcome"], again["new_version_id"]) == (copier.ALREADY_CURRENT, new)


def test_a_run_with_versions_waiting_for_their_scan_exits_1_and_says_to_rerun(
        drill, other_bucket, monkeypatch):
    gated = []
    monkeypatch.setattr(cli.batch_ops, "gated_prefixes_of",
                        lambda bucket: gated.append(bucket) or ("big/",))
    code, out = restore("--bucket", drill.bucket, "--prefix", "big/", "--at", drill.at(0),
                        "--to-bucket", other_bucket, "--yes",
                        "--multipart-threshold-mb", "5", "--part-size-mb", "5")
    assert other_bucket in gated  # the destination's gate decides
    assert code == 1, out
    assert "restored-pending-scan=1" in out
    assert "1 keys were copied in parts under the upload gate" in out and "rerun" in out


# ------------------------------------------------------------------ disaster mode

def test_from_replica_without_yes_and_without_a_terminal_writes_nothing_to_the_live_bucket(
        drill, s3_client, prefix, other_bucket, monkeypatch):
    primary = other_bucket  # the drill's bucket plays the replica
    s3_client.put_object(Bucket=primary, Key=prefix + "a.jpg", Body=b"live, newer")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    before = all_versions(s3_client, primary, prefix)
    code, _ = restore("--bucket", primary, "--prefix", prefix, "--at", drill.at(1),
                      "--from-replica", "--replica-bucket", drill.bucket,
                      "--replica-region", "us-east-1")
    assert code == 2
    assert all_versions(s3_client, primary, prefix) == before


def test_from_replica_restores_the_primary_prefix_from_the_replica_history(
        drill, s3_client, prefix, other_bucket):
    primary = other_bucket  # the drill's bucket plays the replica
    s3_client.put_object(Bucket=primary, Key=prefix + "a.jpg", Body=b"lost")
    code, out = restore("--bucket", primary, "--prefix", prefix, "--at", drill.at(1),
                        "--from-replica", "--replica-bucket", drill.bucket,
                        "--replica-region", "us-east-1", "--yes")
    assert code == 0, out
    assert current_state(s3_client, primary, prefix) == drill.states[1]
