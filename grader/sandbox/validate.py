"""The parent's checks on what came out of the sandbox, made after the child is gone.

Outputs arrive as .npz bytes. Each member's .npy header is parsed by hand
(``read_magic`` + ``read_array_header_*``) and checked against the probe's
:class:`OutputSpec` and against the member's size *before* any array is
allocated, so a forged header claiming 80 GB costs nothing. Only bool, int,
uint and float arrays pass; object arrays are never unpickled
(``allow_pickle=False`` throughout). Non-finite values are flagged, not fatal.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .jobs import STATUSES, Job, JobResult, OutputSpec, ProbeOutcome, Status

if TYPE_CHECKING:  # imported where arrays are read (grader/sandbox/jobs.py says why)
    import numpy as np

NUMERIC_KINDS = "biuf"
TEXT_CAP = 8000


@dataclass(frozen=True, eq=False)
class Checked:
    """Validated arrays and their non-finite flags, or the problem that stopped them."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    flags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    problem: str | None = None


def npy_header(fh: Any) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header length) of a .npy stream, reading only its header."""
    import numpy as np

    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ValueError(f"malformed shape {shape!r}")
    return tuple(shape), dtype, fh.tell()


def check_npz(data: bytes, specs: Mapping[str, OutputSpec]) -> Checked:
    """Validate one probe's .npz against its output contract.

    data  : the bytes of the .npz file
    specs : {output name: OutputSpec}, exactly the names the probe must return
    """
    import numpy as np

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        return Checked(problem=f"the output is not a readable .npz file ({e})")
    names = [m.filename.removesuffix(".npy") for m in members]
    if len(set(names)) != len(names) or any(not m.filename.endswith(".npy") for m in members):
        return Checked(problem=f"the output holds unexpected entries {sorted(names)}")
    if extra := sorted(set(names) - set(specs)):
        return Checked(problem=f"unexpected output(s) {', '.join(extra)}")
    if missing := sorted(set(specs) - set(names)):
        return Checked(problem=f"missing output(s) {', '.join(missing)}")
    for m, name in zip(members, names, strict=True):
        try:
            with zf.open(m) as fh:
                shape, dtype, offset = npy_header(fh)
        except Exception as e:
            return Checked(problem=f"output {name!r} has a malformed header ({e})")
        if dtype.hasobject or dtype.kind not in NUMERIC_KINDS or dtype.fields is not None:
            return Checked(problem=f"output {name!r} has dtype {dtype}: only numeric arrays pass")
        if problem := specs[name].problem(shape):
            return Checked(problem=f"output {name!r}: {problem}")
        if math.prod(shape) * dtype.itemsize != m.file_size - offset:
            return Checked(problem=f"output {name!r}: its header does not match its size")
    arrays: dict[str, np.ndarray] = {}
    flags: dict[str, tuple[str, ...]] = {}
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            for name in names:
                a = z[name]
                arrays[name] = a.astype(a.dtype.newbyteorder("="), copy=False)
    except Exception as e:
        return Checked(problem=f"the output could not be read ({type(e).__name__}: {e})")
    for name, a in arrays.items():
        a.flags.writeable = False
        if a.dtype.kind == "f":
            found = tuple(f for f, test in (("nan", np.isnan), ("inf", np.isinf)) if test(a).any())
            if found:
                flags[name] = found
    return Checked(arrays, flags)


def _text(record: Mapping[str, Any], key: str) -> str:
    return str(record.get(key) or "")[:TEXT_CAP]


def _status(value: object, default: Status) -> Status:
    for s in STATUSES:
        if value == s:
            return s
    return default


def _seconds(value: object) -> float:
    try:
        return max(0.0, float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def judge(
    job: Job,
    report: Mapping[str, Any],
    blobs: Mapping[str, bytes],
    **about: Any,
) -> JobResult:
    """Turn a supervision report and the collected output bytes into a JobResult.

    report   : from ``session.supervise`` (for the warm worker it crossed a pipe:
               read defensively, every field checked); a probe's ``problem`` says why
               its outputs could not be kept
    blobs    : {probe id: .npz bytes} of the probes the child claimed ok
    about    : tier, notice, wall_seconds, worker (passed through)
    """
    records = {str(r.get("id")): r for r in report.get("probes", []) if isinstance(r, Mapping)}
    outcomes = []
    for probe in job.probes:
        r = records.get(probe.id, {"status": "missing", "error": "no report for this probe"})
        status = _status(r.get("status"), "error")
        pid, seconds, tb = probe.id, _seconds(r.get("seconds")), _text(r, "traceback")
        if status != "ok":
            outcome = ProbeOutcome(pid, status, error=_text(r, "error"), traceback=tb)
        elif r.get("problem"):
            outcome = ProbeOutcome(pid, "invalid", error=_text(r, "problem"), traceback=tb)
        elif pid not in blobs:
            why = "the probe reported success but wrote no output"
            outcome = ProbeOutcome(pid, "missing", error=why, traceback=tb)
        else:
            c = check_npz(blobs[pid], job.output_specs[pid])
            if c.problem is not None:
                outcome = ProbeOutcome(pid, "invalid", error=c.problem)
            else:
                outcome = ProbeOutcome(pid, "ok", arrays=c.arrays, flags=c.flags)
        outcomes.append(replace(outcome, seconds=seconds))
    setup = report.get("setup")
    setup = setup if isinstance(setup, Mapping) else {}
    baselines = report.get("baselines")
    baselines = baselines if isinstance(baselines, Mapping) else {}
    inventory = report.get("inventory")
    return JobResult(
        probes=tuple(outcomes),
        stdout_excerpt=str(report.get("stdout") or "")[: 1 << 17],
        stderr_excerpt=str(report.get("stderr") or "")[: 1 << 17],
        public_stdout=str(report.get("public_stdout") or "")[: 1 << 17],
        public_stderr=str(report.get("public_stderr") or "")[: 1 << 17],
        baselines={p.id: _seconds(baselines[p.id]) for p in job.probes if p.id in baselines},
        inventory=inventory if isinstance(inventory, dict) else {},
        setup_status=_status(setup.get("status"), "missing"),
        setup_error=_text(setup, "error"),
        setup_traceback=_text(setup, "traceback"),
        restarts=int(_seconds(report.get("restarts"))),
        **about,
    )
