"""Misconceptions about update rules and cooling (kinds "optimizer" and "schedule").

Each ``impl`` is a factory taking exactly the keyword hyper-parameters of the
reference entry it stands in for (``STANDS_IN_FOR``), checked by that entry's
declarations, and returning an object with the reference's API (``step`` or
``rate``/``observe``). The grader runs it on the student's inputs beside the
reference and asks which one reproduces the student's numbers.

Where each shows (docs/conventions.md §3, §5), on f(w) = w²/2, w_0 = 1, η = 0.1, α = 0.9:
swapped momentum forms agree for two steps and part at the third (0.567 vs
0.486); AdaGrad without the root is wrong from step 1, a reset accumulator
from step 2; both Adam bugs from step 1; compounding decay from epoch 2.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from reference.misconceptions import Misconception, register
from reference.optimizers import (
    OPTIMIZERS,
    AdaGradCourse,
    Adam,
    Array,
    MomentumCourse,
    MomentumHeavyBall,
)
from reference.schedules import SCHEDULES, Compounding, StepDecay

# misconception name -> the reference registry entry whose hyper-parameters it takes
STANDS_IN_FOR: dict[str, str] = {}


class MomentumNeverApplied(MomentumCourse):
    """The course's momentum whose remembered step is never read back: W -= η ∇J every step.

    The course's history has it: the step is stored in ``rho_W1_prev`` and read from
    ``_rho_W1_prev``, which stays at its initial zeros, so α multiplies zero forever.
    """

    def step(self, params: list[Array], grads: list[Array], eta: float) -> None:
        self._start(params, grads, eta)
        for W, g in zip(params, grads, strict=True):
            W -= eta * g


class StoredStepDecay(StepDecay):
    """Step decay kept in a stored rate: asked for epoch k > 0, it multiplies the stored rate
    by d when k is a multiple of k_d (``self.eta *= self.decrease_const``) and returns it.

    Asked once per epoch, in order, it gives η_0 d^floor(k / k_d) exactly; asked out of
    order or twice, and in a second ``fit``, it gives whatever the calls before left behind.
    """

    def __init__(self, eta0: float = 0.001, d: float = 0.1, k_d: int = 10) -> None:
        super().__init__(eta0, d, k_d)
        self.eta = eta0

    def rate(self, epoch: int) -> float:
        k = self._check(epoch)
        if k > 0 and k % self.k_d == 0:
            self.eta *= self.d
        return self.eta


class AdaGradNoSqrt(AdaGradCourse):
    """Course AdaGrad dividing by G instead of sqrt(G): r_k = η ∇J / G_k."""

    def _normalise(self, g: Array, G: Array) -> Array:
        return g / G


class AdaGradResetEachStep(AdaGradCourse):
    """Course AdaGrad whose accumulator is created afresh every step: G_k = ∇J ⊙ ∇J + ε."""

    def _accumulate(self, G_prev: Array, g: Array) -> Array:
        return g * g + self.eps


class AdamLateCounter(Adam):
    """Adam whose counter is incremented after the update: corrections use k - 1.

    The first correction divides by 1 - β^0 = 0, so the first step is inf/NaN.
    numpy's warnings are silenced here: the NaN is the signature, not an error.
    """

    def _bias_corrections(self) -> tuple[float, float]:
        k = self.t - 1
        return 1.0 - self.beta1**k, 1.0 - self.beta2**k

    def step(self, params: list[Array], grads: list[Array], eta: float) -> None:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            super().step(params, grads, eta)


class AdamNoBiasCorrection(Adam):
    """Adam with raw moments: W -= η m_k / (sqrt(v_k) + ε)."""

    def _bias_corrections(self) -> tuple[float, float]:
        return 1.0, 1.0


def _stand_in(name: str, registry: dict[str, Any], reference: str, cls: type) -> Callable[..., Any]:
    """A factory with the hyper-parameters (and checks) of ``registry[reference]``."""
    entry = registry[reference]

    def make(**hyper: object) -> Any:
        return cls(**entry.validate(hyper))

    make.__name__ = name
    make.__doc__ = f"{cls.__doc__}\n\nHyper-parameters: those of {reference!r}."
    STANDS_IN_FOR[name] = reference
    return make


def _optimizer(name: str, reference: str, cls: type, **text: Any) -> Misconception:
    impl = _stand_in(name, OPTIMIZERS, reference, cls)
    return register(Misconception(name=name, kind="optimizer", impl=impl, **text))


_optimizer(
    "momentum_heavy_ball_for_course",
    "momentum_course",
    MomentumHeavyBall,
    title="heavy-ball momentum where the course form was asked for",
    description=(
        "Remembers the whole step, ρ_k = η∇J(W_k) + α ρ_{k-1}, instead of the previous raw "
        "step: the course form is W -= η∇J + α·(η∇J)_prev."
    ),
    topic="momentum",
    signature=(
        "Equal to the course form for two steps, then larger steps: third iterate 0.486 "
        "instead of 0.567 on f(w) = w²/2, w0 = 1, η = 0.1, α = 0.9."
    ),
    next_step=(
        "Keep rho_prev as the previous raw step eta*grad, not the accumulated velocity: "
        "rho = eta*grad; W -= rho + alpha*rho_prev; rho_prev = rho."
    ),
)

_optimizer(
    "momentum_course_for_heavy_ball",
    "momentum_heavy_ball",
    MomentumCourse,
    title="course-form momentum where heavy-ball momentum was asked for",
    description=(
        "Adds back only the previous raw step, W -= η∇J + α(η∇J)_prev, instead of "
        "carrying the velocity ρ_k = η∇J(W_k) + α ρ_{k-1}."
    ),
    topic="momentum",
    signature=(
        "Equal to heavy-ball for two steps, then smaller steps: third iterate 0.567 "
        "instead of 0.486 on f(w) = w²/2, w0 = 1, η = 0.1, α = 0.9."
    ),
    next_step=(
        "Keep the velocity itself from step to step: rho = eta*grad + alpha*rho; W -= rho "
        "(store rho, not eta*grad)."
    ),
)

_optimizer(
    "momentum_never_applied",
    "momentum_course",
    MomentumNeverApplied,
    title="momentum never applied (its state is not carried between steps)",
    description=(
        "The previous step is stored under one name and read from another (rho_W1_prev "
        "written, _rho_W1_prev read), or returned but never passed back: the α term is "
        "always α·0, so every update is plain gradient descent, W -= η∇J."
    ),
    topic="momentum",
    signature=(
        "Equal to the course form at the first step, then exactly plain gradient descent: "
        "0.9, 0.81, 0.729 instead of 0.9, 0.72, 0.567 on f(w) = w²/2, w0 = 1, η = 0.1, α = 0.9."
    ),
    next_step=(
        "Read the previous step from the same place you store it: print self.rho_W1_prev "
        "(or the rho your function returns) after two steps; it must be the last step "
        "eta*grad, not zeros."
    ),
)

_optimizer(
    "adagrad_no_sqrt",
    "adagrad_course",
    AdaGradNoSqrt,
    title="AdaGrad divides by G instead of its square root",
    description="Scales the gradient by 1/G_k rather than 1/sqrt(G_k).",
    topic="adaptive learning rates",
    signature=(
        "Wrong from the first step: the step is about η/|∇J| instead of about η, so small "
        "gradients give huge steps (divergence) and large ones almost none."
    ),
    next_step=(
        "Take the square root of the accumulator before dividing: "
        "rho = eta * grad / np.sqrt(G); the units of G are gradient squared."
    ),
)

_optimizer(
    "adagrad_reset_each_step",
    "adagrad_course",
    AdaGradResetEachStep,
    title="AdaGrad accumulator re-created every step",
    description=(
        "G is initialised inside the batch loop (or never carried over), so G_k = ∇J⊙∇J + ε "
        "holds no history."
    ),
    topic="adaptive learning rates",
    signature=(
        "Same first step, different from step 2 on (when γ > 0): every step is about "
        "η·sign(∇J), like sign-SGD, and never shrinks."
    ),
    next_step=(
        "Create G once, before the epoch loop, and carry it over: G_prev = G after each "
        "update, so G = grad*grad + gamma*G_prev + eps grows with the history."
    ),
)

_optimizer(
    "adam_step_not_incremented_first",
    "adam",
    AdamLateCounter,
    title="Adam's step counter incremented after the update",
    description=(
        "The counter starts at 0 and is increased after the update, so the bias correction "
        "divides by 1 - β^0 = 0 on the first step."
    ),
    topic="adaptive learning rates",
    signature="Wrong from step 1: the first update is inf/NaN and every weight stays NaN.",
    next_step=(
        "Increase the counter before correcting: t += 1, then m_hat = m / (1 - beta1**t) and "
        "v_hat = v / (1 - beta2**t), so the first step uses t = 1."
    ),
)

_optimizer(
    "adam_no_bias_correction",
    "adam",
    AdamNoBiasCorrection,
    title="Adam without bias correction",
    description="Uses the raw moments m_k and v_k, which start biased towards zero.",
    topic="adaptive learning rates",
    signature=(
        "Wrong from step 1: the first step is about η(1-β1)/sqrt(1-β2) ≈ 3.16η per "
        "coordinate instead of η; the gap fades over a few thousand steps."
    ),
    next_step=(
        "Divide the moments by 1 - beta**t before the update: "
        "W -= eta * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)."
    ),
)

register(
    Misconception(
        name="stateful_cooling",
        kind="schedule",
        impl=_stand_in("stateful_cooling", SCHEDULES, "step", StoredStepDecay),
        title="the cooling function changes a stored rate (self.eta) instead of computing it",
        description=(
            "The rate for epoch k is not computed from η_0 and k: each call multiplies the "
            "stored self.eta by d when k is a multiple of k_d and returns it. Called once per "
            "epoch in order it gives the right rates; asked out of order or twice (or in a "
            "second fit) it gives what the earlier calls left behind."
        ),
        topic="cooling",
        signature=(
            "Right when asked for epochs 0, 1, 2, ... once each; asked for an epoch again or "
            "out of order, the rate differs (e.g. a multiple of k_d asked twice is cut twice), "
            "and a second fit starts from the last rate of the first."
        ),
        next_step=(
            "Compute the rate from the initial value and the epoch, into a local variable: "
            "eta = self.eta * self.decrease_const ** (epoch // self.decrease_iter), and never "
            "assign to self.eta; the same epoch must always give the same rate."
        ),
    )
)

register(
    Misconception(
        name="compounding_decay",
        kind="schedule",
        impl=_stand_in("compounding_decay", SCHEDULES, "inverse_time", Compounding),
        title="learning-rate decay compounds and overwrites η",
        description=(
            "Writes eta /= (1 + d*k) into the stored learning rate every epoch, so the "
            "decays multiply: η_k = η_0 / prod_{j<=k}(1 + d j) instead of η_0 / (1 + d k)."
        ),
        topic="cooling",
        signature=(
            "Equal for epochs 0 and 1, lower from epoch 2 (0.0278 vs 0.0667 at epoch 5 for "
            "η0 = d = 0.1); a second fit starts from the last rate of the first."
        ),
        next_step=(
            "Compute the rate from the initial value each epoch into a local variable: "
            "eta = self.eta / (1 + self.decrease_const * k), and never assign to self.eta."
        ),
    )
)
