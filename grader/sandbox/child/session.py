"""Supervising the children of one job: commands, deadlines, statuses, restarts, capped output.

The supervisor owns the clock and the inputs. It drives each child with commands
on a pipe (``baseline``, ``setup``, then one ``probe`` frame per probe, carrying
that probe's inputs only when it starts) and times every step on its own clock,
from the moment it starts sending the command to the moment the whole answer
(status line and output bytes) has arrived. A step's deadline is its command's
send time plus its limit. The progress fd is writable by the submission, so an
answer is a claim: forging one early gains nothing, because a probe's outputs
travel inside its answer (an answer without them is a missing output, one with
wrong ones fails), and the next probe's clock starts when its command is sent.
When a probe hangs or kills its process, the tree is killed and a fresh child is
started for the probes after it (setup again), at most ``max_restarts`` times.

Standard output and error are kept whole for the instructor, and separately as
printed while public probes ran (the student's view shows only that part: nothing
printed at load, nor after the first hidden probe's inputs were sent).

Used in two places with the same logic: by the trusted parent for a cold job
(the child is a sandboxed interpreter), and by the warm worker's per-job
manager inside the sandbox (the child is a fork). The report is a plain
JSON-able dict, so the manager can send it over a pipe.

Why the child cannot shorten a time. The clock is CLOCK_MONOTONIC of the
supervisor's process, read before the first byte of a command is written and
after the last byte of its answer is read: the child has nothing before the
command (its inputs are in it), and its answer must hold the outputs the parent
checks afterwards. In the warm path the manager shares the runner's uid and is
not dumpable: the runner can neither read nor trace it, only signal it. Stopping
or slowing the manager only makes the times it measures longer (the parent's own
limit on the whole job still ends it), and killing it makes the parent retry the
job cold. A timed probe's baseline runs before the submission is loaded, in the
job's first child, so no process of the submission exists to disturb it.

Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from . import wire

CLAIMS = ("ok", "error", "killed")  # what a child may report for a step
EXIT_GRACE = 2.0  # seconds a child may take to exit after its last command or a failed setup
LINE_CAP = 65536
INVENTORY_BYTES = 1 << 20  # the setup answer's inventory, as JSON

# A command to send: a whole frame (grader/sandbox/child/wire.py), bytes or a view of them
Frame = bytes | memoryview


class Child(Protocol):
    """A started child: a command pipe to write, three pipes to read, a way to end its tree."""

    commands: int
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


class Output:
    """A stream kept whole (the instructor's) and as printed during public probes (the student's)."""

    def __init__(self, limit: int) -> None:
        self.all, self.public = Capture(limit), Capture(limit)
        self.shown = False  # whether what arrives now may be shown to the student

    def feed(self, data: bytes) -> None:
        self.all.feed(data)
        if self.shown:
            self.public.feed(data)


def step(status: str, error: str = "", traceback: str = "", seconds: float = 0.0) -> dict:
    """One record of the report: a setup or a probe outcome."""
    return {"status": status, "error": error, "traceback": traceback, "seconds": seconds}


class _Command:
    """One command of a child's queue: what it is, its frame, its limit, when it was sent."""

    def __init__(
        self, kind: str, index: int, frame: Frame | _Lazy, timeout: float, shown: bool
    ) -> None:
        self.kind, self.index, self.frame, self.timeout, self.shown = (
            kind,
            index,
            frame,
            timeout,
            shown,
        )
        self.sent_at = 0.0

    @property
    def key(self) -> object:
        """What the child's answer names: the probe index, "setup" or "baseline:<index>"."""
        return {"probe": self.index, "setup": "setup"}.get(self.kind, f"baseline:{self.index}")


