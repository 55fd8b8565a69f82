"""The warm worker: one pre-started interpreter in the sandbox that forks per job.

Start-up imports numpy (and whichever of scipy, pandas, scikit-learn,
matplotlib are installed) once. Then, per job, three generations of process:

    worker    holds nothing of any job: it reads one command byte, forks a
              manager, waits for it, kills every process left, wipes the job's
              directory and answers READY. Because it never reads job data, a
              later job's fork cannot find an earlier job's code or outputs in
              inherited memory. (It does read COMPILE frames: the grader's
              probe module, compiled once for all later jobs.)
    manager   reads the job frame (files, plan, probe module, and every probe's
              command frame, kept in memory its forks do not inherit) from the
              pipe, writes the job directory, supervises runner children with
              the same logic as the cold parent (``session.supervise``), and
              sends back one frame: the report plus the output .npz bytes.
    runner    a fork of the manager: new session, the job's rlimits, cwd in
              the job directory, control pipes closed, then ``runner.run``,
              which gets each probe's inputs on its command pipe when it starts.

The worker and manager are child subreapers (orphans come back to them) and
are not dumpable, so a submission running under the same uid can neither trace
them nor open their file descriptors through /proc. A submission can kill them;
the parent then sees a broken pipe, restarts the worker and retries cold.

``launch.py worker <ctl in fd> <ctl out fd> <jobs dir> <preload,...> isolated|shared
<probe module files,...>``
"""

from __future__ import annotations

import contextlib
import importlib
import mmap
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any

from . import cleanfs, proctree, wire
from .runner import (
    ERROR_CAP,
    Progress,
    apply_limits,
    load_module,
    precompile,
    precompile_file,
    run,
)
from .session import supervise


class ForkChild:
    """A runner forked from the manager (the ``session.Child`` protocol)."""

    def __init__(self, plan: dict, probes: Any, jobdir: Path) -> None:
        commands_r, self.commands = os.pipe()
        self.progress, progress_w = os.pipe()
        self.stdout, out_w = os.pipe()
        self.stderr, err_w = os.pipe()
        self.status: int | None = None
        self.pid = os.fork()
        if self.pid == 0:  # the runner: never returns
            code = 70
            try:
                os.setsid()
                null = os.open(os.devnull, os.O_RDONLY)
                for fd, target in ((null, 0), (out_w, 1), (err_w, 2)):
                    os.dup2(fd, target)
                # nothing of the manager's stays open: not the control pipes, not other pipes
                low, high = sorted((commands_r, progress_w))
                os.closerange(3, low)
                os.closerange(low + 1, high)
                os.closerange(high + 1, 1 << 16)
                os.chdir(jobdir / "submission")
                os.environ["HOME"] = str(jobdir / "home")
                os.environ["MPLCONFIGDIR"] = str(jobdir / "home" / ".matplotlib")
                proctree.set_dumpable(True)  # its own /proc entries stay usable
                import numpy as np

                np.random.seed()  # as fresh as a new interpreter, not the worker's state
                apply_limits(plan["limits"])
                run(probes, commands_r, jobdir, Progress(progress_w))
                for stream in (sys.stdout, sys.stderr):
                    stream.flush()
                code = 0
            finally:
                os._exit(code)
        for fd in (commands_r, progress_w, out_w, err_w):
            os.close(fd)
        try:
            self.pidfd: int | None = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self.pidfd = None

    def exited(self) -> int | None:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def exit_fd(self) -> int | None:
        return self.pidfd

    def kill(self) -> None:
        proctree.kill_all({self.pid})
        proctree.kill_descendants(os.getpid(), reap=False)
        if self.status is None:
            _, status = os.waitpid(self.pid, 0)
            self.status = os.waitstatus_to_exitcode(status)
        proctree.reap_children()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def exit_note(self, status: int) -> str:
        if status < 0:
            try:
                name = signal.Signals(-status).name
            except ValueError:
                name = f"signal {-status}"
            return f"the process was killed by {name}"
        return f"the process exited with status {status} before finishing (sys.exit or os._exit?)"


def unforked(size: int) -> mmap.mmap:
    """Anonymous memory that no fork of this process inherits (MADV_DONTFORK).

    The manager keeps every probe's command frame (params and inputs) here: a runner
    it forks, whose submission may read all of its own memory, has none of it, and
    gets each probe's frame on its command pipe only when that probe starts.
    """
    region = mmap.mmap(-1, max(size, 1))
    region.madvise(mmap.MADV_DONTFORK)
    return region


