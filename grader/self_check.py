"""A student's self-check from a kit: the kit's entry point (what ``grader.kit`` ships is
this module's import closure, and nothing else).

    python check.py my_notebook.ipynb [--html report.html]   the kit's launcher: :func:`main`
    from check import check; check()                         a notebook cell: :func:`check`

Both grade with :func:`grader.kit_check.grade_with_kit` and the default settings, as
``grader check --kit`` does (it calls :func:`run`), so the three give the same verdicts.
The terminal check ends with the points the public checks gave and the points the
instructor's hidden checks add (:func:`points_line`), and exits 0 only when every public
check passed (:func:`exit_status`).

In a notebook, :func:`check` grades the notebook's file as last saved (said before the
report): the path given, else the one the kernel was started for (``__session__``,
``__vsc_ipynb_file__``, ``JPY_SESSION_NAME``), else the only notebook in the working
folder. The report is shown inline (HTML in an isolated frame, with the terminal text
as the plain-text form) where IPython can display it, as text otherwise.
"""

from __future__ import annotations

import argparse
import html as html_text
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grader
from grader.atomic import atomic_write_text
from grader.kit_check import Kit, KitError, grade_with_kit, is_kit, load_kit
from grader.pipeline import GradeSettings, code_choice
from grader.results import GradeResult, SubmissionRef, grader_failure_reason
from grader.rubric import Rubric
from grader.submission import SubmissionError, load_submission

NOTEBOOK_SUFFIX = ".ipynb"
# Names a kernel's front end sets to the notebook's path: Jupyter (ipykernel >= 6.22 with
# jupyter_server >= 2), VS Code; and the environment variable jupyter_server gives a kernel.
_SESSION_NAMES = ("__session__", "__vsc_ipynb_file__")
_SESSION_ENV = "JPY_SESSION_NAME"


class CheckError(ValueError):
    """Bad input to the self-check (a missing file, no notebook found): one sentence."""


# ---------------------------------------------------------------------------
# Shared with `grader check`


def points_line(result: GradeResult, hidden_points: float | None) -> str:
    """What the public checks gave, and what the instructor's hidden checks add (None: unknown)."""
    if result.score is None:
        return ""
    here = f"{result.score.points:g} of {result.score.max_points:g} points here"
    if hidden_points is None:
        return here + "."
    if hidden_points <= 0:
        return here + "; the instructor's grading has no hidden checks besides these."
    total = result.score.max_points + hidden_points
    return (
        f"{here}; the instructor's hidden checks add {hidden_points:g} more "
        f"({total:g} points in all)."
    )


def exit_status(result: GradeResult) -> int:
    """0 only when the submission was graded and every public check passed."""
    passed = (
        result.status == "graded"
        and bool(result.checks)
        and all(c.status == "passed" for c in result.checks)
    )
    return 0 if passed else 1


def grade_here(job: Callable[[Path], GradeResult], path: Path) -> tuple[GradeResult, float, bool]:
    """Grade in this process; a grader crash becomes an ungradable result (and crashed=True)."""
    start = time.monotonic()
    try:
        return job(path), time.monotonic() - start, False
    except Exception as error:  # the pipeline should never raise; if it does, still answer
        identity = path.name if path.is_dir() else path.stem
        reason = grader_failure_reason(error)
        result = GradeResult(SubmissionRef(identity, str(path)), "ungradable", reason=reason)
        return result, time.monotonic() - start, True


def show(result: GradeResult, hidden_points: float | None, color: bool, html: Path | None) -> int:
    """Print the terminal report and the points line (and write the HTML report); the exit status."""
    from grader.report.terminal import render_terminal  # grade-one (grade_here) needs none

    sys.stdout.write(render_terminal(result, color))
    line = points_line(result, hidden_points)
    if line:
        print(line)
    if html is not None:
        from grader.report.html import render_html  # jinja2 costs a check without --html ~30 ms

        atomic_write_text(html, render_html(result))
        print(f"HTML report: {html}")
    return exit_status(result)


def hidden_points(kit: Kit) -> float | None:
    """The points of the instructor's hidden checks, as the kit's builder recorded them."""
    value = kit.manifest.get("hidden_points")
    return float(value) if isinstance(value, int | float) else None


def checked_submission(path: Path, rubric: Rubric) -> Path:
    """``path`` if it is a submission the rubric's rule can grade; CheckError or
    SubmissionError (one sentence) otherwise."""
    if not os.path.lexists(path):
        raise CheckError(f"{path} does not exist (expected a notebook, a .py module, or a folder).")
    load_submission(path, choice=code_choice(rubric))  # the folder's rule, as the grading's
    return path


def run(submission: Path, kit: Path | Kit, html: Path | None = None, color: bool = False) -> int:
    """The terminal self-check of ``submission`` with ``kit``: print, write, exit status."""
    loaded = kit if isinstance(kit, Kit) else load_kit(kit)
    path = checked_submission(submission, loaded.rubric)
    result, _, _ = grade_here(lambda p: grade_with_kit(p, loaded, GradeSettings()), path)
    return show(result, hidden_points(loaded), color, html)


