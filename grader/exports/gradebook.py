"""The class gradebook as CSV: the grader's own layout, and Canvas's import layout.

``gradebook.csv`` (RFC 4180, UTF-8, one row per submission, in batch order)::

    student, total, max, objective:<id>..., check:<id>..., status, reason, adjusted

    total, max     : points; blank when the submission was not graded
    objective:<id> : the mastery level ("demonstrated", "partly", "not yet", "not assessed")
    check:<id>     : the check's points
    status         : graded | ungradable (the submission's fault) | failed (the grader's:
                     a dead worker, a timeout; re-run the batch) | pending (not graded yet)
    reason         : why it was not graded, or a note on an incomplete grade
    adjusted       : the checks an instructor's override adjusted (grader.overrides), space
                     separated; their points and the total are the adjusted ones

Columns come from the rubric when one is given (its order), else from the results.
Text cells that a spreadsheet would run as a formula (a formula character, also behind
leading blanks) get a leading ``'``.

Canvas (Gradebook > Import; the layout of Canvas's own export)::

    Student, ID, SIS User ID, SIS Login ID, Section, <Assignment name> (<assignment id>)
    Points Possible, , , , , <max points>
    <name>, <canvas id>, <sis id>, <login>, <section>, <points or blank>

Canvas matches each row on ID, SIS User ID or SIS Login ID; without a roster the
identity goes in ``identity_column`` (SIS Login ID by default). A roster (Canvas's
gradebook export) fills every column from the matching student. Ungraded rows
are left blank: Canvas skips blank cells instead of recording a zero.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from grader.atomic import atomic_write_text
from grader.cache import outcome_of
from grader.exports._text import csv_cell, number
from grader.results import GradeResult
from grader.rubric import Rubric

RowStatus = Literal["graded", "ungradable", "failed", "pending"]
ROW_STATUSES: tuple[RowStatus, ...] = ("graded", "ungradable", "failed", "pending")
PENDING_REASON = "not graded yet: run the batch again to grade it"


@dataclass(frozen=True)
class Row:
    """One submission's line in a class export (``result`` is None unless it was graded)."""

    identity: str
    status: RowStatus
    reason: str = ""
    result: GradeResult | None = None

    @classmethod
    def of(cls, result: GradeResult, identity: str | None = None) -> Row:
        """The row of a stored result; an incomplete score says so in ``reason``."""
        status = outcome_of(result)
        reason = result.reason
        if status == "graded" and result.score is not None and not result.score.complete:
            errors = result.score.counts.get("error", 0)
            reason = (
                f"{errors} check(s) hit an error on the grader's side; "
                "the total may rise when the batch is run again"
            )
        return cls(identity or result.submission.identity, status, reason, result)

    @classmethod
    def pending(cls, identity: str, reason: str = PENDING_REASON) -> Row:
        return cls(identity, "pending", reason)

    @property
    def graded(self) -> bool:
        return self.status == "graded" and self.result is not None and self.result.score is not None


def _columns(rows: Sequence[Row], rubric: Rubric | None) -> tuple[list[str], list[str]]:
    """Objective ids and check ids: the rubric's, else first seen across the results."""
    if rubric is not None:
        return [o.id for o in rubric.objectives], [c.id for c in rubric.checks]
    objectives: dict[str, None] = {}
    checks: dict[str, None] = {}
    for row in rows:
        if row.result is None:
            continue
        for c in row.result.checks:
            checks.setdefault(c.check_id)
        if row.result.score is not None:
            for o in row.result.score.objectives:
                objectives.setdefault(o.objective)
    return list(objectives), list(checks)


def gradebook_table(
    rows: Sequence[Row], rubric: Rubric | None = None
) -> tuple[list[str], list[list[str]]]:
    """Header and cells of ``gradebook.csv`` (module doc)."""
    objective_ids, check_ids = _columns(rows, rubric)
    header = [
        "student",
        "total",
        "max",
        *(f"objective:{o}" for o in objective_ids),
        *(f"check:{c}" for c in check_ids),
        "status",
        "reason",
        "adjusted",
    ]
    table = []
    for row in rows:
        result = row.result
        score = result.score if row.graded and result is not None else None
        levels = {o.objective: o.level for o in score.objectives} if score else {}
        points = {c.check_id: number(c.points) for c in result.checks} if score and result else {}
        max_points = (
            score.max_points if score else rubric.max_points if rubric is not None else None
        )
        table.append(
            [
                csv_cell(row.identity),
                number(score.points) if score else "",
                "" if max_points is None else number(max_points),
                *(levels.get(o, "") for o in objective_ids),
                *(points.get(c, "") for c in check_ids),
                row.status,
                csv_cell(row.reason),
                csv_cell(" ".join(c.check_id for c in result.checks if c.adjustment))
                if score and result
                else "",
            ]
        )
    return header, table


