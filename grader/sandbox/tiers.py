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
           forbids creating further user namespaces (``--disable-userns``,
           where this bubblewrap has it: :func:`bwrap_features`).
``uid``    root without namespaces (a Docker container, Gradescope): the child
           runs as a dedicated unprivileged uid of its own, without the
           grader's packages on its path, and the grader's files closed to it
           (``privilege``).
``plain``  the grader's own user without namespaces (a student's laptop): the
           same child, limits and kill logic; advisory only, which every
           result says. Never as root.

Choice: the ``tier`` argument, else ``$GRADER_SANDBOX`` (``bwrap`` | ``uid`` |
``plain``), else the strongest that works here (probed once, cached). As root
"plain" means "uid". Demanding a tier that does not work here, or grading
below ``minimum``, is a configuration error that says why.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .child.proctree import set_dumpable

Tier = Literal["bwrap", "uid", "plain"]
TIERS: tuple[Tier, ...] = ("bwrap", "uid", "plain")  # strongest first
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


@dataclass(frozen=True)
class TierInfo:
    """What a tier guarantees, in the words every output uses."""

    name: Tier
    advisory: bool
    guarantees: str
    gaps: str


# The one table of guarantees: the terminal, the class page, each result's JSON,
# Gradescope's extra_data, the JUnit and Markdown summaries all quote it.
TIER_INFO: dict[Tier, TierInfo] = {
    "bwrap": TierInfo(
        "bwrap",
        False,
        "bubblewrap namespaces: no network, its own PID namespace, only the job folder "
        "and the Python installation visible (read-only), an unprivileged uid",
        "shares the kernel with the grader (a kernel exploit escapes)",
    ),
    "uid": TierInfo(
        "uid",
        False,
        "a dedicated unprivileged uid per job: the grader's package, rubric and output "
        "folders are closed to it, it cannot signal, trace or read the grader, and every "
        "process of that uid is killed when the job ends",
        "no namespaces: the network and world-readable files of the machine are reachable",
    ),
    "plain": TierInfo(
        "plain",
        True,
        "resource limits and a scrubbed environment only; the grader refuses to write "
        "results if its own files changed during the run",
        "isolation: the run is advisory, the submission ran as the grader's own user and "
        "could read the rubric, reach the network and signal the grader",
    ),
}


def describe(tier: str) -> str:
    """One line for any output: the tier, what it guarantees, what it does not."""
    info = TIER_INFO.get(tier)  # type: ignore[call-overload]
    if info is None:
        return f"sandbox tier {tier!r}"
    return f"sandbox tier {info.name}: {info.guarantees}; not: {info.gaps}"


def tier_fields(tier: str | None) -> dict[str, object]:
    """The tier's fields for machine-readable outputs (results, Gradescope extra_data)."""
    info = TIER_INFO.get(tier) if tier else None  # type: ignore[call-overload]
    if info is None:
        return {"sandbox_tier": tier}
    return {
        "sandbox_tier": info.name,
        "sandbox_advisory": info.advisory,
        "sandbox_guarantees": info.guarantees,
        "sandbox_gaps": info.gaps,
    }


class SandboxUnavailableError(RuntimeError):
    """The requested tier cannot run here (a grader configuration problem)."""


def as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


# One thread per BLAS/OpenMP library: the child always (a submission's code runs alone in its
# job), and every grading process of ours where the user has not chosen (grader.cli): the
# grader's arrays are small, and a thread per core in each of several workers on the same
# cores only makes them wait on one another (a cold grade-one's expected values: 20-50 ms
# with one thread, 0.3-1 s with two on a busy 2-core machine; the same values).
ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def one_blas_thread(env: MutableMapping[str, str]) -> None:
    """:data:`ONE_BLAS_THREAD` in ``env`` where it names no count of its own (before numpy
    is imported: BLAS reads it when it loads)."""
    for name, value in ONE_BLAS_THREAD.items():
        env.setdefault(name, value)


