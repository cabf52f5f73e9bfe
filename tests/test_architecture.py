"""The house is walkable: imports point one way and never go round.

Layers, bottom to top: `core` (imports no app) -> models -> policies ->
services and selectors -> entry points (views, API, admin, forms, tasks,
commands, URLconfs), stated as import-linter contracts in pyproject.toml.
Cycles are read from the source with `ast`, function-local imports
included, so a cycle cannot hide inside a function.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("core", "accounts", "audit", "rbac", "handover", "webhooks")


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


def test_there_are_no_import_cycles():
    assert _cycles(_graph()) == []


def _lint_imports(*args) -> subprocess.CompletedProcess:
    command = Path(sys.executable).parent / "lint-imports"
    return subprocess.run(
        [str(command), "--no-cache", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_the_layer_contracts_hold():
    """pyproject.toml's import-linter contracts: core imports no app, models
    no read/policy/service/entry point, policies no service, services no
    entry point, the apps nothing of the project shell, a template tag no
    view."""
    result = _lint_imports()
    assert result.returncode == 0, result.stdout[-4000:]
    assert "BROKEN" not in result.stdout and result.stdout.count("KEPT") >= 6


def test_the_contracts_can_break(tmp_path):
    """A contract the code does not keep (views import services) is reported."""
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["accounts"]\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "made up"\ntype = "forbidden"\n'
        'source_modules = ["accounts.views"]\nforbidden_modules = ["accounts.services"]\n'
    )
    result = _lint_imports("--config", str(config))
    assert result.returncode != 0 and "BROKEN" in result.stdout


def test_the_cycle_checker_sees_a_cycle():
    """The cycle check can fail: a made-up graph with one."""
    graph = {"a.services": {"a.views"}, "a.views": {"a.services"}}
    assert _cycles(graph) == [["a.services", "a.views"]]


def _locks_taken(source: str) -> list[int]:
    """Lines of `source` that take a row lock (`select_for_update`)."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute) and node.attr == "select_for_update"
    ]


def test_services_lock_guards_read():
    """No guard takes a row lock: the service locks what its guard counts
    (users, organizations, roles, in that order) before asking it."""
    found = {
        str(path.relative_to(ROOT)): lines
        for path in (ROOT / "rbac" / "policies").rglob("*.py")
        if (lines := _locks_taken(path.read_text()))
    }
    assert not found, found


def test_the_lock_checker_sees_a_lock():
    assert _locks_taken("Organization.objects.select_for_update().filter(pk=1)") == [1]
    assert _locks_taken("Organization.objects.filter(pk=1)") == []
