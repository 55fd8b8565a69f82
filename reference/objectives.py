"""Objectives: a data term plus a penalty, each a named convention.

    J(W) = scale * loss(Y, A_out) + penalty(W)

Data term (``loss`` x ``reduction``)::

    squared : sum((Y - A)**2)                               the lecture's ||Y - Yhat||^2
    bce     : -sum(Y ln A + (1 - Y) ln(1 - A))              the course's CE with sigmoid output
    cce     : -sum(Y ln A)                                  categorical CE, softmax output

    reduction  sum           : scale 1          (the course)
               mean_instances: scale 1/N
               mean_elements : scale 1/(N K)

Penalty over the weights (and the biases if ``penalize_bias``)::

    l2_half      : C/2 ||W||^2          (course, ``gradW += C*W``)
    l2           : C   ||W||^2          (course, ``gradW += 2*C*W``)
    l2_half_mean : C/(2N) ||W||^2       (scikit-learn's ``alpha``)
    l1           : C sum|W|             (the textbook's L1)
    none

The reference differentiates exactly this declared function. The course's
*printed* ``_cost()`` is a different function (docs/conventions.md §2); it is
:func:`printed_cost`, labelled as such, because students report it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from reference.params import Params

Array = np.ndarray

LOSSES = ("squared", "bce", "cce")
REDUCTIONS = ("sum", "mean_instances", "mean_elements")
PENALTIES = ("none", "l2_half", "l2", "l2_half_mean", "l1")

_TINY = np.finfo(float).tiny  # keeps log finite at saturation; invisible elsewhere


@dataclass(frozen=True)
class Objective:
    """A declared objective: which function the gradient must be the gradient of."""

    loss: str = "squared"
    reduction: str = "sum"
    penalty: str = "l2_half"
    C: float = 0.0
    penalize_bias: bool = False

    def __post_init__(self) -> None:
        for field, value, allowed in (
            ("loss", self.loss, LOSSES),
            ("reduction", self.reduction, REDUCTIONS),
            ("penalty", self.penalty, PENALTIES),
        ):
            if value not in allowed:
                raise ValueError(f"objective {field} {value!r} is not one of {', '.join(allowed)}")
        if not np.isfinite(self.C) or self.C < 0:
            raise ValueError(f"objective C must be a finite number >= 0: got {self.C!r}")

    def with_(self, **changes: object) -> Objective:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def describe(self) -> str:
        """One line in the lecture's notation, e.g. ``sum((Y-A)^2) + C/2·||W||^2 (C=0.1)``."""
        data = {
            "squared": "sum((Y-A)^2)",
            "bce": "-sum(Y ln A + (1-Y) ln(1-A))",
            "cce": "-sum(Y ln A)",
        }[self.loss]
        data = {"sum": data, "mean_instances": f"(1/N)·{data}", "mean_elements": f"(1/NK)·{data}"}[
            self.reduction
        ]
        norm = "||W,b||" if self.penalize_bias else "||W||"
        pen = {
            "none": "",
            "l2_half": f" + C/2·{norm}^2",
            "l2": f" + C·{norm}^2",
            "l2_half_mean": f" + C/(2N)·{norm}^2",
            "l1": f" + C·{norm}_1",
        }[self.penalty]
        return f"{data}{pen}" + (f" (C={self.C:g})" if self.penalty != "none" else "")


def data_scale(objective: Objective, Y: Array) -> float:
    """The reduction's factor: 1, 1/N or 1/(N K).  Y : ndarray (K, N)."""
    K, N = Y.shape
    return {"sum": 1.0, "mean_instances": 1.0 / N, "mean_elements": 1.0 / (N * K)}[
        objective.reduction
    ]


def data_term(objective: Objective, A: Array, Y: Array) -> float:
    """The data term.  A, Y : ndarray (K, N), A the output activation, Y one-hot."""
    if objective.loss == "squared":
        total = np.sum((Y - A) ** 2)
    elif objective.loss == "bce":
        total = -np.sum(
            Y * np.log(np.maximum(A, _TINY)) + (1 - Y) * np.log(np.maximum(1 - A, _TINY))
        )
    else:
        total = -np.sum(Y * np.log(np.maximum(A, _TINY)))
    return float(data_scale(objective, Y) * total)


def data_gradient(objective: Objective, A: Array, Y: Array) -> Array:
    """dJ_data/dA, ndarray (K, N)."""
    if objective.loss == "squared":
        G = -2.0 * (Y - A)
    elif objective.loss == "bce":
        G = (A - Y) / (A * (1 - A))
    else:
        G = -Y / A
    return data_scale(objective, Y) * G


