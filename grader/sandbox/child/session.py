"""Supervising the children of one job: deadlines, statuses, restarts, capped output.

The supervisor owns the clock. A probe's deadline starts when the previous step
ended (setup, or the previous probe), not when the child says ``start``: the
progress fd is writable by the submission, so its events are claims, used only
to advance through the plan in order. When a probe hangs or kills its process,
the tree is killed and a fresh child is started for the probes after it (setup
again), at most ``max_restarts`` times.

Used in two places with the same logic: by the trusted parent for a cold job
(the child is a sandboxed interpreter), and by the warm worker's per-job
manager inside the sandbox (the child is a fork). The report is a plain
JSON-able dict, so the manager can send it over a pipe.

Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import stat
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

CLAIMS = ("ok", "error", "killed")  # what a child may report for a step
EXIT_GRACE = 2.0  # seconds a child may take to exit after "done" or a failed setup
LINE_CAP = 65536


class Child(Protocol):
    """A started child: three pipes to read and a way to end its whole tree."""

    progress: int
    stdout: int
    stderr: int

    def exited(self) -> int | None:
        """The exit status once the child has exited (non-blocking), else None."""

    def exit_fd(self) -> int | None:
        """An fd that becomes readable when the child exits (a pidfd), if any."""

    def kill(self) -> None:
        """Kill the child and every process it started; return once all are gone."""

    def exit_note(self, status: int) -> str:
        """One sentence on how the child ended, e.g. "killed by SIGKILL"."""


class Capture:
    """The head and the tail of a byte stream, at most ``limit`` bytes kept in all."""

    def __init__(self, limit: int) -> None:
        self.half = max(limit // 2, 1)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data[-self.half :]
            del self.tail[: max(len(self.tail) - self.half, 0)]

    def text(self) -> str:
        kept = len(self.head) + len(self.tail)
        gap = f"\n[... {self.total - kept} bytes omitted ...]\n" if self.total > kept else ""
        return (bytes(self.head).decode(errors="replace") + gap) + bytes(self.tail).decode(
            errors="replace"
        )


def step(status: str, error: str = "", traceback: str = "", seconds: float = 0.0) -> dict:
    """One record of the report: a setup or a probe outcome."""
    return {"status": status, "error": error, "traceback": traceback, "seconds": seconds}


class _Watch:
    """Follows one child through the plan from probe ``start`` until it is gone."""

    def __init__(self, child: Child, probes: Sequence[Mapping[str, Any]], start: int) -> None:
        self.child, self.probes, self.i = child, probes, start
        self.phase = "begin"  # -> setup -> probes -> finished (or failed)
        self.since = time.monotonic()
        self.buffer = b""
        self.setup: dict | None = None
        self.fatal: str | None = None
        self.ended: dict[str, dict] = {}

    def deadline(self, setup_timeout: float) -> float:
        if self.phase in ("begin", "setup"):
            return self.since + setup_timeout
        if self.phase == "probes":
            return self.since + float(self.probes[self.i]["timeout"])
        return self.since + EXIT_GRACE

    def feed(self, data: bytes) -> None:
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        if len(self.buffer) > LINE_CAP:
            self.buffer = b""  # an over-long line is noise: drop it
        for line in lines:
            try:
                event = json.loads(line)
                if isinstance(event, dict):
                    self.on(event)
            except (ValueError, TypeError, KeyError):
                continue

    def on(self, event: dict) -> None:
        kind, now = event.get("event"), time.monotonic()
        claim = str(event.get("status")) if event.get("status") in CLAIMS else "error"
        text = {k: str(event.get(k) or "")[:8000] for k in ("error", "traceback")}
        if kind == "fatal" and self.phase == "begin":
            self.fatal, self.phase = text["error"] or "the runner failed", "failed"
        elif kind == "begin" and self.phase == "begin":
            self.phase = "setup"
        elif kind == "setup" and self.phase == "setup":
            self.setup = step(claim, **text, seconds=now - self.since)
            self.phase = "probes" if claim == "ok" else "failed"
            self.since = now
            if self.phase == "probes" and self.i >= len(self.probes):
                self.phase = "finished"
        elif kind == "end" and self.phase == "probes" and event.get("probe") == self.current:
            self.ended[self.current] = step(claim, **text, seconds=now - self.since)
            self.i, self.since = self.i + 1, now
            if self.i >= len(self.probes):
                self.phase = "finished"
        elif kind == "done" and self.phase == "probes":
            self.phase, self.since = "finished", now

    @property
    def current(self) -> str:
        return str(self.probes[self.i]["id"])


def _read(fd: int) -> bytes | None:
    """What is readable now on a non-blocking fd; None at EOF."""
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return b"".join(chunks)
        except OSError:
            return None
        if not chunk:
            return b"".join(chunks) if chunks else None
        chunks.append(chunk)
        if len(chunks) >= 16:  # let the other pipes have a turn
            return b"".join(chunks)


def supervise(
    probes: Sequence[Mapping[str, Any]],
    spawn: Callable[[int], Child],
    collect: Callable[[list[str]], None],
    *,
    setup_timeout: float,
    total_timeout: float,
    max_restarts: int,
    capture_bytes: int,
) -> dict[str, Any]:
    """Run ``probes`` in as many children as needed; the report as a plain dict.

    spawn(start) starts a child that runs setup then ``probes[start:]``.
    collect(ids) is called once each child's tree is gone, with the probes that
    child claims to have finished "ok", so their outputs can be read while no
    process of the job is alive.

    Returns {"setup": step, "probes": [{"id": ..., **step}], "restarts": int,
    "stdout": str, "stderr": str, "fatal": str | None}.
    """
    t0 = time.monotonic()
    total_deadline = t0 + total_timeout
    out, err = Capture(capture_bytes), Capture(capture_bytes)
    done: dict[str, dict] = {}
    first_setup: dict | None = None
    start, restarts, why_not_run = 0, 0, ""
    while start < len(probes):
        watch = _Watch(spawn(start), probes, start)
        cause = _follow(watch, out, err, setup_timeout, total_deadline)
        if watch.fatal is not None and not restarts:
            return {"fatal": watch.fatal, "stdout": out.text(), "stderr": err.text()}
        if watch.fatal is not None:  # the first child started: the submission broke the next
            watch.setup = step("killed", f"a restarted child did not start: {watch.fatal}")
        collect([pid for pid, s in watch.ended.items() if s["status"] == "ok"])
        done.update(watch.ended)
        setup = watch.setup or step(cause["status"], cause["error"], "", cause["seconds"])
        first_setup = first_setup or setup
        if setup["status"] != "ok":
            why_not_run = f"setup {setup['status']}" + (" (after a restart)" if restarts else "")
            break
        if watch.i >= len(probes):
            break
        done[watch.current] = cause
        start = watch.i + 1
        if time.monotonic() >= total_deadline:
            why_not_run = f"the total time limit ({total_timeout:g} s) was reached"
            break
        if restarts >= max_restarts:
            why_not_run = f"the restart limit ({max_restarts}) was reached"
            break
        restarts += 1
    records = [
        {"id": str(p["id"]), **done.get(str(p["id"]), step("missing", f"not run: {why_not_run}"))}
        for p in probes
    ]
    return {
        "setup": first_setup or step("missing"),
        "probes": records,
        "restarts": restarts,
        "stdout": out.text(),
        "stderr": err.text(),
        "fatal": None,
    }


def _follow(
    watch: _Watch, out: Capture, err: Capture, setup_timeout: float, total_deadline: float
) -> dict:
    """Pump one child's pipes until it exits or a deadline passes; kill its tree.

    Returns the step record for whatever was interrupted (setup or the current
    probe): "timeout" or "killed" with a sentence saying why.
    """
    child = watch.child
    sinks: dict[int, Callable[[bytes], None]] = {
        child.progress: watch.feed,
        child.stdout: out.feed,
        child.stderr: err.feed,
    }
    for fd in sinks:
        os.set_blocking(fd, False)
    poller = select.poll()
    for fd in sinks:
        poller.register(fd, select.POLLIN)
    exit_fd = child.exit_fd()
    if exit_fd is not None:
        poller.register(exit_fd, select.POLLIN)
    cause = step("killed", "")
    while True:
        status = child.exited()
        now = time.monotonic()
        deadline = min(watch.deadline(setup_timeout), total_deadline)
        if status is not None:
            data = _read(child.progress)  # events written just before the exit
            if data:
                watch.feed(data)
            cause = step("killed", child.exit_note(status), seconds=now - watch.since)
            if watch.phase == "begin" and watch.fatal is None:
                watch.fatal = f"the runner did not start: {child.exit_note(status)}"
            break
        if now >= deadline:
            over = total_deadline <= now
            what = "the submission's total time limit" if over else "its time limit"
            limit = watch.deadline(setup_timeout) - watch.since
            cause = step(
                "timeout",
                f"your code did not finish within {now - watch.since:.1f} s and was stopped ({what})",
                seconds=limit,
            )
            break
        wait = max(0.0, deadline - now)
        ready = poller.poll(1000 * (wait if exit_fd is not None else min(wait, 0.02)))
        for fd, _ in ready:
            if fd in sinks:
                data = _read(fd)
                if data is None:
                    poller.unregister(fd)  # EOF: nothing more will come
                elif data:
                    sinks[fd](data)
    child.kill()
    for fd in (child.stdout, child.stderr):  # what was written before the end
        data = _read(fd)
        if data:
            (out if fd == child.stdout else err).feed(data)
    for fd in (child.progress, child.stdout, child.stderr):
        with contextlib.suppress(OSError):
            os.close(fd)
    return cause


def read_outputs(
    outdir: str, ids: Sequence[str], budget: int
) -> tuple[dict[str, bytes], dict[str, str], int]:
    """Read ``<id>.npz`` for each id from a directory the submission could write to.

    Never follows a symlink, never blocks on a fifo, reads only regular files,
    and stops at ``budget`` bytes in all. Returns (blobs, problems, budget left);
    an absent file is in neither (the caller reports it missing).
    """
    blobs: dict[str, bytes] = {}
    problems: dict[str, str] = {}
    try:
        dfd = os.open(outdir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return blobs, {i: "the outputs directory was removed or replaced" for i in ids}, budget
    try:
        for pid in ids:
            try:
                fd = os.open(f"{pid}.npz", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
            except FileNotFoundError:
                continue
            except OSError as e:
                problems[pid] = f"the output file could not be opened ({e.strerror})"
                continue
            with os.fdopen(fd, "rb") as f:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    problems[pid] = "the output is not a regular file"
                elif st.st_size > budget:
                    problems[pid] = f"the outputs exceed the cap ({st.st_size} > {budget} bytes)"
                else:
                    blobs[pid] = f.read(st.st_size)
                    budget -= len(blobs[pid])
    finally:
        os.close(dfd)
    return blobs, problems, budget
