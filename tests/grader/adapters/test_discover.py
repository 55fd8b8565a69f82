"""Binding by discovery from the child's api report (grader.adapters.discover): the shapes of
the textbook's 1st and 4th editions and of the course's 2016-19 07 classes.

The reports here are built by the child's own introspection (runner.api) of small classes
defined in this file, in this process: nothing is graded, only what discovery proposes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.adapters import child_probes, discover
from grader.adapters.binding import AdapterBinding, binding_for
from grader.adapters.conventions import STYLE_CONVENTIONS, conventions
from grader.sandbox.child import runner


class Ed4Like:
    def __init__(self, num_features, num_hidden, num_classes, random_seed=123):
        self.weight_h = np.zeros((num_hidden, num_features))
        self.bias_h = np.zeros(num_hidden)
        self.weight_out = np.zeros((num_classes, num_hidden))
        self.bias_out = np.zeros(num_classes)

    def forward(self, x):
        a_h = x @ self.weight_h.T + self.bias_h
        a_out = a_h @ self.weight_out.T + self.bias_out
        return a_h, a_out

    def backward(self, x, a_h, a_out, y):
        return a_out, a_out, a_h, a_h


class Ed1Like:
    def __init__(self, n_output, n_features, n_hidden=30, l2=0.0, random_state=None):
        self.w1 = np.zeros((n_hidden, n_features + 1))
        self.w2 = np.zeros((n_output, n_hidden + 1))

    def _feedforward(self, X, w1, w2):
        a1 = X
        z2 = w1
        a2 = z2
        z3 = w2
        return a1, z2, a2, z3, z3

    def _get_gradient(self, a1, a2, a3, z2, y_enc, w1, w2):
        return w1, w2


def report(*classes: type) -> dict[str, discover.ClassApi]:
    ns: dict[str, Any] = {c.__name__: c for c in classes}
    return discover.read_api({"api": runner.api(ns, list(ns))})


def test_the_child_reads_how_many_values_each_return_builds() -> None:
    def two(x: int) -> tuple[int, int]:
        return x, x

    def mixed(x: int) -> object:
        if x:
            return x, x, x, x
        return x

    assert runner.returned_sizes(two.__code__) == [2]
    assert runner.returned_sizes(mixed.__code__) == [1, 4]
    assert report(Ed4Like)["Ed4Like"].returns["forward"] == (2,)


def test_a_malformed_returns_report_is_dropped_not_trusted() -> None:
    api = runner.api({"Ed4Like": Ed4Like}, ["Ed4Like"])
    api["classes"]["Ed4Like"]["returns"] = {"forward": ["2", True, -1, 99], "bad name": [2]}
    read = discover.read_api({"api": api})["Ed4Like"]
    assert read.returns == {"forward": ()}


def test_the_4th_edition_binds_with_its_names_and_both_weight_layouts_to_confirm() -> None:
    proposals = discover.propose({"style": "textbook_rows"}, report(Ed4Like))
    layouts = [p.binding.layout for p in proposals]
    assert layouts == ["rows", "rows_out_in"]  # only the class's answers tell them apart
    b = proposals[0].binding
    assert b.style == "textbook_rows" and not b.objective_style
    assert b.forward_returns == ("a_h", "a_out")
    assert b.gradient_args == ("X", "a_h", "a_out", "y")  # integer labels, as it takes them
    assert b.method("gradients") == "backward"
    assert {k: b.constructor[k] for k in ("n_features", "n_hidden", "n_output")} == {
        "n_features": "num_features",
        "n_hidden": "num_hidden",
        "n_output": "num_classes",
    }
    assert b.constructor["C"] == ""  # no penalty keyword: penalised checks are not assessed
    assert dict(b.attributes) | {"history": ""} == {
        "w_h": "weight_h",
        "b_h": "bias_h",
        "w_out": "weight_out",
        "b_out": "bias_out",
        "history": "",
    }


def test_a_pinned_layout_is_kept_and_proposed_once() -> None:
    proposals = discover.propose({"style": "textbook_rows", "layout": "rows"}, report(Ed4Like))
    assert [p.binding.layout for p in proposals] == ["rows"]


def test_the_folded_shape_is_asked_as_the_course_folded_classes_under_the_rubric_s_objective() -> (
    None
):
    for style in ("textbook_rows", "course_separate"):
        (p,) = discover.propose({"style": style}, report(Ed1Like))
        b = p.binding
        assert (b.style, b.objective_style, b.bias) == ("course_folded", style, "folded")
        assert (b.attributes["W1"], b.attributes["W2"]) == ("w1", "w2")
        assert (b.constructor["n_output"], b.constructor["n_features"]) == (
            "n_output",
            "n_features",
        )
        assert b.constructor["C"] == "l2"
        # the checks keep the rubric's objective, not the folded course classes'
        assert conventions(b, {})["loss"] == STYLE_CONVENTIONS[style]["loss"]
        assert AdapterBinding.from_table(b.to_json()) == b


def test_a_folded_rubric_binds_the_folded_shape_as_itself() -> None:
    (p,) = discover.propose({"style": "course_folded"}, report(Ed1Like))
    assert p.binding.style == "course_folded" and not p.binding.objective_style


def test_the_1st_edition_s_argument_names_are_matched_by_meaning() -> None:
    """z numbered by the activation it feeds: the 1st edition's z2 is the course's Z1."""
    values = {n: n for n in ("A1", "Z1", "A2", "Z2", "A3", "Y_enc", "W1", "W2")}
    got = child_probes._by_meaning(Ed1Like(3, 5)._get_gradient, values)
    assert got == {
        "a1": "A1",
        "a2": "A2",
        "a3": "A3",
        "z2": "Z1",
        "y_enc": "Y_enc",
        "w1": "W1",
        "w2": "W2",
    }

    def cost(y_enc: object, output: object, w1: object, w2: object) -> None: ...

    assert child_probes._by_meaning(cost, values) == {
        "y_enc": "Y_enc",
        "output": "A3",
        "w1": "W1",
        "w2": "W2",
    }

    def unknown(A3: object, target: object) -> None: ...

    assert child_probes._by_meaning(unknown, values) is None  # then asked as the course's


def test_a_class_without_a_penalty_keyword_is_not_asked_for_a_penalised_answer() -> None:
    b = binding_for(
        "textbook_rows",
        **{"class": "Ed4Like"},
        constructor={"C": "", "n_features": "num_features"},
    )
    adapter = child_probes.TextbookRows({"Ed4Like": Ed4Like}, b.to_json())
    try:
        adapter.net({"C": 10.0, "n_features": 5})
    except child_probes.ProbeUnsupported as e:
        assert "no penalty keyword" in e.reason
    else:
        raise AssertionError("a penalised question was asked of a class without a penalty")


def test_a_class_of_another_shape_is_not_asked_the_rubric_s_training() -> None:
    """A folded class under the separate-bias rubric: its inline fit puts momentum on the bias
    column too, which the rubric's training does not describe; the replay and the envelope
    are not asked (the parent replays this dispatch and reports "not assessed")."""
    (p,) = discover.propose({"style": "course_separate"}, report(Ed1Like))
    adapter = child_probes.CourseFolded({"Ed1Like": Ed1Like}, p.binding.to_json())
    for call in ("train", "converge"):
        try:
            adapter.answer(call)({}, {})
        except child_probes.ProbeUnsupported as e:
            assert "course folded shape" in e.reason and "not judged here" in e.reason
        else:
            raise AssertionError(f"{call} was asked of a class of another shape")
    (own,) = discover.propose({"style": "course_folded"}, report(Ed1Like))
    child_probes.CourseFolded({}, own.binding.to_json()).another_shape()  # its own rubric asks


def test_weights_the_constructor_built_transposed_are_given_and_read_back_in_its_layout() -> None:
    """A kit asks in the rubric binding's layout (w_h (D, H)); the 4th edition's constructor
    built weight_h (H, D): the adapter gives it ours transposed and turns its gradient back."""
    b = binding_for(
        "textbook_rows",
        **{"class": "Ed4Like"},
        attributes={"w_h": "weight_h", "b_h": "bias_h", "w_out": "weight_out", "b_out": "bias_out"},
        constructor={"C": "", "n_features": "num_features", "n_hidden": "num_hidden"}
        | {"n_output": "num_classes"},
        forward_returns=["a_h", "a_out"],
        gradient_args=["X", "a_h", "a_out", "y"],
        methods={"gradients": "backward"},
    )
    rng = np.random.default_rng(0)
    D, H, K, N = 5, 4, 3, 7
    inputs = {
        "w_h": rng.normal(size=(D, H)),
        "b_h": rng.normal(size=H),
        "w_out": rng.normal(size=(H, K)),
        "b_out": rng.normal(size=K),
        "X": rng.normal(size=(N, D)),
        "Y": np.eye(K)[[0, 1, 2, 0, 1, 2, 0]],
        "y": np.array([0, 1, 2, 0, 1, 2, 0]),
    }
    params = {"n_features": D, "n_hidden": H, "n_output": K, "C": 0.0}
    adapter = child_probes.TextbookRows({"Ed4Like": Ed4Like}, b.to_json())
    net = adapter.ready(inputs, params)
    assert net.weight_h.shape == (H, D) and np.array_equal(net.weight_h, inputs["w_h"].T)
    assert adapter.flipped == {"w_h", "w_out"}

    class Doubling(Ed4Like):
        def backward(self, x, a_h, a_out, y):  # (out, in), as the class stores its weights
            return 2 * self.weight_out, 2 * self.bias_out, 2 * self.weight_h, 2 * self.bias_h

    adapter = child_probes.TextbookRows({"Ed4Like": Doubling}, b.to_json())
    grads = adapter.gradients(inputs, params)
    assert np.array_equal(grads["grad_w_out"], 2 * inputs["w_out"])  # turned back to (H, K)
    assert np.array_equal(grads["grad_w_h"], 2 * inputs["w_h"])
