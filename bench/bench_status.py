"""What a job's status costs the service, per request (issue 13: status polling).

    PYTHONPATH=. python bench/bench_status.py                 (50 students, 500 jobs)
    PYTHONPATH=. python bench/bench_status.py --profile queued   (and cProfile's top entries)

A class in a temporary folder, the store as ``grader serve`` keeps it under load:
``--students`` students with tokens, ``--jobs`` submissions, a third of them done (each
with a real result: one demo notebook graded once by ``grader grade``'s function), two
running, the rest queued. The application (``create_app``, no runner: nothing grades) is
called in this process straight through ASGI (no HTTP client or socket, so what is
measured is the service's own work: routing, the token, the database, the JSON), each
request ``--repeat`` times, round-robin over the jobs of each state, with a student's token.

Printed, per request: the process's CPU time (all threads: FastAPI runs the route in
its thread pool) and wall time, for

- ``floor``: ``GET /favicon.ico``, no token, no database: the ASGI stack's own cost;
- ``status queued`` / ``running`` / ``done``: ``GET /api/jobs/{id}`` of such a job,
  what a client polling its job asks;

each with its ratio to the floor measured in the same process, and the ``Retry-After``
the service answered (the median over the jobs asked). Compare two commits by running
this same command on each. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import csv
import io
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.grade import grade_submission  # noqa: E402
from grader.rubric_file import load_rubric  # noqa: E402
from grader.serve.app import ServeConfig, create_app  # noqa: E402
from grader.serve.cli import main as serve_main  # noqa: E402
from grader.serve.store import Store  # noqa: E402

RUBRIC = ROOT / "rubrics" / "mlp_backprop.toml"
NOTEBOOK = ROOT / "submissions" / "demo" / "bob.ipynb"


def make_class(
    work: Path, students: int, jobs: int
) -> tuple[Store, dict[str, str], dict[str, list[tuple[str, str]]]]:
    """The store, the tokens, and per state the (job id, student) pairs."""
    names = [f"s{i:03d}" for i in range(students)]
    roster = work / "roster.csv"
    roster.write_text("student\n" + "".join(f"{n}\n" for n in names))
    out = work / "tokens.csv"
    data = work / "data"
    assert serve_main(["tokens", str(roster), "--data", str(data), "--out", str(out)]) == 0
    with open(out, newline="") as handle:
        tokens = {row["student"]: row["token"] for row in csv.DictReader(handle)}
    store = Store(data)
    content = NOTEBOOK.read_bytes()
    ids = []
    for i in range(jobs):
        student = names[i % students]
        distinct = content + f"\n{i}".encode()  # not a valid notebook: nothing grades it here
        ids.append((store.accept(student, f"{student}.ipynb", "ipynb", distinct, None), student))
    result = grade_submission(NOTEBOOK, load_rubric(RUBRIC), None)
    text = result.to_json(indent=None)
    points = result.score.points if result.score else None
    done = jobs // 3
    for _ in range(done):  # the fair queue's order: claim, then finish
        job = store.claim_next()
        assert job is not None
        store.finish(job.id, "graded", text, points, 0.5)
    running = [store.claim_next() for _ in range(2)]
    by_id = dict(ids)
    states: dict[str, list[tuple[str, str]]] = {"queued": [], "running": [], "done": []}
    for job_id, student in ids:
        state = store.job(job_id)
        assert state is not None
        states[state.state].append((job_id, student))
    assert all(r is not None and r.id in by_id for r in running)
    return store, tokens, states


def asgi_get(app: Any, path: str, token: str | None) -> Callable[[], Any]:
    """One GET of ``path`` through ``app`` as uvicorn would call it: (status, headers)."""
    headers = [(b"host", b"127.0.0.1")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }

    async def call() -> tuple[int, dict[bytes, bytes]]:
        answer: dict[str, Any] = {}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["headers"] = dict(message.get("headers", []))

        await app(dict(scope), receive, send)
        return answer["status"], answer["headers"]

    return call


def measure(
    loop: asyncio.AbstractEventLoop, calls: list[Callable[[], Any]], repeat: int
) -> tuple[float, float, list[str]]:
    """CPU and wall seconds per request over ``repeat`` requests; Retry-After answers."""
    for call in calls[:5]:  # warm: imports, the thread pool, the statement cache
        loop.run_until_complete(call())
    retry = []
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(repeat):
        status, headers = loop.run_until_complete(calls[i % len(calls)]())
        assert status in (200, 204), status
        if b"retry-after" in headers:
            retry.append(headers[b"retry-after"].decode())
    return (time.process_time() - cpu) / repeat, (time.perf_counter() - wall) / repeat, retry


def inline_routes() -> None:
    """Run the sync routes and dependencies in the calling thread (cProfile sees only its
    own thread; FastAPI runs them in its thread pool): for --profile, after the timing."""
    import fastapi.dependencies.utils
    import fastapi.routing

    async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    fastapi.routing.run_in_threadpool = inline
    fastapi.dependencies.utils.run_in_threadpool = inline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=2000, help="requests per kind (default 2000)")
    parser.add_argument(
        "--profile",
        choices=["queued", "running", "done"],
        help="then profile the status of such jobs (cProfile's top entries by cumulative time)",
    )
    args = parser.parse_args(argv)
    if args.students < 1 or args.jobs < 9 or args.repeat < 1:
        parser.error("--students and --repeat at least 1, --jobs at least 9")
    print(
        f"bench_status: {args.students} students, {args.jobs} jobs, {args.repeat} requests "
        f"each, Python {sys.version.split()[0]}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-status-") as tmp:
        store, tokens, states = make_class(Path(tmp), args.students, args.jobs)
        config = ServeConfig(load_rubric(RUBRIC), "bench", "none", None)
        app = create_app(store, config)
        loop = asyncio.new_event_loop()
        kinds = {"floor (GET /favicon.ico)": [asgi_get(app, "/favicon.ico", None)]}
        for state in ("queued", "running", "done"):
            kinds[f"status {state}"] = [
                asgi_get(app, f"/api/jobs/{job}", tokens[student]) for job, student in states[state]
            ]
        print(", ".join(f"{len(v)} {k}" for k, v in states.items()))
        figures = {}
        for label, calls in kinds.items():
            figures[label] = measure(loop, calls, args.repeat)
        floor = figures["floor (GET /favicon.ico)"][0]
        print(
            f"  {'request':<28} {'CPU ms':>8} {'wall ms':>8} {'x floor':>8}  Retry-After (median)"
        )
        for label, (cpu, wall, retry) in figures.items():
            shown = "-"
            if retry:
                shown = f"{statistics.median(float(r) for r in retry):g} s ({len(retry)} of {args.repeat})"
            print(
                f"  {label:<28} {1000 * cpu:>8.2f} {1000 * wall:>8.2f} {cpu / floor:>8.1f}  {shown}"
            )
        if args.profile:
            inline_routes()
            profile = cProfile.Profile()
            calls = kinds[f"status {args.profile}"]
            profile.enable()
            for i in range(min(args.repeat, 500)):
                loop.run_until_complete(calls[i % len(calls)]())
            profile.disable()
            buffer = io.StringIO()
            pstats.Stats(profile, stream=buffer).sort_stats("cumulative").print_stats(40)
            print(buffer.getvalue())
        loop.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
