"""Build the sample submissions from their plain-text sources.

    python submissions/build.py

Each source in ``submissions/src/`` is a ``.py`` file in the "percent" format
(as jupytext writes it): ``# %%`` starts a code cell, ``# %% [markdown]`` a
markdown cell whose lines are ``# `` comments, and an IPython magic is written
commented, ``# %matplotlib inline``. Notebooks are written with nbformat
(cells without outputs, as a student hands in a cleared notebook); ``.py``
samples are copied as they are. ``expected.toml`` beside them records each
sample's expected outcome, its adapter binding and the conventions it follows.

Four folders are written:

- ``correct/``  the correct samples (``SAMPLES``), one per adapter style;
- ``buggy/``    one submission per misconception and style (``BUGGY``, sources in
                ``src/buggy/<style>_<misconception>.py``), the correct controls of the
                assignment variants they need (``CONTROLS``), and ``expected.toml``: the
                rubric each is graded with and the diagnosis it must get
                (tests/grader/test_e2e_diagnosis.py). ``buggy/rubrics/`` holds the
                test-only rubrics (written by hand, not by this script);
- ``demo/``     a small mock class for the README's first command (``DEMO``);
- ``conventions/*.ipynb``  the legitimate-convention notebooks, one per source in
                ``conventions/src/`` (its plain ``.py`` samples and ``expected.toml``
                are written by hand).

A rebuild with unchanged sources changes nothing: files are written only when
their bytes differ, and generated files whose source is gone are removed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple

import nbformat

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"

# name -> (output suffix, adapter binding, conventions it follows)
SAMPLES: dict[str, tuple[str, dict[str, object], dict[str, str]]] = {
    "template_ok": (
        ".ipynb",
        {"style": "template"},
        {
            "objective": "sum((Y-A)^2) + C/2·||W||^2",
            "bias": "separate",
            "layout": "columns",
            "optimizer": "momentum_course (biases too)",
            "schedule": "inverse_time",
        },
    ),
    "course_separate_ok": (
        ".ipynb",
        {"style": "course_separate", "class": "TLPMiniBatch"},
        {
            "objective": "sum((Y-A)^2) + C/2·||W||^2",
            "bias": "separate",
            "layout": "columns (X rows at the API)",
            "optimizer": "momentum_course (weights only)",
            "schedule": "step",
            "cost": "printed (course _cost)",
        },
    ),
    "course_folded_ok": (
        ".ipynb",
        {"style": "course_folded", "class": "TLPMiniBatch"},
        {
            "objective": "sum((Y-A)^2) + C/2·||W[:,1:]||^2",
            "bias": "folded",
            "layout": "columns (X rows at the API)",
            "optimizer": "momentum_course (bias column too)",
            "schedule": "compounding",
            "cost": "printed (course _cost)",
        },
    ),
    "textbook_rows_ok": (
        ".py",
        {"style": "textbook_rows", "class": "NeuralNetMLP", "methods": {"gradients": "backward"}},
        {
            "objective": "-sum(Y ln A + (1-Y) ln(1-A)) + C/2·||W||^2",
            "bias": "separate",
            "layout": "rows",
            "cost": "objective with penalty C·||W||^2 (_compute_cost)",
        },
    ),
}

TEMPLATE_RUBRIC = "rubrics/mlp_backprop.toml"
COURSE_RUBRIC = "rubrics/mlp_backprop_course.toml"
FOLDED_RUBRIC = "rubrics/mlp_backprop_course_folded.toml"
TEST_RUBRICS = "submissions/buggy/rubrics"  # test-only variants of the assignment
STYLE_RUBRIC = {
    "template": TEMPLATE_RUBRIC,
    "course_separate": COURSE_RUBRIC,
    "course_folded": FOLDED_RUBRIC,
}
STYLE_BASE = {
    "template": "src/template_ok.py",
    "course_separate": "src/course_separate_ok.py",
    "course_folded": "src/course_folded_ok.py",
}

# Why the grader does not (yet) name a faithful bug; each such case is an xfail(strict=True).
_STATEFUL = (
    "the template's learning_rate(eta0, d, epoch) is handed eta0 on every call and has no "
    "object to keep a rate in, and its rubric declares inverse-time cooling; the named "
    "stateful rule is the course's step decay kept in self.eta (course_separate_stateful_cooling)"
)
_FOLDED_ONLY = (
    "the bug needs a bias row in V1, which only the folded-bias style has; see "
    "course_folded_bias_row_off_by_one"
)


class Buggy(NamedTuple):
    """One buggy submission: ``src/buggy/<style>_<label>.py`` with exactly one bug.

    checks       : the checks that must fail; with outcome "diagnosed" each is diagnosed as
                   ``label``
    outcome      : "diagnosed" | "not_diagnosed" (a faithful bug the grader does not name:
                   ``reason`` says why; the test is an xfail(strict=True)) |
                   "not_expressible" (no adapter and rubric can reveal it: ``reason``)
    alternatives : other names a failed check may give as its diagnosis (documented here)
    suffix       : ".ipynb" (a notebook), ".py" (a module) or "" (no submission)
    rubric, base : default per style (``STYLE_RUBRIC``, ``STYLE_BASE``)

    (A NamedTuple, not a dataclass: other scripts load this file without registering it
    in ``sys.modules``, where dataclasses cannot resolve their annotations.)
    """

    style: str
    label: str
    checks: tuple[str, ...] = ()
    outcome: str = "diagnosed"
    reason: str = ""
    alternatives: tuple[str, ...] = ()
    suffix: str = ".ipynb"
    rubric: str = ""
    base: str = ""

    @property
    def name(self) -> str:
        return f"{self.style}_{self.label}"

    @property
    def file(self) -> str:
        return f"{self.name}{self.suffix}" if self.suffix else ""


BOTH = ("template", "course_separate")  # every misconception has a submission in each
_PREFIX = {"template": "template", "course_separate": "course"}  # of the test-only rubrics


def _both(label: str, *checks: str, **more: Any) -> list[Buggy]:
    """The template and course_separate submissions of one misconception."""
    return [Buggy(style, label, checks, **more) for style in BOTH]


_ADAPTIVE = {
    "template": "src/buggy/template_adaptive_ok.py",
    "course_separate": "src/buggy/course_separate_adaptive_ok.py",
}


def _adaptive(label: str, method: str, **more: Any) -> list[Buggy]:
    """Both styles' submissions of an AdaGrad or Adam bug, graded by the test-only rubrics."""
    return [
        Buggy(
            style,
            label,
            (method,),
            rubric=f"{TEST_RUBRICS}/{_PREFIX[style]}_{method}.toml",
            base=_ADAPTIVE[style],
            **more,
        )
        for style in BOTH
    ]


