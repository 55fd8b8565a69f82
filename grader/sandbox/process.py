"""Starting one process inside the tier's sandbox, and killing everything it started.

bwrap: the process is bubblewrap's command in a fresh PID namespace. Killing
the namespace's init (held by a pidfd, so never a recycled pid) makes the
kernel kill every process in it, ``setsid()`` daemons included; the init is
gone only once the namespace is empty, and that is what :meth:`kill_tree`
waits for.

uid (root without namespaces): the process runs as a dedicated uid of its own
(``privilege``); after the plain kill below, every process of that uid is killed
until none is left, so nothing escapes, whatever it did to its environment.

plain: the process starts a new session and carries a random marker in its
environment. The kill walks /proc for its descendants, its session and every
process holding the marker (a daemon that called ``setsid()`` keeps it), until
none is left. One that scrubs its environment and re-execs escapes: the plain
tier is advisory.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import secrets
import select
import signal
import struct
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from .cgroup import JobCgroup
from .child import cleanfs, proctree
from .jobs import SandboxError
from .privilege import Identity, kill_uid
from .tiers import Tier, bwrap_command, child_env

CHILD_DIR = Path(__file__).parent / "child"
MARKER = "SANDBOX_JOB"


@functools.cache
def runner_files() -> dict[str, bytes]:
    """runner/ relative path -> bytes: the launcher and the child package, with the
    package's bytecode where this installation has it (:func:`_bytecode`)."""
    files = {"launch.py": (CHILD_DIR / "launch.py").read_bytes()}
    for f in sorted(CHILD_DIR.glob("*.py")):
        if f.name != "launch.py":
            files |= module_files(f"_grader_child/{f.name}", f)
    return files


def module_files(rel: str, path: Path) -> dict[str, bytes]:
    """``path``'s source copied as ``rel``, with its bytecode beside it where this
    installation has it (:func:`_bytecode`): {relative path: bytes}."""
    source = path.read_bytes()
    files = {rel: source}
    if (code := _bytecode(path, source)) is not None:
        folder, _, name = rel.rpartition("/")
        pyc = importlib.util.cache_from_source(name, optimization="")
        files[f"{folder}/{pyc}" if folder else pyc] = code
    return files


