"""The restore tool's listing and planning rules, without a server (generated listings)."""
from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from tools.restore import cli
from tools.restore.listing import Entry, _record_order, key_states
from tools.restore.plan import (
    ABSENT,
    ARCHIVED,
    COPY,
    DELETE_MARKER,
    NEWER_KEPT,
    UNCHANGED,
    Decision,
    decide,
    plan,
)

T0 = dt.datetime(2026, 11, 20, 10, 0, 0, tzinfo=dt.UTC)


def t(seconds: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def version(key="k", vid="v1", at=0, size=3, storage_class="STANDARD") -> Entry:
    return Entry(key, vid, t(at), False, size=size, storage_class=storage_class)


def marker(key="k", vid="m1", at=0) -> Entry:
    return Entry(key, vid, t(at), True)


class FakeS3:
    """Just enough of a client for ``key_states``: pages as S3 would return them, with the
    element order the client hook records from the XML body."""

    def __init__(self, pages):
        self._pages = pages
        self.meta = type("Meta", (), {"events": type("Events", (), {
            "register": staticmethod(lambda *a, **k: None)})()})()

    def get_paginator(self, name):
        assert name == "list_object_versions"
        pages = self._pages
        return type("Paginator", (), {"paginate": staticmethod(lambda **kw: iter(pages))})()


def page(*entries: Entry) -> dict:
    out = {"Versions": [], "DeleteMarkers": [], "RestoreToolElementOrder": []}
    for e in entries:
        item = {"Key": e.key, "VersionId": e.version_id, "LastModified": e.last_modified}
        if e.is_delete_marker:
            out["DeleteMarkers"].append(item)
            out["RestoreToolElementOrder"].append("DeleteMarker")
        else:
            out["Versions"].append({**item, "Size": e.size, "StorageClass": e.storage_class})
            out["RestoreToolElementOrder"].append("Version")
    return out


# ------------------------------------------------------------------ the listing

def test_the_order_of_versions_and_markers_comes_from_the_xml_body():
    body = (b"<ListVersionsResult><Version><Key>k</Key><VersionId>3</VersionId></Version>"
            b"<DeleteMarker><Key>k</Key></DeleteMarker><Version><Key>k</Key></Version>"
            b"</ListVersionsResult>")
    parsed = {}
    _record_order(http_response=type("R", (), {"content": body})(), parsed=parsed)
    assert parsed["RestoreToolElementOrder"] == ["Version", "DeleteMarker", "Version"]


def test_a_marker_and_a_version_of_the_same_second_keep_the_servers_order():
    # Same second: only the body's order says the marker came after the version.
    s3 = FakeS3([page(marker("k", "m", 5), version("k", "v", 5), version("k", "old", 1))])
    (state,) = key_states(s3, "b", "", at=t(5))
    assert state.at_moment.is_delete_marker and state.latest.version_id == "m"


def test_the_moment_is_inclusive_at_one_second_resolution():
    s3 = FakeS3([page(version("k", "v2", 6), version("k", "v1", 5))])
    (state,) = key_states(s3, "b", "", at=t(5))
    assert state.at_moment.version_id == "v1"


def test_a_key_that_did_not_exist_yet_has_no_entry_at_the_moment():
    (state,) = key_states(FakeS3([page(version("k", "v", 9))]), "b", "", at=t(5))
    assert state.at_moment is None and state.versions == 1


def test_a_key_split_across_pages_is_one_state():
    s3 = FakeS3([page(version("a"), version("k", "v3", 9), version("k", "v2", 6)),
                 page(version("k", "v1", 2), version("z"))])
    states = list(key_states(s3, "b", "", at=t(3)))
    assert [(s.key, s.versions, s.at_moment.version_id) for s in states] == [
        ("a", 1, "v1"), ("k", 3, "v1"), ("z", 1, "v1")]


REPO = Path(__file__).resolve().parents[2]


def _generated_pages(keys: int, versions_per_key: int, page_size: int = 1000):
    """A listing generated page by page, never held whole."""
    entries = ((f"p/{k:07d}", v) for k in range(keys) for v in range(versions_per_key, 0, -1))
    while True:
        chunk = [version(f"{key}", f"v{v}", v) for key, v in
                 (next(entries, (None, None)) for _ in range(page_size)) if key is not None]
        if not chunk:
            return
        yield page(*chunk)


def _peak_of_planning(keys: int, versions: int) -> int:
    tracemalloc.start()
    try:
        states = key_states(FakeS3(_generated_pages(keys, versions)), "b", "p/", at=t(5))
        count = sum(1 for _ in plan(states, "p/", "p/", None, remove_newer=False))
        assert count == keys
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_listing_and_planning_memory_is_flat_from_1000_to_100000_versions():
    # Measured in a process of its own: tracemalloc counts every thread's allocations, and a
    # worker of the suite may be starting local servers in another thread meanwhile.
    code = ("from tests.unit.test_restore_plan import _peak_of_planning as peak; "
            "print(peak(100, 10), peak(10_000, 10))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, check=True)
    small, large = map(int, result.stdout.split())
    assert large < 1.25 * small, (small, large)


# ------------------------------------------------------------------ the decisions

@pytest.mark.parametrize(("target", "dest", "in_place", "remove", "expected"), [
    (version(vid="v1"), version(vid="v1"), True, False, UNCHANGED),
    (version(vid="v1"), version(vid="v2"), True, False, COPY),
    (version(vid="v1"), marker(), True, False, COPY),
    (version(vid="v1"), None, False, True, COPY),
    (version(vid="v1"), version(vid="v1"), False, True, COPY),  # other place: same id means nothing
    (version(vid="v1", storage_class="DEEP_ARCHIVE"), version(vid="v2"), True, False, ARCHIVED),
    (marker(), version(vid="v2"), True, False, NEWER_KEPT),
    (None, version(vid="v2"), True, False, NEWER_KEPT),
    (None, version(vid="v2"), True, True, DELETE_MARKER),
    (marker(), marker(vid="m2"), True, True, ABSENT),
    (None, None, False, True, ABSENT),
])
def test_decision_table(target, dest, in_place, remove, expected):
    assert decide("k", target, "k", dest, in_place=in_place, remove_extra=remove).action \
        == expected


def test_another_prefix_is_merge_joined_and_its_extra_keys_get_delete_markers():
    src = key_states(FakeS3([page(version("src/a", "va", 1), version("src/c", "vc", 1))]),
                     "b", "src/", at=t(5))
    dst = key_states(FakeS3([page(version("dst/a", "x", 1), version("dst/b", "y", 1))]),
                     "b", "dst/")
    decisions = [(d.action, d.dest_key) for d in
                 plan(src, "src/", "dst/", dst, remove_newer=False)]
    assert decisions == [(COPY, "dst/a"), (DELETE_MARKER, "dst/b"), (COPY, "dst/c")]


def test_from_the_replica_extra_primary_keys_are_kept_without_remove_newer():
    src = key_states(FakeS3([page(version("p/a", "va", 1))]), "r", "p/", at=t(5))
    dst = key_states(FakeS3([page(version("p/a", "x", 1), version("p/new", "y", 9))]), "b", "p/")
    actions = [d.action for d in plan(src, "p/", "p/", dst, remove_newer=False, exact=False)]
    assert actions == [COPY, NEWER_KEPT]


# ------------------------------------------------------------------ usage errors (exit 2)

@pytest.mark.parametrize("argv", [
    [],
    ["--bucket", "b-1", "--prefix", "p/"],
    ["--bucket", "b-1", "--prefix", "p/", "--at", "yesterday"],
    ["--bucket", "b-1", "--prefix", "p/", "--at", "2026-11-20T10:00:00"],  # no time zone
    ["--bucket", "B_1", "--prefix", "p/", "--at", "2026-11-20T10:00:00Z"],
    ["--bucket", "b-1", "--prefix", "p/", "--at", "2026-11-20T10:00:00Z", "--workers", "0"],
    ["--bucket", "b-1", "--prefix", "p/", "--at", "2026-11-20T10:00:00Z", "--to-prefix", "p/x/"],
    ["--bucket", "b-1", "--prefix", "p/x/", "--at", "2026-11-20T10:00:00Z", "--to-prefix", "p/"],
    ["--bucket", "b-1", "--prefix", "p/", "--at", "2026-11-20T10:00:00Z", "--from-replica",
     "--to-bucket", "b-2"],
    ["--bucket", "b-1", "--prefix", "p/", "--at", "2026-11-20T10:00:00Z",
     "--replica-bucket", "b-2"],
    # Above the cap: a pool and threads sized from millions of workers hang the run.
    ["--bucket", "b-1", "--prefix", "p/", "--at", "2026-11-20T10:00:00Z", "--workers", "257"],
    ["--bucket", "b-1", "--prefix", "p/", "--at", "2026-11-20T10:00:00Z", "--dry-run",
     "--workers", "5000000"],
    ["--bucket", "b-1", "--prefix", "p/", "--at", "2026-11-20T10:00:00Z", "--from-replica",
     "--replica-region", "bad region!"],
    ["--bucket", "b-1", "--prefix", "p/", "--at", "2026-11-20T10:00:00Z", "--batch-operations",
     "--batch-role-arn", "arn:aws:iam::111111111111:role/x", "--account-id", "not-an-account!"],
    ["--bucket", "b-1", "--prefix", "p/", "--at", "2026-11-20T10:00:00Z", "--batch-operations",
     "--batch-role-arn", "arn:aws:iam::111111111111:role/x", "--account-id", "12345678901"],
    ["--bucket", "b-1", "--prefix", "p/", "--at", "2026-11-20T10:00:00Z", "--batch-operations",
     "--batch-role-arn", "arn:aws:s3:::not-a-role", "--account-id", "111111111111"],
    ["--bucket", "b-1", "--prefix", "p/", "--at", "2026-11-20T10:00:00Z", "--batch-operations",
     "--batch-role-arn", "arn:aws:iam::1:role/x", "--account-id", "111111111111"],
    # A report that cannot be written: found before the restore, not after every copy.
    ["--bucket", "b-1", "--prefix", "p/", "--at", "2026-11-20T10:00:00Z",
     "--report", "/nonexistent-folder/restore.json"],
])
def test_usage_errors_exit_2_before_any_aws_call(argv, monkeypatch, capsys):
    monkeypatch.setattr(cli, "make_clients", lambda run: pytest.fail("AWS was called"))
    assert cli.main(argv, stdout=io.StringIO()) == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize("workers", ["1", "256"])
def test_workers_from_1_to_256_are_accepted(workers):
    args = cli.parser().parse_args(["--bucket", "b-1", "--prefix", "p/",
                                    "--at", "2026-11-20T10:00:00Z", "--workers", workers])
    assert args.workers == int(workers)


@pytest.mark.parametrize("value", ["2026-11-20T10:00:01.000Z", "2026-11-20T10:00:01Z",
                                   "Fri, 20 Nov 2026 10:00:01 GMT",
                                   "2026-11-20T11:00:01.250000+01:00", "1795168801"])
def test_s3_timestamps_parse_to_the_moment_botocore_gives(value):
    from botocore.utils import parse_timestamp
    moment = cli.s3_timestamp(value)
    assert moment == parse_timestamp(value) and moment.tzinfo is not None


@pytest.mark.parametrize(("storage_class", "size", "copied"), [
    ("STANDARD", 10, True), ("STANDARD_IA", 10, True), ("GLACIER_IR", 10, True),
    # may sit in an archive tier the listing does not show: the local run finds out
    ("INTELLIGENT_TIERING", 10, False),
    ("STANDARD", 5 * 1024 ** 3 + 1, False),  # above the job's copy limit
])
def test_the_batch_job_copies_only_what_it_can(storage_class, size, copied):
    decision = Decision(COPY, "k", "k", "v1", size, storage_class)
    assert cli.batch_can_copy(decision) is copied