def _penalised(objective: Objective, params: Params) -> list[Array]:
    return params.W + params.b if objective.penalize_bias else list(params.W)


def _penalty_factor(objective: Objective, N: int) -> float:
    """The C-multiplier of the penalty's gradient: d/dW of the penalty is factor·W (L2)."""
    return {"none": 0.0, "l2_half": 1.0, "l2": 2.0, "l2_half_mean": 1.0 / N, "l1": 1.0}[
        objective.penalty
    ] * objective.C


def penalty_term(objective: Objective, params: Params, N: int) -> float:
    """The penalty's value; N is the number of instances the data term covers."""
    if objective.penalty == "none" or objective.C == 0:
        return 0.0
    arrays = _penalised(objective, params)
    if objective.penalty == "l1":
        return float(objective.C * sum(np.abs(M).sum() for M in arrays))
    return float(0.5 * _penalty_factor(objective, N) * sum(np.sum(M * M) for M in arrays))


def penalty_gradient(objective: Objective, params: Params, N: int) -> Params:
    """d penalty / d params (zeros for biases unless penalised)."""
    factor = _penalty_factor(objective, N)
    grad = np.sign if objective.penalty == "l1" else (lambda M: M)

    def term(M: Array, penalised: bool) -> Array:
        return factor * grad(M) if penalised and factor else np.zeros_like(M, dtype=float)

    return Params.trusted(
        [term(W, True) for W in params.W], [term(b, objective.penalize_bias) for b in params.b]
    )


PRINTED_FORMS = ("eps_log", "all_weights", "full_C", "sum_squares")
"""How a printed cost may differ from the course's ``_cost()`` without touching training:

    eps_log     : the logs guarded by ε, ``log(A + 1e-7)`` and ``log(1 - A + 1e-7)``
                  (the course's cross-entropy ``_cost`` since 2023)
    all_weights : the penalty over every weight: column 0 of each W kept (separate biases),
                  the bias column kept (folded biases)
    full_C      : ``C·sqrt(...)`` instead of ``C/2·sqrt(...)`` (the course's older ``_L2_reg``)
    sum_squares : ``sqrt(sum(W1**2) + sum(W2**2))`` instead of the means (the course's
                  2016-17 ``07`` notebooks)
"""
PRINTED_EPS = 1e-7  # the course's guard inside the logs of its cross-entropy _cost


def printed_cost(
    params: Params,
    A: Array,
    Y: Array,
    loss: str = "squared",
    C: float = 0.0,
    bias_style: str = "separate",
    form: tuple[str, ...] = (),
) -> float:
    """The cost the course's ``_cost()`` prints — NOT the objective its gradient follows.

    ``mean(data) + C/2 · sqrt(mean(W1[:, 1:]**2) + mean(W2[:, 1:]**2) + ...)``

    It averages the data term over every element and takes the square root of
    a mean penalty; both the separate-bias and the folded-bias course classes
    drop column 0 of each W: in the folded classes (``bias_style="folded"``)
    that column is the bias, so every canonical weight counts; in the
    separate-bias classes it is the first input's weights — a quirk of the
    course code, reproduced because students report this number. ``form`` names
    the printed variants of :data:`PRINTED_FORMS` the student's ``_cost`` follows.
    """
    if bias_style not in ("separate", "folded"):
        raise ValueError(f"bias_style must be 'separate' or 'folded': got {bias_style!r}")
    if unknown := [f for f in form if f not in PRINTED_FORMS]:
        raise ValueError(f"printed form {unknown[0]!r} is not one of {', '.join(PRINTED_FORMS)}")
    eps = PRINTED_EPS if "eps_log" in form else 0.0
    if loss == "squared":
        data = np.mean((Y - A) ** 2)
    elif loss == "bce":
        with np.errstate(divide="ignore", invalid="ignore"):
            data = -np.mean(np.nan_to_num(Y * np.log(A + eps) + (1 - Y) * np.log(1 - A + eps)))
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            data = -np.mean(np.nan_to_num(Y * np.log(A + eps)))
    if "all_weights" not in form:
        kept = [W[:, 1:] if bias_style == "separate" else W for W in params.W]
    elif bias_style == "separate":
        kept = list(params.W)
    else:  # folded: the student's W holds the bias in column 0
        kept = [np.hstack([b, W]) for W, b in zip(params.W, params.b, strict=True)]
    factor = C if "full_C" in form else C / 2.0
    squares = np.sum if "sum_squares" in form else np.mean
    penalty = factor * np.sqrt(sum(squares(M**2) for M in kept))
    return float(data + penalty)
