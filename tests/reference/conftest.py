"""Shared small, non-square problems (D+1 != H, H+1 != K, N > 1: transposes cannot pass by accident)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from reference.params import Params


def random_params(sizes: tuple[int, ...], seed: int = 0, scale: float = 1.0) -> Params:
    """Uniform(-scale, scale) weights and biases for layer sizes (D, H.., K)."""
    rng = np.random.default_rng(seed)
    return Params(
        [rng.uniform(-scale, scale, (o, i)) for i, o in pairwise(sizes)],
        [rng.uniform(-scale, scale, (o, 1)) for o in sizes[1:]],
    )


def problem(
    sizes: tuple[int, ...] = (5, 4, 3), N: int = 7, seed: int = 1
) -> tuple[Params, np.ndarray, np.ndarray]:
    """(params, X (D, N), Y one-hot (K, N) with every class present)."""
    rng = np.random.default_rng(seed)
    D, K = sizes[0], sizes[-1]
    X = rng.normal(size=(D, N))
    labels = np.concatenate([np.arange(K), rng.integers(0, K, N - K)])
    return random_params(sizes, seed), X, np.eye(K)[:, labels]


@pytest.fixture
def small_problem() -> tuple[Params, np.ndarray, np.ndarray]:
    """The docs/conventions.md §5 measurement setting: N=7, D=5, H=4, K=3."""
    return problem()
