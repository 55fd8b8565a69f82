"""Without namespaces: who the child runs as, what it can reach, and how all of it dies.

The ``uid`` tier (the grader runs as root, bubblewrap cannot: a Docker container
without CAP_SYS_ADMIN, such as Gradescope's) runs the child as a dedicated
unprivileged uid, through ``setpriv``: no supplementary groups, no capabilities,
an empty bounding set, no_new_privs. Each live sandbox (a cold job, or a warm
worker for its whole life) holds one uid of its own, so RLIMIT_NPROC counts only
its processes, it cannot signal or trace another job's, and killing "every
process of that uid" kills exactly the job's whole tree, daemons included.

Ids: ``$GRADER_SANDBOX_IDS`` = ``FIRST-LAST`` (default 64200-64327, inside the
range Debian leaves to local on-demand use). FIRST is the sandbox *group*, the
primary gid of every child; FIRST+1 .. LAST are the uids. A uid is taken by an
exclusive ``flock`` on ``/run/mlp-grader/uids/<uid>`` (root-owned, 0700), held
until every process of that uid is gone; uids named in /etc/passwd are skipped.

What the group may not reach: the grader's own package directories, the
rubric and the output folders get a POSIX ACL entry ``group:FIRST:---``
(:func:`protect`); every other user keeps the access it had. The directories
above the Python installation that other users cannot enter (a pyenv under
/root) get ``group:FIRST:--x``, traverse only (:func:`make_reachable`).

Imports, every tier without namespaces: the child's interpreter starts with
``python -S`` and adds a *shadow* of each site-packages directory
(:func:`shadow_site_dirs`): links to every entry except those the grader's own
distribution installed (``grader``, ``reference``, its dist-info, its editable
finder and .pth), so ``import reference`` fails with an editable or a wheel
install. As root the ACL makes the real files unreadable too; as the grader's
own user nothing is (the ``plain`` tier is advisory), and :func:`fingerprint`
lets the parent refuse to write results when the grader's files changed
during a run.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import functools
import hashlib
import importlib.util
import json
import os
import pwd
import re
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import installed
from .installed import Installed
from .jobs import SandboxError

IDS_ENV = "GRADER_SANDBOX_IDS"
DEFAULT_IDS = (64200, 64327)
SITE_ENV = "SANDBOX_SITE_DIRS"  # read by child/launch.py: the shadow dirs, os.pathsep-separated
LOCK_DIR = Path("/run/mlp-grader/uids")
GRADER_PACKAGES = ("grader", "reference")

# POSIX ACL xattr (linux/posix_acl_xattr.h): version, then (tag, perm, id) entries by tag
_ACL_XATTR = "system.posix_acl_access"
_ACL_VERSION = 2
_USER_OBJ, _USER, _GROUP_OBJ, _GROUP, _MASK, _OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
_NO_ID = 0xFFFFFFFF


class GraderTamperedError(SandboxError):
    """The grader's own files changed while a submission ran: its results cannot be trusted."""


def id_range() -> tuple[int, range]:
    """(sandbox gid, uids) from $GRADER_SANDBOX_IDS, else the default range."""
    text = os.environ.get(IDS_ENV, "")
    first, last = DEFAULT_IDS
    if text:
        try:
            first, last = (int(part) for part in text.split("-"))
        except ValueError:
            raise SandboxError(f"${IDS_ENV} must be FIRST-LAST (two ids), got {text!r}") from None
        if not 0 < first < last:
            raise SandboxError(f"${IDS_ENV} must name at least two ids above 0, got {text!r}")
    return first, range(first + 1, last + 1)


@dataclass
class Identity:
    """One uid held for a live sandbox (released once every process of it is gone)."""

    uid: int
    gid: int
    lock_fd: int

    def drop_command(self) -> list[str]:
        """The prefix that runs a command as this uid, with nothing of root left."""
        return [
            "setpriv",
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
        ]

    def sweep(self) -> None:
        """Remove what this uid left in the folders every user may write (/tmp and the like):
        the next job, under another uid or this one, finds nothing of it."""
        sweep_files(self.uid)

    def release(self) -> None:
        """Kill whatever still runs as this uid, remove its files, then give the uid back."""
        if self.lock_fd < 0:
            return
        gone = kill_uid(self.uid)
        if gone:
            self.sweep()
        os.close(self.lock_fd)  # closing drops the flock
        self.lock_fd = -1
        if not gone:
            raise SandboxError(f"processes of the sandbox uid {self.uid} survived SIGKILL")


