"""Scalar functions rules may call from SQL where DuckDB's own would be wrong.

DuckDB's string similarity counts UTF-8 bytes, not characters (DESIGN §13), so Chinese names are
scored here with rapidfuzz on characters and on tone-less pinyin.
"""

from __future__ import annotations

from functools import lru_cache

import duckdb
from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz


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


def register_udfs(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.remove_function("name_similarity")
    except duckdb.Error:
        pass
    con.create_function("name_similarity", name_similarity, [duckdb.sqltype("VARCHAR"), duckdb.sqltype("VARCHAR")],
                        duckdb.sqltype("DOUBLE"), null_handling="special")
