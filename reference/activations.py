"""Activation functions, each with its backward rule beside its forward.

Every activation maps ``Z`` to ``A = phi(Z)`` elementwise (softmax: per
column). ``backward(Z, A, G)`` turns ``G = dJ/dA`` into ``dJ/dZ``; for the
elementwise ones that is ``G * phi'(Z)``, and ``phi'`` is written from ``A``
where the lecture does (sigmoid: ``A * (1 - A)``).

All arrays are (units, N): columns are instances.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray


@dataclass(frozen=True)
class Activation:
    """phi and its derivative.

    forward    : Z -> A
    derivative : (Z, A) -> dA/dZ elementwise, or None for softmax (not elementwise)
    """

    name: str
    forward: Callable[[Array], Array]
    derivative: Callable[[Array, Array], Array] | None

    def backward(self, Z: Array, A: Array, G: Array) -> Array:
        """dJ/dZ from G = dJ/dA.  Z, A, G : ndarray (units, N)."""
        if self.derivative is not None:
            return G * self.derivative(Z, A)
        # softmax: the Jacobian-vector product A * (G - sum(G * A)) per column
        return A * (G - np.sum(G * A, axis=0, keepdims=True))


def sigmoid(Z: Array) -> Array:
    """1 / (1 + exp(-Z)), computed in place.

    For Z < -709 exp(-Z) overflows to inf and the result is exactly 0, the
    right limit, so the overflow warning is silenced rather than avoided.
    """
    out = np.negative(Z)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


def softmax(Z: Array) -> Array:
    """exp(Z) / sum(exp(Z)) per column, shifted by the column max for stability."""
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("sigmoid", sigmoid, lambda Z, A: A * (1.0 - A)),
        Activation("tanh", np.tanh, lambda Z, A: 1.0 - A * A),
        Activation("relu", lambda Z: np.maximum(Z, 0.0), lambda Z, A: (Z > 0).astype(Z.dtype)),
        Activation("linear", lambda Z: Z, lambda Z, A: np.ones_like(Z)),
        Activation("softmax", softmax, None),
    )
}


def get_activation(name: str) -> Activation:
    """The activation called ``name``; a clear error naming the allowed ones otherwise."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}"
        ) from None
