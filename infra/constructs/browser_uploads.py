"""CORS rules of the assets bucket: what a browser needs to use the upload API's URLs.

The upload API hands out presigned POST forms, checksum-bound PUT URLs, multipart part URLs
and GET URLs; the browser then talks to S3 directly, from the storefront's origin. Without
these rules every preflight (the PUT's ``x-amz-checksum-sha256``, a non-simple
``Content-Type``) is refused and a multipart upload cannot read its part ETags.

Only what the signatures bind is allowed as a request header; only what a client must read is
exposed. ``cors_rule_specs`` is the one source: the template's rules (``EncryptedBucket``'s
``cors``) and the browser test's bucket CORS (``put_bucket_cors``) are both built from it. The
module does not import the CDK, so the handler tests that use it do not load it.
"""
from __future__ import annotations

from infra.config import BucketCorsConfig

# Headers the presigned requests sign (lambda/estate_handlers/presign.py: put_params, the
# multipart plan) and a browser sends itself; Content-Length is set by the browser and is
# not a CORS request header.
SIGNED_REQUEST_HEADERS = ("content-type", "x-amz-checksum-sha256", "x-amz-storage-class",
                          "if-none-match")
# ETag: the part list of a multipart completion; version id: what the caller stored.
EXPOSED_HEADERS = ("ETag", "x-amz-version-id")
UPLOAD_METHODS = ("PUT", "POST")
DOWNLOAD_METHODS = ("GET", "HEAD")


def cors_rule_specs(cors: BucketCorsConfig) -> list[dict]:
    """The rules in S3's API shape (``put_bucket_cors``'s ``CORSRules``); none without origins."""
    if not cors.allowed_origins:
        return []
    origins = sorted(cors.allowed_origins)
    return [
        {"ID": "browser-uploads", "AllowedOrigins": origins,
         "AllowedMethods": list(UPLOAD_METHODS), "AllowedHeaders": list(SIGNED_REQUEST_HEADERS),
         "ExposeHeaders": list(EXPOSED_HEADERS), "MaxAgeSeconds": cors.max_age_seconds},
        {"ID": "browser-downloads", "AllowedOrigins": origins,
         "AllowedMethods": list(DOWNLOAD_METHODS), "AllowedHeaders": [],
         "ExposeHeaders": list(EXPOSED_HEADERS), "MaxAgeSeconds": cors.max_age_seconds},
    ]

