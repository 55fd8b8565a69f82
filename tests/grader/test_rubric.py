"""Rubric loading: a valid file becomes frozen definitions; every kind of mistake is one clear error."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from grader.rubric import RubricError
from grader.rubric_file import load_rubric, parse_rubric

FIXTURES = Path(__file__).parent / "fixtures" / "rubrics"
VALID = FIXTURES / "valid.toml"

MINIMAL = b"""
[assignment]
id = "mini"
title = "A minimal rubric"
execution = "full"

[[objectives]]
id = "backprop"
title = "Back-propagation"
demonstrates = "The gradient is exact."

[[checks]]
id = "late"
objective = "backprop"
probe = "gradients"
points = 1
requires = ["early"]

[[checks]]
id = "early"
objective = "backprop"
probe = "forward"
points = 1
"""

# fixture name -> the rendered error after "<file>: "
BAD = {
    "syntax": "not valid TOML: Expected ']' at the end of a table declaration (at line 19, column 16)",
    "missing_assignment": "assignment: is required",
    "unknown_top_key": "grading: unknown key; allowed keys: assignment, adapter, objectives, checks",
    "bad_execution": "assignment.execution: must be one of 'definitions', 'full', got 'fast'",
    "bad_id": "checks[0].id: must be an id (a letter, then letters, digits, '_', '.' or '-'; at most 64), got 'grad w1'",
    "no_checks": "checks: is required: at least one [[checks]] table",
    "duplicate_objective_id": "objectives[1].id: duplicate id 'backprop'",
    "objective_without_checks": "objectives[1]: no check assesses objective 'training'",
    "unknown_check_key": "checks[1].compares: unknown key (did you mean 'compare'?); allowed keys: id, title, objective, probe, params, compare, points, visibility, requires, feedback",
    "rtol_not_number": "checks[3].compare.rtol: must be a number >= 0, got 'tight'",
    "unknown_objective": "checks[0].objective: unknown objective 'backprop2'; known: backprop",
    "unknown_prerequisite": "checks[1].requires[0]: unknown check 'c'; known: a, b",
    "self_requirement": "checks[0].requires[0]: check 'a' cannot require itself",
    "duplicate_requirement": "checks[1].requires: lists 'a' twice",
    "cycle": "checks[0].requires: cycle: a -> c -> b -> a",
    "duplicate_check_id": "checks[1].id: duplicate id 'grad'",
    "zero_points": "checks[0].points: must be a number > 0, got 0",
    "unknown_probe": "checks[0].probe: must be one of 'forward', 'gradients', 'cost', 'optimizer', 'schedule', 'train', 'predict', 'one_hot', 'timing', 'gradcheck_self', 'initialize', 'converge', 'schedule_order', got 'backward'",
    "bad_visibility": "checks[0].visibility: must be one of 'public', 'hidden', got 'secret'",
    "unknown_misconception": "checks[0].feedback.misconceptions.forgot_sigmoid: unknown misconception; known: ",
    "misconception_wrong_probe": "checks[0].feedback.misconceptions.adagrad_no_sqrt: is a misconception of kind 'optimizer'; it cannot show on probe 'gradients'",
    "unknown_feedback_key": "checks[0].feedback.hint: unknown key; allowed keys: pass, fail, next_step, misconceptions",
    "unknown_convention": "checks[0].compare.accept[0]: unknown convention 'mean'; known: mean_instances, l2,",
    "convention_wrong_probe": "checks[0].compare.accept[0]: convention 'heavy_ball' cannot show on probe 'gradients'; it applies to optimizer, train",
    "unknown_part": "checks[0].compare.parts[0]: probe 'gradients' has no output 'dw1'; its outputs: dW<layer>, db<layer>",
    "part_layer_out_of_range": "checks[0].compare.parts[0]: 'dW3' names layer 3, but params.sizes gives 2 layers",
    "bad_form": "checks[0].compare.form: must be one of 'max', 'norm', got 'mean'",
    "unknown_param": "checks[0].params.lr: unknown key; allowed keys: sizes, N, seed, init, timeout, C, loss,",
    "bad_param": "checks[0].params.C: must be a number >= 0, got -1",
    "bad_hyper": "checks[0].params.optimizer_hyper: optimizer 'momentum_course': 'alpha' must be in [0, 1): got 2",
    "hyper_without_optimizer": "checks[0].params.optimizer_hyper: needs 'optimizer' to say whose hyper-parameters these are",
}


# -- errors ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_rubric_gives_one_clear_error(name):
    """Each bad fixture is rejected with a RubricError naming the file, the key path and the problem."""
    path = FIXTURES / f"{name}.toml"
    with pytest.raises(RubricError) as info:
        load_rubric(path)
    assert str(info.value).startswith(f"{path}: {BAD[name]}")


def test_every_bad_fixture_has_an_expected_error():
    """No fixture file is left untested (a new bad fixture must get an entry in BAD)."""
    names = {p.stem for p in FIXTURES.glob("*.toml")} - {"valid"}
    assert names == set(BAD)


def test_error_keeps_path_key_and_message_apart():
    """RubricError exposes path, key and message separately for tools."""
    with pytest.raises(RubricError) as info:
        load_rubric(FIXTURES / "rtol_not_number.toml")
    e = info.value
    assert (e.key, e.message) == ("checks[3].compare.rtol", "must be a number >= 0, got 'tight'")
    assert e.path.endswith("rtol_not_number.toml")


def test_missing_file_is_a_rubric_error():
    """A path that does not exist is a RubricError, not an OSError."""
    with pytest.raises(RubricError, match="cannot read the rubric"):
        load_rubric(FIXTURES / "no_such_rubric.toml")


def test_negative_tolerance_is_rejected():
    """atol below zero is rejected like a non-number."""
    text = MINIMAL + b"\n[checks.compare]\natol = -1e-9\n"
    with pytest.raises(
        RubricError, match=r"checks\[1\]\.compare\.atol: must be a number >= 0, got -1e-09"
    ):
        parse_rubric(text, "inline.toml")


def test_boolean_points_are_not_numbers():
    """points = true is rejected although bool is an int in Python."""
    text = MINIMAL.replace(b"points = 1\nrequires", b"points = true\nrequires")
    with pytest.raises(RubricError, match=r"checks\[0\]\.points: must be a number > 0, got True"):
        parse_rubric(text)


# -- the valid rubric ----------------------------------------------------------


@pytest.fixture(scope="module")
def rubric():
    """The valid fixture, loaded."""
    return load_rubric(VALID)


def test_valid_rubric_reads_every_section(rubric):
    """Assignment, adapter, objectives and checks are read with their values."""
    assert rubric.assignment.id == "mlp_backprop"
    assert rubric.assignment.version == "3"  # an integer version is kept as text
    assert rubric.adapter["template"] == "course_separate"
    assert [o.id for o in rubric.objectives] == ["backprop", "regularisation", "optimisation"]
    assert [c.id for c in rubric.checks] == ["grad_out", "grad_hidden", "grad_penalty", "momentum"]


def test_check_fields_and_defaults(rubric):
    """Declared values are kept; compare falls back to the documented defaults."""
    out, hidden, penalty = (
        rubric.check("grad_out"),
        rubric.check("grad_hidden"),
        rubric.check("grad_penalty"),
    )
    assert out.compare.parts == ("dW2", "db2") and out.compare.accept == ("mean_instances",)
    assert (out.compare.rtol, out.compare.atol, out.compare.form) == (1e-6, 1e-8, "max")
    assert (hidden.compare.rtol, hidden.compare.atol, hidden.compare.form) == (1e-7, 0.0, "norm")
    assert hidden.requires == ("grad_out",) and hidden.title == "grad_hidden"
    assert penalty.visibility == "hidden" and penalty.points == 1.5
    assert out.params["sizes"] == (5, 4, 3) and out.params["N"] == 7
    assert out.feedback.pass_.startswith("Your output layer")


def test_feedback_misconception_wording_is_kept(rubric):
    """The feedback.misconceptions table maps a registered name to the course's wording."""
    wording = rubric.check("grad_hidden").feedback.misconceptions
    assert wording["missing_hidden_derivative"].startswith("Slide 23")


