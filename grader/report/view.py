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

from grader.compare import Comparison
from grader.diagnose import CONVENTIONS, Convention, Diagnosis, convention_title
from grader.figures import Figure
from grader.results import CheckResult, GradeResult, Level

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
PROVENANCE_LABEL: dict[str, str] = {
    "grader": "grader version",
    "rubric_hash": "rubric",
    "reference": "reference version",
    "sandbox_tier": "sandbox",
    "python": "Python",
    "numpy": "NumPy",
}
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
    """One check as shown: its (public) result, and each fact about it said once.

    headline : the one sentence of what the evidence shows, in words (no raw measures)
    explain  : what the named mistake or convention is, in the lecture's notation; a
               traceback, as the block it is
    topic    : the lecture topic to reread ("" when none)
    where    : the outputs it shows in, by the student's own names ("" when unknown)
    numbers  : the raw measures and tolerances behind the headline, for a folded section
    root     : a check not assessed: the title of the failed check it waits for ("")
    anchor   : the id of its place on the page
    """

    result: CheckResult
    headline: str
    explain: tuple[str, ...] = ()
    topic: str = ""
    where: str = ""
    numbers: tuple[str, ...] = ()
    root: str = ""
    anchor: str = ""

    @property
    def status_text(self) -> str:
        return STATUS_TEXT[self.result.status]

    @property
    def title(self) -> str:
        return self.result.title or self.result.check_id


@dataclass(frozen=True)
class FigureView:
    """A picture and why it is shown: the evidence of a failed check, or for information."""

    figure: Figure
    note: str  # "" for a failed check's evidence; else a sentence saying why it is shown
    cause: str = ""  # the fix-first check's anchor when it is the likely cause, else ""


@dataclass(frozen=True)
class FixFirst:
    """The one thing to do first: the failed check that holds the most points."""

    anchor: str
    title: str  # the check's title
    objective: str  # its objective's title
    what: str  # what is wrong, in words
    stake: str  # "2 points, and 8 more that wait for it"
    step: str  # the one next step


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
    figures: tuple[FigureView, ...]
    waits_for: tuple[str, ...] = ()  # titles of failed checks its unassessed checks need

    @property
    def level_text(self) -> str:
        return LEVEL_TEXT[self.level] if self.level else "not part of the score"

    @property
    def settled(self) -> bool:
        """Nothing to act on: every check passed (shown folded)."""
        return all(c.result.status == "passed" for c in self.checks)


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
    fix_first: FixFirst | None = None  # the root cause to fix first (None: nothing failed)
    # where nothing failed, what that means: all assessed passed, or nothing could be assessed
    no_fix: str = ""
    nothing_assessed: bool = False


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


def _provenance(prov: dict[str, Any], audience: Audience) -> tuple[tuple[str, str], ...]:
    if audience != "student":
        return tuple((k, str(prov[k])) for k in prov)
    return tuple(
        (k, str(prov[k])[:SHORT_HASH] if k == "rubric_hash" else str(prov[k]))
        for k in STUDENT_PROVENANCE
        if k in prov
    )


# ---------------------------------------------------------------------------
# Numbers in words: what a measure means for the student, the measure itself kept for
# the folded "numbers" section

_RAW = re.compile(r"\d(?:\.\d+)?e[+-]?\d|<=|\|")  # scientific notation, a tolerance formula


def is_raw(text: str) -> bool:
    """True for a sentence built around raw measures or a tolerance formula."""
    return bool(_RAW.search(text))


def in_words(m: Comparison) -> str:
    """What one failed comparison means: direction and size of the student's output
    against the correct one (cosine and norm ratio, docs/conventions.md §4), in words."""
    name = m.display_name or m.name
    x = m.measures
    if x is None:
        return m.message  # a type, shape or finiteness problem, already in words
    cos, ratio = x.cosine, x.norm_ratio
    if cos is None:
        if ratio == 0:
            return f"your {name} is all zeros where the correct values are not"
        return (
            f"your {name} differs from the correct values in {x.n_outside} of {x.n_total} entries"
        )
    if cos < -0.999 and ratio is not None and abs(ratio - 1) < 0.01:
        return f"your {name} points exactly the opposite way to the correct one: a sign error"
    if cos < -0.9:
        return (
            f"your {name} points roughly the opposite way to the correct one: look for a sign error"
        )
    if cos > 0.999 and ratio is not None and abs(ratio - 1) >= 0.01:
        size = f"{ratio:.2g} times too large" if ratio > 1 else f"{1 / ratio:.2g} times too small"
        return f"your {name} points the right way but is {size}: a factor is missing or extra"
    if cos > 0.999:
        return (
            f"your {name} is right overall, but {x.n_outside} of its {x.n_total} entries "
            "differ: look for one term or one slice that is off"
        )
    if cos > 0.9:
        return (
            f"your {name} is close to the correct one but not equal: part of the "
            "computation is missing or wrong"
        )
    if abs(cos) < 0.3:
        return f"your {name} has nothing in common with the correct values"
    return f"your {name} differs from the correct values in {x.n_outside} of {x.n_total} entries"


