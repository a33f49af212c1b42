"""The layering rules of docs/design.md, checked on every module's imports.

Every ``import`` and ``from ... import`` of every module under ``wsgikit/`` is
read with :mod:`ast` (absolute and relative, at the top or inside a function or
an ``if TYPE_CHECKING`` block), resolved to a wsgikit module, and checked
against the arrows the design allows:

- ``http/`` imports nothing of wsgikit outside itself;
- ``wsgi/`` only ``http/``;
- ``process/`` nothing of ``http/``, ``wsgi/``, ``server/``, the settings or the facade;
- ``server/`` never the settings layer (``config``, ``config_sources``), the CLI,
  the facade, ``supervise``, ``translate`` or the test helpers: it takes its own options;
- ``observe/`` (what the master shows) sits above ``process/`` and ``http/``, beside
  the facade: it imports only those two, never the settings (its callers hand it the
  config as a mapping), the server, the facade or the entry points; and neither
  ``process/`` nor ``server/`` imports it;
- ``config`` imports no layer; ``binds`` nothing of wsgikit;
- no two modules import each other, directly or through others.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "wsgikit"

# Which modules a group may import (prefix match on dotted names inside wsgikit).
# A group is a subpackage or a top-level module; "*" allows everything not forbidden.
ALLOWED: dict[str, tuple[str, ...]] = {
    "wsgikit.http": ("wsgikit.http",),
    "wsgikit.wsgi": ("wsgikit.wsgi", "wsgikit.http"),
    "wsgikit.binds": (),
    "wsgikit.config": ("wsgikit.binds",),
    "wsgikit.observe": ("wsgikit.observe", "wsgikit.http", "wsgikit.process"),
}
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "wsgikit.process": (
        "wsgikit.http",
        "wsgikit.wsgi",
        "wsgikit.server",
        "wsgikit.config",
        "wsgikit.config_sources",
        "wsgikit.translate",
        "wsgikit.facade",
        "wsgikit.supervise",
        "wsgikit.cli",
        "wsgikit.logs",
        "wsgikit.testing",
        "wsgikit.observe",
    ),
    "wsgikit.server": (
        "wsgikit.config",
        "wsgikit.config_sources",
        "wsgikit.translate",
        "wsgikit.facade",
        "wsgikit.supervise",
        "wsgikit.cli",
        "wsgikit.logs",
        "wsgikit.testing",
        "wsgikit.pytest_plugin",
        "wsgikit.process",
        "wsgikit.observe",
    ),
}


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, name: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, imported wsgikit module) for every import in ``source``."""
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "wsgikit":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "wsgikit":
                continue
            # "from . import x" / "from .pkg import mod" may name submodules.
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def resolve(dotted: str, modules: set[str]) -> str | None:
    """The longest known module that ``dotted`` names (``a.b.attr`` -> ``a.b``)."""
    while dotted:
        if dotted in modules:
            return dotted
        dotted = dotted.rpartition(".")[0]
    return None


