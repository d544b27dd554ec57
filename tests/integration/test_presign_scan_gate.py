"""The upload API tells the truth about the malware scan gate: against the local S3, with the
verdict tag GuardDuty Malware Protection writes (``GuardDutyMalwareScanStatus``) set for real
on object versions. Gated prefixes come from SCAN_GATED_PREFIXES, as in Lambda."""
from __future__ import annotations

import hashlib
from urllib.parse import quote

import pytest
from estate_handlers.dedup_index import CanonicalObject, put_canonical_if_absent
from estate_handlers.keys import caller_segment
from local_services import http

ALICE = "arn:aws:iam::123456789012:user/alice"
GATED = "user-content/uploads/"


@pytest.fixture
def gated_api(presign_api, monkeypatch):
    monkeypatch.setenv("SCAN_GATED_PREFIXES", f"{GATED},brands/media/")
    presign_api.configure()
    return presign_api


def upload(s3_client, bucket, key, body, verdict=None):
    extra = {"Tagging": f"GuardDutyMalwareScanStatus={verdict}"} if verdict else {}
    return s3_client.put_object(Bucket=bucket, Key=key, Body=body, **extra)["VersionId"]


def own_key(name):
    return f"{GATED}{caller_segment(ALICE)}/{'0' * 16}{'1' * 20}/{name}"


def download(api, key):
    return api.call("GET", "/downloads", query=f"key={quote(key, safe='')}")


def test_unscanned_object_is_409_scan_pending(gated_api, s3_client):
    key = own_key("new.png")
    upload(s3_client, gated_api.bucket, key, b"fresh")
    status, resp = download(gated_api, key)
    assert (status, resp["error"]) == (409, "scan-pending") and "url" not in resp


def test_infected_object_is_403_quarantined(gated_api, s3_client):
    key = own_key("bad.png")
    upload(s3_client, gated_api.bucket, key, b"eicar", verdict="THREATS_FOUND")
    status, resp = download(gated_api, key)
    assert (status, resp["error"]) == (403, "quarantined") and "url" not in resp


@pytest.mark.parametrize("verdict", ["UNSUPPORTED", "ACCESS_DENIED", "FAILED"])
def test_unscannable_object_is_422_naming_the_verdict(gated_api, s3_client, verdict):
    key = own_key(f"{verdict.lower()}.png")
    upload(s3_client, gated_api.bucket, key, b"odd", verdict=verdict)
    status, resp = download(gated_api, key)
    assert (status, resp["error"], resp["verdict"]) == (422, "scan-failed", verdict)


def test_clean_object_gets_a_working_url(gated_api, s3_client):
    key = own_key("ok.png")
    upload(s3_client, gated_api.bucket, key, b"clean", verdict="NO_THREATS_FOUND")
    status, resp = download(gated_api, key)
    assert status == 200 and http("GET", resp["url"]) == (200, b"clean")


def test_the_verdict_of_the_pinned_version_decides(gated_api, s3_client):
    key = own_key("two.png")
    upload(s3_client, gated_api.bucket, key, b"one", verdict="NO_THREATS_FOUND")
    upload(s3_client, gated_api.bucket, key, b"two")  # newer version, not scanned yet
    assert download(gated_api, key)[1]["error"] == "scan-pending"


def test_ungated_prefix_needs_no_verdict(gated_api, s3_client):
    key = "products/images/processed/look/1200w.webp"
    upload(s3_client, gated_api.bucket, key, b"rendition")
    assert download(gated_api, key)[0] == 200


def test_while_stored_objects_are_scanned_only_a_verdict_refuses(gated_api, s3_client,
                                                               monkeypatch):
    # SCAN_HOLDS_UNSCANNED=false: the gate's rollout over objects stored before it.
    monkeypatch.setenv("SCAN_HOLDS_UNSCANNED", "false")
    gated_api.configure()
    stored, bad = own_key("stored.png"), own_key("bad-too.png")
    upload(s3_client, gated_api.bucket, stored, b"from before the gate")
    upload(s3_client, gated_api.bucket, bad, b"eicar", verdict="THREATS_FOUND")
    status, resp = download(gated_api, stored)
    assert status == 200 and http("GET", resp["url"]) == (200, b"from before the gate")
    assert download(gated_api, bad)[1]["error"] == "quarantined"


def test_gate_off_serves_unscanned_objects(presign_api, s3_client):
    key = own_key("nogate.png")
    upload(s3_client, presign_api.bucket, key, b"fresh")
    assert download(presign_api, key)[0] == 200


@pytest.mark.parametrize(("verdict", "hit"), [(None, False), ("THREATS_FOUND", False),
                                              ("FAILED", False), ("NO_THREATS_FOUND", True)])
def test_dedup_hit_only_points_at_a_clean_object(gated_api, s3_client, dynamodb_client,
                                                 settled_canonicals, verdict, hit):
    body = f"brand film {verdict}".encode()
    sha = hashlib.sha256(body).hexdigest()
    key = f"brands/media/{verdict or 'none'}/film.mp4"
    version = upload(s3_client, gated_api.bucket, key, body, verdict=verdict)
    put_canonical_if_absent(dynamodb_client, gated_api.table,
                            CanonicalObject(sha, key, version, len(body), "2026-01-01T00:00:00"))
    status, resp = gated_api.upload(kind="brand-media", filename="film.mp4",
                                    content_type="video/mp4", size=len(body), sha256=sha)
    assert status == 200 and resp["deduplicated"] is hit
    assert (resp["key"] == key) is hit
