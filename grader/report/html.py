"""One self-contained HTML page per result, and the class summary (jinja2, autoescape on).

Self-contained: the CSS and every picture are inline; no script, no font, no
image is fetched. Everything a student wrote (printed output, exception
messages, names) reaches the page only through autoescaping, after control
characters are replaced (:func:`grader.report.view.clean`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from urllib.parse import quote, urlsplit

import jinja2
from markupsafe import Markup

from grader.report import view as views
from grader.report.summary import ClassSummary, summarise
from grader.report.svg import left_out, render_svg
from grader.results import LEVELS, GradeResult
from grader.sandbox.tiers import TIER_INFO

TEMPLATES = Path(__file__).parent / "templates"
OUTPUT_LIMIT = 20_000  # characters of stdout / stderr shown on the page
LOOK_LIMIT = 25  # students listed under "needs a look"; the roster flags every one


def _finalize(value: object) -> object:
    """Every printed value: our Markup as is, any other text without control characters."""
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        return views.clean(value)
    return value


def css_class(text: str) -> str:
    """A level, status or id as a class name: "not yet" -> "not-yet"."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-") or "x"


def num(x: float | None) -> str:
    """A measure for reading: 3 significant digits (3.2e-12, 0.71, 1.23e+05)."""
    if x is None:
        return "—"
    return f"{x:.3g}" if math.isfinite(x) else str(x)


def shorten(text: str, limit: int) -> str:
    """The first ``limit`` characters and a note saying how many were left out."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... ({len(text) - limit} more characters not shown)"


def safe_link(path: str) -> str | None:
    """A relative link to a student's page, or None for anything with a scheme or host."""
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or path.startswith(("/", "\\")) or not path.strip():
        return None
    return quote(path, safe="/#.-_~")


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(css=css_class, num=num, shorten=shorten)
    env.globals.update(
        svg=render_svg,
        points=views.points,
        left_out=left_out,
        level_text=views.LEVEL_TEXT,
        provenance_label=views.PROVENANCE_LABEL,
        level_mark=views.LEVEL_MARK,
        status_text=views.STATUS_TEXT,
        status_mark=views.STATUS_MARK,
        levels=LEVELS,
        css=Markup((TEMPLATES / "style.css").read_text(encoding="utf-8")),
        limit=OUTPUT_LIMIT,
    )
    return env


def render_html(result: GradeResult, audience: views.Audience = "student") -> str:
    """The result as one self-contained HTML page; a student's view unless ``audience`` says otherwise."""
    return environment().get_template("report.html.j2").render(v=views.build(result, audience))


def render_class_summary(
    results: Sequence[GradeResult], links: Mapping[str, str] | None = None
) -> str:
    """The instructor's page: the score distribution, who needs a look, root causes to
    reteach, misconceptions, levels per objective, the roster (sortable and searchable by
    one inline script of our own; without it a plain table of every student), checks by
    failure rate and ungradable submissions.

    links : identity -> relative path of that student's HTML report (absolute or
            scheme-bearing paths are not linked)
    """
    summary: ClassSummary = summarise(results)
    safe = {who: url for who, path in (links or {}).items() if (url := safe_link(path))}
    return (
        environment()
        .get_template("class_summary.html.j2")
        .render(
            s=summary,
            links=safe,
            bars=_stacked_bars(summary),
            hist=_histogram(summary),
            tier_info=TIER_INFO,
            roster_js=Markup((TEMPLATES / "roster.js").read_text(encoding="utf-8")),
            level_rank={level: len(LEVELS) - i for i, level in enumerate(LEVELS)},
            look_limit=LOOK_LIMIT,
        )
    )


# ---------------------------------------------------------------------------
# The class summary's two pictures (the counts come from summarise)


def _stacked_bars(s: ClassSummary) -> dict[str, Markup]:
    """Per objective, one bar split by level (HTML, so it stays crisp at any width);
    each piece carries its count and, as a tooltip and for screen readers, its level."""
    out = {}
    for o in s.objectives:
        pieces = []
        for level in LEVELS:
            n = o.levels[level]
            if n:
                share = 100.0 * n / o.total
                pieces.append(
                    f'<span class="seg {css_class(level)}" style="width:{share:.2f}%" '
                    f'title="{views.LEVEL_TEXT[level]}: {n}"><span>'
                    f"{views.LEVEL_MARK[level][0]} {n}</span></span>"
                )
        words = ", ".join(f"{views.LEVEL_TEXT[lv]}: {o.levels[lv]}" for lv in LEVELS)
        out[o.objective] = Markup(
            f'<div class="stack" role="img" aria-label="{Markup.escape(words)}">'
            + "".join(pieces)
            + "</div>"
        )
    return out


def _histogram(s: ClassSummary) -> Markup:
    """Graded students per tenth of the maximum score, each bar labelled with its count,
    and the median as a dashed line with its value."""
    top = max(s.histogram, default=0) or 1
    W, H, L, B, T = 380.0, 220.0, 12.0, 40.0, 46.0
    band = (W - L - 12) / len(s.histogram)
    parts = []
    for i, n in enumerate(s.histogram):
        h = (H - B - T) * n / top
        x = L + i * band
        if n:
            parts.append(
                f'<rect x="{x + 2:.1f}" y="{H - B - h:.1f}" width="{band - 4:.1f}" height="{h:.1f}" fill="#1f5fa8"/>'
            )
            parts.append(
                f'<text x="{x + band / 2:.1f}" y="{H - B - h - 4:.1f}" font-size="14" text-anchor="middle">{n}</text>'
            )
        if i % 2 == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{H - B + 16:.1f}" font-size="14" text-anchor="middle">{i * 10}%</text>'
            )
    parts.append(
        f'<text x="{W - 12:.1f}" y="{H - B + 16:.1f}" font-size="14" text-anchor="middle">100%</text>'
    )
    parts.append(f'<line x1="{L}" y1="{H - B}" x2="{W - 12}" y2="{H - B}" stroke="#555"/>')
    parts.append(
        f'<text x="{(L + W) / 2:.1f}" y="{H - 4}" font-size="14" text-anchor="middle">'
        "score, as a share of the maximum</text>"
    )
    median = ""
    if s.median_fraction is not None:
        mx = L + s.median_fraction * (W - L - 12)
        anchor = "end" if s.median_fraction > 0.5 else "start"
        dx = -4 if anchor == "end" else 4
        parts.append(
            f'<line x1="{mx:.1f}" y1="{T - 14}" x2="{mx:.1f}" y2="{H - B}" stroke="#111" '
            'stroke-width="2" stroke-dasharray="6 3"/>'
        )
        parts.append(
            f'<text x="{mx + dx:.1f}" y="{T - 16}" font-size="14" font-weight="bold" '
            f'text-anchor="{anchor}">median {100 * s.median_fraction:.0f}%</text>'
        )
        median = f" Median {100 * s.median_fraction:.0f}%."
    words = "; ".join(f"{i * 10}% to {i * 10 + 10}%: {n}" for i, n in enumerate(s.histogram))
    return Markup(
        f'<svg class="chart" viewBox="0 0 {W:.0f} {H:.0f}" width="100%" role="img" '
        'aria-labelledby="hist-t hist-d" font-family="system-ui, sans-serif">'
        '<title id="hist-t">Score distribution</title>'
        f'<desc id="hist-d">Students per score range: {words}.{median}</desc>'
        + "".join(parts)
        + "</svg>"
    )