BUGGY: list[Buggy] = [
    *_both("sign_flip_output_delta", "grad_output"),
    *_both("missing_output_derivative", "grad_output"),
    *_both("missing_hidden_derivative", "grad_hidden"),
    Buggy("template", "derivative_on_z", ("grad_hidden",), suffix=".py"),
    Buggy("course_separate", "derivative_on_z", ("grad_hidden",)),
    *_both("bias_row_off_by_one", outcome="not_expressible", reason=_FOLDED_ONLY, suffix=""),
    Buggy("course_folded", "bias_row_off_by_one", ("grad_hidden",)),
    Buggy("template", "bias_regularised", ("grad_penalty",)),
    Buggy("course_separate", "bias_regularised", ("grad_penalty",), suffix=".py"),
    *_both("averaged_data_not_penalty", "grad_penalty"),
    # the convention 'l2' gives the same numbers; the rubric's wording names the bug
    *_both("penalty_doubled", "grad_penalty", alternatives=("l2",)),
    *_both("penalty_halved", "grad_penalty"),
    *_both("one_hot_transposed", "one_hot"),
    *_both("one_hot_unsorted_classes", "one_hot"),
    *_both("momentum_heavy_ball_for_course", "momentum", alternatives=("heavy_ball",)),
    *[
        Buggy(
            style,
            "momentum_course_for_heavy_ball",
            ("momentum",),
            alternatives=("course_momentum",),
            rubric=f"{TEST_RUBRICS}/{_PREFIX[style]}_heavy_ball.toml",
            base=f"src/buggy/{style}_heavy_ball_ok.py",
        )
        for style in BOTH
    ],
    *_adaptive("adagrad_no_sqrt", "adagrad"),
    *_adaptive("adagrad_reset_each_step", "adagrad"),
    *_adaptive("adam_no_bias_correction", "adam"),
    *_adaptive("adam_step_not_incremented_first", "adam"),
    Buggy("template", "compounding_decay", ("cooling",)),
    Buggy(
        "course_separate",
        "compounding_decay",
        ("cooling",),
        rubric=f"{TEST_RUBRICS}/course_inverse_time.toml",
        base="src/buggy/course_separate_inverse_time_ok.py",
    ),
    # named in the replay: the parent's own draws with the targets left in place reproduce
    # the final weights and cost (grader.probes.replay_targets_unshuffled)
    *_both("xy_shuffled_separately", "replay"),
    # issue 11 item 4: bugs beyond the first registry
    *_both("sign_flip_one_layer", "grad_hidden"),
    *_both("bias_gradient_missing", "grad_hidden"),
    *_both("averaged_weights_or_biases_only", "grad_output"),
    *_both("momentum_never_applied", "momentum"),
    Buggy("course_separate", "stateful_cooling", ("cooling_asked_again",)),
    Buggy("template", "stateful_cooling", outcome="not_expressible", reason=_STATEFUL, suffix=""),
]

