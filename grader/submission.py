"""Load a submission from disk into plain, validated values; never run its code.

A submission is a notebook (``.ipynb``), a module (``.py``), or a folder holding
one of them plus the files it reads (csv, npz, txt, helper modules...).

A folder is searched as students upload them (a repository with a README and
``notebooks/lab3.ipynb``, a zip that unpacked into a subfolder): every notebook
anywhere under it counts, at most :data:`MAX_DEPTH` folders down; hidden entries,
``.ipynb_checkpoints``, ``__MACOSX`` and ``__pycache__`` do not. One notebook is
the submission (modules are then its helpers); without a notebook, one module
is. Where there are several, :class:`CodeChoice` (from the rubric) picks: first
the rubric's pattern (``assignment.submission_file``), then the one file that
defines the most of the names the adapter binds (its class, or its functions);
the rule that picked is :attr:`Submission.choice_note`, and a folder that no rule
decides is refused naming its candidates. The chosen file's own folder is the
submission's root (Jupyter's working directory): it and everything under it is
shipped to the child, nothing beside it.
Everything here runs in the trusted parent: it reads bytes, parses JSON and
decodes text, and refuses bad input with a :class:`SubmissionError` whose
``reason`` is one sentence naming the file, so a batch can record the
submission as ungradable and move on.

Identity (the student id) comes from the given file or folder name: its stem
by default, or the named group ``student`` of ``identity_pattern`` searched in
that name. Only when a pattern is given and the name does not match is the
notebook's own ``metadata.student`` (a string, or ``{"id": ...}``) used: the
name is set by the submission system, the metadata by the student.

Cell numbers: :attr:`CodeCell.index` is the 0-based position in the notebook's
cell list (markdown cells counted, as in ``nbformat`` and ``nbclient``); text
meant for people says ``cell {index + 1}``, counting cells top-down as a
student does.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import os
import re
import stat
import tokenize
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from grader.notebook_v4 import plain_code_cells

Kind = Literal["notebook", "module"]
IdentitySource = Literal["name", "pattern", "metadata"]

CODE_SUFFIXES: dict[str, Kind] = {".ipynb": "notebook", ".py": "module"}
# Entries that are never part of a submission (besides names starting with ".").
IGNORED_NAMES = frozenset({"__pycache__", ".ipynb_checkpoints", "__MACOSX", "Thumbs.db"})

# A notebook full of plots reaches ~10 MB; nothing honest comes near 50 MB.
MAX_CODE_FILE_BYTES = 50 * 2**20
MAX_FOLDER_BYTES = 200 * 2**20
MAX_FOLDER_FILES = 2_000
# The parent parses all cell sources: keep that work bounded.
MAX_CODE_CHARS = 4 * 2**20
# alice/ -> alice/repo-main/ -> .../notebooks/ -> lab3.ipynb, as LMS zips and repositories nest
MAX_DEPTH = 6
# Telling candidates apart reads each (up to the file limit): keep that work bounded.
MAX_CANDIDATES = 12
MAX_SEARCHED_ENTRIES = 20_000  # entries looked at while searching for the code file

# First bytes of common binary formats, to say what a renamed file really is.
MAGIC_NUMBERS: dict[bytes, str] = {
    b"PK\x03\x04": "a ZIP archive (a zipped folder or an Office document)",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\x1f\x8b": "a gzip archive",
    b"\x93NUMPY": "a NumPy array file",
    b"\xd0\xcf\x11\xe0": "an old Microsoft Office document",
}
_SAFE_IDENTITY = re.compile(r"[\w.@+-]{1,64}")


class SubmissionError(Exception):
    """A submission that cannot be graded.

    Parameters
    ----------
    path : Path
        The file or folder at fault.
    reason : str
        One sentence naming the file and what is wrong with it.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(reason)
        self.path = Path(path)
        self.reason = reason

    def __reduce__(self) -> tuple[type[SubmissionError], tuple[Path, str]]:
        # Batches send these across processes; the default pickling loses `path`.
        return (SubmissionError, (self.path, self.reason))


@dataclass(frozen=True)
class CodeCell:
    """One code cell; a module is a single cell with ``index`` 0.

    ``source`` has its newlines normalised to ``"\\n"`` so line numbers agree
    with Python's.
    """

    index: int
    source: str

    @property
    def number(self) -> int:
        """The 1-based cell number shown to people."""
        return self.index + 1


