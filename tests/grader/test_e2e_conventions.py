"""End to end: correct submissions in every accepted convention get full marks.

Every correct sample (``submissions/correct/``, graded with the shipped rubric of its
adapter style) and every convention sample (``submissions/conventions/``, graded with the
rubric its ``expected.toml`` names) goes through the real pipeline,
``grade_submission`` with a warm sandbox worker. A convention sample must be credited and
told its convention by name; the same sample graded with a rubric that does not accept the
convention (the rubric's TOML with the name removed from every ``accept`` list) must fail
with that convention diagnosed.

Each sample is graded once per module (``graded``); the warm worker is closed at the end.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader import expectations
from grader.adapters import discover
from grader.adapters.binding import AdapterBinding
from grader.diagnose import CONVENTIONS
from grader.grade import GradeSettings, close_workers, grade_submission
from grader.plan import make_plan
from grader.results import CheckResult, GradeResult
from grader.rubric import Rubric
from grader.rubric_file import load_rubric, parse_rubric

ROOT = Path(__file__).resolve().parents[2]
RUBRICS = ROOT / "rubrics"
CORRECT = ROOT / "submissions" / "correct"
CONVENTION_SAMPLES = ROOT / "submissions" / "conventions"

# the shipped rubric that grades each adapter style's correct sample
STYLE_RUBRIC = {
    "template": "mlp_backprop.toml",
    "course_separate": "mlp_backprop_course.toml",
    "course_folded": "mlp_backprop_course_folded.toml",
    "textbook_rows": "textbook_mlp.toml",
}
SETTINGS = GradeSettings(warm=True)


def _entries(folder: Path) -> dict[str, dict[str, Any]]:
    with (folder / "expected.toml").open("rb") as f:
        return tomllib.load(f)


def _samples() -> list[tuple[str, Path, str, dict[str, Any]]]:
    """(id, submission path, rubric file name, expected.toml entry) of every sample."""
    out = []
    for name, entry in _entries(CORRECT).items():
        rubric = STYLE_RUBRIC[entry["adapter"]["style"]]
        out.append((f"correct/{name}", CORRECT / entry["file"], rubric, entry))
    for name, entry in _entries(CONVENTION_SAMPLES).items():
        out.append(
            (f"conventions/{name}", CONVENTION_SAMPLES / entry["file"], entry["rubric"], entry)
        )
    return out


SAMPLES = _samples()
FULL_MARKS = [s for s in SAMPLES if s[3]["outcome"] == "full_marks"]
WITH_CONVENTION = [s for s in FULL_MARKS if "convention" in s[3]]
NOT_ACCEPTED = [s for s in SAMPLES if s[3]["outcome"] == "convention_not_accepted"]


def _ids(samples: list[tuple[str, Path, str, dict[str, Any]]]) -> list[str]:
    return [s[0] for s in samples]


@pytest.fixture(scope="module", autouse=True)
def _warm_workers() -> Iterator[None]:
    """The warm sandbox workers this module starts are stopped when it ends."""
    yield
    close_workers()


@pytest.fixture(scope="module")
def graded() -> dict[tuple[str, str], GradeResult]:
    """(submission path, rubric source) -> its GradeResult, each graded once per module."""
    return {}


def _grade(
    cache: dict[tuple[str, str], GradeResult], path: Path, rubric: Rubric, key: str
) -> GradeResult:
    if (str(path), key) not in cache:
        cache[str(path), key] = grade_submission(path, rubric, SETTINGS)
    return cache[str(path), key]


def _without(rubric_file: str, convention: str) -> Rubric:
    """The shipped rubric with ``convention`` removed from every accept list (in memory)."""
    path = RUBRICS / rubric_file
    text = path.read_text(encoding="utf-8")

    def drop(m: re.Match[str]) -> str:
        kept = [n for n in re.findall(r'"([^"]+)"', m.group(1)) if n != convention]
        return f"accept = {json.dumps(kept)}"  # a JSON list of strings is a TOML array

    edited, n = re.subn(r"^accept = \[([^\]]*)\]", drop, text, flags=re.M)
    assert n > 0, f"{rubric_file} has no accept list to edit"
    return parse_rubric(edited.encode("utf-8"), path)


def _train_candidates_computed(rubric: Rubric, check_id: str, convention: str) -> bool:
    """Whether the grader computes ``convention``'s candidate for the check's probe.

    The train probe needs a candidate per convention before an accepted convention can be
    credited on a replay; this asks grader.expectations directly, on the rubric's own plan.
    """
    plan = make_plan(rubric, AdapterBinding.from_table(rubric.adapter))
    ctx = plan.context_of(check_id)
    return any(c.name == convention for c in expectations.candidates(ctx))


def _credit_pending(rubric: Rubric, result: CheckResult, convention: str | None) -> bool:
    """A replay that accepts ``convention`` but the grader cannot credit it yet (see above)."""
    spec = rubric.check(result.check_id)
    return (
        convention is not None
        and spec.probe == "train"
        and convention in spec.compare.accept
        and not _train_candidates_computed(rubric, spec.id, convention)
    )


def _summary(result: GradeResult) -> str:
    return "; ".join(
        f"{c.check_id}: {c.status} ({c.evidence[-1] if c.evidence else ''})"
        for c in result.checks
        if c.status != "passed"
    )


# ---------------------------------------------------------------------------
# The samples and their rubrics agree


@pytest.mark.parametrize(("sample", "path", "rubric_file", "entry"), SAMPLES, ids=_ids(SAMPLES))
def test_rubric_binds_the_sample_as_expected_toml_says(sample, path, rubric_file, entry):
    """The rubric's [adapter] is the binding the sample's expected.toml records; a rubric
    that leaves the names to discovery (grader.adapters.discover) fixes only the style, and
    every key it does pin is the sample's."""
    rubric = load_rubric(RUBRICS / rubric_file)
    assert path.is_file()
    if not discover.enabled(rubric.adapter):
        expected = AdapterBinding.from_table(entry["adapter"])
        assert AdapterBinding.from_table(rubric.adapter) == expected
        return
    recorded = AdapterBinding.from_table(entry["adapter"]).to_json()
    pinned = {k: v for k, v in rubric.adapter.items() if isinstance(v, str)}
    assert {k: recorded[k] for k in pinned} == pinned


