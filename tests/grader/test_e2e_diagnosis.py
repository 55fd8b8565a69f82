"""End to end: every labelled buggy submission is graded and diagnosed as its misconception.

``submissions/buggy/expected.toml`` (written by ``submissions/build.py``) lists one
submission per registered misconception in the template and the course separate-bias
styles (and the folded-bias style where only it can show the bug), the rubric each is
graded with, and the checks that must fail with that diagnosis. Each is graded through
the real pipeline (``grade_submission``, one shared warm sandbox worker), so this
measures what a student would be told. Cases the grader cannot name yet are
``xfail(strict=True)`` with the reason recorded in expected.toml; a fix in the grader
turns them into failures here, so the table is updated with it.

Run with ``-s`` to see the confusion summary (``test_confusion_summary``).
"""

from __future__ import annotations

import difflib
import importlib.util
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from grader.grade import GradeSettings, close_workers, grade_submission
from grader.results import CheckResult, GradeResult
from grader.rubric import Rubric
from grader.rubric_file import load_rubric
from reference.misconceptions import all_misconceptions

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "submissions"
BUGGY = SUBMISSIONS / "buggy"
DEMO = SUBMISSIONS / "demo"
EXPECTED: dict[str, Any] = tomllib.loads((BUGGY / "expected.toml").read_text(encoding="utf-8"))
DEMO_RUBRIC = "rubrics/mlp_backprop.toml"
STYLES = ("template", "course_separate")  # every misconception has an entry in each
MAX_CHANGED_LINES = 8  # "one bug": a handful of lines in one cell of the correct sample

# The grading tests share one warm worker and together take about 40 s (some 55 gradings;
# course-style children import pandas and scikit-learn): each is marked slow.
slow = pytest.mark.slow


def _entries(outcomes: tuple[str, ...]) -> list[str]:
    return [n for n, e in EXPECTED["buggy"].items() if e["outcome"] in outcomes and e["file"]]


def _labelled() -> list[Any]:
    """Submissions whose label the grader should name; not_diagnosed ones are strict xfails."""
    out = []
    for name in _entries(("diagnosed", "not_diagnosed")):
        entry = EXPECTED["buggy"][name]
        marks = (
            [pytest.mark.xfail(strict=True, raises=AssertionError, reason=entry["reason"])]
            if entry["outcome"] == "not_diagnosed"
            else []
        )
        out.append(pytest.param(name, marks=marks, id=name))
    return out


def _control_runs() -> list[Any]:
    return [
        pytest.param(name, rubric, id=f"{name}-{Path(rubric).stem}")
        for name, entry in EXPECTED["controls"].items()
        for rubric in entry["rubrics"]
    ]


# ---------------------------------------------------------------------------
# Grading, once per (submission, rubric), in one warm worker for the module


class Grades:
    """Grades each (file, rubric) once; records the time spent grading."""

    def __init__(self) -> None:
        self.settings = GradeSettings(warm=True, figures=False)
        self.rubrics: dict[str, Rubric] = {}
        self.results: dict[tuple[Path, str], GradeResult] = {}
        self.seconds = 0.0

    def __call__(self, file: Path, rubric: str) -> GradeResult:
        key = (file, rubric)
        if key not in self.results:
            if rubric not in self.rubrics:
                self.rubrics[rubric] = load_rubric(ROOT / rubric)
            start = time.perf_counter()
            self.results[key] = grade_submission(file, self.rubrics[rubric], self.settings)
            self.seconds += time.perf_counter() - start
        return self.results[key]

    def buggy(self, name: str) -> GradeResult:
        entry = EXPECTED["buggy"][name]
        return self(BUGGY / entry["file"], entry["rubric"])


@pytest.fixture(scope="module")
def grades() -> Iterator[Grades]:
    """The module's grader: one warm sandbox worker, stopped when the module is done."""
    g = Grades()
    try:
        yield g
    finally:
        close_workers()


def _diagnosed(result: GradeResult) -> dict[str, str]:
    """Failed check id -> the name of its diagnosis (checks without one left out)."""
    return {
        c.check_id: c.diagnosis.name
        for c in result.checks
        if c.status == "failed" and c.diagnosis is not None
    }


def _by_id(result: GradeResult) -> dict[str, CheckResult]:
    return {c.check_id: c for c in result.checks}


