"""How a rubric tells the grader to call a student's code: the ``[adapter]`` table.

An :class:`AdapterBinding` names one built-in adapter *style* and the names the
student's API uses (class, methods, attributes, constructor keywords), so one
adapter serves every submission of that style with no code change::

    [adapter]
    style = "course_separate"            # template | course_separate | course_folded
                                         # | textbook_rows | custom
    class = "TLPMiniBatchCrossEntropy"
    [adapter.methods]
    schedule = ""                        # "" = the student's API has no such method
    [adapter.attributes]
    cost = "costs_"                      # fit records its costs in self.costs_

Every key the table leaves out takes the style's default (``STYLE_DEFAULTS``);
``methods``, ``attributes`` and ``constructor`` (canonical name -> keyword, e.g.
``C = "l2"``; "" = not passed) override the defaults key by key, and
``conventions`` (e.g. ``loss = "bce"``) sets a convention for every check at once. So
the binding sent to the child (:meth:`AdapterBinding.to_json`) is complete and the
child needs no defaults of its own.

For the class styles the table may leave the class and its names out: they are then
discovered from the submission (``grader.adapters.discover``), and every key the table
does set is a pin that discovery keeps. ``discover = false`` turns discovery off.

Roles (the keys of ``methods``, ``attributes`` and ``constructor``) are fixed
per style; parameters are named per style as the student's layout names them:
``W1, W2, b1, b2`` (course), ``W1, W2`` (folded course), ``w_h, b_h, w_out,
b_out`` (textbook), ``W1..WL, b1..bL`` (template).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

STYLES = ("template", "course_separate", "course_folded", "textbook_rows", "custom")
BUILTIN_STYLES = STYLES[:-1]
BIASES = ("separate", "folded")
LAYOUTS = ("columns", "rows", "rows_out_in")
# Where a course-style class's methods take the parameters from: as arguments (the course's
# _feedforward(X, W1, W2, b1, b2)), or from the instance (a student's _feedforward(X) reading
# self.weights): then the child sets them into the bound attributes first, whose paths may
# index a list (W1 = "weights[0]").
PARAMS_IN = ("arguments", "attributes")

# Hyper-parameters a probe may hand to a student's constructor (canonical names).
HYPER = (
    "n_features",
    "n_hidden",
    "n_output",
    "C",
    "epochs",
    "eta",
    "alpha",
    "decrease_const",
    "decrease_iter",
    "minibatches",
    "batch_size",
    "shuffle",
    "random_state",
)
# Values a textbook-style method can be given or return (forward_returns, gradient_args, cost_args).
TEXTBOOK_VALUES = ("X", "Y", "y", "n_classes", "z_h", "a_h", "z_out", "a_out", "_")

_COURSE_CONSTRUCTOR = {
    k: k
    for k in (
        "n_hidden",
        "C",
        "epochs",
        "eta",
        "random_state",
        "alpha",
        "decrease_const",
        "decrease_iter",
        "minibatches",
        "shuffle",
    )
}
_COURSE_METHODS = {
    "forward": "_feedforward",
    "gradients": "_get_gradient",
    "cost": "_cost",
    "predict": "predict",
    "one_hot": "_encode_labels",
    "schedule": "_learning_rate_update",
    "optimizer": "_momentum_update",
    "train": "fit",
    "initialize": "_initialize_weights",
}
_COURSE_ATTRIBUTES = {
    "W1": "W1",
    "W2": "W2",
    "b1": "b1",
    "b2": "b2",
    "cost": "cost_",
    "score": "score_",
    "n_features": "n_features_",
    "n_output": "n_output_",
}

# Per style: every key of the binding with its default. Method roles absent
# from a style's "methods" cannot be bound for it.
STYLE_DEFAULTS: dict[str, dict[str, Any]] = {
    "template": {
        "class": "",
        "bias": "separate",
        "layout": "columns",
        "methods": {
            "forward": "forward",
            "gradients": "gradients",
            "cost": "cost",
            "optimizer": "momentum_step",
            "optimizer_step": "optimizer_step",  # the lab's other optimisers (method, hyper)
            "initialize": "init_params",  # the lab's Glorot initialisation (sizes, seed)
            "schedule": "learning_rate",
            "train": "train",
            "predict": "predict",
            "one_hot": "one_hot",
        },
        "attributes": {},
        "constructor": {},
        "parameters": (),  # W1..WL, b1..bL: the depth comes from the probe's inputs
        "gradient_returns": (),
    },
    "course_separate": {
        "class": "TLPMiniBatch",
        "bias": "separate",
        "layout": "columns",
        "methods": _COURSE_METHODS,
        "attributes": _COURSE_ATTRIBUTES,
        "constructor": _COURSE_CONSTRUCTOR,
        "parameters": ("W1", "W2", "b1", "b2"),
        "gradient_returns": ("W1", "W2", "b1", "b2"),
        "optimizer_state": ("rho_W1_prev", "rho_W2_prev"),
    },
    "course_folded": {
        "class": "TLPMiniBatch",
        "bias": "folded",
        "layout": "columns",
        # the folded classes compute η and the momentum step inline in fit
        "methods": {**_COURSE_METHODS, "schedule": "", "optimizer": ""},
        "attributes": {k: v for k, v in _COURSE_ATTRIBUTES.items() if k not in ("b1", "b2")},
        "constructor": {k: v for k, v in _COURSE_CONSTRUCTOR.items() if k != "decrease_iter"},
        "parameters": ("W1", "W2"),
        "gradient_returns": ("W1", "W2"),
        "optimizer_state": (),
    },
    "textbook_rows": {
        "class": "NeuralNetMLP",
        "bias": "separate",
        "layout": "rows",
        "methods": {
            "forward": "forward",
            "gradients": "",  # back-propagation is inline in fit unless a method is named
            "cost": "_compute_cost",
            "predict": "predict",
            "one_hot": "_onehot",
            "train": "fit",  # fit(X_train, y_train, X_valid, y_valid): the converge probe only
        },
        "attributes": {
            "w_h": "w_h",
            "b_h": "b_h",
            "w_out": "w_out",
            "b_out": "b_out",
            "history": "eval_",  # fit's record: history["cost"] holds one cost per epoch
        },
        "constructor": {
            "n_hidden": "n_hidden",
            "C": "l2",
            "epochs": "epochs",
            "eta": "eta",
            "shuffle": "shuffle",
            "batch_size": "minibatch_size",
            "random_state": "seed",
        },
        "parameters": ("w_h", "b_h", "w_out", "b_out"),
        "forward_returns": ("z_h", "a_h", "z_out", "a_out"),
        # the 4th edition's backward(x, a_h, a_out, y) -> (d_w_out, d_b_out, d_w_h, d_b_h)
        "gradient_args": ("X", "a_h", "a_out", "Y"),
        "gradient_returns": ("w_out", "b_out", "w_h", "b_h"),
        "cost_args": ("Y", "a_out"),
    },
}

_ALLOWED_BIAS: dict[str, tuple[str, ...]] = {
    "template": ("separate",),
    "course_separate": ("separate",),
    "course_folded": ("folded",),
    "textbook_rows": ("separate",),
}
_ALLOWED_PARAMS_IN: dict[str, tuple[str, ...]] = {
    "template": ("arguments",),
    "course_separate": PARAMS_IN,
    "course_folded": ("arguments",),
    "textbook_rows": ("arguments",),
}
_ALLOWED_LAYOUT: dict[str, tuple[str, ...]] = {
    "template": ("columns",),
    "course_separate": ("columns",),
    "course_folded": ("columns",),
    "textbook_rows": ("rows", "rows_out_in"),
}

# the keys that say how the student's arrays are laid out and called: a style's own
SHAPE_KEYS = (
    "bias",
    "layout",
    "forward_returns",
    "gradient_args",
    "gradient_returns",
    "cost_args",
    "params_in",
)
TABLE_KEYS = (
    "style",
    "class",
    "methods",
    "attributes",
    "constructor",
    *SHAPE_KEYS,
    "optimizer_state",
    "custom_file",
    "custom_like",
    "discover",
    "conventions",
    "objective_style",
)


class BindingError(ValueError):
    """A rubric's ``[adapter]`` table is wrong; the message names the key and what is allowed."""


