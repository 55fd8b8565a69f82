"""Forward and back-propagation in the lecture's notation."""

from __future__ import annotations

import numpy as np
import pytest

from reference.network import (
    Model,
    check_compatible,
    forward,
    gradient_magnitudes,
    gradients,
    objective_value,
    predict,
)
from reference.objectives import Objective
from reference.params import Params
from tests.reference.conftest import problem


def test_forward_returns_every_z_and_a_with_lecture_shapes():
    """A1 = X, Z_l = W_l A_l + b_l and A_{l+1} = phi(Z_l) for every layer, shapes (units, N)."""
    params, X, _ = problem((5, 6, 4, 3), N=7)
    fwd = forward(params, X, Model())
    named = fwd.named()
    assert [named[f"A{l}"].shape for l in (1, 2, 3, 4)] == [(5, 7), (6, 7), (4, 7), (3, 7)]
    assert named["A1"] is X
    np.testing.assert_allclose(named["Z2"], params.W[1] @ named["A2"] + params.b[1])
    np.testing.assert_allclose(named["A3"], 1 / (1 + np.exp(-named["Z2"])), rtol=1e-15)


def test_two_layer_gradient_is_the_lectures_recurrence(small_problem):
    """For sigmoid + summed squared error + C/2||W||^2 the gradient is the lecture's V2/V1 formulas."""
    params, X, Y = small_problem
    C = 0.1
    fwd = forward(params, X, Model())
    A1, A2, A3 = fwd.A
    V2 = -2 * (Y - A3) * A3 * (1 - A3)
    V1 = A2 * (1 - A2) * (params.W[1].T @ V2)
    g = gradients(params, X, Y, Model(), Objective(C=C))
    np.testing.assert_allclose(g.W[1], V2 @ A2.T + C * params.W[1], rtol=1e-13)
    np.testing.assert_allclose(g.W[0], V1 @ A1.T + C * params.W[0], rtol=1e-13)
    np.testing.assert_allclose(g.b[0], V1.sum(axis=1, keepdims=True), rtol=1e-13)


def test_cross_entropy_output_delta_is_a_minus_y(small_problem):
    """With sigmoid output and binary cross-entropy, V2 = A3 - Y (the course's one changed line)."""
    params, X, Y = small_problem
    A2, A3 = forward(params, X, Model()).A[1:]
    g = gradients(params, X, Y, Model(), Objective(loss="bce", penalty="none"))
    np.testing.assert_allclose(g.W[1], (A3 - Y) @ A2.T, rtol=1e-13)


def test_cross_entropy_gradient_stays_finite_when_the_output_saturates():
    """Saturated sigmoid outputs (A3 == 1.0 in float64) still give finite CE gradients."""
    params, X, Y = problem()
    params.W[1] *= 200.0
    g = gradients(params, X, Y, Model(), Objective(loss="bce"))
    assert all(np.isfinite(a).all() for a in g.arrays())
    assert np.isfinite(objective_value(params, X, Y, Model(), Objective(loss="bce")))


def test_predict_is_argmax_over_units(small_problem):
    """predict() is argmax(A_out, axis=0): one class index per column."""
    params, X, _ = small_problem
    out = forward(params, X, Model()).output
    np.testing.assert_array_equal(predict(params, X, Model()), out.argmax(axis=0))


def test_gradient_magnitudes_are_mean_absolute_weight_gradients_per_layer(small_problem):
    """gradient_magnitudes gives mean |dW_l| per layer, the lab's vanishing-gradient measure."""
    params, X, Y = small_problem
    g = gradients(params, X, Y, Model(), Objective())
    mags = gradient_magnitudes(g)
    assert mags.shape == (2,)
    assert mags[0] == pytest.approx(np.abs(g.W[0]).mean())


def test_softmax_is_not_a_hidden_activation():
    """A softmax hidden layer is refused with a sentence saying why."""
    with pytest.raises(ValueError, match="softmax is an output activation"):
        Model(hidden="softmax")


def test_log_losses_need_probability_outputs():
    """Cross-entropy with a linear output is refused: the loss would be undefined."""
    with pytest.raises(ValueError, match="needs an output in"):
        check_compatible(Model(output="linear"), Objective(loss="bce"))
    check_compatible(Model(output="softmax"), Objective(loss="cce"))


def test_params_refuse_mismatched_shapes():
    """Params name the layer and both shapes when a bias does not fit its weights."""
    with pytest.raises(ValueError, match=r"W1 \(4, 5\) and b1 \(3, 1\)"):
        Params([np.zeros((4, 5))], [np.zeros((3, 1))])
