"""The business counts an operator wants, as EMF lines in the one namespace: URLs issued by
kind, dedup hits (presign); objects hashed, bytes hashed, duplicates found (hasher)."""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from estate_handlers import hasher, presign
from estate_handlers.dedup_index import CanonicalObject
from estate_handlers.hasher import Deps as HasherDeps
from estate_handlers.layout import METRICS_NAMESPACE
from estate_handlers.object_events import ObjectVersion
from estate_handlers.upload_policy import UploadPolicy

from infra.config import UploadApiConfig

ALICE = "arn:aws:iam::123456789012:user/alice"
BODY = b"hello metrics"
SHA = hashlib.sha256(BODY).hexdigest()


@pytest.fixture(autouse=True)
def fresh_metrics():
    presign.metrics.clear_metrics()
    yield
    presign.metrics.clear_metrics()


def emf_lines(capsys) -> list[dict]:
    # What the handler's decorator writes for the invocation: nothing when nothing was counted.
    if presign.metrics.metric_set:
        presign.metrics.flush_metrics()
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()
            if line.startswith('{"_aws"')]


class Answers:
    def __init__(self, real=None, **answers):
        self._real, self._answers = real, answers

    def __getattr__(self, name):
        if name in self._answers:
            return self._answers[name]
        return getattr(self._real, name)


def presign_call(deps, body):
    ev = {"version": "2.0", "routeKey": "POST /uploads", "rawPath": "/uploads",
          "rawQueryString": "", "isBase64Encoded": False, "body": json.dumps(body),
          "requestContext": {"http": {"method": "POST", "path": "/uploads"},
                             "authorizer": {"iam": {"userArn": ALICE}}}}
    return presign.handle(ev, deps)["statusCode"]


def presign_deps(dynamodb, s3_answers=None):
    real = boto3.client("s3", region_name="us-east-1", aws_access_key_id="AKIDUNIT",
                        aws_secret_access_key="secret", config=Config(signature_version="s3v4"))
    return presign.Deps(s3=Answers(real, **(s3_answers or {})), dynamodb=dynamodb,
                        bucket="acme-assets-dev", table="dedup",
                        policy=UploadPolicy.from_json(UploadApiConfig().policy_json()))


def test_issued_upload_urls_are_counted_by_kind(capsys):
    deps = presign_deps(Answers(get_item=lambda **kw: {}))
    assert presign_call(deps, {"kind": "certificate", "filename": "c.pdf",
                               "content_type": "application/pdf", "size": 10}) == 200
    (line,) = emf_lines(capsys)
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == METRICS_NAMESPACE
    assert line["kind"] == "certificate" and line["UrlsIssued"] in (1, 1.0, [1.0])


# A copy a day old by S3's clock: older than any URL that could still replace it.
WRITTEN = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
A_DAY_LATER = {"HTTPHeaders": {"date": "Wed, 02 Dec 2026 12:00:00 GMT"}}


def test_dedup_hits_are_counted(capsys):
    item = CanonicalObject(SHA, "products/images/original/a/b.png", "v1", len(BODY), "2026")
    deps = presign_deps(Answers(get_item=lambda **kw: {"Item": item.to_item()}),
                        {"head_object": lambda **kw: {"VersionId": "v1", "LastModified": WRITTEN,
                                                      "ResponseMetadata": A_DAY_LATER}})
    assert presign_call(deps, {"kind": "product-image", "filename": "b.png",
                               "content_type": "image/png", "size": len(BODY),
                               "sha256": SHA}) == 200
    (line,) = emf_lines(capsys)
    assert "DedupHits" in line and "UrlsIssued" not in line


@pytest.mark.parametrize("failure", [
    ClientError({"Error": {"Code": "InternalServerError", "Message": "down"},
                 "ResponseMetadata": {"HTTPStatusCode": 500}}, "GetItem"),
    ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"},
                 "ResponseMetadata": {"HTTPStatusCode": 400}}, "GetItem"),
    ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")])
