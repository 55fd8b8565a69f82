"""The course's own gradient code (docs/conventions.md §2), transcribed as the course writes
it, against reference.gradients under the objective the §2 table names; and the
course's printed cost, which is not the function that code differentiates.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from reference.gradcheck import central_differences, numerical_gradient, relative_error
from reference.layouts import add_ones_row, from_folded, to_folded
from reference.network import Model, forward, gradients
from reference.objectives import Objective, printed_cost
from reference.params import Params

C = 0.1

# ---------------------------------------------------------------------------
# The course's code, separate-bias classes (TwoLayerPerceptronBase and subclasses)


def course_feedforward(X_rows, W1, W2, b1, b2):
    """_feedforward(X, W1, W2, b1, b2): X is (N, D); returns A1, Z1, A2, Z2, A3."""
    A1 = X_rows.T
    Z1 = W1 @ A1 + b1
    A2 = expit(Z1)
    Z2 = W2 @ A2 + b2
    A3 = expit(Z2)
    return A1, Z1, A2, Z2, A3


def course_get_gradient(A1, A2, A3, Z1, Z2, Y_enc, W1, W2, l2_C):
    """TwoLayerPerceptronBase._get_gradient (MSE, gradW += W*C)."""
    V2 = -2 * (Y_enc - A3) * A3 * (1 - A3)
    V1 = A2 * (1 - A2) * (W2.T @ V2)
    gradW2 = V2 @ A2.T
    gradW1 = V1 @ A1.T
    gradb2 = np.sum(V2, axis=1).reshape((-1, 1))
    gradb1 = np.sum(V1, axis=1).reshape((-1, 1))
    gradW1 += W1 * l2_C
    gradW2 += W2 * l2_C
    return gradW1, gradW2, gradb1, gradb2


def course_get_gradient_2c(A1, A2, A3, Z1, Z2, Y_enc, W1, W2, l2_C):
    """The notebook variant that regularises with gradW += 2*C*W."""
    V2 = -2 * (Y_enc - A3) * A3 * (1 - A3)
    V1 = A2 * (1 - A2) * (W2.T @ V2)
    gradW2 = V2 @ A2.T
    gradW1 = V1 @ A1.T
    gradb2 = np.sum(V2, axis=1).reshape((-1, 1))
    gradb1 = np.sum(V1, axis=1).reshape((-1, 1))
    gradW1 += W1 * l2_C * 2
    gradW2 += W2 * l2_C * 2
    return gradW1, gradW2, gradb1, gradb2


def course_get_gradient_cross_entropy(A1, A2, A3, Z1, Z2, Y_enc, W1, W2, l2_C):
    """TLPMiniBatchCrossEntropy._get_gradient: the one changed line is V2 = A3 - Y_enc."""
    V2 = A3 - Y_enc
    V1 = A2 * (1 - A2) * (W2.T @ V2)
    gradW2 = V2 @ A2.T
    gradW1 = V1 @ A1.T
    gradb2 = np.sum(V2, axis=1).reshape((-1, 1))
    gradb1 = np.sum(V1, axis=1).reshape((-1, 1))
    gradW1 += W1 * l2_C
    gradW2 += W2 * l2_C
    return gradW1, gradW2, gradb1, gradb2


# ---------------------------------------------------------------------------
# The course's code, folded-bias classes (TwoLayerPerceptronVectorized and kin)


def course_feedforward_folded(X_rows, W1, W2):
    """_feedforward(X, W1, W2): a row of ones is prepended to A1 and to A2."""
    A1 = add_ones_row(X_rows.T)
    Z1 = W1 @ A1
    A2 = add_ones_row(expit(Z1))
    Z2 = W2 @ A2
    A3 = expit(Z2)
    return A1, Z1, A2, Z2, A3


def course_get_gradient_folded(A1, A2, A3, Z1, Z2, Y_enc, W1, W2, l2_C):
    """_get_gradient of the folded classes: drop row 0 of V1, bias column not penalised."""
    V2 = -2 * (Y_enc - A3) * A3 * (1 - A3)
    V1 = A2 * (1 - A2) * (W2.T @ V2)
    V1 = V1[1:, :]
    grad2 = V2 @ A2.T
    grad1 = V1 @ A1.T
    grad1[:, 1:] += W1[:, 1:] * l2_C
    grad2[:, 1:] += W2[:, 1:] * l2_C
    return grad1, grad2


# ---------------------------------------------------------------------------


def course_separate(get_gradient, params: Params, X: np.ndarray, Y: np.ndarray) -> Params:
    """Run a separate-bias course _get_gradient on our problem; return it as Params."""
    (W1, W2), (b1, b2) = params.W, params.b
    A1, Z1, A2, Z2, A3 = course_feedforward(X.T, W1, W2, b1, b2)
    gW1, gW2, gb1, gb2 = get_gradient(
        A1=A1, A2=A2, A3=A3, Z1=Z1, Z2=Z2, Y_enc=Y, W1=W1, W2=W2, l2_C=C
    )
    return Params([gW1, gW2], [gb1, gb2])


SEPARATE_CASES = [
    # docs/conventions.md §2 table: which objective each notebook style differentiates
    (course_get_gradient, Objective("squared", "sum", "l2_half", C)),
    (course_get_gradient_2c, Objective("squared", "sum", "l2", C)),
    (course_get_gradient_cross_entropy, Objective("bce", "sum", "l2_half", C)),
]


@pytest.mark.parametrize(
    "get_gradient, objective", SEPARATE_CASES, ids=["mse", "mse-2C", "cross-entropy"]
)
def test_course_separate_bias_gradient_is_the_reference_under_the_table_objective(
    small_problem, get_gradient, objective
):
    """The course's separate-bias _get_gradient equals reference.gradients for the §2 table's objective."""
    params, X, Y = small_problem
    course = course_separate(get_gradient, params, X, Y)
    ours = gradients(params, X, Y, Model(), objective)
    assert relative_error(course, ours) < 1e-12


def test_course_folded_bias_gradient_is_the_reference_with_bias_unpenalised(small_problem):
    """The folded-bias _get_gradient (converted with from_folded) equals the reference for sum((Y-A3)^2) + C/2||W[:,1:]||^2."""
    params, X, Y = small_problem
    W1, W2 = to_folded(params)
    A1, Z1, A2, Z2, A3 = course_feedforward_folded(X.T, W1, W2)
    grad1, grad2 = course_get_gradient_folded(A1, A2, A3, Z1, Z2, Y, W1, W2, l2_C=C)
    ours = gradients(params, X, Y, Model(), Objective("squared", "sum", "l2_half", C))
    assert relative_error(from_folded([grad1, grad2]), ours) < 1e-12


def test_course_gradient_is_not_the_gradient_of_its_printed_cost(small_problem):
    """On 7 samples, 3 classes: the course gradient is ~N·K times the printed cost's numeric gradient, yet exact for the declared objective."""
    params, X, Y = small_problem  # N = 7, D = 5, H = 4, K = 3
    course = course_separate(course_get_gradient, params, X, Y)

    def printed(p: Params) -> float:
        return printed_cost(p, forward(p, X, Model()).output, Y, "squared", C, "separate")

    of_printed = central_differences(printed, params)
    declared = numerical_gradient(params, X, Y, Model(), Objective("squared", "sum", "l2_half", C))
    ratio = np.linalg.norm(np.concatenate([M.ravel() for M in course.arrays()])) / np.linalg.norm(
        np.concatenate([M.ravel() for M in of_printed.arrays()])
    )
    # docs/conventions.md §2: about 0.91, and about 21 (the printed cost averages over N·K = 21)
    assert relative_error(course, of_printed, form="norm") > 0.5
    assert ratio > 5
    assert relative_error(course, declared) < 1e-7
