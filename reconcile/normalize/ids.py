"""Resident ID numbers (GB 11643-1999; domain.md §6).

An ID is the strongest key the engine has, so a cleaned value is kept whenever its digits are known
(a failed check digit is evidence of a typo, not a reason to forget the number), and dropped only
when Excel has already destroyed the digits.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from functools import lru_cache

from ._text import squeeze

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"

# Province-level codes of GB/T 2260 plus 71 (Taiwan) and the 81-83 codes of the residence permits
# for Hong Kong, Macao and Taiwan residents. Prefecture and county codes are not checked: an ID keeps
# the code issued at registration even after the county was abolished.
PROVINCE_CODES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 "
    "71 81 82 83".split()
)

# The standard's own example is born in 1880, so old birth years are real; no date.today() bound,
# to keep the function pure (a future birth date is for the rules, which know the assessment year).
_MIN_BIRTH_YEAR = 1850
_MAX_BIRTH_YEAR = 2100

_QUOTES = "\"'`“”‘’"
_SCI = re.compile(r"[+-]?\d+(?:\.\d*)?E[+-]?\d+")
_ID18 = re.compile(r"\d{17}[\dX]")
_ID15 = re.compile(r"\d{15}")
_ID20 = re.compile(r"\d{17}[\dX]\d{2}")
_ALLOWED = re.compile(r"[\dX]+")
_FLOAT_SUFFIX = re.compile(r"\d+\.0+")


@dataclass(frozen=True)
class IdInfo:
    value: str | None
    valid: bool
    problem: str | None
    birth_date: datetime.date | None
    sex: str | None
    disability_suffix: str | None


_EMPTY = IdInfo(None, False, None, None, None, None)


def id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError(f"计算校验位需要17位数字,实际为:{first17!r}")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def _birth_date(digits8: str) -> datetime.date | None:
    year, month, day = int(digits8[:4]), int(digits8[4:6]), int(digits8[6:8])
    if not _MIN_BIRTH_YEAR <= year <= _MAX_BIRTH_YEAR:
        return None
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def _sex(id18: str) -> str:
    return "男" if int(id18[16]) % 2 else "女"


def _problem18(id18: str) -> str | None:
    """The first structural problem of an 18-character ID, most specific first."""
    if id18[:2] not in PROVINCE_CODES:
        return "id_bad_region"
    if _birth_date(id18[6:14]) is None:
        return "id_bad_birth_date"
    if id_check_char(id18[:17]) != id18[17]:
        return "id_check_digit"
    return None


def is_valid_id(value: str | None) -> bool:
    """True when ``value`` is, as written, a valid 18-character ID (lower-case x accepted).

    For raw cells (spaces, wrappers, 15-digit numbers) use ``normalize_id(raw).valid``.
    """
    if not value or len(value) != 18:
        return False
    value = value.upper()
    return _ID18.fullmatch(value) is not None and _problem18(value) is None


def _clean(raw: str) -> str:
    text = squeeze(raw)
    # Wrappers nest in practice ('="…"' after a round trip through two tools), so peel until stable.
    while True:
        before = text
        text = text.lstrip("=").strip(_QUOTES)
        if text == before:
            break
    return text.upper()


def _info18(id18: str, problem_if_valid: str | None, suffix: str | None = None) -> IdInfo:
    problem = _problem18(id18)
    birth = _birth_date(id18[6:14])
    return IdInfo(
        value=id18,
        valid=problem is None,
        problem=problem or problem_if_valid,
        birth_date=birth,
        sex=_sex(id18),
        disability_suffix=suffix,
    )


@lru_cache(maxsize=1 << 18)
def _normalize_id(raw: str, numeric_cell: bool) -> IdInfo:
    text = _clean(raw)
    if not text:
        return _EMPTY
    if _FLOAT_SUFFIX.fullmatch(text):
        # A ".0" tail means the number went through a float: exact for 15 digits, not for 18.
        text = text[: text.index(".")]
        numeric_cell = True
    if _SCI.fullmatch(text):
        return IdInfo(None, False, "id_sci_notation", None, None, None)
    if not _ALLOWED.fullmatch(text):
        return IdInfo(None, False, "id_bad_chars", None, None, None)
    if numeric_cell and text.isdigit() and len(text) in (18, 20):
        # Excel keeps 15 significant digits: the birth date survives, the sequence and check do not.
        id18 = text[:18]
        return IdInfo(id18, False, "id_excel_number", _birth_date(id18[6:14]), None, None)
    if _ID18.fullmatch(text):
        return _info18(text, None)
    if _ID15.fullmatch(text):
        first17 = text[:6] + "19" + text[6:]
        return _info18(first17 + id_check_char(first17), "id_converted_15")
    if _ID20.fullmatch(text):
        return _info18(text[:18], "id_disability_suffix", suffix=text[18:])
    if "X" in text and len(text) in (15, 18, 20):
        return IdInfo(None, False, "id_bad_chars", None, None, None)
    return IdInfo(None, False, "id_bad_length", None, None, None)


def normalize_id(raw: str | None, numeric_cell: bool = False) -> IdInfo:
    """Clean and validate one ID cell.

    ``numeric_cell`` says the spreadsheet stored the cell as a number, so any digit past the 15th is
    invented by Excel; a Python float is treated the same way.
    """
    if raw is None:
        return _EMPTY
    if isinstance(raw, float):
        numeric_cell = True
        raw = str(int(raw)) if raw.is_integer() else repr(raw)
    elif not isinstance(raw, str):
        raw = str(raw)
    return _normalize_id(raw, numeric_cell)
