"""End to end: the hostile submissions of submissions/hostile/, graded by the real pipeline.

Each submission is graded alone with :func:`grader.grade.grade_submission` (once per
module; the tests below read the same results), then all of them together with the
correct template sample in one :func:`grader.batch.run_batch` on the local executor.
What each one must get is in submissions/hostile/expected.toml: its status, the checks
its attack must not pass, the most points its honest part may earn (zero inflation),
phrases the report must contain, and a wall-time bound. The rubric is
rubrics/mlp_backprop.toml with a short timeout on every probe (:func:`fast_rubric_toml`),
derived afresh each run so it follows the shipped rubric.

Submissions that only bubblewrap stops (reading the grader's files, the network, a
daemon that escapes the plain tier's kill) skip where bubblewrap is missing.
"""

from __future__ import annotations

import csv
import math
import os
import re
import socket
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from grader.batch import BatchSummary, GradeJob, run_batch
from grader.cache import ResultStore
from grader.grade import GradeSettings, grade_submission
from grader.results import CheckResult, GradeResult
from grader.rubric import Rubric
from grader.rubric_file import load_rubric
from grader.sandbox import Limits
from grader.sandbox.child import proctree
from tests.grader.sandbox.helpers import advisory_skip_reason, bwrap_skip_reason, cmdline_holders

ROOT = Path(__file__).parents[2]
HOSTILE = ROOT / "submissions" / "hostile"
SHIPPED_RUBRIC = ROOT / "rubrics" / "mlp_backprop.toml"
# probe timeouts in seconds (the defaults are 10 s, and 60 s for train and timing): a
# correct submission answers each probe in well under 0.1 s, monkeypatch_clock's looped
# gradient the timing probe in a few seconds; a hang then costs seconds, not minutes
FAST_TIMEOUTS = {"train": 5.0, "timing": 10.0}
FAST_TIMEOUT_OTHER = 2.0
CORRECT = ROOT / "submissions" / "correct" / "template_ok.ipynb"
CORRECT_SOURCE = ROOT / "submissions" / "src" / "template_ok.py"
BAIT_PORT = 47613  # network.py dials it: a bait server there hands out working code
UNPICKLED_MARKER = Path("/tmp/hostile-forged-npz-was-unpickled")  # forged_npz.py's payload
# a fresh child per submission (cold), the default memory and file limits; a short setup
# limit and total limit keep a broken sandbox from stalling the suite
SETTINGS = GradeSettings(limits=Limits(setup_timeout=10.0, total_timeout=60.0), figures=False)
BATCH_TIMEOUT = 90.0  # seconds one submission may take in the batch (the executor's limit)
BWRAP_MISSING = bwrap_skip_reason()
ADVISORY = advisory_skip_reason()


@dataclass(frozen=True)
class Expectation:
    """One table of expected.toml (see its header for the keys)."""

    name: str
    file: str
    status: str
    must_fail: tuple[str, ...]
    max_points: float
    max_seconds: float
    evidence: str = ""
    evidence_of: dict[str, str] = field(default_factory=dict)
    notes: str = ""
    stdout: str = ""
    survivor_tag: str = ""
    needs_bwrap: bool = False
    needs_tier: str = ""  # "uid": stopped by the uid tier too; skipped only in the plain tier
    known_bug: str = ""
    unclear_report: str = ""

    @classmethod
    def from_table(cls, name: str, t: dict[str, Any]) -> Expectation:
        return cls(
            name,
            t["file"],
            t["status"],
            tuple(t["must_fail"]),
            float(t["max_points"]),
            float(t["max_seconds"]),
            t.get("evidence", ""),
            dict(t.get("evidence_of", {})),
            t.get("notes", ""),
            t.get("stdout", ""),
            t.get("survivor_tag", ""),
            bool(t.get("needs_bwrap", False)),
            t.get("needs_tier", ""),
            t.get("known_bug", ""),
            t.get("unclear_report", ""),
        )


