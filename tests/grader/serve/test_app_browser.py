"""A real browser against the real server: headless Chromium (over the DevTools protocol,
tests/grader/serve/browser.py) signs a student in with their token, uploads a notebook
with a known bug, waits on the progress page for the report and finds the misconception
it names; the instructor's page shows the new row. Once with JavaScript (the pages ask
the API and reload themselves) and once without (meta refresh, plain forms)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.grader.serve.browser import Browser, Page, chromium
from tests.grader.serve.conftest import (
    ROOT,
    Class,
    Server,
    named_misconception,
    need_web_stack,
    slow_notebook,
)

need_web_stack()
import httpx  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        chromium() is None, reason="chromium is not installed (apt-get install chromium)"
    ),
]

BUGGY = ROOT / "submissions" / "buggy"
SAMPLE = "template_sign_flip_output_delta"


def sign_in(page: Page, url: str, token: str, then: str) -> str:
    page.goto(url + "/")
    page.type('input[name="token"]', token)
    page.click('form[action="/login"] button')
    return page.wait(lambda html: then in html, f"the page after signing in ({then})")


def upload_and_wait_for_report(page: Page, notebook: Path, title: str) -> tuple[str, list[str]]:
    """Upload on the student page, then only watch: the progress page must turn into the
    report by itself. The page's states seen on the way, and the report's HTML."""
    page.files('input[type="file"]', notebook)
    page.click('form[action="/upload"] button')
    progress = page.wait(lambda html: 'id="state"' in html, "the progress page")
    seen = [progress]
    report = page.wait(
        lambda html: seen.append(html) is None and title in html, "the report", timeout=120
    )
    return report, seen


def instructor_row(html: str, job: str) -> str | None:
    rows = re.findall(r"<tr>.*?</tr>", html, re.S)
    return next((r for r in rows if f"/jobs/{job}" in r or f"/api/jobs/{job}/" in r), None)


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_student_uploads_and_reads_the_named_misconception(
    klass: Class, server: Server, tmp_path: Path, javascript: bool
) -> None:
    server.start("--workers", "1")
    title = named_misconception(SAMPLE)
    # the buggy sample, slowed by 2 s so that the progress page is there to watch
    notebook = tmp_path / "lab3.ipynb"
    notebook.write_bytes(slow_notebook(2.0, BUGGY / f"{SAMPLE}.ipynb"))
    with Browser(tmp_path / "profile") as browser:
        teacher = browser.page(javascript=javascript)
        before = sign_in(teacher, server.url, klass.tokens["instructor"], 'id="sandbox"')
        assert "No submissions yet." in before

        student = browser.page(javascript=javascript)
        sign_in(student, server.url, klass.tokens["alice"], 'action="/upload"')
        report, seen = upload_and_wait_for_report(student, notebook, title)
        job = student.url().rsplit("/", 1)[1]
        assert student.url() == f"{server.url}/jobs/{job}"
        # the progress page came first, and with JavaScript its script had taken over
        # from the meta refresh (it removes it); without, the meta refresh did the work
        meta = '<meta http-equiv="refresh"'
        progress = [html for html in seen if 'id="state"' in html]
        assert progress
        assert all((meta in html) != javascript for html in progress)
        assert "Feedback on your submission" in report and "alice" in report

        status = httpx.get(
            f"{server.url}/api/jobs/{job}", headers=klass.auth("instructor"), timeout=10
        ).json()
        points = f"{status['points']:g} / {status['max_points']:g}"
        if javascript:
            # the instructor's page, left open, shows the new row by itself
            html = teacher.wait(
                lambda html: (row := instructor_row(html, job)) is not None and points in row,
                "the new row on the instructor's page",
            )
        else:
            # without JavaScript it refreshes slowly when nothing is pending: reload by hand
            teacher.click('a[href="/instructor"]')
            html = teacher.wait(lambda html: instructor_row(html, job) is not None, "the row")
        row = instructor_row(html, job)
        assert row is not None
        assert "alice" in row and "lab3.ipynb" in row and "done" in row and points in row
        if javascript:
            assert student.errors() == [] and teacher.errors() == []


def test_sign_out_then_the_pages_ask_for_a_token_again(
    klass: Class, server: Server, tmp_path: Path
) -> None:
    """Without JavaScript: the sign-out form (with its CSRF field) ends the session."""
    server.start("--workers", "1")
    with Browser(tmp_path / "profile") as browser:
        page = browser.page(javascript=False)
        sign_in(page, server.url, klass.tokens["bob"], 'action="/upload"')
        page.click('form[action="/logout"] button')
        page.wait(lambda html: 'action="/login"' in html, "the sign-in page")
        page.goto(server.url + "/student")
        assert 'action="/login"' in page.html() and page.url() == server.url + "/"
