"""Which known bug or legitimate convention reproduces the student's output.

The reference can compute every registered misconception
(``reference.misconceptions``) and every alternative convention
(:data:`CONVENTIONS`) on the same inputs as the student. Each such output is a
:class:`Candidate`; :func:`diagnose` returns the one the student's arrays
equal within tolerance, and :func:`describe_difference` says *what* differs
when none does, instead of guessing.

Conventions are legitimate choices the course has seen (averaging over N,
C·||W||² instead of C/2·||W||², heavy-ball momentum, ...). A rubric lists the
ones it credits in ``compare.accept``; a student following another one is
told which convention they used, and that it is not the one asked for.

Ranking when several candidates match: conventions before misconceptions
(identical outputs give the student the benefit of the doubt: the gradient
of C·||W||² *is* "the penalty doubled"), then the smallest max difference.
Candidates that also equal the expected output on every compared array are
no evidence and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from grader.compare import Tolerance, as_numeric, cosine, norm_ratio, rel_error_norm, within

if TYPE_CHECKING:  # types only: diagnosing needs no reference (the student kit has none)
    from reference.misconceptions import Misconception
    from reference.params import Params

Array = np.ndarray
CandidateKind = Literal["misconception", "convention"]


# ---------------------------------------------------------------------------
# Conventions


@dataclass(frozen=True)
class Convention:
    """A legitimate alternative a rubric may accept.

    name        : the key rubrics use in ``compare.accept``
    title       : a short phrase ("data term averaged over the N instances")
    description : what the student's code does under it, in the lecture's notation
    topic       : lecture topic
    probes      : probe calls on which it can show
    changes     : check parameters that compute it with the reference
                  (``{"reduction": "mean_instances", "penalty": "l2_half_mean"}``,
                  ``{"bias_momentum": True}``)
    next_step   : what to do when the rubric does not accept it
    used_in     : the course material (or library) that writes it this way, for the
                  student's report: "the course's 07a notebook" ("" when none)
    shown_by    : a printed form (:data:`PRINTED_CONVENTIONS`) the student's own printed cost
                  must follow too for a rubric to credit this convention ("" when none):
                  the numbers of ``l2`` are those of the misconception ``penalty_doubled``,
                  and only the student's printed penalty tells which objective they meant
                  (grader.checks.printed_forms_shown)
    """

    name: str
    title: str
    description: str
    topic: str
    probes: tuple[str, ...]
    changes: Mapping[str, Any]
    next_step: str
    used_in: str = ""
    shown_by: str = ""

    def apply(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A check's probe parameters changed to this convention (to compute its candidate)."""
        return {**params, **self.changes}


_OBJECTIVE_PROBES = ("gradients", "gradcheck_self", "cost", "train")
_PRINTED_PROBES = ("cost", "train")  # where the course's printed _cost shows
_DECLARED = "Use the objective this assignment declares (see the check's description); your gradient must be the gradient of exactly that function."

