"""The conventions a probe's reference values follow, declared per adapter style.

A faithful copy of each style's code computes a known objective, optimiser and
learning-rate schedule (docs/conventions.md §2, §3, §7); ``STYLE_CONVENTIONS`` records
them, and a rubric overrides any of them in a check's parameters
(``CONVENTION_KEYS``). The helpers here turn the course's keyword names (eta,
decrease_const, decrease_iter, alpha) into the reference's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from grader.adapters.binding import AdapterBinding
from reference.optimizers import OPTIMIZERS, Optimizer, course_bias_rule, make_optimizer
from reference.params import Params

# What a faithful copy of each style's code computes (docs/conventions.md §2, §3, §7).
STYLE_CONVENTIONS: dict[str, dict[str, Any]] = {
    "template": {
        "loss": "squared",
        "penalty": "l2_half",
        "optimizer": "momentum_course",
        "bias_momentum": True,  # the template treats every array alike
        "schedule": "inverse_time",
        "cost_kind": "objective",
    },
    "course_separate": {
        "loss": "squared",
        "penalty": "l2_half",  # gradW += C*W
        "optimizer": "momentum_course",
        "bias_momentum": False,  # b -= eta*g
        "schedule": "step",  # eta * d**floor(k / decrease_iter)
        "cost_kind": "printed",
    },
    "course_folded": {
        "loss": "squared",
        "penalty": "l2_half",  # grad[:, 1:] += C*W[:, 1:]
        "optimizer": "momentum_course",
        "bias_momentum": True,  # momentum on the whole folded W, bias column included
        "schedule": "compounding",  # self.eta /= (1 + d*k)
        "cost_kind": "printed",
    },
    "textbook_rows": {
        "loss": "bce",  # delta_out = a_out - y
        "penalty": "l2_half",  # grad + l2*W
        "optimizer": "sgd",
        "bias_momentum": False,
        "schedule": "constant",
        "cost_kind": "objective",
        "cost_penalty": "l2",  # _compute_cost adds l2 * sum(W**2)
    },
}
CONVENTION_KEYS = (
    "loss",
    "reduction",
    "penalty",
    "penalize_bias",
    "hidden",
    "output",
    "optimizer",
    "optimizer_hyper",
    "bias_momentum",
    "schedule",
    "cost_kind",
    "cost_loss",
    "cost_penalty",
    "cost_reduction",
    "printed_loss",
)
COST_KINDS = ("objective", "printed")


def conventions(binding: AdapterBinding, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every convention key: the style's defaults, overridden by the check's ``given`` params."""
    conv = {
        "reduction": "sum",
        "penalize_bias": False,
        "hidden": "sigmoid",
        "output": "sigmoid",
        "optimizer_hyper": {},
        "cost_loss": None,
        "cost_penalty": None,
        "cost_reduction": None,
        "printed_loss": None,
    }
    # the rubric's style, also when discovery bound a class of another shape
    conv |= STYLE_CONVENTIONS[binding.objective_style or binding.adapter_style]
    unknown = sorted(set(binding.conventions) - set(CONVENTION_KEYS))
    if unknown:
        raise ValueError(
            f"adapter.conventions: unknown key {unknown[0]!r}; allowed: {', '.join(CONVENTION_KEYS)}"
        )
    conv |= binding.conventions  # the rubric's, for every check
    conv |= {k: v for k, v in given.items() if k in CONVENTION_KEYS}
    if conv["cost_kind"] not in COST_KINDS:
        raise ValueError(f"cost_kind {conv['cost_kind']!r} is not one of {', '.join(COST_KINDS)}")
    return conv


def schedule_hyper(name: str, hyper: Mapping[str, Any]) -> dict[str, Any]:
    """The course's keywords (eta, decrease_const, decrease_iter) in the schedule's names."""
    eta0, d = hyper["eta"], hyper["decrease_const"]
    per = {
        "constant": {"eta0": eta0},
        "inverse_time": {"eta0": eta0, "d": d},
        "compounding": {"eta0": eta0, "d": d},
        "step": {"eta0": eta0, "d": d, "k_d": hyper["decrease_iter"]},
    }
    if name not in per:
        raise ValueError(f"schedule {name!r} cannot be probed; allowed: {', '.join(per)}")
    return per[name]


def optimizer_hyper(conv: Mapping[str, Any], hyper: Mapping[str, Any], P: Params) -> dict[str, Any]:
    """The optimiser's hyper-parameters (the course's alpha included), without the bias mask."""
    name = conv["optimizer"]
    out = dict(conv["optimizer_hyper"])
    if name in OPTIMIZERS and "alpha" in OPTIMIZERS[name].hyper:
        out.setdefault("alpha", hyper["alpha"])
    build_optimizer(name, out, bool(conv["bias_momentum"]), P)  # checked before the child runs
    return out


def build_optimizer(
    name: str,
    hyper: Mapping[str, Any],
    bias_momentum: bool,
    P: Params,
    make: Callable[..., Optimizer] | None = None,
) -> Optimizer:
    """A fresh optimiser; without bias momentum the biases take plain steps (the course).

    ``make`` replaces the factory of ``name`` (a misconception standing in for it).
    """
    mask = {} if bias_momentum else course_bias_rule(name, P.bias_mask())
    if make is not None:
        return make(**hyper, **mask)
    return make_optimizer(name, **hyper, **mask)
