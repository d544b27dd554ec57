"""The Batch Operations path against the local S3 server: the manifest the tool uploads is
compared with the real version listing; S3 Control (absent locally) is botocore's Stubber."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import time
import uuid

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import ANY, Stubber

from tools.restore import batch, cli

PREFIX = "brands/media/"
KEYS = ["clip one.mp4", "ünï+code.mp4", "plain.mp4", "kept.mp4", "gone.mp4"]
ROLE = "arn:aws:iam::123456789012:role/justkalm-assets-dev-restore"


def _versions_at(s3, bucket: str, at: dt.datetime) -> dict[str, tuple[str, bool]]:
    """key → (version id current at ``at``, is it a delete marker), from a plain listing."""
    entries = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=PREFIX):
        entries += [(v["Key"], v["VersionId"], v["LastModified"], v["IsLatest"], False)
                    for v in page.get("Versions", [])]
        entries += [(m["Key"], m["VersionId"], m["LastModified"], m["IsLatest"], True)
                    for m in page.get("DeleteMarkers", [])]
    at_moment, latest = {}, {}
    for key, vid, modified, is_latest, marker in entries:
        if is_latest:
            latest[key] = vid
        if modified <= at and (key not in at_moment or modified > at_moment[key][2]):
            at_moment[key] = (vid, marker, modified)
    return {k: v[:2] for k, v in at_moment.items() if latest[k] != v[0]}


def _put(*keys: str, body: bytes | None = None, tags: dict[str, str | None] | None = None):
    """A phase's writes: each key with its own name as bytes (or ``body``), tagged with its
    scan verdict if ``tags`` names one."""
    def write(s3, bucket: str) -> None:
        for key in keys:
            verdict = (tags or {}).get(key)
            s3.put_object(Bucket=bucket, Key=PREFIX + key, Body=key.encode() if body is None
                          else body, **({"Tagging": f"GuardDutyMalwareScanStatus={verdict}"}
                                        if verdict else {}))
    return write


def _delete(*keys: str):
    def write(s3, bucket: str) -> None:
        for key in keys:
            s3.delete_object(Bucket=bucket, Key=PREFIX + key)
    return write


def _then(*writes):
    def write(s3, bucket: str) -> None:
        for each in writes:
            each(s3, bucket)
    return write


VERDICTS = {"clip one.mp4": "NO_THREATS_FOUND", "plain.mp4": "THREATS_FOUND", "kept.mp4": None}
# a.mp4 overwritten after the moment: a restore to it has one copy to do; b.mp4 is unchanged.
_A_OVERWRITTEN = (_put("b.mp4", "a.mp4"), _put("a.mp4", body=b"bad"))
# Each test's bucket: (writes before the moment, writes after it).
STAGED = {
    # three overwritten, one deleted, "kept.mp4" unchanged
    "manifest": (_put(*KEYS), _then(_put(*KEYS[:3], body=b"bad"), _delete("gone.mp4"))),
    "above-threshold": (_put(*KEYS[:3]), _put(*KEYS[:3], body=b"bad")),
    "above-threshold-to-prefix": (_put(*KEYS[:3]), _put(*KEYS[:3], body=b"bad")),
    "under-the-gate": (_put(*VERDICTS, tags=VERDICTS), _put(*VERDICTS, body=b"bad")),
    **{name: _A_OVERWRITTEN for name in ("rerun", "overlap", "refused-job", "another-bucket",
                                          "unversioned-destination",
                                          "botocore-failure")},
}


@pytest.fixture(scope="module")
def moment(s3_client, new_versioned_bucket) -> dict[str, tuple[str, dt.datetime]]:
    """Test name → (its bucket, the moment its restore goes back to). S3 lists LastModified
    to the second, so a restore's moment must lie a second before the writes it undoes: every
    test's bucket is written before one shared moment and after it, so the module waits for
    the clock once instead of once per test."""
    buckets = {name: new_versioned_bucket() for name in STAGED}
    for name, (before, _) in STAGED.items():
        before(s3_client, buckets[name])
    at = max(version["LastModified"] for bucket in buckets.values()
             for version in s3_client.list_object_versions(Bucket=bucket)["Versions"])
    time.sleep(max(0.0, (at + dt.timedelta(seconds=1)
                         - dt.datetime.now(dt.UTC)).total_seconds()) + 0.02)
    for name, (_, after) in STAGED.items():
        after(s3_client, buckets[name])
    return {name: (bucket, at) for name, bucket in buckets.items()}


def _staged(moment, name: str) -> tuple[str, str]:
    """The test's bucket and its moment as the CLI takes it."""
    bucket, at = moment[name]
    return bucket, at.astimezone(dt.UTC).isoformat()


