"""DuckDB connections that never try to reach the network (DESIGN §13)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from .errors import InputError
from .outputs import inside


def connect(path: str | Path | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB database with extension auto-install/auto-load off (`read_only`: a file another run may read too).

    An install attempt can hang for minutes on a network that drops packets, and the machines this
    runs on have no network at all; everything needed (json, parquet, icu) is built in.
    """
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False, "autoload_known_extensions": False}
    con = duckdb.connect(str(path) if path else ":memory:", read_only=read_only, config=config)
    # no progress bars: a run prints its own progress, and a county worker's output is not a terminal
    try:
        con.execute("set enable_progress_bar = false")
    except duckdb.Error:  # in Jupyter without ipywidgets DuckDB refuses to touch the setting (and shows no bar)
        pass
    return con


PARTITION_TABLE = "province_county"


def partition_alias(position: int) -> str:
    """The name a province database's views give the county database at `position` of `province_county`."""
    return f"county_{position:03d}"


def attach_partitions(con: duckdb.DuckDBPyConnection, out: Path, catalog: str | None = None) -> None:
    """Attach, read-only, the county databases a province run's database reads (its views name them by alias);
    nothing for a county run's database. `out` is the folder the database is in; `catalog` the name it is
    attached under in `con`, if not the current database. A county database's path comes from the database, so
    it must stay inside `out`."""
    where = f'"{catalog}".' if catalog else ""  # a catalog name the caller chose, not data
    present = con.execute("select count(*) from information_schema.columns where table_name = ? and "
                          "column_name = 'alias' and table_catalog = coalesce(?, current_database())",
                          [PARTITION_TABLE, catalog]).fetchall()[0][0]
    if not present:
        return
    attached = {r[0] for r in con.execute("select database_name from duckdb_databases()").fetchall()}
    rows = con.execute(f"select alias, database from {where}{PARTITION_TABLE} order by alias").fetchall()
    for position, (alias, database) in enumerate(rows):
        if alias != partition_alias(position):
            raise InputError(f"{out} 中的省级数据库已损坏:各县数据库的别名 {alias} 不是预期的 {partition_alias(position)}")
        if alias in attached:
            continue
        path = inside(out, *Path(database).parts)
        if not path.is_file():
            raise InputError(f"找不到县数据库 {path}:省级数据库 {out} 的各县结果存放在那里,请重新运行 reconcile run")
        con.execute(f"attach ? as {alias} (read_only)", [path.as_posix()])


def table_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The tables and views of the connection's current database — not those of a database attached beside it
    (a county run keeps its staging file attached while it saves, issue 18)."""
    return {r[0] for r in con.execute("select table_name from information_schema.tables "
                                      "where table_catalog = current_database()").fetchall()}


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the connection's current database has a table or view of that name (see `table_names`).

    Read with fetchall: DuckDB 2 leaves a result read with fetchone unfinished, and the connection then refuses
    the next register ("connection has an unfinished result")."""
    return bool(con.execute("select count(*) from information_schema.tables where table_name = ? "
                            "and table_catalog = current_database()", [name]).fetchall()[0][0])


def query_frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> pl.DataFrame:
    """A query's whole result as a polars frame (through Arrow, no row-by-row copy)."""
    relation = con.sql(sql, params=params) if params else con.sql(sql)
    return pl.from_arrow(relation.to_arrow_table())  # type: ignore[return-value]


WRITE_BATCH_ROWS = 200_000
ARROW_LEVEL = pl.CompatLevel.newest()


