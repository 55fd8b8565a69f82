"""Preparing cells for the child: definitions/full modes, IPython syntax, line mapping."""

from __future__ import annotations

import ast
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from grader import prepare as prep
from grader.prepare import PreparedCode, prepare
from grader.submission import CodeCell, load_submission

FIXTURES = Path(__file__).parent / "fixtures" / "submissions"
FILENAME = "<submission>"


def cells(*sources: str, start: int = 0) -> list[CodeCell]:
    """Code cells at consecutive notebook indices from ``start``."""
    return [CodeCell(start + k, s) for k, s in enumerate(sources)]


def run(code: PreparedCode) -> dict[str, object]:
    """Execute prepared (trusted, test-authored) code as the child would."""
    namespace: dict[str, object] = {"__name__": "__graded__"}
    exec(compile(code.source, FILENAME, "exec"), namespace)
    return namespace


def top_level_names(source: str) -> set[str]:
    """Names bound by the top-level statements of ``source``."""
    names: set[str] = set()
    body = ast.parse(source).body
    # an import only skipped cells use is kept inside a guard (try/except ImportError)
    guarded = [s for node in body if isinstance(node, ast.Try) for s in node.body]
    for node in [*body, *guarded]:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


@pytest.fixture
def course():
    return load_submission(FIXTURES / "course_style.ipynb")


@pytest.fixture
def fake_pyplot(monkeypatch):
    """A stand-in matplotlib that records calls, so no real plotting runs."""
    calls: list[str] = []
    pyplot = SimpleNamespace(
        **{n: (lambda *a, n=n, **k: calls.append(n)) for n in ("plot", "xlabel", "show")}
    )
    monkeypatch.setitem(sys.modules, "matplotlib", SimpleNamespace(pyplot=pyplot))
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", pyplot)
    return calls


# --- definitions mode on a course-style notebook ------------------------------------


def test_definitions_keep_imports_classes_functions_constants(course):
    """Only imports, classes, functions and constants survive, and the result compiles."""
    code = prepare(course)
    compile(code.source, FILENAME, "exec")
    assert top_level_names(code.source) == {
        "np", "plt", "expit", "EPOCHS", "N_HIDDEN", "ETA", "LAYERS",
        "TwoLayerPerceptronBase", "TLPMiniBatch", "accuracy",
    }  # fmt: skip
    assert "get_ipython" not in code.source and "fit(X, y)" not in code.source


def test_definitions_list_every_skipped_statement(course):
    """Magics, shell, seeding, data, training, plots and prints are listed by cell and line."""
    skipped = {(note.cell, note.line) for note in prepare(course).skipped}
    assert skipped == {
        (1, 1), (1, 2), (2, 5), (5, 1), (5, 2), (5, 3), (6, 2), (6, 3),
        (7, 1), (7, 2), (7, 3), (7, 4), (8, 5), (8, 6),
    }  # fmt: skip


def test_skip_note_reads_as_one_line(course):
    """A skip note names the cell as a student counts it, the line, and the code."""
    notes = [str(n) for n in prepare(course).skipped]
    assert "cell 7, line 3: skipped, a call or expression: `net.fit(X, y)`" in notes
    assert "cell 2, line 1: skipped, an IPython command: `%matplotlib inline`" in notes


def test_definitions_run_without_training(course, fake_pyplot):
    """Executing the definitions defines the class but trains and plots nothing."""
    namespace = run(prepare(course))
    assert namespace["EPOCHS"] == 50 and namespace["LAYERS"] == (30, 15)
    assert "net" not in namespace and fake_pyplot == []
    net = namespace["TLPMiniBatch"](n_hidden=3, epochs=2, random_state=0)  # type: ignore[operator]
    net.fit(np.eye(4), np.array([0, 1, 0, 1]))
    assert len(net.cost_) == 2


def test_ipython_syntax_is_reported_as_transformed(course):
    """Each rewritten IPython construct is listed with what became of it."""
    notes = "\n".join(prepare(course).transformed)
    assert "cell 2, line 1: `%matplotlib inline` -> line magic %matplotlib" in notes
    assert "cell 2, line 2: `!pip install -q scikit-learn` -> shell command, not run" in notes
    assert "cell 7, line 1: `%%time` dropped, body kept" in notes
    assert "cell 9, line 6: `TLPMiniBatch.fit?` -> help request" in notes


