"""Learning-rate schedules ("cooling"): the η each epoch hands to the optimiser.

A schedule answers ``rate(k)`` at the start of epoch k = 0, 1, 2, ... and may
listen to ``observe(J)``, the objective at the end of each epoch (only
reduce-on-plateau does). The training loop calls them in that order, once
per epoch::

    for k in range(epochs):
        eta = schedule.rate(k)
        ... every mini-batch: optimizer.step(params, grads, eta) ...
        schedule.observe(J_k)

Hyper-parameters are declared in the ``SCHEDULES`` registry and checked by
:func:`make_schedule` (the same declarations as ``reference.optimizers``).
The course's names: ``eta`` is η_0 = ``eta0``, ``decrease_const`` is ``d``,
``decrease_iter`` is ``k_d``.
"""

from __future__ import annotations

import math
from typing import Protocol, cast

from reference.optimizers import Factory, Real, lookup


class Schedule(Protocol):
    """η per epoch, optionally steered by the observed objective."""

    def rate(self, epoch: int) -> float:
        """η for epoch ``epoch`` (0-based), asked at the start of the epoch."""
        ...

    def observe(self, objective: float) -> None:
        """The objective at the end of an epoch."""
        ...


class _Base:
    def observe(self, objective: float) -> None:
        """No-op: only reduce-on-plateau listens to the objective."""

    @staticmethod
    def _check(epoch: int) -> int:
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch must be a whole number >= 0: got {epoch!r}")
        return epoch


class Constant(_Base):
    """η_k = η_0."""

    def __init__(self, eta0: float = 0.001) -> None:
        self.eta0 = eta0

    def rate(self, epoch: int) -> float:
        self._check(epoch)
        return self.eta0


class InverseTime(_Base):
    """η_k = η_0 / (1 + d k): the course's default cooling."""

    def __init__(self, eta0: float = 0.001, d: float = 0.1) -> None:
        self.eta0, self.d = eta0, d

    def rate(self, epoch: int) -> float:
        return self.eta0 / (1.0 + self.d * self._check(epoch))


class StepDecay(_Base):
    """η_k = η_0 · d^floor(k / k_d): multiply by d every k_d epochs (``TLPMiniBatch``)."""

    def __init__(self, eta0: float = 0.001, d: float = 0.1, k_d: int = 10) -> None:
        self.eta0, self.d, self.k_d = eta0, d, k_d

    def rate(self, epoch: int) -> float:
        return self.eta0 * self.d ** (self._check(epoch) // self.k_d)


class Compounding(_Base):
    """η_k = η_{k-1} / (1 + d k), stored back into ``eta0``: the textbook's ``self.eta /= ...``.

    Epoch by epoch this is η_0 / prod_{j=1..k} (1 + d j): equal to
    :class:`InverseTime` for k = 0 and 1, smaller from k = 2 on (0.0278 vs
    0.0667 at k = 5 for η_0 = d = 0.1). Because the division overwrites
    ``eta0``, a second run that starts again from epoch 0 starts from the last
    rate of the first run, as a second ``fit`` does in the course code.

    Calls are meant to come once per epoch in order. To stay well defined
    otherwise, the schedule remembers the last epoch it applied: asking for the
    same epoch again divides nothing more, a later epoch applies the divisions
    of every epoch in between, and an earlier epoch means a new run, whose
    divisions start again at j = 0 from the current ``eta0``.
    """

    def __init__(self, eta0: float = 0.001, d: float = 0.1) -> None:
        self.eta0, self.d = eta0, d
        self._last: int | None = None

    def rate(self, epoch: int) -> float:
        k = self._check(epoch)
        first = 0 if self._last is None or k < self._last else self._last + 1
        for j in range(first, k + 1):
            self.eta0 /= 1.0 + self.d * j
        self._last = k
        return self.eta0


class Plateau(_Base):
    """Reduce on plateau: η ← factor · η once the objective has stalled for ``patience`` epochs.

    Rule (relative threshold, as PyTorch's ``threshold_mode="rel"``; the wait
    as Keras's ``ReduceLROnPlateau``): after each observed J,

        if J < best · (1 - threshold):  best = J, wait = 0       (an improvement)
        else:                           wait = wait + 1
                                        if wait >= patience: η = factor · η, wait = 0

    so η drops after ``patience`` consecutive epochs without an improvement of
    more than ``threshold`` (relative), and takes effect from the next
    ``rate`` call. ``best`` starts at +inf, so the first J always improves;
    a NaN J never does. (PyTorch waits one epoch longer: it reduces when
    wait > patience.) ``rate(k)`` does not depend on k.
    """

    def __init__(
        self, eta0: float = 0.001, factor: float = 0.1, patience: int = 10, threshold: float = 1e-4
    ) -> None:
        self.eta0, self.factor, self.patience, self.threshold = eta0, factor, patience, threshold
        self.eta = eta0
        self.best = math.inf
        self.wait = 0

    def rate(self, epoch: int) -> float:
        self._check(epoch)
        return self.eta

    def observe(self, objective: float) -> None:
        if objective < self.best * (1.0 - self.threshold):
            self.best, self.wait = objective, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.eta *= self.factor
            self.wait = 0


_ETA0 = Real(0.001, 0.0, math.inf, "()")
_D = Real(0.1, 0.0, math.inf, "[)")

SCHEDULES: dict[str, Factory] = {
    f.name: f
    for f in (
        Factory("schedule", "constant", Constant, {"eta0": _ETA0}, "η_k = η_0"),
        Factory(
            "schedule",
            "inverse_time",
            InverseTime,
            {"eta0": _ETA0, "d": _D},
            "η_k = η_0 / (1 + d k)",
        ),
        Factory(
            "schedule",
            "step",
            StepDecay,
            {
                "eta0": _ETA0,
                "d": Real(0.1, 0.0, 1.0, "(]"),
                "k_d": Real(10, 1, math.inf, "[)", integer=True),
            },
            "η_k = η_0 d^floor(k / k_d)",
        ),
        Factory(
            "schedule",
            "compounding",
            Compounding,
            {"eta0": _ETA0, "d": _D},
            "η_k = η_{k-1} / (1 + d k), overwriting η_0",
        ),
        Factory(
            "schedule",
            "plateau",
            Plateau,
            {
                "eta0": _ETA0,
                "factor": Real(0.1, 0.0, 1.0, "()"),
                "patience": Real(10, 1, math.inf, "[)", integer=True),
                "threshold": Real(1e-4, 0.0, 1.0, "[)"),
            },
            "η ← factor η after `patience` epochs without relative improvement > threshold",
        ),
    )
}


def make_schedule(name: str, **hyper: object) -> Schedule:
    """A fresh schedule ``name`` with checked hyper-parameters (defaults for the rest).

    Raises ValueError for an unknown name, an unknown hyper-parameter or a
    value outside its declared interval, each message naming what is allowed.
    """
    return cast(Schedule, lookup(SCHEDULES, "schedule", name)(**hyper))