def child_env(home: str, tier: str = "bwrap") -> dict[str, str]:
    """The child's whole environment: nothing inherited, no tokens, one thread per library.

    Without namespaces it names the shadow site-packages (``privilege``) that
    ``launch.py`` adds under ``python -S``.
    """
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        **ONE_BLAS_THREAD,
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{home}/.matplotlib",
    }
    if tier != "bwrap":
        from .privilege import SITE_ENV, shadow_site_dirs

        env[SITE_ENV] = os.pathsep.join(shadow_site_dirs())
    return env


def python_command() -> list[str]:
    """The interpreter the child runs, with the flags that keep its sys.path ours."""
    return [sys.executable, *PYTHON_FLAGS]


@functools.cache
def python_roots() -> tuple[str, ...]:
    """The directories holding the Python installation and its site-packages (no /usr)."""
    import importlib.util
    import site

    candidates = [sys.base_prefix, sys.prefix, *site.getsitepackages()]
    # where numpy is, found without importing it (a process that has not needed it yet)
    spec = importlib.util.find_spec("numpy")
    if spec is not None and spec.origin:
        candidates.append(str(Path(spec.origin).parent.parent))
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
    (their metadata, ``installed.py``: a wheel's package folders and dist-info, an editable
    install's ``.pth`` and finder module) and every folder or module of one of
    their top-level packages on a mounted ``sys.path`` entry. Only paths inside
    :func:`python_roots` matter: nothing else is mounted.
    """
    from .privilege import GRADER_PACKAGES, grader_distributions

    roots = python_roots()
    folders: set[str] = set()
    files: set[str] = set()
    entries = {os.path.realpath(e) for e in [*sys.path, *site_folders()] if e}
    for entry in entries:
        for name in GRADER_PACKAGES:
            if os.path.isdir(os.path.join(entry, name)):
                folders.add(os.path.join(entry, name))
            if os.path.isfile(os.path.join(entry, name + ".py")):
                files.add(os.path.join(entry, name + ".py"))
    for dist in grader_distributions():
        for f in dist.listed_files() or ():
            where = os.path.realpath(dist.locate(f))
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
        cmd += ["bwrap", "--unshare-user", *_no_userns(), "--die-with-parent"]
        cmd += ["--dev-bind", "/", "/", "--chdir", chdir]
    else:
        cmd[1:1] = ["--unshare-user", *_no_userns()]
    return cmd


@functools.cache
def bwrap_features() -> tuple[str, frozenset[str]]:
    """(version, long options) of the bwrap on PATH, read from ``--version`` and ``--help``."""
    cached = _VERDICTS.get("bwrap_features")
    if cached is not None:
        version, options = cached
        return str(version), frozenset(map(str, options))
    version, found = _read_bwrap_features()
    _VERDICTS.put("bwrap_features", [version, sorted(found)])
    return version, found


def _read_bwrap_features() -> tuple[str, frozenset[str]]:
    try:
        version = subprocess.run(
            ["bwrap", "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        usage = subprocess.run(["bwrap", "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "", frozenset()
    options = frozenset(re.findall(r"--[a-z][a-z0-9-]*", usage.stdout + usage.stderr))
    return version.removeprefix("bubblewrap ").strip(), options


def _no_userns() -> list[str]:
    """``--disable-userns`` where this bubblewrap has it (0.8+; Ubuntu 22.04's 0.6 does not)."""
    return ["--disable-userns"] if "--disable-userns" in bwrap_features()[1] else []


def _why_bwrap_failed(stderr: str) -> str:
    """What the instructor can do about bubblewrap's last words."""
    last = (stderr.strip().splitlines() or ["no message"])[-1]
    hints = []
    apparmor = Path("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
    if not as_root() and _read_int(apparmor) == 1:
        hints.append(
            "AppArmor restricts unprivileged user namespaces (Ubuntu 23.10+, GitHub's "
            "ubuntu-latest): sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
        )
    if _read_int(Path("/proc/sys/kernel/unprivileged_userns_clone")) == 0 and not as_root():
        hints.append(
            "unprivileged user namespaces are off: sysctl kernel.unprivileged_userns_clone=1"
        )
    if _read_int(Path("/proc/sys/user/max_user_namespaces")) == 0:
        hints.append("user namespaces are disabled: sysctl user.max_user_namespaces=15000")
    if "Operation not permitted" in last and as_root():
        hints.append(
            "root without CAP_SYS_ADMIN (a Docker container such as Gradescope's): "
            "the uid tier is the strongest here"
        )
    return "; ".join([f"bwrap failed here: {last}", *hints])


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


@functools.cache
def bwrap_status() -> tuple[bool, str]:
    """(works, reason): can bubblewrap start our Python with numpy here? Probed once per
    installation and boot (:data:`_VERDICTS`), else once per process."""
    cached = _VERDICTS.get("bwrap")
    if cached is not None:
        return bool(cached[0]), str(cached[1])
    works, reason = _probe_bwrap()
    _VERDICTS.put("bwrap", [works, reason])
    return works, reason


def _probe_bwrap() -> tuple[bool, str]:
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
        return False, _why_bwrap_failed(done.stderr)
    if as_root() and done.stdout.strip() != str(SANDBOX_UID):
        return False, f"the sandboxed child ran as uid {done.stdout.strip()}, not {SANDBOX_UID}"
    version, options = bwrap_features()
    if "--disable-userns" not in options:
        return (
            True,
            f"bubblewrap {version} works (without --disable-userns: nested user namespaces allowed)",
        )
    return True, f"bubblewrap {version} works"


@functools.cache
def uid_status() -> tuple[bool, str]:
    """(works, reason): can a child run as a dedicated uid here (root, setpriv, reachable Python)?

    Probed once per installation and boot (:data:`_VERDICTS`), else once per process;
    where it works, this process's own preparation (the grader's files closed to the
    sandbox group, the installation reachable) is done whether the verdict was cached or not.
    """
    cached = _VERDICTS.get("uid")
    if cached is not None:
        if cached[0]:
            from . import privilege

            privilege.prepare_uid_tier()
        return bool(cached[0]), str(cached[1])
    works, reason = _probe_uid()
    _VERDICTS.put("uid", [works, reason])
    return works, reason


def _probe_uid() -> tuple[bool, str]:
    if not sys.platform.startswith("linux") or not as_root():
        return False, "the uid tier needs the grader to run as root on Linux"
    if shutil.which("setpriv") is None:
        return False, "the uid tier needs setpriv (util-linux) to drop to an unprivileged uid"
    from . import privilege

    try:
        identity = privilege.allocate()
    except (OSError, privilege.SandboxError) as e:
        return False, f"no sandbox uid could be taken: {e}"
    try:
        privilege.prepare_uid_tier()
        probe = (
            "import os, site\n"
            "for d in filter(None, os.environ.pop('SANDBOX_SITE_DIRS', '').split(os.pathsep)):\n"
            "    site.addsitedir(d)\n"
            "import numpy\n"
            "for name in ('grader', 'reference'):\n"
            "    try:\n"
            "        __import__(name)\n"
            "    except ImportError:\n"
            "        continue\n"
            "    raise SystemExit(name + ' is importable')\n"
            "print(os.getuid(), os.getgid(), len(os.getgroups()))"
        )
        done = subprocess.run(
            [*identity.drop_command(), *child_python_command("uid"), "-c", probe],
            env=child_env("/tmp", "uid"),
            cwd="/",
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"the uid tier could not start Python: {e}"
    finally:
        identity.release()
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return False, f"Python does not run as an unprivileged uid here: {last}"
    if done.stdout.split() != [str(identity.uid), str(identity.gid), "0"]:
        return False, f"the child did not run as uid {identity.uid}: {done.stdout.strip()}"
    return (
        True,
        f"dedicated uids {privilege.id_range()[1].start}-{privilege.id_range()[1].stop - 1}",
    )


VERDICTS_DIR = Path("/var/cache/mlp-grader/verdicts")
VERDICTS_FORMAT = "mlp-grader/tier-verdicts/1"


class VerdictStore:
    """The tier probes' verdicts, kept between processes as root (~0.2 s of sandboxed
    interpreter starts that a cold ``grade-one`` would otherwise pay every time).

    One file per *key*: a digest of everything a verdict depends on, read fresh in every
    process (the grader's version, the interpreter, bubblewrap's and setpriv's paths and
    stat data, the site-packages folders' stat data, the paths the sandbox masks, the
    kernel, this boot, the process's capabilities and seccomp state, the user-namespace
    sysctls, the uid range). Anything changed is another key: probed afresh.

    Only as root, in a folder only root can enter (0700, root-owned, checked with the
    file's own owner and mode before every read): no sandboxed child can write there
    (the uid tier's children are unprivileged uids; bubblewrap's see no /var). As any
    other user a plain-tier child runs as that same user and could forge a verdict, so
    nothing is kept: every process probes once.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._loaded: dict[str, Any] | None = None

    @functools.cached_property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(_verdict_facts(), sort_keys=True).encode()).hexdigest()

    def _file(self) -> Path:
        return self.folder / f"{self.key[:40]}.json"

    def _usable(self) -> bool:
        return as_root() and os.environ.get("GRADER_NO_VERDICT_CACHE", "") == ""

    def _folder_ok(self) -> bool:
        try:
            info = os.lstat(self.folder)
        except OSError:
            return False
        return stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and not info.st_mode & 0o077

    def _load(self) -> dict[str, Any]:
        if self._loaded is not None:
            return self._loaded
        self._loaded = {}
        if not self._usable() or not self._folder_ok():
            return self._loaded
        try:
            fd = os.open(self._file(), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return self._loaded
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o077:
                return self._loaded
            with os.fdopen(os.dup(fd), "rb") as f:
                data = json.loads(f.read(1 << 20))
        except (OSError, ValueError):
            return self._loaded
        finally:
            os.close(fd)
        if (
            isinstance(data, dict)
            and data.get("format") == VERDICTS_FORMAT
            and data.get("key") == self.key
            and isinstance(data.get("verdicts"), dict)
        ):
            self._loaded = {
                name: value
                for name, value in data["verdicts"].items()
                if isinstance(value, list) and len(value) == 2
            }
        return self._loaded

    def get(self, name: str) -> list[Any] | None:
        """A kept verdict ``[value, value]``, or None (probe it)."""
        value = self._load().get(name)
        return value if isinstance(value, list) else None

    def put(self, name: str, value: list[Any]) -> None:
        """Keep a verdict (atomically; a folder that cannot be made keeps nothing)."""
        loaded = self._load()
        loaded[name] = value
        if not self._usable():
            return
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self._folder_ok():
                return
            record = {"format": VERDICTS_FORMAT, "key": self.key, "verdicts": loaded}
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".verdicts-")
            with os.fdopen(fd, "w") as f:
                json.dump(record, f)
            os.replace(tmp, self._file())
        except OSError:
            return

    def forget(self) -> None:
        """Drop this key's verdicts (in this process and on disk)."""
        self._loaded = {}
        with contextlib.suppress(OSError):
            if self._usable() and self._folder_ok():
                os.unlink(self._file())


def _stat_fact(path: str | None) -> list[Any]:
    if not path:
        return [None]
    try:
        info = os.stat(path)
    except OSError:
        return [path, None]
    return [
        path,
        info.st_ino,
        info.st_dev,
        info.st_size,
        info.st_mode,
        info.st_uid,
        info.st_mtime_ns,
        info.st_ctime_ns,
    ]


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(1 << 16)
    except OSError:
        return ""


def _verdict_facts() -> dict[str, Any]:
    """Everything a tier's verdict depends on, as found now (see :class:`VerdictStore`)."""
    import grader

    status = [
        line
        for line in _read_text("/proc/self/status").splitlines()
        if line.startswith(("CapEff", "CapBnd", "CapPrm", "NoNewPrivs", "Seccomp"))
    ]
    sysctls = (
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
        "/proc/sys/kernel/unprivileged_userns_clone",
        "/proc/sys/user/max_user_namespaces",
    )
    return {
        "grader": grader.__version__,
        "grader_at": os.path.realpath(os.path.dirname(grader.__file__)),
        "python": [sys.version, *_stat_fact(os.path.realpath(sys.executable))],
        "tools": [_stat_fact(shutil.which(t)) for t in ("bwrap", "setpriv")],
        "roots": [_stat_fact(r) for r in python_roots()],
        "sites": [_stat_fact(os.path.realpath(d)) for d in site_folders()],
        "masks": grader_install_paths(),
        "kernel": list(os.uname()),
        "boot": _read_text("/proc/sys/kernel/random/boot_id").strip(),
        "ids": [os.geteuid(), os.getegid(), os.environ.get("GRADER_SANDBOX_IDS", "")],
        "status": status,
        "sysctls": [_read_text(p).strip() for p in sysctls],
        "etc": [_stat_fact(f) for f in ETC_FILES],
    }


_VERDICTS = VerdictStore(VERDICTS_DIR)


def _works(tier: Tier) -> tuple[bool, str]:
    if tier == "bwrap":
        return bwrap_status()
    if tier == "uid":
        return uid_status()
    if as_root():
        return False, "student code never runs as root: the plain tier is for non-root users"
    return True, "the grader's own user, no namespaces"


def resolve_tier(tier: str | None = None, minimum: str | None = None) -> Tier:
    """The tier to use: ``tier``, else $GRADER_SANDBOX, else the strongest that works here.

    ``minimum``: refuse (SandboxUnavailableError) to grade below this tier.
    """
    wanted = tier or os.environ.get("GRADER_SANDBOX") or None
    for name, value in (("sandbox tier", wanted), ("minimum sandbox tier", minimum)):
        if value not in (None, *TIERS):
            raise SandboxUnavailableError(
                f"unknown {name} {value!r}: use one of {', '.join(TIERS)}"
            )
    if wanted == "plain" and as_root():
        wanted = "uid"  # never as root: "plain" for root is the uid tier
    reasons: list[str] = []
    chosen: Tier | None = None
    for candidate in [t for t in TIERS if wanted in (None, t)]:
        works, reason = _works(candidate)
        if works:
            chosen = candidate
            break
        reasons.append(f"{candidate}: {reason}")
    if chosen is None:
        if wanted is not None:
            raise SandboxUnavailableError(
                f"the {wanted} sandbox tier was requested but cannot run here ({'; '.join(reasons)})"
            )
        raise SandboxUnavailableError(f"no sandbox tier can run here ({'; '.join(reasons)})")
    if minimum is not None and TIERS.index(chosen) > TIERS.index(minimum):
        raise SandboxUnavailableError(
            f"refusing to grade: the sandbox here is the {chosen} tier, below the required "
            f"{minimum} tier ({'; '.join(reasons) or 'the ' + chosen + ' tier was requested'})"
        )
    return chosen


def why_not_stronger(tier: str) -> str:
    """Why the tiers above ``tier`` are not in use ("" for the strongest)."""
    above = TIERS[: TIERS.index(tier)] if tier in TIERS else ()
    reasons = []
    for stronger in above:
        works, reason = _works(stronger)
        reasons.append(
            f"{stronger}: " + (f"works here, but {tier} was asked for" if works else reason)
        )
    return "; ".join(reasons)


def detect_tier() -> Tier:
    """The strongest tier this machine supports, ignoring any override."""
    for candidate in TIERS:
        if _works(candidate)[0]:
            return candidate
    raise SandboxUnavailableError("no sandbox tier can run here")


def notice(tier: Tier) -> str:
    """The one-line notice carried by results of an advisory tier ("" otherwise)."""
    if not TIER_INFO[tier].advisory:
        return ""
    why = why_not_stronger(tier)
    return f"{describe(tier)}" + (f" ({why})" if why else "")


def child_python_command(tier: Tier) -> list[str]:
    """The child's interpreter: without namespaces, no site-packages but the shadow's."""
    if tier == "bwrap":
        return python_command()
    return [sys.executable, "-S", "-P", "-B"]


@functools.cache
def harden_parent() -> None:
    """Forbid same-uid processes (a plain-tier child) to ptrace or read this process."""
    set_dumpable(False)
