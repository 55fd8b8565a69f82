"""A Markdown class summary, e.g. for a GitHub Actions job summary (``$GITHUB_STEP_SUMMARY``).

Sections: how many submissions ended how, the points of those graded, how many
students demonstrated each objective, the most common misconceptions (students
per diagnosis), the checks failed most often, and the submissions that need the
instructor's attention. The counting is grader.report.summary's (one counter for
the HTML page and this summary).
Counts and names only: no check's evidence, so no hidden input or expected value.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from grader.atomic import atomic_write_text
from grader.exports._text import md_escape, number
from grader.exports.gradebook import Row
from grader.report.summary import summarise
from grader.results import LEVELS
from grader.sandbox.tiers import TIER_INFO

STATUS_LABELS = {
    "graded": "graded",
    "ungradable": "ungradable (the submission's problem)",
    "failed": "grading failed (the grader's problem: run the batch again)",
    "pending": "not graded yet",
}


def class_summary(rows: Sequence[Row], *, title: str = "Class summary", top: int = 5) -> str:
    """The Markdown summary of a batch (module doc); ``top`` misconceptions are listed."""
    lines = [f"# {md_escape(title)}", ""]
    counts: Counter[str] = Counter(r.status for r in rows)
    lines += ["| Submissions | Count |", "|---|---:|", f"| all | {len(rows)} |"]
    lines += [f"| {label} | {counts[s]} |" for s, label in STATUS_LABELS.items() if counts[s]]
    scores = [r.result.score for r in rows if r.graded and r.result and r.result.score]
    if scores:
        points = [s.points for s in scores]
        lines += [
            "",
            f"**Points** (graded, out of {number(scores[0].max_points)}): "
            f"mean {number(round(statistics.fmean(points), 2))}, "
            f"median {number(round(statistics.median(points), 2))}, "
            f"min {number(min(points))}, max {number(max(points))}",
        ]

    counted = summarise([r.result for r in rows if r.graded and r.result is not None])
    lines += sandbox_lines(counted.tiers)
    if counted.objectives:
        lines += ["", "## Objectives", ""]
        lines += ["| Objective | " + " | ".join(LEVELS) + " |", "|---|" + "---:|" * len(LEVELS)]
        lines += [
            f"| {md_escape(o.title or o.objective)} | "
            + " | ".join(str(o.levels[lv]) for lv in LEVELS)
            + " |"
            for o in counted.objectives
        ]
    common = [m for m in counted.misconceptions if m.kind == "misconception"][:top]
    if common:
        lines += ["", "## Most common misconceptions", "", "| Misconception | Students |"]
        lines += ["|---|---:|"]
        lines += [f"| {md_escape(m.title or m.name)} | {m.count} |" for m in common]
    failing = [c for c in counted.checks if c.statuses["failed"]][:top]
    if failing:
        lines += ["", "## Checks failed most often", "", "| Check | Failed | Assessed |"]
        lines += ["|---|---:|---:|"]
        lines += [
            f"| {md_escape(c.title or c.check_id)} | {c.statuses['failed']} | {c.assessed} |"
            for c in failing
        ]

    attention = [r for r in rows if r.status != "graded" or r.reason]
    if attention:
        lines += ["", "## Needs attention", ""]
        lines += [
            f"- **{md_escape(r.identity)}** ({r.status}): {md_escape(r.reason)}" for r in attention
        ]
    if counted.adjusted:  # the points above include them (grader.overrides)
        lines += ["", "## Adjusted by your overrides", ""]
        lines += [f"- **{md_escape(who)}**: {', '.join(ids)}" for who, ids in counted.adjusted]
    return "\n".join(lines) + "\n"


def sandbox_lines(tiers: Sequence[tuple[str, int]]) -> list[str]:
    """Which sandbox tier graded how many, and what it guarantees; an advisory run, loudly."""
    lines: list[str] = []
    for tier, n in tiers:
        info = TIER_INFO.get(tier)  # type: ignore[call-overload]
        if info is None:
            lines += ["", f"**Sandbox:** {md_escape(tier)} ({n} graded)"]
        elif info.advisory:
            lines += [
                "",
                f"> **Advisory run:** {n} submission(s) ran in the `{tier}` sandbox tier, "
                f"without isolation. Not guaranteed: {md_escape(info.gaps)}.",
            ]
        else:
            lines += [
                "",
                f"**Sandbox:** the `{tier}` tier ({n} graded): {md_escape(info.guarantees)}. "
                f"Not guaranteed: {md_escape(info.gaps)}.",
            ]
    return lines


def write_class_summary(
    path: Path, rows: Sequence[Row], *, title: str = "Class summary", top: int = 5
) -> Path:
    """Write :func:`class_summary` atomically; returns ``path``."""
    atomic_write_text(Path(path), class_summary(rows, title=title, top=top))
    return Path(path)
