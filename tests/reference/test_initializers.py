"""Initialisers: exact course / scikit-learn numbers, shapes, folded variants, generator hygiene."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from reference.initializers import INITIALIZERS, draw, initialize

SIZES = (5, 4, 3)  # D, H, K: all different, so a transposed draw cannot pass


@pytest.fixture
def global_rng() -> Iterator[None]:
    """Let a test use np.random.seed like the course, then restore the global state."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


# --- the course's own code, written out as the notebooks have it ---------------


def course_separate_uniform(seed: int, D: int, H: int, K: int) -> tuple[np.ndarray, ...]:
    np.random.seed(seed)
    W1 = np.random.uniform(-1.0, 1.0, size=D * H).reshape(H, D)
    W2 = np.random.uniform(-1.0, 1.0, size=H * K).reshape(K, H)
    return W1, W2


def course_folded_uniform(seed: int, D: int, H: int, K: int) -> tuple[np.ndarray, ...]:
    np.random.seed(seed)
    W1 = np.random.uniform(-1.0, 1.0, size=(D + 1) * H).reshape(H, D + 1)
    W2 = np.random.uniform(-1.0, 1.0, size=(H + 1) * K).reshape(K, H + 1)
    return W1, W2


def course_separate_glorot(seed: int, D: int, H: int, K: int) -> tuple[np.ndarray, ...]:
    np.random.seed(seed)
    init_bound = 4 * np.sqrt(6.0 / (H + D))
    W1 = np.random.uniform(-init_bound, init_bound, (H, D))
    init_bound = 4 * np.sqrt(6 / (K + H))
    W2 = np.random.uniform(-init_bound, init_bound, (K, H))
    return W1, W2


def course_folded_glorot(seed: int, D: int, H: int, K: int) -> tuple[np.ndarray, ...]:
    np.random.seed(seed)
    init_bound = 4 * np.sqrt(6.0 / (H + D + 1))
    W1 = np.random.uniform(-init_bound, init_bound, (H, D + 1))
    W1[:, :1] = 0
    init_bound = 4 * np.sqrt(6 / (K + H + 1))
    W2 = np.random.uniform(-init_bound, init_bound, (K, H + 1))
    W2[:, :1] = 0
    return W1, W2


# --- exact numbers -------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_course_uniform_equals_global_seeded_draws(seed: int, global_rng: None) -> None:
    """course_uniform equals np.random.seed(s) then one flat uniform(-1, 1) per layer, biases 0."""
    W1, W2 = course_separate_uniform(seed, *SIZES)
    p = initialize("course_uniform", SIZES, seed)
    np.testing.assert_array_equal(p.W[0], W1)
    np.testing.assert_array_equal(p.W[1], W2)
    for b in p.b:
        np.testing.assert_array_equal(b, 0.0)


@pytest.mark.parametrize("seed", [0, 7])
def test_course_uniform_folded_splits_drawn_bias_column(seed: int, global_rng: None) -> None:
    """The folded draw's column 0 becomes b (drawn, not zero) and the rest becomes W."""
    W1, W2 = course_folded_uniform(seed, *SIZES)
    p = initialize("course_uniform_folded", SIZES, seed)
    for Wb, W, b in zip((W1, W2), p.W, p.b, strict=True):
        np.testing.assert_array_equal(W, Wb[:, 1:])
        np.testing.assert_array_equal(b, Wb[:, :1])
        assert np.all(b != 0.0)


@pytest.mark.parametrize("seed", [0, 3])
def test_course_glorot_equals_better_initial(seed: int, global_rng: None) -> None:
    """course_glorot equals TLPBetterInitial (separate bias): U(±4·sqrt(6/(n_out+n_in))), b = 0."""
    W1, W2 = course_separate_glorot(seed, *SIZES)
    p = initialize("course_glorot", SIZES, seed)
    np.testing.assert_array_equal(p.W[0], W1)
    np.testing.assert_array_equal(p.W[1], W2)
    for b in p.b:
        np.testing.assert_array_equal(b, 0.0)


@pytest.mark.parametrize("seed", [0, 3])
def test_course_glorot_folded_equals_better_initial(seed: int, global_rng: None) -> None:
    """course_glorot_folded equals the folded TLPBetterInitial: (n_in+1) in the bound, bias column zeroed."""
    W1, W2 = course_folded_glorot(seed, *SIZES)
    p = initialize("course_glorot_folded", SIZES, seed)
    for Wb, W, b in zip((W1, W2), p.W, p.b, strict=True):
        np.testing.assert_array_equal(W, Wb[:, 1:])
        np.testing.assert_array_equal(b, 0.0)


def test_folded_glorot_differs_from_separate_glorot() -> None:
    """The folded bound and the drawn bias column change the numbers, not just the layout."""
    a = initialize("course_glorot", SIZES, 0)
    b = initialize("course_glorot_folded", SIZES, 0)
    assert not np.allclose(a.W[0], b.W[0])


@pytest.mark.parametrize("name", ["course_glorot", "course_glorot_folded"])
def test_glorot_output_bias_option(name: str) -> None:
    """output_bias sets only the last layer's bias and leaves the weights unchanged."""
    plain = initialize(name, (5, 4, 6, 3), 2)
    shifted = initialize(name, (5, 4, 6, 3), 2, output_bias=-2.0)
    np.testing.assert_array_equal(shifted.b[-1], -2.0)
    for b in shifted.b[:-1]:
        np.testing.assert_array_equal(b, 0.0)
    for W0, W1 in zip(plain.W, shifted.W, strict=True):
        np.testing.assert_array_equal(W0, W1)


