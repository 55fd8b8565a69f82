"""Weight initialisers that reproduce the course's (and scikit-learn's) numbers exactly.

``initialize(name, sizes, seed, **opts)`` with ``sizes = (D, H1, ..., K)`` returns
canonical :class:`Params` (W[l] : (n_out, n_in), b[l] : (n_out, 1)), drawn layer
by layer in order W1, W2, ...

The course seeds numpy's *global* legacy generator in its constructor
(``np.random.seed(random_state)``) and draws from it. ``RandomState(seed)`` is
the same MT19937 stream, so we draw from a private one and never touch the
global generator. Training continues the same stream (one ``permutation(N)``
per epoch), so :func:`draw` takes the generator itself and leaves it advanced.

Verified against the course's public notebooks (eclarson/MachineLearningNotebooks,
"07a. MLP Neural Networks with Bias", "08. Practical_NeuralNets",
"08a. Practical_NeuralNets with Bias", ``_initialize_weights``):

- separate bias, uniform::

      W1 = np.random.uniform(-1.0, 1.0, size=H*D).reshape(H, D); b1 = zeros((H, 1)); then W2, b2

- folded bias, uniform: ``uniform(-1.0, 1.0, size=H*(D+1)).reshape(H, D+1)`` per layer;
  column 0 is the bias, so the bias *is* drawn.
- separate bias, Glorot (``TLPBetterInitial``)::

      init_bound = 4*np.sqrt(6. / (n_hidden + n_features_))
      W1 = np.random.uniform(-init_bound, init_bound, (n_hidden, n_features_)); b zeros

- folded bias, Glorot: ``init_bound = 4*np.sqrt(6. / (n_hidden + n_features_ + 1))``,
  ``W1 = uniform(-b, b, (n_hidden, n_features_ + 1))`` then ``W1[:, :1] = 0``.

The "b2 = -2" variant mentioned in docs/conventions.md §1 was not found in the public
notebooks; it is offered as the ``output_bias`` option of the Glorot initialisers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

import numpy as np

from reference.params import Params

Array = np.ndarray
Initializer = Callable[..., Params]  # (sizes, rng, **opts) -> Params


def _layers(sizes: Sequence[int]) -> list[tuple[int, int]]:
    """(n_in, n_out) per weight layer."""
    return list(pairwise(sizes))


def course_uniform(sizes: Sequence[int], rng: np.random.RandomState) -> Params:
    """Separate-bias course classes: W ~ U(-1, 1) from one flat draw reshaped, b = 0."""
    W, b = [], []
    for n_in, n_out in _layers(sizes):
        W.append(rng.uniform(-1.0, 1.0, size=n_out * n_in).reshape(n_out, n_in))
        b.append(np.zeros((n_out, 1)))
    return Params(W, b)


def course_uniform_folded(sizes: Sequence[int], rng: np.random.RandomState) -> Params:
    """Folded-bias course classes: [b | W] ~ U(-1, 1) as one (n_out, n_in + 1) draw; bias = column 0."""
    W, b = [], []
    for n_in, n_out in _layers(sizes):
        Wb = rng.uniform(-1.0, 1.0, size=n_out * (n_in + 1)).reshape(n_out, n_in + 1)
        W.append(Wb[:, 1:].copy())
        b.append(Wb[:, :1].copy())
    return Params(W, b)


def course_glorot(
    sizes: Sequence[int], rng: np.random.RandomState, output_bias: float = 0.0
) -> Params:
    """Separate-bias ``TLPBetterInitial``: W ~ U(±4·sqrt(6 / (n_out + n_in))), b = 0.

    output_bias : constant for the last layer's bias (the "b2 = -2" variant); hidden biases stay 0.
    """
    W, b = [], []
    for n_in, n_out in _layers(sizes):
        bound = 4 * np.sqrt(6.0 / (n_out + n_in))
        W.append(rng.uniform(-bound, bound, (n_out, n_in)))
        b.append(np.zeros((n_out, 1)))
    b[-1][:] = output_bias
    return Params(W, b)


def course_glorot_folded(
    sizes: Sequence[int], rng: np.random.RandomState, output_bias: float = 0.0
) -> Params:
    """Folded-bias ``TLPBetterInitial``: [b | W] ~ U(±4·sqrt(6 / (n_out + n_in + 1))), then b := 0.

    The bias column is drawn (it advances the generator) and then overwritten,
    exactly as the course's ``W1[:, :1] = 0``. output_bias : as in :func:`course_glorot`.
    """
    W, b = [], []
    for n_in, n_out in _layers(sizes):
        bound = 4 * np.sqrt(6.0 / (n_out + n_in + 1))
        Wb = rng.uniform(-bound, bound, (n_out, n_in + 1))
        W.append(Wb[:, 1:].copy())
        b.append(np.zeros((n_out, 1)))
    b[-1][:] = output_bias
    return Params(W, b)


def sklearn(sizes: Sequence[int], rng: np.random.RandomState, activation: str = "relu") -> Params:
    """scikit-learn's ``MLPClassifier`` init (``_init_coef``), transposed to the lecture's layout.

    Per layer: bound = sqrt(factor / (fan_in + fan_out)) with factor 2 for
    ``activation="logistic"`` and 6 otherwise; ``coef ~ U(±bound)`` drawn as
    (fan_in, fan_out), then ``intercept ~ U(±bound)`` (fan_out,). The default
    matches scikit-learn's default activation. Note that scikit-learn uses one
    output unit for two classes, so sizes must end in 1 to match it then.
    """
    factor = 2.0 if activation == "logistic" else 6.0
    W, b = [], []
    for fan_in, fan_out in _layers(sizes):
        bound = np.sqrt(factor / (fan_in + fan_out))
        coef = rng.uniform(-bound, bound, (fan_in, fan_out))
        intercept = rng.uniform(-bound, bound, fan_out)
        W.append(coef.T.copy())
        b.append(intercept.reshape(-1, 1))
    return Params(W, b)


def textbook_normal(sizes: Sequence[int], rng: np.random.RandomState) -> Params:
    """The textbook's ``NeuralNetMLP``: w (n_in, n_out) ~ N(0, 0.1), drawn in that shape; b = 0."""
    W, b = [], []
    for n_in, n_out in _layers(sizes):
        W.append(rng.normal(loc=0.0, scale=0.1, size=(n_in, n_out)).T.copy())
        b.append(np.zeros((n_out, 1)))
    return Params(W, b)


