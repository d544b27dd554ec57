"""CLI: `python -m tools.cost [--assembly DIR] [--env NAME] [--what-if FIELD=VALUE]
[--format terminal|markdown] [--output FILE]`.

Exit codes: 0 estimate printed; 1 usage error, synthesis error, or a resource type the
estimator cannot price (named in the message: never a silent $0).
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import tempfile
import typing
from pathlib import Path
from typing import NoReturn

from infra.config import ConfigError, UsageConfig
from infra.environments import ENVIRONMENTS
from tools.cli import creatable_file, writable_file
from tools.cost import render
from tools.cost.estimate import by_environment, environment_estimate, rendering_compute
from tools.cost.prices import CostError
from tools.review.assembly import (
    ReviewError,
    StackTemplate,
    load_assembly,
    repo_root,
    synthesize,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m tools.cost",
                description="Monthly cost of each environment from the synthesized estate.")
    p.add_argument("--assembly", type=Path, metavar="DIR",
                   help="an existing cloud assembly (cdk.out); default: synthesize the working tree")
    p.add_argument("--env", action="append", metavar="NAME",
                   help="only this environment (repeatable); default: every one in the assembly")
    p.add_argument("--what-if", action="append", default=[], metavar="FIELD=VALUE",
                   help="change a number of the usage model and print the delta, "
                        "e.g. uploads_per_day=2.4e6 (repeatable)")
    p.add_argument("--format", choices=["terminal", "markdown"], default="terminal")
    p.add_argument("--output", type=writable_file, metavar="FILE",
                   help="write here, not stdout")
    p.add_argument("--markdown", type=creatable_file, metavar="FILE",
                   help="also write the Markdown tables here (e.g. for a PR comment or a wiki)")
    return p


def what_if(usage: UsageConfig, changes: list[str]) -> UsageConfig:
    """`usage` with FIELD=VALUE changes: a number of the model, or one entry of a mapping of
    numbers (`cdn_gb_per_month.eu=120000`)."""
    fields = {f.name: getattr(usage, f.name) for f in dataclasses.fields(usage)}
    # The declared type decides int or float, not the current value: dev's
    # ``uploads_per_day=2_000`` is an int, yet 0.4 uploads a day must stay 0.4.
    declared = typing.get_type_hints(type(usage))
    numbers = sorted(n for n, v in fields.items() if isinstance(v, (int, float)))
    updates: dict[str, object] = {}
    for change in changes:
        name, _, value = change.partition("=")
        field_name, _, key = name.partition(".")
        current = updates.get(field_name, fields.get(field_name))
        if not (isinstance(current, (int, float)) and not key) and not (
                isinstance(current, dict) and key and
                all(isinstance(v, (int, float)) for v in current.values())):
            raise CostError(f"--what-if {change!r}: {name!r} is not a number of the usage model "
                            f"(one of: {', '.join(numbers)}, or MAPPING.KEY of a mapping of "
                            "numbers such as cdn_gb_per_month.eu)")
        try:
            number = float(value)
        except ValueError:
            raise CostError(f"--what-if {change!r}: {value!r} is not a number") from None
        if not math.isfinite(number):
            raise CostError(f"--what-if {change!r}: {name} must be a finite number")
        if key:
            updates[field_name] = {**current, key: number}
        elif declared[field_name] is int and number.is_integer():
            updates[field_name] = int(number)
        else:  # a fraction for an int field stays a float: the model refuses it by name
            updates[field_name] = number
    try:
        return dataclasses.replace(usage, **updates)
    except ConfigError as error:
        raise CostError(f"--what-if: {error}") from None


def _load(args: argparse.Namespace, scratch: Path) -> dict[str, StackTemplate]:
    if args.assembly:
        return load_assembly(args.assembly)
    print("cost: synthesizing the working tree", file=sys.stderr, flush=True)
    return load_assembly(synthesize(repo_root(Path.cwd()), scratch))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="cost-") as tmp:
            envs = by_environment(_load(args, Path(tmp)))
        chosen = args.env or sorted(envs)
        unknown = [e for e in chosen if e not in envs]
        if unknown:
            raise CostError(f"environment(s) not in the assembly: {', '.join(unknown)}")
        parts, markdown = [], []
        for env in chosen:
            base = environment_estimate(env, envs[env])
            markdown.append(render.markdown(base))
            parts.append(markdown[-1] if args.format == "markdown" else render.terminal(base))
            if env not in ENVIRONMENTS:  # a stage of free resources only: no usage to vary
                continue
            cfg = ENVIRONMENTS[env]()
            markdown.append(render.rendering(env, rendering_compute(cfg.usage, cfg.primary_region)))
            parts.append(markdown[-1])
            if args.what_if:
                after = environment_estimate(env, envs[env],
                                             what_if(ENVIRONMENTS[env]().usage, args.what_if))
                label = ", ".join(args.what_if)
                markdown.append(render.delta_markdown(base, after, label))
                parts.append(markdown[-1] if args.format == "markdown"
                             else render.delta_text(base, after, label))
    except (CostError, ReviewError) as error:
        print(f"cost: {error}", file=sys.stderr)
        return 1
    text = "\n".join(parts)
    try:  # --output was checked before the work; this catches what only writing shows
        if args.markdown:
            args.markdown.parent.mkdir(parents=True, exist_ok=True)
            args.markdown.write_text("\n".join(markdown), encoding="utf-8")
        if args.output:
            args.output.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    except OSError as error:
        print(f"cost: cannot write {error.filename or 'the output'}: {error.strerror or error}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
