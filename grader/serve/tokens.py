"""The roster and its tokens: issued once for distribution, stored only as hashes.

A roster is a CSV file with a header; the student's name is the column ``student``
(else ``login``, ``name`` or ``id``, else the first). A name is what the
gradebook and every report call the student, and the name of the file the
grader grades, so it is a plain word: letters, digits, ``.``, ``_``, ``-``, ``@``.
"""

from __future__ import annotations

import csv
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from grader.atomic import atomic_write_text
from grader.serve.store import Store, token_hash

INSTRUCTOR = "instructor"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
NAME_COLUMNS = ("student", "login", "name", "id")


class RosterError(ValueError):
    """A roster that cannot be used (one sentence naming the file)."""


@dataclass(frozen=True)
class Identity:
    name: str
    role: str  # "student" or "instructor"

    @property
    def instructor(self) -> bool:
        return self.role == "instructor"


def read_roster(path: Path) -> list[str]:
    """The students' names, in the roster's order (RosterError when unusable)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise RosterError(f"{path}: cannot read the roster ({error}).") from None
    rows = list(csv.reader(text.splitlines()))
    if len(rows) < 2:
        raise RosterError(f"{path}: the roster needs a header line and one line per student.")
    header = [h.strip().lower() for h in rows[0]]
    column = next((header.index(c) for c in NAME_COLUMNS if c in header), 0)
    names: list[str] = []
    for number, row in enumerate(rows[1:], start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        name = row[column].strip() if column < len(row) else ""
        if not NAME.fullmatch(name):
            raise RosterError(
                f"{path}, line {number}: {name!r} is not a usable student name "
                "(letters, digits, '.', '_', '-', '@'; at most 64 characters)."
            )
        if name == INSTRUCTOR:
            raise RosterError(f"{path}, line {number}: {INSTRUCTOR!r} is the instructor's name.")
        if name in names:
            raise RosterError(f"{path}, line {number}: {name} appears twice.")
        names.append(name)
    if not names:
        raise RosterError(f"{path}: the roster names no student.")
    return names


def issue_tokens(
    store: Store, names: list[str], out: Path, reissue: bool = False
) -> dict[str, str]:
    """A fresh token for each name without one (every name with ``reissue``) and for the
    instructor, stored hashed; the new tokens are written to ``out`` (CSV, for
    distribution; readable by its owner only) and returned. A name that already has a
    token keeps it (its hash is all the store knows)."""
    have = set(store.students())
    if store.meta("instructor_issued") is not None:
        have.add(INSTRUCTOR)
    issued: dict[str, str] = {}
    for name, role in [*((n, "student") for n in names), (INSTRUCTOR, "instructor")]:
        if name in have and not reissue:
            continue
        token = secrets.token_urlsafe(24)
        store.set_token(name, role, token_hash(token))
        issued[name] = token
    if INSTRUCTOR in issued:
        store.set_meta("instructor_issued", "1")
    lines = ["student,token"] + [f"{name},{token}" for name, token in issued.items()]
    atomic_write_text(out, "\n".join(lines) + "\n")
    out.chmod(0o600)
    return issued


def authenticate(store: Store, token: str | None) -> Identity | None:
    """Who holds ``token``, or None. The store is looked up by the token's hash (a lookup
    that reveals nothing of any token), and that hash compared in constant time."""
    if not token or len(token) > 200:
        return None
    hashed = token_hash(token.strip())
    found = store.who(hashed)
    if found is None:
        return None
    name, role, stored = found
    if not hmac.compare_digest(stored.encode(), hashed.encode()):
        return None
    return Identity(name, role)
