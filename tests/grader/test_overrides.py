"""Instructor overrides (grader.overrides): applied on top of stored results in every
output, kept across re-runs and regrades, and bad files refused in one sentence."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from grader import cli
from grader.batch import BatchOutputs, CanvasExport, GradeJob, run_batch
from grader.exports.gradescope import gradescope_results
from grader.exports.junit import junit_xml
from grader.overrides import Overrides, OverridesError, apply_overrides, load_overrides
from grader.report import render_html, render_markdown
from grader.results import GradeResult
from grader.scoring import score
from tests.grader import fakes
from tests.grader.sandbox.helpers import bwrap_skip_reason

ROOT = Path(__file__).parents[2]
RUBRIC = str(fakes.RUBRIC_PATH)
POINTS = {c.id: c.points for c in fakes.RUBRIC.checks}
REASON = "Regrade request: the penalty term was right in the cell the grader skipped"


def override_file(folder: Path, *entries: str, name: str = "overrides.toml") -> Path:
    """An overrides TOML of ``entries`` (each the body of one [[override]] table)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(f"[[override]]\n{e}\n" for e in entries), encoding="utf-8")
    return path


def entry(student: str, check: str, *fields: str, reason: str = REASON) -> str:
    lines = [f'student = "{student}"', f'check = "{check}"', *fields]
    if reason:
        lines.append(f'reason = "{reason}"')
    return "\n".join([*lines, 'by = "J. Smith"', "date = 2026-12-01"])


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        return {r["student"]: r for r in csv.DictReader(handle)}


def a_class(subs: Path) -> list[Path]:
    """alice fails the hidden penalty check and skips momentum; bob passes everything."""
    return [
        fakes.write(subs, "alice.py", "# fake: fail grad_penalty", "# fake: skip momentum"),
        fakes.write(subs, "bob.py"),
    ]


# --- applying ----------------------------------------------------------------------


def test_status_gives_full_points_and_keeps_the_graders_verdict(
    tmp_path: Path, graded: GradeResult
) -> None:
    overrides = load_overrides(
        override_file(tmp_path, entry("alice", "grad_penalty", 'status = "passed"'))
    )
    adjusted = apply_overrides(graded, overrides, fakes.RUBRIC)
    check = {c.check_id: c for c in adjusted.checks}["grad_penalty"]
    original = {c.check_id: c for c in graded.checks}["grad_penalty"]
    assert original.status == "failed" and original.points == 0  # untouched: a pure function
    assert (check.status, check.points) == ("passed", POINTS["grad_penalty"])
    assert check.adjustment is not None
    assert (check.adjustment.original_status, check.adjustment.original_points) == ("failed", 0)
    assert (check.adjustment.by, check.adjustment.date) == ("J. Smith", "2026-12-01")
    # the score is the rubric's own scoring of the adjusted checks
    assert adjusted.score == score(fakes.RUBRIC, adjusted.checks)
    assert adjusted.score is not None and graded.score is not None
    assert adjusted.score.points == graded.score.points + POINTS["grad_penalty"]
    regularisation = {o.objective: o for o in adjusted.score.objectives}["regularisation"]
    assert regularisation.level == "demonstrated"
    assert "Adjusted by your instructor" in regularisation.evidence[0].sentence


def test_points_alone_keep_the_status(tmp_path: Path, graded: GradeResult) -> None:
    overrides = load_overrides(override_file(tmp_path, entry("alice", "momentum", "points = 0.5")))
    adjusted = apply_overrides(graded, overrides, fakes.RUBRIC)
    check = {c.check_id: c for c in adjusted.checks}["momentum"]
    assert (check.status, check.points) == ("not_assessed", 0.5)
    assert adjusted.score is not None and graded.score is not None
    assert adjusted.score.points == graded.score.points + 0.5
    # another student's entries leave this result as it was
    assert apply_overrides(graded, overrides, fakes.RUBRIC, student="bob") == graded


