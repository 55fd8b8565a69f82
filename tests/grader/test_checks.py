"""evaluate_check: probe outcomes, comparisons, conventions and diagnoses become evidence-bearing CheckResults."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks import ProbeView, evaluate_all, evaluate_check, trim_traceback
from grader.diagnose import gradient_outputs
from grader.expectations import gradient_candidates
from grader.results import CheckResult
from grader.rubric import parse_rubric
from reference.network import Model, gradients
from reference.objectives import Objective
from reference.params import Params

N, D, H, K = 7, 5, 4, 3
OBJ = Objective(C=0.1)

RUBRIC = b"""
[assignment]
id = "checks_test"
title = "Checks under test"
execution = "definitions"

[[objectives]]
id = "backprop"
title = "Back-propagation"
demonstrates = "The gradient is exact."

[[objectives]]
id = "speed"
title = "Vectorised code"
demonstrates = "The gradient is computed without Python loops over instances."

[[checks]]
id = "grad_out"
objective = "backprop"
probe = "gradients"
points = 2
[checks.params]
sizes = [5, 4, 3]
N = 7
C = 0.1
[checks.compare]
parts = ["dW2", "db2"]
[checks.feedback]
pass = "Output layer right."
fail = "Output layer not yet right."

[[checks]]
id = "grad_all"
objective = "backprop"
probe = "gradients"
points = 3
requires = ["grad_out"]
[checks.params]
sizes = [5, 4, 3]
N = 7
C = 0.1
[checks.compare]
accept = ["mean_instances"]
[checks.feedback.misconceptions]
missing_hidden_derivative = "Slide 23: multiply by A2 (1 - A2)."

[[checks]]
id = "speed"
objective = "speed"
probe = "timing"
points = 1
[checks.params]
max_ratio = 5
"""


@pytest.fixture(scope="module")
def rubric():
    return parse_rubric(RUBRIC, "checks_test.toml")


@pytest.fixture(scope="module")
def problem():
    """(expected gradient outputs, candidates) on the CONVENTIONS §5 setting."""
    rng = np.random.default_rng(1)
    params = Params(
        [rng.uniform(-1, 1, (H, D)), rng.uniform(-1, 1, (K, H))],
        [rng.uniform(-1, 1, (H, 1)), rng.uniform(-1, 1, (K, 1))],
    )
    X = rng.normal(size=(D, N))
    Y = np.eye(K)[:, np.concatenate([np.arange(K), rng.integers(0, K, N - K)])]
    return gradient_outputs(gradients(params, X, Y, Model(), OBJ)), gradient_candidates(
        params, X, Y, Model(), OBJ
    )


def passed(check_id: str, status: str = "passed") -> dict[str, CheckResult]:
    return {
        check_id: CheckResult(check_id, "backprop", status, 2.0 if status == "passed" else 0.0, 2.0)
    }  # type: ignore[arg-type]


def ok(outputs, **kw) -> ProbeView:
    return ProbeView("ok", outputs, **kw)


def output_of(candidates, name):
    return next(c for c in candidates if c.name == name).arrays


# -- comparisons -----------------------------------------------------------------


def test_correct_output_passes_with_full_points(rubric, problem):
    """The reference's own output passes, earns the check's points and has no next step."""
    expected, candidates = problem
    r = evaluate_check(rubric.check("grad_out"), ok(expected), expected, candidates)
    assert (r.status, r.points, r.max_points) == ("passed", 2.0, 2.0)
    assert [c.name for c in r.comparisons] == ["dW2", "db2"]
    assert r.evidence[0].startswith("'dW2' matches the expected values")
    assert r.feedback == "Output layer right." and r.next_step == ""


def test_only_the_declared_parts_are_compared(rubric, problem):
    """A check on dW2, db2 passes for a hidden-layer bug that leaves them exact."""
    expected, candidates = problem
    student = output_of(candidates, "missing_hidden_derivative")
    assert (
        evaluate_check(rubric.check("grad_out"), ok(student), expected, candidates).status
        == "passed"
    )


def test_misconception_is_diagnosed_with_the_rubrics_wording(rubric, problem):
    """A known bug fails with its diagnosis as evidence and the rubric's wording as next step."""
    expected, candidates = problem
    student = output_of(candidates, "missing_hidden_derivative")
    r = evaluate_check(
        rubric.check("grad_all"), ok(student), expected, candidates, passed("grad_out")
    )
    assert r.status == "failed" and r.points == 0.0
    assert r.diagnosis is not None and r.diagnosis.name == "missing_hidden_derivative"
    assert r.diagnosis.message in r.evidence
    assert r.next_step == "Slide 23: multiply by A2 (1 - A2)."


