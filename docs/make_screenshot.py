"""Regenerate docs/report-screenshot.png from a real report.

    python docs/make_screenshot.py            # needs chromium (apt-get install chromium)

Takes the template's correct sample (submissions/src/template_ok.py), removes the
hidden layer's sigmoid derivative (a common bug, docs/conventions.md §5), builds it into a
notebook, grades it with ``grader grade`` as a one-student class, and screenshots
that student's HTML report with headless chromium: the summary and the
back-propagation section, cropped to the page's column.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "report-screenshot.png"
CORRECT = 'V = A[l - 1] * (1 - A[l - 1]) * (params[f"W{l}"].T @ V)'
BUGGY = 'V = params[f"W{l}"].T @ V  # the hidden layer forgets A (1 - A)'
WINDOW = (1200, 2100)  # the summary and the whole back-propagation section
COLUMN = (190, 1010)  # the report's column at this width (its max-width is about 50rem)


def buggy_notebook(dest: Path) -> None:
    """template_ok with the hidden layer's derivative removed, as a notebook at ``dest``."""
    source = (ROOT / "submissions" / "src" / "template_ok.py").read_text(encoding="utf-8")
    if CORRECT not in source:
        raise SystemExit(f"template_ok.py no longer contains {CORRECT!r}: update this script")
    py = dest.with_suffix(".py")
    py.write_text(source.replace(CORRECT, BUGGY), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("_build", ROOT / "submissions" / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    build.build_notebook(py, dest)
    py.unlink()


def main() -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "class").mkdir()
        buggy_notebook(work / "class" / "student_042.ipynb")
        grade = [sys.executable, "-m", "grader", "grade", str(work / "class")]
        rubric = ["--rubric", str(ROOT / "rubrics" / "mlp_backprop.toml")]
        subprocess.run([*grade, *rubric, "--out", str(work / "out"), "--no-progress"], check=True)
        page = work / "out" / "reports" / "student_042.html"
        shot = work / "shot.png"
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={work / 'profile'}",
                f"--screenshot={shot}",
                f"--window-size={WINDOW[0]},{WINDOW[1]}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        with Image.open(shot) as image:
            image.crop((COLUMN[0], 0, COLUMN[1], WINDOW[1])).save(OUT, optimize=True)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
