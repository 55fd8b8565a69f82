"""Conversions between the canonical, folded-bias and rows-as-instances layouts."""

from __future__ import annotations

import numpy as np

from reference.layouts import add_ones_row, from_folded, from_rows, to_folded, to_rows
from reference.network import Model, forward
from tests.reference.conftest import problem


def test_folded_round_trip_puts_the_bias_in_column_zero():
    """to_folded puts b in column 0; from_folded undoes it exactly."""
    params, _, _ = problem((5, 4, 3))
    folded = to_folded(params)
    assert [F.shape for F in folded] == [(4, 6), (3, 5)]
    np.testing.assert_array_equal(folded[0][:, 0:1], params.b[0])
    back = from_folded(folded)
    for a, b in zip(back.arrays(), params.arrays(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_folded_forward_with_ones_row_equals_canonical_forward():
    """W_f @ [1; A] equals W @ A + b, the course's folded-bias forward pass."""
    params, X, _ = problem((5, 4, 3))
    W1f, _ = to_folded(params)
    np.testing.assert_allclose(W1f @ add_ones_row(X), forward(params, X, Model()).Z[0], rtol=1e-14)


def test_rows_layout_round_trip_and_forward():
    """Textbook layout: X (N, D) @ w_h (D, H) + b_h (H,) is the transpose of the canonical Z1."""
    params, X, _ = problem((5, 4, 3))
    weights, biases = to_rows(params)
    assert weights[0].shape == (5, 4) and biases[0].shape == (4,)
    np.testing.assert_allclose(
        X.T @ weights[0] + biases[0], forward(params, X, Model()).Z[0].T, rtol=1e-14
    )
    back = from_rows(weights, biases)
    for a, b in zip(back.arrays(), params.arrays(), strict=True):
        np.testing.assert_array_equal(a, b)
