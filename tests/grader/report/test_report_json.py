"""JSON: the versioned result, everything included (it is the grader's record, not a student view)."""

from __future__ import annotations

from dataclasses import replace

from grader.report import render_json
from grader.results import OUTPUT_WITHHELD, GradeResult

from .conftest import SECRET_INPUT


def test_json_round_trips_the_full_result(result: GradeResult):
    """render_json is the result's own JSON: it reads back equal, hidden evidence included."""
    text = render_json(result)
    assert GradeResult.from_json(text).to_dict() == result.to_dict()
    assert SECRET_INPUT in text


def test_the_students_view_shows_only_the_output_of_public_probes(result: GradeResult):
    """With public_stdout / public_stderr set (a job with hidden checks), a student sees
    those and a sentence saying the rest is withheld; the instructor's result keeps all,
    and the JSON round-trips both."""
    full = replace(
        result,
        stdout="at load\nin a public probe\nin a hidden probe\n",
        stderr="warning at load\n",
        public_stdout="in a public probe\n",
        public_stderr="",
    )
    student = full.public_view()
    assert (student.stdout, student.stderr) == ("in a public probe\n", "")
    assert OUTPUT_WITHHELD in student.notes and OUTPUT_WITHHELD not in full.notes
    assert GradeResult.from_json(full.to_json()) == full
    unsplit = replace(result, stdout="printed\n")  # no hidden checks: all of it is shown
    assert unsplit.public_view().stdout == "printed\n"
