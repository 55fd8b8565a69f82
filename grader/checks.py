"""One check: a probe's outcome, the expected values and the candidates -> a CheckResult.

The order of questions, each answered with evidence rather than a bare verdict:

1. Did every prerequisite pass?          no  -> not_assessed ("not assessed because 'x' did not pass")
2. Did the probe answer?                 unsupported (decided by the parent: ``ProbeView.unsupported``)
                                         -> not_assessed with the parent's reason;
                                         an exception, timeout, kill, missing or invalid output
                                         -> failed, saying what happened (never a grader crash)
3. Do the compared outputs match?        staged comparison per part (grader.compare) -> passed
4. Do they match an accepted convention? -> passed, the convention named
5. Which bug or other convention reproduces them (grader.diagnose)? -> failed, with it;
   none -> failed, with :func:`~grader.diagnose.describe_difference`'s sentences.

A missing or malformed output never passes. Problems on the grader's side (no
expected value for a compared part, no probe outcome for a check) give status
"error" and say so, so they are never mistaken for the student's.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from grader.compare import (
    MONITORING_ATOL,
    MONITORING_RTOL,
    Comparison,
    Tolerance,
    as_numeric,
    compare,
)
from grader.contract import PROBE_SPECS
from grader.diagnose import (
    CONVENTIONS,
    PRINTED_CONVENTIONS,
    Candidate,
    Diagnosis,
    accepted_by,
    describe_difference,
    describe_rates_asked,
    diagnose,
    join_names,
    other_loss,
)
from grader.results import CheckResult, CheckStatus
from grader.rubric import CheckSpec, Rubric

Array = np.ndarray
ProbeStatus = Literal["ok", "error", "timeout", "killed", "missing", "invalid"]
PROBE_STATUSES: tuple[ProbeStatus, ...] = ("ok", "error", "timeout", "killed", "missing", "invalid")

TRACEBACK_LINES = 8
TRACEBACK_CHARS = 1200
DEFAULT_MAX_RATIO = 10.0  # timing: the student's code may take this many times the baseline

NEXT_STEPS = {
    "error": "Call the same function yourself on a small input and read the traceback from the bottom up: the last line names the error, the lines above it where it happened in your code.",
    "timeout": "Look for a loop that never ends, or a Python loop over instances or weights that the lecture's matrix form (V @ A.T) replaces.",
    "killed": "Look for arrays that grow every iteration or N×N intermediate arrays: your code used more memory or output than allowed.",
    "missing": "Make sure your function returns its results (a function without `return` gives None).",
    "invalid": "Return plain numeric numpy arrays (not lists of objects, strings or None).",
    "shape": "Print the shape of every array you return and compare it with the shape in the message.",
    "finite": "Find where the first NaN or inf appears: print the array after each step (look for log(0), a division by zero or an overflowing exp).",
    "values": "Gradient-check your code: compare each array with central differences on a small non-square problem, one array at a time.",
    "exit": 'Your code ended the process (sys.exit, exit() or os._exit) instead of returning: the grader calls your functions, so remove that call, or put it under `if __name__ == "__main__":`.',
}
# What a probe's view says when the submission failed before any probe ran
# (grader.pipeline): a missing package there is the environment's, never the student's.
WHILE_LOADING = "while your code was being loaded, before any check ran"
# How the sandbox reports code that ended its own process (grader/sandbox/process.py,
# child/worker.py: os._exit or a signal-free exit; child/runner.py: SystemExit).
_PROCESS_EXIT = re.compile(r"exited with status -?\d+ before finishing|called sys\.exit")
_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")
# Import names whose package is named otherwise on PyPI (for the install hint).
_PIP_NAMES = {
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "PIL": "pillow",
    "cv2": "opencv-python",
    "IPython": "ipython",
    "yaml": "pyyaml",
}


@dataclass(frozen=True)
class ProbeView:
    """What the sandbox reports for the probe call behind one check (plain values).

    status        : "ok" | "error" | "timeout" | "killed" | "missing" | "invalid"
    outputs       : canonical name -> array in the canonical layout (status "ok")
    error_type    : the exception's class name ("ValueError"), as the child reported it
    error_message : the exception's message
    traceback     : the student's traceback, as text
    detail        : what the sandbox observed ("killed by the memory limit", a validation message)
    timeout       : the time limit that applied, in seconds
    display_names : canonical name -> the student's own name ("dW1" -> "grad1")
    shape_hints   : canonical name -> the expected shape in the student's layout, as text
    unsupported   : why the student's API cannot answer this call, decided by the parent
                    (grader.adapters.support) from the binding and what the submission
                    defines; "" when it can. Never taken from the child's error text: a
                    submission can raise any exception class it likes, with any message.
    measurements  : a timing probe's (student seconds, baseline seconds) of every time the
                    parent measured it, first to last, on the supervisor's clock (empty: the
                    outputs' one pair); see :func:`timing_verdict`
    """

    status: ProbeStatus
    outputs: Mapping[str, object] = field(default_factory=dict)
    error_type: str = ""
    error_message: str = ""
    traceback: str = ""
    detail: str = ""
    timeout: float | None = None
    display_names: Mapping[str, str] = field(default_factory=dict)
    shape_hints: Mapping[str, str] = field(default_factory=dict)
    unsupported: str = ""
    measurements: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        if self.status not in PROBE_STATUSES:
            raise ValueError(f"probe status must be one of {PROBE_STATUSES}, got {self.status!r}")

    @classmethod
    def from_outcome(
        cls,
        status: ProbeStatus,
        arrays: Mapping[str, object],
        error: str = "",
        traceback: str = "",
        **more: Any,
    ) -> ProbeView:
        """From the sandbox's plain fields: ``error`` is ``"<Type>: <message>"`` for status
        "error", and what the sandbox observed otherwise; ``more`` sets the other fields."""
        if status == "error":
            match = re.fullmatch(r"([A-Za-z_][\w.]*): (.*)", error, flags=re.DOTALL)
            kind, message = (match.group(1), match.group(2)) if match else ("", error)
            return cls(status, arrays, kind, message, traceback, **more)
        return cls(status, arrays, traceback=traceback, detail=error, **more)


@dataclass
class _Verdict:
    status: CheckStatus
    evidence: list[str] = field(default_factory=list)
    comparisons: tuple[Comparison, ...] = ()
    diagnosis: Diagnosis | None = None
    convention: str | None = None
    next_step: str = ""
    reason: str = ""


class _GraderError(Exception):
    """Something the grader, not the student, got wrong."""


def trim_traceback(text: str, lines: int = TRACEBACK_LINES, chars: int = TRACEBACK_CHARS) -> str:
    """The last ``lines`` lines (at most ``chars`` characters) of a traceback."""
    kept = text.strip().splitlines()[-lines:]
    out = "\n".join(kept)
    return out if len(out) <= chars else "..." + out[-chars:]


def _missing_package(view: ProbeView) -> str | None:
    """The top-level module a submission's import could not find while it was loading."""
    if view.error_type != "ModuleNotFoundError" or view.detail != WHILE_LOADING:
        return None
    found = _MISSING_MODULE.search(view.error_message)
    return found.group(1).split(".")[0] if found else None


