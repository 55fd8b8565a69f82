"""The parent's "not assessed" rule (grader/adapters/support.py): the binding and the
inventory decide, never the child's exception; a lying inventory is caught by the run."""

from __future__ import annotations

import json
from typing import Any

from grader.adapters import child_probes
from grader.adapters.binding import AdapterBinding, binding_for
from grader.adapters.discover import read_api
from grader.adapters.support import Support
from grader.probes import student_inputs
from grader.sandbox.child import runner
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
    limits count: a textbook class with no gradient method and no learning-rate keyword
    cannot be asked for one step of fit either. (With the keywords, the 3rd edition's
    inline gradient is read off one step of fit: that reaches the student, so the parent
    decides nothing from the binding.)"""
    s = support(COURSE, {"g": "error"}, {}, g=probe("gradients", COURSE, C=0.1))
    assert s.reason("g") == ""
    textbook = binding_for("textbook_rows", constructor={"eta": ""})
    s = support(textbook, {"g": "error"}, {}, g=probe("gradients", textbook, C=0.1))
    assert "inline in fit" in s.reason("g")
    stepped = binding_for("textbook_rows")
    s = support(stepped, {"g": "error"}, {}, g=probe("gradients", stepped, C=0.1))
    assert s.reason("g") == ""


def test_a_fit_step_that_could_not_start_is_not_assessed_in_the_parents_words():
    """One step of fit refused (the child's ProbeUnsupported after fit ran): the parent's own
    reason, from the exception's class name only; any other exception stays the student's."""
    from grader.adapters.support import fit_step_refused

    textbook = binding_for("textbook_rows")
    reason = fit_step_refused(textbook, "gradients", "ProbeUnsupported")
    assert "could not be started from the grader's weights" in reason
    assert fit_step_refused(textbook, "gradients", "ValueError") == ""
    assert fit_step_refused(textbook, "cost", "ProbeUnsupported") == ""
    backward = binding_for("textbook_rows", methods={"gradients": "backward"})
    assert fit_step_refused(backward, "gradients", "ProbeUnsupported") == ""


def test_a_class_without_the_bound_method_is_not_assessed():
    names = {"names": {"TLPMiniBatch": "class"}, "classes": {"TLPMiniBatch": {"fit": "function"}}}
    s = support(COURSE, {"g": "error"}, names, g=probe("gradients", COURSE, C=0.1))
    assert "has no method" in s.reason("g")


# -- the constructor's keywords (issue 11: a binding mismatch is not the student's error) ---

COURSE_METHODS = {m: "function" for m in COURSE.methods.values()}
OLD_KEYWORDS = ["n_hidden", "C", "epochs", "eta", "random_state"]  # no momentum, no batches


def course_inventory(
    keywords: list[str], open_: bool = False, required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The inventory of a TLPMiniBatch whose ``__init__`` chain takes ``keywords`` (all of
    them listed, unless ``open_``: a chain that reaches an ``__init__`` the child cannot
    read), the ``required`` ones without a default."""
    init = [[k, "POSITIONAL_OR_KEYWORD", "<none>" if k in required else None] for k in keywords]
    described = {
        "bases": ["TLPMiniBatch", "object"],
        "methods": {},
        "claimed": [],
        "init": init,
        "init_complete": not open_,
        "attributes": [],
        "returns": {},
    }
    return {
        "names": {"TLPMiniBatch": "class"},
        "classes": {"TLPMiniBatch": COURSE_METHODS},
        "api": {"classes": {"TLPMiniBatch": described}, "functions": {}},
    }


def positional(*names: str) -> list[list[Any]]:
    return [[n, "POSITIONAL_OR_KEYWORD", "<none>"] for n in names]


def momentum_probe() -> tuple[str, dict, dict]:
    return probe("optimizer", COURSE, eta=0.1, alpha=0.5, steps=3)


def test_a_keyword_the_class_takes_nowhere_is_the_bindings_mismatch_with_its_fix():
    """The grader passes alpha to a class whose constructors (followed through **kwds) do
    not take it: the momentum check is not assessed, the reason names the keyword, what
    the class takes, and the instructor's fix."""
    s = support(COURSE, {"t": "error"}, course_inventory(OLD_KEYWORDS), t=momentum_probe())
    reason = s.reason("t")
    assert "'alpha'" in reason and "to TLPMiniBatch(...)" in reason
    assert "it takes n_hidden, C, epochs, eta, random_state" in reason
    assert "not an error in the student's code" in reason and "[adapter.constructor]" in reason


def test_a_class_that_takes_the_keyword_or_any_keyword_owns_its_exception():
    """Every keyword taken, or a chain that ends in **kwargs nobody closes: the probe's
    exception is the student's (failed)."""
    every = [*OLD_KEYWORDS, "alpha", "decrease_const", "decrease_iter", "minibatches", "shuffle"]
    s = support(COURSE, {"t": "error"}, course_inventory(every), t=momentum_probe())
    assert s.reason("t") == ""
    s = support(
        COURSE, {"t": "error"}, course_inventory(OLD_KEYWORDS, open_=True), t=momentum_probe()
    )
    assert s.reason("t") == ""
    no_keywords = course_inventory(OLD_KEYWORDS)
    no_keywords.pop("api")
    assert support(COURSE, {"t": "error"}, no_keywords, t=momentum_probe()).reason("t") == ""


def test_a_keyword_hidden_from_the_inventory_while_a_probe_used_one_decides_nothing():
    """The momentum probe passes alpha too and answered: an inventory claiming the class
    takes no alpha is contradicted by the run, so the replay's exception stays a failure."""
    momentum = probe("optimizer", COURSE, eta=0.1, alpha=0.5, steps=3)
    s = support(
        COURSE,
        {"t": "error", "m": "ok"},
        course_inventory(OLD_KEYWORDS),
        t=momentum_probe(),
        m=momentum,
    )
    assert s.reason("t") == ""


def test_a_method_called_with_arguments_its_parameters_cannot_take_is_the_bindings():
    """The course's older _feedforward(X, W1, W2) called as the separate-bias binding calls
    it (X, W1, W2, b1, b2): not assessed, naming the call and the parameters; a method
    whose parameters fit owns its exception."""
    forward = probe("forward", COURSE)
    every = [*OLD_KEYWORDS, "alpha", "decrease_const", "decrease_iter", "minibatches", "shuffle"]
    inventory = course_inventory(every)
    methods = inventory["api"]["classes"]["TLPMiniBatch"]["methods"]
    methods["_feedforward"] = positional("X", "W1", "W2")
    reason = support(COURSE, {"f": "error"}, inventory, f=forward).reason("f")
    assert "TLPMiniBatch._feedforward with 5 positional arguments" in reason
    assert "(X, W1, W2)" in reason and "Instructors" in reason
    methods["_feedforward"] = positional("X", "W1", "W2", "b1", "b2")
    assert support(COURSE, {"f": "error"}, inventory, f=forward).reason("f") == ""
    methods["_feedforward"] = [["args", "VAR_POSITIONAL", "<none>"]]
    assert support(COURSE, {"f": "error"}, inventory, f=forward).reason("f") == ""


def test_a_constructor_parameter_without_default_the_binding_does_not_pass_is_the_bindings():
    """The textbook's first edition requires n_output and n_features: a binding that does
    not pass them makes Python raise TypeError before the student's __init__ runs, so the
    check is not assessed, naming the parameters; passed, the exception is the student's."""
    every = [*OLD_KEYWORDS, "alpha", "decrease_const", "decrease_iter", "minibatches", "shuffle"]
    needy = course_inventory([*every, "n_output"], open_=True, required=("n_output",))
    reason = support(COURSE, {"t": "error"}, needy, t=momentum_probe()).reason("t")
    assert "requires 'n_output'" in reason and "not an error in the student's code" in reason
    needy = course_inventory([*every, "n_output"], open_=True, required=("eta",))
    assert support(COURSE, {"t": "error"}, needy, t=momentum_probe()).reason("t") == ""


def test_the_childs_listing_of_a_constructor_follows_kwds_and_names_required_parameters():
    """runner.api lists each __init__'s parameters along the **kwds chain; one a more derived
    __init__ gives a default is not required; the chain ends at object's __init__."""

    class Base:
        def __init__(self, n_output, n_features, eta=0.1, *, seed):
            pass

    class Derived(Base):
        def __init__(self, n_features=3, **kwds):
            super().__init__(n_features=n_features, **kwds)

    info = read_api({"api": runner.api({"Derived": Derived}, ["Derived"])})["Derived"]
    assert info.init_complete
    assert info.required == ("n_output", "seed")
    assert info.init == ("n_features", "n_output", "eta", "seed")


class _Dict(dict):  # a C type's __init__ ends the chain: its keywords cannot be read
    def __init__(self, n_hidden=3, **kwds):
        super().__init__(**kwds)


class _Course:
    """A course-shaped class of an older year: no momentum keyword, a folded forward pass."""

    def __init__(self, n_hidden=30, C=0.0, epochs=500, eta=0.001, random_state=None):
        pass

    def _feedforward(self, X, W1, W2):
        return X


def _inventory_of(cls: type) -> dict[str, Any]:
    """What the child reports for a namespace holding ``cls`` as TLPMiniBatch."""
    return runner.inventory({"TLPMiniBatch": type("TLPMiniBatch", (cls,), {})})


def test_the_parent_decides_from_what_the_child_lists_of_a_real_class():
    """From the child's own listing of a real class (not a hand-written one): a keyword the
    class takes nowhere and a method the binding's call cannot fit are the binding's
    mismatches; a chain that reaches a C type's __init__ decides nothing about keywords."""
    found = _inventory_of(_Course)
    assert "TLPMiniBatch" in found["api"]["classes"]
    reason = support(COURSE, {"t": "error"}, found, t=momentum_probe()).reason("t")
    assert "'alpha'" in reason and "it takes n_hidden, C, epochs, eta, random_state" in reason
    reason = support(COURSE, {"f": "error"}, found, f=probe("forward", COURSE)).reason("f")
    assert "TLPMiniBatch._feedforward with 5 positional arguments" in reason
    assert "(X, W1, W2)" in reason
    opaque = _inventory_of(_Dict)
    assert opaque["api"]["classes"]["TLPMiniBatch"]["init_complete"] is False
    assert support(COURSE, {"t": "error"}, opaque, t=momentum_probe()).reason("t") == ""


def test_a_signature_a_method_claims_is_not_what_the_child_lists():
    """A method whose ``__signature__`` claims it cannot take the binding's call, while its
    code can: the child lists the code's parameters, so the method's own exception stays a
    failure (a claimed signature cannot turn a failed check into "not assessed")."""
    import inspect

    class Claims(_Course):
        def _feedforward(self, X, W1, W2, b1, b2):
            raise ValueError("wrong")

    Claims._feedforward.__signature__ = inspect.signature(_Course._feedforward)  # type: ignore[attr-defined]
    found = _inventory_of(Claims)
    listed = found["api"]["classes"]["TLPMiniBatch"]["methods"]["_feedforward"]
    assert [p[0] for p in listed] == ["X", "W1", "W2", "b1", "b2"]
    assert support(COURSE, {"f": "error"}, found, f=probe("forward", COURSE)).reason("f") == ""


def test_what_a_descriptor_s_code_claims_binds_but_decides_no_mismatch():
    """A method that is a descriptor carrying a narrow ``__code__`` (discovery may bind by
    what it claims) is not held to that claim by the parent: its exception stays a failure."""

    def narrow(self, X, W1, W2):
        return X

    class Claim:
        __code__ = narrow.__code__

        def __get__(self, obj, owner):
            return lambda *args: 1 / 0

    found = _inventory_of(type("Claims", (_Course,), {"_feedforward": Claim()}))
    described = found["api"]["classes"]["TLPMiniBatch"]
    assert described["claimed"] == ["_feedforward"]
    read = read_api(found)["TLPMiniBatch"]
    assert read.methods["_feedforward"] == ("X", "W1", "W2")  # what discovery binds by
    assert "_feedforward" not in read.signatures
    assert support(COURSE, {"f": "error"}, found, f=probe("forward", COURSE)).reason("f") == ""
