"""A stand-in for the context object Lambda passes to a handler (what Powertools' Logger reads)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LambdaContext:
    function_name: str = "estate-test"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:estate-test"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    log_group_name: str = "/estate/lambda/estate-test"
    log_stream_name: str = "test"
    remaining_millis: int = 10_000  # what get_remaining_time_in_millis() answers

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


def one_invocation(handle, event, deps):
    """``handle(event, deps)`` as one Lambda invocation: the handler's decorator would flush
    what it counted, so the next call starts with no metrics (Powertools warns when a call adds
    a dimension an earlier one left)."""
    from estate_handlers.runtime import metrics
    try:
        return handle(event, deps)
    finally:
        metrics.clear_metrics()