def _lock_dir() -> Path:
    """The root-owned folder of the uid locks (a child cannot plant or hold a lock there)."""
    LOCK_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(LOCK_DIR)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
        raise SandboxError(f"{LOCK_DIR} must be a root-owned folder that only root can write")
    return LOCK_DIR


def allocate() -> Identity:
    """A uid of the range that no live sandbox holds (as root only)."""
    gid, uids = id_range()
    folder = _lock_dir()
    for uid in uids:
        with contextlib.suppress(KeyError):
            pwd.getpwuid(uid)
            continue  # a real account: never ours to use or to kill
        fd = os.open(folder / str(uid), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        # a free uid has no process: anything left is a crashed grader's, and dies now
        if not kill_uid(uid):
            os.close(fd)
            continue
        return Identity(uid, gid, fd)
    raise SandboxError(
        f"all {len(uids)} sandbox uids ({uids.start}-{uids.stop - 1}) are in use; "
        f"set ${IDS_ENV} to a larger range"
    )


def uid_processes(uid: int) -> set[int]:
    """Pids whose real, effective, saved or file-system uid is ``uid``."""
    found: set[int] = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"Uid:"):
                        if uid in {int(v) for v in line.split()[1:]}:
                            found.add(int(name))
                        break
        except (OSError, ValueError):
            continue
    return found


def live_processes(uid: int) -> set[int]:
    """The processes of ``uid`` that can still act (zombies are dead, only not yet reaped)."""
    return {p for p in uid_processes(uid) if _state(p) not in ("Z", "X", "")}


def kill_uid(uid: int, rounds: int = 400) -> bool:
    """SIGKILL every process of ``uid`` until two sweeps find none; True when none is left.

    Without capabilities a process cannot change its uid, so nothing escapes this by
    a new session, a cleared environment, or a double fork.
    """
    quiet = 0
    for _ in range(rounds):
        live = live_processes(uid)
        if not live:
            quiet += 1
            if quiet >= 2:
                return True
            time.sleep(0.005)
            continue
        quiet = 0
        for pid in live:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.002)
    return False


SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")


def sweep_files(uid: int, roots: Sequence[str] = SHARED_FOLDERS) -> None:
    """Delete every entry owned by ``uid`` under the world-writable ``roots``.

    Only world-writable folders are searched: nowhere else can a sandbox uid
    create anything outside its job folder (whose owner removes it).
    """
    todo = [r for r in roots if os.path.isdir(r) and not os.path.islink(r)]
    while todo:
        folder = todo.pop()
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if info.st_uid == uid:
                if stat.S_ISDIR(info.st_mode):
                    subprocess.run(["rm", "-rf", "--one-file-system", "--", path], check=False)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(path)
            elif stat.S_ISDIR(info.st_mode) and info.st_mode & 0o002:
                todo.append(path)  # another world-writable folder: it may hold the uid's files


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return ""
    return raw[raw.rfind(b")") + 2 :][:1].decode()


# ---------------------------------------------------------------------------
# ACLs: what the sandbox group can reach


