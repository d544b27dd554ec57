"""User-content erasure across two local buckets with versions (primary and replica)."""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import uuid

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from tools.erase import cli

ALICE = "arn-aws-iam-123456789012-user-alice-0123456789abcdef"
BOB = "arn-aws-iam-123456789012-user-bob-fedcba9876543210"


@pytest.fixture
def replica(second_bucket):
    return second_bucket


def _history(s3, bucket: str, user: str) -> None:
    """Versions, overwrites and delete markers under both of the user's prefixes."""
    for prefix in (f"user-content/uploads/{user}/", f"user-content/exports/{user}/"):
        s3.put_object(Bucket=bucket, Key=prefix + "tok/photo one.jpg", Body=b"v1")
        s3.put_object(Bucket=bucket, Key=prefix + "tok/photo one.jpg", Body=b"v2")
        s3.put_object(Bucket=bucket, Key=prefix + "tok/ünï+code.pdf", Body=b"doc")
        s3.delete_object(Bucket=bucket, Key=prefix + "tok/ünï+code.pdf")


def _entries(s3, bucket: str, prefix: str) -> int:
    page = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    return len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))


@pytest.fixture
def estate(s3_client, fresh_bucket, replica):
    for bucket in (fresh_bucket, replica):
        _history(s3_client, bucket, ALICE)
        _history(s3_client, bucket, BOB)
        s3_client.put_object(Bucket=bucket, Key=f"user-content/uploads/{ALICE}x/near.jpg",
                             Body=b"another user whose segment starts like alice's")
        s3_client.put_object(Bucket=bucket, Key="products/images/original/a.jpg", Body=b"p")
    return fresh_bucket, replica


def erase(*argv) -> tuple[int, str]:
    """The tool's run; a real one leaves the dedup index alone unless the test names a table
    (test_the_dedup_index_forgets_the_users_keys_and_only_those)."""
    out = io.StringIO()
    index = [] if "--dedup-table" in argv or "--dry-run" in argv or "--no-index-flag" in argv \
        else ["--skip-dedup-index"]
    argv = [a for a in argv if a != "--no-index-flag"]
    return cli.main([*argv, *index], stdout=out), out.getvalue()


def test_every_version_and_marker_of_the_user_goes_from_primary_and_replica(
        s3_client, estate, tmp_path):
    primary, replica = estate
    code, out = erase("--bucket", primary, "--replica-bucket", replica, "--replica-region",
                      "us-east-1", "--user", ALICE, "--audit-file", str(tmp_path / "audit"),
                      "--operator", "ops@example", "--yes")
    assert code == 0, out
    for bucket in (primary, replica):
        assert _entries(s3_client, bucket, f"user-content/uploads/{ALICE}/") == 0
        assert _entries(s3_client, bucket, f"user-content/exports/{ALICE}/") == 0
    # With --skip-dedup-index the run and its record say the index was not checked.
    assert "dedup index NOT checked" in out
    assert json.loads((tmp_path / "audit").read_text())["dedup_index"] == \
        "not checked (--skip-dedup-index)"


def test_the_replica_is_erased_before_the_primary(estate, tmp_path, monkeypatch):
    # Stopped half-way, a run leaves the primary's versions, never a replica-only one that a
    # reconciliation after a failback could take for an upload and send back.
    primary, replica = estate
    order = []
    real = cli.erase_prefix
    monkeypatch.setattr(cli, "erase_prefix", lambda client, bucket, prefix, **kw:
                        order.append(bucket) or real(client, bucket, prefix, **kw))
    code, out = erase("--bucket", primary, "--replica-bucket", replica, "--replica-region",
                      "us-east-1", "--user", ALICE, "--audit-file", str(tmp_path / "audit"),
                      "--operator", "ops@example", "--yes")
    assert code == 0, out
    assert order == [replica, replica, primary, primary]


def test_other_users_and_other_prefixes_are_untouched(s3_client, estate, tmp_path):
    primary, replica = estate
    before = {b: (_entries(s3_client, b, f"user-content/uploads/{BOB}/"),
                  _entries(s3_client, b, f"user-content/uploads/{ALICE}x/"),
                  _entries(s3_client, b, "products/")) for b in estate}
    erase("--bucket", primary, "--replica-bucket", replica, "--replica-region", "us-east-1",
          "--user", ALICE, "--audit-file", str(tmp_path / "audit"), "--operator", "ops", "--yes")
    after = {b: (_entries(s3_client, b, f"user-content/uploads/{BOB}/"),
                 _entries(s3_client, b, f"user-content/uploads/{ALICE}x/"),
                 _entries(s3_client, b, "products/")) for b in estate}
    assert after == before and before[primary] == (4, 1, 1)


