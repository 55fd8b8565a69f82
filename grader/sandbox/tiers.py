"""Sandbox tiers: what isolates the child on this machine, and the command that does it.

``bwrap``  bubblewrap with every namespace unshared: no network, its own PID
           namespace (when its init dies the kernel kills everything in it), a
           file system holding only /usr, the Python installation (read-only)
           and the job's own directory; never the repository, and inside the
           installation the grader's own packages, metadata and import hooks
           are masked (:func:`grader_install_paths`). Running as root,
           the child is dropped to the unprivileged uid 65534 by nesting two
           bubblewraps: the outer one (root) mounts, ``setpriv`` drops the uid,
           capabilities and bounding set, and the inner one (unprivileged)
           forbids creating further user namespaces (``--disable-userns``).
``plain``  the same child, limits and kill logic without namespaces; advisory
           only, which every result says.

Choice: the ``tier`` argument, else ``$GRADER_SANDBOX`` (``plain`` | ``bwrap``),
else bwrap when it works here (probed once, cached). Demanding bwrap where it
does not work is a configuration error.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from .child.proctree import set_dumpable

Tier = Literal["bwrap", "plain"]
TIERS: tuple[Tier, ...] = ("bwrap", "plain")
SANDBOX_UID = 65534  # "nobody": owns nothing outside the job directory
PYTHON_FLAGS = ("-s", "-P", "-B")  # no user site, no script dir on sys.path, no .pyc
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/alternatives",  # Debian's libblas/liblapack links (a system numpy needs them)
)
NOTICE_PLAIN = (
    "sandbox is advisory on this machine: no bubblewrap/user namespaces, so the submission "
    "ran with the grader's uid and could see its files and network"
)


class SandboxUnavailableError(RuntimeError):
    """The requested tier cannot run here (a grader configuration problem)."""


def as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def child_env(home: str) -> dict[str, str]:
    """The child's whole environment: nothing inherited, no tokens, one thread per library."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{home}/.matplotlib",
    }


def python_command() -> list[str]:
    """The interpreter the child runs, with the flags that keep its sys.path ours."""
    return [sys.executable, *PYTHON_FLAGS]


@functools.cache
def python_roots() -> tuple[str, ...]:
    """The directories holding the Python installation and its site-packages (no /usr)."""
    import site

    import numpy

    candidates = [sys.base_prefix, sys.prefix, *site.getsitepackages()]
    candidates.append(str(Path(numpy.__file__).parent.parent))
    roots: list[str] = []
    for path in sorted({os.path.realpath(p) for p in candidates if os.path.isdir(p)}):
        if path.startswith("/usr/") or any(path.startswith(r + "/") for r in roots):
            continue
        roots.append(path)
    return tuple(roots)


def _inside(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r + "/") for r in roots)


