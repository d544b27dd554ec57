"""The local servers the test session starts behave like a good citizen of the machine."""
from __future__ import annotations

import local_services


def test_dynamodb_local_runs_without_telemetry_and_writes_no_installation_id(dynamodb_endpoint):
    # With telemetry on, DynamoDB Local writes dynamodb-local-metadata.json (an installation
    # id) into its working directory at start-up and reports usage.
    [server] = [s for s in local_services._RUNNING
                if s.name == "DynamoDB Local" and s.endpoint == dynamodb_endpoint]
    assert "-disableTelemetry" in server.process.args
    assert not (server.log_path.parent / "dynamodb-local-metadata.json").exists()
