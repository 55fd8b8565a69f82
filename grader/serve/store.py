"""The service's durable state: one database and the submitted bytes.

SQLite is the default, for a service on one machine (``--data DIR``):

    <data>/service.db           students (token hashes), submissions, jobs and results (WAL)
    <data>/blobs/ab/abcdef...   each submitted file once, named by its SHA-256

PostgreSQL, for a service run on more than one machine (``--db postgresql+psycopg://...``):
the same tables, and the submitted bytes in the ``blobs`` table (bytea), so that every
server reaches them without a shared folder, and a submission's row and its bytes commit
in one transaction. Both go through the same SQLAlchemy Core code and table definitions;
the dialects differ only in how a write transaction is taken (below) and where bytes live.

A job moves ``queued -> running -> done``. Every step is one transaction, so a
server killed at any point (SIGKILL included) leaves each job in exactly one of
those states. A running job carries a *claim*: the id of the server process
that took it, which keeps a heartbeat in ``servers`` while it serves. A server
starting on the store returns every job claimed by a process that is gone to the
queue, and keeps doing so (``recover``), and a result is recorded only by
the claim's owner while the job still runs (``finish``), in the same
transaction that marks it done: a job ends with exactly one result, none lost.

The queue is fair: the next job goes to the student served least recently among
those with a queued job and none running (round-robin per student), oldest job
first; a student has at most one running job (also a unique partial index, so the
database itself refuses a second). Concurrency: on SQLite every write transaction
takes the single writer lock at once (BEGIN IMMEDIATE); on PostgreSQL, where several
servers share the database, a claim locks the chosen student's row and job with
``FOR UPDATE SKIP LOCKED`` (a second server skips to another student instead of
waiting), and an accept locks the student's row, so the rate limit counted inside
the accepting transaction cannot be raced past.

A full disk (ENOSPC, EDQUOT, EFBIG) is a StoreError with a sentence: an upload whose
bytes cannot be written stores no row (the row is written after the bytes, or with
them); a result that cannot be written leaves its job unfinished and queued again.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import functools
import hashlib
import os
import socket
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

JobState = Literal["queued", "running", "done"]
DB_NAME = "service.db"
BLOBS = "blobs"
MAX_ATTEMPTS = 3  # a job whose grading was cut off this often by a server's death is failed
LEASE = 60.0  # seconds: a server whose heartbeat is older is taken for dead, its jobs requeued
CLOSE_WAIT = 5.0  # seconds close waits for transactions in flight (each takes milliseconds)
DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
WHO_AGE = 10.0  # seconds a token found in the database is taken as valid without asking again
VIEW_AGE = 1.0  # seconds a queue view serves status answers before it is read again
RECENT = 20  # results whose median grading time the queue view reports

metadata = sa.MetaData()
students_t = sa.Table(
    "students",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("token_hash", sa.Text, nullable=False, unique=True),
    sa.Column("last_served", sa.BigInteger, nullable=False, server_default="0"),
    sa.CheckConstraint("role IN ('student', 'instructor')", name="students_role"),
)
submissions_t = sa.Table(
    "submissions",
    metadata,
    # Integer, not BigInteger: SQLite autoincrements only an INTEGER PRIMARY KEY
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("student", sa.Text, sa.ForeignKey("students.name"), nullable=False),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sqlite_autoincrement=True,
)
jobs_t = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column(
        "submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False, unique=True
    ),
    sa.Column("student", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("claim", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("started", sa.Float),
    sa.Column("finished", sa.Float),
    sa.CheckConstraint("state IN ('queued', 'running', 'done')", name="jobs_state"),
    sa.Index("jobs_by_state", "state", "student"),
    sa.Index(
        "one_running_job_per_student",
        "student",
        unique=True,
        sqlite_where=sa.text("state = 'running'"),
        postgresql_where=sa.text("state = 'running'"),
    ),
)
results_t = sa.Table(
    "results",
    metadata,
    sa.Column("job_id", sa.Text, sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("points", sa.Float),
    sa.Column("seconds", sa.Float, nullable=False),
)
meta_t = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
# the serving processes: a claim is a live server's while its heartbeat is recent
servers_t = sa.Table(
    "servers",
    metadata,
    sa.Column("claim", sa.Text, primary_key=True),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("seen", sa.Float, nullable=False),
)
# the submitted bytes, in the database (PostgreSQL only; SQLite keeps them on disk)
blobs_t = sa.Table(
    "blobs",
    metadata,
    sa.Column("sha256", sa.Text, primary_key=True),
    sa.Column("content", sa.LargeBinary, nullable=False),
)


# every authenticated request asks this: built once
WHO = sa.select(students_t.c.name, students_t.c.role, students_t.c.token_hash).where(
    students_t.c.token_hash == sa.bindparam("hashed")
)


class StoreError(RuntimeError):
    """The store cannot do what was asked (one sentence)."""


class RateLimitedError(StoreError):
    """A student submitted as often as the hour allows; ``retry_after`` in seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Job:
    id: str
    student: str
    state: JobState
    filename: str
    kind: str
    sha256: str
    size: int
    attempts: int
    created: float
    started: float | None
    finished: float | None
    outcome: str | None = None
    points: float | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class QueueView:
    """The queue as read at ``taken`` (time.monotonic()): each queued job's position (1 is
    next), and the median grading seconds of the latest results (None before any)."""

    positions: dict[str, int]
    grading_seconds: float | None
    taken: float


