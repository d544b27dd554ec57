"""The local servers the test session starts behave like a good citizen of the machine."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import early_servers
import local_services


def test_dynamodb_local_runs_without_telemetry_and_writes_no_installation_id(dynamodb_endpoint):
    # With telemetry on, DynamoDB Local writes dynamodb-local-metadata.json (an installation
    # id) into its working directory at start-up and reports usage.
    [server] = [s for s in local_services._RUNNING
                if s.name == "DynamoDB Local" and s.endpoint == dynamodb_endpoint]
    assert "-disableTelemetry" in server.process.args
    assert not (server.log_path.parent / "dynamodb-local-metadata.json").exists()


def test_each_server_holds_its_own_listening_port(s3_endpoint, dynamodb_endpoint):
    # A readiness probe answered by another worker's server (same credentials) must not pass
    # for ours: each server handed out is the process that listens on its endpoint's port.
    for endpoint in (s3_endpoint, dynamodb_endpoint):
        [server] = [s for s in local_services._RUNNING if s.endpoint == endpoint]
        port = int(endpoint.rsplit(":", 1)[1])
        assert local_services.listens_on(server.process.pid, port)


def test_a_port_held_by_another_process_is_not_ours():
    with subprocess.Popen(
            [sys.executable, "-c", "import socket,sys; s=socket.socket(); "
             "s.bind(('127.0.0.1', 0)); s.listen(); print(s.getsockname()[1], flush=True); "
             "sys.stdin.read()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
        try:
            port = int(holder.stdout.readline())
            assert local_services.listens_on(holder.pid, port)
            assert not local_services.listens_on(os.getpid(), port)
            with socket.socket() as mine:
                mine.bind(("127.0.0.1", 0))
                mine.listen()
                assert not local_services.listens_on(holder.pid, mine.getsockname()[1])
        finally:
            holder.kill()  # leaving the block closes its pipes and waits for it


def _seaweedfs(s3_endpoint):
    [server] = [s for s in local_services._RUNNING if s.endpoint == s3_endpoint]
    return server


def test_the_session_servers_are_the_ones_started_when_it_began(s3_endpoint, dynamodb_endpoint):
    # Started with the session (tests/conftest.py), not in the first test's set-up.
    assert early_servers.starting is not None
    started = {name: future.result().endpoint for name, future in early_servers.starting.items()}
    assert started["SeaweedFS"] == s3_endpoint
    assert started["DynamoDB Local"] == dynamodb_endpoint


def test_every_bucket_is_stored_in_the_one_shared_collection(s3_client, fresh_bucket,
                                                             s3_endpoint):
    # A bucket of its own collection would wait ~200 ms for a new volume on its first write.
    s3_client.put_object(Bucket=fresh_bucket, Key="k", Body=b"x")
    master = next(a.split("=", 1)[1] for a in _seaweedfs(s3_endpoint).process.args
                  if a.startswith("-master.port="))
    status, body = local_services.http("GET", f"http://127.0.0.1:{master}/vol/status")
    assert status == 200
    collections = {volume["Collection"]
                   for racks in json.loads(body)["Volumes"]["DataCenters"].values()
                   for nodes in racks.values() for volumes in nodes.values()
                   for volume in volumes}
    assert "tests" in collections and fresh_bucket not in collections


def test_seaweedfs_runs_its_go_runtime_on_one_core(s3_endpoint):
    pid = _seaweedfs(s3_endpoint).process.pid
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert b"GOMAXPROCS=1" in environ


def test_seaweedfs_runs_as_a_single_master_that_reports_nothing(s3_endpoint):
    # With raft's bootstrap the volume server's first heartbeat is refused and the next comes
    # 5 s later: a single master leads at once. Nothing is sent to SeaweedFS's telemetry.
    args = _seaweedfs(s3_endpoint).process.args
    assert "-master.peers=none" in args and "-master.telemetry=false" in args


def test_freeze_returns_once_every_thread_of_the_group_is_stopped(tmp_path):
    # A server with several threads in its own process group, as SeaweedFS is: after freeze()
    # none may still run (a request sent then would be answered), after thaw() all run again.
    workers = "import threading,time; [threading.Thread(target=time.sleep, args=(60,)).start() " \
              "for _ in range(4)]; time.sleep(60)"
    process, log = local_services._spawn("threads", [sys.executable, "-c", workers], tmp_path)
    server = local_services.LocalServer("threads", "http://127.0.0.1:1", process, log)
    try:
        deadline = time.monotonic() + 10
        while len(list(Path(f"/proc/{process.pid}/task").iterdir())) < 5:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.01)
        assert local_services._running_threads(process.pid)  # sleeping threads are not stopped
        server.freeze()
        assert local_services._running_threads(process.pid) == []
        server.thaw()
        assert len(local_services._running_threads(process.pid)) == 5
    finally:
        process.kill()
        process.wait()
