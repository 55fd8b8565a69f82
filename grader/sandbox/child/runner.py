"""The runner: executes the submission, then answers each probe, inside the sandbox.

One process, driven by the supervisor's commands (frames on a pipe, in order):

1. apply the resource limits to itself and load the probe module (the grader's adapter);
2. announce ``begin`` on the progress fd;
3. ``baseline`` (first child of a job with a timed probe): the timing baseline on
   arrays of the timed probe's shapes (made here: their values do not change the
   cost), before any code of the student's has run;
4. ``setup``: execute ``submission/submission.py`` into a fresh module, answer with
   an inventory of the names it defines;
5. ``probe``: one probe call with its own inputs, sent only when it starts:
   ``fn(namespace, inputs, params) -> {name: ndarray}``, answered as .npz bytes
   (numeric arrays only, never pickled) on the progress fd.

Every answer is a JSON line on the progress fd (``{"event": "answer", "index": ...,
"bytes": n, ...}``) followed by ``n`` bytes of .npz. The supervisor treats each one
as a claim from untrusted code (the student's code runs in this process and can
write to the same fd): it times every step on its own clock, from sending the
command to receiving the answer, and judges the bytes only after the child is gone.

Cold use: ``python -s -P -B launch.py run <jobdir> <progress fd> <command fd>``.
The warm worker calls :func:`run` in a forked child instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import io
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

from . import arrays, wire
from .proctree import PR_SET_NO_NEW_PRIVS, prctl

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
NUMERIC_KINDS = "biuf"  # bool, int, uint, float: complex, object, str, structured never cross
ERROR_CAP, TRACEBACK_CAP, EVENT_CAP = 2000, 6000, 60000
INVENTORY_CAP = 4000  # names per module or class the inventory lists
INVENTORY_BYTES = 48000  # the inventory's JSON: the setup answer's line stays under EVENT_CAP
SIGNATURE_CLASSES = 24  # classes whose methods' signatures the inventory describes
SIGNATURE_METHODS = 48  # methods per class, parameters per signature, attribute names per class


class Progress:
    """JSON lines on the progress fd; silent if the student has closed or replaced it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def emit(self, **event: Any) -> None:
        line = json.dumps(event)[:EVENT_CAP].encode() + b"\n"
        with contextlib.suppress(OSError):
            os.write(self.fd, line)

    def write(self, data: bytes) -> None:
        """Raw bytes (an answer's outputs), all of them."""
        with contextlib.suppress(OSError):
            wire.write_all(self.fd, data)


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


def precompile_file(name: str, path: str) -> str:
    """:func:`precompile` a module the worker was started with, from its shipped bytecode
    where that matches the file (the import system checks the hash), else from source.
    Returns the source's digest (hex), which the parent then need not send again."""
    source = Path(path).read_bytes()
    code = importlib.machinery.SourceFileLoader(name, path).get_code(name)
    if code is None:
        raise ImportError(f"{path}: no code")
    digest = _digest(source)
    COMPILED[digest] = code
    return digest.hex()


def _digest(source: bytes) -> bytes:
    return hashlib.sha256(source).digest()