@pytest.mark.parametrize(
    ("sample", "path", "rubric_file", "entry"), WITH_CONVENTION, ids=_ids(WITH_CONVENTION)
)
def test_rubric_accepts_the_samples_convention(sample, path, rubric_file, entry):
    """A full-marks convention sample's rubric lists its convention on at least one check."""
    rubric = load_rubric(RUBRICS / rubric_file)
    assert entry["convention"] in CONVENTIONS
    assert any(entry["convention"] in c.compare.accept for c in rubric.checks)


def test_template_rubric_credits_neither_l2_nor_heavy_ball():
    """The template rubric declares C/2·||W||^2 and the course's momentum: it accepts neither
    the l2 penalty nor heavy-ball momentum on any check."""
    rubric = load_rubric(RUBRICS / "mlp_backprop.toml")
    for check in rubric.checks:
        assert not {"l2", "heavy_ball"} & set(check.compare.accept), check.id


# ---------------------------------------------------------------------------
# Full marks


@pytest.mark.parametrize(
    ("sample", "path", "rubric_file", "entry"), FULL_MARKS, ids=_ids(FULL_MARKS)
)
def test_correct_sample_gets_full_marks(graded, sample, path, rubric_file, entry):
    """Every correct sample, in whichever accepted convention, passes every check with full
    points and no diagnosis."""
    rubric = load_rubric(RUBRICS / rubric_file)
    result = _grade(graded, path, rubric, rubric_file)
    assert result.status == "graded", result.reason
    convention = entry.get("convention")
    pending = [c for c in result.checks if _credit_pending(rubric, c, convention)]
    others = [c for c in result.checks if c not in pending]
    assert [c.check_id for c in others if c.status != "passed"] == [], _summary(result)
    assert [c.check_id for c in result.checks if c.diagnosis is not None] == []
    if any(c.status != "passed" for c in pending):
        pytest.xfail(
            f"{', '.join(c.check_id for c in pending)}: the rubric accepts {convention!r} on the "
            "replay, but grader.expectations computes no candidates for the train probe"
        )
    assert result.score is not None
    assert result.score.points == result.score.max_points == rubric.max_points
    assert result.score.complete


@pytest.mark.parametrize(
    ("sample", "path", "rubric_file", "entry"), WITH_CONVENTION, ids=_ids(WITH_CONVENTION)
)
def test_convention_sample_is_told_its_convention(graded, sample, path, rubric_file, entry):
    """Each check that accepts the sample's convention passes naming it, in the result's
    convention field and in a sentence of its evidence."""
    rubric = load_rubric(RUBRICS / rubric_file)
    result = _grade(graded, path, rubric, rubric_file)
    name = entry["convention"]
    title = CONVENTIONS[name].title
    accepting = [c for c in result.checks if name in rubric.check(c.check_id).compare.accept]
    assert accepting
    for check in accepting:
        if _credit_pending(rubric, check, name):
            continue  # the replay: see test_correct_sample_gets_full_marks
        assert (check.status, check.convention) == ("passed", name), check.check_id
        assert any(title in sentence for sentence in check.evidence), check.evidence
    # checks that do not accept it were passed on the declared convention itself
    for check in result.checks:
        if check not in accepting:
            assert check.convention is None, check.check_id


