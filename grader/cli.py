"""The ``grader`` command: a thin layer that parses, calls the library, and prints.

    grader check SUBMISSION            a student's self-check (public checks only; in a kit
                                       folder, from the kit's own files, offline)
    grader kit --rubric R --out DIR    build the student kit
    grader grade DIR --rubric R --out OUT     the instructor's batch
    grader grade-one SUBMISSION --rubric R    one submission (Gradescope, CI)
    grader gradescope --rubric R --out Z.zip  the Gradescope autograder zip
    grader serve --rubric R --data DIR        the hosted grading service (grader.serve)

Exit status: 0 success (``check``: every public check passed); 1 some check did
not pass (``check``, ``grade-one --strict``) or some submission's grading failed
(``grade``); 2 bad input, said in one sentence, never a traceback; 130 stopped
by Ctrl-C. A student kit does not ship this module: its launcher runs
:mod:`grader.self_check`, which ``check --kit`` calls too. The batch, the kit builder
and the Gradescope builder are imported only when a command needs them (a check
starts faster without them).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import functools
import importlib.util
import math
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import grader
from grader.atomic import atomic_write_text
from grader.exports.gradescope import VISIBILITIES, write_gradescope
from grader.sandbox import Limits
from grader.sandbox.privilege import protect
from grader.sandbox.tiers import (
    TIER_INFO,
    TIERS,
    SandboxUnavailableError,
    describe,
    one_blas_thread,
    resolve_tier,
    why_not_stronger,
)
from grader.sandbox.warm import prestart
from grader.submission import (
    NOT_SUBMISSION_SUFFIXES,
    SubmissionError,
)

# Nothing imported above loads numpy, the rubric or the pipeline: a cold grade-one starts
# its sandboxed worker first, and imports them while the worker boots (cmd_grade_one).
if TYPE_CHECKING:
    from grader.batch import GradeJob
    from grader.pipeline import GradeSettings
    from grader.results import GradeResult
    from grader.rubric import Rubric

    GradeSubmission = Callable[[Path, Rubric, Any], GradeResult]
KIT_RUBRIC = "rubric.toml"  # the public rubric's name inside a student kit


class UsageError(Exception):
    """Bad input from the command line: one sentence, exit status 2."""


EXAMPLES = {
    "check": """examples:
  grader check lab3.ipynb --kit mlp-kit/          # the kit you were given
  grader check lab3.ipynb --rubric rubric.toml --html report.html
  grader check my_submission/                     # a folder: notebook + data files""",
    "kit": """examples:
  grader kit --rubric rubrics/mlp_backprop.toml --out mlp-kit/""",
    "grade": f"""examples:
  grader grade submissions/ --rubric rubrics/mlp_backprop.toml --out graded/
  grader grade submissions/ --rubric R --out graded/ --workers 8 --timeout 600
  grader grade submissions/ --rubric R --out graded/ --only alice bob.ipynb  # just these
  grader grade submissions/ --rubric R --out graded/ --regrade alice       # ignore alice's cache
  grader grade submissions/ --rubric R --out graded/ --scheduler tcp://10.0.0.5:8786
  grader grade submissions/ --rubric R --out graded/ \\
      --canvas-assignment "Lab 3: back-propagation" --canvas-id 12345 --canvas-roster export.csv
Re-running the same command after a crash or Ctrl-C grades only what is missing.
Not graded, and named once: the --out folder, and notes and data files in the folder
({" ".join(sorted(NOT_SUBMISSION_SUFFIXES))}).""",
    "grade-one": """examples:
  grader grade-one /autograder/submission --rubric /autograder/source/rubric.toml \\
      --gradescope /autograder/results/results.json
  grader grade-one lab3.ipynb --rubric rubric.toml --json result.json --junit junit.xml --strict
  grader grade-one lab3.ipynb --rubric rubric.toml --markdown report.md   # e.g. $GITHUB_STEP_SUMMARY""",
    "gradescope": """examples:
  grader gradescope --rubric rubrics/mlp_backprop.toml --out autograder.zip
  grader gradescope --rubric R --out autograder.zip --wheel dist/mlp_grader-0.1.0-py3-none-any.whl
Upload the zip as the assignment's autograder (base image: Ubuntu 24.04).""",
}


