"""An instructor's rubric file, validated in full: its structure (:mod:`grader.rubric`)
and every name it takes from the reference's registries.

    rubric = load_rubric("rubrics/mlp_backprop.toml")

The losses, penalties, optimisers, schedules, initialisers and misconceptions a
rubric may name are the reference's (:func:`reference_vocabulary`); this module
imports ``reference``, so a student kit, which reads its own rubric with
:data:`grader.rubric.AS_WRITTEN`, never ships it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from grader.adapters.conventions import CONVENTION_KEYS
from grader.contract import Kind
from grader.contract import probe_params as contract_params
from grader.probes import COST_KINDS
from grader.rubric import (
    LOCAL_PARAMS,
    Rubric,
    RubricError,
    Vocabulary,
    choice_check,
    read_rubric,
)
from reference.artifacts import FIELD_CHECKS
from reference.misconceptions import all_misconceptions
from reference.objectives import LOSSES, PENALTIES, REDUCTIONS
from reference.optimizers import OPTIMIZERS
from reference.schedules import SCHEDULES


@functools.cache
def param_checks() -> dict[str, Callable[[object], Any]]:
    """Check parameter -> a check returning the value or raising ValueError("must be ...")."""
    return LOCAL_PARAMS | {
        "sizes": FIELD_CHECKS["sizes"],
        "init": FIELD_CHECKS["init"],
        # conventions (CONVENTION_KEYS)
        "loss": choice_check(LOSSES),
        "reduction": choice_check(REDUCTIONS),
        "penalty": choice_check(PENALTIES),
        "hidden": FIELD_CHECKS["hidden"],
        "output": FIELD_CHECKS["output"],
        "optimizer": choice_check(tuple(OPTIMIZERS)),
        "optimizer_hyper": FIELD_CHECKS["optimizer_hyper"],
        "schedule": choice_check(tuple(SCHEDULES)),
        "cost_kind": choice_check(COST_KINDS),
        "cost_loss": choice_check(LOSSES),
        "cost_penalty": choice_check(PENALTIES),
        "cost_reduction": choice_check(REDUCTIONS),
        "printed_loss": choice_check(LOSSES),
    }


def _check_optimizer_hyper(name: str, hyper: Mapping[str, Any]) -> None:
    OPTIMIZERS[name].validate(hyper)  # the reference's declarations: names and intervals


@functools.cache
def reference_vocabulary() -> Vocabulary:
    """The names the reference defines, as a rubric validates them."""
    kinds: dict[str, Kind] = {m.name: m.kind for m in all_misconceptions()}
    return Vocabulary(
        param_checks=MappingProxyType(param_checks()),
        convention_keys=tuple(CONVENTION_KEYS),
        check_optimizer_hyper=_check_optimizer_hyper,
        misconception_kinds=MappingProxyType(kinds),
    )


def allowed_params(probe: str) -> tuple[str, ...]:
    """The parameter names a check of ``probe`` may set: its own (grader.contract), then the
    conventions' (as :class:`grader.rubric.Vocabulary` orders them)."""
    return tuple(dict.fromkeys((*contract_params(probe), *CONVENTION_KEYS)))


def parse_rubric(data: bytes, path: str | Path = "<rubric>") -> Rubric:
    """Validate rubric bytes (TOML) in full; ``path`` is used in messages only."""
    return read_rubric(data, path, reference_vocabulary())


def load_rubric(path: str | Path) -> Rubric:
    """Read and validate a rubric file in full; RubricError (file, key, problem) on any problem."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise RubricError(path, "", f"cannot read the rubric: {e.strerror or e}") from None
    return parse_rubric(data, path)


__all__ = ["allowed_params", "load_rubric", "param_checks", "parse_rubric", "reference_vocabulary"]
