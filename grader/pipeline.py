"""The grading engine: everything after the plan, shared by the instructor and the student kit.

    result = grade_with(path, rubric, oracle, settings)

load -> prepare the code -> the oracle's plan -> run it in the sandboxed child ->
(child gone) canonical outputs -> the oracle's expected values and candidates ->
checks -> score -> figures -> :class:`~grader.results.GradeResult`.

An :class:`Oracle` says what to ask and what the answers should be. The
instructor's (``grader.reference_oracle``) builds the plan and computes expected values
with the reference; the student kit's (``grader.kit_check``) reads both from the
kit's files. Everything else is this one function, so a submission gets the
same verdicts either way. This module (like everything the kit ships) never
imports ``reference``.

Every fault of the submission is a result (ungradable, or checks that fail with
their evidence); only the grader's own faults (a broken rubric adapter, a
sandbox that cannot start) raise.
"""

from __future__ import annotations

import atexit
import platform
import re
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

import grader
from grader.adapters import discover, support
from grader.adapters.binding import AdapterBinding, BindingError
from grader.adapters.styles import display_names, to_canonical
from grader.adapters.support import Support
from grader.checks import (
    DEFAULT_MAX_RATIO,
    TIMING_MEASUREMENTS,
    WHILE_LOADING,
    ProbeView,
    evaluate_all,
    timing_verdict,
)
from grader.diagnose import Candidate
from grader.figures import Figure, convergence, gradient_error, gradient_magnitude, scatter
from grader.prepare import PreparedCode, SkipNote, prepare
from grader.results import CheckResult, GradeResult, SubmissionRef
from grader.rubric import CheckSpec, Rubric
from grader.sandbox import (
    Job,
    JobResult,
    Limits,
    OutputSpec,
    ProbeCall,
    ProbeOutcome,
    WarmWorker,
    preload_for,
    resolve_tier,
    run_job,
)
from grader.sandbox.privilege import protect
from grader.sandbox.tiers import tier_fields, why_not_stronger
from grader.sandbox.warm import take_prestarted
from grader.scoring import score
from grader.submission import CodeChoice, Submission, SubmissionError, load_submission

Array = np.ndarray
MAX_SKIP_NOTES = 12  # the report lists this many skipped statements, then counts the rest


@dataclass(frozen=True)
class GradeSettings:
    """How to grade, besides the rubric (part of the batch cache key: keep the repr stable).

    tier             : sandbox tier ("bwrap", "uid", "plain"; None: the best this machine has)
    min_tier         : refuse to grade below this tier (SandboxUnavailableError says why)
    warm             : run jobs in a pre-started warm worker (batch grading) instead of
                       a cold interpreter per submission
    limits           : the sandbox's resource limits
    identity_pattern : regular expression whose first group is the student's identity
    figures          : put the evidence's pictures in the result
    """

    tier: str | None = None
    min_tier: str | None = None
    warm: bool = False
    limits: Limits = field(default_factory=Limits)
    identity_pattern: str | None = None
    figures: bool = True


# ---------------------------------------------------------------------------
# What the engine is given


@dataclass(frozen=True)
class PlannedCall:
    """One probe call of the job: the question, its output contract, the checks it serves.

    The instructor's plan keeps, beside these, each call's reference context
    (:class:`grader.plan.ReferencePlan`); the engine and the child never see it."""

    call: ProbeCall
    outputs: Mapping[str, OutputSpec]
    checks: tuple[str, ...]


@dataclass(frozen=True)
class JobPlan:
    """What one sandboxed job asks (no expected value: those come after the child is gone).

    probes   : distinct probe calls, in the rubric's order of first use
    inputs   : every probe's inputs in the student's layout, names prefixed by its namespace
    probe_of : check id -> probe id
    problems : check id -> why the grader could not build its probe (the rubric's fault)
    """

    probes: tuple[PlannedCall, ...]
    inputs: Mapping[str, Array]
    probe_of: Mapping[str, str]
    problems: Mapping[str, str]

    def probe(self, probe_id: str) -> PlannedCall:
        for p in self.probes:
            if p.call.id == probe_id:
                return p
        raise KeyError(probe_id)

    @property
    def calls(self) -> tuple[ProbeCall, ...]:
        return tuple(p.call for p in self.probes)

    @property
    def output_specs(self) -> dict[str, Mapping[str, OutputSpec]]:
        return {p.call.id: p.outputs for p in self.probes}


