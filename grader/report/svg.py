"""Figures -> inline SVG: polylines and rects, a few ticks, words for screen readers.

Drawing maps the figure's numbers to the page and computes nothing else. Every
piece of text goes through :func:`markupsafe.escape`, so a series name or
caption can never become markup. Points that cannot be drawn (NaN, inf, or
<= 0 on a log axis) are left out and counted in the caption.

Layout, in the viewBox's units (the SVG scales to its container's width)::

    +------------------------------------------+
    | legend                                   |  TOP
    |   +----------------------------------+   |
    | y |   plot                           |   |
    |   +----------------------------------+   |
    |       x ticks, x label                   |  BOTTOM
    +------------------------------------------+
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

from grader.figures import Figure, Series

# 380 units drawn at most 30rem wide (style.css): text of FONT units stays at least 12 px
# on a phone 390 px wide, and about 17 px on a desktop.
WIDTH, HEIGHT = 380.0, 250.0
LEFT, RIGHT, TOP, BOTTOM = 58.0, 12.0, 42.0, 44.0
FONT = 14

# The gradient-check thresholds of the lecture (docs/conventions.md §4), drawn as guides.
GOOD_BELOW, WRONG_ABOVE = 1e-7, 1e-2

# Lines must differ by more than colour: each style has its own dash pattern.
STYLES: dict[str, tuple[str, str, float]] = {  # role -> colour, dash, width
    "student": ("#1f5fa8", "", 2.5),
    "reference": ("#444444", "7 4", 2.0),
    "envelope_low": ("#7d8fa6", "2 3", 1.0),
    "envelope_high": ("#7d8fa6", "2 3", 1.0),
}
PALETTE: tuple[tuple[str, str], ...] = (  # colour, dash: for several student series
    ("#1f5fa8", ""),
    ("#b0451a", "7 4"),
    ("#2e7d32", "2 3"),
    ("#6a3d9a", "9 3 2 3"),
    ("#444444", "4 2"),
)
BAND = "#c9d6e8"
GUIDE_MARGIN = 58.0  # bar charts: room on the right for "right ↓" / "wrong ↑"


def slug(text: str) -> str:
    """A string safe inside an id attribute."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "figure"


def fmt_ticks(ticks: Sequence[float], log: bool) -> list[str]:
    """Tick labels, as few digits as keep them apart; a log axis reaching beyond
    0.01..1000 labels every tick as 1eN."""
    if log and any(not 1e-2 <= t <= 1e3 for t in ticks):
        return [f"1e{round(math.log10(t))}" for t in ticks]
    labels = [fmt(t) for t in ticks]
    for digits in range(4, 13):
        if len(set(labels)) == len(labels):
            break
        labels = [_short(f"{t:.{digits}g}") for t in ticks]
    return labels


def _short(text: str) -> str:
    """'1.5e-07' -> '1.5e-7'."""
    mant, _, exp = text.partition("e")
    return f"{mant}e{int(exp)}" if exp else mant


def fmt(v: float) -> str:
    """A tick or value label: 0.5, 120, 1e-07 -> '1e-7'."""
    if v == 0 or not math.isfinite(v):
        return str(v) if v else "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return _short(f"{v:.2g}")
    return f"{v:.3g}"


# ---------------------------------------------------------------------------
# Scales


def nice_ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    """About ``n`` round ticks covering [lo, hi] (steps of 1, 2 or 5 times a power of ten)."""
    if hi <= lo:
        lo, hi = lo - (abs(lo) or 1.0) * 0.5, hi + (abs(hi) or 1.0) * 0.5
    raw = (hi - lo) / n
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step + 1e-9) * step
    count = math.ceil((hi - first) / step - 1e-9)
    return [float(f"{first + i * step:.12g}") for i in range(count + 1)]  # no 0.30000000000000004


def log_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Powers of ten covering [lo, hi], every k-th decade so that at most about ``n`` show."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    if a == b:
        b += 1
    k = max(1, math.ceil((b - a) / n))
    a = math.floor(a / k) * k
    b = math.ceil(b / k) * k
    return [10.0**e for e in range(a, b + 1, k)]


def drawable(v: float, log: bool) -> bool:
    return math.isfinite(v) and (v > 0 or not log)


