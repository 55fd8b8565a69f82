"""Class and per-submission exports; they only read results (rendering computes nothing).

    gradebook.csv        grader.exports.gradebook.write_gradebook_csv
    Canvas import CSV    grader.exports.gradebook.write_canvas_csv
    Gradescope           grader.exports.gradescope.write_gradescope (results.json)
    JUnit XML            grader.exports.junit.write_junit
    Markdown summary     grader.exports.class_markdown.write_class_summary

Class exports take :class:`~grader.exports.gradebook.Row`s: one per submission,
graded or not, so a submission that could not be graded is still a line.
"""

from importlib import import_module
from typing import Any

# Each name's module, imported on first use: ``grader grade-one`` writes results.json
# without loading the gradebook's and class summary's modules (a cold start pays each).
_HOME = {
    "Row": "gradebook",
    "write_canvas_csv": "gradebook",
    "write_gradebook_csv": "gradebook",
    "gradescope_results": "gradescope",
    "write_gradescope": "gradescope",
    "junit_xml": "junit",
    "write_junit": "junit",
    "class_summary": "class_markdown",
    "write_class_summary": "class_markdown",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'grader.exports' has no attribute {name!r}")
    return getattr(import_module(f"grader.exports.{_HOME[name]}"), name)


__all__ = [
    "Row",
    "class_summary",
    "gradescope_results",
    "junit_xml",
    "write_canvas_csv",
    "write_class_summary",
    "write_gradebook_csv",
    "write_gradescope",
    "write_junit",
]
