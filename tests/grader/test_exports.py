"""grader.exports: gradebook and Canvas CSV, Gradescope results.json, JUnit XML, Markdown summary."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from grader.exports._text import md_escape, number, xml_text
from grader.exports.class_markdown import class_summary
from grader.exports.gradebook import (
    Row,
    canvas_table,
    read_canvas_roster,
    write_canvas_csv,
    write_gradebook_csv,
)
from grader.exports.gradescope import (
    NOT_ASSESSED_TAG,
    SUMMARY_TEST,
    gradescope_results,
    write_gradescope,
)
from grader.exports.junit import junit_xml
from grader.results import GradeResult, SubmissionRef
from tests.grader import fakes


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# --- gradebook.csv ------------------------------------------------------------


def test_gradebook_columns_follow_the_brief_and_the_rubric(
    tmp_path: Path, class_rows: list[Row]
) -> None:
    """student, total, max, each objective, each check (rubric order), status, reason, adjusted."""
    write_gradebook_csv(tmp_path / "g.csv", class_rows, fakes.RUBRIC)
    with open(tmp_path / "g.csv", newline="") as handle:
        header = next(csv.reader(handle))
    assert header == [
        "student",
        "total",
        "max",
        "objective:backprop",
        "objective:regularisation",
        "objective:optimisation",
        "check:grad_out",
        "check:grad_hidden",
        "check:grad_penalty",
        "check:momentum",
        "status",
        "reason",
        "adjusted",
    ]


def test_gradebook_rows_parse_back(tmp_path: Path, class_rows: list[Row]) -> None:
    """Totals, levels, per-check points and statuses read back as written."""
    rows = {r["student"]: r for r in read_csv(write_gradebook_csv(tmp_path / "g.csv", class_rows))}
    assert (rows["alice"]["total"], rows["alice"]["max"]) == ("7.5", "7.5")
    assert rows["bob"]["objective:backprop"] == "partly"
    assert (rows["bob"]["check:grad_hidden"], rows["bob"]["check:grad_penalty"]) == ("0", "1.5")
    assert (rows["carol"]["status"], rows["carol"]["reason"]) == (
        "ungradable",
        "carol.pdf is a PDF",
    )
    assert rows["carol"]["total"] == "" and rows["carol"]["check:grad_out"] == ""
    assert rows["dan"]["status"] == "pending"


def test_gradebook_without_rubric_takes_columns_from_results(
    tmp_path: Path, class_rows: list[Row]
) -> None:
    """Without a rubric the columns are those seen in the results; max is blank when ungraded."""
    rows = read_csv(write_gradebook_csv(tmp_path / "g.csv", class_rows))
    assert "check:momentum" in rows[0]
    assert rows[2]["max"] == ""


def test_incomplete_score_is_explained(tmp_path: Path) -> None:
    """A grader-side check error keeps the row graded and says the total may rise."""
    result = fakes.grade(fakes.write(tmp_path, "alice.py", "# fake: error momentum"))
    (row,) = read_csv(write_gradebook_csv(tmp_path / "g.csv", [Row.of(result)]))
    assert row["status"] == "graded"
    assert "may rise" in row["reason"]


def test_cells_that_look_like_formulas_are_defused(tmp_path: Path) -> None:
    """An identity or reason starting with '=' or '@' cannot run as a spreadsheet formula."""
    rows = [
        Row("=HYPERLINK(1)", "ungradable", "@SUM(A1)"),
        Row("-1+2", "pending", "ok"),
    ]
    parsed = read_csv(write_gradebook_csv(tmp_path / "g.csv", rows))
    assert [(r["student"], r["reason"]) for r in parsed] == [
        ("'=HYPERLINK(1)", "'@SUM(A1)"),
        ("'-1+2", "ok"),
    ]


FORMULA_STARTS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
BLANKS = ("", " ", "\t", "\r", "\n", "  \t", "\u00a0", "\u200b")


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_a_formula_behind_leading_blanks_is_defused_in_every_csv(
    tmp_path: Path, start: str
) -> None:
    """Each formula character, alone or after spaces, tabs, CR, LF or invisible characters,
    gets the leading ' in the gradebook's and Canvas's cells; a cell starting with tab, CR
    or LF does too; ordinary text (a leading space included) is left alone."""
    evil = [f"{blank}{start}HYPERLINK(1)" for blank in BLANKS]
    rows = [Row(text, "ungradable", text) for text in evil]
    rows += [Row(" alice", "ungradable", "a reason - with a dash"), Row("\tbob", "pending", "ok")]
    parsed = read_csv(write_gradebook_csv(tmp_path / "g.csv", rows))
    assert [(r["student"], r["reason"]) for r in parsed] == [
        *((f"'{text}", f"'{text}") for text in evil),
        (" alice", "a reason - with a dash"),
        ("'\tbob", "ok"),
    ]
    write_canvas_csv(tmp_path / "c.csv", rows, assignment=f" {start}cmd|' /C calc'!A0")
    with open(tmp_path / "c.csv", newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    assert table[0][-1].startswith("'")  # the assignment's column name, from the command line
    students = [line[0] for line in table[2:]]
    assert students == [*(f"'{text}" for text in evil), " alice", "'\tbob"]


# --- Canvas -----------------------------------------------------------------------


def test_canvas_csv_has_canvas_import_columns(tmp_path: Path, class_rows: list[Row]) -> None:
    """Canvas's columns, the assignment named 'Name (id)', then the Points Possible row."""
    write_canvas_csv(
        tmp_path / "c.csv", class_rows, assignment="Lab 3, backprop", assignment_id=12345
    )
    with open(tmp_path / "c.csv", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "Lab 3, backprop (12345)",
    ]
    assert table[1] == ["Points Possible", "", "", "", "", "7.5"]
    assert table[2] == ["alice", "", "", "alice", "", "7.5"]
    assert table[4][-1] == ""  # ungradable: blank, which Canvas skips, never a silent zero


