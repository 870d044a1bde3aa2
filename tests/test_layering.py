"""The package's layering, checked on the source: no import cycles, a light ``import sessiongate``,
a framework-free core, modules that say what they own and stay small.

The import graph is read from the AST of every module, lazy in-function imports included (only
``if TYPE_CHECKING:`` blocks are skipped): a lazy import that hides a cycle is still a cycle.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "sessiongate"

# what ``import sessiongate`` must not load: drivers, HTTP, JWT library, frameworks, event loop
HEAVY = (
    "httpx",
    "jwt",
    "asyncpg",
    "asyncmy",
    "starlette",
    "fastapi",
    "flask",
    "uvicorn",
    "sqlite3",
    "asyncio",
)

# the pure core: formats and rules. No I/O module, no framework, no orchestrator.
CORE = (
    "sessiongate.types",
    "sessiongate.errors",
    "sessiongate._b64json",
    "sessiongate._secrets",
    "sessiongate._lru",
    "sessiongate._tokencache",
    "sessiongate.claims",
    "sessiongate.cookies",
    "sessiongate.user",
    "sessiongate.guards",
    "sessiongate.jwe",
    "sessiongate.jws",
    "sessiongate.authjs",
    "sessiongate.betterauth",
    "sessiongate.origins",
    "sessiongate.responses",
    "sessiongate.policy",
    "sessiongate.access",
    "sessiongate.baplugins",
)
CORE_MAY_IMPORT = frozenset(CORE) | {"sessiongate.gate", "sessiongate.config"}
CORE_ONLY_FOR = {"sessiongate.policy"}  # decide() takes a gate's outcome: it may name the gate

# Modules above the line budget, each owning one thing (the reason is the module docstring's).
LINE_BUDGET = 500
OVER_BUDGET: dict[str, str] = {
    "sessiongate.asgi": "the ASGI middleware, backend and requires(): one adapter",
    "sessiongate.sidecar": "the sidecar ASGI app: one protocol, documented in its docstring",
}


def modules_of(src: Path, package: str) -> dict[str, Path]:
    """``{dotted name: file}`` for every module of ``package`` under ``src``."""
    found = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(name: str, path: Path) -> set[str]:
    """Every name ``name`` imports, absolute, lazy imports included: ``import a.b`` gives
    ``a.b``; ``from .m import x`` gives ``pkg.m.x`` (a submodule, or a name in ``pkg.m``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.orelse:
                    visit_one(stmt)
                continue
            visit_one(child)

    def visit_one(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.update(f"{module}.{alias.name}" for alias in node.names)
        visit(node)

    visit(tree)
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """For each module, the package's modules it needs initialised when it runs.

    ``from .stores.cache import X`` needs ``pkg.stores.cache`` and, unless the importer lives
    inside it, the package ``pkg.stores`` (its ``__init__`` runs first); ``from . import sub``
    needs the submodule only. Imports of other packages (optional third-party ones included)
    are not edges.
    """
    root = min(modules, key=len)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for target in imported_names(name, path):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if not target:
                continue
            edges.add(target)
            parent = target.rpartition(".")[0]
            while parent and parent != root:
                if not (name == parent or name.startswith(parent + ".")):
                    edges.add(parent)
                parent = parent.rpartition(".")[0]
        edges.discard(name)
        graph[name] = edges
    return graph


MODULES = modules_of(SRC, "sessiongate")
GRAPH = import_graph(MODULES)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_the_checker_sees_a_cycle_hidden_in_a_lazy_import(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""pkg."""\n')
    (pkg / "a.py").write_text("from .b import x\n")
    (pkg / "b.py").write_text("def f():\n    from . import a\n")  # the hidden way back
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .d import y\n"
    )
    (pkg / "d.py").write_text("import json\nfrom .c import z\n")  # c -> d only for the types
    (pkg / "sub" / "__init__.py").write_text("from .e import e\n")
    (pkg / "sub" / "e.py").write_text("from ..f import f\n")
    (pkg / "f.py").write_text("from .sub.e import e\n")  # f needs pkg.sub, which needs f
    graph = import_graph(modules_of(tmp_path, "pkg"))
    assert graph["pkg.b"] == {"pkg.a"} and graph["pkg.c"] == set()
    assert "json" not in graph["pkg.d"]
    assert cycles(graph) == [["pkg.a", "pkg.b"], ["pkg.f", "pkg.sub", "pkg.sub.e"]]


def test_no_import_cycles_lazy_imports_included():
    assert cycles(GRAPH) == []


def test_gate_and_config_do_not_import_each_other_both_ways():
    assert "sessiongate.config" in GRAPH["sessiongate.gate"]
    assert "sessiongate.gate" not in GRAPH["sessiongate.config"]


@pytest.mark.parametrize("name", CORE)
def test_core_module_imports_no_io_framework_or_orchestrator(name):
    third_party = {n.partition(".")[0] for n in imported_names(name, MODULES[name])}
    assert not third_party & set(HEAVY), f"{name} imports {sorted(third_party & set(HEAVY))}"
    allowed = CORE_MAY_IMPORT if name in CORE_ONLY_FOR else frozenset(CORE)
    assert GRAPH[name] <= allowed, f"{name} imports {sorted(GRAPH[name] - allowed)}"


def test_formats_take_their_types_from_types_py_not_from_the_gate():
    for name in ("sessiongate.authjs", "sessiongate.jws", "sessiongate.jwks.bearer"):
        assert "sessiongate.gate" not in GRAPH[name]
        assert "sessiongate.types" in GRAPH[name] or "sessiongate._tokencache" in GRAPH[name]


def _fresh_import(code: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded = set()
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            loaded.add(line.rsplit("|", 1)[1].strip())
    return {"stdout": json.loads(out.stdout), "importtime": loaded}


def test_import_sessiongate_loads_no_driver_http_client_framework_or_event_loop():
    result = _fresh_import(
        "import json, sys, sessiongate; "
        f"print(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))"
    )
    assert result["stdout"] == []
    loaded = result["importtime"]
    assert isinstance(loaded, set) and "sessiongate" in loaded
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_the_io_classes_load_on_first_use():
    result = _fresh_import(
        "import json, sys, sessiongate; "
        "before = 'sqlite3' in sys.modules; "
        "store = sessiongate.SQLiteStore; session = sessiongate.DatabaseSession; "
        "print(json.dumps([before, 'sqlite3' in sys.modules, 'asyncpg' in sys.modules]))"
    )
    assert result["stdout"] == [False, True, False]


def test_top_level_names_are_the_short_grouped_all_and_all_resolve():
    result = _fresh_import(
        "import inspect, json, sessiongate as s; "
        "names = [n for n in s.__all__ if getattr(s, n) is not None]; "
        "extra = [n for n in dir(s) if not n.startswith('_') and n not in s.__all__ "
        "and not inspect.ismodule(getattr(s, n))]; "
        "print(json.dumps([names, s.__all__, extra]))"
    )
    names, declared, extra = result["stdout"]  # type: ignore[misc]
    assert names == declared and len(declared) == len(set(declared)) <= 30
    assert extra == ["TYPE_CHECKING", "annotations", "import_module"] or set(extra) <= {
        "TYPE_CHECKING",
        "Any",
        "annotations",
        "import_module",
    }


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_says_what_it_owns_and_stays_small(name):
    path = MODULES[name]
    text = path.read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(text))
    if name != "sessiongate.__main__":
        assert docstring and len(docstring.split()) >= 5, f"{name} has no module docstring"
    lines = len(text.splitlines())
    if name in OVER_BUDGET:
        return
    assert lines <= LINE_BUDGET, f"{name} has {lines} lines (budget {LINE_BUDGET}): split it"
