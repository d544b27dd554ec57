"""What the local store lacks, with botocore's Stubber and the shapes AWS really returns:
archive tiers (InvalidObjectState, x-amz-restore, ArchiveStatus) and S3 Control CreateJob."""
from __future__ import annotations

import datetime as dt

import boto3
import pytest
from botocore.stub import ANY, Stubber
from stubbed_client import stubbed_client

from tools.restore import batch
from tools.restore.copier import (
    ARCHIVE_REPORTED,
    RESTORE_IN_PROGRESS,
    RESTORE_REQUESTED,
    CopyOptions,
    Location,
    Restorer,
)
from tools.restore.plan import ARCHIVED, COPY, Decision

BUCKET = "justkalm-assets-dev"


@pytest.fixture
def s3():
    with stubbed_client("s3") as client_and_stub:
        yield client_and_stub


def restorer(client, **options) -> Restorer:
    return Restorer(Location(client, BUCKET), Location(client, BUCKET), CopyOptions(**options))


def head(**fields) -> dict:
    return {"ContentLength": 10, "ContentType": "image/jpeg", "Metadata": {}, **fields}


HEAD_PARAMS = {"Bucket": BUCKET, "Key": "k", "VersionId": "v1", "ChecksumMode": "ENABLED"}
DECISION = Decision(ARCHIVED, "k", "k", version_id="v1", size=10, storage_class="DEEP_ARCHIVE")


def test_an_archived_version_is_reported_not_failed(s3):
    client, stubber = s3
    stubber.add_response("head_object", head(StorageClass="DEEP_ARCHIVE"), HEAD_PARAMS)
    entry = restorer(client).carry_out(DECISION)
    assert entry["outcome"] == ARCHIVE_REPORTED and entry["storage_class"] == "DEEP_ARCHIVE"


def test_with_the_flag_a_glacier_restore_is_requested_for_days_and_tier(s3):
    client, stubber = s3
    stubber.add_response("head_object", head(StorageClass="GLACIER"), HEAD_PARAMS)
    stubber.add_response("restore_object", {}, {
        "Bucket": BUCKET, "Key": "k", "VersionId": "v1",
        "RestoreRequest": {"Days": 7, "GlacierJobParameters": {"Tier": "Bulk"}}})
    entry = restorer(client, request_archive_restore=True,
                     archive_restore_tier="Bulk").carry_out(DECISION)
    assert entry["outcome"] == RESTORE_REQUESTED


def test_an_intelligent_tiering_archive_restore_names_no_days(s3):
    client, stubber = s3
    stubber.add_client_error("get_object", service_error_code="InvalidObjectState",
                             http_status_code=403)
    stubber.add_response("head_object", head(StorageClass="INTELLIGENT_TIERING",
                                             ArchiveStatus="DEEP_ARCHIVE_ACCESS"), HEAD_PARAMS)
    stubber.add_response("restore_object", {}, {
        "Bucket": BUCKET, "Key": "k", "VersionId": "v1",
        "RestoreRequest": {"GlacierJobParameters": {"Tier": "Standard"}}})
    entry = restorer(client, request_archive_restore=True).carry_out(
        Decision(COPY, "k", "k", version_id="v1", size=10, storage_class="INTELLIGENT_TIERING"))
    assert entry["outcome"] == RESTORE_REQUESTED


def test_a_restore_already_under_way_is_not_requested_twice(s3):
    client, stubber = s3
    stubber.add_response("head_object", head(StorageClass="GLACIER",
                                             Restore='ongoing-request="true"'), HEAD_PARAMS)
    entry = restorer(client, request_archive_restore=True).carry_out(DECISION)
    assert entry["outcome"] == RESTORE_IN_PROGRESS


def test_invalid_object_state_on_copy_is_reported_as_archived(s3):
    # Intelligent-Tiering lists as INTELLIGENT_TIERING; the copy is what finds it archived.
    client, stubber = s3
    stubber.add_response("head_object", head(ChecksumSHA256="A" * 43 + "=",
                                             ContentLength=64 * 1024 ** 2), HEAD_PARAMS)
    stubber.add_client_error("copy_object", service_error_code="InvalidObjectState",
                             service_message="The operation is not valid for the object's "
                                             "access tier",
                             http_status_code=403)
    entry = restorer(client).carry_out(Decision(COPY, "k", "k", version_id="v1",
                                                size=64 * 1024 ** 2))
    assert entry["outcome"] == ARCHIVE_REPORTED


