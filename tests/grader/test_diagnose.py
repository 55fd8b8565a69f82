"""Diagnosis: which misconception or convention reproduces an output, and what differs when none does.

The real problem is docs/conventions.md §5's setting: N=7, D=5, H=4, K=3, C=0.1, sigmoid, summed squared error.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.compare import Tolerance
from grader.diagnose import (
    CONVENTIONS,
    Candidate,
    Diagnosis,
    describe_difference,
    diagnose,
    gradient_outputs,
)
from grader.expectations import gradient_candidates
from grader.probes import COST_TIMES, SHUFFLE_SCHEMES
from reference import misconceptions
from reference.network import Model, gradients
from reference.objectives import PRINTED_FORMS, Objective, penalty_gradient
from reference.optimizers import OPTIMIZERS
from reference.params import Params
from reference.schedules import SCHEDULES

N, D, H, K = 7, 5, 4, 3
OBJ = Objective(C=0.1)
GRADIENT_BUGS = sorted(m.name for m in misconceptions.all_misconceptions("gradient"))


def section5_problem() -> tuple[Params, np.ndarray, np.ndarray]:
    """(params, X (D, N), Y one-hot (K, N)) with every class present."""
    rng = np.random.default_rng(1)
    params = Params(
        [rng.uniform(-1, 1, (H, D)), rng.uniform(-1, 1, (K, H))],
        [rng.uniform(-1, 1, (H, 1)), rng.uniform(-1, 1, (K, 1))],
    )
    X = rng.normal(size=(D, N))
    labels = np.concatenate([np.arange(K), rng.integers(0, K, N - K)])
    return params, X, np.eye(K)[:, labels]


@pytest.fixture(scope="module")
def problem():
    """(expected gradient outputs, every candidate, params) on the §5 problem."""
    params, X, Y = section5_problem()
    expected = gradient_outputs(gradients(params, X, Y, Model(), OBJ))
    return expected, gradient_candidates(params, X, Y, Model(), OBJ), params


def bugs_only(candidates):
    return [c for c in candidates if c.kind == "misconception"]


def output_of(candidates, name):
    return next(c for c in candidates if c.name == name).arrays


# -- diagnose ------------------------------------------------------------------


@pytest.mark.parametrize("name", GRADIENT_BUGS)
def test_each_gradient_misconception_is_diagnosed_as_itself(problem, name):
    """Feeding a misconception's own output as the student's diagnoses exactly that misconception."""
    expected, candidates, _ = problem
    found = diagnose(output_of(candidates, name), bugs_only(candidates), expected=expected)
    assert found is not None and found.name == name and found.kind == "misconception"
    assert found.alternatives == ()


def test_reference_output_is_diagnosed_as_nothing(problem):
    """The correct gradient matches no misconception or convention."""
    expected, candidates, _ = problem
    assert diagnose(expected, candidates, expected=expected) is None


def test_candidates_cover_every_gradient_misconception(problem):
    """gradient_candidates builds one candidate per place each registered gradient
    misconception can sit (one per layer for a per-layer bug, weights or biases)."""
    _, candidates, params = problem
    places = {
        m.name: len(m.places(params.depth)) for m in misconceptions.all_misconceptions("gradient")
    }
    names = [c.name for c in bugs_only(candidates)]
    assert sorted(set(names)) == GRADIENT_BUGS
    assert {n: names.count(n) for n in set(names)} == places


@pytest.mark.parametrize("layer", [1, 2])
def test_one_layers_bug_is_named_in_either_layer(problem, layer):
    """A sign flipped, or a bias gradient left at zero, in layer 1 or in layer 2 alone is named,
    and only that layer's arrays are said to differ."""
    expected, candidates, params = problem
    for name in ("sign_flip_one_layer", "bias_gradient_missing"):
        student = gradient_outputs(
            misconceptions.get(name).impl(
                params, *section5_problem()[1:], Model(), OBJ, layer=layer
            )
        )
        found = diagnose(student, bugs_only(candidates), expected=expected)
        assert found is not None and found.name == name, (name, layer)
        assert {p[-1] for p in found.parts} == {str(layer)}, (name, found.parts)


def test_weights_alone_averaged_is_named_and_not_the_mean_convention(problem):
    """dW / N with db summed (and the reverse) is the bug, not the accepted J/N."""
    expected, candidates, _ = problem
    N = section5_problem()[1].shape[1]
    for kind in ("weights", "biases"):
        student = {
            k: v / N if (k.startswith("dW") == (kind == "weights")) else v
            for k, v in expected.items()
        }
        found = diagnose(student, candidates, expected=expected)
        assert found is not None and found.name == "averaged_weights_or_biases_only", kind


