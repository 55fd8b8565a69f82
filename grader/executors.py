"""Run a grade function over many submissions; every submission ends in an Outcome.

An executor turns ``Task``s into ``Outcome``s, yielded as each finishes (in any
order). Whatever happens inside, a task ends in exactly one outcome::

    result   the grade function returned a GradeResult (graded or ungradable)
    error    it raised: the exception and traceback are kept for the instructor
    died     the process grading it died (os._exit, a segfault, the OOM killer)
    timeout  it ran past the batch's limit and its whole process group was killed

Executors (the registry :data:`EXECUTORS`)::

    pool    ``workers`` long-lived supervised processes, each grading one submission
            after another with a warm sandbox worker (the default of ``grader grade``):
            a death or timeout kills and replaces that process, losing that submission only.
    local   one supervised process per submission, ``workers`` at a time.
            A death or a timeout loses that submission only: there is no shared pool
            to break. Each process leads its own session, so Ctrl-C reaches only the
            supervisor, and a kill reaches the whole tree below it.
    dask    tasks run on a Dask cluster (``scheduler="tcp://host:8786"``) and
            there, in a warm supervised process per Dask worker thread (as ``pool``'s,
            started at its first task, replaced after a death or timeout): outcomes are
            identical. Several submissions travel in one Dask task (:func:`chunk_size`):
            the scheduler's and the client's work per submission, which on a small
            cluster runs beside the grading, is shared by the chunk; each submission keeps
            its own timeout and warm-process supervision, and only a Dask worker's own
            death (not its grading process's) loses a whole chunk. A one-file submission travels as its bytes, so workers need no
            shared file system (a folder submission travels as its path). Dask is
            optional (``pip install "dask[distributed]"``); workers need the grader
            installed. Results are stored by the parent, unless the workers share the
            output folder (``shared_out_dir=True``: they store them, as ``pool``'s do).
    serial  a plain loop in this process, for debugging and a student's single check:
            no isolation and no timeout.

The grade function must be picklable for ``local`` and ``pool`` (a module-level
function, a functools.partial of one, or :class:`grader.batch.GradeJob`); ``dask``
names it instead (a module-level function or a GradeJob, :func:`task_payload`), so
its supervised child reads the task as JSON and unpickles nothing.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import dataclasses
import importlib
import json
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from grader.results import GradeResult, grader_failure_reason
from grader.sandbox import close_all_workers
from grader.sandbox.process import remove_tree
from grader.sandbox.tiers import one_blas_thread

GradeFn = Callable[[Path], GradeResult]
Kind = Literal["result", "error", "died", "timeout"]

STOP_GRACE = 10.0  # seconds an idle pool process gets at the end to stop its sandbox workers
STDERR_TAIL = 4000  # characters of a dead worker's stderr kept for the instructor


class ExecutorUnavailableError(RuntimeError):
    """An executor that cannot run here (a missing optional dependency, no scheduler)."""


@dataclass(frozen=True)
class Task:
    """One submission to grade; ``index`` is its position in the batch."""

    index: int
    path: Path
    identity: str
    key: str = ""  # the cache key its stored result records (grader.cache)


@dataclass(frozen=True)
class Outcome:
    """How one task ended.

    result  : the GradeResult as a dict (kind "result" only)
    reason  : one sentence for the gradebook ("" for a result)
    detail  : a traceback or the tail of the worker's stderr, for the instructor
    exitcode: the worker's exit code (negative: killed by that signal), when known
    stored  : the worker already stored the result (and its reports); ``result`` is then
              only its row view (grader.batch.WorkerOutputs), not the whole result
    hook_error: what went wrong writing that submission's reports in the worker
    """

    task: Task
    kind: Kind
    seconds: float
    result: dict[str, Any] | None = None
    reason: str = ""
    detail: str = ""
    exitcode: int | None = None
    stored: bool = False
    hook_error: str = ""


class Executor(Protocol):
    name: str

    def run(self, grade_fn: GradeFn, tasks: Sequence[Task]) -> Iterator[Outcome]:
        """Yield one Outcome per task as each finishes. Closing the iterator stops the rest."""
        ...


# ---------------------------------------------------------------------------
# Sentences


def died_reason(exitcode: int | None) -> str:
    """'the grading worker died while grading this submission (exit code -9: SIGKILL, ...)'."""
    code = "unknown" if exitcode is None else str(exitcode)
    why = ""
    if exitcode is not None and exitcode < 0:
        with contextlib.suppress(ValueError):
            why = f": {signal.Signals(-exitcode).name}"
        if exitcode == -signal.SIGKILL:
            why += ", often the out-of-memory killer"
    return f"the grading worker died while grading this submission (exit code {code}{why})"


def timeout_reason(timeout: float) -> str:
    return (
        f"grading this submission took longer than the batch's limit of {timeout:g} s; "
        "its grading worker was stopped"
    )


# ---------------------------------------------------------------------------
# The child side: grade one submission, leave the answer in a file


def _answer(grade_fn: GradeFn, task: Task) -> dict[str, Any]:
    """Call the grade function; its result or its exception as a JSON-able dict.

    A grade function with a ``grade_task`` method (grader.batch.WorkerOutputs) stores
    the result and its reports itself, here in the worker, and answers a small row.
    """
    try:
        grade_task = getattr(grade_fn, "grade_task", None)
        if grade_task is not None:
            answer: dict[str, Any] = grade_task(task)
            return answer
        result = grade_fn(task.path)
        if not isinstance(result, GradeResult):
            raise TypeError(f"the grade function returned {type(result).__name__}, not GradeResult")
        return {"kind": "result", "result": result.to_dict()}
    except Exception as error:  # anything the grader raises becomes that submission's row
        return {
            "kind": "error",
            "reason": grader_failure_reason(error),
            "detail": traceback.format_exc(),
        }


def _write_answer(answer: dict[str, Any], answer_file: str) -> None:
    tmp = answer_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(answer, handle, allow_nan=True)
    os.replace(tmp, answer_file)


def _redirect_output(log_file: str) -> None:
    # The grade function's prints must not draw over the progress bar.
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _process_main(grade_fn: GradeFn, task: Task, answer_file: str, log_file: str) -> None:
    """Entry of a ``local`` worker process (multiprocessing)."""
    os.setsid()  # its own session: Ctrl-C spares it, and killpg reaches its whole tree
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _redirect_output(log_file)
    _write_answer(_answer(grade_fn, task), answer_file)


def _reference(obj: object) -> str:
    """``module:qualname`` of a module-level function or class (ValueError otherwise)."""
    module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(name, str) or "<" in name:
        raise ValueError(
            f"{obj!r} is not a module-level function: a Dask task names its grade function"
        )
    return f"{module}:{name}"


def _resolve(reference: str) -> Any:
    module, _, name = reference.partition(":")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def task_payload(grade_fn: GradeFn, path: Path) -> dict[str, Any]:
    """What a supervised child needs to grade ``path``, as plain JSON values.

    ``grade_fn`` is a module-level function, or a :class:`grader.batch.GradeJob`
    (its grade function by name, its rubric's bytes, its settings' fields).
    """
    from grader.batch import GradeJob, WorkerOutputs  # batch imports this module
    from grader.pipeline import GradeSettings

    if isinstance(grade_fn, WorkerOutputs):  # the worker stores results and reports itself
        inner = task_payload(grade_fn.grade_fn, path)
        outputs = {"out_dir": grade_fn.out_dir, "executor": grade_fn.executor}
        return {**inner, "outputs": {**outputs, "reports": list(grade_fn.reports)}}
    if not isinstance(grade_fn, GradeJob):
        return {"grade": _reference(grade_fn), "path": str(path)}
    settings = grade_fn.settings
    if settings is not None and not isinstance(settings, GradeSettings):
        raise ValueError(
            f"a Dask task carries GradeSettings or None, not {type(settings).__name__}"
        )
    return {
        "path": str(path),
        "job": {
            "grade": _reference(grade_fn.grade),
            "rubric_toml": base64.b64encode(grade_fn.rubric_toml).decode("ascii"),
            "rubric_path": grade_fn.rubric_path,
            "settings": None if settings is None else dataclasses.asdict(settings),
            "public_only": grade_fn.public_only,
        },
    }


def grade_from_payload(payload: Mapping[str, Any]) -> tuple[GradeFn, Path]:
    """The grade function and path :func:`task_payload` describes."""
    from grader.batch import GradeJob, WorkerOutputs
    from grader.pipeline import GradeSettings
    from grader.sandbox import Limits

    outputs = payload.get("outputs")
    if outputs is not None:
        inner, path = grade_from_payload({k: v for k, v in payload.items() if k != "outputs"})
        fields = (str(outputs["out_dir"]), str(outputs["executor"]), tuple(outputs["reports"]))
        return WorkerOutputs(inner, *fields), path
    job = payload.get("job")
    if job is None:
        return _resolve(payload["grade"]), Path(payload["path"])
    fields = job["settings"]
    settings = (
        None
        if fields is None
        else GradeSettings(**{**fields, "limits": Limits(**fields["limits"])})
    )
    rebuilt = GradeJob(
        _resolve(job["grade"]),
        base64.b64decode(job["rubric_toml"]),
        job["rubric_path"],
        settings,
        job["public_only"],
    )
    return rebuilt, Path(payload["path"])


def _read_answer(
    task: Task, answer_file: Path, log_file: Path, exitcode: int | None, seconds: float
) -> Outcome:
    """Turn what a finished child left behind into its Outcome."""
    try:
        answer = json.loads(answer_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        answer = None
    if answer is None or exitcode not in (0, None):
        return Outcome(
            task,
            "died",
            seconds,
            reason=died_reason(exitcode),
            detail=_tail(log_file),
            exitcode=exitcode,
        )
    return _answered(task, answer, seconds, exitcode)


def _answered(
    task: Task, answer: Mapping[str, Any], seconds: float, exitcode: int | None = None
) -> Outcome:
    """The Outcome of an answer :func:`_answer` wrote."""
    if answer["kind"] == "result":
        return Outcome(
            task,
            "result",
            seconds,
            result=answer["result"],
            exitcode=exitcode,
            stored=bool(answer.get("stored")),
            hook_error=str(answer.get("hook_error", "")),
        )
    return Outcome(
        task, "error", seconds, reason=answer["reason"], detail=answer["detail"], exitcode=exitcode
    )


def _tail(log_file: Path) -> str:
    try:
        with open(log_file, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - STDERR_TAIL))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _kill_group(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads (it outlives its leader while any member lives)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _stop(proc: Any) -> None:
    """Kill a live worker and its tree, then reap it.

    The worker itself is killed too: it may not have called setsid() yet. Only an
    unreaped pid is signalled, so a reused pid can never be hit.
    """
    _kill_group(proc.pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.join()


def check_picklable(grade_fn: GradeFn, executor: str) -> None:
    """ValueError with advice when ``grade_fn`` cannot be sent to another process."""
    try:
        pickle.dumps(grade_fn)
    except Exception as error:
        raise ValueError(
            f"the {executor!r} executor sends the grade function to other processes, but it "
            f"cannot be pickled ({error}); use a module-level function, a functools.partial "
            "of one, or grader.batch.GradeJob (or the 'serial' executor)"
        ) from None


# ---------------------------------------------------------------------------
# local: supervised processes


def default_workers() -> int:
    """The CPUs this process may use."""
    count = getattr(os, "process_cpu_count", None)
    if count is not None:
        return count() or 1
    with contextlib.suppress(AttributeError):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _context() -> multiprocessing.context.BaseContext:
    # forkserver: a fresh, single-threaded parent for every worker (fork from a process
    # running threads, as tqdm and Dask do, can deadlock), yet far cheaper than spawn.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


def _preload(grade_fn: GradeFn) -> list[str]:
    """Modules the forkserver imports once for every worker: the grade function's (and,
    for a GradeJob, the pipeline's, warmed up by grader.warmup)."""
    modules = ["grader.executors"]
    inner = getattr(grade_fn, "grade_fn", grade_fn)  # under grader.batch.WorkerOutputs
    for fn in (grade_fn, inner, getattr(inner, "grade", None)):
        module = getattr(fn, "__module__", None)
        if isinstance(module, str) and module not in modules:
            modules.append(module)
    if "grader.grade" in modules:
        modules.append("grader.warmup")
    return modules