def _measures(m: Comparison) -> str:
    name = m.display_name or m.name
    x = m.measures
    if x is None:
        return ""
    parts = [
        f"{name}: {x.n_outside} of {x.n_total} entries outside the tolerance",
        f"largest relative error {_num(x.rel_error_max)}",
        f"largest difference {_num(x.max_abs_diff)}",
    ]
    if x.cosine is not None:
        parts.append(f"cosine {_num(x.cosine)}")
    if x.norm_ratio is not None:
        parts.append(f"norm ratio {_num(x.norm_ratio)}")
    return "; ".join(parts)


def _num(x: float) -> str:
    return f"{x:.3g}"


MEASURES_GLOSSARY = (
    "How to read these: the cosine is 1 when your array points the same way as the correct "
    "one and -1 when it points exactly the opposite way; the norm ratio is your array's "
    "size over the correct one's (1: the same size)."
)


def _convention_of(d: Diagnosis) -> Convention | None:
    """The convention the evidence shows: the diagnosis itself, or an alternative that
    gives the same numbers (a convention leads: the student followed a course form)."""
    for name in (d.name, *d.alternatives) if d.kind == "convention" else d.alternatives:
        if name in CONVENTIONS:
            return CONVENTIONS[name]
    return None


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else ""


def _root(c: CheckResult, by_id: dict[str, CheckResult]) -> CheckResult | None:
    """The failed check at the start of the chain a check not assessed waits for."""
    named = getattr(c, "root", "")  # a cascade that names the root itself is believed
    if isinstance(named, str) and named in by_id:
        return by_id[named]
    seen: set[str] = set()
    todo = list(c.blocked_by)
    while todo:
        cid = todo.pop(0)
        if cid in seen or cid not in by_id:
            continue
        seen.add(cid)
        other = by_id[cid]
        if other.status in ("failed", "error"):
            return other
        todo += list(other.blocked_by)
    return None


