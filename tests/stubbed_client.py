"""A boto3 client answered only by botocore's Stubber, for the API shapes the local servers lack.

The Stubber checks every request against the service's model; the answers are queued in order,
and on leaving the block each queued answer must have been used (an unexpected call raises)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from botocore.stub import Stubber


@contextmanager
def stubbed_client(service: str, region: str = "us-east-1") -> Iterator[tuple[object, Stubber]]:
    client = boto3.client(service, region_name=region, aws_access_key_id="AKIDUNIT",
                          aws_secret_access_key="secret")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()
