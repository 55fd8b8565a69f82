"""The real server: uvicorn in a subprocess, spoken to over HTTP on a loopback port."""

from __future__ import annotations

import signal
import sqlite3
import time

import pytest

from tests.grader.serve.conftest import (
    DEMO,
    Class,
    Server,
    need_web_stack,
    slow_notebook,
    wait_done,
)

need_web_stack()
import httpx  # noqa: E402

pytestmark = pytest.mark.slow


def test_submit_follow_and_fetch_reports_over_http(klass: Class, server: Server) -> None:
    server.start("--workers", "1")
    alice = klass.auth("alice")
    answer = httpx.post(
        server.url + "/api/submissions",
        headers=alice,
        files={"file": ("lab3.ipynb", (DEMO / "bob.ipynb").read_bytes())},
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["state"] in ("queued", "running") and job["student"] == "alice"
    done = wait_done(server.url, alice, job["job"])
    assert done["outcome"] == "graded"
    report = httpx.get(server.url + f"/api/jobs/{job['job']}/report.md", headers=alice, timeout=30)
    assert report.status_code == 200 and "## Feedback: alice" in report.text
    html = httpx.get(server.url + f"/api/jobs/{job['job']}/report.html", headers=alice, timeout=30)
    assert html.headers["content-type"].startswith("text/html") and "<html" in html.text
    # another student cannot, the instructor can
    bob = httpx.get(server.url + f"/api/jobs/{job['job']}/report.json", headers=klass.auth("bob"))
    assert bob.status_code == 404
    gradebook = httpx.get(server.url + "/api/gradebook.csv", headers=klass.auth("instructor"))
    assert gradebook.status_code == 200 and gradebook.text.splitlines()[1].startswith("alice,")


def test_sigkill_mid_job_then_restart_finishes_every_job_once(klass: Class, server: Server) -> None:
    server.start("--workers", "1", "--timeout", "0")
    submitted = {}
    slow = httpx.post(
        server.url + "/api/submissions",
        headers=klass.auth("alice"),
        files={"file": ("slow.ipynb", slow_notebook(4.0))},
        timeout=30,
    )
    submitted[slow.json()["job"]] = "alice"
    for name, sample in [("bob", "bob.ipynb"), ("carol", "carol.ipynb"), ("alice", "dave.ipynb")]:
        answer = httpx.post(
            server.url + "/api/submissions",
            headers=klass.auth(name),
            files={"file": (sample, (DEMO / sample).read_bytes())},
            timeout=30,
        )
        assert answer.status_code == 202, answer.text
        submitted[answer.json()["job"]] = name
    slow_id = slow.json()["job"]
    deadline = time.monotonic() + 60
    while (
        httpx.get(f"{server.url}/api/jobs/{slow_id}", headers=klass.auth("alice")).json()["state"]
        != "running"
    ):
        assert time.monotonic() < deadline, "the slow job never started"
        time.sleep(0.1)
    time.sleep(1.0)  # inside its 4 s setup
    server.kill()

    db = sqlite3.connect(klass.data / "service.db")
    state = db.execute("SELECT state, attempts FROM jobs WHERE id = ?", (slow_id,)).fetchone()
    assert state == ("running", 1)  # killed mid-job: claimed, no result
    assert db.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 0

    server.start("--workers", "1", "--timeout", "0")
    for job, name in submitted.items():
        status = wait_done(server.url, klass.auth(name), job)
        assert status["outcome"] == "graded", status
    rows = db.execute("SELECT job_id, COUNT(*) FROM results GROUP BY job_id").fetchall()
    assert sorted(rows) == sorted((job, 1) for job in submitted)  # every job once, none lost
    attempts = dict(db.execute("SELECT id, attempts FROM jobs").fetchall())
    assert attempts[slow_id] == 2  # graded again after the restart
    assert all(attempts[j] == 1 for j in submitted if j != slow_id)
    points = db.execute("SELECT points FROM results WHERE job_id = ?", (slow_id,)).fetchone()
    assert points == (23.0,)


def test_a_clean_stop_closes_the_store(klass: Class, server: Server) -> None:
    """SIGTERM (what systemd sends) shuts the application down: the store is closed, so the
    server's heartbeat row is gone (the others need not wait for its lease) and, the last
    connection closed, SQLite has checkpointed its write-ahead log into service.db."""
    server.start("--workers", "1")
    answer = httpx.post(
        server.url + "/api/submissions",
        headers=klass.auth("alice"),
        files={"file": ("lab3.ipynb", (DEMO / "alice.ipynb").read_bytes())},
        timeout=30,
    )
    job = answer.json()["job"]
    wait_done(server.url, klass.auth("alice"), job)
    wal = klass.data / "service.db-wal"
    db = sqlite3.connect(klass.data / "service.db")
    try:
        assert db.execute("SELECT COUNT(*) FROM servers").fetchone()[0] == 1  # its heartbeat
    finally:
        db.close()
    assert wal.exists()  # the server's connections are open: the log is in use
    server.stop()
    assert server.proc is not None and server.log is not None
    # uvicorn shuts down, then re-raises the signal it caught (systemd counts it as clean)
    assert server.proc.returncode in (0, -signal.SIGTERM), server.log
    assert "Traceback" not in server.log.read_text()
    assert not wal.exists()  # checkpointed and removed as the last connection closed
    db = sqlite3.connect(klass.data / "service.db")
    try:
        assert db.execute("SELECT COUNT(*) FROM servers").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 1
    finally:
        db.close()
