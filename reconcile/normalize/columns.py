"""Apply the pure normalisers to whole columns, once per distinct value.

Real columns repeat values heavily (village names, codes, dates), so each distinct raw value is
normalised once and joined back; the normalisers themselves stay pure, testable functions.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from .ids import normalize_id
from .values import normalize_value


def dtype_for(kind: str) -> pl.DataType:
    if kind in ("date", "yearmonth"):
        return pl.Date()
    if kind in ("int", "year"):
        return pl.Int64()
    if kind == "money":
        return pl.Float64()
    if kind == "bool":
        return pl.Boolean()
    if kind.startswith("codes:"):
        return pl.List(pl.String())
    return pl.String()


def _coerce(value: object, kind: str) -> object:
    if value is None:
        return None
    if kind in ("date", "yearmonth") and isinstance(value, dt.datetime):
        return value.date()
    if kind.startswith("codes:"):
        return list(value)  # type: ignore[call-overload]
    return value


def normalize_series(raw: pl.Series, kind: str) -> tuple[pl.Series, pl.Series]:
    """Return (normalised values, problem codes) aligned with `raw`."""
    uniques = raw.drop_nulls().unique().to_list()
    results = [normalize_value(v, kind) for v in uniques]
    lookup = pl.DataFrame(
        {
            "raw": pl.Series(uniques, dtype=pl.String),
            "value": pl.Series([_coerce(r.value, kind) for r in results], dtype=dtype_for(kind)),
            "problem": pl.Series([r.problem for r in results], dtype=pl.String),
        }
    )
    joined = raw.to_frame("raw").join(lookup, on="raw", how="left", maintain_order="left")
    return joined["value"].alias(raw.name), joined["problem"].alias(raw.name)


def normalize_id_series(raw: pl.Series, numeric: pl.Series) -> pl.DataFrame:
    """ID columns: value, validity, problem, and what the number encodes (birth date, sex)."""
    pairs = pl.DataFrame({"raw": raw, "numeric": numeric.fill_null(False)})
    uniques = pairs.drop_nulls("raw").unique()
    infos = [normalize_id(r, bool(n)) for r, n in uniques.iter_rows()]
    lookup = uniques.with_columns(
        pl.Series("value", [i.value for i in infos], dtype=pl.String),
        pl.Series("valid", [i.valid for i in infos], dtype=pl.Boolean),
        pl.Series("problem", [i.problem for i in infos], dtype=pl.String),
        pl.Series("birth", [i.birth_date for i in infos], dtype=pl.Date),
        pl.Series("sex", [i.sex for i in infos], dtype=pl.String),
    )
    return pairs.join(lookup, on=["raw", "numeric"], how="left", maintain_order="left")