def test_part_ranges_cover_the_object_in_at_most_10000_parts():
    r = restorer(boto3.client("s3", region_name="us-east-1"), part_size=512 * 1024 ** 2)
    size = 5 * 1024 ** 4  # 5 TiB, the largest object S3 stores
    ranges = r.part_ranges(size)
    assert len(ranges) <= 10_000 and ranges[0][0] == 0 and ranges[-1][1] == size - 1
    assert all(b[0] == a[1] + 1 for a, b in zip(ranges, ranges[1:], strict=False))


# ------------------------------------------------------------------ Batch Operations

def test_manifest_rows_url_encode_keys_and_round_trip():
    keys = ["a b+c/é.jpg", "100%.jpg", 'q"uote,comma.jpg']
    text = "".join(batch.manifest_row(BUCKET, k, "v1") for k in keys)
    assert "a%20b%2Bc/%C3%A9.jpg" in text
    assert batch.parse_manifest(text) == [(BUCKET, k, "v1") for k in keys]


def _clients(region: str):
    """Offline S3 and S3 Control clients (every call goes to a Stubber)."""
    return tuple(boto3.client(service, region_name=region, aws_access_key_id="x",
                              aws_secret_access_key="x") for service in ("s3", "s3control"))


def test_the_create_job_request_has_the_shape_s3_control_expects(tmp_path):
    s3, control = _clients("us-east-1")
    target = batch.BatchTarget("123456789012", "us-east-1",
                               "arn:aws:iam::123456789012:role/justkalm-assets-dev-restore",
                               BUCKET, "restore-jobs/")
    manifest = tmp_path / "m.csv"
    manifest.write_text(batch.manifest_row(BUCKET, "k", "v1"))
    s3.upload_file = lambda path, bucket, key, ExtraArgs: None  # noqa: N803 - boto's name
    with Stubber(s3) as s3_stub, Stubber(control) as stub:
        s3_stub.add_response("head_object", {"ETag": '"abc123"'},
                             {"Bucket": BUCKET, "Key": "restore-jobs/tok/manifest.csv"})
        stub.add_response("create_job", {"JobId": "job-1"}, {
            "AccountId": "123456789012",
            "ConfirmationRequired": False,
            "Operation": {"S3PutObjectCopy": {
                "TargetResource": f"arn:aws:s3:::{BUCKET}", "MetadataDirective": "COPY",
                "ChecksumAlgorithm": "SHA256", "BucketKeyEnabled": True}},
            "Manifest": {
                "Spec": {"Format": "S3BatchOperations_CSV_20180820",
                         "Fields": ["Bucket", "Key", "VersionId"]},
                "Location": {"ObjectArn": f"arn:aws:s3:::{BUCKET}/restore-jobs/tok/manifest.csv",
                             "ETag": "abc123"}},
            "Report": {"Bucket": f"arn:aws:s3:::{BUCKET}", "Prefix": "restore-jobs/tok/report",
                       "Format": "Report_CSV_20180820", "Enabled": True,
                       "ReportScope": "AllTasks"},
            "Priority": 10,
            "RoleArn": target.role_arn,
            "ClientRequestToken": "tok",
            "Description": ANY,
        })
        job = batch.create_copy_job(control, s3, target, manifest_path=str(manifest),
                                    token="tok", dest_bucket=BUCKET, description="restore")
        stub.assert_no_pending_responses()
    assert job == "job-1"


