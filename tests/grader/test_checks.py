"""evaluate_check: probe outcomes, comparisons, conventions and diagnoses become evidence-bearing CheckResults."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from grader.checks import (
    NEXT_STEPS,
    WHILE_LOADING,
    ProbeView,
    evaluate_all,
    evaluate_check,
    printed_forms_shown,
    timing_verdict,
    trim_traceback,
)
from grader.diagnose import CONVENTIONS, Candidate, combined, gradient_outputs
from grader.expectations import gradient_candidates
from grader.results import CheckResult
from grader.rubric_file import parse_rubric
from grader.scoring import score
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
    """(expected gradient outputs, candidates) on the docs/conventions.md §5 setting."""
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


def test_a_package_missing_at_load_is_not_assessed_on_every_check(rubric, problem):
    """ModuleNotFoundError while the code loaded: the environment's problem on every check,
    even one whose prerequisite did not pass; the install name is PyPI's."""
    expected, _ = problem
    view = ProbeView.from_outcome(
        "error", {}, "ModuleNotFoundError: No module named 'sklearn.metrics'", detail=WHILE_LOADING
    )
    for check_id, prior in (("grad_out", {}), ("grad_all", passed("grad_out", "not_assessed"))):
        r = evaluate_check(rubric.check(check_id), view, expected, (), prior)
        assert r.status == "not_assessed" and r.points == 0 and r.blocked_by == ()
        assert "lacks the package 'sklearn'" in r.reason
        assert "pip install scikit-learn" in r.reason
        assert "No module named 'sklearn.metrics'" in " ".join(r.evidence)


def test_a_module_missing_inside_a_function_still_fails(rubric, problem):
    """Raised while a probe ran, a ModuleNotFoundError could be raised on purpose to dodge one
    check: it fails like any exception of the student's code."""
    expected, _ = problem
    view = ProbeView.from_outcome("error", {}, "ModuleNotFoundError: No module named 'zzz'")
    r = evaluate_check(rubric.check("grad_out"), view, expected)
    assert r.status == "failed" and "No module named 'zzz'" in r.reason


@pytest.mark.parametrize(
    "view",
    [
        ProbeView(
            "missing",
            detail="the process exited with status 0 before finishing (sys.exit or os._exit?)",
        ),
        ProbeView("killed", detail="SystemExit: 2 (the submission called sys.exit)"),
    ],
    ids=["os._exit", "sys.exit"],
)
def test_code_that_ends_the_process_gets_that_next_step(view):
    """The next step names the exit, even where the rubric words its own next step."""
    spec = parse_rubric(
        RUBRIC.replace(b'fail = "Output layer not yet right."', b'next_step = "Check shapes."'),
        "x.toml",
    ).check("grad_out")
    assert spec.feedback.next_step == "Check shapes."
    r = evaluate_check(spec, view, {})
    assert r.status == "failed" and r.next_step == NEXT_STEPS["exit"]


# -- prerequisites -----------------------------------------------------------------


def test_failed_prerequisite_makes_the_check_not_assessed(rubric, problem):
    """A check whose prerequisite failed is not assessed, naming the prerequisite."""
    expected, candidates = problem
    wrong = {k: 2 * v for k, v in expected.items()}  # no known mistake makes these
    r = evaluate_check(
        rubric.check("grad_all"), ok(wrong), expected, candidates, passed("grad_out", "failed")
    )
    assert (r.status, r.reason) == ("not_assessed", "not assessed because 'grad_out' did not pass")
    assert r.root_causes == ("grad_out",) and r.blocked_by == ("grad_out",)


def test_a_right_answer_passes_whatever_its_prerequisite_did(rubric, problem):
    """The reference's own values are evidence on their own: the check passes, blocked by nothing."""
    expected, candidates = problem
    r = evaluate_check(
        rubric.check("grad_all"), ok(expected), expected, candidates, passed("grad_out", "failed")
    )
    assert (r.status, r.blocked_by, r.root_causes, r.judged_with) == ("passed", (), (), "")


