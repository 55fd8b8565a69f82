"""Check results -> points and per-objective mastery: a summary of evidence, never a bare number.

Mastery of an objective, from the checks that assess it (a check is *assessed*
when it passed or failed; "not_assessed" and grader "error" give no evidence)::

    demonstrated   at least one check assessed, every assessed check passed, and none was
                   left unassessed because a prerequisite failed (that is "partly")
    partly         some assessed checks passed, some failed
    not yet        checks were assessed and none passed
    not assessed   no check of the objective could be assessed

A check not assessed because another failed names that root check
(``CheckResult.root_causes``); each objective lists the points its roots hold back
(``ObjectiveMastery.held_back``), so an overview can say why it shows "not assessed".

Hidden checks count in the points and the level; :func:`public_view` replaces
their evidence by "a hidden check of this objective passed/failed", so neither
inputs nor expected values reach a student. Scoring never renders; rendering
never scores.
"""

from __future__ import annotations

from collections.abc import Sequence

from grader.results import (
    CHECK_STATUSES,
    CheckResult,
    Evidence,
    HeldBack,
    Level,
    ObjectiveMastery,
    Score,
)
from grader.rubric import Rubric


def mastery_level(results: Sequence[CheckResult]) -> Level:
    """The level the module doc defines, from one objective's check results."""
    assessed = [r for r in results if r.assessed]
    passed = sum(r.status == "passed" for r in assessed)
    if not assessed:
        return "not assessed"
    if passed == len(assessed):
        # a check left unassessed because a prerequisite failed is missing evidence
        # about this objective, not evidence for it
        return "partly" if any(r.blocked_by for r in results) else "demonstrated"
    return "partly" if passed else "not yet"


def held_back(
    results: Sequence[CheckResult], by_id: dict[str, CheckResult]
) -> tuple[HeldBack, ...]:
    """Per root check, the points of ``results`` (one objective's) that were not assessed
    because it failed: the root, never an intermediate check that was itself not run."""
    points: dict[str, float] = {}
    for r in results:
        if r.status == "not_assessed" and r.root_causes:
            for root in r.root_causes:
                points[root] = points.get(root, 0.0) + r.max_points
    return tuple(
        HeldBack(root, by_id[root].title if root in by_id else "", p) for root, p in points.items()
    )


def score(rubric: Rubric, check_results: Sequence[CheckResult]) -> Score:
    """Points per check, their total, and each objective's mastery with the evidence behind it.

    ``check_results`` must hold exactly one result per check of ``rubric``.
    """
    by_id: dict[str, CheckResult] = {}
    for r in check_results:
        if r.check_id in by_id:
            raise ValueError(f"two results for check {r.check_id!r}")
        by_id[r.check_id] = r
    ids = [c.id for c in rubric.checks]
    missing = [i for i in ids if i not in by_id]
    extra = sorted(set(by_id) - set(ids))
    if missing or extra:
        raise ValueError(
            f"results do not fit rubric {rubric.path}: missing {missing or 'none'}, unknown {extra or 'none'}"
        )
    for spec in rubric.checks:
        r = by_id[spec.id]
        if r.max_points != spec.points or not 0 <= r.points <= r.max_points:
            raise ValueError(
                f"check {spec.id!r}: {r.points} of {r.max_points} points does not fit the rubric's {spec.points}"
            )
    objectives = []
    for o in rubric.objectives:
        results = [by_id[c.id] for c in rubric.checks_of(o.id)]
        objectives.append(
            ObjectiveMastery(
                objective=o.id,
                title=o.title,
                level=mastery_level(results),
                points=sum(r.points for r in results),
                max_points=sum(r.max_points for r in results),
                evidence=tuple(
                    Evidence(r.check_id, r.status, r.visibility, r.headline) for r in results
                ),
                held_back=held_back(results, by_id),
            )
        )
    results = [by_id[i] for i in ids]
    return Score(
        points=sum(r.points for r in results),
        max_points=rubric.max_points,
        complete=not any(r.status == "error" for r in results),
        counts={s: sum(r.status == s for r in results) for s in CHECK_STATUSES},
        objectives=tuple(objectives),
    )


def public_view(score: Score) -> Score:
    """The score a student may see: hidden checks' evidence reduced to passed/failed."""
    return score.public_view()
