"""The API-shape corpus (submissions/realshapes/) graded end to end by the shipped rubrics.

Every sample is correct code in a shape of a real published version: discovery must bind
the labelled class, every check must pass except those whose method does not exist, and
those are "not assessed" (never failed), with the binding's provenance in the result.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
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
    credited = {c.check_id: c.convention for c in result.checks if c.convention is not None}
    assert credited == label.get("credited", {}), credited
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


def test_a_combination_is_credited_only_where_each_part_is() -> None:
    """The 2022 08a shape follows inverse-time cooling and momentum on the biases together.
    With the rubric crediting only inverse_time, the replay fails and names the
    combination (computed because one part is credited), never one part alone."""
    rubric = load_rubric(ROOT / "rubrics" / "mlp_backprop_course.toml")
    replay = rubric.check("replay")
    narrowed = replace(
        rubric,
        checks=tuple(
            replace(c, compare=replace(c.compare, accept=("inverse_time",))) if c is replay else c
            for c in rubric.checks
        ),
    )
    result = grade_submission(CORPUS / "course_08a_bias_momentum.py", narrowed)
    check = next(c for c in result.checks if c.check_id == "replay")
    assert check.status == "failed"
    assert check.diagnosis is not None
    assert check.diagnosis.name == "bias_momentum+inverse_time"
    assert any("does not accept" in e for e in check.evidence), check.evidence


def test_a_fit_that_games_the_one_step_reading_earns_no_gradient_point() -> None:
    """submissions/hostile/fit_step_liar.py: a textbook-shaped class whose inline gradient is
    read off one step of its fit asks the grader's stand-in generator for an enormous array,
    swallows the refusal, scribbles on the arrays it was handed and steps by a made-up
    gradient. The refusal is recorded whatever fit catches: every gradient check is "not
    assessed" with the parent's own reason (never the child's text), and nothing is earned."""
    rubric = load_rubric(ROOT / "rubrics" / "textbook_mlp.toml")
    result = grade_submission(ROOT / "submissions" / "hostile" / "fit_step_liar.py", rubric)
    assert result.status == "graded"
    grads = [c for c in result.checks if rubric.check(c.check_id).probe == "gradients"]
    assert grads
    for c in grads:
        assert c.status == "not_assessed" and c.points == 0, (c.check_id, c.status)
        assert "could not be started from the grader's weights" in c.reason
        assert "10**9" not in c.reason and "drew more than" not in c.reason  # the parent's words


def test_a_fit_that_swallows_the_permutation_refusal_earns_no_replay_point() -> None:
    """submissions/hostile/permutation_refusal_swallowed.py: a course-shaped class draws an
    extra permutation each epoch from the replay's stand-in, swallows the refusal once the
    draws run out and trains on with made-up weights. The refusal is recorded whatever fit
    catches: the replay is "not assessed" in the parent's words, and earns nothing."""
    rubric = load_rubric(ROOT / "rubrics" / "mlp_backprop_course.toml")
    path = ROOT / "submissions" / "hostile" / "permutation_refusal_swallowed.py"
    result = grade_submission(path, rubric)
    replay = next(c for c in result.checks if c.check_id == "replay")
    assert replay.status == "not_assessed" and replay.points == 0
    assert "cannot be replayed draw by draw" in replay.reason
    assert "your code raised" not in replay.reason


def test_one_step_of_fit_leaves_numpy_as_it_found_it() -> None:
    """Reading a gradient off one step of fit restores numpy's generator functions and takes
    the removed aliases (np.float) away again, also when fit raises."""
    import numpy as np

    from grader.adapters import child_probes

    before = {f: getattr(np.random, f) for f in child_probes._DRAW_FUNCTIONS}
    draws = child_probes._StartDraws([np.ones((2, 3))])

    class Net:
        def __init__(self) -> None:
            self.random = np.random.RandomState(0)

    net = Net()

    def fit() -> None:
        assert np.float is float  # type: ignore[attr-defined]
        assert net.random is draws and np.random.normal is not before["normal"]
        assert np.array_equal(net.random.normal(0, 1, size=(3, 2)), np.ones((3, 2)))
        raise ValueError("the student's own error")

    with pytest.raises(ValueError, match="own error"):
        child_probes._run_fit_with_draws(net, fit, draws)
    assert {f: getattr(np.random, f) for f in child_probes._DRAW_FUNCTIONS} == before
    assert "float" not in np.__dict__
    assert draws.handed == 1 and not draws.refused


def test_parameter_lists_that_lie_about_what_was_set_earn_nothing() -> None:
    """submissions/hostile/attribute_lists_liar.py: its weights and biases are properties that
    keep made-up arrays and hand out a list subclass claiming to hold whatever is asked, with a
    __len__ that never answers. Discovery binds it as a class reading its parameters from the
    instance; the child reads back what it set (by identity, from a real list only), so every
    check that needs the parameters is "not assessed" in the parent's words, grading ends, and
    only the honest one-hot encoding earns its point."""
    rubric = load_rubric(ROOT / "rubrics" / "mlp_backprop_course.toml")
    result = grade_submission(ROOT / "submissions" / "hostile" / "attribute_lists_liar.py", rubric)
    assert result.status == "graded"
    assert result.provenance["binding"]["params_in"].startswith("W1 = weights[0]")
    checks = {c.check_id: c for c in result.checks}
    for check in ("forward", "self_consistent"):
        assert checks[check].status == "not_assessed", checks[check].reason
        assert "did not hold them" in checks[check].reason
        assert "your code raised" not in checks[check].reason
    assert not any(c.status == "passed" for c in result.checks if c.check_id != "one_hot")
    assert result.score is not None and result.score.points == checks["one_hot"].points


def test_a_forward_pass_that_never_ends_is_never_iterated() -> None:
    """submissions/hostile/forward_generator.py: _feedforward(X) returns an endless generator.
    The child reads only a list or tuple as the activations: the forward check fails at once,
    saying what came back, and nothing that needs the forward pass earns a point."""
    rubric = load_rubric(ROOT / "rubrics" / "mlp_backprop_course.toml")
    result = grade_submission(ROOT / "submissions" / "hostile" / "forward_generator.py", rubric)
    assert result.status == "graded"
    forward = next(c for c in result.checks if c.check_id == "forward")
    assert forward.status == "failed" and "returned generator" in forward.reason
    assert not any(c.status == "passed" for c in result.checks if c.check_id != "one_hot")
