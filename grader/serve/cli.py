"""``grader serve``: parse, build the service from the library, run it on uvicorn.

    grader serve tokens roster.csv --data DIR [--out tokens.csv]   issue the tokens
    grader serve --rubric R --data DIR [--roster roster.csv] [--host H --port P]
                 [--scheduler tcp://host:8786]   grade on a Dask cluster

Exit status as ``grader``'s: 0, 2 for bad input (one sentence), 130 for Ctrl-C.
"""

from __future__ import annotations

import argparse
import math
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from grader.rubric import Rubric, RubricError
from grader.rubric_file import load_rubric
from grader.sandbox.tiers import (
    TIER_INFO,
    TIERS,
    SandboxUnavailableError,
    describe,
    resolve_tier,
    why_not_stronger,
)
from grader.serve.store import Store, StoreError
from grader.serve.tokens import INSTRUCTOR, RosterError, issue_tokens, read_roster
from grader.serve.uploads import DEFAULT_MAX_BYTES, UploadLimits

DEFAULT_DATA = Path("grader-data")
DB_ENV = "GRADER_DATABASE_URL"
EXAMPLES = """examples:
  grader serve tokens roster.csv --data /srv/grader --out tokens.csv   # once; hand them out
  grader serve --rubric rubrics/mlp_backprop.toml --roster roster.csv --data /srv/grader
  curl -H "Authorization: Bearer $TOKEN" -F file=@lab3.ipynb http://127.0.0.1:8000/api/submissions
The API, every route with a curl line: http://127.0.0.1:8000/api"""


class ServeError(Exception):
    """Bad input: one sentence, exit status 2."""


