"""Frames on a pipe: a JSON header and raw byte blobs, nothing else (no pickle).

    frame = MAGIC (4 bytes) | header length (8 bytes, big-endian) | header JSON
            | blob 0 | blob 1 | ...

The header lists the blob sizes under ``"blobs"``. The reader checks every
size against its caps *before* reading, so a corrupt or hostile frame costs at
most the caps. Used between the parent and the warm worker; the parent treats
everything it reads as untrusted.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from collections.abc import Sequence
from typing import Any

MAGIC = b"GSB1"
_PREFIX = struct.Struct(">4sQ")

# one-byte commands between parent and worker; COMPILE is followed by one frame whose
# blob is a module's source (grader code only), compiled once for every later job
JOB, QUIT, READY, COMPILE = b"J", b"Q", b"R", b"C"


class WireError(Exception):
    """The peer closed the pipe, sent a malformed frame, or was too slow."""


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to a blocking fd."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def read_exact(fd: int, n: int, deadline: float | None = None) -> bytes:
    """Read exactly ``n`` bytes; WireError on EOF or when ``deadline`` (monotonic) passes."""
    parts: list[bytes] = []
    left = n
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise WireError(f"timed out with {left} of {n} bytes unread")
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise WireError(f"pipe closed with {left} of {n} bytes unread")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def write_frame(fd: int, header: dict[str, Any], blobs: Sequence[bytes] = ()) -> None:
    """Send ``header`` (JSON-able) and ``blobs``; the blob sizes are added to the header."""
    write_all(fd, frame_head(header, blobs))
    for blob in blobs:
        write_all(fd, blob)


def frame_head(header: dict[str, Any], blobs: Sequence[bytes | memoryview] = ()) -> bytes:
    """The bytes of a frame before its blobs (prefix and header, blob sizes added)."""
    head = json.dumps({**header, "blobs": [len(b) for b in blobs]}).encode()
    return _PREFIX.pack(MAGIC, len(head)) + head


def encode(header: dict[str, Any], blobs: Sequence[bytes] = ()) -> bytes:
    """A whole frame as bytes (what :func:`write_frame` sends)."""
    return b"".join([frame_head(header, blobs), *blobs])


def read_frame(
    fd: int,
    *,
    max_header: int = 1 << 20,
    max_blobs: int = 1 << 30,
    deadline: float | None = None,
) -> tuple[dict[str, Any], list[bytes]]:
    """Receive one frame, refusing headers over ``max_header`` and blobs over ``max_blobs`` total."""
    header, sizes = read_header(fd, max_header=max_header, max_blobs=max_blobs, deadline=deadline)
    return header, [read_exact(fd, s, deadline) for s in sizes]


def read_into(fd: int, view: memoryview) -> None:
    """Fill ``view`` from a blocking fd (a blob read where no bytes object may hold it)."""
    while len(view):
        n = os.readv(fd, [view])
        if not n:
            raise WireError(f"pipe closed with {len(view)} bytes unread")
        view = view[n:]


def read_header(
    fd: int, *, max_header: int, max_blobs: int, deadline: float | None = None
) -> tuple[dict[str, Any], list[int]]:
    """A frame's header and its blob sizes; the blobs are left on the pipe."""
    magic, size = _PREFIX.unpack(read_exact(fd, _PREFIX.size, deadline))
    if magic != MAGIC or size > max_header:
        raise WireError(f"bad frame prefix (magic {magic!r}, header {size} bytes)")
    try:
        header = json.loads(read_exact(fd, size, deadline))
        sizes = [int(s) for s in header["blobs"]]
    except (ValueError, KeyError, TypeError) as e:
        raise WireError(f"bad frame header: {e}") from None
    if not isinstance(header, dict) or any(s < 0 for s in sizes) or sum(sizes) > max_blobs:
        raise WireError(f"frame declares {sum(sizes)} bytes of blobs (cap {max_blobs})")
    return header, sizes
