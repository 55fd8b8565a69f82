"""Deterministic training: batch order, the course's fit replayed exactly, traces, misconception."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pytest
from scipy.special import expit

from reference.datasets import blobs
from reference.initializers import draw, initialize
from reference.misconceptions import all_misconceptions, get
from reference.misconceptions.training import separate_orders
from reference.network import Model, forward, gradients, objective_value
from reference.objectives import Objective, printed_cost
from reference.params import Params
from reference.training import (
    Trace,
    TrainConfig,
    batch_order,
    run_epoch,
    train,
)


@pytest.fixture
def global_rng() -> Iterator[None]:
    """The course seeds numpy's global generator; put it back afterwards."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def learnable(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three separable clusters, inputs scaled into the sigmoid's sensitive range."""
    X, y = blobs(n, 4, 3, seed=seed)
    return X / 5, y


def config(**changes: object) -> TrainConfig:
    base = TrainConfig(
        epochs=20,
        minibatches=6,
        shuffle="course",
        seed=2,
        optimizer_hyper={"alpha": 0.5},
        schedule="constant",
        schedule_hyper={"eta0": 0.01},
        objective=Objective(C=0.01),
    )
    return base.with_(**changes)


# ---------------------------------------------------------------------------
# The course's TLPMiniBatch (separate bias, sigmoid, MSE, gradW += C*W), transcribed


class CourseTLPMiniBatch:
    """The course's fit loop as students copy it, global generator and all (docs/conventions.md §7)."""

    def __init__(self, n_hidden, C, epochs, eta, random_state, alpha, decrease_const, minibatches):
        np.random.seed(random_state)
        self.n_hidden, self.l2_C, self.epochs, self.eta = n_hidden, C, epochs, eta
        self.alpha, self.decrease_const, self.minibatches = alpha, decrease_const, minibatches

    @staticmethod
    def _encode_labels(y):
        return (np.unique(y)[:, None] == y[None, :]).astype(float)  # pd.get_dummies(y).values.T

    def _initialize_weights(self):
        W1_num_elems = self.n_features_ * self.n_hidden
        W1 = np.random.uniform(-1.0, 1.0, size=W1_num_elems)
        W1 = W1.reshape(self.n_hidden, self.n_features_)
        b1 = np.zeros((self.n_hidden, 1))
        W2_num_elems = self.n_hidden * self.n_output_
        W2 = np.random.uniform(-1.0, 1.0, size=W2_num_elems)
        W2 = W2.reshape(self.n_output_, self.n_hidden)
        b2 = np.zeros((self.n_output_, 1))
        return W1, W2, b1, b2

    @staticmethod
    def _L2_reg(lambda_, W1, W2):
        return (lambda_ / 2.0) * np.sqrt(np.mean(W1[:, 1:] ** 2) + np.mean(W2[:, 1:] ** 2))

    def _cost(self, A3, Y_enc, W1, W2):
        cost = np.mean((Y_enc - A3) ** 2)
        L2_term = self._L2_reg(self.l2_C, W1, W2)
        return cost + L2_term

    def _feedforward(self, X, W1, W2, b1, b2):
        A1 = X.T
        Z1 = W1 @ A1 + b1
        A2 = expit(Z1)
        Z2 = W2 @ A2 + b2
        A3 = expit(Z2)
        return A1, Z1, A2, Z2, A3

    def _get_gradient(self, A1, A2, A3, Z1, Z2, Y_enc, W1, W2):
        V2 = -2 * (Y_enc - A3) * A3 * (1 - A3)
        V1 = A2 * (1 - A2) * (W2.T @ V2)
        gradW2 = V2 @ A2.T
        gradW1 = V1 @ A1.T
        gradb2 = np.sum(V2, axis=1).reshape((-1, 1))
        gradb1 = np.sum(V1, axis=1).reshape((-1, 1))
        gradW1 += W1 * self.l2_C
        gradW2 += W2 * self.l2_C
        return gradW1, gradW2, gradb1, gradb2

    def predict(self, X):
        _, _, _, _, A3 = self._feedforward(X, self.W1, self.W2, self.b1, self.b2)
        return np.argmax(A3, axis=0)

    def fit(self, X, y):
        X_data, y_data = X.copy(), y.copy()
        Y_enc = self._encode_labels(y)
        self.n_features_ = X_data.shape[1]
        self.n_output_ = Y_enc.shape[0]
        self.W1, self.W2, self.b1, self.b2 = self._initialize_weights()
        rho_W1_prev = np.zeros(self.W1.shape)
        rho_W2_prev = np.zeros(self.W2.shape)
        self.cost_ = []
        self.score_ = [np.mean(y_data == self.predict(X_data))]
        for i in range(self.epochs):
            eta = self.eta / (1 + self.decrease_const * i)
            idx_shuffle = np.random.permutation(y_data.shape[0])
            X_data, Y_enc, y_data = X_data[idx_shuffle], Y_enc[:, idx_shuffle], y_data[idx_shuffle]
            mini = np.array_split(range(y_data.shape[0]), self.minibatches)
            mini_cost = []
            for idx in mini:
                A1, Z1, A2, Z2, A3 = self._feedforward(
                    X_data[idx], self.W1, self.W2, self.b1, self.b2
                )
                cost = self._cost(A3, Y_enc[:, idx], self.W1, self.W2)
                mini_cost.append(cost)
                gradW1, gradW2, gradb1, gradb2 = self._get_gradient(
                    A1=A1, A2=A2, A3=A3, Z1=Z1, Z2=Z2, Y_enc=Y_enc[:, idx], W1=self.W1, W2=self.W2
                )
                rho_W1, rho_W2 = eta * gradW1, eta * gradW2
                self.W1 -= rho_W1 + (self.alpha * rho_W1_prev)
                self.W2 -= rho_W2 + (self.alpha * rho_W2_prev)
                self.b1 -= eta * gradb1
                self.b2 -= eta * gradb2
                rho_W1_prev, rho_W2_prev = rho_W1, rho_W2
            self.cost_.append(mini_cost)
            self.score_.append(np.mean(y_data == self.predict(X_data)))
        return self


