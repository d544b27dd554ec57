"""Render a Review as Markdown for a pull-request comment."""
from __future__ import annotations

from tools.cost import render
from tools.cost.estimate import Estimate, by_environment, environment_estimate
from tools.cost.prices import CostError
from tools.review.assembly import StackTemplate
from tools.review.diff import Finding, ResourceChange, Review, StackDiff

ICONS = {"danger": "⛔", "warn": "⚠️", "info": "ℹ️"}
HEADINGS = {"danger": "Data at risk (stateful resource replaced, deleted or no longer retained)",
            "warn": "Widened or weakened", "info": "Other security-relevant changes"}
KIND = {"added": "➕ added", "removed": "➖ removed", "modified": "✏️ modified"}
COLLAPSE_AFTER = 12  # longer lists and tables go inside <details> to keep the comment scannable


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _finding(f: Finding) -> str:
    line = f"- {ICONS[f.level]} **{f.stack}** `{f.logical_id}` ({f.rtype}): {f.message}"
    if f.details:
        block = "```diff\n" + "\n".join(f.details) + "\n```"
        line += "\n\n  " + _details("diff", block).replace("\n", "\n  ")
    return line


def _security(review: Review, levels: tuple[str, ...] = ("danger", "warn", "info")) -> list[str]:
    out = ["### ⚠️ Security & data", ""]
    if not review.findings:
        return out + ["No security- or data-relevant changes.", ""]
    if not any(f.level in levels for f in review.findings):
        return out + ["Nothing besides the risky changes above.", ""]
    for level in levels:
        items = [_finding(f) for f in review.findings if f.level == level]
        if not items:
            continue
        body = "\n".join(items)
        out.append(f"**{ICONS[level]} {HEADINGS[level]}** ({len(items)})")
        out.append("")
        # Danger is never folded away: it is the reason for a non-zero exit.
        out.append(body if level == "danger" or len(items) <= COLLAPSE_AFTER
                   else _details(f"{len(items)} items", body))
        out.append("")
    return out


def _replacement(c: ResourceChange) -> str:
    if c.rename:
        return f"**probable rename** {'from' if c.kind == 'added' else 'to'} `{c.rename}`"
    if c.replacement == "yes":
        return "**yes** (" + ", ".join(f"`{p}`" for p in c.forced_by) + ")"
    if c.replacement == "update fails":
        return "**update fails** (" + ", ".join(f"`{p}`" for p in c.forced_by) + ")"
    if c.replacement == "unknown":
        return "may replace: unknown"
    return c.replacement


def _stack(stack: StackDiff) -> list[str]:
    out = [f"#### `{stack.name}` — {stack.status}", ""]
    rows = ["| Change | Logical ID | Type | Replacement | Changed |", "|---|---|---|---|---|"]
    rows += [f"| {KIND[c.kind]} | `{c.logical_id}` | {_cell(c.rtype)} | {_replacement(c)} | "
             + _cell(", ".join(c.changed)) + " |" for c in stack.resources]
    table = "\n".join(rows)
    out.append(table if len(stack.resources) <= COLLAPSE_AFTER
               else _details(f"{len(stack.resources)} resource changes", table))
    diffs = [f"# {c.logical_id}\n" + "\n".join(c.lines) for c in stack.resources if c.lines]
    if diffs:
        out += ["", _details("Property changes", "```diff\n" + "\n\n".join(diffs) + "\n```")]
    return out + [""]


def at_risk_count(findings: list[Finding]) -> int:
    """Resources with data at risk: a replaced bucket whose retention also weakens is one."""
    return len({(f.stack, f.logical_id) for f in findings if f.level == "danger"})


