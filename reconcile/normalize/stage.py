"""Normalise stage: raw text tables → typed canonical tables, raw values kept beside.

Reads `raw_household`, `raw_person`, `raw_register`, `raw_visit`, `raw_numeric_cell`; writes
`src_person`, `src_household` (including households derived from person-level sources),
`register` and `visit`. Every field `<f>` is cleaned by its normaliser (export wrappers such as
`="…"`, invisible characters and outer spaces go from free text and identifiers too) and its cell
as written stays in `<f>_raw`; ID fields also get `<f>_valid`, `<f>_birth` and `<f>_sex` (what the
number encodes).
"""

from __future__ import annotations

import functools

import duckdb
import polars as pl

from ..db import drop_sparse, query_frame
from ..db import write_sparse_frame as write_table
from ..schema import (
    HOUSEHOLD_FIELDS,
    PERSON_FIELDS,
    REGISTER_ATTRS,
    REGISTER_FIELDS,
    SURVEY_FIELDS,
    VISIT_FIELDS,
)
from .columns import normalising_table, normalize_id_series, normalize_series
from .regions import village_key
from .vector import map_unique


def read_table(con: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
    """A table as a polars frame. The load's raw tables are read again by normalize rather than kept from validate:
    reading one costs a quarter of a second at 50,000 households, holding them all from validate to normalize cost
    1.6 GiB (issue 18)."""
    table = con.sql(f"select * from {name}").to_arrow_table()
    # a column no file fills becomes nulls holding no buffers (polars' copy of Arrow's would cost 16 bytes a row:
    # half the columns of a county's persons; issue 18, memory)
    empty = [c for c, column in zip(table.column_names, table.columns, strict=True) if column.null_count == len(column)]
    if not empty or table.num_rows == 0:
        return pl.from_arrow(table)  # type: ignore[return-value]
    types = pl.from_arrow(table.select(empty).slice(0, 0)).schema  # type: ignore[union-attr]
    frame: pl.DataFrame = pl.from_arrow(table.drop_columns(empty))  # type: ignore[assignment]
    return frame.with_columns(pl.repeat(None, table.num_rows, dtype=types[c], eager=True).alias(c)
                              for c in empty).select(table.column_names)


def _numeric_flags(frame: pl.DataFrame, numeric: pl.DataFrame, owner_col: str, field: str) -> pl.Series:
    keys = [owner_col, "file", "sheet", "row"]
    cells = numeric.filter(pl.col("field") == field).select(
        pl.col("source").alias(owner_col), "file", "sheet", pl.col("row").cast(pl.Int64), pl.lit(True).alias("_numeric")
    ).unique(keys)
    if cells.height == 0:
        return pl.Series("_numeric", [False] * frame.height, dtype=pl.Boolean)
    joined = frame.select(keys).join(cells, on=keys, how="left", maintain_order="left")
    return joined["_numeric"].fill_null(False)


def normalize_frame(frame: pl.DataFrame, kinds: dict[str, str], numeric: pl.DataFrame | None = None,
                    owner_col: str = "source") -> pl.DataFrame:
    """Normalise every column of `frame` named in `kinds`; other columns pass through."""
    out: list[pl.Series] = []
    for name in frame.columns:
        series = frame[name]
        kind = kinds.get(name)
        if kind is None:
            out.append(series)
            continue
        if kind == "id":
            flags = (_numeric_flags(frame, numeric, owner_col, name) if numeric is not None
                     else pl.Series([False] * frame.height, dtype=pl.Boolean))
            ids = normalize_id_series(series, flags)
            out += [
                ids["value"].alias(name), series.alias(f"{name}_raw"),
                ids["valid"].fill_null(False).alias(f"{name}_valid"),
                ids["birth"].alias(f"{name}_birth"), ids["sex"].alias(f"{name}_sex"),
                ids["problem"].alias(f"{name}_problem"),
            ]
            continue
        values = _empty_values(kind) if series.len() == 0 else normalize_series(series, kind)[0]
        out += [values.alias(name), series.alias(f"{name}_raw")]
    return pl.DataFrame(out)


@functools.cache
def _empty_values(kind: str) -> pl.Series:
    """What a normaliser gives for no rows, once per kind: the run plan's dry run normalises ~250 empty columns."""
    return normalize_series(pl.Series([], dtype=pl.String), kind)[0]


def _kinds(*tables) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for table in tables:
        kinds.update({name: f.value_kind for name, f in table.items()})
    return kinds


HOUSEHOLD_KINDS = _kinds(HOUSEHOLD_FIELDS, SURVEY_FIELDS)
PERSON_KINDS = _kinds(HOUSEHOLD_FIELDS, SURVEY_FIELDS, PERSON_FIELDS)


def _derive_households(persons: pl.DataFrame) -> pl.DataFrame:
    """One household per (source, hh_code) of a person-level source.

    Household columns repeat on every member row; the head's row is trusted first (it is the one
    a clerk fills), then the first row in file order. The head's own name and ID fill head_name /
    head_id when the file has no 户主 columns.
    """
    if persons.height == 0:
        return pl.DataFrame()
    persons = persons.filter(pl.col("hh_code").is_not_null())
    suffixes = ("", "_raw", "_valid", "_birth", "_sex", "_problem")
    household_cols = ["source", "role", "level", "file", "sheet", "row", "extra"] + [
        name + suffix for name in HOUSEHOLD_KINDS for suffix in suffixes if name + suffix in persons.columns
    ]
    # which row stands for each household is worked out on the few columns that decide it, and only those rows'
    # columns are taken (sorting every column of a county's persons cost a copy of them all: issue 18, memory)
    ranked = persons.select("source", "hh_code", "relation", "row").with_row_index("_at").with_columns(
        (pl.col("relation") != "户主").fill_null(True).alias("_not_head"),
        pl.len().over(["source", "hh_code"]).alias("_members"),
        (pl.col("relation") == "户主").sum().over(["source", "hh_code"]).alias("_heads"),
    ).sort(["source", "hh_code", "_not_head", "row"])
    chosen = ranked.group_by(["source", "hh_code"], maintain_order=True).first()
    wanted = [*household_cols, "name", *(f"id_number{suffix}" for suffix in suffixes)]
    taken = [c for c in dict.fromkeys(wanted) if c in persons.columns and c not in chosen.columns]
    first = chosen.drop("_at").hstack(persons.select(taken)[chosen["_at"]])
    head_is_row = ~pl.col("_not_head")
    no_head_columns = pl.col("head_id").is_null() & pl.col("head_id_raw").is_null() & head_is_row
    derived = first.with_columns(
        pl.when(pl.col("head_name").is_null() & head_is_row).then(pl.col("name")).otherwise(pl.col("head_name"))
        .alias("head_name"),
        *[pl.when(no_head_columns).then(pl.col(f"id_number{suffix}")).otherwise(pl.col(f"head_id{suffix}"))
          .alias(f"head_id{suffix}") for suffix in ("", "_raw", "_valid", "_birth", "_sex", "_problem")],
        pl.col("hh_code").alias("rec_key"),
        pl.col("_members").cast(pl.Int64).alias("member_rows"),
        pl.col("_heads").cast(pl.Int64).alias("head_rows"),
    )
    keep = list(dict.fromkeys(household_cols + ["rec_key", "member_rows", "head_rows"]))
    return derived.select([c for c in keep if c in derived.columns])


def take_raw_table(con: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
    """A load table read for the last time: its DuckDB copy is dropped once read. Nothing after normalize reads
    the load's text and the saved database never holds it, so a county's inputs are not held twice, as text
    and as typed tables, through link, check and the reports (issue 18: memory)."""
    frame = read_table(con, name)
    drop_sparse(con, name)
    return frame


def normalize(con: duckdb.DuckDBPyConnection) -> None:
    numeric = take_raw_table(con, "raw_numeric_cell")
    if numeric.height and "row" in numeric.columns:
        numeric = numeric.with_columns(pl.col("row").cast(pl.Int64))

    # the persons first: their typed frame is the widest of a county's (over 200 columns), so it is made while the
    # fewest other tables are in DuckDB (issue 18: memory)
    with normalising_table("raw_person"):
        persons = normalize_frame(take_raw_table(con, "raw_person"), PERSON_KINDS, numeric)
    persons = persons.with_columns(pl.col("hh_code").alias("hh_key"))
    write_table(con, "src_person", persons)
    derived = _derive_households(persons)
    del persons  # not held while the households are worked on

    with normalising_table("raw_household"):
        households = normalize_frame(take_raw_table(con, "raw_household"), HOUSEHOLD_KINDS, numeric)
    # every column is there even with no rows: the run plan's dry run binds each rule's SQL to empty tables
    households = households.with_columns(
        pl.lit(None, dtype=pl.Int64).alias("member_rows"), pl.lit(None, dtype=pl.Int64).alias("head_rows")
    )
    if derived.height:
        households = pl.concat([households, derived], how="diagonal_relaxed") if households.height else derived
    # the blocking key of linkage: 大田村 / 大田村委会 / 城关镇大田 all give 大田
    households = households.with_columns(
        map_unique(households["village"], village_key, return_dtype=pl.String).alias("village_key"))
    write_table(con, "src_household", households)
    del households

    registers = take_raw_table(con, "raw_register")
    with normalising_table("raw_register"):
        registers = normalize_frame(registers, _kinds(REGISTER_FIELDS), numeric, owner_col="register")
    write_table(con, "register", registers)
    del registers
    _normalize_register_attrs(con)

    with normalising_table("raw_visit"):
        visits = normalize_frame(take_raw_table(con, "raw_visit"), _kinds(VISIT_FIELDS), numeric)
    write_table(con, "visit", visits)


def _normalize_register_attrs(con: duckdb.DuckDBPyConnection) -> None:
    """Register attributes differ by kind; a long view `register_attr` holds them parsed."""
    # only the columns the attributes need (the load writes them for every register, filled or not): the register
    # whole is a county's largest table
    frame = query_frame(con, "select register, kind, file, row, attrs from register")
    rows = []
    if frame.height:
        for kind, attrs in REGISTER_ATTRS.items():
            part = frame.filter((pl.col("kind") == kind) & pl.col("attrs").is_not_null())
            if part.height == 0:
                continue
            decoded = part.select("register", "kind", "file", "row", pl.col("attrs").str.json_decode(
                pl.Struct({name: pl.String for name in attrs})).alias("_a")).unnest("_a")
            for name, vkind in attrs.items():
                if name not in decoded.columns:
                    continue
                values, _ = normalize_series(decoded[name], vkind)
                rows.append(decoded.select("register", "kind", "file", "row").with_columns(
                    pl.lit(name).alias("attr"), decoded[name].alias("value_raw"),
                    values.cast(pl.String).alias("value"),
                ))
    long = pl.concat(rows) if rows else pl.DataFrame(schema={
        "register": pl.String, "kind": pl.String, "file": pl.String, "row": pl.Int64, "attr": pl.String,
        "value_raw": pl.String, "value": pl.String})
    write_table(con, "register_attr", long)
