"""Whether the student's API can answer a probe call, decided in the trusted parent.

A check is "not assessed" (never failed) when the student's code does not offer
the call it needs. The child cannot be asked: the submission runs in the same
process as the adapter and can raise an exception of any class, with any
message. So the parent replays the adapter's own dispatch (the same probe
module, the same binding, the probe's own inputs) against a stand-in namespace
built from what the parent knows, where every student function stops the replay
the moment it would be called:

1. every name the binding may look up present: the adapter still raises
   ``ProbeUnsupported`` only when the binding or the style cannot ask for the call
   (no ``schedule`` method bound, a template asked to converge). Unsupported
   whatever the submission defines.
2. only the names of the child's inventory (``runner.inventory``, reported after
   setup): unsupported when a name the call needs is absent (no class
   ``TLPMiniBatch``, no method ``predict``), or when the call cannot fit the
   parameters the inventory's ``api`` lists (``runner.api``, the one listing
   discovery binds by: a keyword the constructor takes nowhere, a method called
   with arguments its parameters cannot take).

The reason is the adapter's message in the parent, built from the binding's
names, never text from the child.

What a lying inventory buys: hiding a name the submission does define makes its
failing probes "not assessed" with the parent's reason ("your code defines no
'gradients'"), exactly what deleting the function would give. The lie is caught
when it contradicts the run: if any probe that would need a hidden name answered
(ok, or with outputs that fail), the inventory is ignored for the whole job. So a
consistent lie is one where every probe that calls the name failed to answer,
which is what deleting it gives; code that still uses the function internally
could have used a renamed copy. Points never rise: "not assessed" earns none.
Claiming a name that does not exist changes nothing (the probe's error stands).
"""

from __future__ import annotations

import hashlib
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from grader.adapters import child_probes
from grader.adapters.discover import ClassApi, Param, read_api

if TYPE_CHECKING:
    from grader.adapters.binding import AdapterBinding

Array = np.ndarray
Inventory = Mapping[str, Any]


class _Reached(BaseException):
    """The replay reached the student's code: the call is supported as far as the parent can tell."""


class _Mismatch(BaseException):
    """The replay's constructor was given a keyword the class takes nowhere (a BaseException:
    the adapter re-raises a constructor's TypeError, and this must pass through it)."""


def _student_function(*args: object, **kwargs: object) -> None:
    raise _Reached


def _student_method(self: object, *args: object, **kwargs: object) -> None:
    raise _Reached


def _accept(self: object, *args: object, **kwargs: object) -> None:
    """A stand-in class's constructor: the binding's keywords, whatever they are."""


