"""The parent's "not assessed" rule (grader/adapters/support.py): the binding and the
inventory decide, never the child's exception; a lying inventory is caught by the run."""

from __future__ import annotations

import json
from typing import Any

from grader.adapters import child_probes
from grader.adapters.binding import AdapterBinding, binding_for
from grader.adapters.support import Support
from grader.probes import student_inputs
from tests.grader.adapters.conftest import problem

TEMPLATE = binding_for("template")
COURSE = binding_for("course_separate")
TEMPLATE_NAMES = {"names": {n: "function" for n in ("forward", "cost", "one_hot", "predict")}}


def probe(call: str, binding: AdapterBinding, **params: Any) -> tuple[str, dict, dict]:
    inputs, ctx = student_inputs(call, binding, params, problem())
    return call, json.loads(json.dumps(ctx.child_params())), inputs


def support(binding, outcomes, inventory, **probes) -> Support:
    return Support(probes, outcomes, inventory, child_probes, binding.class_name)


def test_a_name_the_inventory_lacks_is_not_assessed_with_the_parents_reason():
    s = support(TEMPLATE, {"g": "error"}, TEMPLATE_NAMES, g=probe("gradients", TEMPLATE, C=0.1))
    assert "defines no 'gradients'" in s.reason("g")


def test_a_name_the_submission_defines_makes_any_exception_a_failure():
    names = {"names": {**TEMPLATE_NAMES["names"], "gradients": "function"}}
    s = support(TEMPLATE, {"g": "error"}, names, g=probe("gradients", TEMPLATE, C=0.1))
    assert s.reason("g") == ""


def test_an_inventory_contradicted_by_an_answer_decides_nothing():
    """Hiding `gradients` while another probe that calls it answered: the lie is seen."""
    s = support(
        TEMPLATE,
        {"g": "error", "h": "ok"},
        TEMPLATE_NAMES,
        g=probe("gradients", TEMPLATE, C=0.1),
        h=probe("gradients", TEMPLATE, C=0.0),
    )
    assert s.reason("g") == ""


def test_no_inventory_decides_nothing_but_the_binding_still_does():
    """Without an inventory (a setup answer forged or too large) only the binding's own
    limits count: the textbook's 3rd edition binds no gradient method."""
    s = support(COURSE, {"g": "error"}, {}, g=probe("gradients", COURSE, C=0.1))
    assert s.reason("g") == ""
    textbook = binding_for("textbook_rows")
    s = support(textbook, {"g": "error"}, {}, g=probe("gradients", textbook, C=0.1))
    assert "inline in fit" in s.reason("g")


def test_a_class_without_the_bound_method_is_not_assessed():
    names = {"names": {"TLPMiniBatch": "class"}, "classes": {"TLPMiniBatch": {"fit": "function"}}}
    s = support(COURSE, {"g": "error"}, names, g=probe("gradients", COURSE, C=0.1))
    assert "has no method" in s.reason("g")