class LocalExecutor:
    """``workers`` supervised processes at a time, one per submission (module doc)."""

    name = "local"
    stores_in_worker = True  # workers see out_dir: each stores its own results

    def __init__(self, workers: int | None = None, timeout: float | None = None) -> None:
        self.workers = max(1, workers or default_workers())
        self.timeout = timeout

    def run(self, grade_fn: GradeFn, tasks: Sequence[Task]) -> Iterator[Outcome]:
        check_picklable(grade_fn, self.name)
        ctx = _context()
        if ctx.get_start_method() == "forkserver":
            ctx.set_forkserver_preload(_preload(grade_fn))
        pending = list(tasks)[::-1]
        running: dict[int, tuple[Task, Any, float]] = {}  # sentinel -> (task, process, start)
        with tempfile.TemporaryDirectory(prefix="grader-batch-") as tmp:
            work = Path(tmp)
            try:
                while pending or running:
                    while pending and len(running) < self.workers:
                        task = pending.pop()
                        proc = ctx.Process(  # type: ignore[attr-defined]
                            target=_process_main,
                            args=(
                                grade_fn,
                                task,
                                str(work / f"{task.index}.json"),
                                str(work / f"{task.index}.log"),
                            ),
                            name=f"grade-{task.identity}",
                        )
                        proc.start()
                        running[proc.sentinel] = (task, proc, time.monotonic())
                    ready = multiprocessing.connection.wait(
                        list(running), timeout=self._wait(running)
                    )
                    for sentinel in ready:
                        task, proc, start = running.pop(sentinel)  # type: ignore[arg-type]
                        proc.join()
                        _kill_group(proc.pid)  # leftovers the grade left behind
                        answer, log = work / f"{task.index}.json", work / f"{task.index}.log"
                        outcome = _read_answer(
                            task, answer, log, proc.exitcode, time.monotonic() - start
                        )
                        answer.unlink(missing_ok=True)
                        log.unlink(missing_ok=True)
                        yield outcome
                    for sentinel, (task, proc, start) in list(running.items()):
                        if self.timeout is not None and time.monotonic() - start > self.timeout:
                            _stop(proc)
                            del running[sentinel]
                            yield Outcome(
                                task,
                                "timeout",
                                time.monotonic() - start,
                                reason=timeout_reason(self.timeout),
                                detail=_tail(work / f"{task.index}.log"),
                                exitcode=proc.exitcode,
                            )
            finally:  # Ctrl-C, an error, or the consumer stopped early: stop every worker
                for _, proc, _ in running.values():
                    _stop(proc)

    def _wait(self, running: dict[int, tuple[Task, Any, float]]) -> float | None:
        if self.timeout is None:
            return None
        now = time.monotonic()
        return max(0.0, min(start + self.timeout - now for _, _, start in running.values())) + 0.01


