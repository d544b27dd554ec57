"""The command-line shape every operator tool shares (tools/cli.py)."""
from __future__ import annotations

import argparse

import pytest

from tools.cli import Parser, UsageError, bucket, non_negative, region, run_main


class Refused(Exception):
    pass


class RefusedLater(Refused):
    pass


def _run(body, failures=None):
    return run_main(Parser(prog="tool"), body, [], failures)


def test_a_usage_error_is_one_line_and_exit_2(capsys):
    def body(_args):
        raise UsageError("no such bucket")
    assert _run(body) == 2
    assert capsys.readouterr().err == "tool: error: no such bucket\n"


def test_a_listed_failure_and_its_subclasses_get_their_exit_code(capsys):
    def body(_args):
        raise RefusedLater("job not created")
    assert _run(body, {Refused: 1}) == 1
    assert capsys.readouterr().err == "tool: job not created\n"


@pytest.mark.parametrize("text", ["a..b", "192.168.0.1", "B_1", "ab"])
def test_bucket_names_s3_refuses_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        bucket(text)


@pytest.mark.parametrize(("text", "ok"), [("us-west-2", True), ("us-gov-west-1", True),
                                          ("bad region!", False), ("us-west", False)])
def test_regions_are_region_codes(text, ok):
    if ok:
        assert region(text) == text
    else:
        with pytest.raises(argparse.ArgumentTypeError):
            region(text)


@pytest.mark.parametrize("text", ["nan", "inf", "-1", "x"])
def test_non_negative_numbers_refuse_nan_infinity_and_negatives(text):
    with pytest.raises(argparse.ArgumentTypeError, match="seconds"):
        non_negative("seconds")(text)
