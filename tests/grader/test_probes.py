"""grader.probes: the parent's side of the contract (prepare, output_specs, to_canonical, expected)."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.adapters import BindingError, child_probes, probe_module_source, write_probe_module
from grader.adapters.binding import AdapterBinding, binding_for
from grader.adapters.styles import STYLE_LAYOUTS, display_names, style_of
from grader.plan import make_plan
from grader.probes import Sizes, batch_orders, expected, output_specs, student_inputs, to_canonical
from grader.rubric_file import load_rubric
from tests.grader.adapters.conftest import ROOT, assert_close, load_sample, problem, run_probe

CHILD = Path(child_probes.__file__)


# The adapters' fixtures, for this module (it tests grader/probes.py, so it lives beside it).
@pytest.fixture(scope="module")
def separate_ns() -> dict[str, Any]:
    return load_sample("course_separate_ok")


@pytest.fixture
def canonical() -> dict[str, np.ndarray]:
    return problem()


def test_child_module_imports_only_stdlib_and_numpy():
    """child_probes.py is copied into the sandbox: it imports nothing but the stdlib and numpy."""
    tree = ast.parse(CHILD.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            roots.add((node.module or "").split(".")[0])
    assert roots - {"__future__"} - set(sys.stdlib_module_names) == {"numpy"}


def test_child_params_are_json_and_hold_no_inputs(canonical):
    """child_params carries the complete binding and hyper-parameters, no arrays."""
    _, ctx = student_inputs("gradients", binding_for("course_separate"), {"C": 0.5}, canonical)
    params = ctx.child_params()
    assert json.loads(json.dumps(params)) == params
    assert params["C"] == 0.5 and params["n_hidden"] == 4
    assert params["adapter"]["methods"]["gradients"] == "_get_gradient"


def test_context_inputs_are_private_read_only_copies(canonical):
    """Changing the caller's arrays afterwards does not change the expected values."""
    X = canonical["X"]
    _, ctx = student_inputs("forward", binding_for("template"), {}, canonical)
    before = expected(ctx)["A_out"].copy()
    X[:] = 0.0
    np.testing.assert_array_equal(expected(ctx)["A_out"], before)
    with pytest.raises(ValueError):
        ctx.inputs["X"][0, 0] = 1.0


@pytest.mark.parametrize(
    ("call", "params", "inputs", "message"),
    [
        (
            "gradients",
            {"lambda": 1.0},
            None,
            "probe 'gradients': unknown parameter 'lambda'; allowed: C",
        ),
        ("gradients", {}, {"X": None}, "needs canonical inputs Y"),
        ("train", {"epochs": 2}, {"X": None, "Y": None}, "needs canonical inputs y, perms"),
        ("schedule", {}, {}, "probe 'schedule' needs 'epochs'"),
        (
            "schedule",
            {"epochs": 3, "schedule": "cosine"},
            {},
            "schedule 'cosine' cannot be probed; allowed: constant",
        ),
        (
            "gradients",
            {"cost_kind": "printd"},
            None,
            "cost_kind 'printd' is not one of objective, printed",
        ),
        ("warp", {}, None, "unknown probe call 'warp'"),
    ],
)
def test_prepare_errors_are_clear(canonical, call, params, inputs, message):
    """prepare refuses bad probe parameters and missing inputs with a sentence saying what."""
    given = {k: v for k, v in canonical.items() if k[0] in "Wb"}
    given |= canonical if inputs is None else {k: canonical[k] for k in inputs}
    with pytest.raises(ValueError, match=message):
        student_inputs(call, binding_for("template"), params, given)


def test_plan_keys_are_ignored(canonical):
    """A check's problem and grader keys (sizes, seed, timeout, ...) pass through prepare unused."""
    params = {"C": 1.0, "sizes": [5, 4, 3], "seed": 3, "timeout": 2.0, "max_ratio": 3.0}
    _, ctx = student_inputs("gradients", binding_for("template"), params, canonical)
    assert "seed" not in ctx.child_params() and ctx.objective.C == 1.0


