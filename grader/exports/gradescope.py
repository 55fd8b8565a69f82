"""Gradescope's ``results.json`` for one submission.

Follows Gradescope's autograder specification ("Autograder Specifications",
gradescope-autograders.readthedocs.io/en/latest/specs/): the file
``/autograder/results/results.json`` holds one object::

    score               float: the total (always given, so it never depends on the tests)
    execution_time      int seconds, rounded up (the spec's unit; a 0.6 s run says 1)
    output              what the student may see now (below); output_format "md"
    output_format       "md"
    test_output_format  "md";  test_name_format "text"
    visibility          "visible";  stdout_visibility "hidden" (the grader's log is for staff)
    extra_data          {status, reason, seconds}: the grader's own outcome, for staff and scripts
    tests               one per check, in the rubric's order:
                        {score, max_score, status "passed" | "failed", name, name_format "text",
                         number "<objective>.<check>", output (Markdown), output_format "md",
                         tags [objective id], visibility, extra_data {status, reason}}
                        and, when some checks are hidden, one more: the full summary
    leaderboard         only when given: [{name, value, order?}]
    extra_data          the sandbox tier that ran it: {sandbox_tier, sandbox_advisory,
                        sandbox_guarantees, sandbox_gaps} (grader.sandbox.tiers), and why
                        no stronger tier ran (sandbox_unavailable)

Visibility values are Gradescope's: "hidden", "after_due_date", "after_published",
"visible". Gradescope shows the top-level ``output`` whenever it shows the results,
so it holds only what is visible now: the public checks' points and each
objective's level judged on its public checks alone. A hidden check gets
``hidden_visibility`` ("after_published" by default, "after_due_date" or
"hidden"), and so does everything that counts hidden checks: the total with
them and the levels they change are in a test of their own ("Score with the
hidden checks", 0 of 0 points, so test scores still add up to ``score``).
A hidden check's output is its public view (grader.results): neither its inputs
nor its expected values are ever written. Gradescope's own note: while any test
is hidden, students do not see their total score.

Gradescope knows two statuses. A check that was not assessed (or that hit a
grader error) scores 0 and is "failed", as near as the schema comes; its name
says "(not assessed)", its tags hold "not assessed", its output starts with the
reason, and its ``extra_data`` holds the grader's status and reason. An
ungradable submission scores 0, has no tests, and its output is the reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from grader.atomic import atomic_write_text
from grader.exports._text import md_escape, number
from grader.sandbox.tiers import tier_fields

if TYPE_CHECKING:  # grader.cli lists VISIBILITIES before a cold grade-one loads numpy
    from grader.results import CheckResult, GradeResult

GradescopeVisibility = Literal["hidden", "after_due_date", "after_published", "visible"]
VISIBILITIES: tuple[GradescopeVisibility, ...] = (
    "hidden",
    "after_due_date",
    "after_published",
    "visible",
)
OUTPUT_FORMATS = ("text", "simple_format", "html", "md", "ansi")
TEST_STATUSES = ("passed", "failed")
NOT_ASSESSED_TAG = "not assessed"
SUMMARY_TEST = "Score with the hidden checks"

_HEADINGS = {
    "passed": "**Passed.**",
    "failed": "**Not yet.**",
    "not_assessed": "**Not assessed.**",
    "error": "**Not assessed: the grader hit an error.**",
}
_NAME_SUFFIX = {
    "not_assessed": " (not assessed)",
    "error": " (not assessed: grader error)",
}
# When a student sees what is hidden now (Gradescope's visibility -> words).
_SHOWN_WHEN = {
    "hidden": "are for your instructor only",
    "after_due_date": "are shown after the due date",
    "after_published": "are shown once your instructor publishes the grades",
}


def check_output(check: CheckResult) -> str:
    """A check's Markdown for the student: what was seen, the diagnosis, the next step.

    Each sentence appears once: the reason and the diagnosis are often also the
    first piece of evidence. Pass the public view of a hidden check (see
    :func:`gradescope_results`).
    """
    lines = [_HEADINGS[check.status]]
    shown: set[str] = set()

    def add(text: str, prefix: str = "") -> None:
        key = " ".join(text.split())
        if key and key not in shown:
            shown.add(key)
            lines.append(prefix + md_escape(text))

    if check.adjustment is not None:  # the instructor's word first, the grader's verdict in it
        lines.append(f"**{md_escape(check.adjustment.sentence(check.max_points))}**")
    add(check.reason)
    for e in check.evidence:
        add(e, "- ")
    if check.diagnosis is not None:
        add(check.diagnosis.message)
    if check.status in ("passed", "failed"):
        add(check.feedback)  # the rubric's pass or fail wording: never for an unjudged check
    if check.status != "passed" and check.next_step:
        add(check.next_step, "**Next step:** ")
    return "\n\n".join(lines)


def _objective_table(rows: Sequence[tuple[str, str, str]]) -> list[str]:
    lines = ["| Objective | Level | Points |", "|---|---|---|"]
    lines += [f"| {md_escape(t)} | {level} | {points} |" for t, level, points in rows]
    return lines


def _notes(result: GradeResult) -> list[str]:
    return (
        ["", "**Notes**", "", *(f"- {md_escape(n)}" for n in result.notes)] if result.notes else []
    )


def summary_output(result: GradeResult) -> str:
    """The whole summary: the score, then each objective's level (hidden checks counted)."""
    if result.status != "graded" or result.score is None:
        return f"**This submission could not be graded.** {md_escape(result.reason)}"
    score = result.public_view().score
    assert score is not None
    lines = [f"**Score: {number(score.points)} / {number(score.max_points)}**", ""]
    lines += _objective_table(
        [
            (o.title or o.objective, o.level, f"{number(o.points)} / {number(o.max_points)}")
            for o in score.objectives
        ]
    )
    if not score.complete:
        lines += ["", "Some checks hit an error on the grader's side; your score may rise."]
    return "\n".join(lines + _notes(result))