def _read_acl(path: Path, mode: int) -> list[tuple[int, int, int]]:
    """The path's access ACL entries, or the three that its mode bits mean."""
    try:
        raw = os.getxattr(path, _ACL_XATTR, follow_symlinks=False)
    except OSError:
        raw = b""
    if len(raw) >= 4 and (len(raw) - 4) % 8 == 0:
        return [struct.unpack_from("<HHI", raw, 4 + 8 * i) for i in range((len(raw) - 4) // 8)]
    return [
        (_USER_OBJ, (mode >> 6) & 7, _NO_ID),
        (_GROUP_OBJ, (mode >> 3) & 7, _NO_ID),
        (_OTHER, mode & 7, _NO_ID),
    ]


def set_group_access(path: Path, gid: int, perm: int) -> None:
    """Give group ``gid`` exactly ``perm`` (rwx bits) on ``path``; other entries unchanged."""
    info = os.lstat(path)
    entries = [e for e in _read_acl(path, info.st_mode) if not (e[0] == _GROUP and e[2] == gid)]
    entries = [e for e in entries if e[0] != _MASK]
    entries.append((_GROUP, perm, gid))
    # the mask bounds named entries and the owning group: their union changes nobody's access
    mask = 0
    for tag, bits, _ in entries:
        if tag in (_USER, _GROUP, _GROUP_OBJ):
            mask |= bits
    entries.append((_MASK, mask, _NO_ID))
    entries.sort(key=lambda e: (e[0], e[2]))
    data = struct.pack("<I", _ACL_VERSION) + b"".join(struct.pack("<HHI", *e) for e in entries)
    os.setxattr(path, _ACL_XATTR, data, follow_symlinks=False)


def group_access(path: Path, gid: int) -> int | None:
    """The perm bits a named ACL entry gives ``gid`` on ``path`` (None: no such entry)."""
    for tag, bits, who in _read_acl(path, os.lstat(path).st_mode):
        if tag == _GROUP and who == gid:
            return int(bits)
    return None


def _shared_folder(path: Path) -> bool:
    """A folder every user works in (/tmp and the like): never closed to the sandbox."""
    info = os.lstat(path)
    return bool(info.st_mode & stat.S_ISVTX) or path == Path(path.anchor)


def protect(paths: Iterable[Path | str]) -> list[Path]:
    """As root, deny the sandbox group any access to ``paths``; returns those now denied.

    Folders the child needs (one holding the Python installation, a shared /tmp)
    are left as they are.
    """
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return []
    gid, _ = id_range()
    needed = [Path(p) for p in (*_python_dirs(), tempfile.gettempdir())]
    done: list[Path] = []
    for raw in paths:
        path = Path(os.path.realpath(raw))
        if not path.exists() or (path.is_dir() and _shared_folder(path)):
            continue
        if any(n == path or path in n.parents for n in needed):
            continue
        try:
            if group_access(path, gid) != 0:
                set_group_access(path, gid, 0)
        except OSError:  # no ACLs on this file system: close it to every other user instead
            os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) & ~0o007)
        done.append(path)
    return done


def make_reachable(paths: Iterable[Path | str]) -> list[Path]:
    """As root, let the sandbox group traverse (x only) the folders above ``paths`` it could not."""
    if os.geteuid() != 0:
        return []
    gid, _ = id_range()
    granted: list[Path] = []
    for raw in paths:
        path = Path(os.path.realpath(raw))
        for folder in reversed(path.parents):
            info = os.stat(folder)
            if info.st_mode & 0o001 or group_access(folder, gid) is not None:
                continue  # others may enter, or we decided this folder already
            set_group_access(folder, gid, 0o1)
            granted.append(folder)
    return granted


@functools.cache
def prepare_uid_tier() -> None:
    """Once per process as root: the grader's packages closed to the sandbox group, the
    Python installation and the shadow site-packages reachable by it."""
    make_reachable([*_python_dirs(), *shadow_site_dirs(), tempfile.gettempdir()])
    protect(installed_grader_dirs())


def grader_dirs() -> list[Path]:
    """The folders the running grader's packages are imported from."""
    import grader

    dirs = [Path(grader.__file__).resolve().parent]
    # found, not imported: a student kit's grader has no reference, and runs this too
    spec = importlib.util.find_spec("reference")
    if spec is not None and spec.origin:
        dirs.append(Path(spec.origin).resolve().parent)
    return dirs


def installed_grader_dirs() -> list[Path]:
    """Every copy of the grader's packages this interpreter has: the imported one, the
    installed distribution's (a wheel's in site-packages, an editable install's checkout)."""
    dirs = set(grader_dirs())
    for dist in grader_distributions():
        for file in dist.listed_files() or ():
            parts = Path(file).parts
            if parts and parts[0] in GRADER_PACKAGES:
                dirs.add(Path(os.path.realpath(dist.locate(parts[0]))))
        with contextlib.suppress(Exception):  # direct_url.json: PEP 610
            url = json.loads(dist.read_text("direct_url.json") or "{}")
            if url.get("dir_info", {}).get("editable") and url["url"].startswith("file://"):
                project = Path(url["url"].removeprefix("file://"))
                dirs.update(project / top for top in GRADER_PACKAGES if (project / top).is_dir())
    return sorted(d for d in dirs if d.is_dir())


