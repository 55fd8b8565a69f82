"""Staged numeric comparison of one student output with its expected value.

Stages, in order; the first that fails stops the comparison and names the
problem in the student's own terms (PrairieLearn style)::

    type    a numeric ndarray (bool, int or float dtype); a list or a Python
            number is converted; None means the code returned nothing
    shape   exactly the expected shape (a size-1 array counts as a scalar)
    finite  no NaN or inf
    values  within tolerance, elementwise or as a norm (``Tolerance.form``)

Pass criterion (``form``), with ``a`` the student's array and ``n`` the
expected one, both as float64::

    "max"  : |a - n| <= atol + rtol * |n|         for every element (np.isclose)
    "norm" : ||a - n|| <= atol + rtol * ||n||      Frobenius norms

Whatever the form, every comparison that reaches the values stage measures
(docs/conventions.md §4)::

    rel_error_max  : max over elements of |a - n| / max(|a|, |n|)   (0/0 counts as 0)
    rel_error_norm : ||a - n|| / (||a|| + ||n||)
    max_abs_diff   : max |a - n|
    cosine         : <a, n> / (||a|| ||n||)     None when either norm is 0
    norm_ratio     : ||a|| / ||n||               None when ||n|| is 0

Default tolerances and why: ``rtol = 1e-6``, ``atol = 1e-8``. The reference and
a correct student both compute in float64, where a different summation order
or a loop instead of a matrix product moves a gradient by ~1e-15 relative per
operation, ~1e-13 after a few hundred terms: six orders of magnitude inside
rtol. The bugs a gradient check must catch are far outside it: a missing 1/N
is a factor N (>= 2), a forgotten derivative a relative error ~0.7, and even
a C/2-vs-C penalty on C = 0.1 moves entries by ~1e-2. ``atol`` only matters
for entries whose expected value is (nearly) zero, e.g. saturated units,
where a relative test alone would demand bit-for-bit zeros. A student who
computes in float32 rounds at ~6e-8 per operation and may exceed rtol = 1e-6;
the message says so, and a rubric may loosen rtol to 1e-4 for such checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Array = np.ndarray
Stage = Literal["type", "shape", "finite", "values"]
Form = Literal["max", "norm"]
STAGES: tuple[Stage, ...] = ("type", "shape", "finite", "values")
FORMS: tuple[Form, ...] = ("max", "norm")

DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-8
# A monitoring value (the cost a class records per epoch to watch its training: the
# replay's cost_) is judged no tighter than this (docs/conventions.md §4). It is a mean
# of printed costs, each a mean over N·K entries: float64 keeps it to ~1e-15, and every
# bug it could show moves it by 1e-3 or more; what lies between is the printed form's
# detail (an ε of 1e-7 in a log moves it by ~1e-6), which the cost check owns.
MONITORING_RTOL = 1e-5
MONITORING_ATOL = 1e-8


@dataclass(frozen=True)
class Tolerance:
    """How close is close enough: ``|a - n| <= atol + rtol |n|`` (see module doc)."""

    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    form: Form = "max"

    def __post_init__(self) -> None:
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ValueError(f"tolerance {name} must be a number >= 0, got {value!r}")
        if self.form not in FORMS:
            raise ValueError(f"tolerance form must be one of {', '.join(FORMS)}, got {self.form!r}")

    def describe(self) -> str:
        """The criterion in one line, e.g. ``|got - expected| <= 1e-08 + 1e-06·|expected|``."""
        if self.form == "norm":
            return f"||got - expected|| <= {self.atol:g} + {self.rtol:g}·||expected||"
        return f"|got - expected| <= {self.atol:g} + {self.rtol:g}·|expected|"


@dataclass(frozen=True)
class Measures:
    """How far ``got`` is from ``expected`` (module doc); only for same-shape finite arrays."""

    rel_error_max: float
    rel_error_norm: float
    max_abs_diff: float
    cosine: float | None
    norm_ratio: float | None
    n_outside: int  # elements outside the elementwise tolerance
    n_total: int

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Measures:
        return cls(**d)


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare` for one output.

    name           : canonical output name ("dW1")
    stage          : the last stage reached (where it failed, or "values" when it passed)
    passed         : True only when every stage passed
    message        : one sentence for the student, using ``display_name``
    measures       : set when the values stage was reached, else None
    display_name   : the student's own name for the output ("grad1"), or ``name``
    shape          : the student's shape (None when not an array)
    expected_shape : the expected shape
    """

    name: str
    stage: Stage
    passed: bool
    message: str
    measures: Measures | None = None
    display_name: str = ""
    shape: tuple[int, ...] | None = None
    expected_shape: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stage": self.stage,
            "passed": self.passed,
            "message": self.message,
            "measures": None if self.measures is None else self.measures.to_dict(),
            "display_name": self.display_name,
            "shape": None if self.shape is None else list(self.shape),
            "expected_shape": list(self.expected_shape),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Comparison:
        return cls(
            name=d["name"],
            stage=d["stage"],
            passed=d["passed"],
            message=d["message"],
            measures=None if d["measures"] is None else Measures.from_dict(d["measures"]),
            display_name=d["display_name"],
            shape=None if d["shape"] is None else tuple(d["shape"]),
            expected_shape=tuple(d["expected_shape"]),
        )


