"""How the batch grows: workers, the parent's serial cost, 10,000 submissions, a cold grade.

    PYTHONPATH=. python bench/bench_scale.py                  (1, 2, 4, ... cpu_count workers)
    PYTHONPATH=. python bench/bench_scale.py --max-workers 2 --ladder-n 60
    PYTHONPATH=. python bench/bench_scale.py --n 10000        (also 10,000 at the most workers)

1. A synthetic class: copies of submissions/correct/template_ok.ipynb (4 in 5) and of the
   submissions/buggy/template_* notebooks (1 in 5), each copy made distinct (a comment cell
   or line with its index), so no two share a cache key.
2. The ladder: ``--ladder-n`` submissions graded by grader.batch.run_batch as ``grader grade``
   does (the pool executor, warm sandbox workers, results + HTML/Markdown reports + class
   page), with 1, 2, 4, ... ``--max-workers`` workers, each into a fresh folder. Per run:
   submissions per second, the ratio against 1 worker and the efficiency (ratio / workers),
   the parent's CPU time per submission (user + system of this process only: what it does
   itself, planning, collecting rows, gradebook and class page, not the waiting), and the
   parent's peak resident memory. Then each run split in two: its start-up (until the first
   result reaches the parent: the pool's processes, their warm sandbox workers, each one's
   first job) and its steady rate (the results between the ``workers``-th and the
   ``workers``-th from the end, so neither the start nor the draining tail), with the
   steady ratio against 1 worker: what a long batch tends to. And the machine's CPU per
   submission and cores busy (``/proc/stat``, every process on the machine, so read them
   on a quiet one: the background is measured and printed first). One worker keeping ~1
   core busy means none of a submission's work runs beside it, so W workers on W free
   cores lose nothing to overlap; what a many-core machine adds is contention.
3. The big run (only when ``--n`` exceeds ``--ladder-n``): ``--n`` submissions at the most
   workers, then the same command again with everything cached.
4. The cold path: ``grader grade-one`` on the template notebook with the full rubric, a new
   interpreter each time, against ``python -c "import numpy"``, interleaved, medians.

The sandbox tier is $GRADER_SANDBOX, else the strongest that works; where none works (as
root without setpriv, the plain tier is refused and the uid tier cannot drop privileges)
the script says so and stops. Only the standard library is imported at module level: the
pool's worker processes (multiprocessing's forkserver) run this file again as __mp_main__.
This is not a test; nothing here asserts.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runs from a checkout, installed or not

TEMPLATE = ROOT / "submissions" / "correct" / "template_ok.ipynb"
BUGGY = sorted((ROOT / "submissions" / "buggy").glob("template_*"))
RUBRIC = ROOT / "rubrics" / "mlp_backprop.toml"
NEEDED = ("numpy", "nbformat", "jinja2", "tqdm", "pandas", "scipy", "sklearn", "matplotlib")
REQUIRED = ("numpy", "nbformat", "jinja2")  # the grader's own; the rest the warm worker preloads
TIMEOUT = 120.0  # seconds per submission, as generous as the command's default


def line(label: str, *values: object) -> None:
    print(f"  {label:<34} " + " ".join(str(v) for v in values), flush=True)


def missing_packages() -> list[str]:
    return [name for name in NEEDED if importlib.util.find_spec(name) is None]


def choose_tier() -> str:
    """The tier this run uses (workers inherit it through $GRADER_SANDBOX)."""
    from grader.sandbox.tiers import SandboxUnavailableError, describe, resolve_tier

    try:
        tier = resolve_tier()
    except SandboxUnavailableError as error:
        print(f"no sandbox tier works here: {error}", file=sys.stderr)
        if os.geteuid() == 0 and shutil.which("setpriv") is None:
            print(
                "  as root the grader needs setpriv (util-linux) for the uid tier and refuses the"
                " plain tier; install util-linux, or run as an ordinary user with"
                " GRADER_SANDBOX=plain",
                file=sys.stderr,
            )
        raise SystemExit(2) from None
    os.environ["GRADER_SANDBOX"] = tier
    line("sandbox tier", describe(tier))
    return tier


# ---------------------------------------------------------------------------
# The class


def _distinct_notebook(source: Path, index: int) -> bytes:
    notebook = json.loads(source.read_text(encoding="utf-8"))
    notebook["cells"].append(
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"bench-{index}",
            "metadata": {},
            "outputs": [],
            "source": [f"# synthetic student {index}"],
        }
    )
    return json.dumps(notebook, indent=1).encode()


def make_class(folder: Path, n: int) -> list[Path]:
    """``n`` distinct submissions: every fifth one a buggy notebook, the rest the template."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = {p: p.read_bytes() for p in [TEMPLATE, *BUGGY]}
    paths = []
    for i in range(n):
        source = BUGGY[(i // 5) % len(BUGGY)] if i % 5 == 4 else TEMPLATE
        path = folder / f"student{i:05d}{source.suffix}"
        if source.suffix == ".ipynb":
            path.write_bytes(_distinct_notebook(source, i))
        else:
            path.write_bytes(sources[source] + f"\n# synthetic student {i}\n".encode())
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------
# Runs


def parent_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # this process only, not its workers
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def machine_busy() -> float | None:
    """Seconds of CPU every core of this machine has spent busy since boot (None off Linux)."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = sum(fields[3:5])  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # guest time is in user


def background_cores(seconds: float = 1.0) -> float | None:
    """Cores kept busy by everything else on the machine, over ``seconds`` of our idling."""
    before = machine_busy()
    time.sleep(seconds)
    after = machine_busy()
    return None if before is None or after is None else (after - before) / seconds


class TimedPool:
    """The pool executor, noting when each outcome reaches the parent (nothing else changes)."""

    def __init__(self, workers: int) -> None:
        from grader.executors import PoolExecutor

        self.inner = PoolExecutor(workers=workers, timeout=TIMEOUT)
        self.name = self.inner.name
        self.stores_in_worker = self.inner.stores_in_worker
        self.workers = workers
        self.started = 0.0
        self.arrivals: list[float] = []

    def run(self, grade_fn: Any, tasks: Any) -> Any:
        self.started = time.perf_counter()
        outcomes = self.inner.run(grade_fn, tasks)
        try:
            for outcome in outcomes:
                self.arrivals.append(time.perf_counter())
                yield outcome
        finally:
            outcomes.close()

    def start_up(self) -> float:
        """Seconds until the first result reached the parent."""
        return self.arrivals[0] - self.started if self.arrivals else float("nan")

    def steady_rate(self) -> float:
        """Results per second between the workers-th and the workers-th from the end."""
        w, times = self.workers, self.arrivals
        if len(times) < 2 * w + 2:
            return float("nan")
        return (len(times) - 2 * w) / (times[-w - 1] - times[w - 1])


def grade(paths: list[Path], out: Path, workers: int, executor: Any = "pool") -> dict[str, Any]:
    from grader.batch import BatchOutputs, GradeJob, run_batch
    from grader.grade import GradeSettings, grade_submission
    from grader.rubric_file import load_rubric

    rubric = load_rubric(RUBRIC)
    job = GradeJob.from_file(grade_submission, RUBRIC, GradeSettings(warm=True))
    timed = TimedPool(workers) if executor == "pool" else None
    busy = machine_busy()
    cpu, wall = parent_cpu(), time.perf_counter()
    summary = run_batch(
        paths,
        job,
        out,
        executor=timed or executor,
        workers=workers,
        timeout=TIMEOUT,
        progress=False,
        rubric=rubric,
        title="bench",
        outputs=BatchOutputs(),
    )
    wall = time.perf_counter() - wall
    cpu = parent_cpu() - cpu
    busy_after = machine_busy()
    machine = None if busy is None or busy_after is None else busy_after - busy
    if summary.failed or summary.pending or summary.hook_errors:
        print(f"  !! {summary.describe()}; {summary.failures[:2]} {summary.hook_errors[:2]}")
    return {
        "wall": wall,
        "rate": len(paths) / wall,
        "parent_ms": cpu / len(paths) * 1e3,
        "finished": summary.finished,
        "cached": summary.cached,
        "rss": peak_rss_mb(),
        "start": timed.start_up() if timed else float("nan"),
        "steady": timed.steady_rate() if timed else float("nan"),
        "machine_ms": float("nan") if machine is None else machine / len(paths) * 1e3,
        "cores": float("nan") if machine is None else machine / wall,
    }


def ladder(max_workers: int) -> list[int]:
    counts, w = [], 1
    while w < max_workers:
        counts.append(w)
        w *= 2
    return [*counts, max_workers]


def cold_grade_one(rounds: int) -> None:
    notebook_cmd = [
        sys.executable,
        "-m",
        "grader",
        "grade-one",
        str(TEMPLATE),
        "--rubric",
        str(RUBRIC),
    ]
    numpy_cmd = [sys.executable, "-c", "import numpy"]
    times: dict[str, list[float]] = {"grade-one": [], "numpy": []}
    for i in range(rounds + 1):
        for name, cmd in (("grade-one", notebook_cmd), ("numpy", numpy_cmd)):
            start = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                print(f"  !! {name} failed: {done.stderr.strip()[-300:]}")
                return
            if i:  # the first round warms the page cache
                times[name].append(seconds)
    grade_one, numpy = statistics.median(times["grade-one"]), statistics.median(times["numpy"])
    line("cold grade-one (median)", f"{grade_one:.3f} s")
    line('python -c "import numpy" (median)', f"{numpy:.3f} s")
    line("ratio", f"{grade_one / numpy:.1f}x   (goal: 0.3 s)")


def dask_vs_pool(paths: list[Path], tmp: Path, workers: int, rounds: int) -> None:
    """The same class on the pool and on a local Dask cluster (single-thread worker processes),
    ``rounds`` times in turn, each run into a fresh folder and each Dask run on a fresh
    cluster (its warm grading processes start with its first tasks, as the pool's do)."""
    try:
        import distributed
    except ImportError:
        print("\ndask: not installed (pip install 'dask[distributed]'); skipped")
        return
    from grader.executors import DaskExecutor, chunk_size

    print(
        f"\npool and dask, {workers} workers each, {len(paths)} notebooks, in turn "
        f"({chunk_size(len(paths), workers)} submissions per Dask task):"
    )
    print(f"  {'round':>5} {'pool /s':>8} {'dask /s':>8} {'pool/dask':>10} {'parent ms/sub':>22}")
    ratios = []
    for r in range(rounds):
        pool = grade(paths, tmp / f"out-pool-{r}", workers)
        with (
            distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            dask = grade(
                paths,
                tmp / f"out-dask-{r}",
                workers,
                DaskExecutor(timeout=TIMEOUT, scheduler=client, shared_out_dir=True),
            )
        ratios.append(pool["rate"] / dask["rate"])
        print(
            f"  {r + 1:>5} {pool['rate']:>8.2f} {dask['rate']:>8.2f} {ratios[-1]:>9.2f}x "
            f"{pool['parent_ms']:>9.2f} / {dask['parent_ms']:>6.2f} (dask)",
            flush=True,
        )
    line(
        "pool / dask, median",
        f"{statistics.median(ratios):.2f}x over {rounds} rounds (goal: at most 1.25x)",
    )
    print(
        "  (the Dask parent's CPU holds the local scheduler's, which runs in this process and\n"
        "   costs per second, ticks and heartbeats, more than per submission)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--ladder-n", type=int, default=200, help="submissions per ladder run")
    parser.add_argument("--n", type=int, default=0, help="the big run's submissions (e.g. 10000)")
    parser.add_argument("--cold-rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--dask", action="store_true", help="also a local Dask cluster of --max-workers workers"
    )
    parser.add_argument(
        "--dask-rounds", type=int, default=3, help="pool and Dask runs in turn (with --dask)"
    )
    args = parser.parse_args(argv)

    print(
        f"bench_scale: {platform.python_version()} on {os.cpu_count()} CPUs, {platform.platform()}"
    )
    lacking = missing_packages()
    if lacking:
        print(f"missing packages: {', '.join(lacking)} (pip install them, or carry wheels)")
        if set(lacking) & set(REQUIRED):
            print(
                f"the grader cannot run without {', '.join(sorted(set(lacking) & set(REQUIRED)))}"
            )
            return 2
    else:
        line("packages", "all of " + ", ".join(NEEDED))
    choose_tier()
    from grader.sandbox.tiers import one_blas_thread

    one_blas_thread(os.environ)  # as `grader grade` does (grader.cli), before numpy loads
    # Imported before any timing: one-off costs, not per-submission ones.
    import grader.grade
    import grader.report.html  # noqa: F401

    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        n_class = max(args.ladder_n, args.n)
        start = time.perf_counter()
        paths = make_class(tmp / "class", n_class)
        line("synthetic class", f"{n_class} submissions in {time.perf_counter() - start:.1f} s")

        background = background_cores()
        if background is not None:
            line("background load", f"{background:.2f} cores busy before the runs")
        print("\nladder (pool executor, results + reports + class page, as `grader grade`):")
        print(
            f"  {'workers':>7} {'n':>6} {'per s':>8} {'vs 1':>6} {'effic.':>7} "
            f"{'parent ms/sub':>14} {'parent RSS MB':>14}"
        )
        runs: dict[int, dict[str, Any]] = {}
        last_out = None
        for workers in ladder(args.max_workers):
            last_out = tmp / f"out-{workers}"
            run = runs[workers] = grade(paths[: args.ladder_n], last_out, workers)
            ratio = run["rate"] / runs[1]["rate"]
            print(
                f"  {workers:>7} {args.ladder_n:>6} {run['rate']:>8.1f} {ratio:>5.2f}x "
                f"{ratio / workers:>6.0%} {run['parent_ms']:>14.2f} {run['rss']:>14.0f}",
                flush=True,
            )
        print(
            "\nthe same runs split: start-up (to the first result) and the steady rate after it;"
            "\nthe machine's CPU per submission and cores busy (every process, the background too):"
        )
        print(
            f"  {'workers':>7} {'start s':>8} {'steady /s':>10} {'vs 1':>6} {'effic.':>7} "
            f"{'machine ms/sub':>15} {'cores busy':>11}"
        )
        for workers, run in runs.items():
            ratio = run["steady"] / runs[1]["steady"]
            print(
                f"  {workers:>7} {run['start']:>8.2f} {run['steady']:>10.1f} {ratio:>5.2f}x "
                f"{ratio / workers:>6.0%} {run['machine_ms']:>15.1f} {run['cores']:>11.2f}"
            )
        widest = runs[max(runs)]
        ceiling = 1e3 / widest["parent_ms"]
        print(
            f"  what bounds scaling: the parent's serial work ({widest['parent_ms']:.2f} ms per"
            f" submission)\n  caps any batch at ~{ceiling:.0f} per second, the steady rate of"
            f" ~{ceiling / runs[1]['steady']:.0f} single workers"
        )
        if args.dask:
            dask_vs_pool(paths[: args.ladder_n], tmp, args.max_workers, args.dask_rounds)
        if args.n > args.ladder_n:
            print(f"\nbig run: {args.n} submissions, {args.max_workers} workers")
            last_out = tmp / "out-big"
            run = grade(paths, last_out, args.max_workers)
            line("per second", f"{run['rate']:.1f}  ({run['wall']:.0f} s)")
            ratio = run["rate"] / runs[1]["rate"]
            line("vs 1 worker (ladder)", f"{ratio:.2f}x, efficiency {ratio / args.max_workers:.0%}")
            line("start-up", f"{run['start']:.2f} s")
            steady = run["steady"] / runs[1]["steady"]
            line(
                "steady per second",
                f"{run['steady']:.1f}  ({steady:.2f}x 1 worker's steady rate, "
                f"efficiency {steady / args.max_workers:.0%})",
            )
            line(
                "machine CPU per submission",
                f"{run['machine_ms']:.1f} ms, {run['cores']:.2f} cores busy",
            )
            line("parent CPU per submission", f"{run['parent_ms']:.2f} ms")
            line("parent peak RSS", f"{run['rss']:.0f} MB")
            cached_paths = paths
        else:
            cached_paths = paths[: args.ladder_n]
        assert last_out is not None
        again = grade(cached_paths, last_out, args.max_workers)
        line(
            "re-run, all cached",
            f"{len(cached_paths)} in {again['wall']:.1f} s "
            f"({again['cached']} cached, {again['finished']} graded again)",
        )
        line("parent peak RSS (whole bench)", f"{peak_rss_mb():.0f} MB")
        print("\ncold path (one submission per interpreter):")
        cold_grade_one(args.cold_rounds)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