def group(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def import_graph(root: Path = PACKAGE) -> dict[str, dict[str, int]]:
    """module -> {imported module: line} for every module of the package at ``root``."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    modules = set(files)
    graph: dict[str, dict[str, int]] = {}
    for name, path in files.items():
        edges: dict[str, int] = {}
        is_package = path.name == "__init__.py"
        for line, target in imports_of(path.read_text(), name, is_package):
            resolved = resolve(target, modules)
            if resolved is not None and resolved != name:
                edges.setdefault(resolved, line)
        graph[name] = edges
    return graph


def violations(graph: dict[str, dict[str, int]]) -> list[str]:
    found = []
    for module, edges in sorted(graph.items()):
        mine = group(module)
        for target, line in sorted(edges.items()):
            if group(target) == mine:
                continue
            allowed = ALLOWED.get(mine)
            if allowed is not None and not target.startswith(allowed):
                found.append(
                    f"{module} (line {line}) imports {target}: {mine} may only import "
                    f"{', '.join(allowed) or 'nothing of wsgikit'}"
                )
            forbidden = FORBIDDEN.get(mine, ())
            if forbidden and target.startswith(forbidden):
                found.append(f"{module} (line {line}) imports {target}: forbidden for {mine}")
    return found


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Import cycles between modules (a package's ``__init__`` re-exporting its own
    submodules is not a cycle worth reporting: edges into one's own package root are
    skipped)."""
    edges = {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in graph.items()}
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                found.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def test_every_module_keeps_to_its_layer() -> None:
    assert violations(import_graph()) == []


def test_no_two_modules_import_each_other() -> None:
    assert cycles(import_graph()) == []


def test_server_takes_its_own_options_not_the_config() -> None:
    graph = import_graph()
    readers = [
        m
        for m, edges in graph.items()
        if m.startswith("wsgikit.server") and any(t.startswith("wsgikit.config") for t in edges)
    ]
    assert readers == []


# The checker itself must catch what it is for: each forbidden arrow, written in
# each way Python allows, is found in a throwaway copy of a tiny package tree.
@pytest.mark.parametrize(
    ("path", "source", "needle"),
    [
        ("http/bad.py", "from wsgikit.wsgi import call_app\n", "wsgikit.http.bad"),
        ("http/bad.py", "def f():\n    from ..server import make_server\n", "wsgikit.http.bad"),
        ("wsgi/bad.py", "import wsgikit.server.sync\n", "wsgikit.wsgi.bad"),
        ("process/bad.py", "from ..http import Limits\n", "wsgikit.process.bad"),
        (
            "process/bad.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from wsgikit import config\n",
            "wsgikit.process.bad",
        ),
        ("server/bad.py", "from ..config import Config\n", "wsgikit.server.bad"),
        ("server/bad.py", "from .. import facade\n", "wsgikit.server.bad"),
        ("config.py", "from .server import ServerOptions\n", "wsgikit.config"),
        ("observe/bad.py", "from ..config import Config\n", "wsgikit.observe.bad"),
        ("observe/bad.py", "from wsgikit.server import sync\n", "wsgikit.observe.bad"),
        ("process/bad.py", "from ..observe import status\n", "wsgikit.process.bad"),
        ("server/bad.py", "import wsgikit.observe.status\n", "wsgikit.server.bad"),
    ],
)
def test_a_forbidden_import_is_reported(
    tmp_path: Path, path: str, source: str, needle: str
) -> None:
    root = tmp_path / "wsgikit"
    for package in ("", "http", "wsgi", "server", "process", "observe"):
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").write_text("")
    for module in (
        "config.py",
        "facade.py",
        "server/sync.py",
        "wsgi/call.py",
        "http/limits.py",
        "server/factory.py",
        "observe/status.py",
    ):
        (root / module).write_text("")
    (root / path).write_text(source)
    found = violations(import_graph(root))
    assert any(line.startswith(needle) for line in found), found


def test_a_cycle_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "wsgikit"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "a.py").write_text("from . import b\n")
    (root / "b.py").write_text("def f():\n    from .a import x\n")
    assert cycles(import_graph(root)) == [["wsgikit.a", "wsgikit.b", "wsgikit.a"]]


def test_public_names_are_never_shadowed_by_submodules() -> None:
    # In a fresh interpreter, before and after every submodule is imported (an import
    # of wsgikit.x sets the attribute x on the package), each exported name is what
    # the package exports, never a module: `from wsgikit import serve` is the function.
    modules = sorted(m for m in import_graph() if m != "wsgikit" and "pytest_plugin" not in m)
    code = textwrap.dedent(
        f"""
        import importlib, inspect, types
        import wsgikit
        from wsgikit import serve
        assert inspect.isfunction(serve), serve
        for name in {modules!r}:
            importlib.import_module(name)
        from wsgikit import serve
        assert inspect.isfunction(serve) and wsgikit.run is serve, serve
        for name in wsgikit.__all__:
            value = getattr(wsgikit, name)
            assert not isinstance(value, types.ModuleType), (name, value)
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PACKAGE.parent,
    )
    assert done.stdout.strip() == "ok", done.stderr