# ---------------------------------------------------------------------------
# Conventions a rubric does not accept


@pytest.mark.parametrize(
    ("sample", "path", "rubric_file", "entry"), WITH_CONVENTION, ids=_ids(WITH_CONVENTION)
)
def test_negative_control_without_the_convention_diagnoses_it(
    graded, sample, path, rubric_file, entry
):
    """Graded with its rubric minus the convention in every accept list, the same sample
    loses points and the first check it fails names the convention as the diagnosis."""
    name = entry["convention"]
    rubric = _without(rubric_file, name)
    assert not any(name in c.compare.accept for c in rubric.checks)
    result = _grade(graded, path, rubric, f"{rubric_file} without {name}")
    assert result.score is not None and result.score.points < rubric.max_points
    failed = [c for c in result.checks if c.status == "failed"]
    assert failed, _summary(result)
    first = next(c for c in result.checks if c.status == "failed")
    assert first.diagnosis is not None, first.evidence
    assert (first.diagnosis.name, first.diagnosis.kind) == (name, "convention")
    assert first.next_step == CONVENTIONS[name].next_step
    assert all(c.convention is None for c in result.checks)


@pytest.mark.parametrize(
    ("sample", "path", "rubric_file", "entry"), NOT_ACCEPTED, ids=_ids(NOT_ACCEPTED)
)
def test_unaccepted_convention_is_named_not_credited(graded, sample, path, rubric_file, entry):
    """A sample following a convention its rubric does not accept fails exactly the checks in
    `diagnosed`, each naming that convention (as the diagnosis, or beside the misconception
    the rubric words for the same numbers, as C·||W||² beside penalty_doubled), and every
    check that does not depend on them passes."""
    rubric = load_rubric(RUBRICS / rubric_file)
    result = _grade(graded, path, rubric, rubric_file)
    name = entry["convention"]
    by_id = {c.check_id: c for c in result.checks}
    for check_id in entry["diagnosed"]:
        check = by_id[check_id]
        assert check.status == "failed", check.evidence
        d = check.diagnosis
        assert d is not None and name in (d.name, *d.alternatives)
        if d.name != name:  # the rubric words a misconception with the same numbers
            assert d.kind == "misconception"
            assert d.name in rubric.check(check_id).feedback.misconceptions
        assert any(CONVENTIONS[name].title in sentence for sentence in check.evidence)
    for check in result.checks:
        if check.check_id in entry["diagnosed"]:
            continue
        requires = rubric.check(check.check_id).requires
        blocked = any(by_id[r].status != "passed" for r in requires)
        # blocked: not assessed, or judged on its own with the convention plugged in (issue 14)
        expected_status = ("not_assessed", "passed") if blocked else ("passed",)
        assert check.status in expected_status, (check.check_id, check.evidence)
        if blocked and check.status == "passed":
            assert check.judged_with, check.check_id
        assert check.diagnosis is None and check.convention is None


def test_accepting_the_mean_does_not_credit_a_half_averaged_objective(tmp_path):
    """With mean_instances accepted, a gradient that averages the data term but adds the
    penalty's C·W in full passes the no-penalty checks under the convention and fails the
    penalty check as the misconception averaged_data_not_penalty, with the rubric's wording."""
    source = (CONVENTION_SAMPLES / "template_mean.py").read_text(encoding="utf-8")
    averaged = 'grads[f"dW{l}"] = (V @ A[l - 1].T + C * params[f"W{l}"]) / N'
    assert source.count(averaged) == 1
    half = tmp_path / "template_half_mean.py"
    half.write_text(
        source.replace(averaged, 'grads[f"dW{l}"] = V @ A[l - 1].T / N + C * params[f"W{l}"]'),
        encoding="utf-8",
    )
    rubric = load_rubric(RUBRICS / "mlp_backprop.toml")
    by_id = {c.check_id: c for c in grade_submission(half, rubric, SETTINGS).checks}
    assert (by_id["grad_output"].status, by_id["grad_output"].convention) == (
        "passed",
        "mean_instances",
    )
    penalty = by_id["grad_penalty"]
    assert penalty.status == "failed" and penalty.convention is None
    assert penalty.diagnosis is not None
    assert (penalty.diagnosis.name, penalty.diagnosis.kind) == (
        "averaged_data_not_penalty",
        "misconception",
    )
    wording = rubric.check("grad_penalty").feedback.misconceptions["averaged_data_not_penalty"]
    assert penalty.next_step == wording
