"""reference.gradcheck: the fast numerical gradient, relative errors, verdicts, the directional screen."""

from __future__ import annotations

import numpy as np
import pytest

import reference.gradcheck as gc
from reference.gradcheck import (
    ELEMENT_LOSSES,
    check_gradients,
    classify,
    directional_check,
    element_penalty,
    numerical_gradient,
    numerical_gradient_naive,
    relative_error,
)
from reference.network import Model, forward, gradients
from reference.objectives import PENALTIES, Objective, data_term, penalty_term
from reference.params import Params
from tests.reference.conftest import problem

# (sizes, model, objective): softmax output, depth 3, every loss and penalty appear
COMBOS = [
    ((5, 4, 3), Model("sigmoid", "sigmoid"), Objective("squared", "sum", "l2_half", 0.1)),
    ((5, 6, 3), Model("tanh", "softmax"), Objective("cce", "mean_instances", "l1", 0.2, True)),
    ((5, 4, 6, 3), Model("relu", "linear"), Objective("squared", "mean_elements", "l2", 0.3)),
    (
        (5, 4, 6, 7, 3),
        Model("sigmoid", "softmax"),
        Objective("bce", "sum", "l2_half_mean", 0.5, True),
    ),
    ((5, 6, 4, 3), Model("linear", "sigmoid"), Objective("cce", "sum", "none")),
]
IDS = [
    "sigmoid-squared",
    "softmax-cce-l1",
    "depth2-relu-linear",
    "depth3-softmax-bce",
    "linear-sigmoid-cce",
]


def flat(p: Params) -> np.ndarray:
    return np.concatenate([M.ravel() for M in p.arrays()])


# ---------------------------------------------------------------------------
# numerical_gradient


@pytest.mark.parametrize("sizes, model, objective", COMBOS, ids=IDS)
def test_fast_numerical_gradient_equals_the_naive_one(sizes, model, objective):
    """The stacked central differences equal one-objective-per-perturbation central differences (1e-9)."""
    params, X, Y = problem(sizes)
    fast = numerical_gradient(params, X, Y, model, objective)
    naive = numerical_gradient_naive(params, X, Y, model, objective)
    assert relative_error(fast, naive, form="norm") < 1e-9


@pytest.mark.parametrize("sizes, model, objective", COMBOS, ids=IDS)
def test_fast_numerical_gradient_matches_backprop(sizes, model, objective):
    """On the same combinations the numerical gradient agrees with reference.gradients (norm form, 1e-8)."""
    params, X, Y = problem(sizes)
    numeric = numerical_gradient(params, X, Y, model, objective)
    assert relative_error(gradients(params, X, Y, model, objective), numeric, form="norm") < 1e-8


def test_chunking_does_not_change_the_numerical_gradient(monkeypatch):
    """Splitting the stacked perturbations into many small chunks gives the same gradient."""
    sizes, model, objective = COMBOS[3]
    params, X, Y = problem(sizes)
    whole = numerical_gradient(params, X, Y, model, objective)
    monkeypatch.setattr(gc, "_CHUNK_BYTES", 1)  # one perturbation per chunk
    chunked = numerical_gradient(params, X, Y, model, objective)
    assert relative_error(chunked, whole, form="norm") < 1e-9  # equal up to rounding


def test_numerical_gradient_leaves_params_untouched(small_problem):
    """The parameters passed in are not modified."""
    params, X, Y = small_problem
    before = params.copy()
    numerical_gradient(params, X, Y, Model(), Objective(C=0.1))
    np.testing.assert_array_equal(flat(params), flat(before))


@pytest.mark.parametrize("loss", list(ELEMENT_LOSSES))
def test_element_losses_sum_to_the_declared_data_term(small_problem, loss):
    """sum ell(A, Y) equals objectives.data_term (reduction sum), so the check is of the declared objective."""
    params, X, Y = small_problem
    A = forward(params, X, Model("tanh", "softmax")).output
    objective = Objective(loss=loss, reduction="sum")
    assert ELEMENT_LOSSES[loss](A, Y).sum() == pytest.approx(data_term(objective, A, Y), rel=1e-14)


@pytest.mark.parametrize("penalty", PENALTIES)
@pytest.mark.parametrize("penalize_bias", [False, True])
def test_element_penalties_sum_to_the_declared_penalty(small_problem, penalty, penalize_bias):
    """The entrywise penalty, summed over the penalised arrays, equals objectives.penalty_term."""
    params, _, Y = small_problem
    objective = Objective(penalty=penalty, C=0.3, penalize_bias=penalize_bias)
    N = Y.shape[1]
    arrays = params.arrays() if penalize_bias else params.W
    total = sum(element_penalty(objective, M, N).sum() for M in arrays)
    assert total == pytest.approx(penalty_term(objective, params, N), rel=1e-14)


# ---------------------------------------------------------------------------
# relative_error and classify


def test_relative_error_of_two_zero_gradients_is_zero():
    """0/0 counts as 0 in both forms (an exactly-zero gradient matches an exactly-zero estimate)."""
    z = np.zeros((3, 2))
    assert relative_error(z, z) == 0.0
    assert relative_error(z, z, form="norm") == 0.0


def test_relative_error_with_one_side_zero_is_one():
    """Against zero, every nonzero entry has relative error 1 (max form) and the norm form is 1."""
    a = np.array([0.0, 2.0, -3.0])
    assert relative_error(a, np.zeros(3)) == 1.0
    assert relative_error(np.zeros(3), a, form="norm") == 1.0