def _environment_lacks(module: str) -> str:
    """The reason a check is not assessed when the grading environment lacks ``module``."""
    package = _PIP_NAMES.get(module, module)
    return (
        f"the grading environment lacks the package '{module}' that your code imports, so "
        f"none of your code could run (not a fault of your code): ask your instructor to "
        f"install it (pip install {package}), or remove the import if you do not need it; "
        f"if '{module}' is a file of yours, hand it in with your notebook"
    )


def _probe_failure(spec: CheckSpec, view: ProbeView) -> _Verdict:
    """Status, evidence and next step when the probe gave no usable output."""
    if view.status == "error" and view.unsupported:
        return _Verdict("not_assessed", [view.unsupported], reason=view.unsupported)
    module = _missing_package(view)
    if module is not None:
        # Only at load time: then every check is affected alike, so raising it on purpose
        # cannot turn one failing check into a "not assessed" one.
        reason = _environment_lacks(module)
        evidence = [reason, f"{view.error_type}: {view.error_message}"]
        if view.traceback.strip():
            evidence.append("traceback (last lines):\n" + trim_traceback(view.traceback))
        return _Verdict("not_assessed", evidence, reason=reason)
    if view.status == "error" and view.error_type == "NotImplementedError":
        what = f"your code raised NotImplementedError: {view.error_message}".rstrip(": ")
        step = "Implement this function: it still raises NotImplementedError, as the template hands it out."
        return _Verdict("failed", [what], next_step=step, reason=what)
    if view.status == "error":
        what = f"your code raised {view.error_type or 'an exception'}"
        what += f": {view.error_message}" if view.error_message else ""
        evidence = [what]
        if view.traceback.strip():
            evidence.append("traceback (last lines):\n" + trim_traceback(view.traceback))
    elif view.status == "timeout":
        limit = f" after {view.timeout:.1f} s" if view.timeout is not None else ""
        what = view.detail or f"the probe timed out{limit}"
        evidence = [what]
    elif view.status == "killed":
        what = (
            view.detail
            or "the process running your code was killed before it answered (a memory, output or process limit)"
        )
        evidence = [what]
    elif view.status == "missing":
        what = "your code produced no output for this probe" + (
            f": {view.detail}" if view.detail else ""
        )
        evidence = [what]
    else:  # invalid
        what = "your code's output was rejected: " + (
            view.detail or "it could not be read as numeric arrays"
        )
        evidence = [what]
    if _PROCESS_EXIT.search(what):
        step = NEXT_STEPS["exit"]  # the cause is the exit, whatever the check is about
    elif view.status in ("timeout", "killed"):
        step = NEXT_STEPS[view.status]
    else:
        step = spec.feedback.next_step or NEXT_STEPS[view.status]
    return _Verdict("failed", evidence, next_step=step, reason=what)


def _tolerance(spec: CheckSpec) -> Tolerance:
    return Tolerance(spec.compare.rtol, spec.compare.atol, spec.compare.form)


def _monitoring(probe: str, part: str) -> bool:
    """Whether the contract declares this output a monitoring value (grader.contract)."""
    spec = PROBE_SPECS.get(probe)
    return spec is not None and any(
        o.monitoring and re.fullmatch(o.name, part) for o in spec.outputs
    )


def _part_tolerance(spec: CheckSpec, part: str) -> Tolerance:
    """The check's tolerance, loosened to grader.compare's monitoring tolerance for a
    monitoring value (its bugs move it by 1e-3 or more; an ε in a printed log by ~1e-6)."""
    tol = _tolerance(spec)
    if not _monitoring(spec.probe, part):
        return tol
    return Tolerance(max(tol.rtol, MONITORING_RTOL), max(tol.atol, MONITORING_ATOL), tol.form)


def _problem_size(spec: CheckSpec) -> tuple[int | None, int | None]:
    sizes = spec.params.get("sizes")
    return spec.params.get("N"), (sizes[-1] if sizes else None)


def _compare_all(
    parts: Sequence[str],
    view: ProbeView,
    reference: Mapping[str, Array],
    tol: Tolerance,
    spec: CheckSpec | None = None,
) -> tuple[Comparison, ...]:
    """Each part compared; with ``spec``, a monitoring part under its own tolerance."""
    return tuple(
        compare(
            p,
            view.outputs.get(p),
            reference[p],
            tol if spec is None else _part_tolerance(spec, p),
            display_name=view.display_names.get(p),
            shape_hint=view.shape_hints.get(p),
        )
        for p in parts
    )


def _judge_compare(
    spec: CheckSpec,
    view: ProbeView,
    expected: Mapping[str, Array],
    candidates: Sequence[Candidate],
    penalty: Mapping[str, Array] | None,
) -> _Verdict:
    """Steps 3-5 of the module doc."""
    tol = _tolerance(spec)
    parts = spec.compare.parts or tuple(expected)
    absent = [p for p in parts if p not in expected]
    if not parts or absent:
        raise _GraderError(
            f"the grader has no expected value for {join_names([repr(p) for p in absent]) if absent else 'any output'} "
            f"of probe {spec.probe!r}: a grader problem, not yours"
        )
    try:
        comparisons = _compare_all(parts, view, expected, tol, spec)
    except ValueError as e:  # a non-finite expected value
        raise _GraderError(str(e)) from None
    if all(c.passed for c in comparisons):
        return _Verdict("passed", [c.message for c in comparisons], comparisons)
    failed = [c for c in comparisons if not c.passed]
    evidence = [c.message for c in failed]
    if any(c.stage != "values" for c in failed):
        first = next(c for c in failed if c.stage != "values")
        if first.stage == "type":
            stage = "missing" if view.outputs.get(first.name) is None else "invalid"
        else:
            stage = first.stage  # "shape" or "finite"
        # a known bug can show as a shape (a transposed one-hot) or as NaN (Adam's step
        # counter): the candidates are asked before the generic advice
        found = diagnose(
            view.outputs,
            candidates,
            tol,
            expected=expected,
            display_names=view.display_names,
            prefer=tuple(spec.feedback.misconceptions),
        )
        if found is not None:
            return _diagnosed(spec, found, evidence, comparisons)
        return _Verdict(
            "failed", evidence, comparisons, next_step=spec.feedback.next_step or NEXT_STEPS[stage]
        )

    accepted = [
        c for c in candidates if c.kind == "convention" and accepted_by(c.name, spec.compare.accept)
    ]
    for cand in accepted:
        if not all(p in cand.arrays for p in parts):
            continue
        under = _compare_all(parts, view, cand.arrays, tol, spec)
        if all(c.passed for c in under):
            worst = max(c.measures.rel_error_max for c in under if c.measures is not None)
            shown = join_names([view.display_names.get(p, p) for p in parts])
            return _Verdict(
                "passed",
                [
                    f"your {shown} follow{'s' if len(parts) == 1 else ''} "
                    f"{_accepted_phrase(cand)}, {cand.title} (max relative error {worst:.1e} "
                    "under it)",
                    *_printed_form_suggestion(cand),
                ],
                under,
                convention=cand.name,
            )

    # identity, not ==: candidates hold arrays
    others = [c for c in candidates if not any(c is a for a in accepted)]
    found = diagnose(
        view.outputs,
        others,
        tol,
        expected=expected,
        display_names=view.display_names,
        prefer=tuple(spec.feedback.misconceptions),
    )
    if found is None:
        N, K = _problem_size(spec)
        evidence += describe_difference(
            view.outputs, expected, tol, N=N, K=K, penalty=penalty, display_names=view.display_names
        )
        return _Verdict(
            "failed",
            evidence,
            comparisons,
            next_step=spec.feedback.next_step or NEXT_STEPS["values"],
        )
    return _diagnosed(spec, found, evidence, comparisons)


