"""The tiers without namespaces: the uid tier (root), the plain tier (a non-root user).

As root the child runs as a dedicated uid of its own (grader/sandbox/privilege.py):
these tests check what that uid can and cannot do, that pool workers never share one,
that every process of it dies, that the grader's packages cannot be imported or read
with an editable or a wheel install, that a submission attacking the grader
(submissions/hostile/grader_rewrite.py) changes nothing, and that a container without
CAP_SYS_ADMIN (Gradescope's, made here with capsh) is graded in the uid tier and says
so. The plain tier is tested as uid 65534 (setpriv): no grader import, every result
advisory, and no result when the grader's own files changed during the run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from grader.sandbox import WarmWorker, run_job
from grader.sandbox.privilege import id_range, installed_grader_dirs, live_processes
from grader.sandbox.tiers import uid_status

from .helpers import LIMITS, make_job, probe

ROOT = Path(__file__).parents[3]
RUBRIC = ROOT / "rubrics" / "mlp_backprop.toml"
HOSTILE = ROOT / "submissions" / "hostile" / "grader_rewrite.py"
AS_ROOT = os.geteuid() == 0
needs_uid_tier = pytest.mark.skipif(
    not (AS_ROOT and uid_status()[0]), reason=f"uid tier unavailable: {uid_status()[1]}"
)
needs_tool = pytest.mark.skipif(
    shutil.which("capsh") is None or shutil.which("setpriv") is None,
    reason="capsh and setpriv (libcap2-bin, util-linux) are needed",
)

WHO_AM_I = """
import os
def who():
    import numpy as np
    seen = []
    for name in ("grader", "reference"):
        try:
            __import__(name)
            seen.append(1)
        except ImportError:
            seen.append(0)
    for path in PATHS:
        try:
            with open(path, "rb") as f:
                f.read(1)
            seen.append(1)
        except OSError:
            seen.append(0)
    return {"y": np.array([os.getuid(), os.getgid(), len(os.getgroups()), *seen])}
"""


def who_job(paths: list[str]):
    return make_job(f"PATHS = {paths!r}\n" + WHO_AM_I, probe("p", "raw", fn="who"))


def tree_digest(folders: list[Path]) -> str:
    """Every file under ``folders``: path and content."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def python_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GRADER_SANDBOX", "PYTHONPATH")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


# -- the uid tier ------------------------------------------------------------------------


@needs_uid_tier
@pytest.mark.parametrize("worker", ["cold", "warm"])
def test_the_child_runs_as_an_unprivileged_uid_without_the_grader(worker):
    """A uid of the range, the sandbox gid, no supplementary groups; neither `grader` nor
    `reference` importable, and no copy of their files readable (editable checkout too)."""
    files = [str(d / "__init__.py") for d in installed_grader_dirs()]
    job = who_job(files)
    if worker == "cold":
        result = run_job(job, LIMITS, tier="uid")
    else:
        with WarmWorker(LIMITS, tier="uid", preload=("numpy",)) as w:
            result = w.run(job)
    y = [int(v) for v in result.outcome("p").arrays["y"]]
    gid, uids = id_range()
    assert result.tier == "uid" and y[0] in uids and y[1:3] == [gid, 0]
    assert y[3:] == [0] * (2 + len(files))


@needs_uid_tier
def test_two_live_workers_never_share_a_uid_and_nproc_counts_the_jobs_own():
    """Each warm worker holds its own uid; RLIMIT_NPROC then bounds one job's processes."""
    forks = """
    import os
    def spawn():
        import numpy as np
        made = refused = 0
        for _ in range(30):
            try:
                pid = os.fork()
            except OSError:
                refused += 1
                continue
            if pid == 0:
                import time
                time.sleep(5)
                os._exit(0)
            made += 1
        return {"y": np.array([os.getuid(), made, refused])}
    """
    job = make_job(forks, probe("p", "raw", fn="spawn"))
    limits = replace(LIMITS, processes=10)
    with (
        WarmWorker(limits, tier="uid", preload=("numpy",)) as a,
        WarmWorker(limits, tier="uid", preload=("numpy",)) as b,
    ):
        ya, yb = (w.run(job).outcome("p").arrays["y"] for w in (a, b))
    assert ya[0] != yb[0]
    for y in (ya, yb):
        # the limit bit (the cgroup's pids.max, else RLIMIT_NPROC on the job's own uid):
        # 30 forks asked, at most the job's 10 processes made
        assert y[1] <= 10 and y[2] > 0
        assert not live_processes(int(y[0]))  # every process of that uid is gone


