"""Hostile submissions, each run cold and warm, in the plain and the bwrap tier.

Every test asserts a clear status and a bounded wall time: nothing a
submission does may hang the grader or change what the parent validates.
"""

from __future__ import annotations

import os
import socket
import textwrap
import time
import uuid

import numpy as np
import pytest

from grader.sandbox import Job, OutputSpec, ProbeCall

from .helpers import LIMITS, PROBES, X, cmdline_holders, make_job, probe

# -- the happy path --------------------------------------------------------------------------


def test_happy_path_returns_validated_arrays(runner, mode):
    """A correct submission gives status ok and the arrays it computed."""
    job = make_job(
        """
        print("hello from setup")
        def add(x, k):
            return x + k
        """,
        probe("p", k=2.0),
    )
    result = runner(job)
    p = result.outcome("p")
    assert (result.setup_status, p.status) == ("ok", "ok")
    np.testing.assert_array_equal(p.arrays["y"], X + 2.0)
    assert "hello from setup" in result.stdout_excerpt
    assert (result.tier, result.worker) == (mode[1], mode[0])
    assert ("advisory" in result.notice) == (mode[1] == "plain")


# -- time ------------------------------------------------------------------------------------


def test_infinite_loop_and_sleep_time_out_and_later_probes_still_run(runner):
    """A spinning and a sleeping probe time out; the probe after them runs in a fresh child."""
    job = make_job(
        """
        import time
        def add(x, k):
            return x + k
        def spin():
            while True:
                pass
        def nap():
            time.sleep(10**6)
        """,
        probe("spin", "raw", timeout=1.0, fn="spin"),
        probe("nap", "raw", timeout=1.0, fn="nap"),
        probe("after"),
    )
    t0 = time.monotonic()
    result = runner(job)
    assert [p.status for p in result.probes] == ["timeout", "timeout", "ok"]
    assert result.restarts == 2
    assert time.monotonic() - t0 < 8.0


def test_sleep_forever_in_setup_is_a_setup_timeout(runner):
    """A submission that hangs while being executed gets a setup timeout; no probe runs."""
    result = runner(make_job("import time\ntime.sleep(10**6)\n"))
    assert result.setup_status == "timeout"
    assert result.outcome("p").status == "missing"
    assert "setup timeout" in result.outcome("p").error
    assert result.wall_seconds < LIMITS.setup_timeout + 3.0


# -- memory, processes, output volume -------------------------------------------------------


def test_ten_gigabyte_allocation_fails_inside_the_child(runner):
    """Allocating 10 GB hits RLIMIT_AS: a MemoryError (error) or a dead child (killed)."""
    job = make_job(
        """
        import numpy as np
        def big():
            a = np.ones(10 * 2**30, dtype=np.uint8)
            return {"y": a[:1]}
        """,
        probe("p", "raw", fn="big"),
    )
    p = runner(job).outcome("p")
    assert p.status in ("error", "killed")
    if p.status == "error":
        assert "MemoryError" in p.error


def test_bounded_fork_bomb_is_killed_with_its_probe(runner):
    """A tree of sleeping processes and a hanging probe: timeout, then every process is gone."""
    token = str(900000 + int(uuid.uuid4().int % 99999))
    job = make_job(
        f"""
        import os, time
        def bomb():
            for _ in range(3):                 # 2**3 processes in all
                if os.fork() == 0:
                    continue
            os.execv("/bin/sleep", ["sleep", "{token}"])
        """,
        probe("p", "raw", timeout=1.0, fn="bomb"),
    )
    result = runner(job)
    assert result.outcome("p").status in ("timeout", "killed")
    assert cmdline_holders(f"sleep\0{token}") == []


def test_hundred_megabytes_of_stdout_keep_a_bounded_excerpt(runner):
    """100 MB printed: the probe still passes, and only head and tail are kept."""
    job = make_job(
        """
        import sys
        def add(x, k):
            chunk = "x" * (1 << 20) + "\\n"
            for _ in range(100):
                sys.stdout.write(chunk)
            print("the last line")
            return x + k
        """,
        probe("p", timeout=10.0),
    )
    result = runner(job)
    assert result.outcome("p").status == "ok"
    assert len(result.stdout_excerpt) < LIMITS.capture_bytes + 200
    assert "bytes omitted" in result.stdout_excerpt
    assert result.stdout_excerpt.rstrip().endswith("the last line")


