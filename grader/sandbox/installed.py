"""The installed distributions, read from their metadata folders without importlib.metadata.

The sandbox needs little of them: each one's normalised name, a few of its metadata
files (``top_level.txt``, ``RECORD``, ``direct_url.json``) and where its listed files
are, to find every copy of the grader that a child must not see. importlib.metadata
answers the same questions, but importing it costs a cold ``grade-one`` ~11 ms on both
of its paths (the grading process and the worker it starts), because it imports the
email package to parse METADATA, which the sandbox never reads.

The folders are found as importlib.metadata's path finder finds them: each
``*.dist-info`` and ``*.egg-info`` folder directly in a directory on ``sys.path``, and
the ``EGG-INFO`` folder of a ``*.egg`` directory on it. Zipped eggs are not read (no
file of one can be mounted into the sandbox either). ``tests/grader/sandbox/
test_installed.py`` compares the two readings on the running interpreter.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_METADATA_SUFFIXES = (".dist-info", ".egg-info")


@dataclass(frozen=True)
class Installed:
    """One installed distribution.

    folder : its metadata folder (``.../site-packages/numpy-2.4.6.dist-info``)
    """

    folder: Path

    @property
    def name(self) -> str:
        """The normalised name (PEP 503, with underscores), from the folder's name alone:
        ``Foo.Bar-1.0.dist-info`` -> ``foo_bar``; an egg's ``EGG-INFO`` takes the egg's."""
        stem = (
            self.folder.parent.name if self.folder.name.lower() == "egg-info" else self.folder.name
        )
        return normalise(stem.rpartition(".")[0].partition("-")[0])

    def read_text(self, filename: str) -> str | None:
        """One metadata file's text (None: the distribution has no such file)."""
        try:
            return (self.folder / filename).read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
            return None

    def read_bytes(self, filename: str) -> bytes | None:
        """One metadata file's bytes (None: the distribution has no such file)."""
        try:
            return (self.folder / filename).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
            return None

    def listed_files(self) -> list[str] | None:
        """The paths its file list names, relative to :meth:`locate`'s base: RECORD's
        first column (CSV), else SOURCES.txt's lines (None: it lists no files)."""
        record = self.read_text("RECORD")
        if record:
            return [row[0] for row in csv.reader(record.splitlines()) if row]
        sources = self.read_text("SOURCES.txt")
        if sources:
            return [line for line in sources.splitlines() if line]
        return None

    def locate(self, relative: str) -> Path:
        """Where a path its metadata names is: relative to the folder holding the
        metadata folder (site-packages for a wheel)."""
        return self.folder.parent / relative


def normalise(name: str) -> str:
    """PEP 503's normalised name with underscores for dashes (``Foo.Bar`` -> ``foo_bar``)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def distributions(path: Iterable[str] | None = None) -> list[Installed]:
    """Every distribution installed in a directory of ``path`` (default ``sys.path``), in
    path order, as importlib.metadata.distributions() lists them."""
    found: list[Installed] = []
    for entry in sys.path if path is None else path:
        root = entry or "."
        try:
            children = os.listdir(root)
        except OSError:  # not a directory (a zip, a missing folder)
            continue
        egg = os.path.basename(root).lower().endswith(".egg")
        for child in children:
            low = child.lower()
            if low.endswith(_METADATA_SUFFIXES) or (egg and low == "egg-info"):
                found.append(Installed(Path(root, child)))
    return found
