"""A rubric: a TOML file (stdlib ``tomllib``) validated into frozen definitions.

Layout (every key below is allowed; any other key is an error naming the allowed ones)::

    [assignment]         id, title, execution ("definitions" | "full"), course = "", version = "1",
                         submission_file = "" (a glob of the notebook or module to grade when
                         a folder holds several, e.g. "lab3*.ipynb"; grader.submission)
    [adapter]            a table kept as a mapping (validated by grader.adapters.binding)
    [[objectives]]       id, title, demonstrates (what demonstrating it means)
    [[checks]]           id, objective, probe, points (> 0), title = id,
                         visibility = "public" | "hidden", requires = [check ids]
      [checks.params]    the problem (sizes, N, seed, init), the probe's hyper-parameters
                         (C, eta, alpha, epochs, ...: grader.contract) and conventions (loss,
                         reduction, penalty, penalize_bias, optimizer, optimizer_hyper, ...);
                         each probe allows its own names (:func:`allowed_params`)
      [checks.compare]   rtol, atol, form ("max" | "norm"), parts (outputs to compare, each
                         separately; default all), accept (conventions credited, see
                         grader.diagnose.CONVENTIONS)
      [checks.feedback]  pass, fail, next_step, and a [checks.feedback.misconceptions] table:
                         misconception name -> the course's wording of the next step

Errors are :class:`RubricError`, rendered ``"rubrics/x.toml: checks[3].compare.rtol: must be a
number >= 0, got 'tight'"`` (list indices count from 0, as in TOML tools and Python).

Definitions only: a :class:`Rubric` never holds outcomes. ``content_hash`` is the sha256
of the file's bytes, recorded with every result. ``problem_key`` is another digest of the
same bytes, never written anywhere: the instructor's problems are drawn from it
(:func:`grader.plan.instructor_problems`), so they follow from the whole rubric, hidden
checks included, and cannot be worked out from a student kit (which holds the public part
and ``content_hash``).

Values that name something of the reference (a loss, an optimiser, a misconception)
are checked against a :class:`Vocabulary`, which the caller passes: this module never
imports ``reference`` (a student kit ships it). The instructor's vocabulary, the
reference's own registries, and the instructor's ``load_rubric`` / ``parse_rubric``
are in :mod:`grader.rubric_file`; a kit's rubric, which the grader wrote from one it
had validated, is read with :data:`AS_WRITTEN` (structure checked, names unchecked).
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from grader.compare import DEFAULT_ATOL, DEFAULT_RTOL, FORMS, Form
from grader.contract import CALLS, PROBE_SPECS, Kind, ProbeSpec, probe_params
from grader.diagnose import CONVENTIONS

Execution = Literal["definitions", "full"]
Visibility = Literal["public", "hidden"]
EXECUTIONS: tuple[Execution, ...] = ("definitions", "full")
VISIBILITIES: tuple[Visibility, ...] = ("public", "hidden")

_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


class RubricError(ValueError):
    """A rubric problem: the file, the key path inside it, and what is wrong."""

    def __init__(self, path: str | Path, key: str, message: str) -> None:
        self.path, self.key, self.message = str(path), key, message
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"{self.path}: {self.key}: {self.message}"
            if self.key
            else f"{self.path}: {self.message}"
        )


# ---------------------------------------------------------------------------
# Check parameters. The names a probe takes come from the contract (grader.contract: the
# problem's keys, the probe's hyper-parameters and the keys its plan or judge reads) and the
# conventions (CONVENTION_KEYS); this module only says how each value is checked.


def _number(low: float, strict: bool, high: float = math.inf) -> Callable[[object], float]:
    def check(v: object) -> float:
        ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        if not ok or not (v > low if strict else v >= low) or not v < high:  # type: ignore[operator]
            bound = f"> {low:g}" if strict else f">= {low:g}"
            raise ValueError(
                f"must be a number {bound}" + (f" and < {high:g}" if high < math.inf else "")
            )
        return float(v)  # type: ignore[arg-type]

    return check


def _whole(low: int) -> Callable[[object], int]:
    def check(v: object) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"must be a whole number >= {low}")
        return v

    return check


def _boolean(v: object) -> bool:
    if not isinstance(v, bool):
        raise ValueError("must be true or false")
    return v


def choice_check(names: Sequence[str]) -> Callable[[object], str]:
    def check(v: object) -> str:
        if v not in names:
            raise ValueError(f"must be one of {', '.join(names)}")
        return str(v)

    return check


LOCAL_PARAMS: dict[str, Callable[[object], Any]] = {
    # the problem the plan builds (sizes and init: see param_checks)
    "N": _whole(1),
    "seed": _whole(0),
    # the probes' hyper-parameters (grader.contract.PROBE_SPECS[call].hyper)
    "C": _number(0, strict=False),
    "eta": _number(0, strict=True),
    "alpha": _number(0, strict=False, high=1),
    "epochs": _whole(1),
    "minibatches": _whole(1),
    "decrease_const": _number(0, strict=False),
    "decrease_iter": _whole(1),
    "shuffle": _boolean,
    "random_state": _whole(0),
    "repeats": _whole(1),
    "n_classes": _whole(1),
    # conventions that name nothing (the others: see param_checks)
    "penalize_bias": _boolean,
    "bias_momentum": _boolean,
    # the grader's own
    "timeout": _number(0, strict=True),
    "max_ratio": _number(0, strict=True),  # timing: at most this many times the baseline
    "h": _number(0, strict=True),  # gradcheck_self: the finite-difference step
    "gain": _number(0, strict=True),  # initialize: Glorot's gain (the course: 4, sigmoid)
    "steps": _whole(1),  # optimizer: T, the number of steps the plan feeds gradients for
    # converge: held-out instances, the reference's runs, the envelope's margins
    "N_heldout": _whole(1),
    "seeds": _whole(1),
    "batch_size": _whole(1),
    "accuracy_margin": _number(0, strict=False, high=1),
    "cost_margin": _number(0, strict=False),
}
"""The parameters whose check needs no reference registry (the others:
:func:`grader.rubric_file.param_checks`)."""


def _as_written(name: str, value: object) -> Any:
    """A parameter of a rubric the grader wrote, normalised as the instructor's checks
    (:func:`grader.rubric_file.param_checks`) would, unchecked."""
    if name in LOCAL_PARAMS:
        return LOCAL_PARAMS[name](value)
    if name == "sizes" and isinstance(value, str):
        return tuple(int(v) for v in value.split(","))
    if name == "sizes" and isinstance(value, list | tuple):
        return tuple(int(v) for v in value)
    if name == "optimizer_hyper" and isinstance(value, dict):
        return dict(value)
    return value


def plain(value: Any) -> Any:
    """Validated values (tuples, mapping proxies) as plain JSON- and TOML-writable ones."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Vocabulary:
    """How a rubric's parameters and misconception names are checked beyond their structure.

    The instructor's (:func:`grader.rubric_file.reference_vocabulary`) holds the
    reference's registries; a field left None is not checked (:data:`AS_WRITTEN`).

    param_checks      : parameter -> a check returning the value or raising
                        ValueError("must be ...")
    convention_keys   : the conventions' parameter names, which every probe allows
                        besides its own (grader.contract.probe_params)
    check_optimizer_hyper : (optimiser name, its hyper-parameters) -> None or ValueError
    misconception_kinds   : misconception name -> its kind
    """

    param_checks: Mapping[str, Callable[[object], Any]] | None
    convention_keys: tuple[str, ...] | None
    check_optimizer_hyper: Callable[[str, Mapping[str, Any]], None] | None
    misconception_kinds: Mapping[str, Kind] | None


