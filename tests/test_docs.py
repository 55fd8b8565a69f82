"""The project's documents say what the code does: citations resolve, numbers and paths are real.

- every "conventions.md §n" in the repository names a section of docs/conventions.md;
- docs/conventions.md §5's table of gradient signatures is what the reference computes;
- every module ARCHITECTURE.md names (``grader/x.py``, ``grader.x.y``) exists.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from reference import misconceptions
from reference.network import Model, gradients
from reference.objectives import Objective
from tests.reference.conftest import problem

ROOT = Path(__file__).resolve().parents[1]
CONVENTIONS = ROOT / "docs" / "conventions.md"
ARCHITECTURE = ROOT / "ARCHITECTURE.md"

# "conventions.md §2", "conventions.md §2, §3, §7", "conventions.md §5 / §3", "§3 and §5"
CITATION = re.compile(r"conventions\.md((?:(?:\s*,\s*|\s*/\s*|\s+and\s+|\s+)§\d+)+)")


def _tracked_text_files() -> list[Path]:
    try:
        done = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files cannot be listed")
    listed = done.stdout.split("\0")
    suffixes = {".py", ".md", ".toml", ".txt", ".yml", ".j2", ".html", ".cfg", ""}
    return [ROOT / p for p in listed if p and Path(p).suffix in suffixes and (ROOT / p).is_file()]


def _sections() -> set[int]:
    text = CONVENTIONS.read_text(encoding="utf-8")
    return {int(n) for n in re.findall(r"^## (\d+)\. ", text, flags=re.M)}


def test_conventions_sections_are_numbered_one_to_seven() -> None:
    """The citations rely on stable numbers: 1..7 in order, each once."""
    text = CONVENTIONS.read_text(encoding="utf-8")
    assert [int(n) for n in re.findall(r"^## (\d+)\. ", text, flags=re.M)] == list(range(1, 8))


def test_every_conventions_citation_names_an_existing_section() -> None:
    """Every "conventions.md §n" in a tracked file points at a section that exists."""
    sections = _sections()
    cited: list[tuple[str, int]] = []
    for path in _tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for match in CITATION.finditer(text):
            cited += [
                (str(path.relative_to(ROOT)), int(n)) for n in re.findall(r"§(\d+)", match[1])
            ]
    assert len(cited) >= 30, "the citations were not found: has the pattern drifted?"
    missing = [(where, n) for where, n in cited if n not in sections]
    assert missing == [], f"citations of sections docs/conventions.md lacks: {missing}"


def test_no_citation_of_the_old_conventions_file_remains() -> None:
    """The old citations ("CONVENTIONS" and a section sign) named a file outside the repository."""
    stale = [
        str(path.relative_to(ROOT))
        for path in _tracked_text_files()
        if path != Path(__file__).resolve()
        if re.search(
            r"(?<![\w./])CONVENTIONS §", path.read_text(encoding="utf-8", errors="replace")
        )
    ]
    assert stale == []


def _signature_rows() -> dict[str, tuple[list[str], list[str]]]:
    """misconception -> ([rel W1, rel W2], [cos W1, cos W2]) as §5's table prints them."""
    text = CONVENTIONS.read_text(encoding="utf-8")
    section = text.split("## 5. ", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(
        r"^\| `(\w+)` \| ([-\d.]+) / ([-\d.]+) \| ([-\d.]+) / ([-\d.]+) \|", section, flags=re.M
    )
    return {name: ([r1, r2], [c1, c2]) for name, r1, r2, c1, c2 in rows}


def _half_last_digit(printed: str) -> float:
    """Half a unit of the printed number's last digit ("0.952": 5e-4; "0" or "1": 5e-4 too)."""
    decimals = len(printed.split(".")[1]) if "." in printed else 3
    return 0.5 * 10.0**-decimals


def test_gradient_signatures_in_section_5_are_what_the_reference_computes() -> None:
    """Each §5 row: rel and cos of the misconception's W gradients against the reference's."""
    rows = _signature_rows()
    registered = {m.name for m in misconceptions.all_misconceptions("gradient")}
    assert set(rows) == registered, "§5's table and the gradient registry list different names"
    params, X, Y = problem()
    objective = Objective(C=0.1)
    ref = gradients(params, X, Y, Model(), objective)
    for name, (rels, coss) in rows.items():
        got = misconceptions.get(name).impl(params, X, Y, Model(), objective)
        for a, b, printed_rel, printed_cos in zip(got.W, ref.W, rels, coss, strict=True):
            rel = np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))
            cos = np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b))
            assert abs(rel - float(printed_rel)) <= _half_last_digit(printed_rel), (name, rel)
            assert abs(cos - float(printed_cos)) <= _half_last_digit(printed_cos), (name, cos)


# ---------------------------------------------------------------------------
# ARCHITECTURE.md


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a "submodule" of a plain module: an attribute, if anything
        return False


def test_every_module_architecture_names_exists() -> None:
    """Each ``grader/...py`` path and ``grader.x.y`` dotted name in ARCHITECTURE.md is real."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    paths = set(re.findall(r"\b((?:grader|reference)/[\w/]+\.py)\b", text))
    folders = set(re.findall(r"`((?:grader|reference)/[\w/]+/)`", text))
    dotted = set(re.findall(r"\b((?:grader|reference)(?:\.[a-z_]\w*)+)", text))
    assert len(paths) >= 10 and len(dotted) >= 10, "the names were not found: pattern drifted?"
    missing = [p for p in sorted(paths | folders) if not (ROOT / p).exists()]
    for name in sorted(dotted):
        parts = name.split(".")
        # the longest prefix that is a module; the rest must be attributes of it
        for cut in range(len(parts), 0, -1):
            module = ".".join(parts[:cut])
            if _is_module(module):
                break
        else:
            missing.append(name)
            continue
        obj: object = __import__(module, fromlist=["_"])
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                missing.append(name)
                break
            obj = getattr(obj, attr)
    assert missing == [], f"ARCHITECTURE.md names what does not exist: {missing}"


@pytest.mark.parametrize("document", ["README.md", "CONTRIBUTING.md", "docs/conventions.md"])
def test_documents_link_only_to_files_that_exist(document: str) -> None:
    """Relative Markdown links in the project's documents name existing paths."""
    path = ROOT / document
    targets = re.findall(r"\]\(([^)#\s]+)\)", path.read_text(encoding="utf-8"))
    for target in targets:
        if "://" not in target:
            assert (path.parent / target).exists(), f"{document} links to missing {target}"
