"""Supervision rules (limits, restarts, data files, grader faults) and the warm worker's own duties."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
import uuid
from dataclasses import replace

import numpy as np
import pytest

from grader.sandbox import ProbeCall, SandboxError, WarmWorker, run_job
from grader.sandbox.child.runner import INVENTORY_BYTES

from .helpers import LIMITS, MODES, PROBES, X, cmdline_holders, make_job, probe

WARM = [m for m in MODES if "warm" in m.id]


def test_total_time_limit_stops_the_job_and_names_itself():
    """Past the submission's total limit the running probe times out and the rest are not run."""
    job = make_job(
        "import time\ndef nap():\n    time.sleep(100)\n",
        probe("a", "raw", timeout=5.0, fn="nap"),
        probe("b", "raw", timeout=5.0, fn="nap"),
    )
    t0 = time.monotonic()
    result = run_job(job, replace(LIMITS, total_timeout=1.0), tier="plain")
    assert time.monotonic() - t0 < 3.0
    assert [p.status for p in result.probes] == ["timeout", "missing"]
    assert "total time limit" in result.outcome("a").error
    assert "total time limit" in result.outcome("b").error


def test_restarts_are_capped():
    """With max_restarts=1, a second crashing probe leaves the third not run."""
    job = make_job(
        "import os\ndef die():\n    os._exit(3)\n",
        *(probe(name, "raw", fn="die") for name in "abc"),
    )
    result = run_job(job, replace(LIMITS, max_restarts=1), tier="plain")
    assert [p.status for p in result.probes] == ["killed", "killed", "missing"]
    assert result.restarts == 1
    assert "restart limit" in result.outcome("c").error


def test_cpu_limit_kills_a_spinning_child():
    """RLIMIT_CPU ends a spinning probe with SIGXCPU before its wall-clock timeout."""
    job = make_job(
        "def spin():\n    while True:\n        pass\n", probe("p", "raw", 10.0, fn="spin")
    )
    p = run_job(job, replace(LIMITS, cpu_seconds=1), tier="plain").outcome("p")
    assert p.status == "killed" and "SIGXCPU" in p.error
    assert p.seconds < 5.0


@pytest.mark.parametrize("mode", MODES)
def test_data_files_are_beside_the_submission(mode, warm_workers):
    """Data files shipped with a submission are readable by relative path."""
    worker, tier = mode
    job = make_job(
        "import numpy as np\nW = np.loadtxt('data/w.csv', delimiter=',')\n"
        "def add(x, k):\n    return x * W + k\n",
        data_files={"data/w.csv": b"2,2,2\n2,2,2\n"},
    )
    if worker == "cold":
        result = run_job(job, LIMITS, tier=tier)
    else:
        warm_workers.setdefault(tier, WarmWorker(LIMITS, tier, preload=("numpy",)))
        result = warm_workers[tier].run(job)
    np.testing.assert_array_equal(result.outcome("p").arrays["y"], X * 2 + 1)


def test_a_probe_module_without_the_called_function_is_a_grader_error(tmp_path):
    """A plan calling a function the probe module lacks raises: the grader is at fault."""
    module = tmp_path / "probes.py"
    module.write_text("def other(ns, inputs, params):\n    return {}\n")
    job = replace(make_job("def add(x, k):\n    return x\n"), probe_module=module)
    with pytest.raises(SandboxError, match="no function"):
        run_job(job, LIMITS, tier="plain")
    with WarmWorker(LIMITS, "plain", preload=()) as worker, pytest.raises(SandboxError):
        worker.run(job)


# -- the warm worker -------------------------------------------------------------------------


@pytest.fixture(params=WARM)
def worker(request, warm_workers) -> WarmWorker:
    tier = request.param[1]
    warm_workers.setdefault(tier, WarmWorker(LIMITS, tier, preload=("numpy",)))
    return warm_workers[tier]


