"""The textbook_rows adapter: NeuralNetMLP (rows are instances), and a 4th-edition-like class."""

from __future__ import annotations

import numpy as np
import pytest

from grader.adapters import child_probes
from grader.adapters.binding import binding_for
from grader.probes import output_specs, student_inputs
from tests.grader.adapters.conftest import assert_close, problem, run_probe

B = binding_for("textbook_rows", methods={"gradients": "backward"})


def test_shapes_are_rows(canonical):
    """prepare gives w_h (D, H), 1-D biases, X (N, D); a_out is expected as (N, K)."""
    inputs, ctx = student_inputs("forward", B, {}, canonical)
    assert inputs["w_h"].shape == (5, 4) and inputs["b_h"].shape == (4,)
    assert inputs["X"].shape == (7, 5)
    assert output_specs("forward", B, ctx.sizes) == {"a_out": (7, 3)}


def test_forward_matches_reference(textbook_ns, canonical):
    """forward's a_out, transposed, is the reference's output activation."""
    assert_close(*run_probe("forward", B, textbook_ns, {}, canonical))


@pytest.mark.parametrize("C", [0.0, 25.0])
def test_gradients_through_a_bound_backward(textbook_ns, canonical, C):
    """backward's gradients match cross-entropy + C/2 ||W||^2 (the textbook's convention)."""
    assert_close(*run_probe("gradients", B, textbook_ns, {"C": C}, canonical))


def test_cost_is_the_textbooks_objective(textbook_ns, canonical):
    """_compute_cost is cross-entropy + C ||W||^2 (cost_penalty l2)."""
    assert_close(*run_probe("cost", B, textbook_ns, {"C": 2.0}, canonical))


def test_predict(textbook_ns, canonical):
    """predict returns the reference's class indices."""
    assert_close(*run_probe("predict", B, textbook_ns, {}, canonical))


def test_one_hot(textbook_ns, canonical):
    """The one-hot encoding matches the reference's (classes sorted, columns are instances)."""
    assert_close(*run_probe("one_hot", B, textbook_ns, {}, {"y": canonical["y"]}))


def test_timing_with_a_bound_backward(textbook_ns):
    """timing runs forward + backward once per timed call; the sum is the reference's."""
    got, want = run_probe("timing", B, textbook_ns, {"repeats": 2}, problem(N=200))
    assert_close(got, want, tol=1e-8)


def _zero_biases(canonical):
    return {k: np.zeros_like(v) if k.startswith("b") else v for k, v in canonical.items()}


@pytest.mark.parametrize("C", [0.0, 25.0])
def test_gradients_read_off_one_step_of_fit_without_a_method(textbook_ns, canonical, C):
    """The 2nd/3rd editions back-propagate inline in fit: with no gradient method bound, the
    gradient is read off one step of fit (its draws replaced by the given weights, at the
    zero biases fit starts from) and equals the reference's, penalty included."""
    b = binding_for("textbook_rows")
    assert_close(*run_probe("gradients", b, textbook_ns, {"C": C}, _zero_biases(canonical)))


def test_one_step_of_fit_needs_the_start_fit_holds(textbook_ns, canonical):
    """Asked at non-zero biases, which this fit never starts from: unsupported, never a
    gradient read off another start."""
    b = binding_for("textbook_rows")
    inputs, ctx = student_inputs("gradients", b, {}, canonical)
    with pytest.raises(child_probes.ProbeUnsupported, match="does not hold the start"):
        child_probes.gradients(textbook_ns, inputs, ctx.child_params())


def test_one_step_of_fit_needs_the_training_keywords(textbook_ns, canonical):
    """A class whose constructor takes no learning rate cannot be asked for one step: the
    adapter says so before it runs anything of the student's (the parent can decide it)."""
    b = binding_for("textbook_rows", constructor={"eta": ""})
    inputs, ctx = student_inputs("gradients", b, {}, _zero_biases(canonical))
    with pytest.raises(child_probes.ProbeUnsupported, match="no keyword for eta"):
        child_probes.gradients({}, inputs, ctx.child_params())


@pytest.mark.parametrize("call", ["train", "schedule", "optimizer"])
def test_training_probes_unsupported(textbook_ns, call):
    """NeuralNetMLP's fit draws its weights inline: train, schedule, optimizer are not assessed."""
    with pytest.raises(child_probes.ProbeUnsupported, match="textbook_rows adapter"):
        getattr(child_probes, call)(textbook_ns, {}, {"adapter": B.to_json()})


class FourthEdition:
    """Like the textbook's 4th edition: W (out, in), forward -> (a_h, a_out), backward on labels."""

    def __init__(self, num_features, num_hidden, num_classes):
        self.num_classes = num_classes

    def forward(self, x):
        a_h = 1 / (1 + np.exp(-(x @ self.weight_h.T + self.bias_h)))
        a_out = 1 / (1 + np.exp(-(a_h @ self.weight_out.T + self.bias_out)))
        return a_h, a_out

    def backward(self, x, a_h, a_out, y):
        y_onehot = np.eye(self.num_classes)[y]
        d_a_out = 2.0 * (a_out - y_onehot) / y.shape[0]  # mean over instances
        delta_out = d_a_out * a_out * (1 - a_out)
        d_w_out = delta_out.T @ a_h
        delta_h = (delta_out @ self.weight_out) * a_h * (1 - a_h)
        return d_w_out, delta_out.sum(axis=0), delta_h.T @ x, delta_h.sum(axis=0)


def test_fourth_edition_through_the_binding(canonical):
    """Names, constructor keywords, return orders and the (out, in) layout all come from the binding."""
    b = binding_for(
        "textbook_rows",
        **{"class": "FourthEdition"},
        layout="rows_out_in",
        methods={"gradients": "backward"},
        attributes={"w_h": "weight_h", "b_h": "bias_h", "w_out": "weight_out", "b_out": "bias_out"},
        # a pin merges into the style's keywords: "" stops the ones this class lacks
        constructor={
            "n_features": "num_features",
            "n_hidden": "num_hidden",
            "n_output": "num_classes",
            **dict.fromkeys(("C", "epochs", "eta", "shuffle", "batch_size", "random_state"), ""),
        },
        forward_returns=["a_h", "a_out"],
        gradient_args=["X", "a_h", "a_out", "y"],
    )
    conventions = {"loss": "squared", "reduction": "mean_instances", "penalty": "none"}
    ns = {"FourthEdition": FourthEdition}
    assert_close(*run_probe("gradients", b, ns, conventions, canonical))
    assert_close(*run_probe("forward", b, ns, {}, canonical))