EXPECTED = {
    name: Expectation.from_table(name, table)
    for name, table in tomllib.loads((HOSTILE / "expected.toml").read_text()).items()
}


def cases(select: str = "all", known: str = "") -> list[Any]:
    """One pytest param per hostile submission, skipped where expected.toml says so.

    select : "all", or "survivors" (those that start processes of their own)
    known  : "known_bug" or "unclear_report": the test is one that such a known grader
             problem fails; those params become strict expected failures (an unexpected
             pass says the problem is fixed: remove the key from expected.toml)
    """
    out = []
    for exp in EXPECTED.values():
        if select == "survivors" and not exp.survivor_tag:
            continue
        marks: list[Any] = []
        if exp.needs_bwrap:
            marks += [
                pytest.mark.sandbox,
                pytest.mark.skipif(BWRAP_MISSING is not None, reason=str(BWRAP_MISSING)),
            ]
        elif exp.needs_tier == "uid":
            marks.append(pytest.mark.skipif(ADVISORY is not None, reason=str(ADVISORY)))
        if known and getattr(exp, known):
            why = f"grader problem: {getattr(exp, known)}"
            marks.append(pytest.mark.xfail(reason=why, strict=True))
        out.append(pytest.param(exp, id=exp.name, marks=marks))
    return out


def survivors_of(tag: str) -> tuple[str, ...]:
    """ "<pid>: <command line>" of each live process of ours whose command line holds ``tag``.

    Ours: a descendant of this process, or an orphan (parent 1), as a process that escaped
    the grader's kill would be. Processes under another process tree (another test run on
    the same machine, grading the same submission right now) are not ours.
    """
    table = proctree.processes()
    me, found = os.getpid(), []
    for pid in cmdline_holders(tag):
        if pid not in table:
            continue
        chain, up = set(), table[pid].ppid
        while up in table and up not in chain and up > 1:
            chain.add(up)
            up = table[up].ppid
        if me not in chain and table[pid].ppid != 1:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        found.append(f"{pid}: {b' '.join(argv).decode(errors='replace')}")
    return tuple(found)


def honest_points(exp: Expectation, rubric: Rubric) -> float:
    """The most the honest part can earn: every point but those of the attacked checks.

    The score tests use this rather than expected.toml's max_points, so a check added to
    the shipped rubric fails only test_each_bound_is_what_the_honest_part_can_earn.
    """
    return rubric.max_points - sum(c.points for c in rubric.checks if c.id in exp.must_fail)


def report_text(check: CheckResult) -> str:
    """Everything a student reads about one check."""
    return "\n".join([check.reason, *check.evidence])


# ---------------------------------------------------------------------------
# Fixtures


