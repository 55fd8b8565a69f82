"""Grade a class: many submissions, in parallel, resumable, every one ending in a row.

    run_batch(submissions, grade_fn, out_dir)  ->  BatchSummary

    1. identify   each submission: identity (its name) and key (content + rubric + version)
    2. select     ``only`` narrows the batch; a stored result whose key still matches is
                  reused, unless the identity is in ``regrade``
    3. grade      the rest on an executor (grader.executors), ``workers`` at a time; each
                  result is written to ``results/<identity>.json`` as it finishes, then the
                  ``on_result`` hook runs (per-student reports)
    4. export     ``gradebook.csv`` and ``summary.md`` over every submission, graded or not,
                  also after Ctrl-C, so a stopped batch still has its gradebook

A per-submission failure (the grade function raised, its worker died, the whole
submission timed out) is stored as an ungradable result whose provenance says
``outcome: "failed"`` and why; a re-run retries it. Nothing a single submission
does stops the batch. Ctrl-C (or SIGTERM) stops the workers, keeps what is done,
and returns a summary with ``interrupted=True``: running the same command again
grades only what is missing.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import hashlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from grader.cache import (
    Outcome as StoredOutcome,
)
from grader.cache import (
    ResultStore,
    file_stem,
    identify,
    make_key,
)
from grader.executors import (
    Executor,
    GradeFn,
    Outcome,
    Task,
    make_executor,
)
from grader.exports.gradebook import Row, write_gradebook_csv
from grader.exports.summary import write_class_summary
from grader.results import GradeResult, SubmissionRef
from grader.rubric import Rubric, parse_rubric

KeyFn = Callable[[Path], str]
ResultHook = Callable[[GradeResult, Path], None]
Progress = bool | Literal["always"]

GRADEBOOK = "gradebook.csv"
SUMMARY = "summary.md"


@dataclass(frozen=True)
class BatchSummary:
    """What a batch did.

    graded, ungradable, failed : submissions finished in this run, by outcome
    cached     : stored results reused (still fresh)
    pending    : submissions without a fresh result (not selected, or interrupted)
    rate       : submissions finished per second of wall time in this run
    failures   : (identity, reason) of this run's failed and ungradable submissions
    hook_errors: (identity, message) where the ``on_result`` hook raised
    rows       : one gradebook row per submission, for further exports (Canvas)
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
    settings: Any = None
    public_only: bool = False

    @classmethod
    def from_file(
        cls,
        grade: Callable[[Path, Rubric, Any], GradeResult],
        rubric_path: Path,
        settings: Any = None,
        public_only: bool = False,
    ) -> GradeJob:
        """Read the rubric file; validating it is up to the caller (grader.rubric.load_rubric)."""
        return cls(grade, Path(rubric_path).read_bytes(), str(rubric_path), settings, public_only)

    @property
    def rubric(self) -> Rubric:
        rubric = _rubric(self.rubric_toml, self.rubric_path)
        return rubric.public() if self.public_only else rubric

    @property
    def cache_salt(self) -> str:
        fn = f"{getattr(self.grade, '__module__', '')}.{getattr(self.grade, '__qualname__', '')}"
        text = f"{hashlib.sha256(self.rubric_toml).hexdigest()}|{self.settings!r}|{self.public_only}|{fn}"
        return hashlib.sha256(text.encode()).hexdigest()

    def __call__(self, path: Path) -> GradeResult:
        return self.grade(Path(path), self.rubric, self.settings)


# ---------------------------------------------------------------------------
# Planning


@dataclass(frozen=True)
class _Entry:
    index: int
    path: Path
    identity: str
    key: str
    duplicate_of: Path | None = None