def test_misconception_without_wording_uses_its_own_next_step(rubric, problem):
    """Without a rubric override, the next step is the misconception's own."""
    expected, candidates = problem
    student = output_of(candidates, "derivative_on_z")
    r = evaluate_check(
        rubric.check("grad_all"), ok(student), expected, candidates, passed("grad_out")
    )
    assert r.diagnosis is not None and r.diagnosis.name == "derivative_on_z"
    assert r.next_step.startswith("sigma'(z) = sigma(z) (1 - sigma(z))")


def test_accepted_convention_passes_and_is_named(rubric, problem):
    """Averaging over N passes a check that accepts mean_instances, and says which convention it recognised."""
    expected, candidates = problem
    student = output_of(candidates, "mean_instances")
    r = evaluate_check(
        rubric.check("grad_all"), ok(student), expected, candidates, passed("grad_out")
    )
    assert (r.status, r.points, r.convention) == ("passed", 3.0, "mean_instances")
    assert r.evidence[0].startswith(
        "your dW1, dW2, db1 and db2 follow an accepted convention, data term averaged over the N instances"
    )


def test_convention_not_accepted_fails_with_that_explanation(rubric, problem):
    """The C·||W||² convention, not accepted here, fails as a convention (not as a misconception)."""
    expected, candidates = problem
    student = output_of(candidates, "l2")
    r = evaluate_check(
        rubric.check("grad_all"), ok(student), expected, candidates, passed("grad_out")
    )
    assert r.status == "failed" and r.convention is None
    assert r.diagnosis is not None and (r.diagnosis.name, r.diagnosis.kind) == ("l2", "convention")
    assert (
        "this check does not accept that convention (penalty C·||W||^2 (gradient 2C·W))"
        in r.evidence
    )
    assert r.next_step.startswith("Use the objective this assignment declares")


def test_unrecognised_difference_is_described(rubric, problem):
    """With no matching candidate, the evidence says what differs (here: every array 2x)."""
    expected, candidates = problem
    student = {k: 2 * v for k, v in expected.items()}
    r = evaluate_check(
        rubric.check("grad_all"), ok(student), expected, candidates, passed("grad_out")
    )
    assert r.status == "failed" and r.diagnosis is None
    assert any("are each 2x the expected value (a factor 2" in e for e in r.evidence)
    assert r.next_step.startswith("Gradient-check your code")


def test_missing_output_never_passes(rubric, problem):
    """An "ok" probe that lacks a compared output fails: "your code returned no 'dW2'"."""
    expected, candidates = problem
    student = {k: v for k, v in expected.items() if k != "dW2"}
    r = evaluate_check(rubric.check("grad_out"), ok(student), expected, candidates)
    assert r.status == "failed" and "your code returned no 'dW2'" in r.evidence
    assert r.next_step.startswith("Make sure your function returns its results")


def test_wrong_shape_fails_without_diagnosis(rubric, problem):
    """A transposed dW2 fails at the shape stage, in the student's names, with a shape next step."""
    expected, candidates = problem
    student = dict(expected, dW2=expected["dW2"].T)
    view = ok(student, display_names={"dW2": "grad2"}, shape_hints={"dW2": "(3, 4), i.e. (K, H)"})
    r = evaluate_check(rubric.check("grad_out"), view, expected, candidates)
    assert r.status == "failed" and r.diagnosis is None
    assert r.evidence == (
        "'grad2' has the wrong shape: got (4, 3), expected (3, 4), i.e. (K, H) (the transpose)",
    )
    assert r.next_step.startswith("Print the shape")


def test_no_expected_value_is_a_grader_error(rubric, problem):
    """A compared part the reference did not give is status "error", not the student's fail."""
    expected, candidates = problem
    partial = {k: v for k, v in expected.items() if k != "db2"}
    r = evaluate_check(rubric.check("grad_out"), ok(expected), partial, candidates)
    assert (
        r.status == "error"
        and "no expected value for 'db2'" in r.reason
        and "not yours" in r.reason
    )


# -- probe failures ----------------------------------------------------------------