def test_optimizer_hyper_parameters_are_kept_as_written(rubric):
    """optimizer_hyper is checked by the reference's registry but not filled in (the probe adds masks)."""
    assert dict(rubric.check("momentum").params["optimizer_hyper"]) == {"alpha": 0.5}


def test_each_probe_allows_its_own_parameters():
    """A parameter of another probe is an unknown key here (eta means nothing to "forward")."""
    text = MINIMAL + b"\n[checks.params]\neta = 0.1\n"
    with pytest.raises(RubricError, match=r"checks\[1\]\.params\.eta: unknown key"):
        parse_rubric(text)
    parse_rubric(
        MINIMAL.replace(b'probe = "forward"', b'probe = "optimizer"')
        + b"\n[checks.params]\neta = 0.1\n"
    )


def test_definitions_are_frozen(rubric):
    """Specs cannot be changed after loading, not even their params tables."""
    spec = rubric.check("grad_out")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.points = 100  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.params["N"] = 100  # type: ignore[index]


def test_content_hash_is_sha256_of_the_file_bytes(rubric):
    """content_hash is the sha256 of the exact bytes read."""
    assert rubric.content_hash == hashlib.sha256(VALID.read_bytes()).hexdigest()


def test_content_hash_changes_with_any_byte():
    """A one-character change (even in a comment) changes the hash."""
    a = parse_rubric(MINIMAL)
    b = parse_rubric(MINIMAL + b"# a comment\n")
    assert a.content_hash != b.content_hash


