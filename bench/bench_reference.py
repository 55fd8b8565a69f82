"""Benchmarks of the reference, each against baselines measured in this same run.

    python bench/bench_reference.py            (about half a minute on 2 cores)
    python bench/bench_reference.py --quick    (fewer repeats, for a smoke test)

1. Training epoch on the digits, 64-50-10 sigmoid, summed squared error + C/2||W||^2,
   batch 50 (36 mini-batches), course momentum: the reference vs scikit-learn's
   MLPClassifier, a per-instance Python loop, and a compiled C floor (bench/floor/epoch.c,
   cblas_dgemm of numpy's own OpenBLAS).
2. Gradient check of all 3,760 parameters of 64-50-10 on 50 instances: naive central
   differences vs the fast numerical_gradient, and the random-direction screen.
3. Import cost of ``reference`` vs numpy, and which heavy packages it pulls in.

Times are medians over repeats after a warm-up. Machines here are noisy: read the
ratios, not the milliseconds. This is not a test; nothing here asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runs from a checkout, installed or not

from reference.datasets import load_digits  # noqa: E402
from reference.encoding import one_hot  # noqa: E402
from reference.gradcheck import (  # noqa: E402
    directional_check,
    numerical_gradient,
    numerical_gradient_naive,
    relative_error,
)
from reference.initializers import initialize  # noqa: E402
from reference.network import Model, forward, gradients  # noqa: E402
from reference.objectives import Objective, data_term, penalty_term  # noqa: E402
from reference.params import Params  # noqa: E402
from reference.training import TrainConfig, batch_order, run_epoch, train  # noqa: E402

SIZES = (64, 50, 10)
BATCH = 50
ETA, ALPHA, C = 0.001, 0.9, 0.1  # course momentum, C/2 ||W||^2; eta small enough to stay finite
FLOOR_SOURCE = ROOT / "bench" / "floor" / "epoch.c"


def objective_value_from(
    A: np.ndarray, params: Params, Y: np.ndarray, objective: Objective
) -> float:
    return data_term(objective, A, Y) + penalty_term(objective, params, Y.shape[1])


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in seconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def ms(t: float) -> str:
    return f"{1e3 * t:8.2f} ms"


def line(label: str, value: str, note: str = "") -> None:
    print(f"  {label:44s} {value}  {note}".rstrip())


# ---------------------------------------------------------------------------
# 1. One training epoch


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def evaluate(
    params: Params, Xc: np.ndarray, Y: np.ndarray, y: np.ndarray, config: TrainConfig
) -> None:
    """What train() adds after each epoch: one forward pass over all N for J and the accuracy."""
    A = forward(params, Xc, config.model).output
    objective_value_from(A, params, Y, config.objective)
    np.mean(np.argmax(A, axis=0) == y)


def loop_epoch(
    p: list[np.ndarray],
    r: list[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    batches: list[np.ndarray],
    eta: float,
) -> None:
    """One epoch with a Python loop over the instances of each batch (1-D vectors).

    p = [W1, W2, b1 (H,), b2 (K,)] and r = [r1, r2] (course momentum) change in place.
    X : (N, D) rows, Y : (N, K) rows.
    """
    W1, W2, b1, b2 = p
    for idx in batches:
        gW1, gW2 = C * W1, C * W2  # the penalty's gradient, then the data term per instance
        gb1, gb2 = np.zeros_like(b1), np.zeros_like(b2)
        for i in idx:
            a1 = X[i]
            a2 = sigmoid(W1 @ a1 + b1)
            a3 = sigmoid(W2 @ a2 + b2)
            v2 = -2.0 * (Y[i] - a3) * a3 * (1.0 - a3)
            v1 = a2 * (1.0 - a2) * (W2.T @ v2)
            gW2 += np.outer(v2, a2)
            gW1 += np.outer(v1, a1)
            gb2 += v2
            gb1 += v1
        for W, g, k in ((W1, gW1, 0), (W2, gW2, 1)):
            rho = eta * g
            W -= rho + ALPHA * r[k]
            r[k] = rho
        b1 -= eta * gb1
        b2 -= eta * gb2


def openblas_library() -> str | None:
    """numpy's bundled OpenBLAS (64-bit interface, ``scipy_`` symbol prefix), if there is one."""
    import numpy

    base = Path(numpy.__file__).resolve().parent.parent
    found = sorted(glob.glob(str(base / "numpy.libs" / "libscipy_openblas64_*.so")))
    return found[0] if found else None


