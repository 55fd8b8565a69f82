"""The job's input buffer (grader/sandbox/child/arrays.py): what goes in comes out."""

from __future__ import annotations

import numpy as np
import pytest

from grader.sandbox.child import arrays

ODD_ARRAYS = {
    "matrix": np.arange(12.0).reshape(3, 4),
    "scalar": np.float64(2.5),
    "zero_d": np.array(7, dtype=np.int32),
    "empty": np.zeros((0, 3)),
    "transposed": np.arange(6.0).reshape(2, 3).T,
    "big_endian": np.arange(4, dtype=">f8"),
    "flags": np.array([True, False]),
    "nan": np.array([np.nan, np.inf, -0.0]),
    "uint8": np.arange(5, dtype=np.uint8),
    "empty_last": np.zeros((0,)),  # its offset is the end of the buffer
}


def test_every_array_comes_back_with_its_dtype_shape_and_values() -> None:
    """Scalars, 0-d, empty, non-contiguous, big-endian, bool, NaN: each round-trips exactly."""
    out = arrays.unpack(arrays.pack(ODD_ARRAYS))
    assert list(out) == list(ODD_ARRAYS)
    for name, value in ODD_ARRAYS.items():
        want = np.asarray(value)
        assert out[name].dtype == want.dtype and out[name].shape == want.shape, name
        assert np.array_equal(out[name], want, equal_nan=True), name


def test_identical_large_arrays_are_sent_once_but_received_separately() -> None:
    """Two equal 1 MB arrays cost one block; changing one in the child leaves the other alone."""
    X = np.random.default_rng(0).random((64, 2000))
    once = arrays.pack({"X": X})
    twice = arrays.pack({"X": X, "base_X": X.copy()})
    assert len(twice) - len(once) < 100  # only the second index entry
    out = arrays.unpack(twice)
    out["X"][0, 0] = -1.0
    assert out["base_X"][0, 0] == X[0, 0]
    assert out["X"].flags.writeable and out["base_X"].flags.writeable


def test_different_large_arrays_of_one_shape_are_both_sent() -> None:
    """Equal shape and dtype is not enough: different bytes are stored apart."""
    X = np.zeros((64, 2000))
    out = arrays.unpack(arrays.pack({"a": X, "b": X + 1.0}))
    assert out["a"].sum() == 0.0 and out["b"].sum() == X.size


def test_object_arrays_are_refused() -> None:
    """An object array cannot be written as raw bytes: a TypeError naming the input."""
    with pytest.raises(TypeError, match="'bad'"):
        arrays.pack({"bad": np.array([object()])})


def test_a_foreign_buffer_is_refused() -> None:
    """Bytes that do not start with the format's magic raise ValueError."""
    with pytest.raises(ValueError, match="not a packed input buffer"):
        arrays.unpack(b"PK\x03\x04" + b"\0" * 20)