# --- full mode ---------------------------------------------------------------------------


def test_full_mode_runs_every_cell_in_order(course, fake_pyplot, capsys):
    """Full mode trains, plots and displays, in notebook order, without running pip."""
    code = prepare(course, "full")
    namespace = run(code)
    assert len(namespace["net"].cost_) == 50  # type: ignore[attr-defined]
    assert fake_pyplot == ["plot", "xlabel", "show"]
    assert capsys.readouterr().out.count("\n") == 2  # display(cost) and print(accuracy)
    cells_in_order = [origin[0] for origin in code.line_map if origin is not None]
    assert cells_in_order == sorted(cells_in_order)
    assert code.skipped == ()


def test_line_map_points_at_the_students_lines(course):
    """Every mapped line not rewritten by the grader is the student's line, verbatim."""
    code = prepare(course, "full")
    sources = {c.index: c.source.split("\n") for c in course.cells}
    checked = 0
    for number, line in enumerate(code.source.split("\n"), start=1):
        origin = code.locate(number)
        if origin is None or "get_ipython" in line or not line.strip():
            continue
        cell, in_cell = origin
        assert line == sources[cell][in_cell - 1]
        checked += 1
    assert checked > 60
    assert code.locate(0) is None and code.locate(10**6) is None


def test_runtime_error_locates_to_cell_and_line():
    """A traceback line in the prepared source maps back to the cell and line."""
    code = prepare(
        cells("import math", "def f(x):\n    y = x\n    return math.sqrt(y) / 0", start=3)
    )
    with pytest.raises(ZeroDivisionError) as caught:
        run(code)["f"](4.0)  # type: ignore[operator]
    line = traceback.extract_tb(caught.tb)[-1].lineno
    assert code.locate(line) == (4, 3)
    assert code.where(line) == "cell 5, line 3"


def test_continued_shell_command_keeps_later_lines_mapped():
    """A backslash-continued !command is merged into one line; later lines stay exact."""
    code = prepare(cells("!echo a \\\n  b\nx = 1\ny = undefined_name"), "full")
    with pytest.raises(NameError) as caught:
        run(code)
    assert code.locate(traceback.extract_tb(caught.tb)[-1].lineno) == (0, 4)


@pytest.mark.parametrize(
    ("source", "name", "value"),
    [
        ("files = !ls", "files", []),
        ("%time y = 2", "y", 2),
        ("%%capture\nz = 3", "z", 3),
        (">>> a = 1\n>>> w = a + 1", "w", 2),
        ("    q = 1\n    q += 1", "q", 2),
    ],
    ids=["shell_assign", "time_line_magic", "capture_cell_magic", "prompts", "indented"],
)
def test_full_mode_ipython_syntax_runs(source, name, value):
    """IPython-only syntax runs in plain Python with the effect a notebook gives."""
    assert run(prepare(cells(source), "full"))[name] == value


def test_other_cell_magics_skip_the_cell():
    """%%bash is not run; the cell is listed as skipped in both modes."""
    for mode in prep.MODES:
        code = prepare(cells("x = 1", "%%bash\necho hi\nrm -rf /"), mode)
        assert "echo" not in code.source
        assert [(n.cell, n.line, n.kind) for n in code.skipped] == [(1, 1, "cell_magic")]


def test_prelude_only_when_needed():
    """The display/get_ipython stand-ins appear only if the code names them."""
    plain = prepare(cells("x = 1"), "full")
    assert plain.source == "# --- cell 1 ---\nx = 1\n"
    shown = prepare(cells("display(41 + 1)"), "full")
    assert "def display" in shown.source and "_GraderShell" not in shown.source
    assert shown.where(1) == "grader prelude"


