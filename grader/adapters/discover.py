"""Binding by discovery: which of the submission's classes and names a rubric's style binds.

A rubric names its level (``[adapter] style``) and its checks; the student's
class, method names and constructor keywords are found here, from what the
child reported after setup (``inventory["api"]``: ``grader.sandbox.child.runner.api``),
and confirmed by the student's own answers (``grader.pipeline``):

1. :func:`read_api` validates the child's report (untrusted: every size capped,
   every name a Python identifier, anything malformed dropped).
2. :func:`propose` makes one complete binding per class of the submission that
   has a forward pass of the style's name family (``FAMILIES``): each method role
   takes the first name of its family the class defines, each constructor keyword
   the first name of its meaning (``KEYWORDS``) the class's ``__init__`` chain takes,
   each attribute role the first name of its family the class's code mentions. A
   role the class lacks is bound to "" (its checks are "not assessed", never
   failed). The rubric's own ``[adapter]`` keys are pins: they win, key by key.
   Proposals are ranked by how much of the style they bind (the rubric's roles
   and keywords), then by the style's own class name, then by shallower classes.
3. The pipeline confirms the proposals in that order with the rubric's forward and
   gradient checks (the student's forward pass and gradient, under the layout and
   the rubric's declared conventions, against the reference's), and keeps the first
   that passes them all, else the one that passes most: the one that explains the
   evidence. :class:`Discovery` records what was bound and how it was confirmed.

A lying report can only pick a binding under which the rubric's own checks run:
every point still needs outputs equal to the reference's, so claiming a binding
earns nothing (submissions/hostile/discovery_liar.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from grader.adapters.binding import HYPER, SHAPE_KEYS, STYLE_DEFAULTS, AdapterBinding

MAX_CLASSES = 24  # classes considered (the child lists at most as many)
MAX_NAMES = 200  # methods, parameters or attribute names read per class
MAX_PROPOSALS = 4  # proposals the pipeline confirms before it keeps the best

# Role -> the names real code uses for it, most common first (the style's own default
# name is tried before these). The course's classes, the textbook's four editions.
FAMILIES: dict[str, tuple[str, ...]] = {
    "forward": ("_feedforward", "_forward", "forward", "feedforward"),
    "gradients": ("_get_gradient", "backward", "_backprop", "_get_gradients", "backprop"),
    "cost": ("_cost", "_compute_cost", "_get_cost", "cost", "compute_cost"),
    "predict": ("predict",),
    "one_hot": ("_encode_labels", "_onehot", "int_to_onehot", "one_hot", "_one_hot"),
    "schedule": ("_learning_rate_update", "_lr_update", "learning_rate", "_learning_rate"),
    "optimizer": ("_momentum_update", "_momentum_step", "momentum_update"),
    "train": ("fit", "train"),
    "initialize": ("_initialize_weights", "_init_weights", "initialize_weights"),
}

# Canonical hyper-parameter -> the constructor keywords that mean it.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "n_hidden": ("n_hidden", "num_hidden", "hidden", "n_hidden_units"),
    "C": ("C", "l2", "lambda_", "l2_reg", "l2_C", "reg"),
    "epochs": ("epochs", "n_epochs", "num_epochs", "n_iter"),
    "eta": ("eta", "learning_rate", "lr"),
    "alpha": ("alpha", "momentum"),
    "decrease_const": ("decrease_const", "decay", "decrease"),
    "decrease_iter": ("decrease_iter", "decay_every", "decrease_every"),
    "minibatches": ("minibatches", "n_minibatches", "num_minibatches"),
    "batch_size": ("minibatch_size", "batch_size"),
    "shuffle": ("shuffle",),
    "random_state": ("random_state", "seed", "random_seed"),
    "n_features": ("n_features", "num_features"),
    "n_output": ("n_output", "num_classes", "n_classes", "num_labels"),
}

# Attribute role -> the names real code sets (after the style's own default).
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "W1": ("w1",),  # the textbook's first edition: folded w1, w2
    "W2": ("w2",),
    "w_h": ("weight_h", "W_h", "weight_hidden"),  # the textbook's fourth edition
    "b_h": ("bias_h", "b_hidden", "bias_hidden"),
    "w_out": ("weight_out", "W_out"),
    "b_out": ("bias_out",),
    "cost": ("cost_", "costs_"),
    "score": ("score_", "scores_", "accuracy_"),
    "history": ("eval_", "history_"),
    "n_features": ("n_features_",),
    "n_output": ("n_output_",),
}

_KINDS = (
    "POSITIONAL_ONLY",
    "POSITIONAL_OR_KEYWORD",
    "VAR_POSITIONAL",
    "KEYWORD_ONLY",
    "VAR_KEYWORD",
)


def _name(value: object) -> str | None:
    return value if isinstance(value, str) and value.isidentifier() and len(value) <= 64 else None


Param = tuple[str, str, bool]  # (name, inspect's kind, has a default)
_NAMED_KINDS = ("POSITIONAL_OR_KEYWORD", "KEYWORD_ONLY")  # what a keyword argument can fill


@dataclass(frozen=True)
class ClassApi:
    """One class as the child described it (validated): method name -> parameter names,
    the keywords its ``__init__`` chain takes, the names its code mentions, its MRO; and,
    for the parent's replay of a binding's calls (grader.adapters.support), each method's
    and the constructor's parameters in full."""

    name: str
    methods: Mapping[str, tuple[str, ...]]
    init: tuple[str, ...]
    required: tuple[str, ...]  # constructor keywords without a default
    attributes: frozenset[str]
    depth: int
    returns: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # method -> sizes returned
    # method -> params, of plain functions only (not what a descriptor's __code__ claims)
    signatures: Mapping[str, tuple[Param, ...]] = field(default_factory=dict)
    init_params: tuple[Param, ...] = ()
    init_complete: bool = False  # the constructor's parameters are all listed (none unread)