CONVENTIONS: dict[str, Convention] = {
    c.name: c
    for c in (
        Convention(
            "mean_instances",
            "data term averaged over the N instances",
            "J = (1/N)·sum((Y-A)^2) + C/(2N)·||W||^2, as scikit-learn does: every gradient is the summed one divided by N",
            "objectives",
            _OBJECTIVE_PROBES,
            {"reduction": "mean_instances", "penalty": "l2_half_mean"},
            _DECLARED + " Here the data term is summed over instances, not averaged.",
            "scikit-learn",
        ),
        Convention(
            "l2",
            "penalty C·||W||^2 (gradient 2C·W)",
            "the penalty is C·||W||^2, so its gradient is 2C·W",
            "regularisation",
            _OBJECTIVE_PROBES,
            {"penalty": "l2"},
            _DECLARED + " Check the penalty's factor: C/2·||W||^2 has gradient C·W.",
            "the course's 07a notebook",
            # 07a prints C·sqrt(...) where the other notebooks print C/2·sqrt(...): the factor
            # its printed cost carries is the evidence that 2C·W is meant (docs/conventions.md §2)
            shown_by="printed_full_C",
        ),
        Convention(
            "l2_half",
            "penalty C/2·||W||^2 (gradient C·W)",
            "the penalty is C/2·||W||^2, so its gradient is C·W",
            "regularisation",
            _OBJECTIVE_PROBES,
            {"penalty": "l2_half"},
            _DECLARED + " Check the penalty's factor: C·||W||^2 has gradient 2C·W.",
            "the textbook's gradient",
        ),
        Convention(
            "l1",
            "the textbook's L1 penalty C·sum|W|",
            "the penalty is C·sum|W|, so its gradient is C·sign(W)",
            "regularisation",
            _OBJECTIVE_PROBES,
            {"penalty": "l1"},
            _DECLARED + " This assignment uses an L2 penalty.",
            "the textbook",
        ),
        Convention(
            "heavy_ball",
            "heavy-ball momentum (the lecture slide's form)",
            "ρ_k = η g + α ρ_{k-1};  W -= ρ_k",
            "momentum",
            ("optimizer", "train"),
            {"optimizer": "momentum_heavy_ball"},
            "This assignment asks for the course's momentum: r = η g; W -= r + α r_prev; r_prev = r.",
            "the lecture slide",
        ),
        Convention(
            "course_momentum",
            "the course notebooks' momentum (previous raw step)",
            "r = η g;  W -= r + α r_prev;  r_prev = r",
            "momentum",
            ("optimizer", "train"),
            {"optimizer": "momentum_course"},
            "This assignment asks for heavy-ball momentum: ρ_k = η g + α ρ_{k-1}; W -= ρ_k.",
            "the course notebooks",
        ),
        Convention(
            "adagrad_slide",
            "the slide's AdaGrad (ε inside the square root)",
            "G = γ G + g²;  W -= η g / sqrt(G + ε)",
            "adaptive methods",
            ("optimizer", "train"),
            {"optimizer": "adagrad_slide"},
            "This assignment asks for the course notebook's AdaGrad: G = g² + γ G + ε; W -= η g / sqrt(G).",
            "the lecture slide",
        ),
        Convention(
            "adagrad_course",
            "the course notebook's AdaGrad (ε added to G)",
            "G = g² + γ G + ε;  W -= η g / sqrt(G)",
            "adaptive methods",
            ("optimizer", "train"),
            {"optimizer": "adagrad_course"},
            "This assignment asks for the slide's AdaGrad: G = γ G + g²; W -= η g / sqrt(G + ε).",
            "the course notebook",
        ),
        # The course's 2022 08a TLPMiniBatch (cdab726) steps its biases with the same
        # momentum as its weights (rho_b1_prev); the later classes step them plainly.
        Convention(
            "bias_momentum",
            "momentum on the biases as well as the weights",
            "the biases take the same momentum step as the weights (b -= r_b + α r_b_prev), "
            "where the course's later classes step them plainly (b -= η g)",
            "momentum",
            ("optimizer", "train"),
            {"bias_momentum": True},
            "This assignment steps the biases without momentum: b -= η g.",
            "the course's 2022 08a notebook",
        ),
        Convention(
            "inverse_time",
            "inverse-time cooling η_0/(1 + d k)",
            "η_k = η_0 / (1 + d k)",
            "learning-rate schedules",
            ("schedule", "schedule_order", "train"),
            {"schedule": "inverse_time"},
            "Use the cooling schedule this assignment declares.",
        ),
        # How a run orders its epochs and when it records cost_: real code's conventions that
        # leave every update the lecture asks for intact (docs/conventions.md §2). The replay
        # injects the same draws either way (the child's _Permutations); only the order they
        # give, or the moment the cost is taken, differs.
        Convention(
            "fresh_shuffle",
            "each epoch a fresh permutation of the original order",
            "each epoch draws p_k = permutation(N) and visits X[p_k], y[p_k] of the ORIGINAL "
            "arrays, where the course shuffles the already shuffled arrays (X_data = X_data[p_k], "
            "so its epoch k visits order_{k-1}[p_k]); X and y still take the same permutation",
            "mini-batch training",
            ("train",),
            {"shuffle_scheme": "fresh"},
            "This assignment shuffles the already shuffled arrays each epoch: X_data, Y = "
            "X_data[p], Y[:, p].",
            "the textbook's NeuralNetMLP (2nd and 3rd editions: indices = np.arange(N); "
            "self.random.shuffle(indices) each epoch)",
        ),
        Convention(
            "epoch_end_cost",
            "cost_ recorded on the whole training set after each epoch's updates",
            "cost_ gets one value per epoch, the printed cost of the whole training set after "
            "that epoch's updates, where the course appends the mean of its mini-batches' costs, "
            "each taken before that batch's update",
            "mini-batch training",
            ("train",),
            {"cost_at": "epoch_end"},
            "This assignment records, per epoch, the mean of the mini-batches' costs, each "
            "taken before that batch's update.",
            "the textbook's NeuralNetMLP (2nd and 3rd editions: eval_['cost'] after each epoch)",
        ),
        # The printed cost's own forms (reference.objectives.PRINTED_FORMS): a monitoring
        # value's details, invisible to the gradient and to training. On the replay the
        # cost check owns them: the replay never charges a cost curve one of them explains.
        Convention(
            "eps_log",
            "cross-entropy printed with an ε-guarded log, log(A + 1e-7)",
            "the printed cost takes log(A + 1e-7) and log(1 - A + 1e-7), as the course's "
            "cross-entropy _cost has since 2023, so it stays finite when an output saturates",
            "objectives",
            _PRINTED_PROBES,
            {"printed_form": "eps_log"},
            "Print the cost with the plain logs, log(A) and log(1 - A), as the course's _cost does.",
        ),
        Convention(
            "printed_all_weights",
            "printed penalty over every weight (column 0 of each W included)",
            "the printed penalty averages the squares of every weight, where the course's "
            "_L2_reg leaves out column 0 of each W (W[:, 1:])",
            "regularisation",
            _PRINTED_PROBES,
            {"printed_form": "all_weights"},
            "Print the course's penalty: C/2·sqrt(mean(W1[:, 1:]**2) + mean(W2[:, 1:]**2)), column 0 left out.",
        ),
        Convention(
            "printed_full_C",
            "printed penalty C·sqrt(...) instead of C/2·sqrt(...)",
            "the printed penalty is C·sqrt(mean(W1**2) + mean(W2**2)), the course's older _L2_reg, "
            "where the assignment's _cost prints C/2 times it",
            "regularisation",
            _PRINTED_PROBES,
            {"printed_form": "full_C"},
            "Print the course's penalty with the factor C/2, as _L2_reg does.",
        ),
        Convention(
            "printed_sum_squares",
            "printed penalty over the sum of squares, C/2·sqrt(sum(W**2)), instead of the mean",
            "the printed penalty is C/2·sqrt(sum(W1[:, 1:]**2) + sum(W2[:, 1:]**2)), the course's "
            "2016-17 _L2_reg, where the assignment's _cost takes the means of the squares",
            "regularisation",
            _PRINTED_PROBES,
            {"printed_form": "sum_squares"},
            "Print the course's penalty: C/2·sqrt(mean(W1[:, 1:]**2) + mean(W2[:, 1:]**2)).",
            "the course's 2016-17 07 notebook",
        ),
        # Another loss altogether: correct code for another objective. A check that finds it
        # says so and judges nothing (grader.checks: "not assessed"), never "failed".
        Convention(
            "squared_mean",
            "mean squared error over one-hot targets, averaged over the N instances",
            "J = (1/N)·sum((Y-A)^2): the output error is 2(A-Y)/N through the sigmoid's "
            "derivative, as the textbook's 4th edition's backward differentiates",
            "objectives",
            ("gradients",),
            {"loss": "squared", "reduction": "mean_instances", "penalty": "l2_half_mean"},
            _DECLARED + " This assignment declares another loss.",
            "the textbook's 4th edition",
        ),
        Convention(
            "step_decay",
            "step decay η_0·d^floor(k/k_d)",
            "η_k = η_0 d^floor(k / k_d)",
            "learning-rate schedules",
            ("schedule", "schedule_order", "train"),
            {"schedule": "step"},
            "Use the cooling schedule this assignment declares.",
        ),
    )
}


