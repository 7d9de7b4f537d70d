"""DuckDB connections that never try to reach the network (DESIGN §13)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa


def connect(path: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB database with extension auto-install/auto-load off.

    An install attempt can hang for minutes on a network that drops packets, and the machines this
    runs on have no network at all; everything needed (json, parquet, icu) is built in.
    """
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False, "autoload_known_extensions": False}
    con = duckdb.connect(str(path) if path else ":memory:", config=config)
    # no progress bars: a run prints its own progress, and a county worker's output is not a terminal
    try:
        con.execute("set enable_progress_bar = false")
    except duckdb.Error:  # in Jupyter without ipywidgets DuckDB refuses to touch the setting (and shows no bar)
        pass
    return con


def query_frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> pl.DataFrame:
    """A query's whole result as a polars frame (through Arrow, no row-by-row copy)."""
    relation = con.sql(sql, params=params) if params else con.sql(sql)
    return pl.from_arrow(relation.to_arrow_table())  # type: ignore[return-value]


WRITE_BATCH_ROWS = 200_000


def write_frame(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    """Replace table `name` with the rows of `frame`: how one stage hands a polars result to the next.

    The frame goes to DuckDB as Arrow a slice at a time, so a table is never held three times at once (the polars
    frame, all of it as Arrow, DuckDB's table): a county's persons as Arrow alone are about a gigabyte (issue 18)."""
    view = f"_frame_{name}"
    schema = frame.head(0).to_arrow().schema
    # each slice cast to the whole frame's schema: a reader's batches must agree with it exactly
    batches = (batch for part in frame.iter_slices(WRITE_BATCH_ROWS)
               for batch in part.to_arrow().cast(schema).to_batches())
    con.register(view, pa.RecordBatchReader.from_batches(schema, batches))
    try:
        con.execute(f"create or replace table {name} as select * from {view}")
    finally:
        con.unregister(view)
