"""The plain v4 reader (grader.notebook_v4) never accepts what nbformat rejects, and where
it accepts, it reads the same cells as nbformat."""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader.notebook_v4 import plain_code_cells
from grader.submission import SubmissionError, load_submission

ROOT = Path(__file__).parents[2]
TEMPLATE = ROOT / "submissions" / "correct" / "template_ok.ipynb"


def nbformat_cells(document: dict[str, Any]) -> list[tuple[str, str]] | None:
    """The cells as nbformat reads them, or None where it rejects the document."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(json.dumps(document), as_version=4)
            nbformat.validate(notebook)
    except Exception:
        return None
    return [(c.cell_type, c.source) for c in notebook.cells]


def template() -> dict[str, Any]:
    return json.loads(TEMPLATE.read_text())


def first(kind: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The first cell of ``kind`` in a document."""
    return lambda doc: next(c for c in doc["cells"] if c["cell_type"] == kind)


def with_output(output: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        first("code")(doc)["outputs"] = [output]

    return change


def set_key(where: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: Any) -> Any:
    def change(doc: dict[str, Any]) -> None:
        where(doc)[key] = value

    return change


def drop_key(where: Callable[[dict[str, Any]], dict[str, Any]], key: str) -> Any:
    def change(doc: dict[str, Any]) -> None:
        where(doc).pop(key, None)

    return change


top: Callable[[dict[str, Any]], dict[str, Any]] = lambda doc: doc  # noqa: E731
meta: Callable[[dict[str, Any]], dict[str, Any]] = lambda doc: doc["metadata"]  # noqa: E731

MUTATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "as is": lambda doc: None,
    "minor 4 without ids": lambda doc: [
        doc.update(nbformat_minor=4),
        *(c.pop("id", None) for c in doc["cells"]),
    ],
    "minor 4 with ids": set_key(top, "nbformat_minor", 4),
    "minor 5 without ids": lambda doc: [c.pop("id", None) for c in doc["cells"]],
    "duplicate ids": lambda doc: [c.update(id="same") for c in doc["cells"]],
    "an id with a space": set_key(first("code"), "id", "a b"),
    "minor 9": set_key(top, "nbformat_minor", 9),
    "nbformat 3": set_key(top, "nbformat", 3),
    "an unknown top-level key": set_key(top, "extra", 1),
    "no metadata": drop_key(top, "metadata"),
    "cells not a list": set_key(top, "cells", {}),
    "a cell not a table": lambda doc: doc["cells"].append("print(1)"),
    "an unknown cell type": set_key(first("code"), "cell_type", "sql"),
    "a code cell without outputs": drop_key(first("code"), "outputs"),
    "a code cell without execution_count": drop_key(first("code"), "execution_count"),
    "a negative execution_count": set_key(first("code"), "execution_count", -1),
    "an execution_count as text": set_key(first("code"), "execution_count", "3"),
    "a source as a number": set_key(first("code"), "source", 3),
    "a source as a list": set_key(first("code"), "source", ["import numpy\n", "x = 1\n"]),
    "a source list holding a number": set_key(first("code"), "source", ["x = 1\n", 2]),
    "a markdown cell with outputs": set_key(first("markdown"), "outputs", []),
    "attachments": set_key(first("markdown"), "attachments", {}),
    "cell metadata a list": set_key(first("code"), "metadata", []),
    "tags as text": lambda doc: first("code")(doc)["metadata"].update(tags="a"),
    "tags repeated": lambda doc: first("code")(doc)["metadata"].update(tags=["a", "a"]),
    "collapsed as text": lambda doc: first("code")(doc)["metadata"].update(collapsed="no"),
    "scrolled auto": lambda doc: first("code")(doc)["metadata"].update(scrolled="auto"),
    "scrolled other text": lambda doc: first("code")(doc)["metadata"].update(scrolled="x"),
    "kernelspec without display_name": set_key(meta, "kernelspec", {"name": "python3"}),
    "language_info without name": set_key(meta, "language_info", {"version": "3"}),
    "orig_nbformat 0": set_key(meta, "orig_nbformat", 0),
    "a stream output": with_output({"output_type": "stream", "name": "stdout", "text": ["a\n"]}),
    "a stream without text": with_output({"output_type": "stream", "name": "stdout"}),
    "an error output": with_output(
        {"output_type": "error", "ename": "E", "evalue": "v", "traceback": ["t"]}
    ),
    "an error with a numeric traceback": with_output(
        {"output_type": "error", "ename": "E", "evalue": "v", "traceback": [1]}
    ),
    "an execute_result": with_output(
        {
            "output_type": "execute_result",
            "execution_count": 1,
            "data": {"text/plain": ["1"], "application/json": {"a": 1}},
            "metadata": {},
        }
    ),
    "an execute_result without a count": with_output(
        {"output_type": "execute_result", "data": {"text/plain": "1"}, "metadata": {}}
    ),
    "a display_data with a bad mime type": with_output(
        {"output_type": "display_data", "data": {"not a mime": "1"}, "metadata": {}}
    ),
    "a display_data with a numeric text": with_output(
        {"output_type": "display_data", "data": {"text/plain": 1}, "metadata": {}}
    ),
    "a display_data with transient": with_output(
        {
            "output_type": "display_data",
            "data": {"image/png": "iVBOR"},
            "metadata": {},
            "transient": {"display_id": "x"},
        }
    ),
    "an unknown output type": with_output({"output_type": "widget", "data": {}}),
    "an output with an extra key": with_output(
        {"output_type": "stream", "name": "stdout", "text": "a", "extra": 1}
    ),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_the_plain_reader_agrees_with_nbformat_or_leaves_it_to_nbformat(name: str) -> None:
    document = template()
    MUTATIONS[name](document)
    plain = plain_code_cells(copy.deepcopy(document))
    expected = nbformat_cells(document)
    if expected is None:
        assert plain is None, "accepted a notebook nbformat rejects"
    elif plain is not None:
        assert plain == expected


def test_the_plain_reader_reads_the_usual_notebooks_itself() -> None:
    """What makes it worth having: the repository's own notebooks need no nbformat."""
    for path in [TEMPLATE, *sorted((ROOT / "submissions" / "buggy").glob("template_*.ipynb"))]:
        assert plain_code_cells(json.loads(path.read_text())) is not None, path


def test_a_notebook_only_nbformat_can_read_is_still_graded(tmp_path: Path) -> None:
    """An nbformat 3 notebook (worksheets) goes to nbformat and loads as before."""
    notebook = nbformat.v3.new_notebook(
        worksheets=[nbformat.v3.new_worksheet(cells=[nbformat.v3.new_code_cell(input="x = 1")])]
    )
    path = tmp_path / "old.ipynb"
    nbformat.write(notebook, path, version=3)
    assert plain_code_cells(json.loads(path.read_text())) is None
    assert [c.source for c in load_submission(path).cells] == ["x = 1"]


def test_a_notebook_both_reject_says_so_in_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "hw.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": [{}], "metadata": {}}))
    with pytest.raises(SubmissionError, match="not a valid Jupyter notebook"):
        load_submission(path)
