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

import importlib
from typing import TYPE_CHECKING, Any

from grader.results import GradeResult

if TYPE_CHECKING:
    from grader.report.html import render_class_summary, render_html
    from grader.report.markdown import render_markdown
    from grader.report.summary import ClassSummary, summarise
    from grader.report.terminal import render_terminal

# Imported on first use (PEP 562): grading needs grader.report.summary's counts, and
# jinja2 (the HTML renderer's) would otherwise cost every cold grade ~30 ms.
_LAZY = {
    "render_class_summary": "grader.report.html",
    "render_html": "grader.report.html",
    "render_markdown": "grader.report.markdown",
    "ClassSummary": "grader.report.summary",
    "summarise": "grader.report.summary",
    "render_terminal": "grader.report.terminal",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


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
