"""An output file named on the command line, checked before any work starts.

A path that cannot be written (a missing folder, a directory, no permission) is found while
the arguments are parsed, so the tool stops with its usage error and has done nothing, rather
than failing with a traceback after minutes of synthesis or drift detection. Used by
``tools.review``, ``tools.cost`` and ``tools.drift``.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path


def writable_file(text: str) -> Path:
    """argparse type: a file that can be written (or appended to) at ``text``."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory, not a file")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: folder {str(path.parent)!r} does not exist")
    # An existing file must itself be writable; a new one needs a writable folder.
    if not os.access(path if path.exists() else path.parent, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text!r} is not writable")
    return path