def token_hash(token: str) -> str:
    """How a token is stored: tokens are 192-bit random strings, so one SHA-256 suffices
    (no slow hash is needed against guessing, and a stolen database gives no token)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _disk_full(error: BaseException) -> bool:
    """Whether ``error`` (an OSError, or a database's) says the disk or a quota is full."""
    if isinstance(error, OSError) and error.errno in DISK_FULL:
        return True
    text = str(getattr(error, "orig", error)).lower()
    # SQLite: SQLITE_FULL, "database or disk is full"; PostgreSQL: 53100 disk_full
    return "disk is full" in text or "no space left" in text or "disk_full" in text


class Store:
    """The database (``url``, or SQLite under ``data``) and the submitted bytes; safe to
    share between threads, and (PostgreSQL) between servers on several machines."""

    def __init__(self, data: Path, claim: str | None = None, url: str | None = None) -> None:
        self.data = Path(data)
        self.data.mkdir(parents=True, exist_ok=True)
        self.claim = claim or uuid.uuid4().hex  # this process's claim on the jobs it runs
        self.url = url or f"sqlite:///{(self.data / DB_NAME).resolve()}"
        try:
            self.engine = _engine(self.url)
        except (sa.exc.ArgumentError, ImportError) as error:
            raise StoreError(f"cannot use the database {_redact(self.url)}: {error}") from None
        self.sqlite = self.engine.dialect.name == "sqlite"
        self._beating: threading.Thread | None = None
        self._stop = threading.Event()
        self._unreleased: set[str] = set()  # jobs whose result did not fit, to requeue
        self._view: QueueView | None = None  # queue_view's last reading
        self._view_lock = threading.Lock()
        self._known: dict[str, tuple[tuple[str, str, str], float]] = {}  # who(): hash -> found
        self._generation = 0  # counts this process's write transactions (they void the view)
        if self.sqlite:
            (self.data / BLOBS).mkdir(exist_ok=True)
        tables = [t for t in metadata.sorted_tables if not (self.sqlite and t is blobs_t)]
        try:
            with self._tx() as db:  # idempotent
                metadata.create_all(db, tables=tables, checkfirst=True)
        except sa.exc.DBAPIError as error:
            raise StoreError(
                f"cannot open the database {_redact(self.url)}: {error.orig}"
            ) from None

    # -- connections -------------------------------------------------------------------

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE, so a claim never races); a
        full disk becomes a StoreError with a sentence, the transaction rolled back."""
        try:
            with self.engine.connect() as db:
                db.execution_options(write=True)
                try:
                    with db.begin():
                        yield db
                finally:  # committed or not: the queue may have changed, read it afresh
                    self._generation += 1
                    self._view = None
        except sa.exc.DBAPIError as error:
            if _disk_full(error):
                raise StoreError(
                    f"the service's database is out of disk space ({_where(self)}); "
                    "nothing was recorded"
                ) from error
            raise

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as db:
            yield db

    def close(self) -> None:
        """Stop the heartbeat; a server that stops cleanly says so, and its unfinished
        jobs go back to the queue at once (the others need not wait for the lease). Then
        close every connection (SQLite: its write-ahead log checkpointed into the database)."""
        if self._beating is not None:
            self._stop.set()
            self._beating.join(timeout=10)
            self._beating = None
            with contextlib.suppress(StoreError, sa.exc.DBAPIError), self._tx() as db:
                db.execute(sa.delete(servers_t).where(servers_t.c.claim == self.claim))
                self._requeue(db, [self.claim])
        # dispose closes only the connections in the pool: a transaction still in flight
        # (a grading thread's claim as the service stops) returns its connection first, else
        # it stays open and SQLite keeps its write-ahead log instead of checkpointing it
        deadline = time.monotonic() + CLOSE_WAIT
        while self._checked_out() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.engine.dispose()

    def _checked_out(self) -> int:
        checkedout = getattr(self.engine.pool, "checkedout", None)  # QueuePool's count
        return int(checkedout()) if checkedout is not None else 0

    # -- students and tokens -----------------------------------------------------------

    def _upsert(self, db: Connection, table: sa.Table, conflict: str, /, **values: Any) -> None:
        insert = sqlite_insert if self.sqlite else pg_insert
        stmt = insert(table).values(**values)
        update = {k: stmt.excluded[k] for k in values if k != conflict}
        db.execute(stmt.on_conflict_do_update(index_elements=[conflict], set_=update))

    def set_token(self, name: str, role: str, hashed: str) -> None:
        self._known.clear()  # the name's old token, if remembered, is no longer theirs
        with self._tx() as db:
            self._upsert(db, students_t, "name", name=name, role=role, token_hash=hashed)

    def who(self, hashed: str) -> tuple[str, str, str] | None:
        """(name, role, stored hash) of the token whose hash is ``hashed``, or None. A
        token found is remembered for ``WHO_AGE`` seconds (every request of a polling
        client asks; only tokens on the roster are kept, so it stays small): a token
        reissued by another process stops working within that time, at once here."""
        now = time.monotonic()
        known = self._known.get(hashed)
        if known is not None and now - known[1] <= WHO_AGE:
            return known[0]
        with self._read() as db:
            row = db.execute(WHO, {"hashed": hashed}).first()
        if row is None:
            self._known.pop(hashed, None)
            return None
        found = (str(row.name), str(row.role), str(row.token_hash))
        self._known[hashed] = (found, now)
        return found

    def students(self) -> list[str]:
        s = students_t.c
        with self._read() as db:
            rows = db.execute(sa.select(s.name).where(s.role == "student").order_by(s.name))
            return [r.name for r in rows]

    def meta(self, key: str, default: str | None = None) -> str | None:
        with self._read() as db:
            value = db.execute(sa.select(meta_t.c.value).where(meta_t.c.key == key)).scalar()
        return default if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            self._upsert(db, meta_t, "key", key=key, value=value)

    # -- blobs ---------------------------------------------------------------------------

    def blob_path(self, sha256: str) -> Path:
        return self.data / BLOBS / sha256[:2] / sha256

    def put_blob(self, content: bytes) -> str:
        """SQLite: store ``content`` on disk under its SHA-256 (once), durable before the
        job that names it; a failed write leaves no partial file. PostgreSQL: nothing to
        do here (``accept`` stores the bytes with the row)."""
        digest = hashlib.sha256(content).hexdigest()
        if not self.sqlite:
            return digest
        path = self.blob_path(digest)
        if path.is_file():
            return digest
        tmp = path.with_name(f".{digest}.{uuid.uuid4().hex}.tmp")
        try:
            path.parent.mkdir(exist_ok=True)
            with open(tmp, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as error:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if error.errno in DISK_FULL:
                raise StoreError(
                    f"the service's disk is full ({path.parent}: {error.strerror}); the "
                    "submission was not stored: try again later, and tell your instructor"
                ) from None
            raise StoreError(
                f"the submission could not be stored in {path.parent} ({error.strerror or error})"
            ) from None
        return digest

    def blob(self, sha256: str) -> bytes:
        if self.sqlite:
            return self.blob_path(sha256).read_bytes()
        with self._read() as db:
            content = db.execute(
                sa.select(blobs_t.c.content).where(blobs_t.c.sha256 == sha256)
            ).scalar()
        if content is None:
            raise StoreError(f"the submission {sha256} is not in the database")
        return bytes(content)

    # -- submissions and jobs ------------------------------------------------------------

    @staticmethod
    def _check_rate(db: Connection, student: str, per_hour: int | None) -> None:
        if per_hour is None:
            return
        now = time.time()
        sub = submissions_t.c
        created = (
            db.execute(
                sa.select(sub.created)
                .where(sub.student == student, sub.created > now - 3600.0)
                .order_by(sub.created)
            )
            .scalars()
            .all()
        )
        if len(created) >= per_hour:
            retry = created[len(created) - per_hour] + 3600.0 - now
            raise RateLimitedError(
                f"{student} has submitted {len(created)} times in the last hour, the most this "
                f"service allows ({per_hour}); try again in {max(1, round(retry / 60))} minutes.",
                max(1.0, retry),
            )

    def accept(
        self, student: str, filename: str, kind: str, content: bytes, per_hour: int | None = None
    ) -> str:
        """Store the bytes, then the submission and its queued job in one transaction;
        returns the job's id (unguessable: it is also what a link to the job names).
        ``per_hour``: the student's rate limit (RateLimitedError, before the bytes are stored)."""
        with self._read() as db:
            self._check_rate(db, student, per_hour)
        digest = self.put_blob(content)
        job_id = uuid.uuid4().hex
        now = time.time()
        with self._tx() as db:
            # the student's row locked (PostgreSQL; SQLite's writer lock is held already),
            # so that the rate limit, counted again in here, cannot be raced past
            db.execute(
                sa.select(students_t.c.name).where(students_t.c.name == student).with_for_update()
            )
            self._check_rate(db, student, per_hour)
            if not self.sqlite:
                db.execute(
                    pg_insert(blobs_t)
                    .values(sha256=digest, content=content)
                    .on_conflict_do_nothing(index_elements=["sha256"])
                )
            submission_id = db.execute(
                sa.insert(submissions_t)
                .values(
                    student=student,
                    filename=filename,
                    kind=kind,
                    sha256=digest,
                    size=len(content),
                    created=now,
                )
                .returning(submissions_t.c.id)
            ).scalar_one()
            db.execute(
                sa.insert(jobs_t).values(
                    id=job_id,
                    submission_id=submission_id,
                    student=student,
                    state="queued",
                    created=now,
                )
            )
        return job_id

    def recover(self) -> int:
        """Return to the queue every job claimed by a server process that is gone (it
        died, or stopped, before recording a result), and from now on keep this process's
        heartbeat and do the same every ``LEASE / 4`` seconds; run once, at a server's
        start. Returns how many jobs were requeued now.

        A claim is a live server's while its heartbeat is younger than ``LEASE``, unless
        that server ran on this machine and its process is gone (a ``kill -9`` and a
        restart: its jobs return at once). With several servers on one PostgreSQL, one
        server's start or death so never takes another's running jobs."""
        recovered = self._beat()
        if self._beating is None:
            self._stop.clear()
            self._beating = threading.Thread(target=self._heartbeats, daemon=True)
            self._beating.start()
        return recovered

    def _heartbeats(self) -> None:
        while not self._stop.wait(LEASE / 4):
            with contextlib.suppress(Exception):  # a database away for a while: next time
                self._beat()
                self.requeue_unrecorded()

    def _beat(self) -> int:
        """Record this server's heartbeat; requeue the jobs of servers that are gone."""
        v = servers_t.c
        now = time.time()
        host = socket.gethostname()
        with self._tx() as db:
            self._upsert(
                db, servers_t, "claim", claim=self.claim, host=host, pid=os.getpid(), seen=now
            )
            live = [
                row.claim
                for row in db.execute(sa.select(v.claim, v.host, v.pid).where(v.seen > now - LEASE))
                if row.host != host or _process_alive(row.pid)
            ]
            db.execute(sa.delete(servers_t).where(v.claim.not_in([*live, self.claim])))
            j = jobs_t.c
            gone = (
                sa.select(j.claim)
                .where(
                    j.state == "running",
                    sa.or_(j.claim.is_(None), j.claim.not_in([*live, self.claim])),
                )
                .distinct()
            )
            return self._requeue(db, [c for c in db.execute(gone).scalars()])

    @staticmethod
    def _requeue(db: Connection, claims: list[str | None]) -> int:
        j = jobs_t.c
        named = [c for c in claims if c is not None]
        where = sa.or_(j.claim.in_(named), j.claim.is_(None) if None in claims else sa.false())
        cursor = db.execute(
            sa.update(jobs_t)
            .where(j.state == "running", where)
            .values(state="queued", claim=None, started=None)
        )
        return int(cursor.rowcount)

    def claim_next(self) -> Job | None:
        """Take the fair queue's next job for this process (module doc), or None."""
        j, s = jobs_t.c, students_t.c
        r = jobs_t.alias("r")
        nxt = (
            sa.select(j.id, j.student)
            .join_from(jobs_t, students_t, s.name == j.student)
            .where(
                j.state == "queued",
                ~sa.exists().where(r.c.student == j.student, r.c.state == "running"),
            )
            .order_by(s.last_served, j.created, j.submission_id)
            .limit(1)
            .with_for_update(of=[students_t, jobs_t], skip_locked=True)
        )
        for _ in range(5):  # another server took this student meanwhile: look again
            try:
                taken = self._claim(nxt)
            except sa.exc.IntegrityError:  # the unique index refused a second running job
                continue
            if taken is None:
                return None
            if not isinstance(taken, str):
                continue
            job = self.job(taken)
            assert job is not None
            return job
        return None

    def _claim(self, nxt: sa.Select[Any]) -> str | Literal[False] | None:
        """One try at claiming: the job's id, None when the queue has nothing for this
        process, False when the chosen student turned out to be busy."""
        j, s = jobs_t.c, students_t.c
        with self._tx() as db:
            row = db.execute(nxt).first()
            if row is None:
                return None
            # under READ COMMITTED a fresh statement sees a job another server started
            # for this student after our query's snapshot; we hold the student's row now
            busy = db.execute(
                sa.select(j.id).where(j.student == row.student, j.state == "running")
            ).first()
            if busy is not None:
                return False
            counter = db.execute(sa.select(sa.func.max(s.last_served) + 1)).scalar_one()
            db.execute(
                sa.update(jobs_t)
                .where(j.id == row.id)
                .values(
                    state="running", claim=self.claim, attempts=j.attempts + 1, started=time.time()
                )
            )
            db.execute(
                sa.update(students_t).where(s.name == row.student).values(last_served=counter)
            )
            return str(row.id)

    def finish(
        self, job_id: str, outcome: str, result_json: str, points: float | None, seconds: float
    ) -> bool:
        """Record the job's result, once: only while this process's claim holds it.
        Returns False (and records nothing) when it does not. A result that cannot be
        written (a full disk) is a StoreError; the job is then returned to the queue
        when the database still takes that small write (else at the next start)."""
        j = jobs_t.c
        try:
            with self._tx() as db:
                cursor = db.execute(
                    sa.update(jobs_t)
                    .where(j.id == job_id, j.state == "running", j.claim == self.claim)
                    .values(state="done", finished=time.time(), claim=None)
                )
                if cursor.rowcount != 1:
                    return False
                db.execute(
                    sa.insert(results_t).values(
                        job_id=job_id,
                        outcome=outcome,
                        result=result_json,
                        points=points,
                        seconds=seconds,
                    )
                )
        except StoreError:
            try:
                self.release(job_id)
            except (StoreError, sa.exc.DBAPIError):
                self._unreleased.add(job_id)  # the heartbeat tries again (the disk is full)
            raise
        return True

    def requeue_unrecorded(self) -> int:
        """Return to the queue the jobs whose result could not be recorded and which
        could not be returned then either (a full disk); the heartbeat calls it."""
        done = 0
        for job_id in sorted(self._unreleased):
            self.release(job_id)
            self._unreleased.discard(job_id)
            done += 1
        return done

    def release(self, job_id: str) -> bool:
        """Return a job this process claimed to the queue, unfinished."""
        j = jobs_t.c
        with self._tx() as db:
            cursor = db.execute(
                sa.update(jobs_t)
                .where(j.id == job_id, j.state == "running", j.claim == self.claim)
                .values(state="queued", claim=None, started=None)
            )
            return int(cursor.rowcount) == 1

    # -- reading -------------------------------------------------------------------------

    @staticmethod
    @functools.cache  # built once: a status request runs it (SQLAlchemy caches the SQL too)
    def _job_query() -> sa.Select[Any]:
        j, sub, r = jobs_t.c, submissions_t.c, results_t.c
        return sa.select(
            j.id,
            j.student,
            j.state,
            sub.filename,
            sub.kind,
            sub.sha256,
            sub.size,
            j.attempts,
            j.created,
            j.started,
            j.finished,
            r.outcome,
            r.points,
            r.seconds,
        ).select_from(
            jobs_t.join(submissions_t, sub.id == j.submission_id).outerjoin(
                results_t, r.job_id == j.id
            )
        )

    @staticmethod
    @functools.cache
    def _one_job() -> sa.Select[Any]:
        return Store._job_query().where(jobs_t.c.id == sa.bindparam("job_id"))

    @staticmethod
    def _job(row: sa.Row[Any]) -> Job:
        return Job(**row._asdict())

    def job(self, job_id: str) -> Job | None:
        one = self._one_job()
        with self._read() as db:
            row = db.execute(one, {"job_id": job_id}).first()
        return None if row is None else self._job(row)

    def jobs(self, student: str | None = None, limit: int = 1000) -> list[Job]:
        """Newest first; one student's, or everyone's."""
        j = jobs_t.c
        query = self._job_query().order_by(j.created.desc(), j.submission_id.desc()).limit(limit)
        if student:
            query = query.where(j.student == student)
        with self._read() as db:
            return [self._job(r) for r in db.execute(query)]

    def result(self, job_id: str) -> str | None:
        with self._read() as db:
            text = db.execute(
                sa.select(results_t.c.result).where(results_t.c.job_id == job_id)
            ).scalar()
        return None if text is None else str(text)

    @staticmethod
    def _latest(*columns: Any) -> sa.Select[Any]:
        """``columns`` of each student's latest finished job that has a result."""
        j, r = jobs_t.c, results_t.c
        k = jobs_t.alias("k")
        latest = (
            sa.select(sa.func.max(k.c.finished))
            .where(k.c.student == j.student, k.c.state == "done")
            .scalar_subquery()
        )
        return (
            sa.select(*columns)
            .join_from(jobs_t, results_t, r.job_id == j.id)
            .where(j.finished == latest)
        )

    def latest_results(self) -> dict[str, tuple[str, str]]:
        """Per student, the job id and result JSON of their latest finished job."""
        j, r = jobs_t.c, results_t.c
        query = self._latest(j.student, j.id, r.result).order_by(j.student)
        with self._read() as db:
            return {row.student: (row.id, row.result) for row in db.execute(query)}

    def graded_count(self) -> int:
        """How many students latest_results holds, without reading their results."""
        inner = self._latest(jobs_t.c.student).subquery()
        count = sa.select(sa.func.count(sa.distinct(inner.c.student)))  # a tie counts once
        with self._read() as db:
            return int(db.execute(count).scalar() or 0)

    def counts(self) -> dict[str, int]:
        j = jobs_t.c
        with self._read() as db:
            rows = db.execute(sa.select(j.state, sa.func.count()).group_by(j.state)).all()
        return {"queued": 0, "running": 0, "done": 0, **{state: int(n) for state, n in rows}}

    def position(self, job_id: str) -> int | None:
        """Where a queued job stands now: 1 is next; None once it left the queue."""
        with self._read() as db:
            return _positions(db).get(job_id)

    def queue_view(self, max_age: float = VIEW_AGE) -> QueueView:
        """Every queued job's position and the recent grading time, as of at most
        ``max_age`` seconds ago: what a status answer needs, read once for every client
        polling in that time instead of three queries per request. A write by this
        process (an upload, a claim, a result) makes the next call read afresh; another
        server's writes show within ``max_age``."""
        with self._view_lock:  # one thread reads; those arriving meanwhile use its view
            view = self._view
            if view is not None and time.monotonic() - view.taken <= max_age:
                return view
            generation = self._generation
            r, j = results_t.c, jobs_t.c
            with self._read() as db:
                positions = _positions(db)
                recent = (
                    db.execute(
                        sa.select(r.seconds)
                        .join_from(results_t, jobs_t, j.id == r.job_id)
                        .where(r.outcome != "failed")  # a timeout's or a death's time is no guide
                        .order_by(j.finished.desc())
                        .limit(RECENT)
                    )
                    .scalars()
                    .all()
                )
            seconds = statistics.median(recent) if recent else None
            view = QueueView(positions, seconds, time.monotonic())
            if generation == self._generation:  # no write of ours landed while reading
                self._view = view
            return view

    def describe(self) -> dict[str, Any]:
        return {
            "data": str(self.data),
            "db": _redact(self.url),
            "claim": self.claim,
            **self.counts(),
        }