@dataclass(frozen=True)
class Expectations:
    """Per check id: the expected canonical outputs, the candidates, the penalty's gradient.

    expected   : check id -> {output name: ndarray}
    candidates : check id -> the misconceptions and conventions computed on the same inputs
    penalties  : check id -> {output name: ndarray}, gradients checks with a penalty only
    magnitudes : check id -> (E, L) per-layer gradient magnitudes of the replay (pictures only)
    """

    expected: Mapping[str, Mapping[str, Array]]
    candidates: Mapping[str, Sequence[Candidate]]
    penalties: Mapping[str, Mapping[str, Array]]
    magnitudes: Mapping[str, Array] = field(default_factory=dict)
    """check id -> (E, L) mean |grad W| per layer per epoch of the replayed run (train checks)"""


class Oracle(Protocol):
    """Where one grading run's questions and answers come from."""

    def plan(self, binding: AdapterBinding) -> JobPlan:
        """The probes to run, with their inputs in the student's layout."""
        ...

    def probe_module(self, binding: AdapterBinding, directory: Path) -> Path:
        """Write the child's probe module into ``directory``; its path."""
        ...

    def expectations(self, plan: JobPlan, views: Mapping[str, ProbeView]) -> Expectations:
        """Expected values and candidates of every check (called after the child is gone)."""
        ...

    def provenance(self) -> dict[str, Any]:
        """What this oracle adds to the result's provenance (its version, its source)."""
        ...


# ---------------------------------------------------------------------------
# Warm workers: one per process and configuration, started on first use


_WORKERS: dict[tuple[str | None, Limits, tuple[str, ...]], WarmWorker] = {}
_WORKERS_LOCK = threading.Lock()


def _worker(settings: GradeSettings, preload: tuple[str, ...]) -> WarmWorker:
    key = (settings.tier, settings.limits, preload)
    with _WORKERS_LOCK:
        if key not in _WORKERS:
            if not _WORKERS:
                atexit.register(close_workers)
            _WORKERS[key] = WarmWorker(settings.limits, settings.tier, preload)
        return _WORKERS[key]


def close_workers() -> None:
    """Stop this process's warm workers (also run at exit)."""
    with _WORKERS_LOCK:
        for w in _WORKERS.values():
            w.close()
        _WORKERS.clear()


# ---------------------------------------------------------------------------
# The engine


def grade_with(
    path: Path | str, rubric: Rubric, oracle: Oracle, settings: GradeSettings | None = None
) -> GradeResult:
    """Grade one submission (a notebook, a module, or a folder) against ``rubric``."""
    settings = settings or GradeSettings()
    try:
        sub = load_submission(path, settings.identity_pattern, choice=code_choice(rubric))
    except SubmissionError as error:
        return ungradable(Path(path), str(error), rubric, oracle)
    code = prepare(sub, rubric.assignment.execution)
    binding = AdapterBinding.from_table(rubric.adapter)
    found: discover.Discovery | None = None
    if discover.enabled(rubric.adapter):
        binding, found = _discover(sub, code, rubric, binding, oracle, settings)
        rubric = _inline_steps(rubric, binding)
    plan = oracle.plan(binding)
    if found is not None:
        plan = _rebound(plan, binding)
    # as root: the rubric and its folder closed to the sandbox's uids (elsewhere a no-op)
    protect([rubric.path, Path(rubric.path).parent])
    hidden = _hidden_probes(rubric, plan)
    job_result, probe_source = (
        _run(sub, code, plan, binding, oracle, settings, hidden) if plan.probes else (None, b"")
    )
    timings = (
        _measure_timing(
            rubric,
            plan,
            job_result,
            lambda only: _run(sub, code, plan, binding, oracle, settings, hidden, only)[0],
        )
        if job_result is not None
        else {}
    )
    # from here on no student process is alive: expected values may exist
    views = _views(plan, job_result, code, binding, probe_source, timings)
    exp = oracle.expectations(plan, views)
    checks = _blame_syntax_errors(_judge(rubric, plan, views, exp), sub, code)
    return GradeResult(
        submission=SubmissionRef(sub.identity, str(sub.path), sub.content_hash),
        status="graded",
        checks=checks,
        score=score(rubric, checks),
        provenance={
            **_provenance(rubric, oracle, settings, job_result),
            "check_seconds": _check_seconds(plan, job_result),
            **({"binding": found.as_json() | {"sentence": found.sentence()}} if found else {}),
        },
        notes=(sub.choice_note, *_notes(code, job_result, plan, checks))
        if sub.choice_note
        else _notes(code, job_result, plan, checks),
        stdout=job_result.stdout_excerpt if job_result else "",
        stderr=job_result.stderr_excerpt if job_result else "",
        # with hidden checks, a student sees only what was printed while public probes ran
        public_stdout=job_result.public_stdout if job_result and hidden else None,
        public_stderr=job_result.public_stderr if job_result and hidden else None,
        figures=_figures(rubric, views, checks, exp) if settings.figures else (),
    )


