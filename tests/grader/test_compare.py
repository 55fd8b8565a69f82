"""Staged comparison: type, shape, finite, values; messages in the student's terms; tolerances at their edges."""

from __future__ import annotations

import numpy as np
import pytest

from grader.compare import Comparison, Tolerance, compare, rel_error_max, rel_error_norm

EXP = np.arange(20, dtype=float).reshape(4, 5) / 7.0 + 0.5


# -- type --------------------------------------------------------------------


def test_none_means_nothing_was_returned():
    """None stops at the type stage: "your code returned no 'dW1'"."""
    c = compare("dW1", None, EXP)
    assert (c.stage, c.passed, c.message) == ("type", False, "your code returned no 'dW1'")


def test_string_is_not_numeric():
    """A string stops at the type stage, saying what it was."""
    c = compare("dW1", "oops", EXP)
    assert (c.stage, c.message) == ("type", "'dW1' should be a numeric array, got a str")


def test_object_array_is_not_numeric():
    """An object-dtype array stops at the type stage, naming the dtype."""
    c = compare("dW1", np.array([None, 1], dtype=object), EXP)
    assert c.message == "'dW1' should be a numeric array, got an array of dtype object"


def test_ragged_list_is_not_numeric():
    """A ragged nested list is reported as such."""
    c = compare("dW1", [[1.0, 2.0], [3.0]], EXP)
    assert (
        c.message
        == "'dW1' should be a numeric array, got a ragged list (rows of different lengths)"
    )


def test_list_converts_and_passes():
    """A nested list of the right numbers passes like the array would."""
    assert compare("dW1", EXP.tolist(), EXP).passed


def test_bool_and_int_arrays_are_numeric():
    """bool and int dtypes are compared as numbers."""
    assert compare("Y", np.eye(3, dtype=bool), np.eye(3)).passed
    assert compare("labels", np.array([0, 2, 1]), np.array([0.0, 2.0, 1.0])).passed


# -- shape -------------------------------------------------------------------


def test_wrong_shape_message():
    """The shape message names got and expected shapes exactly."""
    c = compare("dW1", np.zeros((4, 6)), EXP)
    assert (c.stage, c.message) == (
        "shape",
        "'dW1' has the wrong shape: got (4, 6), expected (4, 5)",
    )
    assert c.shape == (4, 6) and c.expected_shape == (4, 5)


def test_shape_message_uses_the_students_name_and_layout():
    """display_name and shape_hint put the student's own name and layout in the message."""
    c = compare(
        "dW1",
        np.zeros((4, 5)),
        np.zeros((4, 6)),
        display_name="grad1",
        shape_hint="(4, 6), i.e. (H, D+1)",
    )
    assert c.message == "'grad1' has the wrong shape: got (4, 5), expected (4, 6), i.e. (H, D+1)"
    assert c.display_name == "grad1"


def test_transposed_shape_is_pointed_out():
    """A (5, 4) answer for a (4, 5) value is called the transpose."""
    c = compare("dW1", EXP.T, EXP)
    assert c.message == "'dW1' has the wrong shape: got (5, 4), expected (4, 5) (the transpose)"


def test_size_one_array_counts_as_scalar():
    """A cost returned as array([c]) is compared as the scalar c."""
    assert compare("cost", np.array([2.5]), np.array(2.5)).passed
    assert not compare("cost", np.array([2.5, 2.5]), np.array(2.5)).passed


# -- finite ------------------------------------------------------------------


def test_nan_and_inf_are_counted():
    """Non-finite values stop at the finite stage with both counts."""
    got = EXP.copy()
    got[0, :3] = np.nan
    got[1, 0] = np.inf
    c = compare("dW1", got, EXP)
    assert (c.stage, c.message) == ("finite", "'dW1' contains 3 NaN and 1 inf values")


def test_single_kind_of_non_finite_value():
    """One kind of non-finite value gets its own singular or plural wording."""
    got = EXP.copy()
    got[0, 0] = np.nan
    assert compare("dW1", got, EXP).message == "'dW1' contains 1 NaN value"
    got[0, 0], got[0, 1] = np.inf, -np.inf
    assert compare("dW1", got, EXP).message == "'dW1' contains 2 inf values"


def test_non_finite_expected_value_is_a_grader_error():
    """A NaN in the expected value raises: it is the grader's bug, not the student's."""
    with pytest.raises(ValueError, match="grader bug"):
        compare("dW1", EXP, np.full((4, 5), np.nan))


# -- values and tolerances -------------------------------------------------------


def test_elementwise_tolerance_edge_is_inclusive():
    """|got - exp| == atol + rtol·|exp| passes; one ulp more fails (exact binary numbers)."""
    tol = Tolerance(rtol=0.5, atol=0.25)
    exp = np.array([1.0, -2.0])
    edge = np.array([1.75, -3.25])  # differences 0.75 = 0.25 + 0.5·1 and 1.25 = 0.25 + 0.5·2
    assert compare("x", edge, exp, tol).passed
    beyond = np.array([np.nextafter(1.75, 2.0), -3.25])
    c = compare("x", beyond, exp, tol)
    assert not c.passed and c.measures is not None and c.measures.n_outside == 1


def test_atol_alone_governs_zero_expected_entries():
    """Where the expected value is 0, only atol applies."""
    tol = Tolerance(rtol=1e-6, atol=2.0**-20)
    assert compare("x", np.array([2.0**-20]), np.array([0.0]), tol).passed
    assert not compare("x", np.array([2.0**-19]), np.array([0.0]), tol).passed


