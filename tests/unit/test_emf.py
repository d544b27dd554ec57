"""``emf.log_metrics``: one EMF line per invocation that counted something, flushed even when
the handler raises; nothing written and nothing warned for one that counted nothing."""
from __future__ import annotations

import json
import warnings

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from estate_handlers.emf import EMPTY_METRICS_WARNING, log_metrics
from lambda_context import LambdaContext


@pytest.fixture
def metrics():
    emf = Metrics(namespace="EstateTest", service="emf-test")
    emf.clear_metrics()
    yield emf
    emf.clear_metrics()


def _emf_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()
            if line.startswith('{"_aws"')]


def _invoke(handler, event=None) -> tuple[object, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # every warning recorded, none deduplicated
        result = handler(event or {}, LambdaContext())
    return result, [str(w.message) for w in caught]


def test_an_invocation_that_counts_nothing_writes_and_warns_nothing(metrics, capsys):
    @log_metrics(metrics)
    def handler(event, context):
        return "done"

    assert _invoke(handler) == ("done", [])
    assert _emf_lines(capsys) == []


def test_powertools_alone_warns_on_that_invocation(metrics):
    # The warning the decorator exists to drop (if Powertools stops warning, it can go).
    @metrics.log_metrics
    def handler(event, context):
        return "done"

    _, warned = _invoke(handler)
    assert any(message.startswith(EMPTY_METRICS_WARNING) for message in warned)


def test_each_invocation_that_counts_writes_one_line_of_its_own(metrics, capsys):
    @log_metrics(metrics)
    def handler(event, context):
        metrics.add_dimension(name="kind", value=event["kind"])
        metrics.add_metric(name="UrlsIssued", unit=MetricUnit.Count, value=1)
        return event["kind"]

    assert _invoke(handler, {"kind": "certificate"}) == ("certificate", [])
    assert _invoke(handler, {"kind": "brand-media"}) == ("brand-media", [])
    first, second = _emf_lines(capsys)
    assert (first["kind"], second["kind"]) == ("certificate", "brand-media")
    assert first["UrlsIssued"] in (1, 1.0, [1.0])


def test_what_was_counted_before_the_handler_raised_is_still_written(metrics, capsys):
    @log_metrics(metrics)
    def handler(event, context):
        metrics.add_metric(name="RejectedOriginals", unit=MetricUnit.Count, value=2)
        raise RuntimeError("batch failed")

    with pytest.raises(RuntimeError, match="batch failed"):
        handler({}, LambdaContext())
    (line,) = _emf_lines(capsys)
    assert line["RejectedOriginals"] in (2, 2.0, [2.0])


def test_other_warnings_from_the_handler_still_reach_the_log(metrics):
    @log_metrics(metrics)
    def handler(event, context):
        warnings.warn("the real problem", UserWarning, stacklevel=1)

    assert _invoke(handler) == (None, ["the real problem"])
