"""One entry point per value kind of reconcile/schema.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._text import as_text, clean_cell, clean_code, is_blank
from .codes import CODE_LISTS, normalize_code, normalize_code_list
from .dates import parse_date, parse_year, parse_yearmonth
from .ids import normalize_id
from .names import name_problem, normalize_name
from .numbers import parse_bool, parse_int, parse_money, parse_number, parse_phone
from .regions import normalize_township, normalize_village
from .result import EMPTY, Normalized


def _text(raw: object) -> Normalized:
    return Normalized(clean_cell(as_text(raw)) or None)


def _ident(raw: object) -> Normalized:
    return Normalized(clean_code(as_text(raw)) or None)


def _name(raw: object) -> Normalized:
    text = as_text(raw)
    return Normalized(normalize_name(text), name_problem(text))


def _township(raw: object) -> Normalized:
    return Normalized(normalize_township(as_text(raw)))


def _village(raw: object) -> Normalized:
    return Normalized(normalize_village(as_text(raw)))


_SIMPLE: dict[str, Callable[[Any], Normalized]] = {
    "text": _text,
    "ident": _ident,
    "name": _name,
    "date": parse_date,
    "yearmonth": parse_yearmonth,
    "year": parse_year,
    "int": parse_int,
    "money": parse_money,
    "number": parse_number,
    "phone": parse_phone,
    "bool": parse_bool,
    "township": _township,
    "village": _village,
}


def value_kinds() -> tuple[str, ...]:
    """The kinds ``normalize_value`` knows, ``code:<list>`` and ``codes:<list>`` written generically."""
    return (*_SIMPLE, "id", "code:<list>", "codes:<list>")


def normalize_value(raw: str | None, kind: str, *, numeric_cell: bool = False) -> Normalized:
    """Normalise one cell by its value kind; an empty cell is ``Normalized(None, None)`` for every kind.

    ``numeric_cell`` only matters for ``id`` (see ``normalize_id``).
    """
    prefix, _, codelist = kind.partition(":")
    if prefix in ("code", "codes"):
        if codelist not in CODE_LISTS:
            raise ValueError(f"值类型 {kind} 引用了未知的代码表(可用:{'、'.join(CODE_LISTS)})")
        if is_blank(raw):
            return EMPTY
        return normalize_code(raw, codelist) if prefix == "code" else normalize_code_list(raw, codelist)
    if kind == "id":
        info = normalize_id(raw, numeric_cell=numeric_cell)
        return Normalized(info.value, info.problem)
    handler = _SIMPLE.get(kind)
    if handler is None:
        raise ValueError(f"未知的值类型:{kind}(可用:{'、'.join(value_kinds())})")
    if is_blank(raw):
        return EMPTY
    return handler(raw)
