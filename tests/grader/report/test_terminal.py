"""Terminal: the same verdicts as Markdown; ASCII when the terminal needs it; colour only on request."""

from __future__ import annotations

import re
from dataclasses import replace

from grader.report import render_markdown, render_terminal
from grader.results import GradeResult

from .conftest import make_result


def test_plain_by_default_colour_when_asked(result: GradeResult):
    """No ANSI escape without color=True; some with it."""
    assert "\x1b[" not in render_terminal(result, color=False, encoding="utf-8")
    assert "\x1b[" in render_terminal(result, color=True, encoding="utf-8")


def test_ascii_fallback_when_symbols_cannot_be_encoded(result: GradeResult):
    """With an ASCII terminal the marks become [ok]/[x]/[-] and the text encodes."""
    out = render_terminal(result, color=False, encoding="ascii")
    out.encode("ascii")
    assert "[ok] Demonstrated" in out and "[x] did not pass" in out and "[-] Not assessed" in out


def test_unicode_marks_when_possible(result: GradeResult):
    """A UTF-8 terminal gets ✓ and ✗."""
    out = render_terminal(result, color=False, encoding="utf-8")
    assert "✓ Demonstrated" in out and "✗ did not pass" in out


def test_student_escape_sequences_cannot_reach_the_terminal():
    """A check title or note with ESC cannot recolour or move the cursor."""
    r = replace(make_result(), notes=("\x1b[2J\x1b[31mgotcha",))
    assert "\x1b" not in render_terminal(r, color=False, encoding="utf-8")


def test_markdown_and_terminal_give_the_same_verdicts(result: GradeResult):
    """Every objective's level and every check's status agree between the two formats."""
    md = render_markdown(result)
    term = render_terminal(result, color=False, encoding="utf-8")
    md_levels = dict(
        (title, level) for level, title in re.findall(r"^### \S+ (.+?) — (.+)$", md, re.M)
    )
    term_levels = dict(
        (title, level)
        for level, title in re.findall(
            r"^\S+ ((?:Not yet |Partly |Not )?\w+)  (.+?)  \(", term, re.M
        )
    )
    assert md_levels == term_levels and len(md_levels) == 5
    md_checks = dict(
        (t.replace("\\_", "_"), s)
        for s, t in re.findall(r"^- \*\*\S+ (.+?)\*\* — (.+?)(?: \(hidden check\))?, \d", md, re.M)
    )
    term_checks = dict(
        (t, s) for s, t in re.findall(r"^    \S+ ([a-z ]+): (.+?)(?: \[hidden\])? — ", term, re.M)
    )
    assert md_checks == term_checks and len(md_checks) == 6


def test_ungradable_terminal_view(ungradable: GradeResult):
    """An ungradable result says so, with its reason and steps."""
    out = render_terminal(ungradable, color=False, encoding="utf-8")
    assert "could not be graded" in out and "not valid JSON" in out and "1. Read the reason" in out
