"""``grader serve --scheduler`` through the real flag: the server (uvicorn in a subprocess)
grades on a Dask cluster (a LocalCluster started here, reached at its scheduler's address),
and a notebook submitted over HTTP gets the score, check by check, of ``grader grade``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from grader.cli import main as grader_main
from tests.grader.serve.conftest import DEMO, RUBRIC, Class, Server, need_web_stack, wait_done

need_web_stack()
distributed = pytest.importorskip(
    "distributed", reason='Dask is an optional dependency: pip install "dask[distributed]"'
)
import httpx  # noqa: E402

pytestmark = pytest.mark.slow


def test_serve_with_scheduler_scores_as_grader_grade(
    klass: Class, server: Server, tmp_path: Path
) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(DEMO / "bob.ipynb", folder / "bob.ipynb")
    out = tmp_path / "graded"
    argv = ["grade", str(folder), "--rubric", str(RUBRIC), "--out", str(out), "--no-progress"]
    assert grader_main(argv) == 0
    batch = json.loads((out / "results" / "bob.json").read_text())

    with distributed.LocalCluster(
        n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        server.start("--scheduler", cluster.scheduler_address)
        try:
            answer = httpx.post(
                server.url + "/api/submissions",
                headers=klass.auth("bob"),
                files={"file": ("bob.ipynb", (DEMO / "bob.ipynb").read_bytes())},
                timeout=30,
            )
            assert answer.status_code == 202, answer.text
            job = answer.json()["job"]
            done = wait_done(server.url, klass.auth("bob"), job, limit=240)
            served = httpx.get(
                f"{server.url}/api/jobs/{job}/report.json",
                headers=klass.auth("instructor"),
                timeout=30,
            ).json()
        finally:
            server.stop()
    assert server.log is not None
    log = server.log.read_text()
    # it did grade on the cluster, one at a time (the cluster's one thread)
    assert f"grading on the Dask cluster {cluster.scheduler_address}, 1 at once" in log, log
    assert done["outcome"] == "graded", done
    assert served["submission"]["identity"] == "bob"
    assert served["score"]["points"] == batch["score"]["points"]
    checks = {c["check_id"]: (c["status"], c["points"]) for c in served["checks"]}
    assert checks == {c["check_id"]: (c["status"], c["points"]) for c in batch["checks"]}


def test_an_unreachable_scheduler_is_one_sentence(klass: Class, server: Server) -> None:
    """A scheduler nobody listens at: the server says so and stops before serving."""
    from tests.grader.serve.conftest import free_port

    with pytest.raises(AssertionError) as stopped:
        server.start("--scheduler", f"tcp://127.0.0.1:{free_port()}")
    assert "cannot reach the Dask scheduler" in str(stopped.value)
    assert server.proc is not None and server.proc.wait(30) == 2
