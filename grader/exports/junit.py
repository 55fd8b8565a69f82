"""JUnit XML for CI (GitHub and GitLab test reports): a test suite per submission.

The layout is the common JUnit schema CI tools read::

    <testsuites name tests failures errors skipped time>
      <testsuite name=<identity> tests failures errors skipped time timestamp>
                  (time: the batch's seconds for the submission, else the sandboxed job's)
        <properties><property name="points" value=.../> max_points, status, the sandbox
                    tier and what it guarantees (sandbox_tier, sandbox_advisory, ...)</properties>
        <testcase name="<check id>: <title>" classname="<identity>.<objective>" time>
                  (time: the check's share of its probe's seconds in the sandbox)
          <failure message=<headline> type="failed"> evidence, diagnosis, next step </failure>
          | <skipped message=<reason>/>                       (not assessed)
          | <error message=<reason> type="grader_error"/>     (the grader's error)
        </testcase>
      </testsuite>
    </testsuites>

An ungradable submission is one testcase ``submission`` with a failure (its reason);
one whose grading failed on the grader's side is one testcase with an error.
By default the public view is written (``public=True``): hidden checks show only
that they passed or did not, never their inputs or expected values.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from grader.atomic import atomic_write_text
from grader.cache import batch_record
from grader.exports._text import number, xml_text
from grader.exports.gradebook import Row
from grader.results import CheckResult, GradeResult
from grader.sandbox.tiers import tier_fields


def _element(parent: ET.Element, tag: str, text: str = "", **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text:
        node.text = xml_text(text)
    return node


def _check_text(check: CheckResult) -> str:
    lines = [*check.evidence]
    if check.adjustment is not None:
        lines.insert(0, check.adjustment.sentence(check.max_points))
    if check.diagnosis is not None:
        lines.append(check.diagnosis.message)
    if check.feedback:
        lines.append(check.feedback)
    if check.next_step:
        lines.append(f"Next step: {check.next_step}")
    return "\n".join(lines)


def _testcase(suite: ET.Element, identity: str, check: CheckResult, seconds: float) -> str:
    """Add one check's testcase; returns its outcome (passed/failure/skipped/error)."""
    case = _element(
        suite,
        "testcase",
        name=f"{check.check_id}: {check.title}" if check.title else check.check_id,
        classname=f"{identity}.{check.objective}",
        time=f"{seconds:.3f}",
    )
    if check.adjustment is not None and check.status in ("passed", "not_assessed"):
        # a passed or skipped case has no text of its own: the instructor's word goes here
        _element(case, "system-out", check.adjustment.sentence(check.max_points))
    if check.status == "passed":
        return "passed"
    if check.status == "not_assessed":
        _element(case, "skipped", message=check.reason or "not assessed")
        return "skipped"
    if check.status == "error":
        _element(case, "error", _check_text(check), message=check.headline, type="grader_error")
        return "error"
    _element(case, "failure", _check_text(check), message=check.headline, type="failed")
    return "failure"


def _seconds(value: object) -> float:
    """A recorded duration, or 0 for anything that is not a finite number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return max(0.0, float(value))
    return 0.0


def _suite(root: ET.Element, row: Row, public: bool) -> dict[str, int]:
    result = row.result
    provenance = result.provenance if result is not None else {}
    per_check = provenance.get("check_seconds")
    per_check = per_check if isinstance(per_check, dict) else {}
    # the whole grading's time where a batch measured it, else the sandboxed job's
    recorded = batch_record(result).get("seconds") if result is not None else None
    seconds = _seconds(recorded if recorded is not None else provenance.get("sandbox_seconds"))
    suite = _element(root, "testsuite", name=row.identity, time=f"{seconds:.3f}")
    finished = batch_record(result).get("finished_at") if result is not None else None
    if isinstance(finished, str):
        suite.set("timestamp", finished.removesuffix("+00:00"))
    props = _element(suite, "properties")
    _element(props, "property", name="status", value=row.status)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if row.graded and result is not None and result.score is not None:
        _element(props, "property", name="points", value=number(result.score.points))
        _element(props, "property", name="max_points", value=number(result.score.max_points))
        for field, value in tier_fields(result.provenance.get("sandbox_tier")).items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            if value is not None:
                _element(props, "property", name=field, value=text)
        shown = result.public_view() if public else result
        for check in shown.checks:
            outcome = _testcase(suite, row.identity, check, _seconds(per_check.get(check.check_id)))
            counts["tests"] += 1
            key = {"failure": "failures", "error": "errors", "skipped": "skipped"}.get(outcome)
            if key:
                counts[key] += 1
    else:
        case = _element(suite, "testcase", name="submission", classname=row.identity, time="0")
        if row.status == "ungradable":
            _element(case, "failure", message=row.reason, type="ungradable")
            counts["failures"] = 1
        elif row.status == "pending":
            _element(case, "skipped", message=row.reason)
            counts["skipped"] = 1
        else:
            _element(case, "error", message=row.reason, type="grader_failure")
            counts["errors"] = 1
        counts["tests"] = 1
    for k, v in counts.items():
        suite.set(k, str(v))
    return counts


def junit_xml(rows: Sequence[Row | GradeResult], *, public: bool = True) -> str:
    """The JUnit XML document (module doc) for some submissions."""
    root = ET.Element("testsuites", name="mlp-grader")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    seconds = 0.0
    for item in rows:
        row = item if isinstance(item, Row) else Row.of(item)
        for k, v in _suite(root, row, public).items():
            totals[k] += v
        seconds += float(root[-1].get("time", "0"))
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{seconds:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: Path, rows: Sequence[Row | GradeResult], *, public: bool = True) -> Path:
    """Write the JUnit XML atomically; returns ``path``."""
    atomic_write_text(Path(path), junit_xml(rows, public=public))
    return Path(path)