def test_the_audit_record_has_who_when_and_counts_but_no_keys(s3_client, estate, tmp_path):
    primary, replica = estate
    audit, report = tmp_path / "audit.jsonl", tmp_path / "report.json"
    erase("--bucket", primary, "--replica-bucket", replica, "--replica-region", "us-east-1",
          "--user", ALICE, "--audit-file", str(audit), "--operator", "ops@example", "--yes",
          "--report", str(report))
    text = audit.read_text()
    (record,) = [json.loads(line) for line in text.splitlines()]
    assert json.loads(report.read_text()) == {**record, "errors": {}}
    assert record["operator"] == "ops@example" and record["started"] and record["finished"]
    assert [(loc["bucket"], loc["prefix_kind"], loc["versions"], loc["delete_markers"])
            for loc in record["locations"]] == [
        (primary, "uploads", 3, 1), (primary, "exports", 3, 1),
        (replica, "uploads", 3, 1), (replica, "exports", 3, 1)]
    assert "photo" not in text and ALICE not in text  # no keys, no readable user id


def test_an_audit_record_that_cannot_be_stored_is_printed_and_the_run_fails(
        s3_client, estate, tmp_path, monkeypatch, capsys):
    primary, replica = estate
    report = tmp_path / "report.json"

    def refused(*args, **kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")

    monkeypatch.setattr(cli, "write_audit", refused)
    code, out = erase("--bucket", primary, "--replica-bucket", replica, "--replica-region",
                      "us-east-1", "--user", ALICE, "--audit-file", str(tmp_path / "audit"),
                      "--operator", "ops@example", "--yes", "--report", str(report))
    assert code == 1
    assert "audit record was NOT written (AccessDenied)" in capsys.readouterr().err
    printed = json.loads(out.split("audit record (NOT stored): ", 1)[1])
    assert printed["operator"] == "ops@example" and len(printed["locations"]) == 4
    assert json.loads(report.read_text()) == {**printed, "errors": {}}  # the report is whole
    assert _entries(s3_client, primary, f"user-content/uploads/{ALICE}/") == 0  # it did erase


def _plain_bucket(s3) -> str:
    name = f"audit-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


def _locked_bucket(s3, default_mode: str | None) -> str:
    name = f"audit-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    if default_mode:
        s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": default_mode, "Days": 1}}})
    return name


def _erase_to(primary: str, replica: str, audit_bucket: str, *extra: str) -> tuple[int, str]:
    return erase("--bucket", primary, "--replica-bucket", replica, "--replica-region",
                 "us-east-1", "--user", ALICE, "--audit-bucket", audit_bucket,
                 "--operator", "ops", "--yes", *extra)


@pytest.mark.parametrize(("default_mode", "mode"), [("GOVERNANCE", "GOVERNANCE"),
                                                     (None, "COMPLIANCE")])
def test_the_audit_record_is_locked_for_the_retention_days_in_the_buckets_mode(
        s3_client, estate, default_mode, mode):
    primary, replica = estate
    audit_bucket = _locked_bucket(s3_client, default_mode)
    code, out = _erase_to(primary, replica, audit_bucket, "--audit-retain-days", "3")
    assert code == 0
    (item,) = s3_client.list_objects_v2(Bucket=audit_bucket, Prefix="audit/erasure/")["Contents"]
    assert item["Key"] in out
    head = s3_client.head_object(Bucket=audit_bucket, Key=item["Key"])
    finished = dt.datetime.fromisoformat(json.loads(s3_client.get_object(
        Bucket=audit_bucket, Key=item["Key"])["Body"].read())["finished"])
    assert head["ObjectLockMode"] == mode
    assert abs(head["ObjectLockRetainUntilDate"] - finished - dt.timedelta(days=3)) \
        < dt.timedelta(seconds=2)
    with pytest.raises(ClientError, match="AccessDenied"):
        s3_client.delete_object(Bucket=audit_bucket, Key=item["Key"],
                                VersionId=head["VersionId"])


def test_an_audit_bucket_without_object_lock_is_refused_before_anything_is_erased(
        s3_client, estate):
    primary, replica = estate
    plain = _plain_bucket(s3_client)
    code, _ = _erase_to(primary, replica, plain)
    assert code == 2
    assert _entries(s3_client, primary, f"user-content/uploads/{ALICE}/") == 4
    assert "Contents" not in s3_client.list_objects_v2(Bucket=plain)


def test_a_dry_run_is_refused_the_same_way_and_its_record_gets_no_extra_lock(s3_client,
                                                                              estate):
    primary, replica = estate
    code, _ = erase("--bucket", primary, "--replica-bucket", replica, "--replica-region",
                    "us-east-1", "--user", ALICE, "--audit-bucket", _plain_bucket(s3_client),
                    "--operator", "ops", "--dry-run")
    assert code == 2
    locked = _locked_bucket(s3_client, None)
    code, _ = erase("--bucket", primary, "--replica-bucket", replica, "--replica-region",
                    "us-east-1", "--user", ALICE, "--audit-bucket", locked,
                    "--operator", "ops", "--dry-run")
    assert code == 0
    (item,) = s3_client.list_objects_v2(Bucket=locked, Prefix="audit/erasure/")["Contents"]
    assert "ObjectLockMode" not in s3_client.head_object(Bucket=locked, Key=item["Key"])


def test_with_zero_retain_days_any_bucket_takes_the_audit_record(s3_client, estate):
    primary, replica = estate
    plain = _plain_bucket(s3_client)
    code, out = _erase_to(primary, replica, plain, "--audit-retain-days", "0")
    assert code == 0
    (item,) = s3_client.list_objects_v2(Bucket=plain, Prefix="audit/erasure/")["Contents"]
    assert item["Key"] in out


@pytest.mark.parametrize("days", ["-1", "1.5", "x", "36501"])
def test_retain_days_must_be_whole_days_within_s3s_limit(days, tmp_path, monkeypatch):
    monkeypatch.setattr(cli.boto3, "client", lambda *a, **k: pytest.fail("AWS was called"))
    code, _ = erase("--bucket", "justkalm-assets-dev", "--user", ALICE, "--audit-bucket",
                    "justkalm-backups-dev", "--audit-retain-days", days, "--yes")
    assert code == 2


def test_dry_run_counts_and_deletes_nothing(s3_client, estate, tmp_path):
    primary, replica = estate
    code, out = erase("--bucket", primary, "--replica-bucket", replica, "--replica-region",
                      "us-east-1", "--user", ALICE, "--audit-file", str(tmp_path / "a"),
                      "--operator", "ops", "--dry-run")
    assert code == 0 and "would erase" in out
    assert _entries(s3_client, primary, f"user-content/uploads/{ALICE}/") == 4


@pytest.mark.parametrize("segment", [
    "", "..", "../", "/", f"{ALICE}/..", f"{ALICE}/", f"../{BOB}", f"{BOB}/../{ALICE}", "*",
    "alice", f"{ALICE[:-1]}", f"{ALICE}0", "-0123456789abcdef", f"{ALICE} ",
    f"user-content/uploads/{ALICE}",
])
def test_anything_but_one_users_segment_is_refused_before_any_call(segment, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setattr(cli.boto3, "client", lambda *a, **k: pytest.fail("AWS was called"))
    code, _ = erase("--bucket", "justkalm-assets-dev", "--user", segment,
                    "--audit-file", str(tmp_path / "a"), "--yes")
    assert code == 2


def test_a_real_erasure_needs_yes(tmp_path, monkeypatch):
    monkeypatch.setattr(cli.boto3, "client", lambda *a, **k: pytest.fail("AWS was called"))
    code, _ = erase("--bucket", "justkalm-assets-dev", "--user", ALICE,
                    "--audit-file", str(tmp_path / "a"))
    assert code == 2


def test_an_audit_destination_is_required(monkeypatch, capsys):
    monkeypatch.setattr(cli.boto3, "client", lambda *a, **k: pytest.fail("AWS was called"))
    code, _ = erase("--bucket", "justkalm-assets-dev", "--user", ALICE, "--yes")
    assert code == 2
    assert "one of the arguments --audit-bucket --audit-file is required" in capsys.readouterr().err


def test_a_replica_that_does_not_answer_stops_the_run_before_anything_is_erased(
        s3_client, estate, tmp_path):
    primary, _ = estate
    code, out = erase("--bucket", primary, "--replica-bucket", "no-such-replica-bucket-x1",
                      "--replica-region", "us-east-1", "--user", ALICE,
                      "--audit-file", str(tmp_path / "audit"), "--operator", "ops", "--yes")
    assert code == 2 and not (tmp_path / "audit").exists()
    assert _entries(s3_client, primary, f"user-content/uploads/{ALICE}/") == 4


@pytest.mark.parametrize("unwritable", ["--audit-file", "--report"])
def test_an_output_file_that_cannot_be_written_stops_the_run_before_anything_is_erased(
        s3_client, estate, tmp_path, capsys, unwritable):
    primary, replica = estate
    paths = {"--audit-file": tmp_path / "audit.jsonl", "--report": tmp_path / "report.json",
             unwritable: tmp_path / "no-such-folder" / "out"}
    code, out = erase("--bucket", primary, "--replica-bucket", replica, "--replica-region",
                      "us-east-1", "--user", ALICE, "--operator", "ops", "--yes",
                      *(str(arg) for flag, path in paths.items() for arg in (flag, path)))
    err = capsys.readouterr().err
    assert code == 2 and out == ""
    assert f"cannot write {unwritable}" in err and "Traceback" not in err
    for bucket in (primary, replica):
        assert _entries(s3_client, bucket, f"user-content/uploads/{ALICE}/") == 4
        assert _entries(s3_client, bucket, f"user-content/exports/{ALICE}/") == 4
    assert sorted(tmp_path.iterdir()) == [], "no output of a run that never started is left"


def test_an_audit_file_that_is_a_folder_is_refused_before_anything_is_erased(
        s3_client, estate, tmp_path):
    primary, replica = estate
    code, _ = erase("--bucket", primary, "--replica-bucket", replica, "--replica-region",
                    "us-east-1", "--user", ALICE, "--audit-file", str(tmp_path),
                    "--operator", "ops", "--yes")
    assert code == 2
    assert _entries(s3_client, primary, f"user-content/uploads/{ALICE}/") == 4


def test_a_report_on_the_audit_file_is_refused_before_it_could_overwrite_the_log(
        s3_client, estate, tmp_path):
    primary, replica = estate
    audit = tmp_path / "audit.jsonl"
    audit.write_text('{"event": "an earlier erasure"}\n')
    code, _ = erase("--bucket", primary, "--replica-bucket", replica, "--replica-region",
                    "us-east-1", "--user", ALICE, "--audit-file", str(audit),
                    "--report", str(tmp_path / "." / "audit.jsonl"), "--operator", "ops", "--yes")
    assert code == 2
    assert audit.read_text() == '{"event": "an earlier erasure"}\n'
    assert _entries(s3_client, primary, f"user-content/uploads/{ALICE}/") == 4


@pytest.mark.parametrize("flag", ["--replica-region", "--audit-region"])
@pytest.mark.parametrize("name", ["bad region!", "", "US-EAST-1", "us-east"])
def test_a_region_that_is_not_a_region_code_is_refused_before_any_call(
        flag, name, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli.boto3, "client", lambda *a, **k: pytest.fail("AWS was called"))
    code, _ = erase("--bucket", "justkalm-assets-dev", "--user", ALICE, "--audit-bucket",
                    "justkalm-backups-dev", flag, name, "--operator", "ops", "--yes")
    err = capsys.readouterr().err
    assert code == 2
    assert "is not an AWS Region" in err and "Traceback" not in err


def test_an_s3_error_in_one_location_is_counted_and_the_others_still_erased():
    from botocore.exceptions import ClientError

    class Refusing:  # lists one version, then refuses to delete it
        def get_paginator(self, _):
            return self

        def paginate(self, **kw):
            yield {"Versions": [{"Key": kw["Prefix"] + "a.jpg", "VersionId": "v1", "Size": 3}]}

        def delete_objects(self, **_):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}},
                              "DeleteObjects")

    tally = cli.erase_prefix(Refusing(), "b", f"user-content/uploads/{ALICE}/", dry_run=False)
    assert tally.failed == 1 and tally.errors[0].startswith("AccessDenied")
    assert (tally.versions, tally.bytes) == (0, 0)  # nothing was erased


