"""An S3 client that enforces the upload gate's bucket policy, which the local server cannot
(it has no bucket policies): reading a gated version not tagged clean is 403
(``DenyReadsUntilScannedClean``), and an upload that names a scan verdict tag is refused
(``DenyUploadsCarryingAScanVerdict``). Listing and tagging stay open, as in AWS."""
from __future__ import annotations

import urllib.parse

from botocore.exceptions import ClientError
from estate_handlers.layout import SCAN_CLEAN, SCAN_STATUS_TAG, scan_status


class GateEnforcingS3:
    """``bucket``'s reads and uploads under ``gated`` as the gate's bucket policy answers
    them. ``unguarded``: the plain client, for a test's own set-up and checks."""

    def __init__(self, s3, bucket: str, gated: tuple[str, ...]):
        self._s3, self._bucket, self._gated = s3, bucket, gated
        self.unguarded = s3

    def __getattr__(self, name):
        return getattr(self._s3, name)

    def head_object(self, **kwargs):
        self._deny_unless_clean(kwargs, "HeadObject")
        return self._s3.head_object(**kwargs)

    def get_object(self, **kwargs):
        self._deny_unless_clean(kwargs, "GetObject")
        return self._s3.get_object(**kwargs)

    def put_object(self, **kwargs):
        self._deny_a_named_verdict(kwargs, "PutObject")
        return self._s3.put_object(**kwargs)

    def create_multipart_upload(self, **kwargs):
        self._deny_a_named_verdict(kwargs, "CreateMultipartUpload")
        return self._s3.create_multipart_upload(**kwargs)

    def _deny_a_named_verdict(self, kwargs, operation: str) -> None:
        if kwargs["Bucket"] == self._bucket and SCAN_STATUS_TAG in dict(
                urllib.parse.parse_qsl(kwargs.get("Tagging", ""))):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "verdict named"},
                               "ResponseMetadata": {"HTTPStatusCode": 403}}, operation)

    def _deny_unless_clean(self, kwargs, operation: str) -> None:
        if kwargs["Bucket"] != self._bucket or not kwargs["Key"].startswith(self._gated):
            return
        version = {"VersionId": kwargs["VersionId"]} if kwargs.get("VersionId") else {}
        try:
            tag_set = self._s3.get_object_tagging(Bucket=kwargs["Bucket"], Key=kwargs["Key"],
                                                  **version)["TagSet"]
        except ClientError:
            return  # missing: S3 answers as it would
        if scan_status(tag_set) != SCAN_CLEAN:
            raise ClientError({"Error": {"Code": "403", "Message": "Forbidden"},
                               "ResponseMetadata": {"HTTPStatusCode": 403}}, operation)