def visible_output(result: GradeResult, hidden_visibility: GradescopeVisibility) -> str:
    """What the student may see now: without hidden checks, or everything when none hides."""
    from grader.scoring import mastery_level  # loaded with the results (see the imports)

    hidden = [c for c in result.checks if c.visibility == "hidden"]
    if result.status != "graded" or result.score is None or not hidden:
        return summary_output(result)
    if hidden_visibility == "visible":
        return summary_output(result)
    public = [c for c in result.checks if c.visibility != "hidden"]
    points = sum(c.points for c in public)
    max_points = sum(c.max_points for c in public)
    lines = [
        f"**Public checks: {number(points)} / {number(max_points)}**",
        "",
        f"{len(hidden)} hidden check{'s' if len(hidden) != 1 else ''} "
        f"({number(sum(c.max_points for c in hidden))} points) "
        f"{_SHOWN_WHEN[hidden_visibility]}; the levels below count the public checks only.",
        "",
    ]
    rows: list[tuple[str, str, str]] = []
    for o in result.score.objectives:
        mine = [c for c in public if c.objective == o.objective]
        if mine:
            got, of = sum(c.points for c in mine), sum(c.max_points for c in mine)
            rows.append(
                (o.title or o.objective, mastery_level(mine), f"{number(got)} / {number(of)}")
            )
        else:
            rows.append((o.title or o.objective, "hidden checks only", "-"))
    lines += _objective_table(rows)
    if any(c.status == "error" for c in public):
        lines += ["", "Some checks hit an error on the grader's side; your score may rise."]
    return "\n".join(lines + _notes(result))


def _test(check: CheckResult, number_: str, hidden_visibility: str) -> dict[str, Any]:
    public = check.public_view()
    unjudged = check.status in _NAME_SUFFIX
    return {
        "score": float(check.points),
        "max_score": float(check.max_points),
        "status": "passed" if check.status == "passed" else "failed",
        "name": (check.title or check.check_id) + _NAME_SUFFIX.get(check.status, ""),
        "name_format": "text",
        "number": number_,
        "output": check_output(public),
        "output_format": "md",
        "tags": [check.objective, NOT_ASSESSED_TAG] if unjudged else [check.objective],
        "visibility": hidden_visibility if check.visibility == "hidden" else "visible",
        "extra_data": {
            "status": check.status,
            "reason": public.reason,
            "adjustment": None if check.adjustment is None else check.adjustment.to_dict(),
        },
    }


def gradescope_results(
    result: GradeResult,
    *,
    hidden_visibility: GradescopeVisibility = "after_published",
    execution_time: float | None = None,
    leaderboard: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The results.json object for ``result`` (module doc); ``execution_time`` in seconds."""
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(
            f"hidden_visibility must be one of {', '.join(VISIBILITIES)}, got {hidden_visibility!r}"
        )
    graded = result.status == "graded" and result.score is not None
    extra: dict[str, Any] = {"status": result.status, "reason": result.reason}
    out: dict[str, Any] = {
        "score": float(result.score.points) if graded and result.score else 0.0,
        "output": visible_output(result, hidden_visibility),
        "output_format": "md",
        "test_output_format": "md",
        "test_name_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": extra,
        "tests": [],
    }
    if execution_time is not None:
        out["execution_time"] = max(0, math.ceil(execution_time))
        extra["seconds"] = round(execution_time, 3)
    # which sandbox ran it and what that guarantees (grader.sandbox.tiers.TIER_INFO)
    extra.update(tier_fields(result.provenance.get("sandbox_tier")))
    extra["sandbox_unavailable"] = result.provenance.get("sandbox_unavailable")
    if graded:
        objectives = {o.objective: i for i, o in enumerate(result.score.objectives, 1)}  # type: ignore[union-attr]
        seen: dict[str, int] = {}
        for check in result.checks:
            o = objectives.get(check.objective, len(objectives) + 1)
            seen[check.objective] = seen.get(check.objective, 0) + 1
            out["tests"].append(_test(check, f"{o}.{seen[check.objective]}", hidden_visibility))
        if hidden_visibility != "visible" and any(c.visibility == "hidden" for c in result.checks):
            out["tests"].append(
                {
                    "score": 0.0,
                    "max_score": 0.0,
                    "name": SUMMARY_TEST,
                    "name_format": "text",
                    "number": f"{len(objectives) + 1}.0",
                    "output": summary_output(result),
                    "output_format": "md",
                    "tags": ["summary"],
                    "visibility": hidden_visibility,
                }
            )
    if leaderboard:
        out["leaderboard"] = [dict(entry) for entry in leaderboard]
    return out


def write_gradescope(path: Path, result: GradeResult, **options: Any) -> Path:
    """Write results.json atomically (options as :func:`gradescope_results`); returns ``path``."""
    text = json.dumps(
        gradescope_results(result, **options), indent=2, ensure_ascii=False, allow_nan=False
    )
    atomic_write_text(Path(path), text + "\n")
    return Path(path)
