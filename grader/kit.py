"""The student kit, instructor side: ``grader kit --rubric R --out DIR``.

    build_kit("rubrics/mlp_backprop.toml", "mlp-kit/")

A kit lets a student run the public checks offline and get the instructor's
verdicts on them, with no reference code and nothing of the hidden checks:

1. the public rubric is written as TOML from the validated rubric (hidden checks,
   their ids, parameters and feedback are not in the file; objectives only
   hidden checks assess are left out; prerequisites on hidden checks dropped, as
   :meth:`grader.rubric.Rubric.public` does), then validated again;
2. its plan is built and every expected value, candidate and penalty gradient
   computed with the reference, here, now (``expectations.npz``, numeric only);
3. the plan, the output contracts and the candidates' documentation go into
   ``kit.json`` with the versions and each file's sha256;
4. the child's probe module, the grader's modules that the kit's entry point
   (:data:`KIT_ENTRY`, :mod:`grader.self_check`) imports, found statically
   (:func:`vendored_modules`: its import closure, lazy imports included), with their
   package data, a README and a ``check.py`` launcher complete it; a subprocess with
   ``reference`` blocked then checks that the kit's grader imports. The closure is the
   boundary: a module that computes with the reference is in no kit unless the entry
   point comes to import it, which :func:`vendored_modules` refuses.

The student side is :mod:`grader.kit_check`, which defines the format.
"""

from __future__ import annotations

import io
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

import grader
import reference
from grader import kit_check
from grader.adapters import probe_module_source
from grader.adapters.binding import AdapterBinding
from grader.import_graph import ImportGraph
from grader.kit_check import (
    EXPECTATIONS,
    FORMAT,
    MANIFEST,
    PROBE_MODULE,
    RUBRIC,
    KitError,
    input_key,
    manifest_probe,
    probe_arrays,
    sha256_file,
)
from grader.plan import make_plan
from grader.reference_oracle import reference_expectations
from grader.rubric import Rubric, plain
from grader.rubric_file import load_rubric, parse_rubric

Array = np.ndarray

KIT_ENTRY = "grader.self_check"  # what the kit's check.py runs: the kit ships its import closure
# Packages the sandbox copies into its child as files (grader.sandbox.process.runner_files),
# not imported by the parent: shipped whole when the closure holds them.
RUN_AS_FILES = ("grader.sandbox.child",)
PACKAGE_DATA = (".j2", ".css", ".json")  # read by the closure's modules beside their code
VENDOR_DIR = "grader"
LAUNCHER = "check.py"
README = "README.md"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so a rebuild from the same rubric gives the same bytes


# ---------------------------------------------------------------------------
# The public rubric as TOML


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(k: str) -> str:
    return k if _BARE_KEY.fullmatch(k) else _string(k)


