"""Tests for reference.optimizers: published iterates, masks, state, adaptive rules, registry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reference.optimizers import OPTIMIZERS, course_bias_rule, make_optimizer
from reference.params import Params

MASKED = [name for name, f in OPTIMIZERS.items() if f.mask is not None]


def trajectory(opt, w0: float = 1.0, eta: float = 0.1, steps: int = 3) -> list[float]:
    """Iterates w_1..w_steps of ``opt`` on f(w) = w²/2 (gradient w), started at w0."""
    w = np.array([[w0]])
    out = []
    for _ in range(steps):
        opt.step([w], [w.copy()], eta)
        out.append(float(w[0, 0]))
    return out


def quadratic_run(opt, steps: int, etas=None, seed: int = 0) -> list[np.ndarray]:
    """Run ``opt`` on f = ½ Σ_i w_iᵀ A_i w_i over two arrays; return the final arrays."""
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=(3, 2)), rng.normal(size=(3, 1))]
    scales = [np.array([[1.0, 4.0]] * 3), np.array([[0.5]] * 3)]  # diagonal curvatures
    for k in range(steps):
        eta = 0.05 if etas is None else etas[k]
        opt.step(params, [s * W for s, W in zip(scales, params, strict=True)], eta)
    return params


class TestPublishedIterates:
    """docs/conventions.md §3 on f(w) = w²/2, w0 = 1, η = 0.1, α = 0.9."""

    def test_course_momentum(self):
        """The course form gives 0.9, 0.72, 0.567."""
        got = trajectory(make_optimizer("momentum_course", alpha=0.9))
        assert got == pytest.approx([0.9, 0.72, 0.567], abs=1e-12)

    def test_heavy_ball_third_iterate(self):
        """Heavy-ball's third iterate is 0.486."""
        got = trajectory(make_optimizer("momentum_heavy_ball", alpha=0.9))
        assert got[2] == pytest.approx(0.486, abs=1e-12)

    def test_course_and_heavy_ball_agree_for_two_steps_only(self):
        """The two momentum forms share the first two iterates and part at the third."""
        course = trajectory(make_optimizer("momentum_course", alpha=0.9))
        heavy = trajectory(make_optimizer("momentum_heavy_ball", alpha=0.9))
        assert course[:2] == pytest.approx(heavy[:2], abs=1e-15)
        assert abs(course[2] - heavy[2]) > 0.05

    def test_nesterov(self):
        """Nesterov gives 0.81, 0.5751, 0.327321."""
        got = trajectory(make_optimizer("nesterov", alpha=0.9))
        assert got == pytest.approx([0.81, 0.5751, 0.327321], abs=1e-12)


class TestNesterov:
    def test_matches_cs231n_reformulation(self):
        """The published form follows cs231n's v_prev/v update, with η varying per step."""
        etas = [0.05 / (1 + 0.1 * k) for k in range(20)]
        got = quadratic_run(make_optimizer("nesterov", alpha=0.8), 20, etas)
        x = quadratic_run(make_optimizer("sgd"), 0)  # same start, untouched
        scales = [np.array([[1.0, 4.0]] * 3), np.array([[0.5]] * 3)]
        v = [np.zeros_like(X) for X in x]
        for eta in etas:
            for i, s in enumerate(scales):
                v_prev = v[i]
                v[i] = 0.8 * v[i] - eta * (s * x[i])
                x[i] = x[i] - 0.8 * v_prev + (1 + 0.8) * v[i]
        for a, b in zip(got, x, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)

    @pytest.mark.oracle
    def test_matches_scikit_learn(self):
        """The published form follows scikit-learn's SGDOptimizer with nesterov=True."""
        so = pytest.importorskip("sklearn.neural_network._stochastic_optimizers")
        ours = quadratic_run(make_optimizer("nesterov", alpha=0.9), 15)
        rng = np.random.default_rng(0)
        theirs = [rng.normal(size=(3, 2)), rng.normal(size=(3, 1))]
        scales = [np.array([[1.0, 4.0]] * 3), np.array([[0.5]] * 3)]
        sk = so.SGDOptimizer(theirs, learning_rate_init=0.05, momentum=0.9, nesterov=True)
        for _ in range(15):
            sk.update_params(theirs, [s * W for s, W in zip(scales, theirs, strict=True)])
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


