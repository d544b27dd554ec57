"""Diff IAM-style policy documents statement by statement, saying what got wider.

Statements are normalised (single values → sets, intrinsics → ${Logical.Attr} text), identical
ones dropped, the rest paired by Sid, then by overlap (CDK merges statements, so an added action
usually shows up as a modified statement rather than a new one).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.review.cfn import render

ANYONE = "*"


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    principals: frozenset[str]
    actions: frozenset[str]
    resources: frozenset[str]
    conditions: frozenset[str]
    negated: frozenset[str]  # NotPrincipal / NotAction / NotResource, rendered "NotAction: s3:*"

    def describe(self) -> str:
        parts = [self.effect, _items(self.actions) or "(no Action)"]
        if self.resources:
            parts += ["on", _items(self.resources)]
        if self.principals:
            parts += ["to", _items(self.principals)]
        if self.negated:
            parts.append(_items(self.negated))
        parts.append(f"if {_items(self.conditions)}" if self.conditions else "(no condition)")
        return " ".join(parts)


@dataclass(frozen=True)
class StatementChange:
    text: str
    widened: bool  # grants more (or denies less) than before


def _set(value: Any) -> frozenset[str]:
    values = value if isinstance(value, list) else [] if value is None else [value]
    return frozenset(render(v) for v in values)


def _principals(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if value == ANYONE or (isinstance(value, dict) and value.get("AWS") == ANYONE):
        return frozenset({ANYONE})  # "*" and {"AWS": "*"} both mean anyone
    if isinstance(value, dict):
        return frozenset(f"{kind}:{v}" for kind, vals in value.items() for v in _set(vals))
    return _set(value)


def _conditions(value: Any) -> frozenset[str]:
    if not isinstance(value, dict):
        return _set(value)
    return frozenset(f"{op} {key}={render(val)}" for op, block in value.items()
                     for key, val in (block.items() if isinstance(block, dict) else [("", block)]))


def normalise(raw: dict[str, Any]) -> Statement:
    negated = frozenset(f"{key}: {v}" for key in ("NotPrincipal", "NotAction", "NotResource")
                        if key in raw
                        for v in (_principals if key == "NotPrincipal" else _set)(raw[key]))
    return Statement(str(raw.get("Sid", "")), str(raw.get("Effect", "Allow")),
                     _principals(raw.get("Principal")), _set(raw.get("Action")),
                     _set(raw.get("Resource")), _conditions(raw.get("Condition")), negated)


def statements(document: Any) -> list[Statement]:
    if not isinstance(document, dict):
        return []
    raw = document.get("Statement", [])
    return [normalise(s) for s in (raw if isinstance(raw, list) else [raw]) if isinstance(s, dict)]


def _items(values: frozenset[str], limit: int = 6) -> str:
    ordered = sorted(values)
    shown = ", ".join(f"`{v}`" for v in ordered[:limit])
    return shown + (f" (+{len(ordered) - limit} more)" if len(ordered) > limit else "")


def _overlap(a: Statement, b: Statement) -> int:
    if a.effect != b.effect:
        return 0
    return (len(a.actions & b.actions) + len(a.resources & b.resources)
            + len(a.principals & b.principals))


def _pair(old: list[Statement], new: list[Statement]) -> tuple[
        list[tuple[Statement, Statement]], list[Statement], list[Statement]]:
    """(modified pairs, removed, added) after dropping statements present on both sides."""
    old, new = list(old), list(new)
    for s in list(old):
        if s in new:
            old.remove(s)
            new.remove(s)
    pairs = []
    for s in list(old):  # same Sid: the same statement, edited
        match = next((n for n in new if s.sid and n.sid == s.sid), None)
        if match:
            pairs.append((s, match))
            old.remove(s)
            new.remove(match)
    candidates = sorted(((_overlap(o, n), i, j) for i, o in enumerate(old)
                         for j, n in enumerate(new)), reverse=True)
    used_old: set[int] = set()
    used_new: set[int] = set()
    for score, i, j in candidates:
        if score > 0 and i not in used_old and j not in used_new:
            pairs.append((old[i], new[j]))
            used_old.add(i)
            used_new.add(j)
    return (pairs, [s for i, s in enumerate(old) if i not in used_old],
            [s for j, s in enumerate(new) if j not in used_new])


def _compare(old: Statement, new: Statement) -> StatementChange:
    allow = new.effect == "Allow"
    notes: list[str] = []
    widened = False
    if old.effect != new.effect:
        notes.append(f"effect {old.effect} → {new.effect}")
        widened = allow
    if ANYONE in new.principals and ANYONE not in old.principals:
        notes.append("**principal widened to `*`**")
        widened = widened or allow
    for label, before, after in (("principals", old.principals, new.principals),
                                 ("actions", old.actions, new.actions),
                                 ("resources", old.resources, new.resources)):
        gained, lost = after - before - {ANYONE}, before - after
        if gained:
            notes.append(f"{label} + {_items(gained)}")
        if lost:
            notes.append(f"{label} − {_items(lost)}")
        # An Allow grows by gaining; a Deny protects less by losing.
        widened = widened or bool(gained if allow else lost)
    if dropped := old.conditions - new.conditions:
        notes.append(f"conditions dropped: {_items(dropped)}")
        widened = widened or allow
    if added := new.conditions - old.conditions:
        notes.append(f"conditions added: {_items(added)}")
        widened = widened or not allow  # a conditional Deny applies less often
    if old.negated != new.negated:
        notes.append(f"Not* changed: {_items(old.negated)} → {_items(new.negated)}")
        widened = True  # hard to reason about; let the reviewer decide
    label = f"`{new.sid}`" if new.sid else f"{new.effect} {_items(new.actions, 3)}"
    return StatementChange(f"statement {label} {'widened' if widened else 'changed'}: "
                           + "; ".join(notes), widened)


def diff_documents(old: Any, new: Any) -> list[StatementChange]:
    """Statement changes between two policy documents (either may be None: added/removed)."""
    pairs, removed, added = _pair(statements(old), statements(new))
    changes = [_compare(o, n) for o, n in pairs]
    for s in added:
        public = s.effect == "Allow" and ANYONE in s.principals and not s.conditions
        changes.append(StatementChange(
            ("**public** " if public else "") + f"statement added: {s.describe()}",
            s.effect == "Allow"))
    for s in removed:
        changes.append(StatementChange(f"statement removed: {s.describe()}", s.effect == "Deny"))
    return changes