@dataclass(frozen=True)
class DataFile:
    """A file shipped beside the code; ``path`` is POSIX, relative to ``Submission.root``."""

    path: str
    size: int


@dataclass(frozen=True)
class NotebookMeta:
    """What the grader wants from notebook metadata (``None`` when absent).

    ``student`` is what the notebook claims (``metadata.student``); unverified.
    ``nbformat`` is the version of the file on disk, e.g. ``"3.0"``.
    """

    language: str | None = None
    kernel: str | None = None
    nbformat: str | None = None
    student: str | None = None


@dataclass(frozen=True)
class CodeChoice:
    """How to pick the code file of a folder that holds several (the rubric's rules).

    pattern : a glob (``fnmatch``) matched against each candidate's path inside the
              folder and against its name; the rubric's ``assignment.submission_file``
    defines : top-level names the graded code defines (the adapter's class, or its
              functions): the one candidate defining the most of them is picked
    """

    pattern: str = ""
    defines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Submission:
    """A loaded, validated submission; nothing in it has been executed.

    ``path`` is the file or folder given; ``code_path`` the notebook or module
    inside it; ``root`` the folder whose files the code may read (``None`` for
    a lone file: its neighbours are other students' work).
    ``content_hash`` is sha256 over the relative name, size and bytes of the
    code file and every data file, in name order: it does not depend on where
    the submission lies or when it was copied.
    """

    identity: str
    identity_source: IdentitySource
    path: Path
    kind: Kind
    code_path: Path
    root: Path | None
    cells: tuple[CodeCell, ...]
    data_files: tuple[DataFile, ...]
    meta: NotebookMeta
    content_hash: str
    choice_note: str = ""  # how the code file was picked among several ("" when it was alone)


def load_submission(
    path: Path | str,
    identity_pattern: str | re.Pattern[str] | None = None,
    *,
    max_file_bytes: int = MAX_CODE_FILE_BYTES,
    max_folder_bytes: int = MAX_FOLDER_BYTES,
    choice: CodeChoice | None = None,
) -> Submission:
    """Read and validate one submission (a notebook, a module, or a folder).

    A folder holds notebooks (then any .py files are helpers) or, without a
    notebook, modules, anywhere under it; several are decided by ``choice``
    (module doc). Everything in it must be a regular file (no symbolic links).
    The file given, or the code file in a folder, is limited to
    ``max_file_bytes``; the shipped folder to ``max_folder_bytes``.

    Raises
    ------
    SubmissionError
        With a one-sentence reason, for anything that cannot be graded.
    ValueError
        If ``identity_pattern`` has no ``student`` group (a rubric mistake).
    """
    path = Path(os.path.abspath(path))  # "." and "a/.." get a real name
    pattern = _compile_identity_pattern(identity_pattern)
    st = _stat(path, path.name)
    note = ""
    if stat.S_ISDIR(st.st_mode):
        code_path, note = _find_code(path, choice or CodeChoice(), max_file_bytes)
        root = code_path.parent
        data_files = _data_files(root, code_path, path.name, max_folder_bytes)
        label = f"{path.name}/{code_path.relative_to(path).as_posix()}"
    elif stat.S_ISREG(st.st_mode):
        _check_suffix(path)
        root, code_path, data_files, label = None, path, (), path.name
    else:
        raise SubmissionError(path, f"{path.name} is neither a regular file nor a folder.")

    kind = CODE_SUFFIXES[code_path.suffix.lower()]
    raw = _read_code_file(code_path, label, max_file_bytes)
    if kind == "notebook":
        cells, meta = _parse_notebook(raw, code_path, label)
    else:
        cells, meta = (CodeCell(0, _decode_module(raw, code_path, label)),), NotebookMeta("python")
    if sum(len(c.source) for c in cells) > MAX_CODE_CHARS:
        raise SubmissionError(
            code_path, f"{label} holds more than {MAX_CODE_CHARS // 2**20} MB of code."
        )
    identity, source = _identity(path, pattern, meta, label)
    base = root if root is not None else code_path.parent
    return Submission(
        identity=identity,
        identity_source=source,
        path=path,
        kind=kind,
        code_path=code_path.absolute(),
        root=root.absolute() if root is not None else None,
        cells=cells,
        data_files=data_files,
        meta=meta,
        content_hash=_content_hash(base, code_path, data_files),
        choice_note=note,
    )