class TestMasks:
    @pytest.mark.parametrize("name", MASKED)
    def test_masked_array_takes_plain_sgd_steps(self, name):
        """An array with mask False moves exactly like plain SGD; a True one does not."""
        opt = make_optimizer(name, **{OPTIMIZERS[name].mask: [True, False]})
        W, b = np.array([[1.0, -2.0]]), np.array([[1.0]])
        for k in range(1, 6):
            opt.step([W, b], [W.copy(), b.copy()], 0.1)
            assert b[0, 0] == pytest.approx(0.9**k, rel=1e-12)
        assert not np.allclose(W, np.array([[1.0, -2.0]]) * 0.9**5, rtol=1e-6)

    def test_course_bias_rule_turns_biases_off(self):
        """The course's keyword marks weights True and biases False, and is empty for SGD."""
        p = Params([np.zeros((4, 3)), np.zeros((2, 4))], [np.zeros((4, 1)), np.zeros((2, 1))])
        assert course_bias_rule("momentum_course", p.bias_mask()) == {
            "momentum_mask": [True, True, False, False]
        }
        assert course_bias_rule("adam", p.bias_mask()) == {"adapt_mask": [True, True, False, False]}
        assert course_bias_rule("sgd", p.bias_mask()) == {}

    def test_mask_of_wrong_length_is_refused(self):
        """A mask whose length differs from the number of arrays is an error on the first step."""
        opt = make_optimizer("momentum_course", momentum_mask=[True])
        with pytest.raises(ValueError, match="1 entries for 2 arrays"):
            opt.step([np.ones(2), np.ones(2)], [np.ones(2), np.ones(2)], 0.1)


class TestState:
    def test_updates_arrays_in_place(self):
        """step() changes the given arrays themselves, so Params views see the update."""
        p = Params([np.ones((2, 3))], [np.ones((2, 1))])
        W = p.W[0]
        make_optimizer("adam").step(p.arrays(), [np.ones((2, 3)), np.ones((2, 1))], 0.1)
        assert p.W[0] is W
        assert np.all(W < 1.0) and np.all(p.b[0] < 1.0)

    def test_new_shapes_after_first_step_are_refused(self):
        """State belongs to the first shapes; other shapes later raise ValueError."""
        opt = make_optimizer("momentum_heavy_ball")
        opt.step([np.ones((2, 2))], [np.ones((2, 2))], 0.1)
        with pytest.raises(ValueError, match="shapes"):
            opt.step([np.ones((3, 2))], [np.ones((3, 2))], 0.1)

    def test_gradient_shape_must_match(self):
        """A gradient whose shape differs from its parameter is an error."""
        with pytest.raises(ValueError, match="gradient"):
            make_optimizer("sgd").step([np.ones((2, 3))], [np.ones((3, 2))], 0.1)

    @pytest.mark.parametrize("eta", [-0.1, math.nan, math.inf])
    def test_learning_rate_must_be_finite_and_non_negative(self, eta):
        """A negative, NaN or infinite η is an error."""
        with pytest.raises(ValueError, match="learning rate"):
            make_optimizer("sgd").step([np.ones(2)], [np.ones(2)], eta)

    def test_each_optimiser_has_its_own_state(self):
        """Two optimisers from make_optimizer do not share velocities."""
        a, b = make_optimizer("momentum_heavy_ball"), make_optimizer("momentum_heavy_ball")
        trajectory(a, steps=2)
        assert trajectory(b, steps=2) == pytest.approx([0.9, 0.72], abs=1e-12)


class TestAdaGrad:
    def test_course_steps_shrink_as_one_over_sqrt_k_under_a_constant_gradient(self):
        """With γ = 1 and a constant gradient c, step k is η c / sqrt(k (c² + ε))."""
        c, eta, eps = 0.3, 0.1, 1e-7
        opt = make_optimizer("adagrad_course", gamma=1.0, eps=eps)
        w = np.array([0.0])
        for k in range(1, 8):
            before = w.copy()
            opt.step([w], [np.array([c])], eta)
            assert before[0] - w[0] == pytest.approx(eta * c / math.sqrt(k * (c * c + eps)))

    def test_course_matches_the_tlpadagrad_lines(self):
        """With gamma = alpha, the course form reproduces TLPAdaGrad's update, biases plain."""
        alpha, eta = 0.1, 0.05
        opt = make_optimizer(
            "adagrad_course", gamma=alpha, alpha=alpha, eps=1e-7, adapt_mask=[True, False]
        )
        W, b = np.array([[1.0, -0.5]]), np.array([[0.7]])
        W_c, b_c = W.copy(), b.copy()
        rho_prev, G_prev = np.zeros_like(W_c), np.zeros_like(W_c)
        for _ in range(10):
            opt.step([W, b], [3 * W, b.copy()], eta)
            gradW, gradb = 3 * W_c, b_c.copy()
            # transcribed from the course notebook's TLPAdaGrad.fit
            G = gradW * gradW + alpha * G_prev + 1e-7
            rho = eta * gradW / np.sqrt(G)
            W_c -= rho + (alpha * rho_prev)
            b_c -= eta * gradb
            rho_prev, G_prev = rho, G
        np.testing.assert_allclose(W, W_c, rtol=1e-13)
        np.testing.assert_allclose(b, b_c, rtol=1e-13)

    def test_slide_form_on_a_quadratic(self):
        """The slide form follows G = γG + g², w -= η g / sqrt(G + ε) on f(w) = 2w²."""
        gamma, eps, eta = 0.9, 1e-3, 0.2
        got = np.array([1.5])
        opt = make_optimizer("adagrad_slide", gamma=gamma, eps=eps)
        w, G = 1.5, 0.0
        for _ in range(12):
            opt.step([got], [4 * got], eta)
            g = 4 * w
            G = gamma * G + g * g
            w -= eta * g / math.sqrt(G + eps)
            assert got[0] == pytest.approx(w, rel=1e-13)


