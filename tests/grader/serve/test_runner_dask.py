"""``grader serve --scheduler``: jobs graded on a Dask cluster (a LocalCluster here) get the
same score, check by check, as the same submission through ``grader grade``."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from grader.batch import GradeJob
from grader.cli import main as grader_main
from grader.grade import grade_submission
from grader.pipeline import GradeSettings
from grader.serve.runner import Runner
from grader.serve.store import Store
from tests.grader.serve.conftest import DEMO, RUBRIC, Class

distributed = pytest.importorskip(
    "distributed", reason='Dask is an optional dependency: pip install "dask[distributed]"'
)
pytestmark = pytest.mark.slow


def test_jobs_graded_on_dask_score_as_grader_grade(klass: Class, tmp_path: Path) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(DEMO / "bob.ipynb", folder / "bob.ipynb")
    out = tmp_path / "graded"
    argv = ["grade", str(folder), "--rubric", str(RUBRIC), "--out", str(out), "--no-progress"]
    assert grader_main(argv) == 0
    batch = json.loads((out / "results" / "bob.json").read_text())

    store = Store(klass.data)
    job_id = store.accept("bob", "bob.ipynb", "ipynb", (DEMO / "bob.ipynb").read_bytes())
    job = GradeJob.from_file(grade_submission, RUBRIC, GradeSettings(warm=True))
    with distributed.LocalCluster(
        n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        runner = Runner(store, job, timeout=900.0, scheduler=cluster.scheduler_address)
        assert runner.cluster_threads() == 1
        runner.start()
        try:
            deadline = time.monotonic() + 240
            while (done := store.job(job_id)) is None or done.state != "done":
                assert time.monotonic() < deadline, store.counts()
                time.sleep(0.2)
        finally:
            runner.stop(wait=30)
    served = json.loads(store.result(job_id) or "{}")
    assert done.outcome == "graded", served
    assert served["score"]["points"] == batch["score"]["points"]
    checks = {c["check_id"]: (c["status"], c["points"]) for c in served["checks"]}
    assert checks == {c["check_id"]: (c["status"], c["points"]) for c in batch["checks"]}
    assert runner.errors == []