def _discover(
    sub: Submission,
    code: PreparedCode,
    rubric: Rubric,
    fallback: AdapterBinding,
    oracle: Oracle,
    settings: GradeSettings,
) -> tuple[AdapterBinding, discover.Discovery | None]:
    """The binding discovery keeps (grader.adapters.discover), and how it was confirmed.

    One job runs only the setup, for the child's report of the submission's classes;
    each proposal, best first, is then asked the rubric's forward and gradient checks
    in a job of its own (the oracle's ``confirmation``), and the first that passes them
    all is kept, else the one passing most. With nothing to propose the rubric's
    binding stands as written (its checks then say what is missing)."""
    empty = JobPlan((), {}, {}, {})
    job, _ = _run(sub, code, empty, fallback, oracle, settings)
    if job.setup_status != "ok":
        return fallback, None
    proposals = discover.propose(rubric.adapter, discover.read_api(job.inventory))
    if getattr(oracle, "fixed_plan", False):
        # a kit's questions are stored in the layout of the rubric's own binding: it can ask
        # only a class of that layout (names may differ); another layout gets the rubric's
        # binding, whose checks then say what does not fit
        proposals = [p for p in proposals if _layout(p.binding) == _layout(fallback)]
    if not proposals:
        return fallback, None
    confirming = getattr(oracle, "confirmation", None)
    checker = confirming() if confirming is not None else None
    if checker is None or len(proposals) == 1:
        how = (
            "It is the submission's only class with a forward pass of a known name; "
            "the checks below are the evidence."
        )
        return proposals[0].binding, discover.describe(proposals[0], how, proposals[1:])
    best: tuple[int, int, discover.Proposal] | None = None
    for proposal in proposals:
        passed, asked = _confirm(sub, code, checker, proposal.binding, settings)
        if best is None or passed > best[0]:
            best = (passed, asked, proposal)
        if asked and passed == asked:
            break
    assert best is not None
    passed, asked, kept = best
    others = [p for p in proposals if p is not kept]
    if asked and passed == asked:
        how = (
            f"Confirmed: its forward pass and gradients agree with the reference's on all "
            f"{asked} forward and gradient checks, under this rubric's layout and conventions."
        )
    else:
        how = (
            f"No class passed every forward and gradient check; this one explains the most "
            f"({passed} of {asked})."
        )
    return kept.binding, discover.describe(kept, how, others)


def _layout(binding: AdapterBinding) -> tuple[str, str, str]:
    """What the arrays given to a student's class look like under ``binding``."""
    return binding.adapter_style, binding.layout, binding.bias


def _rebound(plan: JobPlan, binding: AdapterBinding) -> JobPlan:
    """The plan with every probe asking through the discovered binding (a kit's stored plan
    carries the binding its rubric had when the kit was built)."""
    adapter = binding.to_json()
    if all(p.call.params.get("adapter", adapter) == adapter for p in plan.probes):
        return plan  # the oracle planned with it already (and knows its plan by identity)
    probes = tuple(
        replace(p, call=replace(p.call, params={**p.call.params, "adapter": adapter}))
        if "adapter" in p.call.params
        else p
        for p in plan.probes
    )
    return replace(plan, probes=probes)


def _inline_steps(rubric: Rubric, binding: AdapterBinding) -> Rubric:
    """The rubric with no check waiting on a step the student's class has no method for.

    A class that does its momentum or cooling inline in ``fit`` has no method to ask: those
    checks are "not assessed" (the parent's reason), and the training run that does judge
    them (replayed, or inside the envelope) must not wait on them."""
    absent = {
        c.id for c in rubric.checks if c.probe in binding.methods and not binding.method(c.probe)
    }
    if not absent:
        return rubric
    checks = tuple(
        replace(c, requires=tuple(r for r in c.requires if r not in absent)) for c in rubric.checks
    )
    return replace(rubric, checks=checks)


