"""The student kit: built from a rubric, it holds no reference code and nothing hidden,
and grades offline (``reference`` not importable) with the instructor's verdicts.

The offline runs are subprocesses started in the kit folder with ``reference``
blocked (``sys.modules["reference"] = None``) and the kit's own grader first on
``sys.path``; they grade our own sample submissions in the real sandbox (plain tier).
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pytest

import reference
from grader import cli
from grader import plan as plan_module
from grader.adapters.binding import AdapterBinding
from grader.batch import GradeJob
from grader.contract import MISCONCEPTION_KINDS
from grader.grade import GradeSettings, grade_submission
from grader.kit import build_kit, public_rubric_toml
from grader.kit_check import (
    EXPECTATIONS,
    MANIFEST,
    PROBE_MODULE,
    KitError,
    grade_with_kit,
    load_kit,
)
from grader.plan import ReferencePlan, make_plan
from grader.reference_oracle import ReferenceOracle, reference_expectations
from grader.results import GradeResult
from grader.rubric import AS_WRITTEN, Rubric, read_rubric
from grader.rubric_file import load_rubric, parse_rubric
from reference import network
from reference.misconceptions import KINDS
from reference.misconceptions import gradients as gradient_misconceptions

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_RUBRIC = ROOT / "rubrics" / "mlp_backprop.toml"
COURSE_RUBRIC = ROOT / "rubrics" / "mlp_backprop_course.toml"
TEMPLATE_OK = ROOT / "submissions" / "correct" / "template_ok.ipynb"
TEMPLATE_SRC = ROOT / "submissions" / "src" / "template_ok.py"
COURSE_OK = ROOT / "submissions" / "correct" / "course_separate_ok.ipynb"
HIDDEN_DERIVATIVE = "A[l - 1] * (1 - A[l - 1]) * "  # the hidden layer's sigmoid derivative
SETTINGS = GradeSettings(tier="plain")

# Run in the kit folder: reference blocked, the kit's grader first; grade the submission
# once with grade_with_kit (its result as JSON) and once through the kit's check.py.
OFFLINE = """
import json, runpy, sys
sys.modules["reference"] = None
sys.path.insert(0, ".")
submission, out = sys.argv[1], sys.argv[2]
from grader.kit_check import grade_with_kit
from grader.pipeline import GradeSettings
result = grade_with_kit(submission, ".", GradeSettings(tier="plain"))
import grader
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("grader", "reference") and sys.modules[m] is not None)
with open(out, "w") as f:
    json.dump({"result": result.to_dict(), "grader": grader.__file__, "modules": loaded}, f)
sys.argv = ["check.py", submission, "--color", "never"]
runpy.run_path("check.py", run_name="__main__")
"""


@pytest.fixture(scope="module")
def rubric() -> Rubric:
    return load_rubric(TEMPLATE_RUBRIC)


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_kit(TEMPLATE_RUBRIC, tmp_path_factory.mktemp("kit") / "mlp-kit")


def _files(kit: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(kit.rglob("*")) if p.is_file()}


def _verdicts(result: GradeResult) -> list[tuple[str, str, float, str | None, str | None]]:
    """Per check: id, status, points, diagnosed misconception or convention, accepted convention."""
    return [
        (
            c.check_id,
            c.status,
            c.points,
            c.diagnosis.name if c.diagnosis else None,
            c.convention,
        )
        for c in result.checks
    ]


def _offline(
    kit: Path, submission: Path, out: Path
) -> tuple[subprocess.CompletedProcess[str], dict]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["GRADER_SANDBOX"] = "plain"
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE, str(submission), str(out)],
        cwd=kit,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.is_file(), done.stderr
    return done, json.loads(out.read_text(encoding="utf-8"))


def _code_lines(function: object) -> list[str]:
    """The statements of a function's body as source lines (no docstring, no comments)."""
    source = inspect.getsource(function)  # type: ignore[arg-type]
    source = textwrap.dedent(source)
    tree = ast.parse(source)
    fn = tree.body[0]
    assert isinstance(fn, ast.FunctionDef)
    body = fn.body[1:] if isinstance(fn.body[0], ast.Expr) else fn.body
    lines = source.splitlines()
    out = []
    for st in body:
        for n in range(st.lineno, (st.end_lineno or st.lineno) + 1):
            text = lines[n - 1].split("#")[0].strip()
            if len(text) >= 20:
                out.append(text)
    return out


