"""HTML: one self-contained, well-formed page; student text stays text; hidden checks stay hidden."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from grader.report import render_html
from grader.report.view import LEVEL_TEXT, build
from grader.results import GradeResult

from .conftest import HOSTILE, SECRET_EXPECTED, SECRET_INPUT, make_result

VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "source", "col", "area", "base"}


class Page(HTMLParser):
    """Collects start tags with attributes and text, and checks that every element closes in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.problems: list[str] = []
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        self.in_style = tag == "style"
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        self.in_style = False
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data):
        if not self.in_style:
            self.text.append(data)

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def parse(html: str) -> Page:
    p = Page()
    p.feed(html)
    p.close()
    return p


def words(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def page(result: GradeResult) -> str:
    return render_html(result)


def test_page_is_well_formed(page: str, hostile: GradeResult):
    """Every element closes in order, for a normal and a hostile submission."""
    for html in (page, render_html(hostile)):
        p = parse(html)
        assert p.problems == [] and p.stack == []


def test_page_is_self_contained(page: str):
    """No URL, no src other than data:, no stylesheet link, no script."""
    p = parse(page)
    assert "http://" not in page and "https://" not in page
    for tag, attrs in p.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed")
        src = attrs.get("src")
        assert src is None or src.startswith("data:")
        assert not (attrs.get("href") or "#").split("#")[0], f"{tag} links out: {attrs}"


def test_hostile_student_text_stays_text(hostile: GradeResult):
    """<script>, </details>, on* attributes and {{ }} from the student appear as text, not markup."""
    html = render_html(hostile)
    p = parse(html)
    assert [t for t, _ in p.tags if t in ("script", "img")] == []
    assert [a for _, attrs in p.tags for a in attrs if a.startswith("on")] == []
    assert HOSTILE in p.all_text  # exception message, note, output: all shown literally
    assert "{{ 7*7 }}" in p.all_text and "49" not in p.all_text
    assert "mallory<script>" in p.all_text


def test_control_characters_from_the_student_are_replaced():
    """A terminal escape or NUL in printed output does not reach the page."""
    from dataclasses import replace

    html = render_html(replace(make_result(), stdout="red\x1b[31m text\x00"))
    assert "\x1b" not in html and "\x00" not in html and "red\ufffd[31m text\ufffd" in html


def test_score_is_a_summary_of_evidence(page: str):
    """The header reads "3 of 10.5 points — 1 of 5 objectives demonstrated"."""
    assert "3 of 10.5 points — 1 of 5 objectives demonstrated" in parse(page).all_text


def test_each_objective_shows_level_in_words_and_its_next_steps(result: GradeResult, page: str):
    """Each objective's section has its level as text and every next step of its checks."""
    text = parse(page).all_text
    assert result.score is not None
    for o in result.score.objectives:
        section = re.search(rf'id="obj-{o.objective}".*?</section>', page, re.S)
        assert section is not None
        body = words(parse(section.group(0)).all_text)
        assert LEVEL_TEXT[o.level] in body
    assert "Multiply by A2 (1 - A2) in the hidden layer's recurrence." in text
    assert "Nothing for you to fix here" in text  # the grader error's next step


def test_checks_expand_with_comparisons_and_diagnosis(page: str):
    """A failed check's <details> holds the diagnosis title, topic, max difference and measures."""
    p = parse(page)
    assert sum(t == "details" for t, _ in p.tags) >= 6
    text = p.all_text
    assert "hidden layer's derivative missing" in text
    assert "Lecture topic back-propagation" in text
    assert "3.2e-12" in text
    assert "cosine 0.95" in text and "20 of 20 entries outside the tolerance" in text


def test_accepted_convention_is_named(page: str):
    """A check passed under an accepted convention says which one."""
    assert "mean_instances" in parse(page).all_text


def test_hidden_check_inputs_and_expected_values_are_absent(page: str):
    """A student's page keeps the hidden check's verdict but none of its inputs or expected values."""
    assert SECRET_INPUT not in page and SECRET_EXPECTED not in page
    assert "a hidden check of this objective failed" in parse(page).all_text.lower()
    assert "secret-err" not in page  # the hidden check's figure holds expected values


def test_instructor_view_shows_hidden_details(result: GradeResult):
    """The instructor's page shows what the hidden check observed, and its figure."""
    html = render_html(result, audience="instructor")
    assert SECRET_INPUT in html and "fig-secret-err" in html


def test_student_provenance_leaves_out_seeds(result: GradeResult, page: str):
    """Seeds would regenerate hidden inputs: only the instructor's footer lists them."""
    assert "987654" not in page and "bwrap" in page and "0.1.0" in page
    assert "987654" in render_html(result, audience="instructor")


def test_every_figure_is_an_svg_with_its_caption(result: GradeResult, page: str):
    """Each figure a student may see is drawn as inline SVG followed by its caption."""
    p = parse(page)
    shown = build(result).objectives
    figs = [fv.figure for o in shown for fv in o.figures] + list(build(result).figures)
    assert len(figs) == 3
    assert sum(t == "svg" for t, _ in p.tags) == len(figs)
    for f in figs:
        assert f'id="fig-{f.id}-t"' in page
        assert words(f.caption) in p.all_text


def test_ungradable_page_says_why_and_what_to_do(ungradable: GradeResult):
    """An ungradable submission gets its reason and steps to take, and no objectives."""
    text = parse(render_html(ungradable)).all_text
    assert "This submission could not be graded" in text
    assert "the notebook is not valid JSON: line 3, column 1" in text
    assert "submit again" in text
    assert "objective" not in text.lower()


def test_page_is_responsive_and_printable(page: str):
    """A viewport meta, a max-width column, and print rules are inline."""
    assert 'name="viewport"' in page and "max-width" in page and "@media print" in page


def test_output_is_shortened_on_the_page():
    """Printed output longer than the limit is cut, with a note saying how much."""
    from dataclasses import replace

    from grader.report.html import OUTPUT_LIMIT

    html = render_html(replace(make_result(), stdout="x" * (OUTPUT_LIMIT + 500)))
    assert "500 more characters not shown" in html


def test_checks_outside_the_score_are_shown_without_a_level():
    """A check no objective lists still appears, under "Other checks", with no level invented."""
    from dataclasses import replace

    r = make_result()
    assert r.score is not None
    kept = tuple(o for o in r.score.objectives if o.objective != "optimisation")
    r = replace(r, score=replace(r.score, objectives=kept))
    text = parse(render_html(r)).all_text
    assert "Other checks" in text and "Momentum update" in text
    assert "not part of the score" in text
    assert build(r).objectives[-1].level is None