def _confirm(
    sub: Submission,
    code: PreparedCode,
    checker: Oracle,
    binding: AdapterBinding,
    settings: GradeSettings,
) -> tuple[int, int]:
    """(checks passed, checks asked) of the confirming oracle's rubric under ``binding``."""
    rubric = getattr(checker, "rubric")  # noqa: B009 (the confirming oracle's own rubric)
    plan = checker.plan(binding)
    if not plan.probes:
        return 0, 0
    job, source = _run(sub, code, plan, binding, checker, settings)
    views = _views(plan, job, code, binding, source)
    exp = checker.expectations(plan, views)
    checks = _judge(rubric, plan, views, exp)
    return sum(c.status == "passed" for c in checks), len(checks)


def code_choice(rubric: Rubric) -> CodeChoice:
    """How to pick the notebook of a folder holding several: the rubric's pattern, then
    the file defining the bound class (or, for function styles, the bound functions).
    A broken [adapter] table gives no names here; grading reports it as before."""
    try:
        binding = AdapterBinding.from_table(rubric.adapter)
    except BindingError:
        return CodeChoice(rubric.assignment.submission_file)
    names = (binding.class_name,) if binding.class_name else tuple(binding.methods.values())
    return CodeChoice(rubric.assignment.submission_file, names)


def ungradable(path: Path, reason: str, rubric: Rubric, oracle: Oracle) -> GradeResult:
    """The result of a submission that could not be read."""
    identity = path.name if path.is_dir() else path.stem
    return GradeResult(
        SubmissionRef(identity, str(path)),
        "ungradable",
        reason=reason,
        provenance=_provenance(rubric, oracle, None, None),
    )


def _hidden_probes(rubric: Rubric, plan: JobPlan) -> frozenset[str]:
    """The probes that serve at least one hidden check."""
    hidden = {c.id for c in rubric.checks if c.visibility == "hidden"}
    return frozenset(p.call.id for p in plan.probes if hidden.intersection(p.checks))


def _job_calls(plan: JobPlan, hidden: frozenset[str]) -> tuple[ProbeCall, ...]:
    """The plan's calls as the sandbox runs them: probes of public checks first (what is
    printed while they run may be shown to the student, and nothing of a hidden probe has
    reached the child by then), hidden ones after; a timing probe's baseline arrays go to
    its baseline run, the rest to the probe."""
    calls = []
    for call in sorted(plan.calls, key=lambda c: c.id in hidden):
        base = tuple(
            n for n in call.inputs if n.removeprefix(call.input_prefix).startswith("base_")
        )
        if call.call == "timing":
            kept = tuple(n for n in call.inputs if n not in base)
            call = replace(call, inputs=kept, baseline=base)
        calls.append(replace(call, public=call.id not in hidden))
    return tuple(calls)


def _run(
    sub: Submission,
    code: PreparedCode,
    plan: JobPlan,
    binding: AdapterBinding,
    oracle: Oracle,
    settings: GradeSettings,
    hidden: frozenset[str] = frozenset(),
    only: frozenset[str] | None = None,
) -> tuple[JobResult, bytes]:
    """The plan's probes in one sandboxed job (``only``: just these probe ids), and the probe
    module's source (the parent replays it to decide "not assessed"); the child is gone when
    this returns."""
    tier = resolve_tier(settings.tier, settings.min_tier)  # below the minimum: nothing runs
    data = {}
    if sub.root is not None:
        data = {f.path: (sub.root / f.path).read_bytes() for f in sub.data_files}
    with tempfile.TemporaryDirectory(prefix="grader-probes-") as tmp:
        module = oracle.probe_module(binding, Path(tmp))
        calls = tuple(c for c in _job_calls(plan, hidden) if only is None or c.id in only)
        job = Job(code.source, calls, plan.inputs, module, plan.output_specs, data)
        source = module.read_bytes()
        if settings.warm:
            return _worker(settings, preload_for(code.source)).run(job), source
        # grade-one started a worker of this configuration before it planned: its one job
        prestarted = take_prestarted(settings.limits, tier)
        if prestarted is not None:
            try:
                return prestarted.run(job), source
            finally:  # its job's processes are gone: it ends while this process judges
                prestarted.release()
        return run_job(job, settings.limits, settings.tier), source


