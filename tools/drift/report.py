"""Markdown of a drift check: one line per stack, then each drifted resource and property,
and what CloudFormation did not check."""
from __future__ import annotations

from tools.drift.detect import StackDrift

STATUS_ICONS = {"IN_SYNC": "✅", "DRIFTED": "⚠️", "MISSING": "⛔", "NOT_CHECKED": "➖",
                "UNKNOWN": "❓"}
MAX_VALUE_CHARS = 200  # a policy document as a value would drown the table


def _cell(text: str) -> str:
    text = text.replace("|", "\\|").replace("\n", " ").replace("`", "'")
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"


def drifted(results: list[StackDrift]) -> bool:
    """A resource changed or deleted, or an expected stack is not deployed."""
    return any(r.resources or r.status in ("DRIFTED", "MISSING") for r in results)


def incomplete(results: list[StackDrift]) -> bool:
    return any(r.problem for r in results)


def _note(result: StackDrift) -> str:
    if result.status == "MISSING":
        return ("expected but not deployed: deleted outside the pipeline, or never deployed"
                + (f" ({result.live_status})" if result.live_status else ""))
    return result.problem


def _headline(results: list[StackDrift]) -> str:
    count = sum(len(r.resources) for r in results)
    missing = sum(r.status == "MISSING" for r in results)
    parts = []
    if count or any(r.status == "DRIFTED" for r in results):
        parts.append(f"⚠️ **{count} resource(s) drifted** from what the estate deployed")
    if missing:
        parts.append(f"⛔ **{missing} expected stack(s) missing**")
    if incomplete(results):
        unchecked = sum(bool(r.problem) for r in results)
        parts.append(f"❓ **detection incomplete for {unchecked} stack(s)** (see the notes): "
                     "this is no verdict on them")
    if not parts:
        parts.append("✅ Every expected stack is in sync with its template")
    not_checked = sum(len(r.not_checked) for r in results)
    if not_checked:
        parts.append(f"➖ {not_checked} resource(s) not checked by CloudFormation (listed below; "
                     "neither drift nor in sync)")
    return " · ".join(parts)


def render(env: str, results: list[StackDrift]) -> str:
    if not results:
        return (f"## Drift: `{env}`\n\n❓ No stack of `{env}` is expected in the region(s) "
                "checked: nothing was checked.\n")
    out = [f"## Drift: `{env}`", "", _headline(results), "",
           "| Stack | Region | Status | Drifted resources | Not checked | Note |",
           "|---|---|---|---:|---:|---|"]
    out += [f"| `{r.name}` | {r.region} | {STATUS_ICONS.get(r.status, '❓')} {r.status} | "
            f"{len(r.resources)} | {len(r.not_checked)} | {_cell(_note(r))} |" for r in results]
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
    unchecked = [r for r in results if r.not_checked]
    if unchecked:
        # Drift detection does not support every resource type: these could have changed.
        lines = [f"- `{r.name}`: " + ", ".join(f"`{d.logical_id}` ({d.rtype})"
                                               for d in r.not_checked) for r in unchecked]
        out += ["<details><summary>Resources CloudFormation did not check "
                f"({sum(len(r.not_checked) for r in unchecked)})</summary>", "", *lines, "",
                "</details>", ""]
    out += ["Fix drift by redeploying the environment from main (the deployed template wins; a "
            "missing stack is created again), or bring the change into the code through a pull "
            "request.", ""]
    return "\n".join(out)