def _accepted_phrase(cand: Candidate) -> str:
    """ "an accepted convention", or how many followed together (a combination's name joins
    theirs with "+": grader.diagnose.combined), so the report says which explained the run."""
    n = cand.name.count("+") + 1
    return "an accepted convention" if n == 1 else f"{n} accepted conventions together"


_PRINTED_NAMES = frozenset(c.name for c in PRINTED_CONVENTIONS)


def _printed_form(name: str) -> bool:
    """Whether a candidate is the printed cost's form alone (one or several combined)."""
    return all(part in _PRINTED_NAMES for part in name.split("+"))


def _printed_form_suggestion(cand: Candidate) -> list[str]:
    """The course's printed form as an option, where a credited candidate is a printed form
    (a monitoring value's detail: named, never a lost point); nothing for other conventions."""
    if not _printed_form(cand.name):
        return []
    return [
        "this is the form your class prints to watch its training; nothing it trains with "
        f"depends on it, so no point depends on it. Optional: {cand.next_step}"
    ]


def _judge_replay(
    spec: CheckSpec,
    view: ProbeView,
    expected: Mapping[str, Array],
    candidates: Sequence[Candidate],
    penalty: Mapping[str, Array] | None,
) -> _Verdict:
    """The replayed training run judges the trajectory: the parameters after every epoch's
    updates and the accuracy the class records. Its cost curve is a monitoring value: a
    difference that the printed cost's own form explains (an ε-guarded log, the penalty's
    columns or factor; the cost check judges that form) is reported here, not charged
    again. Any other difference is judged as every comparison is (:func:`_judge_compare`)."""
    verdict = _judge_compare(spec, view, expected, candidates, penalty)
    if verdict.status != "failed":
        return verdict
    failed = [c for c in verdict.comparisons if not c.passed]
    if not failed or any(
        c.stage != "values" or not _monitoring(spec.probe, c.name) for c in failed
    ):
        return verdict  # the trajectory itself differs: the replay's own finding
    monitored = [c.name for c in failed]
    for cand in candidates:
        if cand.kind != "convention" or not _printed_form(cand.name):
            continue
        if not all(p in cand.arrays for p in monitored):
            continue
        under = _compare_all(monitored, view, cand.arrays, _tolerance(spec), spec)
        if not all(c.passed for c in under):
            continue
        shown = join_names([view.display_names.get(p, p) for p in monitored])
        worst = max(c.measures.max_abs_diff for c in failed if c.measures is not None)
        trajectory = join_names(
            [view.display_names.get(c.name, c.name) for c in verdict.comparisons if c.passed]
        )
        return _Verdict(
            "passed",
            [
                f"your training run follows the reference's: {trajectory} match epoch by epoch",
                f"your {shown} differs from the reference's by at most {worst:.2g}, exactly "
                f"what your printed cost's form gives ({cand.title}); the cost check judges "
                "that form, so the replay, which judges the training itself, does not charge "
                "it again",
            ],
            verdict.comparisons,  # no convention credited: the cost check credits forms
        )
    return verdict


UNKNOWN_PRINTED = "?"  # printed_forms_shown: the printed cost answered in no known form


def printed_forms_shown(
    rubric: Rubric,
    views: Mapping[str, ProbeView],
    expected: Mapping[str, Mapping[str, Array]],
    candidates: Mapping[str, Sequence[Candidate]],
) -> frozenset[str] | None:
    """The printed forms the student's own printed cost follows, read from the rubric's
    printed cost check (its outputs against the declared form and each printed form's
    candidate, at that check's tolerance): frozenset() for the course's own form,
    ``{UNKNOWN_PRINTED}`` when it answered in no known form, None when no printed cost check
    answered. Evidence for a convention that only the printed cost can tell from a bug
    (:attr:`grader.diagnose.Convention.shown_by`), and for the replay's cost_
    (:func:`_cost_check_owns`)."""
    for spec in rubric.checks:
        view, exp = views.get(spec.id), expected.get(spec.id)
        if spec.probe != "cost" or view is None or exp is None or view.status != "ok":
            continue
        parts = spec.compare.parts or tuple(exp)
        if _fits(spec, view, parts, exp):  # (an answer equal to it has no candidates)
            return frozenset()
        forms = [
            c
            for c in candidates.get(spec.id, ())
            if c.kind == "convention" and _printed_form(c.name)
        ]
        if not forms:  # not a printed cost (the template's is the objective): no evidence
            continue
        for cand in forms:
            if _fits(spec, view, parts, cand.arrays):
                return frozenset(cand.name.split("+"))
        return frozenset({UNKNOWN_PRINTED})
    return None


def _fits(
    spec: CheckSpec, view: ProbeView, parts: Sequence[str], arrays: Mapping[str, Array]
) -> bool:
    """Whether the student's ``parts`` equal ``arrays`` at the check's tolerance."""
    if not all(p in arrays for p in parts):
        return False
    try:
        return all(c.passed for c in _compare_all(parts, view, arrays, _tolerance(spec), spec))
    except ValueError:  # a non-finite candidate: not this one
        return False


def _credit_shown(
    spec: CheckSpec, printed: frozenset[str] | None
) -> tuple[CheckSpec, tuple[str, ...]]:
    """The check with each accepted convention that the printed cost must show kept only
    where it does, and the names withheld."""
    withheld = tuple(
        name
        for name in spec.compare.accept
        if (conv := CONVENTIONS.get(name)) is not None
        and conv.shown_by
        and (printed is None or conv.shown_by not in printed)
    )
    if not withheld:
        return spec, ()
    kept = tuple(n for n in spec.compare.accept if n not in withheld)
    return replace(spec, compare=replace(spec.compare, accept=kept)), withheld


