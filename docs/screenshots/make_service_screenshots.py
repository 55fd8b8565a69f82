"""Screenshots of the grading service's pages (grader serve), taken in a real browser.

    python docs/screenshots/make_service_screenshots.py

Starts ``grader serve`` on a loopback port with a store in a temporary folder and a small
class (tokens issued from a roster), lets a few students submit demo notebooks over the
API, then in headless Chromium (driven as tests/grader/serve/test_app_browser.py drives it)
a student signs in, uploads the one-bug sample
``submissions/buggy/template_sign_flip_output_delta.ipynb`` and waits for the report;
the instructor signs in and sees the new row. Writes, in this folder:

    service-report-desktop.png      the student's page with the report (1280 px)
    service-student-desktop.png     the student's submissions (1280 px), -phone (390 px)
    service-instructor-desktop.png  the instructor's page with the new row (1280 px)
    service-api-desktop.png         the top of the API's reference, /api (1280 px)

PNGs are reduced to a palette to stay small.
"""

from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from grader.serve.cli import main as serve_main  # noqa: E402
from tests.grader.serve.browser import Browser, Page, chromium  # noqa: E402
from tests.grader.serve.conftest import DEMO, Server, named_misconception, wait_done  # noqa: E402

SAMPLE = "template_sign_flip_output_delta"
STUDENT = "ada_kim"
# earlier submissions by others, so the instructor's page is not a single row
OTHERS = {"ben_okafor": "alice", "chloe_silva": "bob", "dev_novak": "carol", "emma_haddad": "dave"}


def shrink(png: Path) -> None:
    Image.open(png).convert("RGB").quantize(colors=64).save(png, optimize=True)
    print(f"wrote {png.relative_to(ROOT)}")


def sign_in(page: Page, url: str, token: str, then: str) -> None:
    page.goto(url + "/")
    page.type('input[name="token"]', token)
    page.click('form[action="/login"] button')
    page.wait(lambda html: then in html, "the page after signing in")


def main() -> None:
    import httpx

    if chromium() is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        roster = work / "roster.csv"
        roster.write_text("student\n" + "".join(f"{s}\n" for s in [STUDENT, *OTHERS]))
        tokens_csv = work / "tokens.csv"
        serve_main(["tokens", str(roster), "--data", str(work / "data"), "--out", str(tokens_csv)])
        with open(tokens_csv, newline="") as handle:
            tokens = {row["student"]: row["token"] for row in csv.DictReader(handle)}
        server = Server(work / "data")
        server.start("--workers", "2")
        try:
            for name, demo in OTHERS.items():
                auth = {"Authorization": f"Bearer {tokens[name]}"}
                answer = httpx.post(
                    server.url + "/api/submissions",
                    headers=auth,
                    files={"file": ("lab3.ipynb", (DEMO / f"{demo}.ipynb").read_bytes())},
                    timeout=30,
                )
                answer.raise_for_status()
                wait_done(server.url, auth, answer.json()["job"])
            with Browser(work / "profile") as browser:
                student = browser.page(1280, 1500)
                sign_in(student, server.url, tokens[STUDENT], 'action="/upload"')
                student.files(
                    'input[type="file"]', ROOT / "submissions" / "buggy" / f"{SAMPLE}.ipynb"
                )
                student.click('form[action="/upload"] button')
                title = named_misconception(SAMPLE)
                student.wait(lambda html: title in html, "the report", timeout=120)
                student.screenshot(HERE / "service-report-desktop.png", full=False)
                shrink(HERE / "service-report-desktop.png")
                student.click("#service-nav a")
                student.wait(lambda html: 'id="jobs"' in html, "the student's page")
                student.height = 700  # the page's own height, not the report's window
                student.call(
                    "Emulation.setDeviceMetricsOverride",
                    width=1280,
                    height=700,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                student.screenshot(HERE / "service-student-desktop.png")
                shrink(HERE / "service-student-desktop.png")

                phone = browser.page(390, 844)
                sign_in(phone, server.url, tokens[STUDENT], 'id="jobs"')
                phone.screenshot(HERE / "service-student-phone.png")
                shrink(HERE / "service-student-phone.png")

                teacher = browser.page(1280, 900)
                sign_in(teacher, server.url, tokens["instructor"], 'id="submissions"')
                teacher.screenshot(HERE / "service-instructor-desktop.png")
                shrink(HERE / "service-instructor-desktop.png")
                api = browser.page(1280, 900)  # the API's page: no sign-in, nothing fetched
                api.goto(server.url + "/api")
                api.wait(lambda html: "POST /api/submissions" in html, "the API's page")
                api.screenshot(HERE / "service-api-desktop.png", full=False)  # its top
                shrink(HERE / "service-api-desktop.png")
                errors = student.errors() + phone.errors() + teacher.errors() + api.errors()
                if errors:
                    raise SystemExit(f"the pages logged errors: {errors}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
