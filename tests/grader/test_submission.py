"""Loading submissions: notebooks, modules, folders, identities, and one-sentence refusals."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat import v3, v4

from grader.submission import (
    MAX_CANDIDATES,
    MAX_DEPTH,
    CodeCell,
    CodeChoice,
    DataFile,
    SubmissionError,
    discover_submissions,
    load_submission,
    scan_class_folder,
)

FIXTURES = Path(__file__).parent / "fixtures" / "submissions"


def write_notebook(path: Path, *sources: str, **metadata: object) -> Path:
    """A v4 notebook with a markdown title then one code cell per source."""
    cells = [v4.new_markdown_cell("# title")] + [v4.new_code_cell(s) for s in sources]
    nbformat.write(v4.new_notebook(cells=cells, metadata=metadata), path)
    return path


def write_v3_notebook(path: Path) -> Path:
    """An nbformat 3 notebook (worksheets, `input`, per-cell language), as IPython 1-2 wrote."""
    cells = [
        v3.new_text_cell("markdown", source="# An nbformat 3 notebook"),
        v3.new_code_cell(input="%pylab inline\nimport numpy as np", language="python"),
        v3.new_code_cell(
            input="def sigmoid(z):\n    return 1 / (1 + np.exp(-z))", language="python"
        ),
    ]
    notebook = v3.new_notebook(metadata={"name": "old_lab"})
    notebook.worksheets.append(v3.new_worksheet(cells=cells))
    nbformat.write(notebook, path, version=3)
    assert '"worksheets"' in path.read_text()  # really the old format on disk
    return path


def refusal(path: Path, **kwargs: object) -> str:
    """The reason load_submission gives for refusing ``path``."""
    with pytest.raises(SubmissionError) as caught:
        load_submission(path, **kwargs)  # type: ignore[arg-type]
    return caught.value.reason


# --- good submissions -----------------------------------------------------------


def test_notebook_cells_keep_their_notebook_index():
    """Code cells carry their position among all cells, markdown included."""
    sub = load_submission(FIXTURES / "course_style.ipynb")
    assert sub.kind == "notebook"
    assert [c.index for c in sub.cells] == [1, 2, 4, 5, 6, 7, 8]
    assert sub.cells[0].source.startswith("%matplotlib inline\n")
    assert sub.cells[0].number == 2


def test_notebook_metadata_of_interest():
    """Kernel language, kernel name and file format version are recorded."""
    meta = load_submission(FIXTURES / "course_style.ipynb").meta
    assert (meta.language, meta.kernel, meta.nbformat) == ("python", "Python 3", "4.5")


def test_identity_defaults_to_the_file_stem():
    """Without a pattern the identity is the file name without its extension."""
    sub = load_submission(FIXTURES / "course_style.ipynb")
    assert (sub.identity, sub.identity_source) == ("course_style", "name")
    assert sub.root is None and sub.data_files == ()


def test_v3_notebook_reads(tmp_path):
    """An nbformat 3 notebook is converted and its code cells read."""
    sub = load_submission(write_v3_notebook(tmp_path / "old_lab.ipynb"))
    assert sub.meta.nbformat == "3.0"
    assert sub.meta.language == "python"
    assert [c.index for c in sub.cells] == [1, 2]
    assert [c.source.split("\n")[0] for c in sub.cells] == ["%pylab inline", "def sigmoid(z):"]


def test_module_is_one_cell():
    """A .py submission is a module with a single cell at index 0."""
    sub = load_submission(FIXTURES / "mlp_module.py")
    assert sub.kind == "module"
    assert len(sub.cells) == 1 and sub.cells[0].index == 0
    assert "class Perceptron" in sub.cells[0].source


def test_module_honours_its_coding_line(tmp_path):
    """A latin-1 module that declares its encoding loads."""
    path = tmp_path / "latin.py"
    path.write_bytes(b"# -*- coding: latin-1 -*-\nname = 'Jos\xe9'\n")
    assert "José" in load_submission(path).cells[0].source


def test_crlf_newlines_are_normalised(tmp_path):
    """Windows newlines become \\n so line numbers match Python's."""
    path = tmp_path / "win.py"
    path.write_bytes(b"a = 1\r\nb = 2\r\n")
    assert load_submission(path).cells == (CodeCell(0, "a = 1\nb = 2\n"),)