def _shown_sentence(
    verdict: _Verdict, spec: CheckSpec, withheld: Sequence[str], printed: frozenset[str] | None
) -> str:
    """Why a convention that needs the printed cost's evidence was credited or not ("" when
    none is at stake in this verdict)."""
    # a combination (the replay's "l2+inverse_time"): the part the printed cost must show
    parts = [CONVENTIONS.get(n) for n in (verdict.convention or "").split("+")]
    conv = next((c for c in parts if c is not None and c.shown_by), None)
    if verdict.status == "passed" and conv is not None:
        form = CONVENTIONS[conv.shown_by]
        # "‖" where the title writes "||": a sentence in words, not a tolerance formula, to
        # the report (grader.report.view.is_raw)
        return (
            f"your gradient differentiates the objective with {conv.title.replace('||', '‖')}, "
            f"{conv.used_in or 'a course'}'s convention, and your own printed cost carries the "
            f"same factor ({form.title}): credited as that convention"
        )
    d = verdict.diagnosis
    if verdict.status != "failed" or d is None:
        return ""
    named = {part for name in (d.name, *d.alternatives) for part in name.split("+")}
    at_stake = [n for n in withheld if n in named]
    if not at_stake:
        return ""
    conv = CONVENTIONS[at_stake[0]]
    form = CONVENTIONS[conv.shown_by]
    prints = (
        "your printed cost could not show which objective you meant"
        if printed is None or UNKNOWN_PRINTED in printed
        else "your printed cost does not (it prints the course's factor)"
    )
    return (
        f"the same numbers are the gradient of {conv.title.replace('||', '‖')}, "
        f"{conv.used_in or 'a course'}'s "
        f"convention, which this check credits where the class's printed cost carries that "
        f"factor too ({form.title}); {prints}, so your gradient is judged against the "
        "objective your code prints"
    )


def _cost_check_owns(
    spec: CheckSpec,
    verdict: _Verdict,
    printed: frozenset[str] | None,
    view: ProbeView | None = None,
    candidates: Sequence[Candidate] = (),
) -> _Verdict | None:
    """The replay passed on its trajectory where only its monitoring values (cost_) differ
    and the student's printed cost, on the cost check, is of no known form: the cost_ the
    class records comes from that same printed cost, so the difference is the cost check's
    to charge, once (None: not that case). The trajectory is the declared one's, or a
    credited training convention's (:func:`_owned_under_convention`)."""
    if spec.probe != "train" or verdict.status != "failed" or printed is None:
        return None
    if UNKNOWN_PRINTED not in printed:
        return None
    failed = [c for c in verdict.comparisons if not c.passed]
    if not failed or any(
        c.stage != "values" or not _monitoring(spec.probe, c.name) for c in failed
    ):
        if view is None or any(c.stage != "values" for c in failed):
            return None
        return _owned_under_convention(spec, view, candidates)
    shown = join_names([c.display_name or c.name for c in failed])
    trajectory = join_names([c.display_name or c.name for c in verdict.comparisons if c.passed])
    return _Verdict(
        "passed",
        [
            f"your training run follows the reference's: {trajectory} match epoch by epoch",
            f"your {shown} differs from the reference's as your printed cost does on the cost "
            "check (a form no course notebook prints): the cost check charges that "
            "difference, so the replay, which judges the training itself, does not charge it "
            "again",
        ],
        verdict.comparisons,
    )


def _owned_under_convention(
    spec: CheckSpec, view: ProbeView, candidates: Sequence[Candidate]
) -> _Verdict | None:
    """:func:`_cost_check_owns` for a run that follows credited conventions (a fresh shuffle
    each epoch, inverse-time cooling): the credited training candidate whose trajectory (every
    output but the monitoring values) the student's run matches, the one whose cost_ comes
    closest where several do (the same trajectory with cost_ recorded another way), credited;
    its cost_ differs as the student's printed cost does on the cost check, which charges it."""
    best: tuple[float, Candidate, tuple[Comparison, ...]] | None = None
    for cand in candidates:
        if cand.kind != "convention" or _printed_form(cand.name):
            continue
        if not accepted_by(cand.name, spec.compare.accept):
            continue
        parts = tuple(p for p in (spec.compare.parts or tuple(cand.arrays)) if p in cand.arrays)
        trajectory = [p for p in parts if not _monitoring(spec.probe, p)]
        if not trajectory or len(trajectory) == len(parts):
            continue
        try:
            under = _compare_all(parts, view, cand.arrays, _tolerance(spec), spec)
        except ValueError:  # a non-finite candidate: not this one
            continue
        if any(not c.passed for c in under if c.name in trajectory):
            continue
        gap = max(
            (c.measures.max_abs_diff for c in under if not c.passed and c.measures is not None),
            default=0.0,
        )
        if best is None or gap < best[0]:
            best = (gap, cand, tuple(under))
    if best is None:
        return None
    gap, cand, under = best
    shown = join_names([c.display_name or c.name for c in under if not c.passed])
    trajectory_names = join_names([c.display_name or c.name for c in under if c.passed])
    evidence = [
        f"your training run follows {_accepted_phrase(cand)}, {cand.title}: "
        f"{trajectory_names} match epoch by epoch"
    ]
    if shown:
        evidence.append(
            f"your {shown} differs from the cost_ recorded that way by at most {gap:.2g}, as "
            "your printed cost does on the cost check (a form no course notebook prints): the "
            "cost check charges that difference, so the replay, which judges the training "
            "itself, does not charge it again"
        )
    return _Verdict("passed", evidence, under, convention=cand.name)


def _diagnosed(
    spec: CheckSpec, found: Diagnosis, evidence: list[str], comparisons: tuple[Comparison, ...]
) -> _Verdict:
    """A failed verdict carrying the diagnosis, with the rubric's words for it if any."""
    evidence.append(found.message)
    if found.kind == "convention" and other_loss(found.name):
        # correct code for another objective (the textbook's 4th edition differentiates the
        # mean squared error): not this check's to judge, and never a failure
        reason = (
            f"{found.message}: the exact gradient of another loss ({found.title}) than this "
            "check's objective, so it is not judged against it. Instructors: a rubric that "
            "assigns that loss declares it ([adapter.conventions] loss, reduction)"
        )
        return _Verdict(
            "not_assessed", [reason, *evidence], comparisons, diagnosis=found, reason=reason
        )
    if found.kind == "convention":
        evidence.append(f"this check does not accept that convention ({found.title})")
        next_step = found.next_step  # names the convention the assignment asks for
    else:
        next_step = spec.feedback.misconceptions.get(found.name) or found.next_step
    return _Verdict("failed", evidence, comparisons, diagnosis=found, next_step=next_step)


# timing: how far the timed gradients may be from one multiple of the reference's (relative)
TIMED_RESIDUAL = 1e-6


def _timed_outputs_problem(view: ProbeView, expected: Mapping[str, Array]) -> str:
    """Why the gradients returned by the timed calls cannot be the gradients of the large
    batch, or "". Computed with no penalty, every accepted convention of the data term
    (a mean, a factor 2) is one positive multiple of the reference's, the same for every
    array; a gradient that skips instances or returns zeros is not."""
    names = sorted(expected)
    if not names:
        raise _GraderError("the grader has no reference gradients for the timed calls")
    got = [as_numeric(view.outputs.get(n)) for n in names]
    if any(
        isinstance(g, str) or g.shape != np.shape(expected[n])
        for g, n in zip(got, names, strict=True)
    ):
        return "the gradients returned by the timed calls do not have the gradients' shapes"
    mine = np.concatenate([np.asarray(g, dtype=float).ravel() for g in got])
    ref = np.concatenate([np.asarray(expected[n], dtype=float).ravel() for n in names])
    if not np.isfinite(mine).all() or not np.any(mine) or not np.any(ref):
        return "the gradients returned by the timed calls are zero or not finite"
    factor = float(mine @ ref) / float(ref @ ref)
    residual = np.linalg.norm(mine - factor * ref) / np.linalg.norm(mine)
    if factor <= 0 or residual > TIMED_RESIDUAL:
        return (
            "the gradients returned by the timed calls on the large batch are not those of "
            f"the batch (relative difference {residual:.2g} from the reference's, up to one "
            "common factor): only a gradient that does all the work can be timed"
        )
    return ""