def _params(value: object) -> tuple[Param, ...] | None:
    """``[[name, kind, default], ...]`` -> ((name, kind, has_default), ...), None if malformed."""
    if not isinstance(value, list):
        return None
    out = []
    for p in value[:MAX_NAMES]:
        if not (isinstance(p, list) and len(p) == 3 and _name(p[0]) and p[1] in _KINDS):
            return None
        out.append((str(p[0]), str(p[1]), p[2] != "<none>"))
    return tuple(out)


def _returns(value: object) -> dict[str, tuple[int, ...]]:
    """``{method: [sizes]}`` -> validated (small non-negative integers), {} if malformed."""
    if not isinstance(value, Mapping):
        return {}
    out: dict[str, tuple[int, ...]] = {}
    for m, sizes in list(value.items())[:MAX_NAMES]:
        if _name(m) and isinstance(sizes, list):
            ok = [n for n in sizes[:8] if isinstance(n, int) and not isinstance(n, bool)]
            out[str(m)] = tuple(n for n in ok if 0 <= n <= 64)
    return out


def read_api(inventory: Mapping[str, Any] | None) -> dict[str, ClassApi]:
    """The classes of the child's ``api`` report that validate; {} for anything else."""
    api = inventory.get("api") if isinstance(inventory, Mapping) else None
    classes = api.get("classes") if isinstance(api, Mapping) else None
    if not isinstance(classes, Mapping):
        return {}
    out: dict[str, ClassApi] = {}
    for cls, desc in list(classes.items())[:MAX_CLASSES]:
        if not _name(cls) or not isinstance(desc, Mapping):
            continue
        methods_in = desc.get("methods")
        init = _params(desc.get("init"))
        attrs = desc.get("attributes")
        bases = desc.get("bases")
        returned = desc.get("returns")
        if not isinstance(methods_in, Mapping) or init is None or not isinstance(attrs, list):
            continue
        signatures: dict[str, tuple[Param, ...]] = {}
        for m, sig in list(methods_in.items())[:MAX_NAMES]:
            params = _params(sig)
            if _name(m) and params is not None:
                signatures[str(m)] = params
        claimed = desc.get("claimed")
        claimed = set(claimed[:MAX_NAMES]) if isinstance(claimed, list) else set(signatures)
        out[str(cls)] = ClassApi(
            str(cls),
            MappingProxyType({m: tuple(p[0] for p in ps) for m, ps in signatures.items()}),
            tuple(p[0] for p in init if p[1] in _NAMED_KINDS),
            tuple(p[0] for p in init if not p[2] and p[1] in _NAMED_KINDS),
            frozenset(a for a in attrs[:MAX_NAMES] if _name(a)),
            len(bases) if isinstance(bases, list) else 0,
            MappingProxyType(_returns(returned)),
            MappingProxyType({m: ps for m, ps in signatures.items() if m not in claimed}),
            init,
            desc.get("init_complete") is True and len(init) < MAX_NAMES,
        )
    return out