# ---------------------------------------------------------------------------
# Exact replay


def test_train_replays_the_course_fit_exactly(global_rng):
    """Same init and stream: final weights to 1e-12, np.mean(cost_[k]) to 1e-12, score_ exactly."""
    X, y = blobs(40, 6, 3, seed=3)
    X = X / 5
    seed, H, E, m = 7, 5, 30, 4
    course = CourseTLPMiniBatch(H, 0.1, E, 0.05, seed, 0.5, 0.1, m).fit(X, y)

    rng = np.random.RandomState(seed)
    params0 = draw("course_uniform", (6, H, 3), rng)  # leaves rng where the course's shuffles start
    cfg = TrainConfig(
        epochs=E,
        minibatches=m,
        optimizer="momentum_course",
        optimizer_hyper={"alpha": 0.5},
        schedule="inverse_time",
        schedule_hyper={"eta0": 0.05, "d": 0.1},
        objective=Objective(loss="squared", reduction="sum", penalty="l2_half", C=0.1),
    )
    params, trace = train(params0, X, y, cfg, batch_order(40, E, m, "course", rng))

    for ours, theirs in zip(
        params.arrays(), [course.W1, course.W2, course.b1, course.b2], strict=True
    ):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(trace.printed_cost, np.mean(course.cost_, axis=1), rtol=1e-12)
    np.testing.assert_array_equal(trace.train_accuracy, course.score_)
    assert trace.train_accuracy[-1] > trace.train_accuracy[0]  # the replay is not a trivial one


def test_printed_cost_is_taken_on_each_batch_before_its_update():
    """Epoch mean of printed_cost(W_before, batch) for each batch, not the cost after it."""
    X, y = learnable(12)
    p0 = initialize("course_uniform", (4, 5, 3), 0)
    cfg = config(epochs=1, minibatches=2, shuffle="none", optimizer="sgd", optimizer_hyper={})
    _, trace = train(p0, X, y, cfg)
    Y = np.eye(3)[:, y]
    halves = [np.arange(6), np.arange(6, 12)]
    g0 = gradients(p0, X[:6].T, Y[:, :6], cfg.model, cfg.objective)
    p1 = Params.from_arrays([a - 0.01 * g for a, g in zip(p0.arrays(), g0.arrays(), strict=True)])
    expected = [
        printed_cost(p, _out(p, X[h]), Y[:, h], C=0.01)
        for p, h in zip((p0, p1), halves, strict=True)
    ]
    np.testing.assert_allclose(trace.printed_cost, [np.mean(expected)], rtol=1e-13)


def _out(params: Params, X: np.ndarray) -> np.ndarray:
    """The sigmoid network's output for rows X, written out."""
    A2 = expit(params.W[0] @ X.T + params.b[0])
    return expit(params.W[1] @ A2 + params.b[1])


# ---------------------------------------------------------------------------
# Batch order


def test_none_shuffle_gives_array_split_order_every_epoch():
    """shuffle="none": np.array_split(range(7), 3) = [0 1 2], [3 4], [5 6] in every epoch."""
    order = batch_order(7, 2, 3, "none")
    assert [[b.tolist() for b in epoch] for epoch in order] == [[[0, 1, 2], [3, 4], [5, 6]]] * 2