def _timing_limits(rubric: Rubric, plan: JobPlan) -> dict[str, float]:
    """Timing probe id -> the strictest time ratio its checks allow."""
    limits: dict[str, float] = {}
    for p in plan.probes:
        if p.call.call != "timing":
            continue
        ratios = [
            float(rubric.check(c).params.get("max_ratio", DEFAULT_MAX_RATIO))
            for c, pid in plan.probe_of.items()
            if pid == p.call.id
        ]
        if ratios:
            limits[p.call.id] = min(ratios)
    return limits


def _measured(job: JobResult, probe_id: str) -> tuple[float, float] | None:
    """(probe seconds, baseline seconds) of a timing probe that answered, else None."""
    try:
        outcome = job.outcome(probe_id)
    except KeyError:
        return None
    baseline = job.baselines.get(probe_id)
    if outcome.status != "ok" or not baseline or baseline <= 0 or outcome.seconds <= 0:
        return None
    return (outcome.seconds, baseline)


def _measure_timing(
    rubric: Rubric,
    plan: JobPlan,
    job: JobResult,
    run_again: Callable[[frozenset[str]], JobResult],
) -> dict[str, tuple[tuple[float, float], ...]]:
    """Every timing probe's measurements: the job's, and while they leave the verdict in
    doubt (grader.checks.timing_verdict: over the limit, not yet confirmed), the probe
    measured again in a fresh job of its own, at most TIMING_MEASUREMENTS in all. The
    grader's clock is shared with the machine's other work: one slow measurement is a
    doubt about the clock, never a verdict on the student's code."""
    if job.setup_status != "ok":
        return {}
    out: dict[str, tuple[tuple[float, float], ...]] = {}
    for pid, limit in _timing_limits(rubric, plan).items():
        first = _measured(job, pid)
        if first is None:
            continue
        pairs = [first]
        while (
            len(pairs) < TIMING_MEASUREMENTS
            and timing_verdict([s / b for s, b in pairs], limit) == "unsure"
        ):
            again = run_again(frozenset({pid}))
            pair = _measured(again, pid) if again.setup_status == "ok" else None
            if pair is None:  # the re-run itself failed: what was measured stands
                break
            pairs.append(pair)
        out[pid] = tuple(pairs)
    return out


# ---------------------------------------------------------------------------
# Raw outcomes -> what the checks read


_SUBMISSION_LINE = re.compile(r'"?submission\.py"?, line (\d+)')


def _student_lines(text: str, code: PreparedCode) -> str:
    """Traceback lines of the prepared source -> the student's cell and line."""
    return _SUBMISSION_LINE.sub(lambda m: code.where(int(m.group(1))), text)


def _view(
    outcome: ProbeOutcome, call: str, binding: AdapterBinding, code: PreparedCode, timeout: float
) -> ProbeView:
    error, tb = _student_lines(outcome.error, code), _student_lines(outcome.traceback, code)
    if outcome.status != "ok":
        return ProbeView.from_outcome(outcome.status, {}, error, tb, timeout=timeout)
    try:
        arrays = to_canonical(call, binding, outcome.arrays)
    except (ValueError, KeyError, IndexError) as e:  # the student's arrays do not fit the layout
        return ProbeView.from_outcome("invalid", {}, f"your outputs could not be read: {e}")
    names = display_names(call, binding)
    return ProbeView.from_outcome("ok", arrays, timeout=timeout, display_names=names)


def _setup_view(job: JobResult, code: PreparedCode, timeout: float) -> ProbeView:
    """Every probe's view when the submission itself failed to load."""
    where = WHILE_LOADING
    error = _student_lines(job.setup_error, code)
    tb = _student_lines(job.setup_traceback, code)
    if job.setup_status == "error":
        return ProbeView.from_outcome("error", {}, error, tb, detail=where, timeout=timeout)
    status = job.setup_status if job.setup_status in ("timeout", "killed") else "missing"
    what = f"{error} ({where})" if error else f"your code stopped {where}"
    return ProbeView.from_outcome(status, {}, what, tb, timeout=timeout)


def _support(
    plan: JobPlan, job: JobResult, binding: AdapterBinding, probe_source: bytes
) -> Support | None:
    """The parent's "not assessed" decisions for the probes that raised (None: none did)."""
    outcomes = {p.id: p.status for p in job.probes}
    if "error" not in outcomes.values() or job.setup_status != "ok":
        return None
    probes = {
        p.call.id: (
            p.call.call,
            p.call.params,
            {n.removeprefix(p.call.input_prefix): plan.inputs[n] for n in p.call.inputs},
        )
        for p in plan.probes
    }
    module = support.probe_module(probe_source)
    return Support(probes, outcomes, job.inventory, module, binding.class_name)


