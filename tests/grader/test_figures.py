"""Figures: the numbers behind pictures, round-tripped and validated; builders say what they show."""

from __future__ import annotations

import json
import math

import pytest

from grader.figures import Figure, Series, convergence, gradient_error, gradient_magnitude


def test_round_trip_through_json_keeps_every_value():
    """to_dict -> JSON -> from_dict gives an equal figure, NaN and inf included."""
    fig = convergence([1.0, math.inf, 0.5], reference=[1.0, 0.8, 0.5], check_id="train")
    back = Figure.from_dict(json.loads(json.dumps(fig.to_dict())))
    assert back.to_dict() == fig.to_dict()
    assert math.isinf(back.series[0].values[1])


def test_nan_survives_round_trip():
    """A NaN value (a diverged run) is still NaN after JSON."""
    fig = gradient_magnitude({"layer 1": [math.nan, 1e-3]})
    back = Figure.from_dict(json.loads(json.dumps(fig.to_dict())))
    assert math.isnan(back.series[0].values[0])


def test_unknown_role_is_rejected():
    """A series role outside student/reference/envelope_* raises."""
    with pytest.raises(ValueError, match="role"):
        Series("x", (1.0,), "teacher")  # type: ignore[arg-type]


def test_unknown_kind_is_rejected():
    """A figure kind outside the known ones raises."""
    with pytest.raises(ValueError, match="kind"):
        Figure("f", "pie", "t", "x", "y", ())  # type: ignore[arg-type]


def test_scatter_keeps_at_most_its_points_evenly_spaced():
    """A large array is thinned to at most SCATTER_POINTS pairs, each still a pair of one entry."""
    from grader.figures import SCATTER_POINTS, scatter

    mine = [-float(i) for i in range(1000)]
    fig = scatter("dW2", mine, [float(i) for i in range(1000)])
    (you,), (right,) = fig.of_role("student"), fig.of_role("reference")
    assert len(you.values) <= SCATTER_POINTS and len(you.values) == len(right.values)
    assert all(y == -x for x, y in zip(right.values, you.values, strict=True))
    with pytest.raises(ValueError, match="same number"):
        scatter("dW2", [1.0], [1.0, 2.0])


def test_categories_must_match_values():
    """A bar chart needs one value per category in every series."""
    with pytest.raises(ValueError, match="one value per category"):
        Figure("f", "gradient_error", "t", "x", "y", (Series("s", (1.0,)),), categories=("a", "b"))


def test_series_values_become_floats():
    """Integer or numpy-like values are stored as a tuple of floats."""
    assert Series("s", [1, 2]).values == (1.0, 2.0)  # type: ignore[arg-type]


def test_convergence_with_envelope_has_both_bounds():
    """An envelope becomes an envelope_low and an envelope_high series; the caption names the band."""
    fig = convergence([3.0, 2.0], envelope=([2.5, 1.5], [3.5, 2.5]))
    assert [s.role for s in fig.series] == ["student", "envelope_low", "envelope_high"]
    assert "band" in fig.caption


def test_gradient_error_is_a_log_bar_chart_with_tolerance_markers():
    """One category per array, log y, and the tolerance as a reference series."""
    fig = gradient_error({"dW1": 0.7, "dW2": 1e-12}, tolerance=1e-6)
    assert fig.categories == ("dW1", "dW2") and fig.log_y
    assert fig.of_role("reference")[0].values == (1e-6, 1e-6)
