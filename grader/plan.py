"""A rubric's checks -> the probes one sandboxed job asks (the trusted parent's side).

Each check names a probe and a problem (``sizes``, ``N``, ``seed``, ``init``, the
probe's hyper-parameters). :func:`make_plan` builds each problem's canonical
inputs from its seed, converts them to the student's layout
(:func:`grader.probes.student_inputs`), and asks every distinct question once: checks
with the same probe and parameters share one probe call. Each probe owns its
inputs' namespace (``p2_X``), so problems of different sizes travel in one job.

The plan (:class:`ReferencePlan`) is the engine's :class:`~grader.pipeline.JobPlan`,
which is all the child and a student kit see, and each probe's
:class:`~grader.probes.ProbeContext`, which only the parent keeps: never an expected
value (those are computed from the contexts after the child is gone).

Problems are built so that bugs show (docs/conventions.md §4): non-square shapes
(N != D), every class present, biases drawn non-zero so the bias gradient is
checked on its own, and a large-penalty problem when the rubric gives C.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from grader.adapters.binding import AdapterBinding
from grader.adapters.styles import style_of
from grader.adapters.support import gradient_through_fit
from grader.contract import HYPER_DEFAULTS, PROBE_SPECS, RUN_ORDER
from grader.pipeline import JobPlan, PlannedCall
from grader.probes import ProbeContext, output_specs, student_inputs
from grader.rubric import CheckSpec, Rubric, plain
from grader.sandbox import Limits, OutputSpec, ProbeCall
from reference.datasets import blobs, load_digits, probe_inputs
from reference.encoding import one_hot
from reference.initializers import initialize
from reference.params import Params

Array = np.ndarray

DEFAULT_SIZES = (5, 4, 3)
DEFAULT_HELDOUT = 200  # converge: held-out instances
DEFAULT_STEPS = 3
DIGITS_SHAPE = (64, 10)  # a train problem from D=64 to K=10 uses the bundled digits


@dataclass(frozen=True)
class ReferencePlan:
    """The instructor's plan: what the child is asked, and what the reference answers from.

    job      : the engine's :class:`~grader.pipeline.JobPlan` (calls, inputs in the
               student's layout, check -> probe, the rubric's unbuildable checks): all that
               the sandbox and a student kit ever see
    contexts : probe id -> its :class:`~grader.probes.ProbeContext` (canonical inputs,
               sizes, conventions), kept by the parent and never sent: the reference's
               expected values and candidates are computed from it after the child is gone
    """

    job: JobPlan
    contexts: Mapping[str, ProbeContext]

    def context_of(self, check_id: str) -> ProbeContext:
        """The context of the probe that asks ``check_id``'s question."""
        return self.contexts[self.job.probe_of[check_id]]


# ---------------------------------------------------------------------------
# Problems: canonical inputs from a check's parameters


def _sizes(params: Mapping[str, Any]) -> tuple[int, ...]:
    return tuple(int(s) for s in params.get("sizes", DEFAULT_SIZES))


def _params(params: Mapping[str, Any], sizes: tuple[int, ...], seed: int) -> Params:
    """Initial parameters: the named scheme, else W ~ U(-1, 1) and b ~ U(-0.5, 0.5), non-zero."""
    if "init" in params:
        return initialize(str(params["init"]), sizes, seed)
    rng = np.random.default_rng([seed, 1])
    layers = list(itertools.pairwise(sizes))
    return Params(
        [rng.uniform(-1.0, 1.0, (o, i)) for i, o in layers],
        [rng.uniform(-0.5, 0.5, (o, 1)) for _, o in layers],
    )


def _data(call: str, sizes: tuple[int, ...], N: int, seed: int) -> tuple[Array, Array]:
    """X (N, D) and labels y (N,) with every class present."""
    D, K = sizes[0], sizes[-1]
    if call in ("train", "converge") and (D, K) == DIGITS_SHAPE:
        X, y = load_digits()
        pick = np.random.default_rng([seed, 2]).permutation(len(y))[:N]
        return X[pick], y[pick]
    if call in ("train", "converge"):
        X, y = blobs(N, D, K, seed=seed)
        return X / np.abs(X).max(), y  # inputs of order 1: sigmoid units stay sensitive
    if N == D:
        N += 1  # non-square, so a transposed X fails loudly (docs/conventions.md §4)
    return probe_inputs(D, N, K, seed)