def test_message_names_only_the_arrays_that_differ(problem):
    """A hidden-layer bug is reported on dW1 and db1 (dW2, db2 are exact anyway), with the max difference."""
    expected, candidates, _ = problem
    found = diagnose(
        output_of(candidates, "missing_hidden_derivative"), candidates, expected=expected
    )
    assert found is not None and found.parts == ("dW1", "db1")
    assert found.message == (
        "your dW1 and db1 equal what the reference computes with a known bug: "
        "hidden layer's derivative missing (max difference 0)"
    )


def test_message_uses_the_students_names(problem):
    """display_names put the student's own array names in the message."""
    expected, candidates, _ = problem
    found = diagnose(
        output_of(candidates, "missing_hidden_derivative"),
        candidates,
        expected=expected,
        display_names={"dW1": "grad1", "db1": "gradb1"},
    )
    assert found is not None and found.message.startswith("your grad1 and gradb1 equal")


def test_reports_the_measured_max_difference(problem):
    """Round-off on the student's side shows up as the reported max difference."""
    expected, candidates, _ = problem
    student = {k: v + 3e-13 for k, v in output_of(candidates, "derivative_on_z").items()}
    found = diagnose(student, candidates, expected=expected)
    assert found is not None and found.name == "derivative_on_z"
    assert found.max_difference == pytest.approx(3e-13, rel=1e-3)
    assert found.message.endswith("(max difference 3e-13)")


def test_two_bugs_at_once_match_no_candidate(problem):
    """A student with two bugs (a sign flip and a factor 2) is not forced into either one."""
    expected, candidates, _ = problem
    student = {k: 2 * v for k, v in output_of(candidates, "sign_flip_output_delta").items()}
    assert diagnose(student, candidates, expected=expected) is None


def test_convention_is_recognised_as_a_convention(problem):
    """Averaging consistently over N is diagnosed as the mean_instances convention, not a bug."""
    expected, candidates, _ = problem
    found = diagnose(output_of(candidates, "mean_instances"), candidates, expected=expected)
    assert found is not None and (found.name, found.kind) == ("mean_instances", "convention")
    assert "under another convention: data term averaged over the N instances" in found.message


def test_convention_wins_a_tie_with_an_identical_misconception(problem):
    """The gradient of C·||W||² equals "penalty doubled": the convention is preferred, the bug listed as alternative."""
    expected, candidates, _ = problem
    found = diagnose(output_of(candidates, "penalty_doubled"), candidates, expected=expected)
    assert found is not None and (found.name, found.kind) == ("l2", "convention")
    assert found.alternatives == ("penalty_doubled",)


def test_closest_candidate_wins():
    """Among candidates that all match within tolerance, the smallest max difference is chosen."""
    student = {"x": np.array([1.0, 2.0])}
    near = Candidate(
        "near", "misconception", {"x": np.array([1.0, 2.0 + 1e-12])}, "near", "", "", ""
    )
    far = Candidate("far", "misconception", {"x": np.array([1.0, 2.0 + 1e-9])}, "far", "", "", "")
    found = diagnose(student, [far, near], Tolerance(rtol=1e-6))
    assert found is not None and found.name == "near" and found.alternatives == ("far",)


def test_candidate_equal_to_the_expected_value_is_no_evidence():
    """A candidate indistinguishable from the reference on the compared arrays is skipped."""
    student = {"dW2": np.ones(3)}
    same = Candidate("same", "misconception", {"dW2": np.ones(3)}, "same", "", "", "")
    assert diagnose(student, [same], expected={"dW2": np.ones(3)}) is None
    assert diagnose(student, [same]) is not None  # without an expected value it is a match


def test_parts_restrict_the_comparison(problem):
    """With parts=["dW2"], a candidate is judged on dW2 alone."""
    _, candidates, _ = problem
    student = dict(output_of(candidates, "sign_flip_output_delta"))
    student["dW1"] = np.zeros_like(student["dW1"])  # spoil another array
    assert diagnose(student, bugs_only(candidates)) is None
    found = diagnose(student, bugs_only(candidates), parts=["dW2"])
    assert found is not None and found.name == "sign_flip_output_delta"


