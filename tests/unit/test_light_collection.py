"""Only tests/infra loads the CDK when the suite is collected.

The worker the local-server tests are pinned to does not collect tests/infra
(tests/pinned_groups.py): loading aws-cdk-lib cost it ~2 CPU seconds, ~8 on a fresh clone, and a
jsii kernel it never used. A module it does collect that imports the CDK at module level,
directly or through the repository's modules it imports, would bring that back without failing
anything else. Read from the sources, nothing imported: a test that needs a construct imports
it inside the test, or lives in tests/infra."""
from __future__ import annotations

import ast
import functools
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
# What the suite puts on sys.path: the repository (pytest.ini), lambda/ (tests/conftest.py) and
# each test folder (pytest's prepend import mode).
IMPORT_ROOTS = (REPO, REPO / "lambda", TESTS, *(p for p in TESTS.iterdir() if p.is_dir()))
# cdk-monitoring-constructs and cdk-nag import aws-cdk-lib themselves.
CDK_PACKAGES = {"aws_cdk", "cdk_nag", "cdk_monitoring_constructs", "cdklabs", "constructs", "jsii"}


@functools.cache
def _file_of(module: str, roots: tuple[Path, ...]) -> Path | None:
    """The repository's file for a module name; None for anything installed."""
    for root in roots:
        base = root.joinpath(*module.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file() and ".venv" not in candidate.parts:
                return candidate
    return None


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


@functools.cache
def imports_at_load(path: Path, package: str) -> tuple[str, ...]:
    """The modules a file imports when it is loaded: at module level, including under ``if``
    (only the ``else`` of ``if TYPE_CHECKING``), ``try``, ``with`` and in class bodies, not in
    functions; and a conftest's ``pytest_plugins``. ``from a import b`` lists ``a`` and ``a.b``
    (``b`` may be a submodule). ``importlib.import_module`` and ``pytest.importorskip`` calls are
    not followed."""
    names: list[str] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                names.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                if base != "__future__":
                    names.append(base)
                    names.extend(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If):
                if not _type_checking_only(node):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try | ast.TryStar):
                for part in (node.body, node.orelse, node.finalbody,
                             *(handler.body for handler in node.handlers)):
                    visit(part)
            elif isinstance(node, ast.With | ast.ClassDef):
                visit(node.body)
            elif isinstance(node, ast.Assign) and any(
                    isinstance(target, ast.Name) and target.id == "pytest_plugins"
                    for target in node.targets):
                names.extend(constant.value for constant in ast.walk(node.value)
                             if isinstance(constant, ast.Constant)
                             and isinstance(constant.value, str))
    visit(ast.parse(path.read_text(), filename=str(path)).body)
    return tuple(names)


def chain_to_cdk(start: Path, roots: tuple[Path, ...] = IMPORT_ROOTS) -> list[str] | None:
    """How loading ``start`` reaches the CDK (the modules in between), or None if it does not."""
    came_from: dict[str, str | None] = {}
    queue = [(start, "", start.name)]
    seen = {start}
    while queue:
        path, package, label = queue.pop(0)
        for name in imports_at_load(path, package):
            if name.split(".")[0] in CDK_PACKAGES:
                chain, step = [name], label
                while step:
                    chain.append(step)
                    step = came_from.get(step)
                return chain[::-1]
            parts = name.split(".")
            # importing a.b.c runs a/__init__.py and a/b/__init__.py first
            for depth in range(1, len(parts) + 1):
                module = ".".join(parts[:depth])
                found = _file_of(module, roots)
                if found is None or found in seen:
                    continue
                seen.add(found)
                came_from[module] = label
                queue.append((found, module if found.name == "__init__.py"
                              else module.rpartition(".")[0], module))
    return None


def _collected_outside_infra() -> list[Path]:
    return sorted(path for path in TESTS.rglob("*.py")
                  if (TESTS / "infra") not in path.parents and "__pycache__" not in path.parts)


def test_no_module_outside_tests_infra_loads_the_cdk():
    found = {str(path.relative_to(REPO)): chain for path in _collected_outside_infra()
             if (chain := chain_to_cdk(path))}
    assert found == {}, "\n".join(" -> ".join(chain) for chain in found.values())


def test_the_check_sees_the_cdk_however_it_is_reached(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("from .inner import thing\n")
    (tmp_path / "pkg" / "inner.py").write_text(
        "try:\n    from aws_cdk import Stack as thing\nexcept ImportError:\n    thing = None\n")
    (tmp_path / "typed.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import aws_cdk\n"
        "def later():\n    import aws_cdk\n")
    hidden = {  # each loads the CDK when the module is loaded
        "in_class.py": "class Settings:\n    from aws_cdk import Duration\n",
        "in_with.py": "import contextlib\nwith contextlib.suppress(ImportError):\n"
                      "    import aws_cdk.aws_s3 as s3\n",
        "in_else.py": "import typing\nif typing.TYPE_CHECKING:\n    pass\nelse:\n"
                      "    import cdk_monitoring_constructs\n",
        "conftest.py": "pytest_plugins = ['pkg.inner']\n",
    }
    for name, source in hidden.items():
        (tmp_path / name).write_text(source)
        assert chain_to_cdk(tmp_path / name, (tmp_path,)) is not None, name
    roots = (tmp_path,)
    (tmp_path / "test_a.py").write_text("from pkg.inner import thing\n")
    assert chain_to_cdk(tmp_path / "test_a.py", roots) == ["test_a.py", "pkg.inner", "aws_cdk"]
    (tmp_path / "test_b.py").write_text("import pkg\n")  # through the package's relative import
    assert chain_to_cdk(tmp_path / "test_b.py", roots) == ["test_b.py", "pkg", "pkg.inner",
                                                           "aws_cdk"]
    (tmp_path / "test_c.py").write_text("import typed\n")
    assert chain_to_cdk(tmp_path / "test_c.py", roots) is None
    assert chain_to_cdk(TESTS / "infra" / "conftest.py") is not None  # the one that should
