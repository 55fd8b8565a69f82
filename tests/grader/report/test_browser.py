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
