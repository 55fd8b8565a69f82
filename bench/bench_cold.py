"""One submission graded cold: ``grader grade-one`` against a bare ``import numpy``.

    PYTHONPATH=. python bench/bench_cold.py              # 9 rounds, then where the time goes
    PYTHONPATH=. python bench/bench_cold.py --rounds 15 --no-phases

The path Gradescope and CI take, one submission per fresh interpreter: the template
notebook (``submissions/correct/template_ok.ipynb``) with the full rubric
(``rubrics/mlp_backprop.toml``). Every round times, in a rotating order, fresh
interpreters running

- ``python -c "import numpy"`` (the baseline: what any grader of numpy code pays),
- ``python -m grader grade-one NOTEBOOK --rubric RUBRIC`` (stdout and stderr captured),

after one warm-up round (the page cache; as root it also leaves the sandbox tier's
verdict in /var/cache/mlp-grader/verdicts, as any earlier run on the machine would).
It prints each one's median, and the median of the per-round ratios (goal: 0.3 s, about
3x the bare import). The machines are shared and noisy: read the ratio.

The grader's bytecode is compiled first (``compileall`` on ``grader/`` and
``reference/``), as an installed wheel has it: this environment may set
``PYTHONDONTWRITEBYTECODE``, and compiling ~70 modules from source would cost every
run ~0.2 s that no installation pays.

Then (unless ``--no-phases``) one more grade-one in this process's child with timestamps
around its phases: the imports, the tier's selection, the worker's pre-start, the
rubric, loading and preparing the notebook, the plan, the sandboxed job, the expected
values, the checks. Not a test; nothing asserts.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "submissions" / "correct" / "template_ok.ipynb"
RUBRIC = ROOT / "rubrics" / "mlp_backprop.toml"

# Run in a child interpreter by --phases: grade-one with its phases timed from the start.
PHASES = r"""
import time
T0 = time.perf_counter()
import sys
marks = []

def wrap(owner, name):
    inner = getattr(owner, name)
    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            marks.append((name, start - T0, time.perf_counter() - start))
    setattr(owner, name, timed)

import grader.cli as cli
imported = time.perf_counter() - T0
for name in ("_sandbox", "prestart", "_rubric", "_job"):
    wrap(cli, name)
import grader.sandbox.warm as warm
wrap(warm.WarmWorker, "_await_ready")  # how long the job waits for the pre-started worker

pipeline_of = cli._grade_submission

def timed_pipeline():
    # grade-one imports the pipeline lazily: its phases are timed once it has
    grade_submission = pipeline_of()
    import grader.reference_oracle as oracle
    import grader.pipeline as pipeline
    for name in ("load_submission", "prepare", "_run", "_judge", "score"):
        wrap(pipeline, name)
    for name in ("plan", "expectations"):
        wrap(oracle.ReferenceOracle, name)
    return grade_submission

cli._grade_submission = timed_pipeline
import contextlib, io
with contextlib.redirect_stdout(io.StringIO()):
    status = cli.main(["grade-one", sys.argv[1], "--rubric", sys.argv[2]])
print(f"  {'import grader.cli':<22} at {0:6.0f} ms  took {imported * 1000:6.1f} ms")
for name, start, took in sorted(marks, key=lambda m: m[1]):
    print(f"  {name:<22} at {start * 1000:6.0f} ms  took {took * 1000:6.1f} ms")
print(f"  {'main returned':<22} at {(time.perf_counter() - T0) * 1000:6.0f} ms (status {status})")
"""


def line(label: str, *values: object) -> None:
    print(f"  {label:<38} " + " ".join(str(v) for v in values), flush=True)


def environment() -> None:
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    line("load average", " ".join(f"{x:.2f}" for x in load))  # type: ignore[union-attr]
    line("sandbox tier ($GRADER_SANDBOX)", os.environ.get("GRADER_SANDBOX") or "strongest")
    line("PYTHONDONTWRITEBYTECODE", os.environ.get("PYTHONDONTWRITEBYTECODE") or "unset")


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=child_env())
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"!! {' '.join(cmd[:4])} ... failed ({done.returncode}): {done.stderr[-400:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--no-phases", action="store_true", help="skip the phase timestamps")
    args = parser.parse_args()
    environment()
    for folder in ("grader", "reference"):
        compileall.compile_dir(ROOT / folder, quiet=1)
    contenders = {
        "import numpy": [sys.executable, "-c", "import numpy"],
        "grade-one": [
            sys.executable,
            *("-m", "grader", "grade-one", str(NOTEBOOK), "--rubric", str(RUBRIC)),
        ],
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    ratios: list[float] = []
    names = list(contenders)
    for round_ in range(args.rounds + 1):
        order = names[round_ % 2 :] + names[: round_ % 2]
        measured = {name: timed(contenders[name]) for name in order}
        if round_:  # the first round warms the page cache (and, as root, the tier verdict)
            for name, seconds in measured.items():
                times[name].append(seconds)
            ratios.append(measured["grade-one"] / measured["import numpy"])
    print(f"\ncold grade-one, {args.rounds} rounds (median):")
    numpy, grade = statistics.median(times["import numpy"]), statistics.median(times["grade-one"])
    line('python -c "import numpy"', f"{numpy:.3f} s")
    line("grader grade-one (template, full rubric)", f"{grade:.3f} s   (goal: 0.3 s)")
    line("grade-one / import numpy", f"{statistics.median(ratios):.2f}x   (goal: about 3x)")
    fastest = f"{min(times['grade-one']):.3f} / {min(times['import numpy']):.3f} s"
    line("fastest grade-one / fastest numpy", fastest)
    if not args.no_phases:
        print("\nwhere one grade-one's time goes (one run, from the interpreter's first line):")
        done = subprocess.run(
            [sys.executable, "-c", PHASES, str(NOTEBOOK), str(RUBRIC)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=child_env(),
        )
        print(done.stdout.rstrip() or done.stderr[-800:])


if __name__ == "__main__":
    main()
