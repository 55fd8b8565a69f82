"""tests/ mirrors the packages: a test's place and name say which module it tests.

The rule (CONTRIBUTING.md, "Where a test goes"): a test file
``tests/<dir>/test_<name>.py`` tests the package ``<dir>`` (``grader``,
``grader/sandbox``, ``reference``, ...), and ``<name>`` is, or starts with
``<m>_``, where ``<m>`` is a module (``<dir>/<m>.py``) or a subpackage
(``<dir>/<m>/``) of it, or the package's own name (a test of the package as a
whole, through its ``__init__``). Two places hold tests of no single module:
``tests/test_*.py`` (the project: lint, docs, setup, examples) and
``test_e2e_*.py`` (whole submissions graded from file to report).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def misplaced(tests: Path, root: Path) -> list[str]:
    """Every test file under ``tests`` whose place or name breaks the rule, with why."""
    wrong = []
    for path in sorted(tests.rglob("test_*.py")):
        rel = path.relative_to(tests)
        name = path.stem.removeprefix("test_")
        if len(rel.parts) == 1 or name.startswith("e2e_"):
            continue
        package = root.joinpath(*rel.parts[:-1])
        if not (package / "__init__.py").is_file():
            wrong.append(f"tests/{rel}: {package.relative_to(root)}/ is not a package")
            continue
        subjects = {package.name}
        subjects |= {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
        subjects |= {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
        if not any(name == m or name.startswith(m + "_") for m in subjects):
            wrong.append(
                f"tests/{rel}: names no module of {package.relative_to(root)}/ "
                f"(test_<module>[_<aspect>].py, or test_e2e_*.py)"
            )
    return wrong


def test_every_test_file_sits_where_the_module_it_tests_sits() -> None:
    assert misplaced(TESTS, ROOT) == []


def test_the_rule_catches_a_test_in_the_wrong_place(tmp_path: Path) -> None:
    """A probes test under adapters/ (where they once were) and a test in a folder that
    mirrors no package are reported; a test of a module, an aspect of it, the package
    itself and an end-to-end test are not."""
    for pkg in ("pkg", "pkg/adapters", "pkg/adapters/sub"):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").touch()
    (tmp_path / "pkg" / "probes.py").touch()
    (tmp_path / "pkg" / "adapters" / "binding.py").touch()
    tests = tmp_path / "tests"
    right = [
        "test_docs.py",
        "pkg/test_probes.py",
        "pkg/test_probes_shapes.py",
        "pkg/test_adapters.py",
        "pkg/test_e2e_class.py",
        "pkg/adapters/test_binding_defaults.py",
        "pkg/adapters/test_adapters_whole.py",
        "pkg/adapters/test_sub.py",
    ]
    wrong = ["pkg/adapters/test_probes.py", "pkg/batch/test_cli.py", "pkg/test_probesx.py"]
    for rel in right + wrong:
        (tests / rel).parent.mkdir(parents=True, exist_ok=True)
        (tests / rel).touch()
    found = misplaced(tests, tmp_path)
    assert [line.split(":")[0] for line in found] == sorted(f"tests/{rel}" for rel in wrong)
