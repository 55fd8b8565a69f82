"""A class's results counted: the evidence an instructor uses to decide what to reteach.

:func:`summarise` is a plain aggregation of full (instructor) results; it
scores nothing. What it counts::

    objectives      per objective, how many students reached each mastery level
    misconceptions  per diagnosed misconception or convention, the students showing it
                    (a student counts once, however many checks show it)
    checks          per check, students per status; ranked by failure rate, that is
                    failed / assessed (passed + failed); checks nobody was assessed on last
    ungradable      identity and reason of each submission that could not be graded
    histogram       graded students per tenth of the maximum score: bin i holds scores in
                    [i/10, (i+1)/10) of the maximum, bin 9 also the full score
    tiers           per sandbox tier (grader.sandbox.tiers), the graded students it ran
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from grader.results import CHECK_STATUSES, LEVELS, GradeResult

BINS = 10


@dataclass(frozen=True)
class ObjectiveCounts:
    objective: str
    title: str
    levels: dict[str, int]  # level -> students, every level of grader.results.LEVELS

    @property
    def total(self) -> int:
        return sum(self.levels.values())


@dataclass(frozen=True)
class MisconceptionCount:
    name: str
    kind: str  # "misconception" | "convention"
    title: str
    topic: str
    students: tuple[str, ...]  # identities, in the order given
    checks: tuple[str, ...]  # check ids it showed on

    @property
    def count(self) -> int:
        return len(self.students)


@dataclass(frozen=True)
class CheckCounts:
    check_id: str
    title: str
    objective: str
    statuses: dict[str, int]  # status -> students, every status of grader.results.CHECK_STATUSES

    @property
    def assessed(self) -> int:
        return self.statuses["passed"] + self.statuses["failed"]

    @property
    def failure_rate(self) -> float | None:
        """failed / assessed; None when no student was assessed on the check."""
        return self.statuses["failed"] / self.assessed if self.assessed else None


@dataclass(frozen=True)
class ClassSummary:
    students: int
    graded: int
    objectives: tuple[ObjectiveCounts, ...]
    misconceptions: tuple[MisconceptionCount, ...]  # most students first
    checks: tuple[CheckCounts, ...]  # highest failure rate first
    ungradable: tuple[tuple[str, str], ...]  # (identity, reason)
    histogram: tuple[int, ...]  # BINS counts
    max_points: float  # the largest maximum among graded results (0 when none)
    median_fraction: float | None  # median of points / max_points over graded students
    tiers: tuple[tuple[str, int], ...] = ()  # (sandbox tier, graded students), most first
    # (identity, check ids) an instructor's override adjusted (grader.overrides), in class order
    adjusted: tuple[tuple[str, tuple[str, ...]], ...] = ()


def _bin(fraction: float) -> int:
    return min(max(int(fraction * BINS), 0), BINS - 1)


def summarise(results: Sequence[GradeResult]) -> ClassSummary:
    """Count levels, misconceptions, check outcomes, ungradable submissions and scores."""
    objectives: dict[str, ObjectiveCounts] = {}
    checks: dict[str, CheckCounts] = {}
    found: dict[str, tuple[str, str, str, list[str], list[str]]] = {}
    ungradable: list[tuple[str, str]] = []
    histogram = [0] * BINS
    fractions: list[float] = []
    max_points = 0.0
    tiers: dict[str, int] = {}
    adjusted: list[tuple[str, tuple[str, ...]]] = []
    for r in results:
        who = r.submission.identity
        if r.status == "ungradable" or r.score is None:
            ungradable.append((who, r.reason))
            continue
        if tier := r.provenance.get("sandbox_tier"):
            tiers[str(tier)] = tiers.get(str(tier), 0) + 1
        for o in r.score.objectives:
            counts = objectives.setdefault(
                o.objective, ObjectiveCounts(o.objective, o.title, dict.fromkeys(LEVELS, 0))
            )
            counts.levels[o.level] += 1
        mine = tuple(c.check_id for c in r.checks if c.adjustment is not None)
        if mine:
            adjusted.append((who, mine))
        for c in r.checks:
            cc = checks.setdefault(
                c.check_id,
                CheckCounts(c.check_id, c.title, c.objective, dict.fromkeys(CHECK_STATUSES, 0)),
            )
            cc.statuses[c.status] += 1
            d = c.diagnosis
            if d is not None:
                *_, students, on = found.setdefault(d.name, (d.kind, d.title, d.topic, [], []))
                if who not in students:
                    students.append(who)
                if c.check_id not in on:
                    on.append(c.check_id)
        max_points = max(max_points, r.score.max_points)
        if r.score.max_points > 0:
            fraction = r.score.points / r.score.max_points
            fractions.append(fraction)
            histogram[_bin(fraction)] += 1
    ranked = sorted(
        checks.values(),
        key=lambda c: (c.failure_rate is None, -(c.failure_rate or 0.0), -c.statuses["failed"]),
    )
    shown = sorted(
        (
            MisconceptionCount(name, kind, title, topic, tuple(students), tuple(on))
            for name, (kind, title, topic, students, on) in found.items()
        ),
        key=lambda m: (-m.count, m.kind != "misconception", m.name),
    )
    return ClassSummary(
        students=len(results),
        graded=len(results) - len(ungradable),
        objectives=tuple(objectives.values()),
        misconceptions=tuple(shown),
        checks=tuple(ranked),
        ungradable=tuple(ungradable),
        histogram=tuple(histogram),
        max_points=max_points,
        median_fraction=statistics.median(fractions) if fractions else None,
        tiers=tuple(sorted(tiers.items(), key=lambda t: -t[1])),
        adjusted=tuple(adjusted),
    )
