"""SVG: every kind draws from its numbers, with words for screen readers, and escapes all text."""

from __future__ import annotations

import math
from html.parser import HTMLParser

from grader.figures import Figure, Series, convergence, gradient_error, gradient_magnitude
from grader.report.svg import log_ticks, nice_ticks, render_svg


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(svg: str) -> Tags:
    p = Tags()
    p.feed(svg)
    return p


def names(svg: str) -> list[str]:
    return [t for t, _ in parse(svg).tags]


def test_svg_has_viewbox_full_width_title_and_desc():
    """The root scales to its container and carries <title> and a <desc> with the caption."""
    fig = convergence([3.0, 2.0, 1.0], reference=[3.0, 2.0, 1.0])
    p = parse(render_svg(fig))
    tag, attrs = p.tags[0]
    assert tag == "svg" and attrs["viewbox"] and attrs["width"] == "100%" and attrs["role"] == "img"
    assert "title" in names(render_svg(fig)) and "desc" in names(render_svg(fig))
    assert fig.caption in "".join(p.text)


def test_replay_draws_one_line_per_series():
    """Student and reference each become one polyline."""
    fig = convergence([3.0, 2.0, 1.0], reference=[3.0, 2.1, 1.2])
    assert names(render_svg(fig)).count("polyline") == 2


def test_envelope_is_a_shaded_band():
    """envelope_low and envelope_high make one polygon between them."""
    fig = convergence([3.0, 2.0, 1.0], envelope=([2.5, 1.5, 0.5], [3.5, 2.5, 1.5]))
    assert names(render_svg(fig)).count("polygon") == 1


def test_nan_splits_a_line_instead_of_drawing_it():
    """A NaN in the middle splits the student's line in two polylines."""
    fig = convergence([3.0, 2.0, math.nan, 1.0, 0.5])
    assert names(render_svg(fig)).count("polyline") == 2


def test_log_scale_leaves_out_non_positive_values():
    """On a log axis a zero cannot be drawn: the line around it splits."""
    fig = gradient_magnitude({"layer 1": [1e-2, 1e-3, 0.0, 1e-4, 1e-5]})
    assert names(render_svg(fig)).count("polyline") == 2


def test_bars_show_their_values_as_text():
    """Each bar is a rect and is labelled with its value."""
    svg = render_svg(gradient_error({"dW1": 0.71, "dW2": 2e-16}))
    assert names(svg).count("rect") >= 2
    text = "".join(parse(svg).text)
    assert "0.71" in text and "2e-16" in text


def test_bar_chart_names_categories_on_the_x_axis():
    """The categories (array names) appear as x tick labels."""
    text = "".join(parse(render_svg(gradient_error({"dW1": 0.1, "db1": 0.2}))).text)
    assert "dW1" in text and "db1" in text


def test_several_layers_differ_by_dash_not_only_colour():
    """Two student series get different stroke-dasharray patterns."""
    svg = render_svg(gradient_magnitude({"layer 1": [1.0, 0.5], "layer 2": [0.1, 0.05]}))
    lines = [a for t, a in parse(svg).tags if t == "polyline"]
    assert len({a.get("stroke-dasharray") for a in lines}) == 2


def test_text_is_escaped():
    """A series name or caption with markup appears as text, never as an element."""
    fig = Figure(
        "<id>",
        "convergence",
        "<b>t</b>",
        "x",
        "y",
        (Series("<script>alert(1)</script>", (1.0, 2.0)),),
        caption="<img src=x onerror=alert(1)>",
    )
    svg = render_svg(fig)
    assert "script" not in names(svg) and "img" not in names(svg) and "b" not in names(svg)
    assert "<script>alert(1)</script>" in "".join(parse(svg).text)


def test_empty_figure_says_so():
    """A figure without values says there is nothing to draw."""
    fig = Figure("e", "convergence", "t", "x", "y", (Series("s", ()),))
    assert "no values to draw" in render_svg(fig)


def test_nice_ticks_cover_the_range_with_round_steps():
    """Ticks are multiples of 1, 2 or 5 times a power of ten and cover [lo, hi]."""
    t = nice_ticks(0.13, 2.4)
    assert t[0] <= 0.13 and t[-1] >= 2.4 and len(t) <= 7
    assert t == [0.0, 1.0, 2.0, 3.0]  # raw step 0.57 rounds up to 1


def test_log_ticks_are_powers_of_ten_thinned_to_a_few():
    """Sixteen decades show as at most about six ticks, all powers of ten."""
    t = log_ticks(1e-16, 1.0)
    assert len(t) <= 7 and all(math.log10(x) == round(math.log10(x)) for x in t)
    assert t[0] <= 1e-16 and t[-1] >= 1.0


def test_tick_labels_on_a_tiny_range_stay_distinct():
    """Ticks 1e-15, 1.005e-15, 1.01e-15 get labels that tell them apart."""
    from grader.report.svg import fmt_ticks

    labels = fmt_ticks(nice_ticks(1e-15, 1.009e-15), log=False)
    assert len(set(labels)) == len(labels) == 3


def test_left_out_counts_what_a_line_cannot_show():
    """NaN, inf and (on a log axis) zero are counted; bars label every value instead."""
    from grader.report.svg import left_out

    assert left_out(convergence([1.0, math.nan, math.inf, 0.5])) == 2
    assert left_out(gradient_magnitude({"l1": [1.0, 0.0, 0.1]})) == 1
    assert left_out(gradient_error({"dW1": math.nan, "dW2": 0.0})) == 0