def test_an_unavailable_dedup_index_still_issues_the_upload_and_counts_it(failure, capsys):
    # The health route probes S3 only: failing uploads on a DynamoDB outage would stop them
    # without a failover. The upload is issued; the hasher dedups it later.
    def get_item(**kw):
        raise failure

    deps = presign_deps(Answers(get_item=get_item))
    ev_body = {"kind": "product-image", "filename": "b.png", "content_type": "image/png",
               "size": len(BODY), "sha256": SHA}
    assert presign_call(deps, ev_body) == 200
    (line,) = emf_lines(capsys)
    assert "DedupLookupsFailed" in line and "UrlsIssued" in line and "DedupHits" not in line


def test_the_dedup_lookup_gives_up_within_the_functions_time():
    # 10 s for the whole request: the lookup's worst case is its attempts' connect and read
    # timeouts plus standard mode's backoff between them (at most 1 s for the first retry).
    config = presign.make_dynamodb_client("us-east-1").meta.config
    attempts = config.retries["total_max_attempts"]
    assert attempts * (config.connect_timeout + config.read_timeout) + (attempts - 1) * 1 <= 5


def test_a_denied_dedup_lookup_is_an_error_not_a_silent_miss(capsys):
    # A wrong table or a lost permission must reach the Fault alarm (a 500), not turn dedup off.
    def get_item(**kw):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, "GetItem")

    deps = presign_deps(Answers(get_item=get_item))
    assert presign_call(deps, {"kind": "product-image", "filename": "b.png",
                               "content_type": "image/png", "size": len(BODY),
                               "sha256": SHA}) == 500


def test_refused_requests_count_nothing(capsys):
    deps = presign_deps(Answers())
    assert presign_call(deps, {"kind": "nope"}) == 400
    assert emf_lines(capsys) == []


def test_hasher_counts_bytes_hashed_and_duplicates(monkeypatch, capsys):
    canonical = CanonicalObject(SHA, "brands/media/first.png", "v1", len(BODY), "2026")
    monkeypatch.setattr(hasher, "hash_version",
                        lambda s3, obj, chunk, head=None: (SHA, len(BODY), "streamed"))
    monkeypatch.setattr(hasher, "claim", lambda *args: canonical)
    monkeypatch.setattr(hasher, "canonical_is_live", lambda *args: True)  # the current version
    monkeypatch.setattr(hasher, "apply_tags", lambda *args: True)
    hasher.process_object(ObjectVersion("assets", "brands/media/second.png", "v2"),
                          HasherDeps(s3=None, dynamodb=None, table_name="t"))
    (line,) = emf_lines(capsys)
    assert line["BytesHashed"] in (len(BODY), [float(len(BODY))])
    assert line["DuplicatesFound"] in (1, 1.0, [1.0]) and line["HashedObjects"] in (1, 1.0, [1.0])



def test_hasher_counts_a_version_left_untagged_and_no_duplicate(monkeypatch, capsys):
    canonical = CanonicalObject(SHA, "brands/media/first.png", "v1", len(BODY), "2026")
    monkeypatch.setattr(hasher, "hash_version",
                        lambda s3, obj, chunk, head=None: (SHA, len(BODY), "streamed"))
    monkeypatch.setattr(hasher, "claim", lambda *args: canonical)
    monkeypatch.setattr(hasher, "canonical_is_live", lambda *args: True)

    def no_room(*args):
        raise hasher.TooManyTags("ten tags already")

    monkeypatch.setattr(hasher, "apply_tags", no_room)
    outcome = hasher.process_object(ObjectVersion("assets", "brands/media/second.png", "v2"),
                                    HasherDeps(s3=None, dynamodb=None, table_name="t"))
    assert outcome == "untagged"
    (line,) = emf_lines(capsys)
    assert "ObjectsLeftUntagged" in line and "HashedObjects" in line
    assert "DuplicatesFound" not in line  # an untagged duplicate never expires
