"""End to end: one submission can neither harm the next nor reach the answer key.

The attacks of submissions/hostile/ that need a victim are graded in one batch on the
``pool`` executor with one process (so one warm sandbox worker), each attacker right
before a copy of the correct sample: tmp_filler.py and tmp_filler_stealthy.py (fill
/tmp), link_planter.py then kept_code_runner.py (colluding: plant links at the next job
folders, then run a kept classmate's code), answer_key_import.py. The victims keep full
marks; the attackers earn nothing; the pool leaves no folder behind.

The answer key is also looked for under a wheel install (what the Gradescope and
GitHub Actions examples do): the grader is built into a wheel and installed into a fresh
venv, and that venv's grader runs answer_key_import.py in cold and warm jobs.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from grader.batch import BatchSummary, GradeJob, run_batch
from grader.cache import ResultStore
from grader.executors import PoolExecutor
from grader.grade import GradeSettings, grade_submission
from grader.rubric_file import load_rubric
from grader.sandbox import Limits
from tests.grader.sandbox.helpers import bwrap_skip_reason
from tests.grader.test_e2e_hostile import CORRECT, HOSTILE, fast_rubric_toml

ROOT = Path(__file__).parents[2]
BWRAP_MISSING = bwrap_skip_reason()
pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(BWRAP_MISSING is not None, reason=str(BWRAP_MISSING)),
]
# attacker, then the victims graded after it on the same worker
PAIRS = (
    ("tmp_filler", ("victim_after_tmp_filler",)),
    ("tmp_filler_stealthy", ("victim_after_tmp_filler_stealthy",)),
    ("link_planter", ("victim_after_link_planter", "kept_code_runner")),
    ("answer_key_import", ("victim_after_answer_key_import",)),
)
SETTINGS = GradeSettings(
    tier="bwrap", warm=True, limits=Limits(setup_timeout=10.0, total_timeout=60.0), figures=False
)


def batch_order(folder: Path) -> list[Path]:
    """The batch's files in grading order: each attacker, then its victims."""
    paths = []
    for attacker, after in PAIRS:
        paths.append(HOSTILE / f"{attacker}.py")
        for name in after:
            if name.startswith("victim"):
                paths.append(folder / f"{name}.ipynb")
                shutil.copy(CORRECT, paths[-1])
            else:
                paths.append(HOSTILE / f"{name}.py")
    return paths


@pytest.fixture(scope="module")
def pool_batch(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[BatchSummary, dict[str, dict[str, str]], Path, ResultStore]:
    """The pairs graded in one pool batch of one process; temporary folders in ``tmp``."""
    base = tmp_path_factory.mktemp("isolation")
    rubric_path = base / "rubric.toml"
    rubric_path.write_text(fast_rubric_toml(), encoding="utf-8")
    subs = base / "subs"
    subs.mkdir()
    tmp = base / "tmp"
    tmp.mkdir()
    saved = tempfile.tempdir
    tempfile.tempdir = str(tmp)  # where the pool and its processes make their folders
    try:
        job = GradeJob.from_file(grade_submission, rubric_path, SETTINGS)
        summary = run_batch(
            batch_order(subs),
            job,
            base / "out",
            executor=PoolExecutor(1, timeout=120.0),
            progress=False,
        )
    finally:
        tempfile.tempdir = saved
    with open(summary.gradebook, newline="", encoding="utf-8") as handle:
        rows = {r["student"]: r for r in csv.DictReader(handle)}
    return summary, rows, tmp, ResultStore(base / "out")


@pytest.mark.slow
def test_victims_keep_full_marks_after_each_attacker(pool_batch: tuple) -> None:
    """Each copy of the correct sample, graded right after an attacker on the same warm
    worker, gets every point."""
    summary, rows, _, store = pool_batch
    total = load_rubric(ROOT / "rubrics" / "mlp_backprop.toml").max_points
    assert (summary.failed, summary.pending) == (0, 0), summary.failures
    for _, after in PAIRS:
        for name in after:
            if name.startswith("victim"):
                assert rows[name]["status"] == "graded", rows[name]["reason"]
                assert float(rows[name]["total"]) == total, (name, rows[name])
                stored = store.load(name)
                assert stored is not None and stored.result.provenance["worker"] == "warm"


@pytest.mark.slow
def test_attackers_and_the_kept_code_runner_earn_nothing(pool_batch: tuple) -> None:
    """The attackers implement nothing and get nothing; kept_code_runner finds no kept code."""
    _, rows, _, store = pool_batch
    for name in ("tmp_filler", "tmp_filler_stealthy", "link_planter", "answer_key_import"):
        assert float(rows[name]["total"] or 0) == 0.0, (name, rows[name])
    assert float(rows["kept_code_runner"]["total"] or 0) == 0.0
    kept = store.load("kept_code_runner")
    assert kept is not None and "kept_code_runner: found nothing" in kept.result.stdout
    key = store.load("answer_key_import")
    assert key is not None and "answer_key_import: found nothing" in key.result.stdout


@pytest.mark.slow
def test_the_pool_leaves_no_folder_behind(pool_batch: tuple) -> None:
    """No grader-pool-*, grader-worker-* or job folder is left in the temporary folder
    (multiprocessing's own pymp-* folder is this test process's, removed at its exit)."""
    _, _, tmp, _ = pool_batch
    assert sorted(p.name for p in tmp.iterdir() if not p.name.startswith("pymp-")) == []


# ---------------------------------------------------------------------------
# A wheel install: the answer key sits in the mounted site-packages

PROBE = """
import sys
from pathlib import Path
import numpy as np
import grader, reference
from grader.sandbox import Job, Limits, OutputSpec, ProbeCall, WarmWorker, run_job

assert reference.__file__.startswith(sys.prefix), reference.__file__  # the wheel's, really
source = Path(sys.argv[1]).read_text()
code = source + "\\ndef f():\\n    _find()\\n    return {'y': np.zeros(1)}\\n"
job = Job(code, (ProbeCall("p", "raw", {"fn": "f"}, (), 5.0),), {}, Path(sys.argv[2]),
          {"p": {"y": OutputSpec()}})
limits = Limits(setup_timeout=10.0)
print("cold:", run_job(job, limits, tier="bwrap").stdout_excerpt.strip())
with WarmWorker(limits, tier="bwrap", preload=("numpy",)) as worker:
    print("warm:", worker.run(job).stdout_excerpt.strip())
"""


@pytest.mark.slow
def test_a_wheel_install_hides_the_answer_key_from_the_sandbox(tmp_path: Path) -> None:
    """Built into a wheel (from a copy of the sources, ~2 s) and installed into a fresh
    venv (~1 s), the grader's cold and warm jobs find neither `reference` nor `grader`."""
    source = tmp_path / "src"
    for part in ("grader", "reference"):
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, source / part)
    wheels, venv = tmp_path / "wheels", tmp_path / "venv"
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels, source],
        check=True,
    )
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", venv])
    python = venv / "bin" / "python"
    wheel = next(wheels.glob("*.whl"))
    subprocess.run(
        [
            *pip,
            "--python",
            python,
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--ignore-installed",
            wheel,
        ],
        check=True,
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the wheel's grader
    done = subprocess.run(
        [
            python,
            "-c",
            PROBE,
            HOSTILE / "answer_key_import.py",
            ROOT / "tests" / "grader" / "sandbox" / "probes_for_tests.py",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "cold: answer_key_import: found nothing" in done.stdout, done.stdout
    assert "warm: answer_key_import: found nothing" in done.stdout, done.stdout