def _assert_full_marks(result: GradeResult, rubric: str) -> None:
    assert result.status == "graded", result.reason
    assert [c.check_id for c in result.checks if c.status != "passed"] == [], rubric
    assert result.score is not None and result.score.points == result.score.max_points
    assert [c.check_id for c in result.checks if c.diagnosis is not None] == []


# ---------------------------------------------------------------------------
# The labelled set itself


def test_every_registered_misconception_has_an_entry_in_both_styles() -> None:
    """Each misconception has a template and a course_separate entry, and every label is registered."""
    registered = {m.name for m in all_misconceptions()}
    entries = EXPECTED["buggy"].values()
    for style in STYLES:
        assert {e["label"] for e in entries if e["style"] == style} == registered, style
    assert {e["label"] for e in entries} <= registered


def test_an_entry_without_a_diagnosis_says_why() -> None:
    """not_diagnosed and not_expressible entries carry a reason; only not_expressible may lack a file."""
    for name, e in EXPECTED["buggy"].items():
        assert e["outcome"] in ("diagnosed", "not_diagnosed", "not_expressible"), name
        if e["outcome"] != "diagnosed":
            assert e.get("reason", "").strip(), name
        if not e["file"]:
            assert e["outcome"] == "not_expressible", name
        else:
            assert (BUGGY / e["file"]).is_file(), name
            assert e["checks"], name


def _cells(source: str) -> list[tuple[int, str]]:
    """(cell index, line) of a percent-format source, the lines above the first cell dropped."""
    out, cell = [], -1
    for line in source.splitlines():
        if line.startswith("# %%"):
            cell += 1
        if cell >= 0:
            out.append((cell, line))
    return out


@pytest.mark.parametrize("name", _entries(("diagnosed", "not_diagnosed", "not_expressible")))
def test_a_buggy_source_is_its_correct_base_with_one_change_in_one_cell(name: str) -> None:
    """The source differs from its correct base in a few lines, all in one code cell."""
    entry = EXPECTED["buggy"][name]
    base = _cells((SUBMISSIONS / entry["base"]).read_text(encoding="utf-8"))
    mine = _cells((SUBMISSIONS / "src" / "buggy" / f"{name}.py").read_text(encoding="utf-8"))
    a, b = [line for _, line in base], [line for _, line in mine]
    changed, touched = 0, set()
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        changed += (i2 - i1) + (j2 - j1)
        # cell numbers of the removed and the added lines (a new cell would shift them)
        touched |= {base[i][0] for i in range(i1, i2)} | {mine[j][0] for j in range(j1, j2)}
    assert 0 < changed <= MAX_CHANGED_LINES, (name, changed)
    assert len(touched) == 1, (name, sorted(touched))
    markers = {cell: line for cell, line in base if line.startswith("# %%")}
    assert markers[touched.pop()].strip() == "# %%", (name, "the change is not in a code cell")


def _load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_submissions_build", SUBMISSIONS / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_outputs_are_what_build_writes() -> None:
    """Every generated file equals build.py's output from its source, and no stale one is left."""
    build = _load_build()
    files = build.outputs()
    stale = [rel for rel, data in files.items() if (SUBMISSIONS / rel).read_bytes() != data]
    assert stale == [], "run `python submissions/build.py` and commit its outputs"
    for folder in ("buggy", "demo"):
        for path in (SUBMISSIONS / folder).iterdir():
            if path.is_file():
                assert f"{folder}/{path.name}" in files, f"{path} is not generated by build.py"
    for path in (SUBMISSIONS / "conventions").glob("*.ipynb"):  # its .py samples are by hand
        assert f"conventions/{path.name}" in files, f"{path} is not generated by build.py"


def test_a_second_build_changes_nothing(tmp_path: Path) -> None:
    """build() into an empty folder writes every output; a rebuild writes and removes nothing."""
    build = _load_build()
    first = build.build(tmp_path)
    assert sorted(first) == sorted(build.outputs())
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    assert build.build(tmp_path) == []
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == before


# ---------------------------------------------------------------------------
# Grading the labelled set


@slow
@pytest.mark.parametrize("name", _entries(("diagnosed", "not_diagnosed", "not_expressible")))
def test_a_buggy_submission_loses_points_and_no_other_mistake_is_named(
    grades: Grades, name: str
) -> None:
    """Graded below the maximum; its checks fail; no failed check names another misconception."""
    entry = EXPECTED["buggy"][name]
    result = grades.buggy(name)
    assert result.status == "graded", result.reason
    assert result.score is not None and result.score.points < result.score.max_points
    checks = _by_id(result)
    assert [c for c in entry["checks"] if checks[c].status != "failed"] == []
    allowed = {entry["label"], *entry["alternatives"]}
    assert {c: d for c, d in _diagnosed(result).items() if d not in allowed} == {}