AS_WRITTEN = Vocabulary(None, None, None, None)
"""A rubric the grader wrote itself from one it validated (the student kit's): its
structure is checked as always, its names are not, so reading it needs no ``reference``."""


# ---------------------------------------------------------------------------
# Definitions


@dataclass(frozen=True)
class Assignment:
    id: str
    title: str
    execution: Execution
    course: str = ""
    version: str = "1"
    submission_file: str = ""  # glob picking the code file among several (grader.submission)


@dataclass(frozen=True)
class Objective:
    """A learning objective; ``demonstrates`` says what demonstrating it means."""

    id: str
    title: str
    demonstrates: str


@dataclass(frozen=True)
class CompareSpec:
    """Tolerances (see grader.compare), outputs compared, conventions credited."""

    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    form: Form = "max"
    parts: tuple[str, ...] = ()  # empty: every output the reference gives
    accept: tuple[str, ...] = ()


@dataclass(frozen=True)
class Feedback:
    """The rubric's wording; ``misconceptions`` maps a misconception name to its next step."""

    pass_: str = ""
    fail: str = ""
    next_step: str = ""
    misconceptions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class CheckSpec:
    """One check: a probe call with inputs, how to compare, points, and feedback."""

    id: str
    title: str
    objective: str
    probe: str
    params: Mapping[str, Any]
    compare: CompareSpec
    points: float
    visibility: Visibility
    requires: tuple[str, ...]
    feedback: Feedback


