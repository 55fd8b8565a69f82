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
4. the child's probe module, the part of the grader that grading from a kit needs
   (never this module, the plan, the probes' reference side or the expectations:
   see :data:`INSTRUCTOR_ONLY`; nor any module that imports ``reference``), a README
   and a ``check.py`` launcher complete it; a subprocess with ``reference`` blocked
   then checks that the kit's grader imports.

The student side is :mod:`grader.kit_check`, which defines the format.
"""

from __future__ import annotations

import ast
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
from grader.grade import job_plan, reference_expectations
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
from grader.rubric import Rubric, load_rubric, parse_rubric, plain

Array = np.ndarray

# Modules of the grader that compute with the reference (or build kits): never in a kit.
INSTRUCTOR_ONLY = (
    "grade.py",
    "plan.py",
    "probes.py",
    "expectations.py",
    "kit.py",
    "adapters/conventions.py",
)
VENDORED_SUFFIXES = (".py", ".j2", ".css", ".json")  # the package's code and package data
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


def _imports_reference(source: str) -> bool:
    """Whether a module imports ``reference`` when it is imported (not in a function,
    not under ``if TYPE_CHECKING``)."""

    def walk(body: list[ast.stmt]) -> bool:
        for node in body:
            if isinstance(node, ast.Import) and any(
                a.name.split(".")[0] == "reference" for a in node.names
            ):
                return True
            if (
                isinstance(node, ast.ImportFrom)
                and (node.module or "").split(".")[0] == "reference"
            ):
                return True
            if isinstance(node, ast.If):
                if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                    if walk(node.orelse):
                        return True
                    continue
                if walk(node.body) or walk(node.orelse):
                    return True
            if isinstance(node, ast.Try) and (
                walk(node.body)
                or walk(node.orelse)
                or walk(node.finalbody)
                or any(walk(h.body) for h in node.handlers)
            ):
                return True
        return False

    return walk(ast.parse(source).body)


def vendored_files() -> dict[str, bytes]:
    """Relative path -> bytes of the grader package as a kit ships it.

    Left out: :data:`INSTRUCTOR_ONLY`, and any other module that imports ``reference``
    when it is imported (it could not load on the student's machine; a module the kit
    needs that does so makes :func:`check_imports` fail).
    """
    src = Path(grader.__file__).resolve().parent
    out: dict[str, bytes] = {}
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src).as_posix()
        if (
            not path.is_file()
            or "__pycache__" in path.parts
            or path.suffix not in VENDORED_SUFFIXES
            or rel in INSTRUCTOR_ONLY
        ):
            continue
        data = path.read_bytes()
        if path.suffix == ".py" and _imports_reference(data.decode("utf-8")):
            continue
        out[f"{VENDOR_DIR}/{rel}"] = data
    return out


# What `python check.py` imports: the command line, the kit's engine, the reports.
_KIT_IMPORTS = ("grader.cli", "grader.kit_check", "grader.report")
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
        [sys.executable, "-B", "-c", _IMPORT_CHECK, str(kit_dir), *_KIT_IMPORTS],
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

(or `python -m grader check path/to/your_notebook.ipynb --kit .`). Add
`--html report.html` for a report with pictures. The exit status is 0 only when
every public check passes.

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


_LAUNCHER_SOURCE = '''"""Check your submission with this kit: python check.py YOUR_NOTEBOOK.ipynb [--html OUT.html]"""

import sys
from pathlib import Path

KIT = Path(__file__).resolve().parent
sys.path.insert(0, str(KIT))  # this kit's own grader, before any other installed one

from grader.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["check", *sys.argv[1:], "--kit", str(KIT)]))
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
    job = job_plan(plan)
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


__all__ = ["INSTRUCTOR_ONLY", "build_kit", "public_rubric_toml", "vendored_files"]
