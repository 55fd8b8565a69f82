"""The real server: uvicorn in a subprocess, spoken to over HTTP on a loopback port."""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.grader.serve.conftest import (
    DEMO,
    ROOT,
    Class,
    Server,
    free_port,
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
    assert job["state"] in ("queued", "running", "done") and job["student"] == "alice"
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
    wal = klass.data / "service.db-wal"
    # 'grader serve tokens' (run in this process by the fixture) closed its store too: a
    # connection it left open would keep the log after the server's close
    assert not wal.exists()
    server.start("--workers", "1")
    answer = httpx.post(
        server.url + "/api/submissions",
        headers=klass.auth("alice"),
        files={"file": ("lab3.ipynb", (DEMO / "alice.ipynb").read_bytes())},
        timeout=30,
    )
    job = answer.json()["job"]
    wait_done(server.url, klass.auth("alice"), job)
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


def readme_service_commands() -> list[str]:
    """The commands README's service section shows (indented, as a shell runs them)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## A grading service") : text.index("### Deployment")]
    return [
        line[4:]
        for line in section.splitlines()
        if line.startswith("    ") and line[4:].startswith(("grader serve", "curl "))
    ]


@pytest.fixture
def course(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A course folder as README's commands expect (roster.csv, rubrics/, lab3.ipynb) and
    a shell environment where ``grader`` is this checkout's."""
    work = tmp_path / "course"
    work.mkdir()
    (work / "roster.csv").write_text("student,email\nalice,alice@example.edu\n")
    (work / "rubrics").symlink_to(ROOT / "rubrics")
    shutil.copy(DEMO / "bob.ipynb", work / "lab3.ipynb")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "grader"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m grader "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    yield work, env


def shell(line: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, (line, done.stderr)
    return done.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_commands_and_the_api_pages_curl_lines_run_as_written(
    tmp_path: Path, course: tuple[Path, dict[str, str]]
) -> None:
    """README's one-command start and curl example, run by bash as written (only /srv/grader
    moved under tmp_path and the port the test's own, README's being the default 8000),
    then every curl line of the /api page against the same server."""
    work, env = course
    tokens_line, serve_line, *curls = readme_service_commands()
    assert " tokens " in tokens_line and "--rubric" in serve_line and len(curls) == 3
    port = free_port()

    def here(line: str) -> str:
        line = line.replace("/srv/grader", str(tmp_path / "srv"))
        return line.replace("127.0.0.1:8000", f"127.0.0.1:{port}")

    shell(here(tokens_line), work, env)
    with open(work / "out" / "tokens.csv", newline="") as handle:
        tokens = {row["student"]: row["token"] for row in csv.DictReader(handle)}
    env = {**env, "TOKEN": tokens["alice"], "INSTRUCTOR_TOKEN": tokens["instructor"]}
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 (closed in finally)
    proc = subprocess.Popen(
        ["bash", "-c", "exec " + here(serve_line) + f" --port {port}"],
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(url + "/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.2)
        answer = json.loads(shell(here(curls[0]), work, env))
        # the service's runner may claim it before the answer is sent
        assert answer["state"] in ("queued", "running", "done"), answer
        assert answer.get("position", 1) == 1
        env["JOB"] = answer["job"]
        status = json.loads(shell(here(curls[1]), work, env))
        assert status["job"] == answer["job"] and status["state"] in ("queued", "running", "done")
        wait_done(url, {"Authorization": f"Bearer {tokens['alice']}"}, answer["job"])
        assert "## Feedback: alice" in shell(here(curls[2]), work, env)

        env["JOB_ID"] = answer["job"]
        page = httpx.get(url + "/api", timeout=10).text
        lines = [html.unescape(c) for c in re.findall(r"<code>(curl .*?)</code>", page)]
        assert len(lines) >= 7 and all(f"127.0.0.1:{port}/api/" in c for c in lines)
        for line in lines:
            out = shell(line, work, env)
            assert out and not out.startswith('{"detail"'), (line, out[:200])
            if line.endswith("/file"):
                assert out == (work / "lab3.ipynb").read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()


def stored(data: Path) -> tuple[int, list[Path]]:
    db = sqlite3.connect(data / "service.db")
    try:
        rows = db.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
    finally:
        db.close()
    return int(rows), sorted(p for p in (data / "blobs").rglob("*") if p.is_file())


def test_auth_rules_and_malformed_uploads_over_http(klass: Class, server: Server) -> None:
    """What test_app_api.py shows in process, over a socket to the real server: each auth
    rule refused with its status code, each malformed upload with its sentence, and none
    of them stores anything (one accepted upload is the only row and file)."""
    from tests.grader.serve.test_uploads import NOTEBOOK, zip_of

    server.start("--workers", "1", "--max-upload-mb", "1")
    url, alice, bob = server.url, klass.auth("alice"), klass.auth("bob")
    job = httpx.post(
        url + "/api/submissions", headers=alice, files={"file": ("a.ipynb", NOTEBOOK)}
    ).json()["job"]
    before = stored(klass.data)
    assert before[0] == 1 and len(before[1]) == 1

    # tokens and whose is what
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        assert httpx.get(url + "/api/jobs", headers=headers).status_code == 401
    for route in ("", "/report.md", "/file"):
        assert httpx.get(f"{url}/api/jobs/{job}{route}", headers=bob).status_code == 404
    for route in ("/api/gradebook.csv", "/api/class", "/instructor/class"):
        assert httpx.get(url + route, headers=alice).status_code == 403, route
        assert httpx.get(url + route, headers=klass.auth("instructor")).status_code == 200
    teacher = httpx.post(
        url + "/api/submissions",
        headers=klass.auth("instructor"),
        files={"file": ("a.ipynb", NOTEBOOK)},
    )
    assert teacher.status_code == 403
    # CSRF: a form without its field, or with another session's, is refused
    with httpx.Client(base_url=url) as browser:
        assert browser.post("/login", data={"token": klass.tokens["bob"]}).status_code == 403
        browser.cookies.set("grader_session", klass.tokens["bob"])
        files = {"file": ("lab3.ipynb", NOTEBOOK)}
        assert browser.post("/upload", files=files).status_code == 403
        assert browser.post("/upload", files=files, data={"csrf": "0" * 64}).status_code == 403

    # malformed uploads: the status, and a sentence that names what is wrong
    cases = [
        (("lab3.ipynb", b""), 400, "is empty"),
        (("lab3.ipynb", b"print(1)"), 415, "not a notebook"),
        (
            ("lab3.zip", zip_of(("lab3/lab3.ipynb", NOTEBOOK), ("../evil.py", b"x"))),
            400,
            "climbs out",
        ),
        (
            ("lab3.zip", zip_of(("lab3/lab3.ipynb", NOTEBOOK), ("lab3/z", b"\0" * (30 << 20)))),
            413,
            "unpacks to more",
        ),
        (("lab3.ipynb", b"{" * (100 << 20)), 413, "larger than this service accepts"),
    ]
    for file, status, phrase in cases:
        answer = httpx.post(
            url + "/api/submissions", headers=alice, files={"file": file}, timeout=60
        )
        assert answer.status_code == status, (file[0], answer.text)
        assert phrase in answer.json()["detail"], answer.text
    empty = httpx.post(url + "/api/submissions", headers=alice, content=b"")
    assert empty.status_code == 422 and "holds no file" in empty.json()["detail"]
    assert stored(klass.data) == before  # nothing refused was stored
