"""The renditions backfill: the Batch Operations manifest it writes and the CreateJob request
it sends (botocore Stubber: the shapes are checked against the real service models)."""
from __future__ import annotations

import csv
import gzip
import io
import json

import boto3
import pytest
from botocore.exceptions import NoCredentialsError
from botocore.stub import ANY, Stubber

from infra.environments import ENVIRONMENTS
from tools.backfill import (
    BackfillError,
    Entry,
    create_job_request,
    entries_from_inventory,
    entries_from_listing,
    manifest_csv,
)
from tools.backfill.__main__ import main

CFG = ENVIRONMENTS["dev"]()
BUCKET = CFG.assets_bucket_name
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{CFG.account}:function:dev-Assets-Renditions"
ORIGINAL = "products/images/original/3f9a/look 07 (front)+ü.jpg"


def _s3():
    return boto3.client("s3", region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="y")


def _version(key, version_id, latest=True):
    return {"Key": key, "VersionId": version_id, "IsLatest": latest, "Size": 10,
            "ETag": '"e"', "StorageClass": "STANDARD"}


def _listing_stub(s3, *, create: bool = False) -> Stubber:
    stub = Stubber(s3)
    if create:  # --create checks the bucket answers before the listing
        stub.add_response("head_bucket", {}, {"Bucket": BUCKET})
    stub.add_response("list_object_versions", {
        "Versions": [_version(ORIGINAL, "v2"), _version(ORIGINAL, "v1", latest=False),
                     _version("products/images/original/", "f1"),
                     _version("products/images/original/ab/b.png", "v9")],
        "DeleteMarkers": [{"Key": "products/images/original/gone.jpg", "VersionId": "d1",
                           "IsLatest": True}],
        "IsTruncated": False,
    }, {"Bucket": BUCKET, "Prefix": "products/images/original/"})
    return stub


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_listing_yields_only_current_versions_of_originals():
    s3 = _s3()
    with _listing_stub(s3):
        assert list(entries_from_listing(s3, BUCKET)) == [
            Entry(BUCKET, ORIGINAL, "v2"), Entry(BUCKET, "products/images/original/ab/b.png", "v9")]


def test_the_manifest_is_bucket_key_version_with_url_encoded_keys_and_no_header():
    body, count = manifest_csv([Entry(BUCKET, ORIGINAL, "v2")])
    assert count == 1
    assert _rows(body) == [[BUCKET, "products/images/original/3f9a/look%2007%20%28front%29%2B%C3%BC.jpg", "v2"]]


def _inventory_entries(rows: list[list[str]]) -> list[Entry]:
    """What an Inventory report of ``rows`` (one gzipped CSV data file) yields."""
    data = io.StringIO()
    csv.writer(data).writerows(rows)
    manifest = {"fileFormat": "CSV", "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker",
                "files": [{"key": "inv/data/1.csv.gz"}]}
    return list(entries_from_inventory(manifest, lambda key: gzip.compress(data.getvalue().encode())))


def test_an_inventory_report_yields_current_originals_only():
    rows = [[BUCKET, "products/images/original/a%20b.jpg", "v1", "true", "false"],
            [BUCKET, "products/images/original/a%20b.jpg", "v0", "false", "false"],
            [BUCKET, "products/images/original/c.jpg", "v5", "true", "true"],
            [BUCKET, "brands/logos/l.png", "v7", "true", "false"]]
    entries = _inventory_entries(rows)
    assert entries == [Entry(BUCKET, "products/images/original/a b.jpg", "v1")]


def test_inventory_keys_are_form_decoded_a_plus_is_a_space():
    # S3 Inventory writes "look 07+.jpg" as look+07%2B.jpg; unquote alone would render a key
    # that does not exist (the task then "succeeds" as gone, with nothing rendered).
    rows = [[BUCKET, "products/images/original/look+07%2B.jpg", "v1", "true", "false"]]
    entries = _inventory_entries(rows)
    assert entries == [Entry(BUCKET, "products/images/original/look 07+.jpg", "v1")]


def test_an_inventory_without_versions_is_refused_with_the_reason():
    with pytest.raises(BackfillError, match="VersionId"):
        list(entries_from_inventory({"fileFormat": "CSV", "fileSchema": "Bucket, Key", "files": []},
                                    lambda key: b""))


def test_the_create_job_request_has_the_shape_s3control_accepts():
    s3control = boto3.client("s3control", region_name="us-east-1", aws_access_key_id="x",
                             aws_secret_access_key="y")
    request = create_job_request(
        account_id=CFG.account, bucket=BUCKET, manifest_object_key="ops/renditions-backfill/manifests/j.csv",
        manifest_etag="abc", function_arn=FUNCTION_ARN, role_arn=CFG.renditions_backfill_role_arn,
        job_name="j", token="t-1")
    with Stubber(s3control) as stub:
        stub.add_response("create_job", {"JobId": "job-1"}, request)  # validated against the model
        assert s3control.create_job(**request)["JobId"] == "job-1"


