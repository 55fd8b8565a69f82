"""What the reference says each probe should return, and what each known variant returns.

Called by the trusted parent only after the child is gone (the sandbox's rule):
nothing here is computed while a student process lives.

- :func:`expected_outputs`  probe context -> the reference's canonical outputs
- :func:`candidates`        probe context -> every misconception and convention that
                            applies to the probe, computed on the same inputs
                            (``grader.diagnose`` asks which one reproduces the student)
- :func:`penalty_gradient`  the declared penalty's share of the gradient, so a
                            difference that is exactly the penalty is recognised
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import replace

import numpy as np

from grader.contract import CALLS
from grader.diagnose import (
    CONVENTIONS,
    PRINTED_CONVENTIONS,
    Candidate,
    Convention,
    accepted_by,
    combined,
    gradient_outputs,
    other_loss,
)
from grader.probes import (
    ProbeContext,
    expected,
    objective_weights,
    optimizer_trail,
    rates_asked,
    recorded_cost,
    replay,
    replay_targets_unshuffled,
    schedule_rates,
    substitutes_for,
    timed_sum,
)
from reference import network, objectives
from reference.misconceptions import Misconception, all_misconceptions
from reference.misconceptions.optimization import STANDS_IN_FOR
from reference.network import Model
from reference.objectives import Objective
from reference.params import Params
from reference.training import Trace

Array = np.ndarray
# the variant's own parameters can be invalid for a declared set-up (a convention that
# needs a hyper-parameter the check does not give): that variant is simply not a candidate
_VARIANT_ERRORS = (ValueError, TypeError, KeyError, ZeroDivisionError, FloatingPointError)


def expected_outputs(ctx: ProbeContext) -> dict[str, Array]:
    """The reference's canonical outputs for the probe (see ARCHITECTURE, the probe contract)."""
    with np.errstate(all="ignore"):
        return expected(ctx)


def gradient_candidates(
    params: Params,
    X: Array,
    Y: Array,
    model: Model,
    objective: Objective,
    conventions: Iterable[str] | None = None,
) -> list[Candidate]:
    """Every gradient misconception and objective convention, computed on one problem.

    X : ndarray (D, N), Y : ndarray (K, N). ``conventions`` defaults to every
    convention that applies to the gradients probe.
    """
    out = [
        Candidate.from_misconception(
            m, gradient_outputs(m.impl(params, X, Y, model, objective, **place))
        )
        for m in all_misconceptions("gradient")
        for place in m.places(params.depth)  # one candidate per layer (or kind) it can sit in
    ]
    names = (
        [c.name for c in CONVENTIONS.values() if "gradients" in c.probes]
        if conventions is None
        else list(conventions)
    )
    seen = [objective]
    for name in names:
        conv = CONVENTIONS[name]
        changed = objective.with_(**conv.changes)
        if changed in seen:  # the declared objective, or an earlier convention's, already
            continue  # (squared_mean is mean_instances where the declared loss is squared)
        seen.append(changed)
        grads = network.gradients(params, X, Y, model, changed)
        out.append(Candidate.from_convention(conv, gradient_outputs(grads)))
        if changed.loss != objective.loss and other_loss(name):
            # correct code for another loss is not assessed (grader.checks); a known bug in
            # such code is still named, under the loss the code follows
            out += [
                replace(
                    Candidate.from_misconception(
                        m, gradient_outputs(m.impl(params, X, Y, model, changed, **place))
                    ),
                    title=f"{m.title} (under {conv.title})",
                )
                for m in all_misconceptions("gradient")
                for place in m.places(params.depth)
            ]
    return out


def _variants_gradients(ctx: ProbeContext) -> list[Candidate]:
    i = ctx.inputs
    return gradient_candidates(ctx.params(), i["X"], i["Y"], ctx.model, ctx.objective)


def _standing_in(kind: str, declared: str) -> list[Misconception]:
    """Misconceptions of ``kind`` that replace the declared optimiser or schedule."""
    return [m for m in all_misconceptions(kind) if STANDS_IN_FOR.get(m.name) == declared]  # type: ignore[arg-type]


def _convention_variants(
    ctx: ProbeContext, field: str, compute: Callable[[ProbeContext], dict[str, Array]]
) -> list[Candidate]:
    out = []
    for conv in CONVENTIONS.values():
        if ctx.call not in conv.probes or field not in conv.changes:
            continue
        value = conv.changes[field]
        if value == getattr(ctx, field):
            continue
        try:
            changed = replace(ctx, **{field: value})
            out.append(Candidate.from_convention(conv, compute(changed)))
        except _VARIANT_ERRORS:
            continue
    return out


