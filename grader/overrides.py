"""An instructor's overrides: adjustments of single checks for single students, kept beside the class.

The instructor's file (TOML, or CSV with the same column names)::

    [[override]]
    student = "alice"                  # the identity in the gradebook's "student" column
    check   = "grad_output"      # a check id of the rubric
    points  = 3                        # and/or status = "passed" | "failed"
    reason  = "Regrade request: the sign was fixed in the cell the grader skipped"
    by      = "J. Smith"
    date    = 2026-12-01               # a TOML date, or "2026-12-01"

``status`` alone gives the check's full points ("passed") or none ("failed");
``points`` alone keeps the grader's verdict and changes the points. Each entry
needs student, check, reason, by and date, and at most one entry per student and
check. Every problem is a :class:`OverridesError`: one sentence naming the file,
the entry (and its line) and what is wrong.

Data flows one way: the cached result holds what the code earned and is never
changed; :func:`apply_overrides` is a pure function (result + adjustments ->
adjusted result, each adjusted check recording the grader's own verdict in its
:class:`~grader.results.Adjustment`), applied every time results are read for
output, with the score recomputed by :func:`grader.scoring.score`.
"""

from __future__ import annotations

import csv
import datetime
import difflib
import functools
import hashlib
import json
import re
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from grader.results import Adjustment, CheckResult, GradeResult
from grader.rubric import Rubric
from grader.scoring import score

OverrideStatus = Literal["passed", "failed"]
OVERRIDE_STATUSES: tuple[OverrideStatus, ...] = ("passed", "failed")
REQUIRED = ("student", "check", "reason", "by", "date")
KEYS = (*REQUIRED, "points", "status")


class OverridesError(ValueError):
    """A bad overrides file: one sentence naming the file, the entry and the problem."""


@dataclass(frozen=True)
class Override:
    """One adjustment; ``where`` says where it is written ("entry 3 (line 12)", "line 4")."""

    student: str
    check: str
    reason: str
    by: str
    date: str
    points: float | None = None
    status: OverrideStatus | None = None
    where: str = ""


@dataclass(frozen=True)
class Overrides:
    """The adjustments of one file, in the file's order."""

    path: str
    entries: tuple[Override, ...] = ()

    def of(self, student: str) -> tuple[Override, ...]:
        """One student's adjustments (a batch asks once per student: a lookup, not a scan)."""
        return self._by_student.get(student, ())

    @functools.cached_property
    def _by_student(self) -> dict[str, tuple[Override, ...]]:
        grouped: dict[str, list[Override]] = {}
        for e in self.entries:
            grouped.setdefault(e.student, []).append(e)
        return {student: tuple(mine) for student, mine in grouped.items()}

    def digest(self, student: str) -> str:
        """What one student's adjustments are ("" when none): reports re-render when it changes."""
        mine = [{k: v for k, v in vars(e).items() if k != "where"} for e in self.of(student)]
        if not mine:
            return ""
        return hashlib.sha256(json.dumps(mine, sort_keys=True).encode()).hexdigest()[:16]

    def validate(self, rubric: Rubric, students: Collection[str] | None = None) -> None:
        """Every entry names a check of ``rubric`` (and, given ``students``, one of them),
        within the check's points. Raises OverridesError."""
        checks = {c.id: c for c in rubric.checks}
        for e in self.entries:
            if students is not None and e.student not in students:
                self._fail(e, f"unknown student {e.student!r}{_close(e.student, students)}")
            spec = checks.get(e.check)
            if spec is None:
                self._fail(e, f"unknown check {e.check!r}{_close(e.check, checks)}")
            elif e.points is not None and e.points > spec.points:
                self._fail(
                    e,
                    f"{e.points:g} points is above check {e.check!r}'s maximum of {spec.points:g}",
                )

    def _fail(self, entry: Override, problem: str) -> None:
        raise OverridesError(f"{self.path}, {entry.where}: {problem}.")


