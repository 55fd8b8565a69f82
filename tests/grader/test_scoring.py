"""Scoring: points and per-objective mastery with their evidence; the versioned JSON result."""

from __future__ import annotations

import json

import numpy as np
import pytest

from grader.checks import ProbeView, evaluate_check
from grader.compare import compare
from grader.diagnose import Candidate, diagnose
from grader.results import SCHEMA, CheckResult, GradeResult, SubmissionRef
from grader.rubric_file import parse_rubric
from grader.scoring import mastery_level, public_view, score

RUBRIC = b"""
[assignment]
id = "scoring_test"
title = "Scoring under test"
execution = "full"

[[objectives]]
id = "a"
title = "Objective A"
demonstrates = "A is shown."

[[objectives]]
id = "b"
title = "Objective B"
demonstrates = "B is shown."

[[checks]]
id = "a1"
objective = "a"
probe = "forward"
points = 2

[[checks]]
id = "a2"
objective = "a"
probe = "forward"
points = 3
visibility = "hidden"

[[checks]]
id = "b1"
objective = "b"
probe = "cost"
points = 1
"""


@pytest.fixture(scope="module")
def rubric():
    return parse_rubric(RUBRIC, "scoring_test.toml")


def result(check_id: str, status: str, max_points: float, **kw) -> CheckResult:
    objective = check_id[0]
    points = max_points if status == "passed" else 0.0
    visibility = "hidden" if check_id == "a2" else "public"
    evidence = kw.pop("evidence", (f"{check_id} observed something with numbers 0.25",))
    return CheckResult(
        check_id, objective, status, points, max_points, visibility, evidence=evidence, **kw
    )  # type: ignore[arg-type]


def results(a1: str, a2: str, b1: str) -> list[CheckResult]:
    return [result("a1", a1, 2.0), result("a2", a2, 3.0), result("b1", b1, 1.0)]


# -- mastery ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "level"),
    [
        (("passed", "passed"), "demonstrated"),
        (("passed", "not_assessed"), "demonstrated"),
        (("passed", "failed"), "partly"),
        (("failed", "failed"), "not yet"),
        (("failed", "error"), "not yet"),
        (("not_assessed", "error"), "not assessed"),
    ],
)
def test_mastery_levels(statuses, level):
    """Demonstrated: every assessed check passed; partly: some; not yet: none; not assessed: none assessed."""
    rs = [result("a1", statuses[0], 2.0), result("a2", statuses[1], 3.0)]
    assert mastery_level(rs) == level


def test_score_sums_points_including_hidden_checks(rubric):
    """Points add up over every check, hidden ones included; max is the rubric's total."""
    s = score(rubric, results("passed", "passed", "failed"))
    assert (s.points, s.max_points) == (5.0, 6.0)
    assert s.counts == {"passed": 2, "failed": 1, "not_assessed": 0, "error": 0}
    assert s.complete


def test_objective_mastery_carries_its_evidence(rubric):
    """Each objective lists its checks with their one-line evidence, and its own points."""
    s = score(rubric, results("passed", "failed", "not_assessed"))
    a, b = s.objectives
    assert (a.objective, a.level, a.points, a.max_points) == ("a", "partly", 2.0, 5.0)
    assert [(e.check_id, e.status) for e in a.evidence] == [("a1", "passed"), ("a2", "failed")]
    assert a.evidence[0].sentence == "a1 observed something with numbers 0.25"
    assert b.level == "not assessed"


def test_evidence_sentence_prefers_the_reason():
    """A not-assessed check's evidence is its reason (e.g. which prerequisite did not pass)."""
    r = result("a1", "not_assessed", 2.0, reason="not assessed because 'a0' did not pass")
    assert r.headline == "not assessed because 'a0' did not pass"


def test_grader_error_marks_the_score_incomplete(rubric):
    """A grader-side error makes the score incomplete and is not evidence of mastery."""
    s = score(rubric, results("passed", "error", "passed"))
    assert not s.complete and s.objectives[0].level == "demonstrated"


def test_public_view_hides_hidden_evidence(rubric):
    """public_view replaces hidden checks' evidence by passed/failed, and keeps points and levels."""
    s = score(rubric, results("passed", "failed", "passed"))
    p = public_view(s)
    hidden = p.objectives[0].evidence[1]
    assert hidden.sentence == "a hidden check of this objective failed"
    assert "0.25" not in json.dumps(p.to_dict()["objectives"][0]["evidence"][1])
    assert p.objectives[0].evidence[0] == s.objectives[0].evidence[0]  # public evidence untouched
    assert (p.points, p.objectives[0].level) == (s.points, s.objectives[0].level)


def test_score_rejects_results_that_do_not_fit(rubric):
    """Missing, unknown, duplicated or over-scored results raise instead of scoring silently."""
    rs = results("passed", "passed", "passed")
    with pytest.raises(ValueError, match="missing"):
        score(rubric, rs[:2])
    with pytest.raises(ValueError, match="unknown"):
        score(rubric, [*rs, result("c1", "passed", 1.0)])
    with pytest.raises(ValueError, match="two results"):
        score(rubric, [*rs, rs[0]])
    with pytest.raises(ValueError, match="does not fit"):
        score(rubric, [result("a1", "passed", 9.0), *rs[1:]])


