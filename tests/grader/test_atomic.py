"""grader.atomic: a file is replaced whole, or not at all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from grader import atomic
from grader.atomic import atomic_write_text


def test_atomic_write_replaces_the_content(tmp_path: Path) -> None:
    """A second write replaces the first and leaves no temporary file behind."""
    target = tmp_path / "r.json"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["r.json"]


def test_atomic_write_interrupted_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure just before the rename leaves the previous file whole and no temporary file."""
    target = tmp_path / "r.json"
    atomic_write_text(target, "old")

    def boom(src: object, dst: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["r.json"]


def test_atomic_write_honours_the_umask(tmp_path: Path) -> None:
    """Result files get the user's usual permissions, not a temporary file's 0600."""
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "r.json", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644
