"""Whole-job limits: one cgroup holding every process of a sandboxed job (or warm worker).

The rlimits bound each process (RLIMIT_AS) or each uid (RLIMIT_NPROC), so a job that
spreads over many processes escapes them: sixteen processes of 1 GB each stay under a
4 GB address-space limit, and RLIMIT_NPROC means something only where the child has
a uid of its own, and then counts every concurrent job of that uid together. A cgroup
bounds the job itself: ``memory.max`` and ``pids.max`` (cgroup v2), or
``memory.limit_in_bytes`` and ``pids.max`` (the v1 hierarchies some machines still
mount), over all of its processes, tmpfs pages written included.

Where one can be made: a cgroup v2 folder with the memory and pids controllers that
this process can write (as root, or a delegated subtree), else writable v1 memory and
pids hierarchies; each is tried below this process's own cgroup first, then at the
hierarchy's root. Elsewhere (an unprivileged user without delegation, macOS) there is
none, and the job runs with its rlimits only: ``limits_tier`` says which ("cgroup" or
"rlimit") in every result.

A process enters the cgroup before it executes anything: the command is started
through ``sh``, which writes its own pid into the cgroup and then ``exec``s it, so
every descendant is born inside.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

LimitsTier = Literal["cgroup", "rlimit"]
PREFIX = "grader-job-"
# tasks of the sandbox itself beside the job's own: bubblewrap (twice, as root), the
# namespace's init, setpriv; pids.max counts threads too
SANDBOX_TASKS = 8
# enter every cgroup named before "--", then run the rest: sh writes its own pid ($$)
_ENTER = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'


@dataclass(frozen=True)
class _Hierarchy:
    """Where job cgroups are made, and the names of its limit files."""

    version: int
    parents: tuple[str, ...]  # v2: one folder; v1: the memory and the pids folder
    memory_file: str
    pids_file: str = "pids.max"


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, fstype, super options) of every cgroup mount."""
    found = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) > 4 and len(tail) > 2 and tail[0] in ("cgroup", "cgroup2"):
            found.append((fields[4], tail[0], set(tail[2].split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """This process's cgroup path per hierarchy: "" for v2, else each controller's name."""
    paths: dict[str, str] = {}
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for name in controllers.split(",") if controllers else [""]:
                    paths[name] = path
    except (OSError, ValueError):
        pass
    return paths


def _candidates(mount: str, own: str | None) -> list[str]:
    below_own = os.path.join(mount, (own or "/").lstrip("/"))
    return list(dict.fromkeys([below_own, mount]))


def _usable(folder: str, files: Sequence[str]) -> bool:
    """Can a child cgroup with these limit files be made and removed in ``folder``?"""
    probe = os.path.join(folder, PREFIX + "probe-" + secrets.token_hex(4))
    try:
        os.mkdir(probe)
    except OSError:
        return False
    try:
        return all(os.access(os.path.join(probe, f), os.W_OK) for f in files)
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(probe)


@functools.cache
def hierarchy() -> _Hierarchy | None:
    """The place job cgroups are made on this machine, or None (probed once)."""
    mounts, own = _mounts(), _own_paths()
    for point, fstype, _ in mounts:
        if fstype != "cgroup2":
            continue
        for folder in _candidates(point, own.get("")):
            try:
                with open(os.path.join(folder, "cgroup.controllers")) as f:
                    if not {"memory", "pids"} <= set(f.read().split()):
                        continue
                with open(os.path.join(folder, "cgroup.subtree_control"), "w") as f:
                    f.write("+memory +pids")
            except OSError:
                continue
            if _usable(folder, ("memory.max", "pids.max", "cgroup.procs")):
                return _Hierarchy(2, (folder,), "memory.max")
    v1 = {}
    for controller, limit in (("memory", "memory.limit_in_bytes"), ("pids", "pids.max")):
        for point, fstype, options in mounts:
            if fstype == "cgroup" and controller in options:
                for folder in _candidates(point, own.get(controller)):
                    if _usable(folder, (limit, "cgroup.procs")):
                        v1[controller] = folder
                        break
    if len(v1) == 2:
        return _Hierarchy(1, (v1["memory"], v1["pids"]), "memory.limit_in_bytes")
    return None


def limits_tier() -> LimitsTier:
    """What bounds a whole job here: a cgroup, or only each process's rlimits."""
    return "cgroup" if hierarchy() is not None else "rlimit"


class JobCgroup:
    """One job's cgroup(s), limited to ``memory_bytes`` and ``processes`` in all.

    ``JobCgroup.create`` returns None where no cgroup can be made.
    """

    def __init__(self, where: _Hierarchy, folders: tuple[str, ...]) -> None:
        self.where = where
        self.folders = folders

    @classmethod
    def create(cls, memory_bytes: int, processes: int) -> JobCgroup | None:
        where = hierarchy()
        if where is None:
            return None
        name = PREFIX + secrets.token_hex(8)
        folders = tuple(os.path.join(parent, name) for parent in where.parents)
        made: list[str] = []
        try:
            for folder in folders:
                os.mkdir(folder)
                made.append(folder)
            group = cls(where, folders)
            group.set_limits(memory_bytes, processes)
        except OSError:
            for folder in made:
                with contextlib.suppress(OSError):
                    os.rmdir(folder)
            return None
        return group

    def set_limits(self, memory_bytes: int, processes: int) -> None:
        """(Re)write the limits; a process over a new memory limit is reclaimed or killed."""
        memory = self.folders[0]
        pids = self.folders[-1]
        if self.where.version == 1:
            # no swap past the limit where swap accounting exists; memsw may never be
            # below the memory limit, so it is written before (raising) and after (lowering)
            memsw = os.path.join(memory, "memory.memsw.limit_in_bytes")
            with contextlib.suppress(OSError):
                _write(memsw, str(memory_bytes))
            _write(os.path.join(memory, self.where.memory_file), str(memory_bytes))
            with contextlib.suppress(OSError):
                _write(memsw, str(memory_bytes))
        else:
            _write(os.path.join(memory, self.where.memory_file), str(memory_bytes))
            with contextlib.suppress(OSError):
                _write(os.path.join(memory, "memory.swap.max"), "0")
        _write(os.path.join(pids, self.where.pids_file), str(processes))

    def usage(self) -> tuple[int, int]:
        """(memory bytes, processes) charged to the job now."""
        memory_file = "memory.current" if self.where.version == 2 else "memory.usage_in_bytes"
        with open(os.path.join(self.folders[0], memory_file)) as f:
            memory = int(f.read())
        with open(os.path.join(self.folders[-1], "pids.current")) as f:
            pids = int(f.read())
        return memory, pids

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """``argv`` started inside this cgroup (sh enters it, then execs ``argv``)."""
        procs = [os.path.join(folder, "cgroup.procs") for folder in self.folders]
        return ["/bin/sh", "-c", _ENTER, "sh", *procs, "--", *argv]

    def pids(self) -> set[int]:
        found: set[int] = set()
        for folder in self.folders:
            with contextlib.suppress(OSError), open(os.path.join(folder, "cgroup.procs")) as f:
                found.update(int(line) for line in f if line.strip())
        return found

    def kill(self) -> None:
        """SIGKILL every process inside (they may still be exiting when this returns)."""
        if self.where.version == 2:
            with contextlib.suppress(OSError):
                _write(os.path.join(self.folders[0], "cgroup.kill"), "1")
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        """Kill whatever is still inside, then remove the cgroup (best effort, bounded)."""
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            self.kill()
            removed = True
            for folder in self.folders:
                try:
                    os.rmdir(folder)
                except FileNotFoundError:
                    continue
                except OSError:
                    removed = False
            if removed:
                return
            time.sleep(0.005)


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)