class Axes:
    """Maps data (x, y) to the viewBox; y on a linear or log10 scale."""

    def __init__(
        self, x: tuple[float, float], yticks: list[float], log: bool, margin: float = 0.0
    ) -> None:
        self.x0, self.x1 = x
        self.yticks, self.log = yticks, log
        self.margin = margin  # extra room on the right, for labels of guide lines
        self.y0, self.y1 = self._t(yticks[0]), self._t(yticks[-1])

    def _t(self, y: float) -> float:
        return math.log10(y) if self.log else y

    def px(self, x: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return LEFT + (x - self.x0) / span * (WIDTH - LEFT - RIGHT - self.margin)

    def py(self, y: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return HEIGHT - BOTTOM - (self._t(y) - self.y0) / span * (HEIGHT - TOP - BOTTOM)


def y_axis(values: Sequence[float], log: bool, include: Sequence[float] = ()) -> list[float]:
    """The y ticks for ``values`` (only drawable ones count), widened to cover ``include``."""
    ys = [v for v in (*values, *include) if drawable(v, log)]
    if not ys:
        return [1e-8, 1.0] if log else [0.0, 1.0]
    if log:
        return log_ticks(min(ys), max(ys))
    return nice_ticks(min(ys), max(ys))


# ---------------------------------------------------------------------------
# Pieces


def _text(
    x: float, y: float, s: str, anchor: str = "middle", size: int = FONT, **attrs: str
) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{extra}>'
        f"{escape(s)}</text>"
    )


def _line(
    x1: float, y1: float, x2: float, y2: float, stroke: str, dash: str = "", width: float = 1
) -> str:
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
        f'stroke="{stroke}" stroke-width="{width}"{d}/>'
    )


def _frame(fig: Figure, ax: Axes, xticks: Sequence[tuple[float, str]]) -> list[str]:
    """Grid, axes, tick labels and axis labels."""
    out = ['<g class="axes" fill="currentColor">']
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT - ax.margin
    for t, label in zip(ax.yticks, fmt_ticks(ax.yticks, ax.log), strict=True):
        y = ax.py(t)
        out.append(_line(LEFT, y, right, y, "#d9d9d9"))
        out.append(_text(LEFT - 6, y + 4, label, "end"))
    for x, label in xticks:
        out.append(_line(ax.px(x), bottom, ax.px(x), bottom + 5, "#555555"))
        out.append(_text(ax.px(x), bottom + 18, label))
    out.append(_line(LEFT, TOP - 6, LEFT, bottom, "#555555"))
    out.append(_line(LEFT, bottom, right, bottom, "#555555"))
    out.append(_text((LEFT + right) / 2, HEIGHT - 6, fig.x_label))
    mid = (TOP + bottom) / 2
    out.append(_text(14, mid, fig.y_label, transform=f"rotate(-90 14 {mid:.1f})"))
    out.append("</g>")
    return out


def _legend(items: Sequence[tuple[str, str, str, float, bool]]) -> list[str]:
    """One row (wrapping to a second) of samples: name, colour, dash, width (0: a dot), is_band."""
    out, x, y = [], LEFT, 16.0
    for name, colour, dash, width, band in items:
        room = 30 + 7.2 * len(name) + 14
        if x + room > WIDTH - RIGHT and x > LEFT:
            x, y = LEFT, y + 16
        if band:
            out.append(f'<rect x="{x:.1f}" y="{y - 6:.1f}" width="24" height="10" fill="{BAND}"/>')
        elif width == 0:
            out.append(f'<circle cx="{x + 12:.1f}" cy="{y - 1:.1f}" r="4" fill="{colour}"/>')
        else:
            out.append(_line(x, y - 1, x + 24, y - 1, colour, dash, width))
        out.append(_text(x + 30, y + 3, name, "start"))
        x += room
    return out


def _runs(values: Sequence[float], log: bool) -> list[list[tuple[int, float]]]:
    """Consecutive drawable points, split where a value cannot be drawn."""
    runs: list[list[tuple[int, float]]] = [[]]
    for i, v in enumerate(values):
        if drawable(v, log):
            runs[-1].append((i, v))
        elif runs[-1]:
            runs.append([])
    return [r for r in runs if r]


def _polyline(s: Series, ax: Axes, colour: str, dash: str, width: float) -> list[str]:
    out = []
    d = f' stroke-dasharray="{dash}"' if dash else ""
    for run in _runs(s.values, ax.log):
        pts = [(ax.px(i + 1), ax.py(v)) for i, v in run]
        if len(pts) == 1:
            out.append(
                f'<circle cx="{pts[0][0]:.1f}" cy="{pts[0][1]:.1f}" r="2.5" fill="{colour}"/>'
            )
            continue
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        out.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" '
            f'stroke-width="{width}" stroke-linejoin="round"{d}/>'
        )
    return out


