"""The Dask executor on a local two-process cluster gives what the local executor gives."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.batch import GradeJob, run_batch
from grader.executors import DaskExecutor, LocalExecutor
from tests.grader import fakes

distributed = pytest.importorskip(
    "distributed", reason='Dask is an optional dependency: pip install "dask[distributed]"'
)

pytestmark = pytest.mark.slow  # starting a cluster takes a few seconds


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=2, dashboard_address=None
    ) as local:
        yield local


@pytest.mark.parametrize("chunk", [None, 3], ids=["one-per-task", "three-per-task"])
def test_dask_results_equal_local_results(
    cluster: Any, subs: Path, tmp_path: Path, chunk: int | None
) -> None:
    """Graded, ungradable, raised, died and timed-out submissions are stored identically,
    also when several travel in one Dask task (a death or timeout mid-chunk loses only
    that submission: the rest of its chunk is graded after it)."""
    paths = [
        fakes.write(subs, "alice.py"),
        fakes.write(subs, "bob.py", "# fake: fail grad_hidden"),
        fakes.write(subs, "carol.py", "# fake: exit 3"),
        fakes.write(subs, "dan.py", "# fake: raise"),
        fakes.write(subs, "eve.py", "# fake: sleep 30"),
        fakes.write(subs, "fay.py", "# fake: ungradable empty notebook"),
    ]
    job = GradeJob.from_file(fakes.grade_submission, fakes.RUBRIC_PATH)
    local = run_batch(
        paths, job, tmp_path / "local", executor=LocalExecutor(3, timeout=6.0), progress=False
    )
    with distributed.Client(cluster) as client:
        dask = run_batch(
            paths,
            job,
            tmp_path / "dask",
            executor=DaskExecutor(timeout=6.0, scheduler=client, chunk=chunk),
            progress=False,
        )
    counts = (dask.graded, dask.ungradable, dask.failed)
    assert counts == (local.graded, local.ungradable, local.failed) == (2, 1, 3)
    assert fakes.stored_results(tmp_path / "dask") == fakes.stored_results(tmp_path / "local")
    assert "exit code 3" in dict(dask.failures)["carol"]


def test_chunks_share_a_batch_out_and_stay_small() -> None:
    """Several submissions per Dask task only where every worker thread still gets a few
    tasks, and never more than CHUNK_MAX."""
    from grader.executors import CHUNK_MAX, CHUNKS_PER_SLOT, chunk_size

    assert chunk_size(6, 4) == 1
    assert chunk_size(40, 2) == 40 // (CHUNKS_PER_SLOT * 2)
    assert chunk_size(10_000, 16) == CHUNK_MAX
    assert chunk_size(0, 0) == 1


def test_dask_by_scheduler_address(cluster: Any, subs: Path, out: Path) -> None:
    """A tcp:// address (as --scheduler gives) connects, grades, and resumes from the cache."""
    paths = [fakes.write(subs, "alice.py"), fakes.write(subs, "bob.py")]
    first = run_batch(
        paths,
        fakes.grade,
        out,
        executor="dask",
        scheduler=cluster.scheduler_address,
        progress=False,
    )
    second = run_batch(
        paths,
        fakes.grade,
        out,
        executor="dask",
        scheduler=cluster.scheduler_address,
        progress=False,
    )
    assert (first.graded, second.cached) == (2, 2)


def test_a_task_travels_as_json_and_comes_back_the_same_job(tmp_path: Path) -> None:
    """The Dask child's task is plain JSON: the GradeJob it rebuilds has the same cache salt."""
    from grader.executors import grade_from_payload, task_payload
    from grader.grade import GradeSettings

    job = GradeJob.from_file(fakes.grade_submission, fakes.RUBRIC_PATH, GradeSettings(warm=True))
    payload = json.loads(json.dumps(task_payload(job, tmp_path / "alice.py")))
    rebuilt, path = grade_from_payload(payload)
    assert path == tmp_path / "alice.py"
    assert isinstance(rebuilt, GradeJob) and rebuilt.cache_salt == job.cache_salt
    assert rebuilt.settings == job.settings


def test_a_grade_function_without_a_name_is_refused() -> None:
    """A lambda cannot be named in a task: refused before anything is submitted."""
    from grader.executors import task_payload

    with pytest.raises(ValueError, match="module-level"):
        task_payload(lambda p: p, Path("x.py"))


def test_a_dask_task_reuses_its_warm_process_and_needs_no_shared_files(
    subs: Path, tmp_path: Path
) -> None:
    """supervise_one (what each Dask task runs) grades from the bytes it was sent, under the
    original path, in one warm process per worker thread: the same pid for two tasks."""
    from grader.executors import Task, _stop_servers, supervise_one

    job = GradeJob.from_file(fakes.grade_submission, fakes.RUBRIC_PATH)
    pids = []
    try:
        for n in range(2):
            pid = tmp_path / f"{n}.pid"
            source = fakes.write(subs, f"s{n}.py", f"# fake: pid {pid}", "# fake: fail grad_hidden")
            content = source.read_bytes()
            elsewhere = Path("/nonexistent-on-this-worker") / f"student{n}.py"
            outcome = supervise_one(job, Task(n, elsewhere, f"student{n}"), 30.0, content)
            assert outcome.kind == "result", outcome.detail
            assert outcome.result is not None
            assert outcome.result["submission"]["path"] == str(elsewhere)
            assert outcome.result["submission"]["identity"] == f"student{n}"
            failed = [c["check_id"] for c in outcome.result["checks"] if c["status"] == "failed"]
            assert failed == ["grad_hidden"]
            pids.append(int(pid.read_text()))
    finally:
        _stop_servers()
    assert pids[0] == pids[1]
    assert not fakes.alive(pids[0])


def test_dask_workers_that_share_the_output_folder_store_their_own_results(
    cluster: Any, subs: Path, tmp_path: Path
) -> None:
    """shared_out_dir: each Dask worker stores its result and reports (the parent gets rows);
    what is stored equals the local executor's, failures (stored by the parent) included."""
    from grader.batch import BatchOutputs

    paths = [
        fakes.write(subs, "alice.py"),
        fakes.write(subs, "bob.py", "# fake: fail grad_hidden"),
        fakes.write(subs, "dan.py", "# fake: raise"),
        fakes.write(subs, "fay.py", "# fake: ungradable empty notebook"),
    ]
    job = GradeJob.from_file(fakes.grade_submission, fakes.RUBRIC_PATH)
    outputs = BatchOutputs(reports=("md",), class_page=False)
    run_batch(
        paths,
        job,
        tmp_path / "local",
        executor=LocalExecutor(2, timeout=20.0),
        progress=False,
        outputs=outputs,
    )
    with distributed.Client(cluster) as client:
        executor = DaskExecutor(timeout=20.0, scheduler=client, shared_out_dir=True)
        dask = run_batch(
            paths, job, tmp_path / "dask", executor=executor, progress=False, outputs=outputs
        )
    assert (dask.graded, dask.ungradable, dask.failed) == (2, 1, 1)
    assert fakes.stored_results(tmp_path / "dask") == fakes.stored_results(tmp_path / "local")
    stored = json.loads((tmp_path / "dask" / "results" / "alice.json").read_text())
    assert stored["provenance"]["batch"]["executor"] == "dask"
    reports = sorted(p.name for p in (tmp_path / "dask" / "reports").iterdir())
    assert reports == ["alice.md", "bob.md", "dan.md", "fay.md"]