# timing: the grader's clock is shared with everything else the machine does, so a stall
# (another process, a page fault, the garbage collector) can make a fast probe look slow; it
# never makes a slow one look fast. One measurement over the limit is therefore a doubt, not a
# verdict: the parent measures again (grader.pipeline) and fails the code only when two
# measurements over the limit agree within this factor; measurements that disagree after
# TIMING_MEASUREMENTS tries are the clock's problem: "not assessed".
TIMING_AGREEMENT = 2.0
TIMING_MEASUREMENTS = 3
TimingVerdict = Literal["passed", "failed", "unsure"]


def timing_verdict(ratios: Sequence[float], limit: float) -> TimingVerdict:
    """What the measured time ratios (student / baseline) say, first to last.

    passed : one measurement within the limit (interference only adds time)
    failed : the two fastest measurements both exceed it and agree within TIMING_AGREEMENT
    unsure : otherwise (one measurement, or a disagreeing pair): measure again, or, with
             TIMING_MEASUREMENTS taken, the timing cannot be trusted
    """
    if not ratios:
        return "unsure"
    fastest = sorted(ratios)
    if fastest[0] <= limit:
        return "passed"
    if len(fastest) >= 2 and fastest[1] <= fastest[0] * TIMING_AGREEMENT:
        return "failed"
    return "unsure"


def _measurements(view: ProbeView) -> list[tuple[float, float]]:
    """The timing probe's measurements: the parent's series, or the outputs' one pair."""
    pairs = list(view.measurements)
    if not pairs:
        seconds = []
        for name in ("student_seconds", "baseline_seconds"):
            value = as_numeric(view.outputs.get(name))
            if isinstance(value, str) or value.size != 1:
                seconds.append(float("nan"))
            else:
                seconds.append(float(value.item()))
        pairs = [(seconds[0], seconds[1])]
    for student, baseline in pairs:
        if not (np.isfinite(student) and np.isfinite(baseline) and student > 0 and baseline > 0):
            raise _GraderError(
                "the grader has no usable time for the timed calls or their baseline: the "
                "timing could not be measured (a grader problem, not yours)"
            )
    return pairs


def _judge_timing(
    spec: CheckSpec,
    view: ProbeView,
    expected: Mapping[str, Array],
    candidates: Sequence[Candidate],
    penalty: Mapping[str, Array] | None,
) -> _Verdict:
    """Passes when the timed gradients are right and their time is at most
    ``params.max_ratio`` times the baseline's, both times on the supervisor's clock; fails
    only on measurements that confirm each other (:func:`timing_verdict`), and is "not
    assessed" when the grader's own clock cannot be trusted."""
    step = spec.feedback.next_step or NEXT_STEPS["timeout"]
    wrong = _timed_outputs_problem(view, expected)
    if wrong:
        return _Verdict("failed", [wrong], next_step=step, reason=wrong)
    pairs = _measurements(view)
    limit = float(spec.params.get("max_ratio", DEFAULT_MAX_RATIO))
    ratios = [student / baseline for student, baseline in pairs]
    verdict = timing_verdict(ratios, limit)
    best = min(range(len(pairs)), key=lambda i: ratios[i])
    student, baseline = pairs[best]
    sentence = f"your code took {student:.3g} s where the same matrix products, vectorised, took {baseline:.3g} s: {ratios[best]:.1f}x (at most {limit:g}x passes)"
    shown = ", ".join(f"{r:.1f}x" for r in ratios)
    if verdict == "passed":
        if len(pairs) == 1:
            return _Verdict("passed", [sentence])
        return _Verdict(
            "passed",
            [
                sentence,
                f"the grader measured {len(pairs)} times ({shown}): a measurement over the "
                "limit is the machine's other work on the grader's clock when another is within it",
            ],
        )
    if verdict == "failed":
        again = f"; measured {len(pairs)} times: {shown}" if len(pairs) > 1 else ""
        return _Verdict("failed", [sentence + again], next_step=step)
    reason = (
        f"speed not assessed: the grader could not trust its own clock (not a fault of your "
        f"code): {len(pairs)} measurement{'s' if len(pairs) != 1 else ''} of your gradient "
        f"({shown} the vectorised baseline's time) "
        + (
            f"disagree by more than a factor {TIMING_AGREEMENT:g}"
            if len(pairs) > 1
            else "could not be confirmed by a second one"
        )
        + "; instructors: grade it again when the machine is less loaded (fewer --workers)"
    )
    return _Verdict("not_assessed", [reason], reason=reason)


_SELF_PARTS = ("slope_data", "slope_square", "slope_abs")
_SELF_WEIGHTS = ("w_data", "w_square", "w_abs")


def _self_check_error(
    slopes: Mapping[str, Array], weights: Mapping[str, Array], atol: float
) -> float:
    """Largest relative difference between the gradient's slopes and the objective's."""
    objective = sum(
        float(np.asarray(weights[w])) * slopes[p]
        for p, w in zip(_SELF_PARTS, _SELF_WEIGHTS, strict=True)
    )
    g = slopes["slope_gradient"]
    scale = np.maximum(np.maximum(np.abs(g), np.abs(objective)), atol or 1e-12)
    return float((np.abs(g - objective) / scale).max())


def _data_part_shows(
    slopes: Mapping[str, Array], weights: Mapping[str, Array], rtol: float, atol: float
) -> bool:
    """Whether the check sees the data term in the slopes: the objective without it (the
    penalty's slope alone) does not fit the gradient within the tolerance.

    Without this, a forward pass that ignores the weights (slope_data 0) and a gradient of
    the penalty alone agree perfectly: self-consistent, with no network. An honest network
    on the rubric's problem has a data part of the order of the whole slope.
    """
    return _self_check_error(slopes, {**weights, "w_data": np.array(0.0)}, atol) > rtol


def _no_data_part(slopes: Mapping[str, Array]) -> str:
    """Why the data term did not show, in the student's terms."""
    if not np.any(slopes["slope_data"]):
        return (
            "your forward pass gives the same output whatever the weights (the data term's "
            "slope is 0 along every direction), so there is no network to differentiate"
        )
    return (
        "the data term's part of your objective's slope is too small to check: the "
        "penalty's gradient alone matches your gradient within the tolerance"
    )


_NO_DATA_NEXT_STEP = (
    "Compute A_out from the weights and biases in the forward pass (W·A + b, then the "
    "activation, layer by layer) and back-propagate the data term's error through it; the "
    "penalty's gradient C·W is only one part of the gradient."
)


