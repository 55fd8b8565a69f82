"""The pool executor: long-lived processes, each grading submission after submission."""

from __future__ import annotations

import time
from pathlib import Path

from grader.batch import GradeJob, run_batch
from grader.executors import LocalExecutor, PoolExecutor, make_executor
from tests.grader import fakes


def test_pool_and_local_store_the_same_results(subs: Path, tmp_path: Path) -> None:
    """Graded, failed-check, raised, died, timed-out and ungradable rows match the local executor's."""
    paths = [
        fakes.write(subs, "alice.py"),
        fakes.write(subs, "bob.py", "# fake: fail grad_hidden"),
        fakes.write(subs, "carol.py", "# fake: exit 3"),
        fakes.write(subs, "dan.py", "# fake: raise"),
        fakes.write(subs, "eve.py", "# fake: sleep 30"),
        fakes.write(subs, "fay.py", "# fake: ungradable empty notebook"),
        fakes.write(subs, "gus.py"),
    ]
    job = GradeJob.from_file(fakes.grade_submission, fakes.RUBRIC_PATH)
    local = run_batch(
        paths, job, tmp_path / "local", executor=LocalExecutor(2, timeout=6.0), progress=False
    )
    pool = run_batch(
        paths, job, tmp_path / "pool", executor=PoolExecutor(2, timeout=6.0), progress=False
    )
    assert (pool.graded, pool.ungradable, pool.failed) == (
        local.graded,
        local.ungradable,
        local.failed,
    )
    assert (pool.graded, pool.failed) == (3, 3)
    assert fakes.stored_results(tmp_path / "pool") == fakes.stored_results(tmp_path / "local")
    assert "exit code 3" in dict(pool.failures)["carol"]


def test_a_process_that_dies_is_replaced_and_the_rest_are_graded(
    subs: Path, tmp_path: Path
) -> None:
    """One worker, a dying submission first: the ones after it are still graded."""
    paths = [fakes.write(subs, "carol.py", "# fake: exit 3")]
    paths += [fakes.write(subs, f"s{i}.py") for i in range(3)]
    job = GradeJob.from_file(fakes.grade_submission, fakes.RUBRIC_PATH)
    summary = run_batch(paths, job, tmp_path / "out", executor=PoolExecutor(1), progress=False)
    assert (summary.graded, summary.failed) == (3, 1)


def test_a_timeout_kills_the_process_and_its_children(subs: Path, tmp_path: Path) -> None:
    """A timed-out submission's worker and what it started are killed; the next is graded."""
    worker, child = tmp_path / "worker.pid", tmp_path / "child.pid"
    slow = fakes.write(
        subs, "eve.py", f"# fake: pid {worker}", f"# fake: spawn {child}", "# fake: sleep 30"
    )
    paths = [slow, fakes.write(subs, "fay.py")]
    job = GradeJob.from_file(fakes.grade_submission, fakes.RUBRIC_PATH)
    summary = run_batch(
        paths, job, tmp_path / "out", executor=PoolExecutor(1, timeout=2.0), progress=False
    )
    assert (summary.graded, summary.failed) == (1, 1)
    pids = [int(worker.read_text()), int(child.read_text())]
    deadline = time.monotonic() + 5
    while any(fakes.alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(fakes.alive(p) for p in pids)


def test_the_registry_knows_the_pool() -> None:
    """`make_executor("pool")` gives a PoolExecutor with the workers and timeout asked for."""
    executor = make_executor("pool", workers=3, timeout=7.0)
    assert isinstance(executor, PoolExecutor)
    assert (executor.workers, executor.timeout) == (3, 7.0)