def _permutations(seed: int, N: int, E: int) -> Array:
    """(E, N): the course's per-epoch ``np.random.permutation`` draws, from ``RandomState(seed)``."""
    rs = np.random.RandomState(seed)
    return np.array([rs.permutation(N) for _ in range(E)], dtype=np.int64).reshape(E, N)


DEFAULT_EPOCHS_ASKED = 12  # schedule_order: the epochs 0..E-1 whose rates are asked


def asked_epochs(seed: int, E: int) -> Array:
    """schedule_order's questions: every epoch of 0..E-1 in a shuffled order, the last of
    them asked again at once, then every epoch again in another order (2E + 1 asks).

    A rate computed from η_0 and the epoch gives the same answer to the same epoch; one
    kept in state (``self.eta *= d``) does not, and the immediate repeat shows it plainly.
    """
    rng = np.random.default_rng([seed, 11])
    first = rng.permutation(E)
    if E > 1 and np.array_equal(first, np.arange(E)):  # out of order, always
        first = first[::-1].copy()
    return np.concatenate([first, first[-1:], rng.permutation(E)]).astype(np.int64)


def _envelope_inputs(
    p: Mapping[str, Any], sizes: tuple[int, ...], N: int, seed: int
) -> dict[str, Array]:
    """converge: N training and M held-out instances, and S starts of the reference's runs.

    Each start is a set of initial parameters drawn with the rubric's init scheme and a
    batch order (E, N), from seeds no other check of the rubric uses.
    """
    M = int(p.get("N_heldout", DEFAULT_HELDOUT))
    E, S = int(p.get("epochs", 5)), int(p.get("seeds", 5))
    X, y = _data("converge", sizes, N + M, seed)
    seeds = [1000 * (seed + 1) + s for s in range(S)]
    starts = [_params(p, sizes, s).as_dict() for s in seeds]
    orders = [_permutations(s, N, E) for s in seeds]
    return {
        "X": X[:N].T.copy(),
        "y": y[:N],
        "Y": one_hot(y[:N], sizes[-1]),
        "X_heldout": X[N:].T.copy(),
        "y_heldout": y[N:],
        **{f"start_{k}": np.stack([P[k] for P in starts]) for k in starts[0]},
        "start_perms": np.array(orders, dtype=np.int64).reshape(S, E, N),
    }


def _unsorted_first_seen(y: Array) -> Array:
    """``y`` with its largest class seen first, so the classes' order of first appearance is
    never the sorted one: an encoding that numbers classes as it meets them
    (``one_hot_unsorted_classes``) otherwise passes on a draw whose labels happen to appear
    in order (docs/conventions.md §4)."""
    y = np.array(y, copy=True)
    top = int(np.argmax(y == y.max()))  # the first instance of the largest class
    y[[0, top]] = y[[top, 0]]
    return y


def canonical_inputs(spec: CheckSpec) -> dict[str, Array]:
    """The canonical inputs of ``spec``'s probe, deterministic in its parameters.

    Returns W1.., b1.., X (D, N), Y (K, N), y (N,); perms (E, N) for ``train``;
    dW1.., db1.. (T, *shape) for ``optimizer``; only what the probe reads.
    """
    p, call = spec.params, spec.probe
    seed = int(p.get("seed", 0))
    sizes = _sizes(p)
    N = int(p.get("N", PROBE_SPECS[call].N))
    P = _params(p, sizes, seed)
    if call == "schedule":
        return {}
    if call == "schedule_order":
        return {"epochs_asked": asked_epochs(seed, int(p.get("epochs", DEFAULT_EPOCHS_ASKED)))}
    if call == "initialize":  # the sizes are the question; the student draws the values
        return P.as_dict()
    if call == "optimizer":
        T = int(p.get("steps", DEFAULT_STEPS))
        rng = np.random.default_rng([seed, 3])
        grads = {f"d{k}": rng.normal(size=(T, *v.shape)) for k, v in P.as_dict().items()}
        return P.as_dict() | grads
    if call == "converge":
        return P.as_dict() | _envelope_inputs(p, sizes, N, seed)
    X, y = _data(call, sizes, N, seed)
    K = sizes[-1]
    out = {"X": X.T.copy(), "y": y, "Y": one_hot(y, K)}
    if call == "one_hot":
        return {"y": _unsorted_first_seen(y)}
    if call == "train":
        out["perms"] = _permutations(seed + 1, len(y), int(p.get("epochs", 5)))
    return P.as_dict() | out


