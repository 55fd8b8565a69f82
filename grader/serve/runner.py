"""Grading threads: each claims the fair queue's next job, grades it, records its result once.

Each thread grades in its own warm supervised process of ``grader.executors``
(``supervise_one``: the process a ``grader grade --scheduler`` worker grades in, with
a warm sandbox worker, the batch's per-submission timeout, and a fresh process after a
death or timeout), with the same ``GradeJob`` (grade function, rubric, settings) as
``grader grade``, so a submission gets the same score here as in a batch. Nothing of the
submission runs in this process: a one-file submission travels to that process as its
bytes under the student's name; a zip is unpacked (``uploads.unpack_zip``) into a
folder of the job's own, removed after grading.

With ``scheduler`` (``grader serve --scheduler``), each job is that same
``supervise_one`` call run as a task on a Dask cluster, as ``grader grade --scheduler``
runs it: a warm grading process per Dask worker thread, the submission's bytes sent with
the task (a zip's unpacked folder travels as its path: the workers must see ``--data``).

Faults: a grading process that dies mid-job (SIGKILL, the OOM killer; or the Dask worker
running it) is replaced, and the job is graded once more in the fresh process
(``DEATH_RETRIES``); a second death is recorded as the job's failure with the reason. A
timeout is not retried: it would only take as long again. A job whose grading the
server's death cut off is graded again after the restart (``Store.recover``); after
``MAX_ATTEMPTS`` such starts it is recorded as failed, with the reason, instead of being
tried forever. A result the store could not record (a full disk: ``Store.finish``
returns the job to the queue) also counts as a try; a job failed after such tries says
so, with the store's own sentence, rather than blaming stops of the service.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader.batch import GradeJob
from grader.executors import (
    ExecutorUnavailableError,
    Kind,
    Outcome,
    Task,
    died_reason,
    import_distributed,
    stop_thread_server,
    supervise_one,
)
from grader.results import GradeResult, SubmissionRef
from grader.sandbox.process import remove_tree
from grader.serve.store import MAX_ATTEMPTS, Job, Store, StoreError
from grader.serve.uploads import UploadError, UploadLimits, unpack_zip

IDLE_POLL = 0.5  # seconds a free thread sleeps when it is not woken by a new submission
DEATH_RETRIES = 1  # a job whose grading process died is graded again this often, then failed


def result_of(job: Job, outcome: Outcome) -> tuple[GradeResult, str]:
    """The result to record and its outcome: graded | ungradable (the submission's
    fault) | failed (the grader's: a death, a timeout, an error)."""
    shown = job.filename if job.kind != "zip" else f"{job.student}/"
    if outcome.kind == "result" and outcome.result is not None:
        try:
            result = GradeResult.from_dict(outcome.result)
        except (ValueError, KeyError, TypeError) as error:
            reason = f"the grader returned a result it cannot read back ({error})"
        else:
            # the path the student sent, never where the server unpacked it
            submission = SubmissionRef(
                result.submission.identity, shown, result.submission.content_hash
            )
            result = replace(result, submission=submission)
            return result, result.status
    else:
        reason = outcome.reason
    return GradeResult(SubmissionRef(job.student, shown), "ungradable", reason=reason), "failed"


@dataclass
class Runner:
    store: Store
    grade_job: GradeJob
    workers: int = 1
    timeout: float | None = None
    limits: UploadLimits = field(default_factory=UploadLimits)
    scheduler: Any = None  # a Dask scheduler's address (or a distributed.Client): grade there
    _client: Any = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _wake: threading.Condition = field(default_factory=threading.Condition)
    _threads: list[threading.Thread] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # job id -> (times its result could not be recorded, the store's last sentence why)
    _unrecorded: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def work(self) -> Path:
        return self.store.data / "work"

    def start(self) -> int:
        """Return earlier processes' claims to the queue, clear their work folders, and
        start the threads; returns how many jobs were recovered."""
        if self.scheduler is not None:
            self._client = self._connect()
        recovered = self.store.recover()
        remove_tree(self.work)
        self.work.mkdir(mode=0o711)
        for n in range(self.workers):
            thread = threading.Thread(target=self._loop, name=f"grade-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return recovered

    def wake(self) -> None:
        """A job was queued: a free thread takes it now instead of at its next poll."""
        with self._wake:
            self._wake.notify()

    def stop(self, wait: float = 0.0) -> None:
        """Stop taking jobs; a job still grading keeps its claim and is graded again at
        the next start (its result is recorded only once either way)."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(wait)
        if self._client is not None and isinstance(self.scheduler, str):
            with contextlib.suppress(Exception):
                self._client.close()

    def _connect(self) -> Any:
        """The Dask client (ExecutorUnavailableError when Dask is missing or unreachable)."""
        distributed = import_distributed()
        if not isinstance(self.scheduler, str):
            return self.scheduler
        try:
            return distributed.Client(self.scheduler, timeout="10s")
        except OSError as error:
            raise ExecutorUnavailableError(
                f"cannot reach the Dask scheduler at {self.scheduler}: {error}"
            ) from None

    def cluster_threads(self) -> int:
        """Grading threads the Dask cluster runs at once (1 when it reports none)."""
        client = self._client if self._client is not None else self._connect()
        self._client = client
        return max(1, sum(client.nthreads().values()))

    def _loop(self) -> None:
        try:
            self._take_jobs()
        finally:
            stop_thread_server()  # its warm grading process ends with the thread

    def _take_jobs(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.store.claim_next()
            except Exception as error:  # a locked or full database: say so, try again
                self.errors.append(f"claiming a job: {error}")
                job = None
            if job is None:
                with self._wake:
                    self._wake.wait(IDLE_POLL)
                continue
            try:
                self.grade(job)
            except Exception as error:  # never lose the thread; the claim is recovered at start
                self.errors.append(f"grading job {job.id}: {type(error).__name__}: {error}")
                time.sleep(IDLE_POLL)

    def grade(self, job: Job) -> bool:
        """Grade a claimed job and record its result; False when its claim was lost."""
        start = time.monotonic()
        if job.attempts > MAX_ATTEMPTS:
            reason = self._given_up(job)
            outcome = Outcome(Task(0, Path(job.filename), job.student), "error", 0.0, reason=reason)
        else:
            outcome = self._run(job)
        result, kind = result_of(job, outcome)
        points = result.score.points if result.score is not None else None
        try:
            recorded = self.store.finish(
                job.id, kind, result.to_json(indent=None), points, time.monotonic() - start
            )
        except StoreError as error:  # a full disk: nothing half-written (one transaction)
            self._not_recorded(job, str(error))
            raise
        except Exception as error:
            self._not_recorded(job, str(error))
            with contextlib.suppress(Exception):  # back to the queue, not running for ever
                self.store.release(job.id)
            raise StoreError(
                f"the result of job {job.id} could not be recorded ({error})"
            ) from error
        self._unrecorded.pop(job.id, None)
        return recorded

    def _not_recorded(self, job: Job, why: str) -> None:
        count = self._unrecorded.get(job.id, (0, ""))[0]
        self._unrecorded[job.id] = (count + 1, why)

    def _given_up(self, job: Job) -> str:
        """Why a job tried more than ``MAX_ATTEMPTS`` times is failed, in the student's
        terms (the store's own sentence, which names the server's paths, is in the
        instructor's log): the tries whose result the store refused, as this process saw
        them, and the rest, which a stop of the service cut off."""
        tries = job.attempts - 1
        refused, why = self._unrecorded.get(job.id, (0, ""))
        parts = []
        if refused:
            full = "disk" in why.lower()  # Store: "out of disk space", "disk is full"
            store = (
                "the service's results store was full" if full else "the service's database failed"
            )
            parts.append(f"{store} when its result was to be recorded ({refused} of them)")
        if tries - refused > 0:
            parts.append(f"the service stopped {tries - refused} time(s) while grading it")
        return (
            f"this submission was graded {tries} times without a recorded result: "
            f"{'; '.join(parts)}; it was not tried again (ask your instructor)"
        )

    def _run(self, job: Job) -> Outcome:
        content = self.store.blob(job.sha256)
        if job.kind != "zip":
            # sent as bytes; graded there under the student's name, which becomes the identity
            task = Task(0, Path(f"{job.student}.{job.kind}"), job.student)
            return self._supervised(task, content)
        folder = self.work / job.id
        try:
            path = unpack_zip(content, folder / job.student, self.limits)
        except (UploadError, OSError) as error:
            with contextlib.suppress(OSError):
                remove_tree(folder)
            return Outcome(
                Task(0, folder, job.student),
                "error",
                0.0,
                reason=f"the zip cannot be unpacked: {error}",
            )
        try:
            return self._supervised(Task(0, path, job.student), None)
        finally:
            remove_tree(folder)

    def _supervised(self, task: Task, content: bytes | None) -> Outcome:
        """Grade in a warm supervised process; a death is graded once more in a fresh one."""
        outcome = self._once(task, content)
        for _ in range(DEATH_RETRIES):
            if outcome.kind != "died":
                break
            print(  # the instructor's log: the job is not lost, and why it took longer
                f"grader serve: {outcome.reason}; grading {task.identity}'s job again "
                "in a fresh process",
                file=sys.stderr,
                flush=True,
            )
            outcome = self._once(task, content)
        else:
            if outcome.kind == "died":
                tries = DEATH_RETRIES + 1
                outcome = replace(outcome, reason=f"{outcome.reason}; tried {tries} times")
        return outcome

    def _once(self, task: Task, content: bytes | None) -> Outcome:
        if self._client is None:
            return supervise_one(self.grade_job, task, self.timeout, content)
        start = time.monotonic()
        future = self._client.submit(
            supervise_one, self.grade_job, task, self.timeout, content, pure=False
        )
        try:
            outcome: Outcome = future.result()
        except Exception as error:  # the Dask worker running it died, or Dask erred
            killed = type(error).__name__ == "KilledWorker"
            reason = (
                died_reason(None) + " (the Dask worker running it died)"
                if killed
                else f"the Dask cluster could not grade it ({type(error).__name__}: {error})"
            )
            kind: Kind = "died" if killed else "error"
            return Outcome(task, kind, time.monotonic() - start, reason=reason, detail=repr(error))
        return outcome