class _Anything:
    """A stand-in instance offering every attribute (case 1 of the module doc)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __getattr__(self, name: str) -> Callable[..., None]:
        return _student_function


class _Everything(dict):
    """A namespace holding every name: the bound class as :class:`_Anything`, every other
    name as a student function."""

    def __init__(self, class_name: str) -> None:
        super().__init__()
        self.class_name = class_name

    def get(self, key: object, default: object = None) -> object:
        return self[key]

    def __getitem__(self, key: object) -> object:
        return _Anything if key == self.class_name else _student_function

    def __contains__(self, key: object) -> bool:
        return True


_OTHER = object()  # a value that is neither a class nor callable
_KEYWORDS_SHOWN = 12  # the class's own keywords a reason lists


_POSITIONAL = ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")
_KEYWORDABLE = ("POSITIONAL_OR_KEYWORD", "KEYWORD_ONLY")  # what a keyword argument fills


def _constructor(api: ClassApi | None) -> Callable[..., None]:
    """A stand-in ``__init__`` that takes what the class's ``__init__`` chain takes (the
    child's ``api`` listing, ``runner.init_chain``): a parameter without a default the call
    leaves out is a mismatch, and so is a keyword the chain takes nowhere when the listing
    is complete; anything goes when the class is not listed."""
    if api is None:
        return _accept
    class_name = api.name
    takes = [name for name, kind, _ in api.init_params if kind in _KEYWORDABLE]
    # positional ones first, in order: the call's positional arguments fill those
    required = [n for n, kind, default in api.init_params if not default and kind in _POSITIONAL]
    required += [
        n for n, kind, default in api.init_params if not default and kind == "KEYWORD_ONLY"
    ]
    closed = api.init_complete

    def init(self: object, *args: object, **kwargs: object) -> None:
        # a parameter without a default that the binding does not pass: Python raises
        # TypeError before any line of the student's __init__ runs
        missing = [k for k in required[len(args) :] if k not in kwargs]
        if missing:
            raise _Mismatch(
                f"{class_name}(...) requires {', '.join(repr(k) for k in missing)}, which the "
                "grader does not pass"
            )
        if not closed:
            return
        foreign = sorted(k for k in kwargs if k not in takes)
        if foreign:
            shown = ", ".join(takes[:_KEYWORDS_SHOWN]) + (
                ", ..." if len(takes) > _KEYWORDS_SHOWN else ""
            )
            raise _Mismatch(
                f"the grader passes the keyword{'s' if len(foreign) > 1 else ''} "
                f"{', '.join(repr(k) for k in foreign)} to {class_name}(...), which takes no "
                f"such keyword (it takes {shown or 'none'})"
            )

    return init


def _method(class_name: str, attr: str, params: tuple[Param, ...] | None) -> Callable[..., None]:
    """A stand-in method that stops the replay where the student's method would start, or
    with a mismatch when the binding's call cannot fit the method's parameters (the child's
    ``api`` listing, read from its code): Python would raise TypeError before any line of
    the student's code ran. Not listed: any call fits."""
    if params is None:
        return _student_method
    names = [n for n, kind, _ in params if kind in (*_POSITIONAL, "KEYWORD_ONLY")]
    positional = sum(kind in _POSITIONAL for _, kind, _ in params)
    required = sum(kind in _POSITIONAL and not default for _, kind, default in params)
    required_kw = [n for n, kind, default in params if kind == "KEYWORD_ONLY" and not default]
    varargs = any(kind == "VAR_POSITIONAL" for _, kind, _ in params)
    varkw = any(kind == "VAR_KEYWORD" for _, kind, _ in params)

    def method(self: object, *args: object, **kwargs: object) -> None:
        given = set(names[: len(args)]) | set(kwargs)
        unknown = sorted(k for k in kwargs if k not in names) if not varkw else []
        twice = sorted(k for k in kwargs if k in names[: len(args)])
        too_many = len(args) > positional and not varargs
        missing = [p for p in names[:required] if p not in given]
        missing += [k for k in required_kw if k not in given]
        if unknown or twice or too_many or missing:
            what = f"{len(args)} positional argument{'s' if len(args) != 1 else ''}" + (
                f" and the keywords {', '.join(sorted(kwargs))}" if kwargs else ""
            )
            raise _Mismatch(
                f"the grader calls {class_name}.{attr} with {what}, which its parameters "
                f"({', '.join(names) or 'none'}) cannot take"
            )
        raise _Reached

    return method


def _stand_in(inventory: Inventory) -> dict[str, object]:
    """A namespace with the inventory's names: functions, and classes with their attributes,
    their methods' parameters and their constructor's (the child's ``api`` listing, read by
    the same validation as discovery's)."""
    names = inventory.get("names")
    classes = inventory.get("classes")
    names = names if isinstance(names, Mapping) else {}
    classes = classes if isinstance(classes, Mapping) else {}
    apis = read_api(inventory)
    ns: dict[str, object] = {}
    for name, kind in names.items():
        if kind == "class":
            attrs = classes.get(name)
            if not isinstance(attrs, Mapping):  # not listed: it may have any attribute
                ns[str(name)] = _Anything
                continue
            api = apis.get(str(name))
            signatures = api.signatures if api is not None else {}
            body: dict[str, object] = {
                str(a): _method(str(name), str(a), signatures.get(str(a)))
                if k == "function"
                else _OTHER
                for a, k in attrs.items()
                if not str(a).startswith("__")
            }
            body["__init__"] = _constructor(api)
            ns[str(name)] = type(str(name), (), body)
        else:
            ns[str(name)] = _student_function if kind == "function" else _OTHER
    return ns


def _replay(
    module: types.ModuleType,
    call: str,
    ns: Mapping[str, object],
    inputs: Mapping[str, Array],
    params: Mapping[str, Any],
) -> str:
    """The adapter's ProbeUnsupported message when it raises one before reaching the student."""
    try:
        # the runner's own lookup: the module-level function of the call's name
        getattr(module, call)(ns, {k: np.array(v) for k, v in inputs.items()}, dict(params))
    except module.ProbeUnsupported as e:
        return str(e)
    except _Mismatch as e:
        return str(e)
    except (_Reached, Exception):
        return ""
    return ""


