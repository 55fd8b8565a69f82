"""A grade result arranged for reading: what every renderer shows, in the same words.

Every format (HTML, Markdown, terminal) renders the same :class:`ReportView`, so
the verdicts, evidence and next steps agree across them. Arranging is not
scoring: levels, points and evidence come from the result as they are; this
module only groups them per objective and words the level.

A student's view (the default) is ``result.public_view()``: hidden checks keep
their status and diagnosis but no inputs or expected values, figures of hidden
checks are left out, and provenance is reduced to versions and hashes (seeds
would regenerate hidden inputs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Literal

from grader.figures import Figure
from grader.results import CheckResult, Evidence, GradeResult, Level

Audience = Literal["student", "instructor"]

LEVEL_TEXT: dict[str, str] = {
    "demonstrated": "Demonstrated",
    "partly": "Partly demonstrated",
    "not yet": "Not yet demonstrated",
    "not assessed": "Not assessed",
}
STATUS_TEXT: dict[str, str] = {
    "passed": "passed",
    "failed": "did not pass",
    "not_assessed": "not assessed",
    "error": "grader error",
}
# Symbols with ASCII fallbacks for terminals that cannot encode them.
LEVEL_MARK: dict[str, tuple[str, str]] = {
    "demonstrated": ("✓", "[ok]"),
    "partly": ("◐", "[~]"),
    "not yet": ("✗", "[x]"),
    "not assessed": ("–", "[-]"),
}
STATUS_MARK: dict[str, tuple[str, str]] = {
    "passed": ("✓", "[ok]"),
    "failed": ("✗", "[x]"),
    "not_assessed": ("–", "[-]"),
    "error": ("!", "[!]"),
}
STUDENT_PROVENANCE = (
    "grader",
    "rubric_hash",
    "reference",
    "sandbox_tier",
    "python",
    "numpy",
)
SHORT_HASH = 12  # a student needs to tell rubrics apart, not to verify them
GRADER_ERROR_STEP = (
    "Nothing for you to fix here: the grader hit a problem on its side. "
    "Ask your instructor to re-run it; your score may rise."
)
UNGRADABLE_STEPS = (
    "Read the reason above: it names the file, cell or line the grader could not use.",
    "Fix that problem, run your notebook or script from top to bottom yourself, and submit again.",
    "If you believe the grader is wrong, send this page to your instructor.",
)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """Student text without control characters (terminal escapes, NUL); newlines and tabs kept."""
    return _CONTROL.sub("\ufffd", text)


def number(x: float) -> str:
    """Points as people write them: 14, 1.5, 0.25."""
    return f"{x:g}"


def points(got: float, of: float) -> str:
    """ "2 of 3 points", "1 of 1 point"."""
    return f"{number(got)} of {number(of)} point{'' if of == 1 else 's'}"


@dataclass(frozen=True)
class CheckView:
    """One check as shown: its (public) result and the line that sums it up."""

    result: CheckResult
    headline: str

    @property
    def status_text(self) -> str:
        return STATUS_TEXT[self.result.status]

    @property
    def title(self) -> str:
        return self.result.title or self.result.check_id


@dataclass(frozen=True)
class ObjectiveView:
    """One learning objective: level, what the evidence shows, next steps, and its checks."""

    objective: str
    title: str
    level: Level | None  # None: checks the score does not list (no level to show)
    points: float
    max_points: float
    shows: str
    next_steps: tuple[str, ...]
    checks: tuple[CheckView, ...]
    figures: tuple[Figure, ...]

    @property
    def level_text(self) -> str:
        return LEVEL_TEXT[self.level] if self.level else "not part of the score"


@dataclass(frozen=True)
class ReportView:
    """Everything a report shows, in order."""

    identity: str
    graded: bool
    reason: str
    summary: str  # "14 of 20 points — 3 of 5 objectives demonstrated"
    incomplete: str  # a sentence when a grader error left the score incomplete, else ""
    objectives: tuple[ObjectiveView, ...]
    figures: tuple[Figure, ...]  # pictures of the whole submission
    notes: tuple[str, ...]
    provenance: tuple[tuple[str, str], ...]
    stdout: str
    stderr: str
    audience: Audience
    next_steps: tuple[str, ...]  # for an ungradable submission
    binding: str = ""  # how the grader bound the student's API, when it discovered it


def figures_of(result: GradeResult) -> tuple[Figure, ...]:
    """The result's figures (an empty tuple for results from before figures existed)."""
    return tuple(getattr(result, "figures", ()))