def test_relative_error_forms_follow_their_definitions():
    """max form: max |a-n|/max(|a|,|n|) entrywise; norm form: ||a-n|| / (||a|| + ||n||)."""
    a, n = np.array([1.0, 2.0, 0.0]), np.array([1.0, 2.2, 0.0])
    assert relative_error(a, n) == pytest.approx(0.2 / 2.2)
    assert relative_error(a, n, form="norm") == pytest.approx(0.2 / (np.sqrt(5) + np.sqrt(5.84)))


def test_relative_error_takes_params(small_problem):
    """Params are compared over all their arrays; one wrong entry anywhere shows."""
    params = small_problem[0]
    other = params.copy()
    other.b[1][0, 0] *= 3.0
    assert relative_error(params, params.copy()) == 0.0
    assert relative_error(params, other) == pytest.approx(2 / 3)


def test_relative_error_rejects_mismatched_shapes_and_forms():
    """A transposed gradient or an unknown form is an error, not a number."""
    with pytest.raises(ValueError, match="shapes"):
        relative_error(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="form"):
        relative_error(np.ones(2), np.ones(2), form="mean")


def test_relative_error_of_a_non_finite_gradient_is_infinite():
    """NaN or inf in a gradient gives inf (not a masked 0)."""
    assert relative_error(np.array([1.0, np.nan]), np.array([1.0, 1.0])) == np.inf
    assert relative_error(np.array([1.0, 1.0]), np.array([np.inf, 1.0]), form="norm") == np.inf


@pytest.mark.parametrize(
    "rel, kinks, verdict",
    [
        (0.0, False, "good"),
        (9e-8, False, "good"),
        (1e-7, False, "suspicious"),
        (5e-5, False, "suspicious"),
        (5e-5, True, "good"),
        (1e-4, True, "suspicious"),
        (1e-2, False, "suspicious"),
        (1e-2, True, "suspicious"),
        (1.1e-2, False, "wrong"),
        (1.1e-2, True, "wrong"),
        (float("nan"), False, "wrong"),
        (float("inf"), True, "wrong"),
    ],
)
def test_classify_uses_the_conventions_thresholds(rel, kinks, verdict):
    """Below 1e-7 good (1e-4 with kinks), up to 1e-2 suspicious, above (or NaN) wrong."""
    assert classify(rel, kinks) == verdict


# ---------------------------------------------------------------------------
# directional_check and check_gradients


def _directional_errors(pairs: list[tuple[float, float]]) -> float:
    numeric, analytic = np.array(pairs).T
    return relative_error(analytic, numeric, form="norm")


@pytest.mark.parametrize("sizes, model, objective", COMBOS, ids=IDS)
def test_directional_check_agrees_with_the_analytic_gradient(sizes, model, objective):
    """For the reference gradient the directional derivatives match <grad, u> (norm form, 1e-8)."""
    params, X, Y = problem(sizes)
    grads = gradients(params, X, Y, model, objective)
    pairs = directional_check(grads, params, X, Y, model, objective, n_directions=6)
    assert len(pairs) == 6
    assert _directional_errors(pairs) < 1e-8


def test_directional_check_catches_a_gradient_doubled_on_one_layer(small_problem):
    """Doubling grad W1 (only) makes the directional derivatives disagree: verdict wrong."""
    params, X, Y = small_problem
    model, objective = Model(), Objective(C=0.1)
    grads = gradients(params, X, Y, model, objective)
    grads.W[0] *= 2.0
    pairs = directional_check(grads, params, X, Y, model, objective)
    assert classify(_directional_errors(pairs)) == "wrong"


def test_directional_check_accepts_a_gradient_function(small_problem):
    """A function params -> gradient gives the same pairs as the gradient itself; the seed fixes the directions."""
    params, X, Y = small_problem
    model, objective = Model("tanh", "softmax"), Objective("cce", C=0.2)
    grads = gradients(params, X, Y, model, objective)
    from_fn = directional_check(
        lambda p: gradients(p, X, Y, model, objective), params, X, Y, model, objective, seed=3
    )
    assert from_fn == directional_check(grads, params, X, Y, model, objective, seed=3)
    assert from_fn != directional_check(grads, params, X, Y, model, objective, seed=4)


def test_check_gradients_passes_the_reference_and_names_the_wrong_array(small_problem):
    """The reference's own gradient is good everywhere; a regularised b2 is flagged in b2 alone."""
    params, X, Y = small_problem
    model, objective = Model(), Objective(C=0.5)
    assert check_gradients(params, X, Y, model, objective).verdict == "good"
    student = gradients(params, X, Y, model, objective)
    student.b[1] += objective.C * params.b[1]  # docs/conventions.md §5: bias regularised
    report = check_gradients(params, X, Y, model, objective, grads=student)
    assert report.verdict == "wrong"
    assert [name for name, v in report.verdicts.items() if v != "good"] == ["b2"]
    assert "b2" in str(report)


def test_check_gradients_relaxes_the_threshold_for_relu():
    """With ReLU hidden units the report says kinks, so 'good' means below 1e-4."""
    params, X, Y = problem((5, 6, 3))
    report = check_gradients(params, X, Y, Model("relu", "softmax"), Objective("cce"))
    assert report.kinks
    assert report.verdict == "good"
