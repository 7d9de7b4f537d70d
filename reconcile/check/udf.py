"""Scalar functions rules may call from SQL where DuckDB's own would be wrong.

DuckDB's string similarity counts UTF-8 bytes, not characters (DESIGN §13), so Chinese names are
scored here with rapidfuzz on characters and on tone-less pinyin.
"""

from __future__ import annotations

from typing import Any, cast

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from ..link.compare import name_similarity as pair_similarity
from ..normalize.codes import codes_compatible as _compatible


def name_similarity(a: pa.Array, b: pa.Array) -> pa.Array:
    """Best of character and pinyin similarity, 0–1, as the linker scores it; homophones (李明华/李明化) score 1;
    null where a name is missing or empty. DuckDB hands over a vector of pairs at a time (Arrow), scored together."""
    chars, sounds = pair_similarity(pl.Series(pl.from_arrow(a)), pl.Series(pl.from_arrow(b)))
    best = np.maximum(chars, sounds).astype(np.float64)
    return pa.array(best, type=pa.float64(), mask=chars < 0)


def codes_compatible(a: str | None, b: str | None, codelist: str | None) -> bool | None:
    """Whether two canonical labels can describe the same fact (GB/T 4761 之孙辈 covers 之孙子)."""
    if a is None or b is None or codelist is None:
        return None
    return _compatible(a, b, codelist)


JSON_GROUP_OBJECT_ORDERED = """
create or replace macro json_group_object_ordered(n, v, o) as
cast('{' || string_agg(to_json(cast(n as varchar)) || ':' || coalesce(to_json(v), 'null'), ',' order by o, n) || '}'
     as json)
"""


# DuckDB takes null_handling as a string or as its enum; the stubs admit only the enum, whose module
# moved between duckdb 1.x (duckdb.functional) and 2.x (duckdb.func), so the string stays, cast for mypy.
_SPECIAL_NULLS = cast(Any, "special")
_ARROW = cast(Any, "arrow")


def register_udfs(con: duckdb.DuckDBPyConnection) -> None:
    for name in ("name_similarity", "codes_compatible"):
        try:
            con.remove_function(name)
        except duckdb.Error:
            pass
    con.create_function("name_similarity", name_similarity, [duckdb.sqltype("VARCHAR"), duckdb.sqltype("VARCHAR")],
                        duckdb.sqltype("DOUBLE"), type=_ARROW, null_handling=_SPECIAL_NULLS)
    con.create_function("codes_compatible", codes_compatible, [duckdb.sqltype("VARCHAR")] * 3,
                        duckdb.sqltype("BOOLEAN"), null_handling=_SPECIAL_NULLS)
    # json_group_object with its keys in a stated order: DuckDB's own is a macro over string_agg that
    # takes no ORDER BY, so its key order follows the threads' schedule and two runs could differ
    con.execute(JSON_GROUP_OBJECT_ORDERED)
