"""Markdown: student text cannot become markup or links; long output fits GitHub's summary limit."""

from __future__ import annotations

import re
from dataclasses import replace

from grader.report import render_markdown
from grader.report.markdown import code_block, md, md_cell
from grader.results import GradeResult

from .conftest import SECRET_EXPECTED, SECRET_INPUT, make_result


def outside_code(text: str) -> str:
    """The document without its fenced blocks (where everything is literal)."""
    return re.sub(r"^(`{3,})[^\n]*\n.*?^\1$", "", text, flags=re.S | re.M)


def test_inline_text_has_no_html_or_link_syntax():
    """md() turns tags into entities and escapes the brackets of links and images."""
    out = md("<script>x</script> [x](javascript:alert(1)) ![i](p.png) **b** `c` | d")
    assert re.search(r"<[A-Za-z/!?]", out) is None  # no tag can open
    assert "](" not in out.replace("\\](", "")  # every ] before ( is escaped
    assert "\\*\\*b\\*\\*" in out and "\\`c\\`" in out
    assert "\\|" in md_cell("a | b")  # a pipe ends a table cell only inside a table


def test_grader_text_reads_as_plain_text():
    """Formulas and names read as written: no escaped pipes, entities or underscores inside words."""
    out = md("|got - expected| <= 1e-09 & slope_gradient, x > 0")
    assert out == "|got - expected| <= 1e-09 & slope_gradient, x > 0"
    assert md("_emph_ and 1. list") == "\\_emph\\_ and 1. list"
    assert md("# heading").startswith("\\#") and md("1. item").startswith("1\\.")


def test_code_fence_outlasts_backticks_inside():
    """A block holding ``` is fenced with more backticks, so it cannot be closed early."""
    block = code_block("a\n```\nb")
    assert block.startswith("````text\n") and block.endswith("\n````")


def test_hostile_report_has_no_raw_html_or_links(hostile: GradeResult):
    """Outside code blocks, no <tag> and no [text](url) survive from the student."""
    text = outside_code(render_markdown(hostile))
    assert re.search(r"<[a-zA-Z/]", text) is None
    assert re.search(r"(?<!\\)\]\(", text) is None
    assert "&lt;script>" in text


def test_traceback_is_a_fenced_block(hostile: GradeResult):
    """A multi-line traceback is shown verbatim inside a fence."""
    assert "```text\ntraceback (last lines):" in render_markdown(hostile)


def test_summary_and_levels_appear(result: GradeResult):
    """The score summary and every objective's level heading are in the Markdown."""
    out = render_markdown(result)
    assert "3 of 10.5 points — 1 of 5 objectives demonstrated" in out
    assert "### ◐ Partly demonstrated — Back-propagate through a two-layer perceptron" in out


def test_hidden_check_details_are_absent(result: GradeResult):
    """A student's Markdown has no hidden inputs or expected values."""
    out = render_markdown(result)
    assert SECRET_INPUT not in out and SECRET_EXPECTED not in out


def test_long_output_is_cut_to_the_limit_with_a_note():
    """A huge printed output keeps the document under the byte limit and says it was shortened."""
    huge = replace(make_result(), stdout="é" * 200_000, notes=tuple("n" * 3000 for _ in range(40)))
    out = render_markdown(huge, limit=20_000)
    assert len(out.encode()) <= 20_000
    assert "shortened to fit" in out
    assert "3 of 10.5 points" in out  # the summary comes first and is kept


def test_ungradable_markdown_says_why(ungradable: GradeResult):
    """An ungradable result's Markdown gives the reason and what to do."""
    out = render_markdown(ungradable)
    assert "could not be graded" in out and "not valid JSON" in out and "What to do" in out
