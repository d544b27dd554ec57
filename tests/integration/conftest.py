"""Fixtures for handler tests against real local servers (see local_services.py).

Session-scoped: one SeaweedFS and one DynamoDB Local per test session (under xdist, in the one
worker these tests are pinned to), started side by side when the session starts
(``early_servers``: each takes seconds to come up, and nearly every module here needs both) and
killed at the end; plus, for the outage drill only, a second SeaweedFS standing for the primary
Region; one headless Chromium and the upload page's origins for the browser tests.
Function-scoped: a fresh versioned bucket (left for the server's temporary folder) and a fresh
dedup table per test, so tests never see each other's objects.

While a server runs, the session's environment points boto3 at it
(``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL_DYNAMODB``), with throw-away credentials,
``AWS_REGION=us-east-1`` and no shared config files: a handler that builds its clients
from the environment talks to the local servers, never to AWS. Restored afterwards.
"""
from __future__ import annotations

import http.server
import json
import threading
import uuid
from functools import partial

import boto3
import early_servers
import pytest
from aws_events import http_api_event
from botocore.config import Config
from browser_page import CHROMIUM, CHROMIUM_ARGS, PAGE_DIR, QuietHandler
from estate_handlers import dedup_index, hasher
from lambda_context import LambdaContext
from local_services import (
    PRIMARY_REGION_S3,
    REGION,
    LocalServiceError,
    session_credentials,
    start_seaweedfs,
    start_servers,
    stop_started,
)


@pytest.fixture(scope="session")
def aws_test_credentials(tmp_path_factory):
    """Dummy credentials and region for the session; hides any real AWS configuration.
    Yields ``{"access_key", "secret_key", "region"}`` (the S3 server's only identity)."""
    creds = session_credentials()
    nowhere = tmp_path_factory.mktemp("aws-config") / "absent"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN",
                     "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                     "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", creds["access_key"])
        mp.setenv("AWS_SECRET_ACCESS_KEY", creds["secret_key"])
        mp.setenv("AWS_REGION", REGION)
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_CONFIG_FILE", str(nowhere))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere))
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        # boto3's default session caches the first credentials it resolves: start afresh so
        # boto3.client() (the handlers' way) sees these, whatever ran earlier in the process.
        mp.setattr(boto3, "DEFAULT_SESSION", None)
        yield creds


def _serve(server, endpoint_variable: str):
    """Export the server's endpoint to boto3 for the session, and stop the server after it."""
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(endpoint_variable, server.endpoint)
            mp.setattr(boto3, "DEFAULT_SESSION", None)  # no credentials cached from before
            yield server.endpoint
    finally:
        server.stop()