def test_canvas_identity_column_is_configurable(class_rows: list[Row]) -> None:
    """The identity can fill the SIS User ID column instead of the login."""
    _, table, _ = canvas_table(class_rows, assignment="A", identity_column="SIS User ID")
    assert table[1][:4] == ["alice", "", "alice", ""]
    with pytest.raises(ValueError, match="identity_column"):
        canvas_table(class_rows, assignment="A", identity_column="Email")


def test_canvas_roster_fills_names_ids_and_sections(tmp_path: Path, class_rows: list[Row]) -> None:
    """With Canvas's own export as roster, every column comes from the matching student."""
    roster_csv = tmp_path / "export.csv"
    roster_csv.write_text(
        "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Lab 3 (12345)\n"
        "    Points Possible,,,,,10\n"
        '"Liddell, Alice",101,S001,alice,Sec 1,\n'
        '"Builder, Bob",102,S002,bob,Sec 2,\n',
        encoding="utf-8",
    )
    roster = read_canvas_roster(roster_csv)
    _, table, warnings = canvas_table(class_rows, assignment="Lab 3", roster=roster)
    assert table[1][:5] == ["Liddell, Alice", "101", "S001", "alice", "Sec 1"]
    assert table[2][:2] == ["Builder, Bob", "102"]
    assert warnings == ["carol: not in the Canvas roster", "dan: not in the Canvas roster"]


def test_canvas_roster_must_be_a_canvas_export(tmp_path: Path) -> None:
    """A CSV without Canvas's columns is refused with the missing column named."""
    bad = tmp_path / "x.csv"
    bad.write_text("name,score\nalice,1\n")
    with pytest.raises(ValueError, match=r"not a Canvas gradebook export.*Student"):
        read_canvas_roster(bad)