# ---------------------------------------------------------------------------
# What the kit holds


def test_the_kit_holds_no_reference_code(kit: Path) -> None:
    """No reference folder or file, no instructor-only module, no line of the reference's back-propagation."""
    files = _files(kit)
    assert all("reference" not in p.relative_to(kit).parts for p in files)
    ref_files = {p.read_bytes() for p in Path(reference.__file__).parent.rglob("*.py")}
    assert not ref_files & set(files.values())
    for name in ("grade", "plan", "probes", "expectations", "kit", "rubric_file", "cli"):
        assert not (kit / "grader" / f"{name}.py").exists(), name
    backprop = [
        network.forward,
        network.output_delta,
        network.hidden_delta,
        network.weight_gradient,
        network.bias_gradient,
        network.backprop,
        network.gradients,
    ]
    backprop += [
        f
        for _, f in inspect.getmembers(gradient_misconceptions, inspect.isfunction)
        if f.__module__ == gradient_misconceptions.__name__
    ]
    lines = {line for f in backprop for line in _code_lines(f)}
    assert len(lines) > 20  # the scan has something to find
    text = {p: data.decode("utf-8", "replace") for p, data in files.items()}
    leaks = sorted((line, p.name) for line in lines for p, t in text.items() if line in t)
    assert leaks == []


# In a fresh interpreter: no site (-S: no .pth, so no editable install of the grader),
# isolated (-I: no PYTHONPATH), the kit first and only the third-party folders after it.
IMPORT_ALL = """
import importlib, json, sys
kit, others, modules = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
sys.path[:0] = [kit, *others]
loaded = {name: importlib.import_module(name).__file__ for name in modules}
absent = []
for name in ("reference", "grader.grade", "grader.plan", "grader.kit", "grader.cli", "grader.batch"):
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        absent.append(name)
print(json.dumps({"loaded": loaded, "absent": absent}))
"""


def _third_party_folders() -> list[str]:
    """Where the kit's third-party imports live, none of them holding grader or reference."""
    folders = set()
    for name in ("numpy", "jinja2", "markupsafe", "nbformat"):
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None
        folders.add(str(Path(spec.origin).resolve().parents[1]))
    for folder in folders:
        assert not (Path(folder) / "grader").exists() and not (Path(folder) / "reference").exists()
    return sorted(folders)


def test_every_module_of_the_kit_imports_without_the_instructor_s(
    kit: Path, tmp_path: Path
) -> None:
    """A copy of the kit in a fresh interpreter: every module it ships imports from the
    kit itself, and neither reference nor any instructor module can be imported."""
    copy = shutil.copytree(kit, tmp_path / "elsewhere")
    shipped = sorted(
        ".".join(p.relative_to(copy).with_suffix("").parts).removesuffix(".__init__")
        for p in (copy / "grader").rglob("*.py")
        if "child" not in p.parts or p.stem in ("__init__", "arrays", "cleanfs", "wire")
    )
    assert "grader.self_check" in shipped and "grader.kit_check" in shipped
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-B",
            "-c",
            IMPORT_ALL,
            str(copy),
            json.dumps(_third_party_folders()),
            json.dumps(shipped),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert set(answer["loaded"]) == set(shipped)
    assert all(Path(f).resolve().is_relative_to(copy.resolve()) for f in answer["loaded"].values())
    assert answer["absent"] == [
        "reference",
        "grader.grade",
        "grader.plan",
        "grader.kit",
        "grader.cli",
        "grader.batch",
    ]