def test_malformed_student_arrays_match_nothing(problem):
    """A wrong shape or NaN in the student's array matches no candidate (and does not raise)."""
    expected, candidates, _ = problem
    student = dict(output_of(candidates, "derivative_on_z"))
    student["dW1"] = student["dW1"].T
    assert diagnose(student, candidates, expected=expected) is None
    student["dW1"] = np.full((H, D), np.nan)
    assert diagnose(student, candidates, expected=expected) is None


def test_diagnosis_dict_round_trip(problem):
    """to_dict/from_dict reproduce a diagnosis exactly."""
    expected, candidates, _ = problem
    found = diagnose(output_of(candidates, "penalty_doubled"), candidates, expected=expected)
    assert found is not None and Diagnosis.from_dict(found.to_dict()) == found


# -- conventions -----------------------------------------------------------------


def test_convention_changes_name_real_settings():
    """Every convention's changes name an Objective field, a registered optimiser or schedule,
    whether the biases take momentum, how the draws order the epochs, when cost_ is taken,
    or a form of the printed cost
    (reference.objectives.PRINTED_FORMS)."""
    objective_fields = set(Objective.__dataclass_fields__)
    for c in CONVENTIONS.values():
        for key, value in c.changes.items():
            if key == "printed_form":
                assert value in PRINTED_FORMS, c.name
            elif key == "optimizer":
                assert value in OPTIMIZERS, c.name
            elif key == "schedule":
                assert value in SCHEDULES, c.name
            elif key == "bias_momentum":  # a ProbeContext field: the biases' momentum
                assert isinstance(value, bool), c.name
            elif key == "shuffle_scheme":  # a ProbeContext field: how the draws order epochs
                assert value in SHUFFLE_SCHEMES, c.name
            elif key == "cost_at":  # a ProbeContext field: when cost_ is taken
                assert value in COST_TIMES, c.name
            else:
                assert key in objective_fields, c.name
                Objective().with_(**{key: value})  # a valid value


def test_declared_convention_is_not_a_candidate():
    """When the declared objective already uses C·||W||², no "l2" candidate is built."""
    params, X, Y = section5_problem()
    names = {c.name for c in gradient_candidates(params, X, Y, Model(), OBJ.with_(penalty="l2"))}
    assert "l2" not in names and "l2_half" in names


# -- describe_difference -----------------------------------------------------------


def test_scale_factor_one_over_n(problem):
    """A gradient averaged over N=7 is described as 1/7 of the expected value, with the question."""
    expected, _, _ = problem
    student = {k: v / N for k, v in expected.items()}
    sentences = describe_difference(student, expected, N=N, K=K)
    assert sentences == [
        "'dW1', 'dW2', 'db1' and 'db2' are each 0.143x the expected value "
        "(1/N: did you average over N=7 instances where the objective sums?)"
    ]


def test_scale_factor_n_on_one_array(problem):
    """One array 7x too large is named with its factor, and the exact ones are listed."""
    expected, _, _ = problem
    student = dict(expected)
    student["dW2"] = 7 * expected["dW2"]
    sentences = describe_difference(student, expected, N=N, K=K)
    assert sentences[0] == "'dW2' differs; 'dW1', 'db1' and 'db2' match within tolerance"
    assert (
        "'dW2' is 7x the expected value while 'db2' is not "
        "(N: did you sum over N=7 instances where the objective averages?)" in sentences
    )


def test_exact_negative_is_a_sign_error(problem):
    """An exactly negated array is called a sign error."""
    expected, _, _ = problem
    student = dict(expected)
    student["dW2"] = -expected["dW2"]
    assert (
        "'dW2' is exactly -1x the expected value (its negative: a sign error) while 'db2' is not"
        in describe_difference(student, expected)
    )


def test_an_array_of_zeros_is_called_all_zeros(problem):
    """A bias gradient left at zeros is said to be all zeros, not 'differs'."""
    expected, _, _ = problem
    student = dict(expected)
    student["db1"] = np.zeros_like(expected["db1"])
    sentences = describe_difference(student, expected)
    assert any(
        s.startswith("'db1' is all zeros where the expected value is not") for s in sentences
    )


