"""Adapters: how the grader asks a student's code its questions.

- :mod:`grader.adapters.binding`      a rubric's ``[adapter]`` table -> :class:`AdapterBinding`
- :mod:`grader.adapters.styles`       each style's layout (canonical <-> the student's)
- :mod:`grader.adapters.child_probes` the child-side probe module (stdlib + numpy only):
  the sandbox loads it as the job's probe module and calls ``<call>(ns, inputs, params)``

A rubric's custom adapter file travels inside the probe module:
:func:`probe_module_source` appends its source to a copy of ``child_probes.py``,
so the sandbox copies one file, as for the built-in styles.
"""

from __future__ import annotations

from pathlib import Path

from grader.adapters.binding import AdapterBinding, BindingError, binding_for

CHILD_PROBES = Path(__file__).with_name("child_probes.py")
MAX_CUSTOM_BYTES = 1 << 20  # an adapter is a page of code; refuse anything resembling a data file


def probe_module_source(binding: AdapterBinding, rubric_dir: Path | None = None) -> str:
    """The child's probe module for ``binding``: ``child_probes.py``, plus the custom file if any.

    rubric_dir : where the rubric (and its ``custom_file``) lives; needed for style "custom"
    """
    source = CHILD_PROBES.read_text(encoding="utf-8")
    if binding.style != "custom":
        return source
    if rubric_dir is None:
        raise BindingError(f"adapter.custom_file {binding.custom_file!r} needs the rubric's folder")
    path = Path(rubric_dir) / binding.custom_file
    if not path.is_file():
        raise BindingError(f"adapter.custom_file {binding.custom_file!r} not found in {rubric_dir}")
    if path.stat().st_size > MAX_CUSTOM_BYTES:
        raise BindingError(f"adapter.custom_file {binding.custom_file!r} is larger than 1 MiB")
    custom = path.read_text(encoding="utf-8")
    compile(custom, binding.custom_file, "exec")  # a syntax error is the rubric's, say so now
    return f"{source}\n\nCUSTOM_SOURCES[{binding.custom_file!r}] = {custom!r}\n"


def write_probe_module(
    binding: AdapterBinding, directory: Path, rubric_dir: Path | None = None
) -> Path:
    """Write :func:`probe_module_source` to ``directory/probes.py`` (for ``sandbox.Job``)."""
    path = Path(directory) / "probes.py"
    path.write_text(probe_module_source(binding, rubric_dir), encoding="utf-8")
    return path


__all__ = [
    "CHILD_PROBES",
    "AdapterBinding",
    "BindingError",
    "binding_for",
    "probe_module_source",
    "write_probe_module",
]
