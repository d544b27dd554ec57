"""Markdown of a drift check: one line per stack, then each drifted resource and property."""
from __future__ import annotations

from tools.drift.detect import StackDrift

STATUS_ICONS = {"IN_SYNC": "✅", "DRIFTED": "⚠️", "NOT_CHECKED": "➖", "UNKNOWN": "❓"}
MAX_VALUE_CHARS = 200  # a policy document as a value would drown the table


def _cell(text: str) -> str:
    text = text.replace("|", "\\|").replace("\n", " ").replace("`", "'")
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"


def drifted(results: list[StackDrift]) -> bool:
    return any(r.resources or r.status == "DRIFTED" for r in results)


def incomplete(results: list[StackDrift]) -> bool:
    return any(r.problem for r in results)


def render(env: str, results: list[StackDrift]) -> str:
    if not results:
        return (f"## Drift: `{env}`\n\n❓ No stack named `{env}-…` was found: "
                "nothing was checked (wrong account or role, or not deployed yet).\n")
    count = sum(len(r.resources) for r in results)
    headline = (f"⚠️ **{count} resource(s) drifted** from what the estate deployed"
                if drifted(results) else "✅ Every stack is in sync with its template")
    if incomplete(results):
        headline += " · ❓ detection incomplete for some stacks (see below)"
    out = [f"## Drift: `{env}`", "", headline, "",
           "| Stack | Region | Status | Drifted resources | Note |", "|---|---|---|---:|---|"]
    out += [f"| `{r.name}` | {r.region} | {STATUS_ICONS.get(r.status, '❓')} {r.status} | "
            f"{len(r.resources)} | {_cell(r.problem)} |" for r in results]
    out.append("")
    for result in (r for r in results if r.resources):
        out += [f"### `{result.name}` ({result.region})", ""]
        for resource in result.resources:
            out.append(f"- **{resource.status}** `{resource.logical_id}` ({resource.rtype}) "
                       f"`{_cell(resource.physical_id)}`")
            if resource.properties:
                out += ["", "  | Property | Difference | Expected | Actual |",
                        "  |---|---|---|---|"]
                out += [f"  | `{_cell(p.path)}` | {p.kind} | {_cell(p.expected)} | "
                        f"{_cell(p.actual)} |" for p in resource.properties]
                out.append("")
        out.append("")
    out += ["Fix drift by redeploying the environment from main (the deployed template wins), "
            "or bring the change into the code through a pull request.", ""]
    return "\n".join(out)
