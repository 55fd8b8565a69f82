"""grader.batch.run_batch with the local and serial executors, on fake grade functions."""

from __future__ import annotations

import csv
import functools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from grader.batch import BatchOutputs, CanvasExport, GradeJob, run_batch
from grader.executors import GradeFn, LocalExecutor, Outcome, PoolExecutor, Task, died_reason
from grader.results import GradeResult
from tests.grader import fakes

ROOT = Path(__file__).parents[2]


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        return {r["student"]: r for r in csv.DictReader(handle)}


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


# --- grading in parallel, failures as rows -----------------------------------


def test_workers_grade_in_parallel(subs: Path, out: Path, tmp_path: Path) -> None:
    """With two workers, two slow submissions are graded at the same time."""
    log = tmp_path / "log.txt"
    paths = [
        fakes.write(
            subs, f"{n}.py", f"# fake: log {log}", "# fake: sleep 0.6", f"# fake: log {log}"
        )
        for n in ("alice", "bob")
    ]
    summary = run_batch(paths, fakes.grade, out, workers=2, progress=False)
    assert summary.graded == 2
    stamps: dict[str, list[float]] = {}
    for who, t in (line.split() for line in log.read_text().splitlines()):
        stamps.setdefault(who, []).append(float(t))
    starts, ends = [s[0] for s in stamps.values()], [s[1] for s in stamps.values()]
    assert max(starts) < min(ends)  # the two intervals overlap


def test_each_failure_is_a_row_and_the_batch_goes_on(subs: Path, out: Path) -> None:
    """A raise, an exit, a SIGKILL and a timeout each fail one row; the others are graded."""
    paths = [
        fakes.write(subs, "alice.py"),
        fakes.write(subs, "bob.py", "# fake: exit 3"),
        fakes.write(subs, "carol.py", "# fake: kill"),
        fakes.write(subs, "dan.py", "# fake: raise"),
        fakes.write(subs, "eve.py", "# fake: sleep 30"),
        fakes.write(subs, "fay.py", "# fake: ungradable notebook is not JSON"),
        fakes.write(subs, "gus.py", "# fake: fail grad_hidden"),
    ]
    start = time.monotonic()
    summary = run_batch(paths, fakes.grade, out, workers=3, timeout=1.0, progress=False)
    assert time.monotonic() - start < 15  # eve's 30 s sleep was cut short
    assert (summary.graded, summary.ungradable, summary.failed) == (2, 1, 4)
    book = gradebook(out)
    assert book["bob"]["reason"] == died_reason(3)
    assert book["bob"]["reason"].startswith(
        "the grading worker died while grading this submission (exit code 3"
    )
    assert "exit code -9" in book["carol"]["reason"]
    assert "RuntimeError: fake grader bug on dan" in book["dan"]["reason"]
    assert "longer than the batch's limit of 1 s" in book["eve"]["reason"]
    assert book["fay"]["status"] == "ungradable"
    assert book["fay"]["reason"] == "notebook is not JSON"
    assert (book["alice"]["status"], book["alice"]["total"]) == ("graded", "7.5")
    assert (book["gus"]["total"], book["gus"]["check:grad_hidden"]) == ("4.5", "0")
    assert {r["status"] for n, r in book.items() if n in "bob carol dan eve"} == {"failed"}


def test_a_traceback_is_kept_for_the_instructor(subs: Path, out: Path) -> None:
    """A grade function's exception keeps its traceback in the stored result's provenance."""
    run_batch([fakes.write(subs, "dan.py", "# fake: raise")], fakes.grade, out, progress=False)
    record = json.loads((out / "results" / "dan.json").read_text())["provenance"]["batch"]
    assert record["outcome"] == "failed"
    assert "Traceback" in record["detail"]
    assert "fake grader bug on dan" in record["detail"]


def test_a_missing_output_folder_is_created_with_its_parents(subs: Path, tmp_path: Path) -> None:
    """The output folder and its missing parents are made (a fresh checkout has no out/)."""
    out = tmp_path / "not" / "yet" / "there"
    run_batch([fakes.write(subs, "alice.py")], fakes.grade, out, executor="serial", progress=False)
    assert gradebook(out)["alice"]["status"] == "graded"


