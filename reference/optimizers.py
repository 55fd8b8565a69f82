"""Optimisers: how one gradient becomes one step, in the lecture's notation.

Every optimiser moves parameters by a step ρ_k::

    W_{k+1} = W_k - ρ_k

and differs only in how ρ_k is built from the gradient ∇J(W_k) (``g`` below),
the learning rate η (``eta``, supplied each step by a schedule) and its own
memory of earlier steps.

Optimisers know nothing about the model (like scikit-learn's
``_stochastic_optimizers``): ``opt.step(params, grads, eta)`` updates a list
of arrays IN PLACE, ``params[i] -= ρ_k[i]``. State (velocities, accumulators,
the step counter) is created lazily from the shapes on the first step, and
later steps must bring the same shapes.

The course gives biases neither momentum nor adaptation (``b -= η g``). Each
optimiser that remembers anything takes a mask saying which arrays get the
full rule (True) and which get plain gradient descent (False); None means
every array. For a network, the course passes ``[not b for b in
params.bias_mask()]``; :func:`course_bias_rule` builds that keyword.

Hyper-parameters are declared (default and allowed interval) in the
``OPTIMIZERS`` registry, and :func:`make_optimizer` checks them before
anything runs. The declaration helpers (:class:`Real`, :class:`Mask`,
:class:`Factory`) are shared with ``reference.schedules``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np

Array = np.ndarray


# --------------------------------------------------------------------------
# Declared hyper-parameters


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class Real:
    """A real (or whole) hyper-parameter: its default and the interval it must lie in.

    ends : which ends are included, one of "[]", "[)", "(]", "()"
    """

    default: float
    low: float = -math.inf
    high: float = math.inf
    ends: str = "[]"
    integer: bool = False

    def __str__(self) -> str:
        return f"{self.ends[0]}{_fmt(self.low)}, {_fmt(self.high)}{self.ends[1]}"

    def check(self, where: str, name: str, value: object) -> float:
        """``value`` as a float (int when ``integer``), or a ValueError naming ``name``."""
        number = (int, float, np.integer, np.floating)
        if isinstance(value, bool | np.bool_) or not isinstance(value, number):
            kind = "a whole number" if self.integer else "a number"
            raise ValueError(f"{where}: {name!r} must be {kind} in {self}: got {value!r}")
        v = float(value)
        above = v >= self.low if self.ends[0] == "[" else v > self.low
        below = v <= self.high if self.ends[1] == "]" else v < self.high
        if not (above and below):  # NaN fails both
            raise ValueError(f"{where}: {name!r} must be in {self}: got {value!r}")
        if self.integer:
            if v != int(v):
                raise ValueError(
                    f"{where}: {name!r} must be a whole number in {self}: got {value!r}"
                )
            return int(v)
        return v


@dataclass(frozen=True)
class Mask:
    """A per-array on/off list: True = the array gets the full rule; None = every array."""

    default: None = None

    def check(self, where: str, name: str, value: object) -> tuple[bool, ...] | None:
        """``value`` as a tuple of bools, or a ValueError naming ``name``."""
        if value is None:
            return None
        ok = isinstance(value, Sequence | np.ndarray) and not isinstance(value, str | bytes)
        items = list(cast(Sequence[object], value)) if ok else []
        if not ok or not all(isinstance(b, bool | np.bool_) for b in items):
            raise ValueError(f"{where}: {name!r} must be None or a list of booleans: got {value!r}")
        return tuple(bool(b) for b in items)


Hyper = Real | Mask


@dataclass(frozen=True)
class Factory:
    """A registry entry: a named constructor with declared hyper-parameters.

    kind    : "optimizer" or "schedule" (used in messages)
    make    : the class; called with every hyper-parameter, defaults filled in
    hyper   : name -> declaration, in the constructor's order
    summary : the update rule in one line
    """

    kind: str
    name: str
    make: Callable[..., Any]
    hyper: Mapping[str, Hyper]
    summary: str

    @property
    def mask(self) -> str | None:
        """The name of the mask hyper-parameter, if this entry takes one."""
        return next((k for k, h in self.hyper.items() if isinstance(h, Mask)), None)

    def validate(self, hyper: Mapping[str, object]) -> dict[str, Any]:
        """Every hyper-parameter, checked, with defaults filled in."""
        where = f"{self.kind} {self.name!r}"
        unknown = sorted(set(hyper) - set(self.hyper))
        if unknown:
            allowed = ", ".join(self.hyper) or "none"
            raise ValueError(f"{where}: unknown hyper-parameter {unknown[0]!r}; allowed: {allowed}")
        return {k: h.check(where, k, hyper.get(k, h.default)) for k, h in self.hyper.items()}

    def __call__(self, **hyper: object) -> Any:
        return self.make(**self.validate(hyper))


def lookup(registry: Mapping[str, Factory], kind: str, name: str) -> Factory:
    """``registry[name]``, or a ValueError listing the known names."""
    try:
        return registry[name]
    except KeyError:
        raise ValueError(f"unknown {kind} {name!r}; known: {', '.join(registry)}") from None


# --------------------------------------------------------------------------
# Optimisers


class Optimizer(Protocol):
    """Anything that can take one step."""

    def step(self, params: list[Array], grads: list[Array], eta: float) -> None:
        """Update ``params`` in place from ``grads`` with learning rate ``eta``."""
        ...


class _Base:
    """Shared plumbing: argument checks and lazily created per-array state."""

    mask: tuple[bool, ...] | None = None

    def __init__(self) -> None:
        self._shapes: list[tuple[int, ...]] | None = None

    def _start(self, params: list[Array], grads: list[Array], eta: float) -> None:
        # Fast path (every step after the first): one comparison of shapes.
        # Training calls this once per mini-batch, so its cost is per-batch overhead.
        if (
            self._shapes is not None
            and 0.0 <= eta < math.inf
            and [W.shape for W in params] == self._shapes == [g.shape for g in grads]
        ):
            return
        if not 0.0 <= eta < math.inf:
            raise ValueError(f"learning rate must be finite and >= 0: got {eta!r}")
        if len(params) != len(grads):
            raise ValueError(f"{len(params)} parameter arrays but {len(grads)} gradients")
        shapes = [tuple(np.shape(W)) for W in params]
        for i, (W, g) in enumerate(zip(params, grads, strict=True)):
            if np.shape(g) != np.shape(W):
                raise ValueError(f"array {i}: gradient {np.shape(g)} != parameter {np.shape(W)}")
        if self._shapes is None:
            if self.mask is not None and len(self.mask) != len(params):
                raise ValueError(f"mask has {len(self.mask)} entries for {len(params)} arrays")
            self._shapes = shapes
            self._init_state(params)
        elif shapes != self._shapes:
            # state belongs to one network; a new network needs a new optimiser
            raise ValueError(f"optimiser state was made for shapes {self._shapes}, got {shapes}")

    def _init_state(self, params: list[Array]) -> None:
        """Create per-array state (zeros) on the first step."""

    def _on(self, i: int) -> bool:
        return self.mask is None or self.mask[i]


def _zeros(params: list[Array]) -> list[Array]:
    return [np.zeros(np.shape(W)) for W in params]


class SGD(_Base):
    """Plain gradient descent:  ρ_k = η ∇J(W_k)."""

    def step(self, params: list[Array], grads: list[Array], eta: float) -> None:
        self._start(params, grads, eta)
        for W, g in zip(params, grads, strict=True):
            W -= eta * g


class MomentumCourse(_Base):
    """Momentum as the course's code writes it: the previous *raw* step is added again.

        r_k     = η ∇J(W_k)
        W_{k+1} = W_k - r_k - α r_{k-1}          (r_0 = 0)

    Only the last raw step is remembered, so this is not the heavy-ball
    recurrence; the two agree for two steps and differ from the third on.
    Arrays with ``momentum_mask`` False (the course: biases) get ``W -= η g``.
    """

    def __init__(self, alpha: float = 0.9, momentum_mask: Sequence[bool] | None = None) -> None:
        super().__init__()
        self.alpha = alpha
        self.mask = None if momentum_mask is None else tuple(momentum_mask)

    def _init_state(self, params: list[Array]) -> None:
        self.rho_prev = _zeros(params)

    def step(self, params: list[Array], grads: list[Array], eta: float) -> None:
        self._start(params, grads, eta)
        for i, (W, g) in enumerate(zip(params, grads, strict=True)):
            rho = eta * g
            if self._on(i):
                W -= rho + self.alpha * self.rho_prev[i]
                self.rho_prev[i] = rho
            else:
                W -= rho


class MomentumHeavyBall(_Base):
    """Polyak's heavy ball, as on the lecture slide: the step itself is remembered.

        ρ_k     = η ∇J(W_k) + α ρ_{k-1}          (ρ_0 = 0)
        W_{k+1} = W_k - ρ_k

    Arrays with ``momentum_mask`` False get ``W -= η g``.
    """

    def __init__(self, alpha: float = 0.9, momentum_mask: Sequence[bool] | None = None) -> None:
        super().__init__()
        self.alpha = alpha
        self.mask = None if momentum_mask is None else tuple(momentum_mask)

    def _init_state(self, params: list[Array]) -> None:
        self.rho = _zeros(params)

    def step(self, params: list[Array], grads: list[Array], eta: float) -> None:
        self._start(params, grads, eta)
        for i, (W, g) in enumerate(zip(params, grads, strict=True)):
            if self._on(i):
                self.rho[i] = eta * g + self.alpha * self.rho[i]
                W -= self.rho[i]
            else:
                W -= eta * g


class Nesterov(_Base):
    """Nesterov's accelerated gradient, in the form that needs only ∇J at W_k.

        ρ_k     = α ρ_{k-1} + η ∇J(W_k)          (ρ_0 = 0)
        W_{k+1} = W_k - (α ρ_k + η ∇J(W_k))

    Why this form: the slide writes ρ_k = β ∇J(W_k + α ∇J(W_{k-1})) + α ∇J(W_{k-1}),
    whose look-ahead sign is ambiguous (a step *along* the gradient) and which
    needs a second gradient at the look-ahead point, which no course notebook
    computes. Substituting the look-ahead point as the iterate gives the
    update above, which is scikit-learn's (``v = μ v - lr g;  W += μ v - lr g``
    with v = -ρ) and cs231n's reformulation: all three follow one trajectory
    (0.81, 0.5751, 0.327321 on f(w) = w²/2, w_0 = 1, η = 0.1, α = 0.9).
    Arrays with ``momentum_mask`` False get ``W -= η g``.
    """

    def __init__(self, alpha: float = 0.9, momentum_mask: Sequence[bool] | None = None) -> None:
        super().__init__()
        self.alpha = alpha
        self.mask = None if momentum_mask is None else tuple(momentum_mask)

    def _init_state(self, params: list[Array]) -> None:
        self.rho = _zeros(params)

    def step(self, params: list[Array], grads: list[Array], eta: float) -> None:
        self._start(params, grads, eta)
        for i, (W, g) in enumerate(zip(params, grads, strict=True)):
            if self._on(i):
                self.rho[i] = self.alpha * self.rho[i] + eta * g
                W -= self.alpha * self.rho[i] + eta * g
            else:
                W -= eta * g


class AdaGradCourse(_Base):
    """AdaGrad as the course's ``TLPAdaGrad`` computes it (ε inside the accumulator).

        G_k     = ∇J ⊙ ∇J + γ G_{k-1} + ε        (G_0 = 0)
        r_k     = η ∇J / sqrt(G_k)
        W_{k+1} = W_k - r_k - α r_{k-1}          (course momentum on the rescaled step)

    γ = 1 is plain accumulation (Duchi et al.). The course code has no
    separate γ: it reuses its momentum constant, ``G = g*g + alpha*G_prev +
    1e-7`` then ``W -= rho + alpha*rho_prev``, so pass ``gamma=alpha`` (and the
    same ``alpha``) to reproduce it. With that class's default alpha = 0,
    G = g² + ε holds no history and each step is about η·sign(g).
    Because ε is added every step, it accumulates too when γ = 1.
    Arrays with ``adapt_mask`` False (the course: biases) get ``W -= η g``.
    """

    def __init__(
        self,
        gamma: float = 1.0,
        eps: float = 1e-7,
        alpha: float = 0.0,
        adapt_mask: Sequence[bool] | None = None,
    ) -> None:
        super().__init__()
        self.gamma, self.eps, self.alpha = gamma, eps, alpha
        self.mask = None if adapt_mask is None else tuple(adapt_mask)

    def _init_state(self, params: list[Array]) -> None:
        self.G = _zeros(params)
        self.rho_prev = _zeros(params)

    def _accumulate(self, G_prev: Array, g: Array) -> Array:
        return g * g + self.gamma * G_prev + self.eps

    def _normalise(self, g: Array, G: Array) -> Array:
        return g / np.sqrt(G)

    def step(self, params: list[Array], grads: list[Array], eta: float) -> None:
        self._start(params, grads, eta)
        for i, (W, g) in enumerate(zip(params, grads, strict=True)):
            if self._on(i):
                self.G[i] = self._accumulate(self.G[i], g)
                rho = eta * self._normalise(g, self.G[i])
                W -= rho + self.alpha * self.rho_prev[i]
                self.rho_prev[i] = rho
            else:
                W -= eta * g


class AdaGradSlide(_Base):
    """AdaGrad as the slide (and the notebook's markdown) writes it (ε under the root only).

        G_k     = γ G_{k-1} + ∇J ⊙ ∇J            (G_0 = 0)
        W_{k+1} = W_k - η ∇J / sqrt(G_k + ε)

    Arrays with ``adapt_mask`` False get ``W -= η g``.
    """

    def __init__(
        self, gamma: float = 1.0, eps: float = 1e-7, adapt_mask: Sequence[bool] | None = None
    ) -> None:
        super().__init__()
        self.gamma, self.eps = gamma, eps
        self.mask = None if adapt_mask is None else tuple(adapt_mask)

    def _init_state(self, params: list[Array]) -> None:
        self.G = _zeros(params)

    def step(self, params: list[Array], grads: list[Array], eta: float) -> None:
        self._start(params, grads, eta)
        for i, (W, g) in enumerate(zip(params, grads, strict=True)):
            if self._on(i):
                self.G[i] = self.gamma * self.G[i] + g * g
                W -= eta * g / np.sqrt(self.G[i] + self.eps)
            else:
                W -= eta * g


class RMSProp(_Base):
    """RMSProp: AdaGrad with a leaky average (Hinton's lecture 6e).

        G_k     = ρ G_{k-1} + (1 - ρ) ∇J ⊙ ∇J    (G_0 = 0)
        W_{k+1} = W_k - η ∇J / (sqrt(G_k) + ε)

    ε is added after the square root, as in PyTorch's ``torch.optim.RMSprop``
    (tf.keras documents sqrt(G + ε) instead; the two differ only while G is tiny).
    ``rho`` here is the decay, Keras's name; the lecture's ρ_k is the step.
    Arrays with ``adapt_mask`` False get ``W -= η g``.
    """

    def __init__(
        self, rho: float = 0.9, eps: float = 1e-8, adapt_mask: Sequence[bool] | None = None
    ) -> None:
        super().__init__()
        self.rho, self.eps = rho, eps
        self.mask = None if adapt_mask is None else tuple(adapt_mask)

    def _init_state(self, params: list[Array]) -> None:
        self.G = _zeros(params)

    def step(self, params: list[Array], grads: list[Array], eta: float) -> None:
        self._start(params, grads, eta)
        for i, (W, g) in enumerate(zip(params, grads, strict=True)):
            if self._on(i):
                self.G[i] = self.rho * self.G[i] + (1.0 - self.rho) * g * g
                W -= eta * g / (np.sqrt(self.G[i]) + self.eps)
            else:
                W -= eta * g


class Adam(_Base):
    """Adam (Kingma & Ba, Algorithm 1), with bias-corrected moments.

        k       = k + 1                           (counted BEFORE the correction)
        m_k     = β1 m_{k-1} + (1 - β1) ∇J        (m_0 = 0)
        v_k     = β2 v_{k-1} + (1 - β2) ∇J ⊙ ∇J   (v_0 = 0)
        m̂ = m_k / (1 - β1^k),   v̂ = v_k / (1 - β2^k)
        W_{k+1} = W_k - η m̂ / (sqrt(v̂) + ε)

    The correction makes the first step about η per coordinate whatever the
    gradient's size. One counter serves all arrays (one per ``step`` call).
    Arrays with ``adapt_mask`` False get ``W -= η g``.
    """

    def __init__(
        self,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        adapt_mask: Sequence[bool] | None = None,
    ) -> None:
        super().__init__()
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.mask = None if adapt_mask is None else tuple(adapt_mask)
        self.t = 0

    def _init_state(self, params: list[Array]) -> None:
        self.m = _zeros(params)
        self.v = _zeros(params)

    def _bias_corrections(self) -> tuple[float, float]:
        return 1.0 - self.beta1**self.t, 1.0 - self.beta2**self.t

    def step(self, params: list[Array], grads: list[Array], eta: float) -> None:
        self._start(params, grads, eta)
        self.t += 1
        c1, c2 = self._bias_corrections()
        for i, (W, g) in enumerate(zip(params, grads, strict=True)):
            if self._on(i):
                self.m[i] = self.beta1 * self.m[i] + (1.0 - self.beta1) * g
                self.v[i] = self.beta2 * self.v[i] + (1.0 - self.beta2) * g * g
                W -= eta * (self.m[i] / c1) / (np.sqrt(self.v[i] / c2) + self.eps)
            else:
                W -= eta * g


# --------------------------------------------------------------------------
# Registry

_ALPHA = Real(0.9, 0.0, 1.0, "[)")
_DECAY = Real(1.0, 0.0, 1.0, "[]")
_MOMENTUM: dict[str, Hyper] = {"alpha": _ALPHA, "momentum_mask": Mask()}


def _eps(default: float) -> Real:
    return Real(default, 0.0, math.inf, "()")


OPTIMIZERS: dict[str, Factory] = {
    f.name: f
    for f in (
        Factory("optimizer", "sgd", SGD, {}, "W -= η g"),
        Factory(
            "optimizer",
            "momentum_course",
            MomentumCourse,
            _MOMENTUM,
            "r = η g;  W -= r + α r_prev;  r_prev = r",
        ),
        Factory(
            "optimizer",
            "momentum_heavy_ball",
            MomentumHeavyBall,
            _MOMENTUM,
            "ρ = η g + α ρ;  W -= ρ",
        ),
        Factory(
            "optimizer",
            "nesterov",
            Nesterov,
            _MOMENTUM,
            "ρ = α ρ + η g;  W -= α ρ + η g",
        ),
        Factory(
            "optimizer",
            "adagrad_course",
            AdaGradCourse,
            {
                "gamma": _DECAY,
                "eps": _eps(1e-7),
                "alpha": Real(0.0, 0.0, 1.0, "[)"),
                "adapt_mask": Mask(),
            },
            "G = g² + γ G + ε;  r = η g / sqrt(G);  W -= r + α r_prev",
        ),
        Factory(
            "optimizer",
            "adagrad_slide",
            AdaGradSlide,
            {"gamma": _DECAY, "eps": _eps(1e-7), "adapt_mask": Mask()},
            "G = γ G + g²;  W -= η g / sqrt(G + ε)",
        ),
        Factory(
            "optimizer",
            "rmsprop",
            RMSProp,
            {"rho": Real(0.9, 0.0, 1.0, "[)"), "eps": _eps(1e-8), "adapt_mask": Mask()},
            "G = ρ G + (1-ρ) g²;  W -= η g / (sqrt(G) + ε)",
        ),
        Factory(
            "optimizer",
            "adam",
            Adam,
            {
                "beta1": Real(0.9, 0.0, 1.0, "[)"),
                "beta2": Real(0.999, 0.0, 1.0, "[)"),
                "eps": _eps(1e-8),
                "adapt_mask": Mask(),
            },
            "k += 1;  m, v moving moments;  W -= η m̂ / (sqrt(v̂) + ε)",
        ),
    )
}


def make_optimizer(name: str, **hyper: object) -> Optimizer:
    """A fresh optimiser ``name`` with checked hyper-parameters (defaults for the rest).

    Raises ValueError for an unknown name, an unknown hyper-parameter or a
    value outside its declared interval, each message naming what is allowed.
    """
    return cast(Optimizer, lookup(OPTIMIZERS, "optimizer", name)(**hyper))


def course_bias_rule(name: str, bias_mask: Sequence[bool]) -> dict[str, list[bool]]:
    """The keyword that gives biases the course's plain ``b -= η g`` under optimiser ``name``.

    ``bias_mask`` is ``Params.bias_mask()``; the result is e.g.
    ``{"momentum_mask": [True, True, False, False]}``, or ``{}`` for "sgd".
    """
    mask = lookup(OPTIMIZERS, "optimizer", name).mask
    return {} if mask is None else {mask: [not b for b in bias_mask]}