def test_the_kit_holds_nothing_of_the_hidden_checks(kit: Path, rubric: Rubric) -> None:
    """No hidden check's id or title in any file, and none of its inputs or expected arrays."""
    hidden = [c for c in rubric.checks if c.visibility == "hidden"]
    assert hidden
    files = _files(kit)
    for c in hidden:
        for word in (c.id, c.title):
            assert not [p for p, data in files.items() if word.encode() in data], word
    loaded = load_kit(kit)
    assert {c.id for c in loaded.rubric.checks} == {c.id for c in rubric.public().checks}
    assert set(loaded.plan.probe_of) == {c.id for c in rubric.public().checks}
    # every array the instructor's plan asks or expects only for hidden checks
    plan = make_plan(rubric, AdapterBinding.from_table(rubric.adapter))
    exp = reference_expectations(plan)
    secret: list[np.ndarray] = []
    for p in plan.job.probes:
        if all(rubric.check(c).visibility == "hidden" for c in p.checks):
            secret += [plan.job.inputs[name] for name in p.call.inputs]
            secret += list(exp.expected[p.checks[0]].values())
    with np.load(kit / EXPECTATIONS, allow_pickle=False) as z:
        shipped = [z[k] for k in z.files]

    def in_kit(s: np.ndarray) -> bool:
        return any(a.shape == s.shape and np.array_equal(a, s) for a in shipped)

    assert secret and [s.shape for s in secret if s.size > 1 and in_kit(s)] == []
    public = plan.job.probe(plan.job.probe_of["grad_hidden"])  # the same search finds it shipped
    assert all(in_kit(plan.job.inputs[name]) for name in public.call.inputs)


def test_the_kit_keeps_every_public_check_and_its_feedback(kit: Path, rubric: Rubric) -> None:
    """The kit's rubric reads back as the public rubric: same checks, parameters and feedback."""
    assert load_kit(kit).rubric.checks == rubric.public().checks


def test_kit_arrays_load_without_pickle_and_are_numeric(kit: Path) -> None:
    """expectations.npz holds numeric arrays only; every one kit.json names is there."""
    with np.load(kit / EXPECTATIONS, allow_pickle=False) as z:
        kinds = {z[k].dtype.kind for k in z.files}
    assert kinds <= set("biuf")
    loaded = load_kit(kit)
    assert set(loaded.plan.inputs) == {n for p in loaded.plan.probes for n in p.call.inputs}


@pytest.mark.parametrize("path", [TEMPLATE_RUBRIC, COURSE_RUBRIC])
def test_the_public_rubric_toml_reads_back_the_public_checks(path: Path) -> None:
    """Written as TOML and validated again, the public rubric has the same checks."""
    r = load_rubric(path)
    text = public_rubric_toml(tomllib.loads(path.read_text(encoding="utf-8")), r)
    assert parse_rubric(text.encode(), "public.toml").checks == r.public().checks


@pytest.mark.parametrize("path", [TEMPLATE_RUBRIC, COURSE_RUBRIC])
def test_a_rubric_read_as_written_is_the_validated_one(path: Path) -> None:
    """Reading without the reference's registries (AS_WRITTEN) gives the same definitions."""
    assert read_rubric(path.read_bytes(), path, AS_WRITTEN) == load_rubric(path)


def test_the_rubric_knows_the_reference_s_misconception_kinds() -> None:
    """grader.rubric writes the kinds out (it loads without reference): they must stay equal."""
    assert MISCONCEPTION_KINDS == KINDS


# ---------------------------------------------------------------------------
# Offline grading gives the instructor's verdicts


