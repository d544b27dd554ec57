"""Diff IAM-style policy documents statement by statement, saying what got wider.

Statements are normalised (single values → sets, intrinsics → ${Logical.Attr} text), identical
ones dropped, the rest paired by Sid, then by overlap (CDK merges statements, so an added action
usually shows up as a modified statement rather than a new one).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tools.review.cfn import render

ANYONE = "*"
# A condition: (operator, key, values). Compared per (operator, key), so a renamed value reads
# as a changed value rather than as one condition dropped and another added.
Condition = tuple[str, str, frozenset[str]]
ACCOUNT_ID = re.compile(r"(?<!\d)\d{12}(?!\d)")
# Operators whose values are names or ARNs: swapping one value for another of the same shape is
# a rename. Other operators (Bool, Null, Numeric*, Date*, IpAddress) change meaning with the value.
RENAMEABLE_OPERATORS = ("String", "Arn")


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    principals: frozenset[str]
    actions: frozenset[str]
    resources: frozenset[str]
    conditions: frozenset[Condition]
    negated: frozenset[str]  # NotPrincipal / NotAction / NotResource, rendered "NotAction: s3:*"

    def describe(self) -> str:
        parts = [self.effect, _items(self.actions) or "(no Action)"]
        if self.resources:
            parts += ["on", _items(self.resources)]
        if self.principals:
            parts += ["to", _items(self.principals)]
        if self.negated:
            parts.append(_items(self.negated))
        parts.append(f"if {_items(_condition_texts(self.conditions))}" if self.conditions
                     else "(no condition)")
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
    if isinstance(value, dict):
        # "*", {"AWS": "*"} and {"AWS": ["*"]} all mean anyone: one spelling, so every check
        # (widened to `*`, **public**) sees them alike.
        return frozenset(ANYONE if kind == "AWS" and v == ANYONE else f"{kind}:{v}"
                         for kind, vals in value.items() for v in _set(vals))
    return _set(value)


def _conditions(value: Any) -> frozenset[Condition]:
    if not isinstance(value, dict):
        return frozenset() if value is None else frozenset({(render(value), "", frozenset())})
    return frozenset((op, key, _set(val)) for op, block in value.items()
                     for key, val in (block.items() if isinstance(block, dict) else [("", block)]))


def _condition_text(op: str, key: str, values: frozenset[str]) -> str:
    shown = ", ".join(sorted(values))
    return f"{op} {key}={shown if len(values) == 1 else f'[{shown}]'}"


def _condition_texts(conditions: frozenset[Condition]) -> frozenset[str]:
    return frozenset(_condition_text(*c) for c in conditions)


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


def _full_wildcards(label: str, values: frozenset[str]) -> frozenset[str]:
    """Values that grant everything of their kind: any action (`*`), every action of a service
    (`s3:*`), any resource (`*`). Principal `*` is reported on its own."""
    if label == "actions":
        return frozenset(v for v in values if v == "*" or re.fullmatch(r"[\w-]+:\*", v))
    if label == "resources":
        return frozenset(v for v in values if v == "*")
    return frozenset()


def _covers(pattern: str, value: str, label: str) -> bool:
    """`pattern` (IAM wildcards * and ?) matches `value` and is not the same text."""
    if pattern == value or not ("*" in pattern or "?" in pattern):
        return False
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.IGNORECASE if label == "actions" else 0  # action names are case-insensitive
    return re.fullmatch(regex, value, flags) is not None


def _arn_shape(value: str) -> tuple[int, ...]:
    """Wildcards per ARN segment: a renamed bucket keeps its shape (``…:::a/*`` → ``…:::b/*``),
    a pattern moved to another segment does not (``…:::a/*`` → ``…:::*/index.html``)."""
    return tuple(part.count("*") + part.count("?") for part in re.split(r"[:/]", value))


def _renamed_principal(value: str) -> bool:
    """Only a named role or user of an account may be renamed: not an account root (the whole
    account), not a bare account id, not a service (another service is another grantee)."""
    arn = value.removeprefix("AWS:")
    return (value.startswith("AWS:arn:") and not arn.endswith(":root")
            and re.search(r":(role|user)/", arn) is not None)


def _retargeted(label: str, before: frozenset[str], gained: frozenset[str],
                lost: frozenset[str]) -> bool:
    """A like-for-like swap of an Allow's resources or principals, or of a condition value
    that names a resource (a renamed bucket, a renamed role): as many values gained as lost,
    the same wildcards in the same ARN segments, none covering a lost value, no account the
    statement did not already name. Never actions (another action is another right)."""
    if label == "actions" or not gained or len(gained) != len(lost):
        return False
    if label == "principals" and not all(_renamed_principal(v) for v in gained | lost):
        return False
    return (ANYONE not in gained and not _full_wildcards(label, gained)
            and sorted(map(_arn_shape, gained)) == sorted(map(_arn_shape, lost))
            and not any(_covers(g, v, label) for g in gained for v in lost)
            and set(ACCOUNT_ID.findall(" ".join(gained)))
            <= set(ACCOUNT_ID.findall(" ".join(before))))


# Condition keys whose value names a resource, so a renamed resource renames the value too.
# Any other key (an organization, a VPC, an account, a tag, a service) changes who or what
# the statement admits.
RESOURCE_NAMING_KEYS = ("aws:sourcearn", "aws:principalarn", "kms:encryptioncontext:")


def _names_a_resource(key: str) -> bool:
    return key.lower().startswith(RESOURCE_NAMING_KEYS)


def _compare_conditions(old: Statement, new: Statement, allow: bool) -> tuple[list[str], bool]:
    before = {(op, key): values for op, key, values in old.conditions}
    after = {(op, key): values for op, key, values in new.conditions}
    notes: list[str] = []
    widened = False
    if dropped := [_condition_text(*k, before[k]) for k in before if k not in after]:
        notes.append(f"conditions dropped: {_items(frozenset(dropped))}")
        widened = allow
    if added := [_condition_text(*k, after[k]) for k in after if k not in before]:
        notes.append(f"conditions added: {_items(frozenset(added))}")
        widened = widened or not allow  # a conditional Deny applies less often
    for (op, key) in (k for k in before if k in after and before[k] != after[k]):
        was, now = before[(op, key)], after[(op, key)]
        text = f"{op} {key} {_items(was)} → {_items(now)}"
        # ForAnyValue:StringLike / StringEqualsIfExists are string operators too.
        base_op = op.split(":", 1)[-1]
        if allow and base_op.startswith(RENAMEABLE_OPERATORS) and "Not" not in base_op \
                and _names_a_resource(key) and _retargeted("conditions", was, now - was, was - now):
            notes.append(f"condition value changed: {text}")
        else:  # a wildcard, another account, more values or a flipped Bool/Null/number
            notes.append(f"**condition widened**: {text}" if allow
                         else f"condition changed: {text}")
            widened = True
    return notes, widened


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
        gained, lost = after - before, before - after
        if label == "principals":
            gained -= {ANYONE}  # named above
        if allow and (everything := _full_wildcards(label, gained)):
            notes.append(f"**{label} widened to {_items(everything)}**")
            widened, gained = True, gained - everything
        if allow and _retargeted(label, before, gained, lost):
            notes.append(f"{label} retargeted: {_items(lost)} → {_items(gained)}")
            continue
        if gained:
            notes.append(f"{label} + {_items(gained)}")
        if lost:
            notes.append(f"{label} − {_items(lost)}")
        # An Allow grows by gaining; a Deny protects less by losing what no new value covers.
        uncovered = {v for v in lost if not any(_covers(g, v, label) for g in after)}
        widened = widened or bool(gained if allow else uncovered)
    condition_notes, condition_widened = _compare_conditions(old, new, allow)
    notes += condition_notes
    widened = widened or condition_widened
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
