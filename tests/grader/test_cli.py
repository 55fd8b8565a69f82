"""grader.cli with the fake pipeline injected; the examples (workflow, Gradescope scripts)."""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest

from grader import cli
from grader.kit_check import MANIFEST
from tests.grader import fakes

ROOT = Path(__file__).parents[2]
BAD_RUBRIC = ROOT / "tests" / "grader" / "fixtures" / "rubrics" / "unknown_check_key.toml"
RUBRIC = str(fakes.RUBRIC_PATH)


def run(argv: list[str]) -> int:
    return cli.main(argv, grade_fn=fakes.grade_submission)


def one_line_error(err: str) -> str:
    """The error output, asserted to be a single line and no traceback."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("grader: error: ")
    return lines[0]


# --- check -------------------------------------------------------------------------


def test_check_passes_with_exit_0(subs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every public check passing exits 0 and prints the report."""
    path = fakes.write(subs, "alice.py")
    assert run(["check", str(path), "--rubric", RUBRIC, "--color", "never"]) == 0
    assert "alice" in capsys.readouterr().out


def test_check_runs_public_checks_only(subs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A failing hidden check does not count: the student's check never runs it."""
    path = fakes.write(subs, "alice.py", "# fake: fail grad_penalty")
    assert run(["check", str(path), "--rubric", RUBRIC, "--color", "never"]) == 0
    assert fakes.SECRET not in capsys.readouterr().out


def test_check_picks_a_folder_s_notebook_by_the_rubric_s_rule(
    subs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder with a scratch copy beside the lab notebook is checked, as the instructor's
    grading would pick it (the rubric's submission_file), instead of refused."""
    rubric = tmp_path / "rubric.toml"
    text = fakes.RUBRIC_PATH.read_text()
    assert "[assignment]\n" in text
    rubric.write_text(
        text.replace("[assignment]\n", '[assignment]\nsubmission_file = "lab3*.ipynb"\n', 1)
    )
    folder = subs / "alice"
    folder.mkdir()
    for name in ("lab3.ipynb", "scratch.ipynb"):
        nbformat.write(
            nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), folder / name
        )
    assert run(["check", str(folder), "--rubric", str(rubric), "--color", "never"]) in (0, 1)
    assert "holds 2 notebooks" not in capsys.readouterr().err


def test_check_failing_public_check_exits_1(subs: Path) -> None:
    """A failing public check exits 1."""
    path = fakes.write(subs, "bob.py", "# fake: fail grad_hidden")
    assert run(["check", str(path), "--rubric", RUBRIC, "--color", "never"]) == 1


def test_check_uses_the_kit_folder(
    subs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--kit DIR (or the current folder) supplies the kit's rubric.toml."""
    kit = tmp_path / "kit"
    kit.mkdir()
    (kit / "rubric.toml").write_bytes(fakes.RUBRIC_PATH.read_bytes())
    path = fakes.write(subs, "alice.py")
    assert run(["check", str(path), "--kit", str(kit), "--color", "never"]) == 0
    monkeypatch.chdir(kit)
    assert run(["check", str(path), "--color", "never"]) == 0


def test_check_reads_a_kit_manifest_before_the_rubric(
    subs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder with kit.json is graded from the kit: a damaged manifest is bad input, exit 2."""
    kit = tmp_path / "kit"
    kit.mkdir()
    (kit / "rubric.toml").write_bytes(fakes.RUBRIC_PATH.read_bytes())
    (kit / MANIFEST).write_text('{"format": "not-a-kit"}', encoding="utf-8")
    path = fakes.write(subs, "alice.py")
    assert run(["check", str(path), "--kit", str(kit), "--color", "never"]) == 2
    assert "kit.json" in one_line_error(capsys.readouterr().err)


def test_check_writes_html(subs: Path, tmp_path: Path) -> None:
    """--html writes the lead's HTML report of the result."""
    out = tmp_path / "report.html"
    run(["check", str(fakes.write(subs, "alice.py")), "--rubric", RUBRIC, "--html", str(out)])
    assert out.read_text().lstrip().lower().startswith("<!doctype html")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "missing.ipynb", "--rubric", RUBRIC], "missing.ipynb does not exist"),
        (["check", "{sub}", "--rubric", str(BAD_RUBRIC)], "unknown_check_key.toml"),
        (["check", "{sub}", "--kit", "{tmp}"], "no rubric.toml in kit folder"),
        (["check", "{pdf}", "--rubric", RUBRIC], "report.pdf has the unsupported extension"),
        (["grade", "{tmp}/nope", "--rubric", RUBRIC, "--out", "{tmp}/o"], "nope does not exist"),
        (["grade-one", "{sub}", "--rubric", "{tmp}/r.toml"], "r.toml does not exist"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(
    argv: list[str],
    message: str,
    subs: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Missing files, a rubric that fails validation, a non-submission: exit 2, one line."""
    pdf = subs / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    sub = fakes.write(subs, "alice.py")
    filled = [a.format(sub=sub, tmp=tmp_path, pdf=pdf) for a in argv]
    assert run(filled) == 2
    assert message in one_line_error(capsys.readouterr().err)


def test_help_has_examples_for_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    """Each command's --help ends with runnable examples."""
    for command in ("check", "kit", "grade", "grade-one", "gradescope"):
        with pytest.raises(SystemExit) as exit_info:
            cli.main([command, "--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        assert "examples:" in text and f"grader {command} " in text


def test_python_dash_m_grader_runs() -> None:
    """`python -m grader --help` works (the __main__ module)."""
    done = subprocess.run(
        [sys.executable, "-m", "grader", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0
    assert "grade-one" in done.stdout


# --- grade ----------------------------------------------------------------------------


def test_grade_writes_everything_and_says_where(
    subs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The batch writes results, gradebook, summary and Canvas CSV, and prints their paths."""
    fakes.write(subs, "alice.py")
    fakes.write(subs, "bob.py", "# fake: fail grad_hidden")
    (subs / "carol.pdf").write_bytes(b"%PDF-1.4")  # not a submission: still a row
    out = tmp_path / "out"
    code = run(
        [
            *("grade", str(subs), "--rubric", RUBRIC, "--out", str(out), "--workers", "2"),
            *("--no-progress", "--canvas-assignment", "Lab 3", "--canvas-id", "77"),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    for name in ("gradebook.csv", "summary.md", "canvas.csv", "results"):
        assert name in printed
        assert (out / name).exists()
    with open(out / "gradebook.csv", newline="") as handle:
        book = {r["student"]: r for r in csv.DictReader(handle)}
    assert set(book) == {"alice", "bob", "carol"}
    assert book["carol"]["status"] == "ungradable"
    with open(out / "canvas.csv", newline="") as handle:
        assert next(csv.reader(handle))[-1] == "Lab 3 (77)"


def test_grade_reports_failures_and_exits_1(
    subs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A submission whose grading failed is listed on stderr and the exit status is 1."""
    fakes.write(subs, "alice.py")
    fakes.write(subs, "bob.py", "# fake: exit 4")
    code = run(["grade", str(subs), "--rubric", RUBRIC, "--out", str(tmp_path / "o")])
    assert code == 1
    assert "bob: the grading worker died" in capsys.readouterr().err


def test_grade_only_with_unknown_name_exits_2(
    subs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--only naming nobody is bad input with a suggestion."""
    fakes.write(subs, "alice.py")
    argv = ["grade", str(subs), "--rubric", RUBRIC, "--out", str(tmp_path / "o"), "--only", "alcie"]
    assert run(argv) == 2
    assert "did you mean 'alice'" in one_line_error(capsys.readouterr().err)


def test_grade_regrade_all_ignores_the_cache(subs: Path, tmp_path: Path) -> None:
    """--regrade-all grades every submission again."""
    count = tmp_path / "count.txt"
    fakes.write(subs, "alice.py", f"# fake: count {count}")
    argv = ["grade", str(subs), "--rubric", RUBRIC, "--out", str(tmp_path / "o"), "--serial"]
    run(argv)
    run(argv)
    run([*argv, "--regrade-all"])
    assert count.read_text().split() == ["alice", "alice"]


def test_grade_with_dask_missing_is_a_clear_error(
    subs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--scheduler without Dask installed names the package to install."""
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if absent
    fakes.write(subs, "alice.py")
    argv = ["grade", str(subs), "--rubric", RUBRIC, "--out", str(tmp_path / "o")]
    assert run([*argv, "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert 'pip install "dask[distributed]"' in one_line_error(capsys.readouterr().err)


def test_grade_skips_notes_and_never_grades_its_own_out_folder(
    subs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A class folder with a README, a roster and --out inside it: only students are graded,
    and the listing says once what it left out, on every run."""
    fakes.write(subs, "alice.py")
    (subs / "README.md").write_text("# Lab 3\n")
    (subs / "roster.csv").write_text("student\nalice\n")
    argv = ["grade", str(subs), "--rubric", RUBRIC, "--out", str(subs / "graded"), "--serial"]
    assert run(argv) == 0
    assert run([*argv, "--regrade-all"]) == 0  # the second run finds graded/ in the folder
    printed = capsys.readouterr().out
    assert "not graded: README.md (a .md file, not a submission)" in printed
    assert "not graded: roster.csv (a .csv file, not a submission)" in printed
    assert "not graded: graded (the output folder of this run)" in printed
    with open(subs / "graded" / "gradebook.csv", newline="") as handle:
        assert [r["student"] for r in csv.DictReader(handle)] == ["alice"]


@pytest.mark.parametrize("value", ["-5", "nan", "soon"])
def test_grade_refuses_a_timeout_that_is_not_a_time(
    value: str, subs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A negative, NaN or non-numeric --timeout is bad input, exit 2, naming the option."""
    fakes.write(subs, "alice.py")
    argv = ["grade", str(subs), "--rubric", RUBRIC, "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as exit_info:
        run([*argv, "--timeout", value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --timeout" in err and value in err
    assert not (tmp_path / "o").exists()


def test_grade_refuses_a_timeout_shorter_than_the_probes_own(
    subs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A batch limit below the rubric's probe limits would blame the grader for a student's
    loop: refused with the smallest limit that works; that limit itself is accepted."""
    from grader.plan import time_bound
    from grader.sandbox import Limits

    fakes.write(subs, "alice.py")
    bound = time_bound(fakes.RUBRIC, Limits())
    argv = ["grade", str(subs), "--rubric", RUBRIC, "--out", str(tmp_path / "o"), "--serial"]
    assert run([*argv, "--timeout", str(bound - 1)]) == 2
    message = one_line_error(capsys.readouterr().err)
    assert "shorter than this rubric's own limits" in message
    assert f"--timeout {math.ceil(bound)} or more, or 0 for no limit" in message
    assert run([*argv, "--timeout", str(math.ceil(bound))]) == 0
    assert run([*argv, "--timeout", "0"]) == 0


def test_grade_out_naming_a_file_says_so(
    subs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out pointing at an existing file: one sentence naming it, not "File exists"."""
    fakes.write(subs, "alice.py")
    target = tmp_path / "grades.csv"
    target.write_text("student\n")
    assert run(["grade", str(subs), "--rubric", RUBRIC, "--out", str(target)]) == 2
    assert f"--out {target} is a file; it must name a folder" in one_line_error(
        capsys.readouterr().err
    )


def test_grade_only_takes_file_names_and_reports_every_unknown_name(
    subs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--only alice.py selects alice; two unknown names are both reported in one sentence."""
    fakes.write(subs, "alice.py")
    fakes.write(subs, "bob.py")
    out = tmp_path / "o"
    argv = ["grade", str(subs), "--rubric", RUBRIC, "--out", str(out), "--serial"]
    assert run([*argv, "--only", str(subs / "alice.py")]) == 0
    assert "selected:   alice" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "results").iterdir()) == ["alice.json"]
    assert run([*argv, "--only", "alcie", "zed.ipynb"]) == 2
    message = one_line_error(capsys.readouterr().err)
    assert "'alcie' (did you mean 'alice'?)" in message and "'zed.ipynb'" in message


def test_grade_only_on_a_cached_folder_says_what_it_selected(
    subs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--only on a folder graded before: it names the selection and that the result was kept."""
    fakes.write(subs, "alice.py")
    fakes.write(subs, "bob.py")
    argv = ["grade", str(subs), "--rubric", RUBRIC, "--out", str(tmp_path / "o"), "--serial"]
    assert run(argv) == 0
    capsys.readouterr()
    assert run([*argv, "--only", "alice"]) == 0
    printed = capsys.readouterr().out
    assert "selected:   alice\n" in printed
    assert "kept the stored result of alice" in printed and "--regrade alice" in printed


def test_version_and_bare_command_help_a_newcomer() -> None:
    """`grader --version` prints the version; bare `grader` prints the full help, not a usage
    line: every command with what it does."""
    import grader

    done = subprocess.run(
        [sys.executable, "-m", "grader", "--version"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0 and done.stdout.strip() == f"grader {grader.__version__}"
    bare = subprocess.run(
        [sys.executable, "-m", "grader"], capture_output=True, text=True, cwd=ROOT
    )
    assert bare.returncode == 2
    for command in ("check", "kit", "grade", "grade-one"):
        assert f"\n    {command}" in bare.stdout
    assert "grade a folder of submissions" in bare.stdout and "--version" in bare.stdout


def test_every_option_of_every_command_has_help() -> None:
    """No option or argument is left without a help text (--rubric, --out, --color, ...)."""
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [
        f"{name} {action.dest}"
        for name, sub in commands.choices.items()
        for action in sub._actions
        if not action.help
    ]
    assert missing == []


# --- grade-one --------------------------------------------------------------------------


def test_grade_one_writes_gradescope_junit_and_json(subs: Path, tmp_path: Path) -> None:
    """All three files are written; the JSON is the full result, the others public."""
    path = fakes.write(subs, "alice.py", "# fake: fail grad_penalty")
    gs, junit, full = tmp_path / "results.json", tmp_path / "junit.xml", tmp_path / "r.json"
    argv = ["grade-one", str(path), "--rubric", RUBRIC, "--gradescope", str(gs)]
    assert run([*argv, "--junit", str(junit), "--json", str(full)]) == 0
    doc = json.loads(gs.read_text())
    assert doc["score"] == 6.0 and len(doc["tests"]) == 4 + 1  # 4 checks and the summary
    assert fakes.SECRET not in gs.read_text() + junit.read_text()
    assert ET.fromstring(junit.read_text()).find("testsuite").get("failures") == "1"  # type: ignore[union-attr]
    assert fakes.SECRET in full.read_text()  # the instructor's JSON keeps everything


def test_grade_one_strict_fails_on_any_unpassed_check(subs: Path) -> None:
    """--strict exits 1 unless every check passed; without it the exit is 0."""
    path = str(fakes.write(subs, "bob.py", "# fake: fail grad_hidden"))
    assert run(["grade-one", path, "--rubric", RUBRIC]) == 0
    assert run(["grade-one", path, "--rubric", RUBRIC, "--strict"]) == 1


def test_grade_one_answers_gradescope_even_for_a_bad_upload(tmp_path: Path) -> None:
    """A missing submission still yields a results.json with score 0 and the reason."""
    gs = tmp_path / "results.json"
    missing = tmp_path / "submission"
    assert run(["grade-one", str(missing), "--rubric", RUBRIC, "--gradescope", str(gs)]) == 0
    doc = json.loads(gs.read_text())
    assert doc["score"] == 0.0 and "does not exist" in doc["output"]


def test_grade_one_survives_a_grader_crash(subs: Path, tmp_path: Path) -> None:
    """A pipeline exception still writes results.json (score 0) and exits 1."""
    gs = tmp_path / "results.json"
    path = str(fakes.write(subs, "dan.py", "# fake: raise"))
    assert run(["grade-one", path, "--rubric", RUBRIC, "--gradescope", str(gs)]) == 1
    assert "fake grader bug" in json.loads(gs.read_text())["output"]


# --- kit ---------------------------------------------------------------------------------


def test_kit_calls_the_kit_builder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`grader kit` validates the rubric and hands it to grader.kit.build_kit."""
    calls: list[tuple[Path, Path]] = []

    def build_kit(rubric: Path, out: Path) -> Path:
        calls.append((rubric, out))
        return out

    fake_kit = types.ModuleType("grader.kit")
    fake_kit.build_kit = build_kit  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "grader.kit", fake_kit)
    assert run(["kit", "--rubric", RUBRIC, "--out", str(tmp_path / "kit")]) == 0
    assert calls == [(Path(RUBRIC), tmp_path / "kit")]
    assert run(["kit", "--rubric", str(BAD_RUBRIC), "--out", str(tmp_path / "kit")]) == 2


def test_grade_one_memory_sets_the_sandbox_limit() -> None:
    """--memory MB becomes each sandboxed process's address-space limit; 0 is refused."""
    args = cli.build_parser().parse_args(
        ["grade-one", "x.ipynb", "--rubric", "r", "--memory", "512"]
    )
    assert args.memory == 512
    assert cli._settings(memory_mb=args.memory).limits.memory_bytes == 512 << 20
    assert cli._settings().limits.memory_bytes > 512 << 20  # the default is left alone
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["grade-one", "x", "--rubric", "r", "--memory", "0"])


def test_gradescope_builds_the_autograder_zip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """grader gradescope writes the zip with the scripts, the rubric and one wheel."""
    import zipfile

    out = tmp_path / "autograder.zip"
    assert run(["gradescope", "--rubric", RUBRIC, "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    names = zipfile.ZipFile(out).namelist()
    assert sorted(n for n in names if not n.endswith(".whl")) == [
        "rubric.toml",
        "run_autograder",
        "setup.sh",
    ]
    assert len([n for n in names if n.startswith("mlp_grader-") and n.endswith(".whl")]) == 1


def test_gradescope_refuses_a_broken_rubric_or_wheel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rubric that fails validation, or a file that is no wheel: exit 2, one sentence."""
    out = tmp_path / "autograder.zip"
    assert run(["gradescope", "--rubric", str(BAD_RUBRIC), "--out", str(out)]) == 2
    assert "unknown_check_key.toml" in one_line_error(capsys.readouterr().err)
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    assert run(["gradescope", "--rubric", RUBRIC, "--out", str(out), "--wheel", str(notes)]) == 2
    assert "is not a mlp_grader wheel file" in one_line_error(capsys.readouterr().err)
    assert not out.exists()


# --- examples -----------------------------------------------------------------------------


def test_github_workflow_is_valid_and_complete() -> None:
    """The workflow parses, grades, uploads an artifact and writes the job summary."""
    yaml = pytest.importorskip("yaml", reason="parsing the workflow needs PyYAML")
    text = (ROOT / "examples" / "github-actions" / "grade.yml").read_text()
    workflow = yaml.safe_load(text)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert "workflow_dispatch" in triggers
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "grader grade " in runs and "grader check " in runs
    assert runs.count('>> "$GITHUB_STEP_SUMMARY"') == 2
    assert sum(s.get("uses", "").startswith("actions/upload-artifact@") for s in steps) == 2
    for job in workflow["jobs"].values():
        assert job["runs-on"] and job["steps"][0]["uses"].startswith("actions/checkout@")


def test_workflow_commands_parse_with_our_cli() -> None:
    """Every grader command line in the workflow is accepted by the parser."""
    yaml = pytest.importorskip("yaml", reason="parsing the workflow needs PyYAML")
    text = (ROOT / "examples" / "github-actions" / "grade.yml").read_text()
    parser = cli.build_parser()
    for step in (s for j in yaml.safe_load(text)["jobs"].values() for s in j["steps"]):
        for line in step.get("run", "").replace("\\\n", " ").splitlines():
            if line.strip().startswith("grader "):
                parser.parse_args(line.replace('"', "").split()[1:])


def test_gradescope_scripts() -> None:
    """run_autograder runs the documented grade-one command; both scripts are valid bash."""
    folder = ROOT / "examples" / "gradescope"
    script = (folder / "run_autograder").read_text().replace("\\\n", " ")
    # the parent writes into a private folder; the script moves the file into results/
    assert (
        " ".join(script.split()).count(
            '-m grader grade-one "$root/submission" --rubric "$root/source/rubric.toml" '
            '--gradescope "$private/results.json"'
        )
        == 1
    )
    assert 'root="${AUTOGRADER_ROOT:-/autograder}"' in script
    assert 'mv -f -- "$private/results.json" "$root/results/results.json"' in script
    for name in ("run_autograder", "setup.sh"):
        assert subprocess.run(["bash", "-n", str(folder / name)]).returncode == 0
        assert (folder / name).stat().st_mode & 0o111  # executable
    assert "pip install" not in script  # nothing is installed at grade time


def test_grade_one_imports_no_report_or_batch_machinery(tmp_path: Path) -> None:
    """A cold grade-one without a report asked for loads neither jinja2 nor the report
    renderers, nor tqdm, Dask, nbclient or the service's SQLAlchemy; with --markdown the
    lazy renderer still works."""
    heavy = ("jinja2", "tqdm", "dask", "distributed", "nbclient", "grader.report.html")
    heavy += ("sqlalchemy",)  # the service's parser: grade-one's parser lists "serve" only
    probe = (
        "import sys\n"
        "from grader.cli import main\n"
        "code = main(sys.argv[1:])\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
        "raise SystemExit(code)\n"
    )
    notebook = ROOT / "submissions" / "correct" / "template_ok.ipynb"
    rubric = ROOT / "rubrics" / "mlp_backprop.toml"
    args = ["grade-one", str(notebook), "--rubric", str(rubric)]
    plain = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines()[-1] == "[]"
    report = tmp_path / "report.md"
    asked = subprocess.run(
        [sys.executable, "-c", probe, *args, "--markdown", str(report)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert asked.returncode == 0, asked.stderr
    assert report.is_file()


@pytest.mark.parametrize(("given", "used"), [(None, "1"), ("3", "3")])
def test_the_grader_runs_one_blas_thread_unless_told(given: str | None, used: str) -> None:
    """Every command sets one BLAS thread before numpy loads (its workers inherit it), and
    keeps a count the user chose."""
    probe = (
        "import contextlib, io, os\n"
        "from grader.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--version'])\n"
        "print(os.environ['OPENBLAS_NUM_THREADS'], 'numpy' in __import__('sys').modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert shown.stdout.split() == [used, "False"], shown.stderr  # numpy not loaded yet


def test_the_program_ends_a_grade_one_with_its_output_and_status(tmp_path: Path) -> None:
    """``python -m grader grade-one`` (grader.cli.run) skips the interpreter's teardown: every
    line is still printed, the JSON written, the sandbox's worker closed (its folder gone),
    the status kept."""
    notebook = ROOT / "submissions" / "correct" / "template_ok.ipynb"
    rubric = ROOT / "rubrics" / "mlp_backprop.toml"
    out = tmp_path / "result.json"
    temp = tmp_path / "temp"  # where the worker's folder is made, and must be gone after
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    command = [sys.executable, "-m", "grader", "grade-one", str(notebook), "--rubric", str(rubric)]
    done = subprocess.run(
        [*command, "--json", str(out)], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert done.returncode == 0, done.stderr
    score, tier = done.stdout.strip().splitlines()[-2:]
    result = json.loads(out.read_text())
    assert (
        score == f"template_ok: {result['score']['points']:g} / {result['score']['max_points']:g}"
    )
    assert tier.strip()
    assert list(temp.iterdir()) == []
    bad = subprocess.run(
        [*command[:-1], str(tmp_path / "absent.toml")], capture_output=True, text=True, cwd=ROOT
    )
    assert bad.returncode == 2 and "absent.toml does not exist" in bad.stderr