def _judge_self_check(
    spec: CheckSpec,
    view: ProbeView,
    expected: Mapping[str, Array],
    candidates: Sequence[Candidate],
    penalty: Mapping[str, Array] | None,
) -> _Verdict:
    """Passes when the gradient's slope along each random direction equals the central
    difference of the declared objective through the student's own forward pass.

    ``expected`` holds the declared objective's weights of the child's three slope parts;
    a convention's candidate holds its own weights (grader.probes.objective_weights).
    """
    slopes: dict[str, Array] = {}
    for name in ("slope_gradient", *_SELF_PARTS):
        value = as_numeric(view.outputs.get(name))
        if isinstance(value, str) or value.ndim != 1 or value.size == 0:
            what = f"the self-consistency probe gave no usable {name!r}"
            return _Verdict("failed", [what], next_step=NEXT_STEPS["invalid"], reason=what)
        if not np.isfinite(value).all():
            what = (
                "your gradient or your forward pass gave NaN or inf on the self-consistency problem"
            )
            return _Verdict("failed", [what], next_step=NEXT_STEPS["finite"], reason=what)
        slopes[name] = np.asarray(value, dtype=float)
    if any(w not in expected for w in _SELF_WEIGHTS):
        raise _GraderError("the grader has no declared objective for the self-consistency check")
    rtol, atol = spec.compare.rtol, spec.compare.atol
    worst = _self_check_error(slopes, expected, atol)
    n = slopes["slope_gradient"].size
    sentence = (
        f"along {n} random directions, your gradient's slope and the central difference of "
        f"the declared objective through your own forward pass differ by at most {worst:.1e} "
        f"(relative; at most {rtol:g} passes)"
    )
    if worst <= rtol and not _data_part_shows(slopes, expected, rtol, atol):
        what = _no_data_part(slopes)
        return _Verdict("failed", [sentence, what], next_step=_NO_DATA_NEXT_STEP, reason=what)
    if worst <= rtol:
        return _Verdict("passed", [sentence])
    fits = [
        c
        for c in candidates
        if _self_check_error(slopes, c.arrays, atol) <= rtol
        and _data_part_shows(slopes, c.arrays, rtol, atol)
    ]
    accepted = next((c for c in fits if c.name in spec.compare.accept), None)
    if accepted is not None:
        return _Verdict(
            "passed",
            [
                f"your gradient is the derivative of your own forward pass under an accepted convention, {accepted.title}"
            ],
            convention=accepted.name,
        )
    evidence = [sentence]
    if fits:
        c = fits[0]
        message = f"your gradient is the derivative of your own forward pass under another convention: {c.title}"
        found = Diagnosis(
            c.name,
            c.kind,
            c.title,
            c.description,
            c.topic,
            c.next_step,
            ("slope_gradient",),
            0.0,
            tuple(x.name for x in fits[1:]),
            message,
        )
        return _diagnosed(spec, found, evidence, ())
    if not np.any(slopes["slope_data"]):  # e.g. the penalty's gradient under another factor
        what = _no_data_part(slopes)
        return _Verdict("failed", [*evidence, what], next_step=_NO_DATA_NEXT_STEP, reason=what)
    evidence.append(
        "your gradient is not the derivative of the objective your own forward pass defines: "
        "the back-propagation (or the forward pass it differentiates) has a mistake"
    )
    return _Verdict("failed", evidence, next_step=spec.feedback.next_step or NEXT_STEPS["values"])


def _spread_bound(W: Array) -> float:
    """The bound b of U(-b, b) that W's standard deviation points to (std = b / sqrt(3))."""
    return float(np.std(W) * np.sqrt(3.0))


def _judge_initialize(
    spec: CheckSpec,
    view: ProbeView,
    expected: Mapping[str, Array],
    candidates: Sequence[Candidate],
    penalty: Mapping[str, Array] | None,
) -> _Verdict:
    """Glorot's uniform initialisation, judged by its statistics (the draw is the student's):
    every weight inside ±bound, a spread (std·sqrt(3)) within 15 % of the bound, biases 0."""
    sizes = [int(n) for n in spec.params.get("sizes", ())]
    evidence: list[str] = []
    wrong: list[str] = []
    for l, (n_in, n_out) in enumerate(itertools.pairwise(sizes), start=1):
        W, b = as_numeric(view.outputs.get(f"W{l}")), as_numeric(view.outputs.get(f"b{l}"))
        bound = float(np.asarray(expected[f"bound_W{l}"]))
        if isinstance(W, str) or W.shape != (n_out, n_in) or not np.isfinite(W).all():
            got = W if isinstance(W, str) else W.shape
            wrong.append(f"W{l} is not a finite ({n_out}, {n_in}) array (got {got})")
            continue
        spread = _spread_bound(W)
        evidence.append(
            f"W{l}: largest |w| {np.abs(W).max():.3g}, spread {spread:.3g}, "
            f"Glorot's bound {bound:.3g}"
        )
        if np.abs(W).max() > bound * (1 + 1e-9):
            wrong.append(f"W{l} has weights outside ±{bound:.3g}")
        elif abs(spread / bound - 1) > 0.15:
            ratio = spread / bound
            hint = (
                " (Glorot's bound without the gain 4 the sigmoid needs)"
                if abs(ratio * 4 - 1) < 0.15
                else " (U(-1, 1), the course's first initialiser)"
                if abs(spread - 1) < 0.15
                else ""
            )
            wrong.append(f"W{l}'s spread is {ratio:.2f} times Glorot's bound{hint}")
        if isinstance(b, str) or b.shape != (n_out, 1) or np.any(b != 0):
            wrong.append(f"b{l} is not zeros of shape ({n_out}, 1)")
    if not wrong:
        return _Verdict(
            "passed", ["your initial weights are Glorot-uniform in every layer", *evidence]
        )
    return _Verdict(
        "failed",
        [*wrong, *evidence],
        next_step=spec.feedback.next_step
        or "Draw each W from U(-r, r) with r = 4·sqrt(6 / (n_in + n_out)) (the sigmoid's Glorot bound) and start every b at 0.",
        reason=wrong[0],
    )


DEFAULT_ACCURACY_MARGIN = 0.05  # converge: held-out accuracy below the reference's lowest
DEFAULT_COST_MARGIN = 0.25  # converge: final cost above the reference's highest, relative


