"""The parent's validation of output .npz bytes, and OutputSpec contracts."""

from __future__ import annotations

import io
import pickle
import time
import zipfile

import numpy as np
import pytest

from grader.sandbox import OutputSpec
from grader.sandbox.validate import check_npz

UNPICKLED: list[str] = []


def _record() -> str:
    UNPICKLED.append("yes")
    return "unpickled"


class Trap:
    """Unpickling a Trap calls _record: proof that something was unpickled."""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_record, ())


def npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def npz_raw(members: dict[str, bytes]) -> bytes:
    """An .npz assembled member by member (forged content allowed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def npy_with_header(header: dict, body: bytes) -> bytes:
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, header)
    return f.getvalue() + body


ANY = {"y": OutputSpec()}


def test_valid_output_comes_back_equal_and_read_only():
    """A well-formed .npz yields the same arrays, read-only, without flags."""
    y = np.arange(6.0).reshape(2, 3)
    c = check_npz(npz(y=y), {"y": OutputSpec(shape=(2, 3))})
    assert c.problem is None and c.flags == {}
    np.testing.assert_array_equal(c.arrays["y"], y)
    assert not c.arrays["y"].flags.writeable


def test_forged_80_gb_header_is_refused_from_the_header_alone():
    """A header claiming 10**10 float64 is refused at once, before any allocation."""
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**10,)}
    data = npz_raw({"y.npy": npy_with_header(header, b"\0" * 64)})
    t0 = time.perf_counter()
    c = check_npz(data, ANY)
    assert c.problem is not None and "exceeds the cap" in c.problem
    assert time.perf_counter() - t0 < 0.5


def test_header_larger_than_its_data_is_refused_even_under_the_cap():
    """A header promising more bytes than the member holds is refused."""
    header = {"descr": "<f8", "fortran_order": False, "shape": (1000,)}
    data = npz_raw({"y.npy": npy_with_header(header, b"\0" * 80)})
    c = check_npz(data, ANY)
    assert c.problem is not None and "does not match its size" in c.problem


def test_object_array_is_refused_and_never_unpickled():
    """An object-dtype member is refused from its header; its pickle is never run."""
    f = io.BytesIO()
    np.save(f, np.array([Trap(), 1], dtype=object), allow_pickle=True)
    assert b"_record" in f.getvalue()  # the trap really is in the file
    c = check_npz(npz_raw({"y.npy": f.getvalue()}), ANY)
    assert c.problem is not None and "object" in c.problem
    assert UNPICKLED == []


def test_raw_pickle_member_is_refused():
    """A member that is a bare pickle, not a .npy, is a malformed header."""
    c = check_npz(npz_raw({"y.npy": pickle.dumps(Trap())}), ANY)
    assert c.problem is not None and "malformed header" in c.problem
    assert UNPICKLED == []


@pytest.mark.parametrize(
    "a",
    [np.ones(2, dtype=complex), np.array(["a", "b"]), np.zeros(2, dtype=[("f", "<f8")])],
    ids=["complex", "str", "structured"],
)
def test_non_numeric_dtypes_are_refused(a):
    """Complex, string and structured arrays do not pass."""
    c = check_npz(npz(y=a), ANY)
    assert c.problem is not None and "only numeric arrays pass" in c.problem


@pytest.mark.parametrize("a", [np.ones(2, bool), np.ones(2, np.int32), np.ones(2, np.uint8)])
def test_bool_int_and_uint_pass(a):
    """Bool, signed and unsigned integer arrays are numeric and pass."""
    assert check_npz(npz(y=a), ANY).problem is None


def test_unexpected_and_missing_names_are_refused():
    """The output names must be exactly those of the spec."""
    assert "unexpected output(s) z" in str(check_npz(npz(y=np.ones(1), z=np.ones(1)), ANY).problem)
    assert "missing output(s) y" in str(
        check_npz(npz(z=np.ones(1)), ANY | {"z": OutputSpec()}).problem
    )


def test_duplicate_members_are_refused():
    """Two members with one name (the last would silently win) are refused."""
    buffer = io.BytesIO()
    f = io.BytesIO()
    np.save(f, np.ones(2))
    with zipfile.ZipFile(buffer, "w") as z, pytest.warns(UserWarning):
        z.writestr("y.npy", f.getvalue())
        z.writestr("y.npy", f.getvalue())
    assert "unexpected entries" in str(check_npz(buffer.getvalue(), ANY).problem)


def test_bytes_that_are_not_a_zip_are_refused():
    """Text where an .npz should be is a problem, not a crash."""
    assert "not a readable .npz" in str(check_npz(b"tampered\n", ANY).problem)


def test_nan_and_inf_are_flagged_per_array():
    """Non-finite values are flagged by kind, per array; finite arrays have no flag."""
    c = check_npz(
        npz(y=np.array([np.nan, 1.0]), z=np.array([-np.inf]), w=np.ones(2)),
        {"y": OutputSpec(), "z": OutputSpec(), "w": OutputSpec()},
    )
    assert c.problem is None
    assert c.flags == {"y": ("nan",), "z": ("inf",)}


def test_big_endian_arrays_come_back_native():
    """A big-endian array is converted to native byte order, values unchanged."""
    c = check_npz(npz(y=np.arange(3, dtype=">f8")), ANY)
    assert c.arrays["y"].dtype == np.dtype("=f8")
    np.testing.assert_array_equal(c.arrays["y"], [0.0, 1.0, 2.0])


@pytest.mark.parametrize(
    ("spec", "shape", "expected"),
    [
        (OutputSpec(shape=(2, None)), (2, 7), None),
        (OutputSpec(shape=(2, None)), (3, 7), "shape (3, 7), expected (2, any)"),
        (OutputSpec(shape=(4,)), (4, 1), "shape (4, 1), expected (4,)"),
        (OutputSpec(ndim=2), (5,), "1 dimensions (shape (5,)), expected 2"),
        (OutputSpec(max_elements=10), (3, 4), "12 elements exceeds the cap of 10"),
        (OutputSpec(), (0,), None),
    ],
)
def test_output_spec_problem(spec, shape, expected):
    """OutputSpec names what is wrong with a shape, or None when it fits."""
    assert spec.problem(shape) == expected