def _close(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ---------------------------------------------------------------------------
# Reading


def load_overrides(path: Path) -> Overrides:
    """Read and check an overrides file (``.toml`` or ``.csv``; module doc). Raises OverridesError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise OverridesError(f"{path}: cannot be read ({error.strerror or error}).") from None
    except UnicodeDecodeError:
        raise OverridesError(f"{path}: is not UTF-8 text.") from None
    if path.suffix.lower() == ".csv":
        raw = _csv_entries(path, text)
    elif path.suffix.lower() == ".toml":
        raw = _toml_entries(path, text)
    else:
        raise OverridesError(f"{path}: an overrides file must be .toml or .csv.")
    entries: list[Override] = []
    seen: dict[tuple[str, str], str] = {}
    for where, fields in raw:
        entry = _entry(path, where, fields)
        first = seen.setdefault((entry.student, entry.check), where)
        if first != where:
            raise OverridesError(
                f"{path}, {where}: a second adjustment of {entry.student!r}'s check "
                f"{entry.check!r} (the first is {first}); keep one."
            )
        entries.append(entry)
    return Overrides(str(path), tuple(entries))


def _toml_entries(path: Path, text: str) -> list[tuple[str, Mapping[str, Any]]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise OverridesError(f"{path}: is not valid TOML ({error}).") from None
    extra = sorted(set(data) - {"override"})
    if extra:
        raise OverridesError(
            f"{path}: unknown table or key {extra[0]!r}; each adjustment is an [[override]] table."
        )
    tables = data.get("override", [])
    if not isinstance(tables, list):
        raise OverridesError(
            f"{path}: 'override' must be written [[override]], once per adjustment."
        )
    # tomllib keeps no positions: the n-th [[override]] header is the n-th table's line
    lines = [
        i
        for i, line in enumerate(text.splitlines(), 1)
        if re.match(r"\s*\[\[\s*override\s*\]\]", line)
    ]
    return [
        (f"entry {n}" + (f" (line {lines[n - 1]})" if n <= len(lines) else ""), table)
        for n, table in enumerate(tables, 1)
    ]


def _csv_entries(path: Path, text: str) -> list[tuple[str, Mapping[str, Any]]]:
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    unknown = [h for h in header if h not in KEYS]
    if unknown:
        raise OverridesError(
            f"{path}, line 1: unknown column {unknown[0]!r} (the columns are {', '.join(KEYS)})."
        )
    entries: list[tuple[str, Mapping[str, Any]]] = []
    for row in reader:
        if None in row:
            raise OverridesError(f"{path}, line {reader.line_num}: more cells than columns.")
        entries.append(
            (f"line {reader.line_num}", {k: v for k, v in row.items() if v not in (None, "")})
        )
    return entries


def _entry(path: Path, where: str, fields: Mapping[str, Any]) -> Override:
    def fail(problem: str) -> OverridesError:
        return OverridesError(f"{path}, {where}: {problem}.")

    if not isinstance(fields, Mapping):
        raise fail("an adjustment must be a table of keys")
    unknown = sorted(set(fields) - set(KEYS))
    if unknown:
        raise fail(f"unknown key {unknown[0]!r} (the keys are {', '.join(KEYS)})")
    for key in REQUIRED:
        value = fields.get(key)
        if key == "date" and isinstance(value, datetime.date):
            continue
        if not isinstance(value, str) or not value.strip():
            raise fail(f"missing {key!r}" if value in (None, "") else f"{key!r} must be text")
    date = _date(fields["date"])
    if date is None:
        raise fail(f"bad date {str(fields['date'])!r}: write it as YYYY-MM-DD")
    status = fields.get("status")
    if status is not None and status not in OVERRIDE_STATUSES:
        raise fail(f"status must be 'passed' or 'failed', not {status!r}")
    points = _points(fields.get("points"))
    if points is None and "points" in fields:
        raise fail(f"points must be a number of 0 or more, not {fields['points']!r}")
    if points is None and status is None:
        raise fail("give 'points', 'status' or both")
    return Override(
        student=fields["student"].strip(),
        check=fields["check"].strip(),
        reason=" ".join(fields["reason"].split()),
        by=fields["by"].strip(),
        date=date,
        points=points,
        status=status,
        where=where,
    )


def _date(value: Any) -> str | None:
    """An ISO date (YYYY-MM-DD), from a TOML date or text; None when it is not one."""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return datetime.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            return None
    return None


def _points(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, int | float) or not 0 <= value < float("inf"):
        return None
    return float(value)


# ---------------------------------------------------------------------------
# Applying


def adjusted_check(check: CheckResult, entry: Override) -> CheckResult:
    """One check with the instructor's adjustment, the grader's verdict kept beside it."""
    status = entry.status or check.status
    if entry.points is not None:
        points = entry.points
    elif entry.status is not None:
        points = check.max_points if entry.status == "passed" else 0.0
    else:
        points = check.points
    return replace(
        check,
        status=status,
        points=min(points, check.max_points),
        adjustment=Adjustment(entry.reason, entry.by, entry.date, check.status, check.points),
    )


def apply_overrides(
    result: GradeResult, overrides: Overrides | None, rubric: Rubric, student: str | None = None
) -> GradeResult:
    """``result`` with its student's adjustments applied and the score recomputed; the
    same result when none applies. ``student`` is the name the file uses (default: the
    result's identity). An ungradable result has no checks to adjust: its adjustments
    become a note saying so."""
    student = result.submission.identity if student is None else student
    mine = overrides.of(student) if overrides is not None else ()
    if not mine:
        return result
    if result.score is None or not result.checks:
        names = ", ".join(e.check for e in mine)
        note = (
            f"Adjustments by your instructor ({names}) are not applied: "
            "the submission was not graded."
        )
        return replace(result, notes=(*result.notes, note))
    by_check = {e.check: e for e in mine}
    checks = tuple(
        adjusted_check(c, by_check[c.check_id]) if c.check_id in by_check else c
        for c in result.checks
    )
    return replace(result, checks=checks, score=_rescore(rubric, checks))


def _rescore(rubric: Rubric, checks: Sequence[CheckResult]) -> Any:
    """The score of the adjusted checks, by the rubric's own scoring; a result of a
    public-only grade holds the public checks alone."""
    ids = {c.check_id for c in checks}
    if ids != {c.id for c in rubric.checks} and ids == {c.id for c in rubric.public().checks}:
        rubric = rubric.public()
    return score(rubric, checks)


def adjusted_checks(result: GradeResult) -> tuple[str, ...]:
    """The ids of the checks an instructor adjusted, in the result's order."""
    return tuple(c.check_id for c in result.checks if c.adjustment is not None)


__all__ = [
    "Override",
    "Overrides",
    "OverridesError",
    "adjusted_checks",
    "apply_overrides",
    "load_overrides",
]
