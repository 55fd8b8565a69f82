"""Tests for reference.misconceptions.optimization: each bug shows where docs/conventions.md §3 and §5 say."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from reference import misconceptions
from reference.misconceptions.optimization import STANDS_IN_FOR
from reference.optimizers import OPTIMIZERS, make_optimizer
from reference.schedules import SCHEDULES, make_schedule

NAMES = {
    "momentum_heavy_ball_for_course": "optimizer",
    "momentum_course_for_heavy_ball": "optimizer",
    "adagrad_no_sqrt": "optimizer",
    "adagrad_reset_each_step": "optimizer",
    "adam_step_not_incremented_first": "optimizer",
    "adam_no_bias_correction": "optimizer",
    "compounding_decay": "schedule",
    "momentum_never_applied": "optimizer",
    "stateful_cooling": "schedule",
}


def impl(name: str):
    return misconceptions.get(name).impl


def trajectory(opt, w0: float = 1.0, eta: float = 0.1, steps: int = 3) -> list[float]:
    """Iterates w_1..w_steps of ``opt`` on f(w) = w²/2 (gradient w), started at w0."""
    w = np.array([[w0]])
    out = []
    for _ in range(steps):
        opt.step([w], [w.copy()], eta)
        out.append(float(w[0, 0]))
    return out


class TestRegistration:
    @pytest.mark.parametrize(("name", "kind"), NAMES.items())
    def test_registered_with_kind_and_text(self, name, kind):
        """Each misconception is registered with its kind, a known topic and all texts filled."""
        m = misconceptions.get(name)
        assert m.kind == kind
        assert m.topic in {"momentum", "adaptive learning rates", "cooling"}
        assert all(len(t) > 20 for t in (m.description, m.signature, m.next_step))
        assert m.title

    @pytest.mark.parametrize("name", NAMES)
    def test_takes_the_hyper_parameters_of_its_reference(self, name):
        """The factory refuses what its reference refuses, with the same message."""
        ref = STANDS_IN_FOR[name]
        registry = SCHEDULES if NAMES[name] == "schedule" else OPTIMIZERS
        make = make_schedule if NAMES[name] == "schedule" else make_optimizer
        with pytest.raises(ValueError) as theirs:
            make(ref, not_a_parameter=1.0)
        with pytest.raises(ValueError) as ours:
            impl(name)(not_a_parameter=1.0)
        assert str(ours.value) == str(theirs.value)
        impl(name)(**registry[ref].validate({}))  # every reference keyword is accepted


class TestMomentumSwaps:
    def test_heavy_ball_for_course_shows_at_the_third_step(self):
        """Heavy ball in place of the course form: same two iterates, then 0.486 vs 0.567."""
        bug = trajectory(impl("momentum_heavy_ball_for_course")(alpha=0.9))
        ref = trajectory(make_optimizer("momentum_course", alpha=0.9))
        assert bug[:2] == pytest.approx(ref[:2], abs=1e-15)
        assert (bug[2], ref[2]) == pytest.approx((0.486, 0.567), abs=1e-12)

    def test_course_for_heavy_ball_shows_at_the_third_step(self):
        """Course form in place of heavy ball: same two iterates, then 0.567 vs 0.486."""
        bug = trajectory(impl("momentum_course_for_heavy_ball")(alpha=0.9))
        ref = trajectory(make_optimizer("momentum_heavy_ball", alpha=0.9))
        assert bug[:2] == pytest.approx(ref[:2], abs=1e-15)
        assert (bug[2], ref[2]) == pytest.approx((0.567, 0.486), abs=1e-12)

    def test_bias_mask_is_honoured(self):
        """A swapped-momentum factory still gives masked arrays plain SGD steps."""
        opt = impl("momentum_heavy_ball_for_course")(momentum_mask=[False])
        assert trajectory(opt) == pytest.approx([0.9, 0.81, 0.729], abs=1e-12)


class TestAdaGrad:
    def test_no_sqrt_is_wrong_from_the_first_step(self):
        """Dividing by G: the first step from w = 0.5 is η/|g| = 0.2, not η = 0.1."""
        bug = trajectory(impl("adagrad_no_sqrt")(), w0=0.5, steps=1)
        ref = trajectory(make_optimizer("adagrad_course"), w0=0.5, steps=1)
        assert 0.5 - ref[0] == pytest.approx(0.1, rel=1e-6)
        assert 0.5 - bug[0] == pytest.approx(0.2, rel=1e-6)

    def test_reset_agrees_for_one_step_then_moves_like_sign_sgd(self):
        """A reset accumulator: same first step, then every step stays ≈ η (sign-SGD)."""
        bug = trajectory(impl("adagrad_reset_each_step")(gamma=1.0), w0=1.0, steps=5)
        ref = trajectory(make_optimizer("adagrad_course", gamma=1.0), w0=1.0, steps=5)
        assert bug[0] == pytest.approx(ref[0], rel=1e-15)
        assert abs(bug[1] - ref[1]) > 1e-3
        steps = -np.diff([1.0, *bug])
        np.testing.assert_allclose(steps, 0.1, rtol=1e-5)


class TestAdam:
    def test_late_counter_gives_nan_on_the_first_step_without_warnings(self):
        """Counter incremented after the update: step 1 is non-finite, and numpy stays silent."""
        w = np.array([0.5, -2.0])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            impl("adam_step_not_incremented_first")().step([w], [w.copy()], 0.01)
        assert not np.any(np.isfinite(w))

    def test_no_bias_correction_first_step_is_about_3_16_eta(self):
        """Raw moments: the first step is η(1-β1)/sqrt(1-β2) ≈ 3.16η instead of η."""
        w = np.array([0.5, -2.0])
        impl("adam_no_bias_correction")().step([w], [w.copy()], 0.01)
        ratio = 0.1 / np.sqrt(0.001)
        np.testing.assert_allclose(np.abs(w - [0.5, -2.0]), 0.01 * ratio, rtol=1e-5)
        ref = np.array([0.5, -2.0])
        make_optimizer("adam").step([ref], [ref.copy()], 0.01)
        assert not np.allclose(w, ref, rtol=1e-3)


class TestCompoundingDecay:
    def test_shows_from_epoch_2(self):
        """In place of inverse time: equal at epochs 0 and 1, lower from 2, 0.0278 at 5."""
        bug = impl("compounding_decay")(eta0=0.1, d=0.1)
        ref = make_schedule("inverse_time", eta0=0.1, d=0.1)
        b, r = [bug.rate(k) for k in range(6)], [ref.rate(k) for k in range(6)]
        assert b[:2] == pytest.approx(r[:2], rel=1e-15)
        assert b[2] < r[2] - 1e-3
        assert round(b[5], 4) == 0.0278


def test_momentum_never_applied_is_plain_gradient_descent():
    """The stored step never read back: 0.9, 0.81, 0.729 where the course form gives 0.567."""
    bug = trajectory(impl("momentum_never_applied")(alpha=0.9))
    assert bug == pytest.approx([0.9, 0.81, 0.729], abs=1e-12)
    assert bug[0] == pytest.approx(trajectory(make_optimizer("momentum_course", alpha=0.9))[0])


def test_stateful_cooling_is_right_only_in_order():
    """Asked 0..11 in order it is step decay; asked again it cuts a second time."""
    hyper = {"eta0": 0.5, "d": 0.5, "k_d": 4}
    bug, ref = impl("stateful_cooling")(**hyper), make_schedule("step", **hyper)
    assert [bug.rate(k) for k in range(12)] == pytest.approx([ref.rate(k) for k in range(12)])
    again = impl("stateful_cooling")(**hyper)
    assert [again.rate(k) for k in (8, 8, 4)] == pytest.approx([0.25, 0.125, 0.0625])