def test_norm_form_edge():
    """form "norm": ||got - exp|| <= atol + rtol·||exp||, inclusive, on exact numbers."""
    tol = Tolerance(rtol=0.25, atol=0.0, form="norm")
    exp = np.array([3.0, 4.0])  # norm 5, bound 1.25
    assert compare("x", np.array([3.75, 5.0]), exp, tol).passed  # difference (0.75, 1.0): norm 1.25
    assert not compare("x", np.array([3.75, 5.0 + 2.0**-40]), exp, tol).passed


def test_norm_form_tolerates_one_outlier_that_max_form_rejects():
    """One entry 10% off passes a 5% norm test on 100 entries but fails a 5% elementwise test."""
    exp = np.ones(100)
    got = exp.copy()
    got[0] = 1.1  # 10% off in one entry; 1% of the norm
    assert compare("x", got, exp, Tolerance(rtol=0.05, atol=0, form="norm")).passed
    assert not compare("x", got, exp, Tolerance(rtol=0.05, atol=0, form="max")).passed


def test_default_tolerance_passes_summation_order_noise():
    """A relative perturbation of 1e-12 (float64 round-off from another summation order) passes."""
    assert compare("dW1", EXP * (1 + 1e-12), EXP).passed


def test_default_tolerance_catches_a_missing_one_over_n():
    """A gradient divided by N = 7 fails the default tolerance."""
    c = compare("dW1", EXP / 7, EXP)
    assert not c.passed and c.stage == "values"


def test_default_tolerance_boundary_is_rtol_1e_minus_6():
    """With the defaults, 5e-7 relative passes and 2e-6 relative fails (expected entries >= 0.5)."""
    assert compare("dW1", EXP * (1 + 5e-7), EXP).passed
    assert not compare("dW1", EXP * (1 + 2e-6), EXP).passed


def test_values_message_names_count_criterion_and_errors():
    """The max-form failure message counts entries outside the stated criterion and gives the errors."""
    got = EXP.copy()
    got[0, 0] += 1.0
    c = compare("dW1", got, EXP)
    assert c.message == (
        "'dW1' differs from the expected values: 1 of 20 entries outside "
        "|got - expected| <= 1e-08 + 1e-06·|expected| (max relative error 0.667, max abs difference 1)"
    )


def test_norm_message_states_both_sides():
    """The norm-form failure message gives ||got - expected||, the bound and the relative error."""
    c = compare(
        "x", np.array([3.0, 5.0]), np.array([3.0, 4.0]), Tolerance(rtol=0.1, atol=0.0, form="norm")
    )
    assert c.message == (
        "'x' differs from the expected values: ||got - expected|| = 1 exceeds "
        "0 + 0.1·||expected|| = 0.5 (relative error 0.0923)"
    )


def test_pass_message_reports_the_relative_error():
    """A pass still says how close it was."""
    c = compare("dW1", EXP, EXP, display_name="grad1")
    assert c.message == "'grad1' matches the expected values (max relative error 0.0e+00)"


def test_float32_failure_says_why():
    """A float32 answer that fails mentions float32 rounding."""
    got = (EXP * (1 + 1e-5)).astype(np.float32)
    c = compare("dW1", got, EXP)
    assert not c.passed and "your array is float32" in c.message


# -- measures ------------------------------------------------------------------


def test_measures_follow_the_conventions_formulas():
    """rel_error_max is |a-n|/max(|a|,|n|), rel_error_norm ||a-n||/(||a||+||n||), as docs/conventions.md §4."""
    a, n = np.array([1.0, 4.0]), np.array([2.0, 4.0])
    assert rel_error_max(a, n) == 0.5
    assert rel_error_norm(a, n) == pytest.approx(1.0 / (np.sqrt(17) + np.sqrt(20)))
    assert rel_error_max(np.zeros(2), np.zeros(2)) == 0.0


def test_measures_for_a_scaled_answer():
    """Averaging over N=7: cosine exactly 1, norm ratio 1/7, norm-form error (N-1)/(N+1) (docs/conventions.md §5)."""
    m = compare("dW2", EXP / 7, EXP).measures
    assert m is not None
    assert m.cosine == pytest.approx(1.0)
    assert m.norm_ratio == pytest.approx(1 / 7)
    assert m.rel_error_norm == pytest.approx(6 / 8)


def test_undefined_measures_are_none():
    """cosine and norm ratio are None (not NaN) when the expected value is all zeros."""
    m = compare("x", np.ones(3), np.zeros(3)).measures
    assert m is not None and m.cosine is None and m.norm_ratio is None


def test_tolerance_rejects_bad_values():
    """Negative, NaN or non-numeric tolerances and unknown forms raise ValueError."""
    for bad in ({"rtol": -1.0}, {"atol": float("nan")}, {"rtol": "tight"}, {"form": "mean"}):
        with pytest.raises(ValueError):
            Tolerance(**bad)  # type: ignore[arg-type]


def test_comparison_dict_round_trip():
    """to_dict/from_dict reproduce a comparison exactly, measures included."""
    for c in (
        compare("dW1", EXP / 7, EXP),
        compare("dW1", None, EXP),
        compare("x", np.ones(3), np.zeros(3)),
    ):
        assert Comparison.from_dict(c.to_dict()) == c
