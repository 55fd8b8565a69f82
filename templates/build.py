"""Build the student template notebook from its plain-text source.

    python templates/build.py

``mlp_backprop_template.py`` is written in the same "percent" format as the
sample submissions (``submissions/src/``), and is turned into a notebook by the
same code (``submissions/build.py``), so the two can never disagree on what a
cell is. The notebook has stable cell ids and no outputs: rebuilding an
unchanged source rewrites the same bytes (commit the ``.ipynb``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
SOURCES = ("mlp_backprop_template",)


def _sample_builder() -> ModuleType:
    """``submissions/build.py`` as a module (it is a script, not part of a package)."""
    path = HERE.parent / "submissions" / "build.py"
    spec = importlib.util.spec_from_file_location("_submissions_build", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_notebook(src: Path, dest: Path) -> Path:
    """Write the notebook of the percent-format source ``src`` to ``dest``; returns ``dest``."""
    _sample_builder().build_notebook(src, dest)
    return dest


def build(out_dir: Path = HERE) -> list[Path]:
    """Write ``<name>.ipynb`` into ``out_dir`` for each source; returns the notebooks written."""
    return [build_notebook(HERE / f"{name}.py", out_dir / f"{name}.ipynb") for name in SOURCES]


if __name__ == "__main__":
    for path in build():
        print(f"wrote {path.relative_to(HERE.parent)}")