def test_probe_unsupported_is_not_assessed(rubric, problem):
    """The parent's decision that the student's API lacks the call: "not assessed", its reason."""
    expected, _ = problem
    view = ProbeView(
        "error",
        error_type="ProbeUnsupported",
        error_message="TLP has no method '_get_gradient'",
        unsupported="TLPMiniBatch has no method '_get_gradient'",
    )
    r = evaluate_check(rubric.check("grad_out"), view, expected)
    assert (r.status, r.reason) == ("not_assessed", "TLPMiniBatch has no method '_get_gradient'")
    assert r.points == 0.0 and r.next_step == ""


def test_an_exception_named_probe_unsupported_is_a_failure(rubric, problem):
    """The child's exception class name decides nothing: a student's own ProbeUnsupported
    fails the check like any exception, and its message is evidence, never the reason
    for "not assessed"."""
    expected, _ = problem
    view = ProbeView.from_outcome("error", {}, "ProbeUnsupported: please do not grade this")
    r = evaluate_check(rubric.check("grad_out"), view, expected)
    assert r.status == "failed"
    assert r.reason == "your code raised ProbeUnsupported: please do not grade this"


def test_student_exception_fails_with_trimmed_traceback(rubric, problem):
    """An exception in the student's code fails the check with the error and the traceback's last lines."""
    expected, _ = problem
    tb = "Traceback (most recent call last):\n" + "".join(
        f'  File "lab.ipynb", line {i}\n' for i in range(30)
    )
    tb += "ValueError: operands could not be broadcast together with shapes (4,7) (5,7)"
    view = ProbeView(
        "error",
        error_type="ValueError",
        error_message="operands could not be broadcast",
        traceback=tb,
    )
    r = evaluate_check(rubric.check("grad_out"), view, expected)
    assert r.status == "failed"
    assert r.evidence[0] == "your code raised ValueError: operands could not be broadcast"
    assert r.evidence[1].startswith("traceback (last lines):\n") and r.evidence[1].endswith(
        "shapes (4,7) (5,7)"
    )
    assert "line 3\n" not in r.evidence[1] and len(r.evidence[1].splitlines()) == 9


def test_trim_traceback_bounds_lines_and_characters():
    """trim_traceback keeps the last lines and at most the given number of characters."""
    text = "\n".join(f"line {i}" for i in range(100))
    assert trim_traceback(text, lines=2) == "line 98\nline 99"
    assert trim_traceback("x" * 5000, chars=10) == "..." + "x" * 10


@pytest.mark.parametrize(
    ("view", "sentence"),
    [
        (ProbeView("timeout", timeout=5.0), "the probe timed out after 5.0 s"),
        (
            ProbeView("killed", detail="killed by the memory limit (512 MB)"),
            "killed by the memory limit (512 MB)",
        ),
        (ProbeView("missing"), "your code produced no output for this probe"),
        (
            ProbeView("invalid", detail="'dW1' is an object array"),
            "your code's output was rejected: 'dW1' is an object array",
        ),
    ],
)
def test_probe_failures_fail_with_what_happened(rubric, problem, view, sentence):
    """Timeouts, kills, missing and invalid outputs fail the check and say what happened."""
    expected, _ = problem
    r = evaluate_check(rubric.check("grad_out"), view, expected)
    assert (r.status, r.reason, r.evidence) == ("failed", sentence, (sentence,))
    assert r.next_step and r.feedback == "Output layer not yet right."


# -- prerequisites -----------------------------------------------------------------


def test_failed_prerequisite_makes_the_check_not_assessed(rubric, problem):
    """A check whose prerequisite failed is not assessed, naming the prerequisite."""
    expected, candidates = problem
    r = evaluate_check(
        rubric.check("grad_all"), ok(expected), expected, candidates, passed("grad_out", "failed")
    )
    assert (r.status, r.reason) == ("not_assessed", "not assessed because 'grad_out' did not pass")


def test_prerequisite_must_be_evaluated_first(rubric, problem):
    """Evaluating a check before its prerequisite is a programming error."""
    expected, _ = problem
    with pytest.raises(ValueError, match="evaluate 'grad_out' first"):
        evaluate_check(rubric.check("grad_all"), ok(expected), expected)


