"""Misconceptions of kind "encoding": wrong one-hot targets.

Each ``impl`` has the signature of ``reference.encoding.one_hot(y, n_classes=None)``.
"""

from __future__ import annotations

import numpy as np

from reference.encoding import one_hot
from reference.misconceptions import Misconception, register

Array = np.ndarray


def one_hot_transposed(y: Array, n_classes: int | None = None) -> Array:
    """One row per instance: Y (N, K) instead of (K, N)."""
    return one_hot(y, n_classes).T


def one_hot_unsorted_classes(y: Array, n_classes: int | None = None) -> Array:
    """Rows in order of each class's first appearance in ``y`` instead of sorted order."""
    y = np.asarray(y)
    cls, first, inverse = np.unique(y, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))  # rank[c] = how many classes were seen before class c
    rows = rank[inverse.ravel()]
    K = cls.size if n_classes is None else n_classes
    Y = np.zeros((K, y.size))
    Y[rows, np.arange(y.size)] = 1.0
    return Y


register(
    Misconception(
        name="one_hot_transposed",
        kind="encoding",
        title="one-hot targets transposed (N, K)",
        description=(
            "Y is built with one row per instance and one column per class, (N, K), "
            "while the network's output A3 is (K, N) with columns as instances."
        ),
        topic="label encoding",
        signature=(
            "Y has shape (N, K) instead of (K, N): Y - A3 raises a shape error, or is "
            "silently wrong when N == K (docs/conventions.md §5)."
        ),
        next_step=(
            "Print Y.shape right after encoding: it should be (number of classes, number of "
            "instances), because in the lecture's notation columns are instances, just like A3. "
            "Transpose once where Y is created (Y = Y.T) rather than in later formulas, and test "
            "with a batch where N differs from K so a mix-up cannot hide."
        ),
        impl=one_hot_transposed,
    )
)

register(
    Misconception(
        name="one_hot_unsorted_classes",
        kind="encoding",
        title="one-hot rows in order of first appearance",
        description=(
            "Class k of Y is the k-th label met while scanning y, not the k-th smallest label, "
            "so row k of A3 no longer stands for label k."
        ),
        topic="label encoding",
        signature=(
            "Same shape and column sums as the correct Y, but its rows are permuted; identical "
            "whenever the labels happen to first appear in sorted order. Training still "
            "converges, yet argmax(A3, axis=0) returns indices that do not match the labels: "
            "accuracy against y falls to the share of instances whose label the permutation "
            "leaves in place (docs/conventions.md §5)."
        ),
        next_step=(
            "Take the classes from np.unique(y), which returns them sorted, and map each label to "
            "its position in that list (np.searchsorted(classes, y)); then row k of Y and of A3 "
            "means the k-th smallest label, which is exactly what argmax in predict assumes. "
            "A quick check: encode y = [2, 0, 1] and confirm Y[2, 0] == 1."
        ),
        impl=one_hot_unsorted_classes,
    )
)
