"""The exact event shapes AWS delivers: an S3 event notification inside an SQS record, an API
Gateway HTTP API request, GuardDuty's Malware Protection events."""
from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import quote_plus


def aws_event_key(key: str) -> str:
    """S3's encoding of keys in notifications: form-encoded UTF-8, "/" kept, space as "+"."""
    return quote_plus(key, safe="/")


def s3_notification(bucket: str, key: str, version_id: str, size: int, etag: str,
                    event_name: str = "ObjectCreated:Put") -> dict:
    now = datetime.now(UTC)
    return {"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "eu-west-1",
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.10"},
        "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                             "x-amz-id-2": "EXAMPLE/id2"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "upload-hasher",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3EXAMPLE"},
                       "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": aws_event_key(key), "size": size, "eTag": etag.strip('"'),
                       "versionId": version_id, "sequencer": f"{time.time_ns():X}"},
        },
    }]}


def http_api_event(method: str, path: str, *, body=None, query: str | None = None,
                   caller: str | None) -> dict:
    """An API Gateway HTTP API (payload 2.0) request event with IAM authorizer context."""
    event = {
        "version": "2.0", "routeKey": f"{method} {path}", "rawPath": path,
        "rawQueryString": query or "", "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": method, "path": path},
                           "requestId": uuid.uuid4().hex},
        "isBase64Encoded": False,
    }
    if caller is not None:
        event["requestContext"]["authorizer"] = {"iam": {"userArn": caller}}
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def sqs_record(body: dict | str) -> dict:
    text = body if isinstance(body, str) else json.dumps(body)
    now_ms = str(int(time.time() * 1000))
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "AQEB" + uuid.uuid4().hex,
        "body": text,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": now_ms,
                       "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": now_ms},
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:upload-hasher",
        "awsRegion": "eu-west-1",
    }


def sqs_event(*records: dict) -> dict:
    return {"Records": list(records)}




# GuardDuty Malware Protection for S3: the scan-result event on the default event bus, in the
# shape of AWS's samples ("Monitoring S3 object scans with Amazon EventBridge"); an
# EventBridge rule delivers it to SQS as the message body, unchanged.
SCAN_STATUS_OF = {"NO_THREATS_FOUND": "COMPLETED", "THREATS_FOUND": "COMPLETED",
                  "UNSUPPORTED": "SKIPPED", "ACCESS_DENIED": "SKIPPED", "FAILED": "FAILED"}


def _guardduty_event(detail_type: str, detail: dict, account: str, region: str) -> dict:
    """The envelope GuardDuty's Malware Protection events share on the default event bus."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.guardduty",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:guardduty:{region}:{account}:malware-protection-plan/"
                      "b4c7f464ab3a4EXAMPLE"],
        "detail": detail,
    }


def scan_result_event(bucket: str, key: str, version_id: str | None,
                      status: str = "NO_THREATS_FOUND", account: str = "123456789012",
                      region: str = "us-east-1") -> dict:
    threats = [{"name": "EICAR-Test-File (not a virus)"}] if status == "THREATS_FOUND" else None
    return _guardduty_event("GuardDuty Malware Protection Object Scan Result", {
        "schemaVersion": "1.0",
        "scanStatus": SCAN_STATUS_OF[status],
        "resourceType": "S3_OBJECT",
        "s3ObjectDetails": {
            "bucketName": bucket,
            "objectKey": key,
            "eTag": "ASIAI44QH8DHBEXAMPLE",
            "versionId": version_id,
            "s3Throttled": False,
        },
        "scanResultDetails": {"scanResultStatus": status, "threats": threats},
    }, account, region)


def post_scan_action_failed_event(bucket: str, key: str, version_id: str | None,
                                  reason: str = "ACCESS_DENIED", account: str = "123456789012",
                                  region: str = "us-east-1") -> dict:
    """GuardDuty's "Post Scan Action Failed" event: the scan ran, its tag could not be
    written. The detail's fields are those of the event's EventBridge schema (schemaVersion,
    eventTime, s3ObjectDetails, postScanActions with actionType / status / failureReason);
    the reasons are the two GuardDuty documents (ACCESS_DENIED, MAX_TAG_LIMIT_EXCEEDED)."""
    return _guardduty_event("GuardDuty Malware Protection Post Scan Action Failed", {
        "schemaVersion": "1.0",
        "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "s3ObjectDetails": {
            "bucketName": bucket,
            "objectKey": key,
            "eTag": "ASIAI44QH8DHBEXAMPLE",
            "versionId": version_id,
        },
        "postScanActions": [
            {"actionType": "TAGGING", "status": "FAILED", "failureReason": reason},
        ],
    }, account, region)
