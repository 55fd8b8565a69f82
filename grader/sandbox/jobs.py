"""What a sandboxed job is, and what comes back: frozen, plain values.

A :class:`Job` is the student's prepared code, a plan of :class:`ProbeCall`
(probe functions of a child-side *probe module*, called in order), the input
arrays, and the contract of each probe's output (:class:`OutputSpec`). A
:class:`JobResult` holds one :class:`ProbeOutcome` per probe whose arrays have
been validated by the parent; every failure of the submission is a status:

    ok       the probe returned arrays that met its contract
    error    the probe (or setup) raised; type, message, trimmed traceback
    timeout  it ran past its time limit (the child tree was killed)
    killed   the process died mid-run: a signal, a limit, sys.exit / os._exit
    missing  no output: the probe never ran, or it claimed success but wrote none
    invalid  an output failed validation (shape, dtype, size, malformed file)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .child import wire

if TYPE_CHECKING:  # numpy is imported where arrays are handled: a cold grade-one
    import numpy as np  # spawns its sandboxed worker before it loads numpy

Status = Literal["ok", "error", "timeout", "killed", "missing", "invalid"]
STATUSES: tuple[Status, ...] = ("ok", "error", "timeout", "killed", "missing", "invalid")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
PROBE_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


class SandboxError(Exception):
    """The grader, not the submission, is at fault (configuration, environment)."""


class SandboxConfigError(SandboxError, ValueError):
    """A job or its limits are malformed."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission (each child process gets the rlimits).

    Times are wall-clock seconds except ``cpu_seconds`` (RLIMIT_CPU, per process).
    ``job_memory_bytes`` and ``processes`` bound the whole job, all its processes
    together, where a cgroup can be made (``sandbox.cgroup``). Without one,
    ``processes`` becomes RLIMIT_NPROC, which counts per uid: it is applied only
    where the child has a uid of its own (the bwrap tier run as root, where it counts
    every concurrent job of uid 65534 together, and the uid tier, one uid per sandbox).
    """

    setup_timeout: float = 30.0
    total_timeout: float = 300.0
    cpu_seconds: int = 600
    memory_bytes: int = 4 << 30  # RLIMIT_AS: numpy needs ~0.2 GB, an IPython kernel ~1 GB
    job_memory_bytes: int = 4 << 30  # the cgroup's memory limit: every process of the job
    file_bytes: int = 64 << 20  # RLIMIT_FSIZE: one file
    open_files: int = 256
    processes: int = 128
    output_bytes: int = 256 << 20  # all outputs of a job together
    capture_bytes: int = 64 << 10  # kept of stdout, and of stderr (head and tail)
    max_restarts: int = 3

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not (value >= 0 if name == "max_restarts" else value > 0):
                raise SandboxConfigError(f"Limits.{name} must be positive, got {value!r}")

    def rlimits(self, own_uid: bool) -> dict[str, int]:
        """What the runner applies to itself before running any student code."""
        return {
            "cpu": self.cpu_seconds,
            "memory": self.memory_bytes,
            "file": self.file_bytes,
            "open_files": self.open_files,
            "processes": self.processes if own_uid else 0,
        }


@dataclass(frozen=True)
class OutputSpec:
    """The contract of one output array, checked from its header before it is read.

    shape        : exact shape, ``None`` entries match any length; None: any shape
    ndim         : number of dimensions when ``shape`` is None
    max_elements : refuse anything larger (a forged header claiming 80 GB, say)
    """

    shape: tuple[int | None, ...] | None = None
    ndim: int | None = None
    max_elements: int = 10_000_000

    def problem(self, shape: tuple[int, ...]) -> str | None:
        """Why an array of this shape breaks the contract, or None."""
        if math.prod(shape) > self.max_elements:
            return f"{math.prod(shape)} elements exceeds the cap of {self.max_elements}"
        want = self.shape
        if want is not None and (
            len(want) != len(shape)
            or any(w is not None and w != s for w, s in zip(want, shape, strict=True))
        ):
            pretty = tuple("any" if w is None else w for w in want)
            return f"shape {shape}, expected {pretty}".replace("'", "")
        if want is None and self.ndim is not None and len(shape) != self.ndim:
            return f"{len(shape)} dimensions (shape {shape}), expected {self.ndim}"
        return None


@dataclass(frozen=True)
class ProbeCall:
    """One call of the plan: ``probe_module.<call>(namespace, {inputs}, params)``.

    Probes of one job share its input arrays by name; ``input_prefix`` lets each
    probe own a namespace (``p3_X`` reaches probe 3 as ``X``). The child receives a
    probe's call, params and inputs only when the probe starts.

    public   : what the submission prints while this probe runs may be shown to the
               student (False for a probe that serves a hidden check)
    baseline : inputs whose shapes the probe module's ``baseline(inputs, params)`` gets
               (arrays of those shapes, made in the child); non-empty makes the probe
               *timed*: the supervisor times the baseline before the submission is
               loaded, and the probe itself, each on its own clock
    """

    id: str
    call: str
    params: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    timeout: float = 5.0
    input_prefix: str = ""  # stripped from input names before the probe sees them
    public: bool = True
    baseline: tuple[str, ...] = ()

    def as_plan(self) -> dict[str, Any]:
        """The call as plain JSON values (the student kit's manifest stores it)."""
        return {
            "id": self.id,
            "call": self.call,
            "params": dict(self.params),
            "inputs": list(self.inputs),
            "input_prefix": self.input_prefix,
            "timeout": self.timeout,
        }

    def supervision(self) -> dict[str, Any]:
        """What the supervisor keeps of the probe (no call, params or inputs: those travel
        in its frame, when it starts)."""
        return {
            "id": self.id,
            "timeout": self.timeout,
            "timed": bool(self.baseline),
            "public": self.public,
        }


@dataclass(frozen=True, eq=False)
class Job:
    """Everything one sandboxed run needs; nothing more reaches the child.

    code         : the student's prepared source (becomes submission/submission.py)
    probes       : the plan, called in order
    inputs       : {name: ndarray} numeric arrays, given to probes by name
    probe_module : the child-side .py file holding the probe functions
    output_specs : {probe id: {output name: OutputSpec}}, the exact set of outputs
    data_files   : {relative path: bytes}, files shipped with the submission
    """

    code: str
    probes: tuple[ProbeCall, ...]
    inputs: Mapping[str, np.ndarray]
    probe_module: Path
    output_specs: Mapping[str, Mapping[str, OutputSpec]]
    data_files: Mapping[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids = [p.id for p in self.probes]
        if len(set(ids)) != len(ids):
            raise SandboxConfigError(f"probe ids repeat: {ids}")
        for p in self.probes:
            if not PROBE_ID.fullmatch(p.id) or not NAME.fullmatch(p.call):
                raise SandboxConfigError(f"probe id {p.id!r} or call {p.call!r} is not simple")
            if p.id not in self.output_specs or not self.output_specs[p.id]:
                raise SandboxConfigError(f"probe {p.id!r} has no output spec")
            if unknown := [n for n in (*p.inputs, *p.baseline) if n not in self.inputs]:
                raise SandboxConfigError(f"probe {p.id!r} uses unknown inputs {unknown}")
            if not (0 < p.timeout < math.inf):
                raise SandboxConfigError(f"probe {p.id!r} needs a finite positive timeout")
            try:
                json.dumps(dict(p.params), allow_nan=False)
            except (TypeError, ValueError) as e:
                raise SandboxConfigError(f"probe {p.id!r} params are not JSON: {e}") from None
            if bad := [n for n in self.output_specs[p.id] if not NAME.fullmatch(n)]:
                raise SandboxConfigError(f"probe {p.id!r} output names {bad} are not simple")
        import numpy as np

        for name, a in self.inputs.items():
            if not NAME.fullmatch(name) or np.asarray(a).dtype.kind not in "biuf":
                raise SandboxConfigError(f"input {name!r} must be a numeric array, simply named")
        for rel in self.data_files:
            parts = Path(rel).parts
            if Path(rel).is_absolute() or ".." in parts or not parts or rel == "submission.py":
                raise SandboxConfigError(f"data file name {rel!r} must be relative and inside")
        if not Path(self.probe_module).is_file():
            raise SandboxConfigError(f"probe module {self.probe_module} does not exist")

    def plan(self, limits: Limits, own_uid: bool) -> dict[str, Any]:
        """plan.json: the child's rlimits and the probe functions it must find; nothing of
        any probe's params or inputs (those come in each probe's frame, when it starts)."""
        return {
            "setup_timeout": limits.setup_timeout,
            "limits": limits.rlimits(own_uid),
            "probe_module": "probes.py",
            "calls": sorted(
                {p.call for p in self.probes} | ({"baseline"} if self.timed else set())
            ),
        }

    @property
    def timed(self) -> bool:
        return any(p.baseline for p in self.probes)

    def frame(self, kind: str, index: int) -> bytes:
        """The command that starts probe ``index`` ("probe") or its baseline ("baseline"),
        with its own inputs only (names without the prefix)."""
        import numpy as np

        from .child import arrays

        p = self.probes[index]
        header: dict[str, Any] = {"do": kind, "index": index, "params": dict(p.params)}
        if kind == "baseline":  # only the shapes: the baseline's cost does not depend on values
            header["shapes"] = {
                n.removeprefix(p.input_prefix): list(np.shape(self.inputs[n])) for n in p.baseline
            }
            return wire.encode(header)
        given = {n.removeprefix(p.input_prefix): self.inputs[n] for n in p.inputs}
        header["probe"] = {"id": p.id, "call": p.call, "params": dict(p.params)}
        return wire.encode(header, [arrays.pack(given)])


@dataclass(frozen=True, eq=False)
class ProbeOutcome:
    """One probe's fate. ``arrays`` are validated copies (read-only) when status is ok.

    flags : {output name: ("nan",) / ("inf",) / ("nan", "inf")} for non-finite values
    """

    id: str
    status: Status
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)
    error: str = ""
    traceback: str = ""
    flags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    seconds: float = 0.0  # the supervisor's clock: command sent -> whole answer received


@dataclass(frozen=True, eq=False)
class JobResult:
    """The outcome of a job: one ProbeOutcome per probe, in plan order.

    setup_status is the status of executing the submission itself ("missing"
    if it never got that far). ``worker`` says "cold" or "warm"; ``notice`` is
    non-empty when the sandbox was advisory or a fallback was taken;
    ``limits_tier`` says what bounded the job's memory and processes in all
    ("cgroup") or only each process ("rlimit", see ``sandbox.cgroup``).

    public_stdout / public_stderr : what was printed while public probes ran (the
        part a student may see; ``stdout_excerpt`` holds everything)
    baselines : {timed probe id: seconds of its baseline run}, on the supervisor's clock
    inventory : the names the submission defined after setup, as the child reported
        them (untrusted data: ``{"names": {name: kind}, "classes": {cls: {attr: kind}}}``)
    """

    probes: tuple[ProbeOutcome, ...]
    tier: str
    notice: str
    stdout_excerpt: str
    stderr_excerpt: str
    setup_status: Status
    setup_error: str
    setup_traceback: str
    wall_seconds: float
    restarts: int
    worker: str = "cold"
    limits_tier: str = "rlimit"  # "cgroup": the whole job was bounded; "rlimit": each process
    public_stdout: str = ""
    public_stderr: str = ""
    baselines: Mapping[str, float] = field(default_factory=dict)
    inventory: Mapping[str, Any] = field(default_factory=dict)

    def outcome(self, probe_id: str) -> ProbeOutcome:
        """The outcome of the probe with this id (KeyError if there is none)."""
        for p in self.probes:
            if p.id == probe_id:
                return p
        raise KeyError(probe_id)
