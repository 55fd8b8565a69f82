"""The template adapter on the correct template notebook: every probe reproduces the reference."""

from __future__ import annotations

import numpy as np
import pytest

from grader.adapters import child_probes
from grader.adapters.binding import binding_for
from grader.probes import student_inputs
from tests.grader.adapters.conftest import assert_close, problem, run_probe

B = binding_for("template")


def test_forward_matches_reference(template_ns, canonical):
    """forward returns the reference's output activation."""
    assert_close(*run_probe("forward", B, template_ns, {}, canonical))


@pytest.mark.parametrize("C", [0.0, 25.0])
def test_gradients_match_reference(template_ns, canonical, C):
    """gradients match the declared objective with the penalty off and large."""
    assert_close(*run_probe("gradients", B, template_ns, {"C": C}, canonical))


def test_gradients_of_a_three_layer_network(template_ns):
    """The template's depth follows the inputs: a 3-layer network converts and matches too."""
    assert_close(*run_probe("gradients", B, template_ns, {"C": 0.5}, problem((5, 4, 6, 3))))


def test_cost_is_the_declared_objective(template_ns, canonical):
    """cost equals the reference's objective value."""
    assert_close(*run_probe("cost", B, template_ns, {"C": 3.0}, canonical))


def test_predict(template_ns, canonical):
    """predict returns the reference's class indices."""
    assert_close(*run_probe("predict", B, template_ns, {}, canonical))


def test_one_hot(template_ns, canonical):
    """The one-hot encoding matches the reference's (classes sorted, columns are instances)."""
    assert_close(*run_probe("one_hot", B, template_ns, {}, {"y": canonical["y"]}))


def test_optimizer_trajectory(template_ns, canonical):
    """Three momentum steps give the reference's iterates (the third differs between forms)."""
    rng = np.random.default_rng(3)
    grads = {f"d{k}": rng.normal(size=(3, *v.shape)) for k, v in canonical.items() if k[0] in "Wb"}
    inputs = {k: v for k, v in canonical.items() if k[0] in "Wb"} | grads
    got, want = run_probe("optimizer", B, template_ns, {"eta": 0.1, "alpha": 0.9}, inputs)
    assert want["W1"].shape == (3, 4, 5)
    assert_close(got, want)


def test_schedule(template_ns):
    """learning_rate follows eta0 / (1 + d k)."""
    got, want = run_probe(
        "schedule", B, template_ns, {"eta": 0.1, "decrease_const": 0.1, "epochs": 6}, {}
    )
    assert_close(got, want)
    assert want["eta"][5] == pytest.approx(0.1 / 1.5)


def test_train_replay(template_ns):
    """A replayed run with given orders matches the reference's parameters, cost and accuracy."""
    c = problem(N=12, seed=4)
    perms = np.array([np.random.default_rng(k).permutation(12) for k in range(4)])
    hyper = {
        "eta": 0.05,
        "alpha": 0.5,
        "C": 0.1,
        "decrease_const": 0.2,
        "minibatches": 3,
        "epochs": 4,
    }
    got, want = run_probe("train", B, template_ns, hyper, c | {"perms": perms})
    assert want["cost"].shape == (4,) and want["accuracy"].shape == (5,)
    assert_close(got, want)


def test_timing_returns_the_reference_sum_of_its_timed_gradients(template_ns):
    """timing calls the gradient once per timed call, each with other parameters and no
    penalty, and returns the sum: the reference's sum (the supervisor does the timing)."""
    got, want = run_probe("timing", B, template_ns, {"repeats": 2, "C": 0.5}, problem(N=300))
    assert_close(got, want, tol=1e-8)


def test_the_baseline_runs_without_the_submission():
    """The baseline needs only its own arrays (it runs before the submission loads)."""
    rng = np.random.default_rng(0)
    arrays = {
        "base_W1": rng.random((4, 5)),
        "base_b1": rng.random((4, 1)),
        "base_X": rng.random((5, 9)),
    }
    assert np.isfinite(child_probes.baseline(arrays, {"repeats": 2})["checksum"])


def test_missing_function_is_unsupported(canonical):
    """A notebook without the bound function gives ProbeUnsupported naming it."""
    inputs, ctx = student_inputs("gradients", B, {}, canonical)
    with pytest.raises(child_probes.ProbeUnsupported, match="no 'gradients'"):
        child_probes.gradients({"np": np}, inputs, ctx.child_params())


def test_gradients_dict_without_a_key(canonical):
    """A gradients dict lacking db2 gives a TypeError naming the missing key."""
    ns = {"gradients": lambda P, X, Y, C: {"dW1": P["W1"], "dW2": P["W2"], "db1": P["b1"]}}
    inputs, ctx = student_inputs("gradients", B, {}, canonical)
    with pytest.raises(TypeError, match="without db2"):
        child_probes.gradients(ns, inputs, ctx.child_params())
