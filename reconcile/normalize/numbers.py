"""Amounts in yuan and whole numbers as typed in spreadsheets."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from ._text import as_text, clean_cell, clean_code
from .codes import normalize_code
from .result import EMPTY, Normalized

# NFKC leaves these minus signs alone.
_MINUS = str.maketrans({"\u2212": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-"})
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_MONEY = re.compile(rf"([+-]?)(?:¥|rmb|cny)?({_NUMBER})(万)?(?:元|圆|块)?(?:整)?")
# Units of the areas a monitoring export records (耕地 / 林地 / 退耕还林面积).
_MEASURE = re.compile(rf"({_NUMBER})(?:亩|平方米|㎡|m2|公顷)?")
# A telephone number as typed: digits, a country prefix, separators between groups.
_PHONE = re.compile(r"(?:\+?86[- ]?)?([0-9][0-9 ()-]*[0-9])")
BAD_GROUPING = Normalized(None, "number_bad_grouping")
# Units that follow a count ("4人", "3户", "2次"); anything else after the number is not a count.
_INT = re.compile(rf"({_NUMBER})(?:人|口|个|户|次|名|位|岁|间|套|辆|天|年|月)?")


# Digits joined by grouping marks, and the one shape in which they group thousands ("1,234,567", "1 234").
_DIGIT_RUN = re.compile(r"\d+(?:[,' ]+\d+)+")
_THOUSANDS = re.compile(r"\d{1,3}(?:[,' ]\d{3})+")
_WHITESPACE = re.compile(r"\s+")


def _prepare(raw: object) -> str | None:
    """The cell as the number parsers read it, or None when its commas or spaces cannot be thousands separators.

    Grouping commas and spaces only ever group digits in these files, never mark decimals — but only in groups
    of three: "1,2,3" is three numbers typed into one cell (or a list), not 123, and "1.234,5" is not 12345."""
    text = clean_cell(as_text(raw)).translate(_MINUS).casefold()
    if any(not _THOUSANDS.fullmatch(run) for run in _DIGIT_RUN.findall(text)):
        return None
    return _WHITESPACE.sub("", text).replace(",", "").replace("'", "")


@lru_cache(maxsize=1 << 16)
def _parse_money(text: str) -> Normalized:
    if not text:
        return EMPTY
    match = _MONEY.fullmatch(text)
    if not match:
        return Normalized(None, "number_unparseable")
    sign, number, wan = match.groups()
    if sign and number[0] in "+-":
        return Normalized(None, "number_unparseable")
    try:
        amount = Decimal(number)
    except InvalidOperation:
        return Normalized(None, "number_unparseable")
    if wan:
        amount *= 10000
    if sign == "-":
        amount = -amount
    # Through Decimal so "3.2万" is 32000.0, not 32000.000000000004.
    return Normalized(float(amount))


def parse_money(raw: str | None) -> Normalized:
    """An amount in yuan as ``float`` ("1,234.5", "1 234元", "￥1234", "3.2万", "-200")."""
    if raw is None:
        return EMPTY
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return Normalized(float(raw)) if math.isfinite(raw) else Normalized(None, "number_unparseable")
    text = _prepare(raw)
    return BAD_GROUPING if text is None else _parse_money(text)


@lru_cache(maxsize=1 << 16)
def _parse_number(text: str) -> Normalized:
    match = _MEASURE.fullmatch(text)
    if not match:
        return Normalized(None, "number_unparseable")
    return Normalized(float(Decimal(match.group(1))))


def parse_number(raw: str | None) -> Normalized:
    """A measured quantity as ``float`` ("12.5", "12.5亩", "1,200平方米"); the unit is the column's."""
    if raw is None:
        return EMPTY
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return Normalized(float(raw)) if math.isfinite(raw) else Normalized(None, "number_unparseable")
    text = _prepare(raw)
    if text is None:
        return BAD_GROUPING
    return _parse_number(text) if text else EMPTY


def parse_phone(raw: str | None) -> Normalized:
    """A telephone number as its digits ("138 0000 1234", "0731-84561234", "+86 13800001234", a number cell
    13800001234.0); ``phone_unparseable`` when anything but digits and separators was typed. Whether the
    number has the right length is a check of the rules (county checker 15), not of the reader."""
    if raw is None:
        return EMPTY
    text = clean_code(as_text(raw))
    if not text:
        return EMPTY
    match = _PHONE.fullmatch(text)
    if not match:
        return Normalized(None, "phone_unparseable")
    return Normalized(re.sub(r"[^0-9]", "", match.group(1)))


@lru_cache(maxsize=1 << 16)
def _parse_int(text: str) -> Normalized:
    if not text:
        return EMPTY
    match = _INT.fullmatch(text)
    if not match:
        return Normalized(None, "number_unparseable")
    number = Decimal(match.group(1))
    if number != number.to_integral_value():
        return Normalized(None, "int_not_whole")
    return Normalized(int(number))


def parse_int(raw: str | None) -> Normalized:
    """A whole number as ``int`` ("4", "4.0", "4人", "４"); ``int_not_whole`` for "4.5"."""
    if raw is None:
        return EMPTY
    text = _prepare(raw)
    return BAD_GROUPING if text is None else _parse_int(text)


def parse_bool(raw: str | None) -> Normalized:
    """True/False through the ``bool`` code list (是/否, Y/N, √/×, 1/0 ...)."""
    if isinstance(raw, bool):
        return Normalized(raw)
    result = normalize_code(raw, "bool")
    if result.value is None:
        return result
    return Normalized(result.value == "是")