def test_course_styles_need_two_layers(canonical):
    """A three-layer canonical network cannot be asked of a two-layer course class."""
    P3 = {"W3": np.zeros((2, 3)), "b3": np.zeros((2, 1))}
    with pytest.raises(ValueError, match="two-layer perceptron; got 3"):
        student_inputs("forward", binding_for("course_separate"), {}, canonical | P3)


def test_output_specs_in_each_students_terms():
    """The same probe has each style's names and shapes: the student's own layout."""
    sizes = Sizes((5, 4, 3), N=7, E=2, T=3)
    assert output_specs("gradients", binding_for("course_separate"), sizes) == {
        "gradW1": (4, 5),
        "gradW2": (3, 4),
        "gradb1": (4, 1),
        "gradb2": (3, 1),
    }
    assert output_specs("gradients", binding_for("textbook_rows"), sizes) == {
        "grad_w_h": (5, 4),
        "grad_b_h": (4,),
        "grad_w_out": (4, 3),
        "grad_b_out": (3,),
    }
    assert output_specs("train", binding_for("course_folded"), sizes) == {
        "W1": (4, 6),
        "W2": (3, 5),
        "cost_": (2,),
        "score_": (3,),
    }
    assert output_specs("optimizer", binding_for("template"), sizes)["b2"] == (3, 3, 1)
    assert output_specs("one_hot", binding_for("textbook_rows"), sizes) == {"y_enc": (7, 3)}


def test_to_canonical_undoes_each_layout(canonical):
    """Raw student-layout arrays made from canonical ones convert back exactly."""
    for style in ("template", "course_separate", "course_folded", "textbook_rows"):
        b = binding_for(style)
        inputs, _ = student_inputs("train", b, {"epochs": 1, "shuffle": False}, canonical)
        raw = {k: v for k, v in inputs.items() if k not in ("X", "Y", "y", "orders")}
        s = style_of(b)
        raw |= {s.train_cost: np.zeros(1), s.train_accuracy: np.zeros(2)}
        back = to_canonical("train", b, raw)
        for k in ("W1", "W2", "b1", "b2"):
            np.testing.assert_array_equal(back[k], canonical[k], err_msg=f"{style} {k}")


def test_batch_orders_compose_the_course_draws():
    """The course shuffles shuffled data: epoch k's order is order_{k-1}[p_k]."""
    p = np.array([[1, 2, 0], [2, 0, 1]])
    np.testing.assert_array_equal(batch_orders(p, 3, 2, True), [[1, 2, 0], [0, 1, 2]])
    np.testing.assert_array_equal(batch_orders(None, 3, 2, False), [[0, 1, 2], [0, 1, 2]])


def test_batch_orders_fresh_permutes_the_original_order_each_epoch():
    """The textbook's NeuralNetMLP shuffles its indices afresh: epoch k visits p_k itself. The
    same draws as the course's, another order from epoch 1 on (epoch 0 is the same)."""
    p = np.array([[1, 2, 0], [2, 0, 1]])
    fresh = batch_orders(p, 3, 2, True, "fresh")
    np.testing.assert_array_equal(fresh, p)
    course = batch_orders(p, 3, 2, True)
    np.testing.assert_array_equal(fresh[0], course[0])
    assert not np.array_equal(fresh[1], course[1])
    np.testing.assert_array_equal(batch_orders(p, 3, 2, False, "fresh"), [[0, 1, 2], [0, 1, 2]])
    with pytest.raises(ValueError, match="shuffle scheme"):
        batch_orders(p, 3, 2, True, "textbook")


def test_conventions_can_be_overridden_per_probe(separate_ns, canonical):
    """Declaring the 2C penalty makes the faithful course gradient fail, as it should."""
    got, want = run_probe(
        "gradients",
        binding_for("course_separate"),
        separate_ns,
        {"C": 5.0, "penalty": "l2"},
        canonical,
    )
    assert not np.allclose(got["dW1"], want["dW1"])
    np.testing.assert_allclose(got["db2"], want["db2"])