def _judge_converge(
    spec: CheckSpec,
    view: ProbeView,
    expected: Mapping[str, Array],
    candidates: Sequence[Candidate],
    penalty: Mapping[str, Array] | None,
) -> _Verdict:
    """The student's own training run against the envelope of the reference's runs.

    Passes when the held-out accuracy is at least the reference's lowest minus
    ``accuracy_margin`` and the last epoch's cost at most the reference's highest
    times 1 + ``cost_margin`` (a lower cost never fails: only its scale could differ).
    """
    cost, labels = as_numeric(view.outputs.get("cost")), as_numeric(view.outputs.get("labels"))
    y = np.asarray(expected["y_heldout"])
    E = int(np.asarray(expected["cost_high"]).shape[0])
    if (
        isinstance(cost, str)
        or cost.shape != (E,)
        or isinstance(labels, str)
        or labels.shape != y.shape
    ):
        what = (
            f"your training run did not give one cost per epoch ({E}) and one label per held-out "
            f"instance ({y.shape[0]})"
        )
        return _Verdict("failed", [what], next_step=NEXT_STEPS["shape"], reason=what)
    acc_margin = float(spec.params.get("accuracy_margin", DEFAULT_ACCURACY_MARGIN))
    cost_margin = float(spec.params.get("cost_margin", DEFAULT_COST_MARGIN))
    low, high = float(expected["accuracy_low"]), float(expected["accuracy_high"])
    accuracy = float(np.mean(labels == y))
    final, top = float(cost[-1]), float(np.asarray(expected["cost_high"])[-1])
    bottom = float(np.asarray(expected["cost_low"])[-1])
    runs = int(spec.params.get("seeds", 5))
    evidence = [
        f"after {E} epochs your network classifies {accuracy:.1%} of {y.shape[0]} held-out "
        f"instances; the reference from {runs} other starts: {low:.1%} to {high:.1%} "
        f"(at least {low - acc_margin:.1%} passes)",
        f"your last epoch's cost is {final:.4g}; the reference's: {bottom:.4g} to {top:.4g} "
        f"(at most {top * (1 + cost_margin):.4g} passes)",
    ]
    wrong = []
    if accuracy < low - acc_margin:
        wrong.append("your network has not learned to classify as well as the reference does")
    if not np.isfinite(final) or final > top * (1 + cost_margin):
        wrong.append("your cost did not come down as far as the reference's")
    if not wrong:
        return _Verdict("passed", evidence)
    return _Verdict(
        "failed",
        [*evidence, *wrong],
        next_step=spec.feedback.next_step
        or "Plot your cost per epoch: if it rises or stalls, check the sign of each update and the learning rate; then gradient-check one batch.",
        reason=wrong[0],
    )


def _judge_rates_asked(
    spec: CheckSpec,
    view: ProbeView,
    expected: Mapping[str, Array],
    candidates: Sequence[Candidate],
    penalty: Mapping[str, Array] | None,
) -> _Verdict:
    """schedule_order: the rates compared as any output (steps 3-5); a failure also says,
    from the student's own rates, whether one epoch asked twice got two different rates."""
    asked = expected.get("epochs_asked")
    rates = {k: v for k, v in expected.items() if k != "epochs_asked"}
    verdict = _judge_compare(spec, view, rates, candidates, penalty)
    if verdict.status == "failed" and asked is not None and "eta" in rates:
        verdict.evidence += describe_rates_asked(
            view.outputs.get("eta"), rates["eta"], asked, _tolerance(spec)
        )
    return verdict


Judge = Callable[
    [CheckSpec, ProbeView, Mapping[str, Array], Sequence[Candidate], Mapping[str, Array] | None],
    _Verdict,
]
JUDGE_FUNCTIONS: dict[str, Judge] = {
    "compare": _judge_compare,
    "replay": _judge_replay,
    "timed": _judge_timing,
    "self_check": _judge_self_check,
    "glorot_bound": _judge_initialize,
    "envelope": _judge_converge,
    "rates_asked": _judge_rates_asked,
}
"""A judge's name in the contract (``ProbeSpec.judge``) -> the function."""

JUDGES: dict[str, Judge] = {call: JUDGE_FUNCTIONS[p.judge] for call, p in PROBE_SPECS.items()}
"""Probe call -> how its outputs are judged (grader.contract names each call's judge)."""


def _roots(unmet: Sequence[str], prior: Mapping[str, CheckResult]) -> tuple[str, ...]:
    """The failed checks at the bottom of the unmet prerequisites: a prerequisite that was
    itself not assessed (or failed with the same mistake) passes on its own roots, so a
    reason never names a check that did not run as the one that "did not pass"."""
    out: list[str] = []
    for rid in unmet:
        for root in prior[rid].root_causes or (rid,):
            if root not in out:
                out.append(root)
    return tuple(out)


def _root_mistake(root: str, prior: Mapping[str, CheckResult]) -> str:
    """The diagnosis's name of a failed root check ("" when it has none or is unknown here)."""
    r = prior.get(root)
    if r is None or r.status != "failed" or r.diagnosis is None:
        return ""
    return r.diagnosis.name


def _plug_ins(
    spec: CheckSpec, candidates: Sequence[Candidate], prior: Mapping[str, CheckResult]
) -> list[tuple[Candidate, str]]:
    """(candidate, root check) for each mistake diagnosed in a prerequisite (``prior``:
    the check's prerequisites, transitively) of another objective that this check's
    candidates can replay: the reference with that mistake in place of the correct
    piece. Only a diagnosed mistake of a piece this check builds on: a check that
    merely also sees this check's own piece (the self-consistency check sees the
    penalty) lends nothing, or the penalty's own mistake would excuse itself."""
    out: list[tuple[Candidate, str]] = []
    seen: set[str] = set()
    for r in prior.values():
        if r.status != "failed" or r.diagnosis is None or r.objective == spec.objective:
            continue
        root = r.root_causes[0] if r.root_causes else r.check_id
        # the alternatives gave the same numbers there (C·||W||² beside penalty_doubled):
        # each is the student's mistake as much as the name the rubric words
        for name in (r.diagnosis.name, *r.diagnosis.alternatives):
            if name not in seen:
                seen.add(name)
                out += [(c, root) for c in candidates if c.name == name]
    return out


def _judge(
    spec: CheckSpec,
    view: ProbeView,
    expected: Mapping[str, Array],
    candidates: Sequence[Candidate],
    penalty: Mapping[str, Array] | None,
) -> _Verdict:
    """The probe's own outcome judged against ``expected`` (steps 2-5 of the module doc)."""
    if view.status != "ok":
        return _probe_failure(spec, view)
    try:
        return JUDGES.get(spec.probe, _judge_compare)(spec, view, expected, candidates, penalty)
    except _GraderError as e:
        return _Verdict("error", [str(e)], reason=str(e))


def _titles(ids: Sequence[str], prior: Mapping[str, CheckResult]) -> str:
    return join_names([f"'{prior[i].title or i}'" if i in prior else f"'{i}'" for i in ids])


def _with_mistake(
    spec: CheckSpec,
    view: ProbeView,
    expected: Mapping[str, Array],
    candidates: Sequence[Candidate],
    penalty: Mapping[str, Array] | None,
    prior: Mapping[str, CheckResult],
) -> tuple[_Verdict, Candidate, str] | None:
    """This check judged against the reference with a mistake diagnosed in a prerequisite
    plugged in: the first verdict that passes; a grader "error" verdict when the plugged-in
    reference itself cannot be compared (its run leaves the finite numbers: a mistake
    that makes training diverge); None when no plugged-in reference fits."""
    if view.status != "ok":
        return None
    undecided = None
    for cand, root in _plug_ins(spec, candidates, prior):
        if not set(expected) <= set(cand.arrays):
            continue
        verdict = _judge(spec, view, cand.arrays, (), penalty)
        if verdict.status == "passed":
            return verdict, cand, root
        if verdict.status == "error" and undecided is None:
            undecided = (verdict, cand, root)
    return undecided


def _plugged_sentence(cand: Candidate, root: str, prior: Mapping[str, CheckResult]) -> str:
    return (
        f"judged on its own: the reference was run with your mistake from {_titles([root], prior)} "
        f"({cand.title}) in its place, so only that check pays for it"
    )