# Files an instructor keeps beside the submissions (notes, rosters, rubrics, gradebooks,
# exported pages): never a student's work, so a class folder's listing skips them and
# says so. Any other file that is not code still becomes an "ungradable" row (a .docx
# or .zip handed in by mistake must reach the gradebook, not vanish).
NOT_SUBMISSION_SUFFIXES = frozenset(
    {".md", ".rst", ".txt", ".toml", ".csv", ".tsv", ".json", ".yml", ".yaml", ".html", ".log"}
)
# A folder holding both is the output of an earlier `grader grade` (grader.batch).
_OUTPUT_MARKERS = ("gradebook.csv", "results")


@dataclass(frozen=True)
class ClassFolder:
    """A class folder's listing: what to grade, and what was left out and why.

    submissions : paths to grade, sorted by name; a file that is no submission but may
                  be a student's mistake is a SubmissionError in its place
    skipped     : (entry, why) for entries that are not students' work: notes and
                  data files (:data:`NOT_SUBMISSION_SUFFIXES`), the output folder of
                  this run (``exclude``) or of an earlier one
    """

    submissions: tuple[Path | SubmissionError, ...]
    skipped: tuple[tuple[Path, str], ...] = ()


def scan_class_folder(folder: Path | str, exclude: Sequence[Path] = ()) -> ClassFolder:
    """List a batch folder: one submission per visible entry, and what was skipped.

    Folders and ``.ipynb``/``.py`` files are submissions (loaded later, perhaps
    in parallel); notes and data files an instructor keeps there are skipped, as
    are ``exclude`` (e.g. the batch's own output folder) and folders that hold
    a grader's output; any other file becomes a SubmissionError so the batch can
    report it. Hidden entries, ``__pycache__`` and ``.ipynb_checkpoints`` are
    ignored without a word.

    Raises
    ------
    SubmissionError
        If ``folder`` is missing or not a folder.
    """
    folder = Path(folder)
    if not stat.S_ISDIR(_stat(folder, folder.name).st_mode):
        raise SubmissionError(folder, f"{folder.name} is not a folder of submissions.")
    excluded = {p.resolve() for p in exclude}
    found: list[Path | SubmissionError] = []
    skipped: list[tuple[Path, str]] = []
    for entry in _visible_entries(folder):
        if entry.resolve() in excluded:
            skipped.append((entry, "the output folder of this run"))
        elif entry.is_dir():
            if all(os.path.lexists(entry / marker) for marker in _OUTPUT_MARKERS):
                skipped.append((entry, "the output of an earlier grading run"))
            else:
                found.append(entry)
        elif entry.suffix.lower() in NOT_SUBMISSION_SUFFIXES:
            skipped.append((entry, f"a {entry.suffix.lower()} file, not a submission"))
        else:
            try:
                _check_suffix(entry)
                found.append(entry)
            except SubmissionError as error:
                found.append(error)
    return ClassFolder(tuple(found), tuple(skipped))


def discover_submissions(
    folder: Path | str, exclude: Sequence[Path] = ()
) -> list[Path | SubmissionError]:
    """The submissions of :func:`scan_class_folder` (what it skipped is not returned)."""
    return list(scan_class_folder(folder, exclude).submissions)


# --- files and folders -----------------------------------------------------


def _stat(path: Path, label: str) -> os.stat_result:
    try:
        return path.stat()
    except FileNotFoundError:
        raise SubmissionError(path, f"{label} does not exist.") from None
    except OSError as error:
        raise SubmissionError(path, f"{label} cannot be read ({error.strerror}).") from None


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() in CODE_SUFFIXES:
        return
    what = f"the unsupported extension '{path.suffix}'" if path.suffix else "no extension"
    raise SubmissionError(
        path,
        f"{path.name} has {what}; a submission is a .ipynb notebook, a .py module, "
        "or a folder holding one.",
    )


def _visible_entries(folder: Path) -> list[Path]:
    try:
        names = sorted(os.listdir(folder))
    except OSError as error:
        raise SubmissionError(folder, f"{folder.name} cannot be read ({error.strerror}).") from None
    return [folder / n for n in names if not n.startswith(".") and n not in IGNORED_NAMES]


