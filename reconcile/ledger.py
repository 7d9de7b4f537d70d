"""Ledger stage: runs and findings persist across runs (问题台账 → 整改 → 销号, DESIGN §2, §8).

Tables (in the run's database, and in the ledger file when `ledger:` names another one):

- `run`             one row per completed run: when, what, how many findings new/open/reopened/resolved
- `finding_history` one row per finding per run in which it was present, plus one `resolved` row in
                    the run where it disappeared
- `finding_ledger`  one row per finding ever seen: its last known description, first seen, run count,
                    current status (new / open / reopened while present; resolved once gone)

Each finding of a run is `new` (never seen), `open` (present in the previous run), `reopened` (seen
before, absent from the previous run) — keyed by the stable `finding_id`; a finding of the previous
run that is gone now is `resolved` (销号). The stage also writes the status, first-seen date and run
count into the run's `finding` table.

The ledger is carried over from the previous database file into the run's staging database, so a
run that is interrupted leaves the previous ledger untouched; a separate ledger file is replaced
atomically only after the run succeeded (`persist`).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from .config import Config
from .db import query_frame as _frame
from .errors import InputError

LEDGER_TABLES = ("run", "finding_history", "finding_ledger")
DESCRIPTIVE = ["rule_id", "kind", "category", "severity", "county", "township", "village", "cluster_id", "hh_code",
               "head_name", "head_id", "person_name", "person_id", "sources", "evidence", "message", "advice"]

SCHEMA = {
    "run": """create table if not exists run (
        run_id integer, started_at timestamp, region varchar, year integer, config varchar, output varchar,
        findings integer, new integer, open integer, reopened integer, resolved integer)""",
    "finding_history": """create table if not exists finding_history (
        run_id integer, finding_id varchar, status varchar)""",
    "finding_ledger": f"""create table if not exists finding_ledger (
        finding_id varchar, {', '.join(f'{c} varchar' for c in DESCRIPTIVE)},
        first_seen timestamp, first_run integer, last_seen timestamp, last_run integer, run_count integer,
        status varchar, resolved_at timestamp, resolved_run integer)""",
}


def _has_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> bool:
    names = {r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_catalog = ?", [catalog]).fetchall()}
    return all(t in names for t in LEDGER_TABLES)


def carry_over(con: duckdb.DuckDBPyConnection, previous: Path) -> None:
    """Copy the ledger tables of `previous` (if it has them) into `con`; create them empty otherwise."""
    for table in LEDGER_TABLES:
        con.execute(f"drop table if exists {table}")
    if previous.exists():
        try:
            con.execute("attach ? as _prev (read_only)", [previous.as_posix()])
        except duckdb.Error as exc:
            raise InputError(f"无法读取上次运行的台账 {previous}(可能正被其他程序打开):{exc}") from exc
        try:
            if _has_tables(con, "_prev"):
                for table in LEDGER_TABLES:
                    con.execute(f"create table {table} as select * from _prev.{table}")
        finally:
            con.execute("detach _prev")
    for table in LEDGER_TABLES:
        con.execute(SCHEMA[table])
    # a ledger from before findings named their county (a county run's findings still don't: null)
    con.execute("alter table finding_ledger add column if not exists county varchar")


def previous_ledger(config: Config) -> Path:
    return config.ledger


def update(con: duckdb.DuckDBPyConnection, config: Config, started: datetime) -> dict[str, int]:
    """Mark this run's findings against the ledger and record the run; returns the status counts."""
    run_id = con.execute("select coalesce(max(run_id), 0) + 1 from run").fetchall()[0][0]
    prev_run = run_id - 1
    con.execute("""
        create or replace temp table _status as
        select f.finding_id,
               case when l.finding_id is null then 'new'
                    when h.finding_id is not null then 'open'
                    else 'reopened' end as status,
               coalesce(l.first_seen, $now::timestamp) as first_seen,
               coalesce(l.first_run, $run) as first_run,
               coalesce(l.run_count, 0) + 1 as run_count
        from finding f
        left join finding_ledger l using (finding_id)
        left join (select finding_id from finding_history where run_id = $prev and status <> 'resolved') h
               using (finding_id)
    """, {"run": run_id, "prev": prev_run, "now": started})
    con.execute("""
        create or replace temp table _resolved as
        select l.finding_id from finding_ledger l
        where l.status <> 'resolved' and l.finding_id not in (select finding_id from finding)
    """)
    # the run's finding table carries the status, first-seen date and run count
    present = {r[0] for r in con.execute("describe finding").fetchall()}
    con.execute(f"""
        create or replace table finding as
        select f.* exclude (status), s.status, cast(s.first_seen as date) as first_seen, s.run_count
        from finding f join _status s using (finding_id)
        order by {"f.county, " if "county" in present else ""}f.township, f.village, f.cluster_id, f.rule_id
    """)
    desc = ", ".join(f"f.{c}" if c in present else f"null::varchar as {c}" for c in DESCRIPTIVE)
    con.execute(f"""
        create or replace temp table _ledger_new as
        select f.finding_id, {desc}, s.first_seen, s.first_run, $now::timestamp as last_seen, $run as last_run,
               s.run_count, s.status, null::timestamp as resolved_at, null::integer as resolved_run
        from finding f join _status s using (finding_id)
        union all by name
        select l.* exclude (status, resolved_at, resolved_run), 'resolved' as status,
               $now::timestamp as resolved_at, $run as resolved_run
        from finding_ledger l where l.finding_id in (select finding_id from _resolved)
        union all by name
        select l.* from finding_ledger l
        where l.finding_id not in (select finding_id from finding) and l.finding_id not in (select finding_id from _resolved)
    """, {"run": run_id, "now": started})
    con.execute("create or replace table finding_ledger as select * from _ledger_new order by finding_id")
    con.execute("""insert into finding_history
        select $run, finding_id, status from _status
        union all select $run, finding_id, 'resolved' from _resolved""", {"run": run_id})
    counts = dict(con.execute("select status, count(*) from _status group by status").fetchall())
    resolved = con.execute("select count(*) from _resolved").fetchall()[0][0]
    summary = {"run_id": run_id, "findings": sum(counts.values()), "new": counts.get("new", 0),
               "open": counts.get("open", 0), "reopened": counts.get("reopened", 0), "resolved": resolved}
    con.execute("insert into run values ($run, $now, $region, $year, $config, $output, $findings, $new, $open, "
                "$reopened, $resolved)",
                {"run": run_id, "now": started, "region": config.region, "year": config.year,
                 "config": str(config.path or ""), "output": str(config.output),
                 **{k: summary[k] for k in ("findings", "new", "open", "reopened", "resolved")}})
    for table in ("_status", "_resolved", "_ledger_new"):
        con.execute(f"drop table if exists {table}")
    return summary