def test_csv_file_reads_like_toml(tmp_path: Path, graded: GradeResult) -> None:
    path = tmp_path / "overrides.csv"
    path.write_text(
        "student,check,points,status,reason,by,date\n"
        f'alice,grad_penalty,1,,"{REASON}, partly",J. Smith,2026-12-01\n',
        encoding="utf-8",
    )
    adjusted = apply_overrides(graded, load_overrides(path), fakes.RUBRIC)
    check = {c.check_id: c for c in adjusted.checks}["grad_penalty"]
    assert (check.status, check.points) == ("failed", 1.0)
    assert check.adjustment is not None and check.adjustment.reason == f"{REASON}, partly"


def test_an_ungradable_result_says_its_adjustments_are_not_applied(tmp_path: Path) -> None:
    from grader.results import SubmissionRef

    result = GradeResult(SubmissionRef("alice"), "ungradable", reason="alice.pdf is a PDF")
    overrides = load_overrides(override_file(tmp_path, entry("alice", "momentum", "points = 1")))
    adjusted = apply_overrides(result, overrides, fakes.RUBRIC)
    assert adjusted.score is None and "not applied" in adjusted.notes[-1]


# --- the student's report ------------------------------------------------------------


@pytest.mark.parametrize("render", [render_markdown, render_html])
def test_report_says_adjusted_by_your_instructor_with_the_graders_verdict(
    tmp_path: Path, graded: GradeResult, render: object
) -> None:
    overrides = load_overrides(
        override_file(tmp_path, entry("alice", "grad_penalty", 'status = "passed"'))
    )
    text = render(apply_overrides(graded, overrides, fakes.RUBRIC))  # type: ignore[operator]
    assert "Adjusted by your instructor (J. Smith, 2026-12-01): Regrade request" in text
    assert "this check did not pass, 0 of 1.5 points" in text  # the original verdict
    assert "Adjusted by your instructor" not in render(graded)  # type: ignore[operator]


# --- a batch: gradebook, Canvas, class page, reports; re-runs and regrades ------------------


def test_batch_applies_overrides_to_every_output_and_never_stores_them(
    subs: Path, out: Path, tmp_path: Path
) -> None:
    paths = a_class(subs)
    path = override_file(tmp_path / "o", entry("alice", "grad_penalty", 'status = "passed"'))
    outputs = BatchOutputs(canvas=CanvasExport("Lab 3"), overrides=load_overrides(path))
    run_batch(paths, fakes.grade, out, rubric=fakes.RUBRIC, outputs=outputs, progress=False)
    plain_out = tmp_path / "plain"
    run_batch(paths, fakes.grade, plain_out, rubric=fakes.RUBRIC, progress=False)
    plain = gradebook(plain_out)["alice"]
    row = gradebook(out)["alice"]
    assert float(row["check:grad_penalty"]) == POINTS["grad_penalty"]
    assert float(row["total"]) == float(plain["total"]) + POINTS["grad_penalty"]
    assert row["adjusted"] == "grad_penalty" and gradebook(out)["bob"]["adjusted"] == ""
    with open(out / "canvas.csv", newline="", encoding="utf-8") as handle:
        canvas = {r["SIS Login ID"]: r for r in csv.DictReader(handle)}
    assert float(canvas["alice"]["Lab 3"]) == float(row["total"])
    # the cache holds what the code earned
    stored = json.loads((out / "results" / "alice.json").read_text(encoding="utf-8"))
    assert all(c["adjustment"] is None for c in stored["checks"])
    assert stored["score"]["points"] == float(plain["total"])
    assert "Adjusted by your instructor" in (out / "reports" / "alice.md").read_text()
    assert "Adjusted by your instructor" not in (out / "reports" / "bob.md").read_text()
    # the class page and summary.md count the adjusted points and name what was adjusted
    page = (out / "summary.html").read_text(encoding="utf-8")
    assert "Adjusted by your overrides" in page and "<code>grad_penalty</code>" in page
    assert "- **alice**: grad_penalty" in (out / "summary.md").read_text(encoding="utf-8")
    assert "Adjusted by your overrides" not in (plain_out / "summary.md").read_text()


