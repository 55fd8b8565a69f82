"""Conversions between the three parameter layouts students use.

- canonical (the lecture, this package): W : (n_out, n_in), b : (n_out, 1),
  columns are instances.
- folded bias (the course's older classes): W : (n_out, n_in + 1) with the
  bias in column 0; a row of ones is prepended to each layer's input.
- rows as instances (the textbook's ``NeuralNetMLP``): X : (N, D),
  W : (n_in, n_out), 1-D bias (n_out,).

Gradients convert exactly like parameters. The grader binds a layout
explicitly (docs/conventions.md §1): nothing here guesses from shapes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reference.params import Params

Array = np.ndarray


def to_folded(params: Params) -> list[Array]:
    """[b | W] per layer, each (n_out, n_in + 1)."""
    return [np.hstack([b, W]) for W, b in zip(params.W, params.b, strict=True)]


def from_folded(folded: Sequence[Array]) -> Params:
    """Inverse of :func:`to_folded`: column 0 is the bias."""
    return Params([np.array(F[:, 1:]) for F in folded], [np.array(F[:, :1]) for F in folded])


def add_ones_row(A: Array) -> Array:
    """Prepend a row of ones: A (n, N) -> (n + 1, N), the folded layout's layer input."""
    return np.vstack([np.ones((1, A.shape[1])), A])


def to_rows(params: Params) -> tuple[list[Array], list[Array]]:
    """Textbook layout: weights (n_in, n_out) and 1-D biases (n_out,)."""
    return [W.T.copy() for W in params.W], [b[:, 0].copy() for b in params.b]


def from_rows(weights: Sequence[Array], biases: Sequence[Array]) -> Params:
    """Inverse of :func:`to_rows`."""
    return Params(
        [np.array(W, dtype=float).T.copy() for W in weights],
        [np.asarray(b, dtype=float).reshape(-1, 1).copy() for b in biases],
    )