def test_a_flipped_data_part_with_the_penalty_right_is_described_exactly(problem):
    """With a penalty, -data + C·W is 'the data part exactly -1x, the penalty part right'."""
    expected, _, params = problem
    pen = gradient_outputs(penalty_gradient(OBJ, params, N))
    student = dict(expected)
    student["dW1"] = -(expected["dW1"] - pen["dW1"]) + pen["dW1"]
    sentences = describe_difference(student, expected, penalty=pen)
    assert (
        "the data part of 'dW1' is exactly -1x (the opposite sign) the expected one while its "
        "penalty part (C·W) is right" in sentences
    )


def test_a_close_direction_of_the_same_length_says_what_the_numbers_mean(problem):
    """Cosine near 1 and norm ratio near 1 read as 'as long, not a multiple', never as a
    contradiction ('not the right size' with a norm ratio of 1.00)."""
    expected, _, _ = problem
    student = dict(expected)
    n = expected["dW1"]
    e = np.random.default_rng(5).normal(size=n.shape)
    e -= np.sum(e * n) / np.sum(n * n) * n  # orthogonal to n: turned by about 11 degrees
    e *= 0.2 * np.linalg.norm(n) / np.linalg.norm(e)
    student["dW1"] = (n + e) * np.linalg.norm(n) / np.linalg.norm(n + e)  # same length
    (sentence,) = [s for s in describe_difference(student, expected) if "cosine" in s]
    assert "not the right size" not in sentence
    assert "points nearly the same way" in sentence and "not a multiple of it" in sentence


def test_opposite_direction_gives_the_cosine(problem):
    """An output pointing roughly the other way (cosine near -1, not an exact negative) reports its cosine."""
    expected, candidates, _ = problem
    student = dict(expected)
    student["dW2"] = output_of(candidates, "sign_flip_output_delta")["dW2"]
    sentence = describe_difference(student, expected)[1]
    assert sentence.startswith("'dW2' points the opposite way (") and "cosine -0.94" in sentence


def test_transposed_square_array():
    """A square array equal to the expected value's transpose is called transposed."""
    exp = {"dW2": np.arange(9.0).reshape(3, 3)}
    assert describe_difference({"dW2": exp["dW2"].T}, exp) == [
        "'dW2' equals the transpose of the expected value"
    ]


def test_transposed_non_square_array():
    """A non-square array with swapped shape equal to the transpose says so with both shapes."""
    exp = {"dW1": np.arange(20.0).reshape(4, 5)}
    assert describe_difference({"dW1": exp["dW1"].T}, exp) == [
        "'dW1' is the transpose of the expected value: shape (5, 4) where (4, 5) was expected"
    ]


def test_only_the_biases_differ(problem):
    """A regularised bias: the weights match and only the bias arrays are named."""
    expected, candidates, _ = problem
    sentences = describe_difference(output_of(candidates, "bias_regularised"), expected)
    assert sentences[0] == "'db1' and 'db2' differ; 'dW1' and 'dW2' match within tolerance"
    assert any(s.startswith("only the biases differ ('db1' and 'db2')") for s in sentences)


def test_only_the_folded_bias_column_differs():
    """With a folded bias, a difference confined to column 0 is pointed out."""
    exp = {"dW1": np.arange(1.0, 13.0).reshape(3, 4)}
    got = exp["dW1"].copy()
    got[:, 0] += np.array([0.5, -0.25, 1.0])
    assert describe_difference({"dW1": got}, exp) == [
        "only column 0 of 'dW1' differs (the bias column when the bias is folded into W); the other 3 columns match"
    ]


def test_penalty_doubled_is_described_as_a_penalty_factor(problem):
    """Given the penalty's gradient, "penalty doubled" is described as 2x the declared penalty term."""
    expected, candidates, params = problem
    pen = gradient_outputs(penalty_gradient(OBJ, params, N))
    sentences = describe_difference(output_of(candidates, "penalty_doubled"), expected, penalty=pen)
    assert (
        "'dW1' differs only in the penalty term: it holds 2.00x the declared penalty's gradient"
        in sentences
    )


def test_missing_penalty_is_described(problem):
    """An output without the penalty's gradient is said to lack the penalty term."""
    expected, _, params = problem
    pen = gradient_outputs(penalty_gradient(OBJ, params, N))
    student = {k: expected[k] - pen[k] for k in expected}
    sentences = describe_difference(student, expected, penalty=pen)
    assert (
        "'dW2' equals the expected value without the penalty's gradient: is the penalty term missing?"
        in sentences
    )


def test_only_the_first_layer_differs(problem):
    """When the last layer is exact, the sentences say the error is in passing the sensitivity back."""
    expected, candidates, _ = problem
    sentences = describe_difference(output_of(candidates, "bias_row_off_by_one"), expected)
    assert any(s.startswith("the last layer ('dW2' and 'db2') matches") for s in sentences)