def _variants_optimizer(ctx: ProbeContext) -> list[Candidate]:
    out = []
    for m in _standing_in("optimizer", ctx.optimizer):
        try:
            out.append(Candidate.from_misconception(m, optimizer_trail(ctx, m.impl)))
        except _VARIANT_ERRORS:
            continue
    out += _convention_variants(ctx, "optimizer", optimizer_trail)
    return out + _convention_variants(ctx, "bias_momentum", optimizer_trail)


def _variants_schedule(ctx: ProbeContext) -> list[Candidate]:
    out = []
    for m in _standing_in("schedule", ctx.schedule):
        try:
            out.append(Candidate.from_misconception(m, schedule_rates(ctx, m.impl)))
        except _VARIANT_ERRORS:
            continue
    return out + _convention_variants(ctx, "schedule", schedule_rates)


def _variants_schedule_order(ctx: ProbeContext) -> list[Candidate]:
    """The rates asked out of order under each schedule standing in for the declared one
    (a rule kept in state, compounding) and each other cooling convention."""
    out = []
    for m in _standing_in("schedule", ctx.schedule):
        try:
            out.append(Candidate.from_misconception(m, rates_asked(ctx, m.impl)))
        except _VARIANT_ERRORS:
            continue
    return out + _convention_variants(ctx, "schedule", rates_asked)


def _variants_one_hot(ctx: ProbeContext) -> list[Candidate]:
    y, K = ctx.inputs["y"], ctx.sizes.K
    out = []
    for m in all_misconceptions("encoding"):
        try:
            out.append(Candidate.from_misconception(m, {"Y": np.asarray(m.impl(y, K))}))
        except _VARIANT_ERRORS:
            continue
    return out


def printed_variants(ctx: ProbeContext) -> list[Candidate]:
    """The probe's outputs under every combination of the printed cost's forms
    (grader.diagnose.PRINTED_CONVENTIONS) that change it: the course's ``_cost`` is a
    monitoring value whose details (an ε in the log, which weights the penalty averages)
    change nothing else, so a cost check can name them and a replay can tell them from its
    trajectory. A form that changes nothing here (an ε-guarded log of a squared error) is
    left out, so no combination names it."""
    if ctx.cost_kind != "printed":
        return []

    def under(form: tuple[str, ...]) -> dict[str, Array] | None:
        try:
            return expected(replace(ctx, printed_form=form))
        except _VARIANT_ERRORS:
            return None

    declared = expected(ctx)
    effective = []
    for conv in PRINTED_CONVENTIONS:
        alone = under((conv.changes["printed_form"],))
        if alone is not None and any(not np.array_equal(alone[k], declared[k]) for k in declared):
            effective.append(conv)
    out = []
    for r in range(1, len(effective) + 1):
        for combo in itertools.combinations(effective, r):
            arrays = under(tuple(c.changes["printed_form"] for c in combo))
            if arrays is not None:
                out.append(Candidate.from_convention(combined(combo), arrays))
    return out


def _variants_cost(ctx: ProbeContext) -> list[Candidate]:
    if ctx.cost_kind != "objective":
        return printed_variants(ctx)
    out = []
    for conv in CONVENTIONS.values():
        if "cost" not in conv.probes or "printed_form" in conv.changes:
            continue
        changed = ctx.cost_objective.with_(**conv.changes)
        if changed == ctx.cost_objective:
            continue
        try:
            out.append(
                Candidate.from_convention(conv, expected(replace(ctx, cost_objective=changed)))
            )
        except _VARIANT_ERRORS:
            continue
    return out


_OBJECTIVE_FIELDS = ("loss", "reduction", "penalty")
_TRAINING_FIELDS = ("optimizer", "schedule", "bias_momentum", "shuffle_scheme", "cost_at")
MAX_COMBINED = 3
"""The most conventions one replayed candidate follows together (grader.expectations)."""


def _plugged_replays(ctx: ProbeContext, under_credited: bool = True) -> list[Candidate]:
    """The replay with each misconception that can stand in for a piece of the declared
    training (its gradient, one-hot encoding, optimiser, schedule, or the whole loop)
    plugged in: a loop whose only fault is a mistake diagnosed elsewhere follows one of
    these exactly (grader.checks judges it there, so the loop is judged as a loop).

    Also under each convention the check credits, one at a time: a class that cools
    inverse-time (credited) with a sign flipped in its gradient (charged by the gradient
    check) trains as neither the declared loop with the flip nor the convention without
    it, and its replay must not charge the flip a second time. ``under_credited`` False:
    the declared run only (no other probe's answer differs, so no mistake can be lent)."""
    under: list[tuple[ProbeContext, Convention | None]] = [(ctx, None)]
    seen = {_training_key(ctx)}
    for name in ctx.credited if under_credited else ():
        conv = CONVENTIONS.get(name)
        if conv is None or "train" not in conv.probes:
            continue
        try:
            changed = _training_under(ctx, (conv,))
        except _VARIANT_ERRORS:
            continue
        if _training_key(changed) not in seen:
            seen.add(_training_key(changed))
            under.append((changed, conv))
    out = []
    for m in all_misconceptions():
        for run, conv in under:
            try:
                if m.kind != "training":
                    substitutes_for(run, m)  # ValueError: not a piece of this check's training
                cand = Candidate.from_misconception(m, replay(run, m)[0])
            except _VARIANT_ERRORS:
                continue
            out.append(
                cand if conv is None else replace(cand, title=f"{m.title} (under {conv.title})")
            )
    return out


