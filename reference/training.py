"""Deterministic training from given initial parameters and a given batch order.

The course's ``TLPMiniBatch.fit`` in the lecture's notation: per epoch k, ask
the schedule for η_k, cut the (shuffled) data into mini-batches, and for each
batch run forward, record the printed cost, back-propagate and take one
optimiser step::

    for k in range(epochs):
        η = schedule.rate(k)                                    # course: η0 / (1 + d k)
        for idx in batches[k]:                                  # indices into the ORIGINAL data
            A = forward(W, X[:, idx]);  cost.append(printed_cost(W, A, Y[:, idx]))
            g = backprop(W, A, Y[:, idx]);  optimizer.step(W, g, η)
        J_k = objective(W, X, Y);  schedule.observe(J_k)        # full training set, end of epoch

Layouts: :func:`train` takes the student API's ``X : (N, D)`` rows and
``y : (N,)`` integer labels 0..K-1 (what grading feeds students) and converts
once; everything inside, including :func:`run_epoch`, uses the lecture's
columns-as-instances ``X : (D, N)``, ``Y : (K, N)``.

Randomness lives only in :func:`batch_order`, a pure function, so a run is a
function of (initial parameters, data, config, batch order). Replaying a
course student's ``fit`` with ``random_state=s`` (weights, then shuffles, from
one stream)::

    rng = np.random.RandomState(s)
    params0 = initializers.draw("course_uniform", (D, H, K), rng)   # leaves rng advanced
    params, trace = train(params0, X, y, config, batch_order(N, E, m, "course", rng))
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from reference.encoding import one_hot
from reference.network import (
    Model,
    backprop,
    check_compatible,
    forward,
    gradient_magnitudes,
)
from reference.objectives import LOSSES, Objective, data_term, penalty_term, printed_cost
from reference.optimizers import OPTIMIZERS, Optimizer, course_bias_rule, lookup, make_optimizer
from reference.params import Params
from reference.schedules import Schedule, make_schedule

Array = np.ndarray
Rng = np.random.RandomState | np.random.Generator
BatchOrder = list[list[Array]]

SHUFFLES = ("course", "seeded", "none")
BIAS_STYLES = ("separate", "folded")


# ---------------------------------------------------------------------------
# Batch order


def private_rng(rng_or_seed: int | Rng | None, what: str = "shuffling") -> Rng:
    """A generator of our own: ``RandomState(seed)``, or a copy of the one given (never advanced)."""
    if isinstance(rng_or_seed, np.random.RandomState | np.random.Generator):
        return copy.deepcopy(rng_or_seed)
    if isinstance(rng_or_seed, int | np.integer) and not isinstance(rng_or_seed, bool):
        return np.random.RandomState(int(rng_or_seed))
    raise ValueError(
        f"{what} needs a seed (int) or a numpy RandomState/Generator; got {rng_or_seed!r}"
    )


def batch_order(
    N: int,
    epochs: int,
    minibatches: int,
    shuffle: str = "course",
    rng_or_seed: int | Rng | None = None,
) -> BatchOrder:
    """Each epoch's mini-batches as index arrays into the ORIGINAL data.

    Parameters
    ----------
    N : number of instances
    epochs : number of epochs E
    minibatches : batches per epoch, cut as the course's ``np.array_split(range(N), minibatches)``
    shuffle :
        ``"course"`` -- one ``permutation(N)`` per epoch from the course's stream,
        applied to the already shuffled arrays, so the permutations compose:
        order_k = order_{k-1}[p_k].  The course seeds the global generator in its
        constructor and draws the initial weights first; pass a ``RandomState``
        already advanced past those draws to continue the same stream.
        ``"seeded"`` -- one ``permutation(N)`` per epoch from ``RandomState(seed)``
        (or the generator given), each applied to the original order (not
        cumulative). Epoch 0 therefore equals ``"course"`` with the same stream;
        later epochs differ.
        ``"none"`` -- the original order every epoch (``rng_or_seed`` is ignored).
    rng_or_seed : int seed, or a ``numpy.random.RandomState`` / ``Generator``.
        The generator is copied, never advanced: this function is pure.

    Returns
    -------
    order : list of E lists of ``minibatches`` int arrays; order[k][j] indexes X's rows
    """
    for name, value, low in (("N", N, 1), ("epochs", epochs, 0), ("minibatches", minibatches, 1)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValueError(f"{name} must be a whole number >= {low}: got {value!r}")
    if minibatches > N:
        raise ValueError(f"minibatches ({minibatches}) > N ({N}) would leave empty batches")
    if shuffle not in SHUFFLES:
        raise ValueError(f"shuffle {shuffle!r} is not one of {', '.join(SHUFFLES)}")
    rng = None if shuffle == "none" else private_rng(rng_or_seed, f"shuffle {shuffle!r}")
    positions = np.array_split(np.arange(N), minibatches)
    order = np.arange(N)
    out: BatchOrder = []
    for _ in range(epochs):
        if rng is not None:
            p = rng.permutation(N)
            order = order[p] if shuffle == "course" else p
        out.append([order[pos] for pos in positions])
    return out


def check_batches(batches: Sequence[Sequence[Array]], N: int, epochs: int) -> BatchOrder:
    """``batches`` as int index arrays, or a ValueError saying what is wrong."""
    if len(batches) != epochs:
        raise ValueError(f"batch order has {len(batches)} epochs, config says {epochs}")
    out: BatchOrder = []
    for k, epoch in enumerate(batches):
        idx = [np.asarray(b) for b in epoch]
        if not idx or any(
            b.ndim != 1 or b.size == 0 or not np.issubdtype(b.dtype, np.integer) for b in idx
        ):
            raise ValueError(f"epoch {k}: every batch must be a non-empty 1-D integer index array")
        if any(b.min() < 0 or b.max() >= N for b in idx):
            raise ValueError(f"epoch {k}: batch indices must lie in 0..{N - 1}")
        out.append([b.astype(np.intp, copy=False) for b in idx])
    return out


# ---------------------------------------------------------------------------
# Substitutes


@dataclass(frozen=True)
class Substitutes:
    """Pieces of a run replaced by a named misconception's (``reference.misconceptions``):
    the grader replays a training loop with a student's diagnosed mistake plugged in, so
    that the loop is judged as a loop even when the gradient it calls is wrong.

    gradients : same signature as ``reference.network.gradients(params, X, Y, model, objective)``
    optimizer : a factory taking the declared optimiser's keyword hyper-parameters
    schedule  : a factory taking the declared schedule's keyword hyper-parameters
    one_hot   : same signature as ``reference.encoding.one_hot(y, n_classes)``
    None keeps the reference's piece.
    """

    gradients: Callable[..., Params] | None = None
    optimizer: Callable[..., Optimizer] | None = None
    schedule: Callable[..., Schedule] | None = None
    one_hot: Callable[[Array, int], Array] | None = None


# ---------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class TrainConfig:
    """Everything about a training run except the data, the initial parameters and the batch order.

    epochs         : E, number of passes over the data (>= 0)
    minibatches    : batches per epoch (``np.array_split(range(N), minibatches)``)
    shuffle        : "course" | "seeded" | "none" (see :func:`batch_order`)
    seed           : seed of the batch order (ignored when ``shuffle="none"`` or batches are given)
    optimizer      : a name in ``reference.optimizers.OPTIMIZERS``; ``optimizer_hyper`` its hypers
    schedule       : a name in ``reference.schedules.SCHEDULES``; ``schedule_hyper`` its hypers
    bias_momentum  : False (the course): biases get plain ``b -= η g``, no momentum or
                     adaptation; True: the optimiser's full rule on every array
    model, objective : the network and the DECLARED objective the gradient follows
    printed_loss   : loss of the course's printed cost (None: the objective's loss)
    printed_bias_style : "separate" | "folded", see ``reference.objectives.printed_cost``
    printed_form   : the printed cost's variants (``reference.objectives.PRINTED_FORMS``)

    The printed cost uses the objective's C (the course's ``l2_C``), 0 when the penalty is "none".
    """

    epochs: int = 100
    minibatches: int = 1
    shuffle: str = "course"
    seed: int | None = None
    optimizer: str = "momentum_course"
    optimizer_hyper: Mapping[str, Any] = field(default_factory=dict)
    schedule: str = "inverse_time"
    schedule_hyper: Mapping[str, Any] = field(default_factory=dict)
    bias_momentum: bool = False
    model: Model = field(default_factory=Model)
    objective: Objective = field(default_factory=Objective)
    printed_loss: str | None = None
    printed_bias_style: str = "separate"
    printed_form: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, low in (("epochs", 0), ("minibatches", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"config {name} must be a whole number >= {low}: got {value!r}")
        if self.shuffle not in SHUFFLES:
            raise ValueError(f"config shuffle {self.shuffle!r} is not one of {', '.join(SHUFFLES)}")
        if self.printed_loss is not None and self.printed_loss not in LOSSES:
            raise ValueError(f"config printed_loss {self.printed_loss!r} is not one of {LOSSES}")
        if self.printed_bias_style not in BIAS_STYLES:
            raise ValueError(f"config printed_bias_style must be one of {BIAS_STYLES}")
        check_compatible(self.model, self.objective)
        # read-only copies, so a frozen config cannot change under a caller's feet
        object.__setattr__(self, "optimizer_hyper", MappingProxyType(dict(self.optimizer_hyper)))
        object.__setattr__(self, "schedule_hyper", MappingProxyType(dict(self.schedule_hyper)))
        mask = lookup(OPTIMIZERS, "optimizer", self.optimizer).mask
        if not self.bias_momentum and mask in self.optimizer_hyper:
            raise ValueError(
                f"config: {mask!r} is set by bias_momentum=False (biases get plain steps); "
                "pass bias_momentum=True to give your own mask"
            )
        make_optimizer(self.optimizer, **self.optimizer_hyper)  # validates names and intervals
        make_schedule(self.schedule, **self.schedule_hyper)

    def with_(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def make_optimizer(
        self, params: Params, make: Callable[..., Optimizer] | None = None
    ) -> Optimizer:
        """A fresh optimiser for ``params``, biases masked out unless ``bias_momentum``;
        ``make`` replaces the declared optimiser's factory (a misconception's)."""
        hyper = dict(self.optimizer_hyper)
        if not self.bias_momentum:
            hyper.update(course_bias_rule(self.optimizer, params.bias_mask()))
        return make(**hyper) if make is not None else make_optimizer(self.optimizer, **hyper)

    def printed(self) -> tuple[str, float, str, tuple[str, ...]]:
        """(loss, C, bias_style, form) of the course's printed cost."""
        o = self.objective
        return (
            self.printed_loss or o.loss,
            0.0 if o.penalty == "none" else o.C,
            self.printed_bias_style,
            self.printed_form,
        )


