"""Local stand-ins for what AWS does between and around the two Regions' buckets, shared by
the reconciliation test and the outage drill. Each says what it stands in for.
"""
from __future__ import annotations

import hashlib
import urllib.parse

import boto3
from botocore.stub import Stubber
from estate_handlers.layout import SCAN_CLEAN, SCAN_STATUS_TAG


def replicate(source_s3, source_bucket: str, target_s3, target_bucket: str, key: str) -> str:
    """S3 replication of one key's current version: bytes, content type, user metadata and
    tags (the scan verdict and the hasher's included: replication copies tags). In AWS, S3
    Cross-Region Replication does it within 15 minutes (RTC) and keeps the version id; here a
    GET and a PUT make a new id, which is why the reconciliation compares bytes when the ids
    differ. Returns the target's new version id."""
    got = source_s3.get_object(Bucket=source_bucket, Key=key)
    tags = source_s3.get_object_tagging(Bucket=source_bucket, Key=key,
                                        VersionId=got["VersionId"])["TagSet"]
    extra = {"Tagging": urllib.parse.urlencode({t["Key"]: t["Value"] for t in tags})} \
        if tags else {}
    put = target_s3.put_object(Bucket=target_bucket, Key=key, Body=got["Body"].read(),
                               ContentType=got.get("ContentType") or "binary/octet-stream",
                               Metadata=got.get("Metadata") or {}, **extra)
    return put["VersionId"]


def sync_tags_back(source_s3, source_bucket: str, target_s3, target_bucket: str, key: str,
                   target_version: str) -> None:
    """S3 replica modification sync: the tags of the replica's current version (here: the
    primary's copy, where the scan verdict and the hasher's tags are written) onto the version
    it replicates (the upload in the other bucket). In AWS both rules have it enabled."""
    tag_set = source_s3.get_object_tagging(Bucket=source_bucket, Key=key)["TagSet"]
    target_s3.put_object_tagging(Bucket=target_bucket, Key=key, VersionId=target_version,
                                 Tagging={"TagSet": tag_set})


def guardduty_scans(s3, bucket: str, key: str, version_id: str | None = None,
                    verdict: str = SCAN_CLEAN) -> None:
    """GuardDuty Malware Protection for S3 after scanning a version: its verdict tag, merged
    with the version's other tags (GuardDuty adds its tag). No scan runs locally."""
    extra = {"VersionId": version_id} if version_id else {}
    tags = s3.get_object_tagging(Bucket=bucket, Key=key, **extra)["TagSet"]
    kept = [t for t in tags if t["Key"] != SCAN_STATUS_TAG]
    s3.put_object_tagging(Bucket=bucket, Key=key, **extra, Tagging={
        "TagSet": kept + [{"Key": SCAN_STATUS_TAG, "Value": verdict}]})


def tags(s3, bucket: str, key: str, version_id: str | None = None) -> dict[str, str]:
    extra = {"VersionId": version_id} if version_id else {}
    return {t["Key"]: t["Value"]
            for t in s3.get_object_tagging(Bucket=bucket, Key=key, **extra)["TagSet"]}


class StubbedGuardDuty:
    """A GuardDuty client of one Region whose ``SendObjectMalwareScan`` calls are answered by a
    Stubber (no local GuardDuty exists) and recorded: ``requested`` lists (bucket, key,
    version) it accepted. ``protected`` are the buckets a Malware Protection plan protects in
    that Region; a scan of any other bucket is refused and listed in ``refused``, as GuardDuty
    refuses it ("The bucket must have a Malware Protection plan configured to use this API",
    GuardDuty API reference; the error code is not documented: BadRequestException, one of the
    operation's documented errors, stands in)."""

    NO_PLAN = "The bucket must have a Malware Protection plan configured to use this API"

    def __init__(self, region: str, protected: tuple[str, ...] = ()):
        self.client = boto3.client("guardduty", region_name=region)
        self.protected = set(protected)
        self.requested: list[tuple[str, str, str]] = []
        self.refused: list[tuple[str, str, str]] = []
        self._stubber = Stubber(self.client)
        self._stubber.activate()
        self.client.meta.events.register(
            "provide-client-params.guardduty.SendObjectMalwareScan", self._record)

    def _record(self, params, **_):
        target = params["S3Object"]
        request = (target["Bucket"], target["Key"], target.get("VersionId"))
        # Stubber answers in order; one answer per request, checked against the model.
        if target["Bucket"] not in self.protected:
            self.refused.append(request)
            self._stubber.add_client_error(
                "send_object_malware_scan", service_error_code="BadRequestException",
                service_message=self.NO_PLAN, http_status_code=400,
                expected_params={"S3Object": target})
            return
        self.requested.append(request)
        self._stubber.add_response("send_object_malware_scan", {}, {"S3Object": target})


class StubbedBatchOperations:
    """An S3 Control client whose ``CreateJob`` calls are answered by a Stubber (S3 Batch
    Operations has no local server) and recorded in ``jobs`` (each request's parameters). The
    job id is derived from the request's ``ClientRequestToken``: S3 Control answers a repeated
    token with the job it already created. ``DescribeJob`` answers each job's ``statuses``
    entry (a test sets it), else ``Active``."""

    def __init__(self, region: str):
        self.client = boto3.client("s3control", region_name=region)
        self.jobs: list[dict] = []
        self.statuses: dict[str, str] = {}
        self._stubber = Stubber(self.client)
        self._stubber.activate()
        self.client.meta.events.register(
            "provide-client-params.s3-control.CreateJob", self._record)
        self.client.meta.events.register(
            "provide-client-params.s3-control.DescribeJob", self._describe)

    def _describe(self, params, **_):
        self._stubber.add_response(
            "describe_job",
            {"Job": {"JobId": params["JobId"],
                     "Status": self.statuses.get(params["JobId"], "Active")}},
            dict(params))

    @staticmethod
    def job_id(token: str) -> str:
        return f"job-{hashlib.sha256(token.encode()).hexdigest()[:20]}"

    def _record(self, params, **_):
        self.jobs.append(dict(params))
        self._stubber.add_response("create_job",
                                   {"JobId": self.job_id(params["ClientRequestToken"])},
                                   dict(params))
