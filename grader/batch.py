"""Grade a class: many submissions, in parallel, resumable, every one ending in a row.

    run_batch(submissions, grade_fn, out_dir)  ->  BatchSummary

    1. identify   each submission: identity (its name) and key (content + rubric + version)
    2. select     ``only`` narrows the batch; a stored result whose key still matches is
                  reused, unless the identity is in ``regrade``
    3. grade      the rest on an executor (grader.executors), ``workers`` at a time. The
                  worker that grades a submission also stores it (``results/<stem>.json``,
                  atomically) and renders its reports (``reports/<stem>.html|md``, as
                  ``outputs`` asks), then sends the parent only its row view (identity,
                  status, points per check, key: a few kB): the parent's serial work per
                  submission stays ~1 ms, whatever the number of workers. (Executors
                  whose workers do not share out_dir, Dask, send the whole result and
                  the parent stores it.) The parent-side ``on_result`` hook still runs
                  with each stored result, read back from disk.
    4. export     ``gradebook.csv`` and ``summary.md`` over every submission, graded or not,
                  also after Ctrl-C, so a stopped batch still has its gradebook; with
                  ``outputs``, the class page and Canvas's CSV. All from the row views the
                  parent holds (each stored result is read once, at selection), with the
                  instructor's overrides (``outputs.overrides``, grader.overrides) applied
                  on top: stored results never hold them. The reports of students whose
                  adjustments changed since their reports were written (``.overrides.json``
                  records what each report holds) are rendered again by the parent.

A per-submission failure (the grade function raised, its worker died, the whole
submission timed out) is stored as an ungradable result whose provenance says
``outcome: "failed"`` and why; a re-run retries it. Nothing a single submission
does stops the batch. Ctrl-C (or SIGTERM) stops the workers, keeps what is done,
and returns a summary with ``interrupted=True``: running the same command again
grades only what is missing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import hashlib
import importlib
import json
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import grader
from grader.atomic import atomic_write_text
from grader.cache import (
    Identified,
    ResultStore,
    batch_record,
    file_stem,
    identify,
    make_key,
)
from grader.cache import (
    Outcome as StoredOutcome,
)
from grader.executors import (
    Executor,
    GradeFn,
    Outcome,
    Task,
    make_executor,
)
from grader.exports.class_markdown import write_class_summary
from grader.exports.gradebook import Row, read_canvas_roster, write_canvas_csv, write_gradebook_csv
from grader.overrides import Overrides, apply_overrides
from grader.results import SCHEMA, GradeResult, SubmissionRef
from grader.rubric import Rubric
from grader.rubric_file import parse_rubric

if TYPE_CHECKING:
    from grader.pipeline import GradeSettings

KeyFn = Callable[[Path], str]
ResultHook = Callable[[GradeResult, Path], None]
Progress = bool | Literal["always"]

GRADEBOOK = "gradebook.csv"
SUMMARY = "summary.md"
CLASS_PAGE = "summary.html"
CANVAS = "canvas.csv"
REPORTS_DIR = "reports"
IDENTITIES = ".identities.json"  # one-file submissions' identities and hashes, by stamp
ADJUSTED_REPORTS = ".overrides.json"  # per student, the adjustments their reports show
ReportFormat = Literal["html", "md"]
_RENDERERS: dict[str, str] = {"html": "render_html", "md": "render_markdown"}


@dataclass(frozen=True)
class CanvasExport:
    """``canvas.csv`` for Canvas's gradebook import (grader.exports.gradebook.write_canvas_csv)."""

    assignment: str
    assignment_id: str | None = None
    identity_column: str = "SIS Login ID"
    roster: Path | None = None  # Canvas's gradebook export: fills each student's columns


@dataclass(frozen=True)
class BatchOutputs:
    """What a batch writes besides results/, gradebook.csv and summary.md (``grader grade``'s).

    reports    : each student's report per format, rendered by the worker that graded them
    class_page : summary.html, the instructor's class page, linking the HTML reports
    canvas     : canvas.csv, when given
    overrides  : the instructor's adjustments (grader.overrides.load_overrides), applied to
                 every output (gradebook, summary, class page, Canvas, reports); never stored
    """

    reports: tuple[ReportFormat, ...] = ("html", "md")
    class_page: bool = True
    canvas: CanvasExport | None = None
    overrides: Overrides | None = None