def other_loss(name: str) -> bool:
    """Whether convention ``name`` is another loss (not a factor or a reduction of the
    declared one): a gradient that follows it is correct code for another objective."""
    conv = CONVENTIONS.get(name)
    return conv is not None and "loss" in conv.changes


PRINTED_CONVENTIONS: tuple[Convention, ...] = tuple(
    c for c in CONVENTIONS.values() if "printed_form" in c.changes
)
"""The printed cost's own forms, which combine (the course's 07a prints over every weight
with the factor C): :func:`combined` names a combination."""


def combined(conventions: Sequence[Convention]) -> Convention:
    """Several conventions followed together, as one (its name joins theirs with "+")."""
    if len(conventions) == 1:
        return conventions[0]
    keys = {k for c in conventions for k in c.changes}
    return Convention(
        "+".join(c.name for c in conventions),
        " and ".join(c.title for c in conventions),
        "; ".join(c.description for c in conventions),
        conventions[0].topic,
        tuple(p for p in conventions[0].probes if all(p in c.probes for c in conventions)),
        {k: _joined([c.changes[k] for c in conventions if k in c.changes]) for k in keys},
        " ".join(c.next_step for c in conventions),
    )


def _joined(values: Sequence[Any]) -> Any:
    """One change's value in a combination: the value itself, or the printed forms joined."""
    return values[0] if len(values) == 1 else ",".join(str(v) for v in values)


