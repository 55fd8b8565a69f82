"""The code style the project promises, enforced by the suite: ruff and mypy are clean.

Both run as subprocesses with the configuration in pyproject.toml, so `.ci/run`
(which runs exactly the README's test command) enforces them too. A missing tool
skips with a reason rather than failing: `pip install -e '.[test]'` installs both.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(tool) is None:
        pytest.skip(f"{tool} is not installed (pip install -e '.[test]' installs it)")
    return subprocess.run(
        [sys.executable, "-m", tool, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_ruff_check_is_clean() -> None:
    """`ruff check .` reports nothing (rules and exclusions: [tool.ruff] in pyproject.toml)."""
    done = _run("ruff", "check", ".", "--no-cache")
    assert done.returncode == 0, f"ruff check . found problems:\n{done.stdout}{done.stderr}"


def test_mypy_is_clean() -> None:
    """`mypy` over the files pyproject.toml names ([tool.mypy] files) reports no error."""
    done = _run("mypy")
    assert done.returncode == 0, f"mypy found problems:\n{done.stdout}{done.stderr}"
