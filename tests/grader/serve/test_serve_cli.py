"""``grader serve`` closes its store on every way out, the early ones included: a refusal
after the store is opened (no tokens, a roster student without one, a timeout shorter
than the rubric's limits) and a start that fails (the port taken once the store was
open). A store left open keeps its connections, its heartbeat thread and, on SQLite,
its write-ahead log until the process ends."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.serve import cli
from grader.serve.store import Store
from tests.grader.serve.conftest import RUBRIC, Class, need_web_stack

need_web_stack()


class Counted(Store):
    opened: list[Store] = []  # noqa: RUF012 (the test's own record)
    closed: list[Store] = []  # noqa: RUF012

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        Counted.opened.append(self)

    def close(self) -> None:
        Counted.closed.append(self)
        super().close()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[Counted]]:
    Counted.opened, Counted.closed = [], []
    monkeypatch.setattr(cli, "Store", Counted)
    yield Counted


def serve(klass: Class, *extra: str) -> int:
    return cli.main(["--rubric", str(RUBRIC), "--data", str(klass.data), *extra])


@pytest.mark.parametrize(
    ("case", "phrase"),
    [
        ("no tokens", "holds no tokens"),
        ("roster", "have no token"),
        ("timeout", "is shorter than this rubric's own limits"),
    ],
)
def test_a_refusal_after_the_store_is_opened_closes_it(
    klass: Class,
    tmp_path: Path,
    counted: type[Counted],
    capsys: pytest.CaptureFixture[str],
    case: str,
    phrase: str,
) -> None:
    extra: list[str] = ["--port", str(_free_port())]
    if case == "no tokens":
        extra += ["--data", str(tmp_path / "empty")]  # the last --data wins
    if case == "roster":
        roster = tmp_path / "more.csv"
        roster.write_text("student\nalice\nzoe\n")
        extra += ["--roster", str(roster)]
    if case == "timeout":
        extra += ["--timeout", "1"]
    assert serve(klass, *extra) == 2
    assert phrase in capsys.readouterr().err
    assert len(counted.opened) == 1
    assert counted.closed == counted.opened


def test_a_port_in_use_is_one_sentence_and_opens_nothing(
    klass: Class, counted: type[Counted], capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serve(klass, "--port", str(port)) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err
    assert "Traceback" not in err
    assert counted.opened == [] and counted.closed == []


def test_a_port_taken_after_the_store_was_opened_still_closes_it(
    klass: Class,
    counted: type[Counted],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The port is free when checked and taken when uvicorn binds it (another program
    was faster): uvicorn exits; the store is closed, and its write-ahead log with it."""
    monkeypatch.setattr(cli, "_check_port", lambda host, port: None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serve(klass, "--port", str(port), "--workers", "1") == 2
    assert "could not start on 127.0.0.1" in capsys.readouterr().err
    assert len(counted.opened) == 1 and counted.opened[0] in counted.closed
    assert not (klass.data / "service.db-wal").exists()  # checkpointed: no connection open


def test_a_runner_that_fails_to_start_stops_the_service_and_closes_the_store(
    klass: Class,
    counted: type[Counted],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The application's start fails (the runner cannot start): uvicorn exits, which is one
    sentence here; the store the runner had begun to use is closed."""
    from grader.serve.runner import Runner

    def broken(self: Runner) -> int:
        self.store.recover()  # its heartbeat started, as a real start does first
        raise RuntimeError("the work folder cannot be made")

    monkeypatch.setattr(Runner, "start", broken)
    assert serve(klass, "--port", str(_free_port()), "--workers", "1") == 2
    assert "could not start on 127.0.0.1" in capsys.readouterr().err
    assert len(counted.opened) == 1 and counted.opened[0] in counted.closed
    assert counted.opened[0]._beating is None  # the heartbeat thread stopped


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
