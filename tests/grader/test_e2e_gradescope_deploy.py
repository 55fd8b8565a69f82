"""Gradescope as it really runs: the zip built, laid out, set up and run per submission.

``grader gradescope`` builds the zip; the test lays it out as Gradescope does under a
temporary folder standing in for ``/autograder`` (``source/`` the unzipped zip,
``run_autograder`` copied beside it, ``submission/``, ``results/``), runs ``setup.sh``
without its apt part into a venv that borrows this interpreter's packages
(``--system-site-packages``; pip installs only the built wheel, offline), then runs
``run_autograder`` on a correct, a buggy, a hostile and a repository-style upload:

- as root (this machine's bubblewrap, when it works), and
- as root without CAP_SYS_ADMIN (``setpriv --bounding-set=-sys_admin``), where bubblewrap
  fails as in Gradescope's Docker container and the grader falls back to its uid tier.

It checks results.json field by field (the spec's keys and types), the visibility
rules (nothing of a hidden check or of a total that counts it in the visible output),
the scores against the same submissions graded in this process, and that the hostile
upload (``submissions/hostile/gradescope_rewrite.py``) changes nothing: results,
``run_autograder`` and the rubric. Without namespaces the child runs as a uid of its
own (the uid tier), to which those files are closed.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from grader.autograder import RUBRIC_NAME, SCRIPTS, WHEEL_GLOB, build_autograder
from grader.exports.gradescope import SUMMARY_TEST
from grader.grade import GradeSettings, grade_submission
from grader.results import GradeResult
from grader.rubric_file import load_rubric
from tests.grader.test_exports import validate_gradescope

ROOT = Path(__file__).resolve().parents[2]
RUBRIC = ROOT / "rubrics" / "mlp_backprop.toml"
CORRECT = ROOT / "submissions" / "correct" / "template_ok.ipynb"
BUGGY = ROOT / "submissions" / "buggy" / "template_missing_hidden_derivative.ipynb"
HOSTILE = ROOT / "submissions" / "hostile" / "gradescope_rewrite.py"
HOSTILE_MAX_POINTS = 8.0  # submissions/hostile/expected.toml [gradescope_rewrite]
FORGED_SCORE = 555.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root"),
]

NO_SYS_ADMIN = ["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin", "--"]
CONDITIONS = {
    "root": [],
    "root-without-cap_sys_admin": NO_SYS_ADMIN,
}


@dataclass
class Autograder:
    """One laid-out /autograder tree with its venv."""

    root: Path
    zip: Path

    def env(self) -> dict[str, str]:
        """The scripts' environment: this interpreter's python3 first, no PYTHONPATH (the
        venv's wheel must be what runs)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GRADER_"))}
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
        env["AUTOGRADER_ROOT"] = str(self.root)
        return env

    def run(self, upload: Path, prefix: list[str]) -> tuple[dict[str, Any], str]:
        """Upload ``upload`` (a file or a folder's contents), run run_autograder; returns
        (results.json, the script's output)."""
        submission = self.root / "submission"
        shutil.rmtree(submission, ignore_errors=True)
        shutil.rmtree(self.root / "results", ignore_errors=True)
        if upload.is_dir():
            shutil.copytree(upload, submission)
        else:
            submission.mkdir()
            shutil.copy2(upload, submission / upload.name)
        done = subprocess.run(
            [*prefix, "bash", str(self.root / "run_autograder")],
            cwd="/",
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        log = done.stdout + done.stderr
        results = self.root / "results" / "results.json"
        assert results.is_file(), log
        return json.loads(results.read_text()), log


@pytest.fixture(scope="module")
def autograder() -> Iterator[Autograder]:
    """The zip built by the library, laid out and set up as Gradescope does.

    The stand-in for /autograder lies in a folder anyone may traverse, as /autograder
    is (pytest's own temporary folders are root's alone), so that a child dropped to
    another uid meets the permissions it would meet on Gradescope.
    """
    base = Path(tempfile.mkdtemp(prefix="grader-gradescope-"))
    base.chmod(0o755)
    try:
        yield _set_up(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _set_up(base: Path) -> Autograder:
    built = build_autograder(RUBRIC, base / "autograder.zip")
    root = base / "autograder"
    with zipfile.ZipFile(built) as archive:
        archive.extractall(root / "source")
    for name in SCRIPTS:  # zipfile does not restore modes; Gradescope's unzip does
        (root / "source" / name).chmod(0o755)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    grader = Autograder(root, built)
    env = grader.env() | {
        "AUTOGRADER_APT": "0",
        "AUTOGRADER_VENV_ARGS": "--system-site-packages",
        "PIP_NO_INDEX": "1",
        "PIP_NO_DEPS": "1",
    }
    done = subprocess.run(
        ["bash", str(root / "source" / "setup.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return grader


def _graded_here(path: Path) -> GradeResult:
    return grade_submission(path, load_rubric(RUBRIC), GradeSettings(tier="plain"))


# ---------------------------------------------------------------------------
# The zip and the set-up


def test_zip_holds_what_gradescope_needs_and_nothing_else(autograder: Autograder) -> None:
    """setup.sh and run_autograder (executable), the rubric, one wheel: nothing more."""
    with zipfile.ZipFile(autograder.zip) as archive:
        infos = {i.filename: i for i in archive.infolist()}
    wheels = [n for n in infos if Path(n).match(WHEEL_GLOB)]
    assert len(wheels) == 1
    assert set(infos) == {*SCRIPTS, RUBRIC_NAME, *wheels}
    for name in SCRIPTS:
        assert stat.S_IMODE(infos[name].external_attr >> 16) == 0o755
    with zipfile.ZipFile(autograder.zip) as archive:
        assert archive.read(RUBRIC_NAME) == RUBRIC.read_bytes()


def test_setup_installs_the_wheel_into_the_venv(autograder: Autograder) -> None:
    """The venv's grader is the wheel's, not this checkout's."""
    python = autograder.root / "venv" / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import grader, reference; print(grader.__file__, reference.__file__)"],
        cwd="/",
        env=autograder.env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    venv = str(autograder.root / "venv")
    assert all(w.startswith(venv) for w in where), where


# ---------------------------------------------------------------------------
# Submissions, under both conditions


@pytest.fixture(scope="module", params=list(CONDITIONS), ids=list(CONDITIONS))
def condition(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if CONDITIONS[name] and shutil.which("setpriv") is None:
        pytest.skip("needs setpriv (util-linux) to drop CAP_SYS_ADMIN")
    return name


def _hidden_evidence(full: GradeResult) -> list[str]:
    """Sentences of hidden checks that only the instructor may see: what their public view
    drops (evidence with inputs and values, a failed check's reason). A sentence a public
    check shows word for word (say, that a check was judged with the student's diagnosed
    mistake plugged in) tells nothing of a hidden check."""
    shown: set[str] = set()
    for check in full.checks:
        if check.visibility != "hidden":
            public = check.public_view()
            shown.update({public.reason, *public.evidence})
    secret = []
    for check in full.checks:
        if check.visibility != "hidden":
            continue
        public = check.public_view()
        kept = {public.reason, *public.evidence}
        if public.diagnosis is not None:
            kept.add(public.diagnosis.message)
        secret += [e for e in (*check.evidence, check.reason) if e and e not in kept | shown]
    return secret


def _check_visibility(doc: dict[str, Any], full: GradeResult) -> list[str]:
    """The visible output counts public checks only; hidden tests and the summary hide."""
    assert full.score is not None
    hidden = [c for c in full.checks if c.visibility == "hidden"]
    assert hidden, "the rubric has hidden checks"
    assert "**Public checks:" in doc["output"]
    assert f"/ {full.score.max_points:g}**" not in doc["output"]
    by_name = {t["name"].removesuffix(" (not assessed)"): t for t in doc["tests"]}
    for check in full.checks:
        test = by_name[check.title or check.check_id]
        want = "after_published" if check.visibility == "hidden" else "visible"
        assert test["visibility"] == want
        assert test["score"] == check.points and test["max_score"] == check.max_points
    assert by_name[SUMMARY_TEST]["visibility"] == "after_published"
    text = json.dumps(doc)
    secret = _hidden_evidence(full)
    for sentence in secret:
        assert json.dumps(sentence)[1:-1] not in text
    return secret


@pytest.mark.parametrize("upload", [CORRECT, BUGGY], ids=["correct", "buggy"])
def test_results_follow_the_spec_and_the_visibility_rules(
    autograder: Autograder, condition: str, upload: Path
) -> None:
    """results.json passes the field-by-field check; scores are those graded here."""
    doc, log = autograder.run(upload, CONDITIONS[condition])
    validate_gradescope(doc)
    full = _graded_here(upload)
    assert full.score is not None
    assert doc["score"] == full.score.points, log
    assert sum(t["score"] for t in doc["tests"]) == doc["score"]
    assert doc["extra_data"]["status"] == "graded"
    assert doc["extra_data"]["sandbox_tier"] in ("bwrap", "uid"), attacked.log
    assert doc["execution_time"] >= 1
    secret = _check_visibility(doc, full)
    if upload == BUGGY:
        assert secret, "the buggy sample fails a hidden check: its evidence must be looked for"


def test_repository_upload_is_graded_and_the_rule_named(
    autograder: Autograder, tmp_path: Path
) -> None:
    """README.md, notebooks/lab3.ipynb and a scratch copy: the notebook defining the
    template's functions is graded, and the visible output says which and why."""
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    (repo / "README.md").write_text("# Lab 3\n")
    shutil.copy2(CORRECT, repo / "notebooks" / "lab3.ipynb")
    (repo / "scratch.py").write_text("import numpy as np\nprint(np.zeros(3))\n")
    shutil.copy2(BUGGY, repo / "notebooks" / "Untitled.ipynb")
    (repo / "notebooks" / "Untitled.ipynb").write_text(
        json.dumps(
            {
                "nbformat": 4,
                "nbformat_minor": 5,
                "metadata": {},
                "cells": [
                    {
                        "cell_type": "code",
                        "id": "a",
                        "metadata": {},
                        "execution_count": None,
                        "outputs": [],
                        "source": "import numpy as np\nx = np.ones(3)",
                    }
                ],
            }
        )
    )
    doc, log = autograder.run(repo, [])
    validate_gradescope(doc)
    assert doc["score"] == load_rubric(RUBRIC).max_points, log
    assert "graded notebooks/lab3.ipynb, the one that defines" in doc["output"]


@dataclass
class Attack:
    """One run of the hostile upload: its results and the tree's files from before."""

    autograder: Autograder
    condition: str
    doc: dict[str, Any]
    log: str
    before: bytes

    def files(self) -> bytes:
        root = self.autograder.root
        return (
            (root / "run_autograder").read_bytes()
            + b"\0"
            + (root / "source" / RUBRIC_NAME).read_bytes()
        )


@pytest.fixture
def attacked(autograder: Autograder, condition: str) -> Iterator[Attack]:
    """The hostile upload run once; the tree restored afterwards for the next test."""
    script = autograder.root / "run_autograder"
    rubric = autograder.root / "source" / RUBRIC_NAME
    before = (script.read_bytes(), rubric.read_bytes())
    try:
        doc, log = autograder.run(HOSTILE, CONDITIONS[condition])
        yield Attack(autograder, condition, doc, log, before[0] + b"\0" + before[1])
    finally:
        script.write_bytes(before[0])
        rubric.write_bytes(before[1])


def test_hostile_upload_changes_nothing_of_the_results(attacked: Attack) -> None:
    """The results.json the attack plants is replaced by the parent's, whatever the tier."""
    doc = attacked.doc
    validate_gradescope(doc)
    assert doc["score"] != FORGED_SCORE and "forged" not in doc["output"], attacked.log
    assert doc["score"] <= HOSTILE_MAX_POINTS
    assert doc["extra_data"]["status"] == "graded"


def test_hostile_upload_leaves_run_autograder_and_rubric_unchanged(attacked: Attack) -> None:
    """The files Gradescope runs and reads are byte for byte what the zip held."""
    assert attacked.files() == attacked.before


def test_after_a_hostile_upload_the_next_one_is_graded_as_before(attacked: Attack) -> None:
    """A correct upload run after the attack (same container) still gets its own score."""
    doc, log = attacked.autograder.run(CORRECT, CONDITIONS[attacked.condition])
    assert doc["score"] == load_rubric(RUBRIC).max_points, log
    assert doc.get("extra_data", {}).get("status") == "graded", log


def test_without_cap_sys_admin_bubblewrap_fails_as_in_docker() -> None:
    """The second condition is Gradescope's: bubblewrap cannot create its namespaces."""
    if shutil.which("bwrap") is None or shutil.which("setpriv") is None:
        pytest.skip("needs bwrap and setpriv")
    done = subprocess.run(
        [*NO_SYS_ADMIN, "bwrap", "--ro-bind", "/", "/", "true"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "Operation not permitted" in done.stderr
