"""Grading threads: each claims the fair queue's next job, grades it, records its result once.

Each thread grades in its own warm supervised process of ``grader.executors``
(``supervise_one``: the process a ``grader grade --scheduler`` worker grades in, with
a warm sandbox worker, the batch's per-submission timeout, and a fresh process after a
death or timeout), with the same ``GradeJob`` (grade function, rubric, settings) as
``grader grade``, so a submission gets the same score here as in a batch. Nothing of the
submission runs in this process: a one-file submission travels to that process as its
bytes under the student's name; a zip is unpacked (``uploads.unpack_zip``) into a
folder of the job's own, removed after grading.

A job whose grading the server's death cut off is graded again after the restart
(``Store.recover``); after ``MAX_ATTEMPTS`` such starts it is recorded as failed, with
the reason, instead of being tried forever.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.batch import GradeJob
from grader.executors import Outcome, Task, stop_thread_server, supervise_one
from grader.results import GradeResult, SubmissionRef
from grader.sandbox.process import remove_tree
from grader.serve.store import MAX_ATTEMPTS, Job, Store, StoreError
from grader.serve.uploads import UploadError, UploadLimits, unpack_zip

IDLE_POLL = 0.5  # seconds a free thread sleeps when it is not woken by a new submission


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
            from dataclasses import replace

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
    _stop: threading.Event = field(default_factory=threading.Event)
    _wake: threading.Condition = field(default_factory=threading.Condition)
    _threads: list[threading.Thread] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def work(self) -> Path:
        return self.store.data / "work"

    def start(self) -> int:
        """Return earlier processes' claims to the queue, clear their work folders, and
        start the threads; returns how many jobs were recovered."""
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
            reason = (
                f"the service stopped {job.attempts - 1} times while grading this submission; "
                "it was not tried again (ask your instructor)"
            )
            outcome = Outcome(Task(0, Path(job.filename), job.student), "error", 0.0, reason=reason)
        else:
            outcome = self._run(job)
        result, kind = result_of(job, outcome)
        points = result.score.points if result.score is not None else None
        try:
            return self.store.finish(
                job.id, kind, result.to_json(indent=None), points, time.monotonic() - start
            )
        except StoreError:
            raise
        except Exception as error:  # a full disk: nothing half-written (one transaction)
            raise StoreError(
                f"the result of job {job.id} could not be recorded ({error})"
            ) from error

    def _run(self, job: Job) -> Outcome:
        content = self.store.blob(job.sha256)
        if job.kind != "zip":
            # sent as bytes; graded there under the student's name, which becomes the identity
            task = Task(0, Path(f"{job.student}.{job.kind}"), job.student)
            return supervise_one(self.grade_job, task, self.timeout, content)
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
            return supervise_one(self.grade_job, Task(0, path, job.student), self.timeout, None)
        finally:
            remove_tree(folder)
