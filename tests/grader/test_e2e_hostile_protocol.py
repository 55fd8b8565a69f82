"""What the hostile samples of the supervisor-runner protocol must not get into a report.

submissions/hostile/expected.toml bounds their scores (tests/grader/test_e2e_hostile.py);
these tests read the reports themselves: the student's view of ``print_plan.py`` holds
nothing printed at load or while hidden probes ran (the instructor's does), and
``fake_unsupported.py``'s own reason never makes a check "not assessed".
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.grade import grade_submission
from grader.report import render_html, render_markdown
from grader.results import GradeResult
from grader.rubric import Rubric
from grader.rubric_file import load_rubric
from tests.grader.test_e2e_hostile import HOSTILE, SETTINGS, fast_rubric_toml

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rubric(tmp_path_factory: pytest.TempPathFactory) -> Rubric:
    path = tmp_path_factory.mktemp("rubric") / "mlp_backprop_fast.toml"
    path.write_text(fast_rubric_toml(), encoding="utf-8")
    return load_rubric(path)


def grade(rubric: Rubric, name: str) -> GradeResult:
    return grade_submission(HOSTILE / name, rubric, SETTINGS)


def first_layer_shapes(rubric: Rubric, visibility: str) -> set[str]:
    """ "W1 shape=(H, D)" of the checks of that visibility (what print_plan.py prints)."""
    return {
        f"W1 shape=({c.params['sizes'][1]}, {c.params['sizes'][0]})"
        for c in rubric.checks
        if c.visibility == visibility and "sizes" in c.params
    }


def test_the_students_view_holds_nothing_printed_at_load_or_in_hidden_probes(rubric):
    hidden, public = first_layer_shapes(rubric, "hidden"), first_layer_shapes(rubric, "public")
    hidden -= public  # shapes only hidden checks use identify their inputs in the output
    assert hidden
    result = grade(rubric, "print_plan.py")
    assert all(c.status == "passed" for c in result.checks)
    for marker in hidden:  # the instructor sees everything that was printed
        assert marker in result.stdout
    assert "PLAN-LEAK frame" in result.stdout
    student = render_html(result) + render_markdown(result, limit=1 << 22)
    assert "PLAN-LEAK probe input W1" in student  # public probes' output is shown
    for marker in hidden:
        assert marker not in student
    assert "PLAN-LEAK frame" not in student and "PLAN-LEAK gc" not in student
    assert "not shown here" in student


def test_a_students_own_probe_unsupported_turns_no_failure_into_not_assessed(rubric):
    result = grade(rubric, "fake_unsupported.py")
    needs_gradients = {"grad_output", "self_consistent"}
    for check in result.checks:
        assert "FAKE-REASON" not in check.reason or check.status == "failed"
        if check.check_id in needs_gradients:
            assert check.status == "failed"
            assert check.reason.startswith("your code raised ProbeUnsupported")
    assert not [c for c in result.checks if c.status == "not_assessed" and not c.blocked_by]


def test_a_deleted_function_is_still_not_assessed_with_the_parents_reason(rubric, tmp_path):
    """The honest case of the same rule: no `one_hot` at all is "not assessed", and the
    reason names the binding's function, in the parent's words."""
    source = (HOSTILE.parent / "src" / "template_ok.py").read_text()
    without = re.sub(r"def one_hot\(.*?(?=\n(?:# %%|def ))", "", source, flags=re.S)
    assert "def one_hot" not in without
    path = tmp_path / "no_one_hot.py"
    path.write_text(without)
    check = next(
        c for c in grade_submission(path, rubric, SETTINGS).checks if c.check_id == "one_hot"
    )
    assert check.status == "not_assessed"
    assert "defines no 'one_hot'" in check.reason


def test_the_hostile_files_exist():
    for name in ("forged_progress.py", "fake_unsupported.py", "timing_zeros.py", "stack_peek.py"):
        assert (Path(HOSTILE) / name).is_file()
