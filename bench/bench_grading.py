"""Benchmarks of the grader, each against a baseline measured in this same run.

    python bench/bench_grading.py               (10-15 minutes on 2 cores)
    python bench/bench_grading.py --quick       (fewer rounds, 20 submissions: ~2 minutes)
    python bench/bench_grading.py --only grade  (or sandbox, warm, batch)
    python bench/bench_grading.py --n 400       (submissions in the batch section)
    python bench/bench_grading.py --profile     (adds cProfile of one warm grade per notebook)

1. Sandbox overhead per submission: ``python -c "import numpy"`` (baseline) vs one cold
   sandboxed job with one trivial probe (grader.sandbox.run_job), plain and bwrap tiers.
2. Warm worker: the time until a notebook importing the scientific stack is loaded and
   has answered a trivial probe, in a warm worker (grader.sandbox.WarmWorker) vs a cold child.
3. Grading a notebook (grader.grade.grade_submission, full rubric, cold and warm) vs
   executing it with nbclient in a fresh kernel (what Otter and nbgrader do), with the
   time per pipeline phase.
4. Batch throughput: a few hundred copies and variants of the template notebook graded by
   grader.batch.run_batch as ``grader grade`` does, 2 local workers vs 1.

Contenders run interleaved (each round times every contender once, in a rotating order,
after an untimed warm-up round), and every ratio is the median of per-round ratios: a
change of machine load then hits all of them. Read the ratios, not the milliseconds.
This is not a test; nothing here asserts.

Only the standard library is imported at module level: the batch section's worker
processes (multiprocessing's forkserver) run this file again as ``__mp_main__``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runs from a checkout, installed or not

FIXTURES = ROOT / "bench" / "fixtures"
PROBE_MODULE = FIXTURES / "probe_sigmoid.py"
SAMPLES = ROOT / "submissions" / "correct"
RUBRICS = ROOT / "rubrics"
CASES = (  # (notebook, rubric) of section 3
    ("template_ok.ipynb", "mlp_backprop.toml"),
    ("course_separate_ok.ipynb", "mlp_backprop_course.toml"),
)
IMPORT_FIXTURES = ("imports_bare", "imports_typical", "imports_pyplot")
# What a warm worker could preload besides grader.sandbox.warm.PRELOAD: the submodules
# course notebooks import (measured in section 2). Used only for the "what if" lines.
EXTRA_PRELOAD = (
    "matplotlib.pyplot",
    "sklearn.datasets",
    "sklearn.metrics",
    "sklearn.model_selection",
    "sklearn.preprocessing",
)
GOAL_SANDBOX_MS = 50.0  # the sandbox adds less than this to a plain interpreter start
GOAL_WARM_MS = 50.0  # a warm notebook is ready to probe within this
GOAL_GRADE_RATIO = 0.1  # grading costs under a tenth of executing the notebook
GOAL_SECONDS_PER_SUBMISSION = 0.3  # per submission per core
GOAL_MINUTES_PER_1000 = 5.0  # 1,000 submissions on 2 cores
CLI_TIMEOUT = 900.0  # ``grader grade --timeout`` default


# ---------------------------------------------------------------------------
# Timing and printing


def interleaved(
    contenders: Mapping[str, Callable[[], object]], rounds: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Wall seconds of each contender per round, the order rotating every round.

    The first ``warmup`` rounds are run but not recorded (caches, lazy imports,
    worker start-up). A contender raises when its outcome is wrong.
    """
    names = list(contenders)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(warmup + rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            t0 = time.perf_counter()
            contenders[name]()
            elapsed = time.perf_counter() - t0
            if r >= warmup:
                times[name].append(elapsed)
    return times


def med(values: Sequence[float]) -> float:
    return statistics.median(values)


def ratio(a: Sequence[float], b: Sequence[float]) -> float:
    """Median of the per-round ratios a/b."""
    return med([x / y for x, y in zip(a, b, strict=True)])


def diff(a: Sequence[float], b: Sequence[float]) -> float:
    """Median of the per-round differences a - b (seconds)."""
    return med([x - y for x, y in zip(a, b, strict=True)])


def ms(seconds: float) -> str:
    return f"{1e3 * seconds:8.1f} ms"


def line(label: str, value: str = "", note: str = "") -> None:
    print(f"  {label:50s} {value}  {note}".rstrip())


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def heading(text: str) -> None:
    print()
    print(text)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[Path]:
    """Send fd 2 (and so a Jupyter kernel's start-up warnings) to a file while inside."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.NamedTemporaryFile(prefix="bench-stderr-", delete=False) as f:
        log = Path(f.name)
    fd = os.open(log, os.O_WRONLY | os.O_TRUNC)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        yield log
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        log.unlink(missing_ok=True)


# ---------------------------------------------------------------------------
# Environment


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def environment() -> None:
    import numpy as np

    from grader.sandbox.tiers import as_root, bwrap_status, detect_tier

    _, why = bwrap_status()
    blas = "?"
    with contextlib.suppress(Exception):
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{info.get('name')} {info.get('version')}"
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(
        "Grader benchmarks, " + datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    )
    line("python", f"{platform.python_version()} ({sys.executable})")
    line("platform", f"{platform.platform()}, {platform.processor() or platform.machine()}")
    line("cores", f"{os.cpu_count()} (usable by this process: {affinity})", f"load average {load}")
    line("numpy", f"{np.__version__} (BLAS: {blas})")
    stack = ", ".join(
        f"{d} {version(d)}"
        for d in ("scipy", "pandas", "scikit-learn", "matplotlib", "nbclient", "ipykernel")
    )
    line("scientific stack", stack)
    line(
        "sandbox tier available",
        detect_tier(),
        f"(bwrap: {why}{'; running as root' if as_root() else ''})",
    )
    for var in ("GRADER_SANDBOX", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OMP_NUM_THREADS"):
        if var in os.environ:
            line(f"${var}", os.environ[var])


# ---------------------------------------------------------------------------
# Jobs


def sigmoid_job(code: str) -> Any:
    """A sandbox job: ``code`` as the submission, one probe calling its ``sigmoid`` on 3 numbers."""
    import numpy as np

    from grader.sandbox import Job, OutputSpec, ProbeCall

    return Job(
        code=code,
        probes=(ProbeCall("p", "sigmoid", {}, ("x",), 10.0),),
        inputs={"x": np.array([-1.0, 0.0, 1.0])},
        probe_module=PROBE_MODULE,
        output_specs={"p": {"y": OutputSpec(shape=(3,))}},
    )


def checked(result: Any) -> Any:
    """The JobResult, or RuntimeError when its setup or probe did not succeed."""
    probe = result.probes[0]
    if result.setup_status != "ok" or probe.status != "ok":
        raise RuntimeError(
            f"the job did not run cleanly: setup {result.setup_status} {result.setup_error}; "
            f"probe {probe.status} {probe.error}"
        )
    return result


def notebook_code(path: Path) -> str:
    """The notebook's prepared source, as grade_submission would send it (definitions mode)."""
    from grader.prepare import prepare
    from grader.submission import load_submission

    return prepare(load_submission(path), "definitions").source


# ---------------------------------------------------------------------------
# 1. Sandbox overhead per submission


def bench_sandbox(rounds: int) -> None:
    from grader.sandbox import Limits, run_job
    from grader.sandbox.tiers import bwrap_command, bwrap_status, child_env, python_command

    heading("1. Sandbox overhead per submission (cold job, one trivial probe)")
    job = sigmoid_job(
        "import numpy as np\n\ndef sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-z))\n"
    )
    limits = Limits()
    home = tempfile.mkdtemp(prefix="bench-home-")
    plain_cmd = [*python_command(), "-c", "import numpy"]

    def run(cmd: list[str], env: dict[str, str]) -> None:
        subprocess.run(cmd, env=env, cwd=home, check=True, stdout=subprocess.DEVNULL)

    contenders: dict[str, Callable[[], object]] = {
        "python": lambda: run(plain_cmd, child_env(home)),
        "plain job": lambda: checked(run_job(job, limits, "plain")),
    }
    works, why = bwrap_status()
    if works:
        bwrap_cmd = [*bwrap_command([], [], "/tmp"), *plain_cmd]
        contenders["bwrap python"] = lambda: run(bwrap_cmd, child_env("/tmp"))
        contenders["bwrap job"] = lambda: checked(run_job(job, limits, "bwrap"))
    try:
        t = interleaved(contenders, rounds)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    base = t["python"]
    line(
        "python -c 'import numpy' (baseline)",
        ms(med(base)),
        "the child's interpreter, flags and environment, no sandbox",
    )
    over = diff(t["plain job"], base)
    line(
        "cold job, plain tier",
        ms(med(t["plain job"])),
        f"+{1e3 * over:.1f} ms ({ratio(t['plain job'], base):.2f}x); "
        f"goal +< {GOAL_SANDBOX_MS:g} ms: {verdict(1e3 * over < GOAL_SANDBOX_MS)}",
    )
    if not works:
        line("bwrap tier", "not measured", f"({why})")
        return
    over_b = diff(t["bwrap job"], base)
    line(
        "bwrap + python -c 'import numpy'",
        ms(med(t["bwrap python"])),
        f"+{1e3 * diff(t['bwrap python'], base):.1f} ms ({ratio(t['bwrap python'], base):.2f}x): "
        "the namespaces alone",
    )
    line(
        "cold job, bwrap tier",
        ms(med(t["bwrap job"])),
        f"+{1e3 * over_b:.1f} ms ({ratio(t['bwrap job'], base):.2f}x); "
        f"goal +< {GOAL_SANDBOX_MS:g} ms: {verdict(1e3 * over_b < GOAL_SANDBOX_MS)}",
    )
    line(
        "  of which the runner and its supervision",
        f"{1e3 * diff(t['bwrap job'], t['bwrap python']):8.1f} ms",
        "(job dir, plan, inputs, probe module, progress pipe, tree kill, validation)",
    )


# ---------------------------------------------------------------------------
# 2. Warm worker


def bench_warm(rounds: int) -> None:
    from grader.sandbox import Limits, WarmWorker, resolve_tier, run_job
    from grader.sandbox.warm import PRELOAD

    tier = resolve_tier()
    limits = Limits()
    heading(f"2. Warm worker: until a notebook is loaded and answers a trivial probe ({tier} tier)")
    jobs = {n: sigmoid_job(notebook_code(FIXTURES / f"{n}.ipynb")) for n in IMPORT_FIXTURES}
    empty = sigmoid_job("def sigmoid(z):\n    return z\n")
    extended = (*PRELOAD, *EXTRA_PRELOAD)
    workers = {
        "warm": WarmWorker(limits, tier, PRELOAD),
        "warm+": WarmWorker(limits, tier, extended),
    }
    try:
        for key, worker in workers.items():
            t0 = time.perf_counter()
            worker.start()
            what = "PRELOAD" if key == "warm" else "PRELOAD + EXTRA_PRELOAD"
            line(f"start a worker, preload = {what}", ms(time.perf_counter() - t0), "(once)")
        line("  PRELOAD", ", ".join(workers["warm"].preloaded))
        line("  EXTRA_PRELOAD (what if)", ", ".join(EXTRA_PRELOAD))
        contenders: dict[str, Callable[[], object]] = {
            "empty warm": lambda: checked(workers["warm"].run(empty)),
            "empty cold": lambda: checked(run_job(empty, limits, tier)),
        }
        for name, job in jobs.items():
            contenders[f"{name} cold"] = lambda job=job: checked(run_job(job, limits, tier))
            for key, worker in workers.items():
                contenders[f"{name} {key}"] = lambda job=job, w=worker: checked(w.run(job))
        t = interleaved(contenders, rounds)
    finally:
        for worker in workers.values():
            worker.close()
    print(
        f"  {'notebook':22s} {'cold child':>11s} {'warm':>11s} {'warm/cold':>9s}   "
        f"{'warm, +EXTRA':>12s}  goal: warm < {GOAL_WARM_MS:g} ms"
    )
    rows = [("no imports (floor)", "empty")] + [(n, n) for n in IMPORT_FIXTURES]
    for label, key in rows:
        cold, warm = t[f"{key} cold"], t[f"{key} warm"]
        plus = f"{ms(med(t[f'{key} warm+'])):>12s}" if f"{key} warm+" in t else f"{'':>12s}"
        goal = verdict(1e3 * med(warm) < GOAL_WARM_MS)
        plus_goal = (
            f" / +EXTRA {verdict(1e3 * med(t[f'{key} warm+']) < GOAL_WARM_MS)}"
            if f"{key} warm+" in t
            else ""
        )
        print(
            f"  {label:22s} {ms(med(cold)):>11s} {ms(med(warm)):>11s} {ratio(warm, cold):9.3f}   "
            f"{plus}  {goal}{plus_goal}"
        )
    print(
        "  (wall time in the parent: send the job, load the notebook's code, run the probe, "
        "return and validate the output)"
    )


# ---------------------------------------------------------------------------
# 3. Grading a notebook vs executing it


def engine_modules() -> list[Any]:
    """The modules holding the grading pipeline (grader.pipeline since the oracle split)."""
    import importlib

    found = []
    for name in ("grader.pipeline", "grader.reference_oracle"):
        with contextlib.suppress(ImportError):
            found.append(importlib.import_module(name))
    return found


class PhaseTimer:
    """Wraps the pipeline's functions where grade_submission looks them up, to time each phase.

    Top-level phases do not nest, so with "rest" they add up to the call; the indented
    ones are inside the phase above them. A name the grader no longer has is skipped.
    """

    TOP = (
        ("load", "load_submission"),
        ("prepare", "prepare"),
        ("plan (reference)", "make_plan"),
        ("sandbox job", "_run"),
        ("outputs -> canonical", "_views"),
        ("expected values + candidates (reference)", "reference_expectations"),
        ("checks", "_judge"),
        ("score", "score"),
        ("figures", "_figures"),
    )
    SUB = (
        ("  expected values", "expected_outputs"),
        ("  diagnosis candidates", "candidates"),
        ("  penalty gradients", "penalty_gradient"),
        ("  compare + evaluate", "evaluate_all"),
    )
    REST = "rest (provenance, notes, result)"

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {}
        self.current: dict[str, float] = {}

    def _wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.current[label] = self.current.get(label, 0.0) + time.perf_counter() - t0

        return timed

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        import grader.expectations

        patched: list[tuple[object, str, object]] = []
        targets = [(label, name, engine_modules()) for label, name in self.TOP]
        for label, name in self.SUB:
            owners = [grader.expectations] if name != "evaluate_all" else engine_modules()
            targets.append((label, name, owners))
        for label, name, owners in targets:
            for owner in owners:
                if hasattr(owner, name):
                    original = getattr(owner, name)
                    patched.append((owner, name, original))
                    setattr(owner, name, self._wrap(label, original))
        try:
            yield
        finally:
            for owner, name, original in reversed(patched):
                setattr(owner, name, original)

    def call(self, fn: Callable[[], Any]) -> Any:
        self.current = {}
        t0 = time.perf_counter()
        out = fn()
        total = time.perf_counter() - t0
        top = sum(self.current.get(label, 0.0) for label, _ in self.TOP)
        self.current[self.REST] = total - top
        self.current["total"] = total
        for k, v in self.current.items():
            self.seconds.setdefault(k, []).append(v)
        return out

    def labels(self) -> list[str]:
        order = [label for label, _ in self.TOP]
        exp = [label for label, name in self.SUB if name != "evaluate_all"]
        at = order.index("expected values + candidates (reference)") + 1
        order[at:at] = exp
        order.insert(order.index("checks") + 1, "  compare + evaluate")
        return [label for label in [*order, self.REST, "total"] if label in self.seconds]


def nbclient_execute(path: Path) -> None:
    """Execute the notebook in a fresh python3 kernel, as Otter and nbgrader do."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="bench-nb-") as cwd, quiet_stderr() as log:
        try:
            NotebookClient(
                nb, kernel_name="python3", resources={"metadata": {"path": cwd}}
            ).execute()
        except Exception:
            sys.__stdout__.write(log.read_text(errors="replace")[-2000:])
            raise


def bench_grade(rounds: int, profile: bool) -> None:
    from grader.grade import GradeSettings, close_workers, grade_submission
    from grader.rubric_file import load_rubric
    from grader.sandbox import Limits, WarmWorker, resolve_tier
    from grader.sandbox.warm import PRELOAD

    tier = resolve_tier()
    heading(f"3. Grading a notebook (full rubric, {tier} tier) vs executing it with nbclient")
    try:
        import nbclient  # noqa: F401
    except ImportError as e:
        nb_missing: str | None = f"nbclient is not installed ({e})"
    else:
        nb_missing = None
    cold, warm = GradeSettings(warm=False), GradeSettings(warm=True)
    # "What if" the worker preloaded EXTRA_PRELOAD too: a worker registered under the
    # explicit tier's key (the default settings use tier=None, another key).
    plus = GradeSettings(warm=True, tier=tier)
    registry = [
        m._WORKERS for m in engine_modules() if isinstance(getattr(m, "_WORKERS", None), dict)
    ]
    if registry:
        # under the full preload's key: the lean worker (numpy-only code) is left as it is
        registry[0][(plus.tier, plus.limits, PRELOAD)] = WarmWorker(
            Limits(), tier, (*PRELOAD, *EXTRA_PRELOAD)
        )
    else:
        plus = None  # type: ignore[assignment]

    lost: dict[str, int] = {}  # "notebook: check status" -> count, over every timed grade

    def grade(path: Path, rubric: Any, settings: Any) -> Any:
        result = grade_submission(path, rubric, settings)
        if result.status != "graded":
            raise RuntimeError(f"{path.name} could not be graded: {result.reason}")
        for c in result.checks:  # a correct sample should pass all; say so, keep timing
            if c.status != "passed":
                key = f"{path.stem}: {c.check_id} {c.status}"
                lost[key] = lost.get(key, 0) + 1
        return result

    try:
        for notebook, rubric_name in CASES:
            path, rubric = SAMPLES / notebook, load_rubric(RUBRICS / rubric_name)
            probe = grade(path, rubric, cold)
            print(
                f"  {notebook} with {rubric_name}: {len(probe.checks)} checks, "
                f"{probe.score.points:g}/{probe.score.max_points:g} points"
            )
            contenders: dict[str, Callable[[], object]] = {
                "cold": lambda p=path, r=rubric: grade(p, r, cold),
                "warm": lambda p=path, r=rubric: grade(p, r, warm),
            }
            if plus is not None:
                contenders["warm+"] = lambda p=path, r=rubric: grade(p, r, plus)
            if nb_missing is None:
                contenders["nbclient"] = lambda p=path: nbclient_execute(p)
            t = interleaved(contenders, rounds)
            base = t.get("nbclient")
            if base is not None:
                line("nbclient, fresh kernel, execute all (baseline)", ms(med(base)))
            else:
                line("nbclient", "not measured", f"({nb_missing})")
            for key, label in (
                ("cold", "grade_submission, cold child"),
                ("warm", "grade_submission, warm worker"),
                ("warm+", "  what if the worker preloaded EXTRA_PRELOAD"),
            ):
                if key not in t:
                    continue
                note = f"per submission: {verdict(med(t[key]) < GOAL_SECONDS_PER_SUBMISSION)}"
                if base is not None:
                    r = ratio(t[key], base)
                    note = (
                        f"{r:.3f} of nbclient (goal < {GOAL_GRADE_RATIO:g}: "
                        f"{verdict(r < GOAL_GRADE_RATIO)}); " + note
                    )
                line(label, ms(med(t[key])), note)
            phases(path, rubric, cold, warm, max(rounds, 3))
            if profile:
                profile_one(path, rubric, warm)
        if lost:
            found = ", ".join(f"{k} x{v}" for k, v in lost.items())
            line("checks a correct sample did not pass", found)
    finally:
        close_workers()


def phases(path: Path, rubric: Any, cold: Any, warm: Any, reps: int) -> None:
    """Median time per pipeline phase, cold and warm (graded again with wrappers installed)."""
    from grader.grade import grade_submission

    timers = {"cold": PhaseTimer(), "warm": PhaseTimer()}
    for timer in timers.values():
        with timer.installed():
            pass  # installs and restores once: a missing name fails here, not mid-round
    for _ in range(reps):
        for key, settings in (("cold", cold), ("warm", warm)):
            with timers[key].installed():
                timers[key].call(lambda s=settings: grade_submission(path, rubric, s))
    print(f"    {'phase (median of ' + str(reps) + ')':46s} {'cold':>11s} {'warm':>11s}")
    for label in timers["warm"].labels():
        c = med(timers["cold"].seconds.get(label, [0.0]))
        w = med(timers["warm"].seconds.get(label, [0.0]))
        print(f"    {label:46s} {ms(c):>11s} {ms(w):>11s}")


def profile_one(path: Path, rubric: Any, warm: Any) -> None:
    import cProfile
    import pstats

    from grader.grade import grade_submission

    grade_submission(path, rubric, warm)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(3):
        grade_submission(path, rubric, warm)
    prof.disable()
    print(f"    cProfile of 3 warm grades of {path.name}, by cumulative time:")
    pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(25)


# ---------------------------------------------------------------------------
# 4. Batch throughput


def _edit(old: str, new: str) -> Callable[[str], str | None]:
    return lambda src: src.replace(old, new) if old in src else None


# Variants of the template notebook, each a change of one code cell's source. A mix
# like a real class: mostly right, some with the course's typical bugs, one that crashes.
VARIANTS: dict[str, Callable[[str], str | None]] = {
    "ok": lambda src: src,
    "sign_flipped": _edit("V = -2 * (Y - A[L])", "V = 2 * (Y - A[L])"),
    "no_penalty_gradient": _edit(' + C * params[f"W{l}"]', ""),
    "compounding_cooling": _edit("eta0 / (1 + d * epoch)", "eta0 / (1 + d) ** epoch"),
    "shape_error": _edit("A.append(sigmoid(Z))", "A.append(sigmoid(Z.T))"),
}
MIX = (
    *("ok", "sign_flipped", "ok", "no_penalty_gradient", "ok"),
    *("compounding_cooling", "ok", "shape_error", "ok", "ok"),
)


def make_class(folder: Path, n: int) -> tuple[list[Path], dict[str, int]]:
    """``n`` notebooks in ``folder``: copies and variants of the template notebook."""
    document = json.loads((SAMPLES / "template_ok.ipynb").read_text(encoding="utf-8"))
    made: dict[str, dict] = {}
    for name, edit in VARIANTS.items():
        doc = json.loads(json.dumps(document))
        changed = name == "ok"
        for cell in doc["cells"]:
            if cell["cell_type"] != "code":
                continue
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            new = edit(src)
            if new is not None and new != src:
                cell["source"] = new
                changed = True
        if changed:
            made[name] = doc  # a variant whose anchor text is gone is left out
    paths, counts = [], {}
    mix = [v for v in MIX if v in made]
    for i in range(n):
        variant = mix[i % len(mix)]
        path = folder / f"student{i:04d}_{variant}.ipynb"
        path.write_text(json.dumps(made[variant]), encoding="utf-8")
        paths.append(path)
        counts[variant] = counts.get(variant, 0) + 1
    return paths, counts


def stop_forkserver() -> bool:
    """Stop multiprocessing's forkserver, so the next batch starts (and preloads) its own.

    ``grader grade`` runs one batch per process, so each batch here should pay the
    server's start-up too; and the server reads its preload list only when it starts.
    """
    import multiprocessing.forkserver as fs

    stop = getattr(getattr(fs, "_forkserver", None), "_stop", None)
    if stop is None:
        return False
    stop()
    return True


def bench_batch(n: int, rounds: int) -> None:
    from grader.batch import BatchOutputs, GradeJob, run_batch
    from grader.grade import GradeSettings, close_workers, grade_submission
    from grader.rubric_file import load_rubric

    outputs = BatchOutputs(class_page=False)  # what ``grader grade`` writes per result
    rubric_path = RUBRICS / "mlp_backprop.toml"
    rubric = load_rubric(rubric_path)
    heading(
        f"4. Batch throughput: {n} template notebooks, run_batch(executor='pool'), "
        "GradeSettings() as `grader grade`"
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    saved_path = os.environ.get("PYTHONPATH", "")
    try:
        folder = tmp / "submissions"
        folder.mkdir()
        paths, counts = make_class(folder, n)
        line("submissions", ", ".join(f"{k} x{v}" for k, v in counts.items()))
        line(
            "per result",
            "result JSON + HTML and Markdown reports (written by the workers)",
            f"(timeout {CLI_TIMEOUT:g} s, as the CLI)",
        )
        job = GradeJob.from_file(grade_submission, rubric_path, GradeSettings())
        # The "what if": the same job, but the forkserver imports the whole pipeline and fills
        # its per-process caches before it forks (bench/fixtures/bench_preload.py).
        preloaded = GradeJob.from_file(grade_submission, rubric_path, GradeSettings())
        object.__setattr__(preloaded, "__module__", "bench_preload")
        # The forkserver is a fresh `python -c` (3.11 ignores the sys.path it is sent):
        # it finds bench_preload through the environment it inherits.
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FIXTURES), saved_path]))
        runs = [0]

        def batch(chunk: Sequence[Path], workers: int, grade: Any, executor: str = "local") -> Any:
            runs[0] += 1
            stop_forkserver()
            summary = run_batch(
                chunk,
                grade,
                tmp / f"out-{runs[0]}",  # a fresh folder: nothing cached is reused
                executor=executor,
                workers=workers,
                timeout=CLI_TIMEOUT,
                progress=False,
                outputs=outputs,
                rubric=rubric,
            )
            if summary.failed or summary.pending or summary.finished != len(chunk):
                raise RuntimeError(
                    f"the batch did not finish cleanly: {summary.describe()}; {summary.failures[:2]}"
                )
            return summary

        # `grader grade` now runs the pool executor with warm sandbox workers
        warm_job = GradeJob.from_file(grade_submission, rubric_path, GradeSettings(warm=True))
        kinds = {
            "2 workers": (2, warm_job, "pool"),
            "1 worker": (1, warm_job, "pool"),
            "local, 2 workers": (2, job, "local"),
        }
        size = -(-n // rounds)
        chunks = [paths[i : i + size] for i in range(0, n, size)]  # each holds whole periods of MIX
        rate: dict[str, list[float]] = {k: [] for k in kinds}
        wall = dict.fromkeys(kinds, 0.0)
        full_marks = 0
        lost: dict[str, int] = {}  # check and status -> count, over correct notebooks
        names = list(kinds)
        for i, chunk in enumerate(chunks):
            shift = i % len(names)
            for kind in names[shift:] + names[:shift]:
                workers, grade, executor = kinds[kind]
                t0 = time.perf_counter()
                summary = batch(chunk, workers, grade, executor)
                elapsed = time.perf_counter() - t0
                rate[kind].append(len(chunk) / elapsed)
                wall[kind] += elapsed
                if kind == "2 workers":
                    for r in summary.rows:
                        if not r.graded:
                            continue
                        if r.result.score.points == r.result.score.max_points:
                            full_marks += 1
                        elif r.identity.endswith("_ok"):  # a correct notebook that lost points
                            for c in r.result.checks:
                                if c.status != "passed":
                                    lost[f"{c.check_id} {c.status}"] = (
                                        lost.get(f"{c.check_id} {c.status}", 0) + 1
                                    )
        line(
            "outcome (2 workers)",
            f"{full_marks} of {n} with full marks",
            f"(expected {counts.get('ok', 0)}: the variants lose points)",
        )
        if lost:
            line(
                "  correct notebooks lost points on",
                ", ".join(f"{k} x{v}" for k, v in lost.items()),
            )
        labels = {
            "1 worker": "pool executor (grader grade), 1 worker",
            "2 workers": "pool executor (grader grade), 2 workers",
            "local, 2 workers": "  local executor (a process per submission), 2 workers",
        }
        for kind in ("1 worker", "2 workers", "local, 2 workers"):
            if kind in rate:
                r = med(rate[kind])
                line(
                    labels[kind],
                    f"{r:6.2f} submissions/s",
                    f"({1 / r:.3f} s each; {n} in {wall[kind]:.1f} s, {len(chunks)} interleaved chunks)",
                )
        line("2 workers / 1 worker", f"{ratio(rate['2 workers'], rate['1 worker']):6.2f}x")
        for kind, label in (
            ("2 workers", "1,000 submissions on 2 cores (extrapolated)"),
            ("local, 2 workers", "  the same with the local executor"),
        ):
            if kind in rate:
                minutes = 1000 / med(rate[kind]) / 60
                line(
                    label,
                    f"{minutes:6.1f} min",
                    f"goal < {GOAL_MINUTES_PER_1000:g} min: {verdict(minutes < GOAL_MINUTES_PER_1000)}",
                )
        # Single runs (not interleaved) that say where the time goes.
        few = paths[: min(n, 20)]
        t0 = time.perf_counter()
        batch(few, 1, job, executor="serial")
        serial = (time.perf_counter() - t0) / len(few)
        line(
            "serial executor (in this process), per submission",
            f"{serial:6.3f} s",
            f"-> a per-submission process adds about {1 / med(rate['1 worker']) - serial:.3f} s",
        )
        warm_job = GradeJob.from_file(grade_submission, rubric_path, GradeSettings(warm=True))
        try:
            warm_job(few[0])  # starts this process's warm worker before the clock
            t0 = time.perf_counter()
            batch(few, 1, warm_job, executor="serial")
            serial_warm = (time.perf_counter() - t0) / len(few)
        finally:
            close_workers()
        line(
            "  the same with GradeSettings(warm=True)",
            f"{serial_warm:6.3f} s",
            f"(one long-lived warm worker; two such processes: 1,000 in "
            f"{1000 * serial_warm / 2 / 60:.1f} min at best)",
        )
        few = paths[: min(n, 10)]
        t0 = time.perf_counter()
        batch(few, 2, warm_job)
        line(
            "local, 2 workers, GradeSettings(warm=True)",
            f"{len(few) / (time.perf_counter() - t0):6.2f} submissions/s",
            f"({len(few)} submissions, one run: each per-submission process starts its own worker)",
        )
    finally:
        stop_forkserver()
        if saved_path:
            os.environ["PYTHONPATH"] = saved_path
        else:
            os.environ.pop("PYTHONPATH", None)
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="fewer rounds, 20 submissions (noisier)")
    ap.add_argument("--only", choices=("sandbox", "warm", "grade", "batch"), help="one section")
    ap.add_argument(
        "--n", type=int, help="submissions in the batch section (default 200; quick 20)"
    )
    ap.add_argument("--profile", action="store_true", help="cProfile one warm grade per notebook")
    args = ap.parse_args(argv)
    n = args.n or (20 if args.quick else 200)
    environment()
    sections: dict[str, Callable[[], None]] = {
        "sandbox": lambda: bench_sandbox(5 if args.quick else 15),
        "warm": lambda: bench_warm(3 if args.quick else 7),
        "grade": lambda: bench_grade(2 if args.quick else 5, args.profile),
        "batch": lambda: bench_batch(n, max(1, min(2 if args.quick else 4, n))),
    }
    for name, section in sections.items():
        if args.only in (None, name):
            t0 = time.perf_counter()
            try:
                section()
            except Exception as e:  # one broken section should not hide the others
                print(f"  not measured: {type(e).__name__}: {e}")
            print(f"  ({name}: {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
