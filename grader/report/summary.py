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
    roster          one row per student, in class order: score, level per objective, the
                    root cause to fix first (grader.report.view.root_cause, the same the
                    student's report leads with) and why the student needs a look, if so
    roots           per root cause (a diagnosed mistake by its title, else the check), the
                    students for whom it is the thing to fix first, out of those the check
                    assessed: what to reteach, ranked by causes rather than by the checks
                    that fail only because of an earlier one
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from grader.report.view import root_cause
from grader.results import CHECK_STATUSES, LEVELS, GradeResult

BINS = 10
LOW_SCORE = 0.5  # a share of the maximum below which a student needs a look
UNSHOWN = 2  # objectives not demonstrated from which a student needs a look


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
class RosterRow:
    identity: str
    graded: bool
    points: float
    max_points: float
    levels: tuple[str, ...]  # per objective of ClassSummary.objectives ("" when not scored)
    fix_first: str  # the root cause's name ("" when nothing failed)
    needs_look: str  # why the student needs a look ("" when not)

    @property
    def fraction(self) -> float | None:
        return self.points / self.max_points if self.graded and self.max_points else None


@dataclass(frozen=True)
class RootCause:
    name: str  # the diagnosed mistake's title, else the check's title
    check_id: str
    check_title: str
    students: tuple[str, ...]
    assessed: int  # students the check assessed (passed + failed): the denominator

    @property
    def count(self) -> int:
        return len(self.students)


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
    roster: tuple[RosterRow, ...] = ()
    roots: tuple[RootCause, ...] = ()  # most students first

    @property
    def needs_look(self) -> tuple[RosterRow, ...]:
        """Students who need a look, ungradable and lowest scores first."""
        return tuple(
            sorted(
                (r for r in self.roster if r.needs_look),
                key=lambda r: (r.graded, r.fraction if r.fraction is not None else 0.0),
            )
        )


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
    rows: list[tuple[str, bool, float, float, dict[str, str], str]] = []
    roots: dict[str, tuple[str, str, str, list[str]]] = {}
    for r in results:
        who = r.submission.identity
        if r.status == "ungradable" or r.score is None:
            ungradable.append((who, r.reason))
            rows.append((who, False, 0.0, 0.0, {}, ""))
            continue
        cause = root_cause(r.checks)
        name = ""
        if cause is not None:
            c = cause[0]
            name = c.diagnosis.title if c.diagnosis is not None else c.title or c.check_id
            roots.setdefault(name, (c.check_id, c.title or c.check_id, name, []))[3].append(who)
        rows.append(
            (
                who,
                True,
                r.score.points,
                r.score.max_points,
                {o.objective: o.level for o in r.score.objectives},
                name,
            )
        )
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
    order = tuple(objectives)
    roster = tuple(
        RosterRow(
            who,
            graded,
            got,
            of,
            tuple(levels.get(o, "") for o in order),
            cause,
            _needs_look(graded, got, of, levels),
        )
        for who, graded, got, of, levels, cause in rows
    )
    reteach = sorted(
        (
            RootCause(name, cid, title, tuple(students), checks[cid].assessed)
            for cid, title, name, students in roots.values()
        ),
        key=lambda c: (-c.count, c.name),
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
        roster=roster,
        roots=tuple(reteach),
    )


def _needs_look(graded: bool, got: float, of: float, levels: dict[str, str]) -> str:
    """Why a student needs the instructor's eye ("" when not): ungradable, a low score,
    or several objectives not demonstrated."""
    if not graded:
        return "could not be graded"
    why = []
    if of and got / of < LOW_SCORE:
        why.append(f"score below {LOW_SCORE:.0%}")
    missing = sum(level != "demonstrated" for level in levels.values())
    if missing >= UNSHOWN:
        why.append(f"{missing} objectives not demonstrated")
    return ", ".join(why)
