"""Shared helpers of the sandbox tests: the job builder, limits, modes."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.sandbox import Job, Limits, OutputSpec, ProbeCall
from grader.sandbox.tiers import bwrap_status

PROBES = Path(__file__).with_name("probes_for_tests.py")
LIMITS = Limits(
    setup_timeout=2.0,
    total_timeout=30.0,
    cpu_seconds=20,
    memory_bytes=4 << 30,
    file_bytes=16 << 20,
    capture_bytes=8 << 10,
    max_restarts=2,
)
X = np.arange(6.0).reshape(2, 3)


def probe(
    id: str,
    call: str = "add",
    timeout: float = 2.0,
    inputs: tuple[str, ...] = ("x",),
    **params: Any,
) -> ProbeCall:
    """A probe call; ``add`` by default (params: k), ``raw`` with params fn=<student function>."""
    if call == "add":
        params.setdefault("k", 1.0)
    return ProbeCall(id, call, params, inputs if call == "add" else (), timeout)


def make_job(
    code: str,
    *probes: ProbeCall,
    specs: Mapping[str, Mapping[str, OutputSpec]] | None = None,
    data_files: Mapping[str, bytes] | None = None,
) -> Job:
    """A job over input ``x`` (2, 3); every probe returns {"y": ...} of any shape unless told."""
    probes = probes or (probe("p"),)
    default = {p.id: {"y": OutputSpec()} for p in probes}
    return Job(
        code=textwrap.dedent(code),
        probes=tuple(probes),
        inputs={"x": X},
        probe_module=PROBES,
        output_specs={**default, **(specs or {})},
        data_files=dict(data_files or {}),
    )


def bwrap_skip_reason() -> str | None:
    """Why the bwrap tier cannot be tested here, or None when it can."""
    if os.environ.get("GRADER_SANDBOX") == "plain":
        return "GRADER_SANDBOX=plain forces the plain tier"
    works, reason = bwrap_status()
    return None if works else f"bubblewrap sandbox unavailable: {reason}"


def advisory_skip_reason() -> str | None:
    """Why only the advisory plain tier can run here (a non-root user without bubblewrap),
    or None when the uid or bwrap tier will."""
    if os.geteuid() == 0 or bwrap_skip_reason() is None:
        return None
    return "only the advisory plain tier runs here (not root, no bubblewrap)"


needs_bwrap = pytest.mark.skipif(bwrap_skip_reason() is not None, reason=str(bwrap_skip_reason()))
# without namespaces: as root the child runs as a dedicated uid ("plain" means "uid" there)
NO_NS = "uid" if os.geteuid() == 0 else "plain"
MODES = [
    pytest.param(("cold", NO_NS), id=f"cold-{NO_NS}"),
    pytest.param(("warm", NO_NS), id=f"warm-{NO_NS}"),
    pytest.param(("cold", "bwrap"), id="cold-bwrap", marks=[pytest.mark.sandbox, needs_bwrap]),
    pytest.param(("warm", "bwrap"), id="warm-bwrap", marks=[pytest.mark.sandbox, needs_bwrap]),
]


def cmdline_holders(token: str) -> list[int]:
    """Pids whose command line contains ``token`` (processes a test left behind)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if token.encode() in f.read():
                        found.append(int(name))
            except OSError:
                continue
    return found