# ---------------------------------------------------------------------------
# The pipeline's settings


def _settings(
    warm: bool = False, memory_mb: int | None = None, min_tier: str | None = None
) -> GradeSettings:
    """The pipeline's settings; ``warm``: one pre-started sandbox worker per grading process;
    ``memory_mb``: each sandboxed process's address-space limit (None: the sandbox's default);
    ``min_tier``: refuse to grade below this sandbox tier."""
    from grader.pipeline import GradeSettings  # imported when grading: grade-one starts cold

    return GradeSettings(warm=warm, min_tier=min_tier, limits=_limits(memory_mb))


def _limits(memory_mb: int | None) -> Limits:
    """The sandbox's limits: its defaults, with ``memory_mb`` as each process's address space."""
    return Limits() if memory_mb is None else Limits(memory_bytes=memory_mb << 20)


def _sandbox(min_tier: str | None, closed: list[Path]) -> str:
    """The tier this run will use, checked against ``min_tier`` before anything is graded.

    An advisory tier is said once, loudly, on stderr. As root, ``closed`` (the
    submissions, the rubric, the output folders) is closed to the sandbox's uids.
    Returns the line the command prints with its results.
    """
    tier = resolve_tier(None, min_tier)  # SandboxUnavailableError: exit status 2, one sentence
    if tier == "uid":
        protect(closed)
    why = why_not_stronger(tier)
    if TIER_INFO[tier].advisory:
        print(
            f"\n*** ADVISORY RUN: {describe(tier)}.\n"
            f"*** Scores from this run are not trustworthy. Why no stronger tier: {why}.\n"
            "*** Use --min-tier uid (or bwrap) to refuse such runs.\n",
            file=sys.stderr,
        )
    return describe(tier) + (f" (no stronger tier: {why})" if why else "")


# ---------------------------------------------------------------------------
# Arguments


def _rubric(path: Path) -> Rubric:
    """Load and validate; a RubricError (one sentence) becomes exit status 2."""
    from grader.rubric_file import load_rubric

    return load_rubric(path)


def _existing(path: Path, what: str) -> Path:
    if not os.path.lexists(path):
        raise UsageError(f"{path} does not exist (expected {what}).")
    return path


