"""GET /health (estate_handlers.write_health) against SeaweedFS: every probe is a write of its
own, stored, and nothing but a stored write is healthy."""
from __future__ import annotations

from datetime import UTC, datetime

import boto3
from estate_handlers import write_health
from estate_handlers.write_health import Deps, handler, write_accepted

PREFIX = "ops/write-health/us-east-1/"


def _versions(s3, bucket: str) -> list[str]:
    listed = s3.list_object_versions(Bucket=bucket, Prefix=PREFIX)
    return sorted(v["Key"] for v in listed.get("Versions", []))


def test_each_probe_stores_an_object_of_its_own(s3_client, fresh_bucket, monkeypatch):
    minute = datetime(2026, 12, 3, 14, 7, 5, tzinfo=UTC)
    deps = Deps(s3=s3_client, bucket=fresh_bucket, prefix=PREFIX, now=lambda: minute)
    monkeypatch.setattr(write_health, "current_deps", lambda: deps)
    monkeypatch.setattr(write_health, "_last", write_health._LastWrite())  # a fresh container
    assert handler({"rawPath": "/health"}, None)["statusCode"] == 200
    for _ in range(3):
        assert write_accepted(deps) is True
    stored = _versions(s3_client, fresh_bucket)
    assert len(stored) == 4 and all(k.startswith(f"{PREFIX}2026-12-03T14:07Z/") for k in stored)
    assert {s3_client.get_object(Bucket=fresh_bucket, Key=k)["Body"].read()
            for k in stored} == {b"ok"}


def test_a_write_the_store_refuses_is_unhealthy_and_stores_nothing(
        s3_client, s3_endpoint, fresh_bucket, aws_test_credentials, monkeypatch):
    refused = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                           aws_access_key_id=aws_test_credentials["access_key"],
                           aws_secret_access_key="not-the-secret")
    deps = Deps(s3=refused, bucket=fresh_bucket, prefix=PREFIX)
    monkeypatch.setattr(write_health, "current_deps", lambda: deps)
    monkeypatch.setattr(write_health, "_last", write_health._LastWrite())  # a fresh container
    assert handler({"rawPath": "/health"}, None)["statusCode"] == 503
    assert _versions(s3_client, fresh_bucket) == []