def test_a_correct_submission_passes_offline_as_for_the_instructor(
    kit: Path, rubric: Rubric, tmp_path: Path
) -> None:
    """Without reference, the kit's check exits 0 with the instructor's statuses and points."""
    done, answer = _offline(kit, TEMPLATE_OK, tmp_path / "out.json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert Path(answer["grader"]).resolve().is_relative_to(kit.resolve())
    assert not [m for m in answer["modules"] if m.split(".")[0] == "reference"]
    assert "grader.plan" not in answer["modules"] and "grader.expectations" not in answer["modules"]
    offline = GradeResult.from_dict(answer["result"])
    instructor = grade_submission(TEMPLATE_OK, rubric.public(), SETTINGS)
    assert _verdicts(offline) == _verdicts(instructor)
    assert {s for _, s, *_ in _verdicts(offline)} == {"passed"}
    assert offline.score is not None and instructor.score is not None
    assert offline.score.points == instructor.score.points == rubric.public().max_points
    assert "template_ok" in done.stdout  # check.py printed the report


def test_a_gradient_bug_gets_the_same_diagnosis_offline(
    kit: Path, rubric: Rubric, tmp_path: Path
) -> None:
    """The hidden layer's derivative left out: same verdicts and misconception offline, exit 1."""
    source = TEMPLATE_SRC.read_text(encoding="utf-8")
    assert HIDDEN_DERIVATIVE in source, (
        "the sample's hidden-layer derivative moved; update this test"
    )
    buggy = tmp_path / "dave.py"
    buggy.write_text(source.replace(HIDDEN_DERIVATIVE, "", 1), encoding="utf-8")
    done, answer = _offline(kit, buggy, tmp_path / "out.json")
    assert done.returncode == 1, done.stdout + done.stderr
    offline = GradeResult.from_dict(answer["result"])
    instructor = grade_submission(buggy, rubric.public(), SETTINGS)
    assert _verdicts(offline) == _verdicts(instructor)
    by_id = {c.check_id: c for c in offline.checks}
    assert by_id["grad_hidden"].status == "failed"
    assert by_id["grad_hidden"].diagnosis is not None
    assert by_id["grad_hidden"].diagnosis.name == "missing_hidden_derivative"
    # the same arrays fail the same way; the measures differ: the instructor's problem is
    # drawn afresh (grader.plan.instructor_problems), not the kit's
    offline_evidence = by_id["grad_hidden"].evidence
    instructor_evidence = {c.check_id: c for c in instructor.checks}["grad_hidden"].evidence
    assert [e.split(" (max")[0] for e in offline_evidence] == [
        e.split(" (max")[0] for e in instructor_evidence
    ]
    assert offline_evidence != instructor_evidence
    assert "missing" in done.stdout.lower() or "derivative" in done.stdout.lower()


def test_a_course_style_kit_grades_as_the_instructor(tmp_path: Path) -> None:
    """Another adapter style: the kit's engine, fed the kit's files, gives the same verdicts."""
    course = load_rubric(COURSE_RUBRIC)
    kit = build_kit(COURSE_RUBRIC, tmp_path / "course-kit")
    offline = grade_with_kit(COURSE_OK, kit, SETTINGS)
    instructor = grade_submission(COURSE_OK, course.public(), SETTINGS)
    assert offline.status == instructor.status == "graded"
    assert _verdicts(offline) == _verdicts(instructor)
    assert offline.provenance["kit"]["source_rubric_hash"] == course.content_hash


# ---------------------------------------------------------------------------
# The instructor asks other problems than the kit (the kit is no answer key)

KIT_LOOKUP = ROOT / "submissions" / "hostile" / "kit_lookup.py"
# the public checks kit_lookup.py answers from the kit's table (self_consistent has no
# answer to look up, and vectorised none to return)
ANSWERED = (
    "forward",
    "grad_output",
    "grad_hidden",
    "grad_penalty",
    "cost",
    "momentum",
    "cooling",
    "one_hot",
    "predict",
    "replay",
)


def _inputs_by_check(plan: ReferencePlan, rubric: Rubric) -> dict[str, dict[str, np.ndarray]]:
    """Public check id -> its probe's inputs (names without the probe's prefix) and params."""
    out = {}
    for c in rubric.public().checks:
        probe = plan.job.probe(plan.job.probe_of[c.id])
        arrays = {
            n.removeprefix(probe.call.input_prefix): plan.job.inputs[n] for n in probe.call.inputs
        }
        hyper = {k: np.asarray(v) for k, v in probe.call.params.items() if isinstance(v, float)}
        out[c.id] = arrays | {f"param:{k}": v for k, v in hyper.items()}
    return out


def test_the_instructor_asks_the_kit_s_problems_drawn_afresh(
    tmp_path: Path, rubric: Rubric
) -> None:
    """Every public check: the same input names and shapes as the kit's, other values (the
    cooling's, which has no arrays, another eta0); no input of the instructor's is in the
    kit (but constant ones: the course's initial biases are zeros). The plan the instructor caches first does not become the kit's."""
    binding = AdapterBinding.from_table(rubric.adapter)
    oracle = ReferenceOracle(rubric)
    oracle.plan(binding)
    assert oracle._plan is not None
    instructor = _inputs_by_check(oracle._plan, rubric)
    kit = build_kit(TEMPLATE_RUBRIC, tmp_path / "kit")  # after the instructor's plan is cached
    loaded = load_kit(kit)
    kit_rubric = read_rubric((kit / "rubric.toml").read_bytes(), "rubric.toml", AS_WRITTEN)
    ours = _inputs_by_check(make_plan(kit_rubric, binding), rubric)
    with np.load(kit / EXPECTATIONS, allow_pickle=False) as z:
        shipped = [z[k] for k in z.files]
    assert set(instructor) == set(ours) == {c.id for c in loaded.rubric.checks}
    for check_id, asked in instructor.items():
        assert {k: v.shape for k, v in asked.items()} == {
            k: v.shape for k, v in ours[check_id].items()
        }
        differing = [k for k, v in asked.items() if not np.array_equal(v, ours[check_id][k])]
        assert differing, f"{check_id}: the instructor asks the kit's problem"
        for name, a in asked.items():
            if a.size > 1 and np.ptp(a) > 0 and not name.startswith("param:"):  # zeros are zeros
                assert not any(a.shape == b.shape and np.array_equal(a, b) for b in shipped), (
                    f"{check_id}: the instructor's {name} is in the kit"
                )
    # grader check --rubric (the public checks, graded with the reference) asks the instructor's
    public_oracle = ReferenceOracle(rubric.public())
    public_oracle.plan(binding)
    assert public_oracle._plan is not None
    public = _inputs_by_check(public_oracle._plan, rubric)
    for check_id, asked in public.items():
        for name, a in asked.items():
            np.testing.assert_array_equal(a, instructor[check_id][name], err_msg=check_id)


def test_the_instructor_s_problems_follow_the_whole_rubric_not_the_kit() -> None:
    """Two rubrics that differ only in a hidden check's wording give the same kit but other
    instructor's problems; the same rubric read twice gives the same ones (every path agrees)."""
    text = TEMPLATE_RUBRIC.read_text(encoding="utf-8")
    hidden = load_rubric(TEMPLATE_RUBRIC).check("grad_deep")
    edited = text.replace(f'title = "{hidden.title}"', f'title = "{hidden.title}, again"', 1)
    assert edited != text
    one, again = parse_rubric(text.encode(), "a.toml"), parse_rubric(text.encode(), "b.toml")
    other = parse_rubric(edited.encode(), "a.toml")
    raw, raw_other = tomllib.loads(text), tomllib.loads(edited)
    assert public_rubric_toml(raw, one) == public_rubric_toml(raw_other, other)  # one kit

    def seeds(r: Rubric) -> dict[str, int]:
        return ReferenceOracle(r).provenance()["seeds"]

    assert seeds(one) == seeds(again)
    batch = GradeJob.from_file(grade_submission, TEMPLATE_RUBRIC)  # a batch's worker parses bytes
    assert seeds(batch.rubric) == seeds(load_rubric(TEMPLATE_RUBRIC)) == seeds(one)
    public_ids = {c.id for c in one.public().checks}
    assert seeds(one.public()) == {k: v for k, v in seeds(one).items() if k in public_ids}
    assert set(seeds(one).values()).isdisjoint(seeds(other).values())
    assert all(seeds(one)[c.id] != c.params.get("seed", 0) for c in one.checks)
    assert one.problem_key not in repr(one) and one.problem_key != one.content_hash


def test_a_drawn_seed_is_never_one_of_the_kit_s(monkeypatch: pytest.MonkeyPatch) -> None:
    """However the draw falls (here in a space of 16 seeds, where it often hits one of the
    public checks' own seeds 0-9), the instructor never asks a kit problem's seed."""
    monkeypatch.setattr(plan_module, "SEED_SPACE", 16)
    rubric = load_rubric(TEMPLATE_RUBRIC)
    kit_seeds = {c.params.get("seed", 0) for c in rubric.public().checks}
    assert len(kit_seeds) >= 8
    for salt in range(20):
        salted = parse_rubric(TEMPLATE_RUBRIC.read_bytes() + f"# {salt}\n".encode())
        drawn = {c.params["seed"] for c in plan_module.instructor_problems(salted).checks}
        assert drawn and not drawn & kit_seeds and max(drawn) < 16


def test_the_plan_cache_keys_on_the_seeds_asked() -> None:
    """Two rubrics with the very same checks (one has a comment more) draw other problems:
    the second grading in a process must not be served the first one's cached plan."""
    text = TEMPLATE_RUBRIC.read_text(encoding="utf-8")
    one = parse_rubric(text.encode(), "one.toml")
    other = parse_rubric((text + "# salt: 7f3a\n").encode(), "one.toml")
    assert one.checks == other.checks
    binding = AdapterBinding.from_table(one.adapter)
    plans = []
    for r in (one, other, one):
        oracle = ReferenceOracle(r)
        oracle.plan(binding)
        assert oracle._plan is not None
        plans.append(oracle._plan)
    name = plans[0].job.probe(plans[0].job.probe_of["grad_output"]).call.inputs[0]
    assert not np.array_equal(plans[0].job.inputs[name], plans[1].job.inputs[name])
    assert plans[2] is plans[0]  # the same rubric again: the cached plan


def test_a_table_of_the_kit_s_answers_earns_nothing_from_the_instructor(
    kit: Path, rubric: Rubric
) -> None:
    """submissions/hostile/kit_lookup.py (no network: the kit's answers by a hash of the
    inputs) passes every check it answers on the kit's problems, and earns nothing, public
    or hidden, from the instructor's grading or a check with --rubric."""
    offline = grade_with_kit(KIT_LOOKUP, kit, SETTINGS)
    status = {c.check_id: c.status for c in offline.checks}
    stale = [c for c in ANSWERED if status[c] != "passed"]
    assert not stale, (
        f"kit_lookup.py no longer answers {stale} on the kit: the kit changed; "
        "run python submissions/make_kit_lookup.py"
    )
    for graded in (
        grade_submission(KIT_LOOKUP, rubric, SETTINGS),
        grade_submission(KIT_LOOKUP, rubric.public(), SETTINGS),
    ):
        assert graded.score is not None and graded.score.points == 0
        assert [c.check_id for c in graded.checks if c.points or c.status == "passed"] == []


# ---------------------------------------------------------------------------
# The command line


def test_grader_kit_writes_a_kit_and_a_rebuild_replaces_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`grader kit` writes a loadable kit; running it again on the same folder replaces it."""
    out = tmp_path / "kit"
    assert cli.main(["kit", "--rubric", str(TEMPLATE_RUBRIC), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    for name in (MANIFEST, EXPECTATIONS, PROBE_MODULE, "rubric.toml", "README.md", "check.py"):
        assert (out / name).is_file(), name
    first = (out / MANIFEST).read_bytes()
    (out / "grader" / "stale.py").write_text("", encoding="utf-8")
    assert cli.main(["kit", "--rubric", str(TEMPLATE_RUBRIC), "--out", str(out)]) == 0
    assert (out / MANIFEST).read_bytes() == first  # the same rubric gives the same kit
    assert not (out / "grader" / "stale.py").exists()
    assert "python check.py" in (out / "README.md").read_text(encoding="utf-8")


def test_grader_kit_refuses_a_folder_that_is_not_a_kit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A non-empty folder without a kit is left alone: exit 2, one sentence."""
    out = tmp_path / "homework"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    assert cli.main(["kit", "--rubric", str(TEMPLATE_RUBRIC), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("grader: error: ") and "\n" not in err and "not empty" in err
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_a_changed_kit_file_is_refused_with_one_sentence(
    kit: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A kit whose expectations were edited is bad input for `grader check`: exit 2."""
    copy = tmp_path / "edited-kit"
    shutil.copytree(kit, copy)
    with open(copy / EXPECTATIONS, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(KitError, match="does not match"):
        load_kit(copy)
    assert cli.main(["check", str(TEMPLATE_OK), "--kit", str(copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("grader: error: ") and "\n" not in err and EXPECTATIONS in err