def test_missing_and_misshapen_outputs_are_named(problem):
    """A missing array and a wrong-shaped one each get their own sentence."""
    expected, _, _ = problem
    student = {"dW1": np.zeros((2, 2)), "dW2": expected["dW2"], "db1": expected["db1"]}
    sentences = describe_difference(student, expected, display_names={"db2": "gradb2"})
    assert "your code returned no 'gradb2'" in sentences
    assert "'dW1' has shape (2, 2) where (4, 5) was expected" in sentences


def test_everything_matching_is_said_plainly(problem):
    """describe_difference on a correct output says that everything matches."""
    expected, _, _ = problem
    assert describe_difference(expected, expected) == ["every output matches the expected values"]


def test_convention_apply_changes_probe_parameters():
    """Convention.apply overrides exactly the convention's settings in a check's parameters."""
    params = {"C": 0.1, "penalty": "l2_half", "sizes": (5, 4, 3)}
    assert CONVENTIONS["mean_instances"].apply(params) == {
        "C": 0.1,
        "penalty": "l2_half_mean",
        "reduction": "mean_instances",
        "sizes": (5, 4, 3),
    }


def test_convention_beats_a_closer_or_earlier_named_misconception():
    """Conventions rank before misconceptions even when the bug's name sorts first and it is closer."""
    student = {"x": np.array([1.0, 2.0])}
    bug = Candidate("a_bug", "misconception", {"x": np.array([1.0, 2.0])}, "bug", "", "", "")
    conv = Candidate(
        "z_conv", "convention", {"x": np.array([1.0, 2.0 + 1e-12])}, "conv", "", "", ""
    )
    found = diagnose(student, [bug, conv], expected={"x": np.array([5.0, 5.0])})
    assert found is not None and found.name == "z_conv" and found.alternatives == ("a_bug",)


# ---------------------------------------------------------------------------
# Ties and non-finite signatures


def _cand(name: str, kind: str, arrays: dict[str, np.ndarray]) -> Candidate:
    return Candidate(name, kind, arrays, f"title of {name}", "", "", "")  # type: ignore[arg-type]


def test_a_tie_goes_to_the_convention_unless_the_rubric_words_the_misconception():
    """Same numbers from a bug and an unaccepted convention: convention first, rubric's word wins."""
    got = {"dW1": np.full((2, 3), 2.0)}
    expected = {"dW1": np.ones((2, 3))}
    both = [_cand("penalty_doubled", "misconception", got), _cand("l2", "convention", got)]
    plain = diagnose(got, both, expected=expected)
    worded = diagnose(got, both, expected=expected, prefer=("penalty_doubled",))
    assert plain is not None and (plain.name, plain.alternatives) == ("l2", ("penalty_doubled",))
    assert "title of penalty_doubled" in plain.message  # the other explanation is named
    assert worded is not None and (worded.name, worded.alternatives) == ("penalty_doubled", ("l2",))
    assert "title of l2" in worded.message


def test_nan_matches_only_where_the_candidate_has_nan():
    """A bug whose signature is NaN (Adam's 1 - beta^0) is recognised; a different NaN is not."""
    sig = np.array([[np.nan, 1.0], [2.0, np.nan]])
    cand = [_cand("adam_step_not_incremented_first", "misconception", {"W1": sig})]
    expected = {"W1": np.ones((2, 2))}
    found = diagnose({"W1": sig.copy()}, cand, expected=expected)
    assert found is not None and found.name == "adam_step_not_incremented_first"
    elsewhere = np.array([[1.0, np.nan], [2.0, np.nan]])
    assert diagnose({"W1": elsewhere}, cand, expected=expected) is None
    assert diagnose({"W1": np.where(np.isnan(sig), np.inf, sig)}, cand, expected=expected) is None


def test_a_candidate_of_another_shape_explains_a_wrong_shape():
    """A transposed one-hot (N, K) matches the transposed candidate, not the expected (K, N)."""
    y = np.array([2, 0, 1, 1])
    Y = np.eye(3)[:, y]
    cand = [_cand("one_hot_transposed", "misconception", {"Y": Y.T})]
    found = diagnose({"Y": Y.T.copy()}, cand, expected={"Y": Y})
    assert found is not None and found.name == "one_hot_transposed"