def fast_rubric_toml() -> str:
    """rubrics/mlp_backprop.toml with ``timeout`` set in every check's [checks.params]."""
    out: list[str] = []
    probe = ""
    for line in SHIPPED_RUBRIC.read_text(encoding="utf-8").splitlines():
        if match := re.match(r'probe = "(\w+)"', line):
            probe = match[1]
        if re.match(r"timeout\s*=", line):
            continue  # replaced below
        out.append(line)
        if line.strip() == "[checks.params]":
            out.append(f"timeout = {FAST_TIMEOUTS.get(probe, FAST_TIMEOUT_OTHER)}")
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def rubric_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fast rubric as a file (the batch sends its bytes to the workers)."""
    path = tmp_path_factory.mktemp("rubric") / "mlp_backprop_fast.toml"
    path.write_text(fast_rubric_toml(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def rubric(rubric_path: Path) -> Rubric:
    """The fast rubric, parsed."""
    return load_rubric(rubric_path)


@pytest.fixture(scope="module")
def bait_server() -> Iterator[bool]:
    """A server on 127.0.0.1:BAIT_PORT handing working code to anyone who connects.

    Yields whether it could listen (the port may be taken). If the network reached the
    sandbox, network.py would run this code and earn full marks.
    """
    code = CORRECT_SOURCE.read_bytes()
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind(("127.0.0.1", BAIT_PORT))
    except OSError:
        server.close()
        yield False
        return
    server.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return  # closed
            with conn:
                conn.sendall(code)

    threading.Thread(target=serve, daemon=True).start()
    yield True
    server.close()


@dataclass(frozen=True)
class Solo:
    """One submission graded alone: its result, wall time, and processes left behind."""

    result: GradeResult
    seconds: float
    survivors: tuple[str, ...]


@pytest.fixture(scope="module")
def solo(rubric: Rubric, bait_server: bool) -> Iterator[Any]:
    """name -> Solo, graded on first use and kept for the module's other tests."""
    UNPICKLED_MARKER.unlink(missing_ok=True)  # left by an earlier, broken grader
    done: dict[str, Solo] = {}

    def grade(exp: Expectation) -> Solo:
        if exp.name not in done:
            t0 = time.monotonic()
            result = grade_submission(HOSTILE / exp.file, rubric, SETTINGS)
            seconds = time.monotonic() - t0
            # looked for at once: a daemon that escaped would end by itself later
            survivors = survivors_of(exp.survivor_tag) if exp.survivor_tag else ()
            done[exp.name] = Solo(result, seconds, survivors)
        return done[exp.name]

    yield grade


# ---------------------------------------------------------------------------
# The hostile set itself


def test_expected_toml_lists_every_hostile_submission_and_nothing_else() -> None:
    """expected.toml has one table per .py/.ipynb in submissions/hostile/, naming its file."""
    files = {p.name for p in HOSTILE.iterdir() if p.suffix in (".py", ".ipynb")}
    assert {e.file for e in EXPECTED.values()} == files
    assert all(Path(e.file).stem == e.name for e in EXPECTED.values())


def test_each_bound_is_what_the_honest_part_can_earn(rubric: Rubric) -> None:
    """max_points is the rubric's total minus the points of the checks the attack targets."""
    ids = {c.id for c in rubric.checks}
    for exp in EXPECTED.values():
        assert set(exp.must_fail) | set(exp.evidence_of) <= ids, exp.name
        assert math.isclose(exp.max_points, honest_points(exp, rubric)), (
            f"{exp.name}: max_points {exp.max_points} but the rubric now gives the honest part "
            f"{honest_points(exp, rubric)} of {rubric.max_points}: the rubric changed; decide "
            "which of its new checks the attack targets (must_fail) and update expected.toml"
        )


def test_fast_rubric_is_the_shipped_rubric_with_short_timeouts(rubric: Rubric) -> None:
    """The derived rubric has every check of the shipped one, each with its short timeout."""
    shipped = load_rubric(SHIPPED_RUBRIC)
    assert [c.id for c in rubric.checks] == [c.id for c in shipped.checks]
    assert rubric.max_points == shipped.max_points
    for check in rubric.checks:
        want = FAST_TIMEOUTS.get(check.probe, FAST_TIMEOUT_OTHER)
        assert check.params["timeout"] == want, check.id


# ---------------------------------------------------------------------------
# Each one alone, through grade_submission


def uid_cases() -> list[Any]:
    """The submissions the uid tier must stop (all but those only bwrap stops), as root."""
    skip = None if os.geteuid() == 0 else "the uid tier needs root"
    return [
        pytest.param(
            exp, id=exp.name, marks=[pytest.mark.skipif(skip is not None, reason=str(skip))]
        )
        for exp in EXPECTED.values()
        if not exp.needs_bwrap and not exp.known_bug
    ]