class _Watch:
    """Follows one child through its commands until it is gone."""

    def __init__(self, child: Child, queue: list[_Command], start: int, budget: int) -> None:
        self.child, self.queue, self.i = child, queue, start
        self.phase = "begin"  # -> running -> finished (or failed)
        self.since = time.monotonic()
        self.current: _Command | None = None
        self.pending: memoryview | None = None  # what is left to write of the current frame
        self.buffer = b""
        self.expect = 0  # raw bytes still to come after an answer's line
        self.blob = bytearray()
        self.answer: dict | None = None
        self.budget = budget
        self.setup: dict | None = None
        self.inventory: dict = {}
        self.fatal: str | None = None
        self.ended: dict[int, dict] = {}
        self.outputs: dict[int, bytes] = {}
        self.problems: dict[int, str] = {}
        self.baselines: dict[int, float] = {}
        self.on_switch: Callable[[bool], None] = lambda shown: None

    def deadline(self, setup_timeout: float) -> float:
        if self.phase == "begin":
            return self.since + setup_timeout
        if self.phase == "running" and self.current is not None:
            return self.current.sent_at + self.current.timeout
        return self.since + EXIT_GRACE

    def limit(self, setup_timeout: float) -> float:
        return self.deadline(setup_timeout) - self.started()

    def started(self) -> float:
        return self.current.sent_at if self.phase == "running" and self.current else self.since

    # -- commands ---------------------------------------------------------------------------

    def next_command(self) -> None:
        """Send the next command, or close the pipe when there is none (the child exits)."""
        if not self.queue:
            self.finish()
            return
        self.current = self.queue.pop(0)
        self.on_switch(self.current.shown)
        self.phase = "running"
        self.current.sent_at = time.monotonic()  # before the first byte: a slow reader pays
        self.pending = memoryview(_frame_of(self.current))
        self.flush()

    def flush(self) -> None:
        """Write what the pipe takes now of the current frame (never blocks)."""
        while self.pending is not None and len(self.pending):
            try:
                n = os.write(self.child.commands, self.pending[: 1 << 16])
            except BlockingIOError:
                return
            except OSError:  # the child closed its end: its exit will tell
                self.pending = None
                return
            self.pending = self.pending[n:]
        self.pending = None

    def finish(self, phase: str = "finished") -> None:
        self.phase, self.since, self.current = phase, time.monotonic(), None
        self.on_switch(False)
        self.pending = None
        with contextlib.suppress(OSError):
            os.close(self.child.commands)
        self.child.commands = -1

    # -- answers ----------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        while data:
            if self.expect:
                take, data = data[: self.expect], data[self.expect :]
                self.expect -= len(take)
                if self.answer is not None and self.answer.get("keep"):
                    self.blob += take
                if not self.expect:
                    self.answered()
                continue
            self.buffer += data
            data = b""
            if b"\n" not in self.buffer:
                if len(self.buffer) > LINE_CAP:
                    self.buffer = b""  # an over-long line is noise: drop it
                return
            line, rest = self.buffer.split(b"\n", 1)
            self.buffer = b""
            self.line(line)
            data = rest

    def line(self, line: bytes) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        kind = event.get("event")
        if kind == "fatal" and self.phase == "begin":
            self.fatal = str(event.get("error") or "")[:8000] or "the runner failed"
            self.finish("failed")
        elif kind == "begin" and self.phase == "begin":
            self.next_command()
        elif kind == "answer":
            try:
                size = max(0, int(event.get("bytes") or 0))
            except (TypeError, ValueError):
                size = 0
            current = self.current
            mine = current is not None and event.get("index") == current.key
            if (
                current is not None
                and mine
                and event.get("status") == "ok"
                and not size
                and current.kind != "setup"
            ):
                return  # "ok" without outputs claims nothing: the probe's clock runs on
            keep = mine and size <= self.budget
            self.answer = {**event, "mine": mine, "keep": keep, "size": size} if mine else None
            self.blob = bytearray()
            self.expect = size
            if not size:
                self.answered()

    def answered(self) -> None:
        """The whole answer to the current command has arrived (the step's end on our clock)."""
        event, self.answer = self.answer, None
        command = self.current
        if event is None or command is None:
            return
        now = time.monotonic()
        claim = str(event.get("status")) if event.get("status") in CLAIMS else "error"
        text = {k: str(event.get(k) or "")[:8000] for k in ("error", "traceback")}
        record = step(claim, **text, seconds=now - command.sent_at)
        blob = bytes(self.blob)
        self.blob = bytearray()
        if command.kind == "baseline":
            if claim == "ok" and blob:
                self.baselines[command.index] = record["seconds"]
        elif command.kind == "setup":
            self.setup = record
            inventory = event.get("inventory")
            if isinstance(inventory, dict) and len(json.dumps(inventory)) <= INVENTORY_BYTES:
                self.inventory = inventory
            if claim != "ok":
                self.finish("failed")
                return
        else:
            self.ended[command.index] = record
            if claim == "ok":
                if not event.get("keep"):
                    self.problems[command.index] = (
                        f"the outputs exceed the cap ({event.get('size')} > {self.budget} bytes)"
                    )
                elif blob:
                    self.outputs[command.index] = blob
                    self.budget -= len(blob)
            self.i = command.index + 1
        self.next_command()


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


