"""The service's store: the fair queue, one running job per student, the rate limit,
and a claim that survives a dead server: every job ends with exactly one result."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from grader.serve.store import MAX_ATTEMPTS, RateLimitedError, Store, token_hash


def store_of(tmp_path: Path, *students: str, claim: str | None = None) -> Store:
    store = Store(tmp_path / "data", claim=claim)
    for name in students:
        store.set_token(name, "student", token_hash(f"token-of-{name}"))
    return store


def test_wal_mode_and_content_addressed_blobs(tmp_path: Path) -> None:
    store = store_of(tmp_path, "alice", "bob")
    a = store.accept("alice", "lab3.ipynb", "ipynb", b'{"cells": []}')
    b = store.accept("bob", "lab3.ipynb", "ipynb", b'{"cells": []}')
    mode = sqlite3.connect(tmp_path / "data" / "service.db").execute("PRAGMA journal_mode")
    assert mode.fetchone()[0] == "wal"
    job_a, job_b = store.job(a), store.job(b)
    assert job_a is not None and job_b is not None
    assert job_a.sha256 == job_b.sha256  # the same bytes are stored once
    blobs = [p for p in (tmp_path / "data" / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 1 and store.blob(job_a.sha256) == b'{"cells": []}'
    assert a != b and len(a) == 32  # unguessable ids


def test_round_robin_one_burst_does_not_starve_the_class(tmp_path: Path) -> None:
    store = store_of(tmp_path, "alice", "bob", "carol")
    burst = [store.accept("alice", f"a{i}.py", "py", f"# {i}".encode()) for i in range(5)]
    bob = store.accept("bob", "b.py", "py", b"# b")
    carol = store.accept("carol", "c.py", "py", b"# c")
    # positions predicted before anything runs
    predicted = {job: store.position(job) for job in [*burst, bob, carol]}
    order = []
    while (job := store.claim_next()) is not None:
        order.append(job.id)
        assert store.finish(job.id, "graded", "{}", 1.0, 0.1)
    assert order[:3] == [burst[0], bob, carol]  # everyone served before alice's second
    assert order[3:] == burst[1:]
    assert [predicted[j] for j in order] == list(range(1, len(order) + 1))


def test_one_running_job_per_student(tmp_path: Path) -> None:
    store = store_of(tmp_path, "alice", "bob")
    first = store.accept("alice", "a.py", "py", b"# 1")
    store.accept("alice", "a.py", "py", b"# 2")
    running = store.claim_next()
    assert running is not None and running.id == first
    assert store.claim_next() is None  # alice's second waits while her first runs
    bob = store.accept("bob", "b.py", "py", b"# b")
    taken = store.claim_next()
    assert taken is not None and taken.id == bob
    assert store.finish(first, "graded", "{}", 1.0, 0.1)
    nxt = store.claim_next()
    assert nxt is not None and nxt.student == "alice"


def test_rate_limit_per_hour(tmp_path: Path) -> None:
    store = store_of(tmp_path, "alice", "bob")
    for i in range(3):
        store.accept("alice", "a.py", "py", f"# {i}".encode(), per_hour=3)
    with pytest.raises(RateLimitedError, match="3 times in the last hour") as refused:
        store.accept("alice", "a.py", "py", b"# refused", per_hour=3)
    assert 0 < refused.value.retry_after <= 3600
    assert len(store.jobs("alice")) == 3
    store.accept("bob", "b.py", "py", b"# b", per_hour=3)  # bob has his own allowance


def test_a_dead_servers_claim_is_recovered_and_finished_once(tmp_path: Path) -> None:
    first = store_of(tmp_path, "alice", claim="first-server")
    job_id = first.accept("alice", "a.py", "py", b"# a")
    claimed = first.claim_next()
    assert claimed is not None and claimed.state == "running" and claimed.attempts == 1
    first.close()  # the first server dies here, its job claimed and unfinished

    second = Store(tmp_path / "data", claim="second-server")
    assert second.recover() == 1
    again = second.claim_next()
    assert again is not None and again.id == job_id and again.attempts == 2
    # the dead server's late answer (had it one) is not recorded: the claim is not its own
    assert not first.finish(job_id, "graded", json.dumps({"late": True}), 1.0, 0.1)
    assert second.finish(job_id, "graded", json.dumps({"n": 1}), 2.0, 0.1)
    assert not second.finish(job_id, "graded", json.dumps({"n": 2}), 3.0, 0.1)  # never twice
    assert json.loads(second.result(job_id) or "") == {"n": 1}
    done = second.job(job_id)
    assert done is not None and done.state == "done" and done.points == 2.0
    assert second.recover() == 0  # a finished job is never queued again


def test_recover_leaves_this_servers_own_claims(tmp_path: Path) -> None:
    store = store_of(tmp_path, "alice")
    store.accept("alice", "a.py", "py", b"# a")
    assert store.claim_next() is not None
    assert store.recover() == 0
    assert MAX_ATTEMPTS >= 2  # a job cut off once is always tried again
