"""Process bookkeeping through ``/proc`` and ``prctl``: find and kill a tree.

A process group is not enough to end what a submission started: a grandchild can
call ``setsid()`` and leave both the group and the session. Whoever supervises
therefore becomes a *child subreaper* (orphans are re-parented to it, not to
init) and kills by walking parent links in ``/proc`` until nothing is left.

Linux only where it says so; elsewhere the functions degrade to process groups.
Standard library only (this file also runs inside the sandbox).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from dataclasses import dataclass

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

_libc: ctypes.CDLL | None = None


def prctl(option: int, arg: int) -> bool:
    """Call ``prctl(option, arg, 0, 0, 0)``; False where there is no prctl or it fails."""
    global _libc
    if not sys.platform.startswith("linux"):
        return False
    if _libc is None:
        # the interpreter's own symbols, libc's among them: no library search (ctypes.util
        # would start ldconfig, ~4 ms of every worker's start)
        _libc = ctypes.CDLL(None, use_errno=True)
    return bool(_libc.prctl(option, arg, 0, 0, 0) == 0)


def set_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux)."""
    return prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_dumpable(flag: bool) -> bool:
    """Allow (True) or forbid (False) ptrace and /proc/<pid>/mem access by same-uid peers."""
    return prctl(PR_SET_DUMPABLE, int(flag))


@dataclass(frozen=True)
class Proc:
    """One line of ``/proc/<pid>/stat``: the fields we need."""

    pid: int
    ppid: int
    sid: int
    state: str
    start: int  # clock ticks after boot


def processes() -> dict[int, Proc]:
    """Every visible process (empty where there is no /proc)."""
    table: dict[int, Proc] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        # comm is in parentheses and may itself contain ") ": split at the last one
        fields = raw[raw.rfind(b")") + 2 :].split()
        try:
            table[int(name)] = Proc(
                int(name), int(fields[1]), int(fields[3]), fields[0].decode(), int(fields[19])
            )
        except (IndexError, ValueError):
            continue
    return table


def descendants(root: int, table: dict[int, Proc]) -> set[int]:
    """Pids whose parent chain reaches ``root`` (``root`` excluded)."""
    children: dict[int, list[int]] = {}
    for p in table.values():
        children.setdefault(p.ppid, []).append(p.pid)
    found: set[int] = set()
    todo = list(children.get(root, ()))
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def live(pids: set[int], table: dict[int, Proc]) -> set[int]:
    """The pids that are not zombies (a zombie cannot act any more)."""
    return {pid for pid in pids if pid in table and table[pid].state not in ("Z", "X")}


def kill_all(pids: set[int]) -> None:
    """SIGKILL each pid, ignoring those already gone."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def reap_children() -> None:
    """Collect every exited child of this process (only where we own all children)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_descendants(root: int | None = None, *, reap: bool = True, rounds: int = 400) -> bool:
    """Kill every descendant of ``root`` (default: this process) until none is left.

    Repeats scan-and-kill, because a process may fork between a scan and its
    kill; its orphans are then re-parented to the subreaper and found next
    round. Returns True when the tree is empty, False if it did not converge.
    ``reap`` collects zombies, for callers that own all of their children.
    """
    root = os.getpid() if root is None else root
    for _ in range(rounds):
        table = processes()
        targets = live(descendants(root, table), table)
        if reap and root == os.getpid():
            reap_children()
        if not targets:
            return True
        kill_all(targets)
        time.sleep(0.002)
    return False


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait until ``pid`` has exited (gone or a zombie); True if it did in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            return True
        if raw[raw.rfind(b")") + 2 :][:1] in (b"Z", b"X"):
            return True
        time.sleep(0.001)
    return False