class Support:
    """The parent's decisions on one job: construct once, ask per probe.

    probes    : {probe id: (call, params, inputs)} of the job, inputs prefix-stripped
    outcomes  : {probe id: the probe's status in the child}
    inventory : the child's report of what the submission defines (untrusted data)
    module    : the probe module the child ran (custom adapters included)
    """

    def __init__(
        self,
        probes: Mapping[str, tuple[str, Mapping[str, Any], Mapping[str, Array]]],
        outcomes: Mapping[str, str],
        inventory: Inventory,
        module: types.ModuleType,
        class_name: str,
    ) -> None:
        self.probes, self.module = probes, module
        self.everything = _Everything(class_name)
        self.known = _stand_in(inventory) if inventory else None
        reasons = {
            pid: self._decide(pid)
            for pid, status in outcomes.items()
            if pid in probes and status == "error"
        }
        if any(r.startswith(_NAMED) for r in reasons.values()) and any(
            # a hidden name must hide from every probe that needs it: one that answered
            # shows the inventory lied, and then it decides nothing
            pid in probes and status not in ("error", "missing") and self._named(pid)
            for pid, status in outcomes.items()
        ):
            reasons = {pid: r for pid, r in reasons.items() if not r.startswith(_NAMED)}
        self.reasons = {pid: _with_fix(r) for pid, r in reasons.items() if r}

    def _named(self, pid: str) -> str:
        """Why probe ``pid`` is unsupported given the inventory's names ("" if it is not)."""
        if self.known is None:
            return ""
        call, params, inputs = self.probes[pid]
        return _replay(self.module, call, self.known, inputs, params)

    def _decide(self, pid: str) -> str:
        call, params, inputs = self.probes[pid]
        static = _replay(self.module, call, self.everything, inputs, params)
        if static:
            return static
        named = self._named(pid)
        return _NAMED + named if named else ""

    def reason(self, probe_id: str) -> str:
        """Why the student's API cannot answer this probe ("" when it can, or cannot be told)."""
        return self.reasons.get(probe_id, "")


_NAMED = "\x00named:"  # marks a reason that rests on the inventory (internal)
_BINDING_FIX = (
    ": a mismatch between the rubric's [adapter] binding and this submission's own names, "
    "not an error in the student's code. Instructors: pin the submission's name in the "
    "rubric's [adapter] table ([adapter.constructor] maps a keyword to the class's own, \"\" "
    "leaves it out; [adapter.methods] and [adapter.attributes] rename a method or an "
    "attribute), or ask the student to rename it"
)


def _with_fix(reason: str) -> str:
    """The reason as reported: one that rests on what the submission defines (the
    inventory) says it is the binding's mismatch, and how an instructor fixes it."""
    if reason.startswith(_NAMED):
        return reason.removeprefix(_NAMED) + _BINDING_FIX
    return reason


# What the binding reads from fit's records, in words (the roles of STYLE_DEFAULTS' attributes).
_RECORDS = {
    "cost": "cost per epoch",
    "score": "accuracy per epoch",
    "history": "history of the training",
}
_FIT_CALLS = ("train", "converge")  # the probes that run the student's fit and read its records


def unset_attribute(call: str, error_type: str, error_message: str, binding: AdapterBinding) -> str:
    """Why a training probe is "not assessed" when the student's ``fit`` returned without
    setting an attribute the binding reads from it ("" when that is not what happened).

    The parent cannot replay ``fit``; what it trusts is narrow: the adapter's own exception
    (``child_probes.AttributeUnset``) naming, exactly, an attribute of *this* binding's
    records. A submission that raises the same exception from its own code on purpose gets
    "not assessed", which earns no more than the failure it hides (no point either way), as
    with a lying inventory (module doc); the reason is the parent's, built from the binding.
    """
    if call not in _FIT_CALLS or error_type != "AttributeUnset":
        return ""
    for role, what in _RECORDS.items():
        attr = binding.attributes.get(role, "")
        if attr and error_message == f"fit did not set attribute {attr!r}":
            cls = binding.class_name or "the class"
            return (
                f"{cls}'s fit(X, y) returned without setting {attr!r}, the attribute the "
                f"binding reads for its {what} (its code names {attr!r}, but fit did not set "
                "it on this call), so its training cannot be judged from it: a mismatch between "
                "the rubric's [adapter] binding and this class, not an error in the student's "
                f"code. Instructors: name the attribute fit does set in [adapter.attributes] "
                f'({role} = "..."; "" when it keeps none), or ask the student to record it in fit'
            )
    return ""


