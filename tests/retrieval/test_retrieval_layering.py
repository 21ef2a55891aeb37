"""The retrieval engine is shared, the stages are not: ``tvrkit.search`` and ``tvrkit.retrieval``
reach nothing of the eval stage (``tvrkit.eval``), through any import, at module level or inside a
function, directly or through another tvrkit module."""

from __future__ import annotations

import ast
from pathlib import Path

import tvrkit

PACKAGE_DIR = Path(tvrkit.__file__).resolve().parent


def module_file(name: str) -> Path | None:
    base = PACKAGE_DIR.parent.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported_modules(name: str) -> set[str]:
    """Every tvrkit module an ``import`` anywhere in module ``name`` names (relative ones resolved)."""
    path = module_file(name)
    assert path is not None, name
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if module_file(f"{base}.{alias.name}"))
    return {n for n in found if n.split(".")[0] == "tvrkit" and module_file(n)}


def reachable(start: list[str]) -> dict[str, str]:
    """Every tvrkit module reachable from ``start`` -> the module that first imported it."""
    parent = {name: "" for name in start}
    todo = list(start)
    while todo:
        name = todo.pop()
        for target in imported_modules(name):
            if target not in parent:
                parent[target] = name
                todo.append(target)
    return parent


def modules_of(package: str) -> list[str]:
    root = PACKAGE_DIR / package
    return [f"tvrkit.{package}." + ".".join(p.relative_to(root).with_suffix("").parts).replace(".__init__", "")
            for p in sorted(root.rglob("*.py"))]


def chain(parent: dict[str, str], name: str) -> str:
    path = [name]
    while parent[path[-1]]:
        path.append(parent[path[-1]])
    return " <- ".join(path)


def test_the_import_walk_sees_relative_and_function_level_imports():
    # the walker itself: eval's stage module reaches its config through a module-level import,
    # and the eval CLI reaches run_eval only through the import inside its command function
    assert "tvrkit.eval.config" in imported_modules("tvrkit.eval.run_eval")
    assert "tvrkit.eval.run_eval" in imported_modules("tvrkit.cli.eval")
    assert "tvrkit.eval.run_eval" in reachable(["tvrkit.cli.eval"])


def test_search_and_the_retrieval_engine_import_nothing_of_the_eval_stage():
    start = modules_of("search") + modules_of("retrieval")
    assert "tvrkit.search.query" in start and "tvrkit.retrieval.scorer" in start
    parent = reachable(start)
    leaks = sorted(chain(parent, n) for n in parent if n == "tvrkit.eval" or n.startswith("tvrkit.eval."))
    assert not leaks, "\n".join(leaks)