def _positions(db: Connection) -> dict[str, int]:
    """Every queued job's place in the fair queue (1 is next), from one query.

    claim_next serves the student served least recently (then whose oldest queued job is
    oldest) among those with a queued job, one job a turn. So a student's k-th queued job
    (from 0) comes after their first k, after the first k of every other student, and
    after one more of each student due before theirs who still has one by then: with
    ``f(k)`` the sum over all students of min(their queued jobs, k), and ``i`` the number
    of students due first with more than k queued, it is at ``f(k) + i + 1``."""
    j, s = jobs_t.c, students_t.c
    rows = db.execute(
        sa.select(j.id, j.student, j.created, s.last_served)
        .join_from(jobs_t, students_t, s.name == j.student)
        .where(j.state == "queued")
        .order_by(j.student, j.created, j.submission_id)
    ).all()
    queues: dict[str, list[str]] = {}
    due: dict[str, tuple[int, float]] = {}
    for row in rows:
        queues.setdefault(row.student, []).append(row.id)
        due.setdefault(row.student, (int(row.last_served), float(row.created)))  # its oldest
    positions: dict[str, int] = {}
    f = 0  # sum over students of min(queued, k)
    active = sorted(queues, key=due.__getitem__)  # the students with more than k queued
    k = 0
    while active:
        keys = [due[name] for name in active]
        for name in active:
            # students due strictly first (ties: neither is due before the other)
            i = bisect.bisect_left(keys, due[name])
            positions[queues[name][k]] = f + i + 1
        f += len(active)
        k += 1
        active = [name for name in active if len(queues[name]) > k]
    return positions


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's: alive
    return True


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(an unreadable database URL)"


def _where(store: Store) -> str:
    return str(store.data / DB_NAME) if store.sqlite else _redact(store.url)


def _engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        # pre_ping: a server restarted under a long-running service is reconnected to
        return sa.create_engine(url, pool_pre_ping=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30.0, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi: Any, _record: Any) -> None:
        dbapi.isolation_level = None  # the transactions are ours (BEGIN below), not the driver's
        cursor = dbapi.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a committed job survives a power cut too
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # a write takes the writer lock at once, so two claims never interleave; a read
        # takes none (WAL readers see the last commit and do not wait)
        conn.exec_driver_sql(
            "BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN"
        )

    return engine