class _RefusesOne:
    """Holds versions; each DeleteObjects refuses its first object (a per-object error) and
    deletes the rest."""

    def __init__(self, *versions: dict) -> None:
        self.versions = list(versions)

    def get_paginator(self, _):
        return self

    def paginate(self, **kw):
        yield {"Versions": [v for v in self.versions if v["Key"].startswith(kw["Prefix"])]}

    def delete_objects(self, **kw):
        refused, *deleted = kw["Delete"]["Objects"]
        gone = {o["VersionId"] for o in deleted}
        self.versions = [v for v in self.versions if v["VersionId"] not in gone]
        return {"Errors": [{**refused, "Code": "AccessDenied", "Message": "no"}]}


def _two_uploads() -> _RefusesOne:
    prefix = f"user-content/uploads/{ALICE}/"
    return _RefusesOne({"Key": prefix + "a.jpg", "VersionId": "v1", "Size": 3},
                       {"Key": prefix + "b.jpg", "VersionId": "v2", "Size": 5})


def test_a_version_s3_refuses_to_delete_is_failed_and_never_counted_erased():
    tally = cli.erase_prefix(_two_uploads(), "b", f"user-content/uploads/{ALICE}/",
                             dry_run=False)
    assert (tally.versions, tally.bytes, tally.failed) == (1, 5, 1)