# Correct controls: full marks under each rubric listed (paths from the repository root).
# name -> (file, relative to buggy/, or None when built here from src/buggy/<name>.py; rubrics)
CONTROLS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "template_ok": ("../correct/template_ok.ipynb", (TEMPLATE_RUBRIC,)),
    "course_separate_ok": ("../correct/course_separate_ok.ipynb", (COURSE_RUBRIC,)),
    "course_folded_ok": ("../correct/course_folded_ok.ipynb", (FOLDED_RUBRIC,)),
    "template_heavy_ball_ok": (None, (f"{TEST_RUBRICS}/template_heavy_ball.toml",)),
    "course_separate_heavy_ball_ok": (None, (f"{TEST_RUBRICS}/course_heavy_ball.toml",)),
    "template_adaptive_ok": (
        None,
        (f"{TEST_RUBRICS}/template_adagrad.toml", f"{TEST_RUBRICS}/template_adam.toml"),
    ),
    "course_separate_adaptive_ok": (
        None,
        (f"{TEST_RUBRICS}/course_adagrad.toml", f"{TEST_RUBRICS}/course_adam.toml"),
    ),
    "course_separate_inverse_time_ok": (None, (f"{TEST_RUBRICS}/course_inverse_time.toml",)),
}

# The mock class of the README's first command (graded with rubrics/mlp_backprop.toml):
# student -> (source relative to src/, or raw bytes; expected outcome: "full_marks",
# a misconception's name, "syntax_error" or "ungradable")
DEMO: dict[str, tuple[str | bytes, str]] = {
    # the template with the course notebooks' display-only first cell (IPython.display)
    "alice": ("demo_alice.py", "full_marks"),
    "bob": ("buggy/template_missing_hidden_derivative.py", "missing_hidden_derivative"),
    "carol": ("buggy/template_sign_flip_output_delta.py", "sign_flip_output_delta"),
    "dave": ("buggy/template_bias_regularised.py", "bias_regularised"),
    "erin": ("buggy/template_compounding_decay.py", "compounding_decay"),
    "frank": ("buggy/template_one_hot_unsorted_classes.py", "one_hot_unsorted_classes"),
    "grace": ("buggy/template_syntax_error.py", "syntax_error"),
    # a file that is not a notebook at all, handed in under the notebook's name
    "heidi": (
        b"Sorry, my notebook is on my other laptop; I will send it tomorrow.\n",
        "ungradable",
    ),
}


_CELL = re.compile(r"^# %%(?: \[(markdown)\])?\s*$")
_MAGIC = re.compile(r"^# (%[A-Za-z]\w*.*)$")


def cells(text: str) -> list[nbformat.NotebookNode]:
    """Split percent-format source into notebook cells."""
    out: list[nbformat.NotebookNode] = []
    kind: str | None = None
    lines: list[str] = []

    def flush() -> None:
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(re.sub(r"^# ?", "", line) for line in body.splitlines())
            out.append(nbformat.v4.new_markdown_cell(body))
        elif kind == "code" and body:
            body = "\n".join(_MAGIC.sub(r"\1", line) for line in body.splitlines())
            out.append(nbformat.v4.new_code_cell(body))

    for line in text.splitlines():
        m = _CELL.match(line)
        if m:
            flush()
            kind, lines = ("markdown" if m.group(1) else "code"), []
        elif kind is not None:
            lines.append(line)
    flush()
    return out


def notebook_text(src: Path) -> str:
    """The notebook built from the percent-format source ``src``, as text."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = cells(src.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"  # stable ids: a rebuild changes nothing
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def build_notebook(src: Path, dest: Path) -> None:
    write_if_changed(dest, notebook_text(src).encode("utf-8"))


def write_if_changed(dest: Path, data: bytes) -> bool:
    """Write ``data`` unless ``dest`` already holds exactly it (so mtimes stay put)."""
    if dest.is_file() and dest.read_bytes() == data:
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return True


def _output(src: Path, suffix: str) -> bytes:
    """A sample's bytes: a notebook built from ``src``, or ``src`` itself (a module)."""
    return notebook_text(src).encode("utf-8") if suffix == ".ipynb" else src.read_bytes()


def _toml_value(v: object) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def expected_toml() -> str:
    lines = [
        "# Expected outcomes of the correct sample submissions (generated by submissions/build.py).",
        "# outcome = full_marks: every check passes; no misconception is diagnosed.",
        "",
    ]
    for name, (suffix, adapter, conventions) in SAMPLES.items():
        lines += [f"[{name}]", f'file = "{name}{suffix}"', 'outcome = "full_marks"']
        lines += [f"{k} = {_toml_value(v)}" for k, v in conventions.items()]
        lines += [f"adapter = {_toml_value(adapter)}", ""]
    return "\n".join(lines)


