"""Fixtures for the sandbox tests: the four ways to run a job.

``runner`` is parametrised over (cold | warm) x (plain | bwrap); the bwrap ones
carry the ``sandbox`` marker and skip where bubblewrap or user namespaces are
missing. Warm workers are shared per module (starting one is what they save).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from grader.sandbox import Job, JobResult, WarmWorker, run_job

from .helpers import LIMITS, MODES

Runner = Callable[[Job], JobResult]


@pytest.fixture(scope="module")
def warm_workers() -> Iterator[dict[str, WarmWorker]]:
    """Warm workers by tier, started on first use, closed with the module."""
    workers: dict[str, WarmWorker] = {}
    yield workers
    for w in workers.values():
        w.close()


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(worker, tier) of the current run."""
    return request.param


@pytest.fixture
def runner(mode: tuple[str, str], warm_workers: dict[str, WarmWorker]) -> Runner:
    """Runs a job in the current mode and returns its JobResult."""
    worker, tier = mode
    if worker == "cold":
        return lambda job: run_job(job, LIMITS, tier=tier)
    if tier not in warm_workers:
        warm_workers[tier] = WarmWorker(LIMITS, tier=tier, preload=("numpy",))
    return warm_workers[tier].run