def _views(
    plan: JobPlan,
    job: JobResult | None,
    code: PreparedCode,
    binding: AdapterBinding,
    probe_source: bytes = b"",
    timings: Mapping[str, tuple[tuple[float, float], ...]] | None = None,
) -> dict[str, ProbeView]:
    """Check id -> the view of its probe's outcome (checks the plan could not build: none);
    ``timings``: each timing probe's measurements (:func:`_measure_timing`)."""
    by_probe: dict[str, ProbeView] = {}
    decided = _support(plan, job, binding, probe_source) if job is not None else None
    for p in plan.probes:
        if job is None:
            continue
        if job.setup_status != "ok":
            by_probe[p.call.id] = _setup_view(job, code, p.call.timeout)
            continue
        try:
            outcome = job.outcome(p.call.id)
        except KeyError:
            by_probe[p.call.id] = ProbeView("missing", detail="the probe did not run")
            continue
        view = _view(outcome, p.call.call, binding, code, p.call.timeout)
        if decided is not None and view.status == "error":
            view = replace(view, unsupported=decided.reason(p.call.id))
        if view.status == "error" and not view.unsupported:  # a record fit did not set
            unset = support.unset_attribute(
                p.call.call, view.error_type, view.error_message, binding
            )
            view = replace(view, unsupported=unset)
        if view.status == "error" and not view.unsupported:  # one step of fit refused
            refused = support.fit_step_refused(binding, p.call.call, view.error_type)
            refused = refused or support.params_refused(binding, view.error_type)
            refused = refused or support.draws_refused(binding, p.call.call, view.error_type)
            view = replace(view, unsupported=refused)
        if p.call.call == "timing" and view.status == "ok":
            view = _timed(view, outcome.seconds, job.baselines.get(p.call.id))
            view = replace(view, measurements=(timings or {}).get(p.call.id, ()))
        by_probe[p.call.id] = view
    return {c: by_probe[pid] for c, pid in plan.probe_of.items() if pid in by_probe}


def _timed(view: ProbeView, seconds: float, baseline: float | None) -> ProbeView:
    """Add the two times of a timing probe, both on the supervisor's clock: the probe's
    (its command sent -> its answer, outputs included, received) and its baseline's (the
    same calls of a vectorised workload, run in the same child before the submission was
    loaded). Nothing the submission can write goes into either."""
    times = {"student_seconds": np.array(seconds)}
    if baseline is not None:
        times["baseline_seconds"] = np.array(baseline)
    return replace(view, outputs={**view.outputs, **times})


def _judge(
    rubric: Rubric, plan: JobPlan, views: Mapping[str, ProbeView], exp: Expectations
) -> tuple[CheckResult, ...]:
    """Every check, then the checks the plan could not build marked as the rubric's problem."""
    results = evaluate_all(rubric, views, exp.expected, exp.candidates, exp.penalties)
    return tuple(
        _rubric_problem(r, plan.problems[r.check_id]) if r.check_id in plan.problems else r
        for r in results
    )


def _rubric_problem(result: CheckResult, reason: str) -> CheckResult:
    return replace(result, status="error", evidence=(reason,), reason=reason, points=0.0)


# ---------------------------------------------------------------------------
# Pictures, notes, provenance


def _figures(
    rubric: Rubric,
    views: Mapping[str, ProbeView],
    checks: tuple[CheckResult, ...],
    exp: Expectations,
) -> tuple[Figure, ...]:
    """Pictures of the evidence: per-array gradient error and, for a failed gradient check,
    its worst array against the correct one; the training curves whenever the training
    ran, also when its check could not be assessed (a student sees their own run)."""
    out: list[Figure] = []
    for result in checks:
        spec = rubric.check(result.check_id)
        view = views.get(spec.id)
        ran = view is not None and view.status == "ok"
        if spec.probe == "train" and view is not None and ran:
            out += _training_figures(spec, view, exp, result.status == "passed")
        if spec.probe == "converge" and view is not None and ran:
            out += _envelope_figure(spec, view, exp)
        if not result.assessed:
            continue
        errors = {
            c.display_name or c.name: c.measures.rel_error_max
            for c in result.comparisons
            if c.measures is not None
        }
        if spec.probe == "gradients" and errors:
            out.append(
                gradient_error(
                    errors,
                    spec.compare.rtol,
                    id=f"gradient_error-{spec.id}",
                    check_id=spec.id,
                    caption=f"{spec.title}: each bar is one array's largest relative error "
                    f"against the reference (log scale); the marks are this check's tolerance "
                    f"({spec.compare.rtol:g}). Bars at or below the marks pass.",
                )
            )
        if spec.probe == "gradients" and result.status == "failed" and view is not None:
            out += _scatter_figure(spec, view, result, exp)
    return tuple(out)


