"""The upload gate's bucket policy denies reading a version not scanned clean, HeadObject
included: a handler that HEADs a key's current version gets 403 when a newer upload is still
pending or quarantined. The hasher and the renditions pipeline hold a released version, so
they read that 403 as "no longer current" (not as a failure to retry into the dead-letter
queue). The local S3 has no bucket policies: the 403 comes from botocore's Stubber."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from estate_handlers.dedup_index import CanonicalObject
from estate_handlers.hasher import canonical_is_live
from estate_handlers.object_events import ObjectVersion
from estate_handlers.renditions.pipeline import process_object
from estate_handlers.renditions.settings import Settings
from estate_handlers.s3_errors import newer_version_unreleased
from stubbed_client import stubbed_client

BUCKET = "justkalm-assets-prod"
ORIGINAL = "products/images/original/ab/look.jpg"


def _denied(stub, **version):
    stub.add_client_error("head_object", "403", "Forbidden", http_status_code=403,
                          expected_params={"Bucket": BUCKET, "Key": ORIGINAL, **version})


def _ours_readable(stub):
    stub.add_response("head_object", {"ContentLength": 3, "VersionId": "v1"},
                      {"Bucket": BUCKET, "Key": ORIGINAL, "VersionId": "v1"})


def test_a_canonical_overwritten_by_an_unreleased_upload_is_not_live():
    with stubbed_client("s3") as (s3, stub):
        _denied(stub)
        _ours_readable(stub)
        canonical = CanonicalObject("ab" * 32, ORIGINAL, "v1", 3, "2026-12-01")
        assert canonical_is_live(s3, BUCKET, canonical) is False


def test_an_original_overwritten_by_an_unreleased_upload_is_superseded():
    with stubbed_client("s3") as (s3, stub):
        _denied(stub)
        _ours_readable(stub)
        outcome = process_object(s3, ObjectVersion(BUCKET, ORIGINAL, "v1"), Settings())
    assert outcome.status == "superseded"


def test_a_denial_of_our_own_version_too_is_a_real_failure():
    with stubbed_client("s3") as (s3, stub):
        _denied(stub)
        _denied(stub, VersionId="v1")
        with pytest.raises(ClientError):
            canonical_is_live(s3, BUCKET, CanonicalObject("ab" * 32, ORIGINAL, "v1", 3, "x"))


def test_only_a_403_with_a_version_in_hand_is_read_as_unreleased():
    with stubbed_client("s3") as (s3, _):  # no second HeadObject is made
        slow = ClientError({"Error": {"Code": "SlowDown"},
                            "ResponseMetadata": {"HTTPStatusCode": 503}}, "HeadObject")
        denied = ClientError({"Error": {"Code": "403"},
                              "ResponseMetadata": {"HTTPStatusCode": 403}}, "HeadObject")
        assert newer_version_unreleased(s3, BUCKET, ORIGINAL, "v1", slow) is False
        assert newer_version_unreleased(s3, BUCKET, ORIGINAL, None, denied) is False