# ---------------------------------------------------------------------------
# The instructor's problems: the rubric's, drawn afresh


# Seeds drawn for the instructor stay below 2**22: the envelope's starts use
# 1000·(seed + 1) + s, which must remain a valid RandomState seed (< 2**32).
SEED_SPACE = 2**22
# Probes whose question holds no seeded array: the parameter drawn afresh instead, scaled
# by a factor in [1/2, 2) (the cooling's eta0: every rate scales with it, so the problem
# and the misconceptions it shows stay the same).
UNSEEDED_DRAWS = {"schedule": "eta", "schedule_order": "eta"}


def _draw(problem_key: str, *what: object) -> int:
    text = "\0".join([problem_key, *(str(w) for w in what)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def instructor_problems(rubric: Rubric) -> Rubric:
    """``rubric`` with every check's problem drawn afresh from its ``problem_key``.

    The student kit ships the inputs and expected values of the problems the checks' own
    seeds give (:func:`make_plan` of the public rubric), so the instructor's grading must not
    ask those: each seed ``s`` becomes ``sha256(problem_key, s)`` (below :data:`SEED_SPACE`,
    never one of the public checks' own seeds), which keeps the rubric's shapes, sizes, init
    schemes and hyper-parameters, keeps checks that share a seed sharing a problem, and
    changes every drawn array; a probe without seeded arrays has its
    :data:`UNSEEDED_DRAWS` parameter scaled instead.

    The key is a digest of the whole rubric file, hidden checks included, that nothing
    publishes (:attr:`grader.rubric.Rubric.problem_key`): every instructor-side path
    (a batch, grade-one, Gradescope, a service) reads the same file, so it draws the same
    problems and gives a submission the same score, with no secret to distribute; a kit
    holds neither the file nor that digest, so its problems are the only ones it reveals.
    A :meth:`~grader.rubric.Rubric.public` rubric keeps its parent's key, so a check with
    ``--rubric`` asks the instructor's problems.
    """
    key = rubric.problem_key
    # never a seed of the kit's problems (the public checks' own), however the draw falls
    kit_seeds = {int(c.params.get("seed", 0)) for c in rubric.checks if c.visibility == "public"}

    def fresh(seed: int) -> int:
        return next(
            drawn
            for attempt in itertools.count()
            if (drawn := _draw(key, "seed", seed, attempt) % SEED_SPACE) not in kit_seeds
        )

    checks = []
    for spec in rubric.checks:
        params = dict(spec.params)
        params["seed"] = fresh(int(params.get("seed", 0)))
        scaled = UNSEEDED_DRAWS.get(spec.probe)
        if scaled is not None:
            base = float(params.get(scaled, HYPER_DEFAULTS[scaled]))
            u = _draw(key, spec.probe, scaled, repr(base)) / 2**64  # in [0, 1)
            params[scaled] = base * 2.0 ** (2.0 * u - 1.0)
        checks.append(replace(spec, params=MappingProxyType(params)))
    return replace(rubric, checks=tuple(checks))


# ---------------------------------------------------------------------------
# The plan


def question_key(spec: CheckSpec) -> str:
    """Checks with equal keys ask the same question (compare and feedback do not matter)."""
    text = json.dumps({"probe": spec.probe, "params": plain(spec.params)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _timeout(spec: CheckSpec) -> float:
    return float(spec.params.get("timeout", PROBE_SPECS[spec.probe].timeout))


def time_bound(rubric: Rubric, limits: Limits) -> float:
    """The longest one submission's sandboxed job may run by its own limits, in seconds:
    the child's start plus every distinct question's probe timeout, at most the job's total.

    A batch limit below it could stop a submission that loops before its probe's own
    timeout does, and the batch would report the grader's failure, not the student's.
    """
    probes = {question_key(spec): _timeout(spec) for spec in rubric.checks}
    return limits.setup_timeout + min(limits.total_timeout, sum(probes.values()))


def _output_spec(binding: AdapterBinding, call: str, shape: tuple[int, ...]) -> OutputSpec:
    """What the sandbox lets through for one output of this shape.

    Where the student's array already is in the lecture's layout (every output of the
    template; the forward pass and one-hot of the course's column-wise classes) any
    shape of the right rank passes the sandbox, capped in size, so the comparison can
    say "'Y' has the wrong shape: got (7, 3), expected (3, 7)" and a transposed one-hot
    can be diagnosed. Other arrays are converted to that layout first, which needs
    their exact shape (and a message in the converted layout would mislead).
    """
    as_is = binding.style == "template" or (
        call in ("forward", "one_hot") and style_of(binding).columns_out
    )
    if not as_is:
        return OutputSpec(shape=shape)
    return OutputSpec(shape=None, ndim=len(shape), max_elements=max(4 * math.prod(shape), 4096))


def _biases_zeroed(inputs: dict[str, Array]) -> dict[str, Array]:
    """The canonical inputs with every bias zero: where the gradient is read off one step of
    the student's fit, which sets its biases to zero itself (grader.adapters.support,
    ``gradient_through_fit``)."""
    return {
        k: np.zeros_like(v) if k[:1] == "b" and k[1:].isdigit() else v for k, v in inputs.items()
    }


def _credit(ctx: ProbeContext, accept: Sequence[str]) -> ProbeContext:
    """``ctx`` knowing the conventions one more of its checks credits (a probe shared by
    checks: their union), so its candidates can combine them (grader.expectations)."""
    more = tuple(a for a in accept if a not in ctx.credited)
    return replace(ctx, credited=ctx.credited + more) if more else ctx


def make_plan(rubric: Rubric, binding: AdapterBinding) -> ReferencePlan:
    """The distinct probes of ``rubric``'s checks, with their inputs in the student's layout.

    A check the grader cannot build (its probe is not implemented, its parameters do
    not fit the adapter) is listed in ``problems`` with the reason, not raised: the
    other checks still run.
    """
    probes: list[PlannedCall] = []
    contexts: dict[str, ProbeContext] = {}
    by_key: dict[str, int] = {}
    inputs: dict[str, Array] = {}
    probe_of: dict[str, str] = {}
    problems: dict[str, str] = {}
    for spec in rubric.checks:
        key = question_key(spec)
        if key in by_key:
            i = by_key[key]
            probes[i] = replace(probes[i], checks=(*probes[i].checks, spec.id))
            probe_id = probes[i].call.id
            contexts[probe_id] = _credit(contexts[probe_id], spec.compare.accept)
            probe_of[spec.id] = probe_id
            continue
        try:
            canonical = canonical_inputs(spec)
            if gradient_through_fit(binding, spec.probe):
                canonical = _biases_zeroed(canonical)
            student, ctx = student_inputs(spec.probe, binding, spec.params, canonical)
            specs = {
                name: _output_spec(binding, spec.probe, tuple(shape))
                for name, shape in output_specs(spec.probe, binding, ctx.sizes).items()
            }
        except (ValueError, KeyError) as error:
            problems[spec.id] = (
                f"the grader cannot build check {spec.id!r} from the rubric: {error}"
            )
            continue
        probe_id = f"p{len(probes) + 1}"
        prefix = f"{probe_id}_"
        inputs |= {prefix + name: np.ascontiguousarray(a) for name, a in student.items()}
        call = ProbeCall(
            id=probe_id,
            call=spec.probe,
            params=ctx.child_params(),
            inputs=tuple(prefix + name for name in student),
            timeout=_timeout(spec),
            input_prefix=prefix,
        )
        by_key[key] = len(probes)
        probes.append(PlannedCall(call, MappingProxyType(specs), (spec.id,)))
        contexts[probe_id] = _credit(ctx, spec.compare.accept)
        probe_of[spec.id] = probe_id
    job = JobPlan(
        tuple(sorted(probes, key=lambda p: RUN_ORDER.index(p.call.call))),
        MappingProxyType(inputs),
        MappingProxyType(probe_of),
        MappingProxyType(problems),
    )
    return ReferencePlan(job, MappingProxyType(contexts))
