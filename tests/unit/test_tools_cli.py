"""The command-line shape every operator tool shares (tools/cli.py)."""
from __future__ import annotations

import argparse

import pytest

from tools.cli import (
    Parser,
    UsageError,
    aws_error,
    bucket,
    creatable_file,
    non_negative,
    region,
    run_main,
)


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


def test_a_creatable_file_may_lack_its_folders_but_not_be_a_folder_or_under_a_file(tmp_path):
    assert creatable_file(str(tmp_path / "new" / "deeper" / "cost.md")).name == "cost.md"
    (tmp_path / "plain").write_text("x")
    for text in (str(tmp_path), str(tmp_path / "plain" / "cost.md")):
        with pytest.raises(argparse.ArgumentTypeError):
            creatable_file(text)


def test_aws_errors_read_as_code_and_message_or_the_exceptions_text():
    from botocore.exceptions import ClientError, NoCredentialsError
    refused = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")
    assert aws_error(refused) == "AccessDenied: no"
    assert aws_error(NoCredentialsError()) == "Unable to locate credentials"
