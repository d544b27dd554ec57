"""Plain helpers for the review tests: hand-written assemblies, running the CLI, report sections.

(Named review_helpers because tests/ has no packages and `helpers` is taken by tests/infra.)
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tools.review.__main__ import main

SECURITY = "### ⚠️ Security & data"
STACKS = "### Stacks"


def write_assembly(root: Path, stacks: dict[str, dict[str, Any]]) -> Path:
    """A cloud assembly laid out as `cdk synth` does: one nested assembly per stage.

    `stacks` maps display names ("dev/Main") to templates.
    """
    root.mkdir(parents=True, exist_ok=True)
    top: dict[str, Any] = {"version": "55.0.0", "artifacts": {}}
    for stage in sorted({name.split("/")[0] for name in stacks}):
        folder = root / f"assembly-{stage}"
        folder.mkdir(exist_ok=True)
        nested: dict[str, Any] = {"version": "55.0.0", "artifacts": {}}
        for name, template in stacks.items():
            if name.split("/")[0] == stage:
                artifact_id = name.replace("/", "") + "ABC123"
                (folder / f"{artifact_id}.template.json").write_text(json.dumps(template))
                nested["artifacts"][artifact_id] = {
                    "type": "aws:cloudformation:stack", "displayName": name,
                    "properties": {"templateFile": f"{artifact_id}.template.json"}}
        (folder / "manifest.json").write_text(json.dumps(nested))
        top["artifacts"][folder.name] = {"type": "cdk:cloud-assembly", "properties": {
            "directoryName": folder.name, "displayName": stage}}
    (root / "manifest.json").write_text(json.dumps(top))
    return root


def run_cli(base: Path, head: Path, out: Path) -> tuple[int, str]:
    """(exit code, Markdown report) of comparing two assembly folders."""
    code = main(["--base-dir", str(base), "--head-dir", str(head), "--output", str(out)])
    return code, out.read_text(encoding="utf-8") if out.exists() else ""


def section(report: str, heading: str) -> str:
    """The text under a heading, up to the next heading of the same level."""
    start = report.index(heading)
    level = heading.split(" ", 1)[0]
    end = report.find(f"\n{level} ", start + len(heading))
    return report[start:end if end != -1 else len(report)]


def lines_with(text: str, *needles: str) -> list[str]:
    return [line for line in text.splitlines() if all(n in line for n in needles)]