def test_five_gigabyte_file_write_is_stopped_by_the_file_size_limit(runner):
    """Writing 5 GB raises EFBIG at RLIMIT_FSIZE: an error, not a full disk."""
    job = make_job(
        """
        def fill():
            block = b"\\0" * (1 << 20)
            with open("big.bin", "wb") as f:
                for _ in range(5 * 1024):
                    f.write(block)
            return {"y": [0]}
        """,
        probe("p", "raw", timeout=10.0, fn="fill"),
    )
    p = runner(job).outcome("p")
    assert p.status == "error"
    assert "File too large" in p.error


# -- exits -----------------------------------------------------------------------------------


@pytest.mark.parametrize("exit_call", ["sys.exit(0)", "os._exit(0)"])
def test_exit_during_setup_is_killed(runner, exit_call):
    """sys.exit / os._exit while the submission is executed: setup killed, probes not run."""
    result = runner(make_job(f"import os, sys\n{exit_call}\n"))
    assert result.setup_status == "killed"
    assert result.outcome("p").status == "missing"


def test_sys_exit_during_a_probe_is_killed_and_the_next_probe_runs(runner):
    """sys.exit in a probe: that probe is killed, the next one runs in the same child."""
    job = make_job(
        """
        import sys
        def add(x, k):
            return x + k
        def leave():
            sys.exit(0)
        """,
        probe("leave", "raw", fn="leave"),
        probe("after"),
    )
    result = runner(job)
    assert [p.status for p in result.probes] == ["killed", "ok"]
    assert "sys.exit" in result.outcome("leave").error
    assert result.restarts == 0


def test_os_exit_during_a_probe_is_killed_and_a_fresh_child_runs_the_rest(runner):
    """os._exit in a probe: that probe is killed, the next one runs after a restart."""
    job = make_job(
        """
        import os
        def add(x, k):
            return x + k
        def vanish():
            os._exit(0)
        """,
        probe("vanish", "raw", fn="vanish"),
        probe("after"),
    )
    result = runner(job)
    assert [p.status for p in result.probes] == ["killed", "ok"]
    assert "exited with status 0" in result.outcome("vanish").error
    assert result.restarts == 1


# -- tampering -------------------------------------------------------------------------------


def test_monkeypatching_numpy_and_builtins_stays_in_the_child(runner):
    """A submission that rewires numpy and builtins changes nothing in the parent's checks."""
    job = make_job(
        """
        import builtins
        import numpy as np
        np.allclose = lambda *a, **k: True
        np.isnan = np.isinf = lambda a: np.zeros_like(a, dtype=bool)
        builtins.abs = lambda v: 0
        def add(x, k):
            return x * np.nan
        """
    )
    p = runner(job).outcome("p")
    assert p.status == "ok"
    assert p.flags == {"y": ("nan",)}  # the parent's isnan still sees them
    assert not np.allclose(np.zeros(2), np.ones(2)) and abs(-1) == 1


def test_stack_gc_and_environment_hold_nothing_of_the_parent(runner, monkeypatch):
    """The child's frames, objects and environment hold no value the parent has."""
    secret = f"EXPECTED-VALUE-{uuid.uuid4().hex}"
    monkeypatch.setenv("GRADER_TEST_SECRET", secret)
    job = make_job(
        """
        import gc, os, re, sys
        # built at run time, so that the pattern does not match its own source
        SECRET = re.compile("EXPECTED" + "-VALUE-" + "[0-9a-f]{32}")
        def look():
            found = 0
            for obj in gc.get_objects():
                if isinstance(obj, (dict, list, tuple)):
                    found += sum(bool(SECRET.search(str(v)[:200])) for v in list(obj)[:1000])
            frame = sys._getframe()
            while frame is not None:
                found += bool(SECRET.search(repr(frame.f_locals)))
                frame = frame.f_back
            found += bool(SECRET.search(repr(dict(os.environ))))
            for pid in os.listdir("/proc"):
                try:
                    found += bool(SECRET.search(open(f"/proc/{pid}/environ", "rb").read().decode()))
                except (OSError, UnicodeDecodeError):
                    pass
            return {"y": [found, len(gc.get_objects())]}
        """,
        probe("p", "raw", fn="look"),
    )
    p = runner(job).outcome("p")
    assert p.status == "ok", p.error
    assert p.arrays["y"][0] == 0 and p.arrays["y"][1] > 1000  # searched, found nothing
    assert secret in os.environ["GRADER_TEST_SECRET"]  # held by the parent all along