def build_floor(workdir: Path) -> tuple[Path | None, str]:
    """Compile bench/floor/epoch.c against numpy's OpenBLAS: (binary, "") or (None, reason)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    lib = openblas_library()
    if cc is None:
        return None, "no C compiler (cc/gcc) on PATH"
    if lib is None:
        return (
            None,
            "numpy.libs holds no libscipy_openblas64_*.so (numpy built against another BLAS)",
        )
    exe = workdir / "epoch"
    cmd = [
        cc,
        "-O2",
        "-o",
        str(exe),
        str(FLOOR_SOURCE),
        lib,
        f"-Wl,-rpath,{Path(lib).parent}",
        "-lm",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        return (
            None,
            f"compiling failed: {r.stderr.strip().splitlines()[-1] if r.stderr else r.returncode}",
        )
    return exe, ""


def run_floor(
    exe: Path,
    workdir: Path,
    X: np.ndarray,
    Y: np.ndarray,
    p0: Params,
    order: list[list[np.ndarray]],
) -> tuple[list[float], Params]:
    """Run the C epoch over the given batch order: (seconds per epoch, final parameters)."""
    N, D = X.shape
    H, K = p0.W[0].shape[0], p0.W[1].shape[0]
    E, NB = len(order), len(order[0])
    bounds = np.cumsum([0] + [b.size for b in order[0]])
    with (workdir / "in.bin").open("wb") as f:
        np.array([N, D, H, K, E, NB], dtype=np.int64).tofile(f)
        for a in (X, Y.T, p0.W[0], p0.b[0], p0.W[1], p0.b[1], np.full(E, ETA), [C, ALPHA]):
            np.ascontiguousarray(a, dtype=np.float64).tofile(f)
        np.array([np.concatenate(e) for e in order], dtype=np.int64).tofile(f)
        bounds.astype(np.int64).tofile(f)
    r = subprocess.run(
        [str(exe), str(workdir / "in.bin"), str(workdir / "out.bin")],
        capture_output=True,
        text=True,
        check=True,
    )
    flat = np.fromfile(workdir / "out.bin", dtype=np.float64)
    cut = np.cumsum([H * D, H, K * H])
    W1, b1, W2, b2 = np.split(flat, cut)
    final = Params([W1.reshape(H, D), W2.reshape(K, H)], [b1.reshape(H, 1), b2.reshape(K, 1)])
    return [float(t) for t in r.stdout.split()], final


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def sklearn_epoch(X: np.ndarray, y: np.ndarray) -> tuple[Callable[[], object] | None, str]:
    """One ``partial_fit`` = one epoch over shuffled batches of 50, or (None, reason)."""
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError as e:
        return None, f"not measured: {e}"
    clf = MLPClassifier(
        solver="sgd",
        hidden_layer_sizes=(50,),
        activation="logistic",  # the reference's sigmoid hidden layer (output: softmax + log-loss)
        batch_size=BATCH,
        momentum=0.9,
        nesterovs_momentum=False,
        learning_rate_init=0.1,
        alpha=1e-4,
        max_iter=1,
        shuffle=True,
        warm_start=True,
        random_state=1,
    )

    def epoch() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.partial_fit(X, y, classes=np.arange(10))

    return epoch, ""


def bench_epoch(repeats: int) -> None:
    print(
        "1. one training epoch: digits (1797 x 64), 64-50-10 sigmoid, batch 50, course momentum, L2"
    )
    X, y = load_digits()
    N = X.shape[0]
    minibatches = math.ceil(N / BATCH)
    p0 = initialize("course_uniform", SIZES, seed=1)
    E = 20
    config = TrainConfig(
        epochs=E,
        minibatches=minibatches,
        shuffle="course",
        seed=1,
        optimizer="momentum_course",
        optimizer_hyper={"alpha": ALPHA},
        schedule="constant",
        schedule_hyper={"eta0": ETA},
        objective=Objective(C=C),
    )
    order = batch_order(N, E, minibatches, "course", 1)
    Xc, Y = np.asarray(X).T, one_hot(y, 10)
    params, opt = p0.copy(), config.make_optimizer(p0)

    # the per-instance loop, checked against the reference on one epoch first
    Yr = Y.T.copy()
    p = [p0.W[0].copy(), p0.W[1].copy(), p0.b[0][:, 0].copy(), p0.b[1][:, 0].copy()]
    r = [np.zeros_like(p[0]), np.zeros_like(p[1])]
    loop_epoch(p, r, X, Yr, order[0], ETA)
    ref1, _ = train(p0, X, y, config.with_(epochs=1), order[:1])
    ref1_arrays = [ref1.W[0], ref1.W[1], ref1.b[0][:, 0], ref1.b[1][:, 0]]
    loop_err = max(relative_error(a, b) for a, b in zip(p, ref1_arrays, strict=True))

    sk, sk_reason = sklearn_epoch(X, y)
    tmp = tempfile.TemporaryDirectory()
    exe, floor_reason = build_floor(Path(tmp.name))
    floor_order = batch_order(N, 13, minibatches, "course", 1)
    floor_err = math.nan

    def floor() -> float:
        assert exe is not None
        times, _ = run_floor(exe, Path(tmp.name), X, Y, p0, floor_order)
        return statistics.median(times[3:])  # its first epochs warm caches and threads

    if exe is not None:
        try:
            _, final = run_floor(exe, Path(tmp.name), X, Y, p0, floor_order)
            ref, _ = train(p0, X, y, config.with_(epochs=len(floor_order)), floor_order)
            floor_err = relative_error(final, ref)
        except (subprocess.CalledProcessError, OSError) as e:
            exe, floor_reason = None, f"not measured: running it failed: {e}"

    # Rounds: every contender once per round, so a change of machine load hits all of them;
    # ratios are medians of per-round ratios.
    contenders: dict[str, Callable[[], float]] = {
        "train": lambda: timed(lambda: train(p0, X, y, config, order)) / E,
        "bare": lambda: statistics.median(
            timed(lambda: run_epoch(params, Xc, Y, order[0], ETA, opt, config, record=False))
            for _ in range(3)
        ),
        "record": lambda: statistics.median(
            timed(lambda: run_epoch(params, Xc, Y, order[0], ETA, opt, config, record=True))
            for _ in range(3)
        ),
        "eval": lambda: statistics.median(
            timed(lambda: evaluate(params, Xc, Y, y, config)) for _ in range(3)
        ),
        "loop": lambda: timed(lambda: loop_epoch(p, r, X, Yr, order[0], ETA)),
    }
    if sk is not None:
        contenders["sklearn"] = lambda: timed(sk)
    if exe is not None:
        contenders["floor"] = floor
    t: dict[str, list[float]] = {k: [] for k in contenders}
    for round_ in range(repeats + 1):
        for name, fn in contenders.items():
            value = fn()
            if round_:  # round 0 is the warm-up
                t[name].append(value)
    tmp.cleanup()
    med = {k: statistics.median(v) for k, v in t.items()}

    def ratio(a: str, b: str) -> float:
        if b not in t:
            return math.nan
        return statistics.median(x / z for x, z in zip(t[a], t[b], strict=True))

    line("reference train(), per epoch (trace on)", ms(med["train"]), f"({E} epochs per call)")
    line(
        "  bare epoch: run_epoch(record=False)",
        ms(med["bare"]),
        f"({1e6 * med['bare'] / minibatches:.0f} us per batch)",
    )
    line("  + per-batch printed cost and |grad|", ms(med["record"] - med["bare"]))
    line("  + end-of-epoch J and accuracy on all N", ms(med["eval"]))
    if sk is not None:
        line(
            "scikit-learn MLPClassifier.partial_fit",
            ms(med["sklearn"]),
            "(logistic hidden, softmax output)",
        )
    else:
        line("scikit-learn", sk_reason)
    line(
        "per-instance Python loop",
        ms(med["loop"]),
        f"(vs reference after 1 epoch: max rel err {loop_err:.1e})",
    )
    if exe is not None:
        line(
            "C floor (cblas_dgemm, numpy's OpenBLAS)",
            ms(med["floor"]),
            f"(final weights vs reference: max rel err {floor_err:.1e})",
        )
    else:
        line(
            "C floor",
            floor_reason
            if floor_reason.startswith("not measured")
            else f"not measured: {floor_reason}",
        )
    print(f"  ratios (median over {repeats} interleaved rounds):")
    line(
        "reference / scikit-learn",
        f"{ratio('train', 'sklearn'):6.2f}",
        f"(bare epoch {ratio('bare', 'sklearn'):.2f}; goal <= 0.5)",
    )
    line(
        "reference / C floor",
        f"{ratio('train', 'floor'):6.2f}",
        f"(bare epoch {ratio('bare', 'floor'):.2f}; goal <= 2)",
    )
    line(
        "Python loop / reference",
        f"{ratio('loop', 'train'):6.1f}",
        f"(vs bare epoch {ratio('loop', 'bare'):.1f})",
    )


# ---------------------------------------------------------------------------
# 2. Gradient check


def bench_gradcheck(repeats: int) -> None:
    print("2. gradient check: 64-50-10, 3,760 parameters, 50 instances, C = 0.1")
    X, y = load_digits()
    Xc, Y = X[:50].T.copy(), one_hot(y[:50], 10)
    params = initialize("course_uniform", SIZES, seed=1)
    model, objective = Model(), Objective(C=C)
    assert sum(a.size for a in params.arrays()) == 3760
    naive = numerical_gradient_naive(params, Xc, Y, model, objective)
    fast = numerical_gradient(params, Xc, Y, model, objective)
    exact = gradients(params, Xc, Y, model, objective)
    t_naive = median_time(
        lambda: numerical_gradient_naive(params, Xc, Y, model, objective),
        max(1, repeats // 3),
        warmup=0,
    )
    t_fast = median_time(lambda: numerical_gradient(params, Xc, Y, model, objective), 3 * repeats)
    t_dir = median_time(
        lambda: directional_check(exact, params, Xc, Y, model, objective), 10 * repeats
    )
    pairs = directional_check(exact, params, Xc, Y, model, objective)
    line("naive central differences", ms(t_naive))
    line("numerical_gradient (stacked perturbations)", ms(t_fast), "(goal < 30 ms)")
    line("  naive / fast", f"{t_naive / t_fast:6.1f}x")
    for name, other in (("naive", naive), ("back-propagation", exact)):
        rel_max, rel_norm = relative_error(fast, other), relative_error(fast, other, form="norm")
        line(
            f"  fast vs {name}: relative error",
            f"{rel_norm:.1e}",
            f"(norm form; max over entries {rel_max:.1e})",
        )
    line("directional_check (4 random directions)", ms(t_dir), "(about 2 ms)")
    worst = max(relative_error(np.array([n]), np.array([a])) for n, a in pairs)
    line("  numeric vs analytic along them", f"{worst:.1e}")


# ---------------------------------------------------------------------------
# 3. Import cost


_HEAVY = ("sklearn", "scipy", "torch")
_ALL_SUBMODULES = (
    "import pkgutil, importlib, reference; "
    "[importlib.import_module(m.name) for m in pkgutil.walk_packages(reference.__path__, 'reference.')]"
)


def bench_import(repeats: int) -> None:
    print("3. import cost (fresh interpreters)")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }

    def start(code: str) -> None:
        subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)

    t_np = median_time(lambda: start("import numpy"), repeats, warmup=1)
    t_ref = median_time(lambda: start("import reference"), repeats, warmup=1)
    t_all = median_time(lambda: start(_ALL_SUBMODULES), repeats, warmup=1)
    line('python -c "import numpy"', ms(t_np))
    line(
        'python -c "import reference"',
        ms(t_ref),
        f"({t_ref / t_np:.2f} x numpy; __init__ only, no numpy)",
    )
    line("every reference submodule (with numpy)", ms(t_all), f"({t_all / t_np:.2f} x numpy)")
    for what, code in (
        ("import reference", "import reference"),
        ("every submodule", _ALL_SUBMODULES),
    ):
        probe = f"{code}; import sys; print(','.join(m for m in {_HEAVY!r} if m in sys.modules))"
        out = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=True,
        )
        pulled = out.stdout.strip()
        line(
            f"{what}: sklearn / scipy / torch loaded",
            pulled or "none",
            "" if not pulled else "<- should be none",
        )


def environment() -> None:
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} cores")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        print(f"  {var} = {os.environ.get(var, '(unset)')}")
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            if pool.get("internal_api") == "openblas":
                print(
                    f"  OpenBLAS {pool.get('version')}: core {pool.get('architecture')}, {pool.get('num_threads')} threads"
                )
    except ImportError:
        pass


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="fewer repeats (a smoke test, noisier)")
    ap.add_argument("--only", choices=("epoch", "gradcheck", "import"), help="run one section")
    ap.add_argument(
        "--threads",
        type=int,
        help="limit BLAS threads (threadpoolctl here, OPENBLAS_NUM_THREADS for the C floor); "
        "default: as the environment says",
    )
    args = ap.parse_args(argv)
    repeats = 3 if args.quick else 9
    environment()  # as found, before --threads changes anything
    limit = contextlib.nullcontext()
    if args.threads:
        from threadpoolctl import threadpool_limits

        os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)  # for the C floor's process only
        limit = threadpool_limits(limits=args.threads, user_api="blas")
    sections = {"epoch": bench_epoch, "gradcheck": bench_gradcheck, "import": bench_import}
    with limit:
        if args.threads:
            print(f"  BLAS threads limited to {args.threads} for this run")
        for name, fn in sections.items():
            if args.only in (None, name):
                print()
                fn(repeats)


if __name__ == "__main__":
    main()