def test_folder_lists_data_files_with_sizes(tmp_path):
    """A folder's other files are data files, relative to its root; junk is ignored."""
    folder = tmp_path / "alice"
    shutil.copytree(FIXTURES / "with_data", folder)
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / "lab-checkpoint.ipynb").write_text("{}")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (folder / ".DS_Store").write_bytes(b"\0")
    (folder / "data").mkdir()
    (folder / "data" / "w.npz").write_bytes(b"12345")
    sub = load_submission(folder)
    assert sub.code_path == (folder / "lab.ipynb").absolute()
    assert sub.root == folder.absolute()
    assert sub.identity == "alice"
    assert sub.data_files == (
        DataFile("data/w.npz", 5),
        DataFile("iris_small.csv", (folder / "iris_small.csv").stat().st_size),
    )


def test_notebook_wins_over_modules_in_a_folder(tmp_path):
    """With one notebook, .py files beside it are helper files, not rival submissions."""
    write_notebook(tmp_path / "lab.ipynb", "import helper")
    (tmp_path / "helper.py").write_text("X = 1\n")
    (tmp_path / "export.py").write_text("import helper\n")
    sub = load_submission(tmp_path)
    assert sub.kind == "notebook"
    assert [d.path for d in sub.data_files] == ["export.py", "helper.py"]


def test_lone_subfolder_is_unwrapped(tmp_path):
    """alice/hw3/lab.ipynb (as unzipping leaves it) loads with alice as identity."""
    inner = tmp_path / "alice" / "hw3"
    inner.mkdir(parents=True)
    write_notebook(inner / "lab.ipynb", "x = 1")
    sub = load_submission(tmp_path / "alice")
    assert sub.identity == "alice"
    assert sub.root == inner.absolute()


def test_identity_pattern_extracts_the_student_group(tmp_path):
    """The named group `student` of the pattern is the identity."""
    path = write_notebook(tmp_path / "alice42_hw3_late.ipynb", "x = 1")
    sub = load_submission(path, r"(?P<student>[a-z0-9]+)_")
    assert (sub.identity, sub.identity_source) == ("alice42", "pattern")


def test_identity_falls_back_to_notebook_metadata(tmp_path):
    """When the name does not match, metadata.student is used."""
    path = write_notebook(tmp_path / "Lab 3.ipynb", "x = 1", student={"id": "bob7"})
    sub = load_submission(path, r"^(?P<student>[a-z0-9]+)_")
    assert (sub.identity, sub.identity_source) == ("bob7", "metadata")


def test_unsafe_metadata_identity_is_ignored(tmp_path):
    """A metadata identity that could be a path is not trusted."""
    path = write_notebook(tmp_path / "Lab 3.ipynb", "x = 1", student="../../etc")
    assert load_submission(path).meta.student is None


def test_identity_pattern_without_match_is_refused(tmp_path):
    """No match and no metadata: refused, naming the file."""
    path = write_notebook(tmp_path / "Lab 3.ipynb", "x = 1")
    reason = refusal(path, identity_pattern=r"^(?P<student>\d+)_")
    assert "Lab 3.ipynb" in reason and "identity pattern" in reason


def test_identity_pattern_needs_a_student_group(tmp_path):
    """A pattern without (?P<student>...) is a rubric mistake, not a bad submission."""
    path = write_notebook(tmp_path / "a_b.ipynb", "x = 1")
    with pytest.raises(ValueError, match="student"):
        load_submission(path, r"(\w+)_")


