"""The service's durable state: one SQLite database (WAL mode) and a blob folder.

    <data>/service.db           students (token hashes), submissions, jobs, results
    <data>/blobs/ab/abcdef...   each submitted file once, named by its SHA-256

A job moves ``queued -> running -> done``. Every step is one transaction, so a
server killed at any point (SIGKILL included) leaves each job in exactly one of
those states. A running job carries a *claim*: the id of the server process
that took it. A server starting on the store first returns every job claimed by
an earlier process to the queue (``recover``), and a result is recorded only by
the claim's owner while the job still runs (``finish``), in the same
transaction that marks it done: a job ends with exactly one result, none lost.

The queue is fair: the next job goes to the student served least recently among
those with a queued job and none running (round-robin per student), oldest job
first; a student has at most one running job.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

JobState = Literal["queued", "running", "done"]
DB_NAME = "service.db"
BLOBS = "blobs"
MAX_ATTEMPTS = 3  # a job whose grading was cut off this often by a server's death is failed

SCHEMA = """
CREATE TABLE IF NOT EXISTS students (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('student', 'instructor')),
    token_hash  TEXT NOT NULL UNIQUE,
    last_served INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS submissions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    student    TEXT NOT NULL REFERENCES students(name),
    filename   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id            TEXT PRIMARY KEY,
    submission_id INTEGER NOT NULL UNIQUE REFERENCES submissions(id),
    student       TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done')),
    claim         TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    created       REAL NOT NULL,
    started       REAL,
    finished      REAL
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, student);
CREATE TABLE IF NOT EXISTS results (
    job_id   TEXT PRIMARY KEY REFERENCES jobs(id),
    outcome  TEXT NOT NULL,
    result   TEXT NOT NULL,
    points   REAL,
    seconds  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


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


def token_hash(token: str) -> str:
    """How a token is stored: tokens are 192-bit random strings, so one SHA-256 suffices
    (no slow hash is needed against guessing, and a stolen database gives no token)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Store:
    """The database and blob folder under ``data``; safe to share between threads."""

    def __init__(self, data: Path, claim: str | None = None) -> None:
        self.data = Path(data)
        self.data.mkdir(parents=True, exist_ok=True)
        (self.data / BLOBS).mkdir(exist_ok=True)
        self.claim = claim or uuid.uuid4().hex  # this process's claim on the jobs it runs
        self._local = threading.local()
        self._db().executescript(SCHEMA)  # idempotent; executescript commits by itself

    # -- connections -------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.data / DB_NAME, timeout=30.0, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # a committed job survives a power cut too
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE), so a claim never races."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- students and tokens -----------------------------------------------------------

    def set_token(self, name: str, role: str, hashed: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO students(name, role, token_hash) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET role=excluded.role, token_hash=excluded.token_hash",
                (name, role, hashed),
            )

    def who(self, hashed: str) -> tuple[str, str, str] | None:
        """(name, role, stored hash) of the token whose hash is ``hashed``, or None."""
        row = (
            self._db()
            .execute("SELECT name, role, token_hash FROM students WHERE token_hash = ?", (hashed,))
            .fetchone()
        )
        return None if row is None else (row["name"], row["role"], row["token_hash"])

    def students(self) -> list[str]:
        rows = (
            self._db()
            .execute("SELECT name FROM students WHERE role = 'student' ORDER BY name")
            .fetchall()
        )
        return [r["name"] for r in rows]

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self._db().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    # -- blobs ---------------------------------------------------------------------------

    def blob_path(self, sha256: str) -> Path:
        return self.data / BLOBS / sha256[:2] / sha256

    def put_blob(self, content: bytes) -> str:
        """Store ``content`` under its SHA-256 (once); durable before the job that names it."""
        digest = hashlib.sha256(content).hexdigest()
        path = self.blob_path(digest)
        if path.is_file():
            return digest
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(f".{digest}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as error:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StoreError(
                f"the submission could not be stored in {path.parent} ({error.strerror or error})"
            ) from None
        return digest

    def blob(self, sha256: str) -> bytes:
        return self.blob_path(sha256).read_bytes()

    # -- submissions and jobs ------------------------------------------------------------

    def _check_rate(self, db: sqlite3.Connection, student: str, per_hour: int | None) -> None:
        if per_hour is None:
            return
        now = time.time()
        rows = db.execute(
            "SELECT created FROM submissions WHERE student = ? AND created > ? ORDER BY created",
            (student, now - 3600.0),
        ).fetchall()
        if len(rows) >= per_hour:
            retry = rows[len(rows) - per_hour]["created"] + 3600.0 - now
            raise RateLimitedError(
                f"{student} has submitted {len(rows)} times in the last hour, the most this "
                f"service allows ({per_hour}); try again in {max(1, round(retry / 60))} minutes.",
                max(1.0, retry),
            )

    def accept(
        self, student: str, filename: str, kind: str, content: bytes, per_hour: int | None = None
    ) -> str:
        """Store the bytes, then the submission and its queued job in one transaction;
        returns the job's id (unguessable: it is also what a link to the job names).
        ``per_hour``: the student's rate limit (RateLimitedError, before the bytes are stored)."""
        self._check_rate(self._db(), student, per_hour)
        digest = self.put_blob(content)
        job_id = uuid.uuid4().hex
        now = time.time()
        with self._tx() as db:
            self._check_rate(db, student, per_hour)  # again, inside the transaction: no race
            cursor = db.execute(
                "INSERT INTO submissions(student, filename, kind, sha256, size, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (student, filename, kind, digest, len(content), now),
            )
            db.execute(
                "INSERT INTO jobs(id, submission_id, student, state, created) "
                "VALUES (?, ?, ?, 'queued', ?)",
                (job_id, cursor.lastrowid, student, now),
            )
        return job_id

    def recover(self) -> int:
        """Return every job an earlier server process claimed to the queue (it died, or
        stopped, before recording a result); run once at start. Returns how many."""
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE jobs SET state = 'queued', claim = NULL, started = NULL "
                "WHERE state = 'running' AND claim IS NOT ?",
                (self.claim,),
            )
            return cursor.rowcount

    def claim_next(self) -> Job | None:
        """Take the fair queue's next job for this process (module doc), or None."""
        with self._tx() as db:
            row = db.execute(
                """
                SELECT j.id FROM jobs j JOIN students s ON s.name = j.student
                WHERE j.state = 'queued' AND NOT EXISTS (
                    SELECT 1 FROM jobs r WHERE r.student = j.student AND r.state = 'running')
                ORDER BY s.last_served, j.created, j.rowid LIMIT 1
                """
            ).fetchone()
            if row is None:
                return None
            counter = db.execute("SELECT MAX(last_served) + 1 FROM students").fetchone()[0]
            db.execute(
                "UPDATE jobs SET state = 'running', claim = ?, attempts = attempts + 1, "
                "started = ? WHERE id = ?",
                (self.claim, time.time(), row["id"]),
            )
            db.execute(
                "UPDATE students SET last_served = ? "
                "WHERE name = (SELECT student FROM jobs WHERE id = ?)",
                (counter, row["id"]),
            )
        job = self.job(row["id"])
        assert job is not None
        return job

    def finish(
        self, job_id: str, outcome: str, result_json: str, points: float | None, seconds: float
    ) -> bool:
        """Record the job's result, once: only while this process's claim holds it.
        Returns False (and records nothing) when it does not."""
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE jobs SET state = 'done', finished = ?, claim = NULL "
                "WHERE id = ? AND state = 'running' AND claim = ?",
                (time.time(), job_id, self.claim),
            )
            if cursor.rowcount != 1:
                return False
            db.execute(
                "INSERT INTO results(job_id, outcome, result, points, seconds) VALUES (?, ?, ?, ?, ?)",
                (job_id, outcome, result_json, points, seconds),
            )
        return True

    # -- reading -------------------------------------------------------------------------

    _JOB_COLUMNS = """
        j.id, j.student, j.state, s.filename, s.kind, s.sha256, s.size, j.attempts,
        j.created, j.started, j.finished, r.outcome, r.points, r.seconds
        FROM jobs j JOIN submissions s ON s.id = j.submission_id
        LEFT JOIN results r ON r.job_id = j.id
    """

    @staticmethod
    def _job(row: sqlite3.Row) -> Job:
        return Job(**{k: row[k] for k in row.keys()})  # noqa: SIM118 (sqlite3.Row)

    def job(self, job_id: str) -> Job | None:
        row = self._db().execute(f"SELECT {self._JOB_COLUMNS} WHERE j.id = ?", (job_id,)).fetchone()
        return None if row is None else self._job(row)

    def jobs(self, student: str | None = None, limit: int = 1000) -> list[Job]:
        """Newest first; one student's, or everyone's."""
        where, args = ("WHERE j.student = ?", (student,)) if student else ("", ())
        rows = (
            self._db()
            .execute(
                f"SELECT {self._JOB_COLUMNS} {where} ORDER BY j.created DESC, j.rowid DESC LIMIT ?",
                (*args, limit),
            )
            .fetchall()
        )
        return [self._job(r) for r in rows]

    def result(self, job_id: str) -> str | None:
        row = (
            self._db().execute("SELECT result FROM results WHERE job_id = ?", (job_id,)).fetchone()
        )
        return None if row is None else str(row["result"])

    def latest_results(self) -> dict[str, tuple[str, str]]:
        """Per student, the job id and result JSON of their latest finished job."""
        rows = (
            self._db()
            .execute(
                """
            SELECT j.student, j.id, r.result FROM jobs j JOIN results r ON r.job_id = j.id
            WHERE j.finished = (SELECT MAX(k.finished) FROM jobs k
                                WHERE k.student = j.student AND k.state = 'done')
            ORDER BY j.student
            """
            )
            .fetchall()
        )
        return {r["student"]: (r["id"], r["result"]) for r in rows}

    def counts(self) -> dict[str, int]:
        rows = self._db().execute("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").fetchall()
        return {"queued": 0, "running": 0, "done": 0, **{r["state"]: r["n"] for r in rows}}

    def position(self, job_id: str) -> int | None:
        """Where a queued job stands: 1 is next. Under round-robin, a job that is its
        student's k-th queued one (from 0) comes after the first k (k+1 for students due
        before its own) queued jobs of every other student. None once it left the queue."""
        db = self._db()
        me = db.execute(
            "SELECT j.student, j.created, j.rowid AS r, s.last_served FROM jobs j "
            "JOIN students s ON s.name = j.student WHERE j.id = ? AND j.state = 'queued'",
            (job_id,),
        ).fetchone()
        if me is None:
            return None
        k = db.execute(
            "SELECT COUNT(*) FROM jobs WHERE student = ? AND state = 'queued' "
            "AND (created < ? OR (created = ? AND rowid < ?))",
            (me["student"], me["created"], me["created"], me["r"]),
        ).fetchone()[0]
        queued = db.execute(
            "SELECT s.name, s.last_served, COUNT(*) AS n, MIN(j.created) AS oldest FROM jobs j "
            "JOIN students s ON s.name = j.student WHERE j.state = 'queued' GROUP BY s.name"
        ).fetchall()
        # claim_next's order: least recently served, then whose oldest job is oldest
        order = {q["name"]: (q["last_served"], q["oldest"]) for q in queued}
        ahead = k
        for other in queued:
            if other["name"] == me["student"]:
                continue
            due_first = order[other["name"]] < order[me["student"]]
            ahead += min(other["n"], k + (1 if due_first else 0))
        return int(ahead) + 1

    def describe(self) -> dict[str, Any]:
        return {"data": str(self.data), "claim": self.claim, **self.counts()}
