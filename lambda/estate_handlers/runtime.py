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
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config

from estate_handlers._http import ConfigError  # noqa: F401 (the handlers import it from here)
from estate_handlers.layout import METRICS_NAMESPACE

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


def once(factory: Callable[[], T]) -> Callable[[], T]:
    """``factory()`` on the first call, the same object on every later one (per container)."""
    built: list[T] = []

    def current() -> T:
        if not built:
            built.append(factory())
        return built[0]

    current.__doc__ = "This container's dependencies, built once from the environment."
    return current
