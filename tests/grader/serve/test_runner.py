"""The grading threads: a job past the per-job limit is recorded as failed with the
reason, its grading process replaced, and the next job graded as usual."""

from __future__ import annotations

import json
import time

import pytest

from grader.batch import GradeJob
from grader.grade import grade_submission
from grader.pipeline import GradeSettings
from grader.serve.runner import Runner
from grader.serve.store import Store
from tests.grader.serve.conftest import DEMO, RUBRIC, Class, slow_notebook

pytestmark = pytest.mark.slow


def test_a_job_past_its_limit_fails_with_the_reason_and_the_next_is_graded(klass: Class) -> None:
    store = Store(klass.data)
    slow = store.accept("alice", "slow.ipynb", "ipynb", slow_notebook(60.0))
    plain = store.accept("alice", "alice.ipynb", "ipynb", (DEMO / "alice.ipynb").read_bytes())
    job = GradeJob.from_file(grade_submission, RUBRIC, GradeSettings(warm=True))
    # 10 s: the next job starts a fresh grading process, which under load (a shared
    # 2-core machine) took more than 3 s with its grading
    runner = Runner(store, job, workers=1, timeout=10.0)
    runner.start()
    try:
        deadline = time.monotonic() + 120
        while store.counts()["done"] < 2:
            assert time.monotonic() < deadline, store.counts()
            time.sleep(0.2)
    finally:
        runner.stop(wait=30)
    failed, graded = store.job(slow), store.job(plain)
    assert failed is not None and failed.outcome == "failed"
    result = json.loads(store.result(slow) or "{}")
    assert (
        result["status"] == "ungradable"
        and "longer than the batch's limit of 10 s" in result["reason"]
    )
    assert graded is not None and graded.outcome == "graded" and graded.points == 23.0
    assert runner.errors == []