# --- Gradescope ---------------------------------------------------------------------

# From Gradescope's autograder specification (docs/specs.md): every key is optional,
# but the top level needs "score" or tests that each have "score".
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "simple_format", "html", "md", "ansi"}
TOP_KEYS: dict[str, Any] = {
    "score": (int, float),
    "execution_time": int,
    "output": str,
    "output_format": str,
    "test_output_format": str,
    "test_name_format": str,
    "visibility": str,
    "stdout_visibility": str,
    "extra_data": dict,
    "tests": list,
    "leaderboard": list,
}
TEST_KEYS: dict[str, Any] = {
    "score": (int, float),
    "max_score": (int, float),
    "status": str,
    "name": str,
    "name_format": str,
    "number": str,
    "output": str,
    "output_format": str,
    "tags": list,
    "visibility": str,
    "extra_data": dict,
}


def validate_gradescope(doc: dict[str, Any]) -> None:
    """Assert ``doc`` follows Gradescope's results.json specification."""
    assert set(doc) <= set(TOP_KEYS), set(doc) - set(TOP_KEYS)
    for key, kind in TOP_KEYS.items():
        if key in doc:
            assert isinstance(doc[key], kind) and not isinstance(doc[key], bool), key
    assert "score" in doc or all("score" in t for t in doc["tests"])
    for key in ("visibility", "stdout_visibility"):
        assert doc.get(key, "visible") in VISIBILITY
    for key in ("output_format", "test_output_format", "test_name_format"):
        assert doc.get(key, "text") in FORMATS
    for test in doc.get("tests", []):
        assert set(test) <= set(TEST_KEYS), set(test) - set(TEST_KEYS)
        for key, kind in TEST_KEYS.items():
            if key in test:
                assert isinstance(test[key], kind) and not isinstance(test[key], bool), key
        assert test.get("status", "passed") in ("passed", "failed")
        assert test.get("visibility", "visible") in VISIBILITY
        assert test.get("output_format", "text") in FORMATS
        assert all(isinstance(t, str) for t in test.get("tags", []))
    for entry in doc.get("leaderboard", []):
        assert isinstance(entry["name"], str) and entry.get("order", "desc") in ("asc", "desc")


def test_gradescope_results_follow_the_spec(tmp_path: Path, graded: GradeResult) -> None:
    """The written results.json parses and passes the specification's keys and types."""
    path = write_gradescope(tmp_path / "results.json", graded, execution_time=12.6)
    doc = json.loads(path.read_text())
    validate_gradescope(doc)
    assert doc["execution_time"] == 13
    assert doc["score"] == graded.score.points  # type: ignore[union-attr]
    checks, summary = doc["tests"][:-1], doc["tests"][-1]
    assert [t["score"] for t in checks] == [c.points for c in graded.checks]
    assert sum(t["score"] for t in doc["tests"]) == doc["score"]
    assert [t["number"] for t in checks] == ["1.1", "1.2", "2.1", "3.1"]
    assert [t["status"] for t in checks] == ["passed", "passed", "failed", "failed"]
    assert summary["name"] == SUMMARY_TEST and summary["max_score"] == 0


def test_validator_rejects_what_the_spec_does_not_allow(graded: GradeResult) -> None:
    """The spec check itself fails on a wrong status, a wrong visibility, or a stray key."""
    for broken in (
        {"tests": [{"score": 1, "status": "error"}]},
        {"score": 1, "visibility": "students"},
        {"score": 1, "tests": [{"score": 1, "points": 1}]},
    ):
        with pytest.raises(AssertionError):
            validate_gradescope(broken)


