"""GET /health (estate_handlers.write_health) against SeaweedFS, which enforces
``If-None-Match: *`` as S3 does: one real write per UTC minute, 412s for the rest of it."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from estate_handlers import write_health
from estate_handlers.write_health import Deps, handler, write_accepted

PREFIX = "ops/write-health/us-east-1/"


class Clock:
    """The probe's clock, moved by the test (no sleeping into the next minute)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 3, 14, 7, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _versions(s3, bucket: str) -> list[tuple[str, str]]:
    listed = s3.list_object_versions(Bucket=bucket, Prefix=PREFIX)
    return sorted((v["Key"], v["VersionId"]) for v in listed.get("Versions", []))


def test_one_write_a_minute_and_412s_in_between_are_all_healthy(s3_client, fresh_bucket,
                                                                 monkeypatch):
    clock = Clock()
    deps = Deps(s3=s3_client, bucket=fresh_bucket, prefix=PREFIX, now=clock)
    monkeypatch.setattr(write_health, "current_deps", lambda: deps)
    refused = []
    s3_client.meta.events.register(
        "after-call.s3.PutObject",
        lambda http_response, **_: refused.append(http_response.status_code))

    # The minute's first probe writes the object: bytes stored, a version made.
    assert handler({"rawPath": "/health"}, None)["statusCode"] == 200
    first = _versions(s3_client, fresh_bucket)
    assert [k for k, _ in first] == [f"{PREFIX}2026-12-03T14:07Z"]
    body = s3_client.get_object(Bucket=fresh_bucket, Key=first[0][0])["Body"].read()
    assert body == b"ok"

    # Later probes of the same minute: S3 refuses with 412, nothing is added, still healthy.
    clock.now += timedelta(seconds=50)
    for _ in range(3):
        assert write_accepted(deps) is True
    assert refused[-3:] == [412, 412, 412]
    assert _versions(s3_client, fresh_bucket) == first

    # A new minute: a new key, so the write path (and its encryption) is exercised again.
    clock.now += timedelta(seconds=10)
    assert handler({"rawPath": "/health"}, None)["statusCode"] == 200
    assert refused[-1] == 200
    assert [k for k, _ in _versions(s3_client, fresh_bucket)] == [
        f"{PREFIX}2026-12-03T14:07Z", f"{PREFIX}2026-12-03T14:08Z"]