def _frozen(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class AdapterBinding:
    """One rubric's answer to "how do I call this student's code?" (validated, complete).

    style        : a name in ``STYLES``; ``custom`` runs ``custom_file`` instead of a built-in
    class_name   : the student's class (course and textbook styles), "" for the template
    methods      : role -> method (or template function) name, "" when the API has none
    attributes   : role -> attribute name (parameters, ``cost_``, ``score_``, ...)
    constructor  : canonical hyper-parameter -> the constructor's keyword ("" = not passed)
    bias, layout : the student's bias style and orientation (checked against the style)
    forward_returns, gradient_args, gradient_returns, cost_args :
                   the order of values the student's methods take or return
    optimizer_state : attributes set to zeros before an optimizer probe, shaped like W1, W2, W1,
                      W2, ... in turn (one per weight matrix per kind of state: m1, m2, v1, v2)
    custom_file  : a Python file shipped with the rubric defining the probe functions
    custom_like  : the built-in style whose inputs and outputs the custom file uses
    objective_style : the style whose conventions (objective, optimiser, schedule, cost) the
                   checks declare, when it is not ``adapter_style``: discovery binds a class of
                   another shape (the textbook's first edition, folded biases and weights as
                   arguments, under the textbook's rubric) and the rubric's objective stays
    params_in    : ``PARAMS_IN``: "attributes" for a course-separate class whose methods read
                   the parameters from the instance (``_feedforward(X)``); its parameter
                   attributes may then be list items, ``weights[0]``
    """

    style: str
    class_name: str = ""
    methods: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, str] = field(default_factory=dict)
    constructor: Mapping[str, str] = field(default_factory=dict)
    bias: str = "separate"
    layout: str = "columns"
    forward_returns: tuple[str, ...] = ()
    gradient_args: tuple[str, ...] = ()
    gradient_returns: tuple[str, ...] = ()
    cost_args: tuple[str, ...] = ()
    optimizer_state: tuple[str, ...] = ()
    custom_file: str = ""
    custom_like: str = ""
    conventions: Mapping[str, Any] = field(default_factory=dict)
    objective_style: str = ""
    params_in: str = "arguments"

    def __post_init__(self) -> None:
        for name in ("methods", "attributes", "constructor", "conventions"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @property
    def adapter_style(self) -> str:
        """The built-in style whose layout and output names apply (``custom_like`` for custom)."""
        return self.custom_like if self.style == "custom" else self.style

    @property
    def parameters(self) -> tuple[str, ...]:
        """The student-side parameter names (empty for the template: its depth varies)."""
        return tuple(STYLE_DEFAULTS[self.adapter_style]["parameters"])

    def method(self, role: str) -> str:
        """The bound method name for ``role``, "" when the student's API has none."""
        return self.methods.get(role, "")

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> AdapterBinding:
        """Validate a rubric's ``[adapter]`` table and fill in the style's defaults."""
        if not isinstance(table, Mapping):
            raise BindingError(f"[adapter] must be a table, got {type(table).__name__}")
        unknown = sorted(set(table) - set(TABLE_KEYS))
        if unknown:
            raise BindingError(
                f"adapter: unknown key {unknown[0]!r}; allowed: {', '.join(TABLE_KEYS)}"
            )
        style = _choice(table, "style", STYLES, None)
        like = style
        custom_file = ""
        if style == "custom":
            custom_file = _string(table, "custom_file", "")
            if not custom_file or not custom_file.endswith(".py") or "/" in custom_file:
                raise BindingError(
                    "adapter.custom_file must name a .py file shipped beside the rubric "
                    f"(a bare file name) when style = 'custom'; got {custom_file!r}"
                )
            like = _choice(table, "custom_like", BUILTIN_STYLES, "template")
        else:
            for key in ("custom_file", "custom_like"):
                if key in table:
                    raise BindingError(f"adapter.{key} is only allowed with style = 'custom'")
        d = STYLE_DEFAULTS[like]
        return cls(
            style=style,
            class_name=_string(table, "class", d["class"]),
            methods=_names(table, "methods", d["methods"]),
            attributes=_names(table, "attributes", d["attributes"], paths=d["parameters"]),
            # a constructor table merges into the default key by key ("" = not passed)
            constructor=_names(table, "constructor", d["constructor"], HYPER),
            bias=_choice(table, "bias", _ALLOWED_BIAS[like], d["bias"], f"style {like!r}"),
            layout=_choice(table, "layout", _ALLOWED_LAYOUT[like], d["layout"], f"style {like!r}"),
            forward_returns=_order(table, "forward_returns", d, TEXTBOOK_VALUES),
            gradient_args=_order(table, "gradient_args", d, TEXTBOOK_VALUES),
            gradient_returns=_order(
                table, "gradient_returns", d, d["parameters"], permutation=True
            ),
            cost_args=_order(table, "cost_args", d, TEXTBOOK_VALUES),
            optimizer_state=_order(table, "optimizer_state", d, None),
            custom_file=custom_file,
            custom_like=like if style == "custom" else "",
            conventions=_conventions(table),
            objective_style=_choice(table, "objective_style", ("", *BUILTIN_STYLES), ""),
            params_in=_choice(
                table, "params_in", _ALLOWED_PARAMS_IN[like], "arguments", f"style {like!r}"
            ),
        )._checked()

    def _checked(self) -> AdapterBinding:
        if self.adapter_style != "template" and not self.class_name.isidentifier():
            raise BindingError(
                f"adapter.class must be the student's class name for style "
                f"{self.adapter_style!r}; got {self.class_name!r}"
            )
        if self.adapter_style == "textbook_rows" and "a_out" not in self.forward_returns:
            raise BindingError(
                "adapter.forward_returns must name 'a_out' (the output activation); "
                f"got {list(self.forward_returns)}"
            )
        items = [r for r in self.parameters if _ITEM.fullmatch(self.attributes.get(r, ""))]
        if self.params_in != "attributes" and items:
            raise BindingError(
                f"adapter.attributes.{items[0]} may index a list ({self.attributes[items[0]]!r}) "
                'only with params_in = "attributes"'
            )
        return self

    def to_json(self) -> dict[str, Any]:
        """The complete binding as plain JSON (``params["adapter"]`` for the child).

        ``AdapterBinding.from_table(b.to_json()) == b``.
        """
        out: dict[str, Any] = {
            "style": self.style,
            "class": self.class_name,
            "methods": dict(self.methods),
            "attributes": dict(self.attributes),
            "constructor": dict(self.constructor),
            "bias": self.bias,
            "layout": self.layout,
            "forward_returns": list(self.forward_returns),
            "gradient_args": list(self.gradient_args),
            "gradient_returns": list(self.gradient_returns),
            "cost_args": list(self.cost_args),
            "optimizer_state": list(self.optimizer_state),
        }
        if self.style == "custom":
            out |= {"custom_file": self.custom_file, "custom_like": self.custom_like}
        if self.conventions:
            out["conventions"] = dict(self.conventions)
        if self.objective_style:
            out["objective_style"] = self.objective_style
        if self.params_in != "arguments":
            out["params_in"] = self.params_in
        return out


def binding_for(style: str, **overrides: Any) -> AdapterBinding:
    """A binding of ``style`` with its defaults and some table keys overridden (for code and tests)."""
    return AdapterBinding.from_table({"style": style, **overrides})


# ---------------------------------------------------------------------------
# Validation helpers: each names the key and what is allowed


def _string(table: Mapping[str, Any], key: str, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise BindingError(f"adapter.{key} must be a string, got {value!r}")
    return value


def _conventions(table: Mapping[str, Any]) -> dict[str, Any]:
    """``[adapter.conventions]``: the rubric's conventions for every check (a check's own
    parameters still win); the names are checked by grader.adapters.conventions."""
    given = table.get("conventions", {})
    if not isinstance(given, Mapping):
        raise BindingError(f"adapter.conventions must be a table, got {given!r}")
    for key, value in given.items():
        if not isinstance(key, str) or not isinstance(value, str | bool | int | float):
            raise BindingError(
                f"adapter.conventions.{key} must be a string, number or boolean, got {value!r}"
            )
    if "discover" in table and not isinstance(table["discover"], bool):
        raise BindingError(f"adapter.discover must be true or false, got {table['discover']!r}")
    return dict(given)


def _choice(
    table: Mapping[str, Any],
    key: str,
    allowed: Sequence[str],
    default: str | None,
    where: str = "",
) -> str:
    if key not in table and default is None:
        raise BindingError(f"adapter.{key} is required; allowed: {', '.join(allowed)}")
    value = table.get(key, default)
    if value not in allowed:
        scope = f" for {where}" if where else ""
        raise BindingError(
            f"adapter.{key} {value!r} is not allowed{scope}; allowed: {', '.join(allowed)}"
        )
    return str(value)


_ITEM = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\[[0-9]\]")  # a list's item: weights[0]


def _names(
    table: Mapping[str, Any],
    key: str,
    defaults: Mapping[str, str],
    roles: Sequence[str] | None = None,
    paths: Sequence[str] = (),
) -> dict[str, str]:
    """Defaults overridden by the table's sub-table; "" means "none". A role in ``paths``
    may also name a list's item, ``weights[0]`` (checked against params_in by the binding)."""
    given = table.get(key, {})
    if not isinstance(given, Mapping):
        raise BindingError(f"adapter.{key} must be a table of names, got {given!r}")
    allowed = list(roles if roles is not None else defaults)
    out = dict(defaults)
    for role, name in given.items():
        if role not in allowed:
            raise BindingError(
                f"adapter.{key}: unknown role {role!r}; allowed: {', '.join(allowed) or 'none'}"
            )
        item = role in paths and isinstance(name, str) and _ITEM.fullmatch(name)
        if not isinstance(name, str) or (name and not name.isidentifier() and not item):
            raise BindingError(
                f'adapter.{key}.{role} must be a Python name (or "" for none'
                + (", or a list's item: weights[0]" if role in paths else "")
                + f"), got {name!r}"
            )
        out[role] = name
    return out


def _order(
    table: Mapping[str, Any],
    key: str,
    defaults: Mapping[str, Any],
    vocabulary: Sequence[str] | None,
    permutation: bool = False,
) -> tuple[str, ...]:
    value = table.get(key, defaults.get(key, ()))
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise BindingError(f"adapter.{key} must be a list of names, got {value!r}")
    items = tuple(value)
    for item in items:
        if not isinstance(item, str) or not item.isidentifier():
            raise BindingError(f"adapter.{key}: {item!r} is not a name")
        if vocabulary is not None and item not in vocabulary:
            raise BindingError(
                f"adapter.{key}: {item!r} is not allowed; allowed: {', '.join(vocabulary)}"
            )
    if permutation and sorted(items) != sorted(vocabulary or ()):
        raise BindingError(
            f"adapter.{key} must list each of {', '.join(vocabulary or ())} once, "
            f"in the order the student's method returns them; got {list(items)}"
        )
    return items
