"""The Gradescope autograder zip: ``grader gradescope --rubric R --out autograder.zip``.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once when
it builds the image, and ``run_autograder`` per submission (their text:
``examples/gradescope/``). The zip holds, at its root, exactly what those two
scripts use::

    setup.sh                       builds /autograder/venv from the wheel (Ubuntu 24.04)
    run_autograder                 grades /autograder/submission into results/results.json
    rubric.toml                    the rubric given (hidden checks included), validated first
    <custom adapter>.py            only for an ``[adapter] style = "custom"`` rubric: its file
    mlp_grader-<version>-*.whl     the grader (grader/ and reference/), built now

Nothing else of the instructor's folders goes in. The wheel is built from the
source tree this grader was loaded from (a checkout: ``pyproject.toml`` beside
``grader/``), copied first to a temporary folder so the build leaves nothing in
the checkout; ``wheel=`` takes a ready-made one instead (``python -m pip wheel
--no-deps -w dist .`` in a checkout). Entries have a fixed date and modes, so
the same inputs give the same zip.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from grader.rubric_file import load_rubric

SCRIPTS = ("setup.sh", "run_autograder")
RUBRIC_NAME = "rubric.toml"  # the name run_autograder and setup.sh read
WHEEL_GLOB = "mlp_grader-*.whl"
# What a wheel is built from (pyproject.toml's packages and its readme).
WHEEL_SOURCES = ("pyproject.toml", "README.md", "grader", "reference")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class AutograderError(Exception):
    """The zip cannot be built (one sentence saying why)."""


def source_tree() -> Path:
    """The checkout this grader was loaded from: the folder holding pyproject.toml and
    examples/gradescope/ beside grader/."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file() or not (root / "examples" / "gradescope").is_dir():
        raise AutograderError(
            f"the grader at {root} is not a source checkout (no pyproject.toml and "
            "examples/gradescope/ beside grader/); run 'grader gradescope' from a clone"
        )
    return root


def build_wheel(source: Path, into: Path) -> Path:
    """Build the grader's wheel from ``source`` into the folder ``into``; returns its path."""
    with tempfile.TemporaryDirectory(prefix="grader-wheel-") as tmp:
        copy = Path(tmp) / "src"
        for name in WHEEL_SOURCES:
            item = source / name
            if item.is_dir():
                shutil.copytree(
                    item, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
            elif item.is_file():
                copy.mkdir(parents=True, exist_ok=True)
                shutil.copy2(item, copy / name)
        # --no-build-isolation: setuptools is already here, so the build needs no network
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        command += ["--quiet", "--wheel-dir", str(into), str(copy)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = " ".join((done.stderr or done.stdout).split())[-300:]
            raise AutograderError(f"building the grader's wheel failed: {tail}")
    built = sorted(into.glob(WHEEL_GLOB))
    if len(built) != 1:
        raise AutograderError(f"building the grader's wheel left {len(built)} wheels in {into}")
    return built[0]


def _add(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    archive.writestr(info, data)


def build_autograder(rubric_path: Path | str, out: Path | str, wheel: Path | None = None) -> Path:
    """Write the autograder zip (module doc) to ``out``; returns ``out``.

    Raises
    ------
    grader.rubric.RubricError
        If the rubric is not valid (checked before anything is built).
    AutograderError
        If the scripts, the custom adapter or the wheel cannot be found or built.
    """
    rubric_path, out = Path(rubric_path), Path(out)
    rubric = load_rubric(rubric_path)
    extras: list[Path] = []
    custom = rubric.adapter.get("custom_file") if rubric.adapter.get("style") == "custom" else None
    if isinstance(custom, str) and custom:
        extras.append(rubric_path.parent / custom)
        if not extras[0].is_file():
            raise AutograderError(
                f"{rubric_path} names the custom adapter {custom}, "
                f"which is not beside it ({extras[0]})"
            )
    source = source_tree()
    scripts = source / "examples" / "gradescope"
    with tempfile.TemporaryDirectory(prefix="grader-autograder-") as tmp:
        if wheel is None:
            wheel = build_wheel(source, Path(tmp))
        elif not Path(wheel).is_file() or not Path(wheel).match(WHEEL_GLOB):
            raise AutograderError(f"{wheel} is not a mlp_grader wheel file")
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        with zipfile.ZipFile(partial, "w") as archive:
            for name in SCRIPTS:
                _add(archive, name, (scripts / name).read_bytes(), executable=True)
            _add(archive, RUBRIC_NAME, rubric_path.read_bytes())
            for extra in extras:
                _add(archive, extra.name, extra.read_bytes())
            _add(archive, Path(wheel).name, Path(wheel).read_bytes())
        partial.replace(out)
    return out
