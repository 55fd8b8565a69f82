"""Tests for reference.schedules: published rates, compounding's stored η, plateau rule, registry."""

from __future__ import annotations

import math

import pytest

from reference.schedules import SCHEDULES, make_schedule


class TestPublishedRates:
    """docs/conventions.md §3: η0 = 0.1, d = 0.1, epoch 5."""

    def test_inverse_time_epoch_5(self):
        """Inverse-time cooling gives 0.0667 (0.1 / 1.5) at epoch 5."""
        rate = make_schedule("inverse_time", eta0=0.1, d=0.1).rate(5)
        assert round(rate, 4) == 0.0667
        assert rate == pytest.approx(0.1 / 1.5, rel=1e-15)

    def test_compounding_epoch_5(self):
        """Compounding decay gives 0.0278 = 0.1 / (1.1·1.2·1.3·1.4·1.5) at epoch 5."""
        s = make_schedule("compounding", eta0=0.1, d=0.1)
        rates = [s.rate(k) for k in range(6)]
        assert round(rates[5], 4) == 0.0278
        assert rates[5] == pytest.approx(0.1 / math.prod(1 + 0.1 * j for j in range(6)), rel=1e-14)


class TestCompounding:
    def test_equals_inverse_time_for_two_epochs_then_falls_below(self):
        """Compounding equals η0/(1+dk) at k = 0, 1 and is lower from k = 2 on."""
        comp = make_schedule("compounding", eta0=0.1, d=0.1)
        inv = make_schedule("inverse_time", eta0=0.1, d=0.1)
        c, i = [comp.rate(k) for k in range(5)], [inv.rate(k) for k in range(5)]
        assert c[:2] == pytest.approx(i[:2], rel=1e-15)
        assert all(a < b for a, b in zip(c[2:], i[2:], strict=True))

    def test_second_run_starts_lower(self):
        """After one run, epoch 0 of the next run returns the last rate, and eta0 is overwritten."""
        s = make_schedule("compounding", eta0=0.1, d=0.1)
        last = [s.rate(k) for k in range(6)][-1]
        assert s.eta0 == last
        assert s.rate(0) == last < 0.1
        assert s.rate(1) == pytest.approx(last / 1.1, rel=1e-15)

    def test_repeated_epoch_divides_once(self):
        """Asking for the same epoch twice returns the same rate."""
        s = make_schedule("compounding", eta0=0.1, d=0.1)
        s.rate(0)
        s.rate(1)
        assert s.rate(2) == s.rate(2) == pytest.approx(0.1 / (1.1 * 1.2), rel=1e-15)

    def test_skipped_epochs_apply_every_division(self):
        """Jumping from epoch 0 to 3 gives the in-order rate at 3."""
        a, b = (
            make_schedule("compounding", eta0=0.1, d=0.1),
            make_schedule("compounding", eta0=0.1, d=0.1),
        )
        in_order = [a.rate(k) for k in range(4)][-1]
        b.rate(0)
        assert b.rate(3) == pytest.approx(in_order, rel=1e-15)


class TestOtherSchedules:
    def test_step_decay(self):
        """Step decay multiplies by d every k_d epochs and not in between."""
        s = make_schedule("step", eta0=0.1, d=0.1, k_d=10)
        got = [s.rate(k) for k in (0, 9, 10, 19, 20)]
        assert got == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001], rel=1e-12)

    def test_constant(self):
        """The constant schedule returns η0 at every epoch."""
        s = make_schedule("constant", eta0=0.3)
        assert {s.rate(k) for k in range(50)} == {0.3}

    @pytest.mark.parametrize("name", ["constant", "inverse_time", "step", "compounding"])
    def test_observe_does_not_change_the_rate(self, name):
        """Only reduce-on-plateau listens to the objective."""
        a, b = make_schedule(name, eta0=0.1), make_schedule(name, eta0=0.1)
        for k in range(25):
            b.observe(1.0)  # a stalled objective would trigger a plateau schedule
            assert a.rate(k) == b.rate(k)


class TestPlateau:
    def test_reduces_exactly_when_the_rule_says(self):
        """η halves after 2 non-improving epochs (relative threshold 10%), never earlier."""
        s = make_schedule("plateau", eta0=1.0, factor=0.5, patience=2, threshold=0.1)
        objectives = [10.0, 9.5, 9.2, 8.0, 7.5, 7.1, 7.0, 7.0, 6.9]
        # best:      10    10   10/red 8    8    7.1  7.1  7.1/red 7.1
        expected = [1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]
        got = []
        for k, J in enumerate(objectives):
            s.observe(J)
            got.append(s.rate(k + 1))
        assert got == expected

    def test_nan_objective_counts_as_no_improvement(self):
        """A NaN objective never improves, so it counts towards patience."""
        s = make_schedule("plateau", eta0=1.0, factor=0.1, patience=1)
        s.observe(1.0)
        s.observe(math.nan)
        assert s.rate(2) == pytest.approx(0.1)

    def test_rate_does_not_depend_on_the_epoch_number(self):
        """Without observations the plateau schedule keeps η0 at every epoch."""
        s = make_schedule("plateau", eta0=0.2)
        assert {s.rate(k) for k in (0, 1, 100)} == {0.2}


class TestRegistry:
    def test_unknown_name_lists_the_known_ones(self):
        """An unknown schedule raises ValueError naming every known schedule."""
        with pytest.raises(ValueError, match="unknown schedule 'cosine'") as e:
            make_schedule("cosine")
        assert all(name in str(e.value) for name in SCHEDULES)

    def test_course_name_is_not_a_hyper_parameter(self):
        """The course's decrease_const is refused with the allowed names listed."""
        with pytest.raises(ValueError, match="'decrease_const'; allowed: eta0, d, k_d"):
            make_schedule("step", decrease_const=0.1)

    @pytest.mark.parametrize(
        ("name", "hyper", "message"),
        [
            ("inverse_time", {"eta0": 0.0}, r"'eta0' must be in \(0, inf\): got 0.0"),
            ("step", {"k_d": 2.5}, r"'k_d' must be a whole number in \[1, inf\)"),
            ("step", {"d": 1.5}, r"'d' must be in \(0, 1\]"),
            ("plateau", {"factor": 1.0}, r"'factor' must be in \(0, 1\)"),
            ("plateau", {"patience": 0}, r"'patience' must be in \[1, inf\)"),
        ],
    )
    def test_out_of_range_names_the_interval(self, name, hyper, message):
        """Out-of-range hyper-parameters are refused with their interval."""
        with pytest.raises(ValueError, match=message):
            make_schedule(name, **hyper)

    @pytest.mark.parametrize("epoch", [-1, 1.0, True])
    def test_epoch_must_be_a_whole_number_from_zero(self, epoch):
        """Negative, float or boolean epochs raise ValueError."""
        with pytest.raises(ValueError, match="epoch"):
            make_schedule("inverse_time").rate(epoch)