def setup_frame() -> bytes:
    """The ``setup`` command (it carries nothing)."""
    return wire.encode({"do": "setup"})


def supervise(
    probes: Sequence[Mapping[str, Any]],
    spawn: Callable[[], Child],
    frame: Callable[[str, int], Frame],
    *,
    setup_timeout: float,
    total_timeout: float,
    max_restarts: int,
    capture_bytes: int,
    output_bytes: int,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Run ``probes`` in as many children as needed; the report (a plain dict) and the outputs.

    probes : [{"id", "timeout", "timed", "public"}]: a timed probe gets a baseline
             run first (in the job's first child, before the submission is loaded)
    spawn() starts a child that waits for commands.
    frame(kind, i) is the whole command frame of probe i ("probe", its inputs
             included) or of its baseline ("baseline", shapes only).

    Returns ({"setup": step, "probes": [{"id": ..., **step}], "baselines": {id: seconds},
    "inventory": {...}, "restarts": int, "stdout", "stderr", "public_stdout",
    "public_stderr": str, "fatal": str | None}, {probe id: .npz bytes}).
    """
    t0 = time.monotonic()
    total_deadline = t0 + total_timeout
    out, err = Output(capture_bytes), Output(capture_bytes)
    done: dict[int, dict] = {}
    outputs: dict[int, bytes] = {}
    problems: dict[int, str] = {}
    baselines: dict[int, float] = {}
    inventory: dict = {}
    first_setup: dict | None = None
    start, restarts, why_not_run, budget = 0, 0, "", output_bytes
    hidden_sent = [False]

    def switch(shown: bool) -> None:
        # output is the student's only while public probes run, never once a hidden one began
        out.shown = err.shown = shown and not hidden_sent[0]

    baselines_due = True  # in the job's first child only
    while start < len(probes) or first_setup is None:  # a setup-only job runs its setup
        queue = []
        if baselines_due:
            queue += [
                _Command("baseline", i, frame("baseline", i), float(p["timeout"]), False)
                for i, p in enumerate(probes)
                if p.get("timed")
            ]
        queue.append(_Command("setup", -1, setup_frame(), setup_timeout, False))
        for i in range(start, len(probes)):
            shown = bool(probes[i].get("public"))
            queue.append(_Command("probe", i, _Lazy(frame, i), float(probes[i]["timeout"]), shown))
        watch = _Watch(spawn(), queue, start, budget)

        def on_switch(shown: bool, watch: _Watch = watch) -> None:
            if watch.current is not None and watch.current.kind == "probe" and not shown:
                hidden_sent[0] = True
            switch(shown)

        watch.on_switch = on_switch
        cause = _follow(watch, out, err, setup_timeout, total_deadline)
        switch(False)
        baselines_due = False
        baselines.update(watch.baselines)
        if watch.fatal is None and watch.current is not None and watch.current.kind == "baseline":
            # the grader's own code failed before any of the student's ran: the timing
            # check then has no baseline (the grader's problem), every other check runs
            continue
        if watch.fatal is not None and not restarts:
            return {
                "fatal": watch.fatal,
                "stdout": out.all.text(),
                "stderr": err.all.text(),
            }, {}
        if watch.fatal is not None:  # the first child started: the submission broke the next
            watch.setup = step("killed", f"a restarted child did not start: {watch.fatal}")
        done.update(watch.ended)
        outputs.update(watch.outputs)
        problems.update(watch.problems)
        budget = watch.budget
        inventory = inventory or watch.inventory
        setup = watch.setup or step(cause["status"], cause["error"], "", cause["seconds"])
        first_setup = first_setup or setup
        if setup["status"] != "ok":
            why_not_run = f"setup {setup['status']}" + (" (after a restart)" if restarts else "")
            break
        if watch.i >= len(probes):
            break
        done[watch.i] = cause
        start = watch.i + 1
        if time.monotonic() >= total_deadline:
            why_not_run = f"the total time limit ({total_timeout:g} s) was reached"
            break
        if restarts >= max_restarts:
            why_not_run = f"the restart limit ({max_restarts}) was reached"
            break
        restarts += 1
    records = [
        {"id": str(p["id"]), **done.get(i, step("missing", f"not run: {why_not_run}"))}
        for i, p in enumerate(probes)
    ]
    for i, why in problems.items():
        records[i] = {**records[i], "problem": why}
    report = {
        "setup": first_setup or step("missing"),
        "probes": records,
        "baselines": {str(probes[i]["id"]): s for i, s in baselines.items()},
        "inventory": inventory,
        "restarts": restarts,
        "stdout": out.all.text(),
        "stderr": err.all.text(),
        "public_stdout": out.public.text(),
        "public_stderr": err.public.text(),
        "fatal": None,
    }
    return report, {str(probes[i]["id"]): b for i, b in outputs.items()}


class _Lazy:
    """A probe's frame, built (or sliced) only when its command is sent."""

    def __init__(self, frame: Callable[[str, int], Frame], index: int) -> None:
        self.make, self.index = frame, index


def _frame_of(command: _Command) -> Frame:
    frame = command.frame
    return frame.make("probe", frame.index) if isinstance(frame, _Lazy) else frame


def _follow(
    watch: _Watch, out: Output, err: Output, setup_timeout: float, total_deadline: float
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
    for fd in (*sinks, child.commands):
        os.set_blocking(fd, False)

    def drain() -> None:
        # output printed before an answer belongs to the step that answered
        for fd in (child.stdout, child.stderr):
            data = _read(fd)
            if data:
                sinks[fd](data)

    feed = watch.feed

    def on_progress(data: bytes) -> None:
        drain()
        feed(data)

    sinks[child.progress] = on_progress
    poller = select.poll()
    for fd in sinks:
        poller.register(fd, select.POLLIN)
    exit_fd = child.exit_fd()
    if exit_fd is not None:
        poller.register(exit_fd, select.POLLIN)
    writing = False
    cause = step("killed", "")
    while True:
        if watch.pending is not None and not writing and child.commands >= 0:
            poller.register(child.commands, select.POLLOUT)
            writing = True
        elif watch.pending is None and writing:
            with contextlib.suppress(KeyError, ValueError):
                poller.unregister(child.commands)
            writing = False
        status = child.exited()
        now = time.monotonic()
        deadline = min(watch.deadline(setup_timeout), total_deadline)
        if status is not None:
            data = _read(child.progress)  # answers written just before the exit
            drain()
            if data:
                watch.feed(data)
            cause = step("killed", child.exit_note(status), seconds=now - watch.started())
            if watch.phase == "begin" and watch.fatal is None:
                watch.fatal = f"the runner did not start: {child.exit_note(status)}"
            break
        if now >= deadline:
            over = total_deadline <= now
            what = "the submission's total time limit" if over else "its time limit"
            cause = step(
                "timeout",
                f"your code did not finish within {now - watch.started():.1f} s and was stopped ({what})",
                seconds=watch.limit(setup_timeout),
            )
            break
        wait = max(0.0, deadline - now)
        ready = poller.poll(1000 * (wait if exit_fd is not None else min(wait, 0.02)))
        for fd, _ in ready:
            if fd == child.commands and writing:
                watch.flush()
            elif fd in sinks:
                data = _read(fd)
                if data is None:
                    poller.unregister(fd)  # EOF: nothing more will come
                elif data:
                    sinks[fd](data)
    child.kill()
    drain()
    if child.commands >= 0:
        with contextlib.suppress(OSError):
            os.close(child.commands)
        child.commands = -1
    for fd in (child.progress, child.stdout, child.stderr):
        with contextlib.suppress(OSError):
            os.close(fd)
    return cause