@pytest.mark.parametrize("name", ["course_glorot", "course_glorot_folded"])
def test_glorot_stays_within_bound(name: str) -> None:
    """Every Glorot weight lies within ±4·sqrt(6/(n_out+n_in[+1]))."""
    p = initialize(name, (30, 20, 10), 0)
    extra = 1 if name.endswith("folded") else 0
    for W in p.W:
        n_out, n_in = W.shape
        assert np.abs(W).max() <= 4 * np.sqrt(6 / (n_out + n_in + extra))


def test_sklearn_logistic_uses_factor_two() -> None:
    """activation='logistic' shrinks the bound by sqrt(3) relative to the default factor 6."""
    relu = initialize("sklearn", (6, 5, 4), 0)
    logistic = initialize("sklearn", (6, 5, 4), 0, activation="logistic")
    for Wr, Wl in zip(relu.W, logistic.W, strict=True):
        np.testing.assert_allclose(Wr, Wl * np.sqrt(3.0))


class _SnapshotInit:
    """Mixin: keep a copy of coefs_/intercepts_ the moment scikit-learn initialises them."""

    def _initialize(self, y: np.ndarray, layer_units: list[int], dtype: np.dtype) -> None:
        super()._initialize(y, layer_units, dtype)  # type: ignore[misc]
        self.init_coefs_ = [c.copy() for c in self.coefs_]  # type: ignore[attr-defined]
        self.init_intercepts_ = [c.copy() for c in self.intercepts_]  # type: ignore[attr-defined]


@pytest.mark.oracle
@pytest.mark.parametrize(
    ("hidden", "activation"), [((4,), "logistic"), ((6, 4), "logistic"), ((4,), "relu")]
)
def test_sklearn_equals_mlpclassifier_initial_weights(
    hidden: tuple[int, ...], activation: str
) -> None:
    """initialize('sklearn') equals MLPClassifier's weights right after its own initialisation."""
    pytest.importorskip("sklearn")
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    class Snap(_SnapshotInit, MLPClassifier):
        pass

    X = np.random.default_rng(0).standard_normal((9, 5))
    y = np.arange(9) % 3  # three classes -> three output units
    clf = Snap(hidden_layer_sizes=hidden, activation=activation, random_state=13, max_iter=1)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    p = initialize("sklearn", (5, *hidden, 3), 13, activation=activation)
    assert p.depth == len(clf.init_coefs_)
    for W, b, coef, intercept in zip(p.W, p.b, clf.init_coefs_, clf.init_intercepts_, strict=True):
        np.testing.assert_array_equal(W, coef.T)
        np.testing.assert_array_equal(b[:, 0], intercept)


# --- shapes, registry, generator hygiene --------------------------------------------


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
@pytest.mark.parametrize("sizes", [(5, 3), (5, 4, 3), (5, 4, 6, 3), (5, 4, 6, 2, 3)])
def test_shapes_for_depth_one_to_four(name: str, sizes: tuple[int, ...]) -> None:
    """W[l] is (sizes[l+1], sizes[l]) and b[l] is (sizes[l+1], 1), float64, for 1 to 4 layers."""
    p = initialize(name, sizes, 0)
    assert p.sizes == sizes
    for l, (W, b) in enumerate(zip(p.W, p.b, strict=True)):
        assert W.shape == (sizes[l + 1], sizes[l]) and W.dtype == np.float64
        assert b.shape == (sizes[l + 1], 1) and b.dtype == np.float64


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_initialize_leaves_global_generator_alone(name: str) -> None:
    """Initialising never draws from or reseeds numpy's global generator."""
    before = np.random.get_state(legacy=False)["state"]
    initialize(name, SIZES, 123)
    after = np.random.get_state(legacy=False)["state"]
    assert after["pos"] == before["pos"]
    np.testing.assert_array_equal(after["key"], before["key"])


def test_draw_advances_the_given_generator_like_the_course(global_rng: None) -> None:
    """After draw(), the generator continues exactly where the course's global one would (epoch shuffles)."""
    rng = np.random.RandomState(5)
    draw("course_uniform", SIZES, rng)
    course_separate_uniform(5, *SIZES)
    np.testing.assert_array_equal(rng.permutation(10), np.random.permutation(10))


def test_same_seed_same_params_and_none_is_allowed() -> None:
    """A fixed seed reproduces the parameters; seed=None draws fresh ones."""
    a, b = initialize("course_uniform", SIZES, 9), initialize("course_uniform", SIZES, 9)
    np.testing.assert_array_equal(a.W[0], b.W[0])
    assert initialize("course_uniform", SIZES, None).W[0].shape == (4, 5)


def test_unknown_name_lists_allowed_ones() -> None:
    """An unknown initializer name raises ValueError naming the allowed schemes."""
    with pytest.raises(ValueError, match="course_uniform"):
        initialize("xavier", SIZES, 0)


@pytest.mark.parametrize("sizes", [(5,), (5, 0, 3), (5, 2.5, 3)])
def test_bad_sizes_are_refused(sizes: tuple[float, ...]) -> None:
    """sizes needs at least two positive integers."""
    with pytest.raises(ValueError):
        initialize("course_uniform", sizes, 0)  # type: ignore[arg-type]