# ---------------------------------------------------------------------------
# Measures


def rel_error_max(a: Array, n: Array) -> float:
    """max |a - n| / max(|a|, |n|) elementwise; entries where both are 0 count as 0."""
    diff = np.abs(a - n)
    scale = np.maximum(np.abs(a), np.abs(n))
    ratio = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
    return float(ratio.max()) if ratio.size else 0.0


def rel_error_norm(a: Array, n: Array) -> float:
    """||a - n|| / (||a|| + ||n||); 0 when both are zero."""
    denom = np.linalg.norm(a) + np.linalg.norm(n)
    return float(np.linalg.norm(a - n) / denom) if denom > 0 else 0.0


def cosine(a: Array, n: Array) -> float | None:
    """<a, n> / (||a|| ||n||), or None when either is zero."""
    na, nn = np.linalg.norm(a), np.linalg.norm(n)
    if na == 0 or nn == 0:
        return None
    return float(np.clip(np.sum(a * n) / (na * nn), -1.0, 1.0))


def norm_ratio(a: Array, n: Array) -> float | None:
    """||a|| / ||n||, or None when ||n|| is zero."""
    nn = np.linalg.norm(n)
    return float(np.linalg.norm(a) / nn) if nn > 0 else None


def outside(a: Array, n: Array, tol: Tolerance) -> Array:
    """Boolean mask of the elements outside ``|a - n| <= atol + rtol |n|``."""
    return ~(np.abs(a - n) <= tol.atol + tol.rtol * np.abs(n))


def within(a: Array, n: Array, tol: Tolerance) -> bool:
    """The pass criterion of ``tol.form`` on two same-shape float arrays."""
    if tol.form == "norm":
        return bool(np.linalg.norm(a - n) <= tol.atol + tol.rtol * np.linalg.norm(n))
    return not outside(a, n, tol).any()


def measure(a: Array, n: Array, tol: Tolerance) -> Measures:
    """Every measure of the module doc for same-shape finite arrays."""
    return Measures(
        rel_error_max=rel_error_max(a, n),
        rel_error_norm=rel_error_norm(a, n),
        max_abs_diff=float(np.abs(a - n).max()) if a.size else 0.0,
        cosine=cosine(a, n),
        norm_ratio=norm_ratio(a, n),
        n_outside=int(outside(a, n, tol).sum()),
        n_total=int(a.size),
    )


# ---------------------------------------------------------------------------
# The stages


def as_numeric(value: object) -> Array | str:
    """``value`` as a float64 ndarray, or a phrase saying what it is instead.

    Accepts numeric ndarrays (bool, int, float dtypes), numpy scalars, Python
    bool/int/float, and lists or tuples that numpy turns into such an array.
    """
    if value is None:
        return "nothing (None)"
    if isinstance(value, np.ndarray | np.generic):
        arr = np.asarray(value)
    elif isinstance(value, bool | int | float | list | tuple):
        try:
            arr = np.asarray(value)
        except ValueError:  # ragged nested lists
            return "a ragged list (rows of different lengths)"
    else:
        return f"a {type(value).__name__}"
    if arr.dtype.kind not in "biuf":
        return f"an array of dtype {arr.dtype}"
    return arr.astype(np.float64)


