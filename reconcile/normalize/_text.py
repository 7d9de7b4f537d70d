"""Low-level text cleaning shared by the normalisers."""

from __future__ import annotations

import re
import unicodedata

# Format and control characters (zero-width space, BOM, soft hyphen, ...) are invisible in a
# spreadsheet, so they are noise in any identifier-like value.
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_SPACE = re.compile(r"\s+")
_EXCEL_WRAPPER = re.compile(r'=\s*"(.*)"', re.DOTALL)


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def drop_invisible(text: str) -> str:
    return _INVISIBLE.sub("", text)


def squeeze(text: str) -> str:
    """NFKC and remove every whitespace and invisible character; stable when applied again."""
    # Removing a space can bring a letter next to a combining mark that NFKC then composes.
    for _ in range(4):
        out = _SPACE.sub("", drop_invisible(nfkc(text)))
        if out == text:
            break
        text = out
    return text


def clean_text(text: str) -> str:
    """NFKC, invisible characters removed, outer whitespace trimmed; inner spaces kept."""
    return drop_invisible(nfkc(text)).strip()


def unwrap(text: str) -> str:
    """Remove the ="…" formula wrapper that CSV exports use to keep Excel from reformatting a cell."""
    match = _EXCEL_WRAPPER.fullmatch(text.strip())
    return match.group(1) if match else text


def is_blank(raw: object) -> bool:
    """None, or a string with nothing but whitespace, invisible characters or an empty ="" wrapper."""
    return raw is None or (isinstance(raw, str) and not unwrap(squeeze(raw)))


def as_text(raw: object) -> str:
    """Accept the non-string cells a caller may hand over (numbers read by a loader)."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)