def test_a_wrong_return_type_is_a_failed_row(subs: Path, out: Path) -> None:
    """A grade function returning something else than a GradeResult fails that row only."""
    summary = run_batch(
        [fakes.write(subs, "alice.py")], fakes.not_a_result, out, executor="serial", progress=False
    )
    assert summary.failed == 1
    assert "returned dict, not GradeResult" in gradebook(out)["alice"]["reason"]


def test_results_are_written_as_each_finishes(subs: Path, out: Path) -> None:
    """When the hook sees a result, its file is already on disk with the stored content."""
    seen: list[tuple[str, bool]] = []

    def hook(result: GradeResult, out_dir: Path) -> None:
        path = out_dir / "results" / f"{result.submission.identity}.json"
        seen.append((result.submission.identity, GradeResult.from_json(path.read_text()) == result))

    paths = [fakes.write(subs, f"{n}.py") for n in ("alice", "bob")]
    run_batch(paths, fakes.grade, out, workers=2, on_result=hook, progress=False)
    assert sorted(seen) == [("alice", True), ("bob", True)]


def test_a_failing_hook_does_not_stop_the_batch(subs: Path, out: Path) -> None:
    """A report hook that raises is recorded; every submission is still graded."""

    def hook(result: GradeResult, out_dir: Path) -> None:
        raise OSError("disk full")

    paths = [fakes.write(subs, f"{n}.py") for n in ("alice", "bob")]
    summary = run_batch(paths, fakes.grade, out, executor="serial", on_result=hook, progress=False)
    assert summary.graded == 2
    assert [m for _, m in summary.hook_errors] == ["OSError: disk full"] * 2


def test_gradebook_is_written_even_when_the_batch_itself_breaks(subs: Path, out: Path) -> None:
    """An error outside any submission (here: the executor) still leaves a gradebook behind."""

    class Broken:
        name = "broken"

        def run(self, grade_fn: object, tasks: list[object]) -> Iterator[object]:
            raise OSError("cannot fork")
            yield

    with pytest.raises(OSError, match="cannot fork"):
        run_batch([fakes.write(subs, "alice.py")], fakes.grade, out, executor=Broken())  # type: ignore[arg-type]
    assert gradebook(out)["alice"]["status"] == "pending"


