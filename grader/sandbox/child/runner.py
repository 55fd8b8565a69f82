"""The runner: executes the submission, then calls each probe, inside the sandbox.

One process, in this order (nothing of the student's runs before step 4):

1. apply the resource limits to itself;
2. load the plan, the input arrays and the probe module (the grader's adapter);
3. announce ``begin`` on the progress fd;
4. *setup*: execute ``submission/submission.py`` into a fresh module;
5. for each probe: ``fn(namespace, inputs, params) -> {name: ndarray}``, saved
   as ``outputs/<probe id>.npz`` (numeric arrays only, never pickled).

Progress goes to a dedicated fd as JSON lines (``begin``, ``setup``, ``start``,
``end``, ``done``; ``fatal`` for a grader-side failure before ``begin``). The
parent treats every line as a claim from untrusted code: the student's code runs
in this process and can write to the same fd.

Cold use: ``python -s -P -B launch.py <jobdir> <progress fd> <first probe>``.
The warm worker calls :func:`run` in a forked child instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import signal
import sys
import traceback
import types
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import arrays
from .proctree import PR_SET_NO_NEW_PRIVS, prctl

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
NUMERIC_KINDS = "biuf"  # bool, int, uint, float: complex, object, str, structured never cross
ERROR_CAP, TRACEBACK_CAP, EVENT_CAP = 2000, 6000, 60000


class Progress:
    """JSON lines on the progress fd; silent if the student has closed or replaced it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def emit(self, **event: Any) -> None:
        line = json.dumps(event)[:EVENT_CAP].encode() + b"\n"
        with contextlib.suppress(OSError):
            os.write(self.fd, line)


def apply_limits(limits: Mapping[str, int]) -> None:
    """Lower this process's rlimits (they are inherited by everything it starts).

    limits : {"cpu", "memory", "file", "open_files", "processes"}; a missing or
    zero entry leaves that limit alone. CPU gets soft < hard so SIGXCPU comes
    first; the others get soft == hard so the submission cannot raise them.
    """
    import resource

    def lower(which: int, soft: int, hard: int) -> None:
        _, cur_hard = resource.getrlimit(which)
        if cur_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, cur_hard), min(hard, cur_hard)
        resource.setrlimit(which, (soft, hard))

    if limits.get("cpu"):
        lower(resource.RLIMIT_CPU, limits["cpu"], limits["cpu"] + 2)
    for key, which in (
        ("memory", resource.RLIMIT_AS),
        ("file", resource.RLIMIT_FSIZE),
        ("open_files", resource.RLIMIT_NOFILE),
        ("processes", getattr(resource, "RLIMIT_NPROC", -1)),
    ):
        if limits.get(key) and which != -1:
            lower(which, limits[key], limits[key])
    lower(resource.RLIMIT_CORE, 0, 0)
    # an over-long write should raise OSError (EFBIG) in the submission, not kill the runner
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def load_module(
    name: str, path: Path | None = None, source: bytes | None = None
) -> types.ModuleType:
    """Import a module from a file or from source bytes, registered as ``name``."""
    if path is not None:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    module = types.ModuleType(name)
    module.__file__ = f"<{name}>"
    sys.modules[name] = module
    code = COMPILED.get(_digest(source or b""))
    exec(code or compile(source or b"", module.__file__, "exec"), module.__dict__)
    return module


# source digest -> code: filled by the warm worker before it forks any job (precompile)
COMPILED: dict[bytes, types.CodeType] = {}


def precompile(name: str, source: bytes) -> None:
    """Compile ``source`` as :func:`load_module` would, once, for every later fork to reuse.

    The grader's probe module is ~1,000 lines: compiling it cost each job ~14 ms.
    """
    COMPILED[_digest(source)] = compile(source, f"<{name}>", "exec")


def _digest(source: bytes) -> bytes:
    return hashlib.sha256(source).digest()


def load_inputs(data: Path | bytes) -> dict[str, np.ndarray]:
    """The input arrays of the job (the parent's :func:`arrays.pack` buffer or its file)."""
    return arrays.unpack(data if isinstance(data, bytes) else data.read_bytes())


def describe(exc: BaseException, subdir: str) -> tuple[str, str]:
    """``"<type>: <message>"`` and a traceback trimmed to the submission's own frames.

    Paths under ``subdir`` are shown relative to it ("submission.py, line 3"),
    so the report shows the student's file and line, and nothing of ours.
    Never raises, even where the submission has broken ``traceback`` or builtins.
    """
    try:
        return _describe(exc, subdir)
    except BaseException:
        return f"{type(exc).__name__}: (the traceback could not be formatted)", ""