@pytest.fixture
def stubbed_control(monkeypatch):
    control = boto3.client("s3control", region_name="us-east-1", aws_access_key_id="x",
                           aws_secret_access_key="x")
    real_client = boto3.client
    monkeypatch.setattr(cli.boto3, "client", lambda service, *a, **k: control
                        if service == "s3control" else real_client(service, *a, **k))
    with Stubber(control) as stub:
        yield stub


class _Sent:
    """Matches anything in a stubbed request and keeps what was sent."""

    value = None

    def __eq__(self, other) -> bool:
        self.value = other
        return True


def _listed_jobs(stubbed_control, *jobs: dict) -> None:
    """S3 Control's answer to the check for unfinished jobs of the same restore."""
    stubbed_control.add_response("list_jobs", {"Jobs": list(jobs)}, {
        "AccountId": "123456789012", "JobStatuses": batch.UNFINISHED_JOB_STATUSES,
        "MaxResults": 1000})


def _run_batch_restore(stubbed_control, bucket: str, at_text: str, role: str,
                       job_id: str, s3_client, *, checks_jobs: bool = True
                       ) -> tuple[bytes, str, str]:
    """The restore with Batch Operations (the job creation stubbed): its manifest's bytes,
    what it printed, and the job's idempotency token, checked to be the arguments' and the
    manifest's. ``checks_jobs``: a new plan first looks for an unfinished job (none here)."""
    token = _Sent()
    if checks_jobs:
        _listed_jobs(stubbed_control)
    stubbed_control.add_response("create_job", {"JobId": job_id}, {
        "AccountId": "123456789012", "ConfirmationRequired": False, "Operation": ANY,
        "Manifest": ANY, "Report": ANY, "Priority": 10, "RoleArn": role,
        "ClientRequestToken": token, "Description": ANY})
    out = io.StringIO()
    code = cli.main(["--bucket", bucket, "--prefix", PREFIX, "--at", at_text, "--yes",
                     "--batch-operations", "--batch-role-arn", role,
                     "--account-id", "123456789012"], stdout=out)
    assert code == 0, out.getvalue()
    manifest = s3_client.get_object(Bucket=bucket,
                                    Key=f"restore-jobs/{token.value}/manifest.csv")["Body"].read()
    assert token.value == batch.run_token(bucket, PREFIX, at_text, bucket,
                                          hashlib.sha256(manifest).hexdigest())
    return manifest, out.getvalue(), token.value


def test_the_manifest_lists_exactly_the_versions_the_restore_needs(s3_client, moment,
                                                                   stubbed_control):
    bucket, at_text = _staged(moment, "manifest")
    at = moment["manifest"][1]
    role = "arn:aws:iam::123456789012:role/justkalm-assets-dev-restore"
    manifest, printed, _ = _run_batch_restore(stubbed_control, bucket, at_text, role,
                                              "job-42", s3_client)
    expected = {(bucket, k, vid) for k, (vid, marker) in
                _versions_at(s3_client, bucket, at).items() if not marker}
    assert set(batch.parse_manifest(manifest.decode())) == expected
    assert len(expected) == 4  # three overwritten, one deleted; "kept.mp4" is unchanged
    assert "job-42" in printed and "describe-job" in printed
    # Nothing was copied from this machine: the job does it.
    assert s3_client.get_object(Bucket=bucket, Key=PREFIX + "plain.mp4")["Body"].read() \
        == b"bad"


def test_a_rerun_gets_the_same_job_unless_more_keys_need_copies(s3_client, moment,
                                                               stubbed_control):
    bucket, at_text = _staged(moment, "rerun")  # b.mp4 is as it was then
    first_manifest, _, first = _run_batch_restore(stubbed_control, bucket, at_text, ROLE,
                                                  "job-1", s3_client)
    _, _, again = _run_batch_restore(stubbed_control, bucket, at_text, ROLE, "job-1",
                                     s3_client, checks_jobs=False)
    assert again == first  # nothing changed: S3 Control answers with the first job
    s3_client.put_object(Bucket=bucket, Key=PREFIX + "b.mp4", Body=b"bad as well")
    manifest, _, later = _run_batch_restore(stubbed_control, bucket, at_text, ROLE,
                                            "job-2", s3_client)
    # The first job does not hold b.mp4, and this run leaves it to a job: a new one.
    assert later != first
    assert PREFIX + "b.mp4" in {k for _, k, _ in batch.parse_manifest(manifest.decode())}
    assert PREFIX + "b.mp4" not in {k for _, k, _ in batch.parse_manifest(first_manifest.decode())}