# ---------------------------------------------------------------------------
# serial: in this process


# pool: the same supervision, but each process grades submission after submission


def _pool_main(grade_fn: GradeFn, conn: Any, log_file: str, tmp_dir: str) -> None:
    """Entry of a ``pool`` worker: grade each path received, answer each as JSON bytes.

    Its temporary folders (the warm sandbox worker's, cold jobs') go to ``tmp_dir``,
    inside the pool's own folder, so they are removed with it even when this process
    is killed; at the end of the batch (the pipe closes) it stops its warm workers.
    """
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _redirect_output(log_file)
    # traversable, not listable: a uid-tier sandbox's own folder lies below it (warm.py)
    os.mkdir(tmp_dir, 0o711)
    tempfile.tempdir = tmp_dir
    try:
        while True:
            try:
                sent = json.loads(conn.recv_bytes())
            except (EOFError, OSError):
                return
            task = Task(sent["index"], Path(sent["path"]), sent["identity"], sent["key"])
            answer = json.dumps(_answer(grade_fn, task), allow_nan=True)
            conn.send_bytes(answer.encode())
    finally:
        # multiprocessing ends this process with os._exit: atexit handlers never run
        close_all_workers()


def _task_bytes(task: Task) -> bytes:
    """A task as a pool process receives it: JSON, never pickled."""
    fields = {"index": task.index, "path": str(task.path), "identity": task.identity}
    return json.dumps({**fields, "key": task.key}).encode()


