"""The API and pages through FastAPI's TestClient: every auth rule with its status code,
malformed uploads refused with nothing stored, and a student's view of their own results.

The application here has no runner (jobs only queue), except where a test grades."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from pathlib import Path

import pytest

from grader.grade import grade_submission
from grader.results import GradeResult, SubmissionRef
from grader.rubric_file import load_rubric
from grader.serve.cli import main as serve_main
from grader.serve.store import WHO_AGE, Job, Store
from grader.serve.tokens import issue_tokens
from tests.grader.serve.conftest import DEMO, RUBRIC, Class, need_web_stack
from tests.grader.serve.test_uploads import NOTEBOOK, zip_of

need_web_stack()
from fastapi.testclient import TestClient  # noqa: E402

from grader.serve.app import (  # noqa: E402
    RETRY_IDLE,
    RETRY_QUEUED_MAX,
    RETRY_RUNNING_MAX,
    ServeConfig,
    create_app,
)
from grader.serve.uploads import UploadLimits  # noqa: E402

LIMITS = UploadLimits(max_bytes=1 << 20)


def client_of(klass: Class, per_hour: int | None = 30) -> tuple[TestClient, Store]:
    store = Store(klass.data)
    config = ServeConfig(load_rubric(RUBRIC), "sandbox tier test", "bwrap", per_hour, LIMITS)
    return TestClient(create_app(store, config)), store


def submit(
    client: TestClient, klass: Class, who: str, name: str = "lab3.ipynb", content: bytes = NOTEBOOK
) -> dict[str, object]:
    answer = client.post(
        "/api/submissions", headers=klass.auth(who), files={"file": (name, content)}
    )
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def nothing_stored(store: Store) -> bool:
    blobs = [p for p in (store.data / "blobs").rglob("*") if p.is_file()]
    db = sqlite3.connect(store.data / "service.db")
    return not blobs and db.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 0


def test_submit_answers_at_once_with_job_and_position(klass: Class) -> None:
    client, _ = client_of(klass)
    first = submit(client, klass, "alice")
    again = submit(client, klass, "alice")
    bob = submit(client, klass, "bob")
    assert first["state"] == "queued" and first["position"] == 1
    status = client.get(f"/api/jobs/{again['job']}", headers=klass.auth("alice")).json()
    assert status["position"] == 3  # bob's first comes before alice's second
    assert client.get(f"/api/jobs/{bob['job']}", headers=klass.auth("bob")).json()["position"] == 2


def test_a_job_claimed_before_its_answer_is_sent_is_answered_as_it_is_now(
    klass: Class, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runner can claim a job between the upload's insert and the answer (CI saw it):
    the answer then says "running", never "queued" without a position."""
    client, store = client_of(klass)
    read = store.job
    claims: list[Job | None] = []

    def read_then_claimed(job_id: str) -> Job | None:
        job = read(job_id)
        if not claims:  # the upload's own read sees it queued; the runner claims it then
            claims.append(store.claim_next())
        return job

    monkeypatch.setattr(store, "job", read_then_claimed)
    answer = submit(client, klass, "alice")
    assert answer["state"] == "running" and "position" not in answer


def test_a_waiting_jobs_status_says_when_to_ask_again_and_a_done_jobs_does_not(
    klass: Class,
) -> None:
    client, store = client_of(klass)
    students = ["alice", "bob", "carol", "alice", "bob"]
    jobs = [str(submit(client, klass, who)["job"]) for who in students]
    first = jobs[0]

    def asked(job: str, who: str) -> tuple[dict[str, object], int | None]:
        answer = client.get(f"/api/jobs/{job}", headers=klass.auth(who))
        assert answer.status_code == 200
        wait = answer.headers.get("retry-after")
        return answer.json(), None if wait is None else int(wait)

    # queued: a whole number of seconds, bounded, never sooner for a job further back
    waits = [asked(job, who)[1] or 0 for job, who in zip(jobs, students, strict=True)]
    assert all(RETRY_QUEUED_MAX >= w >= 1 for w in waits), waits
    assert waits == sorted(waits)
    # from the recent grading times: one graded in 10 s puts the 4th in line 40 s away,
    # one grading thread: ask again in half that
    claimed = store.claim_next()
    assert claimed is not None and claimed.id == first
    failed = GradeResult(SubmissionRef("alice", "lab3.ipynb"), "ungradable", reason="a test")
    assert store.finish(first, "graded", failed.to_json(indent=None), None, 10.0)
    status, wait = asked(jobs[4], "bob")
    assert status["position"] == 4 and wait == min(RETRY_QUEUED_MAX, round(4 * 10.0 / 2))
    running = store.claim_next()
    assert running is not None
    status, wait = asked(running.id, running.student)
    assert status["state"] == "running" and wait is not None and RETRY_RUNNING_MAX >= wait >= 1
    # done: nothing to wait for
    status, wait = asked(first, "alice")
    assert status["state"] == "done" and wait is None
    listed = client.get("/api/jobs", headers=klass.auth("bob"))
    bobs = [asked(j["job"], "bob")[1] for j in listed.json()]  # the soonest of bob's
    assert listed.headers["retry-after"] == str(min(w for w in bobs if w is not None))
    # without JavaScript the job's page reloads itself after the same wait
    client.cookies.set("grader_session", klass.tokens["bob"])
    page = client.get(f"/jobs/{jobs[4]}").text
    assert f'http-equiv="refresh" content="{asked(jobs[4], "bob")[1]}"' in page


