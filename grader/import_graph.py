"""Which modules of a package import which, read from their source (nothing is imported).

    graph = ImportGraph.of_package(Path("grader"))
    graph.closure(["grader.self_check"])      # what importing it can load

A module's imports are every ``import`` and ``from ... import`` in it, at any depth
(a function's lazy import counts: calling the function runs it), except under
``if TYPE_CHECKING:``; and every string literal that names a module of the package
(``importlib.import_module("grader.report.html")`` and tables of such names). Importing
``a.b.c`` imports ``a`` and ``a.b`` too. Outside names are kept by their top-level
name (``numpy``, ``reference``). The student kit ships the closure of its entry point
(:mod:`grader.kit`), and a test keeps ``reference`` out of it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path


def module_name(root: Path, path: Path) -> str:
    """``grader/report/__init__.py`` -> ``grader.report``; ``grader/kit.py`` -> ``grader.kit``."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _named(tree: ast.Module, package: str) -> tuple[list[str], list[str]]:
    """The dotted names a module's import statements import (relative ones resolved against
    ``package``), and its string literals (names of modules it may import by name)."""
    imported: list[str] = []
    literals: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.orelse:  # the body runs only for type checkers
                visit(statement)
            return
        if isinstance(node, ast.Import):
            imported.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            imported.append(base)
            imported.extend(f"{base}.{a.name}" for a in node.names if a.name != "*")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            literals.append(node.value)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return imported, literals


@dataclass(frozen=True)
class ImportGraph:
    """Module -> the modules of the package it imports, and the outside packages it imports."""

    files: Mapping[str, Path]
    internal: Mapping[str, frozenset[str]]
    external: Mapping[str, frozenset[str]]

    @classmethod
    def of_package(cls, root: Path) -> ImportGraph:
        """The graph of every module under the package folder ``root``."""
        files = {
            module_name(root, p): p
            for p in sorted(root.rglob("*.py"))
            if "__pycache__" not in p.parts
        }
        top = root.name
        internal: dict[str, frozenset[str]] = {}
        external: dict[str, frozenset[str]] = {}
        for name, path in files.items():
            package = name if path.name == "__init__.py" else name.rpartition(".")[0]
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            imported, literals = _named(tree, package)
            mine: set[str] = set()
            for dotted in [*imported, *literals]:
                parts = dotted.split(".")
                if parts[0] == top:  # the module and every package above it, where they exist
                    mine |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & files.keys()
            internal[name] = frozenset(mine - {name})
            external[name] = frozenset(d.split(".")[0] for d in imported) - {top}
        return cls(files, internal, external)

    def closure(self, entries: Iterable[str]) -> frozenset[str]:
        """The modules of the package that importing ``entries`` can load."""
        seen: set[str] = set()
        todo = list(entries)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            if name not in self.files:
                raise KeyError(f"no module {name!r} in the package")
            seen.add(name)
            todo.extend(self.internal[name])
        return frozenset(seen)

    def importers_of(self, package: str) -> frozenset[str]:
        """The modules that import the outside package ``package`` themselves."""
        return frozenset(m for m, outside in self.external.items() if package in outside)


__all__ = ["ImportGraph", "module_name"]