@dataclass
class _PoolSlot:
    process: Any
    conn: Any
    log: Path
    task: Task | None = None
    start: float = 0.0


class PoolExecutor:
    """``workers`` long-lived supervised processes, each grading one submission after another.

    What a per-submission process pays every time (starting the sandbox's warm worker,
    the pipeline's first calls) is paid once per process. A process that dies or runs
    past ``timeout`` is killed with its tree and replaced: only the submission it was
    grading is lost (a "died" or "timeout" row), as with ``local``. Answers come back
    as JSON bytes over a pipe, never pickled.
    """

    name = "pool"
    stores_in_worker = True  # workers see out_dir: each stores its own results

    def __init__(self, workers: int | None = None, timeout: float | None = None) -> None:
        self.workers = max(1, workers or default_workers())
        self.timeout = timeout

    def _start(self, ctx: Any, grade_fn: GradeFn, work: Path, n: int) -> _PoolSlot:
        mine, theirs = ctx.Pipe(duplex=True)
        log = work / f"worker-{n}.log"
        tmp = str(work / f"tmp-{n}")
        proc = ctx.Process(
            target=_pool_main, args=(grade_fn, theirs, str(log), tmp), name=f"grade-pool-{n}"
        )
        proc.start()
        theirs.close()
        return _PoolSlot(proc, mine, log)

    def _stop_slot(self, slot: _PoolSlot, grace: float = 0.0) -> None:
        """Stop a slot's process; an idle one gets ``grace`` seconds to stop its workers."""
        with contextlib.suppress(OSError):
            slot.conn.close()
        if grace and slot.task is None:
            slot.process.join(grace)
        _stop(slot.process)
        _kill_group(slot.process.pid)

    def run(self, grade_fn: GradeFn, tasks: Sequence[Task]) -> Iterator[Outcome]:
        check_picklable(grade_fn, self.name)
        ctx = _context()
        if ctx.get_start_method() == "forkserver":
            ctx.set_forkserver_preload(_preload(grade_fn))
        pending = list(tasks)[::-1]
        work = Path(tempfile.mkdtemp(prefix="grader-pool-"))
        os.chmod(work, 0o711)  # as tmp_dir in _pool_main: the uid tier passes through
        try:
            slots = [
                self._start(ctx, grade_fn, work, n) for n in range(min(self.workers, len(pending)))
            ]
            started = len(slots)
            try:
                while pending or any(s.task for s in slots):
                    for slot in slots:
                        if slot.task is None and pending:
                            slot.task, slot.start = pending.pop(), time.monotonic()
                            slot.conn.send_bytes(_task_bytes(slot.task))
                    busy = [s for s in slots if s.task is not None]
                    waits = [s.conn for s in busy] + [s.process.sentinel for s in busy]
                    ready = set(multiprocessing.connection.wait(waits, timeout=self._wait(busy)))
                    for i, slot in enumerate(slots):
                        task = slot.task
                        if task is None:
                            continue
                        seconds = time.monotonic() - slot.start
                        outcome: Outcome | None = None
                        if slot.conn in ready:
                            try:
                                answer = json.loads(slot.conn.recv_bytes())
                            except (EOFError, OSError, ValueError):
                                answer = None
                            if answer is not None:
                                outcome = _answered(task, answer, seconds)
                        if outcome is None and (
                            slot.conn in ready or slot.process.sentinel in ready
                        ):
                            slot.process.join(1.0)
                            code = slot.process.exitcode
                            outcome = Outcome(
                                task,
                                "died",
                                seconds,
                                reason=died_reason(code),
                                detail=_tail(slot.log),
                                exitcode=code,
                            )
                        elif (
                            outcome is None and self.timeout is not None and seconds > self.timeout
                        ):
                            outcome = Outcome(
                                task,
                                "timeout",
                                seconds,
                                reason=timeout_reason(self.timeout),
                                detail=_tail(slot.log),
                            )
                        if outcome is None:
                            continue
                        if outcome.kind in ("died", "timeout"):  # a fresh process takes its place
                            self._stop_slot(slot)
                            slots[i] = self._start(ctx, grade_fn, work, started)
                            started += 1
                        else:
                            slot.task = None
                        yield outcome
            finally:  # Ctrl-C, an error, or the consumer stopped early: stop every worker
                for slot in slots:
                    self._stop_slot(slot, grace=STOP_GRACE)
        finally:
            remove_tree(work)  # also what killed processes left; never follows a planted link

    def _wait(self, busy: Sequence[_PoolSlot]) -> float | None:
        if self.timeout is None or not busy:
            return None
        now = time.monotonic()
        return max(0.0, min(s.start + self.timeout - now for s in busy)) + 0.01


