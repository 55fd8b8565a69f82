"""The hosted grading service under load, against the batch on the same machine (issue 13).

    PYTHONPATH=. python bench/bench_serve.py                        (50 clients, 500 notebooks)
    PYTHONPATH=. python bench/bench_serve.py --clients 50 --notebooks 500 --within 0   (a burst)
    PYTHONPATH=. python bench/bench_serve.py --polling both   (clients polling every second,
                            then after Retry-After: the server's CPU and requests, as ratios)

1. A class in a temporary folder: a roster of ``--clients`` students, their tokens issued by
   ``grader serve tokens``, and ``--notebooks`` submissions, a mix read from the samples'
   expected outcomes: 60 % the correct samples graded with rubrics/mlp_backprop.toml
   (submissions/buggy/expected.toml's controls), 25 % its buggy samples, 15 % hostile ones
   (submissions/hostile/expected.toml, those bounded by 15 s: the attacks that do not play
   for the probes' time limits, which cost those limits alike in the service and the batch).
   Each submission is made distinct (a markdown cell, or a comment line, with its index) so
   that no cache can short-cut it. Submission i is student i % clients's.
2. The service: the real ``grader serve`` (uvicorn in a subprocess of its own) on a loopback
   port, with ``--workers`` grading threads. One thread per client (the standard library's
   http.client, a kept-alive connection each) submits its notebooks over the HTTP API, paced
   so that the whole class has submitted after ``--within`` seconds (0: all at once), and
   follows each of its jobs (``GET /api/jobs/<id>``, again after the answer's
   ``Retry-After``, or every ``--poll`` seconds with ``--polling fixed`` or without one)
   until it is done, then fetches its report (``report.json``). Printed: submissions accepted per second,
   graded per second (first upload to last result), and the 50th/95th percentile time from
   the start of an upload to its report in the client's hands (which includes up to one poll
   interval), with the same from the server's own clock (accepted to recorded).
3. Nothing lost, nothing twice: read from the service's database once it has stopped, every
   accepted job is done with exactly one result, no result is of a job no client was given,
   and every client received each of its reports once.
4. The batch: ``grader grade`` on the same files (same bytes, same rubric, same worker
   count), timed from its start to its exit; its submissions per second and the ratio. The
   batch does more per submission (HTML and Markdown reports, the gradebook and class page);
   the service renders a report only when one is asked for. Each job's score is compared
   with the batch's result for the same bytes.

Standard library only in this process (the service and the batch run as subprocesses, and
need the grader's ``serve`` extra). This is not a test; nothing here asserts: the figures
and the checks are printed, and the exit status is 1 when a check fails.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = ROOT / "rubrics" / "mlp_backprop.toml"
SUBMISSIONS = ROOT / "submissions"
SHARES = {"correct": 0.60, "buggy": 0.25, "hostile": 0.15}
HOSTILE_MAX_SECONDS = 15.0  # hostile samples bounded by this: no time-limit attacks
DEFAULT_PER_HOUR = 30  # grader serve's default rate limit
IDLE_REOPEN = 4.0  # s: uvicorn closes a kept-alive connection idle for 5 s


# -- the class ------------------------------------------------------------------------------


def samples() -> dict[str, list[Path]]:
    """The samples of each kind graded with rubrics/mlp_backprop.toml, from their expected
    outcomes (so a new sample joins the mix without an edit here)."""
    buggy_toml = tomllib.loads((SUBMISSIONS / "buggy" / "expected.toml").read_text("utf-8"))
    hostile_toml = tomllib.loads((SUBMISSIONS / "hostile" / "expected.toml").read_text("utf-8"))
    rubric = str(RUBRIC.relative_to(ROOT))
    buggy_dir = SUBMISSIONS / "buggy"
    correct = [
        (buggy_dir / c["file"]).resolve()
        for c in buggy_toml["controls"].values()
        if rubric in c["rubrics"]
    ]
    buggy = [  # a mistake no sample can express has no file
        buggy_dir / b["file"]
        for b in buggy_toml["buggy"].values()
        if b["rubric"] == rubric and b["file"]
    ]
    hostile = [
        SUBMISSIONS / "hostile" / h["file"]
        for h in hostile_toml.values()
        if isinstance(h, dict) and h.get("max_seconds", math.inf) <= HOSTILE_MAX_SECONDS
    ]
    found = {"correct": sorted(correct), "buggy": sorted(buggy), "hostile": sorted(hostile)}
    for kind, paths in found.items():
        if not paths or not all(p.is_file() for p in paths):
            raise SystemExit(f"bench_serve: the {kind} samples are missing: {paths}")
    return found


@dataclass(frozen=True)
class Submission:
    index: int
    student: str
    kind: str  # correct | buggy | hostile
    sample: str  # the sample's file name
    filename: str  # as uploaded, and as the batch's file (its stem: the batch's identity)
    content: bytes


def distinct(path: Path, index: int) -> bytes:
    """The sample's bytes with a harmless addition naming ``index``: no two share a hash."""
    if path.suffix == ".ipynb":
        notebook = json.loads(path.read_text("utf-8"))
        notebook["cells"].append(
            {"cell_type": "markdown", "metadata": {}, "source": f"Submission {index}."}
        )
        return json.dumps(notebook, indent=1).encode()
    return path.read_bytes() + f"\n# submission {index}\n".encode()