def test_a_rerun_while_the_first_job_still_copies_starts_no_second_job(
        s3_client, moment, stubbed_control, capsys):
    bucket, at_text = _staged(moment, "overlap")
    _, _, first = _run_batch_restore(stubbed_control, bucket, at_text, ROLE, "job-1", s3_client)
    s3_client.put_object(Bucket=bucket, Key=PREFIX + "b.mp4", Body=b"bad as well")
    # The job has not reached every key: the rerun's plan differs, and so would its job.
    head = f"restore {bucket}/{PREFIX} to {at_text} ("
    _listed_jobs(stubbed_control,
                 {"JobId": "job-1", "Status": "Active", "Description": f"{head}1 versions)"},
                 {"JobId": "job-9", "Status": "Active",
                  "Description": f"restore {bucket}/brands/ to {at_text} (7 versions)"})
    # The same moment, typed with another offset: the same restore.
    same_moment = dt.datetime.fromisoformat(at_text).astimezone(
        dt.timezone(dt.timedelta(hours=1))).isoformat()
    argv = ["--bucket", bucket, "--prefix", PREFIX, "--at", same_moment, "--yes",
            "--batch-operations", "--batch-role-arn", ROLE, "--account-id", "123456789012"]
    assert cli.main(argv, stdout=io.StringIO()) == 1
    err = capsys.readouterr().err
    assert "job-1 (Active)" in err and "job-9" not in err and "nothing was changed" in err
    assert _uploaded(s3_client, bucket) == [f"restore-jobs/{first}/manifest.csv"]
    assert s3_client.get_object(Bucket=bucket, Key=PREFIX + "b.mp4")["Body"].read() \
        == b"bad as well"  # nor copied from here
    # Once that job has finished, the same rerun gets a job of its own.
    _, _, later = _run_batch_restore(stubbed_control, bucket, at_text, ROLE, "job-2", s3_client)
    assert later != first


def test_a_refused_job_is_a_clear_error_with_exit_code_1(moment, stubbed_control, capsys,
                                                         tmp_path):
    bucket, at = _staged(moment, "refused-job")
    _listed_jobs(stubbed_control)
    stubbed_control.add_client_error("create_job", service_error_code="IdempotencyException",
                                     service_message="token reused", http_status_code=409)
    report = tmp_path / "report.json"
    code = cli.main(["--bucket", bucket, "--prefix", PREFIX, "--at", at, "--yes",
                     "--batch-operations", "--batch-role-arn", ROLE,
                     "--account-id", "123456789012", "--report", str(report)],
                    stdout=io.StringIO())
    assert code == 1
    assert "IdempotencyException" in capsys.readouterr().err
    written = json.loads(report.read_text())  # whole JSON, saying nothing was done
    assert written["keys"] == [] and written["summary"]["outcomes"] == {}
    assert "IdempotencyException" in written["summary"]["error"]


def _unversioned_bucket(s3_client) -> str:
    name = f"test-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name)
    return name


def test_another_bucket_is_never_restored_by_the_batch_role(s3_client, moment, second_bucket,
                                                           monkeypatch, capsys):
    # The Recovery stack's Batch role may read and write the assets bucket only.
    monkeypatch.setattr(cli.boto3, "client", _no_control(cli.boto3.client))
    bucket, at = _staged(moment, "another-bucket")
    code = cli.main(["--bucket", bucket, "--prefix", PREFIX, "--at", at, "--yes",
                     "--to-bucket", second_bucket, "--batch-operations",
                     "--batch-role-arn", ROLE, "--account-id", "123456789012"],
                    stdout=io.StringIO())
    assert code == 2 and "only restore within its own bucket" in capsys.readouterr().err
    assert _uploaded(s3_client, second_bucket) == []


def test_a_destination_without_versioning_is_refused_before_anything(s3_client, moment,
                                                                    monkeypatch, capsys):
    # Unversioned, a copy would replace for good and a removal delete for good.
    monkeypatch.setattr(cli.boto3, "client", _no_control(cli.boto3.client))
    bucket, at = _staged(moment, "unversioned-destination")
    target = _unversioned_bucket(s3_client)
    code = cli.main(["--bucket", bucket, "--prefix", PREFIX, "--at", at, "--yes",
                     "--to-bucket", target], stdout=io.StringIO())
    assert code == 2 and "does not have versioning enabled" in capsys.readouterr().err
    assert "Contents" not in s3_client.list_objects_v2(Bucket=target)


