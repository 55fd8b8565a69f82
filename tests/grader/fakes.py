"""Fake grade functions for the batch tests, steered by directives in the submission.

A submission is a small ``.py`` file; lines ``# fake: <directive>`` say what the
fake grader does with it::

    # fake: sleep 3            take 3 seconds
    # fake: exit 7             the grading worker exits with code 7 (os._exit)
    # fake: kill               the grading worker SIGKILLs itself
    # fake: raise              the grade function raises RuntimeError
    # fake: ungradable why     an ungradable result with reason "why"
    # fake: fail grad_hidden   that check fails, diagnosed as a misconception
    # fake: skip momentum      that check is not assessed
    # fake: error momentum     that check hits a grader-side error
    # fake: count FILE         append a line to FILE (to count how often it was graded)
    # fake: log FILE           append "<identity> <time>" to FILE (twice around a sleep: an interval)
    # fake: pid FILE           write the grading process's pid to FILE
    # fake: spawn FILE         start a child process (as the sandbox does), write its pid to FILE

Results are scored with the real grader.scoring against the fixture rubric, so
they have the shape the real pipeline gives.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from grader.compare import Comparison, Measures
from grader.diagnose import Diagnosis
from grader.results import CheckResult, GradeResult, SubmissionRef
from grader.rubric import Rubric
from grader.rubric_file import load_rubric
from grader.scoring import score
from grader.submission import SubmissionError, load_submission

RUBRIC_PATH = Path(__file__).parent / "fixtures" / "rubrics" / "valid.toml"
RUBRIC = load_rubric(RUBRIC_PATH)
# What a hidden check's comparison holds; it must never reach a student-visible export.
SECRET = "expected dW1[3, 2] = 0.7461923"


def directives(path: Path) -> list[tuple[str, str]]:
    """(verb, argument) for each '# fake:' line of the submission (none for folders)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    found = []
    for line in text.splitlines():
        if line.startswith("# fake:"):
            verb, _, arg = line.removeprefix("# fake:").strip().partition(" ")
            found.append((verb, arg.strip()))
    return found


def _check(spec: Any, verb: str | None) -> CheckResult:
    secret_cmp = Comparison(
        name="dW1",
        stage="values",
        passed=verb is None,
        message=SECRET,
        measures=Measures(0.7, 0.7, 0.5, 0.9, 1.2, 3, 12),
        shape=(4, 5),
        expected_shape=(4, 5),
    )
    common = dict(
        check_id=spec.id,
        objective=spec.objective,
        max_points=spec.points,
        visibility=spec.visibility,
        title=spec.title,
        comparisons=(secret_cmp,),
    )
    if verb == "fail":
        return CheckResult(
            status="failed",
            points=0.0,
            evidence=(f"dW1 differs: {SECRET}" if spec.visibility == "hidden" else "dW1 differs",),
            diagnosis=Diagnosis(
                name="missing_hidden_derivative",
                kind="misconception",
                title="hidden derivative A2(1-A2) missing",
                description="V1 lacks the factor A2 * (1 - A2).",
                topic="back-propagation",
                next_step="Multiply by the hidden layer's derivative.",
                parts=("dW1",),
                max_difference=0.0,
                alternatives=(),
                message="Your dW1 equals the gradient without the hidden derivative.",
            ),
            feedback="Your gradient is not yet right.",
            next_step="Derive V1 on paper first.",
            **common,
        )
    if verb == "skip":
        return CheckResult(
            status="not_assessed", points=0.0, reason="your class has no such method", **common
        )
    if verb == "error":
        return CheckResult(status="error", points=0.0, reason="the reference crashed", **common)
    return CheckResult(
        status="passed",
        points=spec.points,
        evidence=("dW1 matches to 1e-12",),
        feedback="Right.",
        **common,
    )


def grade_submission(path: Path, rubric: Rubric, settings: Any = None) -> GradeResult:
    """The fake pipeline with grader.grade.grade_submission's signature."""
    path = Path(path)
    identity = path.stem if path.is_file() else path.name
    ref = SubmissionRef(identity, str(path), "fake-hash")
    verbs: dict[str, str] = {}
    for verb, arg in directives(path):
        if verb == "count":
            with open(arg, "a", encoding="utf-8") as handle:
                handle.write(f"{identity}\n")
        elif verb == "log":
            with open(arg, "a", encoding="utf-8") as handle:
                handle.write(f"{identity} {time.time()}\n")
        elif verb == "pid":
            Path(arg).write_text(str(os.getpid()))
        elif verb == "spawn":
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            Path(arg).write_text(str(child.pid))
        elif verb == "sleep":
            time.sleep(float(arg))
        elif verb == "exit":
            os._exit(int(arg))
        elif verb == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif verb == "raise":
            raise RuntimeError(f"fake grader bug on {identity}")
        elif verb == "ungradable":
            return GradeResult(ref, "ungradable", reason=arg or "not a notebook")
        elif verb in ("fail", "skip", "error"):
            verbs[arg] = verb
    try:
        load_submission(path)  # as the real pipeline does: a non-submission is ungradable
    except SubmissionError as error:
        return GradeResult(ref, "ungradable", reason=error.reason)
    checks = tuple(_check(spec, verbs.get(spec.id)) for spec in rubric.checks)
    return GradeResult(
        ref,
        "graded",
        checks=checks,
        score=score(rubric, checks),
        provenance={"grader_version": "test", "settings": repr(settings)},
    )


def grade(path: Path) -> GradeResult:
    """A batch grade function: the fake pipeline on the fixture rubric."""
    return grade_submission(path, RUBRIC)


def not_a_result(path: Path) -> Any:
    """A buggy grade function that returns the wrong type."""
    return {"status": "graded"}


def write(folder: Path, name: str, *lines: str) -> Path:
    """A submission file ``folder/name`` holding the given directive lines."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join([*lines, "x = 1", ""]), encoding="utf-8")
    return path


def alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie awaiting its reaper counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_for(path: Path, seconds: float = 10.0) -> str:
    """The content of ``path`` once it exists and is non-empty."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and (text := path.read_text()):
            return text
        time.sleep(0.02)
    raise TimeoutError(f"{path} never appeared")


def stored_results(out: Path) -> dict[str, dict[str, object]]:
    """Each stored result of a batch in ``out`` without the batch's own bookkeeping
    (times, executor name): what two executors must agree on."""
    found = {}
    for path in sorted((out / "results").glob("*.json")):
        data = json.loads(path.read_text())
        batch = data["provenance"].pop("batch")
        found[path.stem] = {"result": data, "outcome": batch["outcome"]}
    return found
