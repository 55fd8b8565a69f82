"""bench/bench_serve.py's machinery at a small scale: clients over HTTP against the real
``grader serve`` (a subprocess on a loopback port), a mix with correct, buggy and hostile
submissions; every accepted job ends exactly once with a result, every client receives
each report once, and each score is ``grader grade``'s for the same bytes."""

from __future__ import annotations

import pytest

for module in ("fastapi", "uvicorn", "multipart", "sqlalchemy"):
    pytest.importorskip(module, reason="the service's extra: pip install -e '.[serve]'")

from bench.bench_serve import make_class, run  # noqa: E402

pytestmark = pytest.mark.slow

CLIENTS, NOTEBOOKS = 4, 12


def test_every_accepted_job_ends_once_with_grader_grades_score() -> None:
    submissions = make_class(CLIENTS, NOTEBOOKS)
    kinds = {s.kind for s in submissions}
    assert kinds == {"correct", "buggy", "hostile"}  # the small run has the whole mix
    assert len({s.content for s in submissions}) == NOTEBOOKS  # no cache short-cut

    figures = run(
        CLIENTS, NOTEBOOKS, workers=2, within=2.0, poll=0.3, limit=240, say=lambda _: None
    )

    assert figures.refused == []
    assert figures.accepted == NOTEBOOKS
    assert figures.problems == []  # none lost, none twice, each report received once
    assert len(figures.client_latency) == NOTEBOOKS
    assert figures.score_mismatches == []
    assert sorted(figures.scores) == sorted(s.filename for s in submissions)
    for service, batch in figures.scores.values():
        assert service == batch
    # the mix is told apart: the samples' scores differ
    assert len({service for service, _ in figures.scores.values()}) > 1
    assert figures.graded_per_s > 0 and figures.batch_per_s > 0
