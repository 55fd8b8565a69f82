"""Bundled digits, synthetic generators and the stratified split."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from importlib import resources

import numpy as np
import pytest

from reference import datasets

# published in reference/data/README.md
DIGITS_CONTENT_SHA256 = "87ff0c9e40dc7e2c0e34e7257799c2e3f3aec1a016363bb11cad869ec428a826"


# --- digits ---------------------------------------------------------------


def test_digits_file_matches_published_checksum() -> None:
    """The bundled arrays hash to the content checksum published in data/README.md."""
    with resources.files("reference").joinpath("data/digits.npz").open("rb") as f, np.load(f) as z:
        assert z["X"].dtype == np.uint8 and z["y"].dtype == np.uint8
        digest = hashlib.sha256(z["X"].tobytes() + z["y"].tobytes()).hexdigest()
    assert digest == DIGITS_CONTENT_SHA256


def test_load_digits_shapes_and_types() -> None:
    """load_digits gives X (1797, 64) float64 and y (1797,) int64 with labels 0..9."""
    X, y = datasets.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(10))


def test_load_digits_scale_divides_by_16() -> None:
    """scale=True puts inputs in [0, 1]; it is exactly the raw counts divided by 16."""
    X, _ = datasets.load_digits(scale=True)
    raw, _ = datasets.load_digits(scale=False)
    assert X.min() == 0.0 and X.max() == 1.0
    assert raw.max() == 16.0 and np.array_equal(raw, np.round(raw))
    np.testing.assert_array_equal(X * 16, raw)


@pytest.mark.oracle
def test_load_digits_equals_scikit_learn() -> None:
    """The bundled copy is exactly scikit-learn's load_digits."""
    sk = pytest.importorskip("sklearn.datasets")
    d = sk.load_digits()
    X, y = datasets.load_digits(scale=False)
    np.testing.assert_array_equal(X, d.data)
    np.testing.assert_array_equal(y, d.target)


def test_reference_data_modules_do_not_import_sklearn() -> None:
    """Importing datasets, encoding and initializers pulls in no scikit-learn."""
    code = (
        "import sys, reference.datasets, reference.encoding, reference.initializers, "
        "reference.misconceptions.encoding; reference.datasets.load_digits(); "
        "sys.exit('sklearn' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- generators -------------------------------------------------------------


def test_blobs_shapes_balance_and_determinism() -> None:
    """blobs returns (n, d) and (n,), classes balanced within one, same seed same data."""
    X, y = datasets.blobs(n=31, d=3, k=4, seed=7)
    assert X.shape == (31, 3) and y.shape == (31,) and y.dtype == np.int64
    counts = np.bincount(y, minlength=4)
    assert counts.max() - counts.min() <= 1
    X2, y2 = datasets.blobs(n=31, d=3, k=4, seed=7)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, datasets.blobs(n=31, d=3, k=4, seed=8)[0])


@pytest.mark.parametrize("spread", [0.1, 2.0])
def test_blobs_spread_is_within_class_std(spread: float) -> None:
    """The within-class standard deviation follows the spread parameter."""
    X, y = datasets.blobs(n=4000, d=2, k=2, seed=0, spread=spread)
    within = np.concatenate([X[y == c] - X[y == c].mean(axis=0) for c in (0, 1)])
    assert within.std() == pytest.approx(spread, rel=0.05)


def test_xor_labels_are_xor_of_signs() -> None:
    """With little noise, the label is 1 exactly when the two coordinates differ in sign."""
    X, y = datasets.xor(n=40, seed=3, noise=0.1)
    assert X.shape == (40, 2) and set(np.unique(y)) == {0, 1}
    np.testing.assert_array_equal(y, ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(int))


def test_xor_has_both_classes_for_two_points() -> None:
    """Corners are used in turn, so even n=2 gives both classes."""
    for seed in range(5):
        _, y = datasets.xor(n=2, seed=seed)
        assert sorted(y) == [0, 1]


def test_probe_inputs_cover_every_class() -> None:
    """probe_inputs gives X (n, d) and labels covering all k classes, even when n == k."""
    for seed in range(20):
        X, y = datasets.probe_inputs(d=5, n=3, k=3, seed=seed)
        assert X.shape == (3, 5)
        assert sorted(y) == [0, 1, 2]
    X, y = datasets.probe_inputs(d=5, n=7, k=3, seed=0)
    assert X.shape == (7, 5) and set(np.unique(y)) == {0, 1, 2}


def test_probe_inputs_is_deterministic() -> None:
    """Same seed, same probe; different seed, different probe."""
    a = datasets.probe_inputs(d=4, n=6, k=3, seed=11)
    b = datasets.probe_inputs(d=4, n=6, k=3, seed=11)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], datasets.probe_inputs(d=4, n=6, k=3, seed=12)[0])


@pytest.mark.parametrize(("d", "n", "k"), [(5, 5, 3), (5, 2, 3), (0, 4, 2)])
def test_probe_inputs_rejects_square_or_too_few(d: int, n: int, k: int) -> None:
    """A square probe, fewer instances than classes, or a zero size is refused."""
    with pytest.raises(ValueError):
        datasets.probe_inputs(d=d, n=n, k=k, seed=0)


# --- split ------------------------------------------------------------------


def test_split_is_stratified_disjoint_and_complete() -> None:
    """Each class goes to the test set in the same proportion; parts are disjoint and cover all rows."""
    y = np.repeat([0, 1, 2], [40, 20, 10])
    X = np.arange(y.size, dtype=float)[:, None]  # row id as the only feature
    X_tr, X_te, y_tr, y_te = datasets.split(X, y, test_fraction=0.3, seed=1)
    np.testing.assert_array_equal(np.bincount(y_te), [12, 6, 3])
    ids = np.concatenate([X_tr[:, 0], X_te[:, 0]])
    assert sorted(ids) == list(range(y.size))
    np.testing.assert_array_equal(y[X_tr[:, 0].astype(int)], y_tr)
    np.testing.assert_array_equal(y[X_te[:, 0].astype(int)], y_te)


def test_split_is_deterministic_per_seed() -> None:
    """The same seed picks the same test rows; another seed picks others."""
    X, y = datasets.blobs(n=60, d=2, k=3, seed=0)
    a = datasets.split(X, y, 0.25, seed=5)[1]
    b = datasets.split(X, y, 0.25, seed=5)[1]
    c = datasets.split(X, y, 0.25, seed=6)[1]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_split_rejects_fraction_outside_open_interval(fraction: float) -> None:
    """test_fraction must lie strictly between 0 and 1."""
    X, y = datasets.blobs(n=10, d=2, k=2, seed=0)
    with pytest.raises(ValueError):
        datasets.split(X, y, fraction, seed=0)