def test_a_reissued_token_replaces_the_old_one_for_a_running_service(
    klass: Class, tmp_path: Path
) -> None:
    """Tokens found are remembered for a few seconds (a polling client asks often): a
    reissue by ``grader serve tokens`` (another process) shows within WHO_AGE, and one in
    this process at once."""
    client, store = client_of(klass)
    old = klass.auth("alice")
    assert client.get("/api/jobs", headers=old).status_code == 200  # now remembered
    roster = tmp_path / "roster.csv"
    out = tmp_path / "again.csv"
    assert (
        serve_main(
            ["tokens", str(roster), "--data", str(klass.data), "--out", str(out), "--reissue"]
        )
        == 0
    )
    new = {"Authorization": "Bearer " + dict(csv.reader(out.read_text().splitlines()))["alice"]}
    assert client.get("/api/jobs", headers=new).status_code == 200  # a new token: at once
    assert client.get("/api/jobs", headers=old).status_code == 200  # remembered here ...
    for hashed in store._known:  # ... until WHO_AGE has passed
        name, when = store._known[hashed]
        store._known[hashed] = (name, when - WHO_AGE - 1)
    assert client.get("/api/jobs", headers=old).status_code == 401
    issue_tokens(store, ["alice"], tmp_path / "third.csv", reissue=True)  # in this process
    third = {
        "Authorization": "Bearer "
        + dict(csv.reader((tmp_path / "third.csv").read_text().splitlines()))["alice"]
    }
    assert client.get("/api/jobs", headers=third).status_code == 200
    assert client.get("/api/jobs", headers=new).status_code == 401  # at once


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}]
)
def test_missing_or_wrong_token_is_401(klass: Class, headers: dict[str, str]) -> None:
    client, store = client_of(klass)
    answer = client.post("/api/submissions", headers=headers, files={"file": ("a.ipynb", NOTEBOOK)})
    assert answer.status_code == 401
    assert client.get("/api/jobs", headers=headers).status_code == 401
    assert nothing_stored(store)


def test_no_student_reads_another_students_job_report_or_file(klass: Class) -> None:
    client, _ = client_of(klass)
    job = submit(client, klass, "alice")["job"]
    for route in ("", "/report.html", "/report.md", "/report.json", "/file"):
        answer = client.get(f"/api/jobs/{job}{route}", headers=klass.auth("bob"))
        assert answer.status_code == 404, route  # the same as a job that does not exist
        assert (
            client.get(f"/api/jobs/{'0' * 32}{route}", headers=klass.auth("bob")).status_code == 404
        )
    assert client.get("/api/jobs", headers=klass.auth("bob")).json() == []
    mine = client.get(f"/api/jobs/{job}/file", headers=klass.auth("alice"))
    assert mine.status_code == 200 and mine.content == NOTEBOOK
    assert mine.headers["content-type"] == "application/octet-stream"
    assert client.get(f"/api/jobs/{job}/report.md", headers=klass.auth("alice")).status_code == 409
    assert client.get(f"/api/jobs/{job}", headers=klass.auth("instructor")).status_code == 200
    # the page of another student's job, signed in by cookie
    client.cookies.set("grader_session", klass.tokens["bob"])
    assert client.get(f"/jobs/{job}").status_code == 404