def _describe(exc: BaseException, subdir: str) -> tuple[str, str]:

    def rel(text: str) -> str:
        return text.replace(subdir.rstrip("/") + "/", "")

    try:
        message = str(exc)
    except BaseException:
        message = "<the exception's message could not be printed>"
    error = rel(f"{type(exc).__name__}: {message}")[:ERROR_CAP]
    lines: list[str] = []
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith(subdir):
            lines.append(f'  File "{rel(frame.filename)}", line {frame.lineno}, in {frame.name}')
            if frame.line:
                lines.append(f"    {frame.line}")
    if isinstance(exc, SyntaxError) and exc.filename and exc.filename.startswith(subdir):
        lines.append(f'  File "{rel(exc.filename)}", line {exc.lineno}')
        if exc.text:
            lines.append(f"    {exc.text.rstrip()}")
    return error, "\n".join(lines)[-TRACEBACK_CAP:]


def numeric_outputs(result: object) -> dict[str, np.ndarray]:
    """Check a probe's result: a mapping of simple names to numeric arrays."""
    if not isinstance(result, Mapping):
        raise TypeError(f"the probe returned {type(result).__name__}, not a dict of arrays")
    arrays: dict[str, np.ndarray] = {}
    for key, value in result.items():
        if not isinstance(key, str) or not NAME.fullmatch(key):
            raise TypeError(f"output name {key!r} is not a simple identifier")
        a = np.asarray(value)
        if a.dtype.hasobject or a.dtype.kind not in NUMERIC_KINDS:
            raise TypeError(
                f"output {key!r} has dtype {a.dtype}: only bool, int and float arrays are accepted"
            )
        arrays[key] = a
    return arrays


def save_outputs(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` as an uncompressed .npz (allow_pickle=False), atomically."""
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, a in arrays.items():
            with zf.open(key + ".npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, a, allow_pickle=False)
    os.replace(tmp, path)


def run(
    plan: Mapping[str, Any],
    inputs: Mapping[str, np.ndarray],
    probes: types.ModuleType,
    jobdir: Path,
    start: int,
    progress: Progress,
) -> None:
    """Setup, then every probe from index ``start`` of ``plan["probes"]``; returns when done."""
    subdir = str(jobdir / "submission")
    for stream in (sys.stdout, sys.stderr):
        # line-buffered: what was printed before a hang still reaches the report
        stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    progress.emit(event="begin")
    module = types.ModuleType("submission")
    module.__file__ = f"{subdir}/submission.py"
    sys.modules["submission"] = module
    sys.path.insert(0, subdir)
    try:
        source = Path(module.__file__).read_bytes()
        exec(compile(source, module.__file__, "exec"), module.__dict__)
    except BaseException as exc:
        error, tb = describe(exc, subdir)
        status = "killed" if isinstance(exc, SystemExit) else "error"
        progress.emit(event="setup", status=status, error=error, traceback=tb)
        return
    progress.emit(event="setup", status="ok")

    for probe in plan["probes"][start:]:
        progress.emit(event="start", probe=probe["id"])
        try:
            fn = getattr(probes, probe["call"])
            prefix = probe.get("input_prefix", "")
            given = {
                name.removeprefix(prefix): np.array(inputs[name], copy=True)
                for name in probe["inputs"]
            }
            arrays = numeric_outputs(fn(module.__dict__, given, dict(probe["params"])))
            save_outputs(jobdir / "outputs" / f"{probe['id']}.npz", arrays)
        except BaseException as exc:
            error, tb = describe(exc, subdir)
            if isinstance(exc, SystemExit):
                error += " (the submission called sys.exit)"
            status = "killed" if isinstance(exc, SystemExit) else "error"
            progress.emit(event="end", probe=probe["id"], status=status, error=error, traceback=tb)
            continue
        progress.emit(event="end", probe=probe["id"], status="ok")
    progress.emit(event="done")


def prepare(jobdir: Path, progress: Progress) -> tuple[dict[str, Any], dict, types.ModuleType]:
    """Plan, inputs and probe module of a cold job; a failure here is the grader's."""
    plan = json.loads((jobdir / "plan.json").read_text())
    apply_limits(plan["limits"])
    inputs = load_inputs(jobdir / "inputs.bin")
    probes = load_module("_grader_probes", path=jobdir / "runner" / plan["probe_module"])
    missing = sorted({p["call"] for p in plan["probes"]} - set(dir(probes)))
    if missing:
        raise LookupError(f"the probe module has no function(s) {', '.join(missing)}")
    return plan, inputs, probes


def main(argv: list[str]) -> None:
    """Cold entry point: ``<jobdir> <progress fd> <first probe index>``."""
    jobdir, fd, start = Path(argv[0]), int(argv[1]), int(argv[2])
    progress = Progress(fd)
    try:
        plan, inputs, probes = prepare(jobdir, progress)
    except Exception as exc:
        progress.emit(event="fatal", error=f"{type(exc).__name__}: {exc}"[:ERROR_CAP])
        os._exit(3)
    os.chdir(jobdir / "submission")
    run(plan, inputs, probes, jobdir, start, progress)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    os._exit(0)  # skip atexit handlers and finalizers the submission may have planted
