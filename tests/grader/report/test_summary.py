"""Class summary: plain counts of levels, misconceptions, check outcomes, ungradable and scores."""

from __future__ import annotations

from dataclasses import replace
from html.parser import HTMLParser

from grader.report import render_class_summary, summarise
from grader.report.html import safe_link
from grader.results import GradeResult

from .conftest import check_results, make_result, make_ungradable


def passing_all() -> GradeResult:
    """A student whose every check passed (the error and not-assessed ones too)."""
    checks = tuple(
        replace(c, status="passed", points=c.max_points, diagnosis=None, next_step="", reason="")
        for c in check_results()
    )
    return make_result("zoe", checks=checks)


def klass() -> list[GradeResult]:
    return [make_result("alice"), make_result("bob"), passing_all(), make_ungradable("carol")]


def test_counts_students_graded_and_ungradable():
    """Four submissions: three graded, one ungradable with its reason."""
    s = summarise(klass())
    assert (s.students, s.graded) == (4, 3)
    assert s.ungradable == (("carol", "the notebook is not valid JSON: line 3, column 1"),)


def test_levels_per_objective():
    """backprop: alice and bob partly, zoe demonstrated; optimisation: two not assessed."""
    s = summarise(klass())
    by = {o.objective: o.levels for o in s.objectives}
    assert by["backprop"] == {"demonstrated": 1, "partly": 2, "not yet": 0, "not assessed": 0}
    assert by["optimisation"] == {"demonstrated": 1, "partly": 0, "not yet": 0, "not assessed": 2}
    assert all(o.total == 3 for o in s.objectives)


def test_misconception_counts_students_once_with_who():
    """The missing hidden derivative is shown by alice and bob, each counted once."""
    doubled = make_result("bob")
    extra = replace(doubled.checks[2], check_id="grad_out")  # the same bug on a second check
    doubled = replace(doubled, checks=(doubled.checks[0], extra, *doubled.checks[2:]))
    s = summarise([make_result("alice"), doubled])
    (m,) = s.misconceptions
    assert (m.name, m.count, m.students) == ("missing_hidden_derivative", 2, ("alice", "bob"))
    assert set(m.checks) == {"grad_hidden", "grad_out"}


def test_checks_ranked_by_failure_rate():
    """grad_hidden fails 2 of 3 assessed; checks nobody was assessed on come last."""
    s = summarise(klass())
    first = s.checks[0]
    assert first.check_id in ("grad_hidden", "grad_penalty")
    assert first.statuses["failed"] == 2 and first.failure_rate == 2 / 3
    rates = [c.failure_rate for c in s.checks]
    known = [r for r in rates if r is not None]
    assert known == sorted(known, reverse=True)
    train = next(c for c in s.checks if c.check_id == "train")
    assert train.statuses == {"passed": 1, "failed": 0, "not_assessed": 0, "error": 2}


def test_histogram_bins_include_full_marks_in_the_last():
    """3/10.5 lands in the 20-30% bin (twice); full marks in the last bin."""
    s = summarise(klass())
    assert s.histogram[2] == 2 and s.histogram[9] == 1 and sum(s.histogram) == 3
    assert s.median_fraction == 3 / 10.5


def test_empty_class():
    """No results: zero counts and no median."""
    s = summarise([])
    assert (s.students, s.graded, s.median_fraction, sum(s.histogram)) == (0, 0, None, 0)


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href") or "")


def test_class_page_links_students_and_refuses_other_urls():
    """Relative links are kept; javascript: and absolute URLs are not linked at all."""
    links = {"alice": "alice/report.html", "bob": "javascript:alert(1)", "zoe": "https://x.y/z"}
    p = Links()
    p.feed(render_class_summary(klass(), links))
    assert set(h for h in p.hrefs if not h.startswith("#")) == {"alice/report.html"}


def test_class_page_escapes_identities_and_reasons():
    """An identity or reason with markup appears as text."""
    r = [make_result("<script>x</script>"), make_ungradable("<b>u</b>", "<img src=x onerror=y>")]
    p = Links()
    p.feed(render_class_summary(r, {}))
    # one script, the page's own roster script, at the end; none from the student
    assert p.tags.count("script") == 1 and "img" not in p.tags and "b" not in p.tags


def test_class_page_shows_counts_and_reasons():
    """The page names the most common misconception with its count, and the ungradable reason."""
    html = render_class_summary(klass(), {})
    assert "hidden layer&#39;s derivative missing" in html
    assert "the notebook is not valid JSON" in html
    assert "3 graded, 1 could not be graded" in html


def test_safe_link():
    """Only relative paths are links; spaces are quoted."""
    assert safe_link("a b/r.html") == "a%20b/r.html"
    assert safe_link("/etc/passwd") is None and safe_link("data:text/html,x") is None