@pytest.mark.parametrize("executor", ["serial", "local", "pool"])
def test_rerun_and_regrade_keep_the_adjustment(
    subs: Path, out: Path, tmp_path: Path, executor: str
) -> None:
    paths = a_class(subs)
    count = tmp_path / "count"
    fakes.write(subs, "alice.py", "# fake: fail grad_penalty", f"# fake: count {count}")
    path = override_file(tmp_path / "o", entry("alice", "grad_penalty", "points = 1"))

    def batch(**options: object) -> None:
        outputs = BatchOutputs(overrides=load_overrides(path))
        run_batch(
            paths,
            fakes.grade,
            out,
            executor=executor,
            workers=1,
            rubric=fakes.RUBRIC,
            outputs=outputs,
            progress=False,
            **options,  # type: ignore[arg-type]
        )

    def shown() -> tuple[str, str, bool]:
        row = gradebook(out)["alice"]
        report = (out / "reports" / "alice.md").read_text(encoding="utf-8")
        return row["check:grad_penalty"], row["adjusted"], "Adjusted by your instructor" in report

    batch()
    assert shown() == ("1", "grad_penalty", True)
    batch()  # cached: alice is not graded again, her adjustment still shows
    assert count.read_text().split() == ["alice"]
    assert shown() == ("1", "grad_penalty", True)
    batch(regrade=["alice"])  # graded again: the worker's fresh report gets the adjustment too
    assert count.read_text().split() == ["alice", "alice"]
    assert shown() == ("1", "grad_penalty", True)
    # the file changes: cached reports follow it without grading anyone again
    path.write_text("", encoding="utf-8")
    batch()
    assert count.read_text().split() == ["alice", "alice"]
    assert shown() == ("0", "", False)


# --- grade-one: Gradescope, JUnit, Markdown ---------------------------------------------


def test_grade_one_applies_overrides_to_gradescope_junit_and_markdown(
    subs: Path, tmp_path: Path
) -> None:
    sub = fakes.write(subs, "alice.py", "# fake: fail grad_penalty")
    path = override_file(
        tmp_path,
        entry("alice", "grad_penalty", 'status = "passed"'),
        entry("somebody_else", "grad_out", "points = 0"),  # the file holds the whole class
    )
    files = {name: tmp_path / name for name in ("results.json", "junit.xml", "report.md")}
    code = cli.main(
        [
            "grade-one",
            str(sub),
            "--rubric",
            RUBRIC,
            "--overrides",
            str(path),
            "--gradescope",
            str(files["results.json"]),
            "--junit",
            str(files["junit.xml"]),
            "--markdown",
            str(files["report.md"]),
        ],
        grade_fn=fakes.grade_submission,
    )
    assert code == 0
    results = json.loads(files["results.json"].read_text())
    total = sum(POINTS.values())
    assert results["score"] == total
    test = next(
        t
        for t in results["tests"]
        if t["extra_data"]["status"] == "passed" and t["extra_data"]["adjustment"]
    )
    assert test["score"] == POINTS["grad_penalty"]
    assert "Adjusted by your instructor" in test["output"] and "did not pass" in test["output"]
    suite = ET.fromstring(files["junit.xml"].read_text()).find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert float(props["points"] or 0) == total
    assert "Adjusted by your instructor" in files["junit.xml"].read_text()
    assert "Adjusted by your instructor" in files["report.md"].read_text()


def test_grade_one_student_names_the_submission_as_the_file_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = fakes.write(tmp_path / "upload", "submission.py", "# fake: fail grad_out")
    path = override_file(tmp_path, entry("alice", "grad_out", "points = 1.5"))
    results = tmp_path / "results.json"
    argv = ["grade-one", str(sub), "--rubric", RUBRIC, "--overrides", str(path)]
    argv += ["--gradescope", str(results)]
    assert cli.main([*argv, "--student", "alice"], grade_fn=fakes.grade_submission) == 0
    adjusted = json.loads(results.read_text())["score"]
    assert cli.main(argv, grade_fn=fakes.grade_submission) == 0  # "submission": not alice
    assert adjusted == json.loads(results.read_text())["score"] + 1.5


