"""A real browser opens the report at phone and desktop width without console errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from grader.report import render_class_summary, render_html

from .conftest import make_result, make_ungradable

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
    ),
]


def screenshot(html: str, tmp: Path, width: int) -> tuple[bytes, str]:
    page = tmp / f"page-{width}.html"
    page.write_text(html, encoding="utf-8")
    png = tmp / f"shot-{width}.png"
    run = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp / f'profile-{width}'}",
            "--enable-logging=stderr",
            "--v=0",
            "--hide-scrollbars",
            f"--screenshot={png}",
            f"--window-size={width},2000",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return (png.read_bytes() if png.exists() else b""), run.stderr


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("which", ["hostile", "ungradable", "class"])
def test_page_renders_without_console_errors(tmp_path: Path, width: int, which: str):
    """Chromium draws a non-empty PNG and logs no console message or uncaught exception."""
    html = {
        "hostile": lambda: render_html(make_result("mallory", hostile=True)),
        "ungradable": lambda: render_html(make_ungradable()),
        "class": lambda: render_class_summary(
            [make_result("a"), make_ungradable("b")], {"a": "a.html"}
        ),
    }[which]()
    png, log = screenshot(html, tmp_path, width)
    assert png.startswith(b"\x89PNG") and len(png) > 5_000
    # Chromium logs every console message (errors, failed loads) as "...:CONSOLE..."; the
    # page has no script, so any console line at all is a fault
    assert "Uncaught" not in log and ":CONSOLE" not in log


# ---------------------------------------------------------------------------
# The class page's roster in a real browser: sorted and searched by the page's own
# script; with JavaScript off, the same table lists every student.

PROBE = """
<script>
(function () {
  var out = {};
  var table = document.getElementById("roster");
  function visible() {
    return Array.prototype.filter.call(table.tBodies[0].rows, function (r) { return !r.hidden; })
      .map(function (r) { return r.cells[0].textContent.trim(); });
  }
  out.tools_shown = !document.getElementById("roster-tools").hidden;
  out.initial = visible();
  var score = table.tHead.rows[0].cells[1].querySelector("button");
  score.click();
  out.ascending = visible();
  score.click();
  out.descending = visible();
  var q = document.getElementById("roster-q");
  q.value = "zed";
  q.dispatchEvent(new Event("input"));
  out.search = visible();
  out.count = document.getElementById("roster-count").textContent;
  var pre = document.createElement("pre");
  pre.id = "probe-result";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def dump_dom(page: Path, tmp: Path) -> str:
    args = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={tmp / 'profile-js'}",
        "--dump-dom",
        page.as_uri(),
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=True).stdout


def class_page() -> tuple[str, list[str]]:
    """Five students with distinct scores, one ungradable; returns the page and the names."""
    names = ["amy", "bob", "zed_a", "cat", "zed_b"]
    results = []
    for i, name in enumerate(names):
        r = make_result(name)
        assert r.score is not None
        from dataclasses import replace as _replace

        results.append(_replace(r, score=_replace(r.score, points=float(i))))
    return render_class_summary([*results, make_ungradable("ugo")]), [*names, "ugo"]


def test_roster_sorts_and_filters_with_javascript(tmp_path: Path):
    """The page's own script sorts the roster by score both ways and filters it by search."""
    import json
    import re

    html, names = class_page()
    page = tmp_path / "class.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = dump_dom(page, tmp_path)
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', dom, re.S)
    assert found, "the probe script did not run"
    out = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert out["tools_shown"] is True
    assert out["initial"] == names  # class order until a header is clicked
    # scores 0..4 in class order, the ungradable one sorts below every score
    assert out["ascending"] == ["ugo", "amy", "bob", "zed_a", "cat", "zed_b"]
    assert out["descending"] == list(reversed(out["ascending"]))
    assert sorted(out["search"]) == ["zed_a", "zed_b"]
    assert out["count"] == "2 of 6 students"


def test_roster_is_a_plain_table_without_javascript(tmp_path: Path):
    """With scripts disabled chromium still draws the page, and the HTML it gets lists every
    student as a roster row, with the search box hidden (only the script shows it).

    (--dump-dom evaluates script, so without script the rows are read from the HTML itself.)
    """
    import re

    html, names = class_page()
    roster = re.search(r'<table class="roster" id="roster">.*?</table>', html, re.S)
    assert roster is not None
    rows = re.findall(r"<tr><td>(?:<a [^>]*>)?([^<]+)", roster.group(0))
    assert rows == names
    assert '<div id="roster-tools" hidden>' in html
    page = tmp_path / "class.html"
    page.write_text(html, encoding="utf-8")
    png = tmp_path / "nojs.png"
    run = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile-nojs'}",
            "--disable-javascript",
            "--window-size=390,2000",
            f"--screenshot={png}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert png.exists() and png.read_bytes().startswith(b"\x89PNG"), run.stderr[-2000:]


def test_a_one_bug_report_prints_on_at_most_three_pages(tmp_path: Path):
    """The sign flip's report, printed to PDF by chromium, takes at most three pages."""
    import re

    from grader.grade import grade_submission
    from grader.rubric_file import load_rubric

    root = Path(__file__).resolve().parents[3]
    result = grade_submission(
        root / "submissions" / "buggy" / "template_sign_flip_output_delta.ipynb",
        load_rubric(root / "rubrics" / "mlp_backprop.toml"),
    )
    page = tmp_path / "report.html"
    page.write_text(render_html(result), encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile-pdf'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
    )
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))
    assert 1 <= pages <= 3
