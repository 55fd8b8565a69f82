"""Parameters of a multi-layer perceptron in the lecture's layout.

Columns are instances. Layer ``l`` (1-based in names, 0-based in lists) maps
``n_l`` units to ``n_{l+1}`` units::

    Z^(l) = W^(l) A^(l) + b^(l)      W^(l) : (n_{l+1}, n_l),  b^(l) : (n_{l+1}, 1)

Gradients have exactly the same structure, so one type serves both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class Params:
    """Weights and biases of an L-layer network (also used for their gradients).

    W : list of L ndarrays, W[l] : (n_{l+1}, n_l)
    b : list of L ndarrays, b[l] : (n_{l+1}, 1)
    """

    W: list[np.ndarray]
    b: list[np.ndarray]

    def __post_init__(self) -> None:
        if len(self.W) != len(self.b) or not self.W:
            raise ValueError(
                f"need one bias per weight matrix: got {len(self.W)} W, {len(self.b)} b"
            )
        for l, (W, b) in enumerate(zip(self.W, self.b, strict=True), start=1):
            if W.ndim != 2 or b.shape != (W.shape[0], 1):
                raise ValueError(
                    f"layer {l}: W{l} {W.shape} and b{l} {b.shape} do not fit "
                    f"(expected b{l} of shape ({W.shape[0] if W.ndim == 2 else '?'}, 1))"
                )
            if l > 1 and W.shape[1] != self.W[l - 2].shape[0]:
                raise ValueError(
                    f"W{l} takes {W.shape[1]} inputs but layer {l - 1} has {self.W[l - 2].shape[0]} units"
                )

    @classmethod
    def trusted(cls, W: list[np.ndarray], b: list[np.ndarray]) -> Params:
        """Build without the shape checks: for the hot path, where shapes are known to fit."""
        p = object.__new__(cls)
        p.W, p.b = W, b
        return p

    @property
    def depth(self) -> int:
        """Number of weight layers L (a two-layer perceptron has L = 2)."""
        return len(self.W)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Units per layer, input first: (D, H1, ..., K)."""
        return (self.W[0].shape[1], *(W.shape[0] for W in self.W))

    def arrays(self) -> list[np.ndarray]:
        """The arrays in the course's order: W1..WL then b1..bL (views, not copies)."""
        return [*self.W, *self.b]

    def names(self) -> list[str]:
        """Names matching :meth:`arrays`: ``W1..WL, b1..bL``."""
        L = self.depth
        return [f"W{l}" for l in range(1, L + 1)] + [f"b{l}" for l in range(1, L + 1)]

    def bias_mask(self) -> list[bool]:
        """True for the bias entries of :meth:`arrays`."""
        return [False] * self.depth + [True] * self.depth

    def as_dict(self) -> dict[str, np.ndarray]:
        """``{"W1": W1, ..., "b1": b1, ...}``."""
        return dict(zip(self.names(), self.arrays(), strict=True))

    def copy(self) -> Params:
        """A deep copy (float64 arrays that share nothing with ``self``)."""
        return Params(
            [np.array(W, dtype=float) for W in self.W], [np.array(b, dtype=float) for b in self.b]
        )

    def zeros_like(self) -> Params:
        """Same shapes, all zeros."""
        return Params(
            [np.zeros_like(W, dtype=float) for W in self.W],
            [np.zeros_like(b, dtype=float) for b in self.b],
        )

    @classmethod
    def from_arrays(cls, arrays: Sequence[np.ndarray]) -> Params:
        """Inverse of :meth:`arrays`: ``[W1..WL, b1..bL]`` -> Params."""
        if len(arrays) % 2:
            raise ValueError(f"expected W1..WL, b1..bL (an even count), got {len(arrays)} arrays")
        L = len(arrays) // 2
        return cls(list(arrays[:L]), list(arrays[L:]))

    @classmethod
    def from_dict(cls, d: dict[str, np.ndarray]) -> Params:
        """Inverse of :meth:`as_dict`."""
        L = sum(1 for k in d if k.startswith("W"))
        return cls([d[f"W{l}"] for l in range(1, L + 1)], [d[f"b{l}"] for l in range(1, L + 1)])