class SerialExecutor:
    """A loop in this process: exceptions are caught, deaths and timeouts are not."""

    name = "serial"
    stores_in_worker = True  # workers see out_dir: each stores its own results

    def __init__(self, workers: int | None = None, timeout: float | None = None) -> None:
        del workers, timeout  # one at a time, no limit: this is the debugging executor

    def run(self, grade_fn: GradeFn, tasks: Sequence[Task]) -> Iterator[Outcome]:
        for task in tasks:
            start = time.monotonic()
            answer = _answer(grade_fn, task)
            yield _answered(task, answer, time.monotonic() - start)


# ---------------------------------------------------------------------------
# dask: the same supervised child, on a cluster


def _serve_main() -> int:
    """Entry of ``python -m grader.executors --serve``: a Dask worker's warm grading process.

    Reads one task per line on stdin (:func:`task_payload`, JSON; nothing unpickled) and
    answers one JSON line each on its own copy of stdout; the grade function's prints go
    to stderr's log instead. A submission sent as bytes is written to a private folder
    under its own name (the identity comes from the name) and its result names the
    original path. The warm sandbox worker it starts stays for the next task; stdin's end
    (the Dask worker gone) stops it.
    """
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # prints join the log, never the answers
    while line := sys.stdin.readline():
        payload = json.loads(line)
        grade_fn, path = grade_from_payload(payload)
        identity, key = str(payload.get("identity", "")), str(payload.get("key", ""))
        with tempfile.TemporaryDirectory(prefix="grader-sent-") as sent:
            if payload.get("content") is not None:
                local = Path(sent, path.name)
                local.write_bytes(base64.b64decode(payload["content"]))
                if hasattr(grade_fn, "shown_path"):  # it stores the result: under the real path
                    grade_fn = dataclasses.replace(grade_fn, shown_path=str(path))  # type: ignore[type-var]
                answer = _answer(grade_fn, Task(-1, local, identity, key))
                if answer["kind"] == "result":
                    answer["result"]["submission"]["path"] = str(path)
            else:
                answer = _answer(grade_fn, Task(-1, path, identity, key))
        answers.write(json.dumps(answer, allow_nan=True) + "\n")
        answers.flush()
    close_all_workers()
    return 0


