"""The project's set-up as a newcomer meets it: README commands, CI script, examples, template.

Commands are read from the files themselves, so a renamed flag or a moved file
fails here rather than in a reader's terminal. The template is graded through
the real pipeline (plain sandbox tier, like tests/grader/test_pipeline.py).
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shlex
from pathlib import Path
from types import ModuleType

import pytest

from grader.cli import build_parser
from grader.grade import GradeSettings, grade_submission
from grader.rubric_file import load_rubric

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEMPLATE_SRC = ROOT / "templates" / "mlp_backprop_template.py"
TEMPLATE_NB = ROOT / "templates" / "mlp_backprop_template.ipynb"
SOLUTION_SRC = ROOT / "submissions" / "src" / "template_ok.py"
RUBRIC = ROOT / "rubrics" / "mlp_backprop.toml"
EXAMPLES = (
    ROOT / "examples" / "github-actions" / "grade.yml",
    ROOT / "examples" / "gradescope" / "run_autograder",
    ROOT / "examples" / "gradescope" / "setup.sh",
)
SETTINGS = GradeSettings(tier="plain")


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def setup_commands() -> list[str]:
    """The indented command lines of the README's "Set-up" section, in order."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    ")]


def grader_invocations(text: str, code_indent: int = 0) -> list[list[str]]:
    """Every ``grader ...`` / ``python -m grader ...`` call in shell-like text: its arguments.

    Full-line comments are skipped; with ``code_indent`` only lines indented at least
    that much count (Markdown's indented code blocks).
    """
    joined = re.sub(r"\\\n\s*", " ", text)  # shell line continuations
    calls = []
    for line in joined.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        if indent < code_indent or line.lstrip().startswith("#"):
            continue
        if not re.search(r"(^|[\s/])grader\s+\S", line):
            continue
        for part in re.split(r"&&|\|\||;", line):
            tokens = shlex.split(part, comments=True)
            starts = [i for i, t in enumerate(tokens) if t == "grader" or t.endswith("/grader")]
            if starts and tokens[starts[0] + 1 :]:
                calls.append(tokens[starts[0] + 1 :])
    return calls


# ---------------------------------------------------------------------------
# README and CI


def test_readme_has_exactly_two_setup_commands() -> None:
    """The Set-up section shows two commands: install + grade the demo, install + test."""
    first, second = setup_commands()
    assert first.startswith("python -m pip install -e '.[students]' && grader grade ")
    assert second == "python -m pip install -e '.[test,oracle]' && python -m pytest"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    """.ci/run's last command is, character for character, the README's second command."""
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    commands = [
        line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")
    ]
    assert commands[-1] == setup_commands()[1]


def test_the_oracle_extra_is_a_range_the_installed_torch_satisfies() -> None:
    """`.[oracle]` asks for a range, not one build; where torch is installed (CI's machine),
    that torch satisfies it, so the README's install command downloads no other build."""
    import tomllib
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    with (ROOT / "pyproject.toml").open("rb") as f:
        extras = tomllib.load(f)["project"]["optional-dependencies"]
    (wanted,) = [Requirement(r) for r in extras["oracle"]]
    assert wanted.name == "torch"
    assert not any(spec.operator in ("==", "===") for spec in wanted.specifier), wanted
    try:
        installed = version("torch")
    except PackageNotFoundError:
        pytest.skip("torch is not installed here")
    assert wanted.specifier.contains(installed, prereleases=True), (installed, str(wanted))


def test_first_setup_command_names_files_that_exist() -> None:
    """The demo folder and the rubric of the first command exist; its output folder is git-ignored.

    The output folder itself need not exist (a fresh checkout has none; the
    batch creates it), but writing there must not dirty the working tree.
    """
    args = grader_invocations(setup_commands()[0])[0]
    parsed = build_parser().parse_args(args)
    assert parsed.command == "grade"
    assert (ROOT / parsed.folder).is_dir(), f"{parsed.folder} is missing"
    assert any((ROOT / parsed.folder).iterdir()), f"{parsed.folder} is empty"
    load_rubric(ROOT / parsed.rubric)  # exists and is valid
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    top = parsed.out.parts[0]
    assert not parsed.out.is_absolute() and f"/{top}/" in ignored, f"{parsed.out} is not ignored"