def load_inputs(data: bytes) -> dict[str, np.ndarray]:
    """The input arrays of one step (the parent's :func:`arrays.pack` buffer)."""
    return arrays.unpack(data)


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


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """``arrays`` as the bytes of an uncompressed .npz (allow_pickle=False)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, a in arrays.items():
            with zf.open(key + ".npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, a, allow_pickle=False)
    return buffer.getvalue()


def inventory(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """What the submission defines, as data: ``{"names": {name: kind}, "classes": {cls:
    {attr: kind}}, "api": ...}`` (:func:`api`, when it fits in what room is left).

    kind is "class", "function" (anything callable) or "other". Taken right after
    setup; the parent decides "not assessed" from it and the binding (the parent's
    rule, never the child's exception), so a lie here can only hide a name, which
    is what deleting it would do. The submission's own classes are listed first; a
    class whose attributes do not fit in :data:`INVENTORY_BYTES` is left out of
    ``classes`` (the parent then assumes it has every attribute).
    """
    names: dict[str, str] = {}
    found: list[tuple[str, type]] = []
    for name, value in list(namespace.items())[:INVENTORY_CAP]:
        if not isinstance(name, str) or not NAME.fullmatch(name):
            continue
        if isinstance(value, type):
            names[name] = "class"
            found.append((name, value))
        else:
            names[name] = "function" if callable(value) else "other"
    # the keys and separators of the whole answer need room too
    room = INVENTORY_BYTES - len(json.dumps(names)) - 256
    classes: dict[str, dict[str, str]] = {}
    found.sort(key=lambda item: getattr(item[1], "__module__", "") != "submission")
    for name, cls in found:
        attrs = {
            attr: "function" if callable(getattr(cls, attr, None)) else "other"
            for attr in dir(cls)[:INVENTORY_CAP]
            if NAME.fullmatch(attr) and not attr.startswith("__")
        }
        size = len(json.dumps({name: attrs}))
        if size <= room:
            classes[name] = attrs
            room -= size
    found_names: dict[str, Any] = {"names": names, "classes": classes}
    # how each class and function takes its arguments (grader.adapters.discover binds by it,
    # grader.adapters.support checks a binding's calls against it), in the room left
    shapes = api(namespace, [name for name, cls in found if name in classes])
    if len(json.dumps(shapes)) <= room:
        found_names["api"] = shapes
    return found_names


def _plain_default(value: Any) -> Any:
    """A default the parent may read (a plain number, string, bool or None), else a marker."""
    if value is None or isinstance(value, bool | int | float):
        return value if not isinstance(value, float) or np.isfinite(value) else "<other>"
    if isinstance(value, str) and len(value) <= 40:
        return value
    return "<other>"


_VARARGS, _VARKEYWORDS = 0x04, 0x08  # CO_VARARGS, CO_VARKEYWORDS (inspect's flags)


def signature(fn: Any) -> list[list[Any]] | None:
    """``[[name, kind, default], ...]`` of a function's parameters, as Python binds a call to
    this very function: read from its code object and defaults, not ``inspect.signature``
    (which a function answers with any ``__signature__`` it sets, and which follows a
    decorator to what it wraps). Anything else carrying a ``__code__`` is read the same
    way (what it claims: :func:`api` marks it). None when there is none to read in full
    (no code, more than :data:`SIGNATURE_METHODS` parameters, a name the inventory does
    not carry). kind is inspect's (``POSITIONAL_OR_KEYWORD``, ...); default is
    ``"<none>"`` for a required one."""
    if isinstance(fn, staticmethod | classmethod):
        fn = fn.__func__
    code = getattr(fn, "__code__", None)
    if not isinstance(code, types.CodeType):
        return None  # a builtin, a callable instance: nothing the parent can bind by name
    n_args, n_kw, n_posonly = code.co_argcount, code.co_kwonlyargcount, code.co_posonlyargcount
    names = list(code.co_varnames[: n_args + n_kw])
    defaults = getattr(fn, "__defaults__", None)
    defaults = defaults if isinstance(defaults, tuple) else ()
    kw_defaults = getattr(fn, "__kwdefaults__", None)
    kw_defaults = kw_defaults if isinstance(kw_defaults, dict) else {}
    first_default = max(n_args - len(defaults), 0)
    out: list[list[Any]] = []
    for i, name in enumerate(names[:n_args]):
        kind = "POSITIONAL_ONLY" if i < n_posonly else "POSITIONAL_OR_KEYWORD"
        has = i >= first_default
        out.append([name, kind, _plain_default(defaults[i - first_default]) if has else "<none>"])
    extra = n_args + n_kw
    if code.co_flags & _VARARGS:
        out.append([code.co_varnames[extra], "VAR_POSITIONAL", "<none>"])
        extra += 1
    for name in names[n_args:]:
        out.append(
            [
                name,
                "KEYWORD_ONLY",
                _plain_default(kw_defaults[name]) if name in kw_defaults else "<none>",
            ]
        )
    if code.co_flags & _VARKEYWORDS:
        out.append([code.co_varnames[extra], "VAR_KEYWORD", "<none>"])
    if len(out) > SIGNATURE_METHODS or not all(NAME.fullmatch(str(p[0])) for p in out):
        return None  # a partial listing would make the parent refuse a call that fits
    return out


def _bound(sig: list[list[Any]]) -> list[list[Any]]:
    """A method's signature without the parameter its instance (or class) fills."""
    positional = bool(sig) and sig[0][1] in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")
    return sig[1:] if positional else sig


def init_chain(cls: type) -> tuple[list[list[Any]], bool]:
    """The parameters ``cls(...)`` takes, and whether they are known in full.

    The ``__init__`` along the MRO, most derived first, and each base's that a ``**kwds``
    hands keywords on to (the course's classes pass theirs to ``super().__init__``); a
    parameter a more derived ``__init__`` names is settled there. Known in full when the
    chain ends at an ``__init__`` without ``**kwds``, or at ``object``'s (which takes
    none); not when it reaches one it cannot read (a C type's) or is too long to list.
    """
    params: list[list[Any]] = []
    for klass in getattr(cls, "__mro__", (cls,)):
        init = vars(klass).get("__init__")
        if init is None:
            continue
        if klass is object:
            return params, True
        sig = signature(init)
        if sig is None:
            return params, False
        params += [p for p in _bound(sig) if p[0] not in {q[0] for q in params}]
        if len(params) > SIGNATURE_METHODS:
            return params[:SIGNATURE_METHODS], False
        if not any(p[1] == "VAR_KEYWORD" for p in sig):
            return params, True
    return params, False


def returned_sizes(code: types.CodeType) -> list[int]:
    """How many values each ``return a, b, ...`` of ``code`` returns, read from its bytecode
    (a ``BUILD_TUPLE n`` right before ``RETURN_VALUE``); 1 for any other return. Nothing is
    called: the parent learns that the 4th edition's forward returns (a_h, a_out)."""
    import dis

    sizes: set[int] = set()
    previous = None
    try:
        for ins in dis.get_instructions(code):
            if ins.opname == "RETURN_VALUE":
                built = previous is not None and previous.opname == "BUILD_TUPLE"
                sizes.add(int(previous.arg or 0) if built and previous is not None else 1)
            elif ins.opname == "RETURN_CONST":
                sizes.add(1)
            previous = ins
    except Exception:  # a code object the disassembler cannot read
        return []
    return sorted(sizes)[:8]


def api(namespace: Mapping[str, Any], class_names: list[str]) -> dict[str, Any]:
    """The submission's classes and functions as the parent binds and calls them (plain JSON).

    Per class (its own first, at most :data:`SIGNATURE_CLASSES`): ``bases`` (the MRO's
    names), ``methods`` (name -> :func:`signature` without ``self``, the most derived
    definition along the MRO; ``claimed``: those that are not plain functions, whose
    ``__code__`` is only what they claim), ``init`` and ``init_complete`` (:func:`init_chain`: the
    keywords of every ``__init__`` a ``**kwds`` reaches, and whether that is all of
    them), ``attributes`` (the ``self.`` names its methods' code mentions: what a fit
    may leave behind) and ``returns`` (method name -> the tuple sizes its ``return``
    statements build, :func:`returned_sizes`). Per top-level function its signature.
    Introspection only (code objects, defaults, the bytecode): nothing of
    the submission is called. The parent trusts none of it: discovery binds by it
    (grader.adapters.discover) and the parent's replay checks a binding's calls against
    it (grader.adapters.support), and the student's answers have the last word.
    """
    classes: dict[str, Any] = {}
    for name in class_names[:SIGNATURE_CLASSES]:
        cls = namespace[name]
        methods: dict[str, Any] = {}
        returns: dict[str, list[int]] = {}
        attributes: set[str] = set()
        defined: set[str] = set()  # a name a more derived class defines hides a base's
        claimed: list[str] = []
        for klass in getattr(cls, "__mro__", (cls,))[:-1]:
            items = list(vars(klass).items())
            for attr, value in items[:SIGNATURE_METHODS]:
                fn = value.__func__ if isinstance(value, staticmethod | classmethod) else value
                code = getattr(fn, "__code__", None)
                if code is None:
                    continue
                attributes.update(n for n in code.co_names if NAME.fullmatch(n))
                if attr == "__init__" or attr in defined or not NAME.fullmatch(attr):
                    continue
                sig = signature(fn)
                if sig is None:
                    continue
                methods[attr] = sig if isinstance(value, staticmethod) else _bound(sig)
                if not isinstance(fn, types.FunctionType):
                    claimed.append(attr)  # a descriptor's or callable's __code__: its claim
                sizes = returned_sizes(code) if isinstance(code, types.CodeType) else []
                if sizes and sizes != [1]:  # only tuples: the report's room is shared
                    returns[attr] = sizes
            defined.update(str(attr) for attr, _ in items)
        init, complete = init_chain(cls)
        classes[name] = {
            "bases": [k.__name__ for k in getattr(cls, "__mro__", ())[:SIGNATURE_METHODS]],
            "methods": dict(list(methods.items())[:SIGNATURE_METHODS]),
            "claimed": claimed[:SIGNATURE_METHODS],
            "init": init,
            "init_complete": complete,
            "attributes": sorted(attributes)[: SIGNATURE_METHODS * 4],
            "returns": dict(list(returns.items())[:SIGNATURE_METHODS]),
        }
    functions = {}
    for name, value in list(namespace.items())[:INVENTORY_CAP]:
        if isinstance(name, str) and NAME.fullmatch(name) and not isinstance(value, type):
            sig = signature(value) if callable(value) else None
            if sig is not None and getattr(value, "__module__", "") == "submission":
                functions[name] = sig
    return {"classes": classes, "functions": dict(list(functions.items())[:SIGNATURE_METHODS])}


def answer(progress: Progress, outputs: Mapping[str, np.ndarray] | None, **event: Any) -> None:
    """One answer on the progress fd: a JSON line, then the outputs' .npz bytes if any."""
    data = b"" if outputs is None else npz_bytes(outputs)
    for stream in (sys.stdout, sys.stderr):  # what was printed belongs to this step
        with contextlib.suppress(BaseException):
            stream.flush()
    progress.emit(event="answer", bytes=len(data), **event)
    progress.write(data)


def run(probes: types.ModuleType, commands: int, jobdir: Path, progress: Progress) -> None:
    """Answer the supervisor's commands until it closes the command pipe.

    Commands are frames on ``commands`` (grader/sandbox/child/wire.py): ``baseline``
    (the timing baseline, before any student code runs), ``setup`` (execute the
    submission), ``probe`` (one probe with its inputs). A probe's inputs reach this
    process only when the supervisor starts that probe, so nothing the submission
    does at load can see them.
    """
    subdir = str(jobdir / "submission")
    for stream in (sys.stdout, sys.stderr):
        # line-buffered: what was printed before a hang still reaches the report
        stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    progress.emit(event="begin")
    module: types.ModuleType | None = None
    while True:
        try:
            os.set_blocking(commands, True)  # whatever the submission did to it
            header, blobs = wire.read_frame(commands, max_header=1 << 22, max_blobs=1 << 31)
        except (wire.WireError, OSError):
            return  # the supervisor is done with this child
        kind, index = header.get("do"), header.get("index")
        if kind == "baseline":  # grader code only: no student code has run in this process
            try:
                shapes = {str(n): tuple(map(int, s)) for n, s in header["shapes"].items()}
                given = {n: np.full(shape, 0.5) for n, shape in shapes.items()}
                done = probes.baseline(given, dict(header["params"]))
                answer(progress, numeric_outputs(done), index=f"baseline:{index}", status="ok")
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:ERROR_CAP]
                answer(progress, None, index=f"baseline:{index}", status="error", error=error)
        elif kind == "setup":
            module = _setup(subdir, progress)
            if module is None:
                return
        elif kind == "probe" and module is not None:
            _probe(probes, module, header["probe"], load_inputs(blobs[0]), index, subdir, progress)
        else:
            return


