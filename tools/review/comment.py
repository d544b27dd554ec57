"""The pull request's one review comment, and the destructive-change gate.

The comment is the review report (``report.render_markdown``) under a verdict and a per-
environment list of what is risky, so a reviewer reads the dangerous part first. It starts
with a hidden marker: the workflow that posts it finds its earlier comment by that marker and
edits it in place (one comment per pull request, updated on every push).

The gate: a stateful resource replaced or deleted, or its retention weakened (a ``danger``
finding), fails the check unless the pull request carries ``OVERRIDE_LABEL``; a changed
toolchain (``Review.toolchain_changed``), whose effect on the templates the review cannot see,
fails it unless it carries ``TOOLCHAIN_LABEL``. With
``--cost-threshold``, an environment's monthly cost rising by more than the threshold fails it
too, and the label does not change that (it records a decision about data, not about money).
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass

from tools.cost import render
from tools.review.diff import Finding, Review
from tools.review.report import ICONS, at_risk_count, render_markdown, toolchain_note

MARKER = "<!-- storage-estate: infrastructure review (edited in place on every push) -->"
OVERRIDE_LABEL = "allow-destructive-change"
# A decision of another kind (the upgrade was checked another way), so a label of its own: the
# one that allows data to be lost must not be the one an upgrade needs, or it would stay on the
# pull request and waive the data findings of every later push.
TOOLCHAIN_LABEL = "allow-toolchain-change"
# GitHub refuses a comment body over 65,536 characters; the rest stays in the workflow artifact.
MAX_COMMENT_CHARS = 65_000
RISK_LEVELS = ("danger", "warn")


@dataclass(frozen=True)
class Gate:
    """The verdict of one review for one pull request's labels (and the cost threshold)."""

    at_risk: tuple[Finding, ...]  # the danger findings
    overridden: bool              # the pull request carries OVERRIDE_LABEL
    cost_over: float | None = None  # the --cost-threshold an environment's rise exceeded
    toolchain: tuple[str, ...] = ()  # dependency pin files that changed (review incomplete)
    toolchain_allowed: bool = False  # the pull request carries TOOLCHAIN_LABEL

    @property
    def destructive_passed(self) -> bool:
        """What the labels decide: data at risk (OVERRIDE_LABEL), and a review blind to a
        library upgrade (TOOLCHAIN_LABEL)."""
        return ((not self.at_risk or self.overridden)
                and (not self.toolchain or self.toolchain_allowed))

    @property
    def passed(self) -> bool:
        return self.destructive_passed and self.cost_over is None

    @property
    def exit_code(self) -> int:
        """0 passes, 2 blocks (tools.review's 'risky' code)."""
        return 0 if self.passed else 2


def gate(review: Review, labels: list[str], cost_over: float | None = None) -> Gate:
    """`cost_over`: the cost threshold, when an environment's increase exceeds it."""
    return Gate(tuple(f for f in review.findings if f.level == "danger"),
                OVERRIDE_LABEL in labels, cost_over, tuple(review.toolchain_changed),
                TOOLCHAIN_LABEL in labels)


def parse_labels(text: str) -> list[str]:
    """The pull request's label names: a JSON array (``toJSON(...labels.*.name)`` in a
    workflow) or comma-separated."""
    text = text.strip()
    if text.startswith(("[", "{", "\"")):
        value = json.loads(text)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("labels must be a JSON array of strings")
        return value
    return [part.strip() for part in text.split(",") if part.strip()]


def environment(stack_name: str) -> str:
    """``prod/Assets`` → ``prod``: the stage of a stack is its environment."""
    return stack_name.split("/", 1)[0]


def _cost_verdict(verdict: Gate) -> list[str]:
    if verdict.cost_over is None:
        return []
    return [f"⛔ **Blocked: an environment's estimated monthly cost rises by more than the "
            f"{render.usd(verdict.cost_over)} threshold** (see the cost section). The label "
            f"`{OVERRIDE_LABEL}` does not override this; reduce the cost, or change the "
            "threshold the workflow passes to `--cost-threshold`.", ""]


def _toolchain_verdict(verdict: Gate) -> list[str]:
    if not verdict.toolchain:
        return []
    if verdict.toolchain_allowed:
        return [f"⚠️ **Toolchain changed, allowed by the label `{TOOLCHAIN_LABEL}`.** "
                f"{toolchain_note(verdict.toolchain)} The label records that the upgrade's "
                "effect was checked another way.", ""]
    passes = ("this gate passes (the cost threshold still fails the check)"
              if verdict.cost_over is not None else "the check passes")
    return [f"⛔ **Blocked: the toolchain changed.** {toolchain_note(verdict.toolchain)} Check "
            "the upgrade another way (`make diff` against the deployed stacks, the libraries' "
            f"release notes); then a maintainer adds the label `{TOOLCHAIN_LABEL}` to this pull "
            f"request and {passes}. Upgrading in a pull request of its own keeps other changes "
            "reviewable.", ""]