def _find_code(folder: Path, choice: CodeChoice, max_file_bytes: int) -> tuple[Path, str]:
    """The code file to grade under ``folder`` and, when there were several, the rule that
    picked it (module doc)."""
    label = folder.name
    notebooks, modules = _code_files(folder)
    candidates = notebooks or modules
    if not candidates:
        if not _visible_entries(folder):
            raise SubmissionError(folder, f"folder {label} is empty.")
        raise SubmissionError(folder, f"folder {label} holds no .ipynb notebook or .py module.")
    if len(candidates) == 1:
        return candidates[0], ""
    what = "notebooks" if notebooks else "modules (and no notebook)"
    if len(candidates) > MAX_CANDIDATES:
        raise SubmissionError(
            folder,
            f"folder {label} holds {len(candidates)} {what}; a submission holds one "
            f"(at most {MAX_CANDIDATES} are told apart).",
        )
    names = ", ".join(c.relative_to(folder).as_posix() for c in candidates)
    held = f"folder {label} holds {len(candidates)} {what} ({names})"
    pool, rules, narrowed = candidates, [], ""
    if choice.pattern:
        matching = [c for c in pool if _matches(c.relative_to(folder), choice.pattern)]
        if len(matching) == 1:
            rel = matching[0].relative_to(folder).as_posix()
            return matching[
                0
            ], f"{held}: graded {rel}, the one matching the rubric's pattern '{choice.pattern}'."
        rules.append(f"{len(matching) or 'none'} match the rubric's pattern '{choice.pattern}'")
        if matching:
            pool, narrowed = matching, f" (of those matching '{choice.pattern}')"
    if choice.defines:
        counts = {c: _defined_count(c, choice.defines, max_file_bytes) for c in pool}
        best = max(counts.values())
        winners = [c for c, n in counts.items() if n == best]
        shown = _names(choice.defines)
        if best and len(winners) == 1:
            rel = winners[0].relative_to(folder).as_posix()
            return winners[0], f"{held}: graded {rel}, the one that defines {shown}{narrowed}."
        rules.append(f"{len(winners)} define {shown} equally" if best else f"none defines {shown}")
    if not rules:
        raise SubmissionError(folder, f"{held}; a submission must hold exactly one.")
    raise SubmissionError(
        folder, f"{held} and {' and '.join(rules)}; submit only the one to grade."
    )


def _code_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """Every notebook and every module under ``folder`` (sorted), junk and links aside.

    A symbolic link anywhere is refused: the parent would read where it points.
    """
    notebooks: list[Path] = []
    modules: list[Path] = []
    seen = 0
    for dirpath, dirnames, filenames in os.walk(folder):  # never follows symlinks
        here = Path(dirpath)
        depth = len(here.relative_to(folder).parts)
        dirnames[:] = sorted(d for d in dirnames if not _ignored(d)) if depth < MAX_DEPTH else []
        seen += len(dirnames) + len(filenames)
        if seen > MAX_SEARCHED_ENTRIES:
            raise SubmissionError(
                folder,
                f"folder {folder.name} holds more than {MAX_SEARCHED_ENTRIES} files and folders.",
            )
        for name in [*dirnames, *sorted(f for f in filenames if not _ignored(f))]:
            entry = here / name
            if entry.is_symlink():
                rel = entry.relative_to(folder).as_posix()
                raise SubmissionError(
                    entry, f"folder {folder.name} contains a symbolic link ({rel})."
                )
            suffix = entry.suffix.lower()
            if name in filenames and suffix in CODE_SUFFIXES:
                (notebooks if suffix == ".ipynb" else modules).append(entry)
    return sorted(notebooks), sorted(modules)


def _matches(rel: Path, pattern: str) -> bool:
    return fnmatch.fnmatchcase(rel.as_posix(), pattern) or fnmatch.fnmatchcase(rel.name, pattern)


def _names(names: tuple[str, ...]) -> str:
    if len(names) == 1:
        return f"'{names[0]}'"
    return "the most of " + ", ".join(f"'{n}'" for n in names)