@functools.cache
def grader_distributions() -> tuple[Installed, ...]:
    """Every installed distribution that provides the grader's packages (an editable
    install and a wheel can both be on the path). Once per process, for every module that
    needs the grader's own files (the shadow site here, the bwrap masks in tiers.py).

    A distribution provides what its ``top_level.txt`` names, else the top-level entries
    of its file list, as ``importlib.metadata.packages_distributions`` decides; read
    here without parsing every distribution's METADATA (~20 ms for 150 distributions
    instead of 0.3-0.6 s), so a cold ``grade-one`` can afford to find them every time."""
    every = installed.distributions()
    providers = [d for d in every if _provides_grader(d)]
    # and every other install of the same distribution (a wheel over an editable install),
    # named by its metadata folder, whatever its own files say
    names = {d.name for d in providers} - {""}
    return tuple(d for d in every if d in providers or d.name in names)


GRADER_PACKAGES_SET = frozenset(GRADER_PACKAGES)


def _provides_grader(dist: Installed) -> bool:
    """Whether ``dist`` installs one of the grader's top-level packages or modules: what
    :func:`_top_level_names` says, without decoding and parsing a whole file list as CSV
    (a big wheel's RECORD, torch's, is ~1.5 MB: ~40 ms through csv, ~1.5 ms here)."""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        declared = dist.read_text("top_level.txt")
        if declared is not None:
            return not GRADER_PACKAGES_SET.isdisjoint(declared.split())
    with contextlib.suppress(OSError):
        return _lists_grader(dist.read_bytes("RECORD") or dist.read_bytes("SOURCES.txt") or b"")
    return False


def _lists_grader(listing: bytes) -> bool:
    """Whether a RECORD (CSV, the path first, quoted when it holds a comma or a quote) or a
    SOURCES.txt (a bare path a line) has a row whose path is inside one of the grader's
    packages or is a module of that name."""
    return _GRADER_ROW.search(b"\n" + listing) is not None


_NAMES = "|".join(map(re.escape, GRADER_PACKAGES)).encode()
# a row (after a newline: one is put first) starting with a package's folder or its module:
# grader/..., reference.py,... or, quoted, "grader/a,b.py",...; a SOURCES.txt line ends at
# the module's name. Anchored on the newline, the search skips to each row's start in C.
_GRADER_ROW = re.compile(
    rb'\n(?:"(?:' + _NAMES + rb')(?:/|\.py")|(?:' + _NAMES + rb")(?:/|\.py(?:[,\r\n]|\Z)))"
)


def _top_level_names(dist: Installed) -> set[str]:
    """The top-level packages and modules a distribution installs (the full reading, of
    which :func:`_provides_grader` is the fast question)."""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        declared = dist.read_text("top_level.txt")
        if declared is not None:
            return set(declared.split())
    names: set[str] = set()
    with contextlib.suppress(OSError, UnicodeDecodeError, csv.Error):
        listing = dist.read_text("RECORD") or dist.read_text("SOURCES.txt") or ""
        for row in csv.reader(listing.splitlines()):
            path = row[0] if row else ""
            top, sep, _ = path.partition("/")
            if sep:
                names.add(top)
            elif path.endswith(".py"):
                names.add(path[: -len(".py")])
    return names


def _python_dirs() -> list[str]:
    """The interpreter's installation: what a child must be able to read."""
    import site

    dirs = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    dirs.update(site.getsitepackages())
    return sorted(os.path.realpath(d) for d in dirs if os.path.isdir(d))


# ---------------------------------------------------------------------------
# The shadow site-packages: everything installed except the grader


