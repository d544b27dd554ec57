"""``layout.EMF_METRICS`` names every EMF metric series each handler publishes (the cost tool
bills them as CloudWatch custom metrics): read from the handlers' sources, so a metric added,
renamed or given a dimension without the declaration fails here."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from estate_handlers import layout
from estate_handlers.layout import EMF_METRICS, UPLOAD_KINDS

HANDLERS = Path(layout.__file__).parent
# runtime.count is the helper every handler calls: its own add_metric has no name of its own.
HELPER = "estate_handlers.runtime"
NOT_DIMENSIONS = {"name", "value", "unit"}


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(HANDLERS.parent).with_suffix("").parts)


def _strings(node: ast.expr, constants: dict[str, str]) -> set[str]:
    """The metric names an expression can be: literals, both arms of a conditional, module
    constants and the layout module's."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings(node.body, constants) | _strings(node.orelse, constants)
    if isinstance(node, ast.Name) and node.id in constants:
        return {constants[node.id]}
    if isinstance(node, ast.Name) and isinstance(getattr(layout, node.id, None), str):
        return {getattr(layout, node.id)}
    raise AssertionError(f"cannot tell which metric name {ast.unparse(node)!r} is")


def published(source: str) -> dict[str, tuple[str, ...]]:
    """metric name -> its dimension's values (``UPLOAD_KINDS`` for a request's kind)."""
    tree = ast.parse(source)
    constants = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                 and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
                 for t in n.targets if isinstance(t, ast.Name)}
    found: dict[str, set[str]] = {}
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        func = call.func
        if isinstance(func, ast.Name) and func.id == "count" and call.args:
            name = call.args[0]
        elif isinstance(func, ast.Attribute) and func.attr == "add_metric":
            name = next(k.value for k in call.keywords if k.arg == "name")
        else:
            continue
        values = set()
        for keyword in call.keywords:
            if keyword.arg in NOT_DIMENSIONS:
                continue
            assert keyword.arg == "kind", f"undeclared dimension {keyword.arg!r}"
            values |= ({keyword.value.value} if isinstance(keyword.value, ast.Constant)
                       else {UPLOAD_KINDS})
        for metric in _strings(name, constants):
            found.setdefault(metric, set()).update(values)
    return {metric: tuple(sorted(values)) for metric, values in found.items()}


def _handler_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(HANDLERS.rglob("*.py"))
            if "__pycache__" not in p.parts and _module_name(p) != HELPER}


@pytest.mark.parametrize("module", sorted(_handler_modules()))
def test_each_handler_publishes_exactly_the_declared_metrics(module):
    source = _handler_modules()[module].read_text(encoding="utf-8")
    declared = {m: tuple(sorted(v)) for m, v in EMF_METRICS.get(module, {}).items()}
    assert published(source) == declared


def test_every_declared_module_exists():
    assert set(EMF_METRICS) <= set(_handler_modules())


def test_the_reader_sees_names_dimensions_and_both_arms_of_a_choice():
    source = '''
NAME = "FromConstant"
def handle(req, ok):
    count("Literal", kind=req.kind.name)
    count("Literal", kind="download")
    count("Yes" if ok else "No")
    metrics.add_metric(name=NAME, unit="Count", value=1)
    metrics.add_metric(name=DEDUP_REPLICA_PROTECTED_METRIC, unit="Count", value=1)
'''
    assert published(source) == {
        "Literal": tuple(sorted((UPLOAD_KINDS, "download"))), "Yes": (), "No": (),
        "FromConstant": (), layout.DEDUP_REPLICA_PROTECTED_METRIC: ()}


def test_a_dimension_the_declaration_cannot_express_is_refused():
    with pytest.raises(AssertionError, match="undeclared dimension 'bucket'"):
        published('count("X", bucket=name)')
