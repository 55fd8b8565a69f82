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
textbook's 4th edition stores them.) Conversions go through ``reference.layouts``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from grader.adapters.binding import AdapterBinding
from reference import layouts
from reference.params import Params

Array = np.ndarray


class Style:
    """The template: the lecture's layout, any depth."""

    name = "template"
    rows = False  # X (N, D) at the student's API
    depth: int | None = None  # None: any number of layers
    forward_out = "A_out"
    one_hot_out = "Y"
    train_cost = "cost"
    train_accuracy = "accuracy"

    def param_names(self, L: int) -> list[str]:
        return [f"W{l}" for l in range(1, L + 1)] + [f"b{l}" for l in range(1, L + 1)]

    def grad_name(self, param: str) -> str:
        """The gradients probe's output name for the gradient of ``param``."""
        return f"d{param}"

    def params_to(self, P: Params, binding: AdapterBinding) -> dict[str, Array]:
        return P.as_dict()

    def params_from(self, arrays: Mapping[str, Array], binding: AdapterBinding) -> Params:
        return Params.from_dict(dict(arrays))

    def X_to(self, X: Array) -> Array:
        """X : (D, N) canonical -> the student's."""
        return X.T.copy() if self.rows else X.copy()

    def Y_to(self, Y: Array) -> Array:
        """Y : (K, N) canonical -> the student's (also A_out from the student's)."""
        return Y.copy()

    Y_from = Y_to

    def check_depth(self, P: Params) -> None:
        if self.depth is not None and P.depth != self.depth:
            raise ValueError(
                f"style {self.name!r} is a two-layer perceptron; got {P.depth} weight layers"
            )


class CourseSeparate(Style):
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


class CourseFolded(CourseSeparate):
    """The folded-bias classes: bias in column 0 of each W."""

    name = "course_folded"

    def param_names(self, L: int) -> list[str]:
        return ["W1", "W2"]

    def grad_name(self, param: str) -> str:
        return f"grad{param[1:]}"  # the course's grad1, grad2

    def params_to(self, P: Params, binding: AdapterBinding) -> dict[str, Array]:
        W1, W2 = layouts.to_folded(P)
        return {"W1": W1, "W2": W2}

    def params_from(self, arrays: Mapping[str, Array], binding: AdapterBinding) -> Params:
        return layouts.from_folded([arrays["W1"], arrays["W2"]])


class TextbookRows(Style):
    """``NeuralNetMLP``: rows are instances, 1-D biases."""

    name = "textbook_rows"
    rows = True
    depth = 2
    forward_out = "a_out"
    one_hot_out = "y_enc"

    def param_names(self, L: int) -> list[str]:
        return ["w_h", "b_h", "w_out", "b_out"]

    def grad_name(self, param: str) -> str:
        return f"grad_{param}"

    def params_to(self, P: Params, binding: AdapterBinding) -> dict[str, Array]:
        (w_h, w_out), (b_h, b_out) = layouts.to_rows(P)
        if binding.layout == "rows_out_in":
            w_h, w_out = w_h.T.copy(), w_out.T.copy()
        return {"w_h": w_h, "b_h": b_h, "w_out": w_out, "b_out": b_out}

    def params_from(self, arrays: Mapping[str, Array], binding: AdapterBinding) -> Params:
        w_h, w_out = arrays["w_h"], arrays["w_out"]
        if binding.layout == "rows_out_in":
            w_h, w_out = w_h.T, w_out.T
        return layouts.from_rows([w_h, w_out], [arrays["b_h"], arrays["b_out"]])

    def Y_to(self, Y: Array) -> Array:
        return Y.T.copy()

    Y_from = Y_to


STYLE_LAYOUTS: dict[str, Style] = {
    s.name: s for s in (Style(), CourseSeparate(), CourseFolded(), TextbookRows())
}


def style_of(binding: AdapterBinding) -> Style:
    """The layout the binding's adapter (or its custom file) uses."""
    return STYLE_LAYOUTS[binding.adapter_style]
