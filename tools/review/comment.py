"""The pull request's one review comment, and the destructive-change gate.

The comment is the review report (``report.render_markdown``) under a verdict and a per-
environment list of what is risky, so a reviewer reads the dangerous part first. It starts
with a hidden marker: the workflow that posts it finds its earlier comment by that marker and
edits it in place (one comment per pull request, updated on every push).

The gate: a stateful resource replaced or deleted, or its retention weakened (a ``danger``
finding), fails the check unless the pull request carries ``OVERRIDE_LABEL``.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass

from tools.review.diff import Finding, Review
from tools.review.report import ICONS, render_markdown

MARKER = "<!-- storage-estate: infrastructure review (edited in place on every push) -->"
OVERRIDE_LABEL = "allow-destructive-change"
# GitHub refuses a comment body over 65,536 characters; the rest stays in the workflow artifact.
MAX_COMMENT_CHARS = 65_000
RISK_LEVELS = ("danger", "warn")


@dataclass(frozen=True)
class Gate:
    """The destructive-change verdict of one review for one pull request's labels."""

    at_risk: tuple[Finding, ...]  # the danger findings
    overridden: bool              # the pull request carries OVERRIDE_LABEL

    @property
    def passed(self) -> bool:
        return not self.at_risk or self.overridden

    @property
    def exit_code(self) -> int:
        """0 passes, 2 blocks (tools.review's 'risky' code)."""
        return 0 if self.passed else 2


def gate(review: Review, labels: list[str]) -> Gate:
    return Gate(tuple(f for f in review.findings if f.level == "danger"),
                OVERRIDE_LABEL in labels)


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


def _verdict(verdict: Gate) -> list[str]:
    count = len(verdict.at_risk)
    if not count:
        return ["✅ **No stateful resource is replaced, deleted or loses its retention.**", ""]
    if verdict.overridden:
        return [f"⚠️ **{count} destructive change(s) allowed by the label "
                f"`{OVERRIDE_LABEL}`.** Data in the resources below is lost or no longer "
                "retained when this deploys; the label records that this is intended.", ""]
    return [f"⛔ **Blocked: {count} change(s) put stored data at risk.** If that is intended "
            f"(a planned migration or removal), a maintainer adds the label `{OVERRIDE_LABEL}` "
            "to this pull request and the check passes; otherwise change the code so the "
            "resources below are neither replaced nor deleted and stay retained.", ""]


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
                 cost: list[str] | None = None) -> str:
    """Markdown of the pull request's review comment (marker first)."""
    # The security section keeps the other (info) findings: the risky ones are listed above.
    title, _, report = render_markdown(review, base_label, head_label, cost,
                                       security_levels=("info",)).partition("\n\n")
    head = [MARKER, title, "", *_verdict(gate(review, labels)), *_risky_by_environment(review),
            "---", ""]
    body = "\n".join(head) + report
    if len(body) <= MAX_COMMENT_CHARS:
        return body
    note = ("\n\n… the report is cut here (GitHub's comment size limit); the whole report is "
            "the `review` artifact of this workflow run.\n")
    return body[:MAX_COMMENT_CHARS - len(note)] + note