@dataclass(frozen=True)
class Rubric:
    path: str
    assignment: Assignment
    adapter: Mapping[str, Any]
    objectives: tuple[Objective, ...]
    checks: tuple[CheckSpec, ...]
    content_hash: str
    problem_key: str = field(repr=False)
    hidden_removed: bool = False

    @property
    def max_points(self) -> float:
        return sum(c.points for c in self.checks)

    def check(self, check_id: str) -> CheckSpec:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(f"no check {check_id!r} in {self.path}")

    def objective(self, objective_id: str) -> Objective:
        for o in self.objectives:
            if o.id == objective_id:
                return o
        raise KeyError(f"no objective {objective_id!r} in {self.path}")

    def checks_of(self, objective_id: str) -> tuple[CheckSpec, ...]:
        return tuple(c for c in self.checks if c.objective == objective_id)

    def ordered_checks(self) -> tuple[CheckSpec, ...]:
        """The checks with every prerequisite before its dependents (else file order)."""
        done: set[str] = set()
        out: list[CheckSpec] = []
        pending = list(self.checks)
        while pending:  # validation guarantees no cycle, so every pass places one
            ready = next(c for c in pending if set(c.requires) <= done)
            out.append(ready)
            done.add(ready.id)
            pending.remove(ready)
        return tuple(out)

    def public(self) -> Rubric:
        """The rubric without hidden checks (for the student kit); prerequisites on them dropped."""
        kept = tuple(c for c in self.checks if c.visibility == "public")
        ids = {c.id for c in kept}
        kept = tuple(replace(c, requires=tuple(r for r in c.requires if r in ids)) for c in kept)
        return replace(self, checks=kept, hidden_removed=True)


# ---------------------------------------------------------------------------
# Loading


# The domain of problem_key: a digest of the rubric's bytes that content_hash (published
# in every result and kit) does not give away.
PROBLEM_KEY_DOMAIN = b"mlp-grader/instructor-problems/1\0"