def test_evaluate_all_chains_prerequisites(rubric, problem):
    """evaluate_all runs prerequisites first: a failed grad_out leaves grad_all not assessed."""
    expected, candidates = problem
    wrong = {k: -v for k, v in expected.items()}
    views = {"grad_out": ok(wrong), "grad_all": ok(expected), "speed": ok({})}
    expect = {"grad_out": expected, "grad_all": expected, "speed": expected}
    results = evaluate_all(rubric, views, expect, {"grad_out": candidates, "grad_all": candidates})
    assert [r.check_id for r in results] == ["grad_out", "grad_all", "speed"]
    assert [r.status for r in results] == ["failed", "not_assessed", "failed"]


def test_evaluate_all_reports_a_lost_probe_as_grader_error(rubric, problem):
    """A check without a probe outcome gets status "error" (the plan lost it), not a fail."""
    expected, _ = problem
    results = evaluate_all(rubric, {"grad_out": ok(expected)}, {"grad_out": expected})
    assert [r.status for r in results] == ["passed", "error", "error"]


# -- timing ---------------------------------------------------------------------


def timed(gradients, student, baseline):
    """A timing probe's view: the timed calls' summed gradients and the two times."""
    return ok(
        {**gradients, "student_seconds": np.array(student), "baseline_seconds": np.array(baseline)}
    )


def test_timing_passes_within_the_ratio(rubric, problem):
    """The timing check passes at most max_ratio times slower than the baseline, with both times as evidence."""
    expected, _ = problem
    spec = rubric.check("speed")
    assert evaluate_check(spec, timed(expected, 0.05, 0.01), expected).status == "passed"
    r = evaluate_check(spec, timed(expected, 0.06, 0.01), expected)
    assert r.status == "failed"
    assert r.evidence == (
        "your code took 0.06 s where the same matrix products, vectorised, took 0.01 s: 6.0x (at most 5x passes)",
    )


def test_timed_gradients_that_are_not_the_batchs_fail_however_fast(rubric, problem):
    """Zeros, or a gradient of part of the batch, fail the timing check whatever the times;
    an accepted convention of the data term (one common positive factor) passes."""
    expected, _ = problem
    spec = rubric.check("speed")
    zeros = {k: np.zeros_like(v) for k, v in expected.items()}
    r = evaluate_check(spec, timed(zeros, 0.01, 0.01), expected)
    assert r.status == "failed" and "zero" in r.reason
    part = {k: v + 0.01 * np.abs(v).max() for k, v in expected.items()}
    r = evaluate_check(spec, timed(part, 0.01, 0.01), expected)
    assert r.status == "failed" and "not those of the batch" in r.reason
    mean = {k: v / 2000 for k, v in expected.items()}
    assert evaluate_check(spec, timed(mean, 0.01, 0.01), expected).status == "passed"
    flipped = {k: -v for k, v in expected.items()}
    assert evaluate_check(spec, timed(flipped, 0.01, 0.01), expected).status == "failed"


def test_timing_without_the_graders_times_is_the_graders_problem(rubric, problem):
    """A timing probe without a baseline time (the grader could not measure it) is an
    "error" on the grader's side, never a failure of the student's."""
    expected, _ = problem
    view = ok({**expected, "student_seconds": np.array(0.01)})
    r = evaluate_check(rubric.check("speed"), view, expected)
    assert r.status == "error" and "not yours" in r.reason


def test_non_finite_output_fails_with_a_nan_next_step(rubric, problem):
    """A NaN in a compared output fails at the finite stage and points at where NaNs come from."""
    expected, candidates = problem
    student = dict(expected, db2=np.full((K, 1), np.nan))
    r = evaluate_check(rubric.check("grad_out"), ok(student), expected, candidates)
    assert r.status == "failed" and r.evidence == ("'db2' contains 3 NaN values",)
    assert r.next_step.startswith("Find where the first NaN or inf appears")


def test_view_from_sandbox_fields_splits_the_exception():
    """from_outcome splits the sandbox's "<Type>: <message>" (for the evidence)."""
    v = ProbeView.from_outcome("error", {}, "ProbeUnsupported: TLP has no method '_get_gradient'")
    assert (v.error_type, v.error_message, v.unsupported) == (
        "ProbeUnsupported",
        "TLP has no method '_get_gradient'",
        "",
    )
    k = ProbeView.from_outcome("killed", {}, "SystemExit: 0 (the submission called sys.exit)")
    assert (k.error_type, k.detail) == ("", "SystemExit: 0 (the submission called sys.exit)")
