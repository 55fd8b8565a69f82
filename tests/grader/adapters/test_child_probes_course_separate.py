"""The course_separate adapter on a faithful copy of the course's TLPMiniBatch (separate biases)."""

from __future__ import annotations

import numpy as np
import pytest

from grader.adapters import child_probes
from grader.adapters.binding import binding_for
from grader.probes import student_inputs
from tests.grader.adapters.conftest import assert_close, problem, run_probe

B = binding_for("course_separate", **{"class": "TLPMiniBatch"})


def test_forward_matches_reference(separate_ns, canonical):
    """_feedforward's A3 is the reference's output activation."""
    assert_close(*run_probe("forward", B, separate_ns, {}, canonical))


@pytest.mark.parametrize("C", [0.0, 25.0])
def test_gradients_match_summed_objective(separate_ns, canonical, C):
    """_get_gradient is the gradient of sum((Y-A)^2) + C/2 ||W||^2 (docs/conventions.md §2)."""
    assert_close(*run_probe("gradients", B, separate_ns, {"C": C}, canonical))


def test_gradients_detect_a_doubled_penalty(separate_ns, canonical):
    """A subclass with gradW += 2*C*W no longer matches the declared objective at large C."""
    base = separate_ns["TLPMiniBatch"]

    class Doubled(base):  # type: ignore[misc, valid-type]
        def _get_gradient(self, A1, A2, A3, Z1, Z2, Y_enc, W1, W2):
            g = super()._get_gradient(A1, A2, A3, Z1, Z2, Y_enc, W1, W2)
            return g[0] + self.l2_C * W1, g[1] + self.l2_C * W2, g[2], g[3]

    got, want = run_probe("gradients", B, {"TLPMiniBatch": Doubled}, {"C": 25.0}, canonical)
    assert not np.allclose(got["dW1"], want["dW1"])
    np.testing.assert_allclose(got["db1"], want["db1"])


def test_printed_cost(separate_ns, canonical):
    """_cost is the course's printed cost, not the objective the gradient follows."""
    got, want = run_probe("cost", B, separate_ns, {"C": 3.0}, canonical)
    assert_close(got, want)


def test_predict(separate_ns, canonical):
    """predict returns the reference's class indices."""
    assert_close(*run_probe("predict", B, separate_ns, {}, canonical))


def test_one_hot(separate_ns, canonical):
    """The one-hot encoding matches the reference's (classes sorted, columns are instances)."""
    assert_close(*run_probe("one_hot", B, separate_ns, {}, {"y": canonical["y"]}))


def test_optimizer_gives_biases_plain_steps(separate_ns, canonical):
    """_momentum_update: course momentum on W, plain steps on b, as the reference's mask."""
    rng = np.random.default_rng(5)
    P = {k: v for k, v in canonical.items() if k[0] in "Wb"}
    grads = {f"d{k}": rng.normal(size=(4, *v.shape)) for k, v in P.items()}
    got, want = run_probe("optimizer", B, separate_ns, {"eta": 0.1, "alpha": 0.9}, P | grads)
    assert_close(got, want)
    # with momentum the third step of b would differ from plain descent: it does not
    plain = P["b1"] - 0.1 * np.cumsum(grads["db1"], axis=0)
    np.testing.assert_allclose(got["b1"], plain)


def test_schedule_is_step_decay(separate_ns):
    """_learning_rate_update follows eta * d**floor(k / decrease_iter)."""
    hyper = {"eta": 0.1, "decrease_const": 0.5, "decrease_iter": 2, "epochs": 5}
    got, want = run_probe("schedule", B, separate_ns, hyper, {})
    assert_close(got, want)
    np.testing.assert_allclose(want["eta"], [0.1, 0.1, 0.05, 0.05, 0.025])


TRAIN = {
    "eta": 0.05,
    "alpha": 0.5,
    "C": 0.1,
    "decrease_const": 0.5,
    "decrease_iter": 2,
    "minibatches": 3,
    "random_state": 1,
}


def test_train_replay_with_injected_weights_and_permutations(separate_ns):
    """fit with injected weights and draws replays exactly: W, b, cost_ per epoch, score_."""
    c = problem(N=12, seed=6)
    perms = np.array([np.random.default_rng(k).permutation(12) for k in range(5)])
    got, want = run_probe("train", B, separate_ns, TRAIN | {"epochs": 5}, c | {"perms": perms})
    assert want["accuracy"].shape == (6,)
    assert_close(got, want)


def test_train_replay_without_shuffling(separate_ns):
    """shuffle=False needs no permutations and replays the original order."""
    c = problem(N=9, seed=7)
    hyper = TRAIN | {"epochs": 3, "shuffle": False}
    assert_close(*run_probe("train", B, separate_ns, hyper, c))


def test_train_restores_numpy_permutation(separate_ns):
    """The patched np.random.permutation is restored after fit, even when fit fails."""
    c = problem(N=9, seed=7)
    before = np.random.permutation
    perms = np.array([np.random.default_rng(0).permutation(9)] * 2)
    inputs, ctx = student_inputs("train", B, TRAIN | {"epochs": 2}, c | {"perms": perms})
    child_probes.train(separate_ns, inputs, ctx.child_params())
    assert np.random.permutation is before

    class Broken(separate_ns["TLPMiniBatch"]):  # type: ignore[misc, name-defined]
        def fit(self, X, y):
            np.random.permutation(len(y))
            raise ZeroDivisionError("student bug")

    with pytest.raises(ZeroDivisionError):
        child_probes.train({"TLPMiniBatch": Broken}, inputs, ctx.child_params())
    assert np.random.permutation is before