def shows(level: Level | None, checks: tuple[CheckResult, ...]) -> str:
    """What the evidence shows, in words, from the level and how many checks were assessed."""
    assessed = [c for c in checks if c.assessed]
    n, passed = len(assessed), sum(c.status == "passed" for c in assessed)
    rest = len(checks) - n
    if level is None:
        return "These checks are not part of any objective's score."
    if level == "not assessed":
        return (
            "No check of this objective could be assessed, so there is no evidence either way yet."
        )
    if level == "demonstrated":
        text = (
            "The one assessed check passed"
            if n == 1
            else "Both assessed checks passed"
            if n == 2
            else f"All {n} assessed checks passed"
        ) + ": the evidence shows you can do this."
    elif level == "partly":
        text = f"{passed} of {n} assessed checks passed: part of this is in place."
    else:
        text = (
            "The one assessed check did not pass yet"
            if n == 1
            else "Neither assessed check passed yet"
            if n == 2
            else f"None of the {n} assessed checks passed yet"
        ) + ": this is where to put your effort next."
    if rest:
        text += f" {rest} more could not be assessed."
    return text


def _next_steps(checks: tuple[CheckResult, ...]) -> tuple[str, ...]:
    steps: list[str] = []
    for c in checks:
        for step in (c.next_step, GRADER_ERROR_STEP if c.status == "error" else ""):
            if step and step not in steps:
                steps.append(step)
    return tuple(steps)


def _provenance(prov: dict[str, Any], audience: Audience) -> tuple[tuple[str, str], ...]:
    if audience != "student":
        return tuple((k, str(prov[k])) for k in prov)
    return tuple(
        (k, str(prov[k])[:SHORT_HASH] if k == "rubric_hash" else str(prov[k]))
        for k in STUDENT_PROVENANCE
        if k in prov
    )


def build(result: GradeResult, audience: Audience = "student") -> ReportView:
    """Arrange ``result`` for reading; a student's view shows only what a student may see."""
    if audience not in ("student", "instructor"):
        raise ValueError(f"audience must be 'student' or 'instructor', got {audience!r}")
    full = result
    if audience == "student":
        result = result.public_view()
    hidden = {c.check_id for c in full.checks if c.visibility == "hidden"}
    figures = tuple(
        f for f in figures_of(full) if audience == "instructor" or f.check_id not in hidden
    )
    checks = {c.check_id: c for c in result.checks}
    sentences: dict[str, Evidence] = {}
    objectives: list[ObjectiveView] = []
    placed: set[str] = set()
    score = result.score
    for o in score.objectives if score is not None else ():
        sentences.update({e.check_id: e for e in o.evidence})
        mine = tuple(checks[e.check_id] for e in o.evidence if e.check_id in checks)
        placed.update(c.check_id for c in mine)
        view = _objective(
            o.objective, o.title, o.level, o.points, o.max_points, mine, sentences, figures
        )
        # why points are not assessed: the root check and what it holds back (cascade)
        held = getattr(o, "held_back_sentence", "")
        objectives.append(replace(view, shows=f"{view.shows} {held}") if held else view)
    loose = tuple(c for c in result.checks if c.check_id not in placed)
    if loose:  # checks the score does not list (a result built without scoring)
        placed.update(c.check_id for c in loose)
        objectives.append(
            _objective("other", "Other checks", None, 0.0, 0.0, loose, sentences, figures)
        )
    summary = ""
    incomplete = ""
    if score is not None:
        done = sum(o.level == "demonstrated" for o in score.objectives)
        total = len(score.objectives)
        summary = (
            f"{points(score.points, score.max_points)} — "
            f"{done} of {total} objective{'s' if total != 1 else ''} demonstrated"
        )
        if not score.complete:
            errors = score.counts.get("error", 0)
            incomplete = (
                f"This score is not final: {errors} check{'s' if errors != 1 else ''} could not "
                "run because of a problem on the grader's side, and may add points on a re-run."
            )
    return ReportView(
        identity=result.submission.identity,
        graded=result.status == "graded",
        reason=result.reason,
        summary=summary,
        incomplete=incomplete,
        objectives=tuple(objectives),
        figures=tuple(f for f in figures if f.check_id not in placed),
        notes=result.notes,
        provenance=_provenance(result.provenance, audience),
        stdout=result.stdout,
        stderr=result.stderr,
        audience=audience,
        next_steps=() if result.status == "graded" else UNGRADABLE_STEPS,
        binding=str((full.provenance.get("binding") or {}).get("sentence", "")),
    )


def _objective(
    objective: str,
    title: str,
    level: Level | None,
    points: float,
    max_points: float,
    checks: tuple[CheckResult, ...],
    sentences: dict[str, Evidence],
    figures: tuple[Figure, ...],
) -> ObjectiveView:
    views = tuple(
        # an instructor's adjustment is the headline also of a hidden check: it is their word
        CheckView(
            c,
            sentences[c.check_id].sentence
            if c.check_id in sentences and c.adjustment is None
            else c.headline,
        )
        for c in checks
    )
    ids = {c.check_id for c in checks}
    return ObjectiveView(
        objective=objective,
        title=title or objective,
        level=level,
        points=points,
        max_points=max_points,
        shows=shows(level, checks),
        next_steps=_next_steps(checks),
        checks=views,
        # the objective's own pictures: figures of its checks, shown beside the evidence
        figures=tuple(f for f in figures if f.check_id in ids),
    )