def _first(names: Sequence[str], have: object) -> str:
    return next((n for n in dict.fromkeys(names) if n and n in have), "")  # type: ignore[operator]


@dataclass(frozen=True)
class Proposal:
    """A complete binding for one class, and how much of the style it binds."""

    binding: AdapterBinding
    bound: tuple[str, ...]  # the roles and keywords found by name
    missing: tuple[str, ...]  # the style's roles the class lacks (bound to "")


def enabled(table: Mapping[str, Any]) -> bool:
    """Whether the rubric leaves the binding to discovery: a class style whose table pins no
    class (``discover = false`` turns it off, ``discover = true`` on for a pinned class)."""
    style = table.get("style")
    if style not in ("course_separate", "course_folded", "textbook_rows"):
        return False
    return bool(table.get("discover", "class" not in table))


# The textbook's forward, by how many values it returns (the 4th edition: a_h, a_out).
FORWARD_RETURNS: dict[int, tuple[str, ...]] = {
    4: ("z_h", "a_h", "z_out", "a_out"),
    2: ("a_h", "a_out"),
    1: ("a_out",),
}
# A textbook gradient method's parameter -> the value it is given (y: integer labels, as
# the 4th edition's backward(x, a_h, a_out, y) takes them; Y: one-hot rows).
GRADIENT_ARGS: dict[str, str] = {
    "x": "X",
    "X": "X",
    "features": "X",
    "z_h": "z_h",
    "a_h": "a_h",
    "z_out": "z_out",
    "a_out": "a_out",
    "y": "y",
    "labels": "y",
    "targets": "y",
    "y_true": "y",
    "Y": "Y",
    "y_enc": "Y",
    "Y_enc": "Y",
    "y_onehot": "Y",
    "onehot": "Y",
}
_SEPARATE_BIASES = ("b1", "b2", "b_h", "b_out", "bias_h", "bias_out", "b_hidden", "bias_hidden")


def folded_shape(api: ClassApi, forward: str) -> bool:
    """Whether the class is the folded-bias shape of the textbook's first edition and the
    course's 07 classes: ``forward(X, W1, W2)`` takes the weights and returns five arrays
    (A1, Z1, A2, Z2, A3, instances as columns inside), and the class keeps no separate bias."""
    params = api.methods.get(forward, ())
    return (
        len(params) == 3
        and api.returns.get(forward) == (5,)
        and not any(b in api.attributes for b in _SEPARATE_BIASES)
    )


# Where a class whose methods read the parameters from the instance keeps them: the course's
# own names, else one list of weight matrices and one of biases, per layer in order.
PARAMETER_LISTS: dict[str, tuple[str, ...]] = {
    "weights": ("weights", "Ws", "W", "weight_list", "layers_W"),
    "biases": ("biases", "bs", "b", "bias_list", "layers_b"),
}


def instance_shape(api: ClassApi, forward: str) -> dict[str, Any] | None:
    """The table keys for a course-style class whose forward pass takes X alone and reads its
    parameters from the instance (a student's class of any depth: ``_feedforward(X)`` over
    ``self.weights`` and ``self.biases``): ``params_in = "attributes"``, and, unless its code
    names W1, W2, b1, b2, the parameters as the items of its two lists (W1 -> weights[0]).
    None when the forward pass takes more, or the class names no place for the parameters."""
    params = api.methods.get(forward)
    if params is None or len(params) != 1:
        return None
    if all(n in api.attributes for n in ("W1", "W2", "b1", "b2")):
        return {"params_in": "attributes"}
    weights = _first(PARAMETER_LISTS["weights"], api.attributes)
    biases = _first(PARAMETER_LISTS["biases"], api.attributes)
    if not weights or not biases or weights == biases:
        return None
    items = {f"W{i + 1}": f"{weights}[{i}]" for i in range(2)}
    items |= {f"b{i + 1}": f"{biases}[{i}]" for i in range(2)}
    return {"params_in": "attributes", "attributes": items}


