"""The warm worker, parent side: one pre-started sandboxed interpreter for many jobs.

Starting an interpreter and importing numpy costs ~0.1 s, scipy/scikit-learn
~1 s more; the worker pays that once (see ``child/worker.py`` for what runs
inside). Each job travels as one frame over a pipe (the submission's files, the
plan, the inputs, the probe module) and comes back as one frame (the
supervision report and the output .npz bytes), which is validated here exactly
as for a cold job. Nothing of one job survives into the next: the worker
forks a fresh manager per job, and kills every process and wipes the job's
directory before it answers READY.

If the worker dies, answers out of protocol or runs past the job's total
limit, it is killed, the job is retried once on a cold child, and a fresh
worker is started for the next job.

Create and use a WarmWorker from one long-lived thread: bubblewrap's
``--die-with-parent`` follows the thread that started it.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from .cgroup import JobCgroup
from .child import wire
from .cold import run_job
from .jobs import Job, JobResult, Limits, SandboxError
from .privilege import Identity, allocate, baseline, live_processes, verify_intact
from .process import SandboxProcess, module_files, remove_tree, runner_files, write_tree
from .tiers import Tier, as_root, child_python_command, harden_parent, notice, resolve_tier
from .validate import judge

# What students' notebooks import, loaded once by the worker (measured in bench/: with
# matplotlib.pyplot and the scikit-learn submodules, a typical notebook is ready in ~40 ms
# instead of 0.1-0.7 s; the worker starts ~0.3 s later).
PRELOAD = (
    "numpy",
    "scipy",
    "scipy.special",
    "pandas",
    "sklearn",
    "sklearn.datasets",
    "sklearn.metrics",
    "sklearn.model_selection",
    "sklearn.preprocessing",
    "matplotlib",
    "matplotlib.pyplot",
)
# For code that imports nothing beyond numpy and the standard library: forking and exiting
# a process that holds scipy, pandas, scikit-learn and matplotlib costs each job ~10 ms
# more (two forks and two exits per job), for modules such code never uses.
LEAN_PRELOAD = ("numpy",)
_IMPORT = re.compile(
    r"(?:^|;)[ \t]*import[ \t]+([^#\n;]+)|(?:^|;)[ \t]*from[ \t]+([\w.]+)[ \t]+import", re.M
)
START_TIMEOUT = 120.0  # importing scikit-learn on a cold disk is slow
SLACK = 15.0  # beyond the job's own limits, before the parent gives up on the worker
# the worker's cgroup while it imports its preload (scikit-learn, pandas, matplotlib: < 1 GB)
START_MEMORY = 2 << 30
START_TASKS = 64
JOB_TASKS = 2  # the job's manager, and its runner's own thread


def preload_for(code: str) -> tuple[str, ...]:
    """The preload a worker for ``code`` needs: :data:`LEAN_PRELOAD` when its imports allow.

    Only speed depends on it: a module missing from the preload is imported by the job.
    """
    tops = set()
    for names, module in _IMPORT.findall(code):
        for name in names.split(",") if names else [module]:
            tops.add(name.strip().split(" ")[0].split(".")[0])
    return LEAN_PRELOAD if tops <= _LEAN_IMPORTS else PRELOAD


_LEAN_IMPORTS = frozenset(sys.stdlib_module_names) | {"numpy"}


_LIVE: weakref.WeakSet[WarmWorker] = weakref.WeakSet()  # started and not yet closed


def close_all_workers() -> None:
    """Close every warm worker of this process (a process ending without atexit calls this)."""
    for worker in list(_LIVE):
        worker.close()


# One worker started ahead of a single job (grader grade-one): its interpreter boots and
# imports numpy while the grading process imports its pipeline and plans the job.
_PRESTARTED: dict[tuple[Tier, Limits], WarmWorker] = {}
# Pre-started workers a job has taken: asked to quit after it (WarmWorker.release) and
# reaped at exit, so their ending overlaps the parent's expected values and checks.
_TAKEN: list[WarmWorker] = []


def prestart(limits: Limits, tier: str | None, probe_modules: Sequence[Path] = ()) -> None:
    """Spawn a worker for the one job this process is about to run (:func:`take_prestarted`).

    It is the worker a batch uses (same tier, limits and proof of cleanliness, holding
    nothing of any job until the job is sent), with the lean preload: code that imports
    more imports it in the job, as a cold child would. Closed at exit if no job takes it.
    ``probe_modules``: the probe module the job will most likely send (WarmWorker).
    """
    worker = WarmWorker(limits, tier, LEAN_PRELOAD, probe_modules)
    key = (worker.tier, worker.limits)
    if key in _PRESTARTED:
        return
    if not _PRESTARTED and not _TAKEN:
        atexit.register(_close_at_exit)
    worker.spawn()
    _PRESTARTED[key] = worker


def take_prestarted(limits: Limits, tier: Tier) -> WarmWorker | None:
    """The pre-started worker of this configuration, now the caller's (None: there is none).
    Any other is closed: a process that pre-starts runs one job. The caller releases the
    worker after its job (:meth:`WarmWorker.release`); it is closed at exit."""
    worker = _PRESTARTED.pop((tier, limits), None)
    close_prestarted()
    if worker is not None:
        _TAKEN.append(worker)
    return worker


def close_prestarted() -> None:
    """Close the pre-started workers no job took."""
    while _PRESTARTED:
        _PRESTARTED.popitem()[1].close()


def _close_at_exit() -> None:
    close_prestarted()
    while _TAKEN:
        _TAKEN.pop().close()


class WorkerFailedError(Exception):
    """The worker broke the protocol, died, or ran out of time."""


def job_frame(job: Job, limits: Limits, own_uid: bool) -> tuple[dict[str, Any], list[bytes]]:
    """The header and blobs that carry one job to the worker.

    The last blob holds every probe's command frame (its params and inputs), laid end
    to end at the offsets ``header["frames"]`` names; the manager keeps it where no
    fork of its own can read it (``child/worker.py``).
    """
    files = {
        "submission/submission.py": job.code.encode(),
        **{f"submission/{rel}": data for rel, data in job.data_files.items()},
        "probes.py": job.probe_module.read_bytes(),
    }
    plan = job.plan(limits, own_uid)
    plan.update(
        probes=[p.supervision() for p in job.probes],
        total_timeout=limits.total_timeout,
        max_restarts=limits.max_restarts,
        capture_bytes=limits.capture_bytes,
        output_bytes=limits.output_bytes,
    )
    frames: dict[str, list[int]] = {}
    secret: list[bytes] = []
    offset = 0
    for i, probe in enumerate(job.probes):
        for kind in ("baseline", "probe") if probe.baseline else ("probe",):
            frame = job.frame(kind, i)
            frames[f"{kind}:{i}"] = [offset, len(frame)]
            secret.append(frame)
            offset += len(frame)
    header = {"plan": plan, "files": list(files), "frames": frames}
    return header, [*files.values(), b"".join(secret)]


class WarmWorker:
    """A pre-started sandboxed worker; ``run(job)`` gives the same JobResult as ``run_job``.

    limits  : applied to every job's children (fixed for the worker's life)
    tier    : as for ``run_job`` (None: $GRADER_SANDBOX or the best available)
    preload : modules imported once, if installed
    probe_modules : probe module files shipped with their installed bytecode and compiled
        at start; a job sending one of them skips its compile (~14 ms), any other is sent
    """

    def __init__(
        self,
        limits: Limits | None = None,
        tier: str | None = None,
        preload: Sequence[str] = PRELOAD,
        probe_modules: Sequence[Path] = (),
    ) -> None:
        self.limits = limits or Limits()
        self.tier: Tier = resolve_tier(tier)
        self.preload = tuple(preload)
        self.probe_modules = tuple(Path(p) for p in probe_modules)
        self.preloaded: tuple[str, ...] = ()
        self.jobs_done = 0
        self.replacements = 0  # workers closed because they could not prove themselves clean
        self._lock = threading.Lock()
        self._process: SandboxProcess | None = None
        self._identity: Identity | None = None  # the uid tier: this worker's own uid
        self._tmp: Path | None = None
        self._to: int = -1
        self._from: int = -1
        self._compiled: set[bytes] = set()  # probe module sources this worker has compiled
        self._cgroup: JobCgroup | None = None
        self._ready = False  # the worker has said it imported its preload

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker and wait until it has imported its preload modules."""
        self.spawn()
        if not self._ready:
            self._await_ready()

    def spawn(self) -> None:
        """Start the worker's process and return at once: it imports its preload while
        this process does other work; the first :meth:`run` (or :meth:`start`) waits."""
        if self._process is not None:
            return
        self._ready = False
        harden_parent()
        if self.tier == "plain":
            baseline()  # the grader's files as they are before any submission of ours ran
        _LIVE.add(self)
        self._tmp = Path(tempfile.mkdtemp(prefix="grader-worker-"))
        runner = self._tmp / "runner"
        probe_names = [f"probes/probes_{i}.py" for i in range(len(self.probe_modules))]
        shipped: dict[str, bytes] = {}
        for name, module in zip(probe_names, self.probe_modules, strict=True):
            shipped |= module_files(name, module)
        write_tree(runner, runner_files() | shipped)
        jobs = self._tmp / "jobs"
        jobs.mkdir()
        if self.tier == "uid":
            # the whole worker runs as a uid of its own, which owns only its jobs folder
            self._identity = allocate()
            os.chmod(self._tmp, 0o711)
            os.chown(jobs, self._identity.uid, self._identity.gid)
        bwrap = self.tier == "bwrap"
        inside_runner, inside_jobs = ("/runner", "/tmp/jobs") if bwrap else (str(runner), str(jobs))
        to_r, self._to = os.pipe()
        self._from, from_w = os.pipe()
        argv = [*child_python_command(self.tier), f"{inside_runner}/launch.py", "worker"]
        argv += [str(to_r), str(from_w), inside_jobs, ",".join(self.preload)]
        argv += ["isolated" if bwrap else "shared"]
        argv += [",".join(f"{inside_runner}/{name}" for name in probe_names)]
        # the worker and every job's processes; limited once the worker's own use is known
        self._cgroup = JobCgroup.create(START_MEMORY, START_TASKS)
        # the worker's own stderr goes to a log, for our error messages
        with open(self._tmp / "worker.log", "wb") as log:
            try:
                self._process = SandboxProcess(
                    self.tier,
                    argv,
                    ro=[(str(runner), "/runner")],
                    chdir="/tmp" if bwrap else str(jobs),
                    home="/tmp" if bwrap else str(jobs),
                    pass_fds=[to_r, from_w],
                    stdout=log,
                    stderr=log,
                    identity=self._identity,
                    cgroup=self._cgroup,
                )
            except SandboxError:
                self.close()  # its folder, pipes and cgroup
                raise
            finally:
                for fd in (to_r, from_w):
                    os.close(fd)

    def _await_ready(self) -> None:
        try:
            hello, _ = wire.read_frame(self._from, deadline=time.monotonic() + START_TIMEOUT)
            self.preloaded = tuple(str(m) for m in hello.get("preloaded", ()))
            with contextlib.suppress(TypeError, ValueError):  # then the job sends its module
                self._compiled.update(bytes.fromhex(d) for d in hello.get("compiled", ()))
            if self._cgroup is not None:
                # each job gets the limits on top of what the idle worker holds
                memory, tasks = self._cgroup.usage()
                limits = self.limits
                self._cgroup.set_limits(
                    memory + limits.job_memory_bytes, tasks + limits.processes + JOB_TASKS
                )
            self._ready = True
        except (wire.WireError, OSError) as e:
            why = self._log_tail()
            self.close()
            raise SandboxError(f"the warm worker did not start: {e}\n{why}") from None

    def close(self) -> None:
        """Stop the worker (asking first), kill its tree and remove its files."""
        if self._process is not None:
            with contextlib.suppress(OSError):
                wire.write_all(self._to, wire.QUIT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.popen.wait(timeout=2.0)
            self._process.kill_tree()
            self._process = None
        self._ready = False
        if self._identity is not None:
            with contextlib.suppress(SandboxError):  # kill_tree has already said so
                self._identity.release()
            self._identity = None
        if self._cgroup is not None:
            self._cgroup.close()
            self._cgroup = None
        for fd in (self._to, self._from):
            if fd >= 0:
                os.close(fd)
        self._to = self._from = -1
        self._compiled.clear()
        if self._tmp is not None:
            remove_tree(self._tmp)
            self._tmp = None
        _LIVE.discard(self)

    def release(self) -> None:
        """Ask the worker to exit now, without waiting: between jobs it holds nothing of
        any job (every process of the last one is gone and its folder wiped before READY).
        :meth:`close` reaps it; meanwhile it must not be given another job."""
        if self._process is not None:
            with contextlib.suppress(OSError):
                wire.write_all(self._to, wire.QUIT)

    def __enter__(self) -> WarmWorker:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The pid of the worker's outermost process (bwrap, or the interpreter)."""
        return self._process.pid if self._process is not None else None

    # -- jobs -------------------------------------------------------------------------------

    def run(self, job: Job) -> JobResult:
        """Run ``job`` in a fresh fork of the worker; a failing worker means a cold retry."""
        with self._lock:
            self.start()
            t0 = time.perf_counter()
            try:
                result = self._run(job, t0)
            except (WorkerFailedError, wire.WireError, OSError) as e:
                self.close()  # a fresh worker for the next job
                cold = run_job(job, self.limits, self.tier)
                why = f"the warm worker failed ({e}); the job was retried on a cold child"
                return replace(cold, notice="; ".join(filter(None, [cold.notice, why])))
            self.jobs_done += 1
            return result

    def _run(self, job: Job, t0: float) -> JobResult:
        limits = self.limits
        # RLIMIT_NPROC only without a cgroup: the uid's count could include other jobs
        own_uid = self.tier != "plain" and as_root() and self._cgroup is None
        header, blobs = job_frame(job, limits, own_uid=own_uid)
        self._precompile(blobs[header["files"].index("probes.py")])
        wire.write_all(self._to, wire.JOB)
        wire.write_frame(self._to, header, blobs)
        budget = limits.total_timeout + limits.setup_timeout + SLACK
        deadline = time.monotonic() + budget
        reply, outputs = wire.read_frame(
            self._from, max_header=1 << 22, max_blobs=limits.output_bytes, deadline=deadline
        )
        if wire.read_exact(self._from, 1, deadline) != wire.READY:
            raise WorkerFailedError("no READY after the job")
        note, _ = wire.read_frame(self._from, deadline=deadline)
        limits_tier = "cgroup" if self._cgroup is not None else "rlimit"
        if not note.get("clean"):
            # this job ran to its end; only the next one is at risk: it gets a fresh worker
            self.replacements += 1
            self.close()
        elif self._identity is not None:
            # the uid's only process between jobs is the worker: anything else is the job's
            if live_processes(self._identity.uid) - {self.pid}:
                self.replacements += 1
                self.close()
            else:
                self._identity.sweep()  # its files in /tmp and the like, before the next job
        if reply.get("fatal"):
            raise SandboxError(f"the sandbox runner failed: {reply['fatal']}")
        report = reply.get("report")
        ids = reply.get("outputs")
        if not (isinstance(report, dict) and isinstance(ids, list)):
            raise WorkerFailedError("malformed reply")
        if len(ids) != len(outputs):
            raise WorkerFailedError("the reply's outputs do not match their names")
        if report.get("fatal"):
            raise SandboxError(f"the sandbox runner failed: {report['fatal']}")
        if self.tier == "plain":
            verify_intact()
        return judge(
            job,
            report,
            dict(zip(map(str, ids), outputs, strict=True)),
            tier=self.tier,
            notice=notice(self.tier),
            wall_seconds=time.perf_counter() - t0,
            worker="warm",
            limits_tier=limits_tier,
        )

    def _precompile(self, source: bytes) -> None:
        """Have the worker compile the probe module once (it is the same for every job)."""
        digest = hashlib.sha256(source).digest()
        if digest not in self._compiled:
            wire.write_all(self._to, wire.COMPILE)
            wire.write_frame(self._to, {"name": "_grader_probes"}, [source])
            self._compiled.add(digest)

    def _log_tail(self) -> str:
        """The end of the worker's own stderr (start-up errors)."""
        try:
            log = Path(self._tmp or "") / "worker.log"
            return log.read_bytes()[-4000:].decode(errors="replace")
        except OSError:
            return ""