def test_gradescope_hidden_checks_leak_nothing(graded: GradeResult) -> None:
    """A hidden check gets the hidden visibility; its inputs and expected values are absent."""
    raw = json.dumps(graded.to_dict())
    assert fakes.SECRET in raw  # the full result holds it; the export must drop it
    for visibility in ("after_published", "hidden"):
        doc = gradescope_results(graded, hidden_visibility=visibility)
        hidden = [t for t in doc["tests"] if t["name"] in ("grad_penalty", SUMMARY_TEST)]
        assert len(hidden) == 2 and {t["visibility"] for t in hidden} == {visibility}
        assert fakes.SECRET not in json.dumps(doc)
        assert {t["visibility"] for t in doc["tests"] if t not in hidden} == {"visible"}


def test_gradescope_output_gives_evidence_and_next_step(graded: GradeResult) -> None:
    """A failed check's Markdown output carries the diagnosis and the next step."""
    doc = gradescope_results(graded)
    failed = next(t for t in doc["tests"] if t["name"] == "grad_penalty")
    assert failed["output_format"] == "md"
    assert "without the hidden derivative" in failed["output"]
    assert "**Next step:** Derive V1 on paper first." in failed["output"]
    skipped = next(t for t in doc["tests"] if t["name"] == "momentum (not assessed)")
    assert "Not assessed" in skipped["output"] and "no such method" in skipped["output"]


def test_gradescope_visible_output_counts_only_public_checks(graded: GradeResult) -> None:
    """The top-level output (always visible) holds no hidden points and no total with them."""
    public = [c for c in graded.checks if c.visibility == "public"]
    hidden = [c for c in graded.checks if c.visibility == "hidden"]
    assert hidden and public
    for visibility in ("after_published", "after_due_date", "hidden"):
        doc = gradescope_results(graded, hidden_visibility=visibility)
        output = doc["output"]
        shown = (
            f"{number(sum(c.points for c in public))} / {number(sum(c.max_points for c in public))}"
        )
        assert f"**Public checks: {shown}**" in output
        total = graded.score.max_points  # type: ignore[union-attr]
        assert f"/ {number(total)}" not in output
        assert f"1 hidden check ({number(hidden[0].max_points)} points)" in output
        summary = next(t for t in doc["tests"] if t["name"] == SUMMARY_TEST)
        assert f"/ {number(total)}**" in summary["output"]
        assert summary["visibility"] == visibility


def test_gradescope_with_visible_hidden_checks_shows_the_total(graded: GradeResult) -> None:
    """hidden_visibility="visible" shows everything at once: the total is in the output."""
    doc = gradescope_results(graded, hidden_visibility="visible")
    assert f"**Score: {number(graded.score.points)} / " in doc["output"]  # type: ignore[union-attr]
    assert SUMMARY_TEST not in [t["name"] for t in doc["tests"]]
    assert {t["visibility"] for t in doc["tests"]} == {"visible"}


def test_gradescope_not_assessed_keeps_its_status_and_reason(graded: GradeResult) -> None:
    """Gradescope has passed/failed only: a not-assessed check says so in name, tags, extra_data."""
    error = replace(graded.checks[0], status="error", points=0.0, reason="reference crashed")
    doc = gradescope_results(replace(graded, checks=(error, *graded.checks[1:])))
    validate_gradescope(doc)
    by_status = {t["extra_data"]["status"]: t for t in doc["tests"] if "extra_data" in t}
    skipped, crashed = by_status["not_assessed"], by_status["error"]
    momentum = next(c for c in graded.checks if c.status == "not_assessed")
    assert skipped["extra_data"]["reason"] == momentum.reason
    assert skipped["output"].splitlines()[2] == md_escape(momentum.reason)
    assert NOT_ASSESSED_TAG in skipped["tags"] and NOT_ASSESSED_TAG in crashed["tags"]
    assert crashed["name"].endswith("(not assessed: grader error)")
    assert (skipped["score"], skipped["status"]) == (0.0, "failed")
    assert by_status["passed"]["name"] == graded.checks[1].check_id  # no suffix when judged