def test_future_import_moves_to_the_top():
    """A __future__ import in a later cell still applies, ahead of the prelude."""
    later = "from __future__ import annotations; import os\ndef f(x: Undefined) -> None: ..."
    for mode in prep.MODES:
        code = prepare(cells("display(1)", later), mode)
        assert code.source.startswith("from __future__ import annotations\n")
        assert code.locate(1) == (1, 1)
        namespace = run(code)
        assert callable(namespace["f"]) and "os" in namespace


# --- syntax errors -------------------------------------------------------------------


BROKEN = cells("def ok():\n    return 1", "x = 1\ndef g(:\n    pass", "def later():\n    return 2")


def test_definitions_mode_skips_a_broken_cell():
    """A cell with a syntax error is skipped with a note; the rest is kept."""
    code = prepare(BROKEN)
    namespace = run(code)
    assert "ok" in namespace and "later" in namespace and "x" not in namespace
    (note,) = code.skipped
    assert (note.cell, note.line, note.kind) == (1, 2, "syntax_error")
    assert str(note).startswith("cell 2, line 2: skipped, SyntaxError: ")


def test_full_mode_raises_the_syntax_error_where_it_was():
    """Full mode runs earlier cells, then raises the SyntaxError at the mapped line."""
    code = prepare(BROKEN, "full")
    namespace: dict[str, object] = {}
    with pytest.raises(SyntaxError) as caught:
        exec(compile(code.source, FILENAME, "exec"), namespace)
    assert "ok" in namespace and "later" not in namespace
    assert code.locate(traceback.extract_tb(caught.tb)[-1].lineno) == (1, 2)
    assert caught.value.lineno == 2 and caught.value.filename == "cell 2, line 2"
    assert [(n.cell, n.kind) for n in code.skipped] == [(1, "syntax_error"), (2, "not_reached")]


def test_compile_stage_errors_count_as_syntax_errors():
    """'return' outside a function is caught although ast.parse accepts it."""
    (note,) = prepare(cells("x = 1\nreturn x")).skipped
    assert (note.line, note.kind) == (2, "syntax_error")
    assert "outside function" in note.reason


# --- what definitions mode keeps ---------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "kept"),
    [
        ("EPOCHS = 50", True),
        ("A, B = 1, 2", True),
        ("DTYPE = np.float64", True),
        ("SHAPE = [H, 2 * H][-1:]", True),
        ("NAME = f'net_{H:03d}'", True),
        ("X = np.zeros(3)", False),
        ("Y = H * compute()", False),
        ("Z = np.eye(2)[0]", False),
        ("np.random.seed(0)", False),
        ("obj.attr = 1", False),
        ("d['k'] = 1", False),
        ("H += 1", False),
        ("for i in range(3):\n    pass", False),
        ("try:\n    import torch\nexcept ImportError:\n    torch = None", True),
        ("try:\n    import torch\nexcept ValueError:\n    pass", False),
        ("try:\n    x = compute()\nexcept ImportError:\n    pass", False),
        ("from google.colab import drive", False),
    ],
)
def test_definitions_keep_only_constant_statements(statement, kept):
    """Constants and guarded imports are kept; calls and computed values are not."""
    code = prepare(cells("import numpy as np\nH = 4", statement))
    assert (statement in code.source) is kept


def test_an_import_only_skipped_cells_use_cannot_stop_grading():
    """A display-only import of a package the environment lacks: the graded functions still
    load (the import is guarded), and still map to the student's lines."""
    code = prepare(
        cells(
            "import numpy as np\nfrom not_installed_xyz.display import YouTubeVideo",
            "YouTubeVideo('dQw4w9WgXcQ')",
            "def total(x):\n    return np.sum(x)",
        )
    )
    assert "except ImportError:" in code.source
    namespace = run(code)
    assert namespace["total"]([1, 2]) == 3  # type: ignore[operator]
    line = code.source.splitlines().index("    from not_installed_xyz.display import YouTubeVideo")
    assert code.line_map[line] == (0, 2)


def test_an_import_the_graded_code_reads_is_left_to_fail():
    """An import a kept function or constant reads is not guarded: its absence is reported
    (as the environment's), never hidden behind a NameError later."""
    for source in (
        "import not_installed_xyz\ndef f():\n    return not_installed_xyz.g()",
        "import not_installed_xyz as nx\nSCALE = nx.ONE",
        "from not_installed_xyz import *\ndef f():\n    return g()",
    ):
        code = prepare(cells(source))
        assert "try:" not in code.source, source
        with pytest.raises(ModuleNotFoundError):
            run(code)