def read_rubric(data: bytes, path: str | Path, vocabulary: Vocabulary) -> Rubric:
    """Validate rubric bytes (TOML) against ``vocabulary``; ``path`` is used in messages only.
    RubricError on any problem."""
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise RubricError(path, "", "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise RubricError(path, "", f"not valid TOML: {e}") from None
    problem_key = hashlib.sha256(PROBLEM_KEY_DOMAIN + data).hexdigest()
    reader = _Reader(str(path), vocabulary)
    return reader.rubric(raw, hashlib.sha256(data).hexdigest(), problem_key)


def _did_you_mean(word: str, allowed: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Reader:
    """Validation with the path of every key, so each error names exactly one place."""

    def __init__(self, path: str, vocabulary: Vocabulary) -> None:
        self.path = path
        self.vocabulary = vocabulary

    def fail(self, key: str, message: str) -> RubricError:
        return RubricError(self.path, key, message)

    # -- small typed readers -------------------------------------------------

    def table(self, value: object, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, got {value!r}")
        return value

    def keys(
        self, table: dict[str, Any], key: str, allowed: Sequence[str], required: Sequence[str] = ()
    ) -> None:
        prefix = f"{key}." if key else ""
        for k in table:
            if k not in allowed:
                raise self.fail(
                    f"{prefix}{k}",
                    f"unknown key{_did_you_mean(k, allowed)}; allowed keys: {', '.join(allowed)}",
                )
        for k in required:
            if k not in table:
                raise self.fail(f"{prefix}{k}", "is required")

    def text(self, value: object, key: str, empty: bool = False) -> str:
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise self.fail(key, f"must be a non-empty string, got {value!r}")
        return value

    def ident(self, value: object, key: str) -> str:
        if not isinstance(value, str) or not _ID.fullmatch(value):
            raise self.fail(
                key,
                f"must be an id (a letter, then letters, digits, '_', '.' or '-'; at most 64), got {value!r}",
            )
        return value

    def choice(self, value: object, key: str, allowed: Sequence[str]) -> Any:
        if value not in allowed:
            raise self.fail(key, f"must be one of {', '.join(map(repr, allowed))}, got {value!r}")
        return value

    def number(self, value: object, key: str, low: float, strict: bool) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or not (value > low if strict else value >= low):  # type: ignore[operator]
            raise self.fail(
                key, f"must be a number {'>' if strict else '>='} {low:g}, got {value!r}"
            )
        return float(value)  # type: ignore[arg-type]

    def strings(self, value: object, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"must be a list of strings, got {value!r}")
        if len(set(value)) != len(value):
            raise self.fail(key, f"lists {next(v for v in value if value.count(v) > 1)!r} twice")
        return tuple(value)

    def array_of_tables(self, raw: dict[str, Any], key: str) -> list[dict[str, Any]]:
        items = raw.get(key)
        if items is None:
            raise self.fail(key, f"is required: at least one [[{key}]] table")
        if not isinstance(items, list) or not items or not all(isinstance(t, dict) for t in items):
            raise self.fail(key, f"must be one or more [[{key}]] tables")
        return items

    # -- sections ------------------------------------------------------------

    def rubric(self, raw: dict[str, Any], content_hash: str, problem_key: str) -> Rubric:
        self.keys(raw, "", ("assignment", "adapter", "objectives", "checks"), ("assignment",))
        assignment = self.assignment(self.table(raw["assignment"], "assignment"))
        adapter = MappingProxyType(dict(self.table(raw.get("adapter", {}), "adapter")))
        objectives = tuple(
            self.objective(t, f"objectives[{i}]")
            for i, t in enumerate(self.array_of_tables(raw, "objectives"))
        )
        self.unique([o.id for o in objectives], "objectives")
        checks = tuple(
            self.check(t, f"checks[{i}]", {o.id for o in objectives})
            for i, t in enumerate(self.array_of_tables(raw, "checks"))
        )
        ids = [c.id for c in checks]
        self.unique(ids, "checks")
        for i, c in enumerate(checks):
            for j, r in enumerate(c.requires):
                if r not in ids:
                    raise self.fail(
                        f"checks[{i}].requires[{j}]",
                        f"unknown check {r!r}; known: {', '.join(ids)}",
                    )
                if r == c.id:
                    raise self.fail(
                        f"checks[{i}].requires[{j}]", f"check {c.id!r} cannot require itself"
                    )
        self.acyclic(checks)
        for i, o in enumerate(objectives):
            if not any(c.objective == o.id for c in checks):
                raise self.fail(f"objectives[{i}]", f"no check assesses objective {o.id!r}")
        return Rubric(self.path, assignment, adapter, objectives, checks, content_hash, problem_key)

    def unique(self, ids: list[str], key: str) -> None:
        seen: set[str] = set()
        for i, x in enumerate(ids):
            if x in seen:
                raise self.fail(f"{key}[{i}].id", f"duplicate id {x!r}")
            seen.add(x)

    def acyclic(self, checks: tuple[CheckSpec, ...]) -> None:
        graph = {c.id: c.requires for c in checks}
        index = {c.id: i for i, c in enumerate(checks)}
        state: dict[str, int] = {}  # 1: on the current path, 2: finished

        def visit(node: str, trail: list[str]) -> None:
            state[node] = 1
            for nxt in graph[node]:
                if state.get(nxt) == 1:
                    cycle = [*trail[trail.index(nxt) :], nxt]
                    raise self.fail(
                        f"checks[{index[nxt]}].requires", f"cycle: {' -> '.join(cycle)}"
                    )
                if nxt not in state:
                    visit(nxt, [*trail, nxt])
            state[node] = 2

        for c in checks:
            if c.id not in state:
                visit(c.id, [c.id])

    def assignment(self, t: dict[str, Any]) -> Assignment:
        k = "assignment"
        self.keys(
            t,
            k,
            ("id", "title", "course", "execution", "version", "submission_file"),
            ("id", "title", "execution"),
        )
        version = t.get("version", "1")
        if isinstance(version, int) and not isinstance(version, bool):
            version = str(version)
        return Assignment(
            id=self.ident(t["id"], f"{k}.id"),
            title=self.text(t["title"], f"{k}.title"),
            execution=self.choice(t["execution"], f"{k}.execution", EXECUTIONS),
            course=self.text(t.get("course", ""), f"{k}.course", empty=True),
            version=self.text(version, f"{k}.version"),
            submission_file=self.submission_file(t.get("submission_file", ""), k),
        )

    def submission_file(self, value: object, k: str) -> str:
        """A glob of a .ipynb or .py file inside the submission folder ("" when absent)."""
        key = f"{k}.submission_file"
        pattern = self.text(value, key, empty=True)
        if not pattern:
            return ""
        parts = pattern.split("/")
        if (
            pattern.startswith("/")
            or ".." in parts
            or "\\" in pattern
            or not pattern.lower().endswith((".ipynb", ".py"))
        ):
            raise self.fail(
                key,
                "must be a glob of the .ipynb or .py file to grade, relative to the "
                f"submission folder (e.g. 'lab3*.ipynb' or 'notebooks/*.ipynb'), got {pattern!r}",
            )
        return pattern

    def objective(self, t: dict[str, Any], k: str) -> Objective:
        self.keys(t, k, ("id", "title", "demonstrates"), ("id", "title", "demonstrates"))
        return Objective(
            self.ident(t["id"], f"{k}.id"),
            self.text(t["title"], f"{k}.title"),
            self.text(t["demonstrates"], f"{k}.demonstrates"),
        )

    def check(self, t: dict[str, Any], k: str, objectives: set[str]) -> CheckSpec:
        allowed = (
            "id",
            "title",
            "objective",
            "probe",
            "params",
            "compare",
            "points",
            "visibility",
            "requires",
            "feedback",
        )
        self.keys(t, k, allowed, ("id", "objective", "probe", "points"))
        check_id = self.ident(t["id"], f"{k}.id")
        objective = self.text(t["objective"], f"{k}.objective")
        if objective not in objectives:
            raise self.fail(
                f"{k}.objective",
                f"unknown objective {objective!r}; known: {', '.join(sorted(objectives))}",
            )
        probe = self.choice(t["probe"], f"{k}.probe", CALLS)
        params = self.params(self.table(t.get("params", {}), f"{k}.params"), f"{k}.params", probe)
        return CheckSpec(
            id=check_id,
            title=self.text(t.get("title", check_id), f"{k}.title"),
            objective=objective,
            probe=probe,
            params=params,
            compare=self.compare(
                self.table(t.get("compare", {}), f"{k}.compare"),
                f"{k}.compare",
                PROBE_SPECS[probe],
                params,
            ),
            points=self.number(t["points"], f"{k}.points", 0, strict=True),
            visibility=self.choice(t.get("visibility", "public"), f"{k}.visibility", VISIBILITIES),
            requires=self.strings(t.get("requires", []), f"{k}.requires"),
            feedback=self.feedback(
                self.table(t.get("feedback", {}), f"{k}.feedback"),
                f"{k}.feedback",
                PROBE_SPECS[probe],
            ),
        )

    def params(self, t: dict[str, Any], k: str, probe: str) -> Mapping[str, Any]:
        checks = self.vocabulary.param_checks
        conventions = self.vocabulary.convention_keys
        if conventions is not None:  # the probe's own names, then the conventions'
            self.keys(t, k, tuple(dict.fromkeys((*probe_params(probe), *conventions))))
        out: dict[str, Any] = {}
        for name, value in t.items():
            try:
                out[name] = checks[name](value) if checks is not None else _as_written(name, value)
            except ValueError as e:
                raise self.fail(f"{k}.{name}", f"{e}, got {value!r}") from None
        if "optimizer_hyper" in out:
            where = f"{k}.optimizer_hyper"
            if "optimizer" not in out:
                raise self.fail(where, "needs 'optimizer' to say whose hyper-parameters these are")
            if self.vocabulary.check_optimizer_hyper is not None:
                try:  # the reference's declarations check names and intervals
                    self.vocabulary.check_optimizer_hyper(out["optimizer"], out["optimizer_hyper"])
                except ValueError as e:
                    raise self.fail(where, str(e)) from None
            # kept as written: the probe adds the course's bias mask and alpha itself
            out["optimizer_hyper"] = MappingProxyType(out["optimizer_hyper"])
        return MappingProxyType(out)

    def compare(
        self, t: dict[str, Any], k: str, probe: ProbeSpec, params: Mapping[str, Any]
    ) -> CompareSpec:
        self.keys(t, k, ("rtol", "atol", "form", "parts", "accept"))
        parts = self.strings(t.get("parts", []), f"{k}.parts")
        layers = len(params["sizes"]) - 1 if "sizes" in params else None
        for i, part in enumerate(parts):
            self.part(part, f"{k}.parts[{i}]", probe, layers)
        accept = self.strings(t.get("accept", []), f"{k}.accept")
        for i, name in enumerate(accept):
            conv = CONVENTIONS.get(name)
            if conv is None:
                raise self.fail(
                    f"{k}.accept[{i}]",
                    f"unknown convention {name!r}; known: {', '.join(CONVENTIONS)}",
                )
            if probe.call not in conv.probes:
                raise self.fail(
                    f"{k}.accept[{i}]",
                    f"convention {name!r} cannot show on probe {probe.call!r}; it applies to {', '.join(conv.probes)}",
                )
        return CompareSpec(
            rtol=self.number(t.get("rtol", DEFAULT_RTOL), f"{k}.rtol", 0, strict=False),
            atol=self.number(t.get("atol", DEFAULT_ATOL), f"{k}.atol", 0, strict=False),
            form=self.choice(t.get("form", "max"), f"{k}.form", FORMS),
            parts=parts,
            accept=accept,
        )

    def part(self, part: str, k: str, probe: ProbeSpec, layers: int | None) -> None:
        if not any(re.fullmatch(p, part) for p in probe.output_names):
            shown = ", ".join(p.replace(r"\d+", "<layer>") for p in probe.output_names)
            raise self.fail(k, f"probe {probe.call!r} has no output {part!r}; its outputs: {shown}")
        digits = re.search(r"\d+$", part)
        if digits and layers is not None and not 1 <= int(digits.group()) <= layers:
            raise self.fail(
                k, f"{part!r} names layer {digits.group()}, but params.sizes gives {layers} layers"
            )

    def misconception(
        self, name: str, where: str, known: Mapping[str, Kind], probe: ProbeSpec
    ) -> None:
        if name not in known:
            raise self.fail(
                where,
                f"unknown misconception{_did_you_mean(name, known)}; known: {', '.join(sorted(known))}",
            )
        if known[name] not in probe.kinds:
            raise self.fail(
                where,
                f"is a misconception of kind {known[name]!r}; it cannot show on probe {probe.call!r}",
            )

    def feedback(self, t: dict[str, Any], k: str, probe: ProbeSpec) -> Feedback:
        self.keys(t, k, ("pass", "fail", "next_step", "misconceptions"))
        wording = self.table(t.get("misconceptions", {}), f"{k}.misconceptions")
        known = self.vocabulary.misconception_kinds
        for name, text in wording.items():
            where = f"{k}.misconceptions.{name}"
            if known is not None:
                self.misconception(name, where, known, probe)
            self.text(text, where)
        return Feedback(
            pass_=self.text(t.get("pass", ""), f"{k}.pass", empty=True),
            fail=self.text(t.get("fail", ""), f"{k}.fail", empty=True),
            next_step=self.text(t.get("next_step", ""), f"{k}.next_step", empty=True),
            misconceptions=MappingProxyType(dict(wording)),
        )
