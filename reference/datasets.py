"""Data for probes and convergence runs: the bundled digits set and tiny seeded generators.

Everything here returns **rows as instances**, like the student API
(``fit(X, y)`` with ``X : (N, D)``, ``y : (N,)``). The network functions in
``reference`` use the lecture's layout, **columns as instances**, so pass
``X.T`` (D, N) to them and ``one_hot(y)`` (K, N) as targets.

The generators use ``np.random.default_rng(seed)``: they are ours, not the
course's, so they need no bit-compatibility with the legacy global generator
(``reference.initializers`` is where that matters).
"""

from __future__ import annotations

from importlib import resources

import numpy as np

Array = np.ndarray

DIGITS_FILE = "data/digits.npz"
DIGITS_MAX = 16  # pixel values are integer counts 0..16 (see data/README.md)


def load_digits(scale: bool = True) -> tuple[Array, Array]:
    """The 8x8 handwritten digits (UCI, as shipped with scikit-learn), from the bundled file.

    Parameters
    ----------
    scale : bool
        Divide the pixels by 16 so inputs lie in [0, 1] (sigmoid units start unsaturated).

    Returns
    -------
    X : ndarray (1797, 64) float64, row i is one image read row by row
    y : ndarray (1797,) int64, labels 0..9
    """
    with resources.files("reference").joinpath(DIGITS_FILE).open("rb") as f, np.load(f) as z:
        X = z["X"].astype(np.float64)
        y = z["y"].astype(np.int64)
    if scale:
        X /= DIGITS_MAX
    return X, y


def blobs(n: int, d: int, k: int, seed: int, spread: float = 1.0) -> tuple[Array, Array]:
    """k Gaussian clusters in d dimensions, classes balanced (sizes differ by at most one).

    Centres are drawn uniformly from [-5, 5]^d; each point is its centre plus
    ``spread * N(0, I)``.

    Returns
    -------
    X : ndarray (n, d) float64
    y : ndarray (n,) int64, every class 0..k-1 present when n >= k
    """
    _check_counts(n=n, d=d, k=k)
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-5.0, 5.0, size=(k, d))
    y = rng.permutation(np.arange(n) % k)
    X = centres[y] + spread * rng.standard_normal((n, d))
    return X, y.astype(np.int64)


def xor(n: int, seed: int, noise: float = 0.1) -> tuple[Array, Array]:
    """The XOR problem: points near the corners (±1, ±1), class = the corner's signs differ.

    Corners are used in turn (then shuffled), so both classes are present when n >= 2;
    ``noise`` is the standard deviation of the Gaussian jitter around each corner.

    Returns
    -------
    X : ndarray (n, 2) float64
    y : ndarray (n,) int64 in {0, 1}
    """
    _check_counts(n=n)
    rng = np.random.default_rng(seed)
    corner = rng.permutation(np.arange(n) % 4)
    bits = np.stack([corner // 2, corner % 2], axis=1)  # (n, 2) in {0, 1}
    X = (2.0 * bits - 1.0) + noise * rng.standard_normal((n, 2))
    y = bits[:, 0] ^ bits[:, 1]
    return X, y.astype(np.int64)


def probe_inputs(d: int, n: int, k: int, seed: int) -> tuple[Array, Array]:
    """A small probe batch for gradient and forward checks: X (n, d) with n != d, all k classes.

    Non-square on purpose (docs/conventions.md §4): with N != D a transposed ``X`` fails
    loudly instead of passing by accident. Every class appears at least once, so
    ``one_hot(y)`` has exactly k rows. Inputs are standard normal: sigmoid units
    stay in their sensitive range.

    Returns
    -------
    X : ndarray (n, d) float64
    y : ndarray (n,) int64, labels 0..k-1, each present at least once
    """
    _check_counts(n=n, d=d, k=k)
    if n == d:
        raise ValueError(
            f"probe inputs must be non-square (n != d) so transposes show; got n = d = {n}"
        )
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    # every class once, the rest at random; then shuffle so class 0 is not always first
    y = rng.permutation(np.concatenate([np.arange(k), rng.integers(0, k, size=n - k)]))
    return X, y.astype(np.int64)


def split(X: Array, y: Array, test_fraction: float, seed: int) -> tuple[Array, Array, Array, Array]:
    """Deterministic stratified train/test split (each class split in the same proportion).

    Per class, ``round(test_fraction * n_c)`` instances go to the test set, chosen
    by a seeded permutation; both parts keep the original row order.

    Parameters
    ----------
    X : ndarray (N, D)
    y : ndarray (N,)
    test_fraction : float in (0, 1)
    seed : int

    Returns
    -------
    X_train, X_test, y_train, y_test
    """
    X, y = np.asarray(X), np.asarray(y)
    if y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise ValueError(f"need X (N, D) and y (N,) with the same N; got X {X.shape}, y {y.shape}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(seed)
    is_test = np.zeros(y.shape[0], dtype=bool)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        n_test = round(test_fraction * members.size)
        is_test[rng.permutation(members)[:n_test]] = True
    return X[~is_test], X[is_test], y[~is_test], y[is_test]


def _check_counts(**counts: int) -> None:
    for name, value in counts.items():
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if "k" in counts and counts["n"] < counts["k"]:
        raise ValueError(
            f"need n >= k so every class can appear; got n={counts['n']}, k={counts['k']}"
        )
