"""Each built-in style's layout: canonical arrays <-> the student's, and its output names.

The canonical layout is the lecture's (``reference.params``): columns are
instances, ``W : (n_out, n_in)``, ``b : (n_out, 1)``. Per style:

| style           | parameters (student names)            | X      | Y      | forward out  |
|-----------------|---------------------------------------|--------|--------|--------------|
| template        | W1..WL (out, in), b1..bL (out, 1)     | (D, N) | (K, N) | A_out (K, N) |
| course_separate | W1, W2 (out, in), b1, b2 (out, 1)     | (N, D) | (K, N) | A3 (K, N)    |
| course_folded   | W1 (H, D+1), W2 (K, H+1), bias col 0  | (N, D) | (K, N) | A3 (K, N)    |
| textbook_rows   | w_h (D, H), b_h (H,), w_out, b_out    | (N, D) | (N, K) | a_out (N, K) |

(``textbook_rows`` with layout ``rows_out_in``: w_h (H, D), w_out (K, H), as the
textbook's 4th edition stores them.)

Parameters travel as *canonical dicts* ``{"W1": .., "WL": .., "b1": .., "bL": ..}``
(what ``reference.params.Params.as_dict`` gives, in that order). The conversions
are written out here rather than taken from ``reference.layouts``, and
:func:`to_canonical` lives here, so reading a student's answer needs no
``reference``: the student kit grades offline without it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from grader.adapters.binding import AdapterBinding
from grader.contract import CALLS, PROBE_SPECS

Array = np.ndarray


def canonical_names(L: int) -> list[str]:
    """``W1..WL, b1..bL``: the canonical parameter names of an L-layer network, in order."""
    return [f"W{l}" for l in range(1, L + 1)] + [f"b{l}" for l in range(1, L + 1)]


def checked(W: list[Array], b: list[Array]) -> dict[str, Array]:
    """A canonical dict from per-layer lists, after the shape checks ``Params`` makes.

    W[l] : (n_{l+1}, n_l), b[l] : (n_{l+1}, 1). ValueError when they do not fit.
    """
    if len(W) != len(b) or not W:
        raise ValueError(f"need one bias per weight matrix: got {len(W)} W, {len(b)} b")
    for l, (Wl, bl) in enumerate(zip(W, b, strict=True), start=1):
        if Wl.ndim != 2 or bl.shape != (Wl.shape[0], 1):
            raise ValueError(
                f"layer {l}: W{l} {Wl.shape} and b{l} {bl.shape} do not fit "
                f"(expected b{l} of shape ({Wl.shape[0] if Wl.ndim == 2 else '?'}, 1))"
            )
        if l > 1 and Wl.shape[1] != W[l - 2].shape[0]:
            raise ValueError(
                f"W{l} takes {Wl.shape[1]} inputs but layer {l - 1} has {W[l - 2].shape[0]} units"
            )
    return dict(zip(canonical_names(len(W)), [*W, *b], strict=True))


def _layers(P: Mapping[str, Array]) -> tuple[list[Array], list[Array]]:
    """A canonical dict -> ([W1..WL], [b1..bL])."""
    L = sum(1 for k in P if k.startswith("W"))
    return [P[f"W{l}"] for l in range(1, L + 1)], [P[f"b{l}"] for l in range(1, L + 1)]


class Style:
    """The template: the lecture's layout, any depth."""

    name = "template"
    rows = False  # X (N, D) at the student's API
    columns_out = True  # Y and A_out (K, N) at the student's API, as in the lecture
    depth: int | None = None  # None: any number of layers
    forward_out = "A_out"
    one_hot_out = "Y"
    train_cost = "cost"
    train_accuracy = "accuracy"

    def param_names(self, L: int) -> list[str]:
        return canonical_names(L)

    def grad_name(self, param: str) -> str:
        """The gradients probe's output name for the gradient of ``param``."""
        return f"d{param}"

    def shown(self, param: str, binding: AdapterBinding, grad: bool = False) -> str:
        """How the student's code names canonical ``param`` (or its gradient), for messages."""
        return self.grad_name(param) if grad else param

    def params_to(self, P: Mapping[str, Array], binding: AdapterBinding) -> dict[str, Array]:
        """A canonical dict -> the student's parameter arrays, by the student's names."""
        W, b = _layers(P)
        return dict(zip(canonical_names(len(W)), [*W, *b], strict=True))

    def params_from(self, arrays: Mapping[str, Array], binding: AdapterBinding) -> dict[str, Array]:
        """The student's parameter arrays -> a canonical dict (ValueError when they do not fit)."""
        return checked(*_layers(arrays))

    def X_to(self, X: Array) -> Array:
        """X : (D, N) canonical -> the student's."""
        return X.T.copy() if self.rows else X.copy()

    def Y_to(self, Y: Array) -> Array:
        """Y : (K, N) canonical -> the student's (also A_out from the student's)."""
        return Y.copy()

    Y_from = Y_to

    def check_depth(self, L: int) -> None:
        """ValueError when the style cannot hold ``L`` weight layers."""
        if self.depth is not None and self.depth != L:
            raise ValueError(
                f"style {self.name!r} is a two-layer perceptron; got {L} weight layers"
            )


