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


def _run_batch_restore(stubbed_control, fresh_bucket: str, at_text: str, role: str,
                       job_id: str, s3_client) -> tuple[bytes, str, str]:
    """The restore with Batch Operations (the job creation stubbed): its manifest's bytes,
    what it printed, and the job's idempotency token, checked to be the arguments' and the
    manifest's."""
    token = _Sent()
    stubbed_control.add_response("create_job", {"JobId": job_id}, {
        "AccountId": "123456789012", "ConfirmationRequired": False, "Operation": ANY,
        "Manifest": ANY, "Report": ANY, "Priority": 10, "RoleArn": role,
        "ClientRequestToken": token, "Description": ANY})
    out = io.StringIO()
    code = cli.main(["--bucket", fresh_bucket, "--prefix", PREFIX, "--at", at_text, "--yes",
                     "--batch-operations", "--batch-role-arn", role,
                     "--account-id", "123456789012"], stdout=out)
    assert code == 0, out.getvalue()
    manifest = s3_client.get_object(Bucket=fresh_bucket,
                                    Key=f"restore-jobs/{token.value}/manifest.csv")["Body"].read()
    assert token.value == batch.run_token(fresh_bucket, PREFIX, at_text, fresh_bucket,
                                          hashlib.sha256(manifest).hexdigest())
    return manifest, out.getvalue(), token.value


def test_the_manifest_lists_exactly_the_versions_the_restore_needs(s3_client, fresh_bucket,
                                                                   stubbed_control):
    for key in KEYS:
        s3_client.put_object(Bucket=fresh_bucket, Key=PREFIX + key, Body=key.encode())
    at = s3_client.head_object(Bucket=fresh_bucket, Key=PREFIX + KEYS[-1])["LastModified"]
    time.sleep(max(0.0, (at + dt.timedelta(seconds=1)
                         - dt.datetime.now(dt.UTC)).total_seconds()) + 0.02)
    for key in KEYS[:3]:
        s3_client.put_object(Bucket=fresh_bucket, Key=PREFIX + key, Body=b"bad")
    s3_client.delete_object(Bucket=fresh_bucket, Key=PREFIX + "gone.mp4")
    at_text = at.astimezone(dt.UTC).isoformat()
    role = "arn:aws:iam::123456789012:role/justkalm-assets-dev-restore"
    manifest, printed, _ = _run_batch_restore(stubbed_control, fresh_bucket, at_text, role,
                                              "job-42", s3_client)
    expected = {(fresh_bucket, k, vid) for k, (vid, marker) in
                _versions_at(s3_client, fresh_bucket, at).items() if not marker}
    assert set(batch.parse_manifest(manifest.decode())) == expected
    assert len(expected) == 4  # three overwritten, one deleted; "kept.mp4" is unchanged
    assert "job-42" in printed and "describe-job" in printed
    # Nothing was copied from this machine: the job does it.
    assert s3_client.get_object(Bucket=fresh_bucket, Key=PREFIX + "plain.mp4")["Body"].read() \
        == b"bad"


def test_a_rerun_gets_the_same_job_unless_more_keys_need_copies(s3_client, fresh_bucket,
                                                               stubbed_control):
    s3_client.put_object(Bucket=fresh_bucket, Key=PREFIX + "b.mp4", Body=b"good too")
    at_text = _overwritten(s3_client, fresh_bucket)  # b.mp4 is as it was then
    first_manifest, _, first = _run_batch_restore(stubbed_control, fresh_bucket, at_text, ROLE,
                                                  "job-1", s3_client)
    _, _, again = _run_batch_restore(stubbed_control, fresh_bucket, at_text, ROLE, "job-1",
                                     s3_client)
    assert again == first  # nothing changed: S3 Control answers with the first job
    s3_client.put_object(Bucket=fresh_bucket, Key=PREFIX + "b.mp4", Body=b"bad as well")
    manifest, _, later = _run_batch_restore(stubbed_control, fresh_bucket, at_text, ROLE,
                                            "job-2", s3_client)
    # The first job does not hold b.mp4, and this run leaves it to a job: a new one.
    assert later != first
    assert PREFIX + "b.mp4" in {k for _, k, _ in batch.parse_manifest(manifest.decode())}
    assert PREFIX + "b.mp4" not in {k for _, k, _ in batch.parse_manifest(first_manifest.decode())}