def _headline(review: Review) -> str:
    changed = [s for s in review.stacks if s.status != "unchanged"]
    resources = [c for s in review.stacks for c in s.resources]
    count = {k: sum(1 for c in resources if c.kind == k) for k in ("added", "removed", "modified")}
    replacements = sum(1 for c in resources if c.replacement == "yes" or
                       (c.rename and c.kind == "removed"))
    levels = {lvl: sum(1 for f in review.findings if f.level == lvl) for lvl in ICONS}
    parts = [f"{len(changed)} stack(s) changed"
             + "".join(f", {n} {k}" for k in ("added", "removed")
                       if (n := sum(1 for s in changed if s.status == k)))
             + f" · resources +{count['added']} −{count['removed']} ~{count['modified']}"
             + f" · {replacements} replacement(s)"]
    if levels["danger"]:
        parts.insert(0, f"⛔ **{at_risk_count(review.findings)} stateful resource(s) with data "
                        "at risk**")
    if levels["warn"]:
        parts.append(f"⚠️ {levels['warn']} widened/weakened")
    return " · ".join(parts)


def toolchain_note(files: tuple[str, ...] | list[str]) -> str:
    """Why a changed toolchain makes the review incomplete (the report says it too)."""
    return (f"{', '.join(f'`{name}`' for name in files)} changed. Both revisions are synthesized "
            "with this pull request's Python packages (aws-cdk-lib, the construct libraries), so "
            "what the new versions change in the templates is not in this review, nor in its "
            "check for data at risk.")


def cost_section(base: dict[str, StackTemplate], head: dict[str, StackTemplate],
                 threshold: float | None = None) -> tuple[list[str], bool]:
    """Monthly cost per environment before → after and the line items that moved; True when
    an environment's increase exceeds `threshold` USD/month. A failed estimate is shown, never
    fatal: cost alone does not make a review risky."""
    out = ["### 💰 Cost (estimated, USD / month)", ""]
    rows, details, over = [], [], False
    base_envs, head_envs = by_environment(base), by_environment(head)
    for env in sorted(base_envs.keys() | head_envs.keys()):
        try:
            before, after = (environment_estimate(env, envs[env]) if env in envs
                             else Estimate(env, []) for envs in (base_envs, head_envs))
        except CostError as error:
            rows.append(f"| `{env}` | ⚠️ not estimated: {_cell(str(error))} | | |")
            continue
        change = after.total - before.total
        flag = ""
        if threshold is not None and change > threshold:
            over, flag = True, f" ⚠️ over the {render.usd(threshold)} threshold"
        rows.append(f"| `{env}` | {render.usd(before.total)} | {render.usd(after.total)} | "
                    f"{render.signed(change)}{flag} |")
        moved = render.moved(before, after)
        if moved:
            table = ["| Service | Line item | Region | Change |", "|---|---|---|---:|"]
            table += [f"| {line.service} | {line.item} | {line.region} | {render.signed(d)} |"
                      for line, d in moved]
            body = "\n".join(table)
            details += [f"**`{env}`: line items that moved** ({len(moved)})", "",
                        body if len(moved) <= COLLAPSE_AFTER
                        else _details(f"{len(moved)} line items", body), ""]
    out += ["| Environment | Before | After | Change |", "|---|---:|---:|---:|", *rows, ""]
    return out + details, over


def render_markdown(review: Review, base_label: str, head_label: str,
                    cost: list[str] | None = None,
                    security_levels: tuple[str, ...] = ("danger", "warn", "info"),
                    toolchain: bool = True) -> str:
    """``security_levels``: the finding levels the security section lists (the pull request
    comment lists danger and warn above the report, per environment); ``toolchain``: whether
    to say that the dependency pins changed (the comment says it in its verdict)."""
    out = [f"## Infrastructure review: {base_label} → {head_label}", ""]
    if toolchain and review.toolchain_changed:
        # Before "No infrastructure changes.": an upgrade's changes are exactly what is missing.
        out += [f"⛔ **Toolchain changed: this review is incomplete.** "
                f"{toolchain_note(review.toolchain_changed)}", ""]
    changed = [s for s in review.stacks if s.status != "unchanged"]
    if not changed:
        return "\n".join(out + ["No infrastructure changes.", ""])
    out += [_headline(review), ""]
    out += _security(review, security_levels)
    out += cost or []
    out += ["### Stacks", ""]
    for stack in changed:
        out += _stack(stack)
    unchanged = [s.name for s in review.stacks if s.status == "unchanged"]
    if unchanged:
        out += ["Unchanged: " + ", ".join(f"`{n}`" for n in unchanged), ""]
    return "\n".join(out)