def test_the_class_counts_say_when_to_ask_again(klass: Class) -> None:
    """/api/class (the instructor page polls it): soon while jobs wait or run, seldom when
    idle; its count of graded students agrees with the results it no longer reads."""
    client, store = client_of(klass)

    def asked() -> tuple[dict[str, object], int]:
        answer = client.get("/api/class", headers=klass.auth("instructor"))
        assert answer.status_code == 200
        return answer.json(), int(answer.headers["retry-after"])

    assert asked() == (asked()[0], RETRY_IDLE) and asked()[0]["graded"] == 0
    jobs = [str(submit(client, klass, who)["job"]) for who in ("alice", "bob", "alice")]
    busy, wait = asked()
    assert RETRY_RUNNING_MAX >= wait >= 1 and busy["jobs"] == {"queued": 3, "running": 0, "done": 0}
    for _ in jobs:
        claimed = store.claim_next()
        assert claimed is not None
        result = GradeResult(
            SubmissionRef(claimed.student, "lab3.ipynb"), "ungradable", reason="a test"
        )
        assert store.finish(claimed.id, "graded", result.to_json(indent=None), None, 1.0)
    idle, wait = asked()
    assert wait == RETRY_IDLE and idle["graded"] == len(store.latest_results()) == 2


@pytest.mark.parametrize("route", ["/api/gradebook.csv", "/api/class", "/instructor/class"])
def test_instructor_api_routes_refuse_students(klass: Class, route: str) -> None:
    client, _ = client_of(klass)
    assert client.get(route, headers=klass.auth("alice")).status_code == 403
    assert client.get(route, follow_redirects=False).status_code in (401, 303)
    assert client.get(route, headers=klass.auth("instructor")).status_code == 200


@pytest.mark.parametrize("route", ["/instructor", "/instructor/class"])
def test_instructor_pages_refuse_students(klass: Class, route: str) -> None:
    client, _ = client_of(klass)
    assert client.get(route, follow_redirects=False).status_code == 303  # sign in first
    client.cookies.set("grader_session", klass.tokens["alice"])
    assert client.get(route).status_code == 403
    client.cookies.set("grader_session", klass.tokens["instructor"])
    assert client.get(route).status_code == 200


def test_the_instructor_token_does_not_submit(klass: Class) -> None:
    client, store = client_of(klass)
    answer = client.post(
        "/api/submissions", headers=klass.auth("instructor"), files={"file": ("a.ipynb", NOTEBOOK)}
    )
    assert answer.status_code == 403 and nothing_stored(store)


@pytest.mark.parametrize(
    ("name", "content", "status", "phrase"),
    [
        ("lab3.ipynb", b"", 400, "is empty"),
        ("lab3.ipynb", b"print(1)", 415, "not a notebook"),
        ("lab3.docx", b"PK\x03\x04", 415, "not a notebook (.ipynb)"),
        (
            "lab3.zip",
            zip_of(("lab3/lab3.ipynb", NOTEBOOK), ("../evil.py", b"x")),
            400,
            "climbs out",
        ),
        (
            "lab3.zip",
            zip_of(("lab3/lab3.ipynb", NOTEBOOK), link=("lab3/l", "/etc")),
            400,
            "symbolic link",
        ),
        (
            "lab3.zip",
            zip_of(("lab3/lab3.ipynb", NOTEBOOK), ("lab3/z", b"\0" * (30 << 20))),
            413,
            "unpacks to more",
        ),
    ],
)
def test_malformed_uploads_are_refused_with_a_sentence_and_nothing_stored(
    klass: Class, name: str, content: bytes, status: int, phrase: str
) -> None:
    client, store = client_of(klass)
    answer = client.post(
        "/api/submissions", headers=klass.auth("alice"), files={"file": (name, content)}
    )
    assert answer.status_code == status
    assert phrase in answer.json()["detail"]
    assert nothing_stored(store)


def test_an_empty_body_is_refused_with_a_sentence_and_nothing_stored(klass: Class) -> None:
    client, store = client_of(klass)
    for body in ({}, {"headers": {"Content-Type": "multipart/form-data; boundary=b"}}):
        headers = {**klass.auth("alice"), **body.get("headers", {})}
        answer = client.post("/api/submissions", headers=headers, content=b"")
        assert answer.status_code == 422
        assert "holds no file" in answer.json()["detail"]  # a sentence, not a list of errors
        assert "multipart field 'file'" in answer.json()["detail"]
    assert nothing_stored(store)
    # the upload form posted without its file: the same sentence, on a page
    client.cookies.set("grader_session", klass.tokens["alice"])
    page = client.post(
        "/upload", data={"csrf": "x"}, headers={"Accept": "text/html"}, follow_redirects=False
    )
    assert page.status_code == 422 and "holds no file" in page.text and "<html" in page.text
    assert nothing_stored(store)


