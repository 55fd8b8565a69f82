"""docs/service.md maps each claim of the service's issue to tests; every test it names
must exist, so that the map cannot silently point at a renamed or removed test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "service.md"
SERVE_TESTS = ROOT / "tests" / "grader" / "serve"


def named_tests() -> list[tuple[Path, str]]:
    """(file, test) for each ``file.py::test_x`` in the page, and each ``::test_y`` that
    follows it (the same file)."""
    found = []
    current: Path | None = None
    for file, test in re.findall(r"`(?:([\w/]+\.py))?::(test_\w+)`", DOC.read_text("utf-8")):
        if file:
            current = (SERVE_TESTS / file) if "/" not in file else ROOT / file
        assert current is not None, f"::{test} follows no file"
        found.append((current, test))
    return found


def test_every_test_the_service_page_names_exists() -> None:
    named = named_tests()
    assert len(named) >= 30, "the pattern drifted?"
    missing = []
    for path, test in named:
        if not path.is_file():
            missing.append(f"{path.relative_to(ROOT)} (no such file)")
            continue
        tree = ast.parse(path.read_text("utf-8"))
        defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        if test not in defined:
            missing.append(f"{path.relative_to(ROOT)}::{test}")
    assert missing == []
