"""How far a config travels from a CLI command into its stage: the tvrkit modules its import graph visits.

Starting at a CLI module (default ``tvrkit.cli.eval``), the walk follows, depth first, every
``import`` of a ``tvrkit`` module made at module level (what Python runs when the module loads;
``if TYPE_CHECKING:`` blocks excluded) plus the imports inside the command function itself (the
CLI imports its stage lazily, there). Importing ``tvrkit.a.b`` also loads the package ``tvrkit.a``,
so that is a stop too. Each followed edge is a *stop*; a stop into a module already visited is a
*revisit*. Few modules and few revisits mean a reader follows the config through a short, tree-like
path instead of circling back through the same modules.

    python tools/config_walk.py                        # tvrkit.cli.eval, command eval_
    python tools/config_walk.py tvrkit.cli.index index --list
"""

from __future__ import annotations

import argparse
import ast
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "tvrkit"


@dataclass
class Walk:
    """The result: modules in first-visit order and the count of stops (revisits = stops - new visits)."""

    order: list[str] = field(default_factory=list)
    stops: int = 0

    @property
    def revisits(self) -> int:
        return self.stops - len(self.order)


def module_path(name: str) -> Path | None:
    """The source file of module ``name`` (a package's ``__init__.py``), None if not in the tree."""
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements run when ``body`` runs: nested blocks entered, function and class bodies not
    (except class bodies, which run at definition), ``if TYPE_CHECKING`` skipped."""
    out: list[ast.stmt] = []
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node):
            out.extend(_statements(node.orelse))
            continue
        out.append(node)
        blocks = [getattr(node, name, []) for name in ("body", "orelse", "finalbody")]
        blocks += [handler.body for handler in getattr(node, "handlers", [])]
        for block in blocks:
            if isinstance(block, list):
                out.extend(_statements(block))
    return out


def _targets(node: ast.stmt, current: str, is_package: bool) -> list[str]:
    """The tvrkit modules an import statement loads, in the order Python loads them."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = current.split(".")
            anchor = parts if is_package else parts[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join(anchor + ([base] if base else []))
        names = [base]
        names += [f"{base}.{alias.name}" for alias in node.names if module_path(f"{base}.{alias.name}")]
    loaded: list[str] = []
    for name in names:
        if not (name == PACKAGE or name.startswith(PACKAGE + ".")):
            continue
        parts = name.split(".")
        loaded += [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return [n for n in loaded if module_path(n)]


def imports_of(name: str, function: str | None = None) -> list[str]:
    """Modules ``name`` imports when it loads, then those imported inside its ``function``."""
    path = module_path(name)
    assert path is not None, name
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    body = _statements(tree.body)
    if function:
        funcs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == function]
        if not funcs:
            raise SystemExit(f"{name} has no function {function}")
        body += [n for n in ast.walk(funcs[0]) if isinstance(n, (ast.Import, ast.ImportFrom))]
    return [t for node in body for t in _targets(node, name, is_package)]


def walk(entry: str, function: str | None) -> Walk:
    """Depth-first walk of the import graph from ``entry`` (its ``function``'s imports included)."""
    result = Walk()
    seen: set[str] = set()

    def visit(name: str, func: str | None = None) -> None:
        result.stops += 1
        if name in seen:
            return
        seen.add(name)
        result.order.append(name)
        for target in imports_of(name, func):
            if target != name:
                visit(target)

    visit(entry, function)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", nargs="?", default="tvrkit.cli.eval")
    parser.add_argument("function", nargs="?", default="eval_", help="the command function whose imports count")
    parser.add_argument("--list", action="store_true", help="print the modules in first-visit order")
    args = parser.parse_args()
    result = walk(args.module, args.function)
    print(f"{args.module}:{args.function}: {len(result.order)} modules, {result.stops} stops, "
          f"{result.revisits} revisits")
    if args.list:
        print("\n".join(f"  {m}" for m in result.order))


if __name__ == "__main__":
    main()
