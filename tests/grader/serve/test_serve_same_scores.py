"""The same submission gets the same score through the service as through ``grader grade``
and ``grader grade-one`` (all grade with the same grade function, rubric and settings, so
every check's status and points agree), and the student kit gives the service's public
checks the same verdicts (on the kit's own problems), exiting 0 exactly when the service
says every public check passed (what the CI example fails on)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from grader.cli import main as grader_main
from grader.kit import build_kit
from grader.kit_check import grade_with_kit
from grader.rubric_file import load_rubric
from grader.self_check import exit_status
from grader.serve.store import Store
from tests.grader.serve.conftest import DEMO, RUBRIC, Class, need_web_stack
from tests.grader.serve.test_uploads import zip_of

need_web_stack()
from fastapi.testclient import TestClient  # noqa: E402

from grader.batch import GradeJob  # noqa: E402
from grader.grade import grade_submission  # noqa: E402
from grader.pipeline import GradeSettings  # noqa: E402
from grader.serve.app import ServeConfig, create_app  # noqa: E402
from grader.serve.runner import Runner  # noqa: E402

pytestmark = pytest.mark.slow
SAMPLES = {"alice": "alice.ipynb", "bob": "bob.ipynb", "carol": "carol.ipynb"}


def checks_of(result: dict[str, object]) -> dict[str, tuple[str, float]]:
    return {c["check_id"]: (c["status"], c["points"]) for c in result["checks"]}  # type: ignore[attr-defined, index]


def test_service_grade_grade_one_and_the_kit_agree(klass: Class, tmp_path: Path) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    for sample in SAMPLES.values():
        shutil.copy(DEMO / sample, folder / sample)
    out = tmp_path / "graded"
    assert (
        grader_main(
            [
                "grade",
                str(folder),
                "--rubric",
                str(RUBRIC),
                "--out",
                str(out),
                "--workers",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    batch = {s: json.loads((out / "results" / f"{s}.json").read_text()) for s in SAMPLES}
    assert len({b["score"]["points"] for b in batch.values()}) > 1  # the samples differ

    store = Store(klass.data)
    rubric = load_rubric(RUBRIC)
    job = GradeJob.from_file(grade_submission, RUBRIC, GradeSettings(warm=True))
    runner = Runner(store, job, workers=2, timeout=900.0)
    app = create_app(store, ServeConfig(rubric, "test", "bwrap"), runner)
    jobs: dict[str, str] = {}
    with TestClient(app) as client:
        for student, sample in SAMPLES.items():
            answer = client.post(
                "/api/submissions",
                headers=klass.auth(student),
                files={"file": (sample, (DEMO / sample).read_bytes())},
            )
            assert answer.status_code == 202
            jobs[student] = answer.json()["job"]
        # bob's again, as a zip of his folder (a README beside the notebook)
        folder_zip = zip_of(
            ("lab3/notebooks/lab3.ipynb", (DEMO / "bob.ipynb").read_bytes()),
            ("lab3/README.md", b"# my lab\n"),
        )
        answer = client.post(
            "/api/submissions", headers=klass.auth("bob"), files={"file": ("lab3.zip", folder_zip)}
        )
        assert answer.status_code == 202
        zipped = answer.json()["job"]
        deadline = time.monotonic() + 180
        while store.counts()["done"] < len(SAMPLES) + 1:
            assert time.monotonic() < deadline, store.counts()
            time.sleep(0.2)
        served = {
            s: client.get(f"/api/jobs/{j}/report.json", headers=klass.auth("instructor")).json()
            for s, j in jobs.items()
        }
        from_zip = client.get(
            f"/api/jobs/{zipped}/report.json", headers=klass.auth("instructor")
        ).json()
        statuses = {
            s: client.get(f"/api/jobs/{j}", headers=klass.auth(s)).json() for s, j in jobs.items()
        }
        public = {
            s: client.get(f"/api/jobs/{j}/report.json", headers=klass.auth(s)).json()
            for s, j in jobs.items()
        }
    for student in SAMPLES:
        assert served[student]["submission"]["identity"] == student
        assert served[student]["score"]["points"] == batch[student]["score"]["points"], student
        assert checks_of(served[student]) == checks_of(batch[student]), student
        assert (
            served[student]["provenance"]["sandbox_tier"]
            == batch[student]["provenance"]["sandbox_tier"]
        )
    assert from_zip["score"]["points"] == batch["bob"]["score"]["points"]
    assert checks_of(from_zip) == checks_of(batch["bob"])
    assert from_zip["submission"]["path"] == "bob/"  # never where the server unpacked it

    # grader grade-one, the full result as JSON
    for student, sample in SAMPLES.items():
        one = tmp_path / f"{student}.one.json"
        assert (
            grader_main(
                ["grade-one", str(folder / sample), "--rubric", str(RUBRIC), "--json", str(one)]
            )
            == 0
        )
        alone = json.loads(one.read_text())
        assert alone["score"]["points"] == served[student]["score"]["points"], student
        assert checks_of(alone) == checks_of(served[student]), student

    # the student kit: the public checks, on the kit's own problems
    kit = build_kit(RUBRIC, tmp_path / "kit")
    passed = set()
    for student, sample in SAMPLES.items():
        result = grade_with_kit(folder / sample, kit)
        offline = json.loads(result.to_json())
        shown = {c["check_id"]: c for c in public[student]["checks"]}
        assert checks_of(offline) == {
            c: v
            for c, v in checks_of(public[student]).items()
            if shown[c]["visibility"] == "public"
        }, student
        # the kit's points are the public checks' (its last line adds what hidden ones may)
        assert offline["score"]["points"] == sum(
            c["points"] for c in shown.values() if c["visibility"] == "public"
        )
        kit_passes = exit_status(result) == 0
        assert kit_passes == statuses[student]["public_checks_passed"], student
        passed |= {student} if kit_passes else set()
    assert passed and passed != set(SAMPLES)  # both answers occur among the samples