def test_files_outside_the_job_are_invisible_in_bwrap(runner, mode, tmp_path, monkeypatch):
    """bwrap: the repository, other paths and the grader's environment are out of reach
    (/proc/1 is the namespace's own init: root's as root, else holding only the child's
    scrubbed environment); uid: the grader's installed package and root's files are closed
    to the child's own uid; plain: advisory."""
    monkeypatch.setenv("GRADER_TEST_SECRET", "s3cr3t-of-the-grader")
    outside = tmp_path / "rubric.toml"
    outside.write_text("expected = 1")
    job = make_job(
        f"""
        import os
        def peek():
            seen = []
            for path in ("/work/main/reference/__init__.py", "{outside}", "/proc/1/environ"):
                try:
                    data = open(path, "rb").read()
                    seen.append(1 if not path.startswith("/proc") else int(b"s3cr3t" in data))
                except OSError:
                    seen.append(0)
            return {{"y": seen + [os.getuid(), os.path.exists("/work")]}}
        """,
        probe("p", "raw", fn="peek"),
    )
    result = runner(job)
    y = result.outcome("p").arrays["y"]
    if mode[1] == "bwrap":
        assert list(y[:3]) == [0, 0, 0] and not y[4]
        if os.geteuid() == 0:
            assert y[3] == 65534
    elif mode[1] == "uid":
        assert (y[0], y[2]) == (0, 0) and y[3] not in (0, os.getuid()) and not result.notice
    else:
        assert y[0] == 1 and "advisory" in result.notice


def test_network_is_unreachable_in_bwrap(runner, mode):
    """bwrap: connecting to a server the parent listens on fails; plain: it connects."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    job = make_job(
        f"""
        import socket
        def dial():
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=1).close()
                return {{"y": [1]}}
            except OSError:
                return {{"y": [0]}}
        """,
        probe("p", "raw", fn="dial"),
    )
    try:
        y = runner(job).outcome("p").arrays["y"]
    finally:
        server.close()
    assert y[0] == (0 if mode[1] == "bwrap" else 1)


def test_setsid_daemon_cannot_rewrite_outputs_after_the_child_exits(runner):
    """A daemon that waits, then overwrites the output file, is dead before validation."""
    token = f"daemon-{uuid.uuid4().hex}"
    job = make_job(
        f"""
        import os
        def add(x, k):
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    script = "sleep 0.4; echo tampered > ../outputs/p.npz; sleep 30"
                    os.execv("/bin/sh", ["sh", "-c", script, "{token}"])
                os._exit(0)
            return x + k
        """
    )
    result = runner(job)
    assert result.outcome("p").status == "ok"
    np.testing.assert_array_equal(result.outcome("p").arrays["y"], X + 1.0)
    assert cmdline_holders(token) == []
    time.sleep(0.5)
    assert cmdline_holders(token) == []


FORGE = """
import io, json, os, stat, zipfile
import numpy as np

def channels():
    # every pipe but stdout and stderr: the progress fd is one of them
    for fd in map(int, os.listdir("/proc/self/fd")):
        try:
            if fd > 2 and stat.S_ISFIFO(os.fstat(fd).st_mode):
                yield fd
        except OSError:
            pass

def forge_answer(index, blob, status="ok"):
    line = json.dumps({"event": "answer", "index": index, "status": status, "bytes": len(blob)})
    for fd in channels():
        try:
            os.write(fd, line.encode() + b"\\n" + blob)
        except OSError:
            pass
"""


def test_a_forged_answer_claiming_80_gb_is_invalid(runner):
    """A forged answer whose .npz header claims 80 GB is refused from the header."""
    job = make_job(
        FORGE
        + """
def add(x, k):
    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**10,)}
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, header)
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("y.npy", member.getvalue() + b"\\0" * 64)
    forge_answer(0, buffer.getvalue())
    raise RuntimeError("the real answer, which comes too late to count")
