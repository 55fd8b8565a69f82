"""The lab level (rubrics/mlp_lab.toml) graded end to end on our own lab sample.

The template's lab keywords (hidden, output, loss) and ``optimizer_step`` reach the
student's functions through the child's ``params["conventions"]``; a core-level
submission answers the core rubric but not these checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.grade import GradeSettings, close_workers, grade_submission
from grader.results import GradeResult
from grader.rubric import Rubric
from grader.rubric_file import load_rubric

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "submissions" / "lab" / "template_lab_ok.py"
SETTINGS = GradeSettings(warm=True)


@pytest.fixture(scope="module")
def rubric() -> Iterator[Rubric]:
    yield load_rubric(ROOT / "rubrics" / "mlp_lab.toml")
    close_workers()


def _grade(tmp_path: Path, rubric: Rubric, old: str = "", new: str = "") -> GradeResult:
    source = LAB.read_text(encoding="utf-8")
    if old:
        assert old in source, f"the lab sample changed: {old!r} is gone"
        source = source.replace(old, new, 1)
    path = tmp_path / "lab_student.py"
    path.write_text(source, encoding="utf-8")
    return grade_submission(path, rubric, SETTINGS)


def _failed(result: GradeResult) -> dict[str, str | None]:
    return {
        c.check_id: (c.diagnosis.name if c.diagnosis else None)
        for c in result.checks
        if c.status == "failed"
    }


def test_the_lab_sample_gets_full_marks(tmp_path: Path, rubric: Rubric) -> None:
    """ReLU, tanh, softmax + cross-entropy, depth 4, Nesterov, AdaGrad, RMSProp, Adam: all pass."""
    result = _grade(tmp_path, rubric)
    assert result.score is not None and result.score.points == rubric.max_points, _failed(result)


def test_the_lab_sample_also_answers_the_core_rubric(tmp_path: Path) -> None:
    """The keywords default to the core model, so the core rubric still gets full marks."""
    core = load_rubric(ROOT / "rubrics" / "mlp_backprop.toml")
    result = _grade(tmp_path, core)
    assert result.score is not None and result.score.points == core.max_points, _failed(result)


def test_a_core_submission_fails_the_lab_checks_with_the_missing_keyword(rubric: Rubric) -> None:
    """The core template has no lab keywords: each model check says which keyword it lacks."""
    result = grade_submission(
        ROOT / "submissions" / "correct" / "template_ok.ipynb", rubric, SETTINGS
    )
    by_id = {c.check_id: c for c in result.checks}
    assert "unexpected keyword argument 'loss'" in by_id["bce_gradients"].headline
    assert by_id["adam"].status == "not_assessed"
    assert "optimizer_step" in by_id["adam"].headline


def test_adam_without_bias_correction_is_diagnosed(tmp_path: Path, rubric: Rubric) -> None:
    """Dropping the bias correction fails only the Adam check, named as that misconception."""
    result = _grade(
        tmp_path,
        rubric,
        'm_hat, v_hat = state[k] / (1 - b1**t), state["v_" + k] / (1 - b2**t)',
        'm_hat, v_hat = state[k], state["v_" + k]',
    )
    assert _failed(result) == {"adam": "adam_no_bias_correction"}


def test_adagrad_forgetting_its_history_is_diagnosed(tmp_path: Path, rubric: Rubric) -> None:
    """Recomputing G from this step's gradient alone is the accumulator-reset bug."""
    result = _grade(
        tmp_path,
        rubric,
        'state["v_" + k] = g * g + hyper["gamma"] * state["v_" + k] + hyper["eps"]',
        'state["v_" + k] = g * g + hyper["eps"]',
    )
    assert _failed(result) == {"adagrad": "adagrad_reset_each_step"}


def test_a_relu_derivative_taken_as_sigmoids_fails_the_deep_relu_check(
    tmp_path: Path, rubric: Rubric
) -> None:
    """A ReLU network back-propagated with A(1 - A) fails only the ReLU check."""
    result = _grade(tmp_path, rubric, "return (Z > 0).astype(float)", "return A * (1 - A)")
    assert set(_failed(result)) == {"relu_deep_gradients"}


def test_weights_drawn_from_minus_one_to_one_are_not_glorot(tmp_path: Path, rubric: Rubric) -> None:
    """U(-1, 1) (the course's first initialiser) fails the Glorot check and says which it is."""
    result = _grade(tmp_path, rubric, "r = 4 * np.sqrt(6.0 / (n_in + n_out))", "r = 1.0")
    assert set(_failed(result)) == {"glorot"}
    check = {c.check_id: c for c in result.checks}["glorot"]
    assert "U(-1, 1)" in " ".join(check.evidence)


def test_glorot_without_the_sigmoid_gain_is_named(tmp_path: Path, rubric: Rubric) -> None:
    """Glorot's bound without the factor 4 is recognised as such."""
    result = _grade(tmp_path, rubric, "r = 4 * np.sqrt(", "r = np.sqrt(")
    check = {c.check_id: c for c in result.checks}["glorot"]
    assert check.status == "failed" and "without the gain 4" in check.reason
