"""The package's import graph, read statically: which modules may import ``reference``,
and the student kit's boundary (the import closure of its entry point) holds none of them.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest

import grader
import reference
from grader.import_graph import ImportGraph
from grader.kit import KIT_ENTRY, RUN_AS_FILES, vendored_modules

GRADER = Path(grader.__file__).resolve().parent
REFERENCE = Path(reference.__file__).resolve().parent

# The modules that compute with the reference, by design: the instructor's side. A new
# one belongs here only if no kit needs it (test_the_kit_entry_reaches_no_reference_importer).
MAY_IMPORT_REFERENCE = {
    "grader.adapters.conventions",  # the conventions' optimisers and parameter rewrites
    "grader.expectations",  # the expected values and every candidate's outputs
    "grader.reference_oracle",  # the instructor's oracle
    "grader.kit",  # builds a kit: computes its expectations now
    "grader.plan",  # the instructor's problems and their inputs
    "grader.probes",  # the reference side of each probe
    "grader.rubric_file",  # validates a rubric's names against the reference's registries
}

# Instructor tools that a student's self-check never needs.
INSTRUCTOR_TOOLS = {
    "grader.batch",
    "grader.executors",
    "grader.cache",
    "grader.exports",
    "grader.warmup",
    "grader.cli",
    "grader.overrides",
    "grader.autograder",
    "grader.__main__",
}


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return ImportGraph.of_package(GRADER)


def test_only_the_instructor_s_modules_import_reference(graph: ImportGraph) -> None:
    assert set(graph.importers_of("reference")) == MAY_IMPORT_REFERENCE


def test_reference_never_imports_the_grader() -> None:
    ref = ImportGraph.of_package(REFERENCE)
    assert not ref.importers_of("grader")


def test_the_kit_entry_reaches_no_reference_importer(graph: ImportGraph) -> None:
    """The kit ships the entry point's closure: nothing in it computes with the reference,
    and none of the instructor's tools (batch, executors, cache, exports, ...) is in it."""
    closure = graph.closure([KIT_ENTRY])
    assert "grader.kit_check" in closure and "grader.report.terminal" in closure
    assert not closure & MAY_IMPORT_REFERENCE
    tools = {m for m in closure if any(m == t or m.startswith(t + ".") for t in INSTRUCTOR_TOOLS)}
    assert not tools
    assert vendored_modules() == closure | {m for m in graph.files if m.startswith(RUN_AS_FILES)}


def test_every_module_reaching_reference_is_named(graph: ImportGraph) -> None:
    """What imports (at any distance) an instructor's module is instructor-side too: it is
    outside the kit's closure."""
    closure = graph.closure([KIT_ENTRY])
    for name in graph.files:
        if graph.closure([name]) & MAY_IMPORT_REFERENCE:
            assert name not in closure, name


def _package(root: Path, files: dict[str, str]) -> ImportGraph:
    for rel, text in files.items():
        path = root / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return ImportGraph.of_package(root / "pkg")


def test_lazy_imports_and_named_modules_count_type_checking_does_not(tmp_path: Path) -> None:
    graph = _package(
        tmp_path,
        {
            "__init__.py": "",
            "entry.py": """
                from typing import TYPE_CHECKING
                import importlib
                if TYPE_CHECKING:
                    from pkg import typed_only
                    import outside_typed
                def later():
                    from . import lazy
                    import numpy
                LAZY = {"x": "pkg.sub.named"}
                """,
            "lazy.py": "import reference.network\n",
            "typed_only.py": "",
            "sub/__init__.py": "",
            "sub/named.py": "from ..lazy import *\n",
            "unused.py": "import reference\n",
        },
    )
    assert graph.closure(["pkg.entry"]) == {
        "pkg",
        "pkg.entry",
        "pkg.lazy",
        "pkg.sub",
        "pkg.sub.named",
    }
    assert graph.external["pkg.entry"] == {"typing", "importlib", "numpy"}
    assert graph.importers_of("reference") == {"pkg.lazy", "pkg.unused"}
    with pytest.raises(KeyError):
        graph.closure(["pkg.missing"])


ARCHITECTURE = GRADER.parent / "ARCHITECTURE.md"


def test_architecture_names_the_modules_that_import_reference(graph: ImportGraph) -> None:
    """ARCHITECTURE.md's list of the modules that may import ``reference`` is this test's
    list, and the code's: a module added to one and not the others fails here."""
    text = " ".join(ARCHITECTURE.read_text(encoding="utf-8").split())
    found = re.search(r"only the modules a test lists \(([^)]*)\) import `reference`", text)
    assert found, "ARCHITECTURE.md no longer lists the modules that import reference"
    named = {
        n if n.startswith("grader.") else f"grader.{n}"
        for n in re.findall(r"`([\w.]+)`", found.group(1))
    }
    assert named == MAY_IMPORT_REFERENCE == set(graph.importers_of("reference"))


# The child side runs alone in the sandbox (ARCHITECTURE.md, "The sandbox"; the probe module
# is "stdlib + numpy only"): it imports the standard library, numpy and its own package.
CHILD_SIDE = ("grader.adapters.child_probes", "grader.sandbox.child")
CHILD_EXTERNAL = {"numpy", "_grader_child"}  # launch.py's name for its own package, when run


def test_the_child_side_imports_only_the_standard_library_numpy_and_itself(
    graph: ImportGraph,
) -> None:
    own = {"grader", "grader.sandbox", "grader.adapters"}  # the parents of a relative import
    for name in graph.files:
        if not name.startswith(CHILD_SIDE):
            continue
        inside = {m for m in graph.internal[name] if m not in own and not m.startswith(CHILD_SIDE)}
        outside = {
            m
            for m in graph.external[name]
            if m.split(".")[0] not in sys.stdlib_module_names and m not in CHILD_EXTERNAL
        }
        assert (inside, outside) == (set(), set()), name
