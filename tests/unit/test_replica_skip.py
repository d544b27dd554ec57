"""Each Region's event-driven consumers process only the versions first written in that
Region: a version S3 replication wrote (HeadObject ``ReplicationStatus: REPLICA``) is skipped
and counted, because its origin Region hashed and rendered it and the tags and renditions
arrive by replication. The direct callers (``tools.reconcile``, the renditions backfill) still
process replicas.

A local S3 server cannot produce ``ReplicationStatus``, so S3 is a botocore Stubber here: it
answers exactly the calls queued and fails on any other, which is what proves a skipped
version costs one HeadObject and nothing else (no GET, no index write, no tag, no render).
"""
from __future__ import annotations

import base64
import hashlib
import json

import boto3
import pytest
from botocore.config import Config
from botocore.stub import ANY, Stubber
from estate_handlers import hasher
from estate_handlers.layout import METRICS_NAMESPACE
from estate_handlers.object_events import ObjectVersion, is_replica
from estate_handlers.renditions import handler as renditions_entry
from estate_handlers.renditions import keys, pipeline
from estate_handlers.renditions.settings import Settings
from lambda_context import LambdaContext

from tests.integration.aws_events import s3_notification, sqs_event, sqs_record

BUCKET = "acme-assets-prod"
UPLOAD = "user-content/uploads/alice-0123456789abcdef/0123/look.pdf"
ORIGINAL = "products/images/original/0123/look.jpg"
BODY = b"bytes uploaded in the other Region"
SHA = hashlib.sha256(BODY).hexdigest()


def client(service: str):
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="AKIDUNIT",
                        aws_secret_access_key="secret",
                        config=Config(signature_version="s3v4" if service == "s3" else None))


def head(status: str | None, **extra) -> dict:
    answer = {"ContentLength": len(BODY), "VersionId": "v1", "ETag": '"e"', **extra}
    if status is not None:
        answer["ReplicationStatus"] = status
    return answer


@pytest.fixture(autouse=True)
def fresh_metrics():
    """Metrics another test added in this process (unflushed) must not show up here."""
    for metrics in (hasher.metrics, renditions_entry.metrics):
        metrics.clear_metrics()
    yield
    for metrics in (hasher.metrics, renditions_entry.metrics):
        metrics.clear_metrics()


def emf(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()
            if line.startswith('{"_aws"')]


def event_for(key: str) -> dict:
    return sqs_event(sqs_record(s3_notification(BUCKET, key, "v1", len(BODY), "e")))


@pytest.mark.parametrize("status, replica", [("REPLICA", True), ("COMPLETED", False),
                                             ("PENDING", False), ("FAILED", False),
                                             (None, False)])
def test_only_a_version_replication_wrote_is_a_replica(status, replica):
    # COMPLETED/PENDING/FAILED: the source side of a rule, i.e. written in this Region.
    assert is_replica(head(status)) is replica


# ------------------------------------------------------------------ hasher

@pytest.fixture
def hasher_deps():
    s3, dynamodb = client("s3"), client("dynamodb")
    with Stubber(s3) as s3_stub, Stubber(dynamodb) as dynamodb_stub:
        yield hasher.Deps(s3=s3, dynamodb=dynamodb, table_name="dedup"), s3_stub, dynamodb_stub


def expect_hashing(s3_stub, dynamodb_stub, replication_status: str) -> None:
    """The calls hashing one version makes when S3 stores its full-object SHA-256: HEAD
    (checksum and replication status), HEAD of the key (is this version still current?), the
    index claim, the tag merge."""
    checksum = base64.b64encode(bytes.fromhex(SHA)).decode()
    where = {"Bucket": BUCKET, "Key": UPLOAD, "VersionId": "v1"}
    s3_stub.add_response("head_object", head(replication_status, ChecksumSHA256=checksum,
                                             ChecksumType="FULL_OBJECT"),
                         {**where, "ChecksumMode": "ENABLED"})
    s3_stub.add_response("head_object", {"VersionId": "v1"}, {"Bucket": BUCKET, "Key": UPLOAD})
    dynamodb_stub.add_response("put_item", {}, {"TableName": "dedup", "Item": ANY,
                                                "ConditionExpression": ANY,
                                                "ExpressionAttributeNames": ANY})
    s3_stub.add_response("get_object_tagging", {"TagSet": []}, where)
    s3_stub.add_response("put_object_tagging", {}, {**where, "Tagging": ANY})