def _string(s: str) -> str:
    # JSON's escapes are TOML's; DEL is a control character TOML wants escaped too
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(v: Any) -> str:
    """One TOML value (tables inside arrays are written inline)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_key(str(k))} = {_value(x)}" for k, x in v.items()) + " }"
    raise KitError(f"the rubric holds a value the kit cannot write: {v!r}")


def _table(header: str, table: Mapping[str, Any], lines: list[str]) -> None:
    """``[header]`` (or ``[[header]]`` when it starts with '['), its values, then its sub-tables."""
    lines.append("")
    lines.append(f"[{header}]")  # "[objectives]" gives "[[objectives]]", an array's next table
    path = header.strip("[]")
    subtables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    for k, v in table.items():
        if k not in subtables:
            lines.append(f"{_key(str(k))} = {_value(v)}")
    for k, v in subtables.items():
        _table(f"{path}.{_key(str(k))}", v, lines)


def public_rubric_toml(raw: Mapping[str, Any], rubric: Rubric) -> str:
    """The public part of a validated rubric as TOML text.

    raw    : the rubric file as tomllib read it (for the sections as written)
    rubric : the same file validated (visibility, and parameters in their checked form)
    """
    public = rubric.public()
    ids = {c.id for c in public.checks}
    assessed = {c.objective for c in public.checks}
    lines = [
        f"# The public checks of {rubric.assignment.title!r}: the rubric of a student kit,",
        "# written by 'grader kit'. Checked with: python check.py YOUR_SUBMISSION",
    ]
    _table("assignment", raw["assignment"], lines)
    if raw.get("adapter"):
        _table("adapter", raw["adapter"], lines)
    for o in raw["objectives"]:
        if o["id"] in assessed:
            _table("[objectives]", o, lines)
    for t in raw["checks"]:
        if t["id"] not in ids:
            continue
        spec = public.check(t["id"])
        check = dict(t)
        check.pop("visibility", None)  # public is the default
        if "requires" in check:
            check["requires"] = list(spec.requires)
        if "params" in check:
            check["params"] = plain(spec.params)
        _table("[checks]", check, lines)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# The vendored grader


def vendored_modules() -> frozenset[str]:
    """The grader's modules a kit ships: the import closure of :data:`KIT_ENTRY`.

    KitError when a module of the closure imports ``reference`` (it would not load on
    the student's machine, and would put the reference's code in the kit).
    """
    graph = ImportGraph.of_package(Path(grader.__file__).resolve().parent)
    closure = graph.closure([KIT_ENTRY])
    leaks = sorted(closure & graph.importers_of("reference"))
    if leaks:
        raise KitError(
            f"the kit's entry point {KIT_ENTRY} imports the reference through {leaks[0]}"
        )
    return closure | {m for m in graph.files if m.startswith(RUN_AS_FILES)}


def vendored_files() -> dict[str, bytes]:
    """Relative path -> bytes of the grader package as a kit ships it: the modules of
    :func:`vendored_modules`, and the data files in their packages' folders."""
    src = Path(grader.__file__).resolve().parent
    modules = vendored_modules()
    graph = ImportGraph.of_package(src)
    packages = {
        src.parent.joinpath(*m.split(".")) for m in modules if graph.files[m].name == "__init__.py"
    }
    out: dict[str, bytes] = {}
    for name in sorted(modules):
        path = graph.files[name]
        out[f"{VENDOR_DIR}/{path.relative_to(src).as_posix()}"] = path.read_bytes()
    for path in sorted(src.rglob("*")):
        if path.is_file() and path.suffix in PACKAGE_DATA and "__pycache__" not in path.parts:
            owner = next((d for d in path.parents if (d / "__init__.py").is_file()), src)
            if owner in packages:
                out[f"{VENDOR_DIR}/{path.relative_to(src).as_posix()}"] = path.read_bytes()
    return out


_IMPORT_CHECK = """
import sys
sys.modules["reference"] = None  # as on a student's machine
sys.path.insert(0, sys.argv[1])
import importlib
for name in sys.argv[2:]:
    importlib.import_module(name)
import grader
print(grader.__file__)
"""


