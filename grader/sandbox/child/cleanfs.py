"""Removing a job's folder without ever following a link, and proving a worker clean.

A submission can plant symbolic links where the grader will later delete or
chmod, and take permissions away so that a naive delete fails. Everything
here works through directory file descriptors opened with ``O_NOFOLLOW``: a
link is unlinked, never followed, and a folder's permissions are restored
through a descriptor of the folder itself, so no chmod can reach a file
outside the tree. Any failure raises; the caller treats it as "not clean".

:class:`Baseline` is what a warm worker records once, before its first job,
and compares after every job: no process left, the jobs folder empty, the
worker's /tmp listing unchanged and, in the bwrap tier, the same free blocks
and inodes on every writable file system of the sandbox (a file hidden
anywhere writable, or a full /tmp, changes them). A worker whose check fails
is replaced before the next job.

Standard library only (this file also runs inside the sandbox).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from . import proctree

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_O_PATH = getattr(os, "O_PATH", 0)
OWNER_ONLY = 0o700


def remove_tree(path: str) -> None:
    """Delete the folder ``path`` and everything in it; OSError on any failure.

    ``path`` itself must be a real folder (a link there raises); no link in
    the tree is followed and only the tree's own folders are chmod-ed.
    """
    parent, name = os.path.split(os.path.abspath(path))
    parent_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        if not stat.S_ISDIR(st.st_mode):
            raise OSError(f"{path} is not a folder (a planted link?)")
        _remove(parent_fd, name, st)
    except RecursionError:
        raise OSError(f"{path} is nested too deeply to remove") from None
    finally:
        os.close(parent_fd)


def _remove(dir_fd: int, name: str, st: os.stat_result) -> None:
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    fd = open_folder(dir_fd, name)
    try:
        for entry in os.listdir(fd):
            _remove(fd, entry, os.stat(entry, dir_fd=fd, follow_symlinks=False))
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


def open_folder(dir_fd: int, name: str) -> int:
    """A readable fd of the folder ``name`` in ``dir_fd``, made 0700 first; never a link."""
    if _O_PATH and os.path.isdir("/proc/self/fd"):
        # O_PATH needs no permission on the folder; its /proc/self/fd entry then names
        # that very inode, so the chmod and the reopen cannot be redirected
        handle = os.open(
            name, _O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd
        )
        try:
            here = f"/proc/self/fd/{handle}"
            os.chmod(here, OWNER_ONLY)
            return os.open(here, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        finally:
            os.close(handle)
    # no O_PATH (not Linux): only called once every process of the job is gone
    if not stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
        raise OSError(f"{name} is not a folder")
    os.chmod(name, OWNER_ONLY, dir_fd=dir_fd)
    return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)


def writable_mounts() -> tuple[str, ...]:
    """Mount points of this process's mount namespace that are mounted read-write folders."""
    points = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return ()
    for line in lines:
        fields = line.split()
        # mountinfo: id parent major:minor root mount-point options ...
        if len(fields) > 5 and "rw" in fields[5].split(","):
            point = fields[4].replace("\\040", " ")
            if os.path.isdir(point) and not os.path.islink(point):
                points.append(point)
    return tuple(points)


def _space(points: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """Free blocks and free inodes of each mount point."""
    found = {}
    for point in points:
        try:
            s = os.statvfs(point)
        except OSError:
            continue
        found[point] = (s.f_bfree, s.f_ffree)
    return found


@dataclass(frozen=True)
class Baseline:
    """What a clean worker looks like (see the module's docstring).

    isolated : the worker is alone in its PID and mount namespaces (bwrap), so
               every process and every writable file system it sees is its own
    """

    jobs: str
    isolated: bool
    tmp_entries: frozenset[str]
    pids: frozenset[int]
    space: dict[str, tuple[int, int]]

    @classmethod
    def take(cls, jobs: str, isolated: bool) -> Baseline:
        points = writable_mounts() if isolated else ()
        return cls(
            jobs,
            isolated,
            frozenset(os.listdir("/tmp")) if isolated else frozenset(),
            frozenset(proctree.live(set(proctree.processes()), proctree.processes()))
            if isolated
            else frozenset(),
            _space(points),
        )

    def problems(self) -> list[str]:
        """What differs from the baseline now (empty: the worker is clean)."""
        found = []
        if os.listdir(self.jobs):
            found.append("the jobs folder is not empty")
        table = proctree.processes()
        if proctree.live(proctree.descendants(os.getpid(), table), table):
            found.append("a process of the job is still alive")
        if not self.isolated:
            return found
        if frozenset(os.listdir("/tmp")) != self.tmp_entries:
            found.append("/tmp holds entries it did not hold before the job")
        if extra := proctree.live(set(table), table) - self.pids:
            found.append(f"{len(extra)} process(es) are left in the sandbox")
        now = _space(tuple(self.space))
        if changed := sorted(p for p in self.space if now.get(p) != self.space[p]):
            found.append(f"free space or inodes differ on {', '.join(changed)}")
        return found
