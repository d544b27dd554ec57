"""GET /health (estate_handlers.write_health) against a stubbed S3 client: what Route 53 sees
for each answer S3 can give to the probe write."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import boto3
import pytest
from botocore.exceptions import ConnectTimeoutError
from botocore.stub import Stubber
from estate_handlers import write_health
from estate_handlers._http import ConfigError
from estate_handlers.write_health import Deps, handler, response, write_accepted

BUCKET = "justkalm-assets-dev-replica"
PREFIX = "ops/write-health/us-west-2/"
NOW = datetime(2026, 12, 3, 14, 7, 59, tzinfo=UTC)
KEY = "ops/write-health/us-west-2/2026-12-03T14:07Z/t0"
PROBE = {"Bucket": BUCKET, "Key": KEY, "Body": b"ok"}


def _deps(now=lambda: NOW):
    s3 = boto3.client("s3", region_name="us-west-2", aws_access_key_id="x",
                      aws_secret_access_key="x")
    tokens = iter(f"t{i}" for i in range(100))
    return Deps(s3=s3, bucket=BUCKET, prefix=PREFIX, now=now, token=lambda: next(tokens))


def test_a_probe_that_s3_stores_is_healthy():
    deps = _deps()
    with Stubber(deps.s3) as s3:
        s3.add_response("put_object", {"ETag": '"e"'}, PROBE)
        assert write_accepted(deps) is True
        s3.assert_no_pending_responses()


def test_every_probe_writes_a_key_of_its_own_under_its_utc_minute():
    # One key per minute let the minute's first write answer for all the others (412s that
    # store nothing): a Region refusing most writes stayed healthy. Each probe is a write.
    deps = _deps()
    assert [deps.key(), deps.key()] == [KEY, "ops/write-health/us-west-2/2026-12-03T14:07Z/t1"]
    later = NOW + timedelta(seconds=1)
    assert _deps(lambda: later).key() == "ops/write-health/us-west-2/2026-12-03T14:08Z/t0"
    west_coast = datetime(2026, 12, 3, 6, 7, 1, tzinfo=timezone(timedelta(hours=-8)))
    assert _deps(lambda: west_coast).key() == KEY, "the minute is UTC's"
    real = Deps(s3=None, bucket=BUCKET, prefix=PREFIX, now=lambda: NOW)
    assert len({real.key() for _ in range(100)}) == 100


@pytest.mark.parametrize("code, status", [("AccessDenied", 403), ("InternalError", 500),
                                          ("ServiceUnavailable", 503), ("KMS.DisabledException",
                                                                        400),
                                          ("PreconditionFailed", 412),
                                          ("ConditionalRequestConflict", 409),
                                          ("OperationAborted", 409)])
def test_any_refusal_is_unhealthy(code, status):
    # 412 and 409 included: S3 stored nothing, whatever the reason.
    deps = _deps()
    with Stubber(deps.s3) as s3:
        s3.add_client_error("put_object", code, "no", http_status_code=status)
        assert write_accepted(deps) is False


def test_a_timeout_is_unhealthy():
    class TimingOut:
        def put_object(self, **_):
            raise ConnectTimeoutError(endpoint_url="https://s3.us-west-2.amazonaws.com")

    assert write_accepted(Deps(s3=TimingOut(), bucket=BUCKET, prefix=PREFIX)) is False


def test_route_53_reads_200_for_healthy_and_503_for_not():
    ok, down = response(True), response(False)
    assert (ok["statusCode"], down["statusCode"]) == (200, 503)
    assert json.loads(ok["body"]) == {"status": "ok"}
    assert json.loads(down["body"]) == {"status": "unavailable"}
    assert ok["headers"]["cache-control"] == "no-store"


def test_the_handler_answers_from_the_probe(monkeypatch):
    deps = _deps()
    monkeypatch.setattr(write_health, "current_deps", lambda: deps)
    monkeypatch.setattr(write_health, "_last", write_health._LastWrite())  # a fresh container
    with Stubber(deps.s3) as s3:
        s3.add_client_error("put_object", "AccessDenied", "no", http_status_code=403)
        assert handler({"rawPath": "/health"}, None)["statusCode"] == 503


def test_the_probe_prefix_is_per_region_and_the_bucket_is_required(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    deps = Deps.from_env({"WRITE_HEALTH_BUCKET": BUCKET, "AWS_REGION": "us-west-2"})
    assert (deps.bucket, deps.prefix) == (BUCKET, PREFIX)
    assert deps.key().startswith(PREFIX) and deps.key() != PREFIX
    with pytest.raises(ConfigError, match="WRITE_HEALTH_BUCKET"):
        Deps.from_env({"AWS_REGION": "us-west-2"})


def test_a_slow_down_is_answered_after_one_attempt_within_route_53s_budget(monkeypatch):
    # The client Lambda builds (Deps.from_env): a retry would double the time to the 503,
    # past the 2 s a Route 53 checker waits for an answer.
    from botocore.awsrequest import AWSResponse

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    deps = Deps.from_env({"WRITE_HEALTH_BUCKET": BUCKET, "AWS_REGION": "us-west-2"})
    sent = []

    class _Raw:
        def stream(self, **_):
            yield b"<Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>"

    def answer(request, **_):
        sent.append(request)
        return AWSResponse(request.url, 503, {}, _Raw())

    deps.s3.meta.events.register("before-send", answer)
    assert write_accepted(deps) is False
    assert len(sent) == 1
    config = deps.s3.meta.config
    assert config.connect_timeout + config.read_timeout <= 2  # a checker waits 2 s at most


def test_a_container_writes_at_most_once_a_second_and_answers_in_between_from_that_write():
    # Route 53 sends one or two probes a second, so each is a write; a caller who learned the
    # path cannot make more than one object a second per execution.
    writes, now = [], [100.0]

    class S3:
        def put_object(self, **kwargs):
            writes.append(kwargs["Key"])

    deps = Deps(s3=S3(), bucket=BUCKET, prefix=PREFIX, now=lambda: NOW)
    last = write_health._LastWrite()

    def probe():
        return write_health.probe(deps, clock=lambda: now[0], last=last)

    assert probe() is True and len(writes) == 1
    now[0] += 0.5
    assert probe() is True and len(writes) == 1  # within the second: that write's answer
    now[0] += 0.5
    assert probe() is True and len(writes) == 2  # a second later: a write again
    assert len(set(writes)) == 2