def _plan(
    submissions: Sequence[Path],
    key_fn: KeyFn | None,
    identity_fn: Callable[[Path], str] | None,
    salt: str,
) -> list[_Entry]:
    entries: list[_Entry] = []
    owners: dict[str, Path] = {}  # a result file's name, case folded -> its submission
    for index, raw in enumerate(submissions):
        path = Path(raw)
        if key_fn is None or identity_fn is None:
            found = identify(path)  # one load gives both
            identity = identity_fn(path) if identity_fn else found.identity
            key = key_fn(path) if key_fn else make_key(found.content_hash, salt)
        else:
            identity, key = identity_fn(path), key_fn(path)
        stem = file_stem(identity).casefold()
        entries.append(_Entry(index, path, identity, key, owners.get(stem)))
        owners.setdefault(stem, path)
    return entries


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
    rubric      : gives the gradebook its columns in the rubric's order
    title       : the heading of summary.md

    Raises
    ------
    ValueError
        When ``only`` or ``regrade`` names no submission, or ``grade_fn`` cannot be pickled.
    grader.executors.ExecutorUnavailableError
        When the executor cannot run here (Dask missing, scheduler unreachable).
    """
    start = time.monotonic()
    out_dir = Path(out_dir)
    store = ResultStore(out_dir)
    entries = _plan(submissions, key_fn, identity_fn, getattr(grade_fn, "cache_salt", ""))
    identities = [e.identity for e in entries]
    selected = _check_names(only, entries, "only") if only is not None else set(identities)
    forced = set(identities) if regrade == "all" else _check_names(regrade, entries, "regrade")
    selected |= forced
    if isinstance(executor, str):
        executor = make_executor(executor, workers=workers, timeout=timeout, scheduler=scheduler)

    counts = {"graded": 0, "ungradable": 0, "failed": 0}
    failures: list[tuple[str, str]] = []
    hook_errors: list[tuple[str, str]] = []
    todo: list[_Entry] = []
    cached = 0
    reused: list[str] = []
    for e in entries:
        if e.duplicate_of is not None:
            counts["failed"] += 1
            failures.append((e.identity, _duplicate_reason(e)))
            continue
        fresh = store.fresh(e.identity, e.key) is not None
        if e.identity in forced or (e.identity in selected and not fresh):
            todo.append(e)
        elif fresh:
            cached += 1
            reused.append(e.identity)
    by_index = {e.index: e for e in todo}
    interrupted = False
    bar = _Bar(len(todo), progress)
    outcomes = executor.run(grade_fn, [Task(e.index, e.path, e.identity) for e in todo])
    try:
        with _sigterm_as_interrupt():
            for outcome in outcomes:
                entry = by_index[outcome.task.index]
                result, kind = _to_result(entry, outcome)
                record: dict[str, Any] = {
                    "seconds": round(outcome.seconds, 3),
                    "executor": executor.name,
                }
                if outcome.detail:
                    record["detail"] = outcome.detail
                stored = store.save(result, entry.identity, entry.key, kind, **record)
                counts[kind] += 1
                message = ""
                if kind != "graded":
                    failures.append((entry.identity, stored.reason))
                    message = f"{entry.identity}: {kind}: {stored.reason}"
                if on_result is not None:
                    try:
                        on_result(stored, out_dir)
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
        # Written whatever happened, even as an unexpected error propagates: what is
        # graded is in the gradebook, the rest is "pending".
        rows, pending = _rows(entries, store)
        gradebook = write_gradebook_csv(out_dir / GRADEBOOK, rows, rubric)
        summary = write_class_summary(out_dir / SUMMARY, rows, title=title)
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
    )


def _duplicate_reason(e: _Entry) -> str:
    assert e.duplicate_of is not None
    return (
        f"{e.path.name} has the same identity ({e.identity}) as {e.duplicate_of.name}; "
        "rename one of them and run the batch again"
    )


def _rows(entries: Sequence[_Entry], store: ResultStore) -> tuple[list[Row], int]:
    """One row per submission from what is on disk now; how many are pending."""
    rows: list[Row] = []
    pending = 0
    for e in entries:
        if e.duplicate_of is not None:
            rows.append(Row(e.identity, "failed", _duplicate_reason(e)))
            continue
        stored = store.load(e.identity)
        if stored is None or stored.key != e.key:
            rows.append(Row.pending(e.identity))
            pending += 1
        else:
            rows.append(Row.of(stored.result, e.identity))
    return rows, pending


def resume_hint(argv: Sequence[str] | None = None) -> str:
    """What to tell the user after an interrupted batch."""
    command = " ".join(argv) if argv else "the same command"
    return f"stopped; finished results are kept. To grade the rest, run {command} again."


__all__ = [
    "BatchSummary",
    "GradeJob",
    "resume_hint",
    "run_batch",
]
