"""The pipeline joined: plan, expectations and grade_submission on real samples.

These grade our own sample submissions through the real sandbox (plain tier,
cold children), so they show the pieces fit: a correct submission gets full
marks, a broken one a clear report, and nothing the student sees leaks the
hidden checks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from grader import pipeline, reference_oracle
from grader.adapters.binding import AdapterBinding
from grader.expectations import candidates, expected_outputs, penalty_gradient
from grader.grade import GradeSettings, grade_submission
from grader.plan import canonical_inputs, make_plan
from grader.rubric import Rubric
from grader.rubric_file import load_rubric, parse_rubric

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_RUBRIC = ROOT / "rubrics" / "mlp_backprop.toml"
TEMPLATE_OK = ROOT / "submissions" / "src" / "template_ok.py"
SETTINGS = GradeSettings(tier="plain")


@pytest.fixture(scope="module")
def rubric() -> Rubric:
    return load_rubric(TEMPLATE_RUBRIC)


@pytest.fixture(scope="module")
def binding(rubric: Rubric) -> AdapterBinding:
    return AdapterBinding.from_table(rubric.adapter)


def _module(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------
# plan


def test_checks_with_the_same_question_share_one_probe(
    rubric: Rubric, binding: AdapterBinding
) -> None:
    """grad_output and grad_hidden ask the same gradients of the same problem: one probe call."""
    plan = make_plan(rubric, binding).job
    assert plan.probe_of["grad_output"] == plan.probe_of["grad_hidden"]
    assert plan.probe_of["grad_output"] != plan.probe_of["grad_penalty"]
    assert len(plan.probes) < len(rubric.checks)
    assert set(plan.probe_of) == {c.id for c in rubric.checks}


def test_each_probe_owns_the_namespace_of_its_inputs(
    rubric: Rubric, binding: AdapterBinding
) -> None:
    """Every input name starts with its probe's prefix, and the prefix maps back to the probe."""
    plan = make_plan(rubric, binding).job
    for p in plan.probes:
        assert p.call.input_prefix == f"{p.call.id}_"
        assert all(n.startswith(p.call.input_prefix) for n in p.call.inputs)
        assert set(p.call.inputs) <= set(plan.inputs)
    assert sum(len(p.call.inputs) for p in plan.probes) == len(plan.inputs)


def test_the_job_asks_public_probes_first_and_times_the_timing_probe(rubric: Rubric) -> None:
    """What the sandbox runs: every probe of a public check before any probe of a hidden
    one (what is printed meanwhile may be shown to the student), flagged so; the timing
    probe's baseline arrays go to its baseline run only."""
    oracle = reference_oracle.ReferenceOracle(rubric)
    plan = oracle.plan(AdapterBinding.from_table(rubric.adapter))
    hidden = pipeline._hidden_probes(rubric, plan)
    hidden_checks = {c.id for c in rubric.checks if c.visibility == "hidden"}
    assert hidden == {plan.probe_of[c] for c in hidden_checks}
    calls = pipeline._job_calls(plan, hidden)
    flags = [c.public for c in calls]
    assert flags == sorted(flags, reverse=True) and False in flags and True in flags
    assert {c.id for c in calls if not c.public} == hidden
    (timing,) = [c for c in calls if c.call == "timing"]
    assert timing.baseline and all("base_" in n for n in timing.baseline)
    assert not set(timing.baseline) & set(timing.inputs)
    assert all(not c.baseline for c in calls if c.call != "timing")


def test_problems_are_non_square_with_every_class_and_non_zero_biases(rubric: Rubric) -> None:
    """A gradients problem shows transposes and bias bugs: N != D, all K classes, b != 0."""
    inputs = canonical_inputs(rubric.check("grad_output"))
    D, N = inputs["X"].shape
    K = inputs["Y"].shape[0]
    assert N != D
    assert set(np.unique(inputs["y"])) == set(range(K))
    assert all(np.all(inputs[b] != 0) for b in ("b1", "b2"))


def test_the_one_hot_problem_never_meets_its_classes_in_sorted_order(rubric: Rubric) -> None:
    """An encoding that numbers classes as it meets them (one_hot_unsorted_classes) equals
    the right one where the labels first appear sorted: no seed may draw such a problem."""
    from dataclasses import replace
    from types import MappingProxyType

    spec = rubric.check("one_hot")
    K = int(np.max(canonical_inputs(spec)["y"])) + 1
    for seed in range(200):
        params = MappingProxyType({**spec.params, "seed": seed})
        y = canonical_inputs(replace(spec, params=params))["y"]
        _, first = np.unique(y, return_index=True)
        assert len(first) == K  # every class present
        assert not np.all(np.diff(first) > 0), (seed, y)  # met in another order than sorted