def _load_probe_module(path: Path):
    """Load a probe module file as the sandbox's runner does (a fresh module from a file)."""
    spec = importlib.util.spec_from_file_location("_grader_probes_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_custom_adapter_travels_inside_the_probe_module(tmp_path, canonical):
    """A rubric's adapter file is embedded in the probe module; ProbeUnsupported is predefined in it."""
    rubric = tmp_path / "rubric"
    rubric.mkdir()
    (rubric / "my_adapter.py").write_text(
        "def forward(ns, inputs, params):\n"
        "    A = ns['net'](inputs['W1'], inputs['b1'], inputs['W2'], inputs['b2'], inputs['X'])\n"
        "    return {'A_out': A}\n"
        "def gradients(ns, inputs, params):\n"
        "    raise ProbeUnsupported('this course has no gradient function')\n",
        encoding="utf-8",
    )
    b = binding_for("custom", custom_file="my_adapter.py")
    job = tmp_path / "job"
    job.mkdir()
    probes = _load_probe_module(write_probe_module(b, job, rubric))

    def net(W1, b1, W2, b2, X):
        s = lambda Z: 1 / (1 + np.exp(-Z))  # noqa: E731
        return s(W2 @ s(W1 @ X + b1) + b2)

    inputs, ctx = student_inputs("forward", b, {}, canonical)
    raw = probes.forward({"net": net}, inputs, ctx.child_params())
    assert_close(to_canonical("forward", b, raw), expected(ctx))
    inputs, ctx = student_inputs("gradients", b, {}, canonical)
    with pytest.raises(Exception, match="no gradient function") as err:
        probes.gradients({}, inputs, ctx.child_params())
    assert type(err.value).__name__ == "ProbeUnsupported"
    with pytest.raises(Exception, match="defines no 'predict'"):
        probes.predict({}, inputs, ctx.child_params())


def test_custom_file_must_exist_and_compile(tmp_path):
    """A missing or broken custom adapter file is the rubric's error, reported before any job."""
    b = binding_for("custom", custom_file="missing.py")
    with pytest.raises(BindingError, match="not found"):
        probe_module_source(b, tmp_path)
    (tmp_path / "broken.py").write_text("def forward(:\n", encoding="utf-8")
    with pytest.raises(SyntaxError):
        probe_module_source(binding_for("custom", custom_file="broken.py"), tmp_path)


def test_builtin_probe_module_is_child_probes(tmp_path, separate_ns, canonical):
    """For a built-in style the probe module is child_probes.py itself, loadable from a file."""
    b = binding_for("course_separate")
    probes = _load_probe_module(write_probe_module(b, tmp_path))
    inputs, ctx = student_inputs("forward", b, {}, canonical)
    got = to_canonical("forward", b, probes.forward(separate_ns, inputs, ctx.child_params()))
    assert_close(got, expected(ctx))


def test_input_prefix_is_stripped(separate_ns, canonical):
    """A plan that namespaces inputs ("p1__X") passes input_prefix and the adapter finds X."""
    b = binding_for("course_separate")
    inputs, ctx = student_inputs("predict", b, {}, canonical)
    shared = {f"p1__{k}": v for k, v in inputs.items()} | {"p2__X": np.zeros(3)}
    raw = child_probes.predict(separate_ns, shared, ctx.child_params() | {"input_prefix": "p1__"})
    assert_close(to_canonical("predict", b, raw), expected(ctx))


def test_probe_module_loaded_from_source(tmp_path, monkeypatch, canonical):
    """Exec'd from source (the warm worker), the module uses its embedded file, not the cwd's."""
    (tmp_path / "my_adapter.py").write_text(
        "def one_hot(ns, inputs, params):\n    return {'Y': np.eye(3)[:, inputs['y']]}\n",
        encoding="utf-8",
    )
    b = binding_for("custom", custom_file="my_adapter.py")
    module = types.ModuleType("_grader_probes_src")
    module.__file__ = "<_grader_probes>"
    exec(compile(probe_module_source(b, tmp_path), module.__file__, "exec"), module.__dict__)
    student = tmp_path / "submission"
    student.mkdir()
    (student / "my_adapter.py").write_text("raise SystemExit('planted')\n", encoding="utf-8")
    monkeypatch.chdir(student)
    inputs, ctx = student_inputs("one_hot", b, {}, {"y": canonical["y"]})
    raw = module.one_hot({}, inputs, ctx.child_params())
    assert_close(to_canonical("one_hot", b, raw), expected(ctx))


@pytest.mark.parametrize("name", sorted(STYLE_LAYOUTS))
def test_columns_out_says_whether_y_is_already_the_lectures_layout(name):
    """A style's columns_out is True exactly when Y_from leaves a (K, N) array as it is."""
    style = STYLE_LAYOUTS[name]
    Y = np.arange(6.0).reshape(2, 3)
    unchanged = style.Y_from(Y).shape == Y.shape and np.array_equal(style.Y_from(Y), Y)
    assert style.columns_out is unchanged


@pytest.mark.parametrize(
    ("rubric", "any_shape"),
    [
        ("mlp_backprop.toml", True),
        ("mlp_backprop_course.toml", True),
        ("mlp_backprop_course_folded.toml", True),
        ("textbook_mlp.toml", False),
    ],
)
def test_a_one_hot_of_any_shape_reaches_the_comparison_unless_it_needs_converting(
    rubric, any_shape
):
    """Where Y is the lecture's (K, N) a transposed one-hot passes the sandbox, to be diagnosed."""
    loaded = load_rubric(ROOT / "rubrics" / rubric)
    plan = make_plan(loaded, AdapterBinding.from_table(loaded.adapter))
    (spec,) = next(p.outputs for p in plan.job.probes if p.call.call == "one_hot").values()
    assert (spec.shape is None) is any_shape


@pytest.mark.parametrize(
    ("style", "layout", "expected"),
    [
        ("template", "columns", {}),
        ("course_separate", "columns", {"dW1": "gradW1", "db1": "gradb1", "dW2": "gradW2"}),
        ("course_folded", "columns", {"dW1": "grad1[:, 1:]", "db1": "grad1[:, :1]"}),
        ("textbook_rows", "rows", {"dW1": "grad_w_h.T", "db1": "grad_b_h", "dW2": "grad_w_out.T"}),
        ("textbook_rows", "rows_out_in", {"dW1": "grad_w_h", "db2": "grad_b_out"}),
    ],
)
def test_messages_name_the_students_own_gradient_arrays(style, layout, expected):
    """display_names maps each canonical gradient to the student's name, part and orientation."""
    overrides = {} if style == "template" else {"layout": layout}
    names = display_names("gradients", binding_for(style, **overrides))
    assert {k: names[k] for k in expected} == expected
    assert all(k != v for k, v in names.items())  # only names that differ are listed


def test_the_one_hot_and_forward_outputs_are_named_as_the_student_wrote_them():
    """A course student reads Y_enc and A3; a textbook student y_enc.T and a_out.T."""
    course, textbook = binding_for("course_separate"), binding_for("textbook_rows")
    assert display_names("one_hot", course) == {"Y": "Y_enc"}
    assert display_names("forward", course) == {"A_out": "A3"}
    assert display_names("one_hot", textbook) == {"Y": "y_enc.T"}
    assert display_names("forward", textbook) == {"A_out": "a_out.T"}


def test_a_custom_adapter_keeps_the_lectures_names():
    """A custom adapter's student may call their arrays anything: messages use the lecture's."""
    custom = binding_for("custom", custom_file="x.py", custom_like="course_separate")
    assert display_names("gradients", custom) == {}
