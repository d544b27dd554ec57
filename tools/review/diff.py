"""Compare two assemblies: per-stack resource changes, replacements and security/data findings."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tools.review.assembly import StackTemplate
from tools.review.cfn import MISSING, leaf_changes, render
from tools.review.policy import diff_documents
from tools.review.rules import (
    CLOUDFRONT_WORDS,
    POLICY_PROPERTIES,
    REPLACES,
    SECURITY_PROPERTIES,
    STATEFUL,
    UPDATE_FAILS,
    WEAKENINGS,
    object_lock_days,
    retains,
)

Level = Literal["danger", "warn", "info"]
# Resource attributes compared besides Type and Properties. Metadata is ignored on purpose:
# it holds construct paths and nag suppressions that churn without changing what is deployed.
ATTRIBUTES = ("DeletionPolicy", "UpdateReplacePolicy", "Condition", "DependsOn", "UpdatePolicy")
RETENTION_ATTRIBUTES = ("DeletionPolicy", "UpdateReplacePolicy")
IGNORED_TYPES = frozenset({"AWS::CDK::Metadata"})


@dataclass
class Finding:
    level: Level  # danger: stateful data at risk (exit 2); warn: widened/weakened; info: changed
    stack: str
    logical_id: str
    rtype: str
    message: str
    details: list[str] = field(default_factory=list)


@dataclass
class ResourceChange:
    logical_id: str
    rtype: str
    kind: Literal["added", "removed", "modified"]
    changed: list[str] = field(default_factory=list)  # top-level properties and attributes
    replacement: str = ""  # modified only: "yes", "no", "unknown", "update fails"
    forced_by: list[str] = field(default_factory=list)
    rename: str = ""  # the other logical id of a probable rename (same type, removed + added)
    lines: list[str] = field(default_factory=list)  # "- path: old" / "+ path: new"


@dataclass
class StackDiff:
    name: str
    status: Literal["added", "removed", "modified", "unchanged"]
    resources: list[ResourceChange]


@dataclass
class Review:
    stacks: list[StackDiff]
    findings: list[Finding]
    # Dependency pin files that differ between the revisions: both were synthesized with the
    # head's libraries, so what the new versions change in the templates is not in `stacks`.
    toolchain_changed: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        risky = self.toolchain_changed or any(f.level == "danger" for f in self.findings)
        return 2 if risky else 0


def _resources(stack: StackTemplate | None) -> dict[str, dict[str, Any]]:
    if stack is None:
        return {}
    return {lid: r for lid, r in stack.template.get("Resources", {}).items()
            if r.get("Type") not in IGNORED_TYPES}


def _props(resource: dict[str, Any] | None) -> dict[str, Any]:
    return (resource or {}).get("Properties") or {}


def _diff_lines(leaves: list[tuple[str, Any, Any]]) -> list[str]:
    lines = []
    for path, old, new in leaves:
        if old is not MISSING:
            lines.append(f"- {path}: {render(old)}")
        if new is not MISSING:
            lines.append(f"+ {path}: {render(new)}")
    return lines


def _key_attribute_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """DynamoDB: AttributeDefinitions forces replacement only for attributes used as keys."""
    def keys(p: dict[str, Any]) -> set[str]:
        schema = p.get("KeySchema")
        return {k.get("AttributeName") for k in schema if isinstance(k, dict)} \
            if isinstance(schema, list) else set()

    def types(p: dict[str, Any]) -> dict[str, Any]:
        defs = p.get("AttributeDefinitions")
        return {d.get("AttributeName"): d.get("AttributeType") for d in defs
                if isinstance(d, dict)} if isinstance(defs, list) else {}
    return any(types(old).get(k) != types(new).get(k) for k in keys(old) | keys(new))


def _replacement(rtype: str, old: dict[str, Any], new: dict[str, Any],
                 changed: list[str]) -> tuple[str, list[str]]:
    props = [c for c in changed if c not in ATTRIBUTES]
    if not props:
        return "no", []
    if rtype not in REPLACES:
        return "unknown", []  # not in the curated table: the reviewer checks the changed props
    forced = [p for p in props if p in REPLACES[rtype]]
    if rtype.startswith("AWS::DynamoDB::") and "AttributeDefinitions" in props \
            and _key_attribute_changed(old, new):
        forced.append("AttributeDefinitions")
    if forced:
        return "yes", forced
    fails = [p for p in props if p in UPDATE_FAILS.get(rtype, ())]
    return ("update fails", fails) if fails else ("no", [])


def _modified(lid: str, old: dict[str, Any], new: dict[str, Any]) -> ResourceChange | None:
    op, np = _props(old), _props(new)
    changed = [k for k in dict.fromkeys([*op, *np]) if op.get(k, MISSING) != np.get(k, MISSING)]
    changed += [a for a in ATTRIBUTES if old.get(a, MISSING) != new.get(a, MISSING)]
    if old["Type"] != new["Type"]:
        change = ResourceChange(lid, f"{old['Type']} → {new['Type']}", "modified", ["Type"],
                                "yes", ["Type"])
    elif not changed:
        return None
    else:
        replacement, forced = _replacement(new["Type"], op, np, changed)
        change = ResourceChange(lid, new["Type"], "modified", changed, replacement, forced)
    change.lines = _diff_lines(
        leaf_changes(op, np) + [(a, old.get(a, MISSING), new.get(a, MISSING))
                                for a in ATTRIBUTES if old.get(a, MISSING) != new.get(a, MISSING)])
    return change


def _similarity(a: dict[str, Any], b: dict[str, Any]) -> int:
    pa, pb = _props(a), _props(b)
    return sum(1 for k in pa if pb.get(k, MISSING) == pa[k])


def _renames(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]],
             removed: list[str], added: list[str]) -> dict[str, str]:
    """Pair removed and added resources of one type: a logical-id change is remove + add."""
    candidates = sorted((-_similarity(old[r], new[a]), r, a) for r in removed for a in added
                         if old[r]["Type"] == new[a]["Type"])
    pairs: dict[str, str] = {}
    for _, r, a in candidates:
        if r not in pairs and a not in pairs.values():
            pairs[r] = a
    return pairs


def _fate(resource: dict[str, Any], attribute: str) -> str:
    policy = resource.get(attribute, "Delete")
    return (f"kept as an orphan ({attribute} {policy})"
            if retains(policy, resource.get("Type", "")) else "deleted")


def _data_findings(stack: str, old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]],
                   changes: list[ResourceChange]) -> list[Finding]:
    findings = []
    for c in changes:
        stateful = c.rtype in STATEFUL
        if c.kind == "modified" and c.replacement == "yes" and (
                stateful or old[c.logical_id]["Type"] in STATEFUL):
            forced = ", ".join(f"`{p}`" for p in c.forced_by)
            verb = "forces" if len(c.forced_by) == 1 else "force"
            findings.append(Finding("danger", stack, c.logical_id, c.rtype,
                                    f"**replaced** — {forced} {verb} replacement: a new, empty "
                                    "resource is created and the old one is "
                                    + _fate(new[c.logical_id], "UpdateReplacePolicy")))
        elif c.kind == "modified" and c.replacement == "update fails":
            findings.append(Finding("warn", stack, c.logical_id, c.rtype,
                                    f"{', '.join(c.forced_by)} is immutable: the update will fail"))
        elif c.kind == "removed" and stateful and c.rename:
            findings.append(Finding("danger", stack, f"{c.logical_id} → {c.rename}", c.rtype,
                                    "**logical id changed** (probable rename): CloudFormation "
                                    f"creates `{c.rename}` empty and the old one is "
                                    + _fate(old[c.logical_id], "DeletionPolicy")
                                    + "; keep the old id (`override_logical_id`) if unintended"))
        elif c.kind == "removed" and stateful:
            fate = _fate(old[c.logical_id], "DeletionPolicy")
            findings.append(Finding("warn" if fate != "deleted" else "danger", stack,
                                    c.logical_id, c.rtype, f"**removed** — {fate}"))
        if c.kind == "modified":
            findings += _retention_findings(stack, c, old[c.logical_id], new[c.logical_id])
    return findings


def _retention_findings(stack: str, c: ResourceChange, old: dict[str, Any],
                        new: dict[str, Any]) -> list[Finding]:
    """DeletionPolicy / UpdateReplacePolicy moves as one finding per resource: the two move
    together (RemovalPolicy sets both), and a resource is one risk however many attributes say so.
    Moves alike read as one ("DeletionPolicy and UpdateReplacePolicy Retain → Delete")."""
    moves: dict[tuple[str, str], list[str]] = {}
    for attr in RETENTION_ATTRIBUTES:
        before, after = old.get(attr, "Delete"), new.get(attr, "Delete")  # absent means Delete
        if before != after:
            moves.setdefault((before, after), []).append(attr)
    if not moves:
        return []
    weakened = any(retains(before, c.rtype) and not retains(after, c.rtype)
                   for before, after in moves)
    stateful = c.rtype in STATEFUL
    level: Level = ("danger" if stateful else "warn") if weakened else "info"
    return [Finding(level, stack, c.logical_id, c.rtype,
                    "; ".join(f"{' and '.join(attrs)} {before} → {after}"
                              for (before, after), attrs in moves.items())
                    + (" — the data goes with the resource" if weakened and stateful else ""))]


def _policy_documents(rtype: str, props: dict[str, Any]) -> dict[str, Any]:
    docs = {key: props[key] for key in POLICY_PROPERTIES.get(rtype, ()) if key in props}
    if rtype == "AWS::IAM::Role" and isinstance(props.get("Policies"), list):
        docs.update({f"Policies[{p.get('PolicyName')}]": p.get("PolicyDocument")
                     for p in props["Policies"] if isinstance(p, dict)})
    return docs


def _security_findings(stack: str, lid: str, old: dict[str, Any] | None,
                       new: dict[str, Any] | None) -> list[Finding]:
    rtype = (new or old or {}).get("Type", "")
    op, np = _props(old), _props(new)
    findings: list[Finding] = []
    old_docs, new_docs = _policy_documents(rtype, op), _policy_documents(rtype, np)
    for label in dict.fromkeys([*old_docs, *new_docs]):
        for change in diff_documents(old_docs.get(label), new_docs.get(label)):
            findings.append(Finding("warn" if change.widened else "info", stack, lid, rtype,
                                    f"`{label}` {change.text}"))
    if new is None:
        return findings  # a deleted resource's settings no longer matter (its fate is above)
    if old is None:
        return findings + _created_findings(stack, lid, rtype, np)
    for prop in SECURITY_PROPERTIES.get(rtype, ()):
        leaves = leaf_changes(op.get(prop, MISSING), np.get(prop, MISSING), prop)
        if rtype == "AWS::CloudFront::Distribution":
            leaves = [leaf for leaf in leaves if any(w in leaf[0] for w in CLOUDFRONT_WORDS)]
        if not leaves:
            continue
        weakened = [Finding("warn", stack, lid, rtype, w.message(path, o, n))
                    for path, o, n in leaves for w in WEAKENINGS
                    if w.rtype == rtype and w.matches(path) and w.weakens(o, n)]
        # A weakening already names the change; the raw lines are in the stack section.
        findings += weakened or [Finding("info", stack, lid, rtype, f"`{prop}` changed",
                                         _diff_lines(leaves))]
    if rtype == "AWS::S3::Bucket":
        before, after = object_lock_days(op), object_lock_days(np)
        if before is not None and after is None:
            findings.append(Finding("warn", stack, lid, rtype, "Object Lock default retention "
                                    f"removed (was {before} days)"))
        elif before is not None and after is not None and after < before:
            findings.append(Finding("warn", stack, lid, rtype, "Object Lock default retention "
                                    f"shortened {before} → {after} days"))
    return findings


def _created_findings(stack: str, lid: str, rtype: str, props: dict[str, Any]) -> list[Finding]:
    """An added resource's settings, checked against an empty old side by the rules that hold
    for a value alone (`Weakening.on_create`): public, unauthenticated, plain HTTP, an
    administrator policy. Nothing else is listed, so a new stack is not a wall of "changed"."""
    return [Finding("warn", stack, lid, rtype, w.message(path, old, new))
            for prop in SECURITY_PROPERTIES.get(rtype, ())
            for path, old, new in leaf_changes(MISSING, props.get(prop, MISSING), prop)
            for w in WEAKENINGS
            if w.on_create and w.rtype == rtype and w.matches(path) and w.weakens(old, new)]


def diff_stack(name: str, base: StackTemplate | None,
               head: StackTemplate | None) -> tuple[StackDiff, list[Finding]]:
    old, new = _resources(base), _resources(head)
    changes = [c for lid in old if lid in new if (c := _modified(lid, old[lid], new[lid]))]
    removed = [lid for lid in old if lid not in new]
    added = [lid for lid in new if lid not in old]
    renames = _renames(old, new, removed, added)
    renamed_from = {a: r for r, a in renames.items()}
    changes += [ResourceChange(lid, old[lid]["Type"], "removed", rename=renames.get(lid, ""))
                for lid in removed]
    changes += [ResourceChange(lid, new[lid]["Type"], "added", rename=renamed_from.get(lid, ""))
                for lid in added]
    status = ("added" if base is None else "removed" if head is None
              else "modified" if changes else "unchanged")
    findings = _data_findings(name, old, new, changes)
    touched = {c.logical_id for c in changes}
    for lid in dict.fromkeys([*old, *new]):
        if lid in touched:
            findings += _security_findings(name, lid, old.get(lid), new.get(lid))
    return StackDiff(name, status, changes), findings


def diff_assemblies(base: dict[str, StackTemplate], head: dict[str, StackTemplate]) -> Review:
    stacks, findings = [], []
    for name in sorted(base.keys() | head.keys()):
        stack, found = diff_stack(name, base.get(name), head.get(name))
        stacks.append(stack)
        findings += found
    order = {"danger": 0, "warn": 1, "info": 2}
    findings.sort(key=lambda f: order[f.level])  # stable: stack order kept within a level
    return Review(stacks, findings)