def _band(low: Series, high: Series, ax: Axes) -> list[str]:
    """The envelope: a shaded polygon between low and high where both can be drawn."""
    pairs = [
        (i, lo, hi)
        for i, (lo, hi) in enumerate(zip(low.values, high.values, strict=False))
        if drawable(lo, ax.log) and drawable(hi, ax.log)
    ]
    if len(pairs) < 2:
        return []
    upper = [f"{ax.px(i + 1):.1f},{ax.py(hi):.1f}" for i, _, hi in pairs]
    lower = [f"{ax.px(i + 1):.1f},{ax.py(lo):.1f}" for i, lo, _ in reversed(pairs)]
    return [f'<polygon points="{" ".join(upper + lower)}" fill="{BAND}" stroke="none"/>']


def _x_ticks(n: int) -> list[tuple[float, str]]:
    ticks = [t for t in nice_ticks(1, max(n, 2)) if 1 <= t <= max(n, 1) and t == int(t)]
    return [(t, str(int(t))) for t in (ticks or [1.0])]


# ---------------------------------------------------------------------------
# Kinds


def _lines(fig: Figure) -> list[str]:
    """convergence and gradient_magnitude: lines over epochs, an envelope as a band."""
    n = max((len(s.values) for s in fig.series), default=1)
    ax = Axes(
        (1, max(n, 2)), y_axis([v for s in fig.series for v in s.values], fig.log_y), fig.log_y
    )
    students = fig.of_role("student")
    styled = [
        (s, *(PALETTE[i % len(PALETTE)] if len(students) > 1 else STYLES["student"][:2]), 2.2)
        for i, s in enumerate(students)
    ] + [(s, *STYLES["reference"]) for s in fig.of_role("reference")]
    body = []
    legend: list[tuple[str, str, str, float, bool]] = []
    lows, highs = fig.of_role("envelope_low"), fig.of_role("envelope_high")
    if lows and highs:
        body += _band(lows[0], highs[0], ax)
        legend.append(("range of correct runs", BAND, "", 0, True))
    for s in (*lows, *highs):
        body += _polyline(s, ax, *STYLES[s.role])
    for s, colour, dash, width in reversed(styled):  # student drawn last, on top
        body += _polyline(s, ax, colour, dash, width)
    legend = [(s.name, c, d, w, False) for s, c, d, w in styled] + legend
    return _frame(fig, ax, _x_ticks(n)) + body + _legend(legend)


def _bars(fig: Figure) -> list[str]:
    """gradient_error: one bar per category and student series, reference values as markers."""
    cats = fig.categories or tuple(str(i + 1) for i in range(len(fig.series[0].values)))
    students, refs = fig.of_role("student"), fig.of_role("reference")
    guides = (GOOD_BELOW, WRONG_ABOVE) if fig.log_y else ()
    values = [v for s in fig.series for v in s.values]
    around = [g / 10 for g in guides] + [g * 10 for g in guides]
    ax = Axes((0, len(cats)), y_axis(values, fig.log_y, around), fig.log_y, GUIDE_MARGIN)
    floor_y, right = HEIGHT - BOTTOM, WIDTH - RIGHT - GUIDE_MARGIN
    body = []
    # the guides' words sit in the right margin, clear of bars and markers
    for g, label, dy in zip(guides, ("right ↓", "wrong ↑"), (14, -5), strict=True):
        y = ax.py(g)
        body.append(_line(LEFT, y, right + 4, y, "#8a8a8a", "3 3"))
        body.append(_text(right + 6, y + dy, label, "start", fill="#444444"))
    band = (right - LEFT) / len(cats)
    width = band * 0.6 / max(len(students), 1)
    for j, s in enumerate(students):
        colour = PALETTE[j % len(PALETTE)][0]
        for i, v in enumerate(s.values):
            x = LEFT + i * band + band * 0.2 + j * width
            if drawable(v, fig.log_y):
                y = ax.py(v)
                body.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
                    f'height="{max(floor_y - y, 0):.1f}" fill="{colour}"/>'
                )
                body.append(_text(x + width / 2, y - 4, fmt(v)))
            else:
                shown = "0" if v == 0 else fmt(v) if math.isfinite(v) else "n/a"
                body.append(_text(x + width / 2, floor_y - 4, shown))
    for s in refs:
        for i, v in enumerate(s.values):
            if drawable(v, fig.log_y):
                y = ax.py(v)
                body.append(
                    _line(LEFT + i * band + 4, y, LEFT + (i + 1) * band - 4, y, "#222222", "6 3", 2)
                )
    xticks = [(i + 0.5, c) for i, c in enumerate(cats)]
    legend = [
        (s.name, PALETTE[j % len(PALETTE)][0], "", 8.0, False) for j, s in enumerate(students)
    ]
    legend += [(s.name, "#222222", "6 3", 2.0, False) for s in refs]
    return _frame(fig, ax, xticks) + body + _legend(legend)