def _check_view(
    c: CheckResult,
    sentence: str | None,
    by_id: dict[str, CheckResult],
    audience: Audience,
) -> CheckView:
    """Each fact once: a headline in words, what the mistake is, the raw numbers folded."""
    anchor = f"check-{c.check_id}"
    d = c.diagnosis
    lines = [e for e in c.evidence if e]
    blocks = tuple(e for e in lines if "\n" in e)  # tracebacks: shown as they are
    numbers = [e for e in lines if "\n" not in e and is_raw(e)]
    words = [e for e in lines if "\n" not in e and not is_raw(e)]
    failed = [m for m in c.comparisons if not m.passed]
    numbers += [_measures(m) for m in c.comparisons if m.measures is not None]
    numbers += [m.message for m in failed if m.measures is not None]
    if any(m.measures is not None for m in c.comparisons) and c.status != "passed":
        numbers.append(MEASURES_GLOSSARY)
    explain: list[str] = []
    topic = where = root = ""
    if c.adjustment is not None:
        headline = c.headline
    elif c.status == "not_assessed":
        origin = _root(c, by_id)
        root = origin.title or origin.check_id if origin is not None else ""
        headline = (
            f"Not assessed yet: it builds on “{root}”, which did not pass; it is checked "
            "once that one passes"
            if root
            else c.reason or (sentence or c.headline)
        )
    elif c.status == "error":
        headline = c.reason or (sentence or c.headline)
    elif d is not None and c.status == "failed":
        topic = d.topic
        shown = {m.display_name or m.name for m in c.comparisons} | {m.name for m in c.comparisons}
        where = ", ".join(d.parts) if d.parts and set(d.parts) <= shown else ""
        conv = _convention_of(d)
        if conv is not None:
            source = f", as {conv.used_in} writes it" if conv.used_in else ""
            if conv.used_in in conv.title:  # "heavy-ball momentum (the lecture slide's form)"
                source = ""
            headline = f"You used {conv.title}{source}; this assignment asks for another form"
            explain.append(f"Your code computes {conv.description}.")
            # why a convention this check credits on the printed cost's evidence was not
            # (grader.checks._shown_sentence): the student's own printed cost decided it
            explain += [_sentence(w) for w in words if "printed cost" in w]
        else:
            worst = _worst(failed)
            headline = f"A known mistake: {d.title}" + (
                f" ({in_words(worst)})" if worst is not None and worst.measures else ""
            )
            explain.append(_sentence(d.description))
        numbers.append(
            f"Your numbers equal what this {'convention' if conv else 'mistake'} gives to "
            f"within {_num(d.max_difference)} (rounding error: the same computation)."
        )
        others = [CONVENTIONS[a].title for a in d.alternatives if a in CONVENTIONS]
        if audience == "instructor" and d.alternatives:
            numbers.append(f"Also consistent with: {', '.join(d.alternatives)}.")
        elif others and conv is None:
            explain.append(f"The same numbers follow from {', '.join(others)}.")
    elif c.status == "failed":
        worst = _worst(failed)
        if worst is not None:
            headline = _sentence(in_words(worst))
            if len(failed) > 1:
                rest = ", ".join(m.display_name or m.name for m in failed if m is not worst)
                headline = (
                    headline.rstrip(".") + f"; {rest} also differ{'s' if len(failed) == 2 else ''}"
                )
        elif sentence and c.visibility == "hidden":
            headline = sentence
        else:
            headline = words[0] if words else c.reason or c.headline
        if c.visibility != "hidden" or audience == "instructor":  # else only a placeholder
            explain += [_sentence(w) for w in words if w != headline]
    else:  # passed
        conv_title = ""
        if c.convention:
            conv_title = convention_title(c.convention)
            # what the credit says beyond "an accepted convention" (a printed form's optional
            # suggestion, the evidence for 07a's l2): the student reads it, no point depends on it
            explain += [_sentence(w) for w in words if "accepted convention" not in w]
        if c.visibility == "hidden" and sentence:
            headline = sentence
        elif c.comparisons:
            headline = "Correct" + (
                f", following an accepted convention: {conv_title} ({c.convention})"
                if conv_title
                else ""
            )
        else:
            headline = words[0] if words else c.headline
    explain += blocks
    if audience == "student" and c.visibility == "hidden" and c.adjustment is None:
        numbers = []  # nothing of a hidden check's numbers reaches a student's view
    return CheckView(
        result=c,
        headline=_sentence(headline),
        explain=tuple(
            dict.fromkeys(e for e in explain if e and _sentence(e) != _sentence(headline))
        ),
        topic=topic,
        where=where,
        numbers=tuple(dict.fromkeys(n for n in numbers if n)),
        root=root,
        anchor=anchor,
    )


def _worst(failed: list[Comparison]) -> Comparison | None:
    """The failed output that is furthest from the correct direction (lowest cosine)."""
    measured = [m for m in failed if m.measures is not None]
    if not measured:
        return failed[0] if failed else None
    return min(
        measured,
        key=lambda m: m.measures.cosine if m.measures and m.measures.cosine is not None else 2.0,
    )


def _steps(c: CheckResult) -> tuple[str, ...]:
    """A check's next steps: a convention's own step first, the check's, a grader error's."""
    out: list[str] = []
    d = c.diagnosis
    conv = _convention_of(d) if d is not None and c.status == "failed" else None
    if conv is not None:
        out.append(conv.next_step)
    elif c.next_step:
        out.append(c.next_step)
    if c.status == "error":
        out.append(GRADER_ERROR_STEP)
    return tuple(out)


def _lost(c: CheckResult) -> float:
    return c.max_points - c.points


def root_cause(
    checks: tuple[CheckResult, ...], by_id: dict[str, CheckResult] | None = None
) -> tuple[CheckResult, float] | None:
    """The failed check to fix first, and the points of the checks that wait for it: the
    one holding the most points (its own and those waiting for it); among equals a
    diagnosed one, then the first in rubric order. The student's report leads with it
    and the class page ranks what to reteach by it, so both name the same cause."""
    by_id = by_id if by_id is not None else {c.check_id: c for c in checks}
    held: dict[str, float] = {}
    for c in checks:
        if c.status == "not_assessed" and c.adjustment is None:
            origin = _root(c, by_id)
            if origin is not None:
                held[origin.check_id] = held.get(origin.check_id, 0.0) + _lost(c)
    roots = [c for c in checks if c.status == "failed" and c.adjustment is None]
    if not roots:
        return None
    best = max(
        roots,
        key=lambda c: (
            _lost(c) + held.get(c.check_id, 0.0),
            c.diagnosis is not None,
            -checks.index(c),
        ),
    )
    return best, held.get(best.check_id, 0.0)


ALL_PASSED = "Nothing to fix: every check that could be assessed passed."


