"""The outage drill: uploads keep working when the primary Region's S3 stops answering, and
every upload acknowledged to the client is in the primary, byte for byte, after the failback
and the reconciliation.

What each local piece stands in for in AWS:

- Two SeaweedFS servers are the two Regions' S3: ``outage_s3_server`` (a second server, for
  this drill only) holds the assets bucket of us-east-1; the session's server holds
  ``<assets>-replica`` of us-west-2. Freezing the first (SIGSTOP: connections hang, nothing
  answers) is the Region's S3 event; thawing it (SIGCONT) is the recovery, with its data.
- ``RegionalApi`` is the presign API deployed in one Region: the real handler
  (``presign.handle``), configured as that Region's Lambda is: its own Region, its own bucket
  (us-east-1: assets, us-west-2: the replica), the dedup table (a DynamoDB global table in
  AWS, read in each Region; here one DynamoDB Local table for both, which the drill never
  stops: the drill is about S3 and the API, not a DynamoDB outage).
- ``HealthCheck`` is the Route 53 health check of the primary on the API's ``GET /health``:
  each evaluation invokes the real handler (``write_health.handler``) with the primary
  Lambda's environment and client settings (its own Region and bucket, one attempt, 1 s
  timeouts), and reads its status code as Route 53 does (200 healthy, anything else not).
  So the drill's health signal is a write into the primary's bucket, a probe key of its own.
  Its clock moves a minute per evaluation (Route 53 probes for minutes between the drill's
  moments). Route 53
  checks every 10 s and turns unhealthy after 3 failures (about 30 s, plus DNS TTL 60 s);
  the drill evaluates it at the moments it names, so the phases are deterministic. It probes
  the write path, not presigning: the primary's API keeps presigning happily for a dead
  bucket.
- ``FailoverRecord`` is the Route 53 failover record of the API's custom domain: the PRIMARY
  answer while its health check is healthy, the SECONDARY answer otherwise.
- ``Storefront`` is the client (a browser page or an app): it asks whatever API the name
  resolves to, uploads to the URL it gets and calls an upload acknowledged only when the
  store answered 200/204; a failed upload is retried from the start (a new URL).
- One upload is made by real headless Chromium (Debian's, through Playwright; the session's
  browser), from an allowed origin, under the bucket's CORS rules.
- ``two_regions.replicate`` is S3 Cross-Region Replication from the replica bucket back to the
  assets bucket (two-way replication; in AWS within 15 minutes with RTC, keeping version ids).
  One outage upload is deliberately not replicated (replication lag or a FAILED status):
  ``tools.reconcile`` must copy it. The upload gate is off in this drill (no GuardDuty
  locally; the reconciliation test covers the gate).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import urllib.error
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import boto3
import early_servers
import pytest
from aws_events import http_api_event
from botocore.config import Config
from browser_page import page_bytes
from estate_handlers import hasher, presign, write_health
from estate_handlers.renditions.settings import Settings
from local_services import PRIMARY_REGION_S3, http, post_form
from two_regions import replicate

from infra.config import KindAccess, UploadApiConfig, default_upload_kinds
from infra.constructs.browser_uploads import cors_rule_specs
from infra.environments import ENVIRONMENTS
from tools.reconcile import cli as reconcile_cli
from tools.reconcile import engine

ALICE = "arn:aws:iam::123456789012:user/alice"
PRIMARY, SECONDARY = "us-east-1", "us-west-2"
UPLOAD_TIMEOUT = 1.0  # the client's patience with a store that does not answer


@dataclass
class RegionalApi:
    """The presign API as deployed in one Region (the real handler, that Region's config)."""

    region: str
    s3_endpoint: str
    bucket: str
    deps: presign.Deps

    @classmethod
    def deploy(cls, region: str, s3_endpoint: str, bucket: str, table: str) -> RegionalApi:
        policy = UploadApiConfig(kinds=default_upload_kinds(KindAccess(iam_principals=(ALICE,))))
        env = {"ASSETS_BUCKET_NAME": bucket, "DEDUP_TABLE_NAME": table, "AWS_REGION": region,
               "UPLOAD_POLICY": policy.policy_json()}
        with pytest.MonkeyPatch.context() as mp:  # the Lambda's environment in that Region
            mp.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
            deps = presign.Deps.from_env(env)
        return cls(region, s3_endpoint, bucket, deps)

    def issue(self, **fields) -> dict:
        response = presign.handle(http_api_event("POST", "/uploads", body=fields,
                                                 caller=ALICE), self.deps)
        presign.metrics.flush_metrics()  # one EMF blob per invocation, as in Lambda
        assert response["statusCode"] == 200, response
        return json.loads(response["body"])


class HealthCheck:
    """Route 53's check on the primary's ``GET /health``: the real handler, as deployed."""

    def __init__(self, api: RegionalApi):
        with pytest.MonkeyPatch.context() as mp:  # the primary WriteHealth Lambda's environment
            mp.setenv("AWS_ENDPOINT_URL_S3", api.s3_endpoint)
            deps = write_health.Deps.from_env({"WRITE_HEALTH_BUCKET": api.bucket,
                                               "AWS_REGION": api.region})
        self.minute = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
        self.deps = dataclasses.replace(deps, now=lambda: self.minute)
        self.healthy = True
        self.answers: list[int] = []

    def evaluate(self) -> bool:
        self.minute += timedelta(minutes=1)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(write_health, "current_deps", lambda: self.deps)
            # Real probes are a minute apart here: none answers from an earlier one's write.
            mp.setattr(write_health, "_last", write_health._LastWrite())
            status = write_health.handler({"rawPath": "/health", "requestContext": {
                "http": {"method": "GET"}}}, None)["statusCode"]
        self.answers.append(status)
        self.healthy = status == 200
        return self.healthy


@dataclass
class FailoverRecord:
    primary: RegionalApi
    secondary: RegionalApi
    check: HealthCheck

    def resolve(self) -> RegionalApi:
        return self.primary if self.check.healthy else self.secondary


@dataclass
class Acknowledged:
    key: str
    body: bytes
    region: str  # where the store acknowledged it


@dataclass
class Issued:
    region: str
    url_host: str
    failed_over: bool  # the health signal said "primary down" when the URL was issued


class Storefront:
    def __init__(self, record: FailoverRecord):
        self.record = record
        self.issued: list[Issued] = []
        self.acknowledged: list[Acknowledged] = []

    def plan(self, kind: str, filename: str, content_type: str, body: bytes,
             with_sha256: bool = True) -> tuple[RegionalApi, dict]:
        api = self.record.resolve()
        fields = {"kind": kind, "filename": filename, "content_type": content_type,
                  "size": len(body)}
        if with_sha256:
            fields["sha256"] = hashlib.sha256(body).hexdigest()
        plan = api.issue(**fields)
        self.issued.append(Issued(api.region, urlsplit(plan["upload"]["url"]).netloc,
                                  not self.record.check.healthy))
        return api, plan

    def upload(self, body: bytes, *, post: bool = False, attempts: int = 3) -> bool:
        for _ in range(attempts):
            api, plan = self.plan("user-upload", f"doc-{uuid.uuid4().hex[:6]}.pdf",
                                  "application/pdf", body, with_sha256=not post)
            upload = plan["upload"]
            try:
                if post:
                    status, _ = post_form(upload["url"], upload["fields"], body,
                                          "application/pdf", timeout=UPLOAD_TIMEOUT)
                else:
                    status, _ = http("PUT", upload["url"], body, upload["headers"],
                                     timeout=UPLOAD_TIMEOUT)
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                continue  # no answer: not acknowledged; start again with a new URL
            if status in (200, 204):
                self.acknowledged.append(Acknowledged(plan["key"], body, api.region))
                return True
        return False

    def browser_upload(self, page, size: int) -> bool:
        body = page_bytes(size)
        api, plan = self.plan("product-image", "look.png", "image/png", body)
        result = page.evaluate("([u, n]) => presignedPut(u, n)", [plan["upload"], size])
        if result.get("ok") and result.get("status") == 200:
            self.acknowledged.append(Acknowledged(plan["key"], body, api.region))
            return True
        return False


@pytest.fixture
def primary_bucket(outage_s3_server, aws_test_credentials):
    """A versioned bucket on the primary Region's server (the one the drill freezes)."""
    s3 = _client(outage_s3_server.endpoint, aws_test_credentials)
    name = f"assets-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    yield s3, name
    outage_s3_server.thaw()  # whatever happened in the test: never leave it frozen


def _client(endpoint: str, creds: dict):
    return boto3.client("s3", endpoint_url=endpoint, region_name=PRIMARY,
                        aws_access_key_id=creds["access_key"],
                        aws_secret_access_key=creds["secret_key"],
                        config=Config(signature_version="s3v4", connect_timeout=2,
                                      read_timeout=10, retries={"max_attempts": 2}))


def _allow_the_page(s3, bucket: str, origin: str) -> None:
    cors = dataclasses.replace(ENVIRONMENTS["dev"]().assets_cors, allowed_origins=(origin,))
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": cors_rule_specs(cors)})


def _document(n: int) -> bytes:
    return f"%PDF-1.7 upload {n} ".encode() + uuid.uuid4().bytes * 40


def test_uploads_survive_a_primary_outage_and_land_in_the_primary_after_failback(
        outage_s3_server, primary_bucket, s3_client, s3_endpoint, fresh_bucket, dedup_table,
        hasher_deps, open_page, page_origins):
    primary_s3, primary = primary_bucket
    secondary = fresh_bucket  # the session's server: us-west-2's replica bucket
    for s3, bucket in ((primary_s3, primary), (s3_client, secondary)):
        _allow_the_page(s3, bucket, page_origins[0])
    east = RegionalApi.deploy(PRIMARY, outage_s3_server.endpoint, primary, dedup_table)
    west = RegionalApi.deploy(SECONDARY, s3_endpoint, secondary, dedup_table)
    # DynamoDB Local keeps one database per Region: us-west-2's replica of the global table
    # is the same table here, reached through the us-east-1 client.
    west.deps = dataclasses.replace(west.deps, dynamodb=east.deps.dynamodb)
    check = HealthCheck(east)
    client = Storefront(FailoverRecord(east, west, check))
    page = open_page(page_origins[0])
    primary_host, secondary_host = (urlsplit(e).netloc for e in
                                    (outage_s3_server.endpoint, s3_endpoint))

    # 1. Both Regions up: the name resolves to us-east-1, uploads land in the assets bucket.
    #    The check's probe is a real write into the primary's bucket.
    assert check.evaluate() is True
    probes = primary_s3.list_objects_v2(Bucket=primary, Prefix="ops/write-health/us-east-1/")
    [probe] = [o["Key"] for o in probes["Contents"]]
    assert probe.startswith("ops/write-health/us-east-1/2026-12-03T14:01Z/")
    for n in range(3):
        assert client.upload(_document(n), post=n == 1)
    assert {a.region for a in client.acknowledged} == {PRIMARY}

    # 2. us-east-1's S3 stops answering. Before the health check notices, a client still
    #    gets a us-east-1 URL: that upload fails (no acknowledgement) and is not lost data.
    outage_s3_server.freeze()
    started = time.monotonic()
    uploaded = client.upload(_document(3), attempts=1)
    assert client.issued[-1].url_host == primary_host and not client.issued[-1].failed_over
    assert not uploaded, "the frozen primary's store acknowledged an upload"

    # 3. The health check fails; the record answers us-west-2 from now on.
    assert check.evaluate() is False
    assert client.upload(_document(3))  # the client's retry of the failed upload
    assert client.upload(_document(4), post=True)
    assert client.browser_upload(page, 4096), "headless Chromium uploads to us-west-2"
    assert check.evaluate() is False  # still down: still us-west-2
    assert client.upload(_document(5))
    during = [i for i in client.issued if i.failed_over]
    assert len(during) == 4
    assert {(i.region, i.url_host) for i in during} == {(SECONDARY, secondary_host)}, \
        "no URL names the dead Region after the health signal flipped"
    outage_seconds = time.monotonic() - started

    # 4. us-east-1 recovers; the check passes again and writes go back to the primary.
    outage_s3_server.thaw()
    deadline = time.monotonic() + 10
    while not check.evaluate():
        assert time.monotonic() < deadline, "the primary did not come back"
        time.sleep(0.1)
    assert check.answers[:3] == [200, 503, 503] and check.answers[-1] == 200
    assert client.upload(_document(6))
    assert client.acknowledged[-1].region == PRIMARY

    # 5. Replication brings the outage's writes back, but one (the last) lags behind.
    written_in_west = [a for a in client.acknowledged if a.region == SECONDARY]
    assert len(written_in_west) == 4
    for item in written_in_west[:-1]:
        replicate(s3_client, secondary, primary_s3, primary, item.key)

    # 6. Failback: the reconciliation completes the primary, then has nothing left to do.
    estate = engine.Estate(
        primary=engine.Region(primary_s3, primary), secondary=engine.Region(s3_client, secondary),
        hasher=hasher.Deps(s3=primary_s3, dynamodb=hasher_deps.dynamodb,
                           table_name=dedup_table),
        render_settings=Settings(processed_widths=(160,), thumbnail_widths=(48,)),
        gated_prefixes=())
    findings = reconcile_cli.reconcile(estate, None, None, apply=True)
    assert {f.key for f in findings} == {a.key for a in written_in_west}
    assert {f.state for f in findings} == {engine.RECONCILED}
    copied = [f.key for f in findings if engine.COPY in f.actions]
    assert copied == [written_in_west[-1].key]
    assert all(engine.HASH in f.actions for f in findings)
    (image,) = [f for f in findings if engine.RENDER in f.actions]
    assert image.outcomes[engine.RENDER] == "rejected"  # the page's pattern bytes are no PNG
    assert not any(f.actions for f in reconcile_cli.reconcile(estate, None, None, apply=True))

    # Every acknowledged upload, before, during and after the outage, is in the primary.
    assert len(client.acknowledged) == 8
    for item in client.acknowledged:
        stored = primary_s3.get_object(Bucket=primary, Key=item.key)["Body"].read()
        assert stored == item.body, f"{item.key} differs in the primary"
    print(f"drill: outage phase {outage_seconds:.1f} s, {len(during)} URLs issued for "
          f"us-west-2 while us-east-1 was down, {len(copied)} upload copied by reconcile")


def test_the_primary_regions_server_starts_with_the_session(outage_s3_server):
    # Not in the drill's set-up: it comes up while the worker collects (tests/conftest.py).
    assert early_servers.starting[PRIMARY_REGION_S3].result() is outage_s3_server
