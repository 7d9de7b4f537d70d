"""Parameters reach rule SQL as bound values and small tables, never as literals in a query.

Nested mappings are flattened with `_` (`income_tolerance.absolute` → `$income_tolerance_absolute`);
mappings keyed by year become tables `param_<name>(year, value)`; the cause→measure table becomes
`param_cause_measures(cause, measure)` (and `param_elimination_risk_measures`, the same shape), the 在校生状况 age ranges `param_student_status_ages(status, min, max)`; lists become list values. Table names come from parameter keys, so
they must look like `PARAM_NAME` and are quoted in SQL; the values are registered frames, never SQL text.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb
import polars as pl

PARAM_REF = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
PARAM_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
CAUSE_MEASURE_PARAMS = ("cause_measures", "elimination_risk_measures")  # 致贫风险 → the measures that answer it
TABLE_PARAMS = (*CAUSE_MEASURE_PARAMS, "student_status_ages")  # besides the year-keyed mappings: parameters read as tables, not as `$name`


def is_year(key: Any) -> bool:
    return isinstance(key, int) and not isinstance(key, bool) and 1900 < key < 2100


def is_year_map(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(is_year(k) for k in value)


PARAM_PREFIX = "param_"


def param_table(key: str) -> str:
    """The quoted name of the table holding parameter `key`; a key that is no plain name never reaches SQL."""
    if not PARAM_NAME.match(str(key)):
        raise ValueError(f"参数名 {key!r} 只能由小写英文字母、数字和下划线组成")
    return f'"{PARAM_PREFIX}{key}"'


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if is_year_map(value) or key in TABLE_PARAMS:
            continue
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}_"))
        else:
            flat[name] = value
    return flat


def register_param_tables(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> list[str]:
    created = []
    for key, value in params.items():
        if is_year_map(value):
            frame = pl.DataFrame({"year": list(value), "value": [float(v) for v in value.values()]},
                                 schema={"year": pl.Int64, "value": pl.Float64})
        elif key in CAUSE_MEASURE_PARAMS:
            pairs = [(cause, m) for cause, measures in value.items() for m in measures]
            frame = pl.DataFrame(pairs, schema={"cause": pl.String, "measure": pl.String}, orient="row")
        elif key == "student_status_ages":
            frame = pl.DataFrame([(status, ages.get("min"), ages.get("max")) for status, ages in value.items()],
                                 schema={"status": pl.String, "min": pl.Int64, "max": pl.Int64}, orient="row")
        else:
            continue
        name = param_table(key)
        con.register("_param_frame", frame.to_arrow())
        con.execute(f"create or replace table {name} as select * from _param_frame")
        con.unregister("_param_frame")
        created.append(name.strip('"'))
    return created


def bind(sql: str, flat: dict[str, Any]) -> dict[str, Any]:
    """The parameters a query names; an unknown name is a pack error the caller reports."""
    names = dict.fromkeys(PARAM_REF.findall(sql))
    missing = [n for n in names if n not in flat]
    if missing:
        raise KeyError(", ".join(missing))
    return {n: flat[n] for n in names}
