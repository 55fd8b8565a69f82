"""Reports: a grade result rendered as evidence and next steps (rendering computes nothing).

    render_html(result)            one self-contained page (inline CSS and SVG)
    render_markdown(result)        GitHub-flavoured, for CI summaries and LMS comments
    render_terminal(result, color) a compact view for the command line
    render_json(result)            the versioned JSON of grader.results
    render_class_summary(results, links)   the instructor's page for a whole class
    summarise(results)             the counts behind the class summary

Every renderer shows a student's view by default (``audience="student"``):
hidden checks without inputs or expected values.
"""

from __future__ import annotations

from grader.report.html import render_class_summary, render_html
from grader.report.markdown import render_markdown
from grader.report.summary import ClassSummary, summarise
from grader.report.terminal import render_terminal
from grader.results import GradeResult


def render_json(result: GradeResult) -> str:
    """The result's versioned JSON (``GradeResult.to_json``), everything included."""
    return result.to_json()


__all__ = [
    "ClassSummary",
    "render_class_summary",
    "render_html",
    "render_json",
    "render_markdown",
    "render_terminal",
    "summarise",
]