def make_class(clients: int, notebooks: int) -> list[Submission]:
    """``notebooks`` submissions of ``clients`` students; the kinds interleaved in their
    shares (each next one is the kind furthest behind its share), so a small run has all."""
    found = samples()
    counts = dict.fromkeys(SHARES, 0)
    out = []
    for i in range(notebooks):
        kind = max(SHARES, key=lambda k: SHARES[k] * (i + 1) - counts[k])
        path = found[kind][counts[kind] % len(found[kind])]
        counts[kind] += 1
        student = f"s{i % clients:03d}"
        name = f"{student}_{i // clients:03d}{path.suffix}"
        out.append(Submission(i, student, kind, path.name, name, distinct(path, i)))
    return out


# -- the service ------------------------------------------------------------------------------


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def issue_tokens(work: Path, data: Path, students: list[str]) -> dict[str, str]:
    roster = work / "roster.csv"
    roster.write_text("student\n" + "".join(f"{s}\n" for s in students))
    out = work / "tokens.csv"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "serve",
            "tokens",
            str(roster),
            "--data",
            str(data),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=env(),
        check=True,
        capture_output=True,
    )
    with open(out, newline="") as handle:
        return {row["student"]: row["token"] for row in csv.DictReader(handle)}


@dataclass
class Server:
    """``grader serve`` in a subprocess of its own, on a loopback port."""

    data: Path
    args: list[str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.data.parent / "server.log"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "grader",
                    "serve",
                    "--rubric",
                    str(RUBRIC),
                    "--data",
                    str(self.data),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    *self.args,
                ],
                cwd=ROOT,
                env=env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"bench_serve: the server stopped:\n{self.log.read_text()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"bench_serve: no answer in 90 s:\n{self.log.read_text()}")

    def cpu_seconds(self) -> float:
        """The server process's own CPU time (HTTP, database, runner threads; not the
        grading processes it started): Linux's /proc, else nan."""
        try:
            assert self.proc is not None
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError, AssertionError):
            return math.nan

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class Http:
    """One client's kept-alive connection (reopened after an error)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}"}
        self.conn: http.client.HTTPConnection | None = None
        self.requests = 0  # answered
        self.retry_after: float | None = None  # the last answer's Retry-After, seconds
        self.used = 0.0  # time.monotonic() of the last answer

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        tries = 1 if method == "POST" else 3  # a resent upload could be accepted twice
        if self.conn is not None and time.monotonic() - self.used > IDLE_REOPEN:
            self.conn.close()  # the server may be closing it: a POST would not be resent
            self.conn = None
        for attempt in range(tries):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                self.conn.request(method, path, body or None, {**self.headers, **(headers or {})})
                answer = self.conn.getresponse()
                self.requests += 1
                self.used = time.monotonic()
                wait = answer.getheader("Retry-After")
                self.retry_after = float(wait) if wait and wait.isdigit() else None
                return answer.status, answer.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == tries - 1:
                    raise
                time.sleep(0.2)
        raise AssertionError("unreachable")

    def submit(self, filename: str, content: bytes) -> tuple[int, dict[str, Any]]:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
                "\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        kind = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        status, raw = self.request("POST", "/api/submissions", body, kind)
        return status, json.loads(raw or b"{}")

    def get_json(self, path: str) -> tuple[int, dict[str, Any]]:
        status, raw = self.request("GET", path)
        return status, json.loads(raw or b"{}")


@dataclass
class Sent:
    submission: Submission
    start: float  # time.time() as the upload began
    answered: float  # ... and as its answer came
    status: int
    job: str | None = None
    refusal: str = ""
    report: float | None = None  # as its report arrived
    reports: int = 0  # how many reports this client received for the job


def client(
    port: int,
    token: str,
    mine: list[tuple[float, Submission]],
    poll: float,
    deadline: float,
    sent: list[Sent],
    lock: threading.Lock,
    requests: list[int] | None = None,
    honour_retry: bool = True,
) -> None:
    """Submit ``mine`` (each at its time.time()), and follow the jobs to their reports.
    A student's jobs are graded in the order sent (the fair queue), so the oldest pending
    one is the one to ask about: after the status's ``Retry-After`` (``honour_retry``;
    ``poll`` when it has none), else every ``poll`` seconds."""
    http_ = Http(port, token)
    todo = sorted(mine, key=lambda m: m[0])
    pending: list[Sent] = []
    next_poll = 0.0
    while (todo or pending) and time.time() < deadline:
        now = time.time()
        if todo and now >= todo[0][0]:
            submission = todo.pop(0)[1]
            try:
                status, answer = http_.submit(submission.filename, submission.content)
            except (OSError, http.client.HTTPException, ValueError) as error:
                status, answer = 0, {"detail": f"{type(error).__name__}: {error}"}
            one = Sent(submission, now, time.time(), status)
            if status == 202:
                one.job = answer["job"]
                pending.append(one)
                if len(pending) == 1 and honour_retry and http_.retry_after is not None:
                    next_poll = time.time() + http_.retry_after  # the first ask, as told
            else:
                one.refusal = str(answer.get("detail", answer))[:200]
            with lock:
                sent.append(one)
            continue
        if pending and now >= next_poll:
            head = pending[0]
            _, state = http_.get_json(f"/api/jobs/{head.job}")
            if state.get("state") == "done":
                status, _ = http_.request("GET", f"/api/jobs/{head.job}/report.json")
                if status == 200:
                    head.report = time.time()
                    head.reports += 1
                pending.pop(0)
                continue  # the next may be done already
            wait = http_.retry_after if honour_retry else None
            next_poll = now + (poll if wait is None else wait)
        wake = [next_poll] if pending else []
        wake += [todo[0][0]] if todo else []
        time.sleep(max(0.0, min(wake, default=now + poll) - time.time()))
    if requests is not None:
        with lock:
            requests.append(http_.requests)


# -- the batch ------------------------------------------------------------------------------


def run_batch(folder: Path, out: Path, workers: int, timeout: float) -> float:
    """``grader grade`` on ``folder``; its wall time in seconds."""
    start = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "grade",
            str(folder),
            "--rubric",
            str(RUBRIC),
            "--out",
            str(out),
            "--workers",
            str(workers),
            "--timeout",
            f"{timeout:g}",
            "--no-progress",
        ],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - start
    if done.returncode not in (0, 1):  # 1: some submission failed its checks
        raise SystemExit(f"bench_serve: grader grade failed ({done.returncode}):\n{done.stderr}")
    return seconds


def batch_scores(out: Path, submissions: list[Submission]) -> dict[int, tuple[str, Any]]:
    scores = {}
    for s in submissions:
        result = json.loads((out / "results" / f"{Path(s.filename).stem}.json").read_text())
        scores[s.index] = (result["status"], (result.get("score") or {}).get("points"))
    return scores


# -- the run --------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank), or nan for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Figures:
    clients: int
    notebooks: int
    workers: int
    per_hour: int
    within: float
    kinds: dict[str, int]
    accepted: int
    refused: list[str]
    accept_seconds: float  # first upload's start to last acceptance
    graded_seconds: float  # first upload's start to the last result recorded
    client_latency: list[float]  # upload's start to report in hand, per job
    server_latency: list[float]  # accepted to recorded, the server's clock
    grading_seconds: list[float]  # the runner's time per job
    slowest: list[str]  # the slowest jobs' samples and grading seconds
    server_cpu: float  # the server process's own CPU seconds (not its grading processes)
    requests: int  # HTTP requests the clients had answered (submit, status, report)
    batch_seconds: float
    problems: list[str]  # the checks that failed: empty when every job ended once
    score_mismatches: list[str]
    scores: dict[str, tuple[tuple[str, Any], tuple[str, Any]]]  # file: (service, batch)
    outcomes: dict[str, int]
    attempts: dict[int, int]
    load: dict[str, str]
    batch_first: bool = False
    honour_retry: bool = True

    @property
    def accepted_per_s(self) -> float:
        return self.accepted / self.accept_seconds if self.accept_seconds else math.nan

    @property
    def graded_per_s(self) -> float:
        return self.accepted / self.graded_seconds if self.graded_seconds else math.nan

    @property
    def batch_per_s(self) -> float:
        return self.notebooks / self.batch_seconds


def check_once(db_path: Path, sent: list[Sent]) -> tuple[list[str], dict[str, Any]]:
    """Every accepted job done with exactly one result, none unknown; each report once."""
    problems = []
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        jobs = {
            r[0]: r[1:]
            for r in db.execute("SELECT id, state, attempts, created, finished FROM jobs")
        }
        results = dict(
            db.execute("SELECT job_id, COUNT(*) FROM results GROUP BY job_id").fetchall()
        )
        rows = {
            r[0]: r[1:] for r in db.execute("SELECT job_id, outcome, points, seconds FROM results")
        }
    finally:
        db.close()
    accepted = {s.job: s for s in sent if s.job is not None}
    for job, s in accepted.items():
        if job not in jobs:
            problems.append(f"{s.submission.filename}: job {job} is not in the store")
        elif jobs[job][0] != "done":
            problems.append(f"{s.submission.filename}: job {job} is {jobs[job][0]}, not done")
        if results.get(job, 0) != 1:
            problems.append(f"{s.submission.filename}: {results.get(job, 0)} results")
        if s.reports != 1:
            problems.append(f"{s.submission.filename}: its client received {s.reports} reports")
    for job in set(jobs) - set(accepted):
        problems.append(f"job {job} is no client's")
    for job in set(results) - set(accepted):
        problems.append(f"a result of job {job}, which no client was given")
    return problems, {"jobs": jobs, "rows": rows}


def run(
    clients: int = 50,
    notebooks: int = 500,
    workers: int = 2,
    within: float = 60.0,
    poll: float = 1.0,
    timeout: float = 900.0,
    limit: float = 1800.0,
    batch_first: bool = False,
    say: Any = print,
    honour_retry: bool = True,
    batch: bool = True,
) -> Figures:
    """The whole benchmark (module doc) in a temporary folder; the figures and checks.
    ``honour_retry``: the clients poll after each status's Retry-After (else every
    ``poll`` s); ``batch``: False leaves out ``grader grade`` (its figures are nan)."""
    submissions = make_class(clients, notebooks)
    students = sorted({s.student for s in submissions})
    per_client = max(sum(1 for s in submissions if s.student == st) for st in students)
    per_hour = max(DEFAULT_PER_HOUR, per_client)
    kinds = {k: sum(1 for s in submissions if s.kind == k) for k in SHARES}
    loads = {"start": load()}
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        work = Path(tmp)
        data = work / "data"
        tokens = issue_tokens(work, data, students)

        def the_batch() -> float:
            """The same bytes, the same rubric, the same number of workers."""
            folder = work / "class"
            folder.mkdir()
            for s in submissions:
                (folder / s.filename).write_bytes(s.content)
            say(f"  grader grade on the same {notebooks} files ({workers} workers)")
            loads["batch start"] = load()
            seconds = run_batch(folder, work / "graded", workers, timeout)
            loads["batch end"] = load()
            return seconds

        batch_seconds = math.nan
        if batch and batch_first:
            batch_seconds = the_batch()
        server = Server(
            data,
            ["--workers", str(workers), "--per-hour", str(per_hour), "--timeout", f"{timeout:g}"],
        )
        say(f"  starting grader serve on 127.0.0.1:{server.port} ({workers} grading threads)")
        server.start()
        loads["service start"] = load()
        cpu_at_start = server.cpu_seconds()  # its start-up (imports, rubric) is not counted
        sent: list[Sent] = []
        counts: list[int] = []  # HTTP requests answered, per client
        lock = threading.Lock()
        start = time.time() + 0.5
        spacing = within / notebooks if within > 0 else 0.0
        schedule: dict[str, list[tuple[float, Submission]]] = {st: [] for st in students}
        for s in submissions:
            schedule[s.student].append((start + s.index * spacing, s))
        deadline = start + within + limit
        threads = [
            threading.Thread(
                target=client,
                args=(
                    server.port,
                    tokens[st],
                    schedule[st],
                    poll,
                    deadline,
                    sent,
                    lock,
                    counts,
                    honour_retry,
                ),
                name=f"client-{st}",
                daemon=True,
            )
            for st in students
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.0, deadline - time.time()) + 5)
        loads["service end"] = load()
        server_cpu = server.cpu_seconds() - cpu_at_start
        server.stop()
        problems, store = check_once(data / "service.db", sent)
        accepted = [s for s in sent if s.job is not None]
        first = min((s.start for s in sent), default=start)
        jobs, rows = store["jobs"], store["rows"]
        finished = [jobs[s.job][3] for s in accepted if s.job in jobs and jobs[s.job][3]]
        server_latency = [
            jobs[s.job][3] - jobs[s.job][2]
            for s in accepted
            if s.job in jobs and jobs[s.job][3] is not None
        ]
        outcomes: dict[str, int] = {}
        for s in accepted:
            if s.job in rows:
                outcomes[rows[s.job][0]] = outcomes.get(rows[s.job][0], 0) + 1
        attempts: dict[int, int] = {}
        for state in jobs.values():
            attempts[state[1]] = attempts.get(state[1], 0) + 1

        if batch and not batch_first:
            batch_seconds = the_batch()
        graded = batch_scores(work / "graded", submissions) if batch else {}
        mismatches = []
        scores = {}
        for s in accepted:
            if s.job not in rows or not batch:
                continue
            outcome, points = rows[s.job][0], rows[s.job][1]
            status = "ungradable" if outcome == "failed" else outcome  # the result's status
            scores[s.submission.filename] = ((status, points), graded[s.submission.index])
            if (status, points) != graded[s.submission.index]:
                mismatches.append(
                    f"{s.submission.filename} ({s.submission.sample}): service {status} "
                    f"{points}, batch {graded[s.submission.index]}"
                )
    return Figures(
        clients=len(students),
        notebooks=notebooks,
        workers=workers,
        per_hour=per_hour,
        within=within,
        kinds=kinds,
        accepted=len(accepted),
        refused=[f"{s.submission.filename}: {s.status} {s.refusal}" for s in sent if s.job is None],
        accept_seconds=max((s.answered for s in accepted), default=first) - first,
        graded_seconds=(max(finished) - first) if finished else math.nan,
        client_latency=[s.report - s.start for s in accepted if s.report is not None],
        server_latency=server_latency,
        grading_seconds=[rows[s.job][2] for s in accepted if s.job in rows],
        server_cpu=server_cpu,
        requests=sum(counts),
        slowest=[
            f"{s.submission.sample} {rows[s.job][2]:.1f} s"
            for s in sorted((s for s in accepted if s.job in rows), key=lambda s: -rows[s.job][2])[
                :3
            ]
        ],
        batch_seconds=batch_seconds,
        problems=problems
        + [f"{notebooks - len(sent)} submissions were never sent"] * (len(sent) < notebooks),
        score_mismatches=mismatches,
        scores=scores,
        outcomes=outcomes,
        attempts=attempts,
        load=loads,
        batch_first=batch_first,
        honour_retry=honour_retry,
    )


def report(f: Figures) -> None:
    def row(label: str, value: str) -> None:
        print(f"  {label:<46} {value}")

    print()
    row(
        "class",
        f"{f.clients} clients, {f.notebooks} submissions: "
        + ", ".join(f"{n} {k}" for k, n in f.kinds.items()),
    )
    pace = f"paced over {f.within:g} s" if f.within > 0 else "all at once"
    row("submitted", f"{pace}; rate limit --per-hour {f.per_hour} (each client sends at most that)")
    polls = "after each status's Retry-After" if f.honour_retry else "every --poll seconds"
    row("clients ask about their oldest pending job", polls)
    row(
        "accepted",
        f"{f.accepted} of {f.notebooks}" + (f" ({len(f.refused)} refused)" if f.refused else ""),
    )
    for line in f.refused[:5]:
        row("", "refused: " + line)
    row("accepted per second", f"{f.accepted_per_s:.1f} (all in {f.accept_seconds:.1f} s)")
    row(
        "graded per second (service)",
        f"{f.graded_per_s:.2f} (first upload to last result: {f.graded_seconds:.1f} s)",
    )
    if not math.isnan(f.batch_seconds):
        row(
            "graded per second (grader grade, same files)",
            f"{f.batch_per_s:.2f} ({f.batch_seconds:.1f} s)",
        )
        first = "the batch ran first" if f.batch_first else "the service ran first"
        row("service / batch", f"{f.graded_per_s / f.batch_per_s:.2f}x ({first})")
    row(
        "upload to report, client (p50 / p95)",
        f"{pct(f.client_latency, 50):.1f} s / {pct(f.client_latency, 95):.1f} s",
    )
    row(
        "accepted to recorded, server (p50 / p95)",
        f"{pct(f.server_latency, 50):.1f} s / {pct(f.server_latency, 95):.1f} s",
    )
    row(
        "grading one job (p50 / p95)",
        f"{pct(f.grading_seconds, 50):.2f} s / {pct(f.grading_seconds, 95):.2f} s",
    )
    row(
        "the server's own CPU per submission",
        f"{1000 * f.server_cpu / max(1, f.accepted):.1f} ms (HTTP, database, threads; not grading)",
    )
    per = f.requests / max(1, f.accepted)
    each = 1000 * f.server_cpu / max(1, f.requests)
    row(
        "HTTP requests answered",
        f"{f.requests} ({per:.1f} per submission; {each:.1f} ms of the server's CPU each)",
    )
    row("slowest jobs", ", ".join(f.slowest))
    row("outcomes", ", ".join(f"{n} {k}" for k, n in sorted(f.outcomes.items())))
    row("attempts per job", ", ".join(f"{a}: {n} job(s)" for a, n in sorted(f.attempts.items())))
    once = "yes" if not f.problems else f"NO ({len(f.problems)} problems)"
    row("every accepted job ended once, none lost", once)
    for line in f.problems[:10]:
        row("", line)
    same = "yes" if not f.score_mismatches else f"NO ({len(f.score_mismatches)})"
    if f.scores or f.score_mismatches:
        row("same scores as grader grade", f"{same} ({len(f.scores)} compared)")
    for line in f.score_mismatches[:10]:
        row("", line)
    row("load average (1, 5, 15 min)", "; ".join(f"{k}: {v}" for k, v in f.load.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--notebooks", type=int, default=500)
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="grading threads of the service, workers of the batch (default: CPU count)",
    )
    parser.add_argument(
        "--within",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="the class has submitted after this long (default 60; 0: all at once)",
    )
    parser.add_argument(
        "--poll",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="how often a client asks about its oldest pending job (default 1)",
    )
    parser.add_argument(
        "--limit",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="give up waiting this long after the last upload (default 1800)",
    )
    parser.add_argument(
        "--batch-first",
        action="store_true",
        help="run grader grade before the service (default after; the order shows the drift)",
    )
    parser.add_argument(
        "--polling",
        choices=["retry-after", "fixed", "both"],
        default="retry-after",
        help="the clients ask again after each status's Retry-After (default), every --poll "
        "seconds (fixed: as before the service said), or both: the service run twice, "
        "fixed first, then the ratios (grader grade runs once, with the first)",
    )
    args = parser.parse_args(argv)
    if args.clients < 1 or args.notebooks < 1 or args.workers < 1:
        parser.error("--clients, --notebooks and --workers must be at least 1")
    print(
        f"bench_serve: {args.clients} clients, {args.notebooks} notebooks, {args.workers} workers, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}; load {load()}"
    )
    modes = {"retry-after": [True], "fixed": [False], "both": [False, True]}[args.polling]
    runs = []
    for n, honour in enumerate(modes):
        figures = run(
            args.clients,
            args.notebooks,
            args.workers,
            args.within,
            args.poll,
            limit=args.limit,
            batch_first=args.batch_first,
            honour_retry=honour,
            batch=n == 0,
        )
        report(figures)
        runs.append(figures)
    if len(runs) == 2:
        compare_polling(*runs)
    return 1 if any(f.problems or f.score_mismatches for f in runs) else 0


def compare_polling(fixed: Figures, told: Figures) -> None:
    """The same class twice in this process: clients polling every --poll s, then
    clients asking after Retry-After; what the server spent, and what the clients waited."""

    def per(f: Figures) -> tuple[float, float, float]:
        accepted = max(1, f.accepted)
        return f.requests / accepted, 1000 * f.server_cpu / accepted, pct(f.client_latency, 50)

    (r0, c0, l0), (r1, c1, l1) = per(fixed), per(told)
    print()
    print("  polling every --poll s, then after Retry-After (the same class, this process):")
    print(f"  {'HTTP requests per submission':<46} {r0:.1f} -> {r1:.1f} ({r1 / r0:.2f}x)")
    print(f"  {'server CPU per submission':<46} {c0:.1f} ms -> {c1:.1f} ms ({c1 / c0:.2f}x)")
    p95 = f"{pct(fixed.client_latency, 95):.1f} s -> {pct(told.client_latency, 95):.1f} s"
    print(f"  {'upload to report, client p50; p95':<46} {l0:.1f} s -> {l1:.1f} s; {p95}")


if __name__ == "__main__":
    sys.exit(main())
