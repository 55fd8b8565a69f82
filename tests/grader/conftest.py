"""Shared fixtures: a class of fake submissions and their graded results."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.exports.gradebook import Row
from grader.results import GradeResult, SubmissionRef
from tests.grader import fakes


@pytest.fixture
def subs(tmp_path: Path) -> Path:
    """An empty folder for submissions."""
    folder = tmp_path / "subs"
    folder.mkdir()
    return folder


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"


@pytest.fixture
def graded(tmp_path: Path) -> GradeResult:
    """A graded result: the hidden check failed (with a secret in its evidence), one not assessed."""
    path = fakes.write(
        tmp_path / "g", "alice.py", "# fake: fail grad_penalty", "# fake: skip momentum"
    )
    return fakes.grade(path)


@pytest.fixture
def class_rows(tmp_path: Path) -> list[Row]:
    """Rows of a small class: two graded (one with a misconception), one ungradable, one pending."""
    folder = tmp_path / "class"
    ok = fakes.grade(fakes.write(folder, "alice.py"))
    bad = fakes.grade(fakes.write(folder, "bob.py", "# fake: fail grad_hidden"))
    ungradable = GradeResult(SubmissionRef("carol"), "ungradable", reason="carol.pdf is a PDF")
    return [Row.of(ok), Row.of(bad), Row.of(ungradable), Row.pending("dan")]