""",
        probe("p"),
    )
    p = runner(job).outcome("p")
    assert p.status == "invalid"
    assert "exceeds the cap" in p.error


def test_output_files_in_the_job_directory_are_never_read(runner):
    """Outputs travel in answers only: a planted outputs/<id>.npz counts for nothing."""
    job = make_job(
        """
        import numpy as np
        def add(x, k):
            np.savez("../outputs/p.npz", y=x + k)
            raise RuntimeError("no answer")
        """
    )
    assert runner(job).outcome("p").status == "error"


# -- what comes back -------------------------------------------------------------------------


def test_object_arrays_never_cross(runner):
    """A probe returning an object array is an error in the child; nothing is unpickled."""
    job = make_job(
        """
        import numpy as np
        def objects():
            return {"y": np.array([object(), 1], dtype=object)}
        """,
        probe("p", "raw", fn="objects"),
    )
    p = runner(job).outcome("p")
    assert p.status == "error"
    assert "dtype object" in p.error


def test_nan_and_inf_outputs_are_flagged(runner):
    """NaN and inf pass through with flags; the probe is not failed for them."""
    job = make_job(
        """
        import numpy as np
        def odd():
            return {"y": np.array([np.nan, 1.0, np.inf]), "z": np.ones(2)}
        """,
        probe("p", "raw", fn="odd"),
        specs={"p": {"y": OutputSpec(), "z": OutputSpec()}},
    )
    p = runner(job).outcome("p")
    assert p.status == "ok"
    assert p.flags == {"y": ("nan", "inf")}  # z is finite: no flag


def test_wrong_shape_is_invalid(runner):
    """An output whose shape breaks its OutputSpec is invalid, with the shapes named."""
    job = make_job(
        "def add(x, k):\n    return (x + k).T\n",
        specs={"p": {"y": OutputSpec(shape=(2, 3))}},
    )
    p = runner(job).outcome("p")
    assert p.status == "invalid"
    assert "shape (3, 2), expected (2, 3)" in p.error


def test_syntax_error_is_a_setup_error_with_the_line(runner):
    """A syntax error fails setup with the student's file and line, nothing of ours."""
    result = runner(make_job("def add(x, k):\n    return x +\n"))
    assert result.setup_status == "error"
    assert result.setup_error.startswith("SyntaxError")
    assert 'File "submission.py", line 2' in result.setup_traceback
    assert "runner" not in result.setup_traceback + result.setup_error


def test_exception_in_a_probe_is_an_error_trimmed_to_the_students_frames(runner):
    """An exception raised by student code: error, type and message, student frames only."""
    job = make_job(
        """
        def helper(x):
            raise ValueError("shapes do not align")
        def add(x, k):
            return helper(x)
        """
    )
    p = runner(job).outcome("p")
    assert (p.status, p.error) == ("error", "ValueError: shapes do not align")
    assert 'File "submission.py", line 3, in helper' in p.traceback
    assert "_grader" not in p.traceback and "probes_for_tests" not in p.traceback


def test_forged_progress_events_neither_crash_the_grader_nor_pass_a_probe(runner):
    """Fake "fatal", "answer: ok" and "done" lines on every pipe: no grader error, no false ok."""
    job = make_job(
        """
        import os, stat
        FAKE = (b'{"event": "fatal", "error": "forged"}\\n'
                b'{"event": "answer", "index": 0, "status": "ok", "bytes": 0}\\n'
                b'{"event": "done"}\\n')
        def add(x, k):
            for fd in map(int, os.listdir("/proc/self/fd")):
                try:
                    if fd > 2 and stat.S_ISFIFO(os.fstat(fd).st_mode):
                        os.write(fd, FAKE)
                except OSError:
                    pass
            raise RuntimeError("the real outcome")
        """
    )
    p = runner(job).outcome("p")
    # "ok" without outputs claims nothing: the real answer (the error) is the one that counts
    assert (p.status, p.error) == ("error", "RuntimeError: the real outcome")


def test_rlimits_are_in_force_in_the_child(runner, mode):
    """The child sees the job's memory, file, descriptor and core limits, and cannot raise them."""
    job = make_job(
        """
        import resource
        def limits():
            names = ("RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE")
            got = [resource.getrlimit(getattr(resource, n))[1] for n in names]
            try:
                resource.setrlimit(resource.RLIMIT_AS, (-1, -1))
                got.append(1)
            except (ValueError, OSError):
                got.append(0)
            return {"y": got}
        """,
        probe("p", "raw", fn="limits"),
    )
    y = runner(job).outcome("p").arrays["y"]
    assert list(y[:4]) == [LIMITS.memory_bytes, LIMITS.file_bytes, LIMITS.open_files, 0]
    if mode[1] == "bwrap" or os.geteuid() != 0:  # plain-tier root may hold CAP_SYS_RESOURCE
        assert y[4] == 0


