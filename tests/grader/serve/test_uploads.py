"""Uploads are untrusted bytes: what is refused before anything is stored, and why."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from grader.serve.uploads import UploadError, UploadLimits, check_upload, unpack_zip
from tests.grader.serve.conftest import DEMO

LIMITS = UploadLimits(max_bytes=1 << 20, max_unpacked=4 << 20, max_files=20)


def zip_of(*entries: tuple[str, bytes], link: tuple[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
        if link is not None:
            info = zipfile.ZipInfo(link[0])
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, link[1])
    return buffer.getvalue()


NOTEBOOK = (DEMO / "alice.ipynb").read_bytes()


def refused(name: str, content: bytes, status: int, phrase: str) -> None:
    with pytest.raises(UploadError) as error:
        check_upload(name, content, LIMITS)
    assert error.value.status == status
    assert phrase in str(error.value)
    assert str(error.value).startswith(Path(name.replace("\\", "/")).name or "upload")


def test_a_notebook_a_module_and_a_folder_zip_are_accepted(tmp_path: Path) -> None:
    assert check_upload("lab3.ipynb", NOTEBOOK, LIMITS).kind == "ipynb"
    assert check_upload("C:\\Users\\me\\mlp.py", b"import numpy\n", LIMITS).filename == "mlp.py"
    folder = zip_of(("lab3/notebooks/lab3.ipynb", NOTEBOOK), ("lab3/data/x.csv", b"1,2\n"))
    assert check_upload("lab3.zip", folder, LIMITS).kind == "zip"
    unpacked = unpack_zip(folder, tmp_path / "alice", LIMITS)
    assert (unpacked / "lab3" / "notebooks" / "lab3.ipynb").read_bytes() == NOTEBOOK


@pytest.mark.parametrize(
    ("name", "content", "status", "phrase"),
    [
        ("empty.ipynb", b"", 400, "is empty"),
        ("report.pdf", b"%PDF-1.4", 415, "not a notebook (.ipynb), a .py module or a .zip"),
        ("lab3.ipynb", b"print('not json')", 415, "not JSON"),
        ("lab3.ipynb", b'{"metadata": {}}', 415, "no list of cells"),
        ("lab3.py", b"\xff\xfe\x00binary", 415, "not UTF-8"),
        ("lab3.py", NOTEBOOK[:0] + b"PK\x03\x04rest", 415, "is an archive"),
        ("lab3.zip", b"PK\x03\x04 but broken", 415, "not a readable zip"),
    ],
)
def test_wrong_type_and_empty_uploads_are_refused(
    name: str, content: bytes, status: int, phrase: str
) -> None:
    refused(name, content, status, phrase)


def test_oversize_upload_is_refused() -> None:
    refused("big.py", b"#" * (LIMITS.max_bytes + 1), 413, "more than this service accepts")


@pytest.mark.parametrize(
    "entry",
    [
        "../../etc/cron.d/evil.py",
        "lab3/../../evil.py",
        "/etc/evil.py",
        "C:/evil.py",
        "lab3\\..\\evil.py",
    ],
)
def test_zip_slip_and_absolute_paths_are_refused(entry: str) -> None:
    content = zip_of(("lab3/lab3.ipynb", NOTEBOOK), (entry, b"print('owned')\n"))
    with pytest.raises(UploadError) as error:
        check_upload("lab3.zip", content, LIMITS)
    assert error.value.status == 400
    assert any(p in str(error.value) for p in ("climbs out", "absolute", "backslash"))


def test_symlink_in_zip_is_refused() -> None:
    content = zip_of(("lab3/lab3.ipynb", NOTEBOOK), link=("lab3/data", "/etc/passwd"))
    refused("lab3.zip", content, 400, "is a symbolic link")


def test_zip_bomb_is_refused_by_the_bytes_it_unpacks() -> None:
    bomb = zip_of(
        ("lab3/lab3.ipynb", NOTEBOOK), ("lab3/zeros.bin", b"\0" * (LIMITS.max_unpacked + 1))
    )
    assert len(bomb) < LIMITS.max_bytes  # small on the wire
    refused("lab3.zip", bomb, 413, "unpacks to more than")
    # many small members that add up count as much as one large one
    parts = [(f"lab3/z{i}.bin", b"\0" * (LIMITS.max_unpacked // 4)) for i in range(5)]
    refused("lab3.zip", zip_of(("lab3/lab3.ipynb", NOTEBOOK), *parts), 413, "unpacks to more than")


def test_nested_archive_is_refused() -> None:
    inner = zip_of(("a.py", b"\0" * 1000))
    content = zip_of(("lab3/lab3.ipynb", NOTEBOOK), ("lab3/more.zip", inner))
    refused("lab3.zip", content, 400, "an archive inside the zip")
    renamed = zip_of(("lab3/lab3.ipynb", NOTEBOOK), ("lab3/data.csv", inner))
    refused("lab3.zip", renamed, 400, "an archive inside the zip")


def test_too_many_files_and_a_zip_without_code_are_refused() -> None:
    many = zip_of(*((f"lab3/f{i}.txt", b"x") for i in range(LIMITS.max_files + 1)))
    refused("lab3.zip", many, 413, "entries, more than")
    refused("lab3.zip", zip_of(("notes.txt", b"hello")), 400, "no notebook")
    clash = zip_of(("lab3", b"x"), ("lab3/lab3.ipynb", NOTEBOOK))
    refused("lab3.zip", clash, 400, "both a file and the folder")
