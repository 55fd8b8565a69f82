"""A grading process killed mid-job (``kill -9``, as the OOM killer does): it is replaced,
the job is graded again in the fresh process and recorded once; a second death is
recorded as the job's failure, with the reason, and the next job is graded as usual."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from grader.batch import GradeJob
from grader.grade import grade_submission
from grader.pipeline import GradeSettings
from grader.serve.runner import DEATH_RETRIES, Runner
from grader.serve.store import Store
from tests.grader.serve.conftest import (
    DEMO,
    RUBRIC,
    Class,
    Server,
    need_web_stack,
    slow_notebook,
    wait_done,
)

pytestmark = pytest.mark.slow


def grading_processes(parent: int) -> list[int]:
    """The warm grading processes (``python -m grader.executors --serve``) ``parent`` started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # it ended meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"grader.executors" in cmdline and b"--serve" in cmdline:
            found.append(int(entry.name))
    return found


def wait_running(url: str, headers: dict[str, str], job: str) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while httpx.get(f"{url}/api/jobs/{job}", headers=headers, timeout=10).json()["state"] != (
        "running"
    ):
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.1)


def test_grading_process_killed_mid_job_is_replaced_and_the_job_graded_once(
    klass: Class, server: Server
) -> None:
    need_web_stack()
    import httpx

    assert server.log is None
    server.start("--workers", "1", "--timeout", "0")
    assert server.proc is not None
    alice = klass.auth("alice")
    slow = httpx.post(
        server.url + "/api/submissions",
        headers=alice,
        files={"file": ("slow.ipynb", slow_notebook(6.0))},
        timeout=30,
    ).json()["job"]
    wait_running(server.url, alice, slow)
    deadline = time.monotonic() + 60
    while not (victims := grading_processes(server.proc.pid)):
        assert time.monotonic() < deadline, "no grading process started"
        time.sleep(0.1)
    time.sleep(1.5)  # inside the notebook's 6 s setup
    (victim,) = victims
    os.kill(victim, signal.SIGKILL)

    status = wait_done(server.url, alice, slow, limit=180)
    assert status["outcome"] == "graded", status
    # the same notebook without its slow first cell, graded plainly after: the same score
    plain = httpx.post(
        server.url + "/api/submissions",
        headers=klass.auth("bob"),
        files={"file": ("alice.ipynb", (DEMO / "alice.ipynb").read_bytes())},
        timeout=30,
    ).json()["job"]
    assert wait_done(server.url, klass.auth("bob"), plain)["outcome"] == "graded"
    replacement = grading_processes(server.proc.pid)
    assert replacement and victim not in replacement  # a fresh process took its place

    db = sqlite3.connect(klass.data / "service.db")
    rows = dict(db.execute("SELECT job_id, COUNT(*) FROM results GROUP BY job_id").fetchall())
    assert rows == {slow: 1, plain: 1}  # exactly one result each
    points = dict(db.execute("SELECT job_id, points FROM results").fetchall())
    assert points[slow] == points[plain] is not None
    assert db.execute("SELECT attempts FROM jobs WHERE id = ?", (slow,)).fetchone() == (1,)
    assert server.log is not None
    log = server.log.read_text()
    assert "SIGKILL" in log and "grading alice's job again in a fresh process" in log


def test_a_job_whose_grading_process_keeps_dying_is_recorded_with_the_reason(
    klass: Class,
) -> None:
    store = Store(klass.data)
    slow = store.accept("alice", "slow.ipynb", "ipynb", slow_notebook(8.0))
    job = GradeJob.from_file(grade_submission, RUBRIC, GradeSettings(warm=True))
    runner = Runner(store, job, workers=1, timeout=None)
    killed: list[int] = []
    stop = threading.Event()

    def slow_recorded() -> bool:
        return (found := store.job(slow)) is not None and found.state == "done"

    def killer() -> None:  # the OOM killer, every time the job's process is (re)started
        while not stop.is_set():
            for pid in grading_processes(os.getpid()):
                if pid not in killed:
                    time.sleep(1.0)  # let it take the job
                    # once the job is given up the runner starts a fresh process for the
                    # next job; on a loaded machine that can happen before the main thread
                    # looks, and that process is not the job's
                    if stop.is_set() or slow_recorded():
                        return
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.1)

    thread = threading.Thread(target=killer, daemon=True)
    runner.start()
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while (done := store.job(slow)) is None or done.state != "done":
            assert time.monotonic() < deadline, store.counts()
            time.sleep(0.2)
        stop.set()
        thread.join(10)
        # the next job is graded as usual, in a fresh process
        plain = store.accept("bob", "alice.ipynb", "ipynb", (DEMO / "alice.ipynb").read_bytes())
        runner.wake()
        while (graded := store.job(plain)) is None or graded.state != "done":
            assert time.monotonic() < deadline, store.counts()
            time.sleep(0.2)
    finally:
        stop.set()
        runner.stop(wait=30)
    # the fresh process started after the give-up may be killed too before the killer
    # sees the job recorded; how often the job itself was tried is in its reason below
    assert len(killed) >= DEATH_RETRIES + 1
    assert done.outcome == "failed" and done.attempts == 1
    result = json.loads(store.result(slow) or "{}")
    assert result["status"] == "ungradable"
    assert "grading worker died" in result["reason"] and "SIGKILL" in result["reason"]
    assert f"tried {DEATH_RETRIES + 1} times" in result["reason"]
    assert graded.outcome == "graded" and graded.points is not None and graded.points > 0
    assert runner.errors == []