def memory_search(secret: str) -> str:
    """Student code counting ``secret`` in its own memory (/proc/self/mem), found by hash.

    Only a prefix and a digest appear in the code, so the search cannot find itself.
    """
    digest = hashlib.sha256(secret.encode()).hexdigest()
    return f"""
import hashlib, os, re
PREFIX = re.compile(re.escape(b"job-" b"one-"))
def look():
    hits = scanned = 0
    with open("/proc/self/maps") as f:
        maps = f.read().splitlines()
    with open("/proc/self/mem", "rb", buffering=0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            lo, hi = (int(v, 16) for v in addr.split("-"))
            if perms[0] != "r" or hi - lo > 1 << 30:
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except (OSError, OverflowError, ValueError):
                continue
            scanned += len(data)
            for m in PREFIX.finditer(data):
                found = data[m.start() : m.start() + {len(secret)}]
                hits += hashlib.sha256(found).hexdigest() == "{digest}"
    jobs = os.listdir(os.path.dirname(os.path.abspath("..")))
    return {{"y": [hits, scanned, len(jobs)]}}
"""


def test_the_memory_search_finds_a_secret_that_is_there(worker):
    """Control for the test below: the search counts a secret held by the job itself."""
    secret = f"job-one-{uuid.uuid4().hex}"
    job = make_job(f"KEEP = '{secret}'\n" + memory_search(secret), probe("p", "raw", fn="look"))
    hits, scanned, _ = worker.run(job).outcome("p").arrays["y"]
    assert hits >= 1 and scanned > 10 << 20


def test_warm_jobs_see_nothing_of_earlier_jobs(worker):
    """Job 2 finds neither job 1's directory, nor its daemon, nor its code in its memory."""
    secret = f"job-one-{uuid.uuid4().hex}"
    first = make_job(
        f"""
        import os
        MINE = "{secret}"
        def add(x, k):
            open("left-behind.txt", "w").write(MINE)
            if os.fork() == 0:
                os.setsid()
                os.execv("/bin/sh", ["sh", "-c", "sleep 30", MINE])
            return x + k
        """
    )
    assert worker.run(first).outcome("p").status == "ok"
    assert cmdline_holders(secret) == []
    result = worker.run(make_job(memory_search(secret), probe("p", "raw", fn="look")))
    assert result.worker == "warm"
    hits, scanned, jobs = result.outcome("p").arrays["y"]
    assert (hits, jobs) == (0, 1) and scanned > 10 << 20


def test_a_submission_killing_its_manager_gets_a_cold_retry(worker):
    """Killing the warm machinery costs a cold retry, not a result; the next job is warm again."""
    job = make_job(
        """
        import os, signal, sys
        def add(x, k):
            if "_grader_child.worker" in sys.modules:   # only in the warm worker
                os.kill(os.getppid(), signal.SIGKILL)
            return x + k
        """
    )
    result = worker.run(job)
    assert result.worker == "cold" and "retried on a cold child" in result.notice
    np.testing.assert_array_equal(result.outcome("p").arrays["y"], X + 1)
    again = worker.run(make_job("def add(x, k):\n    return x - k\n"))
    assert again.worker == "warm" and again.outcome("p").status == "ok"


def test_a_worker_killed_from_outside_is_replaced(worker):
    """If the worker dies between jobs, the next job still gets a result."""
    worker.start()
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGKILL)
    time.sleep(0.05)
    result = worker.run(make_job("def add(x, k):\n    return x + k\n"))
    assert result.outcome("p").status == "ok"
    assert worker.run(make_job("def add(x, k):\n    return x + k\n")).worker == "warm"


def test_a_changed_probe_module_is_used_at_once(worker, tmp_path):
    """The worker compiles each probe module once; a different module's code is never stale."""
    changed = tmp_path / "probes.py"
    changed.write_text(
        PROBES.read_text() + "\n\ndef add(ns, inputs, params):\n    return {'y': -inputs['x']}\n"
    )
    job = make_job("def add(x, k):\n    return x + k\n")
    for module, expected in ((PROBES, X + 1), (changed, -X), (PROBES, X + 1), (changed, -X)):
        result = worker.run(replace(job, probe_module=module))
        assert result.worker == "warm"
        np.testing.assert_array_equal(result.outcome("p").arrays["y"], expected)