def test_course_shuffle_composes_the_permutations(global_rng):
    """shuffle="course" indexes the original rows the course's cumulatively shuffled arrays hold."""
    N, E, m = 9, 4, 2
    order = batch_order(N, E, m, "course", 5)
    np.random.seed(5)
    rows = np.arange(N) * 10  # stands for X_data: row i holds 10 i
    for k in range(E):
        rows = rows[np.random.permutation(N)]
        for idx, ours in zip(np.array_split(range(N), m), order[k], strict=True):
            np.testing.assert_array_equal(rows[idx], 10 * ours)
    assert not np.array_equal(np.concatenate(order[1]), np.concatenate(order[0]))


def test_course_shuffle_continues_an_advanced_generator_without_advancing_it():
    """A RandomState past the init draws continues that stream; the caller's copy stays put."""
    rng = np.random.RandomState(3)
    rng.uniform(-1, 1, 17)
    state = rng.get_state()[1].copy()
    order = batch_order(10, 1, 1, "course", rng)
    np.testing.assert_array_equal(rng.get_state()[1], state)
    fresh = np.random.RandomState(3)
    fresh.uniform(-1, 1, 17)
    np.testing.assert_array_equal(order[0][0], fresh.permutation(10))
    assert not np.array_equal(order[0][0], batch_order(10, 1, 1, "course", 3)[0][0])


def test_seeded_is_reproducible_non_cumulative_and_differs_from_course():
    """shuffle="seeded": permutation k of RandomState(seed) applied to the original order."""
    seeded = batch_order(12, 3, 3, "seeded", 4)
    again = batch_order(12, 3, 3, "seeded", 4)
    course = batch_order(12, 3, 3, "course", 4)
    rng = np.random.RandomState(4)
    for k in range(3):
        np.testing.assert_array_equal(np.concatenate(seeded[k]), rng.permutation(12))
        np.testing.assert_array_equal(np.concatenate(seeded[k]), np.concatenate(again[k]))
    assert not np.array_equal(np.concatenate(seeded[2]), np.concatenate(course[2]))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((5, 1, 6, "none", None), "empty batches"),
        ((5, 1, 1, "random", 0), "not one of"),
        ((5, 1, 1, "course", None), "needs a seed"),
        ((0, 1, 1, "none", None), "N must be"),
    ],
)
def test_batch_order_rejects_bad_arguments(args, message):
    """Impossible batch orders raise ValueError saying what is wrong."""
    with pytest.raises(ValueError, match=message):
        batch_order(*args)


# ---------------------------------------------------------------------------
# Training


def test_objective_decreases_and_the_network_learns():
    """On separable clusters the declared objective falls and training accuracy reaches ~1."""
    X, y = learnable()
    _, trace = train(initialize("course_uniform", (4, 6, 3), 1), X, y, config())
    assert trace.objective[-1] < 0.5 * trace.objective[0]
    assert trace.train_accuracy[-1] >= 0.95


def test_trace_objective_is_the_declared_objective_of_the_final_params():
    """Trace.objective[-1] = J(final params) on the full training set."""
    X, y = learnable()
    cfg = config(epochs=3, objective=Objective(penalty="l2", C=0.2))
    params, trace = train(initialize("course_uniform", (4, 6, 3), 1), X, y, cfg)
    J = objective_value(params, X.T, np.eye(3)[:, y], cfg.model, cfg.objective)
    assert trace.objective[-1] == pytest.approx(J, rel=1e-12)
    assert trace.data_term[-1] < trace.objective[-1]


def test_trace_printed_cost_end_is_the_whole_sets_printed_cost_after_each_epoch():
    """What a class that appends _cost(forward(X)) once per epoch records (the textbook's
    NeuralNetMLP): the printed cost of the whole training set at the final parameters, where
    printed_cost averages the batches' costs before each update."""
    X, y = learnable()
    cfg = config(epochs=3, objective=Objective(penalty="l2_half", C=0.2))
    params, trace = train(initialize("course_uniform", (4, 6, 3), 1), X, y, cfg)
    A = forward(params, X.T, cfg.model).output
    want = printed_cost(params, A, np.eye(3)[:, y], *cfg.printed())
    assert trace.printed_cost_end is not None
    assert trace.printed_cost_end[-1] == pytest.approx(want, rel=1e-12)
    assert trace.printed_cost_end[-1] != pytest.approx(trace.printed_cost[-1], rel=1e-6)