def _scatter(fig: Figure) -> list[str]:
    """scatter: the student's entries (y) against the correct ones (x), same scale on both
    axes, with the diagonal y = x where correct entries lie."""
    ys, xs = fig.of_role("student"), fig.of_role("reference")
    if not ys or not xs:
        return [_text(WIDTH / 2, HEIGHT / 2, "no values to draw")]
    pairs = [
        (x, y)
        for x, y in zip(xs[0].values, ys[0].values, strict=False)
        if math.isfinite(x) and math.isfinite(y)
    ]
    if not pairs:
        return [_text(WIDTH / 2, HEIGHT / 2, "no finite values to draw")]
    ticks = nice_ticks(min(min(p) for p in pairs), max(max(p) for p in pairs))
    lo, hi = ticks[0], ticks[-1]
    ax = Axes((lo, hi), ticks, False)
    xticks = [(t, label) for t, label in zip(ticks, fmt_ticks(ticks, False), strict=True)]
    body = [_line(ax.px(lo), ax.py(lo), ax.px(hi), ax.py(hi), "#444444", "7 4", 2)]
    colour = STYLES["student"][0]
    body += [
        f'<circle cx="{ax.px(x):.1f}" cy="{ax.py(y):.1f}" r="3.2" fill="{colour}" '
        'fill-opacity="0.75"/>'
        for x, y in pairs
    ]
    legend = [
        (ys[0].name, colour, "", 0.0, False),
        ("where correct values lie", "#444444", "7 4", 2.0, False),
    ]
    return _frame(fig, ax, xticks) + body + _legend(legend)


DRAW: dict[str, Callable[[Figure], list[str]]] = {
    "convergence": _lines,
    "gradient_magnitude": _lines,
    "gradient_error": _bars,
    "scatter": _scatter,
}


def left_out(fig: Figure) -> int:
    """How many values a line cannot show (NaN, inf, or <= 0 on a log axis); bars label every value."""
    if fig.kind == "gradient_error":
        return 0
    if fig.kind == "scatter":
        return sum(not math.isfinite(v) for s in fig.series for v in s.values)
    return sum(not drawable(v, fig.log_y) for s in fig.series for v in s.values)


def describe(fig: Figure) -> str:
    """The figure's words for a screen reader: the caption, then each series' first and last value."""
    parts = [fig.caption] if fig.caption else []
    for s in fig.series:
        if fig.categories:
            pairs = ", ".join(
                f"{c} {fmt(v)}" for c, v in zip(fig.categories, s.values, strict=False)
            )
            parts.append(f"{s.name}: {pairs}.")
        elif s.values:
            parts.append(
                f"{s.name}: {len(s.values)} values, first {fmt(s.values[0])}, last {fmt(s.values[-1])}."
            )
    return " ".join(parts)


def render_svg(fig: Figure, prefix: str = "fig") -> Markup:
    """The figure as one ``<svg>`` element (viewBox, width 100%, <title> and <desc>)."""
    if not any(s.values for s in fig.series):
        body: list[str] = [_text(WIDTH / 2, HEIGHT / 2, "no values to draw")]
    else:
        body = DRAW[fig.kind](fig)
    ident = f"{prefix}-{slug(fig.id)}"
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" '
        f'width="100%" role="img" aria-labelledby="{ident}-t {ident}-d" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif">'
        f'<title id="{ident}-t">{escape(fig.title)}</title>'
        f'<desc id="{ident}-d">{escape(describe(fig))}</desc>' + "".join(body) + "</svg>"
    )
