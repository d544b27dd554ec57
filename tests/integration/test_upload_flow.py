"""End to end on the local servers: the presign API issues a PUT, the client uploads, S3's
event reaches the hasher, and the next request for the same bytes is deduplicated."""
from __future__ import annotations

import hashlib

import boto3
from aws_events import s3_notification, sqs_event, sqs_record
from estate_handlers import hasher
from estate_handlers.hasher import Deps
from local_services import http

ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:iam::123456789012:user/bob"
BODY = b"\x89PNG\r\n\x1a\n" + b"look 07, front, 4k" * 500


def _request_put(api, caller=ALICE):
    return api.upload(caller=caller, kind="product-image", filename="look 07.png",
                      content_type="image/png", size=len(BODY),
                      sha256=hashlib.sha256(BODY).hexdigest())


def test_an_upload_hashed_by_the_hasher_dedups_the_next_request(presign_api, s3_client,
                                                               s3_endpoint, dynamodb_endpoint,
                                                               settled_canonicals):
    status, first = _request_put(presign_api)
    assert status == 200 and first["deduplicated"] is False
    put_status, _ = http("PUT", first["upload"]["url"], BODY, first["upload"]["headers"])
    assert put_status == 200

    head = s3_client.head_object(Bucket=presign_api.bucket, Key=first["key"])
    event = sqs_event(sqs_record(s3_notification(presign_api.bucket, first["key"],
                                                 head["VersionId"], len(BODY), head["ETag"])))
    config = hasher.client_config()
    deps = Deps(s3=boto3.client("s3", endpoint_url=s3_endpoint, config=config),
                dynamodb=boto3.client("dynamodb", endpoint_url=dynamodb_endpoint, config=config),
                table_name=presign_api.table, chunk_bytes=64 * 1024)
    assert hasher.process_batch(event, deps) == {"batchItemFailures": []}

    status, second = _request_put(presign_api, caller=BOB)
    assert (status, second) == (200, {"deduplicated": True, "key": first["key"]})


def test_before_the_hasher_runs_the_same_bytes_are_not_deduplicated(presign_api):
    status, first = _request_put(presign_api)
    assert status == 200
    assert http("PUT", first["upload"]["url"], BODY, first["upload"]["headers"])[0] == 200
    status, second = _request_put(presign_api, caller=BOB)
    assert status == 200 and second["deduplicated"] is False
    assert second["key"] != first["key"]
