"""Nothing of one job reaches the next, and cleaning up never follows a planted link.

The warm worker proves itself clean after every job (grader/sandbox/child/cleanfs.py)
and is replaced when it cannot; the parent's own cleanup of a job folder unlinks links
and never chmods through them. The grader's own packages are invisible in the bwrap
tier, whatever the install (the wheel install is tested in tests/grader/test_e2e_isolation.py).
"""

from __future__ import annotations

import stat
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import pytest

from grader.sandbox import Job, JobResult, Limits, WarmWorker, run_job
from grader.sandbox.cgroup import SANDBOX_TASKS, JobCgroup, limits_tier
from grader.sandbox.child import cleanfs
from grader.sandbox.process import remove_tree
from grader.sandbox.tiers import grader_install_paths, python_roots

from .helpers import LIMITS, make_job, needs_bwrap, probe

ROOT = Path(__file__).parents[3]
HOSTILE = ROOT / "submissions" / "hostile"


def returns_zero(body: str = "") -> str:
    """Code whose ``f()`` runs ``body`` and returns {"y": zeros(1)}."""
    lines = "".join(f"    {line}\n" for line in body.splitlines())
    return f"import os\nimport numpy as np\n\ndef f():\n{lines}    return {{'y': np.zeros(1)}}\n"


def test_remove_tree_unlinks_a_planted_link_and_never_chmods_its_target(tmp_path: Path) -> None:
    """A link to a host file inside a folder whose permissions were taken away: the host
    file keeps its mode, the tree is gone."""
    host = tmp_path / "host.txt"
    host.write_text("the grader's own file")
    host.chmod(0o644)
    tmp_path.chmod(0o755)
    tmp_mode = 0o755
    tree = tmp_path / "job"
    (tree / "outputs" / "deep").mkdir(parents=True)
    (tree / "outputs" / "x.npz").symlink_to(host)
    (tree / "outputs" / "deep" / "dir-link").symlink_to(tmp_path)
    (tree / "outputs" / "deep").chmod(0)
    (tree / "outputs").chmod(0o500)
    assert remove_tree(tree)
    assert not tree.exists()
    assert stat.S_IMODE(host.stat().st_mode) == 0o644
    assert stat.S_IMODE(tmp_path.stat().st_mode) == tmp_mode  # the folder link was not followed
    assert host.read_text() == "the grader's own file"


def test_remove_tree_refuses_a_link_in_place_of_the_folder(tmp_path: Path) -> None:
    """A job folder replaced by a link to another folder: nothing behind the link is removed."""
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "code.py").write_text("x = 1")
    (tmp_path / "job").symlink_to(kept)
    with pytest.raises(OSError):
        cleanfs.remove_tree(str(tmp_path / "job"))
    assert not remove_tree(tmp_path / "job")
    assert (kept / "code.py").read_text() == "x = 1"


def test_a_job_cannot_chmod_a_host_file_through_the_parents_cleanup(
    runner: object, tmp_path: Path
) -> None:
    """The job plants a link to a host file among its outputs and makes the folder
    read-only; the parent's cleanup (cold) or the worker's wipe (warm) leaves the file's
    mode as it was."""
    host = tmp_path / "host.txt"
    host.write_text("x")
    host.chmod(0o644)
    body = f"os.symlink({str(host)!r}, '../home/trap')\nos.chmod('../home', 0o500)"
    result = runner(make_job(returns_zero(body), probe("p", "raw", fn="f")))  # type: ignore[operator]
    assert result.probes[0].status == "ok", result.probes[0].error
    assert stat.S_IMODE(host.stat().st_mode) == 0o644


@pytest.mark.sandbox
@needs_bwrap
def test_a_worker_that_cannot_prove_itself_clean_is_replaced_before_the_next_job() -> None:
    """Jobs that leave nothing keep the worker; a job that fills /tmp, or hides a file,
    or plants a link in the jobs folder, gets the next job a fresh worker whose /tmp has
    room for 200 MB again."""
    # files of 15 MB: the test limits allow 16 MB per file
    fill = (
        "try:\n"
        "    for n in range(100):\n"
        "        open(f'/tmp/fill{n}', 'wb').write(b'x' * (15 << 20))\n"
        "except OSError:\n"
        "    pass"
    )
    needs_room = "for n in range(13):\n    open(f\"{os.environ['TMPDIR']}/big{n}\", 'wb').write(b'x' * (15 << 20))"
    attacks = {
        "fill": fill,
        "hide": "os.makedirs('/tmp/jobs/.x', exist_ok=True); open('/tmp/jobs/.x/k', 'w').write('k')",
        "link": "os.symlink('/tmp', '../../' + 'next')",
        "dot-file": "open('/tmp/.cache', 'w').write('k')",
    }
    with WarmWorker(LIMITS, tier="bwrap", preload=("numpy",)) as worker:
        honest = make_job(returns_zero(needs_room), probe("p", "raw", fn="f"))
        for _ in range(3):
            first = worker.run(honest)
            assert first.probes[0].status == "ok", first.probes[0].error
        assert worker.replacements == 0  # an honest job leaves the worker provably clean
        for n, (name, body) in enumerate(attacks.items(), start=1):
            worker.run(make_job(returns_zero(body), probe("p", "raw", fn="f")))
            assert worker.replacements == n, name
            victim = worker.run(honest)
            assert victim.probes[0].status == "ok", (name, victim.probes[0].error)
            assert victim.worker == "warm"


