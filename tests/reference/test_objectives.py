"""Objectives: data terms, penalties, and the course's printed cost."""

from __future__ import annotations

import numpy as np
import pytest

from reference.network import Model, forward, gradients, objective_value
from reference.objectives import Objective, data_term, penalty_gradient, penalty_term, printed_cost
from tests.reference.conftest import problem


def test_squared_error_reductions_scale_by_one_n_and_nk():
    """sum, mean over instances and mean over elements differ by exactly 1, 1/N, 1/(NK)."""
    rng = np.random.default_rng(0)
    A, Y = rng.random((3, 7)), np.eye(3)[:, [0, 1, 2, 0, 1, 2, 0]]
    total = np.sum((Y - A) ** 2)
    assert data_term(Objective(), A, Y) == pytest.approx(total)
    assert data_term(Objective(reduction="mean_instances"), A, Y) == pytest.approx(total / 7)
    assert data_term(Objective(reduction="mean_elements"), A, Y) == pytest.approx(total / 21)


def test_l2_penalty_forms_are_half_full_and_sklearns():
    """C/2||W||^2, C||W||^2 and C/(2N)||W||^2 are the three L2 conventions; biases excluded by default."""
    params, _, _ = problem()
    sq = sum(np.sum(W**2) for W in params.W)
    assert penalty_term(Objective(penalty="l2_half", C=0.3), params, 7) == pytest.approx(0.15 * sq)
    assert penalty_term(Objective(penalty="l2", C=0.3), params, 7) == pytest.approx(0.3 * sq)
    assert penalty_term(Objective(penalty="l2_half_mean", C=0.3), params, 7) == pytest.approx(
        0.3 * sq / 14
    )


def test_penalised_bias_counts_in_value_and_gradient():
    """penalize_bias adds the biases to the penalty and gives them a penalty gradient."""
    params, _, _ = problem()
    on, off = Objective(C=1.0, penalize_bias=True), Objective(C=1.0)
    extra = 0.5 * sum(np.sum(b**2) for b in params.b)
    assert penalty_term(on, params, 7) - penalty_term(off, params, 7) == pytest.approx(extra)
    np.testing.assert_array_equal(penalty_gradient(on, params, 7).b[0], params.b[0])
    assert not penalty_gradient(off, params, 7).b[0].any()


def test_l1_penalty_gradient_is_c_sign_w():
    """The textbook's L1 term C·sum|W| has gradient C·sign(W)."""
    params, _, _ = problem()
    g = penalty_gradient(Objective(penalty="l1", C=0.2), params, 7)
    np.testing.assert_array_equal(g.W[1], 0.2 * np.sign(params.W[1]))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("loss", "hinge", "loss 'hinge' is not one of"),
        ("penalty", "l3", "penalty 'l3'"),
        ("C", -1.0, "C must be"),
    ],
)
def test_objective_validation_names_the_field(field, value, message):
    """A bad objective field is refused with its name and what is allowed."""
    with pytest.raises(ValueError, match=message):
        Objective(**{field: value})


def test_describe_writes_the_objective_in_the_lectures_notation():
    """describe() renders the declared objective for reports."""
    assert Objective(C=0.1).describe() == "sum((Y-A)^2) + C/2·||W||^2 (C=0.1)"
    assert (
        Objective(loss="cce", reduction="mean_instances", penalty="none").describe()
        == "(1/N)·-sum(Y ln A)"
    )


def test_printed_cost_is_the_course_formula_and_not_the_objective():
    """printed_cost is mean((Y-A)^2) + C/2·sqrt(mean(W1[:,1:]^2) + mean(W2[:,1:]^2)), unlike the objective."""
    params, X, Y = problem()
    A = forward(params, X, Model()).output
    C = 0.1
    expected = np.mean((Y - A) ** 2) + C / 2 * np.sqrt(
        np.mean(params.W[0][:, 1:] ** 2) + np.mean(params.W[1][:, 1:] ** 2)
    )
    assert printed_cost(params, A, Y, C=C) == pytest.approx(expected, rel=1e-14)
    assert printed_cost(params, A, Y, C=C, bias_style="folded") != pytest.approx(expected)
    assert objective_value(params, X, Y, Model(), Objective(C=C)) > 5 * expected


def test_printed_sum_squares_form_sums_the_squares_under_the_root():
    """The 2016 folded _L2_reg prints C/2·sqrt(sum(W1**2) + sum(W2**2)) (folded: every weight)."""
    params, X, Y = problem()
    A = forward(params, X, Model()).output
    C = 0.1
    expected = np.mean((Y - A) ** 2) + C / 2 * np.sqrt(sum(np.sum(W**2) for W in params.W))
    got = printed_cost(params, A, Y, C=C, bias_style="folded", form=("sum_squares",))
    assert got == pytest.approx(expected, rel=1e-14)
    assert got != pytest.approx(printed_cost(params, A, Y, C=C, bias_style="folded"))


def test_gradient_of_mean_reduction_is_gradient_of_sum_over_n():
    """Averaging the data term over N consistently scales the data gradient by exactly 1/N."""
    params, X, Y = problem()
    s = gradients(params, X, Y, Model(), Objective(penalty="none"))
    m = gradients(params, X, Y, Model(), Objective(penalty="none", reduction="mean_instances"))
    for a, b in zip(s.arrays(), m.arrays(), strict=True):
        np.testing.assert_allclose(a / 7, b, rtol=1e-13)