@pytest.mark.parametrize("path", [README, *EXAMPLES], ids=lambda p: p.name)
def test_every_grader_command_shown_parses(path: Path) -> None:
    """Each grader command in the README and examples uses a subcommand and flags that exist."""
    calls = grader_invocations(path.read_text(encoding="utf-8"), 4 if path == README else 0)
    if path.name == "setup.sh":
        assert calls == []  # installs only; grading is run_autograder's
        return
    assert calls, f"no grader command found in {path.name}"
    parser = build_parser()
    for args in calls:
        try:
            parser.parse_args(args)
        except SystemExit:
            pytest.fail(f"{path.name}: 'grader {shlex.join(args)}' does not parse")


def test_readme_commands_work_as_written_from_the_root() -> None:
    """Each README command's inputs (class folder, submission, rubric, kit) exist in the
    repository or are written by a command before it, and what it writes stays out of git."""
    text = README.read_text(encoding="utf-8")
    parser = build_parser()
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    written: list[Path] = []
    for args in grader_invocations(text, 4):
        parsed = parser.parse_args(args)
        inputs = [
            getattr(parsed, name)
            for name in ("folder", "submission", "rubric", "kit")
            if getattr(parsed, name, None) is not None
        ]
        for path in inputs:
            made = any(path == w or w in path.parents for w in written)
            assert made or (ROOT / path).exists(), f"'grader {shlex.join(args)}': no {path}"
        for name in ("out", "html", "json", "gradescope", "junit"):
            out = getattr(parsed, name, None)
            if out is not None:
                written.append(out)
                assert f"/{out.parts[0]}/" in ignored, f"{out} is not git-ignored"
    assert written, "no README command writes anything: has the parsing drifted?"


def test_readme_instructor_example_grades_only_students() -> None:
    """The class folder of the README's batch example holds students only: every entry the
    grader would grade is a notebook or module, and nothing is refused as ungradable."""
    from grader.submission import scan_class_folder

    commands = grader_invocations(README.read_text(encoding="utf-8"), 4)
    folders = {build_parser().parse_args(a).folder for a in commands if a[0] == "grade"}
    assert folders
    for folder in folders:
        listing = scan_class_folder(ROOT / folder)
        assert listing.submissions and all(isinstance(p, Path) for p in listing.submissions)
        assert all(p.suffix == ".ipynb" for p in listing.submissions)  # type: ignore[union-attr]


def test_readme_shows_every_subcommand() -> None:
    """Every subcommand of the parser appears in a README example."""
    shown = {args[0] for args in grader_invocations(README.read_text(encoding="utf-8"), 4)}
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    assert shown == set(subparsers.choices)  # type: ignore[arg-type]


def test_readme_links_point_at_files_that_exist() -> None:
    """Every relative link and image in the README names an existing path."""
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)\)", text)
    assert "docs/report-screenshot.png" in targets
    for target in targets:
        if "://" not in target:
            assert (ROOT / target).exists(), f"README links to missing {target}"


# ---------------------------------------------------------------------------
# The student template


