"""Named buggy variants of the reference ("misconceptions") used for diagnosis.

Each misconception is a small, documented deviation from one reference
function, with exactly that function's signature, so the grader can ask
"which known bug produces exactly what this student produced?" by running
every misconception of the right *kind* on the student's inputs.

Kinds, and the reference function each kind replaces:

- ``"gradient"``  -> ``reference.network.gradients(params, X, Y, model, objective)``
- ``"optimizer"`` -> an optimiser factory, ``make(**hyper) -> Optimizer``
  (see ``reference.optimizers``)
- ``"schedule"``  -> a schedule factory, ``make(**hyper) -> Schedule``
  (see ``reference.schedules``)
- ``"encoding"``  -> ``reference.encoding.one_hot(y, n_classes)``
- ``"training"``  -> ``reference.training.train(...)``

Modules in this package register their entries at import time; importing the
package imports them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["gradient", "optimizer", "schedule", "encoding", "training"]
KINDS: tuple[Kind, ...] = ("gradient", "optimizer", "schedule", "encoding", "training")


@dataclass(frozen=True)
class Misconception:
    """One named student bug.

    name        : registry key, snake_case, stable (reports and rubrics use it)
    kind        : which reference function ``impl`` stands in for (see module doc)
    title       : a short phrase for reports ("hidden-layer derivative missing")
    description : what the buggy code does, in the lecture's notation
    topic       : the lecture topic it belongs to ("back-propagation", "momentum", ...)
    signature   : how it shows numerically (docs/conventions.md §5 / §3)
    next_step   : what a student who has it should do next
    impl        : the buggy function, same signature as the reference one it replaces
    variants    : where one bug has several places (one layer of L, the weights or the
                  biases): depth L -> the keyword sets ``impl`` takes for each place, so
                  the grader computes one candidate per place (None: one call, no keywords;
                  with no keywords ``impl`` computes the first place)
    """

    name: str
    kind: Kind
    title: str
    description: str
    topic: str
    signature: str
    next_step: str
    impl: Callable[..., Any]
    variants: Callable[[int], tuple[dict[str, Any], ...]] | None = None

    def places(self, depth: int) -> tuple[dict[str, Any], ...]:
        """The keyword sets of every place the bug can sit in a network of ``depth`` layers."""
        return self.variants(depth) if self.variants is not None else ({},)


_REGISTRY: dict[str, Misconception] = {}


def register(m: Misconception) -> Misconception:
    """Add ``m`` to the registry; names are unique across all kinds."""
    if m.kind not in KINDS:
        raise ValueError(f"misconception {m.name!r}: unknown kind {m.kind!r}; allowed: {KINDS}")
    if m.name in _REGISTRY:
        raise ValueError(f"misconception {m.name!r} is registered twice")
    _REGISTRY[m.name] = m
    return m


def get(name: str) -> Misconception:
    """The misconception called ``name``; a clear error listing the known names otherwise."""
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"unknown misconception {name!r}; known: {known}") from None


def all_misconceptions(kind: Kind | None = None) -> Iterator[Misconception]:
    """Every registered misconception (of one ``kind`` if given), in name order."""
    _load_all()
    for name in sorted(_REGISTRY):
        m = _REGISTRY[name]
        if kind is None or m.kind == kind:
            yield m


def _load_all() -> None:
    # Imported lazily so that the registry module itself has no heavy imports
    # and the submodules may import the registry without a cycle.
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
