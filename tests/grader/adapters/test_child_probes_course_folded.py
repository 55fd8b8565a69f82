"""The course_folded adapter on a faithful copy of the course's older folded-bias TLPMiniBatch."""

from __future__ import annotations

import numpy as np
import pytest

from grader.adapters import child_probes
from grader.adapters.binding import binding_for
from grader.probes import output_specs, student_inputs
from tests.grader.adapters.conftest import assert_close, problem, run_probe

B = binding_for("course_folded")


def test_inputs_are_folded(canonical):
    """prepare hands the student W1 (H, D+1) with the bias in column 0, and X as rows."""
    inputs, _ = student_inputs("forward", B, {}, canonical)
    assert inputs["W1"].shape == (4, 6) and inputs["X"].shape == (7, 5)
    np.testing.assert_array_equal(inputs["W1"][:, :1], canonical["b1"])


def test_forward_matches_reference(folded_ns, canonical):
    """A3 of the folded _feedforward is the reference's output activation."""
    assert_close(*run_probe("forward", B, folded_ns, {}, canonical))


@pytest.mark.parametrize("C", [0.0, 25.0])
def test_gradients_match_reference(folded_ns, canonical, C):
    """grad1, grad2 unfold to the reference's dW and db (bias column not penalised)."""
    assert_close(*run_probe("gradients", B, folded_ns, {"C": C}, canonical))


def test_gradient_shapes_are_in_the_students_terms(canonical):
    """output_specs names grad1 (H, D+1) and grad2 (K, H+1): the student's layout."""
    _, ctx = student_inputs("gradients", B, {}, canonical)
    assert output_specs("gradients", B, ctx.sizes) == {"grad1": (4, 6), "grad2": (3, 5)}


def test_printed_cost(folded_ns, canonical):
    """_cost is the course's printed cost with the folded penalty (every canonical weight)."""
    assert_close(*run_probe("cost", B, folded_ns, {"C": 3.0}, canonical))


def test_predict(folded_ns, canonical):
    """predict returns the reference's class indices."""
    assert_close(*run_probe("predict", B, folded_ns, {}, canonical))


def test_one_hot(folded_ns, canonical):
    """The one-hot encoding matches the reference's (classes sorted, columns are instances)."""
    assert_close(*run_probe("one_hot", B, folded_ns, {}, {"y": canonical["y"]}))


def test_train_replay_compounding_and_lists_of_batch_costs(folded_ns):
    """fit replays exactly (compounding eta, bias-column momentum, batch-cost lists, short score_)."""
    c = problem(N=12, seed=8)
    perms = np.array([np.random.default_rng(10 + k).permutation(12) for k in range(4)])
    hyper = {"eta": 0.05, "alpha": 0.5, "C": 0.1, "decrease_const": 0.3, "minibatches": 4}
    got, want = run_probe("train", B, folded_ns, hyper | {"epochs": 4}, c | {"perms": perms})
    assert want["accuracy"].shape == (5,)
    assert_close(got, want)


@pytest.mark.parametrize("call", ["schedule", "optimizer"])
def test_inline_rules_are_unsupported(folded_ns, canonical, call):
    """The folded classes compute eta and momentum inline in fit: not assessed, with a reason."""
    inputs = canonical if call == "optimizer" else {}
    if call == "optimizer":
        inputs = {k: v for k, v in canonical.items() if k[0] in "Wb"}
        inputs |= {f"d{k}": np.zeros((2, *v.shape)) for k, v in inputs.items()}
    args = {"epochs": 3} if call == "schedule" else {}
    student, ctx = student_inputs(call, B, args, inputs)
    with pytest.raises(child_probes.ProbeUnsupported, match="inline in fit"):
        getattr(child_probes, call)(folded_ns, student, ctx.child_params())


def test_one_gradient_instead_of_two(folded_ns, canonical):
    """A folded _get_gradient returning a single array gives a TypeError naming both values."""

    class One(folded_ns["TLPMiniBatch"]):  # type: ignore[misc, name-defined]
        def _get_gradient(self, **kw):
            return super()._get_gradient(**kw)[0]

    inputs, ctx = student_inputs("gradients", B, {}, canonical)
    with pytest.raises(
        TypeError, match=r"returned one ndarray of shape \(4, 6\), expected 2 values: grad1, grad2"
    ):
        child_probes.gradients({"TLPMiniBatch": One}, inputs, ctx.child_params())
