"""Label encoding in the course's convention: one-hot targets Y (K, N), classes sorted.

The course encodes with ``pd.get_dummies(y).values.T``: one row per class, the
classes in sorted order, one column per instance. ``one_hot`` gives the same
matrix as float64 (pandas 2 returns booleans, on which ``-Y`` fails).
Predictions go the other way: ``labels_from_scores(A3)`` is ``argmax`` over the
class axis, which returns class *indices*; they equal the labels only when the
labels are 0..K-1.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def classes(y: Array) -> Array:
    """The sorted unique labels of ``y`` (N,): row k of ``one_hot(y)`` stands for ``classes(y)[k]``."""
    return np.unique(_labels(y))


def one_hot(y: Array, n_classes: int | None = None) -> Array:
    """One-hot targets, columns are instances.

    Parameters
    ----------
    y : ndarray (N,)
        Labels of any sortable type.
    n_classes : int, optional
        Without it, K is the number of distinct labels in ``y`` and each label
        maps to its index among the sorted classes (as ``pd.get_dummies``).
        With it, labels must be integers 0..n_classes-1 and are used as row
        indices directly, so a mini-batch that misses a class still gets K rows.

    Returns
    -------
    Y : ndarray (K, N) float64, exactly one 1 per column
    """
    y = _labels(y)
    if n_classes is None:
        cls, rows = np.unique(y, return_inverse=True)
        K = cls.size
    else:
        K, rows = n_classes, _class_indices(y, n_classes)
    Y = np.zeros((K, y.size))
    Y[rows, np.arange(y.size)] = 1.0
    return Y


def labels_from_scores(A: Array) -> Array:
    """Predicted class indices: ``argmax`` of ``A`` (K, N) over the class axis -> (N,) int64."""
    A = np.asarray(A)
    if A.ndim != 2:
        raise ValueError(f"expected scores of shape (K, N), got {A.shape}")
    return np.argmax(A, axis=0).astype(np.int64)


def _labels(y: Array) -> Array:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be a 1-D array (N,), got shape {y.shape}")
    return y


def _class_indices(y: Array, n_classes: int) -> Array:
    # with an explicit K the labels *are* the row indices; anything else is ambiguous
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"with n_classes given, labels must be integers 0..{n_classes - 1}; got dtype {y.dtype}"
        )
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in 0..{n_classes - 1}; got range {y.min()}..{y.max()}")
    return y.astype(np.intp)