def test_problems_are_deterministic_in_their_seed(rubric: Rubric) -> None:
    """The same check builds the same arrays twice (results are reproducible)."""
    a, b = (canonical_inputs(rubric.check("replay")) for _ in range(2))
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_a_check_the_grader_cannot_build_is_listed_with_its_reason(
    rubric: Rubric, binding: AdapterBinding
) -> None:
    """A problem the adapter cannot take (a 3-layer net for the course's 2-layer class) is named."""
    text = (ROOT / "rubrics" / "mlp_backprop_course.toml").read_text(encoding="utf-8") + (
        '\n[[checks]]\nid = "too_deep"\nobjective = "backprop"\nprobe = "gradients"\npoints = 1\n'
        "[checks.params]\nsizes = [6, 5, 4, 3]\n"
    )
    course = parse_rubric(text.encode(), "edited.toml")
    plan = make_plan(course, AdapterBinding.from_table(course.adapter)).job
    assert "too_deep" in plan.problems
    assert "too_deep" in plan.problems["too_deep"]
    assert "too_deep" not in plan.probe_of
    assert set(plan.probe_of) == {c.id for c in course.checks} - {"too_deep"}


# ---------------------------------------------------------------------------
# expectations


def test_a_process_makes_each_plan_once(
    rubric: Rubric, binding: AdapterBinding, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Grades of one rubric reuse its plan (read-only); other checks (the public ones of a
    self-check, another seed) get their own."""
    made: list[str] = []

    def counting(r: Rubric, b: AdapterBinding):  # type: ignore[no-untyped-def]
        made.append(r.content_hash)
        return make_plan(r, b)

    monkeypatch.setattr(reference_oracle, "make_plan", counting)
    monkeypatch.setattr(reference_oracle, "_PLANS", {})
    first = reference_oracle.ReferenceOracle(rubric).plan(binding)
    again = reference_oracle.ReferenceOracle(rubric).plan(binding)
    assert again is first and len(made) == 1
    assert not any(a.flags.writeable for a in first.inputs.values())
    public = reference_oracle.ReferenceOracle(rubric.public()).plan(binding)  # same content hash
    assert len(made) == 2 and set(public.probe_of) < set(first.probe_of)
    text = TEMPLATE_RUBRIC.read_bytes().replace(b"seed = 1\n", b"seed = 101\n", 1)
    other = parse_rubric(text, TEMPLATE_RUBRIC)
    reference_oracle.ReferenceOracle(other).plan(binding)
    assert len(made) == 3


def test_candidates_of_an_optimizer_probe_include_the_misconceptions_standing_in(
    rubric: Rubric, binding: AdapterBinding
) -> None:
    """Course momentum is declared: heavy-ball momentum is a misconception candidate, computed."""
    plan = make_plan(rubric, binding)
    ctx = plan.context_of("momentum")
    names = {c.name for c in candidates(ctx)}
    assert "momentum_heavy_ball_for_course" in names
    exp = expected_outputs(ctx)
    heavy = next(c for c in candidates(ctx) if c.name == "momentum_heavy_ball_for_course")
    assert heavy.arrays.keys() == exp.keys()
    assert not np.allclose(heavy.arrays["W1"][-1], exp["W1"][-1])  # it differs after 3 steps


def test_candidates_of_a_schedule_probe_include_compounding_decay(
    rubric: Rubric, binding: AdapterBinding
) -> None:
    """The declared 1/(1 + d k) cooling has the compounding bug as a candidate."""
    plan = make_plan(rubric, binding)
    ctx = plan.context_of("cooling")
    assert "compounding_decay" in {c.name for c in candidates(ctx)}


def test_the_penalty_gradient_is_c_times_w_on_weights_and_zero_on_biases(
    rubric: Rubric, binding: AdapterBinding
) -> None:
    """With C = 10 and biases not penalised, the penalty's share is C·W and 0."""
    plan = make_plan(rubric, binding)
    ctx = plan.context_of("grad_penalty")
    pen = penalty_gradient(ctx)
    assert pen is not None
    C = ctx.objective.C
    np.testing.assert_allclose(pen["dW1"], C * ctx.inputs["W1"], rtol=1e-12, atol=1e-12)
    assert np.all(pen["db1"] == 0)
    assert penalty_gradient(plan.context_of("grad_output")) is None


# ---------------------------------------------------------------------------
# grade_submission


def test_the_correct_template_sample_gets_full_marks(rubric: Rubric) -> None:
    """Every check passes, the score is the maximum, and provenance records the run."""
    result = grade_submission(TEMPLATE_OK, rubric, SETTINGS)
    assert result.status == "graded", result.reason
    assert [c.check_id for c in result.checks if c.status != "passed"] == []
    assert result.score is not None and result.score.points == rubric.max_points
    prov = result.provenance
    assert prov["rubric_hash"] == rubric.content_hash
    assert prov["sandbox_tier"] == ("uid" if os.geteuid() == 0 else "plain")
    assert {"grader", "reference", "python", "numpy", "seeds"} <= prov.keys()
    kinds = {f.kind for f in result.figures}
    assert {"gradient_error", "convergence"} <= kinds


def test_a_file_that_is_not_a_submission_is_ungradable_with_one_sentence(
    tmp_path: Path, rubric: Rubric
) -> None:
    """Invalid JSON renamed .ipynb: ungradable, the reason names the file."""
    bad = tmp_path / "bob.ipynb"
    bad.write_bytes(b"\x89PNG not a notebook")
    result = grade_submission(bad, rubric, SETTINGS)
    assert result.status == "ungradable"
    assert "bob.ipynb" in result.reason and "\n" not in result.reason.strip()


def test_a_package_missing_at_load_is_the_environments_problem_on_every_check(
    tmp_path: Path, rubric: Rubric
) -> None:
    """An import the grading environment lacks: every check is not assessed (never failed),
    naming the package, how to install it and the student's line; zero points."""
    source = TEMPLATE_OK.read_text(encoding="utf-8").replace(
        "import numpy as np",
        "import numpy as np\nimport not_a_real_package_xyz\nEPS = not_a_real_package_xyz.EPS",
        1,
    )
    result = grade_submission(_module(tmp_path, "carol", source), rubric, SETTINGS)
    assert result.status == "graded"
    assert result.score is not None and result.score.points == 0
    assert {c.status for c in result.checks} == {"not_assessed"}
    for check in result.checks:
        assert "lacks the package 'not_a_real_package_xyz'" in check.reason
        assert "pip install not_a_real_package_xyz" in check.reason
        assert check.next_step == ""  # nothing for the student to fix in their functions
    text = " ".join(result.checks[0].evidence)
    assert "No module named 'not_a_real_package_xyz'" in text
    assert "line" in text and "submission.py" not in text  # the student's line, not ours


def test_a_missing_package_only_skipped_cells_use_does_not_stop_grading(
    tmp_path: Path, rubric: Rubric
) -> None:
    """`from IPython.display import YouTubeVideo` for a video cell, in an environment without
    that package: the graded functions load and the correct code gets full marks."""
    source = (
        TEMPLATE_OK.read_text(encoding="utf-8").replace(
            "import numpy as np",
            "import numpy as np\nfrom not_a_real_display_xyz import YouTubeVideo",
            1,
        )
        + "\nYouTubeVideo('dQw4w9WgXcQ')\n"
    )
    result = grade_submission(_module(tmp_path, "grace", source), rubric, SETTINGS)
    assert result.score is not None and result.score.points == result.score.max_points


def test_an_error_at_load_fails_every_check_with_its_cell_and_line(
    tmp_path: Path, rubric: Rubric
) -> None:
    """Any other error at load (here a class body that raises) fails every check with it."""
    source = TEMPLATE_OK.read_text(encoding="utf-8") + "\n\nclass Broken:\n    x = 1 / 0\n"
    result = grade_submission(_module(tmp_path, "dave", source), rubric, SETTINGS)
    assert result.score is not None and result.score.points == 0
    first = result.checks[0]
    assert first.status == "failed"
    text = " ".join(first.evidence)
    assert "ZeroDivisionError" in text
    assert "line" in text and "submission.py" not in text


@pytest.mark.parametrize(
    "ending", ["import os; os._exit(0)", "import sys; sys.exit(3)"], ids=["os._exit", "sys.exit"]
)
def test_code_that_ends_the_process_is_told_so(ending: str, tmp_path: Path, rubric: Rubric) -> None:
    """A function that exits instead of returning: the next step names the exit, not shapes."""
    source = TEMPLATE_OK.read_text(encoding="utf-8").replace(
        "def forward(params, X):", f"def forward(params, X):\n    {ending}", 1
    )
    result = grade_submission(_module(tmp_path, "erin", source), rubric, SETTINGS)
    forward = next(c for c in result.checks if c.check_id == "forward")
    assert forward.status == "failed"
    assert forward.next_step.startswith("Your code ended the process (sys.exit")


def test_statements_not_run_are_told_in_plain_words_and_listed_only_where_they_matter(
    tmp_path: Path, rubric: Rubric
) -> None:
    """The template's demo cells are skipped as intended: one plain sentence, no list. A
    function reading a variable only a skipped statement sets: the list, and why it matters."""
    clean = grade_submission(TEMPLATE_OK, rubric, SETTINGS)
    note = next(n for n in clean.notes if "top-level statement" in n)
    assert note.startswith("As intended, only your imports, functions, classes and constants")
    assert "line " not in note and "definitions mode" not in note  # no list, no jargon
    source = (
        TEMPLATE_OK.read_text(encoding="utf-8")
        .replace("import numpy as np", "import numpy as np\nSCALE = np.ones(1)", 1)
        .replace("def forward(params, X):", "def forward(params, X):\n    X = X * SCALE", 1)
    )
    result = grade_submission(_module(tmp_path, "frank", source), rubric, SETTINGS)
    note = next(n for n in result.notes if "top-level statement" in n)
    assert "fails with a NameError" in note and "`SCALE = np.ones(1)`" in note


def test_a_gradient_bug_is_diagnosed_and_earns_only_the_checks_it_passes(
    tmp_path: Path, rubric: Rubric
) -> None:
    """Dropping the hidden layer's sigmoid derivative fails grad_hidden with that misconception."""
    source = TEMPLATE_OK.read_text(encoding="utf-8")
    marker = "A[l - 1] * (1 - A[l - 1]) * "
    assert marker in source, "the sample's hidden-layer derivative moved; update this test"
    result = grade_submission(
        _module(tmp_path, "dave", source.replace(marker, "", 1)), rubric, SETTINGS
    )
    by_id = {c.check_id: c for c in result.checks}
    assert by_id["grad_output"].status == "passed"
    assert by_id["grad_hidden"].status == "failed"
    diagnosis = by_id["grad_hidden"].diagnosis
    assert diagnosis is not None and diagnosis.name == "missing_hidden_derivative"
    assert by_id["grad_deep"].status == "not_assessed"  # its prerequisite did not pass
    assert result.score is not None and 0 < result.score.points < rubric.max_points


def test_the_students_view_drops_hidden_checks_figures(tmp_path: Path, rubric: Rubric) -> None:
    """public_view keeps no figure of a hidden check and round-trips through JSON."""
    result = grade_submission(TEMPLATE_OK, rubric, SETTINGS)
    hidden = {c.id for c in rubric.checks if c.visibility == "hidden"}
    assert any(f.check_id in hidden for f in result.figures)
    public = result.public_view()
    assert not any(f.check_id in hidden for f in public.figures)
    again = type(result).from_json(public.to_json())
    assert again.figures == public.figures
    assert json.loads(public.to_json())["figures"]


def test_the_self_check_catches_a_gradient_inconsistent_with_its_own_forward(
    tmp_path: Path, rubric: Rubric
) -> None:
    """gradcheck_self judges the gradient against the student's own forward: no reference value."""
    source = TEMPLATE_OK.read_text(encoding="utf-8")
    buggy = source.replace("A[l - 1] * (1 - A[l - 1]) * ", "", 1)
    ok = grade_submission(TEMPLATE_OK, rubric, SETTINGS)
    bad = grade_submission(_module(tmp_path, "erin", buggy), rubric, SETTINGS)
    assert {c.check_id: c.status for c in ok.checks}["self_consistent"] == "passed"
    check = {c.check_id: c for c in bad.checks}["self_consistent"]
    assert check.status == "failed"
    assert "not the derivative of the objective your own forward pass defines" in " ".join(
        check.evidence
    )


def test_a_function_in_a_cell_with_a_syntax_error_fails_with_that_error(
    tmp_path: Path, rubric: Rubric
) -> None:
    """Definitions mode skips the broken cell; its functions' checks fail naming the error."""
    import nbformat

    good = TEMPLATE_OK.read_text(encoding="utf-8").split("# %% [markdown]\n# ## Optimisation")[0]
    broken = "def learning_rate(eta0, d, epoch):\n    return eta0 / (1 + d * epoch\n"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(good), nbformat.v4.new_code_cell(broken)]
    path = tmp_path / "frank.ipynb"
    nbformat.write(nb, str(path))
    result = grade_submission(path, rubric, SETTINGS)
    cooling = {c.check_id: c for c in result.checks}["cooling"]
    assert cooling.status == "failed"
    assert "cell 2" in cooling.reason and "cannot parse" in cooling.reason
    assert result.notes[0].startswith("Cell 2 has a syntax error")
    momentum = {c.check_id: c for c in result.checks}["momentum"]
    assert momentum.status == "not_assessed"  # momentum_step is truly missing, not broken


def test_a_course_students_evidence_names_their_own_arrays() -> None:
    """The course's classes call the gradient gradW1: the evidence and the diagnosis say so."""
    rubric = load_rubric(ROOT / "rubrics" / "mlp_backprop_course.toml")
    sub = ROOT / "submissions" / "buggy" / "course_separate_missing_hidden_derivative.ipynb"
    result = grade_submission(sub, rubric, SETTINGS)
    (check,) = [c for c in result.checks if c.check_id == "grad_hidden"]
    assert check.status == "failed"
    assert check.evidence[0].startswith("'gradW1' differs from the expected values")
    assert check.diagnosis is not None and "your gradW1 and gradb1 equal" in check.diagnosis.message