def _scatter_figure(
    spec: CheckSpec, view: ProbeView, result: CheckResult, exp: Expectations
) -> list[Figure]:
    """The failed array that points furthest from the correct one, entry by entry."""
    failed = [c for c in result.comparisons if not c.passed and c.measures is not None]
    if not failed:
        return []
    worst = min(
        failed,
        key=lambda c: c.measures.cosine if c.measures and c.measures.cosine is not None else 1.0,
    )
    mine = np.asarray(view.outputs.get(worst.name, ()), dtype=float)
    right = np.asarray(exp.expected.get(spec.id, {}).get(worst.name, ()), dtype=float)
    if mine.size == 0 or mine.shape != right.shape:
        return []
    return [
        scatter(
            worst.display_name or worst.name,
            mine.ravel().tolist(),
            right.ravel().tolist(),
            id=f"scatter-{spec.id}",
            check_id=spec.id,
        )
    ]


def _envelope_figure(spec: CheckSpec, view: ProbeView, exp: Expectations) -> list[Figure]:
    """The student's cost per epoch inside the band of the reference's runs."""
    expected = exp.expected.get(spec.id, {})
    mine = np.asarray(view.outputs.get("cost", ()), dtype=float)
    if "cost_low" not in expected or mine.shape != np.shape(expected["cost_low"]):
        return []
    band = (np.asarray(expected["cost_low"]).tolist(), np.asarray(expected["cost_high"]).tolist())
    return [
        convergence(mine.tolist(), envelope=band, id=f"convergence-{spec.id}", check_id=spec.id)
    ]


def _training_figures(
    spec: CheckSpec, view: ProbeView, exp: Expectations, replayed: bool
) -> list[Figure]:
    out: list[Figure] = []
    expected = exp.expected.get(spec.id, {})
    mine = np.asarray(view.outputs.get("cost", ()), dtype=float)
    if "cost" in expected and mine.shape == np.shape(expected["cost"]):
        theirs = np.asarray(expected["cost"], dtype=float)
        out.append(
            convergence(
                mine.tolist(), theirs.tolist(), id=f"convergence-{spec.id}", check_id=spec.id
            )
        )
    mags = exp.magnitudes.get(spec.id)
    if replayed and mags is not None and mags.ndim == 2:
        out.append(
            gradient_magnitude(
                {f"layer {l + 1}": mags[:, l].tolist() for l in range(mags.shape[1])},
                id=f"gradient_magnitude-{spec.id}",
                check_id=spec.id,
                caption="Your training replays the reference's run exactly, so these are your "
                "network's gradients: the mean |∂J/∂W| of each layer in each epoch (log scale). "
                "A layer far below the others learns slowly: the vanishing gradients of the lecture.",
            )
        )
    return out


_MISSING = re.compile(r"defines no '([A-Za-z_]\w*)'")


def _broken_cells(code: PreparedCode) -> list[SkipNote]:
    return [s for s in code.skipped if s.kind == "syntax_error"]


def _blame_syntax_errors(
    checks: tuple[CheckResult, ...], sub: Submission, code: PreparedCode
) -> tuple[CheckResult, ...]:
    """A check "not assessed" because a function is missing fails instead when the function
    is written in a cell Python could not parse: the evidence exists, it is the error."""
    broken = _broken_cells(code)
    if not broken:
        return checks
    sources = {c.index: c.source for c in sub.cells}
    out = []
    for r in checks:
        found = _MISSING.search(r.reason) if r.status == "not_assessed" else None
        note = next(
            (
                b
                for b in broken
                if found
                and re.search(
                    rf"^\s*(def|class)\s+{found.group(1)}\b", sources.get(b.cell, ""), re.M
                )
            ),
            None,
        )
        if found is None or note is None:
            out.append(r)
            continue
        why = (
            f"your '{found.group(1)}' is in cell {note.cell + 1}, which Python cannot parse "
            f"({note.reason.split(';')[0]}, line {note.line}), so it was never defined"
        )
        out.append(
            replace(
                r,
                status="failed",
                points=0.0,
                evidence=(why,),
                reason=why,
                next_step="Run that cell on its own in Jupyter and fix the line the error points at; "
                "the cells after it cannot use what it defines until it parses.",
            )
        )
    return tuple(out)


