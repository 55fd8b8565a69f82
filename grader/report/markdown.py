"""The result as GitHub-flavoured Markdown, for CI job summaries and LMS comments.

Student text never becomes markup: inline text has its HTML characters turned
into entities and Markdown's punctuation backslash-escaped; multi-line text
goes into a fenced block whose fence is longer than any backtick run inside.
The document is built block by block and stops before ``limit`` bytes (GitHub
refuses large job summaries), saying what was left out.
"""

from __future__ import annotations

import re

from grader.figures import Figure
from grader.report import view as views
from grader.report.svg import left_out
from grader.results import GradeResult

LIMIT = 60_000  # bytes: under GitHub's 64 KiB comfort zone for a job summary
OUTPUT_LIMIT = 4_000  # characters of stdout / stderr

# Student and grader text is shown literally, yet reads as plain text when pasted into an
# LMS comment box: only what could start markup is escaped. Emphasis, code, links and
# images by their punctuation; an underscore only at a word's edge (snake_case stays
# as it is: GitHub makes no emphasis inside a word); "<" only where a tag could begin,
# "&" only where an entity could; a block marker only at the start.
_PUNCT = re.compile(r"([\\`*\[\]!~])")
_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_TAG = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY = re.compile(r"&(?=#?\w+;)")
_BLOCK = re.compile(r"^(\s*)([#>+=-]|\d+(?=[.)](?:\s|$)))")


def md(text: str) -> str:
    """Inline student or grader text, shown literally: no HTML, links, images or emphasis."""
    text = views.clean(text).replace("\n", " ").replace("\t", " ")
    text = _ENTITY.sub("&amp;", text)
    text = _TAG.sub("&lt;", text)
    text = _PUNCT.sub(r"\\\1", text)
    text = _UNDERSCORE.sub(r"\\_", text)
    return _BLOCK.sub(lambda m: m[1] + (m[2] + "\\" if m[2][0].isdigit() else "\\" + m[2]), text)


def md_cell(text: str) -> str:
    """Inline text inside a table cell, where a pipe would end the cell."""
    return md(text).replace("|", "\\|")


def code_block(text: str, info: str = "text") -> str:
    """A fenced block that no backtick run inside ``text`` can close."""
    text = views.clean(text)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... ({len(text) - limit} more characters not shown)"


def level_label(level: str | None) -> str:
    if level is None:
        return "· not part of the score"
    return f"{views.LEVEL_MARK[level][0]} {views.LEVEL_TEXT[level]}"


def status_label(status: str) -> str:
    return f"{views.STATUS_MARK[status][0]} {views.STATUS_TEXT[status]}"


def _check(c: views.CheckView) -> list[str]:
    r = c.result
    hidden = " (hidden check)" if r.visibility == "hidden" else ""
    lines = [
        f"- **{status_label(r.status)}** — {md(c.title)}{hidden}, "
        f"{views.points(r.points, r.max_points)}: {md(c.headline)}"
    ]
    lines += [f"  - {md(e)}" for e in c.explain if "\n" not in e]
    if c.where:
        lines.append(f"  - Where: {md(c.where)}")
    if c.topic:
        lines.append(f"  - Lecture topic: {md(c.topic)}")
    block = "\n".join(lines)
    return [block, *(code_block(e) for e in c.explain if "\n" in e)]


def _fix_first(f: views.FixFirst) -> str:
    lines = [
        "### ➊ Fix this first",
        "",
        f"**{md(f.title)}** ({md(f.objective)}): {md(f.what)}",
        "",
        f"At stake: {md(f.stake)}.",
    ]
    if f.step:
        lines += ["", f"**Next step:** {md(f.step)}"]
    return "\n".join(lines)


def _blocks(v: views.ReportView) -> list[str]:
    out = [f"## Feedback: {md(v.identity)}"]
    if not v.graded:
        out.append("**This submission could not be graded.**")
        out.append(code_block(v.reason) if "\n" in v.reason else f"> {md(v.reason)}")
        out.append(
            "**What to do**\n\n" + "\n".join(f"{i}. {md(s)}" for i, s in enumerate(v.next_steps, 1))
        )
    else:
        out.append(f"**{md(v.summary)}**")
        if v.incomplete:
            out.append(f"> **Note:** {md(v.incomplete)}")
        if v.fix_first is not None:
            out.append(_fix_first(v.fix_first))
        elif v.objectives:
            out.append(f"> **{md(v.no_fix)}**" if v.nothing_assessed else f"✓ {md(v.no_fix)}")
        rows = ["| Objective | Level | Points |", "|---|---|---|"]
        rows += [
            f"| {md_cell(o.title)} | {level_label(o.level)} | "
            f"{views.points(o.points, o.max_points)}"
            + (f", waits for {md_cell(', '.join(o.waits_for))}" if o.waits_for else "")
            + " |"
            for o in v.objectives
        ]
        out.append("\n".join(rows))
    for o in v.objectives:
        out.append(f"### {level_label(o.level)} — {md(o.title)}")
        out.append(f"*What the evidence shows:* {md(o.shows)}")
        if o.next_steps:
            out.append(
                "**Next steps**\n\n"
                + "\n".join(f"{i}. {md(s)}" for i, s in enumerate(o.next_steps, 1))
            )
        for c in o.checks:
            out += _check(c)
        for fv in o.figures:
            out.append(_figure(fv.figure, fv.note))
    for f in v.figures:
        out.append(_figure(f))
    if v.notes:
        out.append("### Notes\n\n" + "\n".join(f"- {md(n)}" for n in v.notes))
    for label, text in (("Standard output", v.stdout), ("Standard error", v.stderr)):
        if text:
            out.append(f"**{label}**\n\n" + code_block(shorten(text, OUTPUT_LIMIT)))
    return out


def _figure(f: Figure, note: str = "") -> str:
    missing = left_out(f)
    extra = f" ({missing} values could not be drawn)" if missing else ""
    lead = f"{md(note)} " if note else ""
    return f"*Picture in the HTML report: {md(f.title)}.* {lead}{md(f.caption)}{extra}"


def _footer(v: views.ReportView) -> str:
    bound = f"{md(v.binding)}\n\n" if v.binding else ""
    return (
        bound
        + "---\n"
        + " · ".join(
            f"{md(views.PROVENANCE_LABEL.get(k, k.replace('_', ' ')))} {md(val)}"
            for k, val in v.provenance
        )
    )


def render_markdown(
    result: GradeResult, audience: views.Audience = "student", limit: int = LIMIT
) -> str:
    """The result as Markdown of at most ``limit`` bytes (UTF-8); a student's view by default."""
    v = views.build(result, audience)
    footer = _footer(v)
    budget = limit - len(footer.encode()) - 200  # room for the note on what was left out
    kept: list[str] = []
    used = 0
    blocks = _blocks(v)
    for i, block in enumerate(blocks):
        size = len(block.encode()) + 2
        if used + size > budget:
            kept.append(
                f"*This summary was shortened to fit: {len(blocks) - i} more parts are in the HTML report.*"
            )
            break
        kept.append(block)
        used += size
    return "\n\n".join([*kept, footer]) + "\n"