# ---------------------------------------------------------------------------
# Trace


_PER_EPOCH = ("objective", "data_term", "printed_cost", "learning_rate")


@dataclass(frozen=True)
class Trace:
    """What a run records, float64 arrays (read-only), E = epochs, L = weight layers.

    objective      : (E,)   the declared objective on the full training set, end of epoch k
    data_term      : (E,)   its data term (same parameters)
    printed_cost   : (E,)   mean over epoch k's batches of the course's printed cost, each
                            taken on its batch before that batch's update (``np.mean(cost_[k])``)
    train_accuracy : (E+1,) training accuracy; entry 0 before any update (the course's ``score_``)
    grad_magnitude : (E, L) mean over epoch k's batches of mean |grad W^(l)| per layer
    learning_rate  : (E,)   η used in epoch k
    val_accuracy   : (E+1,) held-out accuracy like ``train_accuracy``, or None
    printed_cost_end : (E,) the printed cost of the whole training set after epoch k's
                     updates (what a class that appends ``_cost(forward(X))`` once per epoch
                     records, as the textbook's 2nd-4th editions do), or None
    """

    objective: Array
    data_term: Array
    printed_cost: Array
    train_accuracy: Array
    grad_magnitude: Array
    learning_rate: Array
    val_accuracy: Array | None = None
    printed_cost_end: Array | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            a = np.array(value, dtype=np.float64)  # a private copy
            a.flags.writeable = False
            object.__setattr__(self, f.name, a)
        E = self.objective.shape[0] if self.objective.ndim == 1 else -1
        expected = {name: (E,) for name in _PER_EPOCH}
        expected["train_accuracy"] = (E + 1,)
        if self.val_accuracy is not None:
            expected["val_accuracy"] = (E + 1,)
        if self.printed_cost_end is not None:
            expected["printed_cost_end"] = (E,)
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(
                    f"trace {name} has shape {getattr(self, name).shape}, expected {shape}"
                )
        g = self.grad_magnitude
        if g.ndim != 2 or g.shape[0] != E:
            raise ValueError(f"trace grad_magnitude has shape {g.shape}, expected ({E}, L)")

    @property
    def epochs(self) -> int:
        """E, the number of epochs recorded."""
        return int(self.objective.shape[0])

    def as_arrays(self) -> dict[str, Array]:
        """The fields by name, for ``np.savez`` (``val_accuracy``, ``printed_cost_end`` only when
        present)."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Array]) -> Trace:
        """Inverse of :meth:`as_arrays` (also accepts an opened ``.npz``)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(arrays) - names)
        if unknown:
            raise ValueError(f"unknown trace arrays {unknown}; expected {sorted(names)}")
        missing = sorted(names - set(arrays) - {"val_accuracy", "printed_cost_end"})
        if missing:
            raise ValueError(f"trace arrays missing: {missing}")
        return cls(**{name: np.asarray(arrays[name]) for name in arrays})