def test_max_points_sums_every_check(rubric):
    """max_points counts hidden checks too (2 + 3 + 1.5 + 1)."""
    assert rubric.max_points == 7.5


def test_public_rubric_drops_hidden_checks(rubric):
    """public() removes hidden checks and keeps the public ones and every objective."""
    public = rubric.public()
    assert [c.id for c in public.checks] == ["grad_out", "grad_hidden", "momentum"]
    assert public.hidden_removed and not rubric.hidden_removed
    assert len(public.objectives) == 3
    assert public.max_points == 6.0


def test_public_rubric_drops_prerequisites_on_hidden_checks():
    """A public check that requires a hidden one loses that prerequisite in public()."""
    text = MINIMAL.replace(b'probe = "forward"', b'probe = "forward"\nvisibility = "hidden"')
    public = parse_rubric(text).public()
    assert [c.id for c in public.checks] == ["late"]
    assert public.checks[0].requires == ()


def test_ordered_checks_put_prerequisites_first():
    """ordered_checks places a required check before the check that needs it."""
    rubric = parse_rubric(MINIMAL)
    assert [c.id for c in rubric.checks] == ["late", "early"]
    assert [c.id for c in rubric.ordered_checks()] == ["early", "late"]


def test_lookups_name_the_missing_id(rubric):
    """check() and objective() raise KeyError naming the unknown id."""
    with pytest.raises(KeyError, match="nope"):
        rubric.check("nope")
    with pytest.raises(KeyError, match="nope"):
        rubric.objective("nope")


# -- assignment.submission_file ------------------------------------------------


def _with_submission_file(value: str) -> bytes:
    return MINIMAL.replace(
        b'execution = "full"\n', f'execution = "full"\nsubmission_file = {value}\n'.encode()
    )


def test_submission_file_is_kept_as_written():
    """The glob that picks a folder's notebook is read into Assignment.submission_file."""
    rubric = parse_rubric(_with_submission_file('"notebooks/lab3*.ipynb"'))
    assert rubric.assignment.submission_file == "notebooks/lab3*.ipynb"
    assert parse_rubric(MINIMAL).assignment.submission_file == ""


@pytest.mark.parametrize(
    "value", ['"lab3*"', '"/autograder/lab3.ipynb"', '"../other/lab3.ipynb"', "3", '"lab3.txt"']
)
def test_bad_submission_file_gives_one_clear_error(value):
    """Not a glob of a .ipynb/.py file inside the folder: one sentence naming the key."""
    with pytest.raises(RubricError) as info:
        parse_rubric(_with_submission_file(value), "inline.toml")
    text = str(info.value)
    assert text.startswith("inline.toml: assignment.submission_file: must be")
    assert "\n" not in text