def _variants_timing(ctx: ProbeContext) -> list[Candidate]:
    """The timed calls' summed gradients of each gradient misconception."""
    out = []
    for m in all_misconceptions("gradient"):
        try:
            out.append(Candidate.from_misconception(m, timed_sum(ctx, m)))
        except _VARIANT_ERRORS:
            continue
    # the same bugs under another loss (gradient_candidates names them there): a check that
    # builds on such a diagnosis replays the bug under the loss the code follows
    for conv in CONVENTIONS.values():
        if not other_loss(conv.name):
            continue
        changed = ctx.objective.with_(**conv.changes)
        if changed.loss == ctx.objective.loss:
            continue
        for m in all_misconceptions("gradient"):
            try:
                arrays = timed_sum(replace(ctx, objective=changed), m)
            except _VARIANT_ERRORS:
                continue
            out.append(
                replace(
                    Candidate.from_misconception(m, arrays), title=f"{m.title} (under {conv.title})"
                )
            )
    return out


def _training_under(ctx: ProbeContext, conventions: Iterable[Convention]) -> ProbeContext:
    """The replay's context with every one of ``conventions`` followed (the objective it
    differentiates, the optimiser, the schedule, the biases' momentum)."""
    objective: dict[str, object] = {}
    rest: dict[str, object] = {}
    for conv in conventions:
        objective |= {k: v for k, v in conv.changes.items() if k in _OBJECTIVE_FIELDS}
        rest |= {k: v for k, v in conv.changes.items() if k in _TRAINING_FIELDS}
    return replace(
        ctx,
        objective=ctx.objective.with_(**objective),
        cost_objective=ctx.cost_objective.with_(**objective),
        **rest,  # type: ignore[arg-type]
    )


def _training_key(ctx: ProbeContext) -> tuple[object, ...]:
    """What a replay's run depends on among the fields a convention changes."""
    # a scheme that cannot show is no variant: without shuffled draws every scheme visits
    # the original order, and a cost_ that is the objective is already the whole set's
    # after each epoch (probes._recorded_cost)
    shuffled = bool(ctx.hyper.get("shuffle")) and ctx.inputs.get("perms") is not None
    return (
        ctx.objective,
        ctx.cost_objective,
        ctx.optimizer,
        ctx.schedule,
        ctx.bias_momentum,
        ctx.shuffle_scheme if shuffled else "",
        ctx.cost_at if ctx.cost_kind == "printed" else "",
    )


def _combinations(
    singles: Sequence[Convention], credited: Collection[str]
) -> list[tuple[Convention, ...]]:
    """Conventions followed together, fewest first (each changes settings the others do
    not): every pair with at least one credited convention (so a credited one beside an
    uncredited one is named), and up to :data:`MAX_COMBINED` of the credited ones (the
    course's 2022 08a cools inverse-time *and* steps its biases with momentum). Bounded:
    a dozen or two replays of a few milliseconds each, computed only for a run that differs."""
    out: list[tuple[Convention, ...]] = []
    for r in range(2, MAX_COMBINED + 1):
        for combo in itertools.combinations(singles, r):
            keys = [set(c.changes) for c in combo]
            if any(a & b for a, b in itertools.combinations(keys, 2)):
                continue  # two conventions of one setting (two penalties, two schedules)
            named = [c.name in credited for c in combo]
            if all(named) or (r == 2 and any(named)):
                out.append(combo)
    return out


# a trajectory's key -> the run's outputs and trace (expectations._replayed)
_Runs = dict[tuple[object, ...], tuple[dict[str, Array], Trace]]