def _csv_text(header: Sequence[str], table: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)  # RFC 4180: quoted where needed, CRLF line ends
    writer.writerow([csv_cell(name) for name in header])  # Canvas's names the rubric's title
    writer.writerows(table)
    return buffer.getvalue()


def write_gradebook_csv(path: Path, rows: Sequence[Row], rubric: Rubric | None = None) -> Path:
    """Write ``gradebook.csv`` atomically; returns ``path``."""
    atomic_write_text(Path(path), _csv_text(*gradebook_table(rows, rubric)))
    return Path(path)


# ---------------------------------------------------------------------------
# Canvas

CANVAS_ID_COLUMNS = ("ID", "SIS User ID", "SIS Login ID")
CANVAS_COLUMNS = ("Student", *CANVAS_ID_COLUMNS, "Section")


@dataclass(frozen=True)
class CanvasStudent:
    """A student as Canvas's gradebook export lists them."""

    name: str = ""
    id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""

    def cells(self) -> list[str]:
        return [self.name, self.id, self.sis_user_id, self.sis_login_id, self.section]


def read_canvas_roster(path: Path) -> dict[str, CanvasStudent]:
    """Canvas's gradebook export -> each student under their ID, SIS User ID and SIS Login ID.

    Rows without any id (the "Points Possible" row, blank lines) are skipped.
    Raises ValueError when the file lacks Canvas's columns.
    """
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in CANVAS_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{path} is not a Canvas gradebook export: it has no {', '.join(missing)} column"
            )
        roster: dict[str, CanvasStudent] = {}
        for record in reader:
            student = CanvasStudent(*((record.get(c) or "").strip() for c in CANVAS_COLUMNS))
            for key in (student.id, student.sis_user_id, student.sis_login_id):
                if key:
                    roster.setdefault(key, student)
    return roster


def canvas_assignment_column(name: str, assignment_id: str | int | None = None) -> str:
    """'MLP lab (12345)': Canvas matches an existing assignment by the id in parentheses."""
    return f"{name} ({assignment_id})" if assignment_id not in (None, "") else name


def canvas_table(
    rows: Sequence[Row],
    *,
    assignment: str,
    assignment_id: str | int | None = None,
    identity_column: str = "SIS Login ID",
    roster: Mapping[str, CanvasStudent] | None = None,
    points_possible: float | None = None,
) -> tuple[list[str], list[list[str]], list[str]]:
    """Header, cells and warnings (identities missing from the roster) of the Canvas CSV."""
    if identity_column not in CANVAS_ID_COLUMNS:
        raise ValueError(
            f"identity_column must be one of {', '.join(CANVAS_ID_COLUMNS)}, got {identity_column!r}"
        )
    header = [*CANVAS_COLUMNS, canvas_assignment_column(assignment, assignment_id)]
    if points_possible is None:
        points_possible = next(
            (r.result.score.max_points for r in rows if r.graded and r.result and r.result.score),
            None,
        )
    table = [
        [
            "Points Possible",
            "",
            "",
            "",
            "",
            "" if points_possible is None else number(points_possible),
        ]
    ]
    warnings = []
    for row in rows:
        student = (roster or {}).get(row.identity)
        if student is None:
            if roster is not None:
                warnings.append(f"{row.identity}: not in the Canvas roster")
            cells = [row.identity, "", "", "", ""]
            cells[CANVAS_COLUMNS.index(identity_column)] = row.identity
        else:
            cells = student.cells()
        score = row.result.score if row.graded and row.result else None
        table.append([*(csv_cell(c) for c in cells), number(score.points) if score else ""])
    return header, table, warnings


def write_canvas_csv(
    path: Path,
    rows: Sequence[Row],
    *,
    assignment: str,
    assignment_id: str | int | None = None,
    identity_column: str = "SIS Login ID",
    roster: Mapping[str, CanvasStudent] | None = None,
    points_possible: float | None = None,
) -> list[str]:
    """Write the Canvas import CSV atomically; returns warnings (students not in the roster)."""
    header, table, warnings = canvas_table(
        rows,
        assignment=assignment,
        assignment_id=assignment_id,
        identity_column=identity_column,
        roster=roster,
        points_possible=points_possible,
    )
    atomic_write_text(Path(path), _csv_text(header, table))
    return warnings