@pytest.mark.sandbox
@needs_bwrap
@pytest.mark.parametrize("worker", ["cold", "warm"])
def test_the_grader_and_its_answer_key_cannot_be_imported_in_bwrap(worker: str) -> None:
    """answer_key_import.py's search (imports, every sys.path and site-packages folder by
    path, the distribution's files, the editable finder) finds nothing in the sandbox."""
    source = (HOSTILE / "answer_key_import.py").read_text()
    code = source + "\n" + returns_zero("_find()")
    job = make_job(code, probe("p", "raw", fn="f"))
    if worker == "cold":
        result = run_job(job, LIMITS, tier="bwrap")
    else:
        with WarmWorker(LIMITS, tier="bwrap", preload=("numpy",)) as w:
            result = w.run(job)
    assert "answer_key_import: found nothing" in result.stdout_excerpt
    assert result.probes[0].status == "ok", result.probes[0].error


def test_the_masked_paths_are_where_the_grader_is_installed() -> None:
    """Every masked path lies in the mounted installation, and where this interpreter has
    the grader installed (editable or wheel), its metadata is among them."""
    folders, files = grader_install_paths()
    roots = python_roots()
    for path in (*folders, *files):
        assert any(path.startswith(r + "/") for r in roots), path
    try:
        installed = metadata.distribution("mlp-grader").locate_file("")
    except metadata.PackageNotFoundError:
        assert (folders, files) == ((), ())  # only on PYTHONPATH: nothing of it is mounted
        return
    if any(str(installed).startswith(r) for r in roots):
        assert any(f.endswith(".dist-info") for f in folders), folders


# ---------------------------------------------------------------------------
# Whole-job limits (a cgroup where one can be made)

needs_cgroup = pytest.mark.skipif(
    limits_tier() != "cgroup", reason="no cgroup can be made here (not root, no delegation)"
)


def run_with(mode: tuple[str, str], job: Job, limits: Limits) -> JobResult:
    worker, tier = mode
    if worker == "cold":
        return run_job(job, limits, tier=tier)
    with WarmWorker(limits, tier=tier, preload=("numpy",)) as w:
        return w.run(job)


def held(result: JobResult) -> int:
    assert result.probes[0].status == "ok", result.probes[0].error
    return int(result.probes[0].arrays["y"][0])


FORK_AND_HOLD = """
import os, time
import numpy as np

def f():
    pids = []
    for _ in range({n}):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            block = np.ones({size} // 8)
            time.sleep(1.0)
            os._exit(0 if block[-1] == 1.0 else 1)
        pids.append(pid)
    ok = sum(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) == 0 for p in pids)
    return {{"y": np.array([ok, len(pids)])}}
"""


@needs_cgroup
def test_many_processes_cannot_hold_more_memory_than_the_job_may(mode: tuple[str, str]) -> None:
    """Four processes of 256 MB each (each far below RLIMIT_AS) against a job limit of
    512 MB: the kernel kills some, and the result says a cgroup bounded the job."""
    limits = replace(LIMITS, job_memory_bytes=512 << 20)
    job = make_job(FORK_AND_HOLD.format(n=4, size=256 << 20), probe("p", "raw", 10.0, fn="f"))
    result = run_with(mode, job, limits)
    assert result.limits_tier == "cgroup"
    assert held(result) < 4


@needs_cgroup
def test_the_job_cannot_start_more_processes_than_it_may(mode: tuple[str, str]) -> None:
    """100 forks against a limit of 16 processes: most fail, in every tier."""
    limits = replace(LIMITS, processes=16)
    job = make_job(FORK_AND_HOLD.format(n=100, size=8), probe("p", "raw", 10.0, fn="f"))
    result = run_with(mode, job, limits)
    started = int(result.probes[0].arrays["y"][1])
    assert result.limits_tier == "cgroup"
    assert started <= 16 + SANDBOX_TASKS


def test_without_a_cgroup_the_result_says_only_rlimits_bounded_the_job(
    mode: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where no cgroup can be made, limits_tier is "rlimit" (and the job still runs)."""
    monkeypatch.setattr(JobCgroup, "create", classmethod(lambda cls, memory, processes: None))
    job = make_job(returns_zero(), probe("p", "raw", fn="f"))
    result = run_with(mode, job, LIMITS)
    assert result.limits_tier == "rlimit"
    assert result.probes[0].status == "ok"
