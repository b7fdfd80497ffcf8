"""The package's shape: no import cycles among its modules, and no module over 520 lines.

The import graph is read from the source with :mod:`ast` (nothing is imported): every ``import`` and
``from ... import`` of a module of the package that runs when a module is loaded (at module level,
also inside ``if``/``try``/``with`` blocks and class bodies), relative ones resolved. Imports inside a
function, or under ``if TYPE_CHECKING:``, are left out: they do not run when the module is loaded.
``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``; importing
a module also loads every package above it, so those ``__init__`` modules are edges too (except the
importer's own packages, which are loading already).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "jupyterhub_execplanner"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE  # read, never imported
MAX_LINES = 520

Graph = dict[str, dict[str, str]]  # module -> {module it loads: the first import line that does it}


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package under ``root``, by dotted name (a package by its own name)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _loaded(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports of ``body`` that run when the module is loaded."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            test = node.test
            checking = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
            )
            if not checking:
                yield from _loaded(node.body)
            yield from _loaded(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, *(h.body for h in node.handlers), node.orelse, node.finalbody):
                yield from _loaded(block)
        elif isinstance(node, ast.With | ast.ClassDef):
            yield from _loaded(node.body)


def _targets(name: str, node: ast.Import | ast.ImportFrom, known: dict[str, Path]) -> Iterator[str]:
    """The modules one import statement in module ``name`` names (of any package)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    target = node.module or ""
    if node.level:
        package = name if known[name].name == "__init__.py" else name.rpartition(".")[0]
        parts = package.split(".")
        target = ".".join(parts[: len(parts) - (node.level - 1)] + ([node.module] if node.module else []))
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        yield sub if sub in known else target


def import_graph(root: Path = ROOT) -> Graph:
    known = modules(root)
    graph: Graph = {}
    for name, path in known.items():
        edges: dict[str, str] = {}
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _loaded(tree.body):
            for target in _targets(name, node, known):
                parts = target.split(".")
                for module in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):
                    if module in known and module not in own:
                        edges.setdefault(module, ast.unparse(node))
        graph[name] = edges
    return graph


def find_cycle(graph: Graph) -> list[str] | None:
    """One cycle (its modules, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def describe(cycle: list[str], graph: Graph) -> str:
    steps = [f"  {a} -> {b}: {graph[a][b]}" for a, b in zip(cycle, cycle[1:], strict=False)]
    return "import cycle: " + " -> ".join(cycle) + "\n" + "\n".join(steps)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b": "import b"}, "b": {}}, None),
        ({"a": {"b": "import b"}, "b": {"a": "import a"}}, ["a", "b", "a"]),
        ({"a": {"b": ""}, "b": {"c": ""}, "c": {"b": ""}}, ["b", "c", "b"]),
    ],
)
def test_find_cycle(graph: Graph, expected: list[str] | None) -> None:
    assert find_cycle(graph) == expected


def test_graph_of_a_small_package(tmp_path: Path) -> None:
    files = {
        "__init__.py": "",
        "a.py": "from .sub import b\nfrom . import c as C\n",
        "c.py": "import os\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import x\n"
        "def f():\n    from .a import y\n",
        "sub/__init__.py": "from .b import thing\n",
        "sub/b.py": "from ..c import z\ntry:\n    from pkg.a import w\nexcept ImportError:\n    pass\n",
    }
    for name, text in files.items():
        (tmp_path / "pkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pkg" / name).write_text(text)
    graph = import_graph(tmp_path / "pkg")
    assert {k: sorted(v) for k, v in graph.items()} == {
        "pkg": [],
        "pkg.a": ["pkg.c", "pkg.sub", "pkg.sub.b"],
        "pkg.c": [],  # under TYPE_CHECKING and in a function: not loaded with the module
        "pkg.sub": ["pkg.sub.b"],
        "pkg.sub.b": ["pkg.a", "pkg.c"],
    }
    cycle = find_cycle(graph)
    assert cycle == ["pkg.a", "pkg.sub", "pkg.sub.b", "pkg.a"]
    assert "pkg.sub.b -> pkg.a: from pkg.a import w" in describe(cycle, graph)


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    manager = graph[f"{PACKAGE}.sessions.manager"]
    assert f"{PACKAGE}.planning.planner" in manager and f"{PACKAGE}.planning" in manager
    assert f"{PACKAGE}.model.messages" in graph[f"{PACKAGE}.model.offer"]


def test_no_import_cycles() -> None:
    graph = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, describe(cycle, graph)


def test_modules_are_small() -> None:
    long = {
        str(path.relative_to(ROOT.parent)): n
        for path in modules().values()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them by concept): {long}"
