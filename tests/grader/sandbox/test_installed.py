"""grader.sandbox.installed reads installed distributions as importlib.metadata does.

The sandbox finds every copy of the grader from this reading (what a child must not
see), so a distribution it missed, or a file it located elsewhere, would be a hole.
Compared on the running interpreter's real sys.path, and on made-up installs of each
kind of metadata folder.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.sandbox import installed


def _located(files: list[str] | None, locate) -> list[str] | None:  # type: ignore[no-untyped-def]
    """The listed files that exist, located: importlib.metadata since 3.12 (and its
    backport, which some environments put first) leaves out the missing ones; the sandbox
    checks each path it uses anyway."""
    if files is None:
        return None
    where = (os.path.normpath(str(locate(f))) for f in files)
    return [w for w in where if os.path.exists(w)]


def _both(path: list[str]) -> tuple[dict[str, tuple], dict[str, tuple]]:
    """metadata folder -> (normalised name, top_level.txt, located files), both ways."""
    ours = {
        os.path.normpath(d.folder): (
            d.name,
            d.read_text("top_level.txt"),
            _located(d.listed_files(), d.locate),
        )
        for d in installed.distributions(path)
    }
    theirs = {}
    for dist in importlib.metadata.distributions(path=path):
        folder = os.path.normpath(str(dist._path))  # type: ignore[attr-defined]
        files = dist.files
        theirs[folder] = (
            dist._normalized_name,  # type: ignore[attr-defined]
            dist.read_text("top_level.txt"),
            _located(files and [str(f) for f in files], dist.locate_file),
        )
    return ours, theirs


def test_every_distribution_on_this_interpreters_path_is_read_alike():
    ours, theirs = _both(sys.path)
    assert len(ours) > 5  # numpy, pytest and the grader itself at least
    assert ours.keys() == theirs.keys()
    for folder, reading in ours.items():
        assert reading == theirs[folder], folder


def _wheel(site: Path, name: str, rows: list[str]) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "RECORD").write_text("\n".join(rows) + "\n")


def test_each_kind_of_metadata_folder_is_read_alike(tmp_path):
    site = tmp_path / "site"
    _wheel(
        site, "Foo.Bar_baz", ["foo/__init__.py,sha256=x,1", '"odd,name.py",,', "../../bin/foo,,"]
    )
    (site / "grader-0.1.dist-info").mkdir()
    (site / "grader-0.1.dist-info" / "top_level.txt").write_text("grader\nreference\n")
    (site / "old_style.egg-info").mkdir()
    (site / "old_style.egg-info" / "SOURCES.txt").write_text("setup.py\nold/a.py\n")
    egg = tmp_path / "Legacy-2.0-py3.11.egg"
    (egg / "EGG-INFO").mkdir(parents=True)
    (egg / "EGG-INFO" / "SOURCES.txt").write_text("legacy/__init__.py\n")
    (egg / "EGG-INFO" / "PKG-INFO").write_text("Metadata-Version: 1.0\nName: Legacy\n")
    # every listed file exists, so the comparison of located files says something
    for listed in (site / "foo" / "__init__.py", site / "odd,name.py", tmp_path / "bin" / "foo"):
        listed.parent.mkdir(parents=True, exist_ok=True)
        listed.write_text("")
    (site / "not_metadata").mkdir()
    (site / "stray.dist-info.txt").write_text("")
    path = [str(site), str(egg), str(tmp_path / "missing"), str(tmp_path / "a.zip")]
    ours, theirs = _both(path)
    assert len(ours) == 4
    assert ours.keys() == theirs.keys()
    for folder, reading in ours.items():
        assert reading == theirs[folder], folder


def test_the_cold_grading_process_never_imports_importlib_metadata(tmp_path):
    """What this module is for: finding the grader's installs (the sandbox's masks, the
    tier's cached verdict) costs no import of importlib.metadata."""
    code = (
        "import sys\n"
        "before = 'importlib.metadata' in sys.modules\n"
        "import grader.sandbox.tiers as t, grader.sandbox.privilege as p\n"
        "t.grader_install_paths(); p.installed_grader_dirs()\n"
        "print(before, 'importlib.metadata' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert run.returncode == 0, run.stderr
    before, after = run.stdout.split()
    if before == "True":
        pytest.skip("this interpreter's site already imports importlib.metadata")
    assert after == "False"


@pytest.mark.parametrize(
    "name", ["Foo.Bar-1.0.dist-info", "foo_bar.egg-info", "FOO__bar-2.dist-info"]
)
def test_names_are_normalised_as_pep_503_with_underscores(tmp_path, name):
    assert installed.Installed(tmp_path / name).name == "foo_bar"
