"""The next step matches the cause, as a student or instructor meets it: ``grader grade-one``
run as a command on a notebook that ends its own process and on code whose import the
grading environment lacks (submissions/hostile/), then each report format of the result."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.checks import NEXT_STEPS
from grader.report import render_html, render_markdown, render_terminal
from grader.results import GradeResult

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "submissions" / "hostile"
RUBRIC = ROOT / "rubrics" / "mlp_backprop.toml"
SHAPES = "shape"  # the advice a wrong answer gets; neither of these causes is one


def grade_one(submission: Path, tmp_path: Path) -> tuple[GradeResult, str, str]:
    """The command's result, its Markdown report and what it printed."""
    out = tmp_path / submission.stem
    out.mkdir()
    argv = ["grade-one", str(submission), "--rubric", str(RUBRIC)]
    argv += ["--json", str(out / "r.json"), "--markdown", str(out / "r.md")]
    done = subprocess.run(
        [sys.executable, "-m", "grader", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    result = GradeResult.from_dict(json.loads((out / "r.json").read_text(encoding="utf-8")))
    return result, (out / "r.md").read_text(encoding="utf-8"), done.stdout


@pytest.mark.slow
def test_code_that_ends_its_process_is_told_so_not_about_shapes(tmp_path: Path) -> None:
    result, markdown, printed = grade_one(HOSTILE / "os_exit.ipynb", tmp_path)
    assert "0 / " in printed
    failed = [c for c in result.checks if c.status == "failed"]
    assert failed and {c.next_step for c in failed} == {NEXT_STEPS["exit"]}
    assert "Fix this first" in markdown and "os.\\_exit" in markdown
    assert SHAPES not in " ".join(c.next_step for c in failed)


@pytest.mark.slow
def test_a_package_the_environment_lacks_is_no_verdict_in_any_report(tmp_path: Path) -> None:
    """Every check not assessed with the environment's reason and the install command; no
    report says "nothing to fix" over 0 points, each says nothing could be assessed."""
    result, markdown, _ = grade_one(HOSTILE / "missing_package.py", tmp_path)
    assert {c.status for c in result.checks} == {"not_assessed"}
    assert all("pip install coursework_utils" in c.reason for c in result.checks)
    for text in (
        markdown,
        render_html(result),
        render_terminal(result, color=False),
        render_markdown(result, audience="instructor"),
    ):
        assert "Nothing to fix" not in text
        assert "No check could be assessed" in text and "coursework_utils" in text