def test_train_unsupported_when_fit_bypasses_the_initialiser(separate_ns):
    """A fit that draws weights inline cannot be replayed: ProbeUnsupported says why."""

    class Inline(separate_ns["TLPMiniBatch"]):  # type: ignore[misc, name-defined]
        def _initialize_weights(self):
            raise AssertionError("never called")

        def fit(self, X, y):
            self.W1 = np.zeros((self.n_hidden, X.shape[1]))
            return self

    c = problem(N=9, seed=7)
    inputs, ctx = student_inputs("train", B, TRAIN | {"epochs": 2, "shuffle": False}, c)
    with pytest.raises(child_probes.ProbeUnsupported, match="never called _initialize_weights"):
        child_probes.train({"TLPMiniBatch": Inline}, inputs, ctx.child_params())


def test_timing_returns_the_summed_gradients_of_its_timed_calls(separate_ns):
    """Each timed call has its own parameters (no cache helps); the sum is the reference's,
    also for a gradient that loops over instances (its speed is the supervisor's to time)."""

    class Looping(separate_ns["TLPMiniBatch"]):  # type: ignore[misc, name-defined]
        def _get_gradient(self, A1, A2, A3, Z1, Z2, Y_enc, W1, W2):
            parts = [
                super(Looping, self)._get_gradient(
                    A1[:, i : i + 1],
                    A2[:, i : i + 1],
                    A3[:, i : i + 1],
                    Z1,
                    Z2,
                    Y_enc[:, i : i + 1],
                    W1,
                    W2,
                )
                for i in range(A1.shape[1])
            ]
            return tuple(sum(p[j] for p in parts) for j in range(4))

    c = problem(N=40, seed=2)
    fast, want = run_probe("timing", B, separate_ns, {"repeats": 3}, c)
    slow, _ = run_probe("timing", B, {"TLPMiniBatch": Looping}, {"repeats": 3}, c)
    assert_close(fast, want, tol=1e-8)
    assert_close(slow, want, tol=1e-8)
    once, _ = run_probe("gradients", B, separate_ns, {"C": 0.0}, c)
    assert not np.allclose(fast["dW1"], 4 * once["dW1"])  # the calls differ: not one gradient x4


def test_wrong_number_of_values_names_what_was_expected(separate_ns, canonical):
    """_get_gradient returning 3 values gives the clear TypeError of the brief."""

    class Three(separate_ns["TLPMiniBatch"]):  # type: ignore[misc, name-defined]
        def _get_gradient(self, **kw):
            return super()._get_gradient(**kw)[:3]

    inputs, ctx = student_inputs("gradients", B, {}, canonical)
    msg = "_get_gradient returned 3 values, expected 4: gradW1, gradW2, gradb1, gradb2"
    with pytest.raises(TypeError, match=msg):
        child_probes.gradients({"TLPMiniBatch": Three}, inputs, ctx.child_params())


def test_values_in_the_wrong_order_are_named(separate_ns, canonical):
    """_get_gradient returning (W1, b1, W2, b2) is reported as an ordering mistake."""

    class Swapped(separate_ns["TLPMiniBatch"]):  # type: ignore[misc, name-defined]
        def _get_gradient(self, **kw):
            gW1, gW2, gb1, gb2 = super()._get_gradient(**kw)
            return gW1, gb1, gW2, gb2

    inputs, ctx = student_inputs("gradients", B, {}, canonical)
    with pytest.raises(TypeError, match="in another order"):
        child_probes.gradients({"TLPMiniBatch": Swapped}, inputs, ctx.child_params())


def test_lists_and_pandas_values_are_converted(separate_ns, canonical):
    """A gradient returned as nested lists and a pandas frame is accepted as numbers."""
    import pandas as pd

    class Listy(separate_ns["TLPMiniBatch"]):  # type: ignore[misc, name-defined]
        def _get_gradient(self, **kw):
            gW1, gW2, gb1, gb2 = super()._get_gradient(**kw)
            return gW1.tolist(), pd.DataFrame(gW2), list(gb1), gb2

    got, want = run_probe("gradients", B, {"TLPMiniBatch": Listy}, {"C": 1.0}, canonical)
    assert_close(got, want)


def test_missing_class_is_unsupported(canonical):
    """A notebook without the bound class gives ProbeUnsupported naming it."""
    inputs, ctx = student_inputs("forward", B, {}, canonical)
    with pytest.raises(child_probes.ProbeUnsupported, match="no class 'TLPMiniBatch'"):
        child_probes.forward({}, inputs, ctx.child_params())


def test_one_hot_of_labels_that_are_not_indices(separate_ns):
    """Labels 3, 5, 7 encode as sorted classes (pd.get_dummies), as the reference does."""
    y = np.array([7, 3, 5, 3, 7])
    got, want = run_probe("one_hot", B, separate_ns, {}, {"y": y})
    assert_close(got, want)
    np.testing.assert_array_equal(want["Y"][:, 0], [0, 0, 1])
