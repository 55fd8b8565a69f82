"""What a probe asks of an adapter, and its output contract (the trusted parent's side).

A probe is one question asked of the student's code (ARCHITECTURE, "The probe
contract"). For each ``call`` this module says, in the parent:

- :func:`student_inputs` canonical inputs -> the student's layout, plus a :class:`ProbeContext`
                       (kept by the parent, never sent; :meth:`ProbeContext.child_params`
                       is the JSON the child gets)
- :func:`output_specs` output name -> expected shape, in the student's layout, so a
                       wrong shape is reported in the student's terms
- :func:`to_canonical` the child's raw arrays -> the canonical names and layout (defined in
                       :mod:`grader.adapters.styles`, which needs no ``reference``)
- :func:`expected`     the reference's canonical values (only after the child is gone)

Conventions (objective, optimiser, schedule, cost) default per style
(``grader.adapters.conventions.STYLE_CONVENTIONS``: what a faithful copy of that
code computes) and a rubric may override each in the probe's parameters.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from grader.adapters.binding import AdapterBinding
from grader.adapters.child_probes import timed_calls, timed_scale
from grader.adapters.conventions import (
    CONVENTION_KEYS,
    COST_KINDS,
    STYLE_CONVENTIONS,
    build_optimizer,
    conventions,
    optimizer_hyper,
    schedule_hyper,
)
from grader.adapters.styles import Style, style_of, to_canonical
from grader.contract import (
    CALLS,
    GRADER_KEYS,
    HYPER_DEFAULTS,
    PROBE_SPECS,
    PROBLEM_KEYS,
    ProbeSpec,
    canonical_shape,
    probe_spec,
)
from reference import network
from reference.encoding import one_hot
from reference.network import Model
from reference.objectives import Objective, data_scale, penalty_term, printed_cost
from reference.optimizers import OPTIMIZERS
from reference.params import Params
from reference.schedules import make_schedule
from reference.training import Substitutes, Trace, TrainConfig, train, train_with_orders

if TYPE_CHECKING:  # types only
    from reference.misconceptions import Misconception

Array = np.ndarray
__all__ = [
    "CONVENTION_KEYS",
    "COST_KINDS",
    "COST_TIMES",
    "REFERENCE",
    "SHUFFLE_SCHEMES",
    "STYLE_CONVENTIONS",
    "ProbeContext",
    "Sizes",
    "batch_orders",
    "expected",
    "optimizer_trail",
    "output_specs",
    "rates_asked",
    "recorded_cost",
    "replay",
    "replay_targets_unshuffled",
    "schedule_rates",
    "student_inputs",
    "substitutes_for",
    "timed_sum",
    "to_canonical",
]

# A check's parameters that belong to the plan (the problem) or the grader, not to a probe.
_IGNORED = (*PROBLEM_KEYS, *GRADER_KEYS)


@dataclass(frozen=True)
class Sizes:
    """Sizes of one probe: layers (D, H.., K), N instances, E epochs, T optimiser steps.

    K is the number of classes: the last layer's size, or given on its own (one_hot).
    M is the number of held-out instances (converge).
    """

    layers: tuple[int, ...] = ()
    N: int = 0
    E: int = 0
    T: int = 0
    K: int = 0
    M: int = 0

    def __post_init__(self) -> None:
        if self.layers and not self.K:
            object.__setattr__(self, "K", int(self.layers[-1]))


@dataclass(frozen=True)
class ProbeContext:
    """Everything :func:`expected` needs; kept by the parent, never sent to the child.

    inputs     : canonical arrays (read-only copies): W1.., b1.., X (D, N), Y (K, N), y (N,),
                 perms (E, N), dW1.. (T, ...); converge: X_heldout (D, M), y_heldout (M,),
                 start_W1.. (S, ...) and start_perms (S, E, N), the reference's S starts
    hyper      : the probe's hyper-parameters, defaults filled in
    objective  : what the gradient differentiates (C included)
    cost_kind  : "printed" (the course's _cost) or "objective" (``cost_objective``'s value)
    """

    call: str
    binding: AdapterBinding
    inputs: Mapping[str, Array]
    hyper: Mapping[str, Any]
    model: Model
    objective: Objective
    cost_kind: str
    cost_objective: Objective
    printed_loss: str
    optimizer: str
    optimizer_hyper: Mapping[str, Any]
    bias_momentum: bool
    schedule: str
    sizes: Sizes = field(default_factory=Sizes)
    # the printed cost's variants a convention's candidate follows (the declared: none)
    printed_form: tuple[str, ...] = ()
    # the conventions its checks credit (compare.accept): the variants worth combining
    # (grader.expectations); never sent to the child
    credited: tuple[str, ...] = ()
    # how the replay's injected draws order each epoch (batch_orders: "course" composes them,
    # "fresh" permutes the original order) and when its cost_ is taken ("batches": the mean of
    # the batches' printed costs before each update, the course's; "epoch_end": the whole
    # set's after the epoch's updates): conventions' candidates change them, the child never
    # sees them (its draws are the same either way)
    shuffle_scheme: str = "course"
    cost_at: str = "batches"

    def params(self) -> Params:
        """The canonical parameters among the inputs."""
        return Params.from_dict({k: v for k, v in self.inputs.items() if _is_param(k)})

    def child_params(self) -> dict[str, Any]:
        """The JSON ``params`` the child gets: the complete binding, hyper-parameters, sizes."""
        out: dict[str, Any] = {"adapter": self.binding.to_json()}
        out |= {k: v for k, v in self.hyper.items() if v is not None}
        if self.call == "one_hot":
            out["n_classes"] = self.sizes.K
            # a class whose constructor requires its sizes (the textbook's first edition,
            # the course's 2016-19 classes) is built with K outputs; the features only size
            # weights that encoding labels never reads
            out |= {"n_output": self.sizes.K, "n_features": 1}
        if len(self.sizes.layers) >= 3:
            D, H, K = self.sizes.layers[0], self.sizes.layers[1], self.sizes.layers[-1]
            out |= {"n_features": D, "n_hidden": H, "n_output": K}
        if self.call == "initialize":
            out["sizes"] = list(self.sizes.layers)
        out["conventions"] = self.declared()
        return out

    def declared(self) -> dict[str, Any]:
        """The model, loss and optimiser the check declares (the lab level's keywords).

        The optimiser's hyper-parameters come with every default filled in, under the
        reference's names, so the student's ``optimizer_step`` is told each value.
        """
        hyper: dict[str, Any] = {}
        if "optimizer" in PROBE_SPECS[self.call].steps:
            full = OPTIMIZERS[self.optimizer].validate(dict(self.optimizer_hyper))
            hyper = {k: v for k, v in full.items() if v is not None and not k.endswith("_mask")}
        return {
            "hidden": self.model.hidden,
            "output": self.model.output,
            "loss": self.objective.loss,
            "reduction": self.objective.reduction,
            "penalty": self.objective.penalty,
            "penalize_bias": self.objective.penalize_bias,
            "directions": SELF_CHECK_DIRECTIONS,
            "optimizer": self.optimizer,
            "optimizer_hyper": hyper,
        }

    def train_config(self) -> TrainConfig:
        """The reference's configuration of the replayed ``fit``."""
        return TrainConfig(
            epochs=int(self.hyper["epochs"]),
            minibatches=int(self.hyper["minibatches"]),
            shuffle="none",  # the batch order is given
            optimizer=self.optimizer,
            optimizer_hyper=self.optimizer_hyper,
            schedule=self.schedule,
            schedule_hyper=schedule_hyper(self.schedule, self.hyper),
            bias_momentum=self.bias_momentum,
            model=self.model,
            objective=self.objective,
            printed_loss=self.printed_loss,
            printed_bias_style=self.binding.bias,
            printed_form=self.printed_form,
        )


def _is_param(name: str) -> bool:
    return len(name) > 1 and name[0] in "Wb" and name[1:].isdigit()


def _readonly(a: Any) -> Array:
    a = np.array(a)
    a.flags.writeable = False
    return a


# ---------------------------------------------------------------------------
# The reference function of each call (what it takes and returns: grader.contract)


def _ref_forward(ctx: ProbeContext) -> dict[str, Array]:
    return {"A_out": network.forward(ctx.params(), ctx.inputs["X"], ctx.model).output}


def _ref_gradients(ctx: ProbeContext) -> dict[str, Array]:
    g = network.gradients(ctx.params(), ctx.inputs["X"], ctx.inputs["Y"], ctx.model, ctx.objective)
    return {f"d{k}": v for k, v in g.as_dict().items()}


def _ref_cost(ctx: ProbeContext) -> dict[str, Array]:
    P, X, Y = ctx.params(), ctx.inputs["X"], ctx.inputs["Y"]
    if ctx.cost_kind == "printed":
        A = network.forward(P, X, ctx.model).output
        C = float(ctx.hyper["C"])
        J = printed_cost(P, A, Y, ctx.printed_loss, C, ctx.binding.bias, ctx.printed_form)
    else:
        J = network.objective_value(P, X, Y, ctx.model, ctx.cost_objective)
    return {"cost": np.array(J)}


def _ref_optimizer(ctx: ProbeContext, make: Callable[..., Any] | None = None) -> dict[str, Array]:
    """Params after each of the T steps; ``make`` replaces the declared optimiser's factory
    (a misconception standing in for it, see grader.expectations)."""
    P = ctx.params().copy()
    names, arrays = P.names(), P.arrays()
    opt = build_optimizer(ctx.optimizer, ctx.optimizer_hyper, ctx.bias_momentum, P, make)
    trail: list[list[Array]] = [[] for _ in names]
    for t in range(ctx.sizes.T):
        opt.step(arrays, [ctx.inputs[f"d{n}"][t] for n in names], float(ctx.hyper["eta"]))
        for i, W in enumerate(arrays):
            trail[i].append(W.copy())
    return {n: np.stack(tr) for n, tr in zip(names, trail, strict=True)}


def _ref_schedule(ctx: ProbeContext, make: Callable[..., Any] | None = None) -> dict[str, Array]:
    hyper = schedule_hyper(ctx.schedule, ctx.hyper)
    s = make(**hyper) if make is not None else make_schedule(ctx.schedule, **hyper)
    return {"eta": np.array([s.rate(k) for k in range(int(ctx.hyper["epochs"]))])}


def _ref_schedule_order(
    ctx: ProbeContext, make: Callable[..., Any] | None = None
) -> dict[str, Array]:
    """The rate of each epoch asked, in the order asked, from one schedule (as the child asks
    one instance); ``epochs_asked`` comes back too, for the judge's sentences."""
    hyper = schedule_hyper(ctx.schedule, ctx.hyper)
    s = make(**hyper) if make is not None else make_schedule(ctx.schedule, **hyper)
    asked = [int(k) for k in ctx.inputs["epochs_asked"]]
    return {
        "eta": np.array([s.rate(k) for k in asked]),
        "epochs_asked": np.array(asked, dtype=np.int64),
    }


optimizer_trail = _ref_optimizer
schedule_rates = _ref_schedule
rates_asked = _ref_schedule_order


SHUFFLE_SCHEMES = ("course", "fresh")
COST_TIMES = ("batches", "epoch_end")  # ProbeContext.cost_at


def batch_orders(
    perms: Array | None, N: int, epochs: int, shuffle: bool, scheme: str = "course"
) -> Array:
    """Each epoch's order of the ORIGINAL instances, (E, N), from the per-epoch draws.

    ``"course"``: the course shuffles the already shuffled arrays, ``X_data = X_data[p_k]``,
    so epoch k sees ``order_k = order_{k-1}[p_k]``. ``"fresh"``: each draw permutes the
    original order, ``X[p_k]`` (the textbook's ``NeuralNetMLP`` shuffles its indices
    afresh each epoch), so epoch k sees ``p_k``; the same draws, another order from epoch 1.
    (reference.training.batch_order's "course" and "seeded", on injected draws.)
    """
    if scheme not in SHUFFLE_SCHEMES:
        raise ValueError(f"unknown shuffle scheme {scheme!r}; known: {SHUFFLE_SCHEMES}")
    order, out = np.arange(N), []
    for k in range(epochs):
        if shuffle and perms is not None:
            order = order[perms[k]] if scheme == "course" else np.asarray(perms[k])
        out.append(order)
    return np.array(out, dtype=np.int64).reshape(epochs, N)


def substitutes_for(ctx: ProbeContext, plugged: Misconception) -> Substitutes:
    """The piece of the declared training that ``plugged`` replaces; ValueError when it
    cannot stand in for this check's (an optimiser or schedule misconception of another rule)."""
    if plugged.kind == "gradient":
        return Substitutes(gradients=plugged.impl)
    if plugged.kind == "encoding":
        return Substitutes(one_hot=plugged.impl)
    from reference.misconceptions.optimization import STANDS_IN_FOR

    declared = {"optimizer": ctx.optimizer, "schedule": ctx.schedule}.get(plugged.kind)
    if declared is None or STANDS_IN_FOR.get(plugged.name) != declared:
        raise ValueError(f"{plugged.name} does not stand in for this check's {plugged.kind}")
    if plugged.kind == "optimizer":
        return Substitutes(optimizer=plugged.impl)
    return Substitutes(schedule=plugged.impl)


def _reference_run(
    ctx: ProbeContext, start: Params, perms: Array | None, plugged: Misconception | None = None
) -> tuple[Params, Trace]:
    """The reference's training as the check declares it, from ``start``, in the batch
    order the per-epoch draws ``perms`` give: ``minibatches`` parts of each epoch's
    order, or (``batch_size``, the textbook's) batches of that size, the remainder left out.
    ``plugged``: a misconception run in place of the piece it replaces (a whole training
    loop for kind "training")."""
    X, y, E = ctx.inputs["X"], ctx.inputs["y"], int(ctx.hyper["epochs"])
    N, B = X.shape[1], ctx.hyper.get("batch_size")
    if B:
        parts = [np.arange(i, i + int(B)) for i in range(0, N - int(B) + 1, int(B))]
    else:
        parts = np.array_split(np.arange(N), int(ctx.hyper["minibatches"]))
    orders = batch_orders(perms, N, E, bool(ctx.hyper["shuffle"]), ctx.shuffle_scheme)
    batches = [[o[p] for p in parts] for o in orders]
    if plugged is not None and plugged.kind == "training":
        run: tuple[Params, Trace] = plugged.impl(start, X.T, y, ctx.train_config(), batches)
        return run
    sub = None if plugged is None else substitutes_for(ctx, plugged)
    return train(start, X.T, y, ctx.train_config(), batches, substitutes=sub)


def replay(
    ctx: ProbeContext, plugged: Misconception | None = None
) -> tuple[dict[str, Array], Trace]:
    """The train probe's expected outputs, and the reference's whole trace of the same run
    (with ``plugged``, a misconception, in place of the piece it replaces)."""
    P, trace = _reference_run(ctx, ctx.params(), ctx.inputs.get("perms"), plugged)
    out = P.as_dict() | {
        "cost": recorded_cost(ctx, trace),
        "accuracy": np.array(trace.train_accuracy),
    }
    return out, trace


def recorded_cost(ctx: ProbeContext, trace: Trace) -> Array:
    """The cost_ the replay expects: the printed cost (averaged over the batches before each
    update, or the whole set's after the epoch: ``ctx.cost_at``), or the objective."""
    if ctx.cost_kind != "printed":
        return np.array(trace.objective)  # the objective is the whole set's after the epoch
    if ctx.cost_at == "epoch_end" and trace.printed_cost_end is not None:
        return np.array(trace.printed_cost_end)
    return np.array(trace.printed_cost)


def replay_targets_unshuffled(ctx: ProbeContext) -> tuple[dict[str, Array], Trace]:
    """The replay with the targets left in their original order while the inputs follow the
    injected draws (``xy_shuffled_separately``: X shuffled, Y not): the final W, b and the
    cost, computed from the parent's own draws, and the run's trace. No accuracy: it depends
    on which label array the student shuffled with X, which the weights do not."""
    X, y, E = ctx.inputs["X"], ctx.inputs["y"], int(ctx.hyper["epochs"])
    if not ctx.hyper["shuffle"] or ctx.hyper.get("batch_size"):
        raise ValueError("the targets can part from the inputs only where the batches are shuffled")
    N = X.shape[1]
    parts = np.array_split(np.arange(N), int(ctx.hyper["minibatches"]))
    orders = batch_orders(ctx.inputs.get("perms"), N, E, True, ctx.shuffle_scheme)
    P, trace = train_with_orders(
        ctx.params(),
        X.T,
        y,
        ctx.train_config(),
        [[o[p] for p in parts] for o in orders],
        [list(parts) for _ in orders],
    )
    return P.as_dict() | {"cost": recorded_cost(ctx, trace)}, trace


def _ref_train(ctx: ProbeContext) -> dict[str, Array]:
    return replay(ctx)[0]


def envelope(ctx: ProbeContext) -> dict[str, Array]:
    """The converge probe's expected outputs: the band the reference's own runs span.

    S runs of the training the check declares, each from another start (``start_W1``..,
    drawn with the rubric's init scheme) and another batch order (``start_perms``):
    the lowest and highest cost of each epoch, the lowest and highest accuracy on the
    held-out data, and ``y_heldout`` for the judge.
    """
    Xh, yh = ctx.inputs["X_heldout"], ctx.inputs["y_heldout"]
    names = [k[6:] for k in ctx.inputs if k.startswith("start_") and _is_param(k[6:])]
    costs, accuracy = [], []
    for s, perms in enumerate(ctx.inputs["start_perms"]):
        start = Params.from_dict({n: ctx.inputs[f"start_{n}"][s] for n in names})
        P, trace = _reference_run(ctx, start, perms)
        costs.append(_cost_per_epoch(ctx, trace, start))
        accuracy.append(float(np.mean(network.predict(P, Xh, ctx.model) == yh)))
    cost = np.array(costs, dtype=float)
    return {
        "cost_low": cost.min(axis=0),
        "cost_high": cost.max(axis=0),
        "accuracy_low": np.array(min(accuracy)),
        "accuracy_high": np.array(max(accuracy)),
        "y_heldout": np.array(yh, dtype=np.int64),
    }


def _cost_per_epoch(ctx: ProbeContext, trace: Trace, like: Params) -> Array:
    """The run's cost per epoch in the units the student's class records.

    The course records its printed cost; others the value of ``cost_objective`` on the
    full training set at the end of each epoch. Where that differs from the declared
    objective only in the reduction's and the L2 penalty's factors (the textbook's
    _compute_cost adds C·||W||², the objective C/2·||W||²), it is rescaled from the
    trace's data term and penalty; any other difference cannot be derived (ValueError).
    """
    if ctx.cost_kind == "printed":
        return trace.printed_cost
    obj, cost = ctx.objective, ctx.cost_objective
    if cost == obj:
        return trace.objective
    if (
        cost.loss != obj.loss
        or cost.penalize_bias != obj.penalize_bias
        or "l1"
        in (
            cost.penalty,
            obj.penalty,
        )
    ):
        raise ValueError(f"the envelope cannot express the cost {cost} from the objective {obj}")
    Y, N = ctx.inputs["Y"], ctx.inputs["X"].shape[1]
    ones = Params([np.ones_like(W) for W in like.W], [np.ones_like(b) for b in like.b])
    penalty = trace.objective - trace.data_term
    per_unit = penalty_term(obj, ones, N)
    if per_unit == 0 and penalty_term(cost, ones, N) != 0:
        raise ValueError("the envelope cannot express a penalised cost of an unpenalised objective")
    ratio = penalty_term(cost, ones, N) / per_unit if per_unit else 0.0
    return trace.data_term * (data_scale(cost, Y) / data_scale(obj, Y)) + penalty * ratio


_ref_converge = envelope


def _ref_predict(ctx: ProbeContext) -> dict[str, Array]:
    return {"labels": network.predict(ctx.params(), ctx.inputs["X"], ctx.model).astype(np.int64)}


def _ref_one_hot(ctx: ProbeContext) -> dict[str, Array]:
    return {"Y": one_hot(ctx.inputs["y"], ctx.hyper["n_classes"])}


def _ref_timing(ctx: ProbeContext, plugged: Misconception | None = None) -> dict[str, Array]:
    """The sum of the reference's gradients over the timed calls, each with the parameters
    scaled by ``timed_scale(k)`` and no penalty (what the child's timing probe returns);
    ``plugged``, a gradient misconception, computes them in place of the reference."""
    P, X, Y = ctx.params(), ctx.inputs["X"], ctx.inputs["Y"]
    objective = ctx.objective.with_(C=0.0)
    calls = timed_calls(ctx.hyper)
    gradients = network.gradients if plugged is None else plugged.impl
    name = "" if plugged is None else plugged.name
    digest = hashlib.sha256(repr((ctx.model, objective, calls, name)).encode())
    for a in (*P.W, *P.b, X, Y):
        digest.update(np.ascontiguousarray(a).data)
    key = digest.digest()
    if key not in _TIMED:  # the same for every submission graded with this plan
        total: dict[str, Array] = {}
        for k in range(calls):
            s = timed_scale(k)
            scaled = Params([W * s for W in P.W], [b * s for b in P.b])
            for k_name, g in gradients(scaled, X, Y, ctx.model, objective).as_dict().items():
                total[f"d{k_name}"] = total.get(f"d{k_name}", 0.0) + g
        if len(_TIMED) >= 32:
            _TIMED.clear()
        _TIMED[key] = total
    return {k: v.copy() for k, v in _TIMED[key].items()}


# inputs' digest -> the timed calls' reference sum (and each gradient misconception's)
_TIMED: dict[bytes, dict[str, Array]] = {}
timed_sum = _ref_timing


SELF_CHECK_DIRECTIONS = 4  # gradcheck_self: random directions the child differentiates along


def _ref_initialize(ctx: ProbeContext) -> dict[str, Array]:
    """No reference draw (the student's generator is theirs): each layer's Glorot bound."""
    gain = float(ctx.hyper.get("gain", 4.0))
    layers = ctx.sizes.layers
    return {
        f"bound_W{l}": np.array(gain * np.sqrt(6.0 / (n_in + n_out)))
        for l, (n_in, n_out) in enumerate(itertools.pairwise(layers), start=1)
    }


def objective_weights(objective: Objective, N: int, K: int) -> dict[str, Array]:
    """The declared objective as weights of the child's three parts (gradcheck_self).

    J = w_data · (data term summed over instances) + w_square · Σ W² + w_abs · Σ |W|
    """
    reduce = {"sum": 1.0, "mean_instances": 1.0 / N, "mean_elements": 1.0 / (N * K)}
    square = {"l2_half": 0.5, "l2": 1.0, "l2_half_mean": 0.5 / N}
    C = objective.C
    return {
        "w_data": np.array(reduce[objective.reduction]),
        "w_square": np.array(square.get(objective.penalty, 0.0) * C),
        "w_abs": np.array(C if objective.penalty == "l1" else 0.0),
    }


def _ref_gradcheck_self(ctx: ProbeContext) -> dict[str, Array]:
    """No reference value: the weights that make the child's slopes the declared objective's."""
    K, N = ctx.inputs["Y"].shape
    return objective_weights(ctx.objective, N, K)


# Call -> its reference function (the expected values), found by name: ``_ref_<call>``, so a
# call of the contract without one fails when this module loads.
REFERENCE: dict[str, Callable[[ProbeContext], dict[str, Array]]] = {
    call: globals()[f"_ref_{call}"] for call in CALLS
}


# ---------------------------------------------------------------------------
# The four functions of the contract


def student_inputs(
    call: str,
    binding: AdapterBinding,
    probe_params: Mapping[str, Any],
    canonical_inputs: Mapping[str, Array],
) -> tuple[dict[str, Array], ProbeContext]:
    """Inputs in the student's layout, and the context :func:`expected` needs.

    Parameters
    ----------
    call : a name in ``grader.contract.PROBE_SPECS``
    binding : the rubric's adapter binding
    probe_params : hyper-parameters (``PROBE_SPECS[call].hyper``) and conventions
        (``CONVENTION_KEYS``); the plan's and grader's own keys (``PROBLEM_KEYS``,
        ``GRADER_KEYS``) are ignored
    canonical_inputs : W1..WL, b1..bL; X (D, N); Y (K, N); y (N,) ints; perms (E, N) (train,
        the course's per-epoch ``np.random.permutation`` draws); dW1.., db1.. (T, *shape) (optimizer)
    """
    probe, style = probe_spec(call), style_of(binding)
    allowed = (*probe.hyper, *CONVENTION_KEYS, *_IGNORED)
    unknown = sorted(set(probe_params) - set(allowed))
    if unknown:
        raise ValueError(
            f"probe {call!r}: unknown parameter {unknown[0]!r}; allowed: {', '.join(allowed)}"
        )
    inputs = {k: _readonly(v) for k, v in canonical_inputs.items()}
    P = None
    if "params" in probe.inputs:
        P = Params.from_dict({k: v for k, v in inputs.items() if _is_param(k)})
        style.check_depth(P.depth)
    hyper = _hyper(probe, probe_params, inputs)
    ctx = _context(probe, binding, inputs, hyper, conventions(binding, probe_params), P)
    return _student_inputs(ctx, style, P), ctx


def _hyper(
    probe: ProbeSpec, given: Mapping[str, Any], inputs: Mapping[str, Array]
) -> dict[str, Any]:
    """The probe's hyper-parameters with defaults, after checking the inputs it needs."""
    hyper = {k: given.get(k, HYPER_DEFAULTS[k]) for k in probe.hyper}
    needed = [k for k in probe.inputs if k not in ("params", "grads") and k not in inputs]
    if probe.call == "train" and hyper["shuffle"] and "perms" not in inputs:
        needed.append("perms")
    if needed:
        raise ValueError(f"probe {probe.call!r} needs canonical inputs {', '.join(needed)}")
    if "epochs" in hyper and hyper["epochs"] is None:
        if "perms" in inputs:
            hyper["epochs"] = int(inputs["perms"].shape[0])
        elif "start_perms" in inputs:
            hyper["epochs"] = int(inputs["start_perms"].shape[1])
        elif "epochs_asked" in inputs and inputs["epochs_asked"].size:
            hyper["epochs"] = int(inputs["epochs_asked"].max()) + 1
        else:
            raise ValueError(f"probe {probe.call!r} needs 'epochs'")
    return hyper


def _context(
    probe: ProbeSpec,
    binding: AdapterBinding,
    inputs: dict[str, Array],
    hyper: dict[str, Any],
    conv: Mapping[str, Any],
    P: Params | None,
) -> ProbeContext:
    """The declared conventions made into reference objects, each checked now (not after the run)."""
    C = float(hyper.get("C", 0.0))
    objective = Objective(
        conv["loss"], conv["reduction"], conv["penalty"], C, conv["penalize_bias"]
    )
    cost_objective = objective.with_(
        **{k[5:]: conv[k] for k in ("cost_loss", "cost_penalty", "cost_reduction") if conv[k]}
    )
    model = Model(conv["hidden"], conv["output"])
    network.check_compatible(model, objective)
    uses_optimizer = "optimizer" in probe.steps and P is not None
    opt_hyper = optimizer_hyper(conv, hyper, P) if uses_optimizer and P else {}
    if "schedule" in probe.steps:
        make_schedule(conv["schedule"], **schedule_hyper(conv["schedule"], hyper))
    N = next((inputs[k].shape[-1] for k in ("X", "y") if k in inputs), 0)
    T = next((v.shape[0] for k, v in inputs.items() if k.startswith("dW")), 0)
    layers = P.sizes if P is not None else ()
    E, K = int(hyper.get("epochs") or 0), int(hyper.get("n_classes") or 0)
    if "epochs_asked" in inputs:  # schedule_order: one rate per epoch asked
        E = int(inputs["epochs_asked"].shape[0])
    if probe.call == "one_hot" and not K:  # K from the labels: the sorted distinct classes
        K = len(set(inputs["y"].tolist()))  # (np.unique would import numpy.ma: 5 ms cold)
    M = int(inputs["y_heldout"].shape[0]) if "y_heldout" in inputs else 0
    return ProbeContext(
        call=probe.call,
        binding=binding,
        inputs=MappingProxyType(inputs),
        hyper=MappingProxyType(hyper),
        model=model,
        objective=objective,
        cost_kind=conv["cost_kind"],
        cost_objective=cost_objective,
        printed_loss=conv["printed_loss"] or objective.loss,
        optimizer=conv["optimizer"],
        optimizer_hyper=MappingProxyType(opt_hyper),
        bias_momentum=bool(conv["bias_momentum"]),
        schedule=conv["schedule"],
        sizes=Sizes(layers, int(N), E, int(T), K, M),
    )


def _student_inputs(ctx: ProbeContext, style: Style, P: Params | None) -> dict[str, Array]:
    inputs, b = ctx.inputs, ctx.binding
    out: dict[str, Array] = {}
    if P is not None and ctx.call != "converge":  # converge: the student's own start
        out |= style.params_to(P.as_dict(), b)
    if "X" in inputs:
        out["X"] = style.X_to(inputs["X"])
    if "Y" in inputs:
        out["Y"] = style.Y_to(inputs["Y"])
    if "y" in inputs:
        out["y"] = np.array(inputs["y"], dtype=np.int64)
    if "epochs_asked" in inputs:
        out["epochs_asked"] = np.array(inputs["epochs_asked"], dtype=np.int64)
    if ctx.call == "converge":
        out.pop("Y", None)
        out["X_heldout"] = style.X_to(inputs["X_heldout"])
    if ctx.call == "optimizer" and P is not None:
        steps = [
            style.params_to({n: inputs[f"d{n}"][t] for n in P.names()}, b)
            for t in range(ctx.sizes.T)
        ]
        out |= {f"d{k}": np.stack([s[k] for s in steps]) for k in steps[0]} if steps else {}
    if ctx.call == "train":
        if style.name == "template":  # the template takes each epoch's order of the original data
            out["orders"] = batch_orders(
                inputs.get("perms"), ctx.sizes.N, ctx.sizes.E, bool(ctx.hyper["shuffle"])
            )
        elif "perms" in inputs:
            out["perms"] = np.array(inputs["perms"], dtype=np.int64)
    if ctx.call == "timing" and P is not None:
        # the baseline's shapes (only those reach the child, before the submission loads;
        # the probe's own inputs arrive when the probe starts): views, no copies
        out |= {f"base_{k}": v for k, v in P.as_dict().items()}
        out["base_X"] = inputs["X"]
    return out


def output_specs(call: str, binding: AdapterBinding, sizes: Sizes) -> dict[str, tuple[int, ...]]:
    """Output name -> expected shape, in the student's layout (what the sandbox validates)."""
    spec, style = probe_spec(call), style_of(binding)
    N, E, T, K = sizes.N, sizes.E, sizes.T, sizes.K
    if spec.plain:  # the same in every layout: the contract's names and shapes
        symbols = {"K": K, "N": N, "E": E, "T": T, "M": sizes.M, "S": SELF_CHECK_DIRECTIONS}
        return {o.name: canonical_shape(o, symbols) for o in spec.outputs}
    shapes: dict[str, tuple[int, ...]] = {}
    if sizes.layers:
        dummy = Params(
            [np.zeros((o, i)) for i, o in zip(sizes.layers, sizes.layers[1:], strict=False)],
            [np.zeros((o, 1)) for o in sizes.layers[1:]],
        )
        shapes = {k: v.shape for k, v in style.params_to(dummy.as_dict(), binding).items()}
    if call == "forward":
        return {style.forward_out: style.Y_to(np.zeros((K, N))).shape}
    if call in ("gradients", "timing"):  # timing: the summed gradients of its timed calls
        return {style.grad_name(k): s for k, s in shapes.items()}
    if call == "optimizer":
        return {k: (T, *s) for k, s in shapes.items()}
    if call == "train":
        return shapes | {style.train_cost: (E,), style.train_accuracy: (E + 1,)}
    if call == "converge":
        return {style.train_cost: (E,), "labels": (sizes.M,)}
    if call == "one_hot":
        return {style.one_hot_out: style.Y_to(np.zeros((K, N))).shape}
    if call == "initialize":
        return shapes
    raise ValueError(f"no output contract for probe call {call!r}")


def expected(context: ProbeContext) -> dict[str, Array]:
    """The reference's canonical values for this probe (call only after the child is gone)."""
    return REFERENCE[probe_spec(context.call).call](context)