@pytest.mark.parametrize(("staged", "extra"), [
    ("above-threshold", []),
    ("above-threshold-to-prefix", ["--to-prefix", "brands/restored/"])])
def test_above_the_threshold_without_a_usable_job_the_copies_run_from_here(
        s3_client, moment, monkeypatch, staged, extra):
    # No role, or another prefix: Batch Operations cannot be used, so the automatic switch
    # must not turn a large plan (here: above a threshold of 1) into a usage error.
    monkeypatch.setattr(cli.boto3, "client", _no_control(cli.boto3.client))
    bucket, at = _staged(moment, staged)
    argv = ["--bucket", bucket, "--prefix", PREFIX, "--at", at, "--batch-threshold", "1",
            *extra]
    out = io.StringIO()
    assert cli.main([*argv, "--dry-run"], stdout=out) == 0, out.getvalue()
    assert "above --batch-threshold, run from this machine" in out.getvalue()
    out = io.StringIO()
    assert cli.main([*argv, "--yes"], stdout=out) == 0, out.getvalue()
    restored = (extra[1] if extra else PREFIX) + "plain.mp4"
    assert s3_client.get_object(Bucket=bucket, Key=restored)["Body"].read() == b"plain.mp4"


def _no_control(real_client):
    def client(service, *args, **kwargs):
        if service in ("s3control", "sts"):
            pytest.fail(f"{service} was called: no Batch Operations job was possible")
        return real_client(service, *args, **kwargs)
    return client


def _uploaded(s3_client, bucket: str) -> list[str]:
    listing = s3_client.list_objects_v2(Bucket=bucket, Prefix="restore-jobs/")
    return [item["Key"] for item in listing.get("Contents", [])]


def test_a_job_that_fails_inside_botocore_is_one_line_with_exit_code_1(moment, monkeypatch,
                                                                       capsys):
    # Not every late failure is a ClientError: no credentials, an endpoint that cannot be
    # resolved or reached are BotoCoreErrors, and must not end the run with a traceback.
    class Unreachable:
        def list_jobs(self, **request):
            return {"Jobs": []}

        def create_job(self, **request):
            raise EndpointConnectionError(endpoint_url="https://s3-control.example")

    real_client = cli.boto3.client
    monkeypatch.setattr(cli.boto3, "client", lambda service, *a, **k: Unreachable()
                        if service == "s3control" else real_client(service, *a, **k))
    bucket, at = _staged(moment, "botocore-failure")
    code = cli.main(["--bucket", bucket, "--prefix", PREFIX, "--at", at, "--yes",
                     "--batch-operations", "--batch-role-arn", ROLE,
                     "--account-id", "123456789012"], stdout=io.StringIO())
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "job was not created" in err and "s3-control.example" in err
    assert len(err.strip().splitlines()) == 1


def test_under_the_gate_the_job_copies_only_versions_scanned_clean(
        s3_client, moment, stubbed_control, monkeypatch):
    # The job's role is exempt from none of the gate's denies: a version not tagged clean is
    # left to the local run (refused there by the same denies on AWS; the local store has no
    # bucket policy, so here it is copied, which shows it was not in the job).
    monkeypatch.setattr(batch, "gated_prefixes_of", lambda bucket: ("brands/",))
    bucket, at_text = _staged(moment, "under-the-gate")
    at = moment["under-the-gate"][1]
    manifest, _, _ = _run_batch_restore(stubbed_control, bucket, at_text, ROLE, "job-7",
                                     s3_client)
    versions = _versions_at(s3_client, bucket, at)
    assert batch.parse_manifest(manifest.decode()) == [
        (bucket, PREFIX + "clip one.mp4", versions[PREFIX + "clip one.mp4"][0])]
    body = {k: s3_client.get_object(Bucket=bucket, Key=PREFIX + k)["Body"].read()
            for k in VERDICTS}
    assert body == {"clip one.mp4": b"bad", "plain.mp4": b"plain.mp4", "kept.mp4": b"kept.mp4"}


def test_the_gated_prefixes_are_those_of_the_environment_owning_the_bucket():
    from infra.environments import ENVIRONMENTS

    prod, dev = ENVIRONMENTS["prod"](), ENVIRONMENTS["dev"]()
    assert batch.gated_prefixes_of(prod.assets_bucket_name) == prod.upload_gate.gated_prefixes
    assert prod.upload_gate.gated_prefixes  # the gate is on in prod
    assert batch.gated_prefixes_of(dev.assets_bucket_name) == ()  # off in dev
    assert batch.gated_prefixes_of("someone-elses-bucket") == ()
