"""Class and per-submission exports; they only read results (rendering computes nothing).

    gradebook.csv        grader.exports.gradebook.write_gradebook_csv
    Canvas import CSV    grader.exports.gradebook.write_canvas_csv
    Gradescope           grader.exports.gradescope.write_gradescope (results.json)
    JUnit XML            grader.exports.junit.write_junit
    Markdown summary     grader.exports.summary.write_class_summary

Class exports take :class:`~grader.exports.gradebook.Row`s: one per submission,
graded or not, so a submission that could not be graded is still a line.
"""

from grader.exports.gradebook import Row, write_canvas_csv, write_gradebook_csv
from grader.exports.gradescope import gradescope_results, write_gradescope
from grader.exports.junit import junit_xml, write_junit
from grader.exports.summary import class_summary, write_class_summary

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