def _shapes(style: str, api: ClassApi, table: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The class's possible array layouts under the rubric's style, as table keys to add:
    one, or (the textbook's weights (in, out) or (out, in), which only the class's answers
    tell) two for the confirmation to choose from. The rubric's own keys are pins."""
    forward = _first(
        (STYLE_DEFAULTS[style]["methods"]["forward"], *FAMILIES["forward"]), api.methods
    )
    pinned = any(k in table for k in SHAPE_KEYS)
    if style in ("textbook_rows", "course_separate") and not pinned and folded_shape(api, forward):
        # the rubric's objective and checks stay; the class is asked as the folded course
        # classes are (the same shape: weights passed in, bias in column 0)
        return [{"style": "course_folded", "objective_style": style}]
    if style == "course_separate" and not pinned:
        held = instance_shape(api, forward)
        return [held] if held is not None else [{}]
    if style != "textbook_rows":
        return [{}]
    shape: dict[str, Any] = {}
    sizes = api.returns.get(forward, ())
    if "forward_returns" not in table and len(sizes) == 1 and sizes[0] in FORWARD_RETURNS:
        shape["forward_returns"] = list(FORWARD_RETURNS[sizes[0]])
    grad = table.get("methods", {}).get("gradients") or _first(FAMILIES["gradients"], api.methods)
    params = api.methods.get(grad, ()) if grad else ()
    if "gradient_args" not in table and params and all(p in GRADIENT_ARGS for p in params):
        shape["gradient_args"] = [GRADIENT_ARGS[p] for p in params]
    if "layout" in table:
        return [shape]
    return [shape | {"layout": "rows"}, shape | {"layout": "rows_out_in"}]


def propose(table: Mapping[str, Any], classes: Mapping[str, ClassApi]) -> list[Proposal]:
    """One binding per class (per possible layout) with a forward pass of the family, best
    first (see module doc).

    ``table`` is the rubric's ``[adapter]`` table: every key it sets is a pin.
    """
    rubric_style = str(table.get("style"))
    pinned_methods = dict(table.get("methods") or {})
    pinned_ctor = dict(table.get("constructor") or {})
    pinned_attrs = dict(table.get("attributes") or {})
    proposals: list[tuple[tuple[int, int, int], Proposal]] = []
    for api in classes.values():
        if "class" in table and table["class"] != api.name:
            continue
        for shape in _shapes(rubric_style, api, table):
            style = str(shape.get("style", rubric_style))
            made = _proposal(table, api, style, shape, pinned_methods, pinned_ctor, pinned_attrs)
            if made is not None:
                proposals.append(made)
    proposals.sort(key=lambda item: item[0], reverse=True)  # stable: rows before rows_out_in
    return [p for _, p in proposals][:MAX_PROPOSALS]


def _proposal(
    table: Mapping[str, Any],
    api: ClassApi,
    style: str,
    shape: Mapping[str, Any],
    pinned_methods: Mapping[str, Any],
    pinned_ctor: Mapping[str, Any],
    pinned_attrs: Mapping[str, Any],
) -> tuple[tuple[int, int, int], Proposal] | None:
    """One complete binding of ``api`` as a class of ``style`` with the layout keys ``shape``."""
    defaults = STYLE_DEFAULTS[style]
    methods: dict[str, str] = {}
    bound: list[str] = []
    missing: list[str] = []
    for role, default in defaults["methods"].items():
        if role in pinned_methods:
            methods[role] = str(pinned_methods[role])
            continue
        found = _first((default, *FAMILIES.get(role, ())), api.methods)
        methods[role] = found
        if found:
            bound.append(role)
        elif role in STYLE_DEFAULTS[str(table.get("style"))]["methods"]:
            missing.append(role)  # a role the rubric's own style asks for
    if not methods.get("forward"):
        return None  # no forward pass of any known name: not a network this style binds
    constructor: dict[str, str] = {}
    for canonical in HYPER:
        if canonical in pinned_ctor:
            constructor[canonical] = str(pinned_ctor[canonical])
            continue
        wanted = (defaults["constructor"].get(canonical, ""), *KEYWORDS.get(canonical, ()))
        found = _first(wanted, api.init)
        constructor[canonical] = found
        if found:
            bound.append(f"{canonical}={found}")
    attributes: dict[str, str] = {}
    held = dict(shape.get("attributes", {}))  # where the class keeps its parameters
    for role, default in defaults["attributes"].items():
        if role in pinned_attrs or role in held:
            attributes[role] = str(pinned_attrs.get(role, held.get(role)))
            continue
        found = _first((default, *ATTRIBUTES.get(role, ())), api.attributes)
        # parameters are set by the adapter itself; a role of fit's record may be absent
        attributes[role] = found or (default if role in defaults["parameters"] else "")
    switched = style != table.get("style")
    rest = {
        k: v
        for k, v in table.items()
        if k not in ("class", "methods", "constructor", "attributes", "discover", "style")
        and not (switched and k in SHAPE_KEYS)  # the rubric's layout keys are its own style's
    }
    try:
        binding = AdapterBinding.from_table(
            {
                **rest,
                **shape,
                "style": style,
                "class": api.name,
                "methods": methods,
                "constructor": constructor,
                "attributes": attributes,
            }
        )
    except ValueError:
        return None
    rank = (len(bound), int(api.name == defaults["class"]), -api.depth)
    return rank, Proposal(binding, tuple(bound), tuple(missing))


@dataclass(frozen=True)
class Discovery:
    """What discovery bound and how it was confirmed (the result's provenance; plain values)."""

    class_name: str
    methods: Mapping[str, str]
    constructor: Mapping[str, str]
    missing: tuple[str, ...]
    confirmed: str  # one sentence: the evidence that kept this binding
    candidates: tuple[str, ...] = ()
    shape: str = ""  # the class's own style when it is not the rubric's (the folded shape)
    held_in: str = ""  # where the grader sets the parameters, when the methods read them there

    def as_json(self) -> dict[str, Any]:
        return {
            "class": self.class_name,
            "methods": {k: v for k, v in self.methods.items() if v},
            "constructor": {k: v for k, v in self.constructor.items() if v},
            "missing": list(self.missing),
            "confirmed": self.confirmed,
            "candidates": list(self.candidates),
            **({"shape": self.shape} if self.shape else {}),
            **({"params_in": self.held_in} if self.held_in else {}),
        }

    def sentence(self) -> str:
        """The report's line: what was bound, and how it was confirmed."""
        named = ", ".join(
            f"{role} = {name}" for role, name in self.methods.items() if name and role != "train"
        )
        text = f"Bound by discovery to class {self.class_name} ({named}). {self.confirmed}"
        if self.shape:
            text += (
                f" It is of the {self.shape.replace('_', ' ')} shape: it is asked as those "
                "classes are, under this rubric's objective, and its training, which follows "
                "its own shape's conventions, is not judged here."
            )
        if self.held_in:
            text += (
                " Its methods read the parameters from the instance: the grader sets them "
                f"there ({self.held_in}) and calls its forward pass with X alone."
            )
        if self.missing:
            text += (
                f" It has no method for {', '.join(self.missing)}: those checks are not assessed"
                + (
                    ", and what fit does inline is judged through the training run."
                    if self.methods.get("train") and not self.shape
                    else "."
                )
            )
        return text


def describe(proposal: Proposal, confirmed: str, others: Sequence[Proposal]) -> Discovery:
    """The provenance of the kept proposal."""
    b = proposal.binding
    return Discovery(
        b.class_name,
        dict(b.methods),
        dict(b.constructor),
        proposal.missing,
        confirmed,
        tuple(o.binding.class_name for o in others),
        b.style if b.objective_style and b.objective_style != b.style else "",
        ", ".join(f"{k} = {b.attributes[k]}" for k in b.parameters)
        if b.params_in == "attributes"
        else "",
    )


__all__ = [
    "ATTRIBUTES",
    "FAMILIES",
    "KEYWORDS",
    "PARAMETER_LISTS",
    "ClassApi",
    "Discovery",
    "Proposal",
    "describe",
    "enabled",
    "instance_shape",
    "propose",
    "read_api",
]