def test_the_job_invokes_the_function_with_schema_2_and_reports_failures_under_the_backfill_prefix():
    request = create_job_request(
        account_id=CFG.account, bucket=BUCKET, manifest_object_key="ops/renditions-backfill/manifests/j.csv",
        manifest_etag="abc", function_arn=FUNCTION_ARN, role_arn=CFG.renditions_backfill_role_arn,
        job_name="j")
    assert request["Operation"]["LambdaInvoke"]["FunctionArn"] == FUNCTION_ARN
    assert request["Operation"]["LambdaInvoke"]["InvocationSchemaVersion"] == "2.0"
    assert request["Manifest"]["Spec"] == {"Format": "S3BatchOperations_CSV_20180820",
                                           "Fields": ["Bucket", "Key", "VersionId"]}
    assert request["Manifest"]["Location"]["ObjectArn"] == \
        f"arn:aws:s3:::{BUCKET}/ops/renditions-backfill/manifests/j.csv"
    assert (request["Report"]["Bucket"], request["Report"]["Prefix"]) == (
        f"arn:aws:s3:::{BUCKET}", "ops/renditions-backfill/reports")
    assert request["RoleArn"] == f"arn:aws:iam::{CFG.account}:role/{CFG.renditions_backfill_role_name}"


def test_create_uploads_the_manifest_then_creates_the_job_pinned_to_its_etag(tmp_path, capsys):
    s3 = _s3()
    s3control = boto3.client("s3control", region_name="us-east-1", aws_access_key_id="x",
                             aws_secret_access_key="y")
    out = tmp_path / "m.csv"
    with _listing_stub(s3, create=True) as s3_stub, Stubber(s3control) as control_stub:
        s3_stub.add_response("put_object", {"ETag": '"etag-1"'}, {
            "Bucket": BUCKET, "Key": "ops/renditions-backfill/manifests/job-a.csv",
            "Body": ANY, "ContentType": "text/csv"})
        control_stub.add_response("create_job", {"JobId": "job-42"}, {
            "AccountId": CFG.account, "ConfirmationRequired": True, "Operation": ANY,
            "Manifest": {"Spec": ANY, "Location": {
                "ObjectArn": f"arn:aws:s3:::{BUCKET}/ops/renditions-backfill/manifests/job-a.csv",
                "ETag": "etag-1"}},
            "Report": ANY, "ClientRequestToken": ANY, "Description": ANY, "Priority": 10,
            "RoleArn": CFG.renditions_backfill_role_arn})
        code = main(["--env", "dev", "--out", str(out), "--function-arn", FUNCTION_ARN,
                     "--job-name", "job-a", "--create"], s3=s3, s3control=s3control)
        control_stub.assert_no_pending_responses()
    assert code == 0
    assert json.loads(capsys.readouterr().out)["JobId"] == "job-42"
    assert len(_rows(out.read_text())) == 2


def test_without_create_it_prints_the_request_and_creates_nothing(tmp_path, capsys):
    s3 = _s3()
    with _listing_stub(s3):
        code = main(["--env", "dev", "--out", str(tmp_path / "m.csv"), "--job-name", "job-b"], s3=s3)
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["Operation"]["LambdaInvoke"]["InvocationSchemaVersion"] == "2.0"


@pytest.mark.parametrize("argv, message", [
    (["--env", "qa"], "--env"),
    (["--env", "dev", "--create"], "--function-arn"),
    (["--env", "dev", "--function-arn", "arn:aws:s3:::nope"], "not a Lambda function ARN"),
    (["--env", "dev", "--job-name", "a/b"], "--job-name"),
    # An alias: the backfill role may invoke only the unqualified function.
    (["--env", "dev", "--function-arn",
      f"arn:aws:lambda:us-east-1:{CFG.account}:function:dev-Assets-Renditions:live"],
     "without an alias or version"),
    # Another environment's function: the dev backfill role may not invoke it.
    (["--env", "dev", "--function-arn",
      f"arn:aws:lambda:us-east-1:{ENVIRONMENTS['prod']().account}:function:prod-Assets-Renditions"],
     "not in --env dev's account"),
    (["--env", "dev", "--function-arn",
      f"arn:aws:lambda:eu-west-1:{CFG.account}:function:dev-Assets-Renditions"], "Region"),
])
def test_bad_arguments_are_a_clear_error_with_exit_2_and_no_side_effect(tmp_path, capsys, argv, message):
    out = tmp_path / "m.csv"
    assert main([*argv, "--out", str(out)], s3=object(), s3control=object()) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_an_unreadable_inventory_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    # A downloaded manifest whose data file is not beside it.
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"fileFormat": "CSV",
                                    "fileSchema": "Bucket, Key, VersionId, IsLatest",
                                    "files": [{"key": "data/missing.csv.gz"}]}))
    out = tmp_path / "m.csv"
    assert main(["--env", "dev", "--inventory", str(manifest), "--out", str(out)],
                s3=object(), s3control=object()) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read the originals") and "missing.csv.gz" in err
    assert "Traceback" not in err and not out.exists()