def _grader_entries(site_dir: Path) -> set[str]:
    """Top-level names in ``site_dir`` that belong to the grader (its distribution's files,
    and the grader's imported packages, wherever they resolve)."""
    names: set[str] = set()
    own = {d.resolve() for d in installed_grader_dirs()}
    for dist in grader_distributions():
        for file in dist.listed_files() or ():
            located = Path(os.path.realpath(dist.locate(file)))
            with contextlib.suppress(ValueError):
                rel = located.relative_to(site_dir)
                if rel.parts and rel.parts[0] != "__pycache__":
                    names.add(rel.parts[0])
    for entry in site_dir.iterdir():
        real = entry.resolve()
        if real in own or any(real in d.parents for d in own):
            names.add(entry.name)
        elif entry.suffix == ".pth" and entry.is_file():
            # a .pth putting a grader checkout on sys.path (an old-style editable install)
            with contextlib.suppress(OSError):
                lines = entry.read_text(errors="replace").splitlines()
                for line in lines:
                    target = Path(line.strip())
                    if target.is_absolute() and any(d.parent == target.resolve() for d in own):
                        names.add(entry.name)
    return names


def _site_dirs() -> list[Path]:
    """The interpreter's site-packages folders, in sys.path order."""
    import site

    wanted = {os.path.realpath(d) for d in site.getsitepackages()}
    ordered = [os.path.realpath(p) for p in sys.path if os.path.realpath(p) in wanted]
    ordered += sorted(wanted - set(ordered))
    return [Path(p) for p in dict.fromkeys(ordered) if os.path.isdir(p)]


def _cache_root() -> Path:
    if os.geteuid() == 0:
        return Path("/var/cache/mlp-grader")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlp-grader"


@functools.cache
def shadow_site_dirs() -> tuple[str, ...]:
    """Folders of links mirroring each site-packages folder without the grader's entries.

    Built once per machine and installation (the key hashes the folders' listings),
    atomically; as root under /var/cache (no sandbox uid can write there).
    """
    plan: list[tuple[Path, list[str]]] = []
    key = hashlib.sha256(sys.executable.encode())
    for site_dir in _site_dirs():
        skip = _grader_entries(site_dir)
        keep = sorted(n for n in os.listdir(site_dir) if n not in skip)
        plan.append((site_dir, keep))
        key.update(f"{site_dir}\0{sorted(skip)}\0{keep}\0".encode())
    root = _cache_root()
    target = root / f"site-{key.hexdigest()[:20]}"
    try:
        root.mkdir(mode=0o755, parents=True, exist_ok=True)
    except OSError:  # a read-only cache: this process's own copy, under a random name
        root = Path(tempfile.mkdtemp(prefix="grader-site-"))
        os.chmod(root, 0o755)
        target = root / "site"
    if not target.is_dir():
        building = Path(tempfile.mkdtemp(prefix=".site-", dir=root))
        for i, (site_dir, keep) in enumerate(plan):
            shadow = building / str(i)
            shadow.mkdir()
            for name in keep:
                os.symlink(site_dir / name, shadow / name)
        os.chmod(building, 0o755)
        try:
            os.rename(building, target)
        except OSError:  # another process built it first
            subprocess.run(["rm", "-rf", "--", str(building)], check=False)
    return tuple(str(target / str(i)) for i in range(len(plan)))


# ---------------------------------------------------------------------------
# The grader's own files: unchanged while a submission ran?


def fingerprint(dirs: Sequence[Path] | None = None) -> str:
    """A hash of every file of the grader's packages (paths, modes and contents)."""
    digest = hashlib.sha256()
    for folder in dirs if dirs is not None else grader_dirs():
        for path in sorted(folder.rglob("*")):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            digest.update(f"{path}\0{os.lstat(path).st_mode}\0".encode())
            with contextlib.suppress(OSError):
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@functools.cache
def baseline() -> str:
    """The fingerprint when this process first ran a submission without a uid of its own."""
    return fingerprint()


def verify_intact() -> None:
    """Refuse (GraderTamperedError) when the grader's files differ from :func:`baseline`."""
    if fingerprint() != baseline():
        raise GraderTamperedError(
            "the grader's own files changed while a submission ran in the advisory plain tier "
            f"({', '.join(map(str, grader_dirs()))}); no result is written: reinstall the grader "
            "and grade with bubblewrap or as root"
        )