def _count(n: int, what: str) -> str:
    return f"{n} {what} value{'s' if n != 1 else ''}"


def _non_finite(name: str, a: Array) -> str | None:
    nan, inf = int(np.isnan(a).sum()), int(np.isinf(a).sum())
    if nan and inf:
        return f"'{name}' contains {nan} NaN and {inf} inf values"
    if nan or inf:
        return f"'{name}' contains {_count(nan, 'NaN') if nan else _count(inf, 'inf')}"
    return None


def compare(
    name: str,
    got: object,
    expected: Array,
    tol: Tolerance | None = None,
    *,
    display_name: str | None = None,
    shape_hint: str | None = None,
    original_dtype: str | None = None,
) -> Comparison:
    """Compare one student output with its expected value, stage by stage.

    Parameters
    ----------
    name : str
        Canonical output name ("dW1").
    got : object
        What the student's code returned (normally an ndarray).
    expected : ndarray
        The reference value (finite; a non-finite expected value is a grader bug).
    tol : Tolerance
        Defaults to ``Tolerance()`` (rtol 1e-6, atol 1e-8, elementwise).
    display_name : str, optional
        The student's own name for this output, used in every message.
    shape_hint : str, optional
        The expected shape as the student should read it, e.g. ``"(4, 6), i.e.
        (H, D+1) with the bias in column 0"``; default the expected shape.
    original_dtype : str, optional
        The dtype the student's array had before any layout conversion (to
        explain float32 rounding); default ``got``'s own dtype.
    """
    tol = tol or Tolerance()
    shown = display_name or name
    exp = np.asarray(expected, dtype=np.float64)
    if not np.isfinite(exp).all():
        raise ValueError(f"the expected value of {name!r} is not finite: a grader bug")

    def result(stage: Stage, passed: bool, message: str, **more: Any) -> Comparison:
        return Comparison(
            name, stage, passed, message, display_name=shown, expected_shape=exp.shape, **more
        )

    arr = as_numeric(got)
    if isinstance(arr, str):
        if got is None:
            return result("type", False, f"your code returned no '{shown}'")
        return result("type", False, f"'{shown}' should be a numeric array, got {arr}")

    if arr.shape != exp.shape:
        if exp.shape == () and arr.size == 1:
            arr = arr.reshape(())  # a cost returned as array([c]) is still a scalar
        else:
            hint = shape_hint or str(exp.shape)
            message = f"'{shown}' has the wrong shape: got {arr.shape}, expected {hint}"
            if arr.ndim == 2 and arr.shape == exp.shape[::-1]:
                message += " (the transpose)"
            return result("shape", False, message, shape=arr.shape)

    bad = _non_finite(shown, arr)
    if bad:
        return result("finite", False, bad, shape=exp.shape)

    m = measure(arr, exp, tol)
    passed = within(arr, exp, tol)
    if passed:
        message = (
            f"'{shown}' matches the expected values (max relative error {m.rel_error_max:.1e})"
        )
    elif tol.form == "norm":
        bound = tol.atol + tol.rtol * float(np.linalg.norm(exp))
        message = (
            f"'{shown}' differs from the expected values: ||got - expected|| = "
            f"{float(np.linalg.norm(arr - exp)):.3g} exceeds {tol.atol:g} + {tol.rtol:g}·||expected|| = {bound:.3g} "
            f"(relative error {m.rel_error_norm:.3g})"
        )
    else:
        message = (
            f"'{shown}' differs from the expected values: {m.n_outside} of {m.n_total} "
            f"entries outside {tol.describe()} (max relative error {m.rel_error_max:.3g}, "
            f"max abs difference {m.max_abs_diff:.3g})"
        )
    dtype = original_dtype or (str(got.dtype) if isinstance(got, np.ndarray) else None)
    if not passed and dtype in ("float32", "float16"):
        message += f"; your array is {dtype}, whose rounding alone gives relative errors near 1e-7"
    return result("values", passed, message, measures=m, shape=exp.shape)