def test_train_does_not_mutate_the_initial_params():
    """params0 is left exactly as it was."""
    X, y = learnable()
    p0 = initialize("course_uniform", (4, 6, 3), 1)
    before = [a.copy() for a in p0.arrays()]
    params, _ = train(p0, X, y, config(epochs=2))
    for a, b in zip(p0.arrays(), before, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(params.W[0], p0.W[0])


def test_biases_get_plain_steps_unless_bias_momentum():
    """Course rule: W -= r + α r_prev but b -= η g; bias_momentum=True gives b momentum too."""
    X, y = learnable(12)
    p0 = initialize("course_uniform", (4, 5, 3), 0)
    Y = np.eye(3)[:, y]
    eta, alpha = 0.01, 0.5
    cfg = config(epochs=1, minibatches=2, shuffle="none")
    g0 = gradients(p0, X[:6].T, Y[:, :6], cfg.model, cfg.objective)
    p1 = Params.from_arrays([a - eta * g for a, g in zip(p0.arrays(), g0.arrays(), strict=True)])
    g1 = gradients(p1, X[6:].T, Y[:, 6:], cfg.model, cfg.objective)
    course, _ = train(p0, X, y, cfg)
    heavy, _ = train(p0, X, y, cfg.with_(bias_momentum=True))
    for l in range(2):
        W = p1.W[l] - eta * g1.W[l] - alpha * eta * g0.W[l]
        np.testing.assert_allclose(course.W[l], W, rtol=1e-13)
        np.testing.assert_allclose(course.b[l], p1.b[l] - eta * g1.b[l], rtol=1e-13)
        np.testing.assert_allclose(heavy.b[l], p1.b[l] - eta * g1.b[l] - alpha * eta * g0.b[l])


def test_learning_rate_follows_the_schedule():
    """inverse_time with eta0 = d = 0.1 gives 0.0667 at epoch 5 (docs/conventions.md §3)."""
    X, y = learnable(12)
    cfg = config(epochs=6, schedule="inverse_time", schedule_hyper={"eta0": 0.1, "d": 0.1})
    _, trace = train(initialize("course_uniform", (4, 5, 3), 0), X, y, cfg)
    assert trace.learning_rate[0] == 0.1
    assert trace.learning_rate[5] == pytest.approx(0.0667, abs=1e-4)


def test_run_epoch_without_recording_updates_identically():
    """record=False skips the printed cost and gradient sizes but takes the same steps."""
    X, y = learnable()
    cfg = config()
    p0 = initialize("course_uniform", (4, 6, 3), 1)
    batches = batch_order(60, 1, 6, "course", 0)[0]
    Y = np.eye(3)[:, y]
    out = []
    for record in (True, False):
        p = p0.copy()
        rec = run_epoch(p, X.T, Y, batches, 0.01, cfg.make_optimizer(p), cfg, record)
        out.append((p, rec))
    for a, b in zip(out[0][0].arrays(), out[1][0].arrays(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(out[0][1].printed_cost) and np.isnan(out[1][1].printed_cost)
    assert np.all(out[0][1].grad_magnitude > 0) and np.all(np.isnan(out[1][1].grad_magnitude))


def test_train_rejects_mismatched_data_and_batches():
    """Wrong feature count, labels outside 0..K-1 and a short batch order raise ValueError."""
    X, y = learnable(12)
    p0 = initialize("course_uniform", (4, 5, 3), 0)
    cfg = config(epochs=2)
    with pytest.raises(ValueError, match=r"X \(N, 4\)"):
        train(p0, X[:, :3], y, cfg)
    with pytest.raises(ValueError, match=r"0\.\.2"):
        train(p0, X, y + 1, cfg)
    with pytest.raises(ValueError, match="1 epochs"):
        train(p0, X, y, cfg, batch_order(12, 1, 2, "none"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"shuffle": "random"}, "shuffle"),
        ({"optimizer": "lbfgs"}, "unknown optimizer"),
        ({"optimizer_hyper": {"alpha": 2.0}}, "alpha"),
        ({"optimizer_hyper": {"momentum_mask": [True] * 4}}, "bias_momentum"),
        ({"schedule": "cosine"}, "unknown schedule"),
        ({"epochs": -1}, "epochs"),
        ({"printed_bias_style": "rows"}, "printed_bias_style"),
        ({"objective": Objective(loss="cce"), "model": Model(output="linear")}, "output"),
    ],
)
def test_config_rejects_invalid_settings(changes, message):
    """An invalid TrainConfig fails at construction with a message naming the setting."""
    with pytest.raises(ValueError, match=message):
        config(**changes)


# ---------------------------------------------------------------------------
# Trace


def test_trace_has_the_documented_shapes():
    """(E,) per epoch, (E+1,) accuracies, (E, L) gradient sizes for a 3-layer net."""
    X, y = learnable()
    E = 4
    _, trace = train(
        initialize("course_uniform", (4, 6, 5, 3), 1),
        X,
        y,
        config(epochs=E),
        X_val=X[:9],
        y_val=y[:9],
    )
    arrays = trace.as_arrays()
    assert {k: v.shape for k, v in arrays.items()} == {
        "objective": (E,),
        "data_term": (E,),
        "printed_cost": (E,),
        "learning_rate": (E,),
        "train_accuracy": (E + 1,),
        "val_accuracy": (E + 1,),
        "grad_magnitude": (E, 3),
        "printed_cost_end": (E,),
    }
    assert all(v.dtype == np.float64 for v in arrays.values())
    assert trace.epochs == E


def test_trace_round_trips_through_npz():
    """Trace.from_arrays(np.load(savez(as_arrays()))) equals the original, with or without val."""
    X, y = learnable()
    p0 = initialize("course_uniform", (4, 6, 3), 1)
    for val in ({}, {"X_val": X[:9], "y_val": y[:9]}):
        _, trace = train(p0, X, y, config(epochs=3), **val)
        buf = io.BytesIO()
        np.savez(buf, **trace.as_arrays())
        buf.seek(0)
        with np.load(buf) as z:
            back = Trace.from_arrays(z)
        for name, a in trace.as_arrays().items():
            np.testing.assert_array_equal(getattr(back, name), a)
        assert (back.val_accuracy is None) == (not val)


def test_trace_is_read_only_and_rejects_inconsistent_shapes():
    """Trace arrays cannot be written to; a train_accuracy without the entry before training is refused."""
    X, y = learnable(12)
    _, trace = train(initialize("course_uniform", (4, 5, 3), 0), X, y, config(epochs=2))
    with pytest.raises(ValueError, match="read-only"):
        trace.objective[0] = 0.0
    arrays = dict(trace.as_arrays(), train_accuracy=trace.train_accuracy[1:])
    with pytest.raises(ValueError, match="train_accuracy"):
        Trace.from_arrays(arrays)


# ---------------------------------------------------------------------------
# Misconception: X and Y shuffled with different permutations


def test_xy_shuffled_separately_is_registered_as_training():
    """The misconception is in the registry under kind "training"."""
    assert "xy_shuffled_separately" in {m.name for m in all_misconceptions("training")}


def test_xy_shuffled_separately_stays_near_chance_while_the_reference_learns():
    """Mismatched pairs: accuracy at most ~1/K and the objective stalls; the reference learns."""
    X, y = blobs(90, 4, 3, seed=0)
    X = X / 5
    p0 = initialize("course_uniform", (4, 6, 3), 1)
    impl = get("xy_shuffled_separately").impl
    for shuffle in ("course", "seeded"):
        cfg = config(epochs=30, minibatches=9, shuffle=shuffle)
        _, ref = train(p0, X, y, cfg)
        _, bug = impl(p0, X, y, cfg)
        _, bug_given = impl(p0, X, y, cfg, batch_order(90, 30, 9, shuffle, 5))
        assert ref.train_accuracy[-1] >= 0.95
        for trace in (bug, bug_given):
            assert np.mean(trace.train_accuracy[-10:]) < 0.45
            assert trace.objective[-1] > 3 * ref.objective[-1]


def test_separate_orders_reproduce_the_buggy_course_loop(global_rng):
    """X's permutation then Y's from the one global stream, each accumulated over epochs."""
    N, E, m = 8, 3, 2
    x_order, y_order = separate_orders(N, E, m, "course", 11)
    np.random.seed(11)
    xs, ys = np.arange(N), np.arange(N)
    for k in range(E):
        xs = xs[np.random.permutation(N)]
        ys = ys[np.random.permutation(N)]
        np.testing.assert_array_equal(np.concatenate(x_order[k]), xs)
        np.testing.assert_array_equal(np.concatenate(y_order[k]), ys)


def test_xy_shuffled_separately_without_shuffling_equals_the_reference():
    """With shuffle="none" nothing is shuffled, so nothing is mismatched."""
    X, y = learnable(12)
    p0 = initialize("course_uniform", (4, 5, 3), 0)
    cfg = config(epochs=3, shuffle="none")
    ref, _ = train(p0, X, y, cfg)
    bug, _ = get("xy_shuffled_separately").impl(p0, X, y, cfg)
    for a, b in zip(ref.arrays(), bug.arrays(), strict=True):
        np.testing.assert_array_equal(a, b)