def manage(ctl_in: int, ctl_out: int, jobdir: Path) -> None:
    """The per-job manager (a fork of the worker): read, run, answer, exit."""
    proctree.set_subreaper()
    # a frame that cannot be read is a broken pipe, not a job: exit without answering
    header, sizes = wire.read_header(ctl_in, max_header=1 << 22, max_blobs=1 << 31)
    names = header.get("files")
    if not isinstance(names, list) or len(names) + 1 != len(sizes):
        return
    files = {str(n): wire.read_exact(ctl_in, s) for n, s in zip(names, sizes, strict=False)}
    region = unforked(sizes[-1])
    view = memoryview(region)
    wire.read_into(ctl_in, view[: sizes[-1]])
    try:
        plan = header["plan"]
        spans = {str(k): (int(a), int(n)) for k, (a, n) in header["frames"].items()}
        for top in ("submission", "outputs", "home"):
            (jobdir / top).mkdir(parents=True)
        for rel, data in files.items():
            if rel.startswith("submission/") and ".." not in Path(rel).parts:
                (jobdir / rel).parent.mkdir(parents=True, exist_ok=True)
                (jobdir / rel).write_bytes(data)
        probes = load_module("_grader_probes", source=files["probes.py"])
        if missing := sorted(set(plan["calls"]) - set(dir(probes))):
            raise LookupError(f"the probe module has no function(s) {', '.join(missing)}")
    except Exception as exc:
        wire.write_frame(ctl_out, {"fatal": f"{type(exc).__name__}: {exc}"[:ERROR_CAP]})
        return

    def frame(kind: str, index: int) -> memoryview:
        at, size = spans[f"{kind}:{index}"]
        return view[at : at + size]

    report, outputs = supervise(
        plan["probes"],
        lambda: ForkChild(plan, probes, jobdir),
        frame,
        setup_timeout=float(plan["setup_timeout"]),
        total_timeout=float(plan["total_timeout"]),
        max_restarts=int(plan["max_restarts"]),
        capture_bytes=int(plan["capture_bytes"]),
        output_bytes=int(plan["output_bytes"]),
    )
    ids = list(outputs)
    wire.write_frame(ctl_out, {"report": report, "outputs": ids}, [outputs[i] for i in ids])


def wipe(path: Path) -> None:
    """Remove a job directory without following any link it holds; OSError if that fails."""
    cleanfs.remove_tree(str(path))


def new_jobdir(jobs_fd: int, jobs: Path) -> Path:
    """A fresh job directory under an unguessable name, created without following links.

    ``mkdir`` never follows a link at its last component: an entry planted under
    the name (impossible to guess anyway) makes it fail rather than be reused.
    """
    name = secrets.token_hex(16)
    os.mkdir(name, 0o700, dir_fd=jobs_fd)
    os.mkdir("tmp", 0o700, dir_fd=(fd := cleanfs.open_folder(jobs_fd, name)))
    os.close(fd)
    return jobs / name


def main(argv: list[str]) -> None:
    """Worker loop: preload, say hello, then one forked manager per JOB byte.

    After each job the worker proves itself clean against the baseline taken
    before the first (``cleanfs.Baseline``); when it cannot, it says so and
    exits, and the parent starts a fresh worker for the next job.
    """
    ctl_in, ctl_out, jobs = int(argv[0]), int(argv[1]), Path(argv[2])
    isolated = len(argv) > 4 and argv[4] == "isolated"
    jobs.mkdir(mode=0o700, parents=True, exist_ok=True)
    jobs_fd = os.open(jobs, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    proctree.set_dumpable(False)
    proctree.set_subreaper()
    loaded = []
    for name in filter(None, argv[3].split(",")):
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception:
            continue  # not installed here: the submission will get an ImportError
    # the probe module(s) the parent shipped with their bytecode: no job compiles them
    compiled = []
    for path in filter(None, (argv[5] if len(argv) > 5 else "").split(",")):
        with contextlib.suppress(Exception):  # not compiled here: the job sends it
            compiled.append(precompile_file("_grader_probes", path))
    baseline = cleanfs.Baseline.take(str(jobs), isolated)
    hello = {"hello": True, "preloaded": loaded, "compiled": compiled, "pid": os.getpid()}
    wire.write_frame(ctl_out, hello)
    while True:
        try:
            command = wire.read_exact(ctl_in, 1)
        except wire.WireError:
            break
        if command == wire.COMPILE:
            header, (source,) = wire.read_frame(ctl_in, max_header=1 << 12, max_blobs=1 << 22)
            with contextlib.suppress(Exception):  # each job's load_module then reports it
                precompile(str(header["name"]), source)
            continue
        if command != wire.JOB:
            break
        jobdir = new_jobdir(jobs_fd, jobs)  # an OSError ends the worker: the parent retries
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:
            try:
                # the job's own temporary folder, wiped with it
                os.environ["TMPDIR"] = str(jobdir / "tmp")
                if "tempfile" in sys.modules:  # a preloaded library may have cached /tmp
                    sys.modules["tempfile"].__dict__["tempdir"] = None
                manage(ctl_in, ctl_out, jobdir)
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        problems = [] if proctree.kill_descendants() else ["the job's processes would not die"]
        try:
            wipe(jobdir)
            problems += baseline.problems()
        except OSError as e:
            problems.append(f"the job directory could not be removed: {e}")
        wire.write_all(ctl_out, wire.READY)
        note = {"manager": os.waitstatus_to_exitcode(status), "clean": not problems}
        wire.write_frame(ctl_out, {**note, "problems": problems, "seconds": time.monotonic() - t0})
        if problems:
            break  # the parent starts a fresh worker
    os._exit(0)