def _no_fix(checks: tuple[CheckResult, ...]) -> tuple[str, bool]:
    """The sentence where a report would say what to fix first, when nothing failed, and
    whether it is because no check could be assessed: a report of 0 points must not say
    "nothing to fix" when the code never ran (a package the grading environment lacks)."""
    if not checks or any(c.status == "passed" for c in checks):
        return ALL_PASSED, False
    reason = next((c.reason for c in checks if c.status != "passed" and c.reason), "")
    return (
        "No check could be assessed, so this is no verdict on your code yet"
        + (f": {reason.rstrip('.')}." if reason else "."),
        True,
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
    by_id = {c.check_id: c for c in result.checks}
    sentences: dict[str, str] = {}
    score = result.score
    for o in score.objectives if score is not None else ():
        sentences.update({e.check_id: e.sentence for e in o.evidence})
    views = {
        c.check_id: _check_view(c, sentences.get(c.check_id), by_id, audience)
        for c in result.checks
    }
    chosen = root_cause(result.checks, by_id) if result.status == "graded" else None
    fix_first = None
    if chosen is not None:
        root, held = chosen
        rv = views[root.check_id]
        steps = _steps(root)
        lost = _lost(root)
        stake = f"{number(lost)} point{'s' if lost != 1 else ''} here" + (
            f", and {number(held)} more that wait for it" if held else ""
        )
        fix_first = FixFirst(
            anchor=rv.anchor,
            title=rv.title,
            objective=next(
                (
                    o.title
                    for o in (score.objectives if score else ())
                    if o.objective == root.objective
                ),
                root.objective,
            ),
            what=rv.headline,
            stake=stake,
            step=steps[0] if steps else "",
        )
    no_fix, nothing_assessed = ("", False) if fix_first is not None else _no_fix(result.checks)
    objectives: list[ObjectiveView] = []
    placed: set[str] = set()
    for o in score.objectives if score is not None else ():
        mine = tuple(views[e.check_id] for e in o.evidence if e.check_id in views)
        placed.update(c.result.check_id for c in mine)
        view = _objective(
            o.objective, o.title, o.level, o.points, o.max_points, mine, figures, fix_first
        )
        # why points are not assessed: the root check and what it holds back (cascade)
        held_note = o.held_back_sentence
        objectives.append(replace(view, shows=f"{view.shows} {held_note}") if held_note else view)
    loose = tuple(views[c.check_id] for c in result.checks if c.check_id not in placed)
    if loose:  # checks the score does not list (a result built without scoring)
        placed.update(c.result.check_id for c in loose)
        objectives.append(
            _objective("other", "Other checks", None, 0.0, 0.0, loose, figures, fix_first)
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
        fix_first=fix_first,
        no_fix=no_fix,
        nothing_assessed=nothing_assessed,
    )


# Figures that picture a run (shown for information whatever the verdict) and those
# that picture a comparison (shown only beside a failed check).
RUN_KINDS = ("convergence",)


def _figure_views(
    checks: tuple[CheckView, ...], figures: tuple[Figure, ...], fix_first: FixFirst | None
) -> tuple[FigureView, ...]:
    out: list[FigureView] = []
    for cv in checks:
        c = cv.result
        mine = [f for f in figures if f.check_id == c.check_id]
        if c.status == "failed":
            scatter = [f for f in mine if f.kind == "scatter"]
            shown = scatter or [f for f in mine if f.kind == "gradient_error"]
            out += [FigureView(f, "") for f in shown]
        for f in mine:
            if f.kind not in RUN_KINDS:
                continue
            cause = ""
            if c.status == "passed":
                note = "For information: your own training run."
            else:
                note = (
                    "For information: your own training run; it is not what costs the points here."
                )
                if fix_first is not None and fix_first.anchor != cv.anchor:
                    note = "For information: your own training run."
                    cause = fix_first.anchor
            out.append(FigureView(f, note, cause))
    return tuple(out)


def _objective(
    objective: str,
    title: str,
    level: Level | None,
    points: float,
    max_points: float,
    checks: tuple[CheckView, ...],
    figures: tuple[Figure, ...],
    fix_first: FixFirst | None,
) -> ObjectiveView:
    steps: list[str] = []
    for cv in checks:
        for step in _steps(cv.result):
            if step not in steps and not (fix_first and step == fix_first.step):
                steps.append(step)
    return ObjectiveView(
        objective=objective,
        title=title or objective,
        level=level,
        points=points,
        max_points=max_points,
        shows=shows(level, tuple(c.result for c in checks)),
        next_steps=tuple(steps),
        checks=checks,
        figures=_figure_views(checks, figures, fix_first),
        waits_for=tuple(dict.fromkeys(c.root for c in checks if c.root)),
    )
