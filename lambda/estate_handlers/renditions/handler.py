"""Lambda entry points of the renditions function: thin; the work is in ``pipeline``.

``handler`` serves two invokers:

- the SQS event source (``Records``): each message is read through
  ``estate_handlers.object_events.objects_in_message`` (today an S3 ObjectCreated
  notification; a "scan passed" event later, without a change here). Powertools'
  ``BatchProcessor`` reports failed records (``batchItemFailures``): those are redelivered
  and, after the queue's maxReceiveCount, land in the dead-letter queue. A rejected image is
  *not* a failure: it is tagged and its record succeeds, so it is never retried.
- S3 Batch Operations, LambdaInvoke with ``invocationSchemaVersion`` 2.0 (the backfill):
  one result per task — ``Succeeded``; ``PermanentFailure`` for a rejected original (so the
  job's completion report lists it), an original this function may not read (403: e.g. one
  the upload gate holds) or an unexpected error; ``TemporaryFailure`` for another S3 error or
  a network one, which Batch Operations retries.
"""
from __future__ import annotations

import os
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import BotoCoreError, ClientError

from estate_handlers.emf import log_metrics
from estate_handlers.object_events import ObjectVersion, objects_in_message
from estate_handlers.renditions.pipeline import REJECTED, Outcome, process_object
from estate_handlers.renditions.settings import CONFIG_ENV, Settings
from estate_handlers.runtime import SqsBatch
from estate_handlers.s3_errors import error_code, http_status

METRICS_NAMESPACE = "StorageEstate/Renditions"
REJECTED_METRIC = "RejectedOriginals"
MAX_ATTEMPTS = 5  # per S3 call, first try included (botocore "standard" retry mode)

logger = Logger(service="renditions")
metrics = Metrics(namespace=METRICS_NAMESPACE, service="renditions")
# A batch where every record failed is reported like any other (each record retried, then the
# DLQ), not raised as a function error, as the hasher and the verdict handler do; each failed
# record is counted in this function's namespace.
processor = SqsBatch(metrics)

_s3 = None
_settings: Settings | None = None


def s3_client():
    global _s3
    if _s3 is None:
        import boto3
        from botocore.config import Config

        _s3 = boto3.client("s3", config=Config(
            retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
            connect_timeout=5, read_timeout=60))
    return _s3


def settings() -> Settings:
    global _settings
    if _settings is None:
        raw = os.environ.get(CONFIG_ENV)
        _settings = Settings.from_json(raw) if raw else Settings()
    return _settings


def handle_object(obj: ObjectVersion) -> Outcome:
    outcome = process_object(s3_client(), obj, settings())
    logger.info(f"original {outcome.status}", extra={
        "bucket": obj.bucket, "key": obj.key, "version_id": obj.version_id,
        "outcome": outcome.status, "detail": outcome.detail, "written": outcome.written})
    if outcome.status == REJECTED:
        metrics.add_metric(name=REJECTED_METRIC, unit=MetricUnit.Count, value=1)
    return outcome


def record_handler(record: SQSRecord) -> None:
    for obj in objects_in_message(record.body):
        handle_object(obj)


def batch_operations_task(task: dict) -> dict:
    bucket = task.get("s3Bucket") or task["s3BucketArn"].rsplit(":", 1)[-1]
    # Batch Operations passes keys URL-encoded, as its manifest holds them.
    obj = ObjectVersion(bucket, unquote_plus(task["s3Key"]), task.get("s3VersionId") or None)
    try:
        outcome = handle_object(obj)
    except ClientError as exc:
        code = error_code(exc) or "ClientError"
        if http_status(exc) == 403:  # retrying changes nothing; the report names it
            logger.warning("task refused", extra={"key": obj.key, "error": code})
            return {"taskId": task["taskId"], "resultCode": "PermanentFailure", "resultString": code}
        logger.warning("task failed, Batch Operations retries it", extra={"key": obj.key, "error": code})
        return {"taskId": task["taskId"], "resultCode": "TemporaryFailure", "resultString": code}
    except BotoCoreError as exc:  # the network, once botocore's own retries are spent
        logger.warning("task failed, Batch Operations retries it",
                       extra={"key": obj.key, "error": type(exc).__name__})
        return {"taskId": task["taskId"], "resultCode": "TemporaryFailure",
                "resultString": type(exc).__name__}
    except Exception as exc:  # noqa: BLE001 - one task's bug must not fail the others
        logger.exception("task failed", extra={"key": obj.key})
        return {"taskId": task["taskId"], "resultCode": "PermanentFailure",
                "resultString": type(exc).__name__}
    code = "PermanentFailure" if outcome.status == REJECTED else "Succeeded"
    return {"taskId": task["taskId"], "resultCode": code,
            "resultString": f"{outcome.status}: {outcome.detail}"[:1000]}


def batch_operations_response(event: dict) -> dict:
    return {
        "invocationSchemaVersion": event.get("invocationSchemaVersion", "2.0"),
        "treatMissingKeysAs": "PermanentFailure",
        "invocationId": event["invocationId"],
        "results": [batch_operations_task(task) for task in event["tasks"]],
    }


@log_metrics(metrics)
@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    if "invocationSchemaVersion" in event:
        return batch_operations_response(event)
    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=processor, context=context)