class CourseSeparateLayout(Style):
    """``TLPMiniBatch``: separate biases, X rows at the API, columns inside."""

    name = "course_separate"
    rows = True
    depth = 2
    forward_out = "A3"
    one_hot_out = "Y_enc"
    train_cost = "cost_"
    train_accuracy = "score_"

    def param_names(self, L: int) -> list[str]:
        return ["W1", "W2", "b1", "b2"]

    def grad_name(self, param: str) -> str:
        return f"grad{param}"


class CourseFoldedLayout(CourseSeparateLayout):
    """The folded-bias classes: bias in column 0 of each W, ``[b | W]`` (n_out, n_in + 1)."""

    name = "course_folded"

    def param_names(self, L: int) -> list[str]:
        return ["W1", "W2"]

    def grad_name(self, param: str) -> str:
        return f"grad{param[1:]}"  # the course's grad1, grad2

    def shown(self, param: str, binding: AdapterBinding, grad: bool = False) -> str:
        folded = f"W{param[1:]}"
        part = "[:, 1:]" if param.startswith("W") else "[:, :1]"
        return (self.grad_name(folded) if grad else folded) + part

    def params_to(self, P: Mapping[str, Array], binding: AdapterBinding) -> dict[str, Array]:
        W, b = _layers(P)
        W1, W2 = (np.hstack([bl, Wl]) for Wl, bl in zip(W, b, strict=True))
        return {"W1": W1, "W2": W2}

    def params_from(self, arrays: Mapping[str, Array], binding: AdapterBinding) -> dict[str, Array]:
        folded = [arrays["W1"], arrays["W2"]]
        return checked([np.array(F[:, 1:]) for F in folded], [np.array(F[:, :1]) for F in folded])


class TextbookRowsLayout(Style):
    """``NeuralNetMLP``: rows are instances, weights (n_in, n_out), 1-D biases."""

    name = "textbook_rows"
    rows = True
    columns_out = False
    depth = 2
    forward_out = "a_out"
    one_hot_out = "y_enc"

    def param_names(self, L: int) -> list[str]:
        return ["w_h", "b_h", "w_out", "b_out"]

    def grad_name(self, param: str) -> str:
        return f"grad_{param}"

    def shown(self, param: str, binding: AdapterBinding, grad: bool = False) -> str:
        own = {"W1": "w_h", "b1": "b_h", "W2": "w_out", "b2": "b_out"}[param]
        name = self.grad_name(own) if grad else own
        transposed = param.startswith("W") and binding.layout != "rows_out_in"
        return name + (".T" if transposed else "")

    def params_to(self, P: Mapping[str, Array], binding: AdapterBinding) -> dict[str, Array]:
        W, b = _layers(P)
        w_h, w_out = (Wl.T.copy() for Wl in W)
        b_h, b_out = (bl[:, 0].copy() for bl in b)
        if binding.layout == "rows_out_in":
            w_h, w_out = w_h.T.copy(), w_out.T.copy()
        return {"w_h": w_h, "b_h": b_h, "w_out": w_out, "b_out": b_out}

    def params_from(self, arrays: Mapping[str, Array], binding: AdapterBinding) -> dict[str, Array]:
        w_h, w_out = arrays["w_h"], arrays["w_out"]
        if binding.layout == "rows_out_in":
            w_h, w_out = w_h.T, w_out.T
        return checked(
            [np.array(W, dtype=float).T.copy() for W in (w_h, w_out)],
            [
                np.asarray(b, dtype=float).reshape(-1, 1).copy()
                for b in (arrays["b_h"], arrays["b_out"])
            ],
        )

    def Y_to(self, Y: Array) -> Array:
        return Y.T.copy()

    Y_from = Y_to


