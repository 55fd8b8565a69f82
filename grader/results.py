"""Outcomes: what one check found, what the checks add up to, and the whole grade.

Outcomes never hold definitions beyond the ids they refer to. Everything here
is a frozen dataclass with ``to_dict`` / ``from_dict``; :class:`GradeResult`
adds a versioned JSON form.

JSON schema ``"mlp-grader/result/1"`` (one object; every key always present)::

    schema      "mlp-grader/result/1"
    submission  {identity, path, content_hash}
    status      "graded" | "ungradable";  reason: str ("" when graded)
    checks      [CheckResult]:
                  check_id, objective, title, status ("passed" | "failed" | "not_assessed" | "error"),
                  points, max_points, visibility ("public" | "hidden"),
                  evidence [str], comparisons [Comparison], diagnosis Diagnosis | null,
                  convention str | null, feedback str, next_step str, reason str,
                  adjustment Adjustment | null
                Adjustment (an instructor's override, grader.overrides; never in a stored
                  result, only in one adjusted for output): reason, by, date,
                  original_status, original_points
                Comparison: name, stage, passed, message, display_name, shape [int] | null,
                  expected_shape [int], measures null | {rel_error_max, rel_error_norm,
                  max_abs_diff, cosine (null if undefined), norm_ratio (null if undefined),
                  n_outside, n_total}
                Diagnosis: name, kind ("misconception" | "convention"), title, description,
                  topic, next_step, parts [str], max_difference, alternatives [str], message
    score       null (ungradable) | {points, max_points, complete, counts {status: n},
                  objectives [{objective, title, level, points, max_points,
                               evidence [{check_id, status, visibility, sentence}]}]}
                level: "demonstrated" | "partly" | "not yet" | "not assessed"
    provenance  {grader, rubric_hash, reference, python, numpy, seeds,
                 sandbox_tier, ...}: JSON values, kept as given
    notes       [str]       e.g. what definitions mode skipped, a sandbox advisory
    stdout, stderr  str     excerpts of the student's output
    public_stdout, public_stderr  str | null   what a student may see of them (printed
                            while public probes ran); null: all of it

Floats are written with Python's shortest round-trip repr, so ``from_json(to_json())``
reproduces every value exactly. Undefined measures are null; a measure that overflowed
(arrays near 1e308) would be written as JSON's non-standard ``Infinity``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from grader.compare import Comparison
from grader.diagnose import Diagnosis, convention_title
from grader.figures import Figure

SCHEMA = "mlp-grader/result/1"

CheckStatus = Literal["passed", "failed", "not_assessed", "error"]
CHECK_STATUSES: tuple[CheckStatus, ...] = ("passed", "failed", "not_assessed", "error")
Level = Literal["demonstrated", "partly", "not yet", "not assessed"]
LEVELS: tuple[Level, ...] = ("demonstrated", "partly", "not yet", "not assessed")


OUTPUT_WITHHELD = (
    "Output printed while your code was loaded or while hidden checks ran is not shown here."
)

_HIDDEN_VERBS = {
    "passed": "passed",
    "failed": "did not pass",
    "not_assessed": "was not assessed",
    "error": "could not be checked (a problem on the grader's side)",
}


@dataclass(frozen=True)
class Adjustment:
    """An instructor's override of one check, with the grader's own verdict it replaced.

    Made only by grader.overrides.apply_overrides on a result read for output; a
    stored (cached) result never holds one, so re-running never loses or doubles it.
    """

    reason: str
    by: str
    date: str  # ISO 8601, YYYY-MM-DD
    original_status: CheckStatus
    original_points: float

    def sentence(self, max_points: float) -> str:
        """What the student reads: the instructor's reason, then the grader's own verdict."""
        verdict = _HIDDEN_VERBS[self.original_status]
        return (
            f"Adjusted by your instructor ({self.by}, {self.date}): {self.reason.rstrip('.')}. "
            f"The grader's own verdict: this check {verdict}, "
            f"{self.original_points:g} of {max_points:g} points."
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CheckResult:
    """What one check observed.

    evidence  : short sentences of what was observed, with numbers
    comparisons: one per compared part, against the expected values (against the
                accepted convention's values when ``convention`` is set)
    convention: the accepted convention the student's output follows, if any
    feedback  : the rubric's pass or fail wording
    next_step : what to do next ("" when passed)
    reason    : why it was not assessed, what happened to the probe (a timeout, an
                exception), or what went wrong on the grader's side; "" otherwise
    blocked_by: the prerequisites that did not pass, when the check was not assessed
    root_causes: the checks whose failure is the root of this one's state (grader.checks):
                for a check not assessed, the failed checks at the bottom of its
                prerequisites (never one that was itself not run); for a check judged with
                a mistake plugged in, the check where that mistake was diagnosed
    judged_with: the misconception or convention (a diagnosis's name) the check was judged
                with plugged in: the reference ran with the student's own mistake from
                ``root_causes`` in place of the correct piece; "" when judged plainly
    """

    check_id: str
    objective: str
    status: CheckStatus
    points: float
    max_points: float
    visibility: str = "public"
    title: str = ""
    evidence: tuple[str, ...] = ()
    comparisons: tuple[Comparison, ...] = ()
    diagnosis: Diagnosis | None = None
    convention: str | None = None
    feedback: str = ""
    next_step: str = ""
    reason: str = ""
    blocked_by: tuple[str, ...] = ()  # prerequisites that did not pass (status not_assessed)
    adjustment: Adjustment | None = None  # an instructor's override (grader.overrides)
    root_causes: tuple[str, ...] = ()
    judged_with: str = ""

    def __post_init__(self) -> None:
        if self.status not in CHECK_STATUSES:
            raise ValueError(f"check status must be one of {CHECK_STATUSES}, got {self.status!r}")

    @property
    def assessed(self) -> bool:
        """True when the check produced evidence about the student (passed or failed)."""
        return self.status in ("passed", "failed")

    @property
    def headline(self) -> str:
        """One line of evidence: the instructor's adjustment, the reason, the diagnosis,
        or the first observation."""
        if self.adjustment is not None:
            return self.adjustment.sentence(self.max_points)
        if self.reason:
            return self.reason
        if self.diagnosis is not None:
            return self.diagnosis.message
        if self.judged_with and self.evidence:  # how it was judged on its own comes first
            return self.evidence[0]
        if self.status == "passed" and self.comparisons:
            return self._passed_line()
        return self.evidence[0] if self.evidence else self.feedback

    def _passed_line(self) -> str:
        """Every compared array named, with the largest relative error among them."""
        names = [f"'{c.display_name or c.name}'" for c in self.comparisons]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        verb = "matches" if len(names) == 1 else "match"
        errors = [c.measures.rel_error_max for c in self.comparisons if c.measures is not None]
        worst = f" (largest relative error {max(errors):.1e})" if errors else ""
        title = convention_title(self.convention or "")
        under = f", following an accepted convention: {title}" if self.convention else ""
        return f"{listed} {verb} the expected values{worst}{under}"

    def public_view(self) -> CheckResult:
        """Hidden checks keep status, points and diagnosis; inputs and expected values go.

        The reason goes too when the check failed: a student's exception message
        can quote the hidden inputs' shapes.
        """
        if self.visibility != "hidden":
            return self
        return replace(
            self,
            evidence=(f"a hidden check {_HIDDEN_VERBS[self.status]}",),
            comparisons=(),
            reason="" if self.status == "failed" else self.reason,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "objective": self.objective,
            "title": self.title,
            "status": self.status,
            "points": self.points,
            "max_points": self.max_points,
            "visibility": self.visibility,
            "evidence": list(self.evidence),
            "comparisons": [c.to_dict() for c in self.comparisons],
            "diagnosis": None if self.diagnosis is None else self.diagnosis.to_dict(),
            "convention": self.convention,
            "feedback": self.feedback,
            "next_step": self.next_step,
            "reason": self.reason,
            "blocked_by": list(self.blocked_by),
            "adjustment": None if self.adjustment is None else self.adjustment.to_dict(),
            "root_causes": list(self.root_causes),
            "judged_with": self.judged_with,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CheckResult:
        return cls(
            **{
                **d,
                "evidence": tuple(d["evidence"]),
                "blocked_by": tuple(d.get("blocked_by", ())),
                "root_causes": tuple(d.get("root_causes", ())),
                "adjustment": None
                if d.get("adjustment") is None
                else Adjustment(**d["adjustment"]),
                "comparisons": tuple(Comparison.from_dict(c) for c in d["comparisons"]),
                "diagnosis": None
                if d["diagnosis"] is None
                else Diagnosis.from_dict(d["diagnosis"]),
            }
        )


@dataclass(frozen=True)
class Evidence:
    """One check's contribution to an objective."""

    check_id: str
    status: CheckStatus
    visibility: str
    sentence: str


@dataclass(frozen=True)
class HeldBack:
    """Points of an objective's checks left unassessed because another check failed.

    root   : the failed check at the bottom of their prerequisites (never one that was
             itself not run)
    title  : its title
    points : the points of this objective's checks it holds back
    """

    root: str
    title: str
    points: float

    def sentence(self) -> str:
        """ "'Output layer's gradient' did not pass, which holds back 3 points here"."""
        n = f"{self.points:g} point{'' if self.points == 1 else 's'}"
        return f"'{self.title or self.root}' did not pass, which holds back {n} here"


@dataclass(frozen=True)
class ObjectiveMastery:
    """How far the evidence shows one objective (see grader.scoring for the levels).

    held_back : per root check, the points of this objective left unassessed because it
                failed (what an overview shows beside "not assessed")
    """

    objective: str
    title: str
    level: Level
    points: float
    max_points: float
    evidence: tuple[Evidence, ...]
    held_back: tuple[HeldBack, ...] = ()

    @property
    def held_back_sentence(self) -> str:
        """Why some of this objective's points were not assessed, or ""."""
        if not self.held_back:
            return ""
        return "Not assessed yet: " + "; ".join(h.sentence() for h in self.held_back) + "."

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "title": self.title,
            "level": self.level,
            "points": self.points,
            "max_points": self.max_points,
            "evidence": [asdict(e) for e in self.evidence],
            "held_back": [asdict(h) for h in self.held_back],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ObjectiveMastery:
        return cls(
            **{
                **d,
                "evidence": tuple(Evidence(**e) for e in d["evidence"]),
                "held_back": tuple(HeldBack(**h) for h in d.get("held_back", ())),
            }
        )


@dataclass(frozen=True)
class Score:
    """A summary of evidence: points and per-objective mastery.

    complete : False when a check ended in a grader-side error (the score may rise on a re-run)
    counts   : checks per status
    """

    points: float
    max_points: float
    complete: bool
    counts: dict[str, int]
    objectives: tuple[ObjectiveMastery, ...]

    def public_view(self) -> Score:
        """Hidden checks' evidence replaced by "a hidden check of this objective passed/failed"."""

        def hide(e: Evidence) -> Evidence:
            if e.visibility != "hidden":
                return e
            verb = {"passed": "passed", "failed": "failed"}.get(e.status, "was not assessed")
            return replace(e, sentence=f"a hidden check of this objective {verb}")

        return replace(
            self,
            objectives=tuple(
                replace(o, evidence=tuple(hide(e) for e in o.evidence)) for o in self.objectives
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": self.points,
            "max_points": self.max_points,
            "complete": self.complete,
            "counts": dict(self.counts),
            "objectives": [o.to_dict() for o in self.objectives],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Score:
        return cls(
            **{**d, "objectives": tuple(ObjectiveMastery.from_dict(o) for o in d["objectives"])}
        )


@dataclass(frozen=True)
class SubmissionRef:
    """Who and what was graded (from grader.submission.Submission)."""

    identity: str
    path: str = ""
    content_hash: str = ""


@dataclass(frozen=True)
class GradeResult:
    """Everything the grader concluded about one submission."""

    submission: SubmissionRef
    status: Literal["graded", "ungradable"]
    checks: tuple[CheckResult, ...] = ()
    score: Score | None = None
    reason: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    stdout: str = ""
    stderr: str = ""
    figures: tuple[Figure, ...] = ()  # pictures of the evidence (grader.figures)
    # what a student may see of stdout / stderr (None: all of it): a job with hidden checks
    # shows only what was printed while public probes ran (grader.pipeline)
    public_stdout: str | None = None
    public_stderr: str | None = None

    def __post_init__(self) -> None:
        if self.status not in ("graded", "ungradable"):
            raise ValueError(f"grade status must be 'graded' or 'ungradable', got {self.status!r}")
        if self.status == "ungradable" and not self.reason:
            raise ValueError("an ungradable result needs a reason")

    def public_view(self) -> GradeResult:
        """What a student may see: hidden checks without inputs or expected values.

        A figure of a hidden check is dropped: it holds expected values.
        """
        hidden = {c.check_id for c in self.checks if c.visibility == "hidden"}
        output: dict[str, Any] = {}
        if self.public_stdout is not None or self.public_stderr is not None:
            shown = (self.public_stdout or "", self.public_stderr or "")
            output = {"stdout": shown[0], "stderr": shown[1]}
            if shown != (self.stdout, self.stderr):
                output["notes"] = (*self.notes, OUTPUT_WITHHELD)
        return replace(
            self,
            checks=tuple(c.public_view() for c in self.checks),
            score=None if self.score is None else self.score.public_view(),
            figures=tuple(f for f in self.figures if f.check_id not in hidden),
            **output,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "submission": asdict(self.submission),
            "status": self.status,
            "reason": self.reason,
            "checks": [c.to_dict() for c in self.checks],
            "score": None if self.score is None else self.score.to_dict(),
            "provenance": self.provenance,
            "notes": list(self.notes),
            "stdout": self.stdout,
            "stderr": self.stderr,
            "figures": [f.to_dict() for f in self.figures],
            "public_stdout": self.public_stdout,
            "public_stderr": self.public_stderr,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GradeResult:
        if d.get("schema") != SCHEMA:
            raise ValueError(
                f"not a grade result of schema {SCHEMA!r}: schema is {d.get('schema')!r}"
            )
        return cls(
            submission=SubmissionRef(**d["submission"]),
            status=d["status"],
            reason=d["reason"],
            checks=tuple(CheckResult.from_dict(c) for c in d["checks"]),
            score=None if d["score"] is None else Score.from_dict(d["score"]),
            provenance=d["provenance"],
            notes=tuple(d["notes"]),
            stdout=d["stdout"],
            stderr=d["stderr"],
            figures=tuple(Figure.from_dict(f) for f in d.get("figures", ())),
            public_stdout=d.get("public_stdout"),
            public_stderr=d.get("public_stderr"),
        )

    @classmethod
    def from_json(cls, text: str) -> GradeResult:
        return cls.from_dict(json.loads(text))


def grader_failure_reason(error: BaseException | str) -> str:
    """The ungradable result's reason when the grader itself raised on a submission: one
    sentence for the kit's check, grade-one and the batch's workers alike."""
    what = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return f"the grader failed on this submission ({what})"
