"""A cold job: a fresh sandboxed interpreter per child, supervised by this process.

The job directory holds only what the child needs:

    submission/   submission.py and the submission's data files (child's cwd)
    plan.json     the rlimits and the probe functions the runner must find
    runner/       launch.py, the child package (_grader_child/) and probes.py
    outputs/      free for the submission (answers travel on the progress pipe)
    home/         $HOME

No probe's inputs are ever written here: the parent sends each probe's inputs on
the child's command pipe when the probe starts (``session.supervise``).

In the bwrap tier it is mounted at /job and nothing else of this machine but
/usr and the Python installation is visible; as root, only submission/,
outputs/ and home/ are writable by the child's uid. The parent reads outputs
only once every process of the child is gone, and never imports or unpickles
anything the child made.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from .child.session import supervise
from .jobs import Job, JobResult, Limits, SandboxError
from .process import SandboxProcess, remove_tree, runner_files, write_tree
from .tiers import SANDBOX_UID, Tier, as_root, harden_parent, notice, python_command, resolve_tier
from .validate import judge


def make_jobdir(root: Path, job: Job, limits: Limits, tier: Tier) -> None:
    """Lay out the job directory; in the bwrap tier as root, hand the writable parts to the child's uid."""
    own_uid = tier == "bwrap" and as_root()
    root.mkdir(mode=0o755)
    write_tree(root / "submission", {"submission.py": job.code.encode(), **job.data_files})
    write_tree(root / "runner", {**runner_files(), "probes.py": job.probe_module.read_bytes()})
    (root / "plan.json").write_text(json.dumps(job.plan(limits, own_uid)))
    (root / "outputs").mkdir()
    (root / "home").mkdir()
    if own_uid:
        for top in ("submission", "outputs", "home"):
            for path in [root / top, *(root / top).rglob("*")]:
                os.chown(path, SANDBOX_UID, SANDBOX_UID, follow_symlinks=False)


class ColdChild:
    """One fresh sandboxed interpreter running the runner from probe ``start`` on."""

    def __init__(self, tier: Tier, root: Path) -> None:
        inside = "/job" if tier == "bwrap" else str(root)
        commands_r, self.commands = os.pipe()
        self.progress, progress_w = os.pipe()
        self.stdout, out_w = os.pipe()
        self.stderr, err_w = os.pipe()
        argv = [*python_command(), f"{inside}/runner/launch.py", "run", inside]
        try:
            self.process = SandboxProcess(
                tier,
                [*argv, str(progress_w), str(commands_r)],
                rw=[(str(root), "/job")],
                chdir=f"{inside}/submission",
                home=f"{inside}/home",
                pass_fds=[progress_w, commands_r],
                stdout=out_w,
                stderr=err_w,
            )
        except BaseException:
            os.close(self.commands)
            raise
        finally:
            for fd in (commands_r, progress_w, out_w, err_w):
                os.close(fd)

    def exited(self) -> int | None:
        return self.process.popen.poll()

    def exit_fd(self) -> int | None:
        return self.process.pidfd

    def kill(self) -> None:
        self.process.kill_tree()

    def exit_note(self, status: int) -> str:
        return self.process.exit_note(status)


def run_job(job: Job, limits: Limits | None = None, tier: str | None = None) -> JobResult:
    """Run ``job`` in fresh sandboxed children; every failure of the submission is a status.

    Raises SandboxError only for the grader's own faults (tier unavailable,
    probe module broken, runner unable to start).
    """
    limits = limits or Limits()
    chosen = resolve_tier(tier)
    harden_parent()
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="grader-"))
    root = tmp / "job"
    try:
        make_jobdir(root, job, limits, chosen)
        report, blobs = supervise(
            [p.supervision() for p in job.probes],
            lambda: ColdChild(chosen, root),
            job.frame,
            setup_timeout=limits.setup_timeout,
            total_timeout=limits.total_timeout,
            max_restarts=limits.max_restarts,
            capture_bytes=limits.capture_bytes,
            output_bytes=limits.output_bytes,
        )
    finally:
        remove_tree(tmp)
    if report.get("fatal"):
        raise SandboxError(f"the sandbox runner failed: {report['fatal']}\n{report['stderr']}")
    return judge(
        job,
        report,
        blobs,
        tier=chosen,
        notice=notice(chosen),
        wall_seconds=time.perf_counter() - t0,
        worker="cold",
    )
