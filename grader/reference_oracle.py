"""The instructor's oracle: the reference's problems and answers for the engine.

:class:`ReferenceOracle` is what :func:`grader.grade.grade_submission` hands the engine
(:func:`grader.pipeline.grade_with`): the plan of the instructor's problems (the rubric's,
drawn afresh from a digest of the whole rubric file: :func:`grader.plan.instructor_problems`,
then :func:`grader.plan.make_plan`) and, after the child is gone, the expected values,
candidates and penalty gradients computed with the reference (:mod:`grader.expectations`).
The student kit's oracle, ``grader.kit_check.KitOracle``, reads precomputed values of the
checks' own seeds instead; the kit's builder computes them with
:func:`reference_expectations`. Instructor side only: this module imports ``reference``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

import reference
from grader import expectations
from grader.adapters import write_probe_module
from grader.adapters.binding import AdapterBinding
from grader.checks import ProbeView
from grader.diagnose import Candidate
from grader.pipeline import Expectations, JobPlan
from grader.plan import ReferencePlan, instructor_problems, make_plan, question_key
from grader.probes import replay
from grader.rubric import Rubric

Array = np.ndarray


# The probes whose diagnosed mistakes a replay plugs in (a gradient, the one-hot encoding,
# an optimiser, a schedule: the pieces probes.substitutes_for replaces)
LENDING = ("gradients", "one_hot", "optimizer", "schedule")


def reference_expectations(
    plan: ReferencePlan, views: Mapping[str, ProbeView] | None = None
) -> Expectations:
    """Expected values, candidates and penalty gradients of every planned check.

    Each probe's values are computed once and shared by its checks. With ``views``,
    candidates are computed only for probes with an answer to diagnose (``None``:
    for every probe, as the student kit needs them).
    """
    expected: dict[str, dict[str, Array]] = {}
    candidates: dict[str, list[Candidate]] = {}
    penalties: dict[str, dict[str, Array]] = {}
    magnitudes: dict[str, Array] = {}
    values: dict[str, dict[str, Array]] = {}
    for p in plan.job.probes:
        ctx = plan.contexts[p.call.id]
        if ctx.call == "train":  # one replay gives the expected values and the pictures
            values[p.call.id], trace = replay(ctx)
            magnitudes |= {c: np.asarray(trace.grad_magnitude) for c in p.checks}
        else:
            values[p.call.id] = expectations.expected_outputs(ctx)
    differs = {p.call.id: _to_diagnose(p.checks, values[p.call.id], views) for p in plan.job.probes}
    for p in plan.job.probes:
        ctx, exp = plan.contexts[p.call.id], values[p.call.id]
        # a printed cost's form, say, lends the replay nothing
        others = any(
            d and plan.contexts[pid].call in LENDING
            for pid, d in differs.items()
            if pid != p.call.id
        )
        cands = expectations.candidates(ctx, others_differ=others) if differs[p.call.id] else []
        pen = expectations.penalty_gradient(ctx)
        for c in p.checks:
            expected[c], candidates[c] = exp, cands
            if pen is not None:
                penalties[c] = pen
    return Expectations(expected, candidates, penalties, magnitudes)


def _to_diagnose(
    checks: Sequence[str], exp: Mapping[str, Array], views: Mapping[str, ProbeView] | None
) -> bool:
    """Whether any check of a probe can need candidates: its answer exists and differs.

    An answer equal to the expected values to the last few bits passes every check
    whatever its tolerance, so no candidate is computed for it (the replay's candidates
    are whole training runs). ``views`` None: every probe (the student kit).
    """
    if views is None:
        return True
    for c in checks:
        view = views.get(c)
        if view is None or view.status != "ok":
            continue
        for name, want in exp.items():
            got = view.outputs.get(name)
            if not isinstance(got, np.ndarray) or got.shape != np.shape(want):
                return True
            if not np.allclose(got, want, rtol=1e-12, atol=1e-14, equal_nan=True):
                return True
    return False


# A plan depends only on the rubric's checks and the binding (its problems come from the
# checks' seeds, as drawn), and making one costs 9-12 ms: a process grading a class makes
# it once. Keyed by the checks themselves (their question keys hold the seeds actually
# used), not the rubric's content hash: the public rubric of a self-check (Rubric.public)
# keeps the hash of the file it came from.
_PLANS: dict[tuple[str, tuple[tuple[str, ...], ...]], ReferencePlan] = {}
_MAX_PLANS = 16


def _cached_plan(rubric: Rubric, binding: AdapterBinding) -> ReferencePlan:
    # the credited conventions too: a plan's contexts carry them (grader.plan._credit)
    key = (
        repr(binding),
        tuple((spec.id, question_key(spec), *spec.compare.accept) for spec in rubric.checks),
    )
    found = _PLANS.get(key)
    if found is None:
        plan = make_plan(rubric, binding)
        for array in plan.job.inputs.values():
            array.flags.writeable = False  # shared by every later grade in this process
        found = plan
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.pop(next(iter(_PLANS)))
        _PLANS[key] = found
    return found


CONFIRMING = ("forward", "gradients")  # the checks that confirm a discovered binding


class ReferenceOracle:
    """The instructor's problems (the rubric's, drawn afresh), the answers from the reference."""

    def __init__(self, rubric: Rubric) -> None:
        self.rubric = rubric
        self.problems = instructor_problems(rubric)  # the checks as asked: their drawn seeds
        self._plan: ReferencePlan | None = None  # the last plan, with its contexts

    def plan(self, binding: AdapterBinding) -> JobPlan:
        self._plan = _cached_plan(self.problems, binding)
        return self._plan.job

    def probe_module(self, binding: AdapterBinding, directory: Path) -> Path:
        return write_probe_module(binding, directory, Path(self.rubric.path).parent)

    def expectations(self, plan: JobPlan, views: Mapping[str, ProbeView]) -> Expectations:
        if self._plan is None or self._plan.job is not plan:
            raise ValueError("expectations of a plan this oracle did not make")
        return reference_expectations(self._plan, views)

    def provenance(self) -> dict[str, Any]:
        seeds = {c.id: int(c.params["seed"]) for c in self.problems.checks}
        return {"reference": reference.__version__, "seeds": seeds}

    def confirmation(self) -> ReferenceOracle | None:
        """An oracle of this rubric's forward and gradient checks alone, each on its own
        (no prerequisites): binding by discovery keeps the class whose answers they pass
        (grader.pipeline). None when the rubric has neither."""
        asked = tuple(replace(c, requires=()) for c in self.rubric.checks if c.probe in CONFIRMING)
        return ReferenceOracle(replace(self.rubric, checks=asked)) if asked else None


__all__ = ["CONFIRMING", "ReferenceOracle", "reference_expectations"]
