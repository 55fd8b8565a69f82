"""Shared pieces of the service's tests: a class with tokens, and notebooks to submit."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grader.serve.cli import main as serve_main

NO_EXTRA = "the service's extra is not installed: python -m pip install -e '.[serve]'"


def need_web_stack() -> None:
    """Skip the calling test module where the ``serve`` extra is missing."""
    for module in ("fastapi", "uvicorn", "httpx", "multipart"):
        pytest.importorskip(module, reason=NO_EXTRA)


ROOT = Path(__file__).resolve().parents[3]
RUBRIC = ROOT / "rubrics" / "mlp_backprop.toml"
DEMO = ROOT / "submissions" / "demo"
STUDENTS = ("alice", "bob", "carol")


@dataclass
class Class:
    data: Path
    tokens: dict[str, str]

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


@pytest.fixture
def klass(tmp_path: Path) -> Class:
    """A store under tmp_path with tokens issued for three students and the instructor."""
    roster = tmp_path / "roster.csv"
    roster.write_text("student,email\n" + "".join(f"{s},{s}@example.edu\n" for s in STUDENTS))
    out = tmp_path / "tokens.csv"
    assert (
        serve_main(["tokens", str(roster), "--data", str(tmp_path / "data"), "--out", str(out)])
        == 0
    )
    with open(out, newline="") as handle:
        tokens = {row["student"]: row["token"] for row in csv.DictReader(handle)}
    return Class(tmp_path / "data", tokens)


def slow_notebook(seconds: float, base: Path = DEMO / "alice.ipynb") -> bytes:
    """``base`` (default: the demo's alice, full marks) with a first cell that takes
    ``seconds`` to define: a default argument is evaluated when the definition runs, in
    the sandbox's setup."""
    notebook = json.loads(base.read_text())
    cell = f"import time\n\ndef _slow_start(pause=time.sleep({seconds})):\n    return pause\n"
    notebook["cells"].insert(
        0,
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": cell,
        },
    )
    return json.dumps(notebook).encode()


def named_misconception(sample: str) -> str:
    """The title of the misconception the grader names in ``submissions/buggy/<sample>``
    (its expected outcome says which, the reference's catalogue what it is called)."""
    from reference.misconceptions import get

    expected = tomllib.loads((ROOT / "submissions/buggy/expected.toml").read_text("utf-8"))
    case = expected["buggy"][sample]
    assert case["outcome"] == "diagnosed" and case["rubric"] == "rubrics/mlp_backprop.toml"
    return get(case["label"]).title


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """``grader serve`` in a subprocess of its own (a real uvicorn on a loopback port)."""

    data: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *extra: str) -> None:
        import httpx

        self.log = self.data.parent / f"server-{time.monotonic_ns()}.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "grader",
                    "serve",
                    "--rubric",
                    str(RUBRIC),
                    "--data",
                    str(self.data),
                    "--port",
                    str(self.port),
                    *extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(self.url + "/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError(f"the server did not answer within 60 s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup; the grading process it started is left alone
        (it leads its own session) and ends when it finds its pipe closed."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def server(klass: Class) -> Iterator[Server]:
    running = Server(klass.data)
    yield running
    running.stop()


def wait_done(url: str, headers: dict[str, str], job: str, limit: float = 120) -> dict[str, object]:
    import httpx

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        status = httpx.get(f"{url}/api/jobs/{job}", headers=headers, timeout=10).json()
        if status["state"] == "done":
            return dict(status)
        time.sleep(0.3)
    raise AssertionError(f"job {job} was not done within {limit} s")