class _AppliesThenTimesOut(_RefusesOne):
    """Deletes everything it is asked to, then the answer is lost (a read timeout)."""

    def delete_objects(self, **kw):
        gone = {o["VersionId"] for o in kw["Delete"]["Objects"]}
        self.versions = [v for v in self.versions if v["VersionId"] not in gone]
        raise ReadTimeoutError(endpoint_url="https://s3.example")


def test_a_delete_s3_applied_before_its_answer_was_lost_is_counted_erased():
    args = argparse.Namespace(dry_run=False, user=ALICE, bucket="b")
    store = _AppliesThenTimesOut(*_two_uploads().versions)
    uploads, *_ = cli._erase(args, store, _RefusesOne(), "r")
    assert (uploads.versions, uploads.bytes, uploads.failed) == (2, 8, 0)


def test_the_check_of_what_remains_counts_a_refused_version_once():
    args = argparse.Namespace(dry_run=False, user=ALICE, bucket="b")
    uploads, *others = cli._erase(args, _two_uploads(), _RefusesOne(), "r")
    assert (uploads.versions, uploads.failed) == (1, 1)  # refused, then found again: once
    assert uploads.errors == ["AccessDenied", "1 versions remain after erasure (rerun)"]
    assert [t.failed for t in others] == [0, 0, 0]