@dataclass(frozen=True)
class BatchSummary:
    """What a batch did.

    graded, ungradable, failed : submissions finished in this run, by outcome
    cached     : stored results reused (still fresh)
    pending    : submissions without a fresh result (not selected, or interrupted)
    rate       : submissions finished per second of wall time in this run
    failures   : (identity, reason) of this run's failed and ungradable submissions
    hook_errors: (identity, message) where the ``on_result`` hook raised
    rows       : one gradebook row per submission, for further exports; each row's
                 result is its row view (:func:`row_view`: no evidence, figures or output)
    class_page, canvas : the files ``outputs`` asked for (None when not written)
    canvas_warnings    : students the Canvas roster lacks
    unadjusted : (identity, why) of students whose overrides could not be applied (not graded)
    skipped    : (name, why) of the class folder's entries :func:`grade_class` did not grade
                 (notes, data files, the run's own output folder, an earlier run's)
    selected   : the identities ``only`` picked (with ``regrade``'s); empty without ``only``
    reused     : identities whose stored result was kept (fresh), so not graded again
    """

    total: int
    graded: int
    ungradable: int
    failed: int
    cached: int
    pending: int
    wall_seconds: float
    interrupted: bool
    out_dir: Path
    gradebook: Path
    summary: Path
    failures: tuple[tuple[str, str], ...] = ()
    hook_errors: tuple[tuple[str, str], ...] = ()
    rows: tuple[Row, ...] = field(default=(), repr=False)
    selected: tuple[str, ...] = ()
    reused: tuple[str, ...] = ()
    class_page: Path | None = None
    canvas: Path | None = None
    canvas_warnings: tuple[str, ...] = ()
    unadjusted: tuple[tuple[str, str], ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # grade_class: (entry, why) not graded

    @property
    def finished(self) -> int:
        return self.graded + self.ungradable + self.failed

    @property
    def rate(self) -> float:
        return self.finished / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def describe(self) -> str:
        """One line: '40 submissions: 35 graded, 2 ungradable, 1 failed, 2 cached (3.1/min)'."""
        parts = [
            f"{n} {label}"
            for n, label in (
                (self.graded, "graded"),
                (self.ungradable, "ungradable"),
                (self.failed, "failed"),
                (self.cached, "cached"),
                (self.pending, "pending"),
            )
            if n
        ]
        noun = "submission" if self.total == 1 else "submissions"
        rate = f" ({self.rate * 60:.1f}/min)" if self.finished else ""  # all cached: no rate
        return (
            f"{self.total} {noun}: {', '.join(parts) or 'nothing to do'} "
            f"in {self.wall_seconds:.1f} s{rate}"
        )


# ---------------------------------------------------------------------------
# A grade function bound to a rubric, that travels to other processes


@functools.lru_cache(maxsize=4)
def _rubric(toml: bytes, path: str) -> Rubric:
    return parse_rubric(toml, path)


@dataclass(frozen=True)
class GradeJob:
    """``grade(path, rubric, settings)`` with the rubric carried as its TOML bytes.

    A parsed Rubric holds mapping proxies, which do not pickle; its bytes do, and
    each worker parses them once. ``cache_salt`` names everything besides the
    submission that decides a result, so cached results go stale when it changes.
    """

    grade: Callable[[Path, Rubric, Any], GradeResult]
    rubric_toml: bytes
    rubric_path: str
    settings: GradeSettings | None = None
    public_only: bool = False

    @classmethod
    def from_file(
        cls,
        grade: Callable[[Path, Rubric, Any], GradeResult],
        rubric_path: Path,
        settings: GradeSettings | None = None,
        public_only: bool = False,
    ) -> GradeJob:
        """Read the rubric file; validating it is up to the caller (grader.rubric_file.load_rubric)."""
        return cls(grade, Path(rubric_path).read_bytes(), str(rubric_path), settings, public_only)

    @property
    def rubric(self) -> Rubric:
        rubric = _rubric(self.rubric_toml, self.rubric_path)
        return rubric.public() if self.public_only else rubric

    @property
    def cache_salt(self) -> str:
        fn = f"{getattr(self.grade, '__module__', '')}.{getattr(self.grade, '__qualname__', '')}"
        # The settings' fields by name (sorted JSON), not their repr: a field's default
        # or a class's repr changing does not silently keep (or drop) stored results.
        settings = (
            "null"
            if self.settings is None
            else json.dumps(dataclasses.asdict(self.settings), sort_keys=True, default=str)
        )
        text = f"{hashlib.sha256(self.rubric_toml).hexdigest()}|{settings}|{self.public_only}|{fn}"
        return hashlib.sha256(text.encode()).hexdigest()

    def __call__(self, path: Path) -> GradeResult:
        return self.grade(Path(path), self.rubric, self.settings)


# ---------------------------------------------------------------------------
# The worker's side: store the result, render its reports, answer a row view


def row_view(result: dict[str, Any]) -> dict[str, Any]:
    """What the class exports (gradebook, summary, class page, Canvas) need of a result
    dict: its identity, status, reason, score, each check's status, points and diagnosis,
    the sandbox tier and the batch record. Evidence, comparisons, figures and output
    stay in the stored file: a few kB instead of ~50."""
    provenance = result.get("provenance") or {}
    score = result.get("score")
    if score is not None:
        score = {**score, "objectives": [{**o, "evidence": []} for o in score["objectives"]]}
    return {
        **result,
        "checks": [
            {**c, "evidence": [], "comparisons": [], "feedback": "", "next_step": ""}
            for c in result.get("checks", ())
        ],
        "score": score,
        "provenance": {k: provenance[k] for k in ("sandbox_tier", "batch") if k in provenance},
        "notes": [],
        "stdout": "",
        "stderr": "",
        "figures": [],
    }


def write_reports(result: GradeResult, out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """Each of ``formats``' report of one student (a student's view), atomically; the
    renderers are imported only here (jinja2 is not needed to grade)."""
    written = []
    for ext in formats:
        render = getattr(importlib.import_module("grader.report"), _RENDERERS[ext])
        path = Path(out_dir) / REPORTS_DIR / f"{file_stem(result.submission.identity)}.{ext}"
        atomic_write_text(path, render(result))
        written.append(path)
    return written


@dataclass(frozen=True)
class WorkerOutputs:
    """A grade function that also stores its result and reports, in the worker that ran it.

    The executor calls :meth:`grade_task` (grader.executors._answer); the parent then
    receives the row view only. Holds nothing but the grade function and where to write.
    """

    grade_fn: GradeFn
    out_dir: str
    executor: str
    reports: tuple[str, ...] = ()
    shown_path: str = ""  # the path results name, when a copy is graded (Dask sends bytes)

    def __call__(self, path: Path) -> GradeResult:
        return self.grade_fn(path)

    @property
    def cache_salt(self) -> str:
        return str(getattr(self.grade_fn, "cache_salt", ""))

    def grade_task(self, task: Task) -> dict[str, Any]:
        """Grade, store, render; the answer the parent reads (grader.executors._answered)."""
        start = time.monotonic()
        result = self.grade_fn(task.path)
        if not isinstance(result, GradeResult):
            raise TypeError(f"the grade function returned {type(result).__name__}, not GradeResult")
        if self.shown_path:
            shown = dataclasses.replace(result.submission, path=self.shown_path)
            result = dataclasses.replace(result, submission=shown)
        kind: StoredOutcome = "graded" if result.status == "graded" else "ungradable"
        record = {"seconds": round(time.monotonic() - start, 3), "executor": self.executor}
        out_dir = Path(self.out_dir)
        stored = ResultStore(out_dir).save(result, task.identity, task.key, kind, **record)
        hook_error = ""
        try:
            write_reports(stored, out_dir, self.reports)
        except Exception as error:  # a renderer's bug must not lose the stored result
            hook_error = f"{type(error).__name__}: {error}"
        view = row_view(stored.to_dict())
        return {"kind": "result", "result": view, "stored": True, "hook_error": hook_error}


# ---------------------------------------------------------------------------
# Planning


@dataclass(frozen=True)
class _Entry:
    index: int
    path: Path
    identity: str
    key: str
    duplicate_of: Path | None = None


def _file_stamp(path: Path) -> list[int] | None:
    """What changes whenever a regular file's bytes do (size, times, inode); None otherwise."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _load_memo(out_dir: Path) -> dict[str, list[Any]]:
    """The last run's identities of one-file submissions (IDENTITIES), for this grader version."""
    try:
        data = json.loads((out_dir / IDENTITIES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("grader") != grader.__version__:
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


def _identify(path: Path, memo: dict[str, list[Any]], fresh: dict[str, list[Any]]) -> Identified:
    """identify(), remembered for a one-file submission while its stamp holds: loading a
    notebook (nbformat's validation) is most of a cached re-run's time. A one-file
    submission's identity and hash depend on that file alone (no data files)."""
    stamp = _file_stamp(path)
    name = os.path.abspath(path)
    if stamp is not None:
        hit = memo.get(name)
        if isinstance(hit, list) and len(hit) == 6 and hit[:4] == stamp:
            fresh[name] = hit
            return Identified(str(hit[4]), str(hit[5]))
    found = identify(path)
    if stamp is not None:
        fresh[name] = [*stamp, found.identity, found.content_hash]
    return found


def _entries(
    submissions: Sequence[Path],
    key_fn: KeyFn | None,
    identity_fn: Callable[[Path], str] | None,
    salt: str,
    out_dir: Path,
) -> tuple[list[_Entry], dict[str, list[Any]] | None]:
    """The batch's entries, and the identity memo to write when it changed."""
    entries: list[_Entry] = []
    owners: dict[str, Path] = {}  # a result file's name, case folded -> its submission
    memo = _load_memo(out_dir)
    fresh: dict[str, list[Any]] = {}
    for index, raw in enumerate(submissions):
        path = Path(raw)
        if key_fn is None or identity_fn is None:
            found = _identify(path, memo, fresh)  # one load gives both
            identity = identity_fn(path) if identity_fn else found.identity
            key = key_fn(path) if key_fn else make_key(found.content_hash, salt)
        else:
            identity, key = identity_fn(path), key_fn(path)
        stem = file_stem(identity).casefold()
        entries.append(_Entry(index, path, identity, key, owners.get(stem)))
        owners.setdefault(stem, path)
    return entries, (fresh if fresh != memo else None)


def _check_names(names: Iterable[str] | None, entries: Sequence[_Entry], option: str) -> set[str]:
    """The identities ``names`` select: each an identity, or a submission's file or folder
    name (``alice.ipynb``, ``submissions/alice/``); every name that selects nobody is
    reported at once, each with the closest identity."""
    known = [e.identity for e in entries]
    by_name = {alias: e.identity for e in entries for alias in (e.path.stem, e.path.name)}
    by_name |= {identity: identity for identity in known}  # an identity wins over a file name
    wanted: set[str] = set()
    unknown: list[str] = []
    for name in names or ():
        found = by_name.get(name) or by_name.get(Path(name).name)
        if found is None:
            unknown.append(name)
        else:
            wanted.add(found)
    if unknown:
        described = []
        for name in unknown:
            close = difflib.get_close_matches(Path(name).stem, known, n=1)
            described.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ValueError(f"{option}: no submission is named {', '.join(described)}")
    return wanted


# ---------------------------------------------------------------------------
# Outcomes -> stored results


def _failure_result(entry: _Entry, reason: str) -> GradeResult:
    return GradeResult(
        submission=SubmissionRef(entry.identity, str(entry.path)),
        status="ungradable",
        reason=reason,
    )


def _to_result(entry: _Entry, outcome: Outcome) -> tuple[GradeResult, StoredOutcome]:
    """The result to store, and its outcome (graded / ungradable / failed)."""
    if outcome.kind == "result" and outcome.result is not None:
        try:
            result = GradeResult.from_dict(outcome.result)
        except (ValueError, KeyError, TypeError) as error:
            return _failure_result(
                entry, f"the grader returned a result it cannot read back ({error})"
            ), "failed"
        return result, "graded" if result.status == "graded" else "ungradable"
    return _failure_result(entry, outcome.reason), "failed"


# ---------------------------------------------------------------------------
# Progress


class _Bar:
    """A tqdm bar on stderr (rate and ETA), or nothing when tqdm or a terminal is missing."""

    def __init__(self, total: int, progress: Progress) -> None:
        self.bar: Any = None
        if progress is False or total == 0:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self.bar = tqdm(
            total=total,
            desc="grading",
            unit="sub",
            file=sys.stderr,
            dynamic_ncols=True,
            disable=None if progress is True else False,  # None: only on a terminal
        )

    def update(self, counts: dict[str, int], message: str = "") -> None:
        if self.bar is None:
            return
        if message and not self.bar.disable:
            self.bar.write(message, file=sys.stderr)
        self.bar.set_postfix_str(
            ", ".join(f"{n} {k}" for k, n in counts.items() if n and k != "graded"), refresh=False
        )
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI job cancelled, a scheduler's kill) stops the batch like Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------------------
# The batch


def run_batch(
    submissions: Sequence[Path],
    grade_fn: GradeFn,
    out_dir: Path,
    *,
    executor: str | Executor = "local",
    workers: int | None = None,
    timeout: float | None = None,
    scheduler: Any = None,
    only: Iterable[str] | None = None,
    regrade: Iterable[str] | Literal["all"] | None = None,
    progress: Progress = True,
    key_fn: KeyFn | None = None,
    identity_fn: Callable[[Path], str] | None = None,
    on_result: ResultHook | None = None,
    rubric: Rubric | None = None,
    title: str = "Class summary",
    outputs: BatchOutputs | None = None,
) -> BatchSummary:
    """Grade ``submissions`` into ``out_dir`` (module doc); returns what was done.

    Parameters
    ----------
    submissions : paths (files or folders), e.g. from grader.submission.discover_submissions
    grade_fn    : path -> GradeResult; picklable for the "local" and "dask" executors.
                  Its ``cache_salt`` attribute, when present, joins the cache key.
    executor    : "local" (default), "serial", "dask", or an Executor
    workers     : processes at once for "local" (default: this machine's CPUs)
    timeout     : seconds one submission may take in all (None: no limit)
    scheduler   : the Dask scheduler's address for "dask"
    only        : identities to grade (the others keep their stored results)
    regrade     : identities graded again even when their stored result is fresh ("all": every one)
    progress    : True: a bar on stderr when it is a terminal; "always"; False
    key_fn      : path -> cache key (default: content hash + grader version + cache_salt)
    identity_fn : path -> identity (default: grader.submission's)
    on_result   : called with each new result and ``out_dir`` (e.g. to write reports);
                  an exception there is recorded in ``hook_errors``, never fatal
    rubric      : gives the gradebook its columns in the rubric's order (and Canvas its
                  points possible)
    title       : the heading of summary.md
    outputs     : reports, class page and Canvas CSV, as ``grader grade`` writes them
                  (``BatchOutputs()``); None: results, gradebook and summary.md only

    Raises
    ------
    ValueError
        When ``only`` or ``regrade`` names no submission, or ``grade_fn`` cannot be pickled,
        or the Canvas roster cannot be read; grader.overrides.OverridesError (a ValueError)
        when an override names a student not in the batch or a check not in the rubric.
    grader.executors.ExecutorUnavailableError
        When the executor cannot run here (Dask missing, scheduler unreachable).
    """
    start = time.monotonic()
    out_dir = Path(os.path.abspath(out_dir))  # workers may not share this process's cwd
    store = ResultStore(out_dir)
    canvas = outputs.canvas if outputs is not None else None
    roster = read_canvas_roster(canvas.roster) if canvas and canvas.roster else None
    salt = getattr(grade_fn, "cache_salt", "")
    entries, memo = _entries(submissions, key_fn, identity_fn, salt, out_dir)
    identities = [e.identity for e in entries]
    overrides = outputs.overrides if outputs is not None else None
    # the rubric the results were graded with: the job's (public only, when it is)
    graded_rubric: Rubric | None = getattr(grade_fn, "rubric", None) or rubric
    if overrides is not None:
        if graded_rubric is None:
            raise ValueError("overrides need the rubric: pass run_batch(..., rubric=...)")
        overrides.validate(graded_rubric, identities)
    selected = _check_names(only, entries, "only") if only is not None else set(identities)
    forced = set(identities) if regrade == "all" else _check_names(regrade, entries, "regrade")
    selected |= forced
    if isinstance(executor, str):
        executor = make_executor(executor, workers=workers, timeout=timeout, scheduler=scheduler)
    if memo is not None:
        atomic_write_text(
            out_dir / IDENTITIES, json.dumps({"grader": grader.__version__, "files": memo})
        )
    formats = outputs.reports if outputs is not None else ()

    counts = {"graded": 0, "ungradable": 0, "failed": 0}
    failures: list[tuple[str, str]] = []
    hook_errors: list[tuple[str, str]] = []
    todo: list[_Entry] = []
    cached = 0
    reused: list[str] = []
    # Every stored result is read once, here: its row view stays, the rest is dropped,
    # so the parent's memory grows by a few kB per student, not by whole results.
    known: dict[str, Row] = {}
    for e in entries:
        if e.duplicate_of is not None:
            counts["failed"] += 1
            failures.append((e.identity, _duplicate_reason(e)))
            continue
        view = _stored_view(store, e.identity)
        if view is not None and batch_record(view).get("key") == e.key:
            known[e.identity] = Row.of(view, e.identity)
        fresh = e.identity in known and known[e.identity].status != "failed"
        if e.identity in forced or (e.identity in selected and not fresh):
            todo.append(e)
        elif fresh:
            cached += 1
            reused.append(e.identity)
    by_index = {e.index: e for e in todo}
    collected: set[str] = set()
    stored_late: set[str] = set()  # stored by a worker after the parent stopped listening
    interrupted = False
    bar = _Bar(len(todo), progress)
    job: GradeFn = grade_fn
    if getattr(executor, "stores_in_worker", False):
        job = WorkerOutputs(grade_fn, str(out_dir), executor.name, tuple(formats))
    tasks = [Task(e.index, e.path, e.identity, e.key) for e in todo]
    outcomes = executor.run(job, tasks)
    try:
        with _sigterm_as_interrupt():
            for outcome in outcomes:
                entry = by_index[outcome.task.index]
                view, kind, hook_error = _collect(entry, outcome, store, executor.name, formats)
                known[entry.identity] = Row.of(view, entry.identity)
                collected.add(entry.identity)
                counts[kind] += 1
                message = ""
                if kind != "graded":
                    failures.append((entry.identity, view.reason))
                    message = f"{entry.identity}: {kind}: {view.reason}"
                if hook_error:
                    hook_errors.append((entry.identity, hook_error))
                if on_result is not None:
                    try:
                        stored = store.load(entry.identity) if outcome.stored else None
                        on_result(stored.result if stored else view, out_dir)
                    except Exception as error:  # a report renderer's bug must not stop grading
                        hook_errors.append((entry.identity, f"{type(error).__name__}: {error}"))
                bar.update(counts, message)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()  # stops and reaps every worker still running
        bar.close()
        for entry in todo:  # stored by its worker, but stopped before the parent heard
            if entry.identity not in collected:
                late = _stored_view(store, entry.identity)
                if late is not None and _newer(late, known.get(entry.identity), entry.key):
                    known[entry.identity] = Row.of(late, entry.identity)
                    stored_late.add(entry.identity)
                    counts[known[entry.identity].status] += 1
        # Written whatever happened, even as an unexpected error propagates: what is
        # graded is in the gradebook, the rest is "pending".
        rows = [
            Row(e.identity, "failed", _duplicate_reason(e))
            if e.duplicate_of is not None
            else known.get(e.identity) or Row.pending(e.identity)
            for e in entries
        ]
        if overrides is not None and graded_rubric is not None:
            rows = [_adjusted_row(r, overrides, graded_rubric) for r in rows]
        pending = sum(r.status == "pending" for r in rows)
        gradebook = write_gradebook_csv(out_dir / GRADEBOOK, rows, rubric)
        summary = write_class_summary(out_dir / SUMMARY, rows, title=title)
    if formats:
        written_now = collected | stored_late
        hook_errors += _adjust_reports(store, rows, overrides, graded_rubric, formats, written_now)
    page = _write_class_page(rows, out_dir) if outputs is not None and outputs.class_page else None
    canvas_file, warnings = None, []
    if canvas is not None:
        canvas_file = out_dir / CANVAS
        warnings = write_canvas_csv(
            canvas_file,
            rows,
            assignment=canvas.assignment,
            assignment_id=canvas.assignment_id,
            identity_column=canvas.identity_column,
            roster=roster,
            points_possible=rubric.max_points if rubric is not None else None,
        )
    return BatchSummary(
        total=len(entries),
        graded=counts["graded"],
        ungradable=counts["ungradable"],
        failed=counts["failed"],
        cached=cached,
        pending=pending,
        wall_seconds=time.monotonic() - start,
        interrupted=interrupted,
        out_dir=out_dir,
        gradebook=gradebook,
        summary=summary,
        failures=tuple(failures),
        hook_errors=tuple(hook_errors),
        rows=tuple(rows),
        selected=tuple(sorted(selected)) if only is not None else (),
        reused=tuple(reused),
        class_page=page,
        canvas=canvas_file,
        canvas_warnings=tuple(warnings),
        unadjusted=tuple(
            (r.identity, f"not applied: the submission is {r.status} ({r.reason})")
            for r in rows
            if overrides is not None and overrides.of(r.identity) and not r.graded
        ),
    )


def grade_class(
    folder: Path | str,
    rubric_path: Path | str,
    out_dir: Path | str,
    *,
    grade: Callable[[Path, Rubric, Any], GradeResult] | None = None,
    settings: GradeSettings | None = None,
    outputs: BatchOutputs | None = None,
    executor: str | Executor = "pool",
    workers: int | None = None,
    timeout: float | None = None,
    scheduler: Any = None,
    only: Iterable[str] | None = None,
    regrade: Iterable[str] | Literal["all"] | None = None,
    progress: Progress = True,
) -> BatchSummary:
    """A class folder graded into ``out_dir`` as ``grader grade FOLDER --rubric R --out O``
    grades it: the same files (results, each student's HTML and Markdown report, the
    gradebook, summary.md, the class page; with ``outputs.canvas`` Canvas's CSV, with
    ``outputs.overrides`` the adjustments in every one), and the same checks first.

    Every visible entry of ``folder`` is a submission but notes, data files, ``out_dir``
    itself and an earlier run's output (``BatchSummary.skipped`` says which and why,
    grader.submission.scan_class_folder). ``grade`` defaults to the instructor's
    grader.grade.grade_submission with ``settings`` (default: a warm sandbox worker per
    grading process, the best tier here); ``outputs`` defaults to ``BatchOutputs()``.
    As root, under the uid tier, the folder, the output folder and the rubric are closed to
    the sandbox's users before anything is graded. The other parameters are
    :func:`run_batch`'s.

    Raises
    ------
    grader.rubric.RubricError          the rubric is not valid
    grader.submission.SubmissionError  ``folder`` is not a folder
    grader.sandbox.tiers.SandboxUnavailableError
        no sandbox tier here reaches ``settings.min_tier`` (nothing is written)
    ValueError
        ``out_dir`` is a file, ``folder`` holds no submission, ``timeout`` is shorter
        than the rubric's own limits (a looping submission would be reported as the
        grader's failure), or :func:`run_batch`'s reasons
    """
    from grader.rubric_file import load_rubric
    from grader.sandbox.privilege import protect
    from grader.sandbox.tiers import resolve_tier
    from grader.submission import scan_class_folder

    rubric = load_rubric(rubric_path)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; the results need a folder (new or existing)")
    listing = scan_class_folder(folder, exclude=[out])
    paths = [e if isinstance(e, Path) else e.path for e in listing.submissions]
    if not paths:
        raise ValueError(f"{folder} holds no submissions.")
    if grade is None:
        from grader.grade import grade_submission
        from grader.pipeline import GradeSettings

        grade, settings = grade_submission, settings or GradeSettings(warm=True)
    if timeout and timeout < (bound := time_bound(rubric, settings)):
        raise ValueError(
            f"a timeout of {timeout:g} s is shorter than this rubric's own limits ({bound:g} s: "
            "the sandbox's start and every probe's timeout)"
        )
    tier = resolve_tier(settings.tier, settings.min_tier) if settings is not None else None
    out.mkdir(parents=True, exist_ok=True)
    if tier == "uid":
        protect([Path(folder), out, Path(rubric_path)])
    summary = run_batch(
        paths,
        GradeJob.from_file(grade, Path(rubric_path), settings),
        out,
        executor=executor,
        workers=workers,
        timeout=timeout,
        scheduler=scheduler,
        only=only,
        regrade=regrade,
        progress=progress,
        rubric=rubric,
        title=f"Class summary: {rubric.assignment.title}",
        outputs=outputs if outputs is not None else BatchOutputs(),
    )
    skipped = tuple((entry.name, why) for entry, why in listing.skipped)
    return dataclasses.replace(summary, skipped=skipped)


def time_bound(rubric: Rubric, settings: GradeSettings | None) -> float:
    """The longest one submission may run by the rubric's own limits (grader.plan.time_bound),
    under ``settings``' sandbox limits (the sandbox's defaults without settings)."""
    from grader.plan import time_bound as bound
    from grader.sandbox import Limits

    return bound(rubric, settings.limits if settings is not None else Limits())


def _stored_view(store: ResultStore, identity: str) -> GradeResult | None:
    """The row view of a stored result, or None when missing or unreadable (re-graded)."""
    try:
        text = store.path(identity).read_text(encoding="utf-8")
        return GradeResult.from_dict(row_view(json.loads(text)))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _newer(view: GradeResult, before: Row | None, key: str) -> bool:
    """Whether ``view`` was stored in this run, for ``key`` (not the result selection saw)."""
    record = batch_record(view)
    if record.get("key") != key:
        return False
    return before is None or before.result is None or batch_record(before.result) != record


def _collect(
    entry: _Entry, outcome: Outcome, store: ResultStore, executor: str, formats: Sequence[str]
) -> tuple[GradeResult, StoredOutcome, str]:
    """The row view of one outcome, its kind, and a report's error ("" when none).

    A worker that stored its result sent the row view; any other outcome (a failure, or
    an executor whose workers do not see out_dir) is stored here, reports included.
    """
    if outcome.stored and outcome.result is not None and outcome.result.get("schema") == SCHEMA:
        try:
            view = GradeResult.from_dict(outcome.result)
        except (ValueError, KeyError, TypeError):
            pass
        else:
            kind: StoredOutcome = "graded" if view.status == "graded" else "ungradable"
            return view, kind, outcome.hook_error
    result, kind = _to_result(entry, outcome)
    record: dict[str, Any] = {"seconds": round(outcome.seconds, 3), "executor": executor}
    if outcome.detail:
        record["detail"] = outcome.detail
    stored = store.save(result, entry.identity, entry.key, kind, **record)
    hook_error = ""
    try:
        write_reports(stored, store.root.parent, formats)
    except Exception as error:  # a report renderer's bug must not stop grading
        hook_error = f"{type(error).__name__}: {error}"
    return GradeResult.from_dict(row_view(stored.to_dict())), kind, hook_error


def _adjusted_row(row: Row, overrides: Overrides, rubric: Rubric) -> Row:
    """The row with the student's adjustments applied to its result (grader.overrides)."""
    if row.result is None or not overrides.of(row.identity):
        return row
    return dataclasses.replace(row, result=apply_overrides(row.result, overrides, rubric))


def _adjust_reports(
    store: ResultStore,
    rows: Sequence[Row],
    overrides: Overrides | None,
    rubric: Rubric | None,
    formats: Sequence[str],
    written_now: set[str],
) -> list[tuple[str, str]]:
    """Render again the reports that do not show the student's current adjustments.

    ``ADJUSTED_REPORTS`` records, per student, the adjustments (a digest) their reports
    on disk show; reports written in this run by the grading worker show none. Only the
    students whose record differs from the file's adjustments are read and rendered, so
    a batch pays for the overridden students alone. Returns (identity, error) per failure.
    """
    path = store.root.parent / ADJUSTED_REPORTS
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    if not isinstance(record, dict):
        record = {}
    before = dict(record)
    for identity in written_now:
        record.pop(identity, None)
    errors = []
    for row in rows:
        want = overrides.digest(row.identity) if overrides is not None else ""
        if record.get(row.identity, "") == want:
            continue
        stored = store.load(row.identity)
        if stored is None:
            continue
        result = stored.result
        if overrides is not None and rubric is not None:
            result = apply_overrides(result, overrides, rubric)
        try:
            write_reports(result, store.root.parent, formats)
        except Exception as error:  # a renderer's bug costs that student's report only
            errors.append((row.identity, f"{type(error).__name__}: {error}"))
            continue
        if want:
            record[row.identity] = want
        else:
            record.pop(row.identity, None)
    if record != before:
        atomic_write_text(path, json.dumps(record, sort_keys=True))
    return errors


def _write_class_page(rows: Sequence[Row], out_dir: Path) -> Path | None:
    """summary.html over the graded rows, linking each student's HTML report that exists."""
    results = [r.result for r in rows if r.result is not None]
    if not results:
        return None
    from grader.report import render_class_summary  # jinja2: only for a batch that asks

    reports = {p.name for p in (out_dir / REPORTS_DIR).glob("*.html")}
    links = {
        r.identity: f"{REPORTS_DIR}/{file_stem(r.identity)}.html"
        for r in rows
        if f"{file_stem(r.identity)}.html" in reports
    }
    path = out_dir / CLASS_PAGE
    atomic_write_text(path, render_class_summary(results, links))
    return path


def _duplicate_reason(e: _Entry) -> str:
    assert e.duplicate_of is not None
    return (
        f"{e.path.name} has the same identity ({e.identity}) as {e.duplicate_of.name}; "
        "rename one of them and run the batch again"
    )


def resume_hint(argv: Sequence[str] | None = None) -> str:
    """What to tell the user after an interrupted batch."""
    command = " ".join(argv) if argv else "the same command"
    return f"stopped; finished results are kept. To grade the rest, run {command} again."


__all__ = [
    "BatchOutputs",
    "BatchSummary",
    "CanvasExport",
    "GradeJob",
    "WorkerOutputs",
    "resume_hint",
    "run_batch",
]
