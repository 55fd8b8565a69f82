"""Child side of the probe contract: ask a student's code one question.

This file is copied into the sandbox's job directory and runs in the child,
beside the student's code, so it imports only the standard library and numpy
(never ``grader`` or ``reference``).

One function per probe call (the calls of ``grader/contract.py``, which this file cannot
import; ``tests/grader/test_contract.py`` keeps the two equal), each
``fn(ns, inputs, params) -> dict[str, ndarray]``:

- ``ns``      the namespace the student's prepared code was executed into
- ``inputs``  arrays already in the student's layout (the parent prepared them)
- ``params``  JSON: ``params["adapter"]`` is the complete binding
              (``grader.adapters.binding.AdapterBinding.to_json``), the rest are
              the probe's hyper-parameters (C, eta, alpha, epochs, ...); an
              optional ``input_prefix`` is stripped from the input names (for a
              plan that namespaces each probe's inputs in one shared file)

Each returns the student's RAW arrays, in the student's own layout, under the
output names fixed per style (``grader.probes`` converts them to the lecture's
layout in the trusted parent). A call the student's API cannot answer raises
:class:`ProbeUnsupported`; a method that returns something unusable raises a
TypeError naming the method and what it returned.

Styles: ``template`` (the project's assignment: plain functions),
``course_separate`` / ``course_folded`` (the course's ``TLPMiniBatch``
classes), ``textbook_rows`` (``NeuralNetMLP``), and ``custom`` (a file shipped
with the rubric, defining these same functions, embedded in ``CUSTOM_SOURCES``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

Array = np.ndarray
Outputs = dict[str, Array]

# Bound when this module loads, before any student code runs (grader.sandbox.child.runner):
# a submission cannot slow the baseline down by replacing np.tanh (the baseline runs before
# the submission is loaded in any case; the supervisor owns the clock).
_tanh = np.tanh


class ProbeUnsupported(Exception):  # noqa: N818 (the contract's name)
    """The student's API cannot answer this call: the check is "not assessed", never failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ParametersNotHeld(ProbeUnsupported):
    """An instance that does not hold the parameters the child set into it (``_set_paths``).
    The parent reads only this class name (grader.adapters.support.params_refused)."""


class DrawsRefused(ProbeUnsupported):
    """``fit`` drew permutations the replay cannot hand out (more than one per epoch, one
    with shuffling off, one of another length): the run cannot be replayed draw by draw.
    The parent reads only this class name (grader.adapters.support.draws_refused)."""


class AttributeUnset(Exception):  # noqa: N818 (the contract's name)
    """``fit`` returned without setting an attribute the binding reads from it (``score_``
    in a class that records it only with a validation set). Its message is exactly
    ``fit did not set attribute '<name>'``: the parent makes the check "not assessed" only
    when the name is the binding's own (grader.adapters.support.unset_attribute)."""


# ---------------------------------------------------------------------------
# Guards on what student code returns


def _array(value: Any, what: str, dtype: type = np.float64) -> Array:
    """``value`` as a fresh numeric array (lists, tuples of numbers, pandas objects, bools)."""
    if isinstance(value, dict):
        raise TypeError(f"{what} returned a dict (keys {list(value)[:6]}), expected an array")
    try:
        a = np.array(value)  # a copy: later in-place changes by the student cannot alter it
    except (ValueError, TypeError) as e:
        raise TypeError(f"{what} returned {type(value).__name__}, not an array: {e}") from None
    if a.dtype == object or not (a.dtype == bool or np.issubdtype(a.dtype, np.number)):
        raise TypeError(
            f"{what} returned {type(value).__name__} of dtype {a.dtype}, expected numbers"
        )
    if np.iscomplexobj(a):
        raise TypeError(f"{what} returned complex numbers")
    whole = a.dtype == bool or np.issubdtype(a.dtype, np.integer)
    if (
        dtype is np.int64
        and not whole
        and a.size
        and not np.all(np.isfinite(a) & (a == np.round(a)))
    ):
        raise TypeError(f"{what} returned non-integer values, expected class labels")
    return a.astype(dtype)


def _scalar(value: Any, what: str) -> Array:
    a = _array(value, what)
    if a.size != 1:
        raise TypeError(f"{what} returned an array of shape {a.shape}, expected one number")
    return a.reshape(())


def _unpack(value: Any, names: Sequence[str], what: str) -> list[Any]:
    """A returned tuple of ``len(names)`` values, or a TypeError saying what came back."""
    n = len(names)
    if isinstance(value, np.ndarray) or not isinstance(value, tuple | list):
        kind = f"one {type(value).__name__}"
        if isinstance(value, np.ndarray):
            kind += f" of shape {value.shape}"
        raise TypeError(f"{what} returned {kind}, expected {n} values: {', '.join(names)}")
    if len(value) != n:
        raise TypeError(f"{what} returned {len(value)} values, expected {n}: {', '.join(names)}")
    return list(value)


def _keyed(value: Any, keys: Sequence[str], what: str) -> dict[str, Array]:
    """A returned dict holding ``keys``, as arrays; a TypeError naming what is missing."""
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{what} returned {type(value).__name__}, expected a dict with {', '.join(keys)}"
        )
    missing = [k for k in keys if k not in value]
    if missing:
        raise TypeError(f"{what} returned a dict without {', '.join(missing)}")
    return {k: _array(value[k], f"{what}[{k!r}]") for k in keys}


def _check_order(
    arrays: Sequence[Array], shapes: Sequence[tuple[int, ...]], names: Sequence[str], what: str
) -> None:
    """A TypeError when the returned shapes are the expected ones in another order."""
    got = [a.shape for a in arrays]
    if got != list(shapes) and sorted(got) == sorted(shapes):
        wanted = ", ".join(f"{n} {s}" for n, s in zip(names, shapes, strict=True))
        raise TypeError(
            f"{what} returned its arrays in another order: got shapes {got}, "
            f"expected {wanted} in that order"
        )


