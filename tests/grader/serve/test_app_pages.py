"""The pages while a job is pending (no runner: jobs only queue): both render, show the
job's place in the queue, and refresh themselves without JavaScript (meta refresh) while
carrying the script that takes over with it. (A job's points exist only once it is done;
the pages once failed on that.)"""

from __future__ import annotations

import re

from tests.grader.serve.conftest import Class, need_web_stack
from tests.grader.serve.test_app_api import client_of, submit

need_web_stack()


def test_student_and_instructor_pages_render_a_queued_job(klass: Class) -> None:
    client, _ = client_of(klass)
    job = submit(client, klass, "alice")["job"]
    submit(client, klass, "bob")
    client.cookies.set("grader_session", klass.tokens["alice"])
    student = client.get("/student")
    assert student.status_code == 200
    row = re.search(r'<tr><td class="when">.*?</tr>', student.text, re.S)
    assert row and "queued (position 1)" in row.group(0) and f"/jobs/{job}" in row.group(0)
    assert '<meta http-equiv="refresh"' in student.text and "/api/jobs" in student.text
    progress = client.get(f"/jobs/{job}")
    assert progress.status_code == 200 and "position 1 in the queue" in progress.text
    assert '<meta http-equiv="refresh"' in progress.text

    client.cookies.set("grader_session", klass.tokens["instructor"])
    teacher = client.get("/instructor")
    assert teacher.status_code == 200
    assert "2 queued, 0 running, 0 done" in teacher.text
    assert teacher.text.count("queued (") == 2 and "/api/class" in teacher.text