def check_imports(kit_dir: Path) -> None:
    """KitError unless the kit's grader imports with ``reference`` blocked (a subprocess)."""
    done = subprocess.run(
        [sys.executable, "-B", "-c", _IMPORT_CHECK, str(kit_dir), KIT_ENTRY],
        cwd=kit_dir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stderr.strip().splitlines()
    if done.returncode != 0:
        raise KitError(
            f"the kit's grader does not import without reference ({lines[-1] if lines else done.returncode})"
        )
    if not Path(done.stdout.strip()).resolve().is_relative_to(kit_dir.resolve()):
        raise KitError(f"the kit's check imported another grader ({done.stdout.strip()})")


# ---------------------------------------------------------------------------
# Writing


def _write_npz(path: Path, arrays: Mapping[str, Array]) -> None:
    """Numeric arrays only, sorted names, fixed timestamps (``np.load(allow_pickle=False)``)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(arrays):
            a = np.asarray(arrays[name])  # not ascontiguousarray: it makes a 0-d array 1-d
            if a.dtype.kind not in "biuf":
                raise KitError(f"array {name!r} has dtype {a.dtype}; a kit holds numbers only")
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, a, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, buffer.getvalue())


def _readme(rubric: Rubric) -> str:
    pipe = "\\|"  # a title's own '|' must not end its table cell
    checks = "\n".join(f"| {c.title.replace('|', pipe)} | {c.points:g} |" for c in rubric.checks)
    return f"""# Self-check kit: {rubric.assignment.title}

Run the assignment's public checks on your own machine, before you hand in.
From this folder:

    python {LAUNCHER} path/to/your_notebook.ipynb

Add
`--html report.html` for a report with pictures. The exit status is 0 only when
every public check passes.

Or from a cell of your notebook (the path is this kit's folder, relative to your
notebook's, e.g. `"mlp-kit"`):

    import sys; sys.path.insert(0, "PATH/TO/THIS/KIT")
    from check import check
    check()

It checks the notebook as last **saved**: save it first (Ctrl-S / Cmd-S). Pass
the notebook's path, `check("lab3.ipynb")`, when it cannot tell which one you
are working in.

Each check runs your code on a small problem and compares what it returns with
the expected values shipped in `{EXPECTATIONS}`. When a check fails, the report
shows the evidence (which arrays differ, and how) and a next step; when your
output matches a known mistake, it names it.

| public check | points |
|---|---|
{checks}

Your code runs in a separate, restricted Python process. It needs Python 3.11 or
later with numpy, nbformat and jinja2 installed, plus whatever your notebook
imports. Nothing is sent anywhere. The instructor's grading runs the same
checks the same way, on other problems of the same sizes (code that passes here
passes there, and the expected values here are no use there); it may include
further checks.

Do not edit the files of this folder: `{MANIFEST}` records their checksums.
"""


_LAUNCHER_SOURCE = '''"""Check your submission with this kit.

In a terminal:     python check.py YOUR_NOTEBOOK.ipynb [--html OUT.html]
In your notebook:  import sys; sys.path.insert(0, "PATH/TO/THIS/KIT")
                   from check import check; check()
"""

import sys
from pathlib import Path

KIT = Path(__file__).resolve().parent
if str(KIT) not in sys.path:
    sys.path.insert(0, str(KIT))  # this kit's own grader, before any other installed one

from grader import self_check  # noqa: E402


def check(notebook=None, html=True):
    """Grade your notebook (as last saved) with this kit's public checks; show the report.

    notebook: its path (default: the notebook this kernel runs, else the only one here)
    html: show the report as HTML (else as text)
    """
    return self_check.check(notebook, KIT, html)


if __name__ == "__main__":
    raise SystemExit(self_check.main(sys.argv[1:], KIT))
'''


def _kit_files(
    rubric_path: Path, rubric: Rubric
) -> tuple[dict[str, bytes], dict[str, Array], dict[str, Any]]:
    """The kit's text files, its arrays, and its manifest (without file hashes)."""
    raw = tomllib.loads(rubric_path.read_text(encoding="utf-8"))
    toml = public_rubric_toml(raw, rubric)
    public = parse_rubric(toml.encode(), rubric_path.name)  # fully validated again
    if public.checks != rubric.public().checks:
        raise KitError(f"the public rubric written from {rubric_path} does not read back the same")
    binding = AdapterBinding.from_table(public.adapter)
    plan = make_plan(public, binding)
    exp = reference_expectations(plan)  # every candidate: the student's answer is not known yet
    job = plan.job
    arrays = {input_key(k): np.asarray(v) for k, v in job.inputs.items()}
    probes = []
    for p in job.probes:
        first = p.checks[0]  # the checks of one probe share its values
        expected, cands = exp.expected[first], exp.candidates[first]
        pen = exp.penalties.get(first)
        probes.append(manifest_probe(p, expected, cands, pen))
        arrays |= probe_arrays(p.call.id, expected, cands, pen)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "grader": grader.__version__,
        "reference": reference.__version__,
        "assignment": {"id": public.assignment.id, "title": public.assignment.title},
        "rubric": {"source": rubric_path.name, "source_hash": rubric.content_hash},
        "probes": probes,
        "probe_of": dict(job.probe_of),
        "problems": dict(job.problems),
        # how many points the instructor's grading adds (no hidden check's id or content)
        "hidden_points": sum(c.points for c in rubric.checks if c.visibility == "hidden"),
    }
    files = {
        RUBRIC: toml.encode(),
        PROBE_MODULE: probe_module_source(binding, rubric_path.parent).encode(),
        README: _readme(public).encode(),
        LAUNCHER: _LAUNCHER_SOURCE.encode(),
        **vendored_files(),
    }
    return files, arrays, manifest


def _replaceable(out: Path) -> None:
    """KitError unless ``out`` is absent, empty, or a kit (which a rebuild replaces)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise KitError(f"{out} exists and is not a folder")
    if any(out.iterdir()) and not kit_check.is_kit(out):
        raise KitError(f"{out} is not empty and holds no kit: choose a new folder for the kit")


def build_kit(rubric_path: Path | str, out_dir: Path | str) -> Path:
    """Write the student kit of ``rubric_path``'s public checks into ``out_dir``; its path.

    ``out_dir`` must be absent, empty or an earlier kit (replaced as a whole).
    """
    rubric_path, out = Path(rubric_path), Path(out_dir)
    rubric = load_rubric(rubric_path)
    _replaceable(out)
    files, arrays, manifest = _kit_files(rubric_path, rubric)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for rel, data in files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        _write_npz(tmp / EXPECTATIONS, arrays)
        manifest["files"] = {name: sha256_file(tmp / name) for name in kit_check.HASHED}
        text = json.dumps(manifest, indent=1, ensure_ascii=False, allow_nan=False)
        (tmp / MANIFEST).write_text(text + "\n", encoding="utf-8")
        check_imports(tmp)
        tmp.chmod(0o755)  # mkdtemp's folder is private; a kit is handed out
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


__all__ = ["KIT_ENTRY", "build_kit", "public_rubric_toml", "vendored_files", "vendored_modules"]