# -- GradeResult ------------------------------------------------------------------


@pytest.fixture(scope="module")
def grade(rubric) -> GradeResult:
    """A realistic result: comparisons with measures (some undefined), a diagnosis, a hidden check."""
    exp = np.arange(6.0).reshape(2, 3) / 7
    bug = Candidate(
        "derivative_on_z", "misconception", {"A_out": exp / 3}, "derivative at Z", "d", "t", "n"
    )
    spec = rubric.check("a1")
    failed = evaluate_check(spec, ProbeView("ok", {"A_out": exp / 3}), {"A_out": exp}, [bug])
    zero = compare("cost", np.array(1.0), np.array(0.0))
    checks = (
        failed,
        result("a2", "passed", 3.0, comparisons=(compare("A_out", exp, exp),)),
        result("b1", "failed", 1.0, comparisons=(zero,)),
    )
    return GradeResult(
        submission=SubmissionRef("alice", "subs/alice.ipynb", "ab" * 32),
        status="graded",
        checks=checks,
        score=score(rubric, checks),
        provenance={
            "grader_version": "0.1.0",
            "rubric_hash": rubric.content_hash,
            "python": "3.11.7",
            "numpy": np.__version__,
            "seeds": [1, 7],
            "sandbox_tier": "bwrap",
            "limits": {"timeout": 5.0, "memory_mb": 512},
        },
        notes=("definitions mode: cell 4 (a plot) was skipped",),
        stdout="epoch 1 cost 0.3333333333333333\n",
        stderr="",
    )


def test_json_round_trip_is_exact(grade):
    """from_json(to_json()) reproduces the result exactly, and serialising again gives the same text."""
    text = grade.to_json()
    back = GradeResult.from_json(text)
    assert back == grade
    assert back.to_json() == text
    assert (
        back.checks[0].diagnosis is not None and back.checks[0].diagnosis.name == "derivative_on_z"
    )


def test_json_carries_the_schema_and_is_plain_json(grade):
    """The JSON names its schema and holds only standard JSON (no NaN or Infinity)."""
    text = grade.to_json()
    data = json.loads(text)
    assert data["schema"] == SCHEMA == "mlp-grader/result/1"
    assert "NaN" not in text and "Infinity" not in text
    assert data["checks"][2]["comparisons"][0]["measures"]["cosine"] is None


def test_unknown_schema_is_refused(grade):
    """A JSON object of another schema version is rejected by name."""
    data = grade.to_dict()
    data["schema"] = "mlp-grader/result/0"
    with pytest.raises(ValueError, match="mlp-grader/result/0"):
        GradeResult.from_dict(data)


def test_ungradable_result_needs_a_reason():
    """An ungradable result without a reason is refused; with one it round-trips."""
    with pytest.raises(ValueError, match="reason"):
        GradeResult(SubmissionRef("bob"), "ungradable")
    r = GradeResult(
        SubmissionRef("bob"), "ungradable", reason="bob.ipynb is not valid JSON (line 3)"
    )
    assert GradeResult.from_json(r.to_json()) == r


def test_public_grade_hides_hidden_comparisons(grade):
    """The student's view of a result drops hidden checks' comparisons and evidence but keeps their status."""
    hidden = grade.public_view().checks[1]
    assert (hidden.check_id, hidden.status, hidden.points) == ("a2", "passed", 3.0)
    assert hidden.comparisons == () and hidden.evidence == ("a hidden check passed",)
    assert grade.public_view().checks[0] == grade.checks[0]


def test_public_view_drops_a_hidden_failures_reason():
    """A hidden check's failure reason (an exception may quote hidden shapes) is not shown."""
    r = CheckResult(
        "a2", "a", "failed", 0.0, 3.0, "hidden", reason="ValueError: shapes (4,13) (5,13)"
    )
    assert r.public_view().reason == "" and r.public_view().status == "failed"


def test_diagnosis_in_result_came_from_diagnose(grade):
    """The stored diagnosis is exactly what diagnose() returns for the same arrays."""
    exp = np.arange(6.0).reshape(2, 3) / 7
    bug = Candidate(
        "derivative_on_z", "misconception", {"A_out": exp / 3}, "derivative at Z", "d", "t", "n"
    )
    assert grade.checks[0].diagnosis == diagnose({"A_out": exp / 3}, [bug], expected={"A_out": exp})


def test_an_objective_with_a_blocked_check_is_only_partly_demonstrated():
    """All assessed checks passed, but one was not assessed because its prerequisite failed."""
    from grader.results import CheckResult
    from grader.scoring import mastery_level

    passed = CheckResult("a", "o", "passed", 1.0, 1.0)
    blocked = CheckResult("b", "o", "not_assessed", 0.0, 3.0, reason="x", blocked_by=("z",))
    unsupported = CheckResult("c", "o", "not_assessed", 0.0, 3.0, reason="no such method")
    assert mastery_level([passed, blocked]) == "partly"
    assert mastery_level([passed, unsupported]) == "demonstrated"
