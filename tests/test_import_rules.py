"""The layering rules of DESIGN.md §2, read from the code's imports (every import statement, at the top
of a module or inside a function: an import on use is still a dependency).

- app/web/ and app/api/ never import app.engine or SpiffWorkflow: pages and the API reach workflows
  through the services that own them.
- only app/engine/ imports SpiffWorkflow.
- app/engine/ imports no feature package (only the cross-cutting app.db) and no Flask.
- app/taskforms/ imports neither the engine nor the web.
- app/calendar/calendar.py is pure: no Flask, no database.
- no import circle between modules of app/.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(path: Path) -> set[str]:
    """Every module named by an import in the file (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                own = module_name(path)
                package = own if path.name == "__init__.py" else own.rpartition(".")[0]
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            # `from app.cases import services` names the module app.cases.services
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
    return found


def app_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(APP.rglob("*.py"))}


MODULES = app_modules()


def app_imports(path: Path) -> set[str]:
    """The modules of app/ this file imports (a name that is a package's attribute, not a module, is
    dropped; importing app.x.y also loads the package app.x, which is not counted as a dependency
    on everything in it)."""
    return {name for name in imported_names(path) if name in MODULES}


def offenders(paths, forbidden) -> list[str]:
    out = []
    for path in paths:
        for name in sorted(imported_names(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                out.append(f"{path.relative_to(ROOT)} imports {name}")
    return out


def files_under(*folders: str) -> list[Path]:
    return [p for folder in folders for p in sorted((APP / folder).rglob("*.py"))]


def test_web_and_api_never_import_the_engine_or_spiffworkflow():
    assert offenders(files_under("web", "api"), ("app.engine", "SpiffWorkflow")) == []


def test_only_the_engine_imports_spiffworkflow():
    others = [p for p in APP.rglob("*.py") if (APP / "engine") not in p.parents]
    assert offenders(sorted(others), ("SpiffWorkflow",)) == []


def test_the_engine_imports_no_feature_and_no_flask():
    features = sorted({f"app.{p.name}" for p in APP.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
                      - {"app.engine"})
    assert offenders(files_under("engine"), (*features, "flask", "flask_sqlalchemy")) == []


def test_taskforms_import_neither_engine_nor_web():
    assert offenders(files_under("taskforms"), ("app.engine", "app.web", "app.api", "SpiffWorkflow")) == []


def test_the_calendar_core_is_pure():
    assert offenders([APP / "calendar" / "calendar.py"], ("flask", "flask_sqlalchemy", "sqlalchemy", "app.extensions")) == []


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), and self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        # a package's __init__ re-exporting its own modules is not a circle with them
        graph[name] = {t for t in app_imports(path) if t != name and not (path.name == "__init__.py" and t.startswith(name + "."))
                       and not name.startswith(t + ".")}
    return graph


def test_no_import_circles():
    assert find_cycles(import_graph()) == []


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
])
def test_the_circle_finder_finds_circles(graph, expected):
    assert find_cycles(graph) == expected


def test_the_rules_see_imports_inside_functions(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from app.engine import runtime\n    import SpiffWorkflow.bpmn\n")
    assert {"app.engine", "app.engine.runtime", "SpiffWorkflow.bpmn"} <= imported_names(source)