def test_gradescope_says_each_sentence_once(graded: GradeResult) -> None:
    """A reason or diagnosis that is also a piece of evidence appears once in the output."""
    failed = next(c for c in graded.checks if c.status == "failed")
    assert failed.diagnosis is not None
    message = failed.diagnosis.message
    check = replace(failed, visibility="public", evidence=(message, "another line"))
    blocked = replace(
        graded.checks[3],
        reason="not assessed because X did not pass",
        evidence=("not assessed because X did not pass",),
    )
    doc = gradescope_results(replace(graded, checks=(*graded.checks[:2], check, blocked)))
    outputs = [t["output"] for t in doc["tests"]]
    assert outputs[2].count(md_escape(message)) == 1 and "another line" in outputs[2]
    assert outputs[3].count("not assessed because X did not pass") == 1


def test_gradescope_execution_time_is_rounded_up(graded: GradeResult) -> None:
    """A sub-second run says 1 second (the spec's unit), not 0; the exact time is in extra_data."""
    doc = gradescope_results(graded, execution_time=0.42)
    assert doc["execution_time"] == 1 and doc["extra_data"]["seconds"] == 0.42


def test_gradescope_ungradable_scores_zero_with_the_reason() -> None:
    """An ungradable submission scores 0 with no tests; its output is the reason."""
    result = GradeResult(SubmissionRef("x"), "ungradable", reason="lab.ipynb is not valid JSON")
    doc = gradescope_results(result)
    validate_gradescope(doc)
    assert (doc["score"], doc["tests"]) == (0.0, [])
    assert "lab.ipynb is not valid JSON" in doc["output"]


def test_gradescope_markdown_is_escaped(graded: GradeResult) -> None:
    """Evidence with Markdown characters is shown literally, not as formatting."""
    check = replace(graded.checks[0], evidence=("W1 * A1 and dW_1 <script>",))
    doc = gradescope_results(replace(graded, checks=(check, *graded.checks[1:])))
    assert r"W1 \* A1 and dW\_1 \<script\>" in doc["tests"][0]["output"]


# --- JUnit ----------------------------------------------------------------------------


def test_junit_structure(class_rows: list[Row]) -> None:
    """One testsuite per submission, one testcase per check, counts that add up."""
    root = ET.fromstring(junit_xml(class_rows))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["alice", "bob", "carol", "dan"]
    alice, bob, carol, dan = suites
    assert len(alice.findall("testcase")) == 4 and alice.get("failures") == "0"
    assert bob.get("failures") == "1" and bob.find("testcase/failure") is not None
    assert carol.find("testcase/failure").get("type") == "ungradable"  # type: ignore[union-attr]
    assert dan.find("testcase/skipped") is not None
    total = sum(int(s.get("tests", "0")) for s in suites)
    assert root.get("tests") == str(total) == "10"
    for case in root.iter("testcase"):
        assert case.get("name") and case.get("classname")


def test_junit_statuses_map_to_elements(graded: GradeResult) -> None:
    """Failed -> failure with evidence, not assessed -> skipped, grader error -> error."""
    error = replace(graded.checks[0], status="error", points=0.0, reason="reference crashed")
    result = replace(graded, checks=(error, *graded.checks[1:]))
    suite = ET.fromstring(junit_xml([result])).find("testsuite")
    assert suite is not None
    kinds = [next((child.tag for child in case), "passed") for case in suite.findall("testcase")]
    assert kinds == ["error", "passed", "failure", "skipped"]
    assert (suite.get("errors"), suite.get("failures"), suite.get("skipped")) == ("1", "1", "1")
    failure = suite.find("testcase/failure")
    assert failure is not None and "Next step: Derive V1" in (failure.text or "")


def test_junit_public_view_hides_hidden_inputs(graded: GradeResult) -> None:
    """By default hidden checks' evidence is replaced; the instructor's view keeps it."""
    assert fakes.SECRET not in junit_xml([graded])
    assert fakes.SECRET in junit_xml([graded], public=False)