def _accepted(method: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` the method's signature takes by name (all of them when it takes ``**kw``
    or cannot be read): the course's older ``_get_gradient(A1, A2, A3, Z2, W1, W2)`` has no Z1."""
    import inspect

    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return dict(values)
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return dict(values)
    return {k: v for k, v in values.items() if k in params}


def _by_meaning(method: Any, values: Mapping[str, Any]) -> dict[str, Any] | None:
    """``values`` (the course's names: A1, Z1, A2, Z2, A3, Y_enc, W1, W2) as keywords under
    the method's own parameter names, where those differ only in case or numbering: the
    textbook's first edition writes ``_get_gradient(a1, a2, a3, z2, y_enc, w1, w2)``, its z
    numbered by the activation it feeds (z2 -> a2, the course's Z1), and
    ``_get_cost(y_enc, output, w1, w2)``. None when a parameter without a default has no
    value of that meaning (the call then goes as the course's would)."""
    import inspect
    import re

    try:
        params = list(inspect.signature(method).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None  # takes any keyword: _accepted hands it every value
    lower = {k.lower(): v for k, v in values.items()}
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    zs = [n for n in names if re.fullmatch(r"z\d", n.lower())]
    shift = bool(zs) and "z1" not in [n.lower() for n in zs]  # z2 is the hidden layer's
    out: dict[str, Any] = {}
    for p in params:
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            continue
        key = p.name.lower()
        if shift and re.fullmatch(r"z\d", key):
            key = f"z{int(key[1]) - 1}"
        key = {"output": "a3", "a_out": "a3", "y": "y_enc", "y_onehot": "y_enc"}.get(key, key)
        if key in lower:
            out[p.name] = lower[key]
        elif p.default is p.empty:
            return None
    return out


def _required(method: Any) -> int:
    """How many positional arguments ``method`` requires (0 when it cannot be told)."""
    import inspect

    try:
        params = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return 0
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in params if p.kind in kinds and p.default is p.empty)


def _function(ns: Mapping[str, Any], name: str, what: str) -> Callable[..., Any]:
    if not name:
        raise ProbeUnsupported(f"the binding names no {what}")
    fn = ns.get(name)
    if fn is None:
        raise ProbeUnsupported(f"the submission defines no {name!r} ({what})")
    if not callable(fn):
        raise ProbeUnsupported(
            f"{name!r} in the submission is a {type(fn).__name__}, not a function"
        )
    return fn


def _baseline_workload(W: list[Array], b: list[Array], X: Array) -> list[Array]:
    """The matrix products of one vectorised gradient, in the same shapes; NOT a gradient.

    The timing check needs a baseline that costs what a vectorised gradient costs on
    this machine, measured in the same process. It must not be a working solution:
    this file travels with the student kit. So the elementwise parts do as many
    operations as back-propagation's but compute something else (no cost derivative,
    no activation derivative); the products (W A, V A^T, W^T V) and the row sums are
    those of back-propagation, in the same shapes.
    """
    A = [X]
    for Wl, bl in zip(W, b, strict=True):
        A.append(0.5 * (1.0 + _tanh(0.5 * (Wl @ A[-1] + bl))))
    V = (A[-1] - 0.5) * A[-1] * (1.0 - A[-1])  # elementwise work of an output delta, no cost
    out = []
    for l in range(len(W) - 1, -1, -1):
        out += [V @ A[l].T, V.sum(axis=1, keepdims=True)]
        if l:
            V = A[l] * (2.0 - A[l]) * (W[l].T @ V)  # as many operations as a hidden delta
    return out


def timed_scale(k: int) -> float:
    """The factor on every parameter array in the timing probe's call ``k``.

    Each timed call gets other parameters, so a gradient that caches its answer
    gains nothing; a scalar factor is the same in every layout (transposed,
    folded bias), so the parent computes the reference's answer from its own copy.
    """
    return 1.0 + 0.1 * k


def timed_calls(params: Mapping[str, Any]) -> int:
    """How many times the timing probe (and its baseline) calls: a warm-up, then ``repeats``."""
    return 1 + max(1, int(params.get("repeats", 5)))


def _timed_sum(gradient: Callable[[int], Outputs], params: Mapping[str, Any]) -> Outputs:
    """The sum of the student's gradients over the timed calls (each with other parameters).

    The supervisor times the whole probe on its own clock; the parent checks the sum
    against the reference's, so a gradient that skips work on the large batch fails.
    """
    total: dict[str, Array] = {}
    for k in range(timed_calls(params)):
        for name, g in gradient(k).items():
            total[name] = total[name] + g if name in total else g.astype(np.float64)
    return total


def _scaled(inputs: Mapping[str, Array], names: Sequence[str], k: int) -> dict[str, Array]:
    """``inputs`` with the parameter arrays ``names`` multiplied by :func:`timed_scale`."""
    return {**inputs, **{n: inputs[n] * timed_scale(k) for n in names}}


def baseline(inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
    """The timing baseline: the matrix products of one vectorised gradient, as many times as
    the timing probe calls the student's, on arrays of its shapes (canonical layout).

    Run by the runner before any code of the student's is loaded; the supervisor times it.
    """
    L = sum(1 for k in inputs if k.startswith("base_W"))
    W = [inputs[f"base_W{l}"] for l in range(1, L + 1)]
    b = [inputs[f"base_b{l}"] for l in range(1, L + 1)]
    checksum = 0.0
    for _ in range(timed_calls(params)):
        checksum += float(_baseline_workload(W, b, inputs["base_X"])[0].sum())
    return {"checksum": np.array(checksum)}


class _Permutations:
    """Stands in for ``np.random.permutation`` during ``fit``: hands out the parent's draws in order."""

    def __init__(self, perms: Array) -> None:
        self.perms = perms
        self.calls = 0
        # why a draw was refused: the run cannot be replayed, which is no error of the
        # student's (the probe says "not assessed" after fit, whatever fit did with the error)
        self.refused = ""

    def _refuse(self, why: str) -> Any:
        self.refused = self.refused or why
        raise RuntimeError(why)

    def __call__(self, x: Any) -> Array:
        N = self.perms.shape[1]
        n = int(x) if np.ndim(x) == 0 else len(x)
        if not len(self.perms):
            return self._refuse("fit called np.random.permutation although shuffle=False")
        if self.calls >= len(self.perms):
            return self._refuse(
                f"fit called np.random.permutation more than once per epoch "
                f"({len(self.perms)} epochs); the grader replays one permutation per epoch"
            )
        if n != N:
            return self._refuse(f"fit asked np.random.permutation for {n} items; the data has {N}")
        p = self.perms[self.calls].copy()
        self.calls += 1
        return p if np.ndim(x) == 0 else np.asarray(x)[p]


class _StartDraws:
    """Stands in for the random generator a ``fit`` draws its start from (the textbook's
    ``self.random``, numpy's global draws): hands out the parent's weight matrices in order,
    each by the shape asked (or its transpose, for a class storing (out, in)). Anything else
    it is asked is recorded as ``refused`` and the probe says "not assessed" after fit: a
    class that draws otherwise cannot be started where the grader asks, which is no error of
    its code. The arrays are copies: nothing fit does to them reaches the parent's."""

    def __init__(self, arrays: Sequence[Array]) -> None:
        self.arrays = [np.array(a, dtype=np.float64) for a in arrays]
        self.handed = 0
        self.refused = ""

    def _refuse(self, why: str) -> Any:
        self.refused = self.refused or why
        raise RuntimeError(why)

    def _next(self, size: Any) -> Array:
        try:
            shape = tuple(int(n) for n in np.atleast_1d(np.asarray(size, dtype=np.int64)))
        except (TypeError, ValueError, OverflowError):
            return self._refuse(f"fit drew a random array of size {size!r}")
        if self.handed >= len(self.arrays):
            return self._refuse(
                f"fit drew more than {len(self.arrays)} random arrays (one per weight matrix)"
            )
        a = self.arrays[self.handed]
        if shape == a.shape:
            out = a.copy()
        elif a.ndim == 2 and shape == a.T.shape:
            out = a.T.copy()
        else:
            return self._refuse(
                f"fit drew a random array of shape {shape} where the grader's weight matrix "
                f"{self.handed + 1} is {a.shape}"
            )
        self.handed += 1
        return out

    def normal(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None) -> Array:
        return self._next(size)

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None) -> Array:
        return self._next(size)

    def standard_normal(self, size: Any = None, *args: Any, **kwargs: Any) -> Array:
        return self._next(size)

    def randn(self, *shape: Any) -> Array:
        return self._next(shape)

    def rand(self, *shape: Any) -> Array:
        return self._next(shape)

    def shuffle(self, x: Any) -> None:
        self._refuse("fit shuffled although it was built with shuffle=False")

    def permutation(self, x: Any) -> Array:
        return self._refuse("fit drew a permutation although it was built with shuffle=False")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle, numpy's protocol probes: not a draw
            raise AttributeError(name)
        return self._refuse(f"fit asked its random generator for {name!r}")


_DRAW_FUNCTIONS = (
    "normal",
    "uniform",
    "standard_normal",
    "randn",
    "rand",
    "permutation",
    "shuffle",
)
# numpy's aliases of builtins, removed in numpy 1.24: the textbook's 2nd and 3rd editions
# count accuracy with ``.astype(np.float)`` in fit. Restored only while the grader runs fit
# for one step, and only where this numpy lacks them: the installed numpy's difference,
# not the student's error.
_REMOVED_ALIASES = {"float": float, "int": int, "bool": bool, "object": object, "complex": complex}


def _run_fit_with_draws(net: Any, fit: Callable[[], Any], draws: _StartDraws) -> None:
    """``fit()`` with ``draws`` standing in for every generator the instance holds and for
    numpy's global draws, and numpy's removed aliases present; everything restored after."""
    held = getattr(net, "__dict__", {})
    generators = (np.random.RandomState, np.random.Generator)
    for name, value in list(held.items()):
        if isinstance(value, generators):
            held[name] = draws
    saved = {f: getattr(np.random, f) for f in _DRAW_FUNCTIONS}
    added = [k for k in _REMOVED_ALIASES if k not in np.__dict__]
    try:
        for f in _DRAW_FUNCTIONS:
            setattr(np.random, f, getattr(draws, f))
        for k in added:
            setattr(np, k, _REMOVED_ALIASES[k])
        fit()
    finally:
        for f, fn in saved.items():
            setattr(np.random, f, fn)
        for k in added:
            np.__dict__.pop(k, None)


# ---------------------------------------------------------------------------
# Adapters


# ---------------------------------------------------------------------------
# The self-consistency check: the student's gradient against the slope of the declared
# objective computed through the student's own forward pass


def _objective_parts(
    A: Array, Y: Array, weights: Sequence[Array], biases: Sequence[Array], conv: Mapping[str, Any]
) -> Array:
    """(data term summed over instances, sum of squares, sum of absolute values) at A.

    A, Y : (K, N). The penalised arrays are the weights (and biases if the check
    declares a penalised bias). The parent weighs the three parts by the declared
    objective's factors (or an accepted convention's), so the child needs no more.
    """
    loss = conv.get("loss", "squared")
    with np.errstate(all="ignore"):
        if loss == "squared":
            data = np.sum((Y - A) ** 2)
        elif loss == "bce":
            data = -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A))
        else:
            data = -np.sum(Y * np.log(A))
    arrays = [*weights, *(biases if conv.get("penalize_bias") else ())]
    square = sum(float((W * W).sum()) for W in arrays)
    absolute = sum(float(np.abs(W).sum()) for W in arrays)
    return np.array([float(data), square, absolute])


_FORWARD = ("A1", "Z1", "A2", "Z2", "A3")  # what the course's _feedforward returns
_ITEM = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\[([0-9])\]")  # a list's item: weights[0]


def _read_path(net: Any, path: str) -> Any:
    """The instance's attribute ``path``: a plain name, or ``name[i]``, an item of a real
    list or tuple (anything else is not indexed: its ``__getitem__`` is the student's)."""
    item = _ITEM.fullmatch(path)
    if item is None:
        return getattr(net, path)
    held = getattr(net, item[1])
    if type(held) not in (list, tuple) or int(item[2]) >= len(held):
        raise TypeError(
            f"attribute {item[1]} is {type(held).__name__}"
            + (f" of {len(held)} items" if type(held) in (list, tuple) else "")
            + f", expected a list holding {path}"
        )
    return held[int(item[2])]


def _set_paths(net: Any, values: Mapping[str, Array]) -> None:
    """Set each array at its path (``W1`` or ``weights[0]``: the items of one list become a
    fresh list), then read each back: an instance that does not hold exactly the arrays set
    (a ``weights`` property or ``__setattr__`` that keeps something else) cannot be asked
    with the grader's parameters, which is no error of the student's (ProbeUnsupported)."""
    lists: dict[str, dict[int, Array]] = {}
    for path, value in values.items():
        item = _ITEM.fullmatch(path)
        if item is None:
            setattr(net, path, value)
        else:
            lists.setdefault(item[1], {})[int(item[2])] = value
    for name, items in lists.items():
        if sorted(items) != list(range(len(items))):
            raise ProbeUnsupported(f"the binding's items of {name} are not 0..{len(items) - 1}")
        setattr(net, name, [items[i] for i in range(len(items))])
    for path, value in values.items():
        try:
            held = _read_path(net, path)
        except Exception:  # the student's property raised: it does not hold it either
            held = None
        if held is not value:  # identity: no __eq__ of the student's is asked
            raise ParametersNotHeld(
                f"attribute {path} does not hold the array the grader set there, so the class "
                "cannot be asked with the grader's parameters"
            )


def _flattened(value: Any) -> Any:
    """``(grads_W, grads_b)``, lists of one array per layer, as one flat list (weights
    first); anything else as it is (the unpacking then says what came back)."""
    if isinstance(value, tuple | list) and all(type(v) in (list, tuple) for v in value):
        return [g for v in value for g in v]
    return value


class _Adapter:
    """Base: a call is unsupported until a style defines a method of its name (:func:`_run`)."""

    style = ""

    def __init__(self, ns: Mapping[str, Any], binding: Mapping[str, Any]) -> None:
        self.ns, self.b = ns, binding

    def answer(self, call: str) -> Callable[[Mapping[str, Array], Mapping[str, Any]], Outputs]:
        """The style's method for ``call``; ProbeUnsupported when the style defines none."""
        method = getattr(self, call, None)
        if method is None:
            raise ProbeUnsupported(f"the {self.style} adapter has no way to ask for {call!r}")
        return method

    def self_check_names(self, inputs: Mapping[str, Array]) -> dict[str, str]:
        """The student's parameter name -> its gradient's output name."""
        raise ProbeUnsupported(f"the {self.style!r} adapter has no self-consistency check")

    def split(
        self, P: Mapping[str, Array], names: Sequence[str], weights: Sequence[str]
    ) -> tuple[list[Array], list[Array]]:
        """(the weights the penalty sums, the biases) among the student's arrays ``names``."""
        return [P[n] for n in weights], [P[n] for n in names if n not in weights]

    def gradcheck_self(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        """Slopes along random unit directions d: the gradient's <g, d>, and the central
        differences (f(P + h d) - f(P - h d)) / 2h of each part of the objective
        (:func:`_objective_parts`) through the student's own forward pass (docs/conventions.md §4)."""
        names = self.self_check_names(inputs)
        conv = params.get("conventions") or {}
        h = float(params.get("h", 1e-5))
        grads = self.answer("gradients")(inputs, params)
        for n, g in names.items():
            if grads[g].shape != inputs[n].shape:
                raise TypeError(
                    f"'{g}' has shape {grads[g].shape}; the gradient of {n} has its shape {inputs[n].shape}"
                )
        weights = [n for n in names if n.startswith("W")]

        def parts(P: Mapping[str, Array]) -> Array:
            A = next(iter(self.answer("forward")({**inputs, **P}, params).values()))
            penalised, biases = self.split(P, list(names), weights)
            return _objective_parts(A, inputs["Y"], penalised, biases, conv)

        rng = np.random.default_rng(20260101)
        slope_g, slope_parts = [], []
        for _ in range(int(conv.get("directions", 4))):
            d = {n: rng.standard_normal(inputs[n].shape) for n in names}
            norm = float(np.sqrt(sum((v * v).sum() for v in d.values())))
            d = {n: v / norm for n, v in d.items()}
            slope_g.append(float(sum((grads[names[n]] * d[n]).sum() for n in names)))
            plus = parts({n: inputs[n] + h * d[n] for n in names})
            minus = parts({n: inputs[n] - h * d[n] for n in names})
            slope_parts.append((plus - minus) / (2 * h))
        by_part = np.array(slope_parts).T
        return {
            "slope_gradient": np.array(slope_g),
            "slope_data": by_part[0],
            "slope_square": by_part[1],
            "slope_abs": by_part[2],
        }


class Template(_Adapter):
    """The project's assignment: plain functions on a dict of W1..WL, b1..bL, columns are instances.

    The lab level: a check declaring another activation or loss (``params["conventions"]``)
    passes it as keywords (``hidden="relu"``, ``output="softmax"``, ``loss="cce"``), and only
    then, so a core-level submission without those keywords still answers the core checks;
    an optimiser other than momentum (course or heavy-ball form, both ``momentum_step``) is
    asked through ``optimizer_step``.
    """

    style = "template"
    MODEL_DEFAULTS: ClassVar[dict[str, str]] = {
        "hidden": "sigmoid",
        "output": "sigmoid",
        "loss": "squared",
    }
    MOMENTUM_STEP = ("momentum_course", "momentum_heavy_ball")  # momentum_step's signature

    def fn(self, role: str) -> Callable[..., Any]:
        return _function(self.ns, self.b["methods"].get(role, ""), f"{role} function")

    def model(self, params: Mapping[str, Any], keys: Sequence[str]) -> dict[str, str]:
        """The declared activations / loss that differ from the template's (as keywords)."""
        conv = params.get("conventions") or {}
        return {
            k: str(conv[k])
            for k in keys
            if conv.get(k, self.MODEL_DEFAULTS[k]) != self.MODEL_DEFAULTS[k]
        }

    def self_check_names(self, inputs: Mapping[str, Array]) -> dict[str, str]:
        return {k: f"d{k}" for k in self.params_of(inputs)}

    def initialize(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        """``init_params(sizes, seed)`` -> the student's initial W1.., b1.. (the lab's Glorot)."""
        name = self.b["methods"].get("initialize", "")
        if not name:
            raise ProbeUnsupported("the adapter binds no initialisation function")
        sizes = [int(n) for n in params["sizes"]]
        seed = params.get("random_state")
        out = self.fn("initialize")(sizes, None if seed is None else int(seed))
        return _keyed(out, list(self.params_of(inputs)), name)

    @staticmethod
    def params_of(inputs: Mapping[str, Array]) -> dict[str, Array]:
        return {k: inputs[k].copy() for k in inputs if k[0] in "Wb" and k[1:].isdigit()}

    def forward(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        P = self.params_of(inputs)
        name = self.b["methods"]["forward"]
        A = self.fn("forward")(P, inputs["X"].copy(), **self.model(params, ("hidden", "output")))
        L = len(P) // 2
        A = _unpack(A, [f"A{l}" for l in range(1, L + 2)], f"{name}(params, X)")
        return {"A_out": _array(A[-1], name)}

    def _gradients(
        self, P: dict[str, Array], X: Array, Y: Array, C: float, model: Mapping[str, str]
    ) -> Outputs:
        name = self.b["methods"]["gradients"]
        return _keyed(self.fn("gradients")(P, X, Y, C, **model), [f"d{k}" for k in P], name)

    def gradients(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        return self._gradients(
            self.params_of(inputs),
            inputs["X"].copy(),
            inputs["Y"].copy(),
            float(params["C"]),
            self.model(params, tuple(self.MODEL_DEFAULTS)),
        )

    def cost(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        name = self.b["methods"]["cost"]
        J = self.fn("cost")(
            self.params_of(inputs),
            inputs["X"].copy(),
            inputs["Y"].copy(),
            float(params["C"]),
            **self.model(params, tuple(self.MODEL_DEFAULTS)),
        )
        return {"cost": _scalar(J, name)}

    def optimizer(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        """T steps from the given gradients: ``momentum_step(params, grads, rho_prev, eta,
        alpha) -> (params, rho)`` for momentum, else ``optimizer_step(params, grads, state,
        eta, method, hyper) -> (params, state)`` (``state`` is the student's, None at first)."""
        conv = params.get("conventions") or {}
        method = str(conv.get("optimizer") or self.MOMENTUM_STEP[0])
        eta, P = float(params["eta"]), self.params_of(inputs)
        names = list(P)
        if method in self.MOMENTUM_STEP:
            role, outs = "optimizer", ["params", "rho"]
            extra: tuple[Any, ...] = (float(params["alpha"]),)
            state: Any = {k: np.zeros_like(v) for k, v in P.items()}
        else:
            role, outs = "optimizer_step", ["params", "state"]
            if not self.b["methods"].get(role, ""):
                raise ProbeUnsupported(
                    f"the adapter binds no optimizer_step function for {method!r}"
                )
            extra, state = (method, dict(conv.get("optimizer_hyper") or {})), None
        name, step = self.b["methods"][role], self.fn(role)
        trail: dict[str, list[Array]] = {k: [] for k in names}
        for t in range(inputs[f"d{names[0]}"].shape[0]):
            grads = {f"d{k}": inputs[f"d{k}"][t].copy() for k in names}
            out = _unpack(step(P, grads, state, eta, *extra), outs, name)
            P = _keyed(out[0], names, f"{name} params")
            state = _keyed(out[1], names, f"{name} rho") if role == "optimizer" else out[1]
            for k in names:
                trail[k].append(P[k])
        return {k: np.stack(v) for k, v in trail.items()}

    def schedule(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        name = self.b["methods"]["schedule"]
        fn = self.fn("schedule")
        eta0, d = float(params["eta"]), float(params["decrease_const"])
        return {
            "eta": np.array([_scalar(fn(eta0, d, k), name) for k in range(int(params["epochs"]))])
        }

    def schedule_order(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        name = self.b["methods"]["schedule"]
        fn = self.fn("schedule")
        eta0, d = float(params["eta"]), float(params["decrease_const"])
        asked = [int(k) for k in inputs["epochs_asked"]]
        return {"eta": np.array([_scalar(fn(eta0, d, k), name) for k in asked])}

    def converge(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        raise ProbeUnsupported(
            "the template's train takes its initial weights and batch order as arguments, "
            "so its convergence is checked by the replay"
        )

    def train(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        name = self.b["methods"]["train"]
        P = self.params_of(inputs)
        out = self.fn("train")(
            P,
            inputs["X"].copy(),
            inputs["y"].copy(),
            inputs["orders"].copy(),
            float(params["eta"]),
            float(params["alpha"]),
            float(params["C"]),
            float(params["decrease_const"]),
            int(params["minibatches"]),
        )
        P_out, cost, acc = _unpack(out, ["params", "cost", "accuracy"], name)
        return _keyed(P_out, list(P), f"{name} params") | {
            "cost": _array(cost, f"{name} cost"),
            "accuracy": _array(acc, f"{name} accuracy"),
        }

    def predict(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        name = self.b["methods"]["predict"]
        labels = self.fn("predict")(
            self.params_of(inputs), inputs["X"].copy(), **self.model(params, ("hidden", "output"))
        )
        return {"labels": _array(labels, name, np.int64)}

    def one_hot(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        name = self.b["methods"]["one_hot"]
        return {"Y": _array(self.fn("one_hot")(inputs["y"].copy(), int(params["n_classes"])), name)}

    def timing(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        """The sum of the gradients of the timed calls (no penalty: C = 0, so every
        accepted convention of the data term is a scalar multiple of the reference's)."""
        P, X, Y = self.params_of(inputs), inputs["X"], inputs["Y"]
        self.fn("gradients")
        model = self.model(params, tuple(self.MODEL_DEFAULTS))
        return _timed_sum(
            lambda k: self._gradients(_scaled(P, list(P), k), X.copy(), Y.copy(), 0.0, model),
            params,
        )


class _ClassAdapter(_Adapter):
    """A student's class: construct it from the binding's keywords, call its bound methods."""

    def method_name(self, role: str) -> str:
        name = self.b["methods"].get(role, "")
        if not name:
            raise ProbeUnsupported(
                f"{self.b['class']} has no {role} method in this binding"
                + (
                    " (the course computes it inline in fit)"
                    if role in ("schedule", "optimizer")
                    else ""
                )
            )
        return name

    def call(self, net: Any, role: str, *args: Any, **kwargs: Any) -> Any:
        name = self.method_name(role)
        method = getattr(net, name, None)
        if method is None or not callable(method):
            raise ProbeUnsupported(f"{self.b['class']} has no method {name!r}")
        return method(*args, **kwargs)

    def net(self, params: Mapping[str, Any], sizes: bool = True) -> Any:
        """A fresh instance built with the probe's hyper-parameters, sized as fit would size it."""
        cls = self.ns.get(self.b["class"])
        if cls is None or not isinstance(cls, type):
            raise ProbeUnsupported(f"the submission defines no class {self.b['class']!r}")
        kwargs = {kw: params[k] for k, kw in self.b["constructor"].items() if kw and k in params}
        C = float(params.get("C") or 0.0)
        if C and not self.b["constructor"].get("C"):
            # the class has no penalty keyword (the 4th edition's NeuralNetMLP): its
            # gradient or cost with a penalty cannot be asked for
            raise ProbeUnsupported(
                f"{self.b['class']} takes no penalty keyword, so it cannot be asked for "
                f"its gradient or cost with a penalty (C = {C:g})"
            )
        try:
            net = cls(**kwargs)
        except TypeError as e:  # most often a keyword the binding maps but the class lacks
            raise TypeError(
                f"{self.b['class']}({', '.join(f'{k}=...' for k in kwargs)}) failed: {e} "
                "(the keywords come from adapter.constructor)"
            ) from e
        if sizes:
            for role in ("n_features", "n_output"):
                attr = self.b["attributes"].get(role, "")
                if attr and role in params:
                    setattr(net, attr, int(params[role]))
        return net


class CourseSeparate(_ClassAdapter):
    """The course's separate-bias classes (``TLPMiniBatch``): X rows in, columns inside."""

    style = "course_separate"
    grad_names: ClassVar[dict[str, str]] = {
        "W1": "gradW1",
        "W2": "gradW2",
        "b1": "gradb1",
        "b2": "gradb2",
    }

    def params_of(self, inputs: Mapping[str, Array]) -> list[Array]:
        return [inputs[k].copy() for k in self.param_names()]

    def param_names(self) -> tuple[str, ...]:
        return ("W1", "W2", "b1", "b2")

    def self_check_names(self, inputs: Mapping[str, Array]) -> dict[str, str]:
        return {k: self.grad_names[k] for k in self.param_names()}

    def from_instance(self) -> bool:
        """Whether the class's methods read the parameters from the instance (``_feedforward(X)``
        over ``self.weights``): binding ``params_in = "attributes"``."""
        return self.b.get("params_in", "arguments") == "attributes"

    def set_params(self, net: Any, inputs: Mapping[str, Array]) -> None:
        if self.from_instance():
            _set_paths(net, {self.b["attributes"][k]: inputs[k].copy() for k in self.param_names()})
            return
        for k in self.param_names():
            setattr(net, self.b["attributes"][k], inputs[k].copy())

    def param(self, net: Any, k: str) -> Array:
        """The instance's parameter ``k`` as an array (a list's item where the binding says)."""
        path = self.b["attributes"][k]
        return _array(_read_path(net, path), f"attribute {path}")

    def feedforward(self, net: Any, inputs: Mapping[str, Array], X: Array) -> dict[str, Any]:
        """The forward pass's values by the course's names (A1, Z1, A2, Z2, A3); a class that
        reads its parameters from the instance is called with X alone, and its list of
        activations is kept whole too (``A``: what its gradient method takes back)."""
        what = self.b["methods"]["forward"]
        if not self.from_instance():
            out = self.call(net, "forward", X.copy(), *self.params_of(inputs))
            return dict(zip(_FORWARD, _unpack(out, _FORWARD, what), strict=True))
        out = self.call(net, "forward", X.copy())
        if isinstance(out, np.ndarray):
            return {"A3": out, "X": X.copy()}
        if not isinstance(out, list | tuple) or not out:
            # never iterated: a generator may not end
            raise TypeError(
                f"{what} returned {type(out).__name__}, expected the output activation or the "
                "list of activations, the output's last"
            )
        values: dict[str, Any] = {"A": out, "A3": out[-1], "X": X.copy()}
        if len(out) == len(_FORWARD):
            values |= dict(zip(_FORWARD, out, strict=True))
        elif len(out) == 3:  # [A1, A2, A3]: the activations alone
            values |= dict(zip(("A1", "A2", "A3"), out, strict=True))
        return values

    def forward(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        net = self.net(params)
        self.set_params(net, inputs)
        A = self.feedforward(net, inputs, inputs["X"])
        return {"A3": _array(A["A3"], self.b["methods"]["forward"])}

    def _gradients(self, net: Any, inputs: Mapping[str, Array], X: Array, Y: Array) -> Outputs:
        given = self.feedforward(net, inputs, X)
        W1, W2 = inputs["W1"].copy(), inputs["W2"].copy()
        method = getattr(net, self.method_name("gradients"), None)
        values = {**given, "Y_enc": Y.copy(), "W1": W1, "W2": W2}
        named = _by_meaning(method, values)
        out = self.call(
            net, "gradients", **(named if named is not None else _accepted(method, values))
        )
        roles = self.b["gradient_returns"]
        names = [self.grad_names[r] for r in roles]
        what = self.b["methods"]["gradients"]
        if self.from_instance():
            out = _flattened(out)  # (grads_W, grads_b): two lists, one array per layer
        arrays = [_array(g, what) for g in _unpack(out, names, what)]
        _check_order(arrays, [inputs[r].shape for r in roles], names, what)
        return dict(zip(names, arrays, strict=True))

    def gradients(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        net = self.net(params)
        self.set_params(net, inputs)
        return self._gradients(net, inputs, inputs["X"], inputs["Y"])

    def cost(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        self.method_name("cost")  # a class without one says so before anything else
        net = self.net(params)
        self.set_params(net, inputs)
        A3 = self.feedforward(net, inputs, inputs["X"])["A3"]
        values = {"A3": A3, "Y_enc": inputs["Y"].copy()}
        values |= {"W1": inputs["W1"].copy(), "W2": inputs["W2"].copy()}
        named = _by_meaning(getattr(net, self.method_name("cost"), None), values)
        # the course's _cost(A3, Y_enc, W1, W2) positionally; the first edition's
        # _get_cost(y_enc, output, w1, w2) by its names
        J = (
            self.call(net, "cost", **named)
            if named is not None and list(named) != ["A3", "Y_enc", "W1", "W2"]
            else self.call(net, "cost", *values.values())
        )
        return {"cost": _scalar(J, self.b["methods"]["cost"])}

    def predict(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        net = self.net(params)
        self.set_params(net, inputs)
        labels = self.call(net, "predict", inputs["X"].copy())
        return {"labels": _array(labels, self.b["methods"]["predict"], np.int64)}

    def one_hot(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        net = self.net(params, sizes=False)
        # the course's _encode_labels(y); the first edition's _encode_labels(y, k)
        extra = (
            [int(params["n_classes"])]
            if _required(getattr(net, self.method_name("one_hot"), None)) > 1
            else []
        )
        Y = self.call(net, "one_hot", inputs["y"].copy(), *extra)
        return {"Y_enc": _array(Y, self.b["methods"]["one_hot"])}

    def schedule(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        self.method_name("schedule")
        net = self.net(params)
        what = self.b["methods"]["schedule"]
        # one instance, epochs in order: a rule that overwrites self.eta compounds as in fit
        return {
            "eta": np.array(
                [_scalar(self.call(net, "schedule", k), what) for k in range(int(params["epochs"]))]
            )
        }

    def schedule_order(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        self.method_name("schedule")
        net = self.net(params)
        what = self.b["methods"]["schedule"]
        # one instance, epochs out of order and twice: a rule that keeps its rate in
        # self.eta answers from what the earlier calls left behind
        asked = [int(k) for k in inputs["epochs_asked"]]
        return {"eta": np.array([_scalar(self.call(net, "schedule", k), what) for k in asked])}

    def optimizer(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        self.method_name("optimizer")
        net = self.net(params)
        self.set_params(net, inputs)
        # one state attribute per weight matrix, repeated per kind of state:
        # (rho_W1_prev, rho_W2_prev) or Adam's (m1, m2, v1, v2) -> shaped W1, W2, W1, W2
        weights = ("W1", "W2")
        for i, attr in enumerate(self.b["optimizer_state"]):
            setattr(net, attr, np.zeros_like(inputs[weights[i % len(weights)]]))
        keys = self.param_names()
        T = inputs[f"d{keys[0]}"].shape[0]
        trail: dict[str, list[Array]] = {k: [] for k in keys}
        for t in range(T):
            self.call(
                net, "optimizer", float(params["eta"]), *[inputs[f"d{k}"][t].copy() for k in keys]
            )
            for k in keys:
                trail[k].append(self.param(net, k))
        return {k: np.stack(v) for k, v in trail.items()}

    def another_shape(self) -> None:
        """ProbeUnsupported for a training question when discovery bound a class of another
        shape than the rubric's (``objective_style``: a folded class under the separate-bias
        rubric): its inline training follows its own shape's conventions (momentum on the
        bias column too), which the rubric's training does not describe."""
        declared = self.b.get("objective_style", "")
        if declared and declared != self.style:
            raise ProbeUnsupported(
                f"{self.b['class']} is of the {self.style.replace('_', ' ')} shape, and this "
                f"rubric's training is the {declared.replace('_', ' ')} classes': its fit "
                "cannot follow it, so its training is not judged here"
            )

    def train(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        """``fit(X, y)`` with the parent's initial weights and per-epoch permutations injected."""
        self.another_shape()
        E, keys = int(params["epochs"]), self.param_names()
        X, y = inputs["X"], inputs["y"]
        init_name = self.b["methods"].get("initialize", "")
        if not init_name:
            raise ProbeUnsupported(
                "the binding names no weight initialiser, so initial weights cannot be injected"
            )
        if not self.b["attributes"].get("score", ""):
            raise ProbeUnsupported(
                f"{self.b['class']}'s fit records no accuracy per epoch (no score_ attribute), "
                "so its training cannot be replayed epoch by epoch"
            )
        self._records("cost")
        initial = [inputs[k] for k in keys]
        injected = {"calls": 0}

        def initialize_weights(*args: Any, **kwargs: Any) -> tuple[Array, ...]:
            injected["calls"] += 1
            if self.from_instance():  # an initialiser that sets self.weights and returns None
                self.set_params(net, dict(zip(keys, initial, strict=True)))
            return tuple(W.copy() for W in initial)

        net = self.net(params, sizes=False)
        setattr(net, init_name, initialize_weights)  # the instance's attribute shadows the method
        shuffle = bool(params.get("shuffle", True))
        perms = _Permutations(inputs["perms"] if shuffle else np.zeros((0, len(y)), dtype=np.int64))
        saved = np.random.permutation
        np.random.permutation = perms
        try:
            self.call(net, "train", X.copy(), y.copy())
        except Exception:
            if not perms.refused:
                raise
        finally:
            np.random.permutation = saved
        if perms.refused:
            raise DrawsRefused(f"{perms.refused}, so this training cannot be replayed draw by draw")
        if not injected["calls"]:
            raise ProbeUnsupported(
                f"fit never called {init_name}, so initial weights cannot be injected"
            )
        if shuffle and not perms.calls:
            raise ProbeUnsupported(
                "fit never called np.random.permutation, so its batch order cannot be injected"
            )
        attrs = self.b["attributes"]
        out = {k: self.param(net, k) for k in keys}
        out["cost_"] = self._epoch_costs(
            self._attribute(net, "cost"), E, int(params["minibatches"])
        )
        score = _array(self._attribute(net, "score"), f"attribute {attrs['score']}")
        if score.shape == (E,):
            # versions whose score_ starts after epoch 1: the accuracy before any update, from
            # the student's predict on the initial weights (a fresh instance, fit's untouched)
            first = self.net(params)
            self.set_params(first, inputs)
            labels = _array(self.call(first, "predict", X.copy()), "predict", np.int64)
            score = np.concatenate([[np.mean(labels == y)], score])
        out["score_"] = score
        return out

    def converge(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        """``fit(X, y)`` as the student wrote it: their initial weights, their batch order.

        numpy's global generator is seeded first (and ``random_state`` passed where the
        binding maps it), so the same code gives the same run every time it is graded.
        Returns the cost of each epoch and the labels predicted for held-out X.
        """
        self.another_shape()
        self._records("cost")
        np.random.seed(int(params.get("random_state") or 0))
        net = self.net(params, sizes=False)
        self.call(net, "train", inputs["X"].copy(), inputs["y"].copy())
        E, M = int(params["epochs"]), int(params["minibatches"])
        cost = self._epoch_costs(self._attribute(net, "cost"), E, M)
        labels = self.call(net, "predict", inputs["X_heldout"].copy())
        return {"cost_": cost, "labels": _array(labels, "predict", np.int64)}

    def _attribute(self, net: Any, role: str) -> Any:
        attr = self.b["attributes"].get(role, "")
        if not attr:
            raise TypeError(f"the binding reads no attribute for fit's {role} record")
        if not hasattr(net, attr):
            raise AttributeUnset(f"fit did not set attribute {attr!r}")
        return getattr(net, attr)

    def _records(self, *roles: str) -> None:
        """ProbeUnsupported, before fit runs, when the binding names no attribute for one of
        fit's records the probe reads (decided in the parent too: no student code runs)."""
        for role in roles:
            if not self.b["attributes"].get(role, ""):
                raise ProbeUnsupported(
                    f"the binding names no attribute for {self.b['class']}'s {role} record "
                    "(fit's cost per epoch), so its training cannot be read"
                )

    def _epoch_costs(self, cost: Any, E: int, M: int) -> Array:
        """One cost per epoch: the mean of each epoch's batch costs (list of lists or flat)."""
        what = f"attribute {self.b['attributes']['cost']}"
        if isinstance(cost, list | tuple) and len(cost) == E and all(np.ndim(c) == 1 for c in cost):
            return np.array([np.mean(_array(c, what)) for c in cost])
        flat = _array(cost, what)
        if flat.ndim == 2 and flat.shape[0] == E:
            return flat.mean(axis=1)
        if flat.ndim == 1 and flat.size == E * M and M > 1:
            return flat.reshape(E, M).mean(axis=1)
        return flat

    def timing(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        self.method_name("gradients")
        unpenalised = {**params, "C": 0.0}

        def gradient(k: int) -> Outputs:
            given = _scaled(inputs, self.param_names(), k)
            net = self.net(unpenalised)
            self.set_params(net, given)
            return self._gradients(net, given, given["X"], given["Y"])

        return _timed_sum(gradient, params)


class CourseFolded(CourseSeparate):
    """The older folded-bias classes: W1 (H, D+1), W2 (K, H+1), bias in column 0."""

    style = "course_folded"
    grad_names: ClassVar[dict[str, str]] = {"W1": "grad1", "W2": "grad2"}

    def param_names(self) -> tuple[str, ...]:
        return ("W1", "W2")

    def split(
        self, P: Mapping[str, Array], names: Sequence[str], weights: Sequence[str]
    ) -> tuple[list[Array], list[Array]]:
        # the bias is column 0 of each W: the penalty sums the other columns
        return [P[n][:, 1:] for n in weights], [P[n][:, :1] for n in weights]


# the rate of the one step of fit that reads an inline gradient (TextbookRows._through_fit):
# 1, so the step is the gradient itself and dividing by the rate loses nothing
FIT_STEP_ETA = 1.0


class TextbookRows(_ClassAdapter):
    """The textbook's ``NeuralNetMLP``: rows are instances, w_h (D, H), 1-D biases."""

    style = "textbook_rows"
    grad_names: ClassVar[dict[str, str]] = {
        "w_h": "grad_w_h",
        "b_h": "grad_b_h",
        "w_out": "grad_w_out",
        "b_out": "grad_b_out",
    }
    keys = ("w_h", "b_h", "w_out", "b_out")

    def ready(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Any:
        net = self.net(params, sizes=False)
        self.flipped: set[str] = set()
        for k in self.keys:
            attr, given = self.b["attributes"][k], inputs[k].copy()
            try:
                own = getattr(net, attr, None)
            except Exception:  # a property of the student's: nothing to learn from it
                own = None
            # a constructor that built its own weights transposed to the binding's layout (the
            # 4th edition stores (out, in)) gets ours in its layout, and its gradients are
            # turned back (_gradients): a kit, whose questions are stored in one layout, can
            # then ask it too. The answers are still compared with the reference's.
            if (
                given.ndim == 2
                and isinstance(own, np.ndarray)
                and own.shape != given.shape
                and own.shape == given.T.shape
            ):
                given = given.T.copy()
                self.flipped.add(k)
            setattr(net, attr, given)
        return net

    def values(
        self, net: Any, inputs: Mapping[str, Array], params: Mapping[str, Any], X: Array
    ) -> dict[str, Any]:
        """X, Y, y, n_classes and whatever forward returns, by the binding's names."""
        names = self.b["forward_returns"]
        out = self.call(net, "forward", X.copy())
        out = [out] if len(names) == 1 else _unpack(out, names, self.b["methods"]["forward"])
        vals: dict[str, Any] = {"X": X.copy(), "n_classes": int(params.get("n_classes", 0))}
        vals |= {k: inputs[k].copy() for k in ("Y", "y") if k in inputs}
        vals |= dict(zip(names, out, strict=True))
        return vals

    def args(self, key: str, vals: Mapping[str, Any]) -> list[Any]:
        missing = [a for a in self.b[key] if a not in vals]
        if missing:
            raise ProbeUnsupported(
                f"adapter.{key} needs {', '.join(missing)}, which this probe does not provide"
            )
        return [vals[a] for a in self.b[key]]

    def converge(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        """``fit(X_train, y_train, X_valid, y_valid)`` from the class's own start (its ``seed``
        from ``random_state``); the cost of each epoch from fit's record (``eval_["cost"]``)
        and the labels predicted for held-out X. The validation set fit asks for is the
        training set: the held-out labels never reach the student's code."""
        attr = self.b["attributes"].get("history", "")
        if not attr:
            raise ProbeUnsupported(
                f"the binding names no attribute for {self.b['class']}'s history record "
                "(fit's eval_), so its training cannot be read"
            )
        np.random.seed(int(params.get("random_state") or 0))
        net = self.net(params, sizes=False)
        X, y, Xh = inputs["X"], inputs["y"], inputs["X_heldout"]
        self.call(net, "train", X.copy(), y.copy(), X.copy(), y.copy())
        if not hasattr(net, attr):
            raise AttributeUnset(f"fit did not set attribute {attr!r}")
        record = getattr(net, attr, None)
        if not isinstance(record, Mapping) or "cost" not in record:
            raise TypeError(f"fit did not record {attr or 'its history'}['cost']")
        cost = _array(record["cost"], f"{attr}['cost']")
        labels = self.call(net, "predict", Xh.copy())
        return {"cost": cost, "labels": _array(labels, "predict", np.int64)}

    def forward(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        net = self.ready(inputs, params)
        return {
            "a_out": _array(
                self.values(net, inputs, params, inputs["X"])["a_out"], self.b["methods"]["forward"]
            )
        }

    def _gradients(
        self, net: Any, inputs: Mapping[str, Array], params: Mapping[str, Any], X: Array
    ) -> Outputs:
        what = self.b["methods"].get("gradients", "")
        if not what:
            raise ProbeUnsupported(
                f"{self.b['class']} back-propagates inline in fit, so its gradient is judged "
                "through one step of fit, which cannot be timed on its own; name a gradient "
                "method (adapter.methods.gradients, e.g. the 4th edition's 'backward') to time it"
            )
        out = self.call(
            net, "gradients", *self.args("gradient_args", self.values(net, inputs, params, X))
        )
        roles = self.b["gradient_returns"]
        names = [self.grad_names[r] for r in roles]
        arrays = [_array(g, what) for g in _unpack(out, names, what)]
        flipped: set[str] = getattr(self, "flipped", set())
        arrays = [
            a.T.copy() if r in flipped and a.ndim == 2 and a.shape == inputs[r].T.shape else a
            for r, a in zip(roles, arrays, strict=True)
        ]
        _check_order(arrays, [inputs[r].shape for r in roles], names, what)
        return dict(zip(names, arrays, strict=True))

    def gradients(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        if not self.b["methods"].get("gradients", ""):
            return self._through_fit(inputs, params)
        return self._gradients(self.ready(inputs, params), inputs, params, inputs["X"])

    def _fit_once(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> dict[str, Array]:
        """The parameters a fresh instance holds after ``fit(X, y, X, y)`` with the parent's
        weight matrices standing in for its random draws (:class:`_StartDraws`)."""
        net = self.net(params, sizes=False)
        draws = _StartDraws([inputs["w_h"], inputs["w_out"]])
        X, y = inputs["X"], inputs["y"]
        _run_fit_with_draws(
            net, lambda: self.call(net, "train", X.copy(), y.copy(), X.copy(), y.copy()), draws
        )
        if draws.refused or draws.handed < len(draws.arrays):
            why = draws.refused or (
                f"fit drew {draws.handed} random arrays, not one per weight matrix"
            )
            raise ProbeUnsupported(
                f"{self.b['class']}.fit cannot be started from the grader's weights ({why}), so "
                "its inline gradient cannot be read off one step of it"
            )
        out = {}
        for k in self.keys:
            value = _array(getattr(net, self.b["attributes"][k], None), self.b["attributes"][k])
            given = inputs[k]
            if value.ndim == 2 and value.shape != given.shape and value.shape == given.T.shape:
                value = value.T.copy()  # a class storing (out, in)
            out[k] = value
        return out

    def _through_fit(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        """The gradient of a class that back-propagates inline in ``fit`` (the textbook's 2nd
        and 3rd editions), read off one step of its own fit: built with epochs=0 it must hold
        exactly the start handed to it (the weights stood in for its draws, its biases as fit
        sets them: the parent asks at zero biases); built with epochs=1, eta=1, no shuffling
        and one mini-batch of all N instances, its step from that start is its whole
        gradient, penalty included: (start - after) / eta."""
        need = [
            k
            for k in ("epochs", "eta", "shuffle", "batch_size")
            if not self.b["constructor"].get(k)
        ]
        if need or not self.b["methods"].get("train", ""):
            raise ProbeUnsupported(
                f"{self.b['class']} back-propagates inline in fit, and its constructor takes no "
                f"keyword for {', '.join(need) or 'training'} (or it has no fit), so one step of "
                "fit cannot be asked for; name a gradient method (adapter.methods.gradients)"
            )
        N = int(inputs["X"].shape[0])
        step = {**params, "eta": FIT_STEP_ETA, "shuffle": False, "batch_size": N}
        start = self._fit_once(inputs, {**step, "epochs": 0})
        for k in self.keys:
            if start[k].shape != inputs[k].shape or not np.array_equal(start[k], inputs[k]):
                raise ProbeUnsupported(
                    f"{self.b['class']}.fit with epochs=0 does not hold the start it was given "
                    f"({self.b['attributes'][k]} differs: its biases start elsewhere than zero, or "
                    "it changes the weights it draws), so its inline gradient cannot be read off "
                    "one step of it"
                )
        after = self._fit_once(inputs, {**step, "epochs": 1})
        return {self.grad_names[k]: (start[k] - after[k]) / FIT_STEP_ETA for k in self.keys}

    def cost(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        self.method_name("cost")  # a class without one says so before anything else
        net = self.ready(inputs, params)
        J = self.call(
            net, "cost", *self.args("cost_args", self.values(net, inputs, params, inputs["X"]))
        )
        return {"cost": _scalar(J, self.b["methods"]["cost"])}

    def predict(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        labels = self.call(self.ready(inputs, params), "predict", inputs["X"].copy())
        return {"labels": _array(labels, self.b["methods"]["predict"], np.int64)}

    def one_hot(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        Y = self.call(
            self.net(params, sizes=False), "one_hot", inputs["y"].copy(), int(params["n_classes"])
        )
        return {"y_enc": _array(Y, self.b["methods"]["one_hot"])}

    def timing(self, inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
        unpenalised = {**params, "C": 0.0}

        def gradient(k: int) -> Outputs:
            given = _scaled(inputs, self.keys, k)
            return self._gradients(self.ready(given, unpenalised), given, unpenalised, given["X"])

        return _timed_sum(gradient, params)


ADAPTERS: dict[str, type[_Adapter]] = {
    a.style: a for a in (Template, CourseSeparate, CourseFolded, TextbookRows)
}


# ---------------------------------------------------------------------------
# Custom adapter files (shipped with the rubric)

# Sources of custom adapter files by file name; the parent appends an entry to a
# copy of this module (grader.adapters.probe_module_source), so nothing else
# needs copying into the job directory.
CUSTOM_SOURCES: dict[str, str] = {}
_CUSTOM: dict[str, dict[str, Any]] = {}


def _custom_module(file_name: str) -> dict[str, Any]:
    """Execute the rubric's adapter file once; it sees ``ProbeUnsupported`` and ``np`` predefined.

    The source is the one embedded in ``CUSTOM_SOURCES``, else the file of that
    name beside this module (never the submission's folder: a student could plant one).
    """
    name = Path(file_name).name
    if name not in _CUSTOM:
        source = CUSTOM_SOURCES.get(name)
        if source is None:
            here = Path(str(globals().get("__file__") or ""))
            # only beside a real module file: loaded from source, the directory would be the cwd
            path = here.resolve().parent / name if here.suffix == ".py" and here.is_file() else None
            if path is None or not path.is_file():
                raise ProbeUnsupported(
                    f"the custom adapter file {name!r} was not shipped with the job"
                )
            source = path.read_text(encoding="utf-8")
        module: dict[str, Any] = {
            "__name__": "custom_adapter",
            "__file__": name,
            "ProbeUnsupported": ProbeUnsupported,
            "np": np,
        }
        exec(compile(source, name, "exec"), module)
        _CUSTOM[name] = module
    return _CUSTOM[name]


def _run(
    call: str, ns: Mapping[str, Any], inputs: Mapping[str, Array], params: Mapping[str, Any]
) -> Outputs:
    binding = params["adapter"]
    style = binding["style"]
    prefix = str(params.get("input_prefix", ""))
    if prefix:  # the plan namespaced this probe's inputs in the job's shared inputs
        inputs = {k[len(prefix) :]: v for k, v in inputs.items() if k.startswith(prefix)}
    if style == "custom":
        fn = _custom_module(binding["custom_file"]).get(call)
        if not callable(fn):
            raise ProbeUnsupported(
                f"the custom adapter {binding['custom_file']} defines no {call!r}"
            )
        out = fn(ns, inputs, params)
        if not isinstance(out, Mapping):
            raise TypeError(
                f"custom adapter {call!r} returned {type(out).__name__}, expected a dict of arrays"
            )
        return {
            str(k): _array(
                v, f"custom adapter {call!r}[{k!r}]", np.int64 if k == "labels" else np.float64
            )
            for k, v in out.items()
        }
    if style not in ADAPTERS:
        raise ProbeUnsupported(f"unknown adapter style {style!r}")
    adapter = ADAPTERS[style](ns, binding)
    return adapter.answer(call)(inputs, params)


def forward(
    ns: Mapping[str, Any], inputs: Mapping[str, Array], params: Mapping[str, Any]
) -> Outputs:
    """Output activation for params and X."""
    return _run("forward", ns, inputs, params)


def gradients(
    ns: Mapping[str, Any], inputs: Mapping[str, Array], params: Mapping[str, Any]
) -> Outputs:
    """Gradients of the student's objective for params, X, Y and C."""
    return _run("gradients", ns, inputs, params)


def cost(ns: Mapping[str, Any], inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
    """The cost the student's code reports for params, X, Y and C."""
    return _run("cost", ns, inputs, params)


def optimizer(
    ns: Mapping[str, Any], inputs: Mapping[str, Array], params: Mapping[str, Any]
) -> Outputs:
    """Parameters after each of T update steps with given gradients."""
    return _run("optimizer", ns, inputs, params)


def schedule(
    ns: Mapping[str, Any], inputs: Mapping[str, Array], params: Mapping[str, Any]
) -> Outputs:
    """The learning rate of each epoch."""
    return _run("schedule", ns, inputs, params)


def train(ns: Mapping[str, Any], inputs: Mapping[str, Array], params: Mapping[str, Any]) -> Outputs:
    """Final parameters, per-epoch cost and accuracy of a replayed training run."""
    return _run("train", ns, inputs, params)


def predict(
    ns: Mapping[str, Any], inputs: Mapping[str, Array], params: Mapping[str, Any]
) -> Outputs:
    """Predicted class labels for params and X."""
    return _run("predict", ns, inputs, params)


def one_hot(
    ns: Mapping[str, Any], inputs: Mapping[str, Array], params: Mapping[str, Any]
) -> Outputs:
    """One-hot targets for labels y."""
    return _run("one_hot", ns, inputs, params)


def timing(
    ns: Mapping[str, Any], inputs: Mapping[str, Array], params: Mapping[str, Any]
) -> Outputs:
    """The summed gradients of the timed calls on a large batch (the supervisor times them)."""
    return _run("timing", ns, inputs, params)


def initialize(
    ns: Mapping[str, Any], inputs: Mapping[str, Array], params: Mapping[str, Any]
) -> Outputs:
    """The student's initial parameters for the given sizes and seed."""
    return _run("initialize", ns, inputs, params)


def gradcheck_self(
    ns: Mapping[str, Any], inputs: Mapping[str, Array], params: Mapping[str, Any]
) -> Outputs:
    """The student's gradient against central differences through the student's forward."""
    return _run("gradcheck_self", ns, inputs, params)


def converge(
    ns: Mapping[str, Any], inputs: Mapping[str, Array], params: Mapping[str, Any]
) -> Outputs:
    """Per-epoch cost and held-out labels of the student's own training run (their start)."""
    return _run("converge", ns, inputs, params)


def schedule_order(
    ns: Mapping[str, Any], inputs: Mapping[str, Array], params: Mapping[str, Any]
) -> Outputs:
    """The learning rate of each epoch asked, in the order asked (out of order, twice)."""
    return _run("schedule_order", ns, inputs, params)