def _use_color(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def own_kit() -> Path:
    """The kit this grader was shipped in (its folder holds ``grader/``); CheckError elsewhere."""
    root = Path(grader.__file__).resolve().parent.parent
    if not is_kit(root):
        raise CheckError(
            "this grader is not a student kit's copy: pass the kit's folder (kit=...) "
            "or use the kit's own check.py"
        )
    return root


def main(argv: Sequence[str] | None = None, kit: Path | None = None) -> int:
    """The kit's command line (``python check.py NOTEBOOK [--html OUT.html]``); exit status
    0 when every public check passed, 1 otherwise, 2 on bad input (one sentence)."""
    parser = argparse.ArgumentParser(
        prog="check.py",
        description="Check your submission with the assignment's public checks, offline.",
    )
    parser.add_argument("submission", type=Path, help="a notebook, a .py module, or a folder")
    parser.add_argument("--html", type=Path, metavar="OUT.html", help="also write an HTML report")
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour in the report: auto (a terminal without NO_COLOR), always, never",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run(args.submission, kit or own_kit(), args.html, _use_color(args.color))
    except SubmissionError as error:
        return _fail(str(error))
    except (CheckError, KitError) as error:
        return _fail(str(error))
    except OSError as error:
        return _fail(f"{error.filename or ''}: {error.strerror or error}".lstrip(": "))
    except KeyboardInterrupt:
        print("stopped.", file=sys.stderr)
        return 130


def _fail(message: str) -> int:
    print(f"check: error: {message}", file=sys.stderr)
    return 2


# ---------------------------------------------------------------------------
# In a notebook


def _kernel_namespace() -> dict[str, Any]:
    """The running IPython kernel's user namespace ({} outside IPython)."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if callable(get) else None
    return dict(getattr(shell, "user_ns", {}) or {})


def _session_paths() -> list[str]:
    names = _kernel_namespace()
    found = [str(names[n]) for n in _SESSION_NAMES if isinstance(names.get(n), str)]
    if os.environ.get(_SESSION_ENV):
        found.append(os.environ[_SESSION_ENV])
    return found


def find_notebook(notebook: Path | str | None = None, cwd: Path | None = None) -> Path:
    """The notebook to check: ``notebook`` if given, else the kernel's own, else the only
    ``.ipynb`` in ``cwd``; CheckError (one sentence, what to pass) when none is found."""
    here = Path.cwd() if cwd is None else cwd
    if notebook is not None:
        path = Path(notebook)
        path = path if path.is_absolute() else here / path
        if not path.exists():
            raise CheckError(f"{notebook} does not exist (from {here}).")
        return path
    for name in _session_paths():
        # a front end gives the path absolute, or relative to the server's root folder,
        # of which the kernel's working folder is usually a subfolder
        candidates = (
            [Path(name)] if Path(name).is_absolute() else [here / name, here / Path(name).name]
        )
        for path in candidates:
            if path.suffix == NOTEBOOK_SUFFIX and path.is_file():
                return path
    notebooks = sorted(p for p in here.glob(f"*{NOTEBOOK_SUFFIX}") if p.is_file())
    if len(notebooks) == 1:
        return notebooks[0]
    which = "no notebook" if not notebooks else f"{len(notebooks)} notebooks"
    raise CheckError(
        f"cannot tell which notebook to check ({which} in {here}): "
        'pass its path, e.g. check("lab3.ipynb")'
    )


def saved_note(path: Path) -> str:
    """The sentence that says which version is checked: the file as last saved."""
    saved = time.strftime("%H:%M:%S", time.localtime(path.stat().st_mtime))
    return (
        f"Checking {path.name} as last saved (at {saved}): save the notebook first "
        "(Ctrl-S / Cmd-S) to check your latest changes."
    )


def _display(html: str, text: str) -> bool:
    """Show one output with an HTML and a plain-text form; False outside a kernel."""
    if not _kernel_namespace():
        return False
    try:
        from IPython.display import display  # in a kernel; the kit itself does not need it
    except ImportError:
        return False
    display({"text/html": html, "text/plain": text}, raw=True)
    return True


def check(
    notebook: Path | str | None = None,
    kit: Path | str | None = None,
    html: bool = True,
) -> GradeResult:
    """Grade the notebook you are working in with the kit's public checks and show the report.

    notebook : its path (default: the kernel's notebook, else the only one in this folder)
    kit      : the kit's folder (default: the kit this grader came in)
    html     : show the HTML report in the notebook (else the terminal text)

    The notebook's file is graded as last saved, in a separate sandboxed process, with
    the verdicts of ``python check.py`` and ``grader check --kit``.
    """
    path = find_notebook(notebook)
    loaded = load_kit(kit if kit is not None else own_kit())
    checked_submission(path, loaded.rubric)
    note = saved_note(path)
    result, _, _ = grade_here(lambda p: grade_with_kit(p, loaded, GradeSettings()), path)
    line = points_line(result, hidden_points(loaded))
    from grader.report.html import render_html
    from grader.report.terminal import render_terminal

    text = "\n".join(s for s in (note, render_terminal(result, False).rstrip(), line) if s)

    shown = html and _display(_inline_html(note, render_html(result), line), text)
    if not shown:
        print(text)
    return result


def _inline_html(note: str, page: str, line: str) -> str:
    """The report page in a frame of its own (its styles stay out of the notebook's)."""
    return (
        f"<p><strong>{html_text.escape(note)}</strong></p>"
        f'<iframe title="self-check report" srcdoc="{html_text.escape(page, quote=True)}" '
        'style="width:100%;height:720px;border:1px solid #ccc" sandbox></iframe>'
        f"<p>{html_text.escape(line)}</p>"
    )


__all__ = ["CheckError", "check", "find_notebook", "main", "points_line", "run"]