def test_main_block_is_skipped_by_name():
    """`if __name__ == '__main__':` is dropped with a reason that says so."""
    sub = load_submission(FIXTURES / "mlp_module.py")
    code = prepare(sub)
    assert "__main__" not in code.source and "print(" not in code.source
    reasons = {n.line: n.reason for n in code.skipped}
    assert "__main__" in reasons[23]
    assert str(code.skipped[0]).startswith("line 20: ")  # a module has no cells


def test_statements_sharing_a_line_are_split():
    """Statements joined by ';' are kept or skipped one by one."""
    code = prepare(cells("import os; os.system('echo hi')\nx = f(); import sys"))
    assert "import os\n" in code.source and "system" not in code.source
    assert "import sys\n" in code.source and "f()" not in code.source


def test_warns_when_a_definition_needs_a_skipped_global():
    """A kept function reading a global set by a skipped call is flagged."""
    sources = (
        "import numpy as np\nEPS = np.finfo(float).eps\nX = np.ones(3)",
        "def safe_log(x):\n    return np.log(x + EPS)\n\ndef shape(X):\n    return X.shape",
    )
    (warning,) = prepare(cells(*sources)).warnings
    assert warning.startswith("safe_log (cell 2, line 1) uses `EPS`")
    assert "(cell 1, line 2)" in warning


@pytest.fixture
def default_recursion_limit() -> Iterator[None]:
    """Python's own limit: importing IPython 8 raises it to 3000, IPython 9 does not."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(before)


@pytest.mark.usefixtures("default_recursion_limit")
def test_absurd_expressions_are_noted_not_raised():
    """Long legal expressions are kept; those too deep for the compiler skip their cell with a note."""
    assert "X = 1 + 1" in prepare(cells("X = " + " + ".join(["1"] * 1500))).source
    for source in ("X = " + " + ".join(["1"] * 100_000), "X = " + "-" * 100_000 + "1"):
        (note,) = prepare(cells(source)).skipped
        assert note.kind == "syntax_error" and "too deeply nested" in note.reason


def test_cell_with_much_ipython_syntax_uses_the_linear_fallback():
    """Hundreds of shell lines are rewritten by the regex fallback, not IPython's O(n^2) loop."""
    code = prepare(cells("\n".join(["!echo hi"] * 200) + "\nx = 1"), "full")
    assert code.source.count("get_ipython().system('echo hi')") == 200
    assert "rewritten approximately" in code.transformed[0]
    assert run(code)["x"] == 1


def test_unknown_mode_is_rejected():
    """A rubric naming an unknown mode fails loudly."""
    with pytest.raises(ValueError, match="unknown preparation mode"):
        prepare(cells("x = 1"), "everything")  # type: ignore[arg-type]


# --- the fallback without IPython ----------------------------------------------------------


def use_regex_fallback(monkeypatch):
    """Make prepare behave as if IPython were not installed."""
    fallback = (prep._regex_transform, prep._strip_prompts_fallback)
    monkeypatch.setattr(prep, "_rewriters", lambda: fallback)


def test_regex_fallback_gives_the_same_code(course, monkeypatch):
    """Without IPython, the course notebook prepares to the same source in both modes."""
    expected = {mode: prepare(course, mode) for mode in prep.MODES}
    use_regex_fallback(monkeypatch)
    for mode, code in expected.items():
        fallback = prepare(course, mode)
        assert (fallback.source, fallback.line_map) == (code.source, code.line_map)
        assert fallback.transformed == code.transformed


def test_regex_fallback_leaves_modulo_continuations_alone(monkeypatch):
    """A line starting with % inside brackets is arithmetic, not a magic."""
    use_regex_fallback(monkeypatch)
    code = prepare(cells("r = (7\n% 4)\n%time s = r"), "full")
    namespace = run(code)
    assert (namespace["r"], namespace["s"]) == (3, 3)