# ---------------------------------------------------------------------------
# Training


@dataclass(frozen=True)
class EpochRecord:
    """What :func:`run_epoch` measured (NaN when not recorded).

    printed_cost   : float, mean of the per-batch printed cost
    grad_magnitude : ndarray (L,), mean of the per-batch mean |grad W^(l)|
    """

    printed_cost: float
    grad_magnitude: Array


def run_epoch(
    params: Params,
    X: Array,
    Y: Array,
    batches: Sequence[Array],
    eta: float,
    optimizer: Optimizer,
    config: TrainConfig,
    record: bool = True,
    y_batches: Sequence[Array] | None = None,
    gradients: Callable[..., Params] | None = None,
) -> EpochRecord:
    """One epoch of mini-batch updates, changing ``params`` IN PLACE.

    Parameters
    ----------
    params : Params, updated in place
    X : ndarray (D, N), columns are instances (a Fortran-ordered array makes batch gathers cheap)
    Y : ndarray (K, N), one-hot targets
    batches : index arrays into the columns of X, in the order they are used
    eta : the learning rate for every step of this epoch
    optimizer : from ``config.make_optimizer(params)``; its state carries across epochs
    config : model, objective and printed-cost convention
    record : compute the printed cost and gradient magnitudes (cheap: from the forward
             pass and gradient already computed); False for a bare timed epoch
    y_batches : indices into Y's columns per batch; None means the same as ``batches``
                (only a misconception pairs different columns)
    gradients : replaces the reference's back-propagation (``Substitutes.gradients``)
    """
    model, objective = config.model, config.objective
    loss, C, bias_style, form = config.printed()
    arrays = params.arrays()  # views: the optimiser's in-place step updates params
    costs = []
    magnitude = np.zeros(params.depth)
    for j, idx in enumerate(batches):
        Yb = Y[:, idx if y_batches is None else y_batches[j]]
        fwd = forward(params, X[:, idx], model)
        if record:
            # the course prints the cost of the parameters BEFORE this batch's update
            costs.append(printed_cost(params, fwd.output, Yb, loss, C, bias_style, form))
        if gradients is None:
            grads = backprop(params, fwd, Yb, model, objective)
        else:
            grads = gradients(params, X[:, idx], Yb, model, objective)
        if record:
            magnitude += gradient_magnitudes(grads)
        optimizer.step(arrays, grads.arrays(), eta)
    if not record or not batches:
        return EpochRecord(float("nan"), np.full(params.depth, np.nan))
    return EpochRecord(float(np.mean(costs)), magnitude / len(batches))


