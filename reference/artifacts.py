"""Expected artifacts of one configuration: what ``python -m reference`` writes.

A configuration (:class:`ArtifactConfig`, read from TOML and/or flags by
:func:`resolve`) fixes the data, the network, the declared objective, the
initial parameters and the batch order. :func:`compute` turns it into flat,
named numeric arrays::

    input/X (N, D)  input/y (N,)  input/Y (K, N)  input/W1 .. input/bL
    input/order (E, N)  input/batch_bounds (minibatches + 1,)
        epoch k's batch j is input/order[k, bounds[j]:bounds[j+1]] (rows of input/X)
    expected/Z1 .. expected/A(L+1)      forward pass on all of input/X (A1 = X.T is omitted)
    expected/objective ()               J(params0), the declared objective
    expected/dW1 .. expected/dbL        its exact gradient at params0
    expected/trace/<field>              Trace.as_arrays() of the training run
    expected/final/W1 .. bL             parameters after training
    expected/optimizer/W1 .. bL         (steps + 1, ...) full-batch iterates of the optimiser
    expected/schedule/eta (E,)          the schedule's rate per epoch
    misconception/<name>/...            the same outputs from each misconception (if asked)

:func:`write` stores them in ONE ``.npz`` (numeric arrays only, no pickle) and
a JSON provenance header beside it. The ``.npz`` is written with fixed zip
timestamps and sorted names, so its bytes (and their sha256) depend on the
configuration and the numerics alone.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import platform
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

import reference
from reference import datasets
from reference.activations import ACTIVATIONS
from reference.encoding import one_hot
from reference.initializers import INITIALIZERS, draw
from reference.misconceptions import Misconception, all_misconceptions
from reference.misconceptions.optimization import STANDS_IN_FOR
from reference.network import Model, check_compatible, forward, gradients, objective_value
from reference.objectives import LOSSES, PENALTIES, REDUCTIONS, Objective
from reference.optimizers import OPTIMIZERS, course_bias_rule
from reference.params import Params
from reference.schedules import SCHEDULES, make_schedule
from reference.training import SHUFFLES, BatchOrder, TrainConfig, batch_order, train

Array = np.ndarray
FORMAT = "reference-artifacts/1"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest zip date: no wall-clock time in the file
DIGITS_N = 1797  # every bundled digit (the default n for data "digits")
SYNTHETIC_N = 100  # the default n for the generated data sets


class ConfigError(ValueError):
    """A configuration problem, phrased as one sentence naming its file or flag."""


# ---------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class ArtifactConfig:
    """Everything that determines the artifacts (the course's two-layer perceptron by default)."""

    sizes: tuple[int, ...] = (64, 30, 10)
    hidden: str = "sigmoid"
    output: str = "sigmoid"
    loss: str = "squared"
    reduction: str = "sum"
    penalty: str = "l2_half"
    C: float = 0.1
    penalize_bias: bool = False
    init: str = "course_uniform"
    seed: int = 1
    data: str = "digits"
    n: int | None = None
    epochs: int = 20
    minibatches: int = 36
    shuffle: str = "course"
    optimizer: str = "momentum_course"
    optimizer_hyper: dict[str, Any] = field(default_factory=dict)
    schedule: str = "inverse_time"
    schedule_hyper: dict[str, Any] = field(default_factory=dict)
    bias_momentum: bool = False
    trajectory_steps: int = 5
    misconceptions: bool = False

    @property
    def instances(self) -> int:
        """N: ``n``, or by default every digit / 100 generated instances."""
        if self.n is not None:
            return self.n
        return DIGITS_N if self.data == "digits" else SYNTHETIC_N

    @property
    def model(self) -> Model:
        return Model(self.hidden, self.output)

    @property
    def objective(self) -> Objective:
        return Objective(self.loss, self.reduction, self.penalty, self.C, self.penalize_bias)

    def train_config(self) -> TrainConfig:
        """The reference's TrainConfig; masks left to ``bias_momentum`` as the course does."""
        return TrainConfig(
            epochs=self.epochs,
            minibatches=self.minibatches,
            shuffle=self.shuffle,
            seed=self.seed,
            optimizer=self.optimizer,
            optimizer_hyper={k: v for k, v in self.optimizer_hyper.items() if v is not None},
            schedule=self.schedule,
            schedule_hyper=self.schedule_hyper,
            bias_momentum=self.bias_momentum,
            model=self.model,
            objective=self.objective,
        )

    def as_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready, with ``n`` resolved."""
        d = asdict(self)
        d["sizes"] = list(self.sizes)
        d["n"] = self.instances
        return d


def _whole(low: int) -> Callable[[object], int]:
    def check(v: object) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"must be a whole number >= {low}")
        return v

    return check


def _penalty_strength(v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < math.inf:
        raise ValueError("must be a finite number >= 0")
    return float(v)


def _boolean(v: object) -> bool:
    if not isinstance(v, bool):
        raise ValueError("must be true or false")
    return v


def _choice(names: tuple[str, ...]) -> Callable[[object], str]:
    def check(v: object) -> str:
        if v not in names:
            raise ValueError(f"must be one of {', '.join(names)}")
        return str(v)

    return check


def _sizes(v: object) -> tuple[int, ...]:
    items: list[object] = []
    if isinstance(v, str):
        items = [int(s) if s.strip().isdigit() else s for s in v.split(",")]
    elif isinstance(v, list | tuple):
        items = list(v)
    sizes = [s for s in items if isinstance(s, int) and not isinstance(s, bool) and s >= 1]
    if len(items) < 2 or len(sizes) != len(items):
        raise ValueError(
            'must list at least two positive layer sizes, e.g. "64,30,10" or [64, 30, 10]'
        )
    return tuple(sizes)


def _table(v: object) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise ValueError("must be a table of hyper-parameters, e.g. { alpha = 0.1 }")
    return dict(v)


CHOICES: dict[str, tuple[str, ...]] = {
    "hidden": tuple(a for a in ACTIVATIONS if a != "softmax"),
    "output": tuple(ACTIVATIONS),
    "loss": LOSSES,
    "reduction": REDUCTIONS,
    "penalty": PENALTIES,
    "init": tuple(INITIALIZERS),
    "data": ("digits", "blobs", "xor", "probe"),
    "shuffle": SHUFFLES,
    "optimizer": tuple(OPTIMIZERS),
    "schedule": tuple(SCHEDULES),
}
"""Fields whose value is a name, and the names allowed (the registries themselves)."""

FIELD_CHECKS: dict[str, Callable[[object], Any]] = {
    "sizes": _sizes,
    "hidden": _choice(CHOICES["hidden"]),
    "output": _choice(CHOICES["output"]),
    "loss": _choice(CHOICES["loss"]),
    "reduction": _choice(CHOICES["reduction"]),
    "penalty": _choice(CHOICES["penalty"]),
    "C": _penalty_strength,
    "penalize_bias": _boolean,
    "init": _choice(CHOICES["init"]),
    "seed": _whole(0),
    "data": _choice(CHOICES["data"]),
    "n": _whole(1),
    "epochs": _whole(0),
    "minibatches": _whole(1),
    "shuffle": _choice(CHOICES["shuffle"]),
    "optimizer": _choice(CHOICES["optimizer"]),
    "optimizer_hyper": _table,
    "schedule": _choice(CHOICES["schedule"]),
    "schedule_hyper": _table,
    "bias_momentum": _boolean,
    "trajectory_steps": _whole(0),
    "misconceptions": _boolean,
}
"""Field name -> a check returning the value or raising ValueError("must be ...")."""


def resolve(values: Mapping[str, object], origin: Mapping[str, str]) -> ArtifactConfig:
    """Check ``values`` (TOML types) and fill in defaults; ConfigError names the culprit.

    origin : field name -> where its value came from (``"--epochs"``, ``"file.toml"``)
    """

    def where(key: str) -> str:
        src = origin.get(key)
        if src is None:
            return f"key {key!r} (default {getattr(ArtifactConfig(), key)!r})"
        return src if src.startswith("--") else f"{src}: key {key!r}"

    unknown = sorted(set(values) - set(FIELD_CHECKS))
    if unknown:
        src = origin.get(unknown[0], "configuration")
        raise ConfigError(f"{src}: unknown key {unknown[0]!r}; allowed: {', '.join(FIELD_CHECKS)}")
    checked: dict[str, Any] = {}
    for key, value in values.items():
        try:
            checked[key] = FIELD_CHECKS[key](value)
        except ValueError as e:
            raise ConfigError(f"{where(key)} {e}, got {value!r}") from None
    cfg = ArtifactConfig(**checked)
    # hyper-parameters: the registry's declarations check names and intervals, defaults filled in
    try:
        optimizer_hyper = OPTIMIZERS[cfg.optimizer].validate(cfg.optimizer_hyper)
    except ValueError as e:
        raise ConfigError(f"{where('optimizer_hyper')}: {e}") from None
    try:
        schedule_hyper = SCHEDULES[cfg.schedule].validate(cfg.schedule_hyper)
    except ValueError as e:
        raise ConfigError(f"{where('schedule_hyper')}: {e}") from None
    cfg = replace(cfg, optimizer_hyper=optimizer_hyper, schedule_hyper=schedule_hyper)
    _check_combination(cfg, where)
    return cfg


def _check_combination(cfg: ArtifactConfig, where: Callable[[str], str]) -> None:
    """Cross-field rules, each message naming the keys involved."""
    D, K, N = cfg.sizes[0], cfg.sizes[-1], cfg.instances
    need = {"digits": (64, 10), "xor": (2, 2)}.get(cfg.data)
    if need and need != (D, K):
        raise ConfigError(
            f"{where('sizes')} must start with {need[0]} inputs and end with {need[1]} outputs "
            f"for data {cfg.data!r}, got {list(cfg.sizes)}"
        )
    if cfg.data == "digits" and N > DIGITS_N:
        raise ConfigError(f"{where('n')} must be at most {DIGITS_N} for data 'digits', got {N}")
    if cfg.data == "probe" and N == D:
        raise ConfigError(f"{where('n')} must differ from the {D} inputs for data 'probe'")
    if cfg.data in ("blobs", "probe") and N < K:
        raise ConfigError(f"{where('n')} must be at least the {K} classes, got {N}")
    if cfg.minibatches > N:
        raise ConfigError(
            f"{where('minibatches')} must be at most n = {N} (no empty batches), got {cfg.minibatches}"
        )
    try:
        check_compatible(cfg.model, cfg.objective)
    except ValueError as e:
        raise ConfigError(f"{where('loss')} does not fit {where('output')}: {e}") from None
    try:
        cfg.train_config()
    except ValueError as e:
        raise ConfigError(f"{where('optimizer_hyper')}: {e}") from None


# ---------------------------------------------------------------------------
# Computing the artifacts


def _digits(D: int, N: int, K: int, seed: int) -> tuple[Array, Array]:
    X, y = datasets.load_digits()
    return X[:N], y[:N]


DATASETS: dict[str, Callable[[int, int, int, int], tuple[Array, Array]]] = {
    "digits": _digits,
    "blobs": lambda D, N, K, seed: datasets.blobs(N, D, K, seed),
    "xor": lambda D, N, K, seed: datasets.xor(N, seed),
    "probe": lambda D, N, K, seed: datasets.probe_inputs(D, N, K, seed),
}
"""Data name -> f(D, N, K, seed) = (X (N, D) rows, y (N,) labels 0..K-1).

digits: the first N bundled images; the generated sets use default_rng(seed).
"""


@dataclass(frozen=True)
class Inputs:
    """The inputs every output is computed from."""

    X: Array  # (N, D), rows are instances (the student API)
    y: Array  # (N,)
    Y: Array  # (K, N)
    params0: Params
    batches: BatchOrder


def make_inputs(cfg: ArtifactConfig) -> Inputs:
    """Data, one-hot targets, initial parameters and batch order, as the course draws them.

    The course seeds one generator, draws the weights, then keeps drawing one
    permutation per epoch from the same stream: ``RandomState(seed)`` does that here.
    """
    X, y = DATASETS[cfg.data](cfg.sizes[0], cfg.instances, cfg.sizes[-1], cfg.seed)
    rng = np.random.RandomState(cfg.seed)
    params0 = draw(cfg.init, cfg.sizes, rng)
    batches = batch_order(X.shape[0], cfg.epochs, cfg.minibatches, cfg.shuffle, rng)
    return Inputs(X, y, one_hot(y, cfg.sizes[-1]), params0, batches)


def _named(prefix: str, arrays: Mapping[str, Array]) -> dict[str, Array]:
    """``{prefix/name: array}``."""
    return {f"{prefix}/{k}": np.asarray(v) for k, v in arrays.items()}


def _gradient_arrays(prefix: str, grads: Params) -> dict[str, Array]:
    """``{prefix + "dW1": ..., prefix + "db1": ...}``."""
    return {f"{prefix}d{k}": v for k, v in grads.as_dict().items()}


def _trajectory(
    make: Callable[..., Any], hyper: Mapping[str, Any], cfg: ArtifactConfig, inp: Inputs, eta: float
) -> dict[str, Array]:
    """Iterates W_0 .. W_steps of one optimiser on the full-batch declared objective."""
    params = inp.params0.copy()
    opt = make(**hyper)
    iterates = [[a.copy() for a in params.arrays()]]
    for _ in range(cfg.trajectory_steps):
        g = gradients(params, inp.X.T, inp.Y, cfg.model, cfg.objective)
        opt.step(params.arrays(), g.arrays(), eta)
        iterates.append([a.copy() for a in params.arrays()])
    return {name: np.stack([it[i] for it in iterates]) for i, name in enumerate(params.names())}


def _schedule_values(
    make: Callable[..., Any], hyper: Mapping[str, Any], epochs: int, observed: Array
) -> Array:
    """rate(k) per epoch, observing the reference run's objective after each (plateau listens)."""
    schedule = make(**hyper)
    eta = np.empty(epochs)
    for k in range(epochs):
        eta[k] = schedule.rate(k)
        schedule.observe(float(observed[k]))
    return eta


def _mask_rule(cfg: ArtifactConfig, optimizer: str, params: Params) -> dict[str, Any]:
    """The course's plain steps for biases, unless ``bias_momentum``."""
    return {} if cfg.bias_momentum else course_bias_rule(optimizer, params.bias_mask())


@dataclass(frozen=True)
class Context:
    """What every output is computed from: inputs plus the reference run's own results."""

    cfg: ArtifactConfig
    inp: Inputs
    train_config: TrainConfig
    eta0: float  # the schedule's rate at epoch 0: the trajectories' learning rate
    observed: Array  # (E,) the reference run's objective per epoch (what a schedule observes)


Outputs = tuple[dict[str, Array], dict[str, Any]]  # (arrays by name, notes for the JSON)


def _stand_in_hyper(ctx: Context, kind: str, reference_name: str) -> dict[str, Any]:
    """The configured hyper-parameters that the stand-in's reference entry also declares."""
    registry, mine = (
        (OPTIMIZERS, ctx.cfg.optimizer_hyper)
        if kind == "optimizer"
        else (SCHEDULES, ctx.cfg.schedule_hyper)
    )
    declared = registry[reference_name].hyper
    return {k: v for k, v in mine.items() if k in declared and v is not None}


def _gradient(m: Misconception, ctx: Context) -> Outputs:
    grads = m.impl(ctx.inp.params0, ctx.inp.X.T, ctx.inp.Y, ctx.cfg.model, ctx.cfg.objective)
    return _gradient_arrays("", grads), {}


def _optimizer(m: Misconception, ctx: Context) -> Outputs:
    stands = STANDS_IN_FOR.get(m.name, ctx.cfg.optimizer)
    hyper = _stand_in_hyper(ctx, "optimizer", stands)
    with_mask = {**hyper, **_mask_rule(ctx.cfg, stands, ctx.inp.params0)}
    arrays = _trajectory(m.impl, with_mask, ctx.cfg, ctx.inp, ctx.eta0)
    return arrays, {"stands_in_for": stands, "hyper": hyper}


def _schedule(m: Misconception, ctx: Context) -> Outputs:
    stands = STANDS_IN_FOR.get(m.name, ctx.cfg.schedule)
    hyper = _stand_in_hyper(ctx, "schedule", stands)
    eta = _schedule_values(m.impl, hyper, ctx.cfg.epochs, ctx.observed)
    return {"eta": eta}, {"stands_in_for": stands, "hyper": hyper}


def _encoding(m: Misconception, ctx: Context) -> Outputs:
    return {"Y": np.asarray(m.impl(ctx.inp.y, ctx.cfg.sizes[-1]), dtype=float)}, {}


def _training(m: Misconception, ctx: Context) -> Outputs:
    final, trace = m.impl(ctx.inp.params0, ctx.inp.X, ctx.inp.y, ctx.train_config, ctx.inp.batches)
    return {**_named("trace", trace.as_arrays()), **_named("final", final.as_dict())}, {}


RUNNERS: dict[str, Callable[[Misconception, Context], Outputs]] = {
    "gradient": _gradient,
    "optimizer": _optimizer,
    "schedule": _schedule,
    "encoding": _encoding,
    "training": _training,
}
"""Misconception kind -> how its output is computed on the configuration's inputs.

gradient: dW1.. db1.. at params0; optimizer: its trajectory (like expected/optimizer);
schedule: eta per epoch; encoding: Y; training: trace/.. and final/..
"""


def compute(cfg: ArtifactConfig) -> tuple[dict[str, Array], dict[str, Any]]:
    """All artifacts of ``cfg``: (name -> array, misconception name -> how it was run)."""
    inp = make_inputs(cfg)
    model, objective, tc = cfg.model, cfg.objective, cfg.train_config()
    p0, XT, N = inp.params0, inp.X.T, inp.X.shape[0]
    out: dict[str, Array] = {"input/X": inp.X, "input/y": inp.y, "input/Y": inp.Y}
    out.update(_named("input", p0.as_dict()))
    order = np.array([np.concatenate(e) for e in inp.batches], dtype=np.int64)
    out["input/order"] = order.reshape(cfg.epochs, N)
    # array_split cuts every epoch alike, so one set of bounds serves all rows of input/order
    sizes = [len(b) for b in np.array_split(np.arange(N), cfg.minibatches)]
    out["input/batch_bounds"] = np.cumsum([0, *sizes]).astype(np.int64)

    fwd = forward(p0, XT, model).named()
    out.update(_named("expected", {k: v for k, v in fwd.items() if k != "A1"}))
    out["expected/objective"] = np.array(objective_value(p0, XT, inp.Y, model, objective))
    out.update(_gradient_arrays("expected/", gradients(p0, XT, inp.Y, model, objective)))
    final, trace = train(p0, inp.X, inp.y, tc, inp.batches)
    out.update(_named("expected/trace", trace.as_arrays()))
    out.update(_named("expected/final", final.as_dict()))
    ctx = Context(
        cfg, inp, tc, make_schedule(cfg.schedule, **cfg.schedule_hyper).rate(0), trace.objective
    )
    hyper = {k: v for k, v in cfg.optimizer_hyper.items() if v is not None}
    hyper.update(_mask_rule(cfg, cfg.optimizer, p0))
    trajectory = _trajectory(OPTIMIZERS[cfg.optimizer], hyper, cfg, inp, ctx.eta0)
    out.update(_named("expected/optimizer", trajectory))
    out["expected/schedule/eta"] = _schedule_values(
        SCHEDULES[cfg.schedule], cfg.schedule_hyper, cfg.epochs, trace.objective
    )
    runs = _misconceptions(ctx, out) if cfg.misconceptions else {}
    return out, runs


def _misconceptions(ctx: Context, out: dict[str, Array]) -> dict[str, Any]:
    """Every registered misconception's output on the same inputs, added to ``out``."""
    runs: dict[str, Any] = {}
    for m in all_misconceptions():
        run: dict[str, Any] = {"kind": m.kind}
        runner = RUNNERS.get(m.kind)
        try:
            if runner is None:
                raise ValueError(f"no runner for misconception kind {m.kind!r}")
            # a misconception may blow up to inf/NaN: that is its signature, not an error
            with np.errstate(all="ignore"):
                arrays, notes = runner(m, ctx)
            out.update(_named(f"misconception/{m.name}", arrays))
            run.update(notes, status="ok")
        except Exception as e:  # one failing misconception is recorded, the others still run
            run["status"] = f"not computed: {type(e).__name__}: {e}"
        runs[m.name] = run
    return runs


# ---------------------------------------------------------------------------
# Writing


def npz_bytes(arrays: Mapping[str, Array]) -> bytes:
    """A deterministic ``.npz``: sorted names, fixed timestamps, no pickle (object arrays refused)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(arrays):
            a = np.ascontiguousarray(arrays[name])
            if a.dtype.hasobject:
                raise TypeError(
                    f"array {name!r} holds Python objects; only numeric arrays are written"
                )
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with z.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, a, allow_pickle=False)
    return buf.getvalue()


def canonical_json(obj: object) -> str:
    """The JSON whose sha256 identifies a configuration: sorted keys, no spaces."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def provenance(
    cfg: ArtifactConfig,
    data: bytes,
    arrays: Mapping[str, Array],
    runs: Mapping[str, Any],
    npz_name: str,
) -> dict[str, Any]:
    """The JSON header written beside the ``.npz``."""
    config = cfg.as_dict()
    return {
        "format": FORMAT,
        "npz": npz_name,
        "config": config,
        "seeds": {
            "seed": cfg.seed,
            "initial_parameters": f"numpy.random.RandomState({cfg.seed}), initializer {cfg.init!r}",
            "batch_order": f"the same RandomState after the weights, shuffle {cfg.shuffle!r}",
            "data": "bundled file"
            if cfg.data == "digits"
            else f"numpy.random.default_rng({cfg.seed})",
        },
        "versions": {
            "reference": reference.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "sha256": {
            "npz": hashlib.sha256(data).hexdigest(),
            "config": hashlib.sha256(canonical_json(config).encode()).hexdigest(),
        },
        "npz_hash_note": "sha256 of the .npz file bytes; the zip is written with fixed timestamps and sorted names, so equal arrays give equal bytes",
        "objective": cfg.objective.describe(),
        "arrays": {k: f"{v.dtype} {tuple(v.shape)}" for k, v in sorted(arrays.items())},
        "misconceptions": dict(runs),
    }


def write(cfg: ArtifactConfig, out: str | Path) -> tuple[Path, Path, dict[str, Any]]:
    """Compute and write ``<out>.npz`` and ``<out>.json``; returns both paths and the header."""
    stem = Path(out)
    if stem.suffix in (".npz", ".json"):
        stem = stem.with_suffix("")
    arrays, runs = compute(cfg)
    data = npz_bytes(arrays)
    npz_path, json_path = stem.with_name(stem.name + ".npz"), stem.with_name(stem.name + ".json")
    header = provenance(cfg, data, arrays, runs, npz_path.name)
    stem.parent.mkdir(parents=True, exist_ok=True)
    npz_path.write_bytes(data)
    json_path.write_text(json.dumps(header, indent=2, sort_keys=True) + "\n")
    return npz_path, json_path, header