def _setup(subdir: str, progress: Progress) -> types.ModuleType | None:
    """Execute the submission into a fresh module; answer with its inventory."""
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
        answer(progress, None, index="setup", status=status, error=error, traceback=tb)
        return None
    try:
        names = inventory(module.__dict__)
        if len(json.dumps(names)) > INVENTORY_BYTES:  # too many names: the parent knows nothing
            names = {}
    except BaseException:  # a class whose attributes raise: the parent then knows nothing
        names = {}
    answer(progress, None, index="setup", status="ok", inventory=names)
    return module


def _probe(
    probes: types.ModuleType,
    module: types.ModuleType,
    probe: Mapping[str, Any],
    inputs: dict[str, np.ndarray],
    index: object,
    subdir: str,
    progress: Progress,
) -> None:
    try:
        fn = getattr(probes, probe["call"])
        arrays = numeric_outputs(fn(module.__dict__, inputs, dict(probe["params"])))
    except BaseException as exc:
        error, tb = describe(exc, subdir)
        if isinstance(exc, SystemExit):
            error += " (the submission called sys.exit)"
        status = "killed" if isinstance(exc, SystemExit) else "error"
        answer(progress, None, index=index, status=status, error=error, traceback=tb)
        return
    answer(progress, arrays, index=index, status="ok")


def cold_probe_module(jobdir: Path) -> types.ModuleType:
    """The probe module of a cold job, after the rlimits; a failure here is the grader's."""
    plan = json.loads((jobdir / "plan.json").read_text())
    apply_limits(plan["limits"])
    probes = load_module("_grader_probes", path=jobdir / "runner" / plan["probe_module"])
    missing = sorted(set(plan["calls"]) - set(dir(probes)))
    if missing:
        raise LookupError(f"the probe module has no function(s) {', '.join(missing)}")
    return probes


def main(argv: list[str]) -> None:
    """Cold entry point: ``<jobdir> <progress fd> <command fd>``."""
    jobdir, fd, commands = Path(argv[0]), int(argv[1]), int(argv[2])
    progress = Progress(fd)
    try:
        probes = cold_probe_module(jobdir)
    except Exception as exc:
        progress.emit(event="fatal", error=f"{type(exc).__name__}: {exc}"[:ERROR_CAP])
        os._exit(3)
    os.chdir(jobdir / "submission")
    run(probes, commands, jobdir, progress)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    os._exit(0)  # skip atexit handlers and finalizers the submission may have planted
