"""Small text helpers shared by the exports: numbers, Markdown, spreadsheet cells, XML."""

from __future__ import annotations

import math
import re
import unicodedata

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")
# XML 1.0 allows tab, newline, carriage return and everything from U+0020 on
# (minus surrogates and U+FFFE/U+FFFF); a student's output may hold anything. Written
# as what is refused: the allowed set's complement takes ~3 ms to compile, this 0.3 ms.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def number(x: float) -> str:
    """2.0 -> '2', 1.5 -> '1.5': shortest exact form, no exponent for whole numbers."""
    if not math.isfinite(x):
        return repr(x)
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def md_escape(text: str) -> str:
    """Text shown literally in Markdown (table cells included), on one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


# What starts a formula (OWASP, CSV injection), with the full-width forms some spreadsheets
# read the same way; a cell's leading blanks do not hide them (" =1+1" is a formula too).
_FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")


def _blank(char: str) -> bool:
    """Whitespace, control and format characters: a spreadsheet skips them before a formula."""
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf")


def csv_cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula: a leading ``'`` when the cell
    starts with a formula character, after any blanks, or with a tab, CR or LF itself."""
    first = next((c for c in text if not _blank(c)), "")
    return "'" + text if first in _FORMULA_STARTS or text[:1] in ("\t", "\r", "\n") else text


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold."""
    return _XML_INVALID.sub("\ufffd", text)