def _inventory(tmp_path, manifest, data: bytes | None = None):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    if data is not None:
        (tmp_path / "1.csv.gz").write_bytes(gzip.compress(data))
    return path


_SCHEMA = "Bucket, Key, VersionId, IsLatest"


@pytest.mark.parametrize("manifest, data, message", [
    ([], None, "not an object"),
    ({"fileFormat": "CSV", "fileSchema": None, "files": []}, None, "fileSchema is None"),
    ({"fileFormat": "CSV", "fileSchema": _SCHEMA, "files": [{"size": 3}]}, None, "files must be"),
    ({"fileFormat": "CSV", "fileSchema": _SCHEMA, "files": None}, None, "files must be"),
    ({"fileFormat": "CSV", "fileSchema": _SCHEMA, "files": [{"key": "inv/1.csv.gz"}]},
     f"{BUCKET},products/images/original/a.jpg,v1,true\n{BUCKET}\n".encode(),
     "line 2 has 1 fields, the fileSchema names 4"),
])
def test_a_malformed_inventory_manifest_is_one_line_exit_2_and_writes_nothing(
        tmp_path, capsys, manifest, data, message):
    out = tmp_path / "m.csv"
    code = main(["--env", "dev", "--inventory", str(_inventory(tmp_path, manifest, data)),
                 "--out", str(out)], s3=object(), s3control=object())
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("where", ["missing-dir/m.csv", "."])
def test_an_out_that_cannot_be_written_is_refused_before_any_work(tmp_path, capsys, where):
    # s3=object(): any listing or upload would fail with an AttributeError. The path is
    # refused while the arguments are parsed: argparse's usage error, exit 2.
    with pytest.raises(SystemExit) as stopped:
        main(["--env", "dev", "--out", str(tmp_path / where)], s3=object(),
             s3control=object())
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "argument --out" in err and "Traceback" not in err


def test_create_when_the_bucket_does_not_answer_uploads_nothing_and_exits_2(tmp_path, capsys):
    s3 = _s3()
    out = tmp_path / "m.csv"
    with Stubber(s3) as stub:  # only HEAD is queued: a listing or an upload would raise
        stub.add_client_error("head_bucket", service_error_code="403", http_status_code=403)
        code = main(["--env", "dev", "--out", str(out), "--function-arn", FUNCTION_ARN,
                     "--create"], s3=s3, s3control=object())
    err = capsys.readouterr().err
    assert code == 2 and f"s3://{BUCKET} does not answer" in err and "Traceback" not in err
    assert not out.exists()


def test_create_when_the_upload_fails_is_one_line_exit_1_and_creates_no_job(tmp_path, capsys):
    s3 = _s3()
    with _listing_stub(s3, create=True) as stub:
        stub.add_client_error("put_object", service_error_code="AccessDenied",
                              service_message="no", http_status_code=403)
        code = main(["--env", "dev", "--out", str(tmp_path / "m.csv"), "--function-arn",
                     FUNCTION_ARN, "--job-name", "job-c", "--create"], s3=s3, s3control=object())
    err = capsys.readouterr().err
    assert code == 1 and "cannot upload the manifest" in err and "AccessDenied" in err
    assert "no job created" in err and "Traceback" not in err


class _Unreachable:
    def create_job(self, **request):
        raise NoCredentialsError()


@pytest.mark.parametrize("failing_control", ["refused", "botocore"])
def test_create_when_the_job_is_not_created_is_one_line_exit_1_naming_the_manifest(
        tmp_path, capsys, failing_control):
    s3 = _s3()
    s3control = boto3.client("s3control", region_name="us-east-1", aws_access_key_id="x",
                             aws_secret_access_key="y")
    control_stub = Stubber(s3control)
    control_stub.add_client_error("create_job", service_error_code="InvalidRequest",
                                  service_message="bad role", http_status_code=400)
    with _listing_stub(s3, create=True) as stub, control_stub:
        stub.add_response("put_object", {"ETag": '"etag-1"'}, {
            "Bucket": BUCKET, "Key": "ops/renditions-backfill/manifests/job-d.csv",
            "Body": ANY, "ContentType": "text/csv"})
        code = main(["--env", "dev", "--out", str(tmp_path / "m.csv"), "--function-arn",
                     FUNCTION_ARN, "--job-name", "job-d", "--create"], s3=s3,
                    s3control=s3control if failing_control == "refused" else _Unreachable())
    err = capsys.readouterr().err
    assert code == 1 and "did not create the job" in err and "Traceback" not in err
    assert f"s3://{BUCKET}/ops/renditions-backfill/manifests/job-d.csv" in err
    assert ("InvalidRequest" if failing_control == "refused" else "credentials") in err
