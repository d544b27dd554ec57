"""Publishing an invocation's metrics (CloudWatch EMF) as Powertools' ``log_metrics`` does,
without its warning on invocations that counted nothing.

Most invocations of some handlers count nothing by design: a renditions batch with no rejected
original, a refused or download request, a hasher batch of replicas. Powertools then warns
"No application metrics to publish" on each, a log line per invocation that says nothing.
Its documentation's remedy is a process-wide ``warnings.filterwarnings``; this decorator scopes
the same filter to the flush, so no other warning is hidden and it also holds in a test run,
whose runner restores the warning filters around every test.
"""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Metrics

EMPTY_METRICS_WARNING = "No application metrics to publish"


def log_metrics(metrics: Metrics) -> Callable[[Callable], Callable]:
    """``@log_metrics(metrics)``: the handler's metrics flushed once per invocation, even when
    it raises; nothing written and nothing warned when there are none."""
    def decorate(handler: Callable) -> Callable:
        flushing = metrics.log_metrics(handler)

        @functools.wraps(handler)
        def invoke(event: Any, context: Any) -> Any:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", f"^{EMPTY_METRICS_WARNING}", UserWarning)
                return flushing(event, context)
        return invoke
    return decorate