def test_a_probe_module_that_does_not_compile_is_a_grader_error_and_the_worker_goes_on(tmp_path):
    """The worker's one-time compile of a broken module fails quietly; the job reports it."""
    broken = tmp_path / "probes.py"
    broken.write_text("def add(:\n")
    with WarmWorker(LIMITS, "plain", preload=()) as worker:
        with pytest.raises(SandboxError, match="SyntaxError"):
            worker.run(replace(make_job("def add(x, k):\n    return x\n"), probe_module=broken))
        result = worker.run(make_job("def add(x, k):\n    return x + k\n"))
        assert result.worker == "warm" and result.outcome("p").status == "ok"


def test_preloaded_modules_are_reported_and_usable():
    """The worker imports what is installed of its preload list, and skips the rest."""
    with WarmWorker(LIMITS, "plain", preload=("numpy", "scipy", "no_such_module")) as worker:
        assert "numpy" in worker.preloaded and "no_such_module" not in worker.preloaded
        job = make_job("import numpy as np\ndef add(x, k):\n    return np.sqrt(x) + k\n")
        np.testing.assert_allclose(worker.run(job).outcome("p").arrays["y"], np.sqrt(X) + 1)


@pytest.mark.parametrize("mode", [m for m in MODES if "cold" in m.id])
def test_a_runner_sabotaged_for_the_restart_is_the_submissions_fault(mode):
    """A submission that rewrites the runner, then crashes, loses its later probes, nothing more."""
    job = make_job(
        """
        import os
        def add(x, k):
            return x + k
        def sabotage():
            try:
                with open("../runner/launch.py", "w") as f:
                    f.write("import os\\nos._exit(5)\\n")
            except OSError:
                pass  # read-only for the sandbox's uid
            os._exit(0)
        """,
        probe("sabotage", "raw", fn="sabotage"),
        probe("after"),
    )
    result = run_job(job, LIMITS, tier=mode[1])  # no SandboxError: the grader is not at fault
    after = result.outcome("after")
    if mode[1] != "plain" and os.geteuid() == 0:
        assert after.status == "ok"  # runner/ is not writable by the sandbox uid
    else:
        assert after.status == "missing"
        assert "setup killed (after a restart)" in after.error


def test_a_timed_probe_gets_a_baseline_run_before_the_submission_loads(runner):
    """The baseline is timed before setup: a submission that hangs at load cannot touch it."""
    job = make_job(
        "import time\ntime.sleep(1.5)\ndef add(x, k):\n    return x + k\n",
        ProbeCall("t", "add", {"k": 1.0}, ("x",), 2.0, baseline=("x",)),
    )
    result = runner(job)
    assert result.outcome("t").status == "ok"
    assert 0 < result.baselines["t"] < 1.5  # not the load's 1.5 s: it ran before


def test_a_baseline_that_never_ends_costs_only_the_timing(runner):
    """The grader's own baseline hanging leaves the probe without a baseline time (the
    timing check says it is the grader's problem); the probes still run."""
    job = make_job(
        "def add(x, k):\n    return x + k\n",
        ProbeCall("t", "add", {"k": 1.0, "hang_baseline": True}, ("x",), 1.0, baseline=("x",)),
    )
    result = runner(job)
    assert result.outcome("t").status == "ok"
    assert "t" not in result.baselines
    assert result.restarts == 0


def test_the_inventory_lists_what_the_submission_defines_within_its_cap(runner):
    """After setup the runner reports the submission's names (its own classes' methods
    first); a namespace as large as numpy's still fits, and setup still answers."""
    job = make_job(
        """
        from numpy import *
        from collections import OrderedDict
        LIMIT = 3
        class Net:
            def fit(self):
                pass
        def add(x, k):
            return x + k
        """
    )
    result = runner(job)
    assert (result.setup_status, result.outcome("p").status) == ("ok", "ok")
    names, classes = result.inventory["names"], result.inventory["classes"]
    assert (names["add"], names["Net"], names["LIMIT"], names["ndarray"]) == (
        "function",
        "class",
        "other",
        "class",
    )
    assert classes["Net"]["fit"] == "function"
    assert len(json.dumps(result.inventory)) <= INVENTORY_BYTES
