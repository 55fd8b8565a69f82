"""The self-check a kit ships (grader.self_check): in a real Jupyter kernel, one cell grades
the notebook as last saved and shows the report inline; the terminal says what hidden
checks add."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest

from grader.kit import build_kit
from grader.results import GradeResult, Score, SubmissionRef
from grader.self_check import CheckError, find_notebook, points_line

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_RUBRIC = ROOT / "rubrics" / "mlp_backprop.toml"
TEMPLATE_OK = ROOT / "submissions" / "correct" / "template_ok.ipynb"


def test_points_line_says_what_hidden_checks_add() -> None:
    result = GradeResult(
        SubmissionRef("s", "s.ipynb"),
        "graded",
        score=Score(points=9, max_points=19, complete=True, counts={}, objectives=()),
    )
    assert points_line(result, 4) == (
        "9 of 19 points here; the instructor's hidden checks add 4 more (23 points in all)."
    )
    assert "no hidden checks" in points_line(result, 0)
    assert points_line(result, None) == "9 of 19 points here."


def test_the_notebook_is_found_by_path_session_or_as_the_only_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    with pytest.raises(CheckError, match="no notebook"):
        find_notebook(cwd=tmp_path)
    (tmp_path / "lab.ipynb").write_text("{}")
    assert find_notebook(cwd=tmp_path) == tmp_path / "lab.ipynb"
    (tmp_path / "other.ipynb").write_text("{}")
    with pytest.raises(CheckError, match="2 notebooks"):
        find_notebook(cwd=tmp_path)
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "other.ipynb"))
    assert find_notebook(cwd=tmp_path) == tmp_path / "other.ipynb"
    assert find_notebook("lab.ipynb", cwd=tmp_path) == tmp_path / "lab.ipynb"
    with pytest.raises(CheckError, match="does not exist"):
        find_notebook("gone.ipynb", cwd=tmp_path)


def test_one_cell_checks_the_notebook_in_a_real_kernel(tmp_path: Path) -> None:
    """The student's notebook beside the kit; a cell added to it runs the kit's check()."""
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    kit = build_kit(TEMPLATE_RUBRIC, tmp_path / "mlp-kit")
    notebook = tmp_path / "lab3.ipynb"
    shutil.copyfile(TEMPLATE_OK, notebook)  # the saved version check() grades
    nb = nbformat.read(notebook, as_version=4)
    nb.cells = [
        nbformat.v4.new_code_cell(
            'import sys; sys.path.insert(0, "mlp-kit")\n'
            "from check import check\n"
            "result = check()\n"
            "print('STATUSES', sorted({c.status for c in result.checks}))"
        )
    ]
    env_before = dict(os.environ)
    os.environ.pop("PYTHONPATH", None)  # the kernel sees the kit's grader only
    os.environ["GRADER_SANDBOX"] = "plain"
    try:
        client = nbclient.NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        )
        try:
            client.execute()
        except Exception as error:  # no kernel here: say so rather than fail
            if "kernel" in type(error).__name__.lower() or "No such kernel" in str(error):
                pytest.skip(f"no Jupyter kernel could start: {error}")
            raise
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    outputs = nb.cells[0].outputs
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    text = [o["data"]["text/plain"] for o in outputs if "text/plain" in o.get("data", {})]
    printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert html and "as last saved" in html[0] and "<iframe" in html[0]
    assert text and "lab3.ipynb as last saved" in text[0]
    assert "hidden checks add" in text[0]
    assert "STATUSES ['passed']" in printed
    assert kit.is_dir()