class TestRMSProp:
    def test_first_step_is_eta_over_sqrt_one_minus_rho(self):
        """From G = 0 the first step is η g / (sqrt(1-ρ)|g| + ε)."""
        g = np.array([2.0, -0.01])
        w = np.zeros(2)
        make_optimizer("rmsprop", rho=0.99, eps=1e-8).step([w], [g], 0.01)
        np.testing.assert_allclose(-w, 0.01 * g / (math.sqrt(0.01) * np.abs(g) + 1e-8), rtol=1e-13)

    def test_trajectory_on_a_quadratic(self):
        """RMSProp follows G = ρG + (1-ρ)g², w -= η g / (sqrt(G) + ε) step after step."""
        got = np.array([1.0])
        opt = make_optimizer("rmsprop", rho=0.9, eps=1e-6)
        w, G = 1.0, 0.0
        for _ in range(15):
            opt.step([got], [got.copy()], 0.05)
            G = 0.9 * G + 0.1 * w * w
            w -= 0.05 * w / (math.sqrt(G) + 1e-6)
            assert got[0] == pytest.approx(w, rel=1e-12)


class TestAdam:
    def test_first_step_moves_each_coordinate_by_about_eta(self):
        """Bias correction makes the first step ≈ η per coordinate, whatever |g| is."""
        g = np.array([1e-3, -0.5, 30.0, -2e3])
        w = np.zeros(4)
        make_optimizer("adam").step([w], [g], 0.01)
        np.testing.assert_allclose(-w, 0.01 * np.sign(g), rtol=1e-4)

    def test_matches_a_plain_scalar_implementation(self):
        """Adam's trajectory over two arrays and a changing η equals a scalar loop."""
        b1, b2, eps = 0.8, 0.99, 1e-6
        etas = [0.02 / (1 + 0.2 * k) for k in range(25)]
        got = quadratic_run(make_optimizer("adam", beta1=b1, beta2=b2, eps=eps), 25, etas)
        start = quadratic_run(make_optimizer("sgd"), 0)
        scales = [[1.0, 4.0], [0.5]]
        for i, X in enumerate(start):
            for (r, c), w in np.ndenumerate(X):
                m = v = 0.0
                for t, eta in enumerate(etas, start=1):
                    g = scales[i][c] * w
                    m = b1 * m + (1 - b1) * g
                    v = b2 * v + (1 - b2) * g * g
                    w -= eta * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps)
                assert got[i][r, c] == pytest.approx(w, rel=1e-12)


class TestRegistry:
    def test_unknown_name_lists_the_known_ones(self):
        """An unknown optimiser name raises ValueError naming every known optimiser."""
        with pytest.raises(ValueError, match="unknown optimizer 'adamw'") as e:
            make_optimizer("adamw")
        assert all(name in str(e.value) for name in OPTIMIZERS)

    def test_unknown_hyper_parameter_is_named_with_the_allowed_ones(self):
        """A misspelt hyper-parameter is named, and the allowed ones are listed."""
        with pytest.raises(ValueError, match="'momentum'; allowed: alpha, momentum_mask"):
            make_optimizer("nesterov", momentum=0.9)

    def test_out_of_range_names_the_interval(self):
        """α = 1.5 is refused with the interval it must lie in."""
        with pytest.raises(ValueError, match=r"'alpha' must be in \[0, 1\): got 1.5"):
            make_optimizer("momentum_course", alpha=1.5)

    @pytest.mark.parametrize(
        ("name", "hyper"),
        [
            ("adam", {"beta2": 1.0}),
            ("adam", {"eps": 0.0}),
            ("rmsprop", {"rho": math.nan}),
            ("adagrad_course", {"gamma": True}),
            ("adagrad_slide", {"gamma": "1"}),
            ("momentum_course", {"momentum_mask": [1, 0]}),
            ("sgd", {"alpha": 0.9}),
        ],
    )
    def test_bad_values_are_refused(self, name, hyper):
        """Out-of-range, NaN, boolean, string and non-boolean-mask values raise ValueError."""
        with pytest.raises(ValueError, match=repr(next(iter(hyper)))):
            make_optimizer(name, **hyper)

    @pytest.mark.parametrize("name", list(OPTIMIZERS))
    def test_defaults_descend_a_convex_quadratic(self, name):
        """Every optimiser with its defaults lowers a convex quadratic over 200 steps."""

        def f(params):
            return sum(float(np.sum(W * W)) for W in params)

        before = f(quadratic_run(make_optimizer("sgd"), 0))
        after = f(quadratic_run(make_optimizer(name), 200, [0.05] * 200))
        assert after < 0.5 * before
