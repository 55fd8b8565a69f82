"""A full disk under the service's store: a clear error, and no corrupt row.

The real test mounts a small tmpfs as the data folder (root only; skipped with the
reason elsewhere), fills it, and drives the store: an upload whose bytes do not fit is
refused with a sentence and leaves no row and no partial file; a result that does not
fit leaves its job unfinished (not done with a missing result), and once there is room
again the job ends with exactly one result. A unit test injects ENOSPC at the write.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="the service's extra: pip install -e '.[serve]'")

from grader.serve import store as store_module
from grader.serve.store import Store, StoreError, token_hash

SIZE = 4 << 20  # the tmpfs: room for the database and a few small submissions


@pytest.fixture
def small_disk() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = Path(tempfile.mkdtemp(prefix="grader-full-"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip(f"mount -t tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)
        with contextlib.suppress(OSError):
            mount.rmdir()


def fill(folder: Path) -> Path:
    """Write a filler file until the disk refuses a byte more."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in (1 << 16, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * chunk)
    finally:
        os.close(fd)
    return filler


def leftovers(data: Path) -> list[str]:
    return sorted(p.name for p in (data / "blobs").rglob("*") if p.is_file())


def test_a_full_disk_refuses_the_upload_and_the_result_cleanly(small_disk: Path) -> None:
    data = small_disk / "data"
    store = Store(data, claim="server")
    store.set_token("alice", "student", token_hash("token-of-alice"))
    first = store.accept("alice", "a.py", "py", b"# fits")

    filler = fill(small_disk)
    with pytest.raises(StoreError, match="disk is full") as refused:
        store.accept("alice", "big.py", "py", os.urandom(256 << 10))
    assert "not stored" in str(refused.value)
    assert [j.id for j in store.jobs()] == [first]  # no row for the refused upload
    blobs_before = leftovers(data)
    assert len(blobs_before) == 1 and not any(n.endswith(".tmp") for n in blobs_before)

    # the result: room for the claim, none for a large result
    filler.unlink()
    claimed = store.claim_next()
    assert claimed is not None and claimed.id == first
    filler = fill(small_disk)
    big_result = '{"log": "' + "x" * (2 << 20) + '"}'
    with pytest.raises(StoreError, match="out of disk space"):
        store.finish(first, "graded", big_result, 1.0, 0.1)
    job = store.job(first)
    assert job is not None and job.state != "done" and store.result(first) is None
    check = sqlite3.connect(data / "service.db").execute("PRAGMA integrity_check").fetchone()
    assert check[0] == "ok"

    # room again: the job goes back to the queue (at once, or by the heartbeat when
    # even that small write did not fit), then ends once, with its whole result
    filler.unlink()
    if job.state == "running":
        assert store.requeue_unrecorded() == 1
    queued = store.job(first)
    assert queued is not None and queued.state == "queued"
    again = store.claim_next()
    assert again is not None and again.id == first
    assert store.finish(first, "graded", big_result, 1.0, 0.1)
    assert store.result(first) == big_result
    assert store.counts() == {"queued": 0, "running": 0, "done": 1}
    store.close()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG])
def test_an_injected_disk_full_at_the_blob_write_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    store = Store(tmp_path / "data")
    store.set_token("alice", "student", token_hash("token-of-alice"))

    def full(_fd: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(store_module.os, "fsync", full)  # the bytes were written, not kept
    with pytest.raises(StoreError, match="disk is full"):
        store.accept("alice", "a.py", "py", b"# a")
    assert store.jobs() == [] and leftovers(tmp_path / "data") == []


def test_the_service_answers_507_with_a_sentence_and_keeps_serving(small_disk: Path) -> None:
    """The same full disk through the real application: the upload is refused with
    507 Insufficient Storage and a sentence; with room again the next one is accepted."""
    from tests.grader.serve.conftest import RUBRIC, need_web_stack
    from tests.grader.serve.test_uploads import NOTEBOOK

    need_web_stack()
    from fastapi.testclient import TestClient

    from grader.rubric_file import load_rubric
    from grader.serve.app import ServeConfig, create_app
    from grader.serve.uploads import UploadLimits

    store = Store(small_disk / "data")
    store.set_token("alice", "student", token_hash("token-of-alice"))
    config = ServeConfig(load_rubric(RUBRIC), "test tier", "bwrap", None, UploadLimits(1 << 20))
    client = TestClient(create_app(store, config))
    auth = {"Authorization": "Bearer token-of-alice"}

    filler = fill(small_disk)
    refused = client.post("/api/submissions", headers=auth, files={"file": ("a.ipynb", NOTEBOOK)})
    assert refused.status_code == 507
    assert "disk is full" in refused.json()["detail"]
    assert store.jobs() == [] and leftovers(small_disk / "data") == []

    filler.unlink()
    accepted = client.post("/api/submissions", headers=auth, files={"file": ("a.ipynb", NOTEBOOK)})
    assert accepted.status_code == 202, accepted.text
    assert [j.id for j in store.jobs()] == [accepted.json()["job"]]
    store.close()