def _mb(text: str) -> int:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of MB, got {text}")
    return int(value * (1 << 20))


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def build_parser(add_help: bool = True) -> argparse.ArgumentParser:
    """Both forms in one parser (``grader``'s own parser lists it as ``serve``'s options)."""
    p = argparse.ArgumentParser(
        prog="grader serve",
        add_help=add_help,
        description="The hosted grading service: students and CI jobs submit over HTTP; "
        "reports come back as each job is graded. Issue tokens first: "
        "'grader serve tokens roster.csv --data DIR'.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "tokens",
        nargs="*",
        metavar="tokens ROSTER",
        help="issue a token per student on the roster (CSV with a header; names in column "
        "'student', else login, name, id, or the first) and one for the instructor; only "
        "their hashes are stored, and names that already have a token keep it",
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="CSV",
        help="with tokens: where the new tokens are written for distribution (default tokens.csv)",
    )
    p.add_argument("--reissue", action="store_true", help="with tokens: new tokens for everyone")
    p.add_argument("--rubric", type=Path, help="the rubric TOML: every check runs")
    p.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        metavar="DIR",
        help=f"where the store lives: database, submitted files (default {DEFAULT_DATA})",
    )
    p.add_argument(
        "--db",
        metavar="URL",
        default=os.environ.get(DB_ENV) or None,
        help="a database URL for a service on several machines, e.g. "
        "postgresql+psycopg://grader@dbhost/grader (default: SQLite under --data; "
        f"or set {DB_ENV}, which keeps a password out of the process list)",
    )
    p.add_argument(
        "--roster", type=Path, metavar="CSV", help="check that every student on it has a token"
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; "
        "put a TLS reverse proxy in front for anything else)",
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--workers", type=int, default=None, help="submissions graded at once (default: CPU count)"
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on this Dask cluster (tcp://host:8786), as 'grader grade --scheduler' "
        "does: the same scores; --workers defaults to the cluster's threads, and a zip's "
        "workers must see --data",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="limit for grading one submission (default 900; 0: none)",
    )
    p.add_argument(
        "--per-hour",
        type=_count,
        default=30,
        metavar="N",
        help="submissions a student may make per hour (default 30; 0: no limit)",
    )
    p.add_argument(
        "--max-upload-mb",
        type=_mb,
        default=DEFAULT_MAX_BYTES,
        metavar="MB",
        help=f"largest upload (default {DEFAULT_MAX_BYTES >> 20})",
    )
    p.add_argument(
        "--min-tier",
        choices=TIERS,
        help="refuse to start below this sandbox tier (docs/threat-model.md)",
    )
    p.add_argument(
        "--secure-cookies",
        action="store_true",
        help="mark the session cookie Secure (behind a TLS proxy)",
    )
    return p


def cmd_tokens(args: argparse.Namespace) -> int:
    names = read_roster(args.roster)  # set by main from "tokens ROSTER"
    args.out = args.out or Path("tokens.csv")
    store = Store(args.data, url=args.db)
    try:
        issued = issue_tokens(store, names, args.out, reissue=args.reissue)
    finally:
        store.close()  # its connections closed now, not whenever the engine is collected
    kept = len(names) + 1 - len(issued)
    print(
        f"tokens: {len(issued)} issued, {kept} kept; the new ones are in {args.out} "
        "(hand each student their line; the store keeps only hashes)"
    )
    if INSTRUCTOR in issued:
        print(f"the instructor's token is the line '{INSTRUCTOR}' of {args.out}")
    return 0


def _sandbox(min_tier: str | None, closed: list[Path]) -> tuple[str, str]:
    """The tier grading will use (checked against ``min_tier``) and the line saying so."""
    from grader.sandbox.privilege import protect

    tier = resolve_tier(None, min_tier)
    if tier == "uid":
        protect(closed)
    why = why_not_stronger(tier)
    if TIER_INFO[tier].advisory:
        print(
            f"*** ADVISORY: {describe(tier)}; scores are not trustworthy ({why}).", file=sys.stderr
        )
    return tier, describe(tier) + (f" (no stronger tier: {why})" if why else "")


def _load(rubric_path: Path) -> Rubric:
    if not rubric_path.is_file():
        raise ServeError(f"{rubric_path} does not exist (expected a rubric file).")
    return load_rubric(rubric_path)


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn  # noqa: F401 (here for the sentence; _serve uses it)

        import grader.serve.app  # noqa: F401
    except ImportError as error:
        raise ServeError(
            f"the service needs its extra: python -m pip install -e '.[serve]' ({error})"
        ) from None

    rubric = _load(args.rubric)
    _check_port(args.host, args.port)  # before anything is opened: one sentence, nothing to undo
    store = Store(args.data, url=args.db)
    # closed on every way out: a refusal below, a start that fails, Ctrl-C, and a clean
    # stop (the application's lifespan closes it first; a second close costs nothing)
    try:
        return _serve(args, rubric, store)
    finally:
        store.close()


def _serve(args: argparse.Namespace, rubric: Rubric, store: Store) -> int:
    """Check the store and the settings against each other, then serve until stopped."""
    import uvicorn

    from grader.batch import GradeJob
    from grader.executors import ExecutorUnavailableError, default_workers
    from grader.grade import grade_submission
    from grader.pipeline import GradeSettings
    from grader.plan import time_bound
    from grader.serve.app import ServeConfig, create_app
    from grader.serve.runner import Runner

    if store.meta("instructor_issued") is None:
        raise ServeError(
            f"{args.data} holds no tokens yet: run 'grader serve tokens roster.csv --data {args.data}' first."
        )
    if args.roster is not None:
        missing = sorted(set(read_roster(args.roster)) - set(store.students()))
        if missing:
            raise ServeError(
                f"{args.roster}: {len(missing)} student(s) have no token ({', '.join(missing[:5])}); "
                f"run 'grader serve tokens {args.roster} --data {args.data}'."
            )
    settings = GradeSettings(warm=True, min_tier=args.min_tier)
    timeout = args.timeout or None
    if timeout is not None and timeout < (bound := time_bound(rubric, settings.limits)):
        raise ServeError(
            f"--timeout {timeout:g} is shorter than this rubric's own limits ({bound:g} s); "
            f"use --timeout {math.ceil(bound)} or more, or 0 for no limit."
        )
    tier, sandbox = _sandbox(args.min_tier, [args.data, args.rubric])
    # the same grade function, rubric and settings as grader grade: the same scores
    job = GradeJob.from_file(grade_submission, args.rubric, settings)
    limits = UploadLimits(max_bytes=args.max_upload_mb)
    runner = Runner(store, job, args.workers or 1, timeout, limits, scheduler=args.scheduler)
    try:  # reach the cluster now: an unreachable scheduler is one sentence, before serving
        threads = runner.cluster_threads() if args.scheduler else default_workers()
    except ExecutorUnavailableError as error:
        raise ServeError(str(error)) from None
    runner.workers = args.workers or threads
    config = ServeConfig(
        rubric, sandbox, tier, args.per_hour or None, limits, secure_cookies=args.secure_cookies
    )
    app = create_app(store, config, runner)
    print(
        f"grader serve: {rubric.assignment.title}, http://{args.host}:{args.port}/ "
        f"(API: /api); store: {store.describe()['db']}",
        flush=True,
    )
    print(f"sandbox: {sandbox}", flush=True)
    if args.scheduler:
        print(f"grading on the Dask cluster {args.scheduler}, {runner.workers} at once", flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    except SystemExit as stop:  # uvicorn's own exit when it cannot start (its log says why)
        if stop.code not in (None, 0):
            raise ServeError(
                f"the service could not start on {args.host}:{args.port} (the reason is above)."
            ) from None
    return 0


def _check_port(host: str, port: int) -> None:
    """A port already in use is one sentence, before the store is opened (uvicorn binds
    it again, as it does, with SO_REUSEADDR: a restart's old connections are no bar)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except (OSError, OverflowError) as error:
        reason = getattr(error, "strerror", None) or error
        raise ServeError(
            f"cannot listen on {host}:{port} ({reason}); is another service using it? "
            "Choose another with --port."
        ) from None


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.tokens:
            if args.tokens[0] != "tokens" or len(args.tokens) != 2:
                parser.error(
                    "expected 'grader serve tokens ROSTER.csv' or 'grader serve --rubric R'"
                )
            args.roster = Path(args.tokens[1])
            return cmd_tokens(args)
        if args.rubric is None:
            parser.error("the service needs --rubric (or: grader serve tokens ROSTER.csv)")
        return cmd_serve(args)
    except (ServeError, RubricError, RosterError, StoreError, SandboxUnavailableError) as error:
        print(f"grader: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"grader: error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