def test_gradescope_and_junit_of_an_adjusted_result(tmp_path: Path, graded: GradeResult) -> None:
    overrides = load_overrides(
        override_file(tmp_path, entry("alice", "momentum", 'status = "failed"'))
    )
    adjusted = apply_overrides(graded, overrides, fakes.RUBRIC)
    test = next(t for t in gradescope_results(adjusted)["tests"] if t["extra_data"]["adjustment"])
    assert test["status"] == "failed" and "was not assessed" in test["output"]
    assert "Adjusted by your instructor" in junit_xml([adjusted])


# --- bad files ----------------------------------------------------------------------


BAD = [
    (
        entry("alcie", "grad_out", "points = 1"),
        "entry 1 (line 1): unknown student 'alcie' (did you mean 'alice'?)",
    ),
    (
        entry("alice", "grad_outt", "points = 1"),
        "entry 1 (line 1): unknown check 'grad_outt' (did you mean 'grad_out'?)",
    ),
    (
        entry("alice", "grad_out", "points = 5"),
        "entry 1 (line 1): 5 points is above check 'grad_out''s maximum of 2",
    ),
    (entry("alice", "grad_out", "points = 1", reason=""), "entry 1 (line 1): missing 'reason'"),
    (
        entry("alice", "grad_out", "points = 1").replace("2026-12-01", '"1 Dec"'),
        "entry 1 (line 1): bad date '1 Dec'",
    ),
    (
        entry("alice", "grad_out", "points = 1").replace("2026-12-01", '"2026-02-30"'),
        "bad date '2026-02-30'",
    ),
    (entry("alice", "grad_out"), "give 'points', 'status' or both"),
    (entry("alice", "grad_out", 'status = "maybe"'), "status must be 'passed' or 'failed'"),
    (entry("alice", "grad_out", "points = -1"), "points must be a number of 0 or more"),
    (entry("alice", "grad_out", "points = 1", "grade = 3"), "unknown key 'grade'"),
]


@pytest.mark.parametrize(("body", "problem"), BAD)
def test_a_bad_overrides_file_is_one_line_and_exit_2(
    subs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, problem: str
) -> None:
    a_class(subs)
    path = override_file(tmp_path, body)
    out = tmp_path / "out"
    argv = [
        "grade",
        str(subs),
        "--rubric",
        RUBRIC,
        "--out",
        str(out),
        "--serial",
        "--overrides",
        str(path),
    ]
    assert cli.main(argv, grade_fn=fakes.grade_submission) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith(f"grader: error: {path}, ") and problem in err
    assert not (out / "results").exists()  # refused before anything was graded


def test_a_duplicate_names_both_entries(tmp_path: Path) -> None:
    path = override_file(
        tmp_path, entry("alice", "grad_out", "points = 1"), entry("alice", "grad_out", "points = 2")
    )
    with pytest.raises(OverridesError) as caught:
        load_overrides(path)
    assert str(caught.value) == (
        f"{path}, entry 2 (line 8): a second adjustment of 'alice''s check 'grad_out' "
        "(the first is entry 1 (line 1)); keep one."
    )