def test_without_credentials_the_run_stops_in_one_line_before_anything(tmp_path, monkeypatch,
                                                                      capsys):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(cli.boto3, "DEFAULT_SESSION", None)
    code, _ = erase("--bucket", "justkalm-assets-dev", "--replica-region", "us-east-1",
                    "--user", ALICE, "--audit-file", str(tmp_path / "audit"), "--yes")
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "nothing was erased" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "audit").exists()


class _ConnectionLostAfterFirstPage:
    """A client whose listing yields one page and then loses the connection."""

    def get_paginator(self, _name):
        return self

    def paginate(self, **_):
        from botocore.exceptions import EndpointConnectionError
        yield {"Versions": [{"Key": f"user-content/uploads/{ALICE}/a.jpg", "VersionId": "v1",
                             "Size": 3}]}
        raise EndpointConnectionError(endpoint_url="https://s3.us-east-1.amazonaws.com")

    def delete_objects(self, **_):
        return {}


def test_a_connection_lost_half_way_is_a_counted_failure_of_that_location():
    prefix = f"user-content/uploads/{ALICE}/"
    tally = cli.erase_prefix(_ConnectionLostAfterFirstPage(), "b", prefix, dry_run=False)
    assert (tally.versions, tally.failed) == (1, 1)
    assert tally.errors == ["EndpointConnectionError: stopped after 1 versions and 0 markers "
                            "(rerun)"]


def test_without_an_operator_an_unknown_caller_stops_the_run_naming_the_flag(monkeypatch):
    from botocore.exceptions import NoCredentialsError

    class NoIdentity:
        def get_caller_identity(self):
            raise NoCredentialsError()

    monkeypatch.setattr(cli.boto3, "client", lambda *a, **k: NoIdentity())
    with pytest.raises(cli.UsageError, match="pass --operator; nothing was erased"):
        cli._caller_arn()