def test_the_hasher_entry_point_skips_a_replica_with_one_head_and_counts_it(
        hasher_deps, monkeypatch, capsys):
    deps, s3_stub, dynamodb_stub = hasher_deps
    s3_stub.add_response("head_object", head("REPLICA"),
                         {"Bucket": BUCKET, "Key": UPLOAD, "VersionId": "v1",
                          "ChecksumMode": "ENABLED"})
    monkeypatch.setattr(hasher, "current_deps", lambda: deps)
    assert hasher.handler(event_for(UPLOAD), LambdaContext()) == {"batchItemFailures": []}
    s3_stub.assert_no_pending_responses()  # and no other call was made: the stub would raise
    (line,) = emf(capsys)
    assert line["ReplicasSkipped"] in (1, [1.0], 1.0) and "HashedObjects" not in line
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == METRICS_NAMESPACE


def test_the_hasher_hashes_a_version_first_written_here_from_the_same_head(hasher_deps):
    deps, s3_stub, dynamodb_stub = hasher_deps
    expect_hashing(s3_stub, dynamodb_stub, "COMPLETED")  # one HEAD of the version for both
    result = hasher.process_batch(event_for(UPLOAD), deps)
    assert result == {"batchItemFailures": []}
    s3_stub.assert_no_pending_responses()
    dynamodb_stub.assert_no_pending_responses()


def test_a_direct_call_hashes_a_replica(hasher_deps):
    # tools.reconcile calls process_object itself for a replica its origin never hashed.
    deps, s3_stub, dynamodb_stub = hasher_deps
    expect_hashing(s3_stub, dynamodb_stub, "REPLICA")
    assert hasher.process_object(ObjectVersion(BUCKET, UPLOAD, "v1"), deps) == "canonical"


# ------------------------------------------------------------------ renditions

def test_the_renditions_entry_point_skips_a_replica_and_counts_it(monkeypatch, capsys):
    s3 = client("s3")
    monkeypatch.setattr(renditions_entry, "_s3", s3)
    monkeypatch.setattr(renditions_entry, "_settings", Settings())
    with Stubber(s3) as stub:
        stub.add_response("head_object", head("REPLICA"), {"Bucket": BUCKET, "Key": ORIGINAL})
        context = LambdaContext()
        assert renditions_entry.handler(event_for(ORIGINAL), context) == {"batchItemFailures": []}
        stub.assert_no_pending_responses()
    (line,) = emf(capsys)
    assert line["ReplicasSkipped"] in (1, [1.0], 1.0)
    assert "RejectedOriginals" not in line


def test_a_direct_render_of_a_replica_reads_its_manifest_like_any_version():
    # With a manifest naming the version (replicated with it), the answer is "unchanged".
    s3, settings = client("s3"), Settings()
    manifest = {"original": {"version_id": "v1"},
                "settings_digest": pipeline.settings_digest(settings)}
    with Stubber(s3) as stub:
        stub.add_response("head_object", head("REPLICA"), {"Bucket": BUCKET, "Key": ORIGINAL})
        stub.add_response("get_object", {"Body": _body(json.dumps(manifest).encode())},
                          {"Bucket": BUCKET, "Key": keys.manifest_key(ORIGINAL)})
        outcome = pipeline.process_object(s3, ObjectVersion(BUCKET, ORIGINAL, "v1"), settings)
        stub.assert_no_pending_responses()
    assert outcome.status == "unchanged"


def test_the_renditions_skip_comes_after_the_superseded_check():
    # A replica that is no longer current is "superseded" like any other version.
    s3 = client("s3")
    with Stubber(s3) as stub:
        stub.add_response("head_object", head("REPLICA", VersionId="v2"),
                          {"Bucket": BUCKET, "Key": ORIGINAL})
        outcome = pipeline.process_object(s3, ObjectVersion(BUCKET, ORIGINAL, "v1"),
                                          Settings(), skip_replicas=True)
    assert outcome.status == "superseded"


def _body(data: bytes):
    from io import BytesIO

    from botocore.response import StreamingBody
    return StreamingBody(BytesIO(data), len(data))