@slow
@pytest.mark.parametrize("name", _labelled())
def test_a_buggy_submission_is_diagnosed_as_its_label(grades: Grades, name: str) -> None:
    """Each check listed for the submission fails, diagnosed as the submission's misconception."""
    entry = EXPECTED["buggy"][name]
    diagnosed = _diagnosed(grades.buggy(name))
    assert {c: diagnosed.get(c) for c in entry["checks"]} == dict.fromkeys(
        entry["checks"], entry["label"]
    )


@slow
@pytest.mark.parametrize(("name", "rubric"), _control_runs())
def test_a_correct_control_gets_full_marks_and_no_diagnosis(
    grades: Grades, name: str, rubric: str
) -> None:
    """The correct samples, and the correct controls of the test-only rubrics, pass every check."""
    result = grades(BUGGY / EXPECTED["controls"][name]["file"], rubric)
    _assert_full_marks(result, rubric)


# ---------------------------------------------------------------------------
# The demo class (the README's first command)


@slow
@pytest.mark.parametrize("student", list(EXPECTED["demo"]))
def test_a_demo_student_gets_the_outcome_the_readme_promises(grades: Grades, student: str) -> None:
    """alice full marks; five named bugs each diagnosed; a syntax error reported; heidi ungradable."""
    entry = EXPECTED["demo"][student]
    path = DEMO / entry["file"]
    result = grades(path, DEMO_RUBRIC)
    outcome = entry["outcome"]
    if outcome == "full_marks":
        _assert_full_marks(result, DEMO_RUBRIC)
    elif outcome == "ungradable":
        assert result.status == "ungradable"
        assert path.name in result.reason
    elif outcome == "syntax_error":
        assert result.status == "graded", result.reason
        assert any("SyntaxError" in note for note in result.notes)
        assert any(c.status == "not_assessed" for c in result.checks)
        assert result.score is not None and result.score.points < result.score.max_points
        assert _diagnosed(result) == {}
    else:
        diagnosed = _diagnosed(result)
        assert outcome in diagnosed.values()
        assert set(diagnosed.values()) == {outcome}


# ---------------------------------------------------------------------------
# The measurement


def _cell(grades: Grades, name: str) -> str:
    """What the grader named for one submission, in words."""
    entry = EXPECTED["buggy"][name]
    if not entry["file"]:
        return "not expressible"
    result = grades.buggy(name)
    found = {
        (c.diagnosis.name, c.diagnosis.kind)
        for c in result.checks
        if c.status == "failed" and c.diagnosis is not None
    }
    if (entry["label"], "misconception") in found:
        return "correct"
    if found:
        return "wrong: " + ", ".join(f"{n} ({k})" for n, k in sorted(found))
    return "none" + (" (not expressible)" if entry["outcome"] == "not_expressible" else "")


@slow
def test_confusion_summary(grades: Grades) -> None:
    """Print label x style -> what the grader named; the count diagnosed equals expected.toml's."""
    styles = list(dict.fromkeys(e["style"] for e in EXPECTED["buggy"].values()))
    table: dict[str, dict[str, str]] = {}
    for name, entry in EXPECTED["buggy"].items():
        table.setdefault(entry["label"], {})[entry["style"]] = _cell(grades, name)
    width = max(map(len, table))
    lines = ["", "label".ljust(width) + "  " + "  ".join(s.ljust(38) for s in styles)]
    for label in sorted(table):
        row = [table[label].get(s, "-").ljust(38) for s in styles]
        lines.append(label.ljust(width) + "  " + "  ".join(row))
    cells = [c for row in table.values() for c in row.values()]
    correct = cells.count("correct")
    graded = sum(1 for e in EXPECTED["buggy"].values() if e["file"])
    lines.append(
        f"diagnosed as their label: {correct} of {graded} labelled submissions "
        f"({len(grades.results)} gradings, {grades.seconds:.1f} s in grade_submission)"
    )
    print("\n".join(lines))
    expected = sum(1 for e in EXPECTED["buggy"].values() if e["outcome"] == "diagnosed")
    assert correct == expected
