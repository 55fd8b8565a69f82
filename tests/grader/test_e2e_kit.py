"""End to end: the student kit's verdicts are the instructor's, on other problems.

The instructor's grading asks the public checks on problems drawn afresh
(:func:`grader.plan.instructor_problems`); the kit ships the answers to the checks' own
seeds. Both must judge honest code alike: every correct sample, every convention sample
and every labelled buggy sample of ``submissions/`` is graded with its rubric's kit
(:func:`grader.kit_check.grade_with_kit`) and by the instructor
(:func:`grader.grade.grade_submission` of the public checks), and each check must get
the same status, points, diagnosis and accepted convention from both. One shared warm
sandbox worker; about a minute in all.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.grade import GradeSettings, close_workers, grade_submission
from grader.kit import build_kit
from grader.kit_check import grade_with_kit
from grader.results import GradeResult
from grader.rubric_file import load_rubric

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "submissions"
BUGGY: dict[str, Any] = tomllib.loads((SUBMISSIONS / "buggy" / "expected.toml").read_text())
CONVENTIONS: dict[str, Any] = tomllib.loads(
    (SUBMISSIONS / "conventions" / "expected.toml").read_text()
)
# correct samples no table of expected.toml pairs with a rubric
OTHER_CORRECT = (
    ("correct/textbook_rows_ok.py", "rubrics/textbook_mlp.toml"),
    ("lab/template_lab_ok.py", "rubrics/mlp_lab.toml"),
)


def _samples() -> list[Any]:
    """(submission, rubric) for every correct, convention and labelled buggy sample."""
    pairs = [
        (SUBMISSIONS / "buggy" / e["file"], rubric)
        for e in BUGGY["controls"].values()
        for rubric in e["rubrics"]
    ]
    pairs += [
        (SUBMISSIONS / "conventions" / e["file"], f"rubrics/{e['rubric']}")
        for e in CONVENTIONS.values()
    ]
    pairs += [(SUBMISSIONS / f, rubric) for f, rubric in OTHER_CORRECT]
    pairs += [
        (SUBMISSIONS / "buggy" / e["file"], e["rubric"])
        for e in BUGGY["buggy"].values()
        if e["file"]
    ]
    return [
        pytest.param(path, rubric, id=f"{path.stem}-{Path(rubric).stem}") for path, rubric in pairs
    ]


def _verdicts(result: GradeResult) -> list[tuple[str, str, float, str | None, str | None]]:
    return [
        (c.check_id, c.status, c.points, c.diagnosis.name if c.diagnosis else None, c.convention)
        for c in result.checks
    ]


class Both:
    """Grades a sample with its rubric's kit (built once per rubric) and by the instructor."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.kits: dict[str, Path] = {}
        self.settings = GradeSettings(warm=True, figures=False)

    def __call__(self, path: Path, rubric: str) -> tuple[GradeResult, GradeResult]:
        if rubric not in self.kits:
            name = rubric.replace("/", "_").removesuffix(".toml")
            self.kits[rubric] = build_kit(ROOT / rubric, self.root / name)
        kit = grade_with_kit(path, self.kits[rubric], self.settings)
        instructor = grade_submission(path, load_rubric(ROOT / rubric).public(), self.settings)
        return kit, instructor


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Both]:
    try:
        yield Both(tmp_path_factory.mktemp("kits"))
    finally:
        close_workers()


@pytest.mark.slow
@pytest.mark.parametrize(("path", "rubric"), _samples())
def test_the_kit_and_the_instructor_give_the_same_verdicts(
    both: Both, path: Path, rubric: str
) -> None:
    """Same status, points, diagnosis and convention for every public check, although the
    instructor's problems are not the kit's (the seeds in the provenance differ)."""
    kit, instructor = both(path, rubric)
    assert kit.status == instructor.status == "graded", (kit.reason, instructor.reason)
    assert _verdicts(kit) == _verdicts(instructor)
    kit_seeds, seeds = kit.provenance["seeds"], instructor.provenance["seeds"]
    assert set(kit_seeds) == set(seeds) and all(kit_seeds[c] != seeds[c] for c in seeds)