INITIALIZERS: dict[str, Initializer] = {
    "course_uniform": course_uniform,
    "course_uniform_folded": course_uniform_folded,
    "course_glorot": course_glorot,
    "course_glorot_folded": course_glorot_folded,
    "sklearn": sklearn,
    "textbook_normal": textbook_normal,
}


def draw(name: str, sizes: Sequence[int], rng: np.random.RandomState, **opts: object) -> Params:
    """Initial parameters from ``rng``, which is left advanced (training continues from it)."""
    try:
        init = INITIALIZERS[name]
    except KeyError:
        raise ValueError(
            f"unknown initializer {name!r}; allowed: {', '.join(INITIALIZERS)}"
        ) from None
    sizes = tuple(sizes)
    if len(sizes) < 2 or any(int(n) != n or n < 1 for n in sizes):
        raise ValueError(
            f"sizes must be (D, H1, ..., K) with at least two positive integers, got {sizes}"
        )
    return init(tuple(int(n) for n in sizes), rng, **opts)


def initialize(name: str, sizes: Sequence[int], seed: int | None, **opts: object) -> Params:
    """Initial parameters as the named scheme draws them from ``RandomState(seed)``.

    Parameters
    ----------
    name : one of ``INITIALIZERS``
    sizes : (D, H1, ..., K), units per layer, input first
    seed : the course's ``random_state`` (None: fresh entropy, as the course)
    opts : the scheme's options (``output_bias`` for the Glorot ones, ``activation`` for sklearn)

    Returns
    -------
    Params with W[l] : (sizes[l+1], sizes[l]), b[l] : (sizes[l+1], 1), float64
    """
    return draw(name, sizes, np.random.RandomState(seed), **opts)
