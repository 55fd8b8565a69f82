"""JSON: the versioned result, everything included (it is the grader's record, not a student view)."""

from __future__ import annotations

from grader.report import render_json
from grader.results import GradeResult

from .conftest import SECRET_INPUT


def test_json_round_trips_the_full_result(result: GradeResult):
    """render_json is the result's own JSON: it reads back equal, hidden evidence included."""
    text = render_json(result)
    assert GradeResult.from_json(text).to_dict() == result.to_dict()
    assert SECRET_INPUT in text
