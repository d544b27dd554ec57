"""CLI: `python -m tools.review [--base REF] [--head REF|--worktree] [--base-dir D --head-dir D]`.

Exit codes: 0 no risky change; 2 a stateful resource is replaced, deleted or no longer
retained, or the two revisions pin different Python packages (requirements*.txt: both are
synthesized with the head's, so an upgrade's template changes would go unseen) — unless
--labels names the label for each (data: allow-destructive-change; toolchain:
allow-toolchain-change; see comment.py) — or (with
--cost-threshold) an environment's monthly cost rises by more than the threshold; 1 usage or
synthesis error. Cost never makes a review risky without a threshold.
`--comment FILE` also writes the pull request's comment (marker, verdict, risky changes per
environment, then the report).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NoReturn

from tools.cli import non_negative, writable_file
from tools.review.assembly import (
    ReviewError,
    StackTemplate,
    default_base,
    load_assembly,
    repo_root,
    resolve_commit,
    synthesize,
    synthesize_ref,
    toolchain_changes,
)
from tools.review.comment import (
    OVERRIDE_LABEL,
    TOOLCHAIN_LABEL,
    comment_body,
    failure_body,
    gate,
    parse_labels,
)
from tools.review.diff import diff_assemblies
from tools.review.report import at_risk_count, cost_section, render_markdown

Side = tuple[str, Callable[[Path], dict[str, StackTemplate]]]  # label, loader(scratch dir)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would exit 2, which means "risky"
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


# A negative threshold would flag an unchanged estate; NaN would switch the gate off.
_usd = non_negative("dollars")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m tools.review",
                description="Markdown review of what a change does to the synthesized estate.")
    p.add_argument("--base", metavar="REF", help="git revision to compare against "
                   "(default: origin/main if it exists, else main, else HEAD)")
    head = p.add_mutually_exclusive_group()
    head.add_argument("--head", metavar="REF", help="git revision to review")
    head.add_argument("--worktree", action="store_true",
                      help="review the working tree, uncommitted changes included (default)")
    p.add_argument("--base-dir", type=Path, metavar="DIR",
                   help="an existing cloud assembly (cdk.out) to use as base instead of --base")
    p.add_argument("--head-dir", type=Path, metavar="DIR",
                   help="an existing cloud assembly (cdk.out) to use as head")
    p.add_argument("--format", choices=["markdown"], default="markdown")
    p.add_argument("--output", type=writable_file, metavar="FILE",
                   help="write the report here, not stdout")
    p.add_argument("--comment", type=writable_file, metavar="FILE",
                   help="also write the pull request comment (hidden marker, verdict, risky "
                        "changes per environment, report) here")
    p.add_argument("--labels", default="", metavar="LABELS",
                   help="the pull request's labels (JSON array or comma-separated); "
                        f"'{OVERRIDE_LABEL}' lets a destructive change pass, "
                        f"'{TOOLCHAIN_LABEL}' a changed toolchain")
    p.add_argument("--cost-threshold", type=_usd, metavar="USD",
                   help="exit 2 when an environment's estimated monthly cost rises by more "
                        "than this (default: cost never changes the exit code)")
    return p


def _progress(message: str) -> None:
    print(f"review: {message}", file=sys.stderr, flush=True)


def _from_dir(directory: Path) -> Side:
    return f"`{directory}`", lambda _scratch: load_assembly(directory)


def _from_ref(ref: str) -> Side:
    repo = repo_root(Path.cwd())
    commit = resolve_commit(repo, ref)
    if commit is None:
        raise ReviewError(f"unknown git revision: {ref}")
    label = f"`{ref}` ({commit[:8]})"

    def load(_scratch: Path) -> dict[str, StackTemplate]:  # kept in the repository's cache
        _progress(f"synthesizing {ref} ({commit[:8]}) in a temporary worktree, unless "
                  "a review already did")
        outdir = synthesize_ref(repo, commit)
        if outdir is None:
            _progress(f"{ref} has no app.py: treating it as an empty estate")
            return {}
        return load_assembly(outdir)
    return label, load


def _from_working_tree() -> Side:
    repo = repo_root(Path.cwd())

    def load(scratch: Path) -> dict[str, StackTemplate]:
        _progress(f"synthesizing the working tree {repo}")
        return load_assembly(synthesize(repo, scratch))
    return "working tree", load


def _toolchain_changes(args: argparse.Namespace) -> list[str]:
    """The dependency pin files that differ between two git revisions (or the working tree).
    Assembly folders were synthesized by whatever made them: nothing to compare."""
    if args.base_dir or args.head_dir:
        return []
    repo = repo_root(Path.cwd())
    base = resolve_commit(repo, args.base or default_base(repo))
    head = resolve_commit(repo, args.head) if args.head else None
    if base is None or (args.head and head is None):  # _from_ref has already said which
        raise ReviewError("unknown git revision")
    changed = toolchain_changes(repo, base, head)
    if changed:
        _progress(f"{', '.join(changed)} changed: both revisions were synthesized with the "
                  f"head's packages, so the review is incomplete (the label '{TOOLCHAIN_LABEL}' "
                  "is needed to pass)")
    return changed


def _failed(comment: Path | None, error: str) -> None:
    """Replace the pull request's comment with the failure: an earlier verdict must not stay
    up beside a check that failed."""
    if comment is None:
        return
    try:
        comment.write_text(failure_body(error), encoding="utf-8")
    except OSError as write_error:
        _progress(f"cannot write {comment}: {write_error.strerror or write_error}")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        labels = parse_labels(args.labels)
    except ValueError as error:
        parser.error(f"--labels: {error}")
    # A side is an assembly folder or a revision, never both: the one not used would be
    # ignored without a word, and the review would not be of what was asked for.
    if args.base_dir and args.base:
        parser.error("--base-dir and --base name the same side: give one")
    if args.head_dir and (args.head or args.worktree):
        parser.error(f"--head-dir and {'--head' if args.head else '--worktree'} name the same "
                     "side: give one")
    try:
        base = _from_dir(args.base_dir) if args.base_dir else _from_ref(
            args.base or default_base(repo_root(Path.cwd())))
        head = (_from_dir(args.head_dir) if args.head_dir
                else _from_ref(args.head) if args.head else _from_working_tree())
        with tempfile.TemporaryDirectory(prefix="review-") as tmp:
            # Both sides synthesize in their own process and folder: run them side by side.
            with ThreadPoolExecutor(max_workers=2) as pool:
                futures = [pool.submit(side[1], Path(tmp) / name)
                           for name, side in (("base", base), ("head", head))]
                base_stacks, head_stacks = (f.result() for f in futures)
        toolchain = _toolchain_changes(args)
    except ReviewError as error:
        _progress(str(error))
        _failed(args.comment, str(error))
        return 1
    try:
        review = diff_assemblies(base_stacks, head_stacks)
        review.toolchain_changed = toolchain
        cost, over_threshold = cost_section(base_stacks, head_stacks, args.cost_threshold)
        # The comment's verdict and the exit code come from the same gate, cost included.
        cost_over = args.cost_threshold if over_threshold else None
        text = render_markdown(review, base[0], head[0], cost)
    except Exception as error:  # a bug here: the traceback follows, and exit 1
        _failed(args.comment, f"{type(error).__name__}: {error}")
        raise
    try:  # both files were checked before the work; this catches what only writing shows
        if args.output:
            args.output.write_text(text, encoding="utf-8")
            _progress(f"report written to {args.output}")
        else:
            sys.stdout.write(text)
        if args.comment:
            args.comment.write_text(comment_body(review, base[0], head[0], labels, cost,
                                                 cost_over),
                                    encoding="utf-8")
            _progress(f"pull request comment written to {args.comment}")
    except OSError as error:
        _progress(f"cannot write {error.filename or 'the report'}: {error.strerror or error}")
        return 1
    verdict = gate(review, labels, cost_over)
    if verdict.at_risk and verdict.overridden:
        _progress(f"destructive changes to {at_risk_count(list(verdict.at_risk))} stateful "
                  f"resource(s) allowed by the label '{OVERRIDE_LABEL}'")
    if cost_over is not None:
        _progress(f"an environment's monthly cost rises by more than the ${cost_over:,.2f} "
                  f"threshold (the label '{OVERRIDE_LABEL}' does not override this)")
    return verdict.exit_code


if __name__ == "__main__":
    sys.exit(main())