def _use_color(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _grade_submission() -> GradeSubmission:
    from grader.grade import grade_submission  # the reference: only when grading

    return grade_submission


def _grade_one_submission(
    grade: GradeSubmission, rubric: Rubric, settings: Any, path: Path
) -> GradeResult:
    return grade(Path(path), rubric, settings)


def _job(
    grade_fn: GradeSubmission | None,
    rubric_path: Path,
    public_only: bool = False,
    warm: bool = False,
    memory_mb: int | None = None,
    min_tier: str | None = None,
) -> GradeJob:
    grade = grade_fn if grade_fn is not None else _grade_submission()
    settings = None if grade_fn is not None else _settings(warm, memory_mb, min_tier)
    from grader.batch import GradeJob

    return GradeJob.from_file(grade, rubric_path, settings, public_only)


def _overrides(path: Path | None, rubric: Rubric) -> Any:
    """The instructor's overrides file, read and checked against the rubric (None: none).
    Students are checked where the class is known (grader.batch.run_batch)."""
    if path is None:
        return None
    from grader.overrides import load_overrides

    overrides = load_overrides(_existing(path, "an overrides file"))
    overrides.validate(rubric)
    return overrides


# ---------------------------------------------------------------------------
# Commands


def cmd_check(args: argparse.Namespace, grade_fn: GradeSubmission | None) -> int:
    from grader import self_check  # the kit's entry point reaches the whole pipeline

    color = _use_color(args.color)
    if args.rubric is not None:
        rubric_path = _existing(args.rubric, "a rubric file")
    else:
        kit = args.kit if args.kit is not None else Path.cwd()
        from grader.kit_check import is_kit

        if is_kit(kit):  # the kit's own files, offline: what its check.py runs
            return self_check.run(args.submission, kit, args.html, color)
        rubric_path = kit / KIT_RUBRIC
        if not rubric_path.is_file():
            where = f"kit folder {kit}" if args.kit is not None else "the current folder"
            raise UsageError(f"no {KIT_RUBRIC} in {where}; pass --kit DIR or --rubric FILE.")
    rubric = _rubric(rubric_path)  # a folder with only a public rubric: grade with it
    job = _job(grade_fn, rubric_path, public_only=True)
    path = self_check.checked_submission(args.submission, rubric)
    result, _, _ = self_check.grade_here(job, path)
    # the instructor's rubric says what its hidden checks add; a lone public rubric cannot
    hidden = sum(c.points for c in rubric.checks if c.visibility == "hidden")
    return self_check.show(result, hidden if args.rubric else None, color, args.html)


def cmd_kit(args: argparse.Namespace, grade_fn: GradeSubmission | None) -> int:
    _rubric(_existing(args.rubric, "a rubric file"))
    from grader.kit import build_kit

    built = build_kit(args.rubric, args.out)
    print(f"student kit: {built if built is not None else args.out}")
    return 0


def _executor(args: argparse.Namespace) -> Any:
    """The batch's executor: Dask with --scheduler, else serial or the pool."""
    if not args.scheduler:
        return "serial" if args.serial else "pool"
    from grader.executors import DaskExecutor

    return DaskExecutor(args.workers, args.timeout or None, args.scheduler, args.shared_out)


def cmd_grade(
    args: argparse.Namespace, grade_fn: GradeSubmission | None, argv: Sequence[str]
) -> int:
    from grader.batch import BatchOutputs, CanvasExport, grade_class, resume_hint
    from grader.exports.gradebook import read_canvas_roster

    rubric = _rubric(_existing(args.rubric, "a rubric file"))
    overrides = _overrides(args.overrides, rubric)
    _existing(args.folder, "a folder of submissions")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(
            f"--out {args.out} is a file; it must name a folder (new or existing) for the results."
        )
    # A warm worker pays its start (numpy, scipy, pandas, scikit-learn, ~1 s) once per
    # process: every executor of a batch grades many submissions per process (the pool,
    # --serial, and each Dask worker's warm grading process).
    settings = None if grade_fn is not None else _settings(True, None, args.min_tier)
    _check_batch_timeout(args.timeout, rubric, settings)
    # below the minimum tier: refused here, before even the output folder is made
    sandbox = _sandbox(args.min_tier, [args.folder, args.rubric])
    canvas = None
    if args.canvas_assignment:
        canvas = CanvasExport(
            args.canvas_assignment,
            args.canvas_id,
            args.canvas_identity_column,
            args.canvas_roster,
        )
    elif args.canvas_roster:
        read_canvas_roster(args.canvas_roster)  # a bad roster is bad input, even unused
    # what the library does for any caller: the folder listed (never the output folder),
    # the reports, class page and Canvas file written, the folders closed to the sandbox
    summary = grade_class(
        args.folder,
        args.rubric,
        args.out,
        grade=grade_fn,
        settings=settings,
        executor=_executor(args),
        workers=args.workers,
        timeout=args.timeout or None,
        scheduler=args.scheduler,
        only=args.only,
        regrade="all" if args.regrade_all else args.regrade,
        progress=not args.no_progress,
        outputs=BatchOutputs(reports=("html", "md"), canvas=canvas, overrides=overrides),
    )
    for name, why in summary.skipped:
        print(f"not graded: {name} ({why})")
    print(summary.describe())
    if args.only:
        print(f"selected:   {', '.join(summary.selected)}")
        kept = [i for i in summary.selected if i in summary.reused]
        if kept:
            print(
                f"            kept the stored result of {', '.join(kept)} (unchanged since "
                f"graded with this rubric); --regrade {' '.join(kept)} grades again"
            )
    print(f"sandbox:    {sandbox}")
    print(f"results:    {args.out / 'results'}/")
    if (args.out / "reports").is_dir():
        print(f"reports:    {args.out / 'reports'}/")
    print(f"gradebook:  {summary.gradebook}")
    print(f"summary:    {summary.summary}")
    if summary.class_page is not None:
        print(f"class page: {summary.class_page}")
    if overrides is not None:
        n = len(overrides.entries)
        print(
            f"overrides:  {args.overrides} ({n} adjustment{'s' if n != 1 else ''}, in every output)"
        )
    if summary.canvas is not None:
        print(f"canvas:     {summary.canvas}")
        for w in summary.canvas_warnings:
            print(f"  warning: {w}", file=sys.stderr)
    for identity, reason in summary.failures[:20]:
        print(f"  {identity}: {reason}", file=sys.stderr)
    if len(summary.failures) > 20:
        print(f"  ... and {len(summary.failures) - 20} more (see the gradebook)", file=sys.stderr)
    for identity, why in summary.unadjusted:
        print(f"  {identity}: its overrides are {why}", file=sys.stderr)
    for identity, message in summary.hook_errors:
        print(f"  {identity}: the report could not be written ({message})", file=sys.stderr)
    if summary.interrupted:
        print(resume_hint(["grader", *argv]), file=sys.stderr)
        return 130
    return 1 if summary.failed else 0


def cmd_grade_one(args: argparse.Namespace, grade_fn: GradeSubmission | None) -> int:
    rubric_path = _existing(args.rubric, "a rubric file")
    outputs = [args.json, args.gradescope, args.junit, args.markdown]
    closed = [args.submission, args.rubric, *(Path(p).parent for p in outputs if p is not None)]
    sandbox = _sandbox(args.min_tier, closed)
    if grade_fn is None:
        from grader.adapters import CHILD_PROBES  # what every rubric but a custom one sends

        # the sandboxed interpreter boots while this one imports the pipeline and plans
        prestart(_limits(args.memory), None, (CHILD_PROBES,))
    rubric = _rubric(rubric_path)
    overrides = _overrides(args.overrides, rubric)
    grade = grade_fn if grade_fn is not None else _grade_submission()
    settings = None if grade_fn is not None else _settings(False, args.memory, args.min_tier)
    # one submission in this process: the rubric as parsed above, no batch machinery
    job = functools.partial(_grade_one_submission, grade, rubric, settings)
    # No check of the submission first: Gradescope needs results.json even for a bad upload.
    from grader.self_check import grade_here  # after the worker's pre-start: imports overlap it

    result, seconds, crashed = grade_here(job, args.submission)
    if overrides is not None:  # on top of what the code earned, recording both
        from grader.overrides import apply_overrides

        result = apply_overrides(result, overrides, rubric, args.student)
        if result.status != "graded" and overrides.of(args.student or result.submission.identity):
            print("the overrides are not applied: the submission was not graded", file=sys.stderr)
    if args.json is not None:
        atomic_write_text(args.json, result.to_json())
    if args.gradescope is not None:
        write_gradescope(
            args.gradescope,
            result,
            hidden_visibility=args.hidden_visibility,
            execution_time=seconds,
        )
    if args.junit is not None:
        from grader.exports.junit import write_junit

        write_junit(args.junit, [result])
    if args.markdown is not None:
        from grader.report.markdown import render_markdown

        atomic_write_text(args.markdown, render_markdown(result))
    if result.score is not None:
        print(
            f"{result.submission.identity}: {result.score.points:g} / {result.score.max_points:g}"
        )
    else:
        print(f"{result.submission.identity}: could not be graded: {result.reason}")
    print(sandbox)
    if crashed:
        return 1
    if args.strict and not (
        result.status == "graded" and all(c.status == "passed" for c in result.checks)
    ):
        return 1
    return 0


def cmd_gradescope(args: argparse.Namespace) -> int:
    _rubric(_existing(args.rubric, "a rubric file"))
    if args.wheel is not None:
        _existing(args.wheel, "the grader's wheel")
    from grader.autograder import AutograderError, build_autograder

    try:
        built = build_autograder(args.rubric, args.out, wheel=args.wheel)
    except AutograderError as error:
        raise UsageError(str(error)) from None
    print(f"Gradescope autograder: {built}")
    return 0


# ---------------------------------------------------------------------------
# Parser and entry point


def _seconds(text: str) -> float:
    """A time limit: 0 (no limit) or a finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no limit) or more seconds, got {text}")
    return value


def _check_batch_timeout(timeout: float, rubric: Rubric, settings: Any) -> None:
    """Refuse a batch limit that would cut a looping submission off before its probe's own
    limit does: the batch would then report the grader's failure instead of the student's."""
    if not timeout:
        return
    from grader.plan import time_bound

    bound = time_bound(rubric, getattr(settings, "limits", None) or Limits())
    if timeout < bound:
        raise UsageError(
            f"--timeout {timeout:g} is shorter than this rubric's own limits ({bound:g} s: the "
            "sandbox's start and every probe's timeout), so a submission that loops would be "
            "reported as the grader's failure instead of failing its check; use "
            f"--timeout {math.ceil(bound)} or more, or 0 for no limit."
        )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser(serve_options: bool = True) -> argparse.ArgumentParser:
    """The command line's parser. ``serve_options`` False: ``serve`` is listed with its help
    line only (main() hands its arguments to grader.serve.cli, whose parser imports
    SQLAlchemy: ~0.2 s that a cold grade-one would otherwise pay)."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="grader",
        description="Grade multi-layer perceptron assignments with evidence and next steps.",
        epilog="Run 'grader COMMAND --help' for a command's options and examples.",
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"grader {grader.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "check",
        help="check your own submission against the public checks",
        description="A student's self-check: runs the public checks and shows what to do next. "
        "Exit status 0 only when every public check passes.",
        epilog=EXAMPLES["check"],
        formatter_class=fmt,
    )
    p.add_argument("submission", type=Path, help="a notebook, a .py module, or a folder")
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--kit", type=Path, help=f"the student kit's folder (holds {KIT_RUBRIC}; default: here)"
    )
    source.add_argument("--rubric", type=Path, help="a rubric file instead of a kit")
    p.add_argument("--html", type=Path, metavar="OUT.html", help="also write an HTML report")
    p.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour in the terminal report: auto (when printing to a terminal and NO_COLOR "
        "is unset), always, never (default: auto)",
    )

    p = sub.add_parser(
        "kit",
        help="build the student kit from a rubric",
        description="Build the kit students use with 'grader check' (public checks only).",
        epilog=EXAMPLES["kit"],
        formatter_class=fmt,
    )
    p.add_argument(
        "--rubric", type=Path, required=True, help="the rubric TOML (its hidden checks stay out)"
    )
    p.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="the kit's folder (created)"
    )

    p = sub.add_parser(
        "grade",
        help="grade a folder of submissions (parallel, resumable)",
        description="Grade every submission in a folder: per-student results and reports, "
        "gradebook.csv and a class summary. Resumable: a re-run grades only what is "
        "missing or changed.",
        epilog=EXAMPLES["grade"],
        formatter_class=fmt,
    )
    p.add_argument(
        "folder",
        type=Path,
        help="one notebook, module or folder per student (notes and data files such as "
        ".md, .csv, .toml there are skipped)",
    )
    p.add_argument("--rubric", type=Path, required=True, help="the rubric TOML: checks, points")
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="OUT",
        help="folder for results/, reports/, gradebook.csv and the class summary (created; "
        "re-used to resume)",
    )
    p.add_argument("--workers", type=_positive_int, help="submissions at once (default: CPU count)")
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=900.0,
        metavar="SECONDS",
        help="limit for one whole submission (default 900; 0: none); at least the rubric's "
        "own probe limits",
    )
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="grade on a Dask cluster")
    p.add_argument(
        "--shared-out",
        action="store_true",
        help="with --scheduler: the Dask workers see --out (same machine or a shared file "
        "system), so each stores its own results and reports",
    )
    p.add_argument("--serial", action="store_true", help="grade in this process (debugging)")
    p.add_argument(
        "--only",
        nargs="+",
        metavar="ID",
        help="grade only these students (an id, or a file or folder name: alice, alice.ipynb)",
    )
    p.add_argument(
        "--regrade", nargs="+", metavar="ID", help="grade these again, cached or not (as --only)"
    )
    p.add_argument("--regrade-all", action="store_true", help="ignore every cached result")
    p.add_argument(
        "--overrides",
        type=Path,
        metavar="FILE",
        help="the instructor's adjustments (.toml or .csv; README): applied on top of the "
        "stored results in every output, never stored in them",
    )
    _min_tier_option(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--canvas-assignment", metavar="NAME", help="also write canvas.csv")
    p.add_argument("--canvas-id", metavar="ID", help="the Canvas assignment's id")
    p.add_argument("--canvas-roster", type=Path, metavar="CSV", help="Canvas gradebook export")
    p.add_argument(
        "--canvas-identity-column",
        default="SIS Login ID",
        choices=("ID", "SIS User ID", "SIS Login ID"),
        help="where a student's identity goes without a roster (default: SIS Login ID)",
    )

    p = sub.add_parser(
        "grade-one",
        help="grade one submission (Gradescope, CI)",
        description="Grade one submission with every check and write the requested files.",
        epilog=EXAMPLES["grade-one"],
        formatter_class=fmt,
    )
    p.add_argument("submission", type=Path, help="a notebook, a .py module, or a folder")
    p.add_argument("--rubric", type=Path, required=True, help="the rubric TOML: every check runs")
    p.add_argument("--json", type=Path, metavar="OUT", help="the full result (JSON)")
    p.add_argument("--gradescope", type=Path, metavar="OUT", help="Gradescope's results.json")
    p.add_argument("--junit", type=Path, metavar="OUT", help="JUnit XML (public view)")
    p.add_argument(
        "--markdown", type=Path, metavar="OUT", help="a Markdown report (public view), e.g. for CI"
    )
    p.add_argument(
        "--hidden-visibility",
        choices=[v for v in VISIBILITIES if v != "visible"],
        default="after_published",
        help="Gradescope visibility of hidden checks (default: after_published)",
    )
    p.add_argument("--strict", action="store_true", help="exit 1 unless every check passed")
    p.add_argument(
        "--overrides",
        type=Path,
        metavar="FILE",
        help="the instructor's adjustments (.toml or .csv; README), applied to every output",
    )
    p.add_argument(
        "--student",
        metavar="NAME",
        help="the name the overrides file gives this submission (default: its file or folder name)",
    )
    p.add_argument(
        "--memory",
        type=_positive_int,
        metavar="MB",
        help="memory limit of each sandboxed process in MB (address space; default 4096); "
        "keep it under the machine's, e.g. 512 in Gradescope's default 768 MB",
    )

    _min_tier_option(p)

    p = sub.add_parser(
        "gradescope",
        help="build the Gradescope autograder zip from a rubric",
        description="Build the autograder zip Gradescope takes: setup.sh, run_autograder, "
        "the rubric and the grader's wheel (built now from this checkout), nothing else.",
        epilog=EXAMPLES["gradescope"],
        formatter_class=fmt,
    )
    p.add_argument("--rubric", type=Path, required=True, help="the full rubric (hidden checks too)")
    p.add_argument("--out", type=Path, required=True, metavar="ZIP", help="where to write the zip")
    p.add_argument(
        "--wheel",
        type=Path,
        metavar="WHL",
        help="a ready-made wheel of the grader (default: build one)",
    )
    # listed here for --help; main() hands every argument after "serve" to grader.serve.cli
    serve_help = "the hosted grading service, and its tokens (grader serve --help)"
    if not serve_options:
        if importlib.util.find_spec("grader.serve") is not None:  # a kit's grader has none
            sub.add_parser("serve", help=serve_help, add_help=False)
        return parser
    try:
        from grader.serve.cli import build_parser as serve_parser
    except ImportError:
        return parser
    sub.add_parser("serve", help=serve_help, parents=[serve_parser(add_help=False)], add_help=False)
    return parser


def _min_tier_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--min-tier",
        choices=TIERS,
        help="refuse to grade below this sandbox tier (bwrap > uid > plain; docs/threat-model.md)",
    )


