"""Rules about the shape of the code itself, read from the source (no synth).

A constructor longer than a screen is a construct doing several jobs in one place: split it
into named parts (methods, or helper functions beside the class) that say what each builds.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_CONSTRUCTOR_LINES = 80

# Tracker numbers say nothing to a reader of the code: what it does and why goes there.
# (Spelled with a character class, so this file does not match its own search.)
TRACKER_REFERENCE = re.compile(r"[Ii]ssue\s[0-9]|[(]issue")
SOURCE_ROOTS = ("infra", "lambda", "tools", "tests", "bench")
SKIPPED_DIRS = {"__pycache__", ".venv", "node_modules", ".pytest_cache", ".ruff_cache"}


def constructor_lengths(path: Path) -> dict[str, int]:
    """``Class.__init__`` -> lines from ``def`` to its last line (end_lineno - lineno)."""
    lengths = {}
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    lengths[f"{node.name}.__init__"] = item.end_lineno - item.lineno
    return lengths


def test_constructor_lengths_are_measured_from_def_to_last_line(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text("class A:\n    def __init__(self):\n        x = 1\n        y = 2\n")
    assert constructor_lengths(source) == {"A.__init__": 2}


def test_no_constructor_under_infra_is_longer_than_80_lines():
    offenders = [
        f"{path.relative_to(ROOT)}: {name} is {length} lines"
        for path in sorted((ROOT / "infra").rglob("*.py"))
        for name, length in constructor_lengths(path).items()
        if length > MAX_CONSTRUCTOR_LINES
    ]
    assert not offenders, (
        f"constructors over {MAX_CONSTRUCTOR_LINES} lines (split them into named parts): "
        + "; ".join(offenders))


def _text_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except UnicodeDecodeError:  # images and other binary fixtures
        return []


def test_tracker_pattern_matches_the_forms_it_forbids():
    number = 4  # (the examples are assembled, so this file does not match itself)
    assert TRACKER_REFERENCE.search(f"# see issue {number} for why")
    assert TRACKER_REFERENCE.search('"""Built in the gate (' + f"issue {number})." + '"""')
    assert not TRACKER_REFERENCE.search("# no issues with 9 prefixes")


def test_no_tracker_references_in_code_comments_or_tests():
    paths = [ROOT / "app.py", *(p for root in SOURCE_ROOTS for p in sorted((ROOT / root).rglob("*"))
                                if p.is_file() and not SKIPPED_DIRS & set(p.parts))]
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in paths
        for number, line in enumerate(_text_lines(path), 1)
        if TRACKER_REFERENCE.search(line)
    ]
    assert not found, "tracker references (say what and why instead): " + "; ".join(found)


# An ARN built from the partition token reads "<AWS::Partition>" to cdk-nag when the app runs
# without the CLI's context, and "aws" with it: its acknowledgements can match only one of
# the two. Estate policies name literal ARNs (infra/constructs/arns.py) instead.
PARTITION_TOKEN = re.compile(r"\.partition\b(?!\s*\()|Aws\.PARTITION|AWS::Partition")


def test_partition_pattern_matches_the_forms_it_forbids():
    assert PARTITION_TOKEN.search('f"arn:{stack.partition}:s3:::b"')
    assert PARTITION_TOKEN.search("arn = f'arn:{Aws.PARTITION}:events:...'")
    assert not PARTITION_TOKEN.search('env, _, where = path.partition("/")')


def test_no_infra_arn_is_built_from_the_partition_token():
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "infra").rglob("*.py"))
        for number, line in enumerate(_text_lines(path), 1)
        if PARTITION_TOKEN.search(line)
    ]
    assert not found, "ARNs from the partition token (use infra/constructs/arns.py): " + \
        "; ".join(found)
