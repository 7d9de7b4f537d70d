"""Scalar functions rules may call from SQL where DuckDB's own would be wrong.

DuckDB's string similarity counts UTF-8 bytes, not characters (DESIGN §13), so Chinese names are
scored here with rapidfuzz on characters and on tone-less pinyin.
"""

from __future__ import annotations

from functools import lru_cache

import duckdb
from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz

from ..normalize.codes import codes_compatible as _compatible


@lru_cache(maxsize=200_000)
def pinyin_key(name: str) -> str:
    return " ".join(lazy_pinyin(name, style=Style.NORMAL, errors="default"))


def name_similarity(a: str | None, b: str | None) -> float | None:
    """Best of character and pinyin similarity, 0–1; homophones (李明华/李明化) score 1."""
    if not a or not b:
        return None
    if a == b:
        return 1.0
    chars = fuzz.ratio(a, b) / 100
    sounds = fuzz.ratio(pinyin_key(a), pinyin_key(b)) / 100
    return max(chars, sounds)


def codes_compatible(a: str | None, b: str | None, codelist: str | None) -> bool | None:
    """Whether two canonical labels can describe the same fact (GB/T 4761 之孙辈 covers 之孙子)."""
    if a is None or b is None or codelist is None:
        return None
    return _compatible(a, b, codelist)


def register_udfs(con: duckdb.DuckDBPyConnection) -> None:
    for name in ("name_similarity", "codes_compatible"):
        try:
            con.remove_function(name)
        except duckdb.Error:
            pass
    con.create_function("name_similarity", name_similarity, [duckdb.sqltype("VARCHAR"), duckdb.sqltype("VARCHAR")],
                        duckdb.sqltype("DOUBLE"), null_handling="special")
    con.create_function("codes_compatible", codes_compatible, [duckdb.sqltype("VARCHAR")] * 3,
                        duckdb.sqltype("BOOLEAN"), null_handling="special")
