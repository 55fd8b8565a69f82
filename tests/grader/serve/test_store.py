"""The service's store: the fair queue, one running job per student, the rate limit,
and a claim that survives a dead server: every job ends with exactly one result.

Each test runs on SQLite (the default) and on PostgreSQL: a throwaway cluster the
session starts from the binaries in /usr/lib/postgresql/*/bin (``.ci/run`` installs
Debian's ``postgresql``), skipped with the reason where they or the driver are missing.
"""

from __future__ import annotations

import itertools
import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

sa = pytest.importorskip("sqlalchemy", reason="the service's extra: pip install -e '.[serve]'")

from grader.serve.store import (  # noqa: E402 (after the skip)
    LEASE,
    MAX_ATTEMPTS,
    RateLimitedError,
    Store,
    token_hash,
)


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return found[0].parent if found else None


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[str]:
    """A PostgreSQL cluster in a temporary folder, on a unix socket there only; its URL
    (without a database). As root, the server runs as ``postgres`` (or ``nobody``)."""
    pytest.importorskip("psycopg", reason="the PostgreSQL driver: pip install 'psycopg[binary]'")
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip(
            "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)"
        )
    base = Path(tempfile.mkdtemp(prefix="grader-pg-"))  # short: a socket path is <108 bytes
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root
        runuser = shutil.which("runuser")
        user = next((u for u in ("postgres", "nobody") if _has_user(u)), None)
        if runuser is None or user is None:
            pytest.skip("running as root without runuser or an unprivileged user for PostgreSQL")
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
        prefix = [runuser, "-u", user, "--"]
    data = base / "data"
    try:
        subprocess.run(
            [
                *prefix,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "grader",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = f"-c listen_addresses='' -k {base} -c fsync=off -c max_connections=100"
        subprocess.run(
            [
                *prefix,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "-l",
                str(base / "log"),
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        shutil.rmtree(base, ignore_errors=True)
        detail = getattr(error, "stderr", b"") or b""
        pytest.skip(
            f"PostgreSQL could not start here: {error} {detail.decode(errors='replace')[-300:]}"
        )
    try:
        yield f"postgresql+psycopg://grader@/{{db}}?host={base}"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture
def pg_url(pg_cluster: str) -> Iterator[str]:
    """A fresh database on the session's cluster, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_cluster.format(db="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield pg_cluster.format(db=name)
    finally:
        with admin.connect() as db:
            db.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> str | None:
    """The backend a test runs on: None is SQLite under the data folder."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("pg_url"))


def store_of(
    tmp_path: Path, *students: str, claim: str | None = None, url: str | None = None
) -> Store:
    store = Store(tmp_path / "data", claim=claim, url=url)
    for name in students:
        store.set_token(name, "student", token_hash(f"token-of-{name}"))
    return store


def test_content_addressed_blobs_and_the_databases_mode(tmp_path: Path, url: str | None) -> None:
    store = store_of(tmp_path, "alice", "bob", url=url)
    a = store.accept("alice", "lab3.ipynb", "ipynb", b'{"cells": []}')
    b = store.accept("bob", "lab3.ipynb", "ipynb", b'{"cells": []}')
    job_a, job_b = store.job(a), store.job(b)
    assert job_a is not None and job_b is not None
    assert job_a.sha256 == job_b.sha256  # the same bytes are stored once
    assert store.blob(job_a.sha256) == b'{"cells": []}'
    assert a != b and len(a) == 32  # unguessable ids
    if url is None:  # SQLite: WAL, and the bytes in files named by their hash
        mode = sqlite3.connect(tmp_path / "data" / "service.db").execute("PRAGMA journal_mode")
        assert mode.fetchone()[0] == "wal"
        blobs = [p for p in (tmp_path / "data" / "blobs").rglob("*") if p.is_file()]
        assert [p.name for p in blobs] == [job_a.sha256]
    else:  # PostgreSQL: the bytes in the database, where every server reaches them
        assert not (tmp_path / "data" / "blobs").exists()
        with store.engine.connect() as db:
            assert db.exec_driver_sql("SELECT count(*) FROM blobs").scalar() == 1
    store.close()


def test_round_robin_one_burst_does_not_starve_the_class(tmp_path: Path, url: str | None) -> None:
    store = store_of(tmp_path, "alice", "bob", "carol", url=url)
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
    assert store.graded_count() == len(store.latest_results()) == 3  # a count, one per student


def test_positions_predict_the_claim_order_of_a_mixed_queue(
    tmp_path: Path, url: str | None
) -> None:
    """The positions a status answers (read in one query for the whole queue) are the
    order claim_next serves, after some students were served already, and the cached
    view is read afresh after this process's own writes."""
    import random

    rng = random.Random(13)
    names = [f"st{i}" for i in range(6)]
    store = store_of(tmp_path, *names, url=url)
    for i in range(8):  # some served before: their turns come later
        store.accept(rng.choice(names), f"{i}.py", "py", f"# early {i}".encode())
    for _ in range(3):
        job = store.claim_next()
        assert job is not None and store.finish(job.id, "graded", "{}", 1.0, 0.1)
    view = store.queue_view()
    for i in range(20):
        store.accept(rng.choice(names[:4]), f"{i}.py", "py", f"# late {i}".encode())
    assert store.queue_view() is not view  # this process's writes void the view
    queued = [j.id for j in store.jobs() if j.state == "queued"]
    predicted = {job: store.position(job) for job in queued}
    assert predicted == store.queue_view().positions
    order = []
    while (job := store.claim_next()) is not None:
        order.append(job.id)
        assert store.finish(job.id, "graded", "{}", 1.0, 0.1)
    assert sorted(order) == sorted(queued)
    assert [predicted[j] for j in order] == list(range(1, len(order) + 1))
    assert store.queue_view().positions == {}
    store.close()


def test_one_running_job_per_student(tmp_path: Path, url: str | None) -> None:
    store = store_of(tmp_path, "alice", "bob", url=url)
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


def test_rate_limit_per_hour(tmp_path: Path, url: str | None) -> None:
    store = store_of(tmp_path, "alice", "bob", url=url)
    for i in range(3):
        store.accept("alice", "a.py", "py", f"# {i}".encode(), per_hour=3)
    with pytest.raises(RateLimitedError, match="3 times in the last hour") as refused:
        store.accept("alice", "a.py", "py", b"# refused", per_hour=3)
    assert 0 < refused.value.retry_after <= 3600
    assert len(store.jobs("alice")) == 3
    store.accept("bob", "b.py", "py", b"# b", per_hour=3)  # bob has his own allowance


def test_a_dead_servers_claim_is_recovered_and_finished_once(
    tmp_path: Path, url: str | None
) -> None:
    first = store_of(tmp_path, "alice", claim="first-server", url=url)
    job_id = first.accept("alice", "a.py", "py", b"# a")
    claimed = first.claim_next()
    assert claimed is not None and claimed.state == "running" and claimed.attempts == 1
    first.close()  # the first server dies here, its job claimed and unfinished

    second = Store(tmp_path / "data", claim="second-server", url=url)
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
    second.close()


def test_recover_leaves_this_servers_own_claims(tmp_path: Path, url: str | None) -> None:
    store = store_of(tmp_path, "alice", url=url)
    store.accept("alice", "a.py", "py", b"# a")
    assert store.claim_next() is not None
    assert store.recover() == 0
    assert MAX_ATTEMPTS >= 2  # a job cut off once is always tried again
    store.close()


def test_a_starting_server_leaves_a_live_servers_jobs_alone(
    tmp_path: Path, url: str | None
) -> None:
    """Servers sharing a database (PostgreSQL, several machines): one's start does not
    take the jobs another is grading; a server whose heartbeat stopped, or whose process
    on this machine is gone, has its jobs requeued; one that stops cleanly, at once."""
    one = store_of(tmp_path, "alice", "bob", "carol", claim="server-1", url=url)
    one.recover()
    for name in ("alice", "bob", "carol"):
        one.accept(name, "a.py", "py", f"# {name}".encode())
    running = one.claim_next()
    assert running is not None
    two = Store(tmp_path / "data", claim="server-2", url=url)
    assert two.recover() == 0  # server-1 is alive: its job stays its own
    assert two.claim_next() is not None

    with one.engine.begin() as db:  # server-1's heartbeat stopped a lease ago
        db.execute(
            sa.text("UPDATE servers SET seen = seen - :lease WHERE claim = 'server-1'"),
            {"lease": 2 * LEASE},
        )
    three = Store(tmp_path / "data", claim="server-3", url=url)
    assert three.recover() == 1
    back = three.job(running.id)
    assert back is not None and back.state == "queued"
    assert three.claim_next() is not None

    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid of this machine whose process has ended
    with one.engine.begin() as db:
        db.execute(
            sa.text("UPDATE servers SET pid = :pid WHERE claim = 'server-3'"), {"pid": gone.pid}
        )
    four = Store(tmp_path / "data", claim="server-4", url=url)
    assert four.recover() == 1  # server-3 was killed here: no need to wait for its lease
    assert four.claim_next() is not None
    four.close()  # a clean stop: its job is back in the queue for the others
    assert two.counts()["queued"] == 2
    for store in (one, two, three):
        store.close()


def test_two_servers_claiming_at_once_never_share_a_job(tmp_path: Path, url: str | None) -> None:
    """Two store instances (two servers; on PostgreSQL they could be on two machines),
    two grading threads each, claim from one queue at once: every job is handed out
    once, finished once, and no student ever has two jobs running."""
    students = [f"s{i:02d}" for i in range(12)]
    first = store_of(tmp_path, *students, claim="server-1", url=url)
    second = Store(tmp_path / "data", claim="server-2", url=url)
    accepted = {
        first.accept(name, "a.py", "py", f"# {name} {k}".encode())
        for name in students
        for k in range(3)
    }
    taken: list[tuple[str, str]] = []
    errors: list[BaseException] = []

    start = threading.Barrier(4)  # all four threads claim from the first job on

    def work(store: Store) -> None:
        try:
            start.wait(timeout=60)
            serve(store)
        except BaseException as error:  # a thread's failure is the test's
            errors.append(error)

    def serve(store: Store) -> None:
        while (job := store.claim_next()) is not None or store.counts()["queued"]:
            if job is None:
                continue  # the rest belong to students whose job runs elsewhere
            taken.append((job.id, store.claim))
            time.sleep(0.01)  # grading takes a while: a thread never drains the queue alone
            assert store.finish(job.id, "graded", json.dumps({"by": store.claim}), 1.0, 0.0)

    threads = [threading.Thread(target=work, args=(s,)) for s in (first, second) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    ids = Counter(job_id for job_id, _ in taken)
    assert set(ids) == accepted and max(ids.values()) == 1  # each job once, none lost
    for name in students:  # one at a time: each job started after the one before ended
        spans = sorted((j.started or 0.0, j.finished or 0.0) for j in first.jobs(name))
        assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans))
    assert {claim for _, claim in taken} == {"server-1", "server-2"}  # both really served
    assert first.counts() == {"queued": 0, "running": 0, "done": len(accepted)}
    for job_id, claim in taken:
        assert json.loads(first.result(job_id) or "") == {"by": claim}
    first.close()
    second.close()


def test_the_rate_limit_holds_against_concurrent_uploads(tmp_path: Path, url: str | None) -> None:
    """Ten uploads at once through two servers, three allowed an hour: exactly three
    are accepted (the count is taken inside the accepting transaction, the student locked)."""
    first = store_of(tmp_path, "alice", url=url)
    second = Store(tmp_path / "data", url=url)
    outcomes: list[str] = []
    barrier = threading.Barrier(10)

    def upload(store: Store, i: int) -> None:
        barrier.wait()
        try:
            store.accept("alice", "a.py", "py", f"# {i}".encode(), per_hour=3)
            outcomes.append("accepted")
        except RateLimitedError:
            outcomes.append("refused")

    threads = [
        threading.Thread(target=upload, args=(first if i % 2 else second, i)) for i in range(10)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert Counter(outcomes) == {"accepted": 3, "refused": 7}
    assert len(first.jobs("alice")) == 3
    first.close()
    second.close()


def test_the_database_refuses_a_second_running_job_per_student(
    tmp_path: Path, url: str | None
) -> None:
    store = store_of(tmp_path, "alice", url=url)
    one = store.accept("alice", "a.py", "py", b"# 1")
    two = store.accept("alice", "a.py", "py", b"# 2")
    assert store.claim_next() is not None
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as db:
        db.exec_driver_sql(
            "UPDATE jobs SET state = 'running' WHERE id = ?"
            if url is None
            else "UPDATE jobs SET state = 'running' WHERE id = %s",
            (two,),
        )
    assert {j.id: j.state for j in store.jobs()} == {one: "running", two: "queued"}
    store.close()


@pytest.mark.slow
def test_two_real_servers_share_one_postgresql(tmp_path: Path, pg_url: str) -> None:
    """Two ``grader serve`` processes (two machines, as far as they know: separate data
    folders) on one PostgreSQL: a submission to either is graded once, and its report
    and bytes are reachable through the other."""
    from tests.grader.serve.conftest import DEMO, STUDENTS, Server, need_web_stack, wait_done

    need_web_stack()
    import httpx

    from grader.serve.cli import main as serve_main

    roster = tmp_path / "roster.csv"
    roster.write_text("student,email\n" + "".join(f"{s},{s}@example.edu\n" for s in STUDENTS))
    out = tmp_path / "tokens.csv"
    data = [tmp_path / "one", tmp_path / "two"]
    argv = ["tokens", str(roster), "--data", str(data[0]), "--db", pg_url, "--out", str(out)]
    assert serve_main(argv) == 0
    tokens = {row.split(",")[0]: row.split(",")[1] for row in out.read_text().splitlines()[1:]}
    servers = [Server(folder) for folder in data]
    try:
        for server in servers:
            server.start("--db", pg_url, "--workers", "1")
        jobs = {}
        for i, (name, sample) in enumerate(
            [("alice", "alice"), ("bob", "bob"), ("carol", "carol")]
        ):
            answer = httpx.post(
                servers[i % 2].url + "/api/submissions",
                headers={"Authorization": f"Bearer {tokens[name]}"},
                files={"file": (f"{name}.ipynb", (DEMO / f"{sample}.ipynb").read_bytes())},
                timeout=30,
            )
            assert answer.status_code == 202, answer.text
            jobs[answer.json()["job"]] = name
        for i, (job, name) in enumerate(jobs.items()):
            auth = {"Authorization": f"Bearer {tokens[name]}"}
            other = servers[(i + 1) % 2].url  # not the one it was submitted to
            assert wait_done(other, auth, job)["outcome"] == "graded"
            report = httpx.get(f"{other}/api/jobs/{job}/report.md", headers=auth, timeout=30)
            assert report.status_code == 200 and f"## Feedback: {name}" in report.text
    finally:
        for server in servers:
            server.stop()
    store = Store(tmp_path / "check", url=pg_url)
    assert store.counts() == {"queued": 0, "running": 0, "done": 3}
    assert all(job.attempts == 1 for job in store.jobs())  # each graded once
    store.close()


def test_close_waits_for_a_transaction_in_flight_then_closes_every_connection(
    tmp_path: Path,
) -> None:
    """A grading thread's claim may be in flight when the service stops: close lets it
    return its connection before disposing of the pool, so no connection is left open and
    SQLite checkpoints its write-ahead log into service.db and removes it."""
    store = store_of(tmp_path, "alice")
    store.recover()  # a serving store: its heartbeat thread runs too
    inside = threading.Event()

    def claim() -> None:
        with store._read() as db:  # the connection checked out, as claim_next holds it
            db.execute(sa.text("SELECT 1"))
            inside.set()
            time.sleep(0.5)

    thread = threading.Thread(target=claim)
    thread.start()
    assert inside.wait(10)
    assert (tmp_path / "data" / "service.db-wal").exists()
    store.close()
    thread.join(10)
    assert store.engine.pool.checkedout() == 0
    assert not (tmp_path / "data" / "service.db-wal").exists()