@needs_uid_tier
def test_a_daemon_with_a_scrubbed_environment_dies_with_the_job(tmp_path):
    """A double-forked setsid daemon that clears its environment and re-execs is still
    the job's uid, and is killed with it."""
    tag = f"uid-daemon-{os.getpid()}"
    job = make_job(
        f"""
        import os
        def escape():
            import numpy as np
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.execve("/bin/sleep", ["sleep", "987654", "{tag}"], {{}})
                os._exit(0)
            os.wait()
            return {{"y": np.array([os.getuid()])}}
        """,
        probe("p", "raw", fn="escape"),
    )
    result = run_job(job, LIMITS, tier="uid")
    uid = int(result.outcome("p").arrays["y"][0])
    assert not live_processes(uid)
    left = subprocess.run(["pgrep", "-f", tag], capture_output=True, text=True).stdout
    assert left.strip() == ""


@needs_uid_tier
def test_grader_rewrite_changes_nothing_and_gains_nothing(tmp_path):
    """grade-one as root without namespaces (GRADER_SANDBOX=plain means the uid tier):
    the attack finds the rubric, the results folder and the installed package, and can
    write none of them, stop or trace no grader process; results.json holds the parent's
    score and says which tier ran."""
    source, results = tmp_path / "source", tmp_path / "results"
    source.mkdir()
    results.mkdir()
    rubric = source / "rubric.toml"
    shutil.copy(RUBRIC, rubric)
    before = tree_digest([*installed_grader_dirs(), source])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "grade-one",
            str(HOSTILE),
            "--rubric",
            str(rubric),
            "--gradescope",
            str(results / "results.json"),
            "--json",
            str(results / "full.json"),
        ],
        env=python_env(GRADER_SANDBOX="plain"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert tree_digest([*installed_grader_dirs(), source]) == before
    full = json.loads((results / "full.json").read_text())
    gradescope = json.loads((results / "results.json").read_text())
    assert "grader_rewrite: gained nothing" in full["stdout"]
    # not vacuous: it did find the rubric, the results folder's parent and the package
    assert f"target {rubric}" in full["stdout"]
    assert f"target {results / 'results.json'}" in full["stdout"]
    assert "/grader/checks.py" in full["stdout"]
    assert gradescope["score"] == full["score"]["points"] <= 8.0
    assert gradescope["extra_data"]["sandbox_tier"] == "uid"
    assert full["provenance"]["sandbox_tier"] == "uid"
    assert "sandbox tier uid" in done.stdout
    _gid, uids = id_range()
    assert not [u for u in uids if live_processes(u)]


@needs_uid_tier
def test_the_grader_is_not_importable_with_a_wheel_install(tmp_path):
    """A wheel installed into a venv (over the editable install, system site-packages
    on): the child of that venv's grader imports and reads neither package."""
    wheels, project = tmp_path / "wheels", tmp_path / "project"
    for name in ("grader", "reference"):  # built from a copy: no egg-info left in the checkout
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(project),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        check=True,
        timeout=120,
    )
    wheel = next(wheels.glob("mlp_grader-*.whl"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    script = textwrap.dedent(
        f"""
        import sys
        # the system site-packages' editable install would win over the wheel: set it aside
        sys.meta_path = [f for f in sys.meta_path if "__editable__" not in type(f).__module__]
        sys.path.insert(0, {str(ROOT / "tests" / "grader" / "sandbox")!r})
        import grader
        assert grader.__file__.startswith({str(tmp_path)!r}), grader.__file__
        from helpers import LIMITS, make_job, probe
        from grader.sandbox import run_job
        from grader.sandbox.privilege import GRADER_PACKAGES, installed_grader_dirs
        import importlib.metadata, json, pathlib
        # the editable checkout this venv sees through the system site-packages, found by
        # importlib.metadata: in a venv over an interpreter without one, there is none
        checkouts = 0
        for dist in importlib.metadata.distributions():
            url = json.loads(dist.read_text("direct_url.json") or "{{}}")
            if dist.metadata["Name"] == "mlp-grader" and url.get("dir_info", {{}}).get("editable"):
                project = pathlib.Path(url["url"].removeprefix("file://"))
                checkouts += sum((project / top).is_dir() for top in GRADER_PACKAGES)
        files = [str(d / "__init__.py") for d in installed_grader_dirs()]
        wheel = sum(f.startswith({str(tmp_path)!r}) for f in files)
        code = "PATHS = " + repr(files) + "\\n" + {WHO_AM_I!r}
        result = run_job(make_job(code, probe("p", "raw", fn="who")), LIMITS, tier="plain")
        seen = [int(v) for v in result.outcome("p").arrays["y"][3:]]
        print(result.tier, len(files), wheel, checkouts, json.dumps(seen))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GRADER_SANDBOX")}
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    tier, count, wheel, checkouts, seen = done.stdout.split(maxsplit=4)
    # the wheel's two packages, and the editable checkout's two where the system
    # site-packages has one whose folder exists (CI's; a rehearsal venv's base may not)
    assert tier == "uid" and int(wheel) == 2 and int(count) == 2 + int(checkouts)
    assert json.loads(seen) == [0] * (2 + int(count))


# -- a container without CAP_SYS_ADMIN (Gradescope, Docker's default) -----------------------


@needs_tool
@needs_uid_tier
def test_without_cap_sys_admin_the_uid_tier_is_chosen_and_said(tmp_path):
    """bwrap fails without CAP_SYS_ADMIN; the tier is uid, grade-one says why, and
    --min-tier bwrap refuses with one sentence."""
    probe_tiers = (
        "from grader.sandbox.tiers import resolve_tier, why_not_stronger;"
        "t = resolve_tier(); print(t); print(why_not_stronger(t))"
    )
    drop = ["capsh", "--drop=cap_sys_admin", "--", "-c"]
    done = subprocess.run(
        [*drop, f"{sys.executable} -c '{probe_tiers}'"],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    tier, why = done.stdout.splitlines()[:2]
    assert tier == "uid"
    assert "Operation not permitted" in why and "CAP_SYS_ADMIN" in why
    correct = ROOT / "submissions" / "correct" / "template_ok.ipynb"
    out = tmp_path / "results.json"
    grade = f"{sys.executable} -m grader grade-one {correct} --rubric {RUBRIC} --gradescope {out}"
    done = subprocess.run(
        [*drop, grade], env=python_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "sandbox tier uid" in done.stdout
    extra = json.loads(out.read_text())["extra_data"]
    assert extra["sandbox_tier"] == "uid"
    assert "Creating new namespace failed" in extra["sandbox_unavailable"]
    assert "no stronger tier: bwrap: bwrap failed here" in done.stdout
    done = subprocess.run(
        [*drop, grade + " --min-tier bwrap"],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    error = done.stderr.strip().splitlines()
    assert len(error) == 1 and "below the required bwrap tier" in error[0]


# -- the plain tier, as a non-root user ----------------------------------------------------


@needs_tool
@pytest.mark.skipif(not AS_ROOT, reason="setpriv to uid 65534 needs root")
def test_the_plain_tier_as_a_user_is_advisory_and_refuses_a_tampered_grader():
    """As uid 65534 (from a copy of the grader it owns): the tier is plain, the child
    cannot import the grader, the result says it was advisory; a job that edits the
    grader's files gets no result, with the reason."""
    # pytest's tmp_path is under a folder only root may enter
    tmp_path = Path(tempfile.mkdtemp(prefix="grader-plain-tier-"))
    try:
        _plain_tier_as_nobody(tmp_path)
    finally:
        shutil.rmtree(tmp_path)


def _plain_tier_as_nobody(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    for name in ("grader", "reference", "tests"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.chown(tmp_path, 65534, 65534)
    for path in [copy, *copy.rglob("*")]:
        shutil.chown(path, 65534, 65534)
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(copy / "tests" / "grader" / "sandbox")!r})
        from helpers import LIMITS, make_job, probe
        from grader.sandbox import run_job
        from grader.sandbox.privilege import GraderTamperedError
        code = "PATHS = []\\n" + {WHO_AM_I!r}
        result = run_job(make_job(code, probe("p", "raw", fn="who")), LIMITS)
        print(result.tier, [int(v) for v in result.outcome("p").arrays["y"][3:5]])
        print(result.notice)
        tamper = '''
        import numpy as np
        def who():
            with open({str(copy / "grader" / "checks.py")!r}, "a") as f:
                f.write("# passed\\\\n")
            return {{"y": np.zeros(1)}}
        '''
        try:
            run_job(make_job(tamper, probe("p", "raw", fn="who")), LIMITS)
            print("written")
        except GraderTamperedError as e:
            print("refused:", e)
        """
    )
    # the pyenv under /root is reachable by the sandbox group only (privilege.make_reachable)
    gid, _ = id_range()
    done = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            f"--groups={gid}",
            sys.executable,
            "-c",
            script,
        ],
        env={
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(copy),
            "HOME": str(tmp_path),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "GRADER_SANDBOX": "plain",
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    first, notice, last = done.stdout.splitlines()[:3]
    assert first == "plain [0, 0]"
    assert "advisory" in notice
    assert last.startswith("refused:") and "changed" in last


@needs_uid_tier
def test_files_left_in_shared_folders_do_not_reach_the_next_job():
    """A job's files in /tmp and /dev/shm are gone before the next job, warm or cold."""
    tag = f"uid-leftover-{os.getpid()}"
    job = make_job(
        f"""
        import os
        def leave():
            import numpy as np
            seen = [os.path.exists(p) for p in ("/tmp/{tag}", "/dev/shm/{tag}", "/tmp/{tag}-d/f")]
            for p in ("/tmp/{tag}", "/dev/shm/{tag}"):
                with open(p, "w") as f:
                    f.write("answers")
            os.makedirs("/tmp/{tag}-d", exist_ok=True)
            open("/tmp/{tag}-d/f", "w").close()
            return {{"y": np.array(seen, dtype=float)}}
        """,
        probe("p", "raw", fn="leave"),
    )
    with WarmWorker(LIMITS, tier="uid", preload=("numpy",)) as w:
        first, second = (w.run(job).outcome("p").arrays["y"] for _ in range(2))
    cold = run_job(job, LIMITS, tier="uid").outcome("p").arrays["y"]
    assert [list(y) for y in (first, second, cold)] == [[0, 0, 0]] * 3
    assert not [p for p in Path("/tmp").iterdir() if p.name.startswith(tag)]


@needs_tool
@pytest.mark.skipif(not AS_ROOT, reason="ACLs on another user's behalf need root")
def test_protect_closes_a_path_to_the_sandbox_group_only():
    """protect(): the sandbox group loses access, another user keeps it, the mode stays;
    make_reachable(): a 0700 folder becomes traversable (not listable) by the group."""
    from grader.sandbox.privilege import make_reachable, protect

    base = Path(tempfile.mkdtemp(prefix="grader-acl-"))  # /tmp itself is never closed
    try:
        os.chmod(base, 0o755)
        secret = base / "rubric.toml"
        secret.write_text("hidden = 1\n")
        os.chmod(secret, 0o644)
        hidden = base / "private"
        hidden.mkdir(mode=0o700)
        (hidden / "python").write_text("ok\n")
        os.chmod(hidden / "python", 0o644)
        assert protect([secret]) == [secret]
        assert make_reachable([hidden / "python"]) == [hidden]
        gid, uids = id_range()

        def cat(uid: int, group: int, *args: str) -> int:
            cmd = ["setpriv", f"--reuid={uid}", f"--regid={group}", "--clear-groups", *args]
            return subprocess.run(cmd, capture_output=True).returncode

        assert cat(uids.start, gid, "cat", str(secret)) != 0
        assert cat(65534, 65534, "cat", str(secret)) == 0
        assert secret.stat().st_mode & 0o777 == 0o644
        assert cat(uids.start, gid, "cat", str(hidden / "python")) == 0
        assert cat(uids.start, gid, "ls", str(hidden)) != 0
        assert cat(65534, 65534, "cat", str(hidden / "python")) != 0
    finally:
        shutil.rmtree(base)