def _verdict(verdict: Gate) -> list[str]:
    count = at_risk_count(list(verdict.at_risk))
    # The blocking verdicts come first (cost, then the toolchain): the first line must agree
    # with the exit code.
    cost = _cost_verdict(verdict) + _toolchain_verdict(verdict)
    if not count:
        seen = " in the templates this review could compare" if verdict.toolchain else ""
        return cost + [f"✅ **No stateful resource is replaced, deleted or loses its "
                       f"retention{seen}.**", ""]
    if verdict.overridden:
        return cost + [f"⚠️ **Destructive changes to {count} stateful resource(s) allowed by "
                       f"the label `{OVERRIDE_LABEL}`.** Data in the resources below is lost or no longer "
                       "retained when this deploys; the label records that this is intended.",
                       ""]
    passes = ("this gate passes (the cost threshold still fails the check)"
              if verdict.cost_over is not None else "the check passes")
    return [f"⛔ **Blocked: {count} stateful resource(s) with data at risk.** If that is intended "
            f"(a planned migration or removal), a maintainer adds the label `{OVERRIDE_LABEL}` "
            f"to this pull request and {passes}; otherwise change the code so the "
            "resources below are neither replaced nor deleted and stay retained.", "", *cost]


def _risky_by_environment(review: Review) -> list[str]:
    """Danger then warn findings, one list per environment, the most dangerous first."""
    by_env: dict[str, list[Finding]] = defaultdict(list)
    for finding in review.findings:
        if finding.level in RISK_LEVELS:
            by_env[environment(finding.stack)].append(finding)
    out = ["### Risky changes, per environment", ""]
    if not by_env:
        return out + ["None.", ""]

    def weight(env: str) -> tuple[int, int, str]:
        levels = [f.level for f in by_env[env]]
        return (-levels.count("danger"), -levels.count("warn"), env)

    for env in sorted(by_env, key=weight):
        findings = sorted(by_env[env], key=lambda f: RISK_LEVELS.index(f.level))
        counts = " · ".join(f"{ICONS[level]} {n}" for level in RISK_LEVELS
                            if (n := sum(f.level == level for f in findings)))
        out += [f"#### `{env}` — {counts}", ""]
        out += [f"- {ICONS[f.level]} `{f.stack}` `{f.logical_id}` ({f.rtype}): {f.message}"
                for f in findings]
        out.append("")
    return out


def comment_body(review: Review, base_label: str, head_label: str, labels: list[str],
                 cost: list[str] | None = None, cost_over: float | None = None) -> str:
    """Markdown of the pull request's review comment (marker first). `cost_over`: the
    --cost-threshold, when an environment's increase exceeds it (the verdict then blocks)."""
    # The security section keeps the other (info) findings: the risky ones are listed above.
    title, _, report = render_markdown(review, base_label, head_label, cost,
                                       security_levels=("info",),
                                       toolchain=False).partition("\n\n")
    head = [MARKER, title, "", *_verdict(gate(review, labels, cost_over)),
            *_risky_by_environment(review), "---", ""]
    body = "\n".join(head) + report
    if len(body) <= MAX_COMMENT_CHARS:
        return body
    return _cut(body, MAX_COMMENT_CHARS)


FAILURE_DETAIL_CHARS = 3000


def failure_body(error: str) -> str:
    """The comment when the review could not run (a synthesis or assembly error): it replaces
    the last verdict, which no longer describes the pull request. The error is shown as text
    (backticks become apostrophes: nothing in it can close the fence), cut to its last
    ``FAILURE_DETAIL_CHARS`` characters, where a traceback's cause is."""
    detail = error.replace("`", "'")[-FAILURE_DETAIL_CHARS:]
    return "\n".join([
        MARKER, "### ⛔ The infrastructure review could not run", "",
        "The check fails until it runs again: no earlier verdict applies to this pull request. "
        "The whole output is in the workflow run's log.", "", "```text", detail, "```", ""])


CUT_NOTE = ("… the report is cut here (GitHub's comment size limit); the whole report is "
            "the `review` artifact of this workflow run.")


def _closing(lines: list[str]) -> list[str]:
    """The lines that close what `lines` leaves open: a code fence, then <details> blocks
    (innermost first), each indented like its opening so it closes the same list item."""
    fence: str | None = None  # indentation of the open fence
    details: list[str] = []
    for line in lines:
        indent = line[:len(line) - len(line.lstrip())]
        if line.lstrip().startswith("```"):
            fence = None if fence is not None else indent
        elif fence is None:
            for tag in re.findall(r"</?details>", line):
                if tag == "<details>":
                    details.append(indent)
                elif details:
                    details.pop()
    closing = [] if fence is None else [f"{fence}```"]
    return closing + [f"\n{indent}</details>" for indent in reversed(details)]


def _cut(body: str, limit: int) -> str:
    """`body` cut at a line within `limit` characters, with the code fence and <details>
    blocks it leaves open closed: otherwise the note would render inside a collapsed block or
    as code, and the rest of the comment with it."""
    lines = body[:limit].splitlines()[:-1]  # the last line may be cut mid-way: drop it
    while lines:
        text = "\n".join([*lines, *_closing(lines), "", CUT_NOTE, ""])
        if len(text) <= limit:
            return text
        lines.pop()  # the closing tags need room: give them a line at a time
    return "\n".join([CUT_NOTE, ""])
