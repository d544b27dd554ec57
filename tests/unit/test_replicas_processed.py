"""Only the primary Region runs the pipelines, so a replica there (an upload taken in the
replica Region during a failover, brought back by replication) is hashed and rendered by the
event-driven path like any upload: nobody else will. ``tools.reconcile`` sweeps whatever
replication had not brought when it runs.

A local S3 server cannot produce ``ReplicationStatus``, so S3 is a botocore Stubber here: it
answers exactly the calls queued and fails on any other.
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


def test_the_hasher_entry_point_hashes_a_replica_and_counts_it(hasher_deps, monkeypatch,
                                                                capsys):
    deps, s3_stub, dynamodb_stub = hasher_deps
    expect_hashing(s3_stub, dynamodb_stub, "REPLICA")
    monkeypatch.setattr(hasher, "current_deps", lambda: deps)
    assert hasher.handler(event_for(UPLOAD), LambdaContext()) == {"batchItemFailures": []}
    s3_stub.assert_no_pending_responses()
    dynamodb_stub.assert_no_pending_responses()
    (line,) = emf(capsys)
    assert line["HashedObjects"] in (1, [1.0], 1.0)
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == METRICS_NAMESPACE


def test_the_hasher_hashes_a_version_first_written_here_from_the_same_head(hasher_deps):
    deps, s3_stub, dynamodb_stub = hasher_deps
    expect_hashing(s3_stub, dynamodb_stub, "COMPLETED")  # one HEAD of the version for both
    result = hasher.process_batch(event_for(UPLOAD), deps)
    assert result == {"batchItemFailures": []}
    s3_stub.assert_no_pending_responses()
    dynamodb_stub.assert_no_pending_responses()


# ------------------------------------------------------------------ renditions

def test_the_renditions_entry_point_reads_a_replicas_manifest_like_any_version(monkeypatch):
    # Past the HEAD to the manifest: a manifest naming this version means "unchanged"; without
    # one, the version is rendered (the pipeline's own tests).
    s3, settings = client("s3"), Settings()
    monkeypatch.setattr(renditions_entry, "_s3", s3)
    monkeypatch.setattr(renditions_entry, "_settings", settings)
    manifest = {"schema": pipeline.MANIFEST_SCHEMA, "original": {"version_id": "v1"},
                "settings_digest": pipeline.settings_digest(settings)}
    with Stubber(s3) as stub:
        stub.add_response("head_object", head("REPLICA"), {"Bucket": BUCKET, "Key": ORIGINAL})
        stub.add_response("get_object", {"Body": _body(json.dumps(manifest).encode())},
                          {"Bucket": BUCKET, "Key": keys.manifest_key(ORIGINAL)})
        assert renditions_entry.handler(event_for(ORIGINAL), LambdaContext()) \
            == {"batchItemFailures": []}
        stub.assert_no_pending_responses()


def test_a_replica_that_is_no_longer_current_is_superseded_like_any_version():
    s3 = client("s3")
    with Stubber(s3) as stub:
        stub.add_response("head_object", head("REPLICA", VersionId="v2"),
                          {"Bucket": BUCKET, "Key": ORIGINAL})
        outcome = pipeline.process_object(s3, ObjectVersion(BUCKET, ORIGINAL, "v1"), Settings())
    assert outcome.status == "superseded"


def _body(data: bytes):
    from io import BytesIO

    from botocore.response import StreamingBody
    return StreamingBody(BytesIO(data), len(data))