@pytest.mark.slow
@pytest.mark.parametrize("exp", uid_cases())
def test_in_the_uid_tier_the_attack_gains_nothing(
    exp: Expectation, rubric: Rubric, bait_server: bool
) -> None:
    """Graded in the uid tier (root without namespaces, as on Gradescope), every attack
    but those only bubblewrap stops gets its expected status, its attacked checks earn
    nothing, the score stays within the honest bound, and no process outlives it."""
    result = grade_submission(HOSTILE / exp.file, rubric, replace(SETTINGS, tier="uid"))
    assert result.status == exp.status, result.reason
    assert result.provenance.get("sandbox_tier") == "uid"
    if result.score is not None:
        assert result.score.points <= honest_points(exp, rubric)
    by_id = {c.check_id: c for c in result.checks}
    for check_id in exp.must_fail:
        assert by_id[check_id].points == 0, (check_id, report_text(by_id[check_id]))
    if exp.survivor_tag:
        assert not survivors_of(exp.survivor_tag)


@pytest.mark.slow
@pytest.mark.parametrize("exp", cases())
def test_alone_gets_the_expected_status(exp: Expectation, solo: Any) -> None:
    """Graded alone, the submission gets the status expected.toml gives it."""
    result = solo(exp).result
    assert result.status == exp.status, result.reason


@pytest.mark.slow
@pytest.mark.parametrize("exp", cases(known="known_bug"))
def test_alone_the_attacked_checks_earn_nothing(exp: Expectation, solo: Any) -> None:
    """Every check the attack targets ends failed or not assessed, with no points."""
    by_id = {c.check_id: c for c in solo(exp).result.checks}
    for check_id in exp.must_fail:
        check = by_id[check_id]
        assert check.status != "passed" and check.points == 0, (check_id, report_text(check))


@pytest.mark.slow
@pytest.mark.parametrize("exp", cases(known="known_bug"))
def test_alone_the_score_is_not_inflated(exp: Expectation, solo: Any, rubric: Rubric) -> None:
    """The score is at most what the honest part of the code earns (expected.toml max_points)."""
    score = solo(exp).result.score
    assert score is not None and score.points <= honest_points(exp, rubric)


@pytest.mark.slow
@pytest.mark.parametrize("exp", cases(known="unclear_report"))
def test_alone_the_report_says_what_happened(exp: Expectation, solo: Any) -> None:
    """The checks' evidence, the notes or the kept stdout name what the submission did."""
    assert exp.evidence or exp.notes or exp.stdout, "expected.toml names no phrase to look for"
    result = solo(exp).result
    by_id = {c.check_id: c for c in result.checks}
    if exp.evidence:
        texts = [report_text(c) for c in result.checks]
        assert any(exp.evidence in t for t in texts), texts
    for check_id, phrase in exp.evidence_of.items():
        assert phrase in report_text(by_id[check_id])
    if exp.notes:
        assert any(exp.notes in note for note in result.notes), result.notes
    if exp.stdout:
        assert exp.stdout in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("exp", cases())
def test_alone_grading_ends_within_its_time_bound(exp: Expectation, solo: Any) -> None:
    """grade_submission returns within the submission's max_seconds: nothing hangs."""
    assert solo(exp).seconds < exp.max_seconds


@pytest.mark.slow
@pytest.mark.parametrize("exp", cases("survivors"))
def test_alone_no_process_outlives_the_grading(exp: Expectation, solo: Any) -> None:
    """The processes the attack starts (sleepers, a daemon) are all gone when grading returns."""
    assert solo(exp).survivors == ()


@pytest.mark.slow
def test_stdout_flood_keeps_only_a_bounded_excerpt(solo: Any) -> None:
    """100 MB printed per call: the result keeps the head and the tail, a few dozen KB."""
    result = solo(EXPECTED["stdout_flood"]).result
    assert len(result.stdout) < SETTINGS.limits.capture_bytes + 1000
    assert result.stdout.rstrip().endswith("one_hot: the last line")


@pytest.mark.slow
def test_forged_object_array_is_never_unpickled(solo: Any) -> None:
    """The grader refuses the forged object array without unpickling its payload."""
    solo(EXPECTED["forged_npz"])
    assert not UNPICKLED_MARKER.exists()


# ---------------------------------------------------------------------------
# All of them in one batch, with the correct sample


