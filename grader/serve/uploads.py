"""What an upload must be before anything of it is stored: untrusted bytes, checked here.

    .ipynb  UTF-8 JSON holding a notebook (a "cells" list)
    .py     UTF-8 text
    .zip    a folder: every entry a plain file or folder under a relative path (no "..",
            no absolute or drive path, no symlink or device), at most ``max_files`` files
            and ``max_unpacked`` bytes once unpacked (counted while reading, not taken from
            the headers), no archive inside, and a notebook or .py module among them

The type is decided by the content and must agree with the file's name. Every
refusal is an ``UploadError``: an HTTP status and one sentence naming the file
and what is wrong. Nothing here runs or imports the submission.
"""

from __future__ import annotations

import io
import json
import posixpath
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

DEFAULT_MAX_BYTES = 5 << 20  # an upload; notebooks with outputs are rarely above 2 MB
DEFAULT_MAX_UNPACKED = 20 << 20
DEFAULT_MAX_FILES = 200
SUFFIXES = (".ipynb", ".py", ".zip")
ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf")
# what a student's folder may carry besides code that the grader ignores anyway
IGNORED_PARTS = ("__MACOSX", ".ipynb_checkpoints", ".git")


class UploadError(ValueError):
    """A refused upload: ``status`` is the HTTP status, ``str()`` the sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_unpacked: int = DEFAULT_MAX_UNPACKED
    max_files: int = DEFAULT_MAX_FILES


@dataclass(frozen=True)
class Upload:
    filename: str  # the name as sent, reduced to its last part
    kind: str  # "ipynb", "py" or "zip"
    content: bytes


def _name(filename: str | None) -> str:
    """The sent name's last part (a browser may send a path); never used as a path here."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    return name.strip() or "upload"


def check_upload(filename: str | None, content: bytes, limits: UploadLimits) -> Upload:
    """The upload, checked (module doc); UploadError otherwise."""
    name = _name(filename)
    if not content:
        raise UploadError(400, f"{name} is empty: upload your notebook, .py module or zip.")
    if len(content) > limits.max_bytes:
        raise UploadError(
            413,
            f"{name} is {len(content) / 1e6:.1f} MB, more than this service accepts "
            f"({limits.max_bytes / 1e6:.1f} MB); clear the notebook's outputs and try again.",
        )
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise UploadError(
            415, f"{name} is not a notebook (.ipynb), a .py module or a .zip of a folder."
        )
    if suffix == ".zip":
        check_zip(name, content, limits)
        return Upload(name, "zip", content)
    if content.startswith(ARCHIVE_MAGIC):
        raise UploadError(415, f"{name} is an archive, not a {suffix} file.")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise UploadError(415, f"{name} is not UTF-8 text, so it is not a {suffix} file.") from None
    if "\x00" in text:
        raise UploadError(415, f"{name} holds NUL bytes, so it is not a {suffix} file.")
    if suffix == ".ipynb":
        check_notebook(name, text)
    return Upload(name, suffix[1:], content)


def check_notebook(name: str, text: str) -> None:
    try:
        notebook = json.loads(text)
    except ValueError as error:
        raise UploadError(415, f"{name} is not a notebook: it is not JSON ({error}).") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise UploadError(415, f"{name} is not a notebook: it has no list of cells.")


def _entry_path(name: str, entry: str) -> PurePosixPath:
    """A zip entry's relative path, or UploadError when it could land outside its folder."""
    shown = entry.encode("unicode_escape").decode("ascii")[:120]
    if "\x00" in entry or "\\" in entry:
        raise UploadError(400, f"{name}: the entry {shown!r} has a backslash or NUL in its name.")
    if entry.startswith("/") or (len(entry) > 1 and entry[1] == ":"):
        raise UploadError(400, f"{name}: the entry {shown!r} is an absolute path.")
    parts = PurePosixPath(entry).parts
    if ".." in parts or posixpath.normpath(entry).startswith(".."):
        raise UploadError(400, f"{name}: the entry {shown!r} climbs out of the folder ('..').")
    return PurePosixPath(*[p for p in parts if p not in ("", ".")])


def check_zip(name: str, content: bytes, limits: UploadLimits) -> list[tuple[PurePosixPath, bytes]]:
    """The zip's files as (relative path, bytes), checked (module doc); UploadError otherwise.

    Reading is bounded: each entry is read at most up to what is left of
    ``max_unpacked``, whatever its header claims, so a bomb costs that much at most.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise UploadError(415, f"{name} is not a readable zip ({error}).") from None
    if len(infos) > limits.max_files:
        raise UploadError(
            413,
            f"{name} holds {len(infos)} entries, more than this service accepts ({limits.max_files}).",
        )
    files: list[tuple[PurePosixPath, bytes]] = []
    seen: set[str] = set()
    left = limits.max_unpacked
    for info in infos:
        path = _entry_path(name, info.filename)
        mode = info.external_attr >> 16
        if (
            info.create_system == 3
            and mode
            and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR)
        ):
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a plain file"
            raise UploadError(400, f"{name}: the entry {info.filename!r} is {kind}.")
        key = str(path).casefold()
        if key in seen and not info.is_dir():
            raise UploadError(400, f"{name}: the entry {info.filename!r} appears twice.")
        seen.add(key)
        if info.is_dir() or not path.parts:
            continue
        try:
            with archive.open(info) as handle:
                data = handle.read(left + 1)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as error:
            raise UploadError(
                415, f"{name}: the entry {info.filename!r} cannot be read ({error})."
            ) from None
        if len(data) > left:
            raise UploadError(
                413,
                f"{name} unpacks to more than this service accepts ({limits.max_unpacked / 1e6:.1f} MB).",
            )
        left -= len(data)
        if data.startswith(ARCHIVE_MAGIC) or path.suffix.lower() in (".zip", ".gz", ".tar", ".7z"):
            raise UploadError(
                400, f"{name}: the entry {info.filename!r} is an archive inside the zip."
            )
        files.append((path, data))
    names = {str(p) for p, _ in files}
    for path, _ in files:  # a file where another entry needs a folder cannot be unpacked
        clash = next((str(a) for a in path.parents if str(a) in names), None)
        if clash is not None:
            raise UploadError(
                400, f"{name}: {clash!r} is both a file and the folder of {str(path)!r}."
            )
    code = [p for p, _ in files if p.suffix in (".ipynb", ".py") and not _ignored(p)]
    if not code:
        raise UploadError(400, f"{name} holds no notebook (.ipynb) or .py module.")
    return files


def _ignored(path: PurePosixPath) -> bool:
    return any(part in IGNORED_PARTS or part.startswith(".") for part in path.parts)


def unpack_zip(content: bytes, into: Path, limits: UploadLimits) -> Path:
    """Write a checked zip's files under ``into`` (created; it must not exist), each with
    our own open, never the archive's own extraction; returns ``into``."""
    files = check_zip(into.name, content, limits)
    into.mkdir(parents=True)
    for relative, data in files:
        target = into.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as handle:  # never through a link, never over a file
            handle.write(data)
    return into
