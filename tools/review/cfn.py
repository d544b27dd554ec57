"""Small helpers over CloudFormation template values: render, flatten to leaf paths."""
from __future__ import annotations

import json
from typing import Any


class _Missing:
    """Marks a value absent on one side of a diff (distinct from JSON null)."""

    def __repr__(self) -> str:
        return "(absent)"


MISSING: Any = _Missing()

# List items carrying one of these keys are addressed by it (Rules[expire-old]) rather than by
# position, so inserting a rule does not show every later rule as changed.
ID_KEYS = ("Id", "Sid", "Name", "PolicyName", "Key")


def is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and (
        "Ref" in value or next(iter(value)).startswith("Fn::"))


def render(value: Any) -> str:
    """Compact text for a template value; intrinsics read as ${Logical.Attr} placeholders."""
    if value is MISSING:
        return "(absent)"
    if isinstance(value, str):
        return value
    if is_intrinsic(value):
        fn, arg = next(iter(value.items()))
        if fn == "Ref":
            return f"${{{arg}}}"
        if fn == "Fn::GetAtt":
            return f"${{{'.'.join(arg) if isinstance(arg, list) else arg}}}"
        if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            return str(arg[0]).join(render(part) for part in arg[1])
        if fn == "Fn::ImportValue":
            return f"${{import:{render(arg)}}}"
        if fn == "Fn::Sub":
            return arg if isinstance(arg, str) else str(arg[0])
    if isinstance(value, list):
        return "[" + ", ".join(render(item) for item in value) + "]"
    return json.dumps(value, sort_keys=True, default=str)


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaf paths of a value: {"Rules[expire-old].ExpirationInDays": 365, ...}.

    Intrinsics and lists of scalars stay whole leaves: a changed Action list reads best as one line.
    """
    if isinstance(value, dict) and value and not is_intrinsic(value):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{path}.{key}" if path else key))
        return out
    if isinstance(value, list) and any(isinstance(item, dict) and not is_intrinsic(item)
                                       for item in value):
        out = {}
        for index, item in enumerate(value):
            key = next((item[k] for k in ID_KEYS
                        if isinstance(item, dict) and isinstance(item.get(k), str)), str(index))
            out.update(flatten(item, f"{path}[{key}]"))
        return out
    return {path: value}


def leaf_changes(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(path, old, new) for every leaf that differs; MISSING on the side where it is absent."""
    def leaves(value: Any) -> dict[str, Any]:
        # Absent, or an empty Properties block at the root, has no leaves to compare.
        return {} if value is MISSING or (not path and value in ({}, [])) else flatten(value, path)
    before, after = leaves(old), leaves(new)
    keys = list(before) + [k for k in after if k not in before]
    return [(k, before.get(k, MISSING), after.get(k, MISSING))
            for k in keys if before.get(k, MISSING) != after.get(k, MISSING)]