def _defined_count(path: Path, names: tuple[str, ...], max_bytes: int) -> int:
    """How many of ``names`` the file defines at top level (``class X`` / ``def X``); 0 when
    it cannot be read. Read as text, never run: a regular expression, so IPython syntax
    elsewhere in a notebook does not matter."""
    try:
        raw = _read_code_file(path, path.name, max_bytes)
        if path.suffix.lower() == ".ipynb":
            cells, _ = _parse_notebook(raw, path, path.name)
            source = "\n".join(c.source for c in cells)
        else:
            source = _decode_module(raw, path, path.name)
    except SubmissionError:
        return 0
    return sum(
        re.search(rf"^(?:class|def)\s+{re.escape(n)}\b", source, re.MULTILINE) is not None
        for n in names
    )


def _data_files(root: Path, code_path: Path, label: str, max_bytes: int) -> tuple[DataFile, ...]:
    found: list[DataFile] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):  # never follows symlinks
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not _ignored(d))
        for name in [*dirnames, *filenames]:
            if not _ignored(name) and (here / name).is_symlink():
                rel = (here / name).relative_to(root).as_posix()
                raise SubmissionError(
                    here / name, f"folder {label} contains a symbolic link ({rel})."
                )
        for name in sorted(f for f in filenames if not _ignored(f)):
            file = here / name
            st = file.stat()
            rel = file.relative_to(root).as_posix()
            if not stat.S_ISREG(st.st_mode):
                raise SubmissionError(file, f"folder {label} contains {rel}, not a regular file.")
            total += st.st_size
            if total > max_bytes:
                raise SubmissionError(
                    root, f"folder {label} is over the {max_bytes / 2**20:.0f} MB limit."
                )
            if file != code_path:
                found.append(DataFile(rel, st.st_size))
            if len(found) > MAX_FOLDER_FILES:
                raise SubmissionError(
                    root, f"folder {label} holds more than {MAX_FOLDER_FILES} files."
                )
    return tuple(sorted(found, key=lambda d: d.path))


def _ignored(name: str) -> bool:
    return name.startswith(".") or name in IGNORED_NAMES


def _read_code_file(path: Path, label: str, max_bytes: int) -> bytes:
    size = path.stat().st_size
    if size > max_bytes:
        raise SubmissionError(
            path,
            f"{label} is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit "
            "(clear the notebook's outputs and resubmit).",
        )
    if size == 0:
        raise SubmissionError(path, f"{label} is empty (0 bytes).")
    with path.open("rb") as handle:
        raw = handle.read(max_bytes + 1)  # the file may grow after stat()
    if len(raw) > max_bytes:
        raise SubmissionError(path, f"{label} is over the {max_bytes / 2**20:.0f} MB limit.")
    expected = "a notebook" if path.suffix.lower() == ".ipynb" else "a Python module"
    for magic, what in MAGIC_NUMBERS.items():
        if raw.startswith(magic):
            raise SubmissionError(path, f"{label} is {what}, not {expected}.")
    if b"\x00" in raw[:8192]:
        raise SubmissionError(path, f"{label} is a binary file, not {expected}.")
    return raw


def _decode(raw: bytes, encoding: str, path: Path, label: str) -> str:
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        byte = raw[error.start]
        raise SubmissionError(
            path,
            f"{label} is not valid {encoding.upper()} text "
            f"(byte 0x{byte:02x} at offset {error.start}).",
        ) from None
    return _normalise_newlines(text)