_MODULES: dict[bytes, types.ModuleType] = {}


def probe_module(source: bytes) -> types.ModuleType:
    """The probe module the child ran, loaded in the parent (once per source).

    It is the grader's own code (the adapter, with any custom adapter of the rubric
    embedded): loading it here runs nothing of the student's.
    """
    digest = hashlib.sha256(source).digest()
    if digest not in _MODULES:
        if source == _OWN_SOURCE:
            _MODULES[digest] = child_probes
        else:
            module = types.ModuleType("_grader_probes_parent")
            module.__file__ = "<probe module>"
            exec(compile(source, module.__file__, "exec"), module.__dict__)
            _MODULES[digest] = module
    return _MODULES[digest]


_OWN_SOURCE = Path(child_probes.__file__ or "").read_bytes()


def gradient_through_fit(binding: AdapterBinding, call: str) -> bool:
    """Whether the gradients probe reads the gradient off one step of the student's own fit
    (a textbook-style class that back-propagates inline: ``TextbookRows._through_fit``). Its
    fit sets the biases itself (to zero), so the plan asks at zero biases; the weights are
    handed to it in place of its random draws."""
    return (
        call == "gradients"
        and binding.adapter_style == "textbook_rows"
        and binding.style != "custom"
        and not binding.method("gradients")
        and bool(binding.method("train"))
    )


def fit_step_refused(binding: AdapterBinding, call: str, error_type: str) -> str:
    """The parent's reason when one step of fit could not be started where the grader asks
    (``TextbookRows._through_fit`` raised ProbeUnsupported after running fit: it drew its start
    otherwise, or did not hold it), else "". Only the exception's class name is read, never
    its text; a submission that raises it itself turns its own failing gradient into "not
    assessed", which earns no more (0 points either way)."""
    if error_type != "ProbeUnsupported" or not gradient_through_fit(binding, call):
        return ""
    return (
        f"{binding.class_name} back-propagates inline in fit, and its fit could not be started "
        "from the grader's weights and zero biases (it draws or sets its start otherwise), so "
        "its gradient cannot be read off one step of it. Instructors: name a gradient method "
        "(adapter.methods.gradients) to assess it"
    )


def params_refused(binding: AdapterBinding, error_type: str) -> str:
    """The parent's reason when a class that reads its parameters from the instance
    (``params_in = "attributes"``) did not hold the arrays the child set into it
    (``child_probes._set_paths`` raised ``ParametersNotHeld`` after the student's
    ``__setattr__`` or property ran), else "". As with :func:`fit_step_refused`, only the
    exception's class name is read; raising it on purpose turns a failure into "not
    assessed", 0 points either way."""
    if error_type != "ParametersNotHeld" or binding.params_in != "attributes":
        return ""
    paths = ", ".join(f"{k} -> {binding.attributes.get(k, '')}" for k in binding.parameters)
    return (
        f"{binding.class_name}'s methods read the parameters from the instance, and after the "
        f"grader set them there ({paths}) the instance did not hold them (a property or "
        "__setattr__ keeps something else), so it cannot be asked with the grader's parameters: "
        "a mismatch between the binding and this class, not a verdict on its code. Instructors: "
        "pin the attributes that hold the parameters in [adapter.attributes], or ask the student "
        "to keep them in plain attributes or lists"
    )


def draws_refused(binding: AdapterBinding, call: str, error_type: str) -> str:
    """The parent's reason when the replay's fit drew permutations the grader cannot hand
    out (``child_probes.DrawsRefused``: two draws an epoch, say X's and y's from a saved and
    restored state), else "". As with :func:`fit_step_refused`, only the exception's class
    name is read; raising it on purpose turns a failure into "not assessed", 0 points
    either way."""
    if error_type != "DrawsRefused" or call != "train":
        return ""
    return (
        f"{binding.class_name}.fit drew np.random.permutation otherwise than once an epoch for "
        "all the data (the grader hands out one permutation an epoch to replay the run), so its "
        "training cannot be replayed draw by draw: a mismatch between the replay and this "
        "class, not a verdict on its code. Instructors: the convergence check judges a run "
        "as written, where the rubric has one"
    )