def test_grade_one_refuses_an_unknown_check(
    subs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = fakes.write(subs, "alice.py")
    path = override_file(tmp_path, entry("alice", "no_such_check", "points = 1"))
    argv = ["grade-one", str(sub), "--rubric", RUBRIC, "--overrides", str(path)]
    assert cli.main(argv, grade_fn=fakes.grade_submission) == 2
    assert "unknown check 'no_such_check'" in capsys.readouterr().err


def test_not_toml_and_csv_errors_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "o.toml"
    broken.write_text("[[override]\n", encoding="utf-8")
    with pytest.raises(OverridesError, match=r"o\.toml: is not valid TOML"):
        load_overrides(broken)
    bad_csv = tmp_path / "o.csv"
    bad_csv.write_text("student,check,grade\nalice,grad_out,3\n", encoding="utf-8")
    with pytest.raises(OverridesError, match=r"o\.csv, line 1: unknown column 'grade'"):
        load_overrides(bad_csv)
    dated = tmp_path / "d.csv"
    dated.write_text(
        "student,check,points,reason,by,date\nalice,grad_out,1,ok,me,2026-12-01\nbob,grad_out,1,ok,me,tomorrow\n",
        encoding="utf-8",
    )
    with pytest.raises(OverridesError, match=r"d\.csv, line 3: bad date 'tomorrow'"):
        load_overrides(dated)
    assert Overrides(str(dated)).digest("alice") == ""


# --- a submission that forges overrides -------------------------------------------------


@pytest.mark.skipif(bool(bwrap_skip_reason()), reason=bwrap_skip_reason() or "")
def test_forged_overrides_from_a_submission_change_nothing(tmp_path: Path) -> None:
    """submissions/hostile/forged_override.py writes overrides files granting itself every
    check wherever it can and prints a forged adjustment: only the instructor's file counts."""
    from grader.grade import GradeSettings, grade_submission
    from grader.sandbox import Limits

    subs = tmp_path / "class"
    subs.mkdir()
    sub = subs / "forged_override.py"
    sub.write_bytes((ROOT / "submissions" / "hostile" / "forged_override.py").read_bytes())
    instructor = tmp_path / "instructor" / "lab3-adjustments.toml"
    instructor.parent.mkdir()
    instructor.write_text("", encoding="utf-8")  # the class has no adjustment yet
    settings = GradeSettings(limits=Limits(setup_timeout=10.0, total_timeout=60.0), figures=False)
    job = GradeJob.from_file(grade_submission, ROOT / "rubrics" / "mlp_backprop.toml", settings)
    out = tmp_path / "out"
    outputs = BatchOutputs(overrides=load_overrides(instructor))
    run_batch([sub], job, out, executor="serial", outputs=outputs, progress=False)
    stored = json.loads((out / "results" / "forged_override.json").read_text(encoding="utf-8"))
    assert stored["status"] == "graded"
    assert "Adjusted by your instructor" in stored["stdout"]  # it did print its forgery
    row = gradebook(out)["forged_override"]
    assert row["adjusted"] == "" and float(row["check:grad_output"]) == 0
    assert float(row["total"]) <= 15.0  # submissions/hostile/expected.toml's bound
    assert "Adjusted by your overrides" not in (out / "summary.html").read_text(encoding="utf-8")
    report = (out / "reports" / "forged_override.md").read_text(encoding="utf-8")
    assert "✓ passed** — Output layer" not in report
    # nothing it wrote reached the class folder, the output folder or the instructor's
    planted = {"overrides.toml", "overrides.csv"}
    for folder in (subs, out, instructor.parent, tmp_path):
        assert not planted & {p.name for p in folder.iterdir()}, folder
    assert not (out / ".overrides.json").exists()
    assert instructor.read_text(encoding="utf-8") == ""


def test_an_ungradable_students_adjustment_is_reported_not_applied(
    subs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fakes.write(subs, "alice.py", "# fake: ungradable alice.pdf is a PDF")
    fakes.write(subs, "bob.py")
    path = override_file(tmp_path, entry("alice", "grad_out", "points = 2"))
    out = tmp_path / "out"
    argv = ["grade", str(subs), "--rubric", RUBRIC, "--out", str(out), "--serial"]
    assert cli.main([*argv, "--overrides", str(path)], grade_fn=fakes.grade_submission) == 0
    captured = capsys.readouterr()
    assert "alice: its overrides are not applied: the submission is ungradable" in captured.err
    assert f"overrides:  {path} (1 adjustment, in every output)" in captured.out
    row = gradebook(out)["alice"]
    assert (row["status"], row["total"], row["adjusted"]) == ("ungradable", "", "")