def _normalise_newlines(text: str) -> str:
    # Python's tokenizer ends lines at \r\n, \r and \n only (str.splitlines does more).
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode_module(raw: bytes, path: Path, label: str) -> str:
    """Decode as Python would: a BOM or a PEP 263 coding line, else UTF-8."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError as error:
        raise SubmissionError(
            path, f"{label} declares an encoding Python rejects ({error})."
        ) from None
    return _decode(raw, "utf-8" if encoding == "utf-8-sig" else encoding, path, label).lstrip(
        "\ufeff"
    )


# --- notebooks ---------------------------------------------------------------


def _parse_notebook(
    raw: bytes, path: Path, label: str
) -> tuple[tuple[CodeCell, ...], NotebookMeta]:
    text = _decode(raw, "utf-8", path, label).lstrip("\ufeff")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise SubmissionError(
            path,
            f"{label} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}).",
        ) from None
    except RecursionError:
        raise SubmissionError(path, f"{label} is JSON nested too deeply to read.") from None
    if not isinstance(document, dict) or not isinstance(document.get("nbformat"), int):
        raise SubmissionError(
            path, f"{label} is JSON but not a Jupyter notebook (it has no 'nbformat' field)."
        )
    meta = _notebook_meta(document)
    if meta.language is not None and not _is_python(meta.language):
        kernel = f"the {meta.kernel} kernel" if meta.kernel else "a kernel"
        raise SubmissionError(path, f"{label} uses {kernel} for {meta.language}, not Python.")
    # the plain v4 shape is read here; anything else by nbformat (~0.15 s to import in a
    # fresh process), which converts older formats, repairs ids, and words the errors
    plain = plain_code_cells(document)
    if plain is None:
        plain = _nbformat_cells(text, path, label)
    cells = tuple(
        CodeCell(i, _normalise_newlines(source))
        for i, (kind, source) in enumerate(plain)
        if kind == "code"
    )
    if not cells:
        raise SubmissionError(path, f"{label} has no code cells.")
    if not any(c.source.strip() for c in cells):
        raise SubmissionError(path, f"{label} has {len(cells)} code cells, all of them empty.")
    return cells, meta


def _nbformat_cells(text: str, path: Path, label: str) -> list[tuple[str, str]]:
    """Every cell's type and source, as nbformat reads the notebook (as version 4)."""
    import nbformat

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbformat warns about ids it repairs
            notebook = nbformat.reads(text, as_version=4)
            nbformat.validate(notebook)
    except Exception as error:  # nbformat raises many types on malformed input
        raise SubmissionError(
            path, f"{label} is not a valid Jupyter notebook ({_short(error)})."
        ) from None
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


def _notebook_meta(document: dict[str, Any]) -> NotebookMeta:
    metadata = _mapping(document.get("metadata"))
    kernelspec = _mapping(metadata.get("kernelspec"))
    language_info = _mapping(metadata.get("language_info"))
    languages = [kernelspec.get("language"), language_info.get("name")]
    for sheet in document.get("worksheets") or []:  # nbformat 3 names it per cell
        for cell in _mapping(sheet).get("cells") or []:
            languages.append(_mapping(cell).get("language"))
    named = [lang for lang in languages if isinstance(lang, str) and lang]
    foreign = [lang for lang in named if not _is_python(lang)]
    student = metadata.get("student")
    if isinstance(student, dict):
        student = student.get("id")
    kernel = kernelspec.get("display_name") or kernelspec.get("name")
    return NotebookMeta(
        language=(foreign or named or [""])[0] or None,
        kernel=kernel if isinstance(kernel, str) else None,
        nbformat=f"{document['nbformat']}.{document.get('nbformat_minor', 0)}",
        student=student if isinstance(student, str) and _SAFE_IDENTITY.fullmatch(student) else None,
    )


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_python(language: str) -> bool:
    return language.lower().startswith(("python", "ipython"))


def _short(error: Exception) -> str:
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    message = " ".join(str(message).split())
    return message if len(message) <= 160 else message[:157] + "..."


# --- identity and hash -----------------------------------------------------------


def _compile_identity_pattern(pattern: str | re.Pattern[str] | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    compiled = re.compile(pattern)
    if "student" not in compiled.groupindex:
        raise ValueError(f"identity pattern {compiled.pattern!r} has no (?P<student>...) group")
    return compiled


def _identity(
    path: Path, pattern: re.Pattern[str] | None, meta: NotebookMeta, label: str
) -> tuple[str, IdentitySource]:
    name = path.name if path.is_dir() else path.stem
    if pattern is None:
        return name, "name"
    match = pattern.search(name)
    if match and match.group("student"):
        return match.group("student"), "pattern"
    if meta.student:
        return meta.student, "metadata"
    raise SubmissionError(
        path,
        f"{label}: the name does not match the identity pattern {pattern.pattern!r} "
        "and the notebook metadata names no student.",
    )


def _content_hash(base: Path, code_path: Path, data_files: tuple[DataFile, ...]) -> str:
    files = [(code_path.relative_to(base).as_posix(), code_path)]
    files += [(d.path, base / d.path) for d in data_files]
    digest = hashlib.sha256()
    for rel, file in sorted(files):
        digest.update(f"{rel}\0{file.stat().st_size}\0".encode())
        with file.open("rb") as handle:
            while block := handle.read(2**20):
                digest.update(block)
    return digest.hexdigest()
