"""The API-shape corpus (submissions/realshapes/) graded end to end by the shipped rubrics.

Every sample is correct code in a shape of a real published version: discovery must bind
the labelled class, every check must pass except those whose method does not exist, and
those are "not assessed" (never failed), with the binding's provenance in the result.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from grader.grade import grade_submission
from grader.rubric_file import load_rubric

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "submissions" / "realshapes"
EXPECTED = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_shape_is_bound_and_gets_every_point_its_methods_allow(name: str) -> None:
    label = EXPECTED[name]
    rubric = load_rubric(ROOT / "rubrics" / label["rubric"])
    result = grade_submission(CORPUS / label["file"], rubric)
    assert result.status == "graded"
    binding = result.provenance["binding"]
    assert binding["class"] == label["bound"]
    assert label["bound"] in binding["sentence"]
    status = {c.check_id: c.status for c in result.checks}
    absent = set(label["not_assessed"])
    failed = set(label.get("failed", ()))  # a planted bug: exactly the checks it touches
    assert {c for c, s in status.items() if s == "not_assessed"} == absent
    assert {c for c, s in status.items() if s == "failed"} == failed, status
    assert all(s == "passed" for c, s in status.items() if c not in absent | failed), status
    named = {c.check_id: c.diagnosis.name for c in result.checks if c.diagnosis is not None}
    for check, name in label.get("named", {}).items():
        assert named.get(check) == name, (check, named)
    credited = {c.check_id: c.convention for c in result.checks if c.convention}
    for check, name in label.get("credited", {}).items():  # a convention, credited by name
        assert credited.get(check) == name, (check, credited)
    for c in result.checks:  # a not-assessed check always says why
        assert c.status != "not_assessed" or c.reason
    reasons = {c.check_id: c.reason for c in result.checks}
    for check, phrase in label.get("reason", {}).items():
        assert phrase in reasons[check], (check, reasons[check])
        assert "your code raised" not in reasons[check]


def test_a_claimed_unset_attribute_earns_nothing() -> None:
    """submissions/hostile/fake_attribute_unset.py: fit never trains and raises its own
    AttributeUnset with the adapter's message for the bound score_. The parent takes it for
    what it says (the replay is not assessed, with the parent's reason), and that earns
    nothing: the score is what it would be with the replay failed."""
    rubric = load_rubric(ROOT / "rubrics" / "mlp_backprop_course.toml")
    result = grade_submission(ROOT / "submissions" / "hostile" / "fake_attribute_unset.py", rubric)
    assert result.status == "graded"
    replay = next(c for c in result.checks if c.check_id == "replay")
    assert replay.status == "not_assessed" and replay.points == 0
    assert "without setting 'score_'" in replay.reason
    assert "AttributeUnset" not in replay.reason  # the parent's words, not the child's
    earned = sum(c.points for c in result.checks if c.status == "passed")
    assert result.score.points == earned <= rubric.max_points - replay.max_points


def test_decoy_classes_built_to_win_discovery_earn_nothing() -> None:
    """submissions/hostile/discovery_decoys.py: every method and keyword name, lying
    signatures, a huge listing; whatever discovery keeps, each check still compares the
    answers with the reference's, so the score is 0 and grading ends."""
    rubric = load_rubric(ROOT / "rubrics" / "mlp_backprop_course.toml")
    result = grade_submission(ROOT / "submissions" / "hostile" / "discovery_decoys.py", rubric)
    assert result.status == "graded"
    assert result.score.points == 0
    assert not any(c.status == "passed" for c in result.checks)
    # the swollen listing leaves the parent without the report (the rubric's own binding
    # stands); were it read, no decoy could be confirmed
    confirmed = str(result.provenance.get("binding", {}).get("confirmed", ""))
    assert not confirmed.startswith("Confirmed")


def test_a_lie_about_what_forward_returns_earns_nothing() -> None:
    """submissions/hostile/discovery_returns_liar.py: forward's ``__code__`` says it returns two
    values, the method it hands out returns five made-up arrays, and a method of 4,000 return
    statements swells the scan. The lie picks the binding; the answers still have to equal the
    reference's, so the score is 0, and the scan ends quickly."""
    rubric = load_rubric(ROOT / "rubrics" / "textbook_mlp.toml")
    result = grade_submission(
        ROOT / "submissions" / "hostile" / "discovery_returns_liar.py", rubric
    )
    assert result.status == "graded"
    assert result.score.points == 0
    assert not any(c.status == "passed" for c in result.checks)
    forward = next(c for c in result.checks if c.check_id == "forward")
    assert forward.status == "failed" and "returned 5 values" in " ".join(forward.evidence)


def test_signatures_a_class_claims_decide_no_binding_mismatch() -> None:
    """submissions/hostile/signature_claims.py: a ``__signature__`` and a descriptor's
    ``__code__`` claim fewer parameters than the binding passes, and the methods raise the
    TypeError Python gives for that. The parent holds the call against the code's own
    parameters only: the checks fail with the student's exception, never "not assessed"
    as the binding's mismatch; the honest forward pass still passes."""
    rubric = load_rubric(ROOT / "rubrics" / "mlp_backprop_course.toml")
    result = grade_submission(ROOT / "submissions" / "hostile" / "signature_claims.py", rubric)
    status = {c.check_id: c for c in result.checks}
    assert status["forward"].status == "passed"
    for check in ("grad_output", "cost"):
        assert status[check].status == "failed", status[check].reason
        assert "your code raised TypeError" in status[check].reason
    mismatch = "a mismatch between the rubric's [adapter] binding"
    assert not any(mismatch in c.reason for c in result.checks), [c.reason for c in result.checks]
    assert result.score is not None and result.score.points == status["forward"].points