def ledger_stage(con: duckdb.DuckDBPyConnection, config: Config, started: datetime) -> dict[str, int]:
    carry_over(con, previous_ledger(config))
    return update(con, config, started)


def is_separate(config: Config, database: Path) -> bool:
    return config.ledger.resolve() != database.resolve()


def persist(con: duckdb.DuckDBPyConnection, config: Config) -> Path:
    """Write the ledger tables to a separate `ledger:` file: built aside, then swapped in atomically."""
    target = config.ledger
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    try:
        con.execute("attach ? as _ledger_out", [partial.as_posix()])
        for table in LEDGER_TABLES:
            con.execute(f"create table _ledger_out.{table} as select * from {table}")
        con.execute("detach _ledger_out")
        os.replace(partial, target)
    except BaseException:
        try:
            con.execute("detach _ledger_out")
        except duckdb.Error:
            pass
        partial.unlink(missing_ok=True)
        raise
    return target


# ---- reading the ledger: rectification progress (整改率) ---------------------------------------

PROGRESS_COLUMNS = {"total": "问题总数", "resolved": "已整改销号", "pending": "未整改", "new": "其中本次新发现",
                    "reopened": "其中重新出现", "rate": "整改率"}



def progress(ledger: pl.DataFrame, by: str) -> pl.DataFrame:
    """Rectification progress grouped by `by` (township / kind / village …) over every finding ever seen."""
    if not ledger.height:
        return pl.DataFrame(schema={by: pl.String, "total": pl.Int64, "resolved": pl.Int64, "pending": pl.Int64,
                                    "new": pl.Int64, "reopened": pl.Int64, "rate": pl.Float64})
    status = pl.col("status")
    return (ledger.with_columns(pl.col(by).fill_null(""))
            .group_by(by).agg(total=pl.len(), resolved=(status == "resolved").sum(),
                              pending=(status != "resolved").sum(), new=(status == "new").sum(),
                              reopened=(status == "reopened").sum())
            .with_columns(pl.col(c).cast(pl.Int64) for c in ("total", "resolved", "pending", "new", "reopened"))
            .with_columns(rate=(pl.col("resolved") / pl.col("total")).round(4))
            .sort(by))


def read_ledger(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return _frame(con, "select * from finding_ledger order by county, township, village, finding_id")


def runs(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return _frame(con, "select * from run order by run_id")


def open_ledger(path: Path) -> duckdb.DuckDBPyConnection:
    if not path.exists():
        raise InputError(f"找不到台账文件 {path}:请先运行 reconcile run")
    try:
        con = duckdb.connect(str(path), read_only=True,
                             config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    except duckdb.Error as exc:
        raise InputError(f"无法打开台账文件 {path}(可能正被其他程序写入):{exc}") from exc
    if not _has_tables(con, con.execute("select current_database()").fetchall()[0][0]):
        con.close()
        raise InputError(f"{path} 中没有台账(run、finding_ledger 表):请先用当前版本运行一次 reconcile run")
    return con