def _variants_train(ctx: ProbeContext, others_differ: bool = True) -> list[Candidate]:
    """The replay under each convention that can show in training (the objective it
    follows, the optimiser, the schedule, the biases' momentum), and under the credited
    ones combined (:func:`_combinations`): a convention or combination the rubric accepts
    is credited; and with each misconception plugged in (:func:`_plugged_replays`; under
    the credited conventions too where ``others_differ``: another probe's answer differs,
    so a mistake diagnosed there may be lent to the replay)."""
    out = _plugged_replays(ctx, under_credited=others_differ)
    singles: list[Convention] = []
    seen = {_training_key(ctx)}
    runs: _Runs = {}
    # where the inputs and targets can part: the declared run, and every credited one that
    # orders its epochs another way (a fresh shuffle must not hide targets left unshuffled)
    parting: list[tuple[ProbeContext, Convention | None]] = [(ctx, None)]
    for conv in CONVENTIONS.values():
        if "train" not in conv.probes:
            continue
        try:
            changed = _training_under(ctx, (conv,))
            if _training_key(changed) in seen:
                continue
            out.append(Candidate.from_convention(conv, _replayed(changed, runs, replay)))
        except _VARIANT_ERRORS:
            continue
        seen.add(_training_key(changed))
        singles.append(conv)
        if changed.shuffle_scheme != ctx.shuffle_scheme and conv.name in ctx.credited:
            parting.append((changed, conv))
    for combo in _combinations(singles, ctx.credited):
        try:
            changed = _training_under(ctx, combo)
            if _training_key(changed) in seen:
                continue
            seen.add(_training_key(changed))
            conv = combined(combo)
            out.append(Candidate.from_convention(conv, _replayed(changed, runs, replay)))
        except _VARIANT_ERRORS:
            continue
        if changed.shuffle_scheme != ctx.shuffle_scheme and accepted_by(conv.name, ctx.credited):
            parting.append((changed, conv))
    return out + _targets_unshuffled(parting) + printed_variants(ctx)


def _targets_unshuffled(
    parting: Sequence[tuple[ProbeContext, Convention | None]],
) -> list[Candidate]:
    """Inputs shuffled, targets not (``xy_shuffled_separately``), in each run of ``parting``
    (with the credited conventions it follows, named in the title): computed from the
    parent's own draws, so a match is the student's final weights, not anything the child
    says about its shuffling."""
    out: list[Candidate] = []
    runs: _Runs = {}
    for m in all_misconceptions("training"):
        if m.name != "xy_shuffled_separately":
            continue
        for changed, conv in parting:
            try:
                cand = Candidate.from_misconception(
                    m, _replayed(changed, runs, replay_targets_unshuffled)
                )
            except _VARIANT_ERRORS:
                continue
            if conv is not None:
                cand = replace(cand, title=f"{m.title} (under {conv.title})")
            out.append(cand)
    return out


def _replayed(
    ctx: ProbeContext,
    runs: _Runs,
    run: Callable[[ProbeContext], tuple[dict[str, Array], Trace]],
) -> dict[str, Array]:
    """``run``'s outputs under ``ctx`` (the replay, or a misconception's), one training run
    per trajectory: a convention that changes only when cost_ is taken (``epoch_end_cost``)
    reads another record of a run already made (``runs``: its trajectory's key -> (outputs,
    trace))."""
    key = _training_key(replace(ctx, cost_at="batches"))
    if key not in runs:
        runs[key] = run(ctx)
    out, trace = runs[key]
    return out | {"cost": recorded_cost(ctx, trace)}


def _variants_gradcheck_self(ctx: ProbeContext) -> list[Candidate]:
    """The objective under each convention, as weights of the self-check's slope parts."""
    K, N = ctx.inputs["Y"].shape
    out = []
    for conv in CONVENTIONS.values():
        if "gradcheck_self" not in conv.probes:
            continue
        changed = ctx.objective.with_(**conv.changes)
        if changed != ctx.objective:
            out.append(Candidate.from_convention(conv, objective_weights(changed, N, K)))
    return out


# Probe call -> its variants (misconceptions and conventions), found by name:
# ``_variants_<call>``; the other probes are judged against the reference alone.
_CANDIDATES: dict[str, Callable[[ProbeContext], list[Candidate]]] = {
    call: globals()[f"_variants_{call}"] for call in CALLS if f"_variants_{call}" in globals()
}


def candidates(ctx: ProbeContext, *, others_differ: bool = True) -> list[Candidate]:
    """Every known variant's output on the probe's inputs (empty where none applies).
    ``others_differ`` False: no other probe's answer differs from its expected values, so
    the replay needs no mistake plugged in under its credited conventions (~130 runs)."""
    with np.errstate(all="ignore"):
        if ctx.call == "train":
            return _variants_train(ctx, others_differ)
        return _CANDIDATES.get(ctx.call, lambda _: [])(ctx)


def penalty_gradient(ctx: ProbeContext) -> dict[str, Array] | None:
    """The declared penalty's part of each gradient (gradients probe with C > 0), else None."""
    if ctx.call != "gradients" or ctx.objective.C == 0:
        return None
    N = ctx.inputs["X"].shape[1]
    return gradient_outputs(objectives.penalty_gradient(ctx.objective, ctx.params(), N))


__all__ = ["candidates", "expected_outputs", "gradient_candidates", "penalty_gradient"]
