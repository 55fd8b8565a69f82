"""What a cold grade-one keeps between processes and starts ahead: the tier verdicts
(root-only, checked before use) and the worker of its one job (the same result)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from grader.adapters import CHILD_PROBES
from grader.grade import grade_submission
from grader.rubric_file import load_rubric
from grader.sandbox import Limits, tiers, warm
from grader.sandbox.tiers import VerdictStore

ROOT = Path(__file__).parents[3]
TEMPLATE = ROOT / "submissions" / "correct" / "template_ok.ipynb"
RUBRIC = ROOT / "rubrics" / "mlp_backprop.toml"

as_root_only = pytest.mark.skipif(os.geteuid() != 0, reason="verdicts are kept as root only")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty folder for verdicts, as the grader would make it (0700)."""
    tmp_path.chmod(0o755)
    return tmp_path / "verdicts"


@as_root_only
def test_a_kept_verdict_is_read_by_the_next_process(folder: Path) -> None:
    VerdictStore(folder).put("bwrap", [True, "works"])
    assert VerdictStore(folder).get("bwrap") == [True, "works"]
    assert folder.stat().st_mode & 0o777 == 0o700
    (record,) = folder.iterdir()
    assert record.stat().st_mode & 0o077 == 0


@as_root_only
@pytest.mark.parametrize(
    "spoil",
    [
        "file open to others",
        "folder open to others",
        "file a link",
        "another key",
        "another format",
        "not JSON",
    ],
)
def test_a_verdict_that_may_not_be_ours_is_probed_again(folder: Path, spoil: str) -> None:
    """Only a record root wrote, for this very key, in a folder only root can enter, counts."""
    store = VerdictStore(folder)
    store.put("bwrap", [False, "no user namespaces"])
    (record,) = folder.iterdir()
    if spoil == "file open to others":
        record.chmod(0o666)
    elif spoil == "folder open to others":
        folder.chmod(0o755)
    elif spoil == "file a link":
        target = folder.parent / "planted.json"
        record.rename(target)
        record.symlink_to(target)
    elif spoil in ("another key", "another format"):
        data = json.loads(record.read_text())
        data["key" if spoil == "another key" else "format"] = "something else"
        record.write_text(json.dumps(data))
    else:
        record.write_text("{")
    assert VerdictStore(folder).get("bwrap") is None


def test_no_verdict_is_kept_for_a_user_whose_child_could_forge_it(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not as root, a plain-tier child runs as the grader's own user: nothing is kept."""
    monkeypatch.setattr(tiers, "as_root", lambda: False)
    VerdictStore(folder).put("bwrap", [True, "works"])
    assert not folder.exists()
    assert VerdictStore(folder).get("bwrap") is None


def test_the_key_changes_with_what_the_verdict_depends_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = VerdictStore(tmp_path).key
    monkeypatch.setenv("PATH", str(tmp_path))  # bwrap and setpriv no longer found
    assert VerdictStore(tmp_path).key != before


def test_a_kept_uid_verdict_still_prepares_the_uid_tier(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The uid tier's ACLs and shadow site are this process's work, kept verdict or not."""
    store = VerdictStore(folder)
    store._loaded = {"uid": [True, "dedicated uids"]}
    monkeypatch.setattr(tiers, "_VERDICTS", store)
    prepared: list[bool] = []
    from grader.sandbox import privilege

    monkeypatch.setattr(privilege, "prepare_uid_tier", lambda: prepared.append(True))
    assert tiers.uid_status.__wrapped__() == (True, "dedicated uids")
    assert prepared == [True]


# ---------------------------------------------------------------------------
# The pre-started worker of grade-one


def test_a_prestarted_worker_grades_as_a_cold_child_does() -> None:
    """Same checks, statuses and points; only the worker that ran the job differs."""
    rubric = load_rubric(RUBRIC)
    cold = grade_submission(TEMPLATE, rubric)
    warm.prestart(Limits(), None)
    ahead = grade_submission(TEMPLATE, rubric)
    assert not warm._PRESTARTED  # taken by the job
    # released after it: it exits on its own while the parent judges, and is reaped at exit
    taken = warm._TAKEN.pop()
    assert taken._process is not None and taken._process.popen.wait(timeout=10) == 0
    taken.close()
    assert taken.pid is None
    assert (cold.provenance["worker"], ahead.provenance["worker"]) == ("cold", "warm")
    assert [(c.check_id, c.status, c.points) for c in cold.checks] == [
        (c.check_id, c.status, c.points) for c in ahead.checks
    ]
    assert cold.score is not None and ahead.score is not None
    assert cold.score.points == ahead.score.points
    # the evidence's numbers (a timing ratio) may differ between two runs, the levels not
    assert [(o.objective, o.level, o.points) for o in cold.score.objectives] == [
        (o.objective, o.level, o.points) for o in ahead.score.objectives
    ]


@pytest.mark.parametrize("shipped", ["the job's", "another"])
def test_a_probe_module_shipped_at_start_is_not_sent_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shipped: str
) -> None:
    """The worker compiles the probe module it was started with (from the installation's
    bytecode): a job with that module sends no COMPILE; a job with another still does,
    and both grade alike."""
    other = tmp_path / "probes.py"
    other.write_text("def unused():\n    return 0\n")
    sent: list[bytes] = []
    write_all = warm.wire.write_all

    def recorded(fd: int, data: bytes, *args: object) -> None:
        sent.append(bytes(data))
        write_all(fd, data, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(warm.wire, "write_all", recorded)
    rubric = load_rubric(RUBRIC)
    warm.prestart(Limits(), None, (CHILD_PROBES if shipped == "the job's" else other,))
    graded = grade_submission(TEMPLATE, rubric)
    taken = warm._TAKEN.pop()
    taken.close()
    assert graded.provenance["worker"] == "warm"
    assert graded.score is not None and graded.score.points == graded.score.max_points
    assert warm.wire.JOB in sent
    assert (warm.wire.COMPILE in sent) == (shipped == "another")


def test_a_prestarted_worker_no_job_takes_is_closed() -> None:
    warm.prestart(Limits(), None)
    (worker,) = warm._PRESTARTED.values()
    pid = worker.pid
    assert pid is not None
    other = Limits(memory_bytes=Limits().memory_bytes // 2)
    assert warm.take_prestarted(other, worker.tier) is None
    assert not warm._PRESTARTED and worker.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
