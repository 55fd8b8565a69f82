"""grader.cache: keys, and when a stored result is reused."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from grader import cache
from grader.cache import ResultStore, file_stem, identify, make_key
from grader.results import GradeResult
from tests.grader import fakes

# --- keys -------------------------------------------------------------------


def test_key_changes_with_the_submission_content(subs: Path) -> None:
    """Editing a submission changes its key; an identical copy elsewhere keeps it."""
    a = fakes.write(subs, "alice.py")
    key = make_key(identify(a).content_hash)
    copy = fakes.write(subs / "elsewhere", "alice.py")
    assert make_key(identify(copy).content_hash) == key
    a.write_text("x = 2\n")
    assert make_key(identify(a).content_hash) != key


def test_key_changes_with_the_salt(subs: Path) -> None:
    """A different rubric or settings (the salt) changes the key of the same submission."""
    h = identify(fakes.write(subs, "alice.py")).content_hash
    assert make_key(h, "rubric-1") != make_key(h, "rubric-2")


def test_unloadable_submission_is_keyed_by_its_bytes(subs: Path) -> None:
    """A file that is not a submission still gets a content key that follows its bytes."""
    pdf = subs / "bob.pdf"
    pdf.write_bytes(b"%PDF-1.4 one")
    first = identify(pdf)
    pdf.write_bytes(b"%PDF-1.4 two")
    assert first.identity == "bob"
    assert identify(pdf).content_hash != first.content_hash


def test_raw_hash_does_not_follow_symlinks(subs: Path, tmp_path: Path) -> None:
    """A link inside an unloadable folder is hashed as its target's name, never read."""
    secret = tmp_path / "secret.txt"
    secret.write_text("one")
    folder = subs / "eve"
    folder.mkdir()
    (folder / "link").symlink_to(secret)
    before = cache.raw_content_hash(folder)
    secret.write_text("two")
    assert cache.raw_content_hash(folder) == before


@pytest.mark.parametrize(
    ("identity", "stem"),
    [
        ("alice", "alice"),
        ("bob.smith+1@uni.edu", "bob.smith+1@uni.edu"),
        ("../etc/passwd", "_.._etc_passwd~"),
        (".hidden", "_.hidden~"),
        ("-rf", "_-rf~"),
        ("", "~"),
        ("Alice B", "Alice_B~"),
    ],
)
def test_file_stem_is_a_safe_file_name(identity: str, stem: str) -> None:
    """A plain identity is its own file name; any other is made safe (no separator, not
    hidden, not empty, not an option) and marked with '~' and a digest of the identity."""
    got = file_stem(identity)
    if stem.endswith("~"):
        assert got.startswith(stem) and len(got) == len(stem) + 16
    else:
        assert got == stem


def test_file_stem_is_injective_also_ignoring_case() -> None:
    """Identities that differ only in what the file name normalises (space and '_', case,
    unicode forms, a long shared prefix) get names that differ even after case folding."""
    identities = [
        "alice b",
        "alice_b",
        "Alice_B",
        "ALICE B",
        "alice-b",
        "alice\tb",
        "Jos\u00e9",
        "Jose\u0301",
        "Jos_",
        "a" * 100,
        "a" * 101,
        "a" * 100 + "b",
        "x\udcff",
        "x_",
        "",
        "_",
    ]
    stems = [file_stem(i) for i in identities]
    assert len({s.casefold() for s in stems}) == len(identities), stems
    assert all("/" not in s and not s.startswith((".", "-")) and s for s in stems)


# --- the store ----------------------------------------------------------------


def test_store_reuses_only_a_matching_key(out: Path, graded: GradeResult) -> None:
    """A stored result is fresh for its own key and stale for any other."""
    store = ResultStore(out)
    store.save(graded, "alice", "k1", "graded")
    assert store.fresh("alice", "k1") is not None
    assert store.fresh("alice", "k2") is None
    assert store.fresh("bob", "k1") is None


def test_store_records_key_and_outcome_in_provenance(out: Path, graded: GradeResult) -> None:
    """The file is a GradeResult whose provenance['batch'] holds the key and outcome."""
    ResultStore(out).save(graded, "alice", "k1", "graded", seconds=1.5)
    data = json.loads((out / "results" / "alice.json").read_text())
    assert data["schema"] == "mlp-grader/result/1"
    assert data["provenance"]["batch"]["key"] == "k1"
    assert data["provenance"]["batch"]["outcome"] == "graded"
    assert data["provenance"]["batch"]["seconds"] == 1.5
    assert data["provenance"]["grader_version"] == "test"  # the grader's own entries stay


def test_failed_results_are_never_fresh(out: Path, graded: GradeResult) -> None:
    """A grader-side failure is retried on a re-run even though its key matches."""
    store = ResultStore(out)
    failed = replace(graded, status="ungradable", reason="the grading worker died", score=None)
    store.save(failed, "alice", "k1", "failed")
    assert store.load("alice") is not None
    assert store.fresh("alice", "k1") is None


def test_corrupt_result_file_counts_as_missing(out: Path) -> None:
    """A truncated or foreign file is re-graded rather than crashing the batch."""
    store = ResultStore(out)
    store.root.mkdir(parents=True)
    store.path("alice").write_text('{"schema": "mlp-grader/result/1", "subm')
    store.path("bob").write_text('{"schema": "something else"}')
    assert store.load("alice") is None
    assert store.fresh("bob", "") is None