STYLE_LAYOUTS: dict[str, Style] = {
    s.name: s for s in (Style(), CourseSeparateLayout(), CourseFoldedLayout(), TextbookRowsLayout())
}


def style_of(binding: AdapterBinding) -> Style:
    """The layout the binding's adapter (or its custom file) uses."""
    return STYLE_LAYOUTS[binding.adapter_style]


# ---------------------------------------------------------------------------
# The child's answer -> canonical names and layout


def display_names(call: str, binding: AdapterBinding) -> dict[str, str]:
    """Canonical output name -> the student's own, where they differ ("dW1" -> "gradW1").

    Messages name what the student wrote: a part of a folded array or a transposed one
    says so ("grad1[:, 1:]", "grad_w_h.T"). The template uses the lecture's names, and a
    custom adapter's student may use any: both {}.
    """
    style = style_of(binding)
    if call not in CALLS or style.name == "template" or binding.style == "custom":
        return {}
    L = style.depth or 2  # the styles with names of their own are two-layer classes
    ending = "" if style.columns_out else ".T"
    names: dict[str, str] = {}
    if call == "forward":
        names["A_out"] = style.forward_out + ending
    elif call == "one_hot":
        names["Y"] = style.one_hot_out + ending
    elif call in ("gradients", "timing"):
        names = {f"d{p}": style.shown(p, binding, grad=True) for p in canonical_names(L)}
    elif call in ("optimizer", "initialize", "train"):
        names = {p: style.shown(p, binding) for p in canonical_names(L)}
        if call == "train":
            names |= {"cost": style.train_cost, "accuracy": style.train_accuracy}
    elif call == "converge":
        names["cost"] = style.train_cost
    return {k: v for k, v in names.items() if k != v}


def to_canonical(call: str, binding: AdapterBinding, raw: Mapping[str, Array]) -> dict[str, Array]:
    """The child's raw arrays (already validated against the output specs) -> canonical.

    ``raw`` holds the student's layout and names (``grad1``, ``w_h``, ``A3``); the
    result the canonical ones of the probe contract (``dW1``, ``W1``, ``A_out``).
    ValueError (or KeyError) when the arrays do not fit the layout.
    """
    if call not in CALLS:
        raise ValueError(f"unknown probe call {call!r}; known: {', '.join(CALLS)}")
    style = style_of(binding)

    def get(name: str) -> Array:
        if name not in raw:
            raise ValueError(f"probe {call!r}: the child returned no {name!r}")
        return np.asarray(raw[name])

    # the template's depth shows in its names; the course and textbook classes have two layers
    L = sum(1 for k in raw if k.startswith(("W", "dW"))) or 2
    names = style.param_names(L)
    if call == "forward":
        return {"A_out": style.Y_from(get(style.forward_out))}
    if call == "timing":  # the summed gradients of its timed calls, in the gradients' layout
        call = "gradients"
    if call == "gradients" and style.name == "template":
        # already the lecture's layout: each array is compared on its own, so a wrong
        # shape is reported for that array ("'dW1' has the wrong shape") and spares the rest
        return {f"d{n}": get(style.grad_name(n)) for n in names}
    if call == "gradients":
        g = style.params_from({n: get(style.grad_name(n)) for n in names}, binding)
        return {f"d{k}": v for k, v in g.items()}
    if call == "optimizer":
        T = get(names[0]).shape[0]
        steps = [style.params_from({n: get(n)[t] for n in names}, binding) for t in range(T)]
        return {k: np.stack([P[k] for P in steps]) for k in steps[0]} if T else {}
    if call == "initialize":
        return style.params_from({n: get(n) for n in names}, binding)
    if call == "train":
        P = style.params_from({n: get(n) for n in names}, binding)
        return P | {"cost": get(style.train_cost), "accuracy": get(style.train_accuracy)}
    if call == "one_hot":
        return {"Y": style.Y_from(get(style.one_hot_out))}
    if call == "converge":
        return {"cost": get(style.train_cost), "labels": get("labels").astype(np.int64)}
    # cost, schedule, predict, gradcheck_self: the same names and meaning in every style
    plain = {n: get(n) for n in PROBE_SPECS[call].output_names}
    return {n: a.astype(np.int64) if n == "labels" else a for n, a in plain.items()}
