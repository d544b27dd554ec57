"""What every handler of the estate shares: one Logger, one Metrics, one way to build AWS
clients and the dependencies built from them.

Pattern (every handler): a frozen ``Deps`` dataclass holds the clients and the settings read
from the environment (``Deps.from_env``); ``current_deps = once(<factory>)`` keeps one
instance, built on first use and, in Lambda, at import — the init phase runs once per
container with a CPU boost. Tests pass their own ``Deps`` to the plain functions instead.

Logger and Metrics read ``POWERTOOLS_SERVICE_NAME`` / ``POWERTOOLS_METRICS_NAMESPACE`` (set by
``EstateFunction``). Never log presigned URLs, POST fields or signatures: a log line outlives
the URL's expiry and is widely readable.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from botocore.config import Config

from estate_handlers._http import ConfigError  # noqa: F401 (the handlers import it from here)
from estate_handlers.layout import HANDLED_FAULTS_METRIC, METRICS_NAMESPACE
from estate_handlers.object_events import RetryLater

T = TypeVar("T")

IN_LAMBDA = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "storage-estate"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", METRICS_NAMESPACE))


def require_env(environ, *names: str) -> None:
    missing = [n for n in names if not environ.get(n)]
    if missing:
        raise ConfigError(f"missing environment variable(s): {', '.join(missing)}")


def region(environ=os.environ) -> str:
    return environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def client(service: str, config: Config, region_name: str | None = None):
    """A boto3 client with explicit timeouts and retries (the handler's ``Config``)."""
    return boto3.client(service, region_name=region_name or region(), config=config)


def count(name: str, value: float = 1, unit: str = MetricUnit.Count, **dimensions: str) -> None:
    """Add to this invocation's EMF metrics (flushed once by ``emf.log_metrics``). An
    API invocation is one request, so its dimensions (e.g. the upload kind) are the request's."""
    for dimension, dimension_value in dimensions.items():
        metrics.add_dimension(name=dimension, value=dimension_value)
    metrics.add_metric(name=name, unit=unit, value=value)


def count_fault(on: Metrics = metrics) -> None:
    """One failure this invocation caught and answered for (a 500 response, a queue record
    handed back), which Lambda's ``Errors`` metric does not count: its alarm reads this. In an
    EMF document of its own with ``service`` alone, because the invocation's other metrics may
    carry a request's upload kind, and the alarm reads one series."""
    with single_metric(name=HANDLED_FAULTS_METRIC, unit=MetricUnit.Count, value=1,
                       namespace=on.namespace, default_dimensions={"service": on.service}):
        pass


class SqsBatch(BatchProcessor):
    """An SQS batch processor that reports failed records (``batchItemFailures``: each is
    retried, then dead-lettered), an all-failed batch included, and counts each with
    :func:`count_fault`: the invocation succeeds, so Lambda's ``Errors`` never sees them. A
    record deferred on purpose (``RetryLater``) is not a fault."""

    def __init__(self, on: Metrics = metrics) -> None:
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self._metrics = on

    def failure_handler(self, record, exception):
        if not isinstance(exception[1], RetryLater):
            count_fault(self._metrics)
        return super().failure_handler(record, exception)


def once(factory: Callable[[], T]) -> Callable[[], T]:
    """``factory()`` on the first call, the same object on every later one (per container)."""
    built: list[T] = []

    def current() -> T:
        if not built:
            built.append(factory())
        return built[0]

    current.__doc__ = "This container's dependencies, built once from the environment."
    return current
