"""The probe contract: one declarative table, one entry per probe call.

A probe is one question asked of the student's code (ARCHITECTURE, "The probe
contract"). Everything the grader knows about a call *as a name* lives here, and
every other module derives what it needs from :data:`PROBE_SPECS`:

- :mod:`grader.adapters.binding` ``CALLS``: the calls a binding may name
- :mod:`grader.rubric`: which probes a check may name, the parameters each allows
  (:func:`allowed_params`), the output names ``compare.parts`` may list, the
  misconception kinds its feedback may word
- :mod:`grader.probes`: the canonical inputs and hyper-parameters (defaults:
  :data:`HYPER_DEFAULTS`) of each reference function, the keys it ignores, whether it
  runs the declared optimiser and schedule (``steps``), the names and shapes of the
  outputs that are the same in every layout (``plain``: ``output_specs``)
- :mod:`grader.plan`: each call's default N and timeout, and the run order
- :mod:`grader.checks` ``JUDGES``: each call's judge, by name
- :mod:`grader.adapters.styles`: the outputs that need no conversion (``to_canonical``)
- :mod:`grader.expectations`: which calls have variants (``_variants_<call>``)

What stays code: the reference function (``grader.probes.REFERENCE``), the child
function (a module-level function of the call's name in
``grader/adapters/child_probes.py``, which runs in the sandbox and cannot import
this module: ``tests/grader/test_contract.py`` checks its functions against this
table), the student-layout conversions (``grader.adapters.styles``) and any judge.

Standard library only: the student kit ships this module. Nothing here is secret
(it is the shape of the questions, not their answers or the hidden checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

Kind = Literal["gradient", "optimizer", "schedule", "encoding", "training"]

# reference.misconceptions.KINDS, written out so that loading needs no reference
# (tests/grader/test_kit.py keeps the two equal)
MISCONCEPTION_KINDS: tuple[Kind, ...] = (
    "gradient",
    "optimizer",
    "schedule",
    "encoding",
    "training",
)

# The problem a plan builds for any check (layer sizes, instances, seed, init) and its limit.
PROBLEM_KEYS = ("sizes", "N", "seed", "init", "timeout")

HYPER_DEFAULTS: MappingProxyType[str, Any] = MappingProxyType(
    {
        "C": 0.0,
        "eta": 0.001,
        "alpha": 0.0,
        "epochs": None,  # from the permutations, else required
        "minibatches": 1,
        "decrease_const": 0.1,
        "decrease_iter": 10,
        "shuffle": True,
        "random_state": None,
        "repeats": 5,
        "h": 1e-5,  # gradcheck_self: the central-difference step
        "gain": 4.0,  # initialize: Glorot's bound gain·sqrt(6/(n_in+n_out)); the course: 4 (sigmoid)
        "n_classes": None,
        "seeds": 5,  # converge: reference runs from as many other starts and batch orders
        "batch_size": None,  # converge: instances per batch (the textbook's); None: minibatches
    }
)
"""Every hyper-parameter a probe takes, with its default (None: derived or required)."""


@dataclass(frozen=True)
class Output:
    """One canonical output: its name (a regular expression: ``W\\d+`` is every layer's)
    and its shape in the lecture's layout, by symbols: K classes, N instances, E epochs
    (schedule_order: the rates asked, two per epoch),
    T optimiser steps, M held-out instances, S directions (gradcheck_self), ``param``
    the shape of the parameter of the same layer, "+1" one more; () a number."""

    name: str
    shape: tuple[str, ...]
    by_parent: bool = False  # added by the parent (the supervisor's clock), not the child
    # a value the student's code records to watch training (the replay's cost_), judged with
    # grader.compare's monitoring tolerance; the check that owns its form judges that form
    monitoring: bool = False


_PARAMS = (Output(r"W\d+", ("param",)), Output(r"b\d+", ("param",)))
_GRADS = (Output(r"dW\d+", ("param",)), Output(r"db\d+", ("param",)))


@dataclass(frozen=True)
class ProbeSpec:
    """One probe call, declared once.

    inputs   : the canonical inputs the reference function needs ("params" = W1..WL,
               b1..bL; "grads" = dW1.., db1.. per step)
    hyper    : the hyper-parameters it takes (sent to the child; defaults in HYPER_DEFAULTS)
    grader   : the keys the plan or the judge reads beyond PROBLEM_KEYS and ``hyper``
    outputs  : the canonical outputs of the student's answer (what ``compare.parts`` may name)
    kinds    : the misconception kinds that can show on it
    judge    : how its outputs are judged (a name in grader.checks; "compare": with the
               reference's expected values)
    N, timeout : the plan's defaults for the problem's instances and the probe's limit
    run_rank : where the child asks it (RUN_ORDER): cheap questions first
    steps    : what of the declared training it runs beyond the objective: the optimiser
               (its hyper-parameters go to the child) and the learning-rate schedule
    plain    : its outputs need no conversion from any student's layout
    """

    call: str
    inputs: tuple[str, ...]
    hyper: tuple[str, ...]
    outputs: tuple[Output, ...]
    kinds: tuple[Kind, ...] = ()
    grader: tuple[str, ...] = ()
    judge: str = "compare"
    N: int = 7
    timeout: float = 10.0
    run_rank: int = 0
    steps: tuple[Literal["optimizer", "schedule"], ...] = ()
    plain: bool = False  # the same output names and shapes in every student's layout

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.outputs)


_TRAIN_HYPER = (
    "C",
    "eta",
    "alpha",
    "epochs",
    "minibatches",
    "decrease_const",
    "decrease_iter",
    "shuffle",
    "random_state",
)

PROBE_SPECS: MappingProxyType[str, ProbeSpec] = MappingProxyType(
    {
        p.call: p
        for p in (
            ProbeSpec("forward", ("params", "X"), (), (Output("A_out", ("K", "N")),), run_rank=1),
            ProbeSpec("gradients", ("params", "X", "Y"), ("C",), _GRADS, ("gradient",), run_rank=7),
            ProbeSpec(
                "cost", ("params", "X", "Y"), ("C",), (Output("cost", ()),), run_rank=2, plain=True
            ),
            ProbeSpec(
                "optimizer",
                ("params", "grads"),
                ("eta", "alpha"),
                (Output(r"W\d+", ("T", "param")), Output(r"b\d+", ("T", "param"))),
                ("optimizer",),
                grader=("steps",),
                run_rank=6,
                steps=("optimizer",),
            ),
            ProbeSpec(
                "schedule",
                (),
                ("eta", "decrease_const", "decrease_iter", "epochs"),
                (Output("eta", ("E",)),),
                ("schedule",),
                run_rank=5,
                plain=True,
                steps=("schedule",),
            ),
            ProbeSpec(
                "train",
                ("params", "X", "y"),
                _TRAIN_HYPER,
                (
                    *_PARAMS,
                    Output("cost", ("E",), monitoring=True),
                    Output("accuracy", ("E+1",)),
                ),
                MISCONCEPTION_KINDS,
                judge="replay",
                N=60,
                timeout=60.0,
                run_rank=10,
                steps=("optimizer", "schedule"),
            ),
            ProbeSpec(
                "predict", ("params", "X"), (), (Output("labels", ("N",)),), run_rank=4, plain=True
            ),
            ProbeSpec(
                "one_hot",
                ("y",),
                ("n_classes",),
                (Output("Y", ("K", "N")),),
                ("encoding",),
                run_rank=3,
            ),
            ProbeSpec(
                "timing",
                ("params", "X", "Y"),
                ("C", "repeats"),
                # the timed calls' summed gradients; the parent adds the supervisor's two times
                (
                    *_GRADS,
                    Output("student_seconds", (), by_parent=True),
                    Output("baseline_seconds", (), by_parent=True),
                ),
                grader=("max_ratio",),
                judge="timed",
                N=2000,
                timeout=60.0,
                run_rank=9,
            ),
            ProbeSpec(
                "gradcheck_self",
                ("params", "X", "Y"),
                ("C", "h"),
                tuple(
                    Output(n, ("S",))
                    for n in ("slope_gradient", "slope_data", "slope_square", "slope_abs")
                ),
                ("gradient",),
                judge="self_check",
                run_rank=8,
                plain=True,
            ),
            ProbeSpec(
                "initialize",
                ("params",),
                ("random_state", "gain"),
                _PARAMS,
                judge="glorot_bound",
                run_rank=0,
            ),
            ProbeSpec(
                "converge",
                ("params", "X", "y", "X_heldout", "y_heldout", "start_perms"),
                (*_TRAIN_HYPER, "seeds", "batch_size"),
                (Output("cost", ("E",)), Output("labels", ("M",))),
                grader=("N_heldout", "accuracy_margin", "cost_margin"),
                judge="envelope",
                N=200,
                timeout=60.0,
                run_rank=11,
                steps=("optimizer", "schedule"),
            ),
            # the rate asked for each epoch of ``epochs_asked`` (every epoch of 0..epochs-1
            # twice, out of order) on one instance: a rule that keeps its rate in state (that
            # writes self.eta) is right only when asked once per epoch, in order
            ProbeSpec(
                "schedule_order",
                ("epochs_asked",),
                ("eta", "decrease_const", "decrease_iter", "epochs"),
                (Output("eta", ("E",)),),
                ("schedule",),
                judge="rates_asked",
                run_rank=5,
                plain=True,
                steps=("schedule",),
            ),
        )
    }
)
"""Call -> its declaration, in the order reports and the ARCHITECTURE table list them."""

CALLS: tuple[str, ...] = tuple(PROBE_SPECS)

# The child runs probes in this order (stable within a call). Probes are independent, but
# a hang costs a restart and restarts are limited: the cheap questions are asked before
# the ones that call the student's gradient many times (timing, training).
RUN_ORDER: tuple[str, ...] = tuple(sorted(CALLS, key=lambda call: PROBE_SPECS[call].run_rank))

GRADER_KEYS: tuple[str, ...] = tuple(
    dict.fromkeys(k for p in PROBE_SPECS.values() for k in p.grader)
)
"""Keys of a check that the plan or a judge reads and no reference function takes."""


def canonical_shape(
    output: Output, sizes: Mapping[str, int], param: tuple[int, ...] = ()
) -> tuple[int, ...]:
    """``output``'s shape for these sizes (K, N, E, T, M, S) and its layer's parameter shape."""
    dims: list[int] = []
    for symbol in output.shape:
        if symbol == "param":
            dims += param
        elif symbol.endswith("+1"):
            dims.append(sizes[symbol[:-2]] + 1)
        else:
            dims.append(sizes[symbol])
    return tuple(dims)


def probe_spec(call: str) -> ProbeSpec:
    """The declaration of ``call``; ValueError naming the known calls."""
    if call not in PROBE_SPECS:
        raise ValueError(f"unknown probe call {call!r}; known: {', '.join(CALLS)}")
    return PROBE_SPECS[call]


def probe_params(call: str) -> tuple[str, ...]:
    """The problem's, hyper- and grader parameter names a check of ``call`` may set
    (conventions come on top: grader.adapters.conventions.CONVENTION_KEYS)."""
    spec = PROBE_SPECS.get(call)
    own = (*spec.hyper, *spec.grader) if spec is not None else ()
    return tuple(dict.fromkeys((*PROBLEM_KEYS, *own)))


__all__ = [
    "CALLS",
    "GRADER_KEYS",
    "HYPER_DEFAULTS",
    "MISCONCEPTION_KINDS",
    "PROBE_SPECS",
    "PROBLEM_KEYS",
    "RUN_ORDER",
    "Kind",
    "Output",
    "ProbeSpec",
    "canonical_shape",
    "probe_params",
    "probe_spec",
]
