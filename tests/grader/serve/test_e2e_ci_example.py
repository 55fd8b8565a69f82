"""The CI example (examples/github-actions/submit.yml) as a runner runs it, against the
real service on a loopback port: the correct notebook's job passes, the buggy one's fails
naming the public check, and both write the report to the job summary.

The steps run with tests/test_deploy_examples.py's harness (bash as a hosted runner runs
``run:`` steps, ``${{ }}`` expressions evaluated, actions/checkout copies a repository)."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from grader.rubric_file import load_rubric
from tests.grader.serve.conftest import (
    ROOT,
    RUBRIC,
    Class,
    Server,
    named_misconception,
    need_web_stack,
)

need_web_stack()
yaml = pytest.importorskip("yaml")
from tests.test_deploy_examples import Runner  # noqa: E402

WORKFLOW = ROOT / "examples" / "github-actions" / "submit.yml"
CORRECT = ROOT / "submissions" / "correct" / "template_ok.ipynb"
BUGGY = ROOT / "submissions" / "buggy"
SAMPLE = "template_sign_flip_output_delta"


def document() -> dict[str, object]:
    return dict(yaml.safe_load(WORKFLOW.read_text(encoding="utf-8")))


def test_workflow_may_only_read_and_keeps_the_token_a_secret() -> None:
    doc = document()
    assert doc["permissions"] == {"contents": "read"}
    steps = doc["jobs"]["submit"]["steps"]  # type: ignore[index]
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "GRADER_TOKEN: ${{ secrets.GRADER_TOKEN }}" in text


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_run_step_is_shellcheck_clean(tmp_path: Path) -> None:
    for step in document()["jobs"]["submit"]["steps"]:  # type: ignore[index]
        if "run" in step:
            script = tmp_path / "step.sh"
            script.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + step["run"])
            done = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
            assert done.returncode == 0, done.stdout


def run_workflow(base: Path, notebook: Path, url: str, token: str) -> Runner:
    repo = base / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy2(WORKFLOW, repo / ".github" / "workflows" / "submit.yml")
    shutil.copy2(notebook, repo / "lab3.ipynb")
    runner = Runner(
        base / "workspace",
        base / "temp",
        repo,
        wheel=base / "no-wheel",  # the job installs nothing
        document=WORKFLOW,
        values={"vars.GRADER_URL": url, "secrets.GRADER_TOKEN": token},
    )
    runner.log = runner.run_job("submit")
    return runner


@pytest.mark.slow
def test_correct_passes_buggy_fails_and_both_write_the_report(
    klass: Class, server: Server, tmp_path: Path
) -> None:
    server.start("--workers", "1")
    # what the buggy sample must fail: its expected checks, public in the service's rubric
    expected = tomllib.loads((BUGGY / "expected.toml").read_text("utf-8"))["buggy"][SAMPLE]
    public = {c.id for c in load_rubric(RUBRIC).checks if c.visibility == "public"}
    failing = set(expected["checks"]) & public
    assert failing

    good = run_workflow(tmp_path / "good", CORRECT, server.url, klass.tokens["alice"])
    (_, status, output), *_ = [e for e in good.log if e[0].startswith("Submit")]
    assert status == 0, output
    assert "every public check passed" in output
    summary = good.summary.read_text()
    assert "## Feedback: alice" in summary

    bad = run_workflow(tmp_path / "bad", BUGGY / f"{SAMPLE}.ipynb", server.url, klass.tokens["bob"])
    (_, status, output), *_ = [e for e in bad.log if e[0].startswith("Submit")]
    assert status != 0
    assert "::error::not every public check passed" in output
    assert all(check in output for check in failing)
    summary = bad.summary.read_text()
    assert "## Feedback: bob" in summary and named_misconception(SAMPLE) in summary

    refused = run_workflow(tmp_path / "refused", CORRECT, server.url, "not-a-token")
    (_, status, output), *_ = [e for e in refused.log if e[0].startswith("Submit")]
    assert status != 0 and "::error::the service did not accept lab3.ipynb" in output
    assert "a valid token is needed" in output
    assert not refused.summary.exists()
