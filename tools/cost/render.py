"""Estimates as terminal text and as Markdown."""
from __future__ import annotations

from itertools import groupby

from tools.cost.estimate import Estimate, Line, RenderingCompute


def usd(value: float) -> str:
    return f"${value:,.2f}"


def signed(value: float) -> str:
    return f"{'+' if value >= 0 else '−'}${abs(value):,.2f}"


def _quantity(line: Line) -> str:
    return f"{line.quantity:,.2f} {line.unit}"


def _by_service(estimate: Estimate) -> list[tuple[str, list[Line]]]:
    return [(service, list(lines)) for service, lines
            in groupby(estimate.lines, key=lambda line: line.service)]


def _drivers(estimate: Estimate) -> list[str]:
    total = estimate.total or 1.0
    return [f"{i}. {line.service} — {line.item} ({line.region}): {usd(line.usd)} "
            f"({line.usd / total:.0%})" for i, line in enumerate(estimate.drivers(), 1)]


def markdown(estimate: Estimate) -> str:
    out = [f"### `{estimate.env}` — {usd(estimate.total)} / month", "",
           "| Service | Line item | Region | Quantity / month | USD / month |",
           "|---|---|---|---:|---:|"]
    for service, lines in _by_service(estimate):
        out += [f"| {service} | {line.item} | {line.region} | {_quantity(line)} | "
                f"{usd(line.usd)} |" for line in lines]
        out.append(f"| **{service}** | | | | **{usd(sum(x.usd for x in lines))}** |")
    out += [f"| **Total** | | | | **{usd(estimate.total)}** |", "",
            "Largest drivers:", "", *_drivers(estimate), ""]
    if estimate.notes:
        out += ["Not estimated:", "", *(f"- {note}" for note in estimate.notes), ""]
    return "\n".join(out)


def terminal(estimate: Estimate) -> str:
    width = min(60, max((len(line.item) for line in estimate.lines), default=10))
    out = [f"== {estimate.env}: {usd(estimate.total)} / month (30 days) =="]
    for service, lines in _by_service(estimate):
        out.append(f"{service}  {usd(sum(x.usd for x in lines))}")
        out += [f"    {line.item[:width]:<{width}}  {line.region:<9}  {_quantity(line):>30}  "
                f"{usd(line.usd):>12}" for line in lines]
    out += [f"TOTAL  {usd(estimate.total)}", "Largest drivers:",
            *(f"  {d}" for d in _drivers(estimate))]
    out += [f"  note: {note}" for note in estimate.notes]
    return "\n".join(out) + "\n"


def moved(before: Estimate, after: Estimate, min_usd: float = 0.005) -> list[tuple[Line, float]]:
    """Line items whose monthly cost changed: (line, delta), the line from `after` when it
    exists there, largest change first."""
    old, new = before.by_key(), after.by_key()
    rows = []
    for key in old.keys() | new.keys():
        delta = (new[key].usd if key in new else 0.0) - (old[key].usd if key in old else 0.0)
        if abs(delta) >= min_usd:
            rows.append((new.get(key) or old[key], delta))
    return sorted(rows, key=lambda row: -abs(row[1]))


def delta_text(before: Estimate, after: Estimate, label: str) -> str:
    change = after.total - before.total
    out = [f"== {after.env} with {label}: {usd(before.total)} → {usd(after.total)} "
           f"({signed(change)} / month) =="]
    out += [f"    {line.service:<16} {line.item[:60]:<60} {line.region:<9} {signed(d):>14}"
            for line, d in moved(before, after)]
    return "\n".join(out) + "\n"


def delta_markdown(before: Estimate, after: Estimate, label: str) -> str:
    """The what-if's delta as Markdown: the totals, then each line item that moved."""
    change = after.total - before.total
    out = [f"#### `{after.env}` with `{label}`: {usd(before.total)} → {usd(after.total)} "
           f"({signed(change)} / month)", "",
           "| Service | Line item | Region | Change / month |", "|---|---|---|---:|"]
    out += [f"| {line.service} | {line.item} | {line.region} | {signed(d)} |"
            for line, d in moved(before, after)]
    return "\n".join([*out, ""])


def rendering(env: str, rc: RenderingCompute) -> str:
    """Markdown (also fine as terminal text): prepared-once vs render-per-miss compute."""
    ratio = rc.anchor_cpu_seconds / rc.prepared_cpu_seconds if rc.prepared_cpu_seconds else 0.0
    return "\n".join([
        f"#### `{env}` — image compute: prepared once vs rendered per cache miss", "",
        "| | Renders / month | CPU-seconds / month | USD / month |", "|---|---:|---:|---:|",
        f"| Prepared once (this pipeline: each original's stored set) | {rc.originals:,.0f} "
        f"originals | {rc.prepared_cpu_seconds:,.0f} | {usd(rc.prepared_usd)} |",
        f"| Rendered per miss (the on-the-fly anchor: every CDN miss, every edge and Region) | "
        f"{rc.anchor_renders:,.0f} | {rc.anchor_cpu_seconds:,.0f} | {usd(rc.anchor_usd)} |",
        "", f"The anchor needs {ratio:.1f}x the compute (Lambda arm64, one vCPU per 1,769 MB; "
        f"{usd(rc.usd_per_cpu_second * 1000)} per 1,000 CPU-seconds).", ""])