def test_prerequisite_must_be_evaluated_first(rubric, problem):
    """Evaluating a check before its prerequisite is a programming error."""
    expected, _ = problem
    with pytest.raises(ValueError, match="evaluate 'grad_out' first"):
        evaluate_check(rubric.check("grad_all"), ok(expected), expected)


def test_evaluate_all_chains_prerequisites(rubric, problem):
    """evaluate_all runs prerequisites first: a failed grad_out leaves grad_all not assessed."""
    expected, candidates = problem
    wrong = {k: 2 * v for k, v in expected.items()}
    views = {"grad_out": ok(wrong), "grad_all": ok(wrong), "speed": ok({})}
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
    """The timing check passes at most max_ratio times slower than the baseline, with both
    times as evidence; it fails only on two measurements over the limit that agree."""
    expected, _ = problem
    spec = rubric.check("speed")
    assert evaluate_check(spec, timed(expected, 0.05, 0.01), expected).status == "passed"
    slow = replace(timed(expected, 0.06, 0.01), measurements=((0.06, 0.01), (0.07, 0.01)))
    r = evaluate_check(spec, slow, expected)
    assert r.status == "failed"
    assert r.evidence == (
        "your code took 0.06 s where the same matrix products, vectorised, took 0.01 s: 6.0x "
        "(at most 5x passes); measured 2 times: 6.0x, 7.0x",
    )


def test_timing_verdict_needs_confirmation_to_fail():
    """One measurement over the limit is a doubt; two that agree within a factor 2 fail;
    one within the limit passes whatever the others say (a stall only adds time)."""
    assert timing_verdict([10.6], 10) == "unsure"
    assert timing_verdict([10.6, 1.6], 10) == "passed"
    assert timing_verdict([31.0, 29.0], 10) == "failed"
    assert timing_verdict([10.6, 40.0], 10) == "unsure"
    assert timing_verdict([10.6, 40.0, 12.0], 10) == "failed"
    assert timing_verdict([], 10) == "unsure"


def test_an_untrustworthy_clock_never_fails_the_student(rubric, problem):
    """The grader's clock saw a correct, vectorised gradient take 0.106 s against a 0.01 s
    baseline (a stall on a loaded machine). Alone, or with measurements that disagree, that
    is "not assessed" with the instructor's reason and fix; measured again within the limit,
    it passes. Never failed."""
    expected, _ = problem
    spec = rubric.check("speed")
    once = timed(expected, 0.106, 0.01)
    r = evaluate_check(spec, once, expected)
    assert r.status == "not_assessed" and r.points == 0
    assert "could not trust its own clock" in r.reason and "not a fault of your code" in r.reason
    assert "--workers" in r.reason
    disagree = replace(once, measurements=((0.106, 0.01), (0.5, 0.01), (0.3, 0.01)))
    r = evaluate_check(spec, disagree, expected)
    assert r.status == "not_assessed" and "disagree by more than a factor 2" in r.reason
    recovered = replace(once, measurements=((0.106, 0.01), (0.016, 0.01)))
    r = evaluate_check(spec, recovered, expected)
    assert r.status == "passed" and "measured 2 times (10.6x, 1.6x)" in r.evidence[1]


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


# -- the self-consistency check (gradcheck_self) ------------------------------------


def _template_functions(forward_of, gradients_of):
    """A template namespace: the reference's cost through ``forward_of``, the given gradient."""

    def cost(params, X, Y, C):
        A = forward_of(params, X)[-1]
        return np.sum((Y - A) ** 2) + C / 2 * sum(
            np.sum(params[k] ** 2) for k in params if k[0] == "W"
        )

    return {"forward": forward_of, "gradients": gradients_of, "cost": cost}


