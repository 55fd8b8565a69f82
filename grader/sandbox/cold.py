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
anything the child made. Where a cgroup can be made, the job's children run in
one (``sandbox.cgroup``), which bounds their memory and processes together.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from .cgroup import SANDBOX_TASKS, JobCgroup
from .child.session import supervise
from .jobs import Job, JobResult, Limits, SandboxError
from .privilege import Identity, allocate, baseline, verify_intact
from .process import SandboxProcess, remove_tree, runner_files, write_tree
from .tiers import (
    SANDBOX_UID,
    Tier,
    as_root,
    child_python_command,
    harden_parent,
    notice,
    resolve_tier,
)
from .validate import judge


def make_jobdir(
    root: Path,
    job: Job,
    limits: Limits,
    tier: Tier,
    owner: Identity | None = None,
    nproc: bool = True,
) -> None:
    """Lay out the job directory; as root, hand the writable parts to the child's uid
    (``owner`` in the uid tier, 65534 in the bwrap tier).

    nproc : apply RLIMIT_NPROC where the child has a uid of its own (False where a
            cgroup bounds the job's processes: the rlimit would count other jobs too)
    """
    uid, gid = (owner.uid, owner.gid) if owner else (SANDBOX_UID, SANDBOX_UID)
    own_uid = owner is not None or (tier == "bwrap" and as_root())
    root.mkdir(mode=0o755)
    write_tree(root / "submission", {"submission.py": job.code.encode(), **job.data_files})
    write_tree(root / "runner", {**runner_files(), "probes.py": job.probe_module.read_bytes()})
    (root / "plan.json").write_text(json.dumps(job.plan(limits, own_uid and nproc)))
    (root / "outputs").mkdir()
    (root / "home").mkdir()
    if own_uid:
        for top in ("submission", "outputs", "home"):
            for path in [root / top, *(root / top).rglob("*")]:
                os.chown(path, uid, gid, follow_symlinks=False)


class ColdChild:
    """One fresh sandboxed interpreter running the runner from probe ``start`` on."""

    def __init__(
        self, tier: Tier, root: Path, identity: Identity | None, cgroup: JobCgroup | None
    ) -> None:
        inside = "/job" if tier == "bwrap" else str(root)
        commands_r, self.commands = os.pipe()
        self.progress, progress_w = os.pipe()
        self.stdout, out_w = os.pipe()
        self.stderr, err_w = os.pipe()
        argv = [*child_python_command(tier), f"{inside}/runner/launch.py", "run", inside]
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
                identity=identity,
                cgroup=cgroup,
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
    if chosen == "plain":
        baseline()  # the grader's files as they are before any submission of ours ran
    t0 = time.perf_counter()
    identity = allocate() if chosen == "uid" else None
    tmp = Path(tempfile.mkdtemp(prefix="grader-"))
    if identity is not None:
        os.chmod(tmp, 0o711)  # the child's uid may pass through to the job, not list
    root = tmp / "job"
    # one cgroup for the job's children (they run one after another)
    group = JobCgroup.create(limits.job_memory_bytes, limits.processes + SANDBOX_TASKS)
    try:
        make_jobdir(root, job, limits, chosen, identity, nproc=group is None)
        report, blobs = supervise(
            [p.supervision() for p in job.probes],
            lambda: ColdChild(chosen, root, identity, group),
            job.frame,
            setup_timeout=limits.setup_timeout,
            total_timeout=limits.total_timeout,
            max_restarts=limits.max_restarts,
            capture_bytes=limits.capture_bytes,
            output_bytes=limits.output_bytes,
        )
    finally:
        try:
            if identity is not None:
                identity.release()  # every process of the job's uid is gone from here on
        finally:
            if group is not None:
                group.close()
            remove_tree(tmp)
    if chosen == "plain":
        verify_intact()
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
        limits_tier="cgroup" if group is not None else "rlimit",
    )
