"""What the operator tools (``tools.restore``, ``tools.erase``, ``tools.reconcile``; the
argument types also ``tools.drift``, ``tools.cost`` and ``tools.review``) share on the command
line: the exit code of a usage error, argument types, the replica's name, and one ``main``
shape that turns a ``UsageError`` into a clear line on stderr and exit code 2 (never a
traceback).
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from botocore.exceptions import BotoCoreError, ClientError

# The replica's name is the estate's naming rule (lambda/estate_handlers/layout.py, on the
# path through the tools package), shared with the CDK app, so a tool never guesses it.
from estate_handlers.layout import replica_bucket_name  # noqa: F401 (re-exported)

USAGE_ERROR = 2
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP = re.compile(r"\d+\.\d+\.\d+\.\d+")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


class UsageError(Exception):
    """Arguments that cannot be carried out; nothing was changed."""


class Parser(argparse.ArgumentParser):
    """argparse that exits with the tools' usage-error code (2), as the tools' docs promise."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def bucket(text: str) -> str:
    # S3's naming rules: no two adjacent periods, not formatted like an IP address.
    if not _BUCKET.fullmatch(text) or ".." in text or _IP.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an S3 bucket name")
    return text


def region(text: str) -> str:
    """An AWS Region code (``us-west-2``): checked here, since botocore would only fail on it
    at the first call, with a traceback."""
    if not _REGION.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an AWS Region such as us-west-2")
    return text


def writable_file(text: str) -> Path:
    """A file that can be written (or appended to) at ``text``: checked while the arguments
    are parsed, so a missing folder, a directory or no permission stops the tool with its
    usage error before any work, not with a traceback at the end of it."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory, not a file")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: folder {str(path.parent)!r} does not exist")
    # An existing file must itself be writable; a new one needs a writable folder.
    if not os.access(path if path.exists() else path.parent, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text!r} is not writable")
    return path


def creatable_file(text: str) -> Path:
    """Like ``writable_file``, for a tool that creates the missing folders itself: the nearest
    folder that exists must be writable."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory, not a file")
    existing = next(p for p in (path, *path.parents) if p.exists())
    if existing != path and not existing.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: {str(existing)!r} is a file, not a folder")
    if not os.access(existing, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text!r} is not writable")
    return path


def non_negative(unit: str) -> Callable[[str], float]:
    """argparse type: a finite number of ``unit`` >= 0. NaN compares false with every bound,
    so without this check it would pass as "never reached" (a wait that never ends, a
    threshold that never trips)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of {unit}") from None
        if not math.isfinite(value) or value < 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be a finite number of {unit} >= 0")
        return value
    return parse


def aws_error(exc: Exception) -> str:
    """One line for an AWS failure: ``Code: Message`` of a service error, else the
    exception's own text (no credentials, no connection)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code')}: {error.get('Message')}"
    return str(exc)


def require_bucket(s3, bucket_name: str, *, unchanged: str = "nothing was changed") -> None:
    """The bucket answers, checked before anything is changed: a wrong name, Region or
    credentials would otherwise be found half-way, after part of the work was done."""
    try:
        s3.head_bucket(Bucket=bucket_name)
    except (ClientError, BotoCoreError) as exc:
        raise UsageError(f"s3://{bucket_name} does not answer ({aws_error(exc)}): check its "
                         f"name, Region and credentials; {unchanged}") from None


def moment(text: str) -> dt.datetime:
    """An ISO 8601 time with a time zone (``2026-11-20T10:00:00Z``)."""
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time like 2026-11-20T10:00:00Z") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone; add Z for UTC")
    return when


def run_main(parser: argparse.ArgumentParser, body: Callable[[argparse.Namespace], int],
             argv: list[str] | None,
             failures: dict[type[Exception], int] | None = None) -> int:
    """Parse ``argv`` and run ``body``; a ``UsageError`` prints one line and returns 2, each
    exception type in ``failures`` prints one line and returns its code."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return body(args)
    except UsageError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except tuple(failures or ()) as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        # The first listed type the exception is an instance of (a subclass included).
        return next(code for kind, code in (failures or {}).items() if isinstance(exc, kind))
