"""Numerical gradient checking against the DECLARED objective (docs/conventions.md §4).

Central differences in float64, one parameter at a time::

    dJ/dw ≈ (J(w + h) - J(w - h)) / 2h          h ≈ 1e-5

:func:`numerical_gradient` gets every entry without one full forward pass per
perturbation. Perturbing ``W^(l)[i, j]`` by ±h changes only row i of
``Z^(l) = W^(l) A^(l) + b^(l)``, by ±h·A^(l)[j, :] (a bias: A = 1), so

- unit i's activation is recomputed for the perturbation only,
- the layer above changes by a rank-one term,
  ``Z^(l+1) ± = Z^(l+1) + W^(l+1)[:, i] ⊗ (A^(l+1)[i, :]± - A^(l+1)[i, :])``,
- every layer after that is recomputed in full, with all perturbations of a
  chunk stacked as extra columns (the forward pass is unchanged: W @ A + b),
- the data term is a sum over elements, so it is one reduction per
  perturbation; elements a perturbation cannot reach (other rows of an
  elementwise output layer) are left out, as they cancel in J+ - J-,
- the penalty's central difference is taken entry by entry.

Chunks hold at most ~1 MB per stacked array (at least one perturbation,
2·N·units floats). On a 64-50-10 network with 50 instances all 3,760 entries
take about 20 ms, against about 300 ms for the naive loop.

:func:`numerical_gradient_naive` (one full objective per perturbation) is the
test oracle for the fast one. :func:`directional_check` is the cheap screen the
grader runs inside grading: a few random directions instead of every entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from reference.activations import Activation
from reference.network import Model, forward, gradients, objective_value
from reference.objectives import Objective, data_scale
from reference.params import Params

Array = np.ndarray

_TINY = np.finfo(float).tiny  # the same floor as reference.objectives.data_term
_CHUNK_BYTES = 1 << 20  # one stacked intermediate array per chunk; small enough to stay in cache

# ---------------------------------------------------------------------------
# The declared objective, elementwise (so differences can be taken before summing)


def _squared(A: Array, Y: Array, out: Array | None = None) -> Array:
    out = np.subtract(Y, A, out=out)
    return np.square(out, out=out)


def _bce(A: Array, Y: Array, out: Array | None = None) -> Array:
    out = np.log(np.maximum(A, _TINY, out=out), out=out)
    out *= Y
    out += (1 - Y) * np.log(np.maximum(1 - A, _TINY))
    return np.negative(out, out=out)


def _cce(A: Array, Y: Array, out: Array | None = None) -> Array:
    out = np.log(np.maximum(A, _TINY, out=out), out=out)
    out *= Y
    return np.negative(out, out=out)


ELEMENT_LOSSES: dict[str, Callable[..., Array]] = {"squared": _squared, "bce": _bce, "cce": _cce}
"""Per-element data loss ``ell(A, Y, out=None)``: (Y-A)^2, -(Y ln A + (1-Y) ln(1-A)),
-Y ln A, with the floors of ``objectives.data_term`` (data_term = scale · sum ell).
``out`` lets the stacked loop reuse one buffer instead of allocating per chunk."""


def element_penalty(objective: Objective, M: Array, N: int) -> Array:
    """The penalty of each entry of ``M`` (its sum over penalised arrays is ``penalty_term``)."""
    C = objective.C
    return {
        "none": lambda: np.zeros_like(M),
        "l2_half": lambda: 0.5 * C * M * M,
        "l2": lambda: C * M * M,
        "l2_half_mean": lambda: 0.5 * C / N * M * M,
        "l1": lambda: C * np.abs(M),
    }[objective.penalty]()


def _penalty_difference(objective: Objective, M: Array, h: float, N: int) -> Array:
    """pen(M + h) - pen(M - h) entry by entry."""
    return element_penalty(objective, M + h, N) - element_penalty(objective, M - h, N)


# ---------------------------------------------------------------------------
# Numerical gradients


def central_differences(f: Callable[[Params], float], params: Params, h: float = 1e-5) -> Params:
    """(f(p + h e_k) - f(p - h e_k)) / 2h for every entry k, one pair of calls per entry.

    f : any scalar function of the parameters (e.g. a student's printed cost).
    Returns a Params shaped like ``params``; ``params`` itself is not modified.
    """
    p = params.copy()
    out = p.zeros_like()
    for M, G in zip(p.arrays(), out.arrays(), strict=True):
        for idx in np.ndindex(M.shape):
            w = M[idx]
            M[idx] = w + h
            f_plus = f(p)
            M[idx] = w - h
            f_minus = f(p)
            M[idx] = w
            G[idx] = (f_plus - f_minus) / (2 * h)
    return out


def numerical_gradient_naive(
    params: Params, X: Array, Y: Array, model: Model, objective: Objective, h: float = 1e-5
) -> Params:
    """Central differences with one full ``objective_value`` per perturbation.

    X : ndarray (D, N), Y : ndarray (K, N).  Returns a Params of the same shapes.
    Two forward passes per parameter: the oracle for :func:`numerical_gradient`
    and the benchmark baseline.
    """
    return central_differences(lambda p: objective_value(p, X, Y, model, objective), params, h)


def numerical_gradient(
    params: Params, X: Array, Y: Array, model: Model, objective: Objective, h: float = 1e-5
) -> Params:
    """Central differences of the declared objective for every parameter, float64.

    X : ndarray (D, N), Y : ndarray (K, N).  Returns a Params of the same shapes.
    Same formula as :func:`numerical_gradient_naive`, computed layer by layer with
    the perturbations stacked (see the module docstring).
    """
    p = params.copy()
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float)
    N = Y.shape[1]
    fwd = forward(p, X, model)
    phis = model.activations(p.depth)
    ell = ELEMENT_LOSSES[objective.loss]
    scale = data_scale(objective, Y)
    out = p.zeros_like()
    for l in range(p.depth):
        dJ = _layer_data_differences(p, fwd.Z, fwd.A, Y, phis, ell, l, h)  # (n_out, n_in + 1)
        pen_W = _penalty_difference(objective, p.W[l], h, N)
        pen_b = (
            _penalty_difference(objective, p.b[l], h, N)
            if objective.penalize_bias
            else np.zeros_like(p.b[l])
        )
        out.W[l][...] = (scale * dJ[:, :-1] + pen_W) / (2 * h)
        out.b[l][...] = (scale * dJ[:, -1:] + pen_b) / (2 * h)
    return out


def _layer_data_differences(
    p: Params,
    Z: list[Array],
    A: list[Array],
    Y: Array,
    phis: list[Activation],
    ell: Callable[..., Array],
    l: int,
    h: float,
) -> Array:
    """sum ell(A_out+) - sum ell(A_out-) for every entry of [W^(l) | b^(l)], (n_out, n_in + 1).

    Perturbation q = i·(n_in + 1) + j moves Z^(l)[i, :] by ±h·A1[j, :] with
    A1 = [A^(l); 1] (the last "input" is the bias).  Stacked arrays are
    (units, 2, Q, N): sign, perturbation, instance.
    """
    L = p.depth
    n_out, n_in = p.W[l].shape
    N = Y.shape[1]
    A1 = np.vstack([A[l], np.ones((1, N))])
    Q = n_out * (n_in + 1)
    widest = max(W.shape[0] for W in p.W[l:])
    chunk = max(1, _CHUNK_BYTES // (8 * 2 * N * widest))
    phi = phis[l]
    sign = np.array([1.0, -1.0])[:, None, None]
    dJ = np.empty(Q)
    # Two buffers reused by every chunk: freeing and reallocating megabytes per chunk
    # lets the allocator hand pages back to the system and fault them in again (2x slower).
    above = p.W[l + 1].shape[0] if l < L - 1 and phi.derivative is not None else n_out
    Z_buf = np.empty((above, 2, chunk, N))
    E_buf = np.empty((Y.shape[0], 2, chunk, N))
    for q0 in range(0, Q, chunk):
        q = np.arange(q0, min(q0 + chunk, Q))
        i, j = np.divmod(q, n_in + 1)
        Zs, E = Z_buf[:, :, : q.size], E_buf[:, :, : q.size]
        dZ = sign * (h * A1[j])  # (2, Qc, N): the change of row i of Z^(l)
        if phi.derivative is None:
            # not elementwise (softmax): the whole column of Z^(l) is fed on
            rows = np.arange(n_out)[:, None] == i  # (n_out, Qc): where the change lands
            np.multiply(rows[:, None, :, None], dZ, out=Zs)
            Zs += Z[l][:, None, None, :]
            k = l
        else:
            row = phi.forward(Z[l][i] + dZ)  # unit i's new activation, (2, Qc, N)
            if l == L - 1:  # output layer: only row i of the output (and of the loss) changes
                E_row = ell(row, Y[i])
                dJ[q] = (E_row[0] - E_row[1]).sum(axis=-1)
                continue
            # rank-one change of the layer above
            np.multiply(p.W[l + 1][:, i][:, None, :, None], row - A[l + 1][i], out=Zs)
            Zs += Z[l + 1][:, None, None, :]
            k = l + 1
        for m in range(k, L):  # recompute every later layer for the stacked columns
            As = phis[m].forward(Zs)
            if m < L - 1:
                Zs = (p.W[m + 1] @ As.reshape(As.shape[0], -1)).reshape(-1, *As.shape[1:])
                Zs += p.b[m + 1][..., None, None]
        S = np.einsum("ksqn->sq", ell(As, Y[:, None, None, :], out=E))  # sum over K and N
        dJ[q] = S[0] - S[1]
    return dJ.reshape(n_out, n_in + 1)


# ---------------------------------------------------------------------------
# Comparing gradients (docs/conventions.md §4)

GOOD = 1e-7
GOOD_WITH_KINKS = 1e-4
WRONG = 1e-2

Verdict = Literal["good", "suspicious", "wrong"]


def _flat(x: Array | Params) -> Array:
    arrays = x.arrays() if isinstance(x, Params) else [np.asarray(x, dtype=float)]
    return np.concatenate([np.ravel(M) for M in arrays]).astype(float)


def relative_error(a: Array | Params, n: Array | Params, form: str = "max") -> float:
    """Relative error between an analytic gradient ``a`` and a numerical one ``n``.

    form="max"  : max over entries of |a - n| / max(|a|, |n|), with 0/0 = 0
    form="norm" : ||a - n|| / (||a|| + ||n||), with 0/0 = 0

    a, n : ndarrays of one shape, or Params of one structure.  Non-finite
    entries give ``inf`` (a gradient that is not a number is wrong).
    """
    if form not in ("max", "norm"):
        raise ValueError(f"form must be 'max' or 'norm': got {form!r}")
    shapes_a = [M.shape for M in a.arrays()] if isinstance(a, Params) else [np.shape(a)]
    shapes_n = [M.shape for M in n.arrays()] if isinstance(n, Params) else [np.shape(n)]
    if shapes_a != shapes_n:
        raise ValueError(f"cannot compare gradients of shapes {shapes_a} and {shapes_n}")
    fa, fn = _flat(a), _flat(n)
    if not (np.isfinite(fa).all() and np.isfinite(fn).all()):
        return float("inf")
    if form == "norm":
        den = float(np.linalg.norm(fa) + np.linalg.norm(fn))
        return float(np.linalg.norm(fa - fn)) / den if den > 0 else 0.0
    den = np.maximum(np.abs(fa), np.abs(fn))
    rel = np.divide(np.abs(fa - fn), den, out=np.zeros_like(den), where=den > 0)
    return float(rel.max(initial=0.0))


def classify(rel: float, kinks: bool = False) -> Verdict:
    """docs/conventions.md §4: below 1e-7 "good", up to 1e-2 "suspicious", above (or NaN) "wrong".

    With kinks (ReLU, L1: a perturbation may step across a corner, where the
    central difference averages two one-sided slopes) "good" is relaxed to
    below 1e-4.
    """
    if rel < (GOOD_WITH_KINKS if kinks else GOOD):
        return "good"
    if rel <= WRONG:
        return "suspicious"
    return "wrong"  # also NaN, which fails both comparisons


# ---------------------------------------------------------------------------
# Grading-time screen and the full report


def directional_check(
    grad_fn_or_grads: Params | Callable[[Params], Params],
    params: Params,
    X: Array,
    Y: Array,
    model: Model,
    objective: Objective,
    n_directions: int = 4,
    seed: int = 0,
    h: float = 1e-5,
) -> list[tuple[float, float]]:
    """Directional derivatives along random unit directions u over all parameters.

    For each u (standard normal over every entry of W1..WL, b1..bL, scaled to
    ||u|| = 1) returns ``(numeric, analytic)``::

        numeric  = (J(p + h u) - J(p - h u)) / 2h      J: the declared objective
        analytic = <grad, u>

    grad_fn_or_grads : the gradient at ``params`` (Params), or a function
    params -> gradient.  Two objective evaluations per direction instead of two
    per parameter.  Compare all directions at once,
    ``relative_error(numeric, analytic, form="norm")``: each numeric value carries
    a rounding floor of about eps·|J|/h, which a direction whose derivative
    happens to be small would magnify on its own.
    """
    grads = grad_fn_or_grads(params) if callable(grad_fn_or_grads) else grad_fn_or_grads
    if [G.shape for G in grads.arrays()] != [M.shape for M in params.arrays()]:
        raise ValueError("the gradient's arrays do not have the parameters' shapes")
    p = params.copy()
    g = _flat(grads)
    sizes = [M.size for M in p.arrays()]
    splits = np.cumsum(sizes)[:-1]
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(n_directions):
        u = rng.standard_normal(g.size)
        u /= np.linalg.norm(u)
        step = [
            h * d.reshape(M.shape) for d, M in zip(np.split(u, splits), p.arrays(), strict=True)
        ]
        plus = Params.from_arrays([M + s for M, s in zip(p.arrays(), step, strict=True)])
        minus = Params.from_arrays([M - s for M, s in zip(p.arrays(), step, strict=True)])
        J_plus = objective_value(plus, X, Y, model, objective)
        J_minus = objective_value(minus, X, Y, model, objective)
        pairs.append(((J_plus - J_minus) / (2 * h), float(g @ u)))
    return pairs


@dataclass(frozen=True)
class GradCheckReport:
    """Per-array comparison of a gradient with central differences of the declared objective.

    errors   : {"W1": rel, ..., "b1": rel, ...}, relative_error in the given form
    verdicts : {"W1": "good" | "suspicious" | "wrong", ...}
    kinks    : whether the relaxed "good" threshold applied (ReLU or L1)
    form     : "norm" or "max", the relative error's form
    """

    errors: dict[str, float]
    verdicts: dict[str, Verdict]
    kinks: bool
    form: str = "norm"

    @property
    def verdict(self) -> Verdict:
        """The worst per-array verdict."""
        order: tuple[Verdict, ...] = ("good", "suspicious", "wrong")
        return max(self.verdicts.values(), key=order.index)

    def __str__(self) -> str:
        return "\n".join(
            f"{name:>4}  {err:.2e}  {self.verdicts[name]}" for name, err in self.errors.items()
        )


def check_gradients(
    params: Params,
    X: Array,
    Y: Array,
    model: Model,
    objective: Objective,
    grads: Params | None = None,
    h: float = 1e-5,
    form: str = "norm",
) -> GradCheckReport:
    """Compare ``grads`` (default: the reference's own) with :func:`numerical_gradient`.

    X : ndarray (D, N), Y : ndarray (K, N).  Each of W1..WL, b1..bL is judged on
    its own, so a wrongly regularised bias is not hidden by the weights.

    The default form is "norm": central differences at h = 1e-5 carry a rounding
    floor of about eps·|J|/h per entry, so an entry that happens to cancel to
    ~1e-6 of its array's largest shows an elementwise ("max") error above 1e-7
    on a correct gradient (about 3% of random small problems); per-array norms
    stay near 1e-9 there.
    """
    analytic = gradients(params, X, Y, model, objective) if grads is None else grads
    numeric = numerical_gradient(params, X, Y, model, objective, h)
    kinks = "relu" in (model.hidden, model.output) or (
        objective.penalty == "l1" and objective.C > 0
    )
    errors = {
        name: relative_error(a, n, form)
        for name, a, n in zip(params.names(), analytic.arrays(), numeric.arrays(), strict=True)
    }
    return GradCheckReport(errors, {k: classify(e, kinks) for k, e in errors.items()}, kinks, form)