def test_junit_times_come_from_the_run(graded: GradeResult) -> None:
    """Each testcase's time is its check's recorded seconds; the suite's, the job's."""
    seconds = {c.check_id: 0.25 * (i + 1) for i, c in enumerate(graded.checks)}
    provenance = {**graded.provenance, "check_seconds": seconds, "sandbox_seconds": 3.5}
    suite = ET.fromstring(junit_xml([replace(graded, provenance=provenance)])).find("testsuite")
    assert suite is not None and suite.get("time") == "3.500"
    times = [float(case.get("time", "0")) for case in suite.findall("testcase")]
    assert times == list(seconds.values())


def test_junit_survives_control_characters(graded: GradeResult) -> None:
    """Evidence with NUL or escape bytes still gives well-formed XML."""
    check = replace(graded.checks[2], visibility="public", evidence=("bad \x00 \x1b[31m out",))
    text = junit_xml([replace(graded, checks=(*graded.checks[:2], check, graded.checks[3]))])
    failure = ET.fromstring(text).find("testsuite/testcase/failure")
    assert failure is not None and "bad" in (failure.text or "")


# --- Markdown summary ----------------------------------------------------------------------


def test_xml_text_keeps_exactly_what_xml_1_0_allows() -> None:
    """Every code point: kept when XML 1.0's Char production allows it, else replaced."""

    def allowed(c: int) -> bool:
        return c in (0x9, 0xA, 0xD) or 0x20 <= c <= 0xD7FF or 0xE000 <= c <= 0xFFFD or c >= 0x10000

    every = "".join(map(chr, range(0x110000)))
    expected = "".join(ch if allowed(ord(ch)) else "\ufffd" for ch in every)
    assert xml_text(every) == expected


def test_class_summary_counts(class_rows: list[Row]) -> None:
    """Counts per status, points of the graded, and who needs attention."""
    text = class_summary(class_rows, title="Lab 3")
    assert text.startswith("# Lab 3\n")
    assert "| all | 4 |" in text and "| graded | 2 |" in text
    assert "| not graded yet | 1 |" in text
    assert "mean 6, median 6, min 4.5, max 7.5" in text
    assert "**carol** (ungradable): carol.pdf is a PDF" in text


def test_class_summary_objectives_and_misconceptions(class_rows: list[Row], tmp_path: Path) -> None:
    """Per-objective level counts; a misconception counts once per student, not per check."""
    text = class_summary(class_rows)
    assert "| Back-propagate through a two-layer perceptron | 1 | 1 | 0 | 0 |" in text
    assert "| hidden derivative A2(1-A2) missing | 1 |" in text
    twice = fakes.grade(
        fakes.write(tmp_path, "eve.py", "# fake: fail grad_out", "# fake: fail grad_hidden")
    )
    assert "| hidden derivative A2(1-A2) missing | 2 |" in class_summary(
        [*class_rows, Row.of(twice)]
    )


def test_class_summary_never_shows_evidence(tmp_path: Path) -> None:
    """Even a failed hidden check's evidence (with its expected value) stays out."""
    result = fakes.grade(fakes.write(tmp_path, "a.py", "# fake: fail grad_penalty"))
    assert fakes.SECRET not in class_summary([Row.of(result)])


def test_summary_escapes_identities() -> None:
    """A pipe or star in an identity cannot break the Markdown table or list."""
    text = class_summary([Row("a|b*", "ungradable", "x")])
    assert r"**a\|b\***" in text


def test_csv_text_reads_back_with_commas_and_quotes(tmp_path: Path) -> None:
    """Reasons with commas, quotes and newlines survive the round trip (RFC 4180)."""
    reason = 'lab.ipynb is "broken", really\nsecond line'
    rows = read_csv(write_gradebook_csv(tmp_path / "g.csv", [Row("a", "ungradable", reason)]))
    assert rows[0]["reason"] == reason