class _Server:
    """One warm ``--serve`` process, with its log; owned by one Dask worker thread."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="grader-dask-"))
        self.log = self.folder / "log.txt"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        one_blas_thread(env)  # as grader's command line does, whatever the Dask worker's is
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "grader.executors", "--serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                start_new_session=True,  # killpg reaches its sandbox children too
            )

    def ask(self, payload: bytes, timeout: float | None) -> tuple[str, Any]:
        """("answer", dict) | ("died", exit code) | ("timeout", None)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(payload + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.stop()
            return "died", self.proc.returncode
        ready = multiprocessing.connection.wait([self.proc.stdout.fileno()], timeout=timeout)
        if not ready:
            self.stop()
            return "timeout", None
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            return "died", self.proc.returncode
        return "answer", json.loads(line)

    def stop(self) -> None:
        _kill_group(self.proc.pid)
        self.proc.kill()
        self.proc.wait()
        remove_tree(self.folder)


_servers: dict[int, _Server] = {}  # Dask worker thread -> its warm grading process


@atexit.register
def _stop_servers() -> None:
    for server in list(_servers.values()):
        server.stop()
    _servers.clear()


def stop_thread_server() -> None:
    """Stop this thread's warm ``--serve`` process, if it has one: for a long-lived caller of
    :func:`supervise_one` (grader.serve's grading threads) whose thread ends before the process."""
    server = _servers.pop(threading.get_ident(), None)
    if server is not None:
        server.stop()


def supervise_one(
    grade_fn: GradeFn, task: Task, timeout: float | None, content: bytes | None = None
) -> Outcome:
    """Grade one task in this Dask worker thread's warm ``--serve`` process; always an Outcome.

    A subprocess, not multiprocessing: Dask workers are daemonic processes, which
    multiprocessing forbids to have children. ``content``: the submission's bytes, read
    where the batch runs (the Dask worker need not see that file system); None: the
    worker reads ``task.path`` itself (a folder submission). A death or timeout kills that process and its tree; the next task
    starts a fresh one.
    """
    start = time.monotonic()
    payload = {**task_payload(grade_fn, task.path), "identity": task.identity, "key": task.key}
    if content is not None:
        payload["content"] = base64.b64encode(content).decode("ascii")
    key = threading.get_ident()
    server = _servers.get(key)
    if server is None or server.proc.poll() is not None:
        server = _servers[key] = _Server()
    kind, value = server.ask(json.dumps(payload).encode(), timeout)
    seconds = time.monotonic() - start
    if kind == "answer":
        return _answered(task, value, seconds)
    del _servers[key]
    detail = _tail(server.log)
    if kind == "timeout":
        return Outcome(
            task,
            "timeout",
            seconds,
            reason=timeout_reason(timeout or 0),
            detail=detail,
            exitcode=server.proc.returncode,
        )
    return Outcome(task, "died", seconds, reason=died_reason(value), detail=detail, exitcode=value)


def supervise_chunk(
    grade_fn: GradeFn,
    tasks: Sequence[Task],
    timeout: float | None,
    contents: Sequence[bytes | None],
) -> list[Outcome]:
    """Several tasks, one after another, each as :func:`supervise_one` grades it: one Dask
    task carrying a chunk of the batch (:func:`chunk_size`)."""
    return [
        supervise_one(grade_fn, task, timeout, content)
        for task, content in zip(tasks, contents, strict=True)
    ]


CHUNK_MAX = 8  # submissions in one Dask task, at most
CHUNKS_PER_SLOT = 4  # chunks per worker thread at least, so the last ones still balance


def chunk_size(tasks: int, slots: int) -> int:
    """Submissions per Dask task for ``tasks`` on ``slots`` worker threads: 1 for a batch
    too small to share them out, at most :data:`CHUNK_MAX` (a parent collects a chunk's
    outcomes together)."""
    return max(1, min(CHUNK_MAX, tasks // (CHUNKS_PER_SLOT * max(1, slots))))


def _content(path: Path) -> bytes | None:
    """A one-file submission's bytes, to send with its task; None for a folder."""
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None  # unreadable here: the worker's attempt says why


def import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ExecutorUnavailableError(
            "the 'dask' executor needs Dask's distributed scheduler, which is not installed: "
            'pip install "dask[distributed]"'
        ) from None
    return distributed


class DaskExecutor:
    """Each task is :func:`supervise_one` on a Dask cluster (module doc).

    scheduler : "tcp://host:8786", or a ``distributed.Client`` to use as it is
    shared_out_dir : the Dask workers see the batch's output folder (the same machine, or a
                     shared file system): each then stores its results and renders their
                     reports itself, as ``pool``'s workers do, and the parent gets rows only
    """

    name = "dask"

    def __init__(
        self,
        workers: int | None = None,
        timeout: float | None = None,
        scheduler: Any = None,
        shared_out_dir: bool = False,
        chunk: int | None = None,
    ) -> None:
        del workers  # the cluster decides how many run at once
        self.stores_in_worker = shared_out_dir
        self.chunk = chunk  # submissions per Dask task (None: chunk_size of the cluster)
        if scheduler is None:
            raise ExecutorUnavailableError(
                "the 'dask' executor needs a scheduler address, e.g. tcp://host:8786"
            )
        self.timeout = timeout
        self.scheduler = scheduler
        self.distributed = import_distributed()

    def run(self, grade_fn: GradeFn, tasks: Sequence[Task]) -> Iterator[Outcome]:
        check_picklable(grade_fn, self.name)
        task_payload(grade_fn, Path("."))  # a grade function the children cannot name fails now
        dist = self.distributed
        own = isinstance(self.scheduler, str)
        try:
            client = dist.Client(self.scheduler, timeout="10s") if own else self.scheduler
        except OSError as error:
            raise ExecutorUnavailableError(
                f"cannot reach the Dask scheduler at {self.scheduler}: {error}"
            ) from None
        submitted: list[Any] = []
        started: dict[str, tuple[Sequence[Task], float]] = {}
        try:
            size = self.chunk or chunk_size(len(tasks), _slots(client))
            for at in range(0, len(tasks), size):
                chunk = tasks[at : at + size]
                future = client.submit(
                    supervise_chunk,
                    grade_fn,
                    chunk,
                    self.timeout,
                    [_content(task.path) for task in chunk],
                    pure=False,
                    key=f"grade-{chunk[0].index}-{os.urandom(4).hex()}",
                )
                submitted.append(future)
                started[future.key] = (chunk, time.monotonic())
            for future in dist.as_completed(submitted):
                chunk, start = started[future.key]
                if future.status == "finished":
                    yield from future.result()
                    continue
                # The supervising task itself failed: its Dask worker died, or Dask erred.
                failure = future.exception()
                killed = type(failure).__name__ == "KilledWorker"
                for task in chunk:
                    yield Outcome(
                        task,
                        "died" if killed else "error",
                        time.monotonic() - start,
                        reason=died_reason(None) + " (the Dask worker running it died)"
                        if killed
                        else grader_failure_reason(failure),
                        detail=repr(failure),
                    )
        finally:
            with contextlib.suppress(Exception):
                client.cancel([f for f in submitted if not f.done()])
            if own:
                client.close()


def _slots(client: Any) -> int:
    """The cluster's worker threads now (1 when the scheduler cannot say)."""
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:  # an old or unreachable scheduler: chunks stay small
        return 1


EXECUTORS: dict[str, Callable[..., Executor]] = {
    "local": LocalExecutor,
    "pool": PoolExecutor,
    "serial": SerialExecutor,
    "dask": DaskExecutor,
}


def make_executor(
    name: str, *, workers: int | None = None, timeout: float | None = None, scheduler: Any = None
) -> Executor:
    """An executor from :data:`EXECUTORS` by name."""
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}")
    if name == "dask":
        return DaskExecutor(workers, timeout, scheduler=scheduler)
    return EXECUTORS[name](workers, timeout)


if __name__ == "__main__":
    if sys.argv[1:] != ["--serve"]:
        raise SystemExit("usage: python -m grader.executors --serve  (a Dask worker's grader)")
    raise SystemExit(_serve_main())