def test_a_100_mb_body_is_refused_before_it_is_read(klass: Class) -> None:
    client, store = client_of(klass)
    body = b"x" * (100 << 20)
    answer = client.post(
        "/api/submissions",
        headers={**klass.auth("alice"), "Content-Type": "multipart/form-data; boundary=b"},
        content=body,
    )
    assert (
        answer.status_code == 413 and "larger than this service accepts" in answer.json()["detail"]
    )

    def chunks():  # a well-formed upload of 100 MB without Content-Length: counted as it streams
        yield (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.ipynb"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n"
        )
        for _ in range(100):
            yield b"x" * (1 << 20)
        yield b"\r\n--b--\r\n"

    streamed = client.post(
        "/api/submissions",
        headers={**klass.auth("alice"), "Content-Type": "multipart/form-data; boundary=b"},
        content=chunks(),
    )
    assert streamed.status_code == 413
    assert nothing_stored(store)


def test_rate_limit_is_429_with_retry_after(klass: Class) -> None:
    client, _ = client_of(klass, per_hour=2)
    submit(client, klass, "alice")
    submit(client, klass, "alice")
    answer = client.post(
        "/api/submissions", headers=klass.auth("alice"), files={"file": ("a.ipynb", NOTEBOOK)}
    )
    assert answer.status_code == 429 and int(answer.headers["retry-after"]) > 0
    submit(client, klass, "bob")


def csrf_field(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-zA-Z_-]+)"', html)
    assert found is not None
    return found.group(1)


def test_forms_need_their_csrf_field(klass: Class) -> None:
    client, store = client_of(klass)
    sign_in = client.get("/")
    token = klass.tokens["alice"]
    assert client.post("/login", data={"token": token}, follow_redirects=False).status_code == 403
    assert (
        client.post("/login", data={"token": "nope", "csrf": csrf_field(sign_in.text)}).status_code
        == 401
    )
    signed = client.post(
        "/login", data={"token": token, "csrf": csrf_field(sign_in.text)}, follow_redirects=False
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/student"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = client.get("/student")
    assert page.status_code == 200 and "alice" in page.text
    files = {"file": ("lab3.ipynb", NOTEBOOK)}
    assert client.post("/upload", files=files, follow_redirects=False).status_code == 403
    forged = client.post("/upload", files=files, data={"csrf": "0" * 64}, follow_redirects=False)
    assert forged.status_code == 403 and nothing_stored(store)
    # another session's field is not this one's
    other = client_of(klass)[0]
    other.cookies.set("grader_session", klass.tokens["bob"])
    bobs = csrf_field(other.get("/student").text)
    assert (
        client.post("/upload", files=files, data={"csrf": bobs}, follow_redirects=False).status_code
        == 403
    )
    sent = client.post(
        "/upload", files=files, data={"csrf": csrf_field(page.text)}, follow_redirects=False
    )
    assert sent.status_code == 303 and sent.headers["location"].startswith("/jobs/")
    progress = client.get(sent.headers["location"])
    assert 'http-equiv="refresh"' in progress.text and "position 1" in progress.text
    assert "Refresh</a>" in progress.text  # without JavaScript too
    assert "fetch(url" in progress.text  # and with it, a small script asks the API


def test_a_student_sees_the_public_view_of_their_result_and_the_instructor_everything(
    klass: Class,
) -> None:
    client, store = client_of(klass)
    job = submit(client, klass, "alice", content=(DEMO / "bob.ipynb").read_bytes())["job"]
    rubric = load_rubric(RUBRIC)
    assert any(c.visibility == "hidden" for c in rubric.checks)
    result = grade_submission(DEMO / "bob.ipynb", rubric, None)
    claimed = store.claim_next()
    assert claimed is not None and claimed.id == job
    assert result.score is not None
    assert store.finish(job, "graded", result.to_json(indent=None), result.score.points, 1.0)
    mine = client.get(f"/api/jobs/{job}/report.json", headers=klass.auth("alice"))
    assert mine.json() == json.loads(result.public_view().to_json())
    everything = client.get(f"/api/jobs/{job}/report.json", headers=klass.auth("instructor"))
    assert everything.json() == json.loads(result.to_json())
    assert mine.json() != everything.json()  # something hidden was withheld
    html = client.get(f"/api/jobs/{job}/report.html", headers=klass.auth("alice")).text
    assert "points" in html
    gradebook = client.get("/api/gradebook.csv", headers=klass.auth("instructor")).text
    assert gradebook.splitlines()[1].startswith(f"alice,{result.score.points:g},")
    client.cookies.set("grader_session", klass.tokens["instructor"])
    page = client.get("/instructor").text
    assert "alice" in page and "Sandbox tier test" in page and "gradebook.csv" in page
    assert 'href="../jobs/' + job in client.get("/instructor/class").text