@pytest.mark.parametrize("create", ["copy", "replication"])
def test_a_job_rerun_reuses_the_manifest_already_uploaded_under_its_token(tmp_path, create):
    # With SSE-KMS an upload's ETag is not the content's MD5: uploading the manifest again
    # would send the same token with another ETag, which S3 Control refuses.
    s3, control = _clients("us-west-2")
    target = batch.BatchTarget("123456789012", "us-west-2",
                               "arn:aws:iam::123456789012:role/justkalm-assets-prod-replica-"
                               "batch-replication", BUCKET, "reconcile-jobs/")
    manifest = tmp_path / "m.csv"
    manifest.write_text(batch.manifest_row(BUCKET, "k", "v1"))

    def upload_file(*args, **kwargs):
        raise AssertionError("the manifest was uploaded again")

    s3.upload_file = upload_file
    with Stubber(s3) as s3_stub, Stubber(control) as stub:
        s3_stub.add_response("head_object", {"ETag": '"kms-etag"'},
                             {"Bucket": BUCKET, "Key": "reconcile-jobs/tok/manifest.csv"})
        stub.add_response("create_job", {"JobId": "job-2"}, {
            "AccountId": "123456789012", "ConfirmationRequired": False, "Operation": ANY,
            "Manifest": {"Spec": ANY, "Location": {
                "ObjectArn": f"arn:aws:s3:::{BUCKET}/reconcile-jobs/tok/manifest.csv",
                "ETag": "kms-etag"}},
            "Report": ANY, "Priority": 10, "RoleArn": target.role_arn,
            "ClientRequestToken": "tok", "Description": ANY})
        job = (batch.create_replication_job(control, s3, target, manifest_path=str(manifest),
                                            token="tok", description="reconcile")
               if create == "replication" else
               batch.create_copy_job(control, s3, target, manifest_path=str(manifest),
                                     token="tok", dest_bucket=BUCKET, description="restore"))
        stub.assert_no_pending_responses()
    assert job == "job-2"


def test_every_gated_prefix_is_checked_not_only_the_first(s3):
    client, stub = s3
    stub.add_response("get_object_tagging", {"TagSet": []},
                      {"Bucket": BUCKET, "Key": "brands/x.png", "VersionId": "v1"})
    assert not batch.job_may_copy(client, BUCKET, "brands/x.png", "v1",
                                  ("user-content/uploads/", "products/documents/", "brands/"))


def test_the_same_arguments_give_the_same_job_token():
    at = dt.datetime(2026, 11, 20, tzinfo=dt.UTC).isoformat()
    assert batch.run_token("b", "p/", at, "b") == batch.run_token("b", "p/", at, "b")
    assert batch.run_token("b", "p/", at, "b") != batch.run_token("b", "q/", at, "b")


def test_a_gated_version_whose_tags_cannot_be_read_is_not_given_to_the_batch_job(s3):
    # On AWS the tags of a version are read by the operator; a refusal (or any error) must
    # leave the version to the local run, never put it in the job's manifest.
    client, stub = s3
    stub.add_client_error("get_object_tagging", "AccessDenied", http_status_code=403,
                          expected_params={"Bucket": BUCKET, "Key": "brands/logo.png",
                                           "VersionId": "v1"})
    assert not batch.job_may_copy(client, BUCKET, "brands/logo.png", "v1", ("brands/",))


def test_a_version_outside_the_gated_prefixes_needs_no_tag_read(s3):
    client, _ = s3  # the Stubber fails on any request
    assert batch.job_may_copy(client, BUCKET, "processed/logo.webp", "v1", ("brands/",))


def test_unfinished_jobs_of_a_restore_are_found_on_every_page_by_their_kept_description():
    long_prefix = "brands/" + "x" * 300 + "/"
    head = f"restore {BUCKET}/{long_prefix} to 2026-12-01T00:00:00+00:00 ("
    kept = f"{head}12 versions)"[:256]  # S3 Control keeps 256 characters
    request = {"AccountId": "123456789012", "JobStatuses": batch.UNFINISHED_JOB_STATUSES,
               "MaxResults": 1000}
    with stubbed_client("s3control") as (control, stub):
        stub.add_response("list_jobs", {"NextToken": "page-2", "Jobs": [
            {"JobId": "job-other", "Status": "Active", "Description": f"restore {BUCKET}/brands/ to"},
        ]}, request)
        stub.add_response("list_jobs", {"Jobs": [
            {"JobId": "job-ours", "Status": "Paused", "Description": kept},
            {"JobId": "job-undescribed", "Status": "Ready"},
        ]}, {**request, "NextToken": "page-2"})
        assert batch.unfinished_jobs(control, "123456789012", head) == [("job-ours", "Paused")]
        stub.assert_no_pending_responses()
