"""The sandbox's parts on their own: job checks, output capture and reading, framing, tiers."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from grader.sandbox import Job, Limits, OutputSpec, ProbeCall, SandboxConfigError
from grader.sandbox import tiers as tiers_module
from grader.sandbox.child import runner, wire
from grader.sandbox.child.session import Capture
from grader.sandbox.tiers import SandboxUnavailableError, bwrap_command, child_env, resolve_tier
from grader.sandbox.warm import LEAN_PRELOAD, PRELOAD, preload_for

from .helpers import NO_NS, PROBES, make_job, probe

# -- Job and Limits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"probes": (probe("p"), probe("p"))}, "repeat"),
        ({"probes": (probe("../evil"),)}, "not simple"),
        ({"output_specs": {}}, "no output spec"),
        ({"probes": (ProbeCall("p", "add", {"k": 1}, ("nope",)),)}, "unknown inputs"),
        ({"probes": (ProbeCall("p", "add", {"k": object()}, ("x",)),)}, "not JSON"),
        ({"probes": (ProbeCall("p", "add", {}, ("x",), float("inf")),)}, "finite"),
        ({"inputs": {"x": np.array([object()])}}, "numeric array"),
        ({"data_files": {"../escape.csv": b""}}, "relative and inside"),
        ({"data_files": {"submission.py": b""}}, "relative and inside"),
        ({"output_specs": {"p": {"not a name": OutputSpec()}}}, "not simple"),
        ({"probe_module": PROBES.with_name("absent.py")}, "does not exist"),
    ],
)
def test_malformed_jobs_are_configuration_errors(change, message):
    """A malformed job is refused when built, with a message naming the fault."""
    base = make_job("def add(x, k):\n    return x + k\n")
    fields = {
        "code": base.code,
        "probes": base.probes,
        "inputs": base.inputs,
        "probe_module": base.probe_module,
        "output_specs": base.output_specs,
        "data_files": base.data_files,
    }
    with pytest.raises(SandboxConfigError, match=message):
        Job(**{**fields, **change})


def test_limits_refuse_non_positive_values():
    """Limits must be positive (max_restarts may be zero)."""
    assert Limits(max_restarts=0).max_restarts == 0
    with pytest.raises(SandboxConfigError, match="setup_timeout"):
        Limits(setup_timeout=0)


def test_nproc_is_applied_only_with_a_uid_of_its_own():
    """RLIMIT_NPROC counts per uid, so it is sent only when the child has its own uid."""
    assert Limits().rlimits(own_uid=True)["processes"] == Limits().processes
    assert Limits().rlimits(own_uid=False)["processes"] == 0


# -- capture and output reading --------------------------------------------------------------


def test_capture_keeps_head_and_tail_within_its_limit():
    """A long stream keeps its first and last bytes and counts the rest."""
    c = Capture(100)
    for i in range(1000):
        c.feed(f"{i:04d}\n".encode())
    text = c.text()
    assert text.startswith("0000\n") and text.endswith("0999\n")
    assert "[... 4900 bytes omitted ...]" in text
    assert c.total == 5000 and len(c.head) + len(c.tail) == 100


def test_capture_of_a_short_stream_is_verbatim():
    """A stream under the limit comes back whole, with no marker."""
    c = Capture(100)
    c.feed(b"abc")
    c.feed(b"def")
    assert c.text() == "abcdef"


def test_a_precompiled_module_is_not_compiled_again(monkeypatch):
    """load_module runs the code precompile() made for the same source, without compile()."""
    source = b"def twice(x):\n    return 2 * x\n"
    runner.precompile("_m", source)

    def no_compiling(*args, **kwargs):
        raise AssertionError("compiled again")

    monkeypatch.setattr(runner, "compile", no_compiling, raising=False)
    assert runner.load_module("_m", source=source).twice(4) == 8
    with pytest.raises(AssertionError, match="compiled again"):
        runner.load_module("_m", source=source + b"# another module\n")


@pytest.mark.parametrize(
    ("rows", "provides"),
    [
        (["grader/__init__.py,sha256=x,1", "other/a.py,,"], True),
        (["other/a.py,,", "reference.py,sha256=y,2"], True),
        (['"grader/odd,name.py",sha256=z,3'], True),
        (['"reference.py",,'], True),
        (
            ["pkg/grader/x.py,,", "docs/reference/y.md,,", "graders/z.py,,", "reference_a.py,,"],
            False,
        ),
        (["grader.pyc,,", '"graderx/a.py",,', "mygrader.py,,", "x,grader/y"], False),
        (["other.egg-info/SOURCES.txt", "grader/cli.py"], True),  # SOURCES.txt: bare paths
        (["setup.py", "reference.py"], True),
        (["a/b.py,,", "grader.py"], True),  # the last line, without its newline
    ],
)
def test_the_fast_file_list_reading_finds_what_the_csv_reading_finds(rows, provides, tmp_path):
    """Which distributions provide the grader (and so are masked from the child) is decided
    by a substring scan of their RECORD: it agrees with the full CSV reading."""
    from grader.sandbox import privilege
    from grader.sandbox.installed import Installed

    for newline in ("\n", "\r\n"):
        info = tmp_path / f"d{len(newline)}" / "x-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "RECORD").write_bytes(newline.join(rows).encode())
        dist = Installed(info)
        full = not privilege.GRADER_PACKAGES_SET.isdisjoint(privilege._top_level_names(dist))
        assert privilege._provides_grader(dist) == full == provides


def test_the_child_package_ships_its_bytecode_only_where_it_matches(tmp_path):
    """A module's cached .pyc travels (hash-checked, so the child's interpreter loads it
    without compiling); a .pyc of other source, or none, ships nothing."""
    import importlib.util
    import py_compile
    import subprocess
    import sys

    from grader.sandbox import process

    module = tmp_path / "mod.py"
    source = b"VALUE = 41 + 1\n"
    module.write_bytes(source)
    assert process._bytecode(module, source) is None  # no .pyc yet
    py_compile.compile(str(module), doraise=True)
    code = process._bytecode(module, source)
    assert code is not None and code[4:8] == (0b11).to_bytes(4, "little")
    # the child's copy: the source beside the shipped .pyc, loaded from the .pyc under -B
    copy = tmp_path / "copy"
    (copy / "__pycache__").mkdir(parents=True)
    (copy / "mod.py").write_bytes(source)
    (copy / importlib.util.cache_from_source("mod.py", optimization="")).write_bytes(code)
    shown = subprocess.run(
        [sys.executable, "-B", "-v", "-c", "import mod; print(mod.VALUE)"],
        cwd=copy,
        capture_output=True,
        text=True,
    )
    assert (
        shown.stdout.strip() == "42" and "mod.cpython" in shown.stderr and "matches" in shown.stderr
    )
    # the installed source changed since its .pyc was written: nothing is shipped
    module.write_bytes(b"VALUE = 7  # longer, so the size differs\n")
    assert process._bytecode(module, module.read_bytes()) is None
    files = process.runner_files()
    for name, data in files.items():
        if name.endswith(".pyc"):
            py = name.replace("__pycache__/", "").rsplit(".", 2)[0] + ".py"
            assert data[8:16] == importlib.util.source_hash(files[py])


@pytest.mark.parametrize(
    ("code", "lean"),
    [
        ("import numpy as np\nimport os, sys\n", True),
        ("def f():\n    import numpy.linalg as la\n    from math import pi\n", True),
        ("x = 1\n", True),
        ("import numpy as np, pandas as pd\n", False),
        ("from scipy.special import expit\n", False),
        ("import numpy as np; import sklearn\n", False),
        ("from . import helpers\n", False),
    ],
)
def test_the_lean_worker_is_for_code_importing_only_numpy_and_the_stdlib(code, lean):
    """preload_for picks numpy alone unless the code imports anything else."""
    assert (preload_for(code) == LEAN_PRELOAD) is lean
    assert preload_for(code) == (LEAN_PRELOAD if lean else PRELOAD)


def test_frames_round_trip_header_and_blobs():
    """A frame comes back with its header and blobs intact."""
    r, w = os.pipe()
    try:
        wire.write_frame(w, {"a": [1, "two"]}, [b"xyz", b""])
        header, blobs = wire.read_frame(r, deadline=time.monotonic() + 1)
    finally:
        os.close(r)
        os.close(w)
    assert header == {"a": [1, "two"], "blobs": [3, 0]} and blobs == [b"xyz", b""]


def test_frames_over_the_caps_or_with_bad_magic_are_refused():
    """Declared sizes are checked before reading; a wrong magic is refused."""
    for header, blobs, caps, match in [
        ({"x": "y" * 100}, [], {"max_header": 50}, "bad frame prefix"),
        ({}, [b"z" * 100], {"max_blobs": 50}, "declares 100 bytes"),
    ]:
        r, w = os.pipe()
        wire.write_frame(w, header, blobs)
        with pytest.raises(wire.WireError, match=match):
            wire.read_frame(r, deadline=time.monotonic() + 1, **caps)
        os.close(r)
        os.close(w)
    r, w = os.pipe()
    os.write(w, b"XXXX" + bytes(8))
    with pytest.raises(wire.WireError, match="bad frame prefix"):
        wire.read_frame(r, deadline=time.monotonic() + 1)
    os.close(r)
    os.close(w)


def test_reading_a_silent_pipe_times_out():
    """A peer that sends nothing costs the deadline, not forever."""
    r, w = os.pipe()
    t0 = time.monotonic()
    with pytest.raises(wire.WireError, match="timed out"):
        wire.read_exact(r, 1, deadline=time.monotonic() + 0.2)
    assert time.monotonic() - t0 < 1.0
    os.close(r)
    os.close(w)


# -- tiers -----------------------------------------------------------------------------------


def test_plain_can_always_be_chosen(monkeypatch):
    """tier="plain", or GRADER_SANDBOX=plain, selects the plain tier (as root: the uid tier)."""
    assert resolve_tier("plain") == NO_NS
    monkeypatch.setenv("GRADER_SANDBOX", "plain")
    assert resolve_tier() == NO_NS


def test_unknown_or_unavailable_tier_is_a_clear_error(monkeypatch):
    """An unknown tier, or bwrap demanded where it cannot run, raises with the reason."""
    with pytest.raises(SandboxUnavailableError, match="unknown sandbox tier"):
        resolve_tier("docker")
    monkeypatch.setattr(tiers_module, "bwrap_status", lambda: (False, "no bwrap here"))
    with pytest.raises(SandboxUnavailableError, match="no bwrap here"):
        resolve_tier("bwrap")
    monkeypatch.setenv("GRADER_SANDBOX", "bwrap")
    with pytest.raises(SandboxUnavailableError):
        resolve_tier()
    monkeypatch.delenv("GRADER_SANDBOX")
    assert resolve_tier() == NO_NS  # the fallback when nothing is demanded


def test_bwrap_command_isolates_and_never_binds_the_repository():
    """The command unshares net and pid, dies with its parent, and binds no repository path."""
    cmd = bwrap_command([("/tmp/j", "/job")], [("/tmp/r", "/runner")], "/job")
    for flag in ("--unshare-net", "--unshare-pid", "--die-with-parent", "--disable-userns"):
        assert flag in cmd
    repo = str(PROBES.parents[3])
    # the repository itself or anything in it (not a sibling such as "<repo>-venv")
    assert not any(arg == repo or arg.startswith(repo + os.sep) for arg in cmd)
    assert cmd[cmd.index("/tmp/r") - 1] == "--ro-bind" and cmd[cmd.index("/tmp/j") - 1] == "--bind"
    if os.geteuid() == 0:
        assert "--reuid=65534" in cmd and "--bounding-set=-all" in cmd


def test_child_environment_inherits_nothing(monkeypatch):
    """The child's environment is built from scratch: no token of the parent's survives."""
    monkeypatch.setenv("GITHUB_TOKEN", "secret")
    env = child_env("/job/home")
    assert "GITHUB_TOKEN" not in env and env["HOME"] == "/job/home"
    assert env["OPENBLAS_NUM_THREADS"] == env["OMP_NUM_THREADS"] == "1"
