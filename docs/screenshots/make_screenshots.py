"""Screenshots of real reports: a one-bug student report and a 300-student class page.

    python docs/screenshots/make_screenshots.py [--students 300] [--workers N]

Builds a class from the bundled samples: copies of ``submissions/correct/template_ok.ipynb``
and of the one-bug samples in ``submissions/buggy/`` graded by ``rubrics/mlp_backprop.toml``
(their ``expected.toml`` says which), named as N students, plus two notebooks that are
not valid JSON (ungradable). Grades it with ``grader grade`` and takes, with headless
chromium, the student report of a sign flip in the output delta and the class page at
desktop (1280 px) and phone (390 px) widths, and prints both to PDF. Everything lands
in this folder; PNGs are reduced to a palette to stay small.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RUBRIC = "rubrics/mlp_backprop.toml"
CORRECT = ROOT / "submissions" / "correct" / "template_ok.ipynb"
ONE_BUG = "template_sign_flip_output_delta"
WIDTHS = {"desktop": 1280, "phone": 390}
HEIGHT = {"report": 2600, "class": 3200}
FIRST = [
    "ada",
    "ben",
    "chloe",
    "dev",
    "emma",
    "femi",
    "gus",
    "hana",
    "ivan",
    "jia",
    "kofi",
    "lena",
    "mo",
    "nia",
    "omar",
    "priya",
    "quinn",
    "rosa",
    "sam",
    "tariq",
]
LAST = [
    "kim",
    "okafor",
    "silva",
    "novak",
    "haddad",
    "ito",
    "lopez",
    "meyer",
    "patel",
    "berg",
    "dubois",
    "kowalski",
    "nunez",
    "olsen",
    "reyes",
    "sato",
]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def one_bug_samples() -> list[Path]:
    """The buggy samples this rubric is meant for (submissions/buggy/expected.toml)."""
    expected = tomllib.loads((ROOT / "submissions/buggy/expected.toml").read_text("utf-8"))
    return sorted(
        ROOT / "submissions" / "buggy" / t["file"]
        for t in expected["buggy"].values()
        if t.get("rubric") == RUBRIC and t["file"].endswith(".ipynb")
    )


def build_class(folder: Path, students: int) -> str:
    """N students: about half correct, the rest one bug each, two ungradable. Returns the
    identity of the student with the sign flip."""
    folder.mkdir(parents=True)
    bugs = one_bug_samples()
    names = [f"{f}_{l}" for l in LAST for f in FIRST][:students]
    flip = ""
    for i, name in enumerate(names):
        if i in (17, 211 % max(students, 1)) and i:
            (folder / f"{name}.ipynb").write_text('{"cells": [', encoding="utf-8")
            continue
        sample = bugs[(i // 2) % len(bugs)] if i % 2 else CORRECT
        if sample.stem == ONE_BUG and not flip:
            flip = name
        shutil.copyfile(sample, folder / f"{name}.ipynb")
    return flip


def shoot(browser: str, page: Path, png: Path, width: int, height: int, profile: Path) -> None:
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={png}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    Image.open(png).convert("RGB").quantize(colors=64).save(png, optimize=True)


def pdf(browser: str, page: Path, out: Path, profile: Path) -> None:
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    browser = chromium()
    if browser is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        flip = build_class(work / "class", args.students)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grader",
                "grade",
                str(work / "class"),
                "--rubric",
                str(ROOT / RUBRIC),
                "--out",
                str(work / "out"),
                "--workers",
                str(args.workers),
                "--no-progress",
            ],
            check=True,
        )
        pages = {
            "report": work / "out" / "reports" / f"{flip}.html",
            "class": work / "out" / "summary.html",
        }
        for what, page in pages.items():
            for label, width in WIDTHS.items():
                png = HERE / f"{what}-{label}.png"
                shoot(browser, page, png, width, HEIGHT[what], work / f"profile-{what}-{label}")
                print(f"wrote {png.relative_to(ROOT)}")
            out = HERE / f"{what}-print.pdf"
            pdf(browser, page, out, work / f"profile-{what}-pdf")
            print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
