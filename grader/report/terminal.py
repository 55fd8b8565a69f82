"""A compact terminal view: per objective its level, what the evidence shows, the checks, next steps.

Symbols (✓ ✗ ◐ –) fall back to ASCII ([ok] [x] [~] [-]) when the terminal's
encoding cannot show them; colour (ANSI) only when asked. Student text has its
control characters replaced, so printed output cannot move the cursor or
recolour the terminal.
"""

from __future__ import annotations

import sys
import textwrap

from grader.report import view as views
from grader.results import GradeResult

WIDTH = 88
LEVEL_COLOUR = {"demonstrated": "32", "partly": "33", "not yet": "31", "not assessed": "90"}
STATUS_COLOUR = {"passed": "32", "failed": "31", "not_assessed": "90", "error": "35"}
SYMBOLS = "✓✗◐–—·"


def can_encode(encoding: str, text: str = SYMBOLS) -> bool:
    """True when ``encoding`` can show every character of ``text``."""
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


class _Style:
    def __init__(self, color: bool, unicode: bool) -> None:
        self.color, self.unicode = color, unicode

    def paint(self, text: str, code: str, bold: bool = False) -> str:
        if not self.color:
            return text
        return f"\x1b[{'1;' if bold else ''}{code}m{text}\x1b[0m"

    def level(self, level: str | None) -> str:
        if level is None:
            return "not part of the score"
        mark = views.LEVEL_MARK[level][0 if self.unicode else 1]
        return self.paint(f"{mark} {views.LEVEL_TEXT[level]}", LEVEL_COLOUR[level], bold=True)

    def status(self, status: str) -> str:
        mark = views.STATUS_MARK[status][0 if self.unicode else 1]
        return self.paint(mark, STATUS_COLOUR[status], bold=True)

    def dash(self) -> str:
        return "—" if self.unicode else "-"


def _wrap(text: str, indent: int, first: str = "") -> list[str]:
    pad = " " * indent
    return textwrap.wrap(
        views.clean(text).replace("\n", " "),
        WIDTH,
        initial_indent=pad + first,
        subsequent_indent=pad + ("  " if first else ""),
        break_long_words=False,  # never split a name such as NotImplementedError
        break_on_hyphens=False,
    ) or [pad + first]


def render_terminal(
    result: GradeResult,
    color: bool = False,
    encoding: str | None = None,
    audience: views.Audience = "student",
) -> str:
    """The result for a terminal; ``encoding`` defaults to standard output's."""
    enc = encoding or getattr(sys.stdout, "encoding", None) or "ascii"
    st = _Style(color, can_encode(enc))
    v = views.build(result, audience)
    dash = st.dash()
    lines = []
    if v.graded:
        summary = v.summary if st.unicode else v.summary.replace("—", "-")
        lines.append(st.paint(f"{views.clean(v.identity)} {dash} {summary}", "1"))
        if v.incomplete:
            lines += _wrap(v.incomplete, 0, "note: ")
        fx = v.fix_first
        if fx is not None:  # the one thing to do, before any list of objectives
            lines += ["", st.paint("FIX THIS FIRST", "31", bold=True)]
            lines += _wrap(f"{fx.title} ({fx.objective}): {fx.what}", 2)
            lines += _wrap(f"At stake: {fx.stake}.", 2)
            if fx.step:
                lines += _wrap(fx.step, 2, "next: ")
        elif v.nothing_assessed:  # 0 points that are no verdict: say so before the list
            lines += ["", st.paint("NOTHING ASSESSED", "33", bold=True)]
            lines += _wrap(v.no_fix, 2)
    else:
        lines.append(st.paint(f"{views.clean(v.identity)} {dash} could not be graded", "1"))
        lines += _wrap(v.reason, 2)
        lines.append("  What to do:")
        for i, step in enumerate(v.next_steps, 1):
            lines += _wrap(step, 4, f"{i}. ")
    for o in v.objectives:
        lines.append("")
        points = views.points(o.points, o.max_points)
        lines.append(f"{st.level(o.level)}  {views.clean(o.title)}  ({points})")
        lines += _wrap(o.shows, 4)
        for c in o.checks:
            r = c.result
            hidden = " [hidden]" if r.visibility == "hidden" else ""
            lines += _wrap(
                c.headline,
                4,
                f"{st.status(r.status)} {views.STATUS_TEXT[r.status]}: {views.clean(c.title)}{hidden} {dash} ",
            )
            for e in c.explain:
                if "\n" not in e:
                    lines += _wrap(e, 6)
        for step in o.next_steps:
            lines += _wrap(step, 4, "next: ")
    for n in v.notes:
        lines += ["", *_wrap(n, 0, "note: ")]
    out = "\n".join(lines) + "\n"
    # whatever the student printed must not raise on print(): unshowable characters become '?'
    return out if st.unicode else out.encode(enc, "replace").decode(enc)