def template_api() -> dict[str, list[str]]:
    """Function name -> argument names, from submissions/README.md's template table."""
    text = (ROOT / "submissions" / "README.md").read_text(encoding="utf-8")
    section = text.split("## The template", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)\(([^)]*)\)` \|", section, flags=re.M)
    return {name: [a.strip() for a in args.split(",")] for name, args in rows}


def template_functions() -> dict[str, ast.FunctionDef]:
    tree = ast.parse(TEMPLATE_SRC.read_text(encoding="utf-8"))
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_template_defines_the_documented_api() -> None:
    """Every function of the template table exists with the documented arguments, in order."""
    api, defs = template_api(), template_functions()
    assert len(api) >= 8
    for name, args in api.items():
        assert name in defs, f"the template has no {name}"
        assert [a.arg for a in defs[name].args.args] == args


def test_template_functions_are_documented_stubs() -> None:
    """Each API function has a docstring with Parameters/Returns and only raises NotImplementedError."""
    defs = template_functions()
    for name in template_api():
        fn = defs[name]
        doc = ast.get_docstring(fn) or ""
        assert "Parameters" in doc and "Returns" in doc, name
        if {"params", "X", "y"} & {a.arg for a in fn.args.args}:  # array arguments
            assert "shape" in doc, f"{name}'s docstring gives no shapes"
        last = fn.body[-1]
        assert len(fn.body) == 2 and isinstance(last, ast.Raise), name
        assert (
            isinstance(last.exc, ast.Call) and ast.unparse(last.exc.func) == "NotImplementedError"
        )


def test_template_notebook_is_built_from_its_source(tmp_path: Path) -> None:
    """templates/build.py reproduces the committed notebook byte for byte (and is idempotent)."""
    build = _load(ROOT / "templates" / "build.py")
    first = build.build(tmp_path)[0].read_bytes()
    second = build.build(tmp_path)[0].read_bytes()
    assert first == second
    assert TEMPLATE_NB.read_bytes() == first, "run: python templates/build.py"


def filled_template() -> str:
    """The template's source with each stub body replaced by template_ok.py's body."""
    solution = SOLUTION_SRC.read_text(encoding="utf-8")
    bodies = {}
    for node in ast.parse(solution).body:
        if isinstance(node, ast.FunctionDef):
            body = node.body
            if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]  # keep the template's docstring, not the solution's
            lines = solution.splitlines(keepends=True)[body[0].lineno - 1 : body[-1].end_lineno]
            bodies[node.name] = "".join(lines)
    lines = TEMPLATE_SRC.read_text(encoding="utf-8").splitlines(keepends=True)
    stubs = sorted(template_functions().values(), key=lambda f: -f.lineno)
    for fn in stubs:
        last = fn.body[-1]
        if isinstance(last, ast.Raise):
            lines[last.lineno - 1 : last.end_lineno] = [bodies[fn.name]]
    return "".join(lines)


def test_untouched_template_reports_what_to_implement() -> None:
    """Every check of the blank template fails with NotImplementedError and a next step, or is
    not assessed because a prerequisite did not pass."""
    result = grade_submission(TEMPLATE_NB, load_rubric(RUBRIC), SETTINGS)
    assert result.status == "graded" and result.score is not None
    assert result.score.points == 0
    statuses = {c.status for c in result.checks}
    assert statuses <= {"failed", "not_assessed"} and "failed" in statuses
    for check in result.checks:
        if check.status == "failed":
            said = " ".join(check.evidence)
            assert "NotImplementedError" in said, (check.check_id, said)
            assert check.next_step, check.check_id
        elif check.visibility == "public":
            assert "did not pass" in check.reason, (check.check_id, check.reason)


def test_filled_in_template_gets_full_marks(tmp_path: Path) -> None:
    """The template with the sample solution's bodies in place, as a notebook, gets every point."""
    build = _load(ROOT / "templates" / "build.py")
    source = tmp_path / "filled.py"
    source.write_text(filled_template(), encoding="utf-8")
    raises = [
        n
        for n in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
        if isinstance(n, ast.Raise)
    ]
    assert raises == []
    notebook = build.build_notebook(source, tmp_path / "filled.ipynb")
    result = grade_submission(notebook, load_rubric(RUBRIC), SETTINGS)
    assert result.score is not None
    failing = [(c.check_id, c.status) for c in result.checks if c.status != "passed"]
    assert failing == []
    assert result.score.points == result.score.max_points
