"""Grade every published version of the course's and the textbook's MLP code with the
shipped rubrics, and print one Markdown row per (version, class, rubric).

    python tools/grade_real_versions.py COURSE_MIRROR [TEXTBOOK_MIRROR ...] [--out TABLE.md]

COURSE_MIRROR is a git directory of eclarson/MachineLearningNotebooks (no work tree
needed); each TEXTBOOK_MIRROR one of rasbt's book repositories, whose NeuralNetMLP file is
found at its known path. Every version of the course's 07, 07a, 08 and 08a notebooks in
the history (``git log``; renames are not followed, a mirror may lack old blobs) is extracted with ``git show`` into a temporary folder
OUTSIDE this repository (third-party code is never copied into it) and graded as a
student's submission. Deterministic (the rubrics' seeds, commits in history order) and
quick to rerun; CI never runs it (it needs the mirrors). docs/real-code.md holds the table
and, per row, why the verdict is right.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.grade import GradeSettings, close_workers, grade_submission  # noqa: E402
from grader.rubric import Rubric  # noqa: E402
from grader.rubric_file import load_rubric  # noqa: E402

COURSE_NOTEBOOKS = (
    "07. MLP Neural Networks.ipynb",
    "07a. MLP Neural Networks with Bias.ipynb",
    "08. Practical_NeuralNets.ipynb",
    "08a. Practical_NeuralNets with Bias.ipynb",
)
# the shipped rubrics that bind a course class, by the class they bind
COURSE_RUBRICS = (
    "mlp_backprop_course.toml",
    "mlp_backprop_course_cross_entropy.toml",
    "mlp_backprop_course_folded.toml",
)
TEXTBOOK_PATHS = ("code/ch12/neuralnet.py", "ch12/neuralnet.py", "ch11/neuralnet.py")
TEXTBOOK_RUBRIC = "textbook_mlp.toml"
SETTINGS = GradeSettings(warm=True, figures=False)


def git(mirror: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(mirror), *args], check=True, capture_output=True, text=True
    ).stdout


def versions(mirror: Path, path: str) -> list[tuple[str, str]]:
    """(commit, path at that commit) of every version of ``path``, oldest first."""
    out = git(mirror, "log", "--format=%h", "--name-only", "--", path)
    pairs, commit = [], ""
    for line in out.splitlines():
        if not line.strip():
            continue
        if commit == "":
            commit = line.strip()
        else:
            pairs.append((commit, line.strip()))
            commit = ""
    return pairs[::-1]


def verdict(result: object) -> tuple[str, str]:
    """(score, verdict) of a GradeResult: the checks that did not pass, with the reason."""
    if result.status != "graded" or result.score is None:  # type: ignore[attr-defined]
        return "-", f"ungradable: {result.reason}"  # type: ignore[attr-defined]
    score = f"{result.score.points:g}/{result.score.max_points:g}"  # type: ignore[attr-defined]
    notes = []
    for c in result.checks:  # type: ignore[attr-defined]
        if c.status == "passed":
            continue
        named = f" ({c.diagnosis.name})" if c.diagnosis is not None else ""
        why = (c.reason or (c.evidence[0] if c.evidence else "")).replace("|", "/")
        notes.append(f"{c.check_id} {c.status}{named}: {why[:90]}")
    return score, "; ".join(notes) if notes else "full marks"


def row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def grade_course(mirror: Path, rubrics: dict[str, Rubric], tmp: Path) -> list[str]:
    rows = []
    for notebook in COURSE_NOTEBOOKS:
        for commit, path in versions(mirror, notebook):
            try:
                text = git(mirror, "show", f"{commit}:{path}")
            except subprocess.CalledProcessError:  # deleted there, or a blob the mirror lacks
                continue
            dest = tmp / commit / Path(path).name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text, encoding="utf-8")
            graded = False
            for name, rubric in rubrics.items():
                cls = str(rubric.adapter.get("class", ""))
                if cls and f"class {cls}(" not in text:
                    continue
                result = grade_submission(dest, rubric, SETTINGS)
                if not cls:  # discovered: the class the grader bound, if any
                    cls = str((result.provenance.get("binding") or {}).get("class", "")) or "-"
                graded = True
                score, why = verdict(result)
                rows.append(
                    row(
                        "MachineLearningNotebooks",
                        commit,
                        notebook[:3].strip(". "),
                        cls,
                        name,
                        score,
                        why,
                    )
                )
            if not graded:
                rows.append(
                    row(
                        "MachineLearningNotebooks",
                        commit,
                        notebook[:3].strip(". "),
                        "-",
                        "-",
                        "-",
                        "no class a shipped rubric binds",
                    )
                )
    return rows


def grade_textbook(mirror: Path, rubric: Rubric, tmp: Path) -> list[str]:
    rows = []
    head = git(mirror, "rev-parse", "--short", "HEAD").strip()
    for path in TEXTBOOK_PATHS:
        try:
            text = git(mirror, "show", f"HEAD:{path}")
        except subprocess.CalledProcessError:
            continue
        dest = tmp / f"{mirror.parent.name}-{head}.py"
        dest.write_text(text, encoding="utf-8")
        score, why = verdict(grade_submission(dest, rubric, SETTINGS))
        rows.append(
            row(
                mirror.parent.name.split("+")[-1],
                head,
                path,
                "NeuralNetMLP",
                TEXTBOOK_RUBRIC,
                score,
                why,
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("course", type=Path, help="git directory of MachineLearningNotebooks")
    parser.add_argument(
        "textbooks", type=Path, nargs="*", help="git directories of the textbook's repositories"
    )
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    rubrics = {name: load_rubric(ROOT / "rubrics" / name) for name in COURSE_RUBRICS}
    lines = [
        row("repository", "commit", "notebook/file", "class", "rubric", "score", "verdict"),
        row(*["---"] * 7),
    ]
    try:
        with tempfile.TemporaryDirectory(prefix="real-versions-") as tmp:
            lines += grade_course(args.course, rubrics, Path(tmp))
            textbook = load_rubric(ROOT / "rubrics" / TEXTBOOK_RUBRIC)
            for mirror in args.textbooks:
                lines += grade_textbook(mirror, textbook, Path(tmp))
    finally:
        close_workers()
    table = "\n".join(lines) + "\n"
    print(table, end="")
    if args.out:
        args.out.write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