def buggy_expected_toml() -> str:
    """``buggy/expected.toml``: every buggy submission, control and demo student's outcome."""
    lines = [
        "# Expected outcomes of the buggy sample submissions (generated by submissions/build.py;",
        "# checked by tests/grader/test_e2e_diagnosis.py). Paths: `file` relative to this folder,",
        "# `rubric(s)` and `base` relative to the repository root and to submissions/.",
        "#",
        "# [buggy.<style>_<label>]  one misconception (`label`) in one adapter style, one bug",
        "#   in the correct `base` sample. `checks` must fail; outcome =",
        '#   "diagnosed"        each of `checks` is diagnosed as `label`;',
        '#   "not_diagnosed"    a faithful bug the grader does not name yet (`reason`);',
        '#   "not_expressible"  no adapter and rubric can reveal it as `label` (`reason`).',
        "#   A failed check may name no other misconception or convention than `label` and",
        "#   `alternatives`.",
        "# [controls.<name>]  correct samples: full marks and no diagnosis under each rubric.",
        "# [demo.<student>]   the mock class in submissions/demo/ (rubrics/mlp_backprop.toml).",
        "",
    ]
    for b in BUGGY:
        lines += [
            f"[buggy.{b.name}]",
            f"file = {_toml_value(b.file)}",
            f"style = {_toml_value(b.style)}",
            f"rubric = {_toml_value(b.rubric or STYLE_RUBRIC[b.style])}",
            f"base = {_toml_value(b.base or STYLE_BASE[b.style])}",
            f"label = {_toml_value(b.label)}",
            f"outcome = {_toml_value(b.outcome)}",
            f"checks = {_toml_value(b.checks)}",
            f"alternatives = {_toml_value(b.alternatives)}",
        ]
        if b.reason:
            lines.append(f"reason = {_toml_value(b.reason)}")
        lines.append("")
    for name, (file, rubrics) in CONTROLS.items():
        lines += [
            f"[controls.{name}]",
            f"file = {_toml_value(file or f'{name}.ipynb')}",
            f"rubrics = {_toml_value(rubrics)}",
            'outcome = "full_marks"',
            "",
        ]
    for student, (_, outcome) in DEMO.items():
        lines += [
            f"[demo.{student}]",
            f'file = "{student}.ipynb"',
            f"outcome = {_toml_value(outcome)}",
            "",
        ]
    return "\n".join(lines)


def outputs() -> dict[str, bytes]:
    """Every generated file (path relative to submissions/ -> bytes), from the sources."""
    out: dict[str, bytes] = {}
    for name, (suffix, _, _) in SAMPLES.items():
        out[f"correct/{name}{suffix}"] = _output(SRC / f"{name}.py", suffix)
    out["correct/expected.toml"] = expected_toml().encode("utf-8")
    for b in BUGGY:
        if b.file:
            out[f"buggy/{b.file}"] = _output(SRC / "buggy" / f"{b.name}.py", b.suffix)
    for name, (file, _) in CONTROLS.items():
        if file is None:
            out[f"buggy/{name}.ipynb"] = _output(SRC / "buggy" / f"{name}.py", ".ipynb")
    out["buggy/expected.toml"] = buggy_expected_toml().encode("utf-8")
    for student, (source, _) in DEMO.items():
        data = source if isinstance(source, bytes) else _output(SRC / source, ".ipynb")
        out[f"demo/{student}.ipynb"] = data
    for src in sorted((HERE / "conventions" / "src").glob("*.py")):
        out[f"conventions/{src.stem}.ipynb"] = _output(src, ".ipynb")
    return out


# generated files live at the top of these folders; anything else there is stale
_GENERATED = {"buggy": (".ipynb", ".py", ".toml"), "demo": (".ipynb",), "conventions": (".ipynb",)}


def build(root: Path = HERE) -> list[str]:
    """Write every output under ``root``; remove stale generated files. Returns what changed."""
    files = outputs()
    changed = [rel for rel, data in files.items() if write_if_changed(root / rel, data)]
    for folder, suffixes in _GENERATED.items():
        for path in sorted((root / folder).iterdir()):
            rel = f"{folder}/{path.name}"
            if path.is_file() and path.suffix in suffixes and rel not in files:
                path.unlink()
                changed.append(f"{rel} (removed)")
    return changed


def main() -> None:
    changed = build()
    for rel in changed:
        print(f"wrote submissions/{rel}")
    if not changed:
        print("submissions/: every output is up to date")


if __name__ == "__main__":
    main()
