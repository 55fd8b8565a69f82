"""The code cells of a plain nbformat-4 notebook, read without nbformat.

Importing nbformat (jsonschema with it) and compiling its schema validator costs a
fresh process ~0.15 s, as much as importing numpy: most of what a cold ``grader
grade-one`` spends on its own before grading. Almost every notebook a student hands
in is the plain case: nbformat 4, minor 0-5, cells with the keys and types the v4
schema gives them, cell ids as the minor version wants them. :func:`plain_code_cells`
checks that shape (the schema's structure: required and allowed keys, types, output
types, mime bundles, cell ids; not the free-form metadata's inner fields beyond
their declared types) and returns each cell's type and source; anything else
(nbformat 3, a cell id to repair, attachments, an unknown key or type, a later
minor version) returns None, and the caller reads the notebook with nbformat as
before, with nbformat's own verdict and message.
"""

from __future__ import annotations

import re
from typing import Any

MAX_MINOR = 5  # the newest v4 schema this reader follows (nbformat.v4.5)
_CELL_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_MIME = re.compile(r"[a-zA-Z0-9]+/[a-zA-Z0-9\-+.]+")
_JSON_MIME = re.compile(r"application/(.*\+)?json")

_CELL_KEYS = {
    "code": frozenset({"id", "cell_type", "metadata", "source", "outputs", "execution_count"}),
    "markdown": frozenset({"id", "cell_type", "metadata", "source"}),
    "raw": frozenset({"id", "cell_type", "metadata", "source"}),
}
# output type -> (required keys, allowed keys)
_OUTPUT_KEYS = {
    "execute_result": (
        frozenset({"output_type", "data", "metadata", "execution_count"}),
        frozenset({"output_type", "data", "metadata", "execution_count"}),
    ),
    "display_data": (
        frozenset({"output_type", "data", "metadata"}),
        frozenset({"output_type", "data", "metadata"}),
    ),
    "stream": (
        frozenset({"output_type", "name", "text"}),
        frozenset({"output_type", "name", "text"}),
    ),
    "error": (
        frozenset({"output_type", "ename", "evalue", "traceback"}),
        frozenset({"output_type", "ename", "evalue", "traceback"}),
    ),
}
# the typed fields of a cell's metadata (the schema allows any other key)
_CELL_METADATA_TYPES: dict[str, tuple[type, ...]] = {
    "jupyter": (dict,),
    "execution": (dict,),
    "collapsed": (bool,),
    "scrolled": (bool, str),
    "deletable": (bool,),
    "editable": (bool,),
    "format": (str,),
    "name": (str,),
    "tags": (list,),
}


def plain_code_cells(document: Any) -> list[tuple[str, str]] | None:
    """``(cell_type, source)`` of every cell of a plain v4 notebook, in order; None when
    the document is anything else (the caller asks nbformat)."""
    if not isinstance(document, dict) or set(document) != {
        "metadata",
        "nbformat",
        "nbformat_minor",
        "cells",
    }:
        return None
    minor = document["nbformat_minor"]
    if document["nbformat"] != 4 or type(minor) is not int or not 0 <= minor <= MAX_MINOR:
        return None
    if not _notebook_metadata(document["metadata"]) or not isinstance(document["cells"], list):
        return None
    cells: list[tuple[str, str]] = []
    ids: set[str] = set()
    for cell in document["cells"]:
        source = _cell(cell, minor, ids)
        if source is None:
            return None
        cells.append((cell["cell_type"], source))
    return cells


def _notebook_metadata(metadata: Any) -> bool:
    if not isinstance(metadata, dict):
        return False
    kernelspec = metadata.get("kernelspec", {})
    language = metadata.get("language_info", {})
    checks = (
        isinstance(kernelspec, dict)
        and ("kernelspec" not in metadata or _strings(kernelspec, ("name", "display_name")))
        and isinstance(language, dict)
        and ("language_info" not in metadata or _strings(language, ("name",)))
        and _integer(metadata.get("orig_nbformat", 1), 1)
        and isinstance(metadata.get("title", ""), str)
        and isinstance(metadata.get("authors", []), list)
    )
    return checks


def _cell(cell: Any, minor: int, ids: set[str]) -> str | None:
    """The cell's source when the cell has the schema's shape, else None."""
    if not isinstance(cell, dict):
        return None
    kind = cell.get("cell_type")
    allowed = _CELL_KEYS.get(kind) if isinstance(kind, str) else None
    if allowed is None or not set(cell) <= allowed:
        return None
    required = allowed if minor >= 5 else allowed - {"id"}
    if set(cell) != required:
        return None  # a missing key, or an id where minor < 5 has none: nbformat decides
    if minor >= 5:
        cell_id = cell["id"]
        if not isinstance(cell_id, str) or not _CELL_ID.fullmatch(cell_id) or cell_id in ids:
            return None  # nbformat repairs duplicate or missing ids
        ids.add(cell_id)
    if not _cell_metadata(cell["metadata"]):
        return None
    if kind == "code":
        if not _count(cell["execution_count"]) or not isinstance(cell["outputs"], list):
            return None
        if not all(_output(o) for o in cell["outputs"]):
            return None
    return _multiline(cell["source"])


def _cell_metadata(metadata: Any) -> bool:
    if not isinstance(metadata, dict):
        return False
    for key, types in _CELL_METADATA_TYPES.items():
        if key in metadata and not isinstance(metadata[key], types):
            return False
    scrolled = metadata.get("scrolled", True)
    tags = metadata.get("tags", [])
    return (scrolled is True or scrolled is False or scrolled == "auto") and (
        all(isinstance(t, str) and "," not in t for t in tags) and len(set(tags)) == len(tags)
    )


def _output(output: Any) -> bool:
    if not isinstance(output, dict):
        return False
    kind = output.get("output_type")
    keys = _OUTPUT_KEYS.get(kind) if isinstance(kind, str) else None
    if keys is None or not keys[0] <= set(output) <= keys[1]:
        return False
    if kind == "stream":
        return isinstance(output["name"], str) and _multiline(output["text"]) is not None
    if kind == "error":
        return (
            _strings(output, ("ename", "evalue"))
            and isinstance(output["traceback"], list)
            and all(isinstance(t, str) for t in output["traceback"])
        )
    if kind == "execute_result" and not _count(output["execution_count"]):
        return False
    return _mimebundle(output["data"]) and isinstance(output["metadata"], dict)


def _mimebundle(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    for mime, value in data.items():
        if _JSON_MIME.fullmatch(mime):
            continue  # any JSON value
        if not _MIME.fullmatch(mime) or _multiline(value) is None:
            return False
    return True


def _multiline(value: Any) -> str | None:
    """A string, or a list of strings joined (nbformat's multiline string), else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return None


def _strings(table: dict[str, Any], keys: tuple[str, ...]) -> bool:
    return all(isinstance(table.get(k), str) for k in keys)


def _integer(value: Any, low: int) -> bool:
    return type(value) is int and value >= low


def _count(value: Any) -> bool:
    """An execution count: a non-negative integer or null."""
    return value is None or _integer(value, 0)
