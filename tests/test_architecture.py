"""The house is walkable: imports point one way and never go round.

Layers, bottom to top: `core` (imports no app) -> models -> policies ->
services and selectors -> entry points (views, API, admin, forms, tasks,
commands, URLconfs). Read from the source with `ast`, function-local
imports included, so a cycle cannot hide inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("core", "accounts", "audit", "rbac", "handover")
ENTRY_POINTS = ("views", "api", "admin", "admin_site", "forms", "tasks", "urls", "management")
LOWER_LAYERS = ("models", "services", "selectors", "policies", "credentials", "permissions")


def _modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
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
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _layer_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "core":
        return "bottom"
    for part in parts[1:]:
        if part in ENTRY_POINTS:
            return "entry"
    if module in ("handover.urls", "handover.api", "handover.views"):
        return "entry"
    for part in parts[1:]:
        if part in LOWER_LAYERS:
            return "lower"
    return "other"


def test_there_are_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_bottom_layer_imports_no_app():
    graph = _graph()
    offenders = {(m, t) for m, targets in graph.items() if m.startswith("core") for t in targets}
    assert {(m, t) for m, t in offenders if not t.startswith("core")} == set()


def test_models_policies_and_services_never_import_an_entry_point():
    graph = _graph()
    wrong = sorted(
        (module, target)
        for module, targets in graph.items()
        if _layer_of(module) == "lower"
        for target in targets
        if _layer_of(target) == "entry"
    )
    assert wrong == []


def test_the_checker_sees_a_cycle_and_a_wrong_direction():
    """The checks above can fail: a made-up graph with both faults."""
    graph = {"a.services": {"a.views"}, "a.views": {"a.services"}}
    assert _cycles(graph) == [["a.services", "a.views"]]
    assert _layer_of("a.services") == "lower" and _layer_of("a.views") == "entry"