def test_duplicate_identities_grade_the_first_only(subs: Path, out: Path) -> None:
    """Two submissions with one identity: the first is graded, the second is a failed row."""
    first = fakes.write(subs, "alice.py")
    second = subs / "alice"
    fakes.write(second, "lab.py")
    summary = run_batch([first, second], fakes.grade, out, executor="serial", progress=False)
    assert (summary.graded, summary.failed) == (1, 1)
    with open(out / "gradebook.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows] == ["graded", "failed"]
    assert "same identity (alice) as alice.py" in rows[1]["reason"]


def test_names_that_normalise_alike_keep_their_own_results(subs: Path, out: Path) -> None:
    """'alice b.py', 'alice_b.ipynb', 'Alice_B.py' and two unicode forms of 'José': each is
    graded into its own result file and row, and a re-run finds each one's own result."""
    names = ["alice b.py", "alice_b.ipynb", "Alice_B.py", "Jos\u00e9.py", "Jose\u0301.py"]
    paths = [fakes.write(subs, name) for name in names]
    cell = {"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": []}
    notebook = {"cells": [cell | {"execution_count": None}], "metadata": {}, "nbformat": 4}
    notebook["nbformat_minor"] = 4
    paths[1].write_text(json.dumps(notebook), encoding="utf-8")
    identities = ["alice b", "alice_b", "Alice_B", "Jos\u00e9", "Jose\u0301"]
    if len({p.name for p in subs.iterdir()}) < len(names):
        pytest.skip("this file system merges names that differ only in case or unicode form")
    summary = run_batch(paths, fakes.grade, out, executor="serial", progress=False)
    assert (summary.graded, summary.failed) == (5, 0), summary.failures
    stored = {
        json.loads(p.read_text())["submission"]["identity"]: p.name
        for p in (out / "results").glob("*.json")
    }
    assert sorted(stored) == sorted(identities)
    assert len({name.casefold() for name in stored.values()}) == 5
    assert [r.identity for r in summary.rows] == identities
    assert [r.status for r in summary.rows] == ["graded"] * 5
    again = run_batch(paths, fakes.grade, out, executor="serial", progress=False)
    assert again.cached == 5 and again.graded == 0


# --- resuming -------------------------------------------------------------------


def test_rerun_grades_only_what_is_missing_or_changed(
    subs: Path, out: Path, tmp_path: Path
) -> None:
    """A second run reuses every fresh result; editing one submission re-grades it alone."""
    count = tmp_path / "count.txt"
    paths = [fakes.write(subs, f"{n}.py", f"# fake: count {count}") for n in ("alice", "bob")]
    first = run_batch(paths, fakes.grade, out, workers=2, progress=False)
    second = run_batch(paths, fakes.grade, out, workers=2, progress=False)
    assert (first.graded, second.graded, second.cached) == (2, 0, 2)
    paths[1].write_text(paths[1].read_text() + "y = 2\n")
    third = run_batch(paths, fakes.grade, out, workers=2, progress=False)
    assert (third.graded, third.cached) == (1, 1)
    assert sorted(lines(count)) == ["alice", "bob", "bob"]


def test_rerun_retries_failures(subs: Path, out: Path, tmp_path: Path) -> None:
    """A submission whose worker died is graded again on the next run."""
    flag = tmp_path / "crash-once"
    flag.write_text("")
    path = fakes.write(subs, "alice.py")
    crashing = functools.partial(crash_if_flag, flag=flag)
    first = run_batch([path], crashing, out, progress=False)
    flag.unlink()
    second = run_batch([path], crashing, out, progress=False)
    assert (first.failed, second.graded) == (1, 1)
    assert gradebook(out)["alice"]["status"] == "graded"


def crash_if_flag(path: Path, flag: Path) -> GradeResult:
    if flag.exists():
        os._exit(9)
    return fakes.grade(path)


def test_a_new_salt_makes_every_result_stale(subs: Path, out: Path) -> None:
    """Changing the rubric (GradeJob's cache_salt) re-grades everything."""
    path = fakes.write(subs, "alice.py")
    job = GradeJob.from_file(fakes.grade_submission, fakes.RUBRIC_PATH)
    edited = GradeJob(fakes.grade_submission, job.rubric_toml + b"\n# edited\n", job.rubric_path)
    run_batch([path], job, out, progress=False)
    assert run_batch([path], job, out, progress=False).cached == 1
    assert run_batch([path], edited, out, progress=False).graded == 1


def test_only_and_regrade(subs: Path, out: Path, tmp_path: Path) -> None:
    """--only grades just the named; --regrade grades the named again although cached."""
    count = tmp_path / "count.txt"
    paths = [fakes.write(subs, f"{n}.py", f"# fake: count {count}") for n in ("alice", "bob")]
    only = run_batch(paths, fakes.grade, out, only=["bob"], executor="serial", progress=False)
    assert (only.graded, only.pending) == (1, 1)
    assert gradebook(out)["alice"]["status"] == "pending"
    rest = run_batch(paths, fakes.grade, out, executor="serial", progress=False)
    again = run_batch(paths, fakes.grade, out, regrade=["bob"], executor="serial", progress=False)
    assert (rest.graded, rest.cached, again.graded, again.cached) == (1, 1, 1, 1)
    assert sorted(lines(count)) == ["alice", "bob", "bob"]


def test_unknown_names_are_refused_with_a_suggestion(subs: Path, out: Path) -> None:
    """--only with a typo names the closest identity instead of grading nothing."""
    paths = [fakes.write(subs, "alice.py")]
    with pytest.raises(ValueError, match=r"no submission is named 'alcie' \(did you mean 'alice'"):
        run_batch(paths, fakes.grade, out, only=["alcie"], progress=False)


def test_an_unpicklable_grade_function_is_refused_clearly(subs: Path, out: Path) -> None:
    """A lambda cannot reach worker processes: a ValueError says what to use instead."""
    with pytest.raises(ValueError, match="cannot be pickled"):
        run_batch([fakes.write(subs, "a.py")], lambda p: fakes.grade(p), out, progress=False)


# --- Ctrl-C -----------------------------------------------------------------------


def test_interrupt_keeps_what_is_done_and_writes_the_gradebook(
    subs: Path, out: Path, tmp_path: Path
) -> None:
    """A KeyboardInterrupt kills running workers; done results stay, the rest are pending rows."""
    pid = tmp_path / "bob.pid"
    quick = fakes.write(subs, "alice.py")
    slow = fakes.write(subs, "bob.py", f"# fake: pid {pid}", "# fake: sleep 20")

    def interrupt(result: GradeResult, out_dir: Path) -> None:
        fakes.wait_for(pid)  # bob's worker is running
        raise KeyboardInterrupt

    summary = run_batch(
        [quick, slow], fakes.grade, out, workers=2, on_result=interrupt, progress=False
    )
    assert summary.interrupted
    assert (summary.graded, summary.pending) == (1, 1)
    assert {r["student"]: r["status"] for r in gradebook(out).values()} == {
        "alice": "graded",
        "bob": "pending",
    }
    assert not fakes.alive(int(pid.read_text()))


def test_a_timeout_kills_the_grade_and_its_children(subs: Path, out: Path, tmp_path: Path) -> None:
    """A timed-out submission's worker and the processes it started are all killed."""
    worker, child = tmp_path / "worker.pid", tmp_path / "child.pid"
    path = fakes.write(
        subs, "eve.py", f"# fake: pid {worker}", f"# fake: spawn {child}", "# fake: sleep 30"
    )
    summary = run_batch([path], fakes.grade, out, timeout=1.0, progress=False)
    assert summary.failed == 1
    pids = [int(worker.read_text()), int(child.read_text())]
    deadline = time.monotonic() + 5
    while any(fakes.alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(fakes.alive(p) for p in pids)


def test_sigint_to_a_running_batch(subs: Path, tmp_path: Path) -> None:
    """A real SIGINT to `grader grade`: exit 130, finished results kept, how to resume printed."""
    for n in ("alice", "bob"):
        fakes.write(subs, f"{n}.py")
    fakes.write(subs, "carol.py", "# fake: sleep 30")
    out = tmp_path / "out"
    driver = tmp_path / "driver.py"
    driver.write_text(
        textwrap.dedent(
            f"""
            import signal

            from grader import cli
            from tests.grader import fakes

            if __name__ == "__main__":
                # As at a terminal: a shell's background job (pytest run with '&')
                # starts with SIGINT ignored, and this driver would inherit that.
                signal.signal(signal.SIGINT, signal.default_int_handler)
                argv = ["grade", {str(subs)!r}, "--rubric", {str(fakes.RUBRIC_PATH)!r},
                        "--out", {str(out)!r}, "--workers", "3", "--no-progress"]
                raise SystemExit(cli.main(argv, grade_fn=fakes.grade_submission))
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(driver)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 20
    while len(list((out / "results").glob("*.json"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 130, stderr
    assert "3 submissions: 2 graded, 1 pending" in stdout
    assert "To grade the rest, run grader grade" in stderr and "again" in stderr
    assert gradebook(out)["carol"]["status"] == "pending"


# --- progress --------------------------------------------------------------------------


def test_progress_bar_draws_on_stderr_when_forced(
    subs: Path, out: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """progress='always' draws a bar with a rate on stderr and nothing on stdout."""
    pytest.importorskip("tqdm", reason="the progress bar needs tqdm")
    run_batch(
        [fakes.write(subs, "alice.py")], fakes.grade, out, executor="serial", progress="always"
    )
    captured = capfd.readouterr()
    assert "1/1" in captured.err and "sub/s" in captured.err
    assert captured.out == ""


def test_no_progress_bar_without_a_terminal(
    subs: Path, out: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """progress=True stays silent when stderr is not a terminal (CI logs, files)."""
    run_batch([fakes.write(subs, "alice.py")], fakes.grade, out, executor="serial", progress=True)
    assert capfd.readouterr().err == ""


# --- executors agree ----------------------------------------------------------------------


def test_serial_and_local_store_the_same_results(subs: Path, tmp_path: Path) -> None:
    """The in-process and the supervised executors store identical results for the same work."""
    paths = [
        fakes.write(subs, "alice.py", "# fake: fail grad_hidden"),
        fakes.write(subs, "bob.py", "# fake: raise"),
        fakes.write(subs, "carol.py", "# fake: ungradable empty"),
    ]
    job = GradeJob.from_file(fakes.grade_submission, fakes.RUBRIC_PATH)
    run_batch(paths, job, tmp_path / "serial", executor="serial", progress=False)
    run_batch(paths, job, tmp_path / "local", executor=LocalExecutor(workers=2), progress=False)
    assert fakes.stored_results(tmp_path / "serial") == fakes.stored_results(tmp_path / "local")


# --- the parent collects rows; the workers write -------------------------------------------


class _Recording:
    """A pool executor that keeps every Outcome the parent receives."""

    name = "pool"
    stores_in_worker = True

    def __init__(self) -> None:
        self.inner = PoolExecutor(2, timeout=20.0)
        self.seen: list[Outcome] = []

    def run(self, grade_fn: GradeFn, tasks: Sequence[Task]) -> Iterator[Outcome]:
        for outcome in self.inner.run(grade_fn, tasks):
            self.seen.append(outcome)
            yield outcome


def test_workers_store_results_and_reports_and_the_parent_gets_small_rows(
    subs: Path, tmp_path: Path
) -> None:
    """run_batch alone (no CLI) leaves each result and report; the parent hears a row view:
    no evidence, no comparisons (the hidden check's expected values stay in the file)."""
    paths = [
        fakes.write(subs, "alice.py", "# fake: fail grad_hidden"),
        fakes.write(subs, "bob.py"),
        fakes.write(subs, "carol.py", "# fake: ungradable empty"),
    ]
    job = GradeJob.from_file(fakes.grade_submission, fakes.RUBRIC_PATH)
    executor = _Recording()
    out = tmp_path / "out"
    summary = run_batch(
        paths,
        job,
        out,
        executor=executor,
        progress=False,
        outputs=BatchOutputs(),
        rubric=fakes.RUBRIC,
    )
    assert summary.hook_errors == ()
    assert sorted(o.task.identity for o in executor.seen) == ["alice", "bob", "carol"]
    for outcome in executor.seen:
        assert outcome.stored and outcome.result is not None
        file = out / "results" / f"{outcome.task.identity}.json"
        stored = json.loads(file.read_text())
        row_text = json.dumps(outcome.result)
        assert len(row_text) <= len(json.dumps(stored))
        assert all(not c["comparisons"] and not c["evidence"] for c in outcome.result["checks"])
        assert fakes.SECRET not in row_text
        assert outcome.result["provenance"]["batch"] == stored["provenance"]["batch"]
        for ext in ("html", "md"):
            assert (out / "reports" / f"{outcome.task.identity}.{ext}").is_file()
    assert len(json.dumps(next(o.result for o in executor.seen if o.task.identity == "alice"))) < (
        (out / "results" / "alice.json").stat().st_size / 2
    )
    assert any(
        c["comparisons"] for c in json.loads((out / "results" / "alice.json").read_text())["checks"]
    )
    assert summary.class_page == out / "summary.html"
    assert "reports/alice.html" in summary.class_page.read_text()
    by_student = {r["student"]: r for r in gradebook(out).values()}
    assert by_student["carol"]["status"] == "ungradable"
    assert float(by_student["bob"]["total"]) == fakes.RUBRIC.max_points


def test_run_batch_writes_canvas_from_its_settings(subs: Path, tmp_path: Path) -> None:
    """The library writes canvas.csv as the command does, points possible from the rubric."""
    paths = [fakes.write(subs, "alice.py")]
    job = GradeJob.from_file(fakes.grade_submission, fakes.RUBRIC_PATH)
    outputs = BatchOutputs(reports=(), class_page=False, canvas=CanvasExport("Lab 3", "12345"))
    summary = run_batch(
        paths,
        job,
        tmp_path / "out",
        executor="serial",
        progress=False,
        outputs=outputs,
        rubric=fakes.RUBRIC,
    )
    assert summary.canvas is not None and summary.class_page is None
    lines = summary.canvas.read_text().splitlines()
    assert "Lab 3 (12345)" in lines[0] and f"{fakes.RUBRIC.max_points:g}" in lines[1]
    assert not (tmp_path / "out" / "reports").exists()


def test_a_rewritten_file_of_the_same_size_is_graded_again(subs: Path, out: Path) -> None:
    """The identity memo (a cached re-run loads no notebook) never hides an edit: a file
    rewritten with other bytes of the same length gets a new key and is graded again."""
    path = fakes.write(subs, "alice.py", "# fake: fail grad_hidden")
    first = run_batch([path], fakes.grade, out, executor="serial", progress=False)
    again = run_batch([path], fakes.grade, out, executor="serial", progress=False)
    assert (first.graded, again.cached) == (1, 1)
    assert (out / ".identities.json").is_file()
    text = path.read_text()
    path.write_text(text.replace("fail grad_hidden", "fail grad_output"))
    assert len(path.read_text()) == len(text)
    edited = run_batch([path], fakes.grade, out, executor="serial", progress=False)
    assert (edited.graded, edited.cached) == (1, 0)


# --- the library does what the command does --------------------------------------


def _tree(folder: Path) -> dict[str, object]:
    """Every file under ``folder`` by its relative path: its bytes, or for a stored result
    its JSON without the batch record's clock readings (when it finished, how long it took)."""
    files: dict[str, object] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel.startswith("results/"):
            result = json.loads(path.read_text(encoding="utf-8"))
            for clock in ("finished_at", "seconds"):
                result["provenance"]["batch"].pop(clock, None)
            files[rel] = result
        else:
            files[rel] = path.read_bytes()
    return files


def test_grade_class_writes_what_grader_grade_writes(subs: Path, tmp_path: Path) -> None:
    """The Python API (grade_class) and the command, on the same two submissions and a
    note beside them: the same files with the same contents (results, both reports of each
    student, gradebook, summary.md, class page, Canvas CSV), the note skipped by both."""
    from grader import cli
    from grader.batch import grade_class

    fakes.write(subs, "alice.py", "# fake: fail grad_hidden")
    fakes.write(subs, "bob.py")
    (subs / "README.md").write_text("the instructor's notes\n", encoding="utf-8")
    by_cli, by_library = tmp_path / "cli", tmp_path / "library"
    argv = ["grade", str(subs), "--rubric", str(fakes.RUBRIC_PATH), "--out", str(by_cli)]
    argv += ["--serial", "--no-progress", "--canvas-assignment", "Lab 3"]
    assert cli.main(argv, grade_fn=fakes.grade_submission) == 0
    summary = grade_class(
        subs,
        fakes.RUBRIC_PATH,
        by_library,
        grade=fakes.grade_submission,
        executor="serial",
        progress=False,
        outputs=BatchOutputs(canvas=CanvasExport("Lab 3")),
    )
    assert (summary.graded, summary.skipped) == (
        2,
        (("README.md", "a .md file, not a submission"),),
    )
    ours, theirs = _tree(by_library), _tree(by_cli)
    assert sorted(ours) == sorted(theirs)
    assert {"reports/alice.html", "reports/bob.md", "summary.html", "canvas.csv"} <= set(ours)
    for rel, data in theirs.items():
        assert ours[rel] == data, rel
    heading = f"# Class summary: {fakes.RUBRIC.assignment.title}".encode()
    assert isinstance(ours["summary.md"], bytes) and heading in ours["summary.md"]


def test_grade_class_refuses_what_the_command_refuses(subs: Path, tmp_path: Path) -> None:
    """Bad input is a ValueError naming it, before anything is written: an output path that
    is a file, a folder with nothing to grade, a limit below the rubric's own."""
    from grader.batch import grade_class

    (subs / "notes.md").write_text("nothing to grade\n", encoding="utf-8")
    with pytest.raises(ValueError, match="holds no submissions"):
        grade_class(subs, fakes.RUBRIC_PATH, tmp_path / "out", grade=fakes.grade_submission)
    a_file = tmp_path / "taken"
    a_file.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="is a file"):
        grade_class(subs, fakes.RUBRIC_PATH, a_file, grade=fakes.grade_submission)
    fakes.write(subs, "alice.py")
    with pytest.raises(ValueError, match="shorter than this rubric's own limits"):
        grade_class(
            subs, fakes.RUBRIC_PATH, tmp_path / "out", grade=fakes.grade_submission, timeout=0.5
        )
    assert not (tmp_path / "out").exists()
