"""Failures a function catches and answers for — a 500 from the upload API, a queue record
handed back — end the invocation successfully, so Lambda's ``Errors`` never counts them: each
is counted as ``HandledFaults`` (one EMF document with ``service`` alone), which the
Handled-Faults alarms read."""
from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response
from botocore.exceptions import ClientError
from estate_handlers import hasher, presign, runtime
from estate_handlers.hasher import NotEnoughTime
from estate_handlers.layout import HANDLED_FAULTS_METRIC
from estate_handlers.renditions import handler as renditions
from lambda_context import one_invocation
from test_presign_hostile_input import VALID, event, fresh_deps


@pytest.fixture(autouse=True)
def named_service(monkeypatch):
    # In Lambda, POWERTOOLS_SERVICE_NAME names it (the function's name).
    monkeypatch.setattr(runtime.metrics, "service", "acme-dev-function")


def _faults(out: str) -> list[dict]:
    """The HandledFaults EMF documents printed, as (namespace, dimensions, value)."""
    docs = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    return [(d["_aws"]["CloudWatchMetrics"][0]["Namespace"],
             d["_aws"]["CloudWatchMetrics"][0]["Dimensions"], d["service"],
             d[HANDLED_FAULTS_METRIC]) for d in docs if HANDLED_FAULTS_METRIC in d]


def test_a_500_from_the_upload_api_is_counted_once_with_the_service_alone(capsys):
    deps = fresh_deps()

    def denied(**_kwargs):  # not an outage: a denied dedup lookup is a 500, not passed over
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}},
                          "GetItem")

    deps.dynamodb.get_item = denied
    response = one_invocation(presign.handle, event(body=json.dumps({**VALID,
                                                                     "sha256": "a" * 64})), deps)
    assert response["statusCode"] == 500
    assert _faults(capsys.readouterr().out) == [
        (runtime.metrics.namespace, [["service"]], "acme-dev-function", [1.0])]


def test_a_4xx_is_the_callers_mistake_and_not_counted(capsys):
    response = one_invocation(presign.handle, event(body="not json"), fresh_deps())
    assert response["statusCode"] == 400
    assert _faults(capsys.readouterr().out) == []


def test_each_failed_queue_record_is_counted_and_a_deferred_one_is_not(capsys):
    def record_handler(record):
        if record.message_id == "deferred":
            raise NotEnoughTime("no time left for it")
        if record.message_id.startswith("bad"):
            raise ValueError("broken")

    event = {"Records": [{"messageId": name, "body": "{}", "receiptHandle": "r",
                          "eventSource": "aws:sqs", "attributes": {}}
                         for name in ("bad-1", "ok", "deferred", "bad-2")]}
    result = process_partial_response(event=event, processor=runtime.SqsBatch(),
                                      record_handler=record_handler)
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == [
        "bad-1", "deferred", "bad-2"]
    assert len(_faults(capsys.readouterr().out)) == 2


def test_a_batch_where_every_record_failed_is_reported_and_counted_not_raised(capsys):
    event = {"Records": [{"messageId": "bad", "body": "not json"}]}
    result = hasher.process_batch(event, hasher.Deps(s3=None, dynamodb=None, table_name="t"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert _faults(capsys.readouterr().out) == [
        (runtime.metrics.namespace, [["service"]], "acme-dev-function", [1.0])]


def test_the_renditions_handler_counts_in_its_own_namespace(capsys):
    event = {"Records": [{"messageId": "bad", "body": "not json", "receiptHandle": "r",
                          "eventSource": "aws:sqs", "attributes": {}}]}
    result = process_partial_response(event=event, processor=renditions.processor,
                                      record_handler=renditions.record_handler)
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert _faults(capsys.readouterr().out) == [
        (renditions.METRICS_NAMESPACE, [["service"]], "renditions", [1.0])]