def _index(dynamodb_client, table: str, key: str) -> str:
    sha256 = uuid.uuid4().hex * 2  # 64 hex digits, as the hasher writes
    dynamodb_client.put_item(TableName=table, Item={
        "sha256": {"S": sha256}, "key": {"S": key}, "version_id": {"S": "v1"},
        "size": {"N": "2"}, "first_seen": {"S": "2026-12-01T00:00:00+00:00"}})
    return sha256


def test_the_dedup_index_forgets_the_users_keys_and_only_those(
        s3_client, dynamodb_client, dedup_table, estate, tmp_path):
    # The index names each canonical copy by key, and the key holds the file name.
    primary, replica = estate
    alice = [_index(dynamodb_client, dedup_table, f"user-content/{kind}/{ALICE}/tok/cv.pdf")
             for kind in ("uploads", "exports")]
    kept = [_index(dynamodb_client, dedup_table, key) for key in (
        f"user-content/uploads/{BOB}/tok/cv.pdf", f"user-content/uploads/{ALICE}x/near.jpg",
        "products/images/original/a.jpg")]
    argv = ["--bucket", primary, "--replica-bucket", replica, "--replica-region", "us-east-1",
            "--user", ALICE, "--audit-file", str(tmp_path / "audit"), "--operator", "ops",
            "--dedup-table", dedup_table]

    def present() -> set[str]:
        items = dynamodb_client.scan(TableName=dedup_table)["Items"]
        return {i["sha256"]["S"] for i in items}

    code, out = erase(*argv, "--dry-run")
    assert code == 0 and "would erase 2 dedup index entries" in out
    assert present() == set(alice + kept)
    code, out = erase(*argv, "--yes")
    assert code == 0 and "erased 2 dedup index entries" in out
    assert present() == set(kept)
    record = json.loads((tmp_path / "audit").read_text().splitlines()[-1])
    assert record["dedup_index"] == {"table": dedup_table, "entries": 2, "failed": False}


def test_a_listing_wider_than_the_prefix_is_a_failed_location_not_a_crash():
    class Wide:
        def get_paginator(self, _name):
            class Pages:
                def paginate(self, **_):
                    yield {"Versions": [{"Key": "user-content/uploads/other/x", "VersionId": "v"}]}
            return Pages()

        def delete_objects(self, **_):
            pytest.fail("deleted from a listing wider than the prefix")

    tally = cli.erase_prefix(Wide(), "b", f"user-content/uploads/{ALICE}/", dry_run=False)
    assert tally.failed == 1 and tally.errors[0].startswith("WiderListing")


def test_the_report_locates_errors_without_the_users_segment(s3_client, estate, tmp_path,
                                                             monkeypatch):
    # The record keeps the user only as a hash; the report is the record plus errors.
    primary, replica = estate
    report = tmp_path / "report.json"
    real = cli._erase_pages

    def cut_off(s3, tally, *, dry_run):
        if tally.bucket == replica and "/uploads/" in tally.prefix:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": f"{tally.prefix} x"}},
                              "ListObjectVersions")
        return real(s3, tally, dry_run=dry_run)

    monkeypatch.setattr(cli, "_erase_pages", cut_off)
    code, _ = erase("--bucket", primary, "--replica-bucket", replica, "--replica-region",
                    "us-east-1", "--user", ALICE, "--audit-file", str(tmp_path / "audit"),
                    "--operator", "ops", "--yes", "--report", str(report))
    assert code == 1
    written = report.read_text()
    assert ALICE not in written
    assert list(json.loads(written)["errors"]) == [f"{replica}/uploads"]


def test_a_real_erasure_must_name_the_dedup_index_or_skip_it_on_purpose(s3_client, estate,
                                                                       tmp_path, capsys):
    primary, replica = estate
    code, _ = erase("--bucket", primary, "--replica-bucket", replica, "--replica-region",
                    "us-east-1", "--user", ALICE, "--audit-file", str(tmp_path / "audit"),
                    "--operator", "ops", "--yes", "--no-index-flag")
    assert code == 2 and "--skip-dedup-index" in capsys.readouterr().err
    assert _entries(s3_client, primary, f"user-content/uploads/{ALICE}/") > 0
    assert not (tmp_path / "audit").exists()
