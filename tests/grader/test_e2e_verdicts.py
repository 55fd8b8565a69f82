"""End to end: verdicts that never accuse wrongly (issue 11, item 3).

- A difference is charged once: the printed cost's own form (the penalty over every
  weight, the factor C) is the cost check's, which credits the course's own forms by name,
  and the replay, which judges the training trajectory, passes and says why.
- The grader's clock: a timing measurement it cannot trust is measured again, and
  measurements that disagree are "not assessed", never failed. The untrustworthy
  measurement is simulated by inflating the supervisor's time of the timing probe in the
  job's result (no timed assertions: the real times only decide the unsimulated part).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from grader import pipeline
from grader.grade import GradeSettings, close_workers, grade_submission
from grader.results import GradeResult
from grader.rubric_file import load_rubric

ROOT = Path(__file__).resolve().parents[2]
CONVENTIONS = ROOT / "submissions" / "conventions"
COURSE_RUBRIC = ROOT / "rubrics" / "mlp_backprop_course.toml"
COURSE_OK = ROOT / "submissions" / "correct" / "course_separate_ok.ipynb"
SETTINGS = GradeSettings(warm=True, figures=False)


@pytest.fixture(scope="module", autouse=True)
def _warm_workers() -> Iterator[None]:
    yield
    close_workers()


def _by_id(result: GradeResult) -> dict[str, object]:
    return {c.check_id: c for c in result.checks}


@pytest.mark.parametrize(
    ("sample", "convention"),
    [
        ("course_printed_all_weights.ipynb", "printed_all_weights"),
        ("course_printed_full_C.ipynb", "printed_full_C"),
    ],
)
def test_a_printed_cost_form_is_named_by_the_cost_check_and_costs_nothing(sample, convention):
    """Parameters exact, only the printed cost differs, in a form of the course's own
    notebooks: the cost check passes crediting the form by name, with the course's form as
    an optional suggestion; the replay passes, says the cost_ difference is that form's and
    is not charged again, and credits no convention. Full marks."""
    result = grade_submission(CONVENTIONS / sample, load_rubric(COURSE_RUBRIC), SETTINGS)
    checks = _by_id(result)
    cost, replay = checks["cost"], checks["replay"]
    assert cost.status == "passed" and cost.convention == convention
    assert any("Optional:" in e for e in cost.evidence), cost.evidence
    assert replay.status == "passed" and replay.convention is None
    assert any("does not charge it again" in e for e in replay.evidence), replay.evidence
    assert result.score.points == result.score.max_points


def test_a_printed_cost_of_no_known_form_still_fails(tmp_path):
    """The same class printing the squared errors summed instead of averaged (a form no course
    notebook uses): the cost check fails, naming no convention, and charges it once: the
    replay, whose parameters and score_ match, passes and says its cost_ is the cost check's."""
    source = (CONVENTIONS / "src" / "course_printed_full_C.py").read_text(encoding="utf-8")
    assert source.count("np.mean((Y_enc - A3) ** 2)") == 1
    summed = tmp_path / "course_printed_summed.py"
    summed.write_text(source.replace("np.mean((Y_enc - A3) ** 2)", "np.sum((Y_enc - A3) ** 2)"))
    result = grade_submission(summed, load_rubric(COURSE_RUBRIC), SETTINGS)
    cost, replay = _by_id(result)["cost"], _by_id(result)["replay"]
    assert cost.status == "failed" and cost.convention is None
    assert cost.diagnosis is None or cost.diagnosis.kind != "convention"
    assert replay.status == "passed" and replay.convention is None
    assert any("does not charge it again" in e for e in replay.evidence), replay.evidence
    assert result.score.points == result.score.max_points - cost.max_points


def _inflating(factors: list[float]) -> object:
    """A stand-in for pipeline._run whose n-th job reports the timing probe as taking
    factors[n] times what the supervisor measured (the rest of the result untouched); n counts
    only the jobs that time anything."""
    real = pipeline._run
    calls = {"n": 0}

    def run(*args, **kwargs):  # type: ignore[no-untyped-def]
        job, source = real(*args, **kwargs)
        plan = args[2]
        timing = {p.call.id for p in plan.probes if p.call.call == "timing"}
        if not timing:  # discovery's setup-only job and its confirmations time nothing
            return job, source
        factor = factors[min(calls["n"], len(factors) - 1)]
        calls["n"] += 1
        probes = tuple(
            replace(p, seconds=p.seconds * factor) if p.id in timing else p for p in job.probes
        )
        return replace(job, probes=probes), source

    run.calls = calls  # type: ignore[attr-defined]
    return run


def test_a_stalled_clock_is_measured_again_and_the_student_keeps_the_point(monkeypatch):
    """The first measurement of a correct, vectorised gradient is inflated 50-fold (a stall
    on a loaded machine): the grader measures again in a fresh job and passes it, saying
    it measured twice."""
    run = _inflating([50.0, 1.0])
    monkeypatch.setattr(pipeline, "_run", run)
    result = grade_submission(COURSE_OK, load_rubric(COURSE_RUBRIC), SETTINGS)
    vectorised = _by_id(result)["vectorised"]
    assert run.calls["n"] == 2  # the whole job, then the timing probe alone
    assert vectorised.status == "passed", vectorised.evidence
    assert "the grader measured 2 times" in vectorised.evidence[-1]
    assert result.score.points == result.score.max_points


def test_measurements_that_disagree_are_not_assessed_never_failed(monkeypatch):
    """Every measurement inflated, each by a very different factor: after the bounded
    retries (3 measurements) the timing is "not assessed" with the instructor's reason."""
    run = _inflating([50.0, 400.0, 3000.0])
    monkeypatch.setattr(pipeline, "_run", run)
    result = grade_submission(COURSE_OK, load_rubric(COURSE_RUBRIC), SETTINGS)
    vectorised = _by_id(result)["vectorised"]
    assert run.calls["n"] == 3
    assert vectorised.status == "not_assessed", vectorised.evidence
    assert "could not trust its own clock" in vectorised.reason
    others = [c for c in result.checks if c.check_id != "vectorised"]
    assert all(c.status == "passed" for c in others)


DEMO_ALICE = ROOT / "submissions" / "demo" / "alice.ipynb"
TEMPLATE_RUBRIC = ROOT / "rubrics" / "mlp_backprop.toml"


@pytest.mark.parametrize("package", ["IPython", "not_installed_display_pkg"])
def test_a_display_only_import_costs_nothing_installed_or_not(tmp_path, package):
    """The README's first command grades alice, whose first cell is the course notebooks'
    `from IPython.display import YouTubeVideo` (and `%matplotlib inline`): full marks, and
    the same with the display package missing from the grading environment."""
    text = DEMO_ALICE.read_text(encoding="utf-8")
    assert "from IPython.display import YouTubeVideo" in text
    notebook = tmp_path / "alice.ipynb"
    notebook.write_text(text.replace("IPython.display", f"{package}.display"), encoding="utf-8")
    rubric = load_rubric(TEMPLATE_RUBRIC)
    result = grade_submission(notebook, rubric, SETTINGS)
    assert result.status == "graded"
    assert [c.check_id for c in result.checks if c.status != "passed"] == []
    assert result.score.points == rubric.max_points
