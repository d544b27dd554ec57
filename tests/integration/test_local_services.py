"""The local servers the test session starts behave like a good citizen of the machine."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

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
    holder = subprocess.Popen(
        [sys.executable, "-c", "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', 0)); "
         "s.listen(); print(s.getsockname()[1], flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(holder.stdout.readline())
        assert local_services.listens_on(holder.pid, port)
        assert not local_services.listens_on(os.getpid(), port)
        with socket.socket() as mine:
            mine.bind(("127.0.0.1", 0))
            mine.listen()
            assert not local_services.listens_on(holder.pid, mine.getsockname()[1])
    finally:
        holder.kill()
        holder.wait()