def _seaweedfs(creds: dict, workdir):
    try:
        return start_seaweedfs(workdir, creds["access_key"], creds["secret_key"])
    except LocalServiceError as exc:
        pytest.fail(f"cannot start SeaweedFS: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def _starting_servers(aws_test_credentials, tmp_path_factory):
    """Both servers' start-ups: name -> future of the LocalServer. Usually begun when the
    session began (``early_servers``, root conftest.py); else now."""
    if early_servers.starting is not None:
        yield early_servers.starting  # stopped at the end of the session, by its owner
        return
    starting = start_servers(tmp_path_factory.mktemp("local-servers"))
    yield starting
    stop_started(starting)  # a server no test asked for is stopped all the same


def _started(starting, name: str):
    try:
        return starting[name].result()
    except LocalServiceError as exc:
        pytest.fail(f"cannot start {name}: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def s3_endpoint(_starting_servers):
    """URL of a running SeaweedFS S3 gateway that enforces SigV4 (checked at start-up);
    also exported as ``AWS_ENDPOINT_URL_S3`` for the session."""
    yield from _serve(_started(_starting_servers, "SeaweedFS"), "AWS_ENDPOINT_URL_S3")


@pytest.fixture(scope="session")
def dynamodb_endpoint(_starting_servers):
    """URL of a running DynamoDB Local (in memory); also exported as
    ``AWS_ENDPOINT_URL_DYNAMODB`` for the session."""
    yield from _serve(_started(_starting_servers, "DynamoDB Local"),
                      "AWS_ENDPOINT_URL_DYNAMODB")


@pytest.fixture(scope="session")
def outage_s3_server(aws_test_credentials, tmp_path_factory):
    """A second SeaweedFS, for the outage drill: the primary Region's S3, which the drill
    freezes and thaws (``LocalServer.freeze``/``thaw``). Its endpoint is not exported: the
    session's ``AWS_ENDPOINT_URL_S3`` stays the first server's. Once per session: started with
    the others when the session includes the drill (``early_servers``), else on first use;
    stopped at the session's end."""
    starting = early_servers.starting or {}
    if PRIMARY_REGION_S3 in starting:
        yield _started(starting, PRIMARY_REGION_S3)  # stopped at the session's end, by its owner
        return
    server = _seaweedfs(aws_test_credentials, tmp_path_factory.mktemp("seaweedfs-outage"))
    try:
        yield server
    finally:
        server.stop()


def _session(creds) -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id=creds["access_key"],
                                 aws_secret_access_key=creds["secret_key"],
                                 region_name=creds["region"])


@pytest.fixture(scope="session")
def s3_client(s3_endpoint, aws_test_credentials):
    """A boto3 S3 client (SigV4, the session's test credentials) for the local SeaweedFS."""
    return _session(aws_test_credentials).client(
        "s3", endpoint_url=s3_endpoint, config=Config(signature_version="s3v4"))


@pytest.fixture(scope="session")
def dynamodb_client(dynamodb_endpoint, aws_test_credentials):
    """A boto3 DynamoDB client for the local DynamoDB."""
    return _session(aws_test_credentials).client("dynamodb", endpoint_url=dynamodb_endpoint)


def versioned_bucket(s3_client) -> str:
    """A new, empty bucket with versioning enabled (like the assets bucket).

    Never emptied or deleted: its name is unique, so no other test sees it, and it goes with
    the server's data folder at the end of the session. Deleting each version and marker of
    each test's bucket was a quarter of the handler tests' S3 requests."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name)
    s3_client.put_bucket_versioning(Bucket=name,
                                    VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture(scope="session")
def new_versioned_bucket(s3_client):
    """Makes a new versioned bucket: for fixtures wider than one test."""
    return lambda: versioned_bucket(s3_client)


@pytest.fixture
def fresh_bucket(s3_client):
    """Name of a new versioned bucket of this test's own."""
    return versioned_bucket(s3_client)


@pytest.fixture
def second_bucket(s3_client):
    """Another one, for tests that span two buckets (a replica, a restore destination)."""
    return versioned_bucket(s3_client)


@pytest.fixture
def dedup_table(dynamodb_client):
    """Name of a new, empty dedup-index table with the schema of ``dedup_index.py``
    (partition key ``sha256`` of type S, no sort key, on-demand); deleted afterwards."""
    name = f"dedup-{uuid.uuid4().hex[:16]}"
    dynamodb_client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": dedup_index.PARTITION_KEY, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": dedup_index.PARTITION_KEY, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb_client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    yield name
    dynamodb_client.delete_table(TableName=name)


@pytest.fixture
def hasher_deps(s3_endpoint, dynamodb_endpoint, dedup_table):
    """The hasher's own clients, configured as in Lambda (standard retries, timeouts), on a
    fresh dedup table; small chunks so multi-chunk reads happen on small objects."""
    config = hasher.client_config()
    return hasher.Deps(s3=boto3.client("s3", endpoint_url=s3_endpoint, config=config),
                       dynamodb=boto3.client("dynamodb", endpoint_url=dynamodb_endpoint,
                                             config=config),
                       table_name=dedup_table, chunk_bytes=256 * 1024)


# --------------------------------------------------------------------------- presign handler

ALICE = "arn:aws:iam::123456789012:user/alice"


class PresignApi:
    """Drives ``estate_handlers.presign.handler`` in-process, wired from the environment
    (ASSETS_BUCKET_NAME, DEDUP_TABLE_NAME, UPLOAD_POLICY) to the local servers."""

    def __init__(self, monkeypatch, bucket: str, table: str):
        from estate_handlers import presign
        self._presign = presign
        self._mp = monkeypatch
        self.bucket, self.table = bucket, table
        self.configure()

    def configure(self, **policy_overrides) -> None:
        """(Re)build the handler's clients and policy; overrides replace top-level
        UploadApiConfig fields, e.g. ``multipart_threshold_bytes=5 * MB``."""
        from infra.config import KindAccess, UploadApiConfig, default_upload_kinds
        self._mp.setenv("ASSETS_BUCKET_NAME", self.bucket)
        self._mp.setenv("DEDUP_TABLE_NAME", self.table)
        # The default caller (alice) is also the brand publisher: brand kinds are restricted.
        policy_overrides.setdefault("kinds", default_upload_kinds(
            KindAccess(iam_principals=(ALICE,))))
        self._mp.setenv("UPLOAD_POLICY", UploadApiConfig(**policy_overrides).policy_json())
        deps = self._presign.Deps.from_env()
        self._mp.setattr(self._presign, "current_deps", lambda: deps)

    def call(self, method: str, path: str, *, body=None, query: str | None = None,
             caller: str | None = ALICE) -> tuple[int, dict]:
        """(status, JSON body) for one payload-2.0 request with IAM authorizer context."""
        event = http_api_event(method, path, body=body, query=query, caller=caller)
        response = self._presign.handler(event, LambdaContext())
        return response["statusCode"], json.loads(response["body"])

    def upload(self, caller: str | None = ALICE,
               **fields) -> tuple[int, dict]:
        return self.call("POST", "/uploads", body=fields, caller=caller)


@pytest.fixture
def presign_api(monkeypatch, fresh_bucket, dedup_table):
    """The presign handler bound to a fresh bucket and dedup table (default policy)."""
    return PresignApi(monkeypatch, fresh_bucket, dedup_table)


@pytest.fixture
def settled_canonicals(monkeypatch):
    """Every version reads as written a day earlier than S3 says: older than any URL for its
    key, so it may anchor a dedup answer (the local store's objects are seconds old). The age
    is still computed from S3's answer."""
    from estate_handlers import s3_plans

    real = s3_plans.version_age_seconds
    monkeypatch.setattr(s3_plans, "version_age_seconds",
                        lambda head: None if real(head) is None else real(head) + 86_400)


# --------------------------------------------------------------------------- browser

@pytest.fixture(scope="session")
def page_origins():
    """Two origins serving the upload page: the configured one, and one that is not."""
    servers = []
    for _ in range(2):
        handler = partial(QuietHandler, directory=str(PAGE_DIR))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    try:
        yield tuple(f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium driven by Playwright (no browser download), one per session."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package",
                    pytrace=False)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def open_page(chromium):
    """The upload page loaded from an origin; one page per origin for the session (the page
    keeps no state between calls, and loading it is the slow part of a browser test)."""
    contexts, pages = [], {}

    def open_at(origin: str):
        if origin not in pages:
            context = chromium.new_context()
            contexts.append(context)
            pages[origin] = context.new_page()
            pages[origin].goto(f"{origin}/upload_page.html")
        return pages[origin]

    yield open_at
    for context in contexts:
        context.close()


