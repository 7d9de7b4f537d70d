"""Cell cleaning shared by every normaliser and by the readers: the one place that knows what an
export adds around a value (domain.md §6.5).

- ``strip_export``: invisible characters, outer whitespace and export wrappers removed — the
  ``="…"`` formula county checkers write into CSV so that Excel keeps IDs as text (also with
  the quotes doubled by a CSV writer, ``=""…""``, or as a whole CSV field never unquoted) and
  Excel's leading ``'`` text marker. Nothing else changes, so header cells keep the spelling a person typed.
- ``clean_cell``: ``strip_export`` after NFKC (full-width letters, digits and spaces folded); inner
  line breaks become ``\\n`` and other whitespace characters ordinary spaces. Free text ends here.
- ``squeeze``: ``clean_cell`` without any whitespace: names, IDs, numbers, codes, regions.
- ``clean_code``: ``squeeze`` and a float ``.0`` tail dropped (``4306240101001.0``, ``1.0``):
  identifiers kept as text (户编号, 记录编号, 户号) and code-list codes.

Each is stable when applied again. ``MAYBE_BLANK`` is a column-wise pre-filter for blank cells.
"""

from __future__ import annotations

import re
import unicodedata

# Control and format characters (Unicode Cc and Cf: zero-width space/joiners, BOM, word joiner, soft
# hyphen, bidi marks, tags) and the other default-ignorable code points (Hangul fillers, variation
# selectors, combining grapheme joiner): invisible in a spreadsheet, so noise in any value. The tab,
# line feed and the other whitespace controls are whitespace, handled below.
# tests/unit/test_normalize_text.py checks this against unicodedata for every code point.
INVISIBLE_CHARS = (
    "\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
    "\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
_INVISIBLE = re.compile(f"[{INVISIBLE_CHARS}]")
_LINE_BREAK = re.compile(r"\s*(?:\r\n|[\r\n\x85\u2028\u2029])\s*")
_INNER_SPACE = re.compile(r"[^\S\n ]")
_SPACE = re.compile(r"\s+")
# ="…" with its quotes possibly doubled by a CSV writer (=""…""); the inner text is peeled again.
_FORMULA = re.compile(r'=\s*("+)(.*)\1', re.DOTALL)
# the same wrapper as a whole CSV field that was never unquoted: "=""…"""
_QUOTED_FORMULA = re.compile(r'"(=\s*".*")"', re.DOTALL)
_FLOAT_TAIL = re.compile(r"(\d+)\.0+")

# Characters a blank cell may consist of (whitespace, invisibles, wrapper quotes and their
# full-width forms, which NFKC folds): a cell with any other character is never blank. A regex for
# polars, so readers and column paths can skip the Python check for almost every cell.
MAYBE_BLANK = f"^[\\s{INVISIBLE_CHARS}=\"'\uff1d\uff02\uff07\ufe66\u207c\u208c]*$"


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def drop_invisible(text: str) -> str:
    return _INVISIBLE.sub("", text)


def _peel(text: str) -> str:
    """Outer whitespace, export wrappers and the text marker removed, layer after layer."""
    while True:
        before = text
        text = text.strip()
        quoted = _QUOTED_FORMULA.fullmatch(text)
        if quoted:
            text = quoted.group(1)
        formula = _FORMULA.fullmatch(text)
        if formula:
            text = formula.group(2)
        elif text.startswith("'"):
            text = text[1:]
        if text == before:
            return text


def strip_export(text: str) -> str:
    """Invisible characters, outer whitespace and export wrappers removed; no other change."""
    return _peel(drop_invisible(text))


def clean_cell(text: str) -> str:
    """NFKC, invisible characters and export wrappers removed, outer whitespace trimmed, inner
    line breaks as ``\\n`` and other inner whitespace characters as spaces."""
    # NFKC can compose a letter with a combining mark that an invisible character separated, and
    # a peeled wrapper can expose another one, so repeat until nothing changes.
    for _ in range(4):
        out = _INNER_SPACE.sub(" ", _LINE_BREAK.sub("\n", strip_export(nfkc(text))))
        if out == text:
            break
        text = out
    return text


def squeeze(text: str) -> str:
    """``clean_cell`` with every whitespace removed; stable when applied again."""
    for _ in range(4):
        out = _SPACE.sub("", clean_cell(text))
        if out == text:
            break
        text = out
    return text


def clean_code(text: str) -> str:
    """``squeeze`` and a float ``.0`` tail of a whole number dropped (Excel stored the code as a number)."""
    text = squeeze(text)
    match = _FLOAT_TAIL.fullmatch(text)
    return match.group(1) if match else text


def is_blank(raw: object) -> bool:
    """None, or a string with nothing but whitespace, invisible characters or an empty wrapper."""
    return raw is None or (isinstance(raw, str) and not clean_cell(raw))


def as_text(raw: object) -> str:
    """Accept the non-string cells a caller may hand over (numbers read by a loader)."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)
