"""Convergence by envelope (probe "converge"), end to end on our own course and textbook samples.

The student's fit runs from its own start and batch order (seeded, so a grade repeats);
the reference trains from other starts (tests/grader/fixtures/*_envelope.toml).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from grader.adapters.binding import AdapterBinding
from grader.grade import GradeSettings, close_workers, grade_submission
from grader.plan import make_plan
from grader.probes import batch_orders, envelope
from grader.results import CheckResult
from grader.rubric import Rubric, RubricError
from grader.rubric_file import load_rubric, parse_rubric
from reference import network
from reference.objectives import data_term, penalty_term
from reference.params import Params
from reference.training import train

ROOT = Path(__file__).resolve().parents[2]
RUBRIC = ROOT / "tests" / "grader" / "fixtures" / "course_envelope.toml"
COURSE_OK = ROOT / "submissions" / "correct" / "course_separate_ok.ipynb"
SIGN_FLIP = ROOT / "submissions" / "buggy" / "course_separate_sign_flip_output_delta.ipynb"
TEXTBOOK_RUBRIC = ROOT / "tests" / "grader" / "fixtures" / "textbook_envelope.toml"
TEXTBOOK_OK = ROOT / "submissions" / "correct" / "textbook_rows_ok.py"
SETTINGS = GradeSettings(warm=True)


@pytest.fixture(scope="module")
def rubric() -> Iterator[Rubric]:
    yield load_rubric(RUBRIC)
    close_workers()


def _envelope(path: Path, rubric: Rubric) -> tuple[CheckResult, tuple[str, ...]]:
    result = grade_submission(path, rubric, SETTINGS)
    (check,) = result.checks
    figures = tuple(s.name for f in result.figures for s in f.series)
    return check, figures


def test_a_correct_class_trains_inside_the_envelope(rubric: Rubric) -> None:
    """The course sample's own run passes, with its accuracy and cost beside the band's."""
    check, figures = _envelope(COURSE_OK, rubric)
    assert check.status == "passed", check.evidence
    assert "held-out instances; the reference from 8 other starts" in check.evidence[0]
    assert "your last epoch's cost" in check.evidence[1]
    assert figures == ("your cost", "lowest correct", "highest correct")


def test_a_sign_flipped_gradient_does_not_converge(rubric: Rubric) -> None:
    """Gradient ascent on the output layer leaves the cost far above the reference's runs."""
    check, _ = _envelope(SIGN_FLIP, rubric)
    assert check.status == "failed"
    assert check.reason == "your network has not learned to classify as well as the reference does"
    assert "your cost did not come down as far as the reference's" in check.evidence


def test_the_same_code_gets_the_same_verdict_every_time(rubric: Rubric) -> None:
    """The student's run is seeded: two grades give the same evidence to the last digit."""
    assert _envelope(COURSE_OK, rubric)[0].evidence == _envelope(COURSE_OK, rubric)[0].evidence


def test_the_template_is_judged_by_its_replay_instead() -> None:
    """The template's train takes its start as arguments: converge is not assessed, with why."""
    text = RUBRIC.read_text(encoding="utf-8").replace(
        'style = "course_separate"\nclass = "TLPMiniBatch"', 'style = "template"'
    )
    template = parse_rubric(text.encode(), "template_envelope.toml")
    sample = ROOT / "submissions" / "correct" / "template_ok.ipynb"
    (check,) = grade_submission(sample, template, SETTINGS).checks
    assert check.status == "not_assessed"
    assert "checked by the replay" in check.reason


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("accuracy_margin", "2", "accuracy_margin"),
        ("seeds", "0", "seeds"),
        ("cost_margin", "-1", "cost_margin"),
    ],
)
def test_envelope_parameters_are_validated(key: str, value: str, message: str) -> None:
    """A margin or a number of runs out of range names the file and the key."""
    text = RUBRIC.read_text(encoding="utf-8")
    start = text.index(f"\n{key} = ") + 1
    end = text.index("\n", start)
    bad = text[:start] + f"{key} = {value}" + text[end:]
    with pytest.raises(RubricError, match=message):
        parse_rubric(bad.encode(), "bad_envelope.toml")


def test_the_textbooks_class_is_judged_by_its_own_training_run(tmp_path: Path) -> None:
    """NeuralNetMLP cannot be given a start: its fit passes the envelope, a flipped delta fails."""
    rubric = load_rubric(TEXTBOOK_RUBRIC)
    check, _ = _envelope(TEXTBOOK_OK, rubric)
    assert check.status == "passed", check.evidence
    source = TEXTBOOK_OK.read_text(encoding="utf-8")
    assert "delta_out = a_out - y_enc" in source
    flipped = tmp_path / "textbook_flipped.py"
    flipped.write_text(source.replace("delta_out = a_out - y_enc", "delta_out = y_enc - a_out"))
    check, _ = _envelope(flipped, rubric)
    assert check.status == "failed"
    assert "your cost did not come down as far as the reference's" in check.evidence


def test_the_envelope_is_in_the_units_the_textbooks_fit_records() -> None:
    """With one run, the band is that run's _compute_cost: data term + l2·||W||² (not l2/2)."""
    text = TEXTBOOK_RUBRIC.read_text(encoding="utf-8").replace("seeds = 8", "seeds = 1")
    rubric = parse_rubric(text.encode(), "one_run.toml")
    plan = make_plan(rubric, AdapterBinding.from_table(rubric.adapter))
    (ctx,) = plan.contexts.values()
    expected = envelope(ctx)
    start = Params.from_dict(
        {k[6:]: v[0] for k, v in ctx.inputs.items() if k[6:7] in "Wb" and k.startswith("start_")}
    )
    N, B = ctx.inputs["X"].shape[1], int(ctx.hyper["batch_size"])
    assert ctx.cost_objective.penalty == "l2" and ctx.objective.penalty == "l2_half"
    orders = batch_orders(ctx.inputs["start_perms"][0], N, int(ctx.hyper["epochs"]), True)
    batches = [[o[i : i + B] for i in range(0, N - B + 1, B)] for o in orders]
    final, _ = train(start, ctx.inputs["X"].T, ctx.inputs["y"], ctx.train_config(), batches)
    A = network.forward(final, ctx.inputs["X"], ctx.model).A[-1]
    cost = data_term(ctx.cost_objective, A, ctx.inputs["Y"]) + penalty_term(
        ctx.cost_objective, final, N
    )
    np.testing.assert_allclose(expected["cost_low"][-1], cost, rtol=1e-10)
    np.testing.assert_allclose(expected["cost_high"][-1], cost, rtol=1e-10)
