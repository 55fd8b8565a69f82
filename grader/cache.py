"""Where a batch keeps its per-student results, and when a result may be reused.

A result is reused only when its recorded *key* equals the key the submission
has now::

    key = sha256(content_hash \\0 salt)
    content_hash : grader.submission's hash of the code and data files (name, size, bytes),
                   or, when the submission cannot be loaded, the same over its raw bytes
    salt         : what else decides the result: the grader version, the rubric's hash,
                   the settings (a grade function exposes it as ``cache_salt``)

Layout under the batch's output folder::

    results/<stem>.json    one GradeResult (schema "mlp-grader/result/1") per student;
                           provenance["batch"] = {key, outcome, seconds, executor, finished_at}

``stem`` is the identity with anything but letters, digits and ``._@+-`` replaced
by ``_``. Every file is written atomically (:mod:`grader.atomic`), so a kill at any
instant leaves either the old file or the new one.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal

import grader
from grader.atomic import atomic_write_text
from grader.results import GradeResult
from grader.submission import SubmissionError, load_submission

Outcome = Literal["graded", "ungradable", "failed"]
OUTCOMES: tuple[Outcome, ...] = ("graded", "ungradable", "failed")
RESULTS_DIR = "results"

# Identities used as file names as they are: lower-case ASCII only, so that two of them
# never differ by case alone (one file on macOS and Windows); no '~' (file_stem's mark).
_PLAIN = re.compile(r"[a-z0-9_@+][a-z0-9_.@+-]{0,99}")
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9_.@+-]")


# ---------------------------------------------------------------------------
# Identity and keys


@dataclass(frozen=True)
class Identified:
    """Who a submission is and what it holds, as the batch sees it before grading."""

    identity: str
    content_hash: str


def default_identity(path: Path) -> str:
    """The identity grader.submission gives by default: a folder's name, a file's stem."""
    path = Path(os.path.abspath(path))
    return path.name if path.is_dir() else path.stem


def identify(path: Path) -> Identified:
    """Identity and content hash from grader.submission; raw bytes when it cannot load."""
    try:
        sub = load_submission(path)
    except SubmissionError:
        return Identified(default_identity(path), raw_content_hash(path))
    return Identified(sub.identity, sub.content_hash)


def raw_content_hash(path: Path) -> str:
    """sha256 over relative name, size and bytes of every regular file under ``path``.

    Used for submissions that cannot be loaded (a renamed PDF, an empty folder), so
    that replacing one with a fixed version still invalidates its cached result.
    Symbolic links are hashed as their target text, never followed.
    """
    path = Path(path)
    digest = hashlib.sha256()
    if not os.path.lexists(path):
        digest.update(b"missing\0")
        return digest.hexdigest()
    entries: list[tuple[str, Path]] = []
    if path.is_dir() and not path.is_symlink():
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for name in sorted(filenames + [d for d in dirnames if Path(dirpath, d).is_symlink()]):
                file = Path(dirpath, name)
                entries.append((file.relative_to(path).as_posix(), file))
    else:
        entries.append((path.name, path))
    for rel, file in sorted(entries):
        if file.is_symlink():
            digest.update(f"{rel}\0link\0{os.readlink(file)}\0".encode())
            continue
        try:
            size = file.stat().st_size
            digest.update(f"{rel}\0{size}\0".encode())
            with file.open("rb") as handle:
                while block := handle.read(2**20):
                    digest.update(block)
        except OSError as error:  # unreadable: its name and the error still key it
            digest.update(f"{rel}\0unreadable\0{error.errno}\0".encode())
    return digest.hexdigest()


def make_key(content_hash: str, salt: str = "") -> str:
    """The cache key: content hash, grader version and ``salt`` hashed together."""
    text = f"{content_hash}\0{grader.__version__}\0{salt}"
    return hashlib.sha256(text.encode()).hexdigest()


def _content_key(path: Path, salt: str) -> str:
    return make_key(identify(path).content_hash, salt)


def keyer(salt: str = "") -> Callable[[Path], str]:
    """A picklable ``key_fn(path) -> key`` for :func:`grader.batch.run_batch`."""
    return partial(_content_key, salt=salt)


def file_stem(identity: str) -> str:
    """The file name of ``identity``'s result and reports; two identities never share one.

    A plain identity (lower-case ASCII letters, digits and ``_.@+-``, at most 100, not
    starting with ``.`` or ``-``) is its own name. Any other is its readable part (other
    characters become ``_``), ``~`` and 16 hex digits of its sha256: ``alice b`` gives
    ``alice_b~...``, which neither ``alice_b`` (plain: no ``~``) nor ``Alice B`` (another
    digest) can take, also where the file system ignores case or normalises unicode.
    """
    if _PLAIN.fullmatch(identity):
        return identity
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    readable = _NOT_PLAIN.sub("_", identity)[:60]
    return f"{'_' if readable[:1] in ('.', '-') else ''}{readable}~{digest}"


# ---------------------------------------------------------------------------
# The store


@dataclass(frozen=True)
class Stored:
    """A result read back from disk, with what the batch recorded beside it."""

    result: GradeResult
    key: str
    outcome: Outcome


def batch_record(result: GradeResult) -> dict[str, Any]:
    """``provenance["batch"]`` of a stored result ({} when absent)."""
    record = result.provenance.get("batch")
    return record if isinstance(record, dict) else {}


def outcome_of(result: GradeResult) -> Outcome:
    """graded / ungradable (the student's side) / failed (the grader's side)."""
    recorded = batch_record(result).get("outcome")
    if recorded in OUTCOMES:
        return recorded
    return "graded" if result.status == "graded" else "ungradable"


class ResultStore:
    """``out_dir/results/<stem>.json``, one per student.

    A stored result is *fresh* for a key when it parses, records that key, and did
    not fail on the grader's side (a dead worker or a timeout is retried on a re-run).
    """

    def __init__(self, out_dir: Path) -> None:
        self.root = Path(out_dir) / RESULTS_DIR

    def path(self, identity: str) -> Path:
        return self.root / f"{file_stem(identity)}.json"

    def load(self, identity: str) -> Stored | None:
        """The stored result, or None when missing or unreadable (then it is re-graded)."""
        try:
            result = GradeResult.from_json(self.path(identity).read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        key = batch_record(result).get("key")
        return Stored(result, key if isinstance(key, str) else "", outcome_of(result))

    def fresh(self, identity: str, key: str) -> Stored | None:
        """The stored result when it may be reused for ``key``, else None."""
        stored = self.load(identity)
        if stored is None or stored.key != key or stored.outcome == "failed":
            return None
        return stored

    def save(
        self,
        result: GradeResult,
        identity: str,
        key: str,
        outcome: Outcome,
        **record: Any,
    ) -> GradeResult:
        """Write ``result`` with its key and outcome in provenance["batch"]; return what was written."""
        batch = {
            "key": key,
            "outcome": outcome,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **record,
        }
        stamped = replace(result, provenance={**result.provenance, "batch": batch})
        atomic_write_text(self.path(identity), stamped.to_json())
        return stamped
