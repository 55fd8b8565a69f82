"""The student's report on real one-bug samples: what to fix first leads, numbers are said
in words with the raw measures folded, conventions are named with the course material,
no internal ids reach a student, and the Markdown reads as plain text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.grade import grade_submission
from grader.report import render_html, render_markdown, render_terminal
from grader.report.view import build
from grader.results import GradeResult
from grader.rubric_file import load_rubric

ROOT = Path(__file__).resolve().parents[3]
RUBRIC = ROOT / "rubrics" / "mlp_backprop.toml"
BUGGY = ROOT / "submissions" / "buggy"

# what the grader says inside itself, never to a student
JARGON = (
    "values stage",
    "definitions mode",
    "slope_gradient",
    "Also consistent with",
    "sandbox tier",
)


@pytest.fixture(scope="module")
def graded() -> dict[str, GradeResult]:
    rubric = load_rubric(RUBRIC)
    names = ("sign_flip_output_delta", "momentum_heavy_ball_for_course", "penalty_doubled")
    return {n: grade_submission(BUGGY / f"template_{n}.ipynb", rubric) for n in names}


def visible_text(html: str) -> str:
    """The page's words outside folded <details class="numbers"> sections and markup."""
    html = re.sub(r'<details class="numbers">.*?</details>', "", html, flags=re.S)
    html = re.sub(r"<(style|script|svg)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_fix_first_leads_with_the_root_cause_its_points_and_one_step(graded):
    """The sign flip: the box comes before any objective, names the check, says in words
    that the gradient points the opposite way, and counts the points that wait for it."""
    r = graded["sign_flip_output_delta"]
    v = build(r)
    assert v.fix_first is not None
    assert v.fix_first.title == "Output layer's gradient (no penalty)"
    assert "exactly the opposite way" in v.fix_first.what and "sign" in v.fix_first.what
    root = next(c for c in r.checks if c.title == v.fix_first.title)
    behind = {root.check_id}  # every check waiting for it, directly or through another
    for _ in r.checks:
        behind |= {c.check_id for c in r.checks if behind & set(c.blocked_by)}
    waiting = sum(
        c.max_points - c.points
        for c in r.checks
        if c.check_id in behind - {root.check_id} and c.status == "not_assessed"
    )
    assert v.fix_first.stake.startswith(f"{root.max_points - root.points:g} point")
    assert (f"{waiting:g} more" in v.fix_first.stake) == (waiting > 0)
    html = render_html(r)
    assert html.index('id="fix-first"') < html.index('class="card objective')
    term = render_terminal(r, encoding="utf-8")
    assert term.index("FIX THIS FIRST") < term.index("Forward propagation")
    md = render_markdown(r)
    assert md.index("Fix this first") < md.index("| Objective |")


def test_each_next_step_is_said_once(graded):
    """The fix-first step is not repeated under its objective, and no step appears twice."""
    html = render_html(graded["sign_flip_output_delta"])
    v = build(graded["sign_flip_output_delta"])
    assert v.fix_first is not None and v.fix_first.step
    assert html.count(v.fix_first.step.replace("'", "&#39;")) == 1


def test_raw_measures_are_folded_and_no_jargon_reaches_the_student(graded):
    """Tolerance formulas, cosines and internal ids are only inside the folded numbers."""
    for r in graded.values():
        html = render_html(r)
        text = visible_text(html)
        for word in JARGON:
            assert word not in text, word
        assert "cosine" not in text and "&lt;=" not in text
    assert "cosine" in render_html(graded["sign_flip_output_delta"])  # still there, folded


def test_a_convention_leads_with_its_name_and_the_course_material(graded):
    """Heavy-ball momentum is the lecture slide's form; a 2·C·W penalty is the 07a notebook's."""
    ball = build(graded["momentum_heavy_ball_for_course"]).fix_first
    assert ball is not None and ball.what.startswith("You used heavy-ball momentum")
    assert "lecture slide" in ball.what and "known mistake" not in ball.what.lower()
    penalty = build(graded["penalty_doubled"]).fix_first
    assert penalty is not None and "07a notebook" in penalty.what


def test_a_failed_gradient_check_shows_its_dw_scatter_and_passing_checks_no_chart(graded):
    """Charts only where they help: the failing gradient check's scatter; none for passes."""
    v = build(graded["sign_flip_output_delta"])
    shown = [
        (fv.figure.kind, fv.figure.check_id, fv.note) for o in v.objectives for fv in o.figures
    ]
    statuses = {c.check_id: c.status for c in graded["sign_flip_output_delta"].checks}
    evidence = [(k, cid) for k, cid, note in shown if not note]
    assert ("scatter", "grad_output") in evidence
    assert all(statuses[cid] == "failed" for _, cid in evidence)
    scatter = next(f for f in graded["sign_flip_output_delta"].figures if f.kind == "scatter")
    (you,), (right,) = scatter.of_role("student"), scatter.of_role("reference")
    assert all(
        abs(y + x) <= 1e-9 * (1 + abs(x)) for x, y in zip(right.values, you.values, strict=True)
    )


def test_markdown_reads_as_plain_text(graded):
    """No escaped pipes, entities or escaped underscores inside names."""
    for r in graded.values():
        md = render_markdown(r)
        assert "\\|" not in md and "&lt;" not in md and "&amp;" not in md
        assert "sign\\_flip" not in md