def convention_title(name: str) -> str:
    """A credited convention's title, a combination's titles joined ("printed penalty over
    every weight ... and printed penalty C·sqrt(...)"); the name itself when unknown."""
    parts = [CONVENTIONS.get(part) for part in name.split("+")]
    if not name or any(c is None for c in parts):
        return name
    return " and ".join(c.title for c in parts if c is not None)


def accepted_by(name: str, accept: Collection[str]) -> bool:
    """Whether a rubric's ``compare.accept`` credits a candidate: a combination of
    conventions only when it credits each of them."""
    return all(part in accept for part in name.split("+"))


# ---------------------------------------------------------------------------
# Candidates


@dataclass(frozen=True)
class Candidate:
    """One variant's output on the student's inputs, with its documentation.

    arrays : canonical output name -> ndarray, e.g. ``{"dW1": ..., "db1": ...}``
    The other fields come from the :class:`~reference.misconceptions.Misconception`
    or :class:`Convention` (``signature`` is "" for conventions).
    """

    name: str
    kind: CandidateKind
    arrays: Mapping[str, Array]
    title: str
    description: str
    topic: str
    next_step: str
    signature: str = ""

    @classmethod
    def from_misconception(cls, m: Misconception, arrays: Mapping[str, Array]) -> Candidate:
        return cls(
            m.name,
            "misconception",
            arrays,
            m.title,
            m.description,
            m.topic,
            m.next_step,
            m.signature,
        )

    @classmethod
    def from_convention(cls, c: Convention, arrays: Mapping[str, Array]) -> Candidate:
        return cls(c.name, "convention", arrays, c.title, c.description, c.topic, c.next_step)


def gradient_outputs(grads: Params) -> dict[str, Array]:
    """Canonical names of the gradients probe: ``{"dW1": .., "dWL": .., "db1": .., "dbL": ..}``."""
    return {f"d{k}": v for k, v in grads.as_dict().items()}


# ---------------------------------------------------------------------------
# Diagnosis


@dataclass(frozen=True)
class Diagnosis:
    """The candidate that reproduces the student's output.

    parts          : the arrays where the candidate differs from the expected output
                     (all compared arrays when no expected output was given)
    max_difference : max |student - candidate| over the compared arrays
    alternatives   : other candidates that matched as well (the evidence cannot tell them apart)
    message        : one sentence for the student
    """

    name: str
    kind: CandidateKind
    title: str
    description: str
    topic: str
    next_step: str
    parts: tuple[str, ...]
    max_difference: float
    alternatives: tuple[str, ...]
    message: str

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["parts"], d["alternatives"] = list(self.parts), list(self.alternatives)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Diagnosis:
        return cls(**{**d, "parts": tuple(d["parts"]), "alternatives": tuple(d["alternatives"])})


