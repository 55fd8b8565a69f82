"""Each gradient misconception differs from the reference with its docs/conventions.md §5 signature.

Measured on the §5 setting: N=7, D=5, H=4, K=3, C=0.1, sigmoid, summed squared error, C/2||W||^2.
"""

from __future__ import annotations

import numpy as np
import pytest

from reference import misconceptions
from reference.network import Model, gradients
from reference.objectives import Objective, penalty_gradient

OBJ = Objective(C=0.1)


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)))


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture
def pair(small_problem):
    """(reference gradient, a function giving a misconception's gradient) on the §5 problem."""
    params, X, Y = small_problem
    ref = gradients(params, X, Y, Model(), OBJ)
    return ref, lambda name: misconceptions.get(name).impl(params, X, Y, Model(), OBJ)


def test_every_gradient_misconception_differs_from_the_reference(pair):
    """No registered gradient bug is silently identical to the reference on the §5 problem."""
    ref, bug = pair
    names = [m.name for m in misconceptions.all_misconceptions("gradient")]
    assert len(names) >= 9
    for name in names:
        assert (
            max(rel(a, b) for a, b in zip(bug(name).arrays(), ref.arrays(), strict=True)) > 1e-3
        ), name


def test_sign_flip_points_every_layer_uphill(pair):
    """Sign flipped in V2: both weight gradients have negative cosine with the reference."""
    ref, bug = pair
    g = bug("sign_flip_output_delta")
    assert cos(g.W[1], ref.W[1]) < -0.8 and cos(g.W[0], ref.W[0]) < 0


def test_missing_output_derivative_keeps_the_direction(pair):
    """Missing A3(1-A3): cosine stays high on both layers but the size is far off."""
    ref, bug = pair
    g = bug("missing_output_derivative")
    for a, b in zip(g.W, ref.W, strict=True):
        assert cos(a, b) > 0.9 and rel(a, b) > 0.3


@pytest.mark.parametrize(
    "name", ["missing_hidden_derivative", "derivative_on_z", "bias_row_off_by_one"]
)
def test_hidden_layer_bugs_leave_the_last_layer_exact(pair, name):
    """Bugs in V1 leave W2's gradient exact and change only W1's."""
    ref, bug = pair
    g = bug(name)
    np.testing.assert_array_equal(g.W[1], ref.W[1])
    assert rel(g.W[0], ref.W[0]) > 0.3


def test_off_by_one_bias_row_is_nearly_orthogonal(pair):
    """Dropping the wrong row of V1 makes dW1 nearly orthogonal to the reference."""
    ref, bug = pair
    assert abs(cos(bug("bias_row_off_by_one").W[0], ref.W[0])) < 0.3


def test_derivative_on_z_can_reverse_the_first_layer(pair):
    """Z(1-Z) in place of A(1-A) gives W1's gradient a negative cosine here."""
    ref, bug = pair
    assert cos(bug("derivative_on_z").W[0], ref.W[0]) < 0


def test_bias_regularised_changes_only_the_biases_by_the_penalty(small_problem, pair):
    """A regularised bias: weights exact, each bias off by exactly C·b."""
    params, _, _ = small_problem
    ref, bug = pair
    g = bug("bias_regularised")
    for a, b in zip(g.W, ref.W, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b, p in zip(g.b, ref.b, params.b, strict=True):
        np.testing.assert_allclose(a - b, OBJ.C * p, rtol=1e-12)


@pytest.mark.parametrize(("name", "factor"), [("penalty_doubled", 1.0), ("penalty_halved", -0.5)])
def test_penalty_factor_bugs_differ_by_an_exact_multiple_of_the_penalty(
    small_problem, pair, name, factor
):
    """C vs 2C vs C/2: the difference is exactly a multiple of the penalty gradient."""
    params, _, _ = small_problem
    ref, bug = pair
    pen = penalty_gradient(OBJ, params, 7)
    for a, b, p in zip(bug(name).W, ref.W, pen.W, strict=True):
        np.testing.assert_allclose(a - b, factor * p, rtol=1e-10, atol=1e-15)


def test_averaged_data_not_penalty_is_data_over_n_plus_full_penalty(small_problem, pair):
    """Averaging only the data term gives data/N + C·W."""
    params, X, Y = small_problem
    _, bug = pair
    data = gradients(params, X, Y, Model(), OBJ.with_(penalty="none"))
    pen = penalty_gradient(OBJ, params, 7)
    for a, d, p in zip(bug("averaged_data_not_penalty").W, data.W, pen.W, strict=True):
        np.testing.assert_allclose(a, d / 7 + p, rtol=1e-12)


def test_every_misconception_is_documented():
    """Each registered misconception has a title, description, topic, signature and next step."""
    for m in misconceptions.all_misconceptions():
        assert all(
            len(getattr(m, f)) > 5
            for f in ("title", "description", "topic", "signature", "next_step")
        ), m.name


def test_unknown_misconception_lists_the_known_ones():
    """Asking for an unknown name says which names exist."""
    with pytest.raises(KeyError, match=r"known: .*sign_flip_output_delta"):
        misconceptions.get("no_such_bug")
