"""One submission, start to finish, with the reference: the instructor's entry point.

    result = grade_submission(path, load_rubric("rubrics/mlp_backprop.toml"))

The engine of ARCHITECTURE.md is :func:`grader.pipeline.grade_with`; here it gets the
instructor's oracle, :class:`grader.reference_oracle.ReferenceOracle` (the rubric's problems
drawn afresh, the answers from the reference). The student kit (``grader.kit_check``) gives
the same engine precomputed values of the checks' own seeds instead: the same shapes and
difficulty, so honest code gets the same verdicts from the self-check as from the
instructor's batch and the CI service, and a table of the kit's answers gets nothing.
"""

from __future__ import annotations

from pathlib import Path

from grader.pipeline import GradeSettings, close_workers, grade_with
from grader.reference_oracle import ReferenceOracle
from grader.results import GradeResult
from grader.rubric import Rubric


def grade_submission(
    path: Path | str, rubric: Rubric, settings: GradeSettings | None = None
) -> GradeResult:
    """Grade one submission (a notebook, a module, or a folder) against ``rubric``."""
    return grade_with(path, rubric, ReferenceOracle(rubric), settings)


__all__ = ["GradeSettings", "close_workers", "grade_submission"]
