"""One-hot encoding, class lists, argmax decoding, and the encoding misconceptions."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from reference.encoding import classes, labels_from_scores, one_hot
from reference.misconceptions import all_misconceptions, get

# --- one_hot ----------------------------------------------------------------


def test_one_hot_rows_follow_sorted_classes() -> None:
    """Row k of Y is the k-th smallest label; columns are instances."""
    Y = one_hot(np.array([3, 1, 3, 2]))
    expected = [
        [0.0, 1.0, 0.0, 0.0],  # class 1
        [0.0, 0.0, 0.0, 1.0],  # class 2
        [1.0, 0.0, 1.0, 0.0],  # class 3
    ]
    assert Y.dtype == np.float64
    np.testing.assert_array_equal(Y, expected)


def test_one_hot_accepts_string_labels() -> None:
    """Non-numeric labels are sorted too (as pd.get_dummies does)."""
    Y = one_hot(np.array(["dog", "cat", "emu", "cat"]))
    np.testing.assert_array_equal(Y.argmax(axis=0), [1, 0, 2, 0])


def test_one_hot_n_classes_keeps_rows_for_missing_classes() -> None:
    """With n_classes, a batch missing class 1 still has K rows and label 2 sits in row 2."""
    Y = one_hot(np.array([0, 2, 2]), n_classes=4)
    assert Y.shape == (4, 3)
    np.testing.assert_array_equal(Y[1], 0.0)
    np.testing.assert_array_equal(Y[3], 0.0)
    np.testing.assert_array_equal(Y.argmax(axis=0), [0, 2, 2])


@pytest.mark.parametrize("y", [np.array([0, 4]), np.array([-1, 0]), np.array([0.0, 1.0])])
def test_one_hot_n_classes_rejects_labels_that_are_not_indices(y: np.ndarray) -> None:
    """With n_classes, labels outside 0..K-1 or non-integer labels are refused."""
    with pytest.raises(ValueError):
        one_hot(y, n_classes=4)


def test_one_hot_rejects_2d_labels() -> None:
    """Labels must be a vector (N,), not a column (N, 1)."""
    with pytest.raises(ValueError):
        one_hot(np.array([[0], [1]]))


def test_one_hot_matches_pandas_get_dummies() -> None:
    """Equal to the course's pd.get_dummies(y).values.T, cast to float."""
    pd = pytest.importorskip("pandas")
    y = np.array([5, 2, 9, 2, 5, 7])
    np.testing.assert_array_equal(one_hot(y), pd.get_dummies(y).values.T.astype(float))


def test_classes_are_sorted_unique() -> None:
    """classes(y) lists each label once, ascending."""
    np.testing.assert_array_equal(classes(np.array([3, 1, 3, 2, 1])), [1, 2, 3])


# --- labels_from_scores -------------------------------------------------------


def test_labels_from_scores_is_argmax_over_classes() -> None:
    """The predicted index is the row of the largest score in each column."""
    A = np.array([[0.1, 0.7, 0.2], [0.8, 0.2, 0.3], [0.1, 0.1, 0.9]])
    np.testing.assert_array_equal(labels_from_scores(A), [1, 0, 2])


def test_labels_from_scores_inverts_one_hot() -> None:
    """Decoding a one-hot matrix of labels 0..K-1 gives the labels back."""
    y = np.array([2, 0, 1, 1, 2, 0, 3])
    np.testing.assert_array_equal(labels_from_scores(one_hot(y)), y)


# --- misconceptions -----------------------------------------------------------


def test_encoding_misconceptions_are_registered_with_one_hot_signature() -> None:
    """Both encoding bugs are registered, documented, and take one_hot's parameters."""
    found = {m.name: m for m in all_misconceptions("encoding")}
    assert {"one_hot_transposed", "one_hot_unsorted_classes"} <= set(found)
    ref = inspect.signature(one_hot).parameters
    for m in found.values():
        assert m.kind == "encoding"
        assert all([m.title, m.description, m.topic, m.signature, m.next_step])
        assert list(inspect.signature(m.impl).parameters) == list(ref)


def test_one_hot_transposed_gives_instances_as_rows() -> None:
    """The transposed bug returns (N, K), the correct Y turned on its side."""
    y = np.array([0, 1, 2, 1, 0])
    bad = get("one_hot_transposed").impl(y)
    assert bad.shape == (5, 3)
    np.testing.assert_array_equal(bad, one_hot(y).T)


def test_unsorted_classes_permutes_rows_when_first_seen_is_not_sorted() -> None:
    """Labels first seen as 2, 0, 1 put class 2 in row 0; column sums stay one."""
    y = np.array([2, 0, 2, 1])
    bad = get("one_hot_unsorted_classes").impl(y)
    np.testing.assert_array_equal(bad.argmax(axis=0), [0, 1, 0, 2])
    np.testing.assert_array_equal(bad.sum(axis=0), 1.0)
    assert not np.array_equal(bad, one_hot(y))


def test_unsorted_classes_is_invisible_when_first_seen_is_sorted() -> None:
    """If labels happen to appear in sorted order first, the bug gives the correct Y."""
    y = np.array([0, 1, 2, 0, 2])
    np.testing.assert_array_equal(get("one_hot_unsorted_classes").impl(y), one_hot(y))


def test_unsorted_classes_honours_n_classes() -> None:
    """With n_classes the buggy encoding still has K rows."""
    bad = get("one_hot_unsorted_classes").impl(np.array([2, 0]), n_classes=4)
    assert bad.shape == (4, 2)
    np.testing.assert_array_equal(bad.argmax(axis=0), [0, 1])
