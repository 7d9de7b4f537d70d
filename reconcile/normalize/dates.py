"""Dates, year-months and years in the forms real files carry (DESIGN §9)."""

from __future__ import annotations

import datetime
import re
from functools import lru_cache

from ._text import as_text, clean_cell, squeeze
from .result import EMPTY, Normalized

_MIN_YEAR, _MAX_YEAR = 1900, 2100
_MIN_RECORD_YEAR, _MAX_RECORD_YEAR = 1949, 2100
# 20000 is 1954-10-04 and 80000 is 2119-01-11: outside that window a 5-digit number is more likely a
# count or a code than a date typed into a numeric cell.
_SERIAL_MIN, _SERIAL_MAX = 20000, 80000
_EXCEL_EPOCH = datetime.date(1899, 12, 30)  # serial 60 is Excel's phantom 1900-02-29

_TIME = r"(?:[T\s]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DATE_FORMS = (
    re.compile(r"(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})" + _TIME),
    re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?" + _TIME),
    re.compile(r"(\d{4})(\d{2})(\d{2})(?:\.0+)?"),
)
_YEARMONTH_FORMS = (
    re.compile(r"(\d{4})(\d{2})(?:\.0+)?"),
    re.compile(r"(\d{4})[-/.](\d{1,2})"),
    re.compile(r"(\d{4})年(\d{1,2})月?(?:份)?"),
)
_SERIAL = re.compile(r"(\d{5})(?:\.\d+)?")
_YEAR = re.compile(r"(\d{4})(?:\.0+)?(?:年度?)?")


def _from_parts(year: str, month: str, day: str) -> Normalized:
    y, m, d = int(year), int(month), int(day)
    if not _MIN_YEAR <= y <= _MAX_YEAR:
        return Normalized(None, "date_out_of_range")
    try:
        return Normalized(datetime.date(y, m, d))
    except ValueError:
        return Normalized(None, "date_unparseable")


def _prepare(raw: object) -> str:
    return clean_cell(as_text(raw))


@lru_cache(maxsize=1 << 16)
def _parse_date(text: str) -> Normalized:
    if not squeeze(text):
        return EMPTY
    for form in _DATE_FORMS:
        match = form.fullmatch(text)
        if match:
            return _from_parts(*match.groups())
    match = _SERIAL.fullmatch(text)
    if match and _SERIAL_MIN <= int(match.group(1)) <= _SERIAL_MAX:
        value = _EXCEL_EPOCH + datetime.timedelta(days=int(match.group(1)))
        if not _MIN_YEAR <= value.year <= _MAX_YEAR:
            return Normalized(None, "date_out_of_range")
        return Normalized(value, "date_excel_serial")
    return Normalized(None, "date_unparseable")


def parse_date(raw: str | None) -> Normalized:
    """A ``datetime.date``; Excel serials come back with the informational ``date_excel_serial``."""
    if raw is None:
        return EMPTY
    if isinstance(raw, datetime.datetime):
        return Normalized(raw.date())
    if isinstance(raw, datetime.date):
        return Normalized(raw)
    return _parse_date(_prepare(raw))


@lru_cache(maxsize=1 << 16)
def _parse_yearmonth(text: str) -> Normalized:
    compact = squeeze(text)
    for form in _YEARMONTH_FORMS:
        match = form.fullmatch(compact)
        if match:
            return _from_parts(match.group(1), match.group(2), "1")
    return _parse_date(text)


def parse_yearmonth(raw: str | None) -> Normalized:
    """A YYYYMM monitoring date as the 1st of that month; a full date is kept as it is."""
    if raw is None or isinstance(raw, datetime.date):
        return parse_date(raw)
    return _parse_yearmonth(_prepare(raw))


@lru_cache(maxsize=1 << 12)
def _parse_year(text: str) -> Normalized:
    compact = squeeze(text)
    if not compact:
        return EMPTY
    match = _YEAR.fullmatch(compact)
    if match:
        year = int(match.group(1))
    else:
        # A full date or year-month in a year column still says which year is meant.
        dated = _parse_yearmonth(text)
        if dated.problem == "date_out_of_range":
            return Normalized(None, "year_out_of_range")
        if dated.problem is not None or not isinstance(dated.value, datetime.date):
            return Normalized(None, "year_unparseable")
        year = dated.value.year
    if not _MIN_RECORD_YEAR <= year <= _MAX_RECORD_YEAR:
        return Normalized(None, "year_out_of_range")
    return Normalized(year)


def parse_year(raw: str | None) -> Normalized:
    """A 4-digit year as ``int`` (1949-2100)."""
    if raw is None:
        return EMPTY
    if isinstance(raw, datetime.date):
        return parse_year(str(raw.year))
    return _parse_year(_prepare(raw))