def main(argv: Sequence[str] | None = None, *, grade_fn: GradeSubmission | None = None) -> int:
    """Run the command line; returns the exit status.

    ``grade_fn`` replaces grader.grade.grade_submission (same signature), e.g. in tests.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    one_blas_thread(os.environ)  # before numpy loads, here and in every process we start
    parser = build_parser(serve_options=False)  # "serve" never reaches this parser
    if not argv:  # a newcomer's first try: the commands and what they do, not just a usage line
        parser.print_help()
        return 2
    if argv[0] == "serve":  # its own subcommands and options: one subpackage per command
        try:
            from grader.serve.cli import main as serve_main
        except ImportError as error:
            return _fail(f"this installation has no grading service ({error})")
        return serve_main(argv[1:])
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return cmd_check(args, grade_fn)
        if args.command == "kit":
            return cmd_kit(args, grade_fn)
        if args.command == "grade":
            return cmd_grade(args, grade_fn, argv)
        if args.command == "gradescope":
            return cmd_gradescope(args)
        return cmd_grade_one(args, grade_fn)
    except (UsageError, SandboxUnavailableError) as error:
        return _fail(str(error))
    except RuntimeError as error:
        if not _executor_unavailable(error):
            raise
        return _fail(str(error))
    except SubmissionError as error:
        return _fail(error.reason)
    except ValueError as error:  # a RubricError; --only / --regrade naming nobody, a bad roster
        return _fail(str(error))
    except OSError as error:
        return _fail(f"{error.filename or ''}: {error.strerror or error}".lstrip(": "))
    except KeyboardInterrupt:
        print("stopped.", file=sys.stderr)
        return 130


def run() -> NoReturn:
    """The program (the ``grader`` script, ``python -m grader``): :func:`main`, then exit.

    After ``grade-one`` (the cold path: one submission per fresh interpreter) the exit runs
    the atexit handlers (the sandbox's workers are closed there), flushes the output and
    ends the process without the interpreter's teardown of every module and object,
    ~30-100 ms that change nothing once the results are written."""
    argv = sys.argv[1:]
    status = main(argv)
    if argv[:1] == ["grade-one"] and threading.active_count() == 1:
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # closed by the reader
                stream.flush()
        os._exit(status)
    raise SystemExit(status)


def _executor_unavailable(error: BaseException) -> bool:
    """An executor that cannot run here (bad input: one sentence). Only a command that
    imported the executors (``grade``) can raise one; ``grade-one`` never imports them."""
    executors = sys.modules.get("grader.executors")
    return executors is not None and isinstance(error, executors.ExecutorUnavailableError)


def _fail(message: str) -> int:
    print(f"grader: error: {message}", file=sys.stderr)
    return 2