# -- the supervisor's clock and the inputs it hands out (issue 9, items 7, 9, 10) --------------


def test_forged_answers_gain_no_time_the_overrun_probe_times_out(runner):
    """A thread writes "ok" answers and "done" for every probe while the probe overruns its
    limit: the claims carry no outputs, so they end nothing, and the probe is a timeout."""
    job = make_job(
        FORGE
        + """
import threading, time
def forger():
    for _ in range(200):
        for index in ("setup", 0, 1, 2):
            forge_answer(index, b"")
        for fd in channels():
            try:
                os.write(fd, b'{"event": "done"}\\n{"event": "end", "probe": "slow", "status": "ok"}\\n')
            except OSError:
                pass
        time.sleep(0.01)
def add(x, k):
    return x + k
def slow():
    threading.Thread(target=forger, daemon=True).start()
    time.sleep(2.5)
    return {"y": [1.0]}
""",
        probe("slow", "raw", timeout=1.0, fn="slow"),
        probe("p"),
    )
    result = runner(job)
    assert result.outcome("slow").status == "timeout"
    assert result.outcome("p").status == "ok"  # in a fresh child, on its own clock


def test_a_probe_is_timed_on_the_supervisors_clock(runner):
    """A probe that stops every clock it can reach still takes its real time on ours."""
    job = make_job(
        """
        import time
        def add(x, k):
            return x + k
        def slow():
            time.sleep(0.4)
            time.monotonic = time.perf_counter = time.time = lambda: 0.0
            return {"y": [1.0]}
        """,
        probe("slow", "raw", fn="slow"),
    )
    assert runner(job).outcome("slow").seconds >= 0.4


def test_no_probe_input_is_reachable_before_the_probe_starts(runner):
    """At load and during earlier probes, the submission finds nothing of a later probe's
    inputs: not in its memory (gc), not in any file of the job, not in its stack."""
    secret = 123456.789
    job = Job(
        code=textwrap.dedent(
            f"""
            import gc, os
            import numpy as np
            SEEN = []
            def look(where):
                hits = 0
                for obj in gc.get_objects():
                    try:
                        if isinstance(obj, np.ndarray) and {secret!r} in obj:
                            hits += 1
                        if isinstance(obj, (bytes, bytearray)) and np.float64({secret!r}).tobytes() in obj:
                            hits += 1
                    except Exception:
                        pass
                for root, _, files in os.walk(".."):
                    for f in files:
                        try:
                            with open(os.path.join(root, f), "rb") as fh:
                                if np.float64({secret!r}).tobytes() in fh.read():
                                    hits += 1
                        except OSError:
                            pass
                SEEN.append((where, hits))
            look("load")
            def first():
                look("first probe")
                return {{"y": np.array([float(h) for _, h in SEEN])}}
            def add(x, k):
                return x + k
            """
        ),
        probes=(
            probe("first", "raw", fn="first"),
            ProbeCall("later", "add", {"k": 1.0}, ("later_x",), 2.0, input_prefix="later_"),
        ),
        inputs={"x": X, "later_x": np.full((2, 3), secret)},
        probe_module=PROBES,
        output_specs={"first": {"y": OutputSpec()}, "later": {"y": OutputSpec()}},
    )
    result = runner(job)
    assert result.outcome("first").status == "ok"
    np.testing.assert_array_equal(result.outcome("first").arrays["y"], [0.0, 0.0])
    np.testing.assert_array_equal(result.outcome("later").arrays["y"], np.full((2, 3), secret + 1))


def test_output_of_load_and_hidden_probes_is_kept_apart_from_public_output(runner):
    """What is printed at load or while a hidden probe runs is the instructor's only."""
    job = make_job(
        """
        print("printed at load")
        def add(x, k):
            print(f"printed in a probe with k={k}")
            return x + k
        """,
        probe("public", k=1.0),
        ProbeCall("hidden", "add", {"k": 7.0}, ("x",), 2.0, public=False),
    )
    result = runner(job)
    assert "printed at load" in result.stdout_excerpt
    assert "k=7.0" in result.stdout_excerpt
    assert "k=1.0" in result.public_stdout
    assert "printed at load" not in result.public_stdout
    assert "k=7.0" not in result.public_stdout