def _notes(
    code: PreparedCode, job: JobResult | None, plan: JobPlan, checks: Sequence[CheckResult]
) -> tuple[str, ...]:
    notes: list[str] = [
        f"Cell {b.cell + 1} has a syntax error at line {b.line} ({b.reason.split(';')[0]}): "
        "nothing in it ran. Fix it first."
        for b in _broken_cells(code)
    ]
    if job is not None and job.notice:
        notes.append(job.notice)
    skipped = _skipped_note(code, checks)
    if skipped:
        notes.append(skipped)
    notes.extend(code.warnings)
    notes.extend(plan.problems.values())
    return tuple(notes)


def _check_seconds(plan: JobPlan, job: JobResult | None) -> dict[str, float]:
    """Check id -> its share of its probe's time in the child (JUnit's per-test time).

    A probe serving k checks gives each a k-th of its time, so the shares add up
    to the time the probes took.
    """
    if job is None:
        return {}
    users: dict[str, int] = {}
    for probe_id in plan.probe_of.values():
        users[probe_id] = users.get(probe_id, 0) + 1
    seconds: dict[str, float] = {}
    for check_id, probe_id in plan.probe_of.items():
        try:
            spent = job.outcome(probe_id).seconds
        except KeyError:  # the probe never ran (the submission failed to load)
            continue
        seconds[check_id] = round(spent / users[probe_id], 4)
    return seconds


def _skipped_note(code: PreparedCode, checks: Sequence[CheckResult]) -> str:
    """What was not run, in the student's terms; the list itself only where it matters."""
    if not code.skipped:
        return ""
    n = len(code.skipped)
    statements = "statement" if n == 1 else "statements"
    shown = [str(s) for s in code.skipped[:MAX_SKIP_NOTES]]
    listed = "; ".join(shown) + (f"; and {n - len(shown)} more" if n > len(shown) else "")
    if code.mode != "definitions":
        return f"{n} {statements} did not run: {listed}"
    # A skipped statement matters only when a kept function needs what it sets: the
    # prepare step warned so, or a check failed on an undefined name.
    needed = bool(code.warnings) or any(
        c.status == "failed" and "NameError" in " ".join(c.evidence) for c in checks
    )
    if not needed:
        examples = ", ".join(f"`{note.text}`" for note in code.skipped[:2])
        return (
            f"As intended, only your imports, functions, classes and constants were run, not "
            f"the {n} other top-level {statements} (training, plots, prints: {examples}"
            f"{', ...' if n > 2 else ''}): the grader calls your functions itself, with its "
            "own inputs."
        )
    return (
        f"Only your imports, functions, classes and constants were run, not the {n} other "
        f"top-level {statements}, so a function that uses a variable one of them sets fails "
        f"with a NameError: set it inside the function, or as a constant. Not run: {listed}"
    )


def _provenance(
    rubric: Rubric, oracle: Oracle, settings: GradeSettings | None, job: JobResult | None
) -> dict[str, Any]:
    return {
        "grader": grader.__version__,
        "seeds": {c.id: int(c.params.get("seed", 0)) for c in rubric.checks},
        **oracle.provenance(),  # its own "seeds" where it drew the problems afresh
        "rubric": rubric.path,
        "rubric_hash": rubric.content_hash,
        "python": platform.python_version(),
        "numpy": np.__version__,
        **tier_fields(job.tier if job is not None else None),
        # why no stronger tier ran, said where it was graded ("" for the strongest)
        "sandbox_unavailable": why_not_stronger(job.tier) if job is not None else None,
        "worker": job.worker if job is not None else None,
        "limits_tier": job.limits_tier if job is not None else None,
        "sandbox_seconds": round(job.wall_seconds, 4) if job is not None else None,
        "warm": settings.warm if settings is not None else None,
    }


__all__ = [
    "Expectations",
    "GradeSettings",
    "JobPlan",
    "Oracle",
    "PlannedCall",
    "close_workers",
    "grade_with",
    "ungradable",
]
