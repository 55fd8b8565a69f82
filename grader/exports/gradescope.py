"""Gradescope's ``results.json`` for one submission.

Follows Gradescope's autograder specification ("Autograder Specifications",
gradescope-autograders.readthedocs.io/en/latest/specs/): the file
``/autograder/results/results.json`` holds one object::

    score               float: the total (always given, so it never depends on the tests)
    execution_time      int seconds (when known)
    output              the whole submission's summary; output_format "md"
    output_format       "md"
    test_output_format  "md";  test_name_format "text"
    visibility          "visible";  stdout_visibility "hidden" (the grader's log is for staff)
    tests               one per check, in the rubric's order:
                        {score, max_score, status "passed" | "failed", name, name_format "text",
                         number "<objective>.<check>", output (Markdown), output_format "md",
                         tags [objective id], visibility}
    leaderboard         only when given: [{name, value, order?}]
    extra_data          the sandbox tier that ran it: {sandbox_tier, sandbox_advisory,
                        sandbox_guarantees, sandbox_gaps} (grader.sandbox.tiers), and why
                        no stronger tier ran (sandbox_unavailable)

Visibility values are Gradescope's: "hidden", "after_due_date", "after_published",
"visible". A hidden check gets ``hidden_visibility`` ("after_published" by default,
or "hidden"); its output is the public view (grader.results), so neither its
inputs nor its expected values are ever written. Gradescope's note: while any
test is hidden, students do not see their total score.

A check that was not assessed, or that hit a grader error, scores 0 and is
marked "failed" with the reason as its output (Gradescope has only two statuses).
An ungradable submission scores 0, has no tests, and its output is the reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from grader.cache import atomic_write_text
from grader.exports._text import md_escape, number
from grader.results import CheckResult, GradeResult
from grader.sandbox.tiers import tier_fields

GradescopeVisibility = Literal["hidden", "after_due_date", "after_published", "visible"]
VISIBILITIES: tuple[GradescopeVisibility, ...] = (
    "hidden",
    "after_due_date",
    "after_published",
    "visible",
)
OUTPUT_FORMATS = ("text", "simple_format", "html", "md", "ansi")
TEST_STATUSES = ("passed", "failed")

_HEADINGS = {
    "passed": "**Passed.**",
    "failed": "**Not yet.**",
    "not_assessed": "**Not assessed.**",
    "error": "**Not assessed: the grader hit an error.**",
}


def check_output(check: CheckResult) -> str:
    """A check's Markdown for the student: what was seen, the diagnosis, the next step.

    Pass the public view of a hidden check (see :func:`gradescope_results`).
    """
    lines = [_HEADINGS[check.status]]
    if check.reason:
        lines.append(md_escape(check.reason))
    lines += [f"- {md_escape(e)}" for e in check.evidence]
    if check.diagnosis is not None:
        lines.append(md_escape(check.diagnosis.message))
    if check.status == "passed":
        if check.feedback:
            lines.append(md_escape(check.feedback))
    else:
        if check.feedback:
            lines.append(md_escape(check.feedback))
        if check.next_step:
            lines.append(f"**Next step:** {md_escape(check.next_step)}")
    return "\n\n".join(lines)


def summary_output(result: GradeResult) -> str:
    """The top-level Markdown: the score, then each objective's level (public view)."""
    if result.status != "graded" or result.score is None:
        return f"**This submission could not be graded.** {md_escape(result.reason)}"
    score = result.public_view().score
    assert score is not None
    lines = [
        f"**Score: {number(score.points)} / {number(score.max_points)}**",
        "",
        "| Objective | Level | Points |",
        "|---|---|---|",
    ]
    lines += [
        f"| {md_escape(o.title or o.objective)} | {o.level} | "
        f"{number(o.points)} / {number(o.max_points)} |"
        for o in score.objectives
    ]
    if not score.complete:
        lines += ["", "Some checks hit an error on the grader's side; your score may rise."]
    return "\n".join(lines)


def gradescope_results(
    result: GradeResult,
    *,
    hidden_visibility: GradescopeVisibility = "after_published",
    execution_time: float | None = None,
    leaderboard: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The results.json object for ``result`` (module doc)."""
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(
            f"hidden_visibility must be one of {', '.join(VISIBILITIES)}, got {hidden_visibility!r}"
        )
    graded = result.status == "graded" and result.score is not None
    out: dict[str, Any] = {
        "score": float(result.score.points) if graded and result.score else 0.0,
        "output": summary_output(result),
        "output_format": "md",
        "test_output_format": "md",
        "test_name_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
    }
    if execution_time is not None:
        out["execution_time"] = max(0, round(execution_time))
    # which sandbox ran it and what that guarantees (grader.sandbox.tiers.TIER_INFO)
    out["extra_data"] = {
        **tier_fields(result.provenance.get("sandbox_tier")),
        "sandbox_unavailable": result.provenance.get("sandbox_unavailable"),
    }
    if graded:
        objectives = {o.objective: i for i, o in enumerate(result.score.objectives, 1)}  # type: ignore[union-attr]
        seen: dict[str, int] = {}
        for check in result.checks:
            o = objectives.get(check.objective, len(objectives) + 1)
            seen[check.objective] = seen.get(check.objective, 0) + 1
            public = check.public_view()
            out["tests"].append(
                {
                    "score": float(check.points),
                    "max_score": float(check.max_points),
                    "status": "passed" if check.status == "passed" else "failed",
                    "name": check.title or check.check_id,
                    "name_format": "text",
                    "number": f"{o}.{seen[check.objective]}",
                    "output": check_output(public),
                    "output_format": "md",
                    "tags": [check.objective],
                    "visibility": hidden_visibility if check.visibility == "hidden" else "visible",
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