def test_a_refused_job_is_a_clear_error_with_exit_code_1(s3_client, fresh_bucket,
                                                         stubbed_control, capsys, tmp_path):
    at = _overwritten(s3_client, fresh_bucket)
    stubbed_control.add_client_error("create_job", service_error_code="IdempotencyException",
                                     service_message="token reused", http_status_code=409)
    report = tmp_path / "report.json"
    code = cli.main(["--bucket", fresh_bucket, "--prefix", PREFIX, "--at", at, "--yes",
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


def test_another_bucket_is_never_restored_by_the_batch_role(s3_client, fresh_bucket,
                                                           second_bucket, monkeypatch, capsys):
    # The Recovery stack's Batch role may read and write the assets bucket only.
    monkeypatch.setattr(cli.boto3, "client", _no_control(cli.boto3.client))
    at = _overwritten(s3_client, fresh_bucket)
    code = cli.main(["--bucket", fresh_bucket, "--prefix", PREFIX, "--at", at, "--yes",
                     "--to-bucket", second_bucket, "--batch-operations",
                     "--batch-role-arn", ROLE, "--account-id", "123456789012"],
                    stdout=io.StringIO())
    assert code == 2 and "only restore within its own bucket" in capsys.readouterr().err
    assert _uploaded(s3_client, second_bucket) == []


def test_a_destination_without_versioning_is_refused_before_anything(s3_client, fresh_bucket,
                                                                    monkeypatch, capsys):
    # Unversioned, a copy would replace for good and a removal delete for good.
    monkeypatch.setattr(cli.boto3, "client", _no_control(cli.boto3.client))
    at = _overwritten(s3_client, fresh_bucket)
    target = _unversioned_bucket(s3_client)
    code = cli.main(["--bucket", fresh_bucket, "--prefix", PREFIX, "--at", at, "--yes",
                     "--to-bucket", target], stdout=io.StringIO())
    assert code == 2 and "does not have versioning enabled" in capsys.readouterr().err
    assert "Contents" not in s3_client.list_objects_v2(Bucket=target)


@pytest.mark.parametrize("extra", [[], ["--to-prefix", "brands/restored/"]])
def test_above_the_threshold_without_a_usable_job_the_copies_run_from_here(
        s3_client, fresh_bucket, monkeypatch, extra):
    # No role, or another prefix: Batch Operations cannot be used, so the automatic switch
    # must not turn a large plan (here: above a threshold of 1) into a usage error.
    monkeypatch.setattr(cli.boto3, "client", _no_control(cli.boto3.client))
    for key in KEYS[:3]:
        s3_client.put_object(Bucket=fresh_bucket, Key=PREFIX + key, Body=key.encode())
    at = s3_client.head_object(Bucket=fresh_bucket, Key=PREFIX + KEYS[2])["LastModified"]
    time.sleep(max(0.0, (at + dt.timedelta(seconds=1)
                         - dt.datetime.now(dt.UTC)).total_seconds()) + 0.02)
    for key in KEYS[:3]:
        s3_client.put_object(Bucket=fresh_bucket, Key=PREFIX + key, Body=b"bad")
    argv = ["--bucket", fresh_bucket, "--prefix", PREFIX, "--at",
            at.astimezone(dt.UTC).isoformat(), "--batch-threshold", "1", *extra]
    out = io.StringIO()
    assert cli.main([*argv, "--dry-run"], stdout=out) == 0, out.getvalue()
    assert "above --batch-threshold, run from this machine" in out.getvalue()
    out = io.StringIO()
    assert cli.main([*argv, "--yes"], stdout=out) == 0, out.getvalue()
    restored = (extra[1] if extra else PREFIX) + "plain.mp4"
    assert s3_client.get_object(Bucket=fresh_bucket, Key=restored)["Body"].read() == b"plain.mp4"


def _no_control(real_client):
    def client(service, *args, **kwargs):
        if service in ("s3control", "sts"):
            pytest.fail(f"{service} was called: no Batch Operations job was possible")
        return real_client(service, *args, **kwargs)
    return client


def _overwritten(s3_client, bucket: str) -> str:
    """One key overwritten after a moment (returned): a restore to it has one copy to do."""
    s3_client.put_object(Bucket=bucket, Key=PREFIX + "a.mp4", Body=b"good")
    at = s3_client.head_object(Bucket=bucket, Key=PREFIX + "a.mp4")["LastModified"]
    time.sleep(max(0.0, (at + dt.timedelta(seconds=1)
                         - dt.datetime.now(dt.UTC)).total_seconds()) + 0.02)
    s3_client.put_object(Bucket=bucket, Key=PREFIX + "a.mp4", Body=b"bad")
    return at.astimezone(dt.UTC).isoformat()


def _uploaded(s3_client, bucket: str) -> list[str]:
    listing = s3_client.list_objects_v2(Bucket=bucket, Prefix="restore-jobs/")
    return [item["Key"] for item in listing.get("Contents", [])]


def test_a_manifest_bucket_that_does_not_answer_is_a_usage_error_before_any_upload(
        s3_client, fresh_bucket, monkeypatch, capsys):
    monkeypatch.setattr(cli.boto3, "client", _no_control(cli.boto3.client))
    at = _overwritten(s3_client, fresh_bucket)
    missing = f"missing-{uuid.uuid4().hex[:16]}"
    code = cli.main(["--bucket", fresh_bucket, "--prefix", PREFIX, "--at", at, "--yes",
                     "--batch-operations", "--batch-role-arn", ROLE,
                     "--account-id", "123456789012", "--manifest-bucket", missing],
                    stdout=io.StringIO())
    err = capsys.readouterr().err
    assert code == 2 and f"s3://{missing} does not answer" in err and "Traceback" not in err
    # Nothing was restored from this machine either.
    assert s3_client.get_object(Bucket=fresh_bucket, Key=PREFIX + "a.mp4")["Body"].read() \
        == b"bad"


def test_a_job_that_fails_inside_botocore_is_one_line_with_exit_code_1(
        s3_client, fresh_bucket, monkeypatch, capsys):
    # Not every late failure is a ClientError: no credentials, an endpoint that cannot be
    # resolved or reached are BotoCoreErrors, and must not end the run with a traceback.
    class Unreachable:
        def create_job(self, **request):
            raise EndpointConnectionError(endpoint_url="https://s3-control.example")

    real_client = cli.boto3.client
    monkeypatch.setattr(cli.boto3, "client", lambda service, *a, **k: Unreachable()
                        if service == "s3control" else real_client(service, *a, **k))
    at = _overwritten(s3_client, fresh_bucket)
    code = cli.main(["--bucket", fresh_bucket, "--prefix", PREFIX, "--at", at, "--yes",
                     "--batch-operations", "--batch-role-arn", ROLE,
                     "--account-id", "123456789012"], stdout=io.StringIO())
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "job was not created" in err and "s3-control.example" in err
    assert len(err.strip().splitlines()) == 1


def test_under_the_gate_the_job_copies_only_versions_scanned_clean(
        s3_client, fresh_bucket, stubbed_control, monkeypatch):
    # The job's role is exempt from none of the gate's denies: a version not tagged clean is
    # left to the local run (refused there by the same denies on AWS; the local store has no
    # bucket policy, so here it is copied, which shows it was not in the job).
    monkeypatch.setattr(batch, "gated_prefixes_of", lambda bucket: ("brands/",))
    verdicts = {"clip one.mp4": "NO_THREATS_FOUND", "plain.mp4": "THREATS_FOUND",
                "kept.mp4": None}
    for key, verdict in verdicts.items():
        tagging = {"Tagging": f"GuardDutyMalwareScanStatus={verdict}"} if verdict else {}
        s3_client.put_object(Bucket=fresh_bucket, Key=PREFIX + key, Body=key.encode(),
                             **tagging)
    at = max(s3_client.head_object(Bucket=fresh_bucket, Key=PREFIX + k)["LastModified"]
             for k in verdicts)
    time.sleep(max(0.0, (at + dt.timedelta(seconds=1)
                         - dt.datetime.now(dt.UTC)).total_seconds()) + 0.02)
    for key in verdicts:
        s3_client.put_object(Bucket=fresh_bucket, Key=PREFIX + key, Body=b"bad")
    at_text = at.astimezone(dt.UTC).isoformat()
    manifest, _, _ = _run_batch_restore(stubbed_control, fresh_bucket, at_text, ROLE, "job-7",
                                     s3_client)
    versions = _versions_at(s3_client, fresh_bucket, at)
    assert batch.parse_manifest(manifest.decode()) == [
        (fresh_bucket, PREFIX + "clip one.mp4", versions[PREFIX + "clip one.mp4"][0])]
    body = {k: s3_client.get_object(Bucket=fresh_bucket, Key=PREFIX + k)["Body"].read()
            for k in verdicts}
    assert body == {"clip one.mp4": b"bad", "plain.mp4": b"plain.mp4", "kept.mp4": b"kept.mp4"}


def test_the_gated_prefixes_are_those_of_the_environment_owning_the_bucket():
    from infra.environments import ENVIRONMENTS

    prod, dev = ENVIRONMENTS["prod"](), ENVIRONMENTS["dev"]()
    assert batch.gated_prefixes_of(prod.assets_bucket_name) == prod.upload_gate.gated_prefixes
    assert prod.upload_gate.gated_prefixes  # the gate is on in prod
    assert batch.gated_prefixes_of(dev.assets_bucket_name) == ()  # off in dev
    assert batch.gated_prefixes_of("someone-elses-bucket") == ()