def evaluate_check(
    spec: CheckSpec,
    view: ProbeView,
    expected: Mapping[str, Array],
    candidates: Sequence[Candidate] = (),
    prerequisite_results: Mapping[str, CheckResult] | None = None,
    *,
    penalty: Mapping[str, Array] | None = None,
    printed: frozenset[str] | None = None,
) -> CheckResult:
    """Judge one check (see the module doc for the order of questions).

    Each objective is assessed on its own wherever a sound method exists: a check
    whose answer differs from the reference's is judged again against the reference
    with a mistake diagnosed in an earlier check of *another* objective plugged in
    (a loop replayed with the student's buggy gradient, a penalty on top of the
    student's buggy back-propagation): if it then matches, it passes, and only the
    mistake's own check pays. A check whose prerequisites did not pass is judged that
    way too where every root failure is one diagnosed mistake (a mismatch is then its
    own); otherwise it is not assessed, naming the root checks (``root_causes``).

    Parameters
    ----------
    spec : CheckSpec
    view : ProbeView
        The probe's outcome, outputs already in the canonical layout.
    expected : mapping name -> ndarray
        The reference's canonical outputs for the same inputs.
    candidates : sequence of Candidate
        Misconceptions and conventions computed on the same inputs (grader.diagnose).
    prerequisite_results : mapping check id -> CheckResult
        Results of every check in ``spec.requires`` and, to find root failures and
        mistakes to plug in, of their prerequisites in turn (evaluate_all passes the
        whole chain; nothing else may lend a mistake).
    penalty : mapping name -> ndarray, optional
        The declared penalty's gradient per output, to recognise a penalty-only difference.
    printed : frozenset of str, optional
        The printed forms the student's printed cost follows (:func:`printed_forms_shown`);
        a convention that needs them (``Convention.shown_by``) is credited only where they
        include its form. None: no evidence, so no such credit.
    """
    spec, withheld = _credit_shown(spec, printed)
    prior = prerequisite_results or {}
    unmet = []
    for rid in spec.requires:
        if rid not in prior:
            raise ValueError(f"check {spec.id!r} requires {rid!r}: evaluate {rid!r} first")
        if prior[rid].status != "passed":
            unmet.append(rid)
    if unmet and _missing_package(view) is not None:
        unmet = []  # nothing ran at all: the environment's reason, not the prerequisite's
    roots = _roots(unmet, prior)
    verdict = _judge(spec, view, expected, candidates, penalty)
    judged_with, blocked = "", tuple(unmet)
    causes: tuple[str, ...] = ()
    if verdict.status == "passed":
        blocked = ()  # a pass on the reference's own values is evidence whatever else failed
    elif (plugged := _with_mistake(spec, view, expected, candidates, penalty, prior)) is not None:
        found, cand, root = plugged
        if found.status == "passed":
            verdict = replace(
                found, evidence=[_plugged_sentence(cand, root, prior), *found.evidence]
            )
            judged_with, causes, blocked = cand.name, (root,), ()
        else:  # the mistake leaves no finite reference to hold this check against
            reason = (
                f"not assessed because {_titles([root], prior)} did not pass: with that mistake "
                f"({cand.title}) the reference's own numbers are not finite here, so this "
                "check cannot be judged apart from it"
            )
            verdict = _Verdict("not_assessed", [reason, *verdict.evidence], reason=reason)
            causes, blocked = (root,), (root,)
    elif unmet:
        mistakes = {_root_mistake(r, prior) for r in roots}
        other = any(prior[r].objective != spec.objective for r in roots if r in prior)
        fit = next((c for c in candidates if c.name in mistakes), None)
        if other and len(mistakes) == 1 and "" not in mistakes and fit is not None:
            cand = fit
            # every root is one diagnosed mistake, and the reference with it plugged in
            # still differs: the difference is this check's own
            if view.status == "ok":
                verdict = _judge(spec, view, cand.arrays, (), penalty)
                root = roots[0]
                verdict.evidence.insert(0, _plugged_sentence(cand, root, prior))
            judged_with, causes, blocked = cand.name, (*roots, spec.id), ()
        else:
            reason = f"not assessed because {_titles(roots, prior)} did not pass"
            losses = {
                r.diagnosis.title
                for r in (prior.get(root) for root in roots)
                if r is not None and r.diagnosis is not None and other_loss(r.diagnosis.name)
            }
            if len(losses) == 1 and len(roots) == 1:  # correct code for another objective
                reason += f": the code's gradient follows another loss ({losses.pop()})"
            verdict = _Verdict("not_assessed", [reason], reason=reason)
            causes = roots
    if (owned := _cost_check_owns(spec, verdict, printed, view, candidates)) is not None:
        verdict = owned
    if shown := _shown_sentence(verdict, spec, withheld, printed):
        verdict.evidence.append(shown)
    feedback = {"passed": spec.feedback.pass_, "failed": spec.feedback.fail}.get(verdict.status, "")
    return CheckResult(
        check_id=spec.id,
        objective=spec.objective,
        status=verdict.status,
        points=spec.points if verdict.status == "passed" else 0.0,
        max_points=spec.points,
        visibility=spec.visibility,
        title=spec.title,
        evidence=tuple(verdict.evidence),
        comparisons=verdict.comparisons,
        diagnosis=verdict.diagnosis,
        convention=verdict.convention,
        feedback=feedback,
        next_step=verdict.next_step if verdict.status == "failed" else "",
        reason=verdict.reason,
        blocked_by=blocked if verdict.status == "not_assessed" else (),
        root_causes=causes,
        judged_with=judged_with,
    )


def evaluate_all(
    rubric: Rubric,
    views: Mapping[str, ProbeView],
    expected: Mapping[str, Mapping[str, Array]],
    candidates: Mapping[str, Sequence[Candidate]] | None = None,
    penalties: Mapping[str, Mapping[str, Array]] | None = None,
) -> tuple[CheckResult, ...]:
    """Every check of ``rubric`` (prerequisites first), returned in the rubric's order.

    Each mapping is keyed by check id; a check without a view or expected
    values gets status "error" (the grader's plan lost it).
    """
    done: dict[str, CheckResult] = {}
    upstream: dict[str, set[str]] = {}  # check id -> its prerequisites, transitively
    printed = printed_forms_shown(rubric, views, expected, candidates or {})
    for spec in rubric.ordered_checks():
        upstream[spec.id] = set(spec.requires).union(*(upstream[r] for r in spec.requires))
        if spec.id not in views or spec.id not in expected:
            reason = f"the grader has no probe outcome or expected value for check {spec.id!r}: a grader problem, not yours"
            done[spec.id] = CheckResult(
                spec.id,
                spec.objective,
                "error",
                0.0,
                spec.points,
                spec.visibility,
                spec.title,
                (reason,),
                reason=reason,
            )
            continue
        done[spec.id] = evaluate_check(
            spec,
            views[spec.id],
            expected[spec.id],
            (candidates or {}).get(spec.id, ()),
            {r: done[r] for r in upstream[spec.id]},
            penalty=(penalties or {}).get(spec.id),
            printed=printed,
        )
    return tuple(done[c.id] for c in rubric.checks)