def write_frame(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    """Replace table `name` with the rows of `frame`: how one stage hands a polars result to the next.

    The frame goes to DuckDB as Arrow a slice at a time, so a table is never held three times at once (the polars
    frame, all of it as Arrow, DuckDB's table): a county's persons as Arrow alone are about a gigabyte (issue 18)."""
    _write_arrow(con, name, frame, "*")


def _write_arrow(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame, columns: str) -> None:
    view = f"_frame_{name}"
    # polars' own Arrow layout (string views): DuckDB reads it as it reads large strings, to the same types,
    # without polars copying every text column into the older layout first (issue 18: a county's persons
    # 1.35 -> 0.97 s)
    schema = frame.head(0).to_arrow(compat_level=ARROW_LEVEL).schema
    # each slice cast to the whole frame's schema: a reader's batches must agree with it exactly
    batches = (batch for part in frame.iter_slices(WRITE_BATCH_ROWS)
               for batch in part.to_arrow(compat_level=ARROW_LEVEL).cast(schema).to_batches())
    con.register(view, pa.RecordBatchReader.from_batches(schema, batches))
    try:
        con.execute(f"create or replace table {name} as select {columns} from {view}")
    finally:
        con.unregister(view)


def quoted(identifier: str) -> str:
    """An identifier for SQL text: double-quoted, inner quotes doubled."""
    return '"' + identifier.replace('"', '""') + '"'


def filled_table(name: str) -> str:
    """Where `write_sparse_frame` stores the columns of `name` that some row fills."""
    return f"_{name}_filled"


def write_sparse_frame(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    """Like `write_frame`, but the columns no row fills are not stored: `name` is a view giving them as typed NULLs
    beside the columns of the table `filled_table(name)`, in the frame's order.

    A county's persons carry every field of every role (218 columns) and its files fill about half of them: the
    empty ones were 180 of the 637 MiB DuckDB held for the 50,000-household county's persons through link, check
    and the reports (issue 18: memory). A `<field>_raw` column is stored as null where it equals its field
    (`_compactable_raw`). Readers see the same columns, types and values."""
    nulls = frame.null_count().row(0)
    filled = [c for c, n in zip(frame.columns, nulls, strict=True) if n < frame.height] or frame.columns[:1]
    types = _duckdb_types(con, frame)
    stored = filled_table(name)
    con.execute(f"drop view if exists {quoted(name)}")
    compact = _compactable_raw(frame, set(filled))

    def as_text(value: str) -> str:  # DuckDB's own text of a value, on the way in and back out alike
        return quoted(value) if frame.schema[value] == pl.String else f"cast({quoted(value)} as varchar)"

    def stored_column(c: str) -> str:
        if c in compact:
            return f"nullif({quoted(c)}, {as_text(compact[c])}) as {quoted(c)}"
        return quoted(c)

    _write_arrow(con, stored, frame, ", ".join(map(stored_column, filled)))
    kept = set(filled)

    def column(c: str) -> str:
        if c in compact:
            return f"coalesce({quoted(c)}, {as_text(compact[c])}) as {quoted(c)}"
        return quoted(c) if c in kept else f"cast(null as {types[c]}) as {quoted(c)}"

    con.execute(f"create view {quoted(name)} as select {', '.join(map(column, frame.columns))} from {quoted(stored)}")


RAW_SUFFIX = "_raw"  # normalisation keeps each cell as the file wrote it beside its cleaned value
# values whose text (DuckDB's cast to varchar) a raw cell often is exactly: "张三", "4", "1200.5", "2020-01-05"
_TEXT_LIKE = (pl.String, pl.Int64, pl.Int32, pl.Float64, pl.Date)


def _compactable_raw(frame: pl.DataFrame, filled: set[str]) -> dict[str, str]:
    """The `<field>_raw` text columns that can be stored as null wherever they equal their `<field>`'s text: those
    with no row whose cell was blank but whose value is not (a value filled from elsewhere), so the view's
    `coalesce(<field>_raw, <field>)` gives back every cell exactly. Most cells are written as they are cleaned (a
    name, a village, a code typed right): two thirds of the persons' raw cells in a 50,000-household county, which
    the run database held and saved twice over (issue 18: the save, a province's county export)."""
    pairs = {c: c[: -len(RAW_SUFFIX)] for c in filled if c.endswith(RAW_SUFFIX) and c[: -len(RAW_SUFFIX)] in filled
             and frame.schema[c] == pl.String and frame.schema[c[: -len(RAW_SUFFIX)]] in _TEXT_LIKE}
    if not pairs or frame.height == 0:
        return {}
    blank_but_valued = frame.select(
        (pl.col(raw).is_null() & pl.col(value).is_not_null()).any().alias(raw) for raw, value in pairs.items()).row(0)
    return {raw: value for (raw, value), unsafe in zip(pairs.items(), blank_but_valued, strict=True) if not unsafe}


def drop_sparse(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop what `write_sparse_frame` wrote as `name` (a table of that name too)."""
    kind = con.execute("select any_value(type) from (select 'view' as type from duckdb_views() where view_name = $n "
                       "and not temporary and database_name = current_database() union all select 'table' "
                       "from duckdb_tables() where table_name = $n and not temporary "
                       "and database_name = current_database())", {"n": name}).fetchall()[0][0]
    if kind:
        con.execute(f"drop {kind} {quoted(name)}")
    con.execute(f"drop table if exists {quoted(filled_table(name))}")


def _duckdb_types(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> dict[str, str]:
    """Each column's DuckDB type, as DuckDB reads the frame's Arrow schema."""
    view = "_frame_types"
    con.register(view, frame.head(0).to_arrow(compat_level=ARROW_LEVEL))
    try:
        return {r[0]: r[1] for r in con.execute(f"describe select * from {view}").fetchall()}
    finally:
        con.unregister(view)