def _accuracy(params: Params, X: Array, y: Array, model: Model) -> float:
    return float(np.mean(np.argmax(forward(params, X, model).output, axis=0) == y))


def _check_data(params: Params, X: Array, y: Array, what: str) -> tuple[Array, Array]:
    """X (N, D) rows and y (N,) labels 0..K-1 -> X (D, N) Fortran-ordered view, y (N,) ints."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    D, K = params.sizes[0], params.sizes[-1]
    if X.ndim != 2 or X.shape[1] != D or y.shape != (X.shape[0],):
        raise ValueError(
            f"{what}: need X (N, {D}) rows and y (N,) labels; got X {X.shape}, y {y.shape}"
        )
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= K):
        raise ValueError(
            f"{what}: labels must be integers 0..{K - 1} (the network has {K} outputs)"
        )
    return np.asarray(X, order="C").T, y.astype(np.intp)


def train_with_orders(
    params0: Params,
    X: Array,
    y: Array,
    config: TrainConfig,
    x_order: Sequence[Sequence[Array]],
    y_order: Sequence[Sequence[Array]] | None = None,
    X_val: Array | None = None,
    y_val: Array | None = None,
    substitutes: Substitutes | None = None,
) -> tuple[Params, Trace]:
    """:func:`train` with the targets' batch order given apart from the inputs' (None: the same).

    Only a misconception passes a different ``y_order``; the reference pairs
    X[:, i] with Y[:, i] always. ``substitutes``: pieces replaced by a misconception's.
    """
    sub = substitutes or Substitutes()
    Xc, yc = _check_data(params0, X, y, "training data")
    N = Xc.shape[1]
    x_order = check_batches(x_order, N, config.epochs)
    y_order = None if y_order is None else check_batches(y_order, N, config.epochs)
    if y_order is not None and any(
        [b.size for b in xe] != [b.size for b in ye]
        for xe, ye in zip(x_order, y_order, strict=True)
    ):
        raise ValueError("x_order and y_order must cut every epoch into batches of the same sizes")
    val = None if X_val is None else _check_data(params0, X_val, np.asarray(y_val), "held-out data")
    model, objective = config.model, config.objective
    Y = np.asfortranarray((sub.one_hot or one_hot)(yc, params0.sizes[-1]))
    if Y.shape != (params0.sizes[-1], N):
        raise ValueError(f"one-hot targets have shape {Y.shape}, not ({params0.sizes[-1]}, {N})")

    params = params0.copy()
    optimizer = config.make_optimizer(params, sub.optimizer)
    schedule = (
        sub.schedule(**config.schedule_hyper)
        if sub.schedule is not None
        else make_schedule(config.schedule, **config.schedule_hyper)
    )
    E, L = config.epochs, params.depth
    J, data, cost, eta, cost_end = (np.empty(E) for _ in range(5))
    printed = config.printed()
    grad = np.empty((E, L))
    acc = np.empty(E + 1)
    val_acc = None if val is None else np.empty(E + 1)
    acc[0] = _accuracy(params, Xc, yc, model)
    if val is not None and val_acc is not None:
        val_acc[0] = _accuracy(params, *val, model)
    for k in range(E):
        eta[k] = schedule.rate(k)
        y_batches = None if y_order is None else y_order[k]
        rec = run_epoch(
            params, Xc, Y, x_order[k], eta[k], optimizer, config, True, y_batches, sub.gradients
        )
        cost[k], grad[k] = rec.printed_cost, rec.grad_magnitude
        # one full forward pass gives the objective, its data term and the accuracy
        A = forward(params, Xc, model).output
        data[k] = data_term(objective, A, Y)
        J[k] = data[k] + penalty_term(objective, params, N)
        cost_end[k] = printed_cost(params, A, Y, *printed)
        acc[k + 1] = np.mean(np.argmax(A, axis=0) == yc)
        if val is not None and val_acc is not None:
            val_acc[k + 1] = _accuracy(params, *val, model)
        schedule.observe(float(J[k]))
    return params, Trace(J, data, cost, acc, grad, eta, val_acc, cost_end)


def train(
    params0: Params,
    X: Array,
    y: Array,
    config: TrainConfig,
    batches: Sequence[Sequence[Array]] | None = None,
    X_val: Array | None = None,
    y_val: Array | None = None,
    substitutes: Substitutes | None = None,
) -> tuple[Params, Trace]:
    """Train from ``params0`` deterministically; ``params0`` is never modified.

    Parameters
    ----------
    params0 : Params, the initial parameters (drawn by the caller, e.g. ``reference.initializers``)
    X : ndarray (N, D), rows are instances (the student API)
    y : ndarray (N,), integer labels 0..K-1, K = the network's outputs
    config : TrainConfig
    batches : the batch order, E lists of index arrays into X's rows; None means
              ``batch_order(N, epochs, minibatches, shuffle, seed)`` from the config
              (to replay the course, pass the order drawn from the generator the
              initial weights were drawn from: see :func:`batch_order`)
    X_val, y_val : optional held-out data (M, D), (M,) for ``Trace.val_accuracy``
    substitutes : pieces replaced by a misconception's (:class:`Substitutes`)

    Returns
    -------
    params : Params, the parameters after the last epoch
    trace : Trace
    """
    if batches is None:
        N = np.shape(X)[0]
        batches = batch_order(N, config.epochs, config.minibatches, config.shuffle, config.seed)
    return train_with_orders(params0, X, y, config, batches, None, X_val, y_val, substitutes)