def _bytecode(path: Path, source: bytes) -> bytes | None:
    """``path``'s cached bytecode, valid for ``source``, as a hash-checked .pyc (None: none).

    The child runs with ``-B`` and its copy of the package is new each time, so it would
    compile ~80 kB of source at every start (~30 ms of a cold grade-one). The
    installation's own .pyc is taken only when its header matches the source as the
    interpreter itself checks it (size and mtime), and is shipped with a header that
    makes the child's interpreter check it against the copied source's hash.
    """
    try:
        cached = Path(importlib.util.cache_from_source(str(path), optimization="")).read_bytes()
        info = path.stat()
    except (OSError, NotImplementedError, ValueError):
        return None
    stamp = (int(info.st_mtime) & 0xFFFFFFFF, info.st_size & 0xFFFFFFFF)
    if (
        len(cached) < 16
        or cached[:4] != importlib.util.MAGIC_NUMBER
        or int.from_bytes(cached[4:8], "little") != 0  # a timestamp .pyc
        or struct.unpack("<II", cached[8:16]) != stamp
        or info.st_size != len(source)
    ):
        return None
    checked = (0b11).to_bytes(4, "little")  # hash-based, checked against the source
    return importlib.util.MAGIC_NUMBER + checked + importlib.util.source_hash(source) + cached[16:]


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    """Write {relative path: bytes} under ``root``, creating folders."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def remove_tree(path: Path) -> bool:
    """Delete a job's folder, never following a link in it; False if some of it stayed.

    Called once every process of the job is gone. What stays is in a folder of
    this process's own (``mkdtemp``) and is never reused.
    """
    try:
        cleanfs.remove_tree(str(path))
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


class SandboxProcess:
    """``argv`` run in the tier's sandbox.

    rw, ro  : (host path, sandbox path) binds, read-write / read-only (bwrap only)
    chdir   : working directory inside the sandbox (plain: on the host)
    home    : $HOME inside
    pass_fds: fds the process inherits (progress and control pipes)
    identity: the uid tier's dedicated uid (held by the caller until the process is gone)
    cgroup  : the job's cgroup: the process is started inside it, and the kill
              also kills whatever is still in it
    """

    def __init__(
        self,
        tier: Tier,
        argv: Sequence[str],
        *,
        rw: Sequence[tuple[str, str]] = (),
        ro: Sequence[tuple[str, str]] = (),
        chdir: str,
        home: str,
        pass_fds: Sequence[int],
        stdout: int | IO[bytes],
        stderr: int | IO[bytes],
        identity: Identity | None = None,
        cgroup: JobCgroup | None = None,
    ) -> None:
        self.tier = tier
        self.identity = identity
        self.cgroup = cgroup
        self.marker = secrets.token_hex(16)
        env = child_env(home, tier)
        info_r, info_w = os.pipe() if tier == "bwrap" else (-1, -1)
        if tier == "bwrap":
            argv = [*bwrap_command(rw, ro, chdir, info_fd=info_w), *argv]
        else:
            env[MARKER] = self.marker
        if tier == "uid":
            if identity is None:
                raise SandboxError("the uid tier needs a dedicated uid (privilege.allocate)")
            argv = [*identity.drop_command(), *argv]
        if cgroup is not None:
            # outermost: the cgroup is entered while still privileged, before the uid drop
            argv = cgroup.wrap(argv)
        try:
            self.popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                pass_fds=[*pass_fds, *([info_w] if info_w >= 0 else [])],
                cwd="/" if tier == "bwrap" else chdir,
                env=env,
                start_new_session=True,
            )
        except OSError as e:
            raise SandboxError(f"could not start the sandboxed process: {e}") from e
        finally:
            if info_w >= 0:
                os.close(info_w)
        self.pid = self.popen.pid
        self.born = 0  # its start time: the plain and uid kills tell a recycled pid by it
        if tier != "bwrap":
            table = proctree.processes()
            self.born = table[self.pid].start if self.pid in table else 0
        self.pidfd = _pidfd(self.pid)
        # bwrap reports its init's pid once its namespaces are set up (~10 ms): a thread
        # holds it by a pidfd the moment it is written, so the kill can never hit a
        # recycled pid, while this one goes on (a cold grade-one prepares its job meanwhile)
        self.init_pid: int | None = None
        self.init: int | None = None
        self._init_reader: threading.Thread | None = None
        if info_r >= 0:
            self._init_reader = threading.Thread(
                target=self._hold_init, args=(info_r,), name="bwrap-init", daemon=True
            )
            self._init_reader.start()

    def _hold_init(self, info_r: int) -> None:
        try:
            pid = _namespace_init(info_r)
            self.init, self.init_pid = _pidfd(pid), pid
        except OSError:
            pass  # no init known: the kill takes bwrap down (--die-with-parent)
        finally:
            os.close(info_r)

    def kill_tree(self) -> None:
        """Kill the process and all it started; return once every one is gone."""
        if self._init_reader is not None:
            self._init_reader.join()  # bwrap has written its init's pid, or exited
            self._init_reader = None
        if self.tier == "bwrap":
            if self.init is not None:
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(self.init, signal.SIGKILL)
            elif self.init_pid is not None:
                _signal(self.init_pid, signal.SIGKILL)  # no pidfd on this kernel
            elif self.popen.poll() is None:
                self.popen.kill()  # --die-with-parent takes the namespace down
            self.popen.wait()
            # bwrap may exit before its init: only a dead init means an empty namespace
            if self.init is not None:
                gone = bool(select.select([self.init], [], [], 10.0)[0])
            else:
                gone = self.init_pid is None or proctree.wait_gone(self.init_pid, 10.0)
            if not gone:
                raise SandboxError("the sandbox's PID namespace did not die")
        else:
            _kill_plain_tree(self.pid, self.marker, self.born)
            self.popen.wait()
            if self.identity is not None and not kill_uid(self.identity.uid):
                raise SandboxError(f"processes of the sandbox uid {self.identity.uid} survived")
        if self.cgroup is not None:
            self.cgroup.kill()
        for fd in (self.init, self.pidfd):
            if fd is not None:
                os.close(fd)
        self.init = self.pidfd = None

    def exit_note(self, status: int) -> str:
        """One sentence on how the process ended (bwrap reports a signal as 128 + n)."""
        sig = -status if status < 0 else 0
        if self.tier == "bwrap" and status > 128:
            sig = status - 128
        if sig:
            return f"the process was killed by {signal_name(sig)}"
        return f"the process exited with status {status} before finishing (sys.exit or os._exit?)"


def signal_name(sig: int) -> str:
    """ "SIGXCPU (CPU time limit)" and the like."""
    try:
        name = signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"
    hints = {
        "SIGXCPU": " (CPU time limit)",
        "SIGKILL": " (out of memory, or a limit)",
        "SIGSEGV": " (a crash in native code)",
    }
    return name + hints.get(name, "")


def _namespace_init(info: int) -> int | None:
    """The pid of bwrap's init in the new PID namespace, read from --info-fd."""
    data = b""
    deadline = time.monotonic() + 10.0
    while True:
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([info], [], [], wait)[0]:
            return None
        chunk = os.read(info, 4096)
        if not chunk:
            return None
        data += chunk
        try:
            return int(json.loads(data)["child-pid"])
        except (ValueError, KeyError):
            continue


def _pidfd(pid: int | None) -> int | None:
    """A pidfd for ``pid`` (Linux 5.3+), else None."""
    if pid is None:
        return None
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _kill_plain_tree(pid: int, marker: str, born: int) -> None:
    """Kill ``pid``, its descendants, its session, and every process with its marker."""
    _signal(pid, signal.SIGKILL)
    if not os.path.isdir("/proc"):
        _signal(-pid, signal.SIGKILL)  # no /proc (macOS): the process group is all we can reach
        return
    tag = f"{MARKER}={marker}".encode()
    quiet = 0  # consecutive sweeps that found nothing
    for _ in range(400):
        table = proctree.processes()
        targets = proctree.descendants(pid, table)
        targets |= {p.pid for p in table.values() if p.sid == pid}
        for p in table.values():
            if p.start >= born and p.pid not in targets and p.pid != os.getpid():
                try:
                    with open(f"/proc/{p.pid}/environ", "rb") as f:
                        if tag in f.read():
                            targets.add(p.pid)
                except OSError:
                    continue
        targets = proctree.live(targets, table)
        if not targets:
            # A process caught mid-exec shows no environ for a moment, and one forked just
            # after a scan is not in it: only a second empty sweep, a little later, ends it.
            quiet += 1
            if quiet >= 2:
                return
            time.sleep(0.01)
            continue
        quiet = 0
        proctree.kill_all(targets)
        time.sleep(0.002)