@functools.cache
def grader_install_paths() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(folders, files) of the grader's own installation that the sandbox would mount.

    The child must import neither ``grader`` nor ``reference`` (the answer key).
    Found from where they really are: the distribution(s) that own this package
    (importlib.metadata: a wheel's package folders and dist-info, an editable
    install's ``.pth`` and finder module) and every folder or module of one of
    their top-level packages on a mounted ``sys.path`` entry. Only paths inside
    :func:`python_roots` matter: nothing else is mounted.
    """
    import importlib.metadata as metadata

    roots = python_roots()
    top = __name__.split(".")[0]
    owners = set(metadata.packages_distributions().get(top, ()))
    names = {top} | {n for n, ds in metadata.packages_distributions().items() if owners & set(ds)}
    folders: set[str] = set()
    files: set[str] = set()
    entries = {os.path.realpath(e) for e in [*sys.path, *site_folders()] if e}
    for entry in entries:
        for name in names:
            if os.path.isdir(os.path.join(entry, name)):
                folders.add(os.path.join(entry, name))
            if os.path.isfile(os.path.join(entry, name + ".py")):
                files.add(os.path.join(entry, name + ".py"))
    for dist in metadata.distributions():
        if dist.metadata["Name"] not in owners:
            continue
        for f in dist.files or ():
            where = os.path.realpath(str(f.locate()))
            if os.path.isfile(where):
                files.add(where)
            # the dist-info folder itself: RECORD and direct_url.json name the install
            parent = os.path.dirname(where)
            if parent.endswith((".dist-info", ".egg-info")):
                folders.add(parent)
    folders = {d for d in folders if _inside(d, roots)}
    files = {f for f in files if _inside(f, roots) and not _inside(f, sorted(folders))}
    return tuple(sorted(folders)), tuple(sorted(files))


def site_folders() -> list[str]:
    """The installation's site-packages folders."""
    import site

    return site.getsitepackages()


def bwrap_command(
    rw: Sequence[tuple[str, str]],
    ro: Sequence[tuple[str, str]],
    chdir: str,
    *,
    info_fd: int | None = None,
    tmp_bytes: int = 256 << 20,
) -> list[str]:
    """The bubblewrap prefix of a sandboxed command.

    rw, ro : (host path, sandbox path) pairs bound read-write / read-only
    chdir  : the working directory inside
    info_fd: where bwrap writes {"child-pid": ...}, the pid of the namespace's init
    """
    cmd = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    cmd += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/lib", "/lib32", "/lib64", "/sbin"):
        if os.path.islink(top):
            cmd += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            cmd += ["--ro-bind", top, top]
    for f in ETC_FILES:
        cmd += ["--ro-bind-try", f, f]
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    cmd += ["--perms", "01777", "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    made: set[str] = set()
    for host, inside in [*((r, r) for r in python_roots()), *ro, *rw]:
        # parents made world-traversable: bwrap would create them 0700
        for parent in reversed(Path(inside).parents):
            if str(parent) not in made and str(parent) not in ("/", "/tmp", "/usr"):
                made.add(str(parent))
                cmd += ["--perms", "0755", "--dir", str(parent)]
        cmd += ["--bind" if (host, inside) in rw else "--ro-bind", host, inside]
    # the grader's own packages, metadata and import hooks: an empty read-only folder or file
    folders, files = grader_install_paths()
    for folder in folders:
        cmd += ["--perms", "0555", "--tmpfs", folder, "--remount-ro", folder]
    for f in files:
        cmd += ["--ro-bind", "/dev/null", f]
    cmd += ["--chdir", chdir]
    if info_fd is not None:
        cmd += ["--info-fd", str(info_fd)]
    if as_root():
        uid = str(SANDBOX_UID)
        cmd += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        cmd += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
        cmd += ["bwrap", "--unshare-user", "--disable-userns", "--die-with-parent"]
        cmd += ["--dev-bind", "/", "/", "--chdir", chdir]
    else:
        cmd[1:1] = ["--unshare-user", "--disable-userns"]
    return cmd


@functools.cache
def bwrap_status() -> tuple[bool, str]:
    """(works, reason): can bubblewrap start our Python with numpy here? Probed once."""
    if not sys.platform.startswith("linux"):
        return False, f"bubblewrap needs Linux (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return False, "bwrap is not on PATH (Debian/Ubuntu: apt install bubblewrap)"
    if as_root() and shutil.which("setpriv") is None:
        return False, "running as root needs setpriv (util-linux) to drop to an unprivileged uid"
    probe = "import numpy, os; print(os.getuid())"
    try:
        done = subprocess.run(
            [*bwrap_command([], [], "/tmp"), *python_command(), "-c", probe],
            env=child_env("/tmp"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"bwrap could not start: {e}"
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return False, f"bwrap failed here (user namespaces disabled?): {why}"
    if as_root() and done.stdout.strip() != str(SANDBOX_UID):
        return False, f"the sandboxed child ran as uid {done.stdout.strip()}, not {SANDBOX_UID}"
    return True, "bubblewrap works"


def resolve_tier(tier: str | None = None) -> Tier:
    """The tier to use: ``tier``, else $GRADER_SANDBOX, else the best available."""
    wanted = tier or os.environ.get("GRADER_SANDBOX") or None
    if wanted not in (None, *TIERS):
        raise SandboxUnavailableError(f"unknown sandbox tier {wanted!r}: use one of {TIERS}")
    if wanted == "plain":
        return "plain"
    works, reason = bwrap_status()
    if wanted == "bwrap" and not works:
        raise SandboxUnavailableError(f"the bwrap sandbox was requested but cannot run: {reason}")
    return "bwrap" if works else "plain"


def detect_tier() -> Tier:
    """The tier this machine supports, ignoring any override."""
    return "bwrap" if bwrap_status()[0] else "plain"


def notice(tier: Tier) -> str:
    """The one-line notice carried by results of this tier ("" when isolated)."""
    return NOTICE_PLAIN if tier == "plain" else ""


@functools.cache
def harden_parent() -> None:
    """Forbid same-uid processes (a plain-tier child) to ptrace or read this process."""
    set_dumpable(False)