def join_names(names: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _fmt_diff(d: float) -> str:
    return "0" if d == 0 else f"{d:.0e}"


def _matches(
    student: Mapping[str, object], arrays: Mapping[str, Array], names: Sequence[str], tol: Tolerance
) -> float | None:
    """max |student - arrays| over ``names`` if every one is within ``tol``, else None."""
    worst = 0.0
    for k in names:
        a = as_numeric(student.get(k))
        n = np.asarray(arrays[k], dtype=np.float64)
        if isinstance(a, str) or a.shape != n.shape:
            return None
        # a bug can produce NaN or inf (Adam's 1 - beta^0 = 0): they match only where the
        # candidate has the same non-finite value, and the finite rest is compared
        finite = np.isfinite(a)
        if not np.array_equal(finite, np.isfinite(n)):
            return None
        if not np.array_equal(np.isnan(a), np.isnan(n)) or not np.array_equal(
            a[np.isinf(a)], n[np.isinf(n)]
        ):
            return None
        a, n = a[finite], n[finite]
        if not within(a, n, tol):
            return None
        worst = max(worst, float(np.abs(a - n).max()) if a.size else 0.0)
    return worst


def diagnose(
    student: Mapping[str, object],
    candidates: Sequence[Candidate],
    tol: Tolerance | None = None,
    *,
    expected: Mapping[str, Array] | None = None,
    parts: Sequence[str] | None = None,
    display_names: Mapping[str, str] | None = None,
    prefer: Collection[str] = (),
) -> Diagnosis | None:
    """The candidate whose arrays the student's equal within ``tol``, or None.

    Compared arrays: ``parts`` if given (a candidate lacking one is skipped),
    else every array the candidate and the student both have. With
    ``expected``, candidates equal to it on every compared array are skipped.
    """
    tol = tol or Tolerance()
    shown = dict(display_names or {})
    found: list[tuple[bool, bool, float, Candidate, list[str]]] = []
    for c in candidates:
        names = list(parts) if parts is not None else [k for k in c.arrays if k in student]
        if not names or any(k not in c.arrays for k in names):
            continue
        worst = _matches(student, c.arrays, names, tol)
        if worst is None:
            continue
        differing = [
            k
            for k in names
            if expected is None
            or k not in expected
            or _matches(c.arrays, expected, [k], tol) is None
        ]
        if not differing:
            continue
        found.append((c.name not in prefer, c.kind != "convention", worst, c, differing))
    if not found:
        return None
    # Ties are real: heavy-ball momentum where the course's was asked IS the heavy-ball
    # convention; with C = 0, averaging the data term only IS averaging everything. The
    # rubric's words decide (``prefer``: the misconceptions it writes feedback for), then
    # a legitimate convention before a bug; the other matches are named as alternatives.
    found.sort(key=lambda t: (t[0], t[1], t[2], t[3].name))
    _, _, worst, best, differing = found[0]
    where = join_names([shown.get(k, k) for k in differing])
    verb = "equals" if len(differing) == 1 else "equal"
    if best.kind == "convention":
        what = f"what the reference computes under another convention: {best.title}"
    else:
        what = f"what the reference computes with a known bug: {best.title}"
    return Diagnosis(
        name=best.name,
        kind=best.kind,
        title=best.title,
        description=best.description,
        topic=best.topic,
        next_step=best.next_step,
        parts=tuple(differing),
        max_difference=worst,
        alternatives=tuple(t[3].name for t in found[1:]),
        message=f"your {where} {verb} {what} (max difference {_fmt_diff(worst)})"
        + _same_numbers(best, [t[3] for t in found[1:]]),
    )


def _same_numbers(best: Candidate, others: Sequence[Candidate]) -> str:
    """Say so when a candidate of the other kind gives the same numbers as ``best``."""
    other = next((c for c in others if c.kind != best.kind), None)
    if other is None:
        return ""
    if other.kind == "convention":
        return (
            f"; the same numbers follow from a convention this check does not accept: {other.title}"
        )
    return f"; the same numbers also follow from a known bug: {other.title}"


# ---------------------------------------------------------------------------
# Describing a difference nobody reproduces


def _factor_hint(s: float, N: int | None, K: int | None) -> str:
    """Why an output might be ``s`` times the expected one."""
    hints: list[tuple[float, str]] = [
        (2.0, "a factor 2: check the 2 of dJ/dA = -2 (Y - A), or C·W against 2C·W"),
        (0.5, "a factor 1/2: check the 2 of dJ/dA = -2 (Y - A), or C·W against 2C·W"),
    ]
    if N and N > 2:
        hints += [
            (1.0 / N, f"1/N: did you average over N={N} instances where the objective sums?"),
            (float(N), f"N: did you sum over N={N} instances where the objective averages?"),
        ]
    if N and K and K > 1:
        hints += [
            (1.0 / (N * K), f"1/(N·K): did you take np.mean over all N·K={N * K} entries?"),
            (1.0 / K, f"1/K: did you average over the K={K} outputs?"),
        ]
    for value, hint in hints:
        if abs(s - value) <= 1e-6 * value:
            return hint
    return ""


def _scale(a: Array, n: Array, tol: Tolerance) -> float | None:
    """s with a == s·n within tol (s != 1), by least squares; None when no such s."""
    nn = float(np.sum(n * n))
    if nn == 0:
        return None
    s = float(np.sum(a * n) / nn)
    return s if within(a, s * n, tol) and not within(a, n, tol) else None


def _explain(
    shown: str, a: Array, n: Array, tol: Tolerance, pen: Array | None
) -> tuple[str, float | None]:
    """One sentence on how ``a`` differs from ``n``, and its scale factor if it is one."""
    if a.ndim == 2 and a.shape[0] == a.shape[1] > 1 and within(a.T, n, tol):
        return f"'{shown}' equals the transpose of the expected value", None
    if not np.any(a) and np.any(n):
        return (
            f"'{shown}' is all zeros where the expected value is not: nothing was computed "
            "into it (or it was never updated)"
        ), None
    s = _scale(a, n, tol)
    if s is not None:
        return "", s
    if a.ndim == 2 and a.shape[1] > 1 and within(a[:, 1:], n[:, 1:], tol):
        return (
            f"only column 0 of '{shown}' differs (the bias column when the bias is folded into W); "
            f"the other {a.shape[1] - 1} columns match"
        ), None
    if pen is not None and np.any(pen):
        r = a - n
        lam = float(np.sum(r * pen) / np.sum(pen * pen))
        if within(a, n + lam * pen, tol):
            factor = 1.0 + lam
            if abs(factor) < 1e-6:
                return (
                    f"'{shown}' equals the expected value without the penalty's gradient: is the penalty term missing?"
                ), None
            return (
                f"'{shown}' differs only in the penalty term: it holds {factor:.2f}x the declared penalty's gradient"
            ), None
    if pen is not None and np.any(pen):
        parts = _data_and_penalty(a, n, pen, tol)
        if parts is not None:
            return _parts_sentence(shown, *parts), None
    cos, ratio, rel = cosine(a, n), norm_ratio(a, n), rel_error_norm(a, n)
    measures = (
        f"relative error {rel:.2g}, cosine {cos:.2f}"
        if cos is not None
        else f"relative error {rel:.2g}"
    )
    if ratio is not None:
        measures += f", norm ratio {ratio:.2f}"
    if cos is not None and cos < -0.9:
        return f"'{shown}' points the opposite way ({measures}): look for a sign error", None
    if cos is not None and cos > 0.9:
        if ratio is not None and abs(ratio - 1) <= 0.05:
            size = "about as long as the expected value"
        elif ratio is not None:
            size = f"{ratio:.2f}x as long as the expected value"
        else:
            size = "of another length"
        return (
            f"'{shown}' points nearly the same way as the expected value and is {size}, but "
            f"is not a multiple of it: its entries differ one by one ({measures}; a cosine of "
            "1 is the same direction, a norm ratio of 1 the same length)"
        ), None
    meaning = ""
    if cos is not None and ratio is not None:
        length = (
            "as long as the expected value"
            if abs(ratio - 1) <= 0.05
            else f"{ratio:.2f}x as long as the expected value"
        )
        way = "at a right angle to it" if abs(cos) < 0.1 else "in another direction"
        meaning = f": it is {length} and points {way} (a cosine of 1 is the same direction)"
    return f"'{shown}' differs ({measures}){meaning}", None


def _data_and_penalty(a: Array, n: Array, pen: Array, tol: Tolerance) -> tuple[float, float] | None:
    """(s, t) with a == s·(n - pen) + t·pen within tol: the data part scaled by s and the
    penalty's part by t; None when no such pair explains ``a``."""
    data = n - pen
    basis = np.stack([data.ravel(), pen.ravel()], axis=1)
    if np.linalg.matrix_rank(basis) < 2:
        return None
    (s, t), *_ = np.linalg.lstsq(basis, a.ravel(), rcond=None)
    return (float(s), float(t)) if within(a, s * data + t * pen, tol) else None


def _parts_sentence(shown: str, s: float, t: float) -> str:
    """'dW1''s data part and penalty part, each as a multiple of the expected one."""

    def times(x: float) -> str:
        return "exactly -1x (the opposite sign)" if abs(x + 1) <= 1e-6 else f"{x:.3g}x"

    if abs(t - 1) <= 1e-6:
        return (
            f"the data part of '{shown}' is {times(s)} the expected one while its penalty "
            "part (C·W) is right"
        )
    return (
        f"the data part of '{shown}' is {times(s)} the expected one and its penalty part "
        f"{times(t)} the declared penalty's gradient"
    )


def _scale_sentence(
    names: list[str], s: float, N: int | None, K: int | None, others: Sequence[str] = ()
) -> str:
    """``names`` are s times the expected value; ``others``, arrays of the same layers
    that are not, are named too ("dW2 is 1/N of the expected while db2 is not")."""
    subject = (
        f"'{names[0]}' is"
        if len(names) == 1
        else f"{join_names([repr(x) for x in names])} are each"
    )
    rest = ""
    if others:
        rest = f" while {join_names([repr(x) for x in others])} {'is' if len(others) == 1 else 'are'} not"
    if abs(s + 1) <= 1e-6:
        return f"{subject} exactly -1x the expected value (its negative: a sign error){rest}"
    hint = _factor_hint(abs(s), N, K)
    sign = "minus " if s < 0 else ""
    return f"{subject} {sign}{abs(s):.3g}x the expected value{rest}" + (
        f" ({hint})" if hint else ""
    )


def _canonical_order(names: Iterable[str]) -> list[str]:
    def key(name: str) -> tuple[int, int, str]:
        digits = "".join(ch for ch in name if ch.isdigit())
        group = 1 if _is_bias(name) else 0
        return (group, int(digits) if digits else 0, name)

    return sorted(names, key=key)


def describe_difference(
    student: Mapping[str, object],
    expected: Mapping[str, Array],
    tol: Tolerance | None = None,
    *,
    N: int | None = None,
    K: int | None = None,
    penalty: Mapping[str, Array] | None = None,
    display_names: Mapping[str, str] | None = None,
) -> list[str]:
    """Concrete sentences on what differs between the student's arrays and the expected ones.

    Parameters
    ----------
    student, expected : mapping name -> ndarray (canonical names and layout)
    N, K : int, optional
        Instances and outputs of the problem, to name factors like 1/N.
    penalty : mapping name -> ndarray, optional
        The declared penalty's gradient per array (zeros for biases), to recognise
        an output that differs only in the penalty term.
    """
    tol = tol or Tolerance()
    shown = dict(display_names or {})
    sentences: list[str] = []
    exact: list[str] = []
    differ: list[str] = []
    scales: dict[float, list[str]] = {}
    for name in _canonical_order(expected):
        label = shown.get(name, name)
        n = np.asarray(expected[name], dtype=np.float64)
        a = as_numeric(student.get(name))
        if isinstance(a, str):
            sentences.append(
                f"your code returned no '{label}'"
                if student.get(name) is None
                else f"'{label}' is {a}, not a numeric array"
            )
            differ.append(name)
            continue
        if a.shape != n.shape:
            if a.ndim == 2 and a.shape == n.shape[::-1] and within(a.T, n, tol):
                sentences.append(
                    f"'{label}' is the transpose of the expected value: shape {a.shape} where {n.shape} was expected"
                )
            else:
                sentences.append(f"'{label}' has shape {a.shape} where {n.shape} was expected")
            differ.append(name)
            continue
        if not np.isfinite(a).all():
            sentences.append(f"'{label}' contains NaN or inf values")
            differ.append(name)
            continue
        if within(a, n, tol):
            exact.append(name)
            continue
        differ.append(name)
        sentence, s = _explain(label, a, n, tol, None if penalty is None else penalty.get(name))
        if s is not None:
            scales.setdefault(float(f"{s:.9g}"), []).append(label)
        else:
            sentences.append(sentence)
    for s, names in scales.items():
        layers = {_layer(x) for x in names}
        others = [
            shown.get(k, k)
            for k in _canonical_order(expected)
            if shown.get(k, k) not in names and _layer(k) in layers and k in student
        ]
        sentences.append(_scale_sentence(names, s, N, K, others))
    if not differ:
        return ["every output matches the expected values"]
    labels = {k: repr(shown.get(k, k)) for k in expected}
    if exact:
        head = (
            f"{join_names([labels[k] for k in differ])} "
            f"{'differs' if len(differ) == 1 else 'differ'}; "
            f"{join_names([labels[k] for k in exact])} "
            f"{'matches' if len(exact) == 1 else 'match'} within tolerance"
        )
        sentences.insert(0, head)
        sentences += _pattern_sentences(differ, exact, labels)
    return sentences


def _is_bias(name: str) -> bool:
    return re.fullmatch(r"d?b\d+", name) is not None


def _layer(name: str) -> int | None:
    digits = "".join(ch for ch in name if ch.isdigit())
    return int(digits) if digits else None


def _pattern_sentences(differ: list[str], exact: list[str], labels: Mapping[str, str]) -> list[str]:
    """Where the differences sit: only biases, or only layers before the last."""
    out = []
    if all(_is_bias(k) for k in differ) and any(not _is_bias(k) for k in exact):
        out.append(
            f"only the biases differ ({join_names([labels[k] for k in differ])}); every weight array matches: "
            "look at how the bias gradient is formed (the sum of V over instances, no penalty on b)"
        )
    layers = [_layer(k) for k in [*differ, *exact]]
    if all(x is not None for x in layers):
        last = max(x for x in layers if x is not None)
        if all(_layer(k) != last for k in differ) and any(_layer(k) == last for k in exact):
            out.append(
                f"the last layer ({join_names([labels[k] for k in exact if _layer(k) == last])}) matches, "
                "so the output sensitivity is right; the error is in passing it back to earlier layers"
            )
    return out


def describe_rates_asked(
    student: object, expected: Array, asked: Array, tol: Tolerance | None = None
) -> list[str]:
    """What the student's rates, asked for ``asked`` epochs in that order, show about the rule.

    The sentences come from the student's own numbers: one epoch asked twice with two
    different answers means the rate depends on the calls before it.
    """
    tol = tol or Tolerance()
    rates = as_numeric(student)
    epochs = [int(k) for k in np.asarray(asked)]
    if isinstance(rates, str) or rates.shape != (len(epochs),) or not np.isfinite(rates).all():
        return []
    first: dict[int, int] = {}
    for i, k in enumerate(epochs):
        if k in first and not within(rates[i : i + 1], rates[first[k] : first[k] + 1], tol):
            j = first[k]
            when = (
                "twice in a row"
                if i == j + 1
                else f"as question {j + 1} and again as question {i + 1}"
            )
            return [
                f"asked for the rate of epoch {k} {when}, your code gave {rates[j]:.6g} and then "
                f"{rates[i]:.6g}: the same epoch must always give the same rate, so your rule "
                "keeps something between calls (a stored rate such as self.eta changed by each call)"
            ]
        first.setdefault(k, i)
    wrong = [
        i
        for i in range(len(epochs))
        if not within(rates[i : i + 1], np.asarray(expected, dtype=float)[i : i + 1], tol)
    ]
    if not wrong:
        return []
    i = wrong[0]
    return [
        f"every epoch asked twice got the same rate both times, but the rate of epoch "
        f"{epochs[i]} is {rates[i]:.6g} where {float(np.asarray(expected)[i]):.6g} was expected"
    ]
