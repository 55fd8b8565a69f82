"""Write this folder's notebook samples from their percent-format sources in ``src/``.

    python submissions/conventions/make_notebooks.py

The conversion is ``submissions/build.py``'s (``build_notebook``: nbformat, cells
without outputs, stable cell ids), so a rebuild with unchanged sources changes
nothing. The ``.py`` samples here are plain modules and need no build.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOKS = (
    "course_mean",
    "course_folded_mean",
    "course_cross_entropy_eps",
    "course_printed_all_weights",
    "course_printed_full_C",
    "course_l2",
)


def _build_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("submissions_build", HERE.parent / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    build = _build_module()
    for name in NOTEBOOKS:
        dest = HERE / f"{name}.ipynb"
        build.build_notebook(HERE / "src" / f"{name}.py", dest)
        print(f"wrote {dest.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