def batch_members() -> list[Path]:
    """The batch: every hostile submission this machine can contain, and the correct sample."""
    runnable = [
        e
        for e in EXPECTED.values()
        if not (e.needs_bwrap and BWRAP_MISSING) and not (e.needs_tier == "uid" and ADVISORY)
    ]
    return [HOSTILE / e.file for e in runnable] + [CORRECT]


@dataclass(frozen=True)
class Batch:
    """What the batch left: its summary, gradebook rows and per-submission times by identity,
    and the processes of each attack still alive after it."""

    summary: BatchSummary
    rows: dict[str, dict[str, str]]
    seconds: dict[str, float]
    survivors: dict[str, tuple[str, ...]]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory, rubric_path: Path, bait_server: bool) -> Batch:
    """One run_batch of batch_members() on the local executor, two at a time."""
    out = tmp_path_factory.mktemp("hostile-batch")
    job = GradeJob.from_file(grade_submission, rubric_path, SETTINGS)
    summary = run_batch(
        batch_members(),
        job,
        out,
        executor="local",
        workers=2,
        timeout=BATCH_TIMEOUT,
        progress=False,
    )
    survivors = {e.name: survivors_of(e.survivor_tag) for e in EXPECTED.values() if e.survivor_tag}
    with open(summary.gradebook, newline="", encoding="utf-8") as handle:
        rows = {r["student"]: r for r in csv.DictReader(handle)}
    store = ResultStore(out)
    seconds = {}
    for name in rows:
        stored = store.load(name)
        if stored is not None:
            seconds[name] = float(stored.result.provenance["batch"]["seconds"])
    return Batch(summary, rows, seconds, survivors)


@pytest.mark.slow
def test_batch_has_a_row_for_every_submission(batch: Batch) -> None:
    """gradebook.csv holds one row per submission of the batch, and no other."""
    assert set(batch.rows) == {p.stem for p in batch_members()}


@pytest.mark.slow
def test_batch_finishes_with_no_failed_or_pending_row(batch: Batch) -> None:
    """No submission kills its grading worker or runs into the batch's limit; none is left pending."""
    s = batch.summary
    assert not s.interrupted
    assert (s.failed, s.pending) == (0, 0), s.failures
    assert s.graded + s.ungradable == len(batch_members())


@pytest.mark.slow
def test_batch_correct_sample_keeps_full_marks(batch: Batch, rubric: Rubric) -> None:
    """The correct template, graded beside the hostile ones, still gets every point."""
    row = batch.rows[CORRECT.stem]
    assert row["status"] == "graded"
    assert float(row["total"]) == float(row["max"]) == rubric.max_points


@pytest.mark.slow
@pytest.mark.parametrize("exp", cases())
def test_batch_row_has_the_expected_status(exp: Expectation, batch: Batch) -> None:
    """Each hostile submission's row in gradebook.csv has its expected status."""
    row = batch.rows[exp.name]
    assert row["status"] == exp.status, row["reason"]


@pytest.mark.slow
@pytest.mark.parametrize("exp", cases())
def test_batch_each_submission_ends_within_its_bound(exp: Expectation, batch: Batch) -> None:
    """In the batch too, each submission is graded within (twice, two run at once) its bound."""
    assert batch.seconds[exp.name] < 2 * exp.max_seconds


@pytest.mark.slow
@pytest.mark.parametrize("exp", cases(known="known_bug"))
def test_batch_row_is_not_inflated(exp: Expectation, batch: Batch, rubric: Rubric) -> None:
    """Each hostile row's total is no higher than its bound, graded beside the others."""
    row = batch.rows[exp.name]
    assert float(row["total"] or 0) <= honest_points(exp, rubric)


@pytest.mark.slow
def test_batch_leaves_no_process_behind(batch: Batch) -> None:
    """After the batch no sleeper of the fork bomb and no daemon is alive."""
    assert all(not pids for pids in batch.survivors.values()), batch.survivors