def _sigmoid_forward(params, X):
    A = [X]
    for l in range(1, len(params) // 2 + 1):
        A.append(1 / (1 + np.exp(-(params[f"W{l}"] @ A[-1] + params[f"b{l}"]))))
    return A


def _backprop(params, X, Y, C, scale=1.0):
    """The template's gradient of J (scale 1/N: the mean_instances convention)."""
    L = len(params) // 2
    A = _sigmoid_forward(params, X)
    V = -2 * (Y - A[L]) * A[L] * (1 - A[L])
    grads = {}
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = scale * (V @ A[l - 1].T + C * params[f"W{l}"])
        grads[f"db{l}"] = scale * np.sum(V, axis=1).reshape(-1, 1)
        if l > 1:
            V = A[l - 1] * (1 - A[l - 1]) * (params[f"W{l}"].T @ V)
    return grads


def _constant_forward(params, X):
    L = len(params) // 2
    return [X, *(np.full((params[f"W{l}"].shape[0], X.shape[1]), 0.5) for l in range(1, L + 1))]


def _penalty_only(factor):
    def gradients(params, X, Y, C):
        return {
            f"d{k}": (factor * C * v if k[0] == "W" else np.zeros_like(v))
            for k, v in params.items()
        }

    return gradients


def _self_check(namespace):
    """The shipped rubric's self_consistent check, answered by the child's template adapter
    on ``namespace`` in this process, judged with the reference's expected weights."""
    from pathlib import Path

    from grader.adapters import child_probes
    from grader.adapters.binding import AdapterBinding
    from grader.plan import make_plan
    from grader.reference_oracle import reference_expectations
    from grader.rubric_file import load_rubric

    shipped = load_rubric(Path(__file__).parents[2] / "rubrics" / "mlp_backprop.toml")
    spec = shipped.check("self_consistent")
    plan = make_plan(shipped, AdapterBinding.from_table(shipped.adapter))
    probe = plan.job.probe(plan.job.probe_of[spec.id])
    inputs = {
        n.removeprefix(probe.call.input_prefix): np.array(plan.job.inputs[n])
        for n in probe.call.inputs
    }
    adapter = child_probes.Template(namespace, probe.call.params["adapter"])
    outputs = adapter.gradcheck_self(inputs, probe.call.params)
    exp = reference_expectations(plan)
    return evaluate_check(spec, ok(outputs), exp.expected[spec.id], exp.candidates[spec.id])


def test_self_check_passes_honest_back_propagation_and_the_accepted_mean():
    """The template's gradient, and the same averaged over the N instances (accepted)."""
    honest = _self_check(_template_functions(_sigmoid_forward, _backprop))
    assert (honest.status, honest.convention) == ("passed", None)

    def mean(params, X, Y, C):
        return _backprop(params, X, Y, C, scale=1 / X.shape[1])

    averaged = _self_check(_template_functions(_sigmoid_forward, mean))
    assert (averaged.status, averaged.convention) == ("passed", "mean_instances")


@pytest.mark.parametrize("factor", [1.0, 2.0, 1 / 7])
def test_self_check_fails_a_constant_network_with_the_penalty_s_gradient(factor):
    """A forward pass that ignores the weights and a gradient of the penalty alone (C·W, or
    another convention's factor of it) are consistent with each other, but no network."""
    r = _self_check(_template_functions(_constant_forward, _penalty_only(factor)))
    assert (r.status, r.points) == ("failed", 0.0)
    assert "same output whatever the weights" in r.reason
    assert "forward pass" in r.next_step


def test_self_check_fails_a_data_term_too_small_to_see():
    """A forward pass that barely depends on the weights and the penalty's gradient: the data
    part's slope (1e-9 of the network's) is far below what the check can tell apart."""

    def faint(params, X):
        return [0.5 + 1e-9 * (A - 0.5) for A in _sigmoid_forward(params, X)]

    r = _self_check(_template_functions(faint, _penalty_only(1.0)))
    assert (r.status, r.points) == ("failed", 0.0)
    assert "too small to check" in r.reason


# -- independent objectives: roots and mistakes plugged in ------------------------------

CASCADE = b"""
[assignment]
id = "cascade_test"
title = "Cascade under test"
execution = "definitions"

[[objectives]]
id = "backprop"
title = "Back-propagation"
demonstrates = "The gradient is exact."

[[objectives]]
id = "regularisation"
title = "Penalty"
demonstrates = "The penalty's gradient is right."

[[checks]]
id = "grad_out"
title = "Output layer"
objective = "backprop"
probe = "gradients"
points = 2
[checks.params]
sizes = [5, 4, 3]
N = 7
C = 0.1
[checks.compare]
parts = ["dW2", "db2"]

[[checks]]
id = "grad_all"
title = "Every layer"
objective = "backprop"
probe = "gradients"
points = 3
requires = ["grad_out"]
[checks.params]
sizes = [5, 4, 3]
N = 7
C = 0.1

[[checks]]
id = "penalty"
title = "Penalty on top"
objective = "regularisation"
probe = "gradients"
points = 2
requires = ["grad_all"]
[checks.params]
sizes = [5, 4, 3]
N = 7
C = 0.1
"""


def _cascade(problem, answer, penalty_answer=None):
    expected, candidates = problem
    rubric = parse_rubric(CASCADE, "cascade.toml")
    ids = [c.id for c in rubric.checks]
    views = {i: ok(answer) for i in ids}
    if penalty_answer is not None:  # the penalty check's own problem
        views["penalty"] = ok(penalty_answer)
    results = evaluate_all(
        rubric,
        views,
        {i: expected for i in ids},
        {i: candidates for i in ids},
    )
    return rubric, {r.check_id: r for r in results}


def test_a_check_of_another_objective_is_judged_with_the_diagnosed_mistake_plugged_in(problem):
    """A sign flip found in 'grad_out' leaves the penalty check judged on its own: the
    reference with the flip plugged in matches, so it passes and names the root."""
    _, candidates = problem
    rubric, by_id = _cascade(problem, output_of(candidates, "sign_flip_output_delta"))
    assert by_id["grad_out"].status == "failed"
    assert by_id["grad_out"].diagnosis.name == "sign_flip_output_delta"
    assert by_id["grad_all"].status == "not_assessed"  # its own objective pays
    assert by_id["grad_all"].root_causes == ("grad_out",)
    pen = by_id["penalty"]
    assert (pen.status, pen.points, pen.judged_with) == ("passed", 2.0, "sign_flip_output_delta")
    assert pen.root_causes == ("grad_out",) and "'Output layer'" in pen.headline
    s = score(rubric, list(by_id.values()))
    levels = {o.objective: o for o in s.objectives}
    assert levels["regularisation"].level == "demonstrated"
    assert [(h.root, h.points) for h in levels["backprop"].held_back] == [("grad_out", 3.0)]


def test_a_mistake_of_its_own_on_top_fails_the_plugged_in_check(problem):
    """The flip plugged in, a doubled penalty still differs: the penalty check fails (its own
    mistake), and says it was judged with the flip in place."""
    expected, candidates = problem
    flipped = output_of(candidates, "sign_flip_output_delta")
    doubled = output_of(candidates, "penalty_doubled")
    both = {k: flipped[k] + (doubled[k] - expected[k]) for k in expected}
    _, by_id = _cascade(problem, flipped, penalty_answer=both)
    pen = by_id["penalty"]
    assert pen.status == "failed" and pen.judged_with == "sign_flip_output_delta"
    assert "judged on its own" in pen.evidence[0]


def test_an_undiagnosed_root_leaves_dependents_not_assessed_naming_the_root(problem):
    """No known mistake reproduces the answer: nothing can be plugged in; every dependent
    names 'grad_out' (the root), never 'grad_all' (itself not run)."""
    expected, _ = problem
    rubric, by_id = _cascade(problem, {k: 2 * v for k, v in expected.items()})
    pen = by_id["penalty"]
    assert pen.status == "not_assessed" and pen.root_causes == ("grad_out",)
    assert pen.reason == "not assessed because 'Output layer' did not pass"
    assert pen.blocked_by == ("grad_all",)
    s = score(rubric, list(by_id.values()))
    reg = next(o for o in s.objectives if o.objective == "regularisation")
    assert reg.level == "not assessed"
    assert reg.held_back_sentence == (
        "Not assessed yet: 'Output layer' did not pass, which holds back 2 points here."
    )


# -- evidence from the printed cost (Convention.shown_by) ------------------------------------

SHOWN_RUBRIC = b"""
[assignment]
id = "shown_test"
title = "A penalty convention the printed cost must show"
execution = "definitions"

[[objectives]]
id = "regularisation"
title = "L2"
demonstrates = "The penalty's gradient and the printed cost."

[[checks]]
id = "grad_penalty"
objective = "regularisation"
probe = "gradients"
points = 2
[checks.params]
sizes = [5, 4, 3]
N = 7
C = 0.1
[checks.compare]
accept = ["mean_instances", "l2"]
[checks.feedback.misconceptions]
penalty_doubled = "The derivative of C/2 ||W||^2 is C W, not 2C W."

[[checks]]
id = "cost"
objective = "regularisation"
probe = "cost"
points = 1
[checks.params]
sizes = [5, 4, 3]
N = 7
C = 0.5
[checks.compare]
rtol = 1e-5
accept = ["printed_all_weights", "printed_full_C"]
"""


def _printed_cost_candidates(declared: float) -> list[Candidate]:
    def conv(*names: str, value: float) -> Candidate:
        return Candidate.from_convention(
            combined([CONVENTIONS[n] for n in names]), {"cost": np.array(value)}
        )

    return [
        conv("printed_all_weights", value=declared + 0.1),
        conv("printed_full_C", value=declared + 0.2),
        conv("printed_all_weights", "printed_full_C", value=declared + 0.3),
    ]


@pytest.mark.parametrize(
    ("printed", "shown"),
    [
        (1.0, frozenset()),  # the course's own form
        (1.3, frozenset({"printed_all_weights", "printed_full_C"})),  # 07a's
        (1.2, frozenset({"printed_full_C"})),
        (7.0, frozenset({"?"})),  # no known form
    ],
)
def test_printed_forms_shown_reads_the_students_printed_cost(printed, shown):
    rubric = parse_rubric(SHOWN_RUBRIC, "shown_test.toml")
    views = {"cost": ok({"cost": np.array(printed)})}
    expected = {"cost": {"cost": np.array(1.0)}}
    candidates = {"cost": _printed_cost_candidates(1.0)}
    assert printed_forms_shown(rubric, views, expected, candidates) == shown
    assert printed_forms_shown(rubric, {}, expected, candidates) is None  # no answer: no evidence
    if printed != 1.0:  # a cost with no printed forms to tell (the template's objective): none
        assert printed_forms_shown(rubric, views, expected, {"cost": []}) is None


def test_l2_is_credited_only_where_the_printed_cost_shows_the_factor_c(problem):
    """The gradient of C·||W||² is the misconception penalty_doubled's too: credited as 07a's
    convention beside a printed penalty of factor C, and penalty_doubled, saying why it was
    not credited, beside the course's printed C/2 or with no evidence."""
    expected, candidates = problem
    spec = parse_rubric(SHOWN_RUBRIC, "shown_test.toml").check("grad_penalty")
    student = output_of(candidates, "l2")
    shown = evaluate_check(
        spec, ok(student), expected, candidates, printed=frozenset({"printed_full_C"})
    )
    assert (shown.status, shown.convention, shown.points) == ("passed", "l2", 2.0)
    assert any("your own printed cost carries the same factor" in e for e in shown.evidence)
    for printed in (frozenset(), frozenset({"printed_all_weights"}), frozenset({"?"}), None):
        r = evaluate_check(spec, ok(student), expected, candidates, printed=printed)
        assert r.status == "failed" and r.convention is None, printed
        assert r.diagnosis is not None and r.diagnosis.name == "penalty_doubled"
        assert "l2" in r.diagnosis.alternatives
        assert any("credits where the class's printed cost carries" in e for e in r.evidence)
    # the right gradient passes on the declared objective whatever the printed cost shows
    right = evaluate_check(spec, ok(expected), expected, candidates, printed=None)
    assert (right.status, right.convention) == ("passed", None)


def test_l2_within_a_combination_needs_the_printed_cost_too(problem):
    """The replay credits conventions together ("l2+inverse_time"): the l2 part is credited
    only where the printed cost shows the factor C, and the report says why either way."""
    expected, candidates = problem
    spec = parse_rubric(SHOWN_RUBRIC, "shown_test.toml").check("grad_penalty")
    spec = replace(
        spec, compare=replace(spec.compare, accept=(*spec.compare.accept, "inverse_time"))
    )
    student = output_of(candidates, "l2")
    both = Candidate.from_convention(
        combined([CONVENTIONS["l2"], CONVENTIONS["inverse_time"]]), dict(student)
    )
    cands = [c for c in candidates if c.name != "l2"] + [both]
    shown = evaluate_check(
        spec, ok(student), expected, cands, printed=frozenset({"printed_full_C"})
    )
    assert (shown.status, shown.convention) == ("passed", "l2+inverse_time")
    assert any("your own printed cost carries the same factor" in e for e in shown.evidence)
    r = evaluate_check(spec, ok(student), expected, cands, printed=frozenset())
    assert r.status == "failed" and r.convention is None
    assert any("credits where the class's printed cost carries" in e for e in r.evidence)


def test_a_printed_form_is_credited_by_name_with_the_course_form_as_an_option():
    rubric = parse_rubric(SHOWN_RUBRIC, "shown_test.toml")
    candidates = _printed_cost_candidates(1.0)
    r = evaluate_check(
        rubric.check("cost"), ok({"cost": np.array(1.3)}), {"cost": np.array(1.0)}, candidates
    )
    assert (r.status, r.convention) == ("passed", "printed_all_weights+printed_full_C")
    assert any(e.startswith("this is the form your class prints") for e in r.evidence)
    assert any("Optional: Print the course's penalty" in e for e in r.evidence)
    unknown = evaluate_check(
        rubric.check("cost"), ok({"cost": np.array(7.0)}), {"cost": np.array(1.0)}, candidates
    )
    assert unknown.status == "failed" and unknown.convention is None


def test_a_run_under_credited_conventions_leaves_a_printed_form_of_no_known_kind_to_the_cost_check():
    """A class that shuffles afresh each epoch (fresh_shuffle, credited on the course replay)
    and prints a cost of no known form: its weights and score_ follow the credited run, its
    cost_ does not. The cost check charges the form, so the replay passes crediting the
    convention; beside a printed cost of a known form (or none answered) it stays failed, and
    a run that matches only an uncredited convention is never credited this way."""
    from pathlib import Path

    from grader.rubric_file import load_rubric

    root = Path(__file__).resolve().parents[2]
    spec = load_rubric(root / "rubrics" / "mlp_backprop_course.toml").check("replay")
    spec = replace(spec, requires=())
    rng = np.random.default_rng(0)
    declared = {
        "W1": rng.normal(size=(3, 2)),
        "b1": rng.normal(size=(3, 1)),
        "cost": np.array([0.5, 0.4, 0.3]),
        "accuracy": np.array([0.1, 0.5, 0.6, 0.7]),
    }
    fresh = {k: v + (0.01 if k != "accuracy" else 0.0) for k, v in declared.items()}
    student = {**fresh, "cost": fresh["cost"] * 1.1}  # its printed penalty: no course form
    credited = Candidate.from_convention(CONVENTIONS["fresh_shuffle"], fresh)
    r = evaluate_check(spec, ok(student), declared, [credited], printed=frozenset({"?"}))
    assert (r.status, r.convention) == ("passed", "fresh_shuffle")
    assert any("the cost check charges that difference" in e for e in r.evidence)
    for printed in (frozenset(), None):  # the printed cost is the course's, or unknown
        r = evaluate_check(spec, ok(student), declared, [credited], printed=printed)
        assert r.status == "failed", printed
    uncredited = Candidate.from_convention(CONVENTIONS["heavy_ball"], fresh)
    r = evaluate_check(spec, ok(student), declared, [uncredited], printed=frozenset({"?"}))
    assert r.status == "failed" and r.convention is None
