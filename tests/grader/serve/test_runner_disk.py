"""A disk that stays full under the results store: the runner gives the job up after
``MAX_ATTEMPTS`` tries and says why (the results store was full), not that the service
stopped. Real grading, a real full tmpfs (root only; skipped with the reason elsewhere)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="the service's extra: pip install -e '.[serve]'")

from grader.batch import GradeJob
from grader.grade import grade_submission
from grader.pipeline import GradeSettings
from grader.results import GradeResult
from grader.serve.runner import Runner
from grader.serve.store import DB_NAME, MAX_ATTEMPTS, Store, StoreError, token_hash
from tests.grader.serve.conftest import DEMO, RUBRIC
from tests.grader.serve.test_store_disk import fill, small_disk  # noqa: F401 (the fixture)

pytestmark = pytest.mark.slow


def full(disk: Path, data: Path) -> Path:
    """Fill ``disk`` after emptying the database's write-ahead log, so that the next
    write needs new blocks (a checkpointed WAL is rewritten in place)."""
    with sqlite3.connect(data / DB_NAME) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return fill(disk)


def test_a_result_the_full_disk_refuses_is_given_up_with_that_reason(
    small_disk: Path,  # noqa: F811 (the fixture imported above)
) -> None:
    data = small_disk / "data"
    store = Store(data, claim="server")
    store.set_token("alice", "student", token_hash("token-of-alice"))
    job_id = store.accept("alice", "alice.ipynb", "ipynb", (DEMO / "alice.ipynb").read_bytes())
    job = GradeJob.from_file(grade_submission, RUBRIC, GradeSettings(warm=True))
    runner = Runner(store, job, timeout=900.0)
    try:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            claimed = store.claim_next()
            assert claimed is not None and claimed.attempts == attempt
            filler = full(small_disk, data)
            with pytest.raises(StoreError, match="disk"):
                runner.grade(claimed)  # graded; its result does not fit
            filler.unlink()
            store.requeue_unrecorded()  # where even the release did not fit
            queued = store.job(job_id)
            assert queued is not None and queued.state == "queued" and store.result(job_id) is None
        last = store.claim_next()
        assert last is not None and last.attempts == MAX_ATTEMPTS + 1
        assert runner.grade(last)  # room again: the give-up is recorded, once
    finally:
        runner.stop()
    text = store.result(job_id)
    assert text is not None
    result = GradeResult.from_json(text)
    assert result.status == "ungradable"
    assert result.reason is not None
    assert "results store was full" in result.reason, result.reason
    assert f"({MAX_ATTEMPTS} of them)" in result.reason
    assert "stopped" not in result.reason  # the service never stopped
    assert str(data) not in result.reason  # the server's paths stay in its own log
    assert store.counts() == {"queued": 0, "running": 0, "done": 1}
    store.close()
