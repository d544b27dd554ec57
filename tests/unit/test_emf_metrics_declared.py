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
# runtime's other publishers: each failure caught, with no dimension but ``service``.
FAULT_COUNTERS = {"count_fault", "SqsBatch"}
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


# Powertools calls that would add series or dimensions the declaration cannot see: only
# runtime.count (one dimension, named in the call) may add a dimension.
UNDECLARABLE = {"add_dimension", "single_metric", "set_default_dimensions"}


def _count_names(tree: ast.Module) -> set[str]:
    """The names ``runtime.count`` goes by in a module: ``count`` and any import alias."""
    names = {"count"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("runtime"):
            names |= {a.asname or a.name for a in node.names if a.name == "count"}
    return names


def _metric_name(call: ast.Call) -> ast.expr:
    """The first argument of count and add_metric alike, by keyword or by position."""
    keyword = next((k.value for k in call.keywords if k.arg == "name"), None)
    if keyword is not None:
        return keyword
    assert call.args, f"no metric name in {ast.unparse(call)!r}"
    return call.args[0]


def published(source: str) -> dict[str, tuple[str, ...]]:
    """metric name -> its dimension's values (``UPLOAD_KINDS`` for a request's kind)."""
    tree = ast.parse(source)
    constants = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                 and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
                 for t in n.targets if isinstance(t, ast.Name)}
    counts = _count_names(tree)
    found: dict[str, set[str]] = {}
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        func = call.func
        called = func.id if isinstance(func, ast.Name) else \
            func.attr if isinstance(func, ast.Attribute) else ""
        assert called not in UNDECLARABLE, f"{called} outside runtime.count: {ast.unparse(call)!r}"
        if called in FAULT_COUNTERS:
            found.setdefault(layout.HANDLED_FAULTS_METRIC, set())
            continue
        if called not in counts and called != "add_metric":
            continue
        name = _metric_name(call)
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


@pytest.mark.parametrize(("source", "expected"), [
    ('count(name="UrlsIssued", kind=req.kind.name)', {"UrlsIssued": (UPLOAD_KINDS,)}),
    ('runtime.count("UrlsIssued", kind=k)', {"UrlsIssued": (UPLOAD_KINDS,)}),
    ('from estate_handlers.runtime import count as emit\nemit("X")', {"X": ()}),
    ('metrics.add_metric("Y", "Count", 1)', {"Y": ()}),
])
def test_the_reader_sees_keyword_names_qualified_calls_aliases_and_positional_names(source,
                                                                                   expected):
    assert published(source) == expected


@pytest.mark.parametrize("source", [
    'metrics.add_dimension(name="bucket", value=b)',
    'with single_metric(name="Y", unit="Count", value=1) as m:\n    pass',
    'metrics.set_default_dimensions(environment="prod")',
])
def test_calls_that_add_series_the_declaration_cannot_see_are_refused(source):
    with pytest.raises(AssertionError, match="outside runtime.count"):
        published(source)
