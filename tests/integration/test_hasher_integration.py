"""The upload hasher in-process against real local servers: SeaweedFS S3 and DynamoDB Local.

What SeaweedFS 4.48 does (checked against it, and relied on below):
- versioning, GetObject/HeadObject/Get/PutObjectTagging with VersionId: like S3;
- HeadObject ChecksumMode=ENABLED returns the SHA-256 stored at a single PUT but WITHOUT the
  ``x-amz-checksum-type: FULL_OBJECT`` header AWS sends, so the hasher (which requires it)
  streams such objects there. ``test_stored_checksum_with_aws_header_is_used_without_download``
  adds the one header AWS would send to SeaweedFS's real response; the rule itself is also
  proven in tests/unit/test_hasher.py;
- multipart with ChecksumAlgorithm=SHA256: COMPOSITE type and a ``-<parts>`` value, like S3;
- HeadObject of a missing version: bare 404; GetObject: NoSuchVersion / NoSuchKey.

Servers, a fresh versioned bucket and a fresh index table per test come from the shared
harness (tests/integration/conftest.py). Events are built in the exact shape S3 sends to SQS
and Lambda receives from SQS (``s3_notification``, ``sqs_record``).
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid

import boto3
import pytest
from aws_events import s3_notification, sqs_event, sqs_record
from estate_handlers import dedup_index, hasher
from estate_handlers.hasher import Deps
from estate_handlers.runtime import once
from lambda_context import LambdaContext

MB = 1024 * 1024


# ------------------------------------------------------------------ fixtures
# Servers, bucket and table come from the shared harness (tests/integration/conftest.py).

@pytest.fixture
def s3(s3_client):
    return s3_client


@pytest.fixture
def dynamodb(dynamodb_client):
    return dynamodb_client


@pytest.fixture
def bucket(fresh_bucket):
    return fresh_bucket


@pytest.fixture
def table(dedup_table):
    return dedup_table


@pytest.fixture
def deps(hasher_deps):
    return hasher_deps


@pytest.fixture
def get_object_calls(deps):
    """Keys of the GetObject calls the hasher makes."""
    calls = []

    def count(params, **_):
        calls.append(params.get("Key"))

    deps.s3.meta.events.register("before-parameter-build.s3.GetObject", count)
    return calls


# ------------------------------------------------------------------ helpers

def upload(s3, bucket: str, key: str, body: bytes, **extra) -> dict:
    resp = s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
    return {"key": key, "version_id": resp["VersionId"], "size": len(body), "etag": resp["ETag"]}


def event_for(bucket: str, obj: dict, event_name: str = "ObjectCreated:Put") -> dict:
    return sqs_event(sqs_record(s3_notification(bucket, obj["key"], obj["version_id"], obj["size"],
                                                obj["etag"], event_name)))


def deliver(deps: Deps, bucket: str, *objs: dict) -> dict:
    return hasher.process_batch(sqs_event(*[event_for(bucket, o)["Records"][0] for o in objs]), deps)


def tags_of(s3, bucket: str, obj: dict) -> list[dict]:
    return s3.get_object_tagging(Bucket=bucket, Key=obj["key"], VersionId=obj["version_id"])["TagSet"]


def tag_dict(s3, bucket: str, obj: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags_of(s3, bucket, obj)}


def index_item(dynamodb, table: str, data: bytes) -> dict | None:
    return dynamodb.get_item(TableName=table, Key={"sha256": {"S": hashlib.sha256(data).hexdigest()}},
                             ConsistentRead=True).get("Item")


def unique(label: str) -> bytes:
    return f"{label}-{uuid.uuid4()}".encode()


# ------------------------------------------------------------------ tests

def test_new_upload_becomes_canonical_in_index_and_tags(s3, dynamodb, bucket, table, deps):
    data = unique("small")
    obj = upload(s3, bucket, "products/images/original/look.jpg", data)
    assert deliver(deps, bucket, obj) == {"batchItemFailures": []}
    canonical = dedup_index.get_canonical(dynamodb, table, hashlib.sha256(data).hexdigest())
    assert (canonical.key, canonical.version_id, canonical.size) == (obj["key"], obj["version_id"], len(data))
    assert tag_dict(s3, bucket, obj) == {"content-sha256": hashlib.sha256(data).hexdigest(),
                                         "dedup-status": "canonical"}


def test_empty_object_hashes_to_sha256_of_nothing(s3, dynamodb, bucket, table, deps):
    obj = upload(s3, bucket, f"user-content/uploads/{uuid.uuid4().hex}/empty.txt", b"")
    deliver(deps, bucket, obj)
    assert tag_dict(s3, bucket, obj)["content-sha256"] == hashlib.sha256(b"").hexdigest()


def test_multipart_object_is_hashed_over_all_its_bytes(s3, dynamodb, bucket, table, deps, get_object_calls):
    # SHA-256 multipart checksums are COMPOSITE (a hash of part hashes): must be streamed.
    key = "products/documents/catalogue.pdf"
    parts = [os.urandom(5 * MB), os.urandom(MB + 123)]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256")["UploadId"]
    done = [{"PartNumber": n, **{k: v for k, v in s3.upload_part(
        Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=part,
        ChecksumAlgorithm="SHA256").items() if k in ("ETag", "ChecksumSHA256")}}
        for n, part in enumerate(parts, 1)]
    resp = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                        MultipartUpload={"Parts": done})
    obj = {"key": key, "version_id": resp["VersionId"], "size": 6 * MB + 123, "etag": resp["ETag"]}
    result = hasher.process_batch(event_for(bucket, obj, "ObjectCreated:CompleteMultipartUpload"), deps)
    assert result == {"batchItemFailures": []}
    assert tag_dict(s3, bucket, obj)["content-sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()
    assert get_object_calls == [key]


@pytest.mark.parametrize("key", [
    "brands/media/summer campaign/hero shot 1.jpg",
    "products/images/original/café crème/ß-übergröße 日本.png",
    "user-content/uploads/u1/a+b=c&d%20e.pdf",
])
def test_event_keys_with_spaces_unicode_and_reserved_characters_are_found(s3, dynamodb, bucket, table, deps, key):
    data = unique("keys")
    obj = upload(s3, bucket, key, data)
    assert deliver(deps, bucket, obj) == {"batchItemFailures": []}
    assert index_item(dynamodb, table, data)["key"]["S"] == key


def test_the_events_version_is_hashed_not_the_latest(s3, dynamodb, bucket, table, deps):
    first, second = unique("v1"), unique("v2")
    old = upload(s3, bucket, "brands/logos/mark.svg", first)
    upload(s3, bucket, "brands/logos/mark.svg", second)
    deliver(deps, bucket, old)
    assert tag_dict(s3, bucket, old)["content-sha256"] == hashlib.sha256(first).hexdigest()
    assert index_item(dynamodb, table, second) is None


def test_a_version_delivered_after_a_newer_one_is_kept_not_indexed(s3, dynamodb, bucket, table,
                                                                   deps):
    # Newest-first delivery: the older version is noncurrent (on its way out under the
    # noncurrent-versions rule), so it must not become the canonical of its bytes.
    first, second = unique("v1"), unique("v2")
    old = upload(s3, bucket, "brands/logos/mark.svg", first)
    upload(s3, bucket, "brands/logos/mark.svg", second)
    deliver(deps, bucket, old)
    assert tag_dict(s3, bucket, old) == {"content-sha256": hashlib.sha256(first).hexdigest(),
                                         "dedup-status": "kept"}
    assert index_item(dynamodb, table, first) is None


def test_same_bytes_under_another_key_are_tagged_duplicate_of_the_canonical(s3, dynamodb, bucket, table, deps):
    data = unique("dup")
    canonical = upload(s3, bucket, "products/images/original/a.jpg", data)
    copy = upload(s3, bucket, "products/images/original/a copy.jpg", data)
    deliver(deps, bucket, canonical)
    deliver(deps, bucket, copy)
    assert tag_dict(s3, bucket, copy) == {"content-sha256": hashlib.sha256(data).hexdigest(),
                                          "dedup-status": "duplicate", "duplicate-of": canonical["key"]}
    assert index_item(dynamodb, table, data)["version_id"]["S"] == canonical["version_id"]


@pytest.mark.parametrize(("first_key", "second_key"), [
    ("user-content/uploads/alice-0123456789abcdef/cv.pdf",
     "user-content/uploads/bob-fedcba9876543210/cv.pdf"),
    ("user-content/uploads/alice-0123456789abcdef/a.jpg", "products/images/original/a.jpg"),
    ("products/images/original/b.jpg", "user-content/uploads/alice-0123456789abcdef/b.jpg"),
])
def test_identical_bytes_in_another_callers_folder_are_kept_not_duplicates(
        s3, dynamodb, bucket, table, deps, first_key, second_key):
    # A duplicate may be expired (where configured); the caller could not read the canonical
    # in another caller's folder (nor may a shared object lean on a caller's own upload, which
    # they can erase).
    data = unique("own")
    first = upload(s3, bucket, first_key, data)
    second = upload(s3, bucket, second_key, data)
    deliver(deps, bucket, first)
    deliver(deps, bucket, second)
    assert tag_dict(s3, bucket, second) == {"content-sha256": hashlib.sha256(data).hexdigest(),
                                            "dedup-status": "kept"}
    assert index_item(dynamodb, table, data)["version_id"]["S"] == first["version_id"]


def test_existing_tags_are_kept_when_ours_are_added(s3, dynamodb, bucket, table, deps):
    obj = upload(s3, bucket, "brands/media/tagged.png", unique("tags"), Tagging="owner=studio&season=ss26")
    deliver(deps, bucket, obj)
    tags = tag_dict(s3, bucket, obj)
    assert (tags["owner"], tags["season"], tags["dedup-status"]) == ("studio", "ss26", "canonical")


@pytest.mark.parametrize("copy_too", [False, True])
def test_a_version_whose_tags_leave_no_room_is_claimed_but_not_failed(s3, dynamodb, bucket, table,
                                                                     deps, copy_too):
    # Nine tags of other writers: ours would make eleven. Redelivery cannot make room, so the
    # record succeeds (no DLQ), the index still holds the claim and nothing is dropped; a
    # duplicate left untagged is never expired.
    data = unique("crowded")
    crowded = "&".join(f"t{i}=x" for i in range(9))
    first = upload(s3, bucket, "products/images/original/full.jpg", data,
                   **({} if copy_too else {"Tagging": crowded}))
    objs = [first]
    if copy_too:
        objs.append(upload(s3, bucket, "products/images/original/full copy.jpg", data,
                           Tagging=crowded))
    for obj in objs:
        assert deliver(deps, bucket, obj) == {"batchItemFailures": []}
    assert tag_dict(s3, bucket, objs[-1]) == {f"t{i}": "x" for i in range(9)}
    assert index_item(dynamodb, table, data)["version_id"]["S"] == first["version_id"]


def test_redelivery_leaves_index_and_tags_byte_identical(s3, dynamodb, bucket, table, deps):
    data = unique("redeliver")
    canonical = upload(s3, bucket, "products/images/original/r.jpg", data, Tagging="owner=studio")
    copy = upload(s3, bucket, "products/images/original/r-again.jpg", data)
    events = [event_for(bucket, canonical), event_for(bucket, copy)]
    for event in events:
        hasher.process_batch(event, deps)
    before = (index_item(dynamodb, table, data), tags_of(s3, bucket, canonical), tags_of(s3, bucket, copy))
    for event in events:
        assert hasher.process_batch(event, deps) == {"batchItemFailures": []}
    after = (index_item(dynamodb, table, data), tags_of(s3, bucket, canonical), tags_of(s3, bucket, copy))
    assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)


def test_a_copy_stored_as_another_kind_is_kept_not_expired(s3, dynamodb, bucket, table, deps):
    # The upload API gives no dedup answer across kinds, so this copy is the one the brand's
    # page uses: tagged duplicate, the lifecycle rule would expire it.
    data = unique("cross-kind")
    original = upload(s3, bucket, "products/images/original/sku-4/look.jpg", data)
    film_still = upload(s3, bucket, "brands/media/ss26/look.jpg", data)
    for obj in (original, film_still):
        assert deliver(deps, bucket, obj) == {"batchItemFailures": []}
    assert tag_dict(s3, bucket, original)["dedup-status"] == "canonical"
    tags = tag_dict(s3, bucket, film_still)
    assert tags["dedup-status"] == "kept" and "duplicate-of" not in tags


def test_concurrent_uploads_of_the_same_bytes_make_exactly_one_canonical(s3, dynamodb, bucket, table, deps):
    data = unique("race") * 1000
    objs = [upload(s3, bucket, f"brands/media/racer-{n}/same.bin", data) for n in range(2)]
    start = threading.Barrier(len(objs))
    results = [None] * len(objs)

    def run(n):
        start.wait()
        results[n] = deliver(deps, bucket, objs[n])

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(objs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = sorted(tag_dict(s3, bucket, o)["dedup-status"] for o in objs)
    winner = next(o for o in objs if tag_dict(s3, bucket, o)["dedup-status"] == "canonical")
    assert results == [{"batchItemFailures": []}] * 2
    assert statuses == ["canonical", "duplicate"]
    assert index_item(dynamodb, table, data)["version_id"]["S"] == winner["version_id"]


def test_deleted_version_is_skipped_as_success(s3, dynamodb, bucket, table, deps):
    data = unique("gone")
    obj = upload(s3, bucket, "brands/media/gone.png", data)
    s3.delete_object(Bucket=bucket, Key=obj["key"], VersionId=obj["version_id"])
    assert deliver(deps, bucket, obj) == {"batchItemFailures": []}
    assert index_item(dynamodb, table, data) is None


def test_duplicate_of_a_deleted_canonical_takes_over(s3, dynamodb, bucket, table, deps):
    data = unique("takeover")
    first = upload(s3, bucket, "products/images/original/first.jpg", data)
    deliver(deps, bucket, first)
    s3.delete_object(Bucket=bucket, Key=first["key"], VersionId=first["version_id"])
    second = upload(s3, bucket, "products/images/original/second.jpg", data)
    deliver(deps, bucket, second)
    item = index_item(dynamodb, table, data)
    assert (item["key"]["S"], item["version_id"]["S"]) == (second["key"], second["version_id"])
    assert tag_dict(s3, bucket, second)["dedup-status"] == "canonical"


def test_duplicate_of_an_overwritten_canonical_takes_over(s3, dynamodb, bucket, table, deps):
    # The old version is noncurrent: the noncurrent-versions lifecycle rule will expire it.
    data = unique("overwritten")
    first = upload(s3, bucket, "brands/media/first.png", data)
    deliver(deps, bucket, first)
    upload(s3, bucket, first["key"], unique("new content"))
    second = upload(s3, bucket, "brands/media/second.png", data)
    deliver(deps, bucket, second)
    assert index_item(dynamodb, table, data)["key"]["S"] == second["key"]


def test_same_bytes_reuploaded_to_the_same_key_move_canonical_to_the_new_version(s3, dynamodb, bucket, table, deps):
    # Tagging the new current version "duplicate" would, once expired, hide the key.
    data = unique("reupload")
    first = upload(s3, bucket, "brands/media/again.png", data)
    deliver(deps, bucket, first)
    again = upload(s3, bucket, first["key"], data)
    deliver(deps, bucket, again)
    assert index_item(dynamodb, table, data)["version_id"]["S"] == again["version_id"]
    assert tag_dict(s3, bucket, again)["dedup-status"] == "canonical"


def test_duplicate_of_a_live_canonical_does_not_take_over(s3, dynamodb, bucket, table, deps):
    data = unique("live")
    first = upload(s3, bucket, "brands/media/live.png", data)
    deliver(deps, bucket, first)  # its tag write must not count as a newer version
    second = upload(s3, bucket, "brands/media/live copy.png", data)
    deliver(deps, bucket, second)
    assert index_item(dynamodb, table, data)["key"]["S"] == first["key"]


def test_seaweedfs_single_put_checksum_lacks_full_object_type_so_it_is_streamed(
        s3, bucket, deps, get_object_calls):
    obj = upload(s3, bucket, "products/documents/with-checksum.pdf", unique("cs"), ChecksumAlgorithm="SHA256")
    head = s3.head_object(Bucket=bucket, Key=obj["key"], VersionId=obj["version_id"], ChecksumMode="ENABLED")
    deliver(deps, bucket, obj)
    assert head.get("ChecksumSHA256") and "ChecksumType" not in head
    assert get_object_calls == [obj["key"]]


def test_stored_checksum_with_aws_header_is_used_without_download(s3, bucket, deps, get_object_calls):
    data = unique("cs-aws")
    obj = upload(s3, bucket, "products/documents/aws-style.pdf", data, ChecksumAlgorithm="SHA256")

    def as_aws_sends_it(parsed, **_):  # AWS answers a single-PUT checksum with this type
        if parsed.get("ChecksumSHA256") and "-" not in parsed["ChecksumSHA256"]:
            parsed.setdefault("ChecksumType", "FULL_OBJECT")

    deps.s3.meta.events.register("after-call.s3.HeadObject", as_aws_sends_it)
    deliver(deps, bucket, obj)
    assert get_object_calls == []
    assert tag_dict(s3, bucket, obj)["content-sha256"] == hashlib.sha256(data).hexdigest()


def test_s3_test_event_is_ignored(deps):
    body = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2025-01-01T00:00:00.000Z",
            "Bucket": "assets", "RequestId": "R", "HostId": "H"}
    assert hasher.process_batch(sqs_event(sqs_record(body)), deps) == {"batchItemFailures": []}


def test_entry_point_builds_its_clients_from_the_environment(s3, dynamodb, bucket, table, monkeypatch,
                                                             s3_endpoint, dynamodb_endpoint):
    # The harness exports AWS_ENDPOINT_URL_S3/_DYNAMODB: the Lambda code path, unchanged.
    monkeypatch.setenv("DEDUP_TABLE_NAME", table)
    # A fresh container: dependencies are built from this environment on first use.
    monkeypatch.setattr(hasher, "current_deps", once(hasher.deps_from_env))
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # its cached credentials die with the test
    data = unique("entry")
    obj = upload(s3, bucket, "products/images/original/entry.jpg", data)
    fresh = LambdaContext(remaining_millis=300_000)  # the hasher's timeout
    assert hasher.handler(event_for(bucket, obj), fresh) == {"batchItemFailures": []}
    assert index_item(dynamodb, table, data)["key"]["S"] == obj["key"]


def test_the_entry_point_defers_a_version_it_has_no_time_left_to_stream(
        s3, dynamodb, bucket, table, monkeypatch, caplog):
    # The remaining time comes from Lambda's context: with a few seconds left, the record goes
    # back to the queue untouched (no index entry, no tags) for an invocation with the time.
    monkeypatch.setenv("DEDUP_TABLE_NAME", table)
    monkeypatch.setattr(hasher, "current_deps", once(hasher.deps_from_env))
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    data = unique("late")
    obj = upload(s3, bucket, "products/images/original/late.jpg", data)
    event = event_for(bucket, obj)
    answer = hasher.handler(event, LambdaContext(remaining_millis=5_000))
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert index_item(dynamodb, table, data) is None
    # A deferral is a warning, not an error with a traceback: nothing is broken.
    [deferred] = [r for r in caplog.records if r.getMessage() == "record deferred"]
    assert deferred.levelname == "WARNING" and deferred.reason == "NotEnoughTime"
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
