"""Unit tests of the upload hasher: pure functions, and AWS behaviour through real botocore
clients whose HTTP layer is answered in-process (retries and parsing are botocore's own)."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import logging

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from estate_handlers import dedup_index, hasher, layout
from estate_handlers.dedup_index import CanonicalObject
from estate_handlers.hasher import Deps, ObjectVersion
from estate_handlers.runtime import once
from lambda_context import LambdaContext

SHA_OF_HELLO = hashlib.sha256(b"hello").hexdigest()
KEY = "products/images/original/look 1.jpg"


def s3_message(*records: dict) -> str:
    return json.dumps({"Records": list(records)})


def created(key_as_sent: str, version_id: str | None = "v1", bucket: str = "assets") -> dict:
    obj = {"key": key_as_sent, "size": 5, "eTag": "e", "sequencer": "0A"}
    if version_id is not None:
        obj["versionId"] = version_id
    return {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": bucket}, "object": obj}}


def client(service: str, answer, calls: list | None = None):
    """A real botocore client whose HTTP sends are answered by ``answer(request)``."""
    c = boto3.client(service, region_name="eu-west-1", aws_access_key_id="k",
                     aws_secret_access_key="s", config=hasher.client_config())

    def before_send(request, **_):
        if calls is not None:
            calls.append(request)
        return answer(request)

    c.meta.events.register("before-send", before_send)
    return c


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_):
        yield self._body


def http(status: int, headers: dict | None = None, body: bytes = b"") -> AWSResponse:
    return AWSResponse("https://example", status, headers or {}, _Raw(body))


def slow_down(_request) -> AWSResponse:
    return http(503, body=b"<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>")


def full_object_head(sha_hex: str, size: int = 5):
    def answer(_request):
        return http(200, {"Content-Length": str(size), "x-amz-version-id": "v1",
                          "x-amz-checksum-sha256": base64.b64encode(bytes.fromhex(sha_hex)).decode(),
                          "x-amz-checksum-type": "FULL_OBJECT"})
    return answer


@pytest.fixture
def no_backoff_sleep(monkeypatch):
    """botocore sleeps between attempts; record the waits instead of waiting."""
    waits = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", waits.append)
    return waits


# ------------------------------------------------------------------ event parsing

def test_key_is_form_decoded_plus_is_space_and_percent_is_utf8():
    [obj] = hasher.objects_in_message(s3_message(created("brands/media/caf%C3%A9+cr%C3%A8me+%2B1.png")))
    assert obj.key == "brands/media/café crème +1.png"


def test_event_names_the_version_and_bucket():
    [obj] = hasher.objects_in_message(s3_message(created("brands/a", version_id="3HL4kqtJ", bucket="b1")))
    assert (obj.bucket, obj.version_id) == ("b1", "3HL4kqtJ")


def test_s3_test_event_announces_no_objects():
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2025-01-01T00:00:00.000Z",
                       "Bucket": "assets", "RequestId": "r", "HostId": "h"})
    assert hasher.objects_in_message(body) == []


def test_non_created_events_announce_no_objects():
    record = created("brands/a") | {"eventName": "ObjectRemoved:Delete"}
    assert hasher.objects_in_message(s3_message(record)) == []


@pytest.mark.parametrize("key", ["products/images/original/a.jpg", "products/documents/certificates/c.pdf",
                                 "brands/logos/l.svg", "user-content/uploads/u/1.bin"])
def test_upload_prefixes_are_hashed(key):
    assert hasher.is_hashed_key(key)


@pytest.mark.parametrize("key", ["products/images/thumbnails/a.jpg", "products/images/processed/a.jpg",
                                 "user-content/exports/e.zip", "brands/logos/"])
def test_renditions_exports_and_folder_placeholders_are_not_hashed(key):
    assert not hasher.is_hashed_key(key)


# ------------------------------------------------------------------ hashing

class CountingBody(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.requested = []

    def read(self, size=-1):
        self.requested.append(size)
        return super().read(size)


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 3 * 4096 + 17])
def test_streamed_digest_equals_hashlib_over_the_whole_bytes(size):
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    assert hasher.sha256_stream(io.BytesIO(data), chunk_bytes=4096) == (hashlib.sha256(data).hexdigest(), size)


def test_stream_is_read_in_bounded_chunks_never_whole():
    body = CountingBody(b"x" * 10_000)
    hasher.sha256_stream(body, chunk_bytes=4096)
    assert body.requested and all(size == 4096 for size in body.requested)


def test_full_object_checksum_is_the_objects_sha256():
    head = {"ChecksumSHA256": base64.b64encode(hashlib.sha256(b"hello").digest()).decode(),
            "ChecksumType": "FULL_OBJECT"}
    assert hasher.full_object_sha256(head) == SHA_OF_HELLO


def test_composite_multipart_checksum_is_not_used():
    head = {"ChecksumSHA256": base64.b64encode(b"\x01" * 32).decode() + "-2", "ChecksumType": "COMPOSITE"}
    assert hasher.full_object_sha256(head) is None


def test_checksum_without_type_is_not_trusted():
    # SeaweedFS 4.48 answers single-PUT checksums without x-amz-checksum-type; AWS sends FULL_OBJECT.
    head = {"ChecksumSHA256": base64.b64encode(hashlib.sha256(b"hello").digest()).decode()}
    assert hasher.full_object_sha256(head) is None


def test_object_with_full_object_checksum_is_not_downloaded():
    s3 = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s")
    with Stubber(s3) as stub:  # an unexpected GetObject raises UnStubbedResponseError
        stub.add_response("head_object", {
            "ContentLength": 5, "ChecksumType": "FULL_OBJECT",
            "ChecksumSHA256": base64.b64encode(hashlib.sha256(b"hello").digest()).decode()},
            {"Bucket": "assets", "Key": KEY, "VersionId": "v1", "ChecksumMode": "ENABLED"})
        result = hasher.hash_version(s3, ObjectVersion("assets", KEY, "v1"), 4096)
        stub.assert_no_pending_responses()
    assert result == (SHA_OF_HELLO, 5, "stored-checksum")


def test_object_without_checksum_is_streamed_from_the_events_version():
    s3 = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s")
    with Stubber(s3) as stub:
        stub.add_response("head_object", {"ContentLength": 5},
                          {"Bucket": "assets", "Key": KEY, "VersionId": "v1", "ChecksumMode": "ENABLED"})
        stub.add_response("get_object", {"Body": io.BytesIO(b"hello")},
                          {"Bucket": "assets", "Key": KEY, "VersionId": "v1"})
        result = hasher.hash_version(s3, ObjectVersion("assets", KEY, "v1"), 4096)
    assert result == (SHA_OF_HELLO, 5, "streamed")


@pytest.mark.parametrize("seconds_left, streamed", [(60, False), (200, True)])
def test_a_version_is_streamed_only_with_time_left_to_finish_it(seconds_left, streamed):
    # 5 GB at the 50 MB/s allowed for needs ~122 s: with 60 s left the record goes back to the
    # queue (a later invocation has the time) rather than the timeout failing the whole batch.
    size = 5 * 1024 ** 3
    s3 = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s")
    with Stubber(s3) as stub:  # an unexpected GetObject raises UnStubbedResponseError
        stub.add_response("head_object", {"ContentLength": size},
                          {"Bucket": "assets", "Key": KEY, "VersionId": "v1", "ChecksumMode": "ENABLED"})
        if streamed:
            stub.add_response("get_object", {"Body": io.BytesIO(b"hello")},
                              {"Bucket": "assets", "Key": KEY, "VersionId": "v1"})
            result = hasher.hash_version(s3, ObjectVersion("assets", KEY, "v1"), 4096,
                                         lambda: seconds_left)
            assert result[2] == "streamed"
        else:
            with pytest.raises(hasher.NotEnoughTime, match="retried in another invocation"):
                hasher.hash_version(s3, ObjectVersion("assets", KEY, "v1"), 4096,
                                    lambda: seconds_left)
        stub.assert_no_pending_responses()


@pytest.mark.parametrize("raw,expected", [(None, 1024 * 1024), ("262144", 262144)])
def test_chunk_size_comes_from_env_with_a_default(raw, expected):
    assert hasher.chunk_bytes_from_env({} if raw is None else {"HASH_CHUNK_BYTES": raw}) == expected


@pytest.mark.parametrize("raw", ["1", str(64 * 1024 * 1024)])
def test_chunk_size_outside_the_memory_budget_is_refused(raw):
    with pytest.raises(ValueError, match="HASH_CHUNK_BYTES"):
        hasher.chunk_bytes_from_env({"HASH_CHUNK_BYTES": raw})


# ------------------------------------------------------------------ tags

CANON = CanonicalObject(SHA_OF_HELLO, "products/images/original/first.png", "v0", 5,
                        "2025-01-01T00:00:00+00:00")


def test_canonical_version_gets_hash_and_canonical_status_only():
    obj = ObjectVersion("assets", CANON.key, CANON.version_id)
    assert hasher.dedup_tags(SHA_OF_HELLO, CANON, obj) == {
        "content-sha256": SHA_OF_HELLO, "dedup-status": "canonical"}


def test_duplicate_points_at_the_canonical_key():
    tags = hasher.dedup_tags(SHA_OF_HELLO, CANON, ObjectVersion("assets", KEY, "v9"))
    assert tags == {"content-sha256": SHA_OF_HELLO, "dedup-status": "duplicate",
                    "duplicate-of": "products/images/original/first.png"}


@pytest.mark.parametrize("copy_key", ["brands/media/look 1.jpg", "products/images/original-x/a.jpg",
                                      "products/documents/certificates/look.jpg"])
def test_the_same_bytes_stored_as_another_kind_are_kept(copy_key):
    tags = hasher.dedup_tags(SHA_OF_HELLO, CANON, ObjectVersion("assets", copy_key, "v9"))
    assert tags == {"content-sha256": SHA_OF_HELLO, "dedup-status": "kept"}


def test_other_version_of_the_same_key_is_a_duplicate_of_the_indexed_version():
    tags = hasher.dedup_tags(SHA_OF_HELLO, CANON, ObjectVersion("assets", CANON.key, "v1"))
    assert tags["dedup-status"] == "duplicate"


@pytest.mark.parametrize("canonical_key", ["products/images/original/" + "a" * 240,
                                           "products/images/original/look (1).png",
                                           "products/images/original/a&b.png"])
def test_duplicate_of_falls_back_to_the_index_when_the_key_is_not_a_tag_value(canonical_key):
    canon = CanonicalObject(SHA_OF_HELLO, canonical_key, "v0", 5, "t")
    tags = hasher.dedup_tags(SHA_OF_HELLO, canon, ObjectVersion("assets", KEY, "v9"))
    assert tags["duplicate-of"] == "dedup-index:" + SHA_OF_HELLO


def test_unicode_letters_spaces_and_s3_punctuation_are_valid_tag_values():
    assert hasher.is_valid_tag_value("brands/media/café crème_1.2:3=4+5-6@x.png")


def test_merge_keeps_other_tags_and_replaces_ours():
    existing = [{"Key": "owner", "Value": "team-a"}, {"Key": "dedup-status", "Value": "duplicate"},
                {"Key": "duplicate-of", "Value": "old"}]
    merged = hasher.merge_tags(existing, {"content-sha256": SHA_OF_HELLO, "dedup-status": "canonical"})
    assert merged == [{"Key": "owner", "Value": "team-a"}, {"Key": "content-sha256", "Value": SHA_OF_HELLO},
                      {"Key": "dedup-status", "Value": "canonical"}]


def test_tags_already_in_place_are_not_rewritten():
    s3 = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s")
    ours = {"content-sha256": SHA_OF_HELLO, "dedup-status": "canonical"}
    with Stubber(s3) as stub:  # no PutObjectTagging queued: a write would raise
        stub.add_response("get_object_tagging", {"TagSet": [
            {"Key": "dedup-status", "Value": "canonical"}, {"Key": "content-sha256", "Value": SHA_OF_HELLO}]})
        assert hasher.apply_tags(s3, ObjectVersion("assets", KEY, "v1"), ours) is False


def test_tags_are_not_dropped_to_make_room_for_ours():
    s3 = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s")
    with Stubber(s3) as stub:
        stub.add_response("get_object_tagging", {"TagSet": [{"Key": f"t{i}", "Value": "x"} for i in range(9)]})
        with pytest.raises(hasher.TooManyTags):
            hasher.apply_tags(s3, ObjectVersion("assets", KEY, "v1"), {"content-sha256": "a", "dedup-status": "b"})


def test_tag_strings_never_change_under_objects_already_tagged():
    # Objects in the store carry these literal tags; renaming one would orphan them.
    assert (layout.DEDUP_STATUS_TAG, layout.DUPLICATE, layout.CANONICAL,
            layout.CONTENT_SHA256_TAG, layout.DUPLICATE_OF_TAG) == (
        "dedup-status", "duplicate", "canonical", "content-sha256", "duplicate-of")


# ------------------------------------------------------------------ claim (index decisions)

@pytest.fixture
def index(monkeypatch):
    """The index functions replaced by a scripted sequence, to drive claim() through races."""
    script = {"puts": [], "replaces": [], "live": []}
    monkeypatch.setattr(dedup_index, "put_canonical_if_absent", lambda *_: script["puts"].pop(0))
    monkeypatch.setattr(dedup_index, "replace_canonical", lambda *_: script["replaces"].pop(0))
    monkeypatch.setattr(hasher, "canonical_is_live", lambda *_: script["live"].pop(0))
    return script


def candidate(key=KEY, version="v9"):
    return CanonicalObject(SHA_OF_HELLO, key, version, 5, "now")


def test_losing_a_take_over_race_reads_again_and_yields_to_the_winner(index):
    winner = candidate("brands/winner", "w1")
    index["puts"] = [CANON, winner]       # deleted canonical, then the other taker's item
    index["live"] = [False, True]
    index["replaces"] = [False]           # the other taker's conditional update won
    result = hasher.claim(None, "t", None, ObjectVersion("assets", KEY, "v9"), candidate())
    assert result == winner


def test_take_over_keeps_first_seen_of_the_bytes(index):
    index["puts"], index["live"], index["replaces"] = [CANON], [False], [True]
    result = hasher.claim(None, "t", None, ObjectVersion("assets", KEY, "v9"), candidate())
    assert (result.key, result.version_id, result.first_seen) == (KEY, "v9", CANON.first_seen)


def test_endless_contention_gives_the_record_back_to_sqs(index):
    index["puts"] = [CANON] * hasher.MAX_CLAIM_ROUNDS
    index["live"] = [False] * hasher.MAX_CLAIM_ROUNDS
    index["replaces"] = [False] * hasher.MAX_CLAIM_ROUNDS
    with pytest.raises(dedup_index.ConcurrentIndexChange):
        hasher.claim(None, "t", None, ObjectVersion("assets", KEY, "v9"), candidate())


# ------------------------------------------------------------------ throttling and failures

def test_s3_throttling_is_retried_with_backoff_then_succeeds(no_backoff_sleep):
    calls = []
    answers = [slow_down, slow_down, full_object_head(SHA_OF_HELLO)]
    s3 = client("s3", lambda request: answers[len(calls) - 1](request), calls)
    assert hasher.hash_version(s3, ObjectVersion("assets", KEY, "v1"), 4096)[0] == SHA_OF_HELLO
    assert len(calls) == 3 and len(no_backoff_sleep) == 2


def test_s3_throttling_that_persists_fails_only_that_record(no_backoff_sleep):
    calls = []
    s3 = client("s3", slow_down, calls)
    event = {"Records": [
        {"messageId": "throttled", "body": s3_message(created("brands/a"))},
        {"messageId": "test-event", "body": json.dumps({"Event": "s3:TestEvent"})},
    ]}
    result = hasher.process_batch(event, Deps(s3=s3, dynamodb=None, table_name="t"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "throttled"}]}
    assert len(calls) == hasher.MAX_ATTEMPTS  # bounded: botocore gave up after max_attempts


def test_dynamodb_throttling_that_persists_reports_the_record(no_backoff_sleep):
    put_calls = []

    def throttled(_request):
        return http(400, {"x-amzn-ErrorType": "ProvisionedThroughputExceededException"}, json.dumps(
            {"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
             "message": "slow down"}).encode())

    s3 = client("s3", full_object_head(SHA_OF_HELLO))
    dynamodb = client("dynamodb", throttled, put_calls)
    event = {"Records": [{"messageId": "m1", "body": s3_message(created("brands/a"))}]}
    result = hasher.process_batch(event, Deps(s3=s3, dynamodb=dynamodb, table_name="t"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert len(put_calls) == hasher.MAX_ATTEMPTS


def test_missing_version_is_skipped_not_failed():
    s3 = client("s3", lambda _r: http(404, {"x-amz-request-id": "r"}))  # HEAD 404: no body
    event = {"Records": [{"messageId": "m1", "body": s3_message(created("brands/gone"))}]}
    assert hasher.process_batch(event, Deps(s3=s3, dynamodb=None, table_name="t")) == {"batchItemFailures": []}


def test_access_denied_fails_the_record():
    s3 = client("s3", lambda _r: http(403))
    event = {"Records": [{"messageId": "m1", "body": s3_message(created("brands/a"))}]}
    result = hasher.process_batch(event, Deps(s3=s3, dynamodb=None, table_name="t"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_malformed_message_fails_alone():
    event = {"Records": [{"messageId": "bad", "body": "not json"},
                         {"messageId": "ok", "body": json.dumps({"Event": "s3:TestEvent"})}]}
    result = hasher.process_batch(event, Deps(s3=None, dynamodb=None, table_name="t"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad"}]}


def test_logs_are_one_json_object_per_line():
    out = io.StringIO()
    capture = logging.StreamHandler(out)
    capture.setFormatter(hasher.logger.registered_formatter)
    hasher.logger.addHandler(capture)
    try:
        event = {"Records": [{"messageId": "m1", "body": s3_message(created("products/images/thumbnails/t.jpg"))}]}
        hasher.process_batch(event, Deps(s3=None, dynamodb=None, table_name="t"))
    finally:
        hasher.logger.removeHandler(capture)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines and lines[0]["key"] == "products/images/thumbnails/t.jpg" and lines[0]["level"] == "INFO"


def test_entry_point_reads_table_and_chunk_size_from_env(monkeypatch):
    monkeypatch.setenv("DEDUP_TABLE_NAME", "dedup-table")
    monkeypatch.setenv("HASH_CHUNK_BYTES", "131072")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    # A fresh container: dependencies are built from this environment on first use.
    monkeypatch.setattr(hasher, "current_deps", once(hasher.deps_from_env))
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # its cached credentials die with the test
    seen = {}
    monkeypatch.setattr(hasher, "process_batch", lambda event, deps: seen.setdefault("deps", deps) and {})
    hasher.handler({"Records": []}, LambdaContext())
    deps = seen["deps"]
    assert (deps.table_name, deps.chunk_bytes) == ("dedup-table", 131072)
    assert deps.s3.meta.config.retries["mode"] == "standard"
