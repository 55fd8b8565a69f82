"""Runs untrusted submissions in a sandboxed child and brings back validated arrays.

    result = run_job(Job(code, probes, inputs, probe_module, output_specs))
    with WarmWorker() as worker:          # pre-started, for many jobs
        result = worker.run(job)

Nothing crosses from the child to the parent but JSON status lines and .npz
bytes, validated here after every process of the child is gone; the parent
never imports the student's code and never unpickles. See ``tiers`` for what
isolates the child on this machine.
"""

from .cold import run_job
from .jobs import (
    STATUSES,
    Job,
    JobResult,
    Limits,
    OutputSpec,
    ProbeCall,
    ProbeOutcome,
    SandboxConfigError,
    SandboxError,
    Status,
)
from .tiers import SandboxUnavailableError, detect_tier, resolve_tier
from .warm import WarmWorker, close_all_workers, preload_for

__all__ = [
    "STATUSES",
    "Job",
    "JobResult",
    "Limits",
    "OutputSpec",
    "ProbeCall",
    "ProbeOutcome",
    "SandboxConfigError",
    "SandboxError",
    "SandboxUnavailableError",
    "Status",
    "WarmWorker",
    "close_all_workers",
    "detect_tier",
    "preload_for",
    "resolve_tier",
    "run_job",
]
