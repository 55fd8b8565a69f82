"""No shipped rubric's problems hide a registered bug.

A misconception the oracle computes for a rubric's checks must fail at least one of them
when a submission answers exactly as that misconception does: otherwise a student with
that bug scores full marks, whatever the feedback says about it. Each candidate's output
is judged by the check's own judge, prerequisites passed, on the problems the rubric
draws; a timing check is not a judge of values and is left out.

Found by this test: stateful cooling (a cooling function that multiplies self.eta) is
right when asked once per epoch in order, which is all the schedule check and the replay
ask; the cross-entropy rubric lacked the out-of-order question (`cooling_asked_again`)
that the course rubric has.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.adapters.binding import AdapterBinding
from grader.checks import ProbeView, evaluate_check
from grader.plan import make_plan
from grader.reference_oracle import reference_expectations
from grader.results import CheckResult
from grader.rubric import RubricError
from grader.rubric_file import load_rubric

RUBRICS = Path(__file__).resolve().parents[2] / "rubrics"

# (rubric, misconception) -> why it may pass every check of that rubric
NOT_A_BUG_THERE = {
    ("mlp_backprop_course_folded.toml", "compounding_decay"): (
        "the folded style's own default: its classes compound the decay (eta /= 1 + d*k), "
        "so the candidate under inverse_time is the expected answer itself"
    ),
}


def shipped() -> list[Path]:
    out = []
    for path in sorted(RUBRICS.glob("*.toml")):
        try:
            load_rubric(path)
        except RubricError:
            continue  # not a rubric (reference_default.toml holds the reference's defaults)
        out.append(path)
    return out


@pytest.mark.parametrize("path", shipped(), ids=lambda p: p.name)
def test_every_misconception_a_rubric_computes_fails_one_of_its_checks(path: Path) -> None:
    rubric = load_rubric(path)
    plan = make_plan(rubric, AdapterBinding.from_table(rubric.adapter))
    exp = reference_expectations(plan)
    caught: set[str] = set()
    seen: dict[str, list[str]] = {}
    for spec in rubric.checks:
        if spec.probe == "timing":
            continue
        passed = {r: CheckResult(r, "x", "passed", 1.0, 1.0) for r in spec.requires}
        expected = exp.expected[spec.id]
        for cand in exp.candidates.get(spec.id, ()):
            if cand.kind != "misconception":
                continue
            answer = ProbeView("ok", {**expected, **cand.arrays})
            result = evaluate_check(
                spec,
                answer,
                expected,
                exp.candidates[spec.id],
                passed,
                penalty=exp.penalties.get(spec.id),
            )
            seen.setdefault(cand.name, []).append(f"{spec.id}: {result.status}")
            if result.status == "failed":
                caught.add(cand.name)
    assert seen, f"{path.name}: the oracle computed no misconception at all"
    hidden = {
        name: where
        for name, where in seen.items()
        if name not in caught and (path.name, name) not in NOT_A_BUG_THERE
    }
    assert not hidden, f"{path.name}: these bugs pass every check: {hidden}"
    stale = [m for r, m in NOT_A_BUG_THERE if r == path.name and m in caught]
    assert not stale, f"{path.name}: excused but caught after all: {stale}"