def test_content_hash_is_stable_and_location_free(tmp_path):
    """Same files give the same hash wherever they lie; changed data changes it."""
    first, second = tmp_path / "a" / "sub", tmp_path / "b" / "sub"
    shutil.copytree(FIXTURES / "with_data", first)
    shutil.copytree(FIXTURES / "with_data", second)
    assert load_submission(first).content_hash == load_submission(second).content_hash
    data = second / "iris_small.csv"
    data.write_text(data.read_text().replace("5.1", "5.2"))  # same size, other bytes
    assert load_submission(first).content_hash != load_submission(second).content_hash
    assert len(load_submission(first).content_hash) == 64


# --- refusals ----------------------------------------------------------------------

R_KERNEL = {"kernelspec": {"name": "ir", "display_name": "R", "language": "R"}}

BAD_INPUTS = {
    "invalid_json": ("hw.ipynb", b'{\n "cells": [\n  {"a" 1}\n ]\n}', "line 3, column 8"),
    "empty_file": ("hw.ipynb", b"", "empty"),
    "binary_zip": ("hw.ipynb", b"PK\x03\x04\x14\x00\x00\x00rest", "ZIP archive"),
    "binary_nul": ("hw.ipynb", b"\x01\x02\x00\x00abc", "binary file"),
    "non_utf8_py": ("mlp.py", b"x = 1\ny = '\xe9t\xe9'\n", "offset 11"),
    "non_utf8_notebook": ("hw.ipynb", b'{"nbformat": 4, "x": "\xff"}', "offset 22"),
    "json_not_notebook": ("hw.ipynb", b'{"cells": []}', "not a Jupyter notebook"),
    "schema_invalid": (
        "hw.ipynb",
        json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": "code"}]}),
        "not a valid Jupyter notebook",
    ),
    "unsupported_version": (
        "hw.ipynb",
        json.dumps({"nbformat": 9, "nbformat_minor": 0, "cells": [], "metadata": {}}),
        "not a valid Jupyter notebook",
    ),
    "unsupported_extension": ("hw.docx", b"text", "unsupported extension '.docx'"),
    "no_extension": ("hw", b"text", "no extension"),
    "unknown_coding": ("mlp.py", b"# coding: klingon\nx = 1\n", "encoding"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_file_gives_one_sentence_naming_it(tmp_path, case):
    """Each malformed file is refused with one sentence that names the file."""
    name, content, expected = BAD_INPUTS[case]
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    reason = refusal(path)
    assert expected in reason
    assert reason.startswith(name) and reason.endswith(".")
    assert "\n" not in reason and "Traceback" not in reason


@pytest.mark.parametrize(
    ("sources", "metadata", "expected"),
    [
        ((), {}, "has no code cells"),
        (("", "  \n"), {}, "2 code cells, all of them empty"),
        (("x <- 1",), R_KERNEL, "uses the R kernel for R, not Python"),
    ],
    ids=["no_code_cells", "empty_code_cells", "r_kernel"],
)
def test_notebook_without_python_code_is_refused(tmp_path, sources, metadata, expected):
    """Notebooks with nothing to grade, or not in Python, are refused by name."""
    path = write_notebook(tmp_path / "hw3.ipynb", *sources, **metadata)
    reason = refusal(path)
    assert expected in reason and reason.startswith("hw3.ipynb")


def test_missing_file(tmp_path):
    """A path that does not exist is named in the refusal."""
    assert refusal(tmp_path / "ghost.ipynb") == "ghost.ipynb does not exist."


def test_huge_notebook_is_refused_before_reading(tmp_path):
    """A 200 MB notebook is refused by its size (a sparse file: nothing is read)."""
    path = tmp_path / "huge.ipynb"
    with path.open("wb") as handle:
        handle.truncate(200 * 2**20)
    reason = refusal(path)
    assert reason.startswith("huge.ipynb is 200.0 MB, over the 50 MB limit")


def test_folder_over_its_size_limit_is_refused(tmp_path):
    """Data files count towards the folder's limit."""
    write_notebook(tmp_path / "lab.ipynb", "x = 1")
    (tmp_path / "big.npz").write_bytes(b"\0" * 4096)
    reason = refusal(tmp_path, max_folder_bytes=2048)
    assert tmp_path.name in reason and "limit" in reason


def test_empty_folder(tmp_path):
    """An empty folder (hidden files aside) is refused by name."""
    folder = tmp_path / "carol"
    folder.mkdir()
    (folder / ".DS_Store").write_bytes(b"\0")
    assert refusal(folder) == "folder carol is empty."


def test_folder_without_code(tmp_path):
    """A folder holding only data is refused."""
    (tmp_path / "data.csv").write_text("1,2\n")
    assert "holds no .ipynb notebook or .py module" in refusal(tmp_path)


def test_folder_with_two_notebooks_names_both(tmp_path):
    """Two candidate notebooks: refused, naming both."""
    folder = tmp_path / "dave"
    folder.mkdir()
    write_notebook(folder / "draft.ipynb", "x = 1")
    write_notebook(folder / "final.ipynb", "x = 2")
    reason = refusal(folder)
    assert reason.startswith("folder dave holds 2 notebooks (draft.ipynb, final.ipynb)")


def test_symlink_inside_a_folder_is_refused(tmp_path):
    """A link could make the parent read files outside the submission."""
    folder = tmp_path / "eve"
    folder.mkdir()
    write_notebook(folder / "lab.ipynb", "x = 1")
    (folder / "secret.txt").symlink_to("/etc/hostname")
    assert "symbolic link (secret.txt)" in refusal(folder)


def test_symlinked_notebook_in_a_folder_is_refused(tmp_path):
    """The notebook itself may not be a link either."""
    folder = tmp_path / "frank"
    folder.mkdir()
    target = write_notebook(tmp_path / "elsewhere.ipynb", "x = 1")
    (folder / "lab.ipynb").symlink_to(target)
    assert refusal(folder) == "folder frank contains a symbolic link (lab.ipynb)."


def test_folder_with_two_modules_names_both(tmp_path):
    """Without a notebook, two modules are rival candidates."""
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("x = 2\n")
    assert "2 modules (and no notebook) (a.py, b.py)" in refusal(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_fifo_is_refused_without_blocking(tmp_path):
    """A named pipe posing as a notebook is refused, never opened."""
    path = tmp_path / "pipe.ipynb"
    os.mkfifo(path)
    assert refusal(path) == "pipe.ipynb is neither a regular file nor a folder."


def test_submission_error_survives_pickling(tmp_path):
    """Errors cross process boundaries in batches with path and reason intact."""
    error = pickle.loads(pickle.dumps(SubmissionError(tmp_path / "a.ipynb", "a.ipynb is bad.")))
    assert (error.path, error.reason, str(error)) == (
        tmp_path / "a.ipynb",
        "a.ipynb is bad.",
        "a.ipynb is bad.",
    )


# --- discovery -------------------------------------------------------------------------


def test_discover_lists_entries_sorted_and_ignores_junk(tmp_path):
    """One entry per submission, sorted; hidden files and caches are not submissions."""
    write_notebook(tmp_path / "bob.ipynb", "x = 1")
    (tmp_path / "alice").mkdir()
    (tmp_path / "carol.py").write_text("x = 1\n")
    for junk in (".hidden.ipynb", "__pycache__", ".ipynb_checkpoints"):
        (tmp_path / junk).mkdir() if not junk.endswith("ipynb") else (tmp_path / junk).write_text(
            ""
        )
    found = discover_submissions(tmp_path)
    assert found == [tmp_path / "alice", tmp_path / "bob.ipynb", tmp_path / "carol.py"]


def test_discover_reports_stray_files_as_errors(tmp_path):
    """A file that may be a student's mistake (a .docx) becomes a SubmissionError in its place."""
    (tmp_path / "essay.docx").write_bytes(b"PK\x03\x04")
    write_notebook(tmp_path / "zed.ipynb", "x = 1")
    stray, notebook = discover_submissions(tmp_path)
    assert isinstance(stray, SubmissionError) and stray.reason.startswith("essay.docx has")
    assert notebook == tmp_path / "zed.ipynb"


def test_scan_skips_an_instructors_notes_and_data_and_says_why(tmp_path):
    """README.md, a roster .csv, a rubric .toml are not students: skipped, each with a reason."""
    write_notebook(tmp_path / "zed.ipynb", "x = 1")
    for name in ("README.md", "roster.csv", "rubric.toml", "notes.TXT"):
        (tmp_path / name).write_text("x\n")
    listing = scan_class_folder(tmp_path)
    assert listing.submissions == (tmp_path / "zed.ipynb",)
    skipped = dict(listing.skipped)
    assert set(skipped) == {
        tmp_path / n for n in ("README.md", "roster.csv", "rubric.toml", "notes.TXT")
    }
    assert skipped[tmp_path / "README.md"] == "a .md file, not a submission"
    assert discover_submissions(tmp_path) == [tmp_path / "zed.ipynb"]


def test_scan_never_lists_the_output_folder(tmp_path):
    """The excluded folder (this run's --out) and an earlier run's output are not students."""
    write_notebook(tmp_path / "zed.ipynb", "x = 1")
    (tmp_path / "graded").mkdir()
    old = tmp_path / "last_year"
    (old / "results").mkdir(parents=True)
    (old / "gradebook.csv").write_text("student\n")
    (tmp_path / "alice").mkdir()  # a student's folder: still a submission
    listing = scan_class_folder(tmp_path, exclude=[tmp_path / "graded"])
    assert listing.submissions == (tmp_path / "alice", tmp_path / "zed.ipynb")
    assert dict(listing.skipped) == {
        tmp_path / "graded": "the output folder of this run",
        old: "the output of an earlier grading run",
    }


def test_discover_refuses_a_missing_folder(tmp_path):
    """A batch folder that is not there is reported by name."""
    with pytest.raises(SubmissionError, match="nowhere does not exist"):
        discover_submissions(tmp_path / "nowhere")


# --- layouts students upload ---------------------------------------------------------

COURSE_CLASS = "class TLPMiniBatch:\n    def fit(self, X, y):\n        return self\n"


def test_repository_with_one_notebook_deep_inside(tmp_path):
    """README.md at the top, notebooks/lab3.ipynb below: the notebook is found; its folder is
    the root (Jupyter's working directory), so its neighbours ship and the README does not."""
    repo = tmp_path / "alice"
    (repo / "notebooks").mkdir(parents=True)
    (repo / "README.md").write_text("# Lab 3\n")
    (repo / ".git").mkdir()
    (repo / ".git" / "config").write_text("[core]\n")
    write_notebook(repo / "notebooks" / "lab3.ipynb", "x = 1")
    (repo / "notebooks" / "digits.csv").write_text("1,2\n")
    sub = load_submission(repo)
    assert sub.identity == "alice"
    assert sub.code_path == (repo / "notebooks" / "lab3.ipynb").absolute()
    assert sub.root == (repo / "notebooks").absolute()
    assert [d.path for d in sub.data_files] == ["digits.csv"]
    assert sub.choice_note == ""


def test_checkpoints_macos_metadata_and_dotfiles_are_not_candidates(tmp_path):
    """Copies Jupyter and macOS leave beside the notebook never make an upload ambiguous."""
    folder = tmp_path / "bob"
    (folder / "lab" / ".ipynb_checkpoints").mkdir(parents=True)
    (folder / "__MACOSX" / "lab").mkdir(parents=True)
    write_notebook(folder / "lab" / "lab3.ipynb", "x = 1")
    write_notebook(folder / "lab" / ".ipynb_checkpoints" / "lab3-checkpoint.ipynb", "x = 0")
    write_notebook(folder / "__MACOSX" / "lab" / "lab3.ipynb", "x = 0")
    (folder / "__MACOSX" / "lab" / "._lab3.ipynb").write_bytes(b"\0\5\26\7")
    write_notebook(folder / "lab" / ".scratch.ipynb", "x = 0")
    sub = load_submission(folder)
    assert sub.code_path == (folder / "lab" / "lab3.ipynb").absolute()
    assert (sub.choice_note, sub.data_files) == ("", ())


def test_rubric_pattern_picks_among_several_notebooks(tmp_path):
    """A scratch copy beside the real notebook: the rubric's pattern picks, and the note
    names both files and the rule."""
    folder = tmp_path / "carol"
    (folder / "notebooks").mkdir(parents=True)
    write_notebook(folder / "notebooks" / "lab3.ipynb", COURSE_CLASS)
    write_notebook(folder / "Untitled.ipynb", COURSE_CLASS)
    sub = load_submission(folder, choice=CodeChoice(pattern="lab3*.ipynb"))
    assert sub.code_path == (folder / "notebooks" / "lab3.ipynb").absolute()
    assert "2 notebooks (Untitled.ipynb, notebooks/lab3.ipynb)" in sub.choice_note
    assert "graded notebooks/lab3.ipynb" in sub.choice_note
    assert "the rubric's pattern 'lab3*.ipynb'" in sub.choice_note


def test_the_notebook_defining_the_bound_class_is_picked(tmp_path):
    """Without a pattern, the one notebook that defines the adapter's class is graded."""
    folder = tmp_path / "dave"
    folder.mkdir()
    write_notebook(folder / "lab3.ipynb", "import numpy as np", COURSE_CLASS, "%matplotlib inline")
    write_notebook(folder / "scratch.ipynb", "x = TLPMiniBatch()  # uses it, defines nothing")
    sub = load_submission(folder, choice=CodeChoice(defines=("TLPMiniBatch",)))
    assert sub.code_path.name == "lab3.ipynb"
    assert "the one that defines 'TLPMiniBatch'" in sub.choice_note


def test_pattern_then_definitions_decide_together(tmp_path):
    """Two files match the pattern; of those, the one defining the most bound functions wins."""
    folder = tmp_path / "erin"
    folder.mkdir()
    write_notebook(folder / "lab3.ipynb", "def forward(p, X):\n    pass", "def gradients(): pass")
    write_notebook(folder / "lab3_old.ipynb", "def forward(p, X):\n    pass")
    write_notebook(folder / "other.ipynb", "def forward(): pass\ndef gradients(): pass\n")
    choice = CodeChoice(pattern="lab3*.ipynb", defines=("forward", "gradients", "train"))
    sub = load_submission(folder, choice=choice)
    assert sub.code_path.name == "lab3.ipynb"
    assert sub.choice_note.endswith("(of those matching 'lab3*.ipynb').")


def test_modules_only_repository_picks_the_defining_module(tmp_path):
    """No notebook: setup.py and the student's module; the module defining the class is graded."""
    folder = tmp_path / "frank"
    (folder / "src").mkdir(parents=True)
    (folder / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    (folder / "src" / "mlp.py").write_text(COURSE_CLASS)
    sub = load_submission(folder, choice=CodeChoice(defines=("TLPMiniBatch",)))
    assert (sub.kind, sub.code_path.name) == ("module", "mlp.py")
    assert "2 modules (and no notebook)" in sub.choice_note


def test_an_upload_no_rule_decides_names_candidates_and_rules(tmp_path):
    """Two copies that both define the class and both match: refused, saying why."""
    folder = tmp_path / "gina"
    folder.mkdir()
    write_notebook(folder / "lab3.ipynb", COURSE_CLASS)
    write_notebook(folder / "lab3 (1).ipynb", COURSE_CLASS)
    choice = CodeChoice(pattern="lab3*.ipynb", defines=("TLPMiniBatch",))
    reason = refusal(folder, choice=choice)
    assert reason.startswith("folder gina holds 2 notebooks (lab3 (1).ipynb, lab3.ipynb) and ")
    assert "2 match the rubric's pattern 'lab3*.ipynb'" in reason
    assert "2 define 'TLPMiniBatch' equally" in reason
    assert reason.endswith("submit only the one to grade.")


def test_a_pattern_matching_nothing_says_so(tmp_path):
    """A pattern that matches no candidate is named as such; the definitions still decide."""
    folder = tmp_path / "hal"
    folder.mkdir()
    write_notebook(folder / "a.ipynb", "x = 1")
    write_notebook(folder / "b.ipynb", "x = 2")
    reason = refusal(folder, choice=CodeChoice(pattern="lab3.ipynb", defines=("TLPMiniBatch",)))
    assert "none match the rubric's pattern 'lab3.ipynb'" in reason
    assert "none defines 'TLPMiniBatch'" in reason


def test_search_stops_at_the_depth_limit(tmp_path):
    """A notebook deeper than MAX_DEPTH folders is not searched for."""
    deep = tmp_path / "ivy"
    for i in range(MAX_DEPTH + 1):
        deep = deep / f"d{i}"
    deep.mkdir(parents=True)
    write_notebook(deep / "lab.ipynb", "x = 1")
    assert refusal(tmp_path / "ivy") == "folder ivy holds no .ipynb notebook or .py module."


def test_symlink_deep_inside_is_refused(tmp_path):
    """A link anywhere under the upload is refused, also outside the notebook's own folder."""
    folder = tmp_path / "jack"
    (folder / "notebooks").mkdir(parents=True)
    write_notebook(folder / "notebooks" / "lab.ipynb", "x = 1")
    (folder / "keys").symlink_to("/etc")
    assert refusal(folder) == "folder jack contains a symbolic link (keys)."


def test_grading_names_the_rule_that_picked_the_notebook(tmp_path):
    """Through the pipeline: the rubric's bound functions pick lab3.ipynb over a scratch
    notebook; the result is graded in full and its first note names both files and the rule."""
    from grader.grade import GradeSettings, grade_submission
    from grader.rubric_file import load_rubric

    root = Path(__file__).resolve().parents[2]
    rubric = load_rubric(root / "rubrics" / "mlp_backprop.toml")
    folder = tmp_path / "kim"
    (folder / "notebooks").mkdir(parents=True)
    (folder / "README.md").write_text("# Lab 3\n")
    shutil.copy2(
        root / "submissions" / "correct" / "template_ok.ipynb", folder / "notebooks" / "lab3.ipynb"
    )
    write_notebook(folder / "scratch.ipynb", "import numpy as np\nprint(np.ones(2))")
    result = grade_submission(folder, rubric, GradeSettings(tier="plain"))
    assert result.status == "graded" and result.score is not None
    assert result.score.points == rubric.max_points
    assert result.notes[0].startswith(
        "folder kim holds 2 notebooks (notebooks/lab3.ipynb, scratch.ipynb)"
    )
    assert (
        "graded notebooks/lab3.ipynb, the one that defines the most of 'forward'" in result.notes[0]
    )


def test_too_many_candidates_are_refused_unread(tmp_path):
    """More notebooks than the grader tells apart: refused by count, none parsed."""
    folder = tmp_path / "lee"
    folder.mkdir()
    for i in range(MAX_CANDIDATES + 1):
        (folder / f"copy{i:02d}.ipynb").write_text("not even JSON")
    reason = refusal(folder, choice=CodeChoice(defines=("TLPMiniBatch",)))
    assert reason == (
        f"folder lee holds {MAX_CANDIDATES + 1} notebooks; a submission holds one "
        f"(at most {MAX_CANDIDATES} are told apart)."
    )
