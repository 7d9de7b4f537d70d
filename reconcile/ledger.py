"""Ledger stage: runs and findings persist across runs (问题台账 → 整改 → 销号, DESIGN §2, §8).

Tables (in the run's database, and in the ledger file when `ledger:` names another one):

- `run`             one row per completed run: when, what, how many findings new/open/reopened/resolved
- `finding_history` one row per finding per run in which it was present, plus one `resolved` row in
                    the run where it disappeared; its evidence only when it differs from the evidence the finding
                    had when last seen (null: unchanged; `evidence_as_seen` fills it in)
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
ANSWER_TABLES = ("finding_answer", "ledger_import")  # issue 17: answers read back, added to older ledgers

# A township's answer to a finding (核实结果) → its code; `lapsed` is the ledger's own (a verification whose
# evidence changed). An answer is kept until another replaces it or it lapses.
VERDICTS = {"已整改": "fixed", "核实无误": "verified", "整改中": "in_progress", "无法整改": "cannot_fix"}
VERDICT_LABELS = {**{v: k for k, v in VERDICTS.items()}, "lapsed": "核实失效"}
ANSWER_COLUMNS = ["verdict", "verdict_note", "responsible", "deadline", "verdict_at", "verdict_by", "verdict_evidence"]
DESCRIPTIVE = ["rule_id", "kind", "category", "severity", "county", "township", "village", "cluster_id", "hh_code",
               "head_name", "head_id", "person_name", "person_id", "sources", "evidence", "message", "advice"]

SCHEMA = {
    "run": """create table if not exists run (
        run_id integer, started_at timestamp, region varchar, year integer, config varchar, output varchar,
        findings integer, new integer, open integer, reopened integer, resolved integer)""",
    "finding_history": """create table if not exists finding_history (
        run_id integer, finding_id varchar, status varchar, evidence varchar)""",
    "finding_ledger": f"""create table if not exists finding_ledger (
        finding_id varchar, {', '.join(f'{c} varchar' for c in DESCRIPTIVE)},
        first_seen timestamp, first_run integer, last_seen timestamp, last_run integer, run_count integer,
        status varchar, resolved_at timestamp, resolved_run integer, helper varchar,
        verdict varchar, verdict_note varchar, responsible varchar, deadline date, verdict_at timestamp,
        verdict_by varchar, verdict_evidence varchar)""",
    "finding_answer": """create table if not exists finding_answer (
        answer_id integer, finding_id varchar, verdict varchar, note varchar, responsible varchar, deadline date,
        answered_at timestamp, answered_by varchar, source varchar, evidence varchar, import_id integer)""",
    "ledger_import": """create table if not exists ledger_import (
        import_id integer, imported_at timestamp, files varchar, digests varchar[], applied integer,
        unchanged integer, refused integer)""",
}
# columns added since a ledger was first written: an older ledger file gets them (empty) when carried over
ADDED_COLUMNS = {"finding_ledger": {"county": "varchar", "helper": "varchar", "verdict": "varchar",
                                    "verdict_note": "varchar", "responsible": "varchar", "deadline": "date",
                                    "verdict_at": "timestamp", "verdict_by": "varchar", "verdict_evidence": "varchar"},
                 "finding_history": {"evidence": "varchar"},
                 "run": {"verified": "integer", "in_progress": "integer", "overdue": "integer"}}


def _has_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> bool:
    return all(t in _table_names(con, catalog) for t in LEDGER_TABLES)


def carry_over(con: duckdb.DuckDBPyConnection, previous: Path) -> None:
    """Copy the ledger tables of `previous` (if it has them) into `con`; create them empty otherwise."""
    for table in (*LEDGER_TABLES, *ANSWER_TABLES):
        con.execute(f"drop table if exists {table}")
    if previous.exists():
        try:
            con.execute("attach ? as _prev (read_only)", [previous.as_posix()])
        except duckdb.Error as exc:
            raise InputError(f"无法读取上次运行的台账 {previous}(可能正被其他程序打开):{exc}") from exc
        try:
            if _has_tables(con, "_prev"):
                present = _table_names(con, "_prev")
                for table in (*LEDGER_TABLES, *ANSWER_TABLES):
                    if table in present:
                        con.execute(f"create table {table} as select * from _prev.{table}")
        finally:
            con.execute("detach _prev")
    ensure_ledger_schema(con)


def ensure_ledger_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Every ledger table, with every column this version writes (an older ledger's tables get the new ones)."""
    for table in (*LEDGER_TABLES, *ANSWER_TABLES):
        con.execute(SCHEMA[table])
    kept_evidence = "evidence" in {r[0] for r in con.execute("describe finding_history").fetchall()}
    for table, columns in ADDED_COLUMNS.items():
        for column, kind in columns.items():
            con.execute(f"alter table {table} add column if not exists {column} {kind}")
    if not kept_evidence:
        # a history from before it kept evidence: each finding's last sighting takes the evidence the ledger has of
        # it, or a finding seen again unchanged (whose evidence the history then leaves out) would have none at all
        con.execute("""update finding_history set evidence = l.evidence from finding_ledger l
                       where l.finding_id = finding_history.finding_id and finding_history.run_id = l.last_run""")


def _table_names(con: duckdb.DuckDBPyConnection, catalog: str) -> set[str]:
    return {r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_catalog = ?", [catalog]).fetchall()}


def previous_ledger(config: Config) -> Path:
    return config.ledger


def update(con: duckdb.DuckDBPyConnection, config: Config, started: datetime) -> dict[str, int]:
    """Mark this run's findings against the ledger and record the run; returns the status counts.

    A finding present now is `new`, `open` or `reopened` as before — unless it carries an answer: 核实无误
    (`verified`) holds while its evidence is what was verified, and lapses (→ `reopened`, with a note) once
    the sources say something else; 整改中 / 已整改 / 无法整改 make it `in_progress` (its deadline shown; past
    it, overdue). A finding gone from the data is `resolved` (销号), whatever its answer."""
    run_id = con.execute("select coalesce(max(run_id), 0) + 1 from run").fetchall()[0][0]
    prev_run = run_id - 1
    _helpers(con, config)
    con.execute("""
        create or replace temp table _status as
        with s as (
          select f.finding_id, f.evidence, l.evidence as evidence_before,
                 case when l.finding_id is null then 'new'
                      when h.finding_id is not null then 'open'
                      else 'reopened' end as base,
                 l.verdict = 'verified' and coalesce(l.verdict_evidence, '') <> coalesce(f.evidence, '') as lapsed,
                 l.verdict, l.verdict_at, l.verdict_by,
                 coalesce(l.first_seen, $now::timestamp) as first_seen,
                 coalesce(l.first_run, $run) as first_run,
                 coalesce(l.run_count, 0) + 1 as run_count
          from finding f
          left join finding_ledger l using (finding_id)
          left join (select finding_id from finding_history where run_id = $prev and status <> 'resolved') h
                 using (finding_id)
        )
        select *,
               case when verdict = 'verified' and not lapsed then 'verified'
                    when lapsed then 'reopened'
                    when verdict in ('in_progress', 'fixed', 'cannot_fix') then 'in_progress'
                    else base end as status
        from s
    """, {"run": run_id, "prev": prev_run, "now": started})
    # a verification whose evidence changed lapses: recorded as an answer of the ledger's own, with the reason
    con.execute("""
        insert into finding_answer
        select (select coalesce(max(answer_id), 0) from finding_answer) + row_number() over (order by finding_id),
               finding_id, 'lapsed',
               '此前核实无误(' || coalesce(verdict_by, '') || ' ' || coalesce(strftime(verdict_at, '%Y-%m-%d'), '')
               || '),但各来源的记录已经变化,核实失效,请重新核实', null, null, $now::timestamp, '系统', '本次运行',
               evidence, null
        from _status where lapsed""", {"now": started})
    con.execute("""
        create or replace temp table _resolved as
        select l.finding_id from finding_ledger l
        where l.status <> 'resolved' and l.finding_id not in (select finding_id from finding)
    """)
    present = {r[0] for r in con.execute("describe finding").fetchall()}
    desc = ", ".join(f"f.{c}" if c in present else f"null::varchar as {c}" for c in DESCRIPTIVE)
    # the new ledger is made where it stays, then takes the old one's name: made as a temporary table and copied
    # into the run database, a province's million rows were written twice (issue 18)
    con.execute(f"""
        create or replace table _ledger_new as
        select f.finding_id, {desc}, s.first_seen, s.first_run, $now::timestamp as last_seen, $run as last_run,
               s.run_count, s.status, null::timestamp as resolved_at, null::integer as resolved_run,
               hp.helper,
               case when s.lapsed then 'lapsed' else l.verdict end as verdict,
               case when s.lapsed then a.note else l.verdict_note end as verdict_note,
               l.responsible, l.deadline, l.verdict_at, l.verdict_by, l.verdict_evidence
        from finding f join _status s using (finding_id)
        left join finding_ledger l using (finding_id)
        left join _helper hp on hp.cluster_id = f.cluster_id
        left join (select finding_id, arg_max(note, answer_id) as note from finding_answer
                   where verdict = 'lapsed' group by finding_id) a using (finding_id)
        union all by name
        select l.* exclude (status, resolved_at, resolved_run), 'resolved' as status,
               $now::timestamp as resolved_at, $run as resolved_run
        from finding_ledger l where l.finding_id in (select finding_id from _resolved)
        union all by name
        select l.* from finding_ledger l
        where l.finding_id not in (select finding_id from finding) and l.finding_id not in (select finding_id from _resolved)
    """, {"run": run_id, "now": started})
    # kept in no order: every reader orders or looks up (a sort of a province's million rows, issue 18)
    con.execute("drop table finding_ledger")
    con.execute("alter table _ledger_new rename to finding_ledger")
    # the run's finding table carries the status, first-seen date, run count and the township's answer
    con.execute(f"""
        create or replace table finding as
        select f.* exclude (status), s.status, cast(s.first_seen as date) as first_seen, s.run_count,
               l.verdict, l.verdict_note, l.responsible, l.deadline,
               coalesce(s.status in ('new', 'open', 'reopened', 'in_progress') and l.deadline < $today, false)
                 as overdue
        from finding f join _status s using (finding_id) join finding_ledger l using (finding_id)
        order by {"f.county, " if "county" in present else ""}f.township, f.village, f.cluster_id, f.rule_id, f.finding_id
    """, {"today": started.date()})
    # a province's million findings keep their evidence run after run: written out each time, the history grew by
    # their whole evidence every run and every run copied it all (issue 18)
    con.execute("""insert into finding_history by name
        select $run as run_id, finding_id, status,
               case when evidence is distinct from evidence_before then evidence end as evidence from _status
        union all select $run, finding_id, 'resolved', null from _resolved""",
                {"run": run_id})
    counts = dict(con.execute("select status, count(*) from _status group by status").fetchall())
    resolved = con.execute("select count(*) from _resolved").fetchall()[0][0]
    overdue = con.execute("select count(*) from finding where overdue").fetchall()[0][0]
    summary = {"run_id": run_id, "findings": sum(counts.values()), "new": counts.get("new", 0),
               "open": counts.get("open", 0), "reopened": counts.get("reopened", 0), "resolved": resolved,
               "verified": counts.get("verified", 0), "in_progress": counts.get("in_progress", 0), "overdue": overdue}
    con.execute("""insert into run by name select $run as run_id, $now as started_at, $region as region, $year as year,
                   $config as config, $output as output, $findings as findings, $new as new, $open as open,
                   $reopened as reopened, $resolved as resolved, $verified as verified, $in_progress as in_progress,
                   $overdue as overdue""",
                {"run": run_id, "now": started, "region": config.region, "year": config.year,
                 "config": str(config.path or ""), "output": str(config.output),
                 **{k: summary[k] for k in ("findings", "new", "open", "reopened", "resolved", "verified",
                                            "in_progress", "overdue")}})
    for table in ("_status", "_resolved", "_ledger_new", "_helper"):
        con.execute(f"drop table if exists {table}")
    return summary


def evidence_as_seen(evidence: str = "evidence") -> str:
    """SQL over `finding_history` (a window per finding): the evidence a finding had in the row's run, where the
    history keeps it only when it changed."""
    return f"last_value({evidence} ignore nulls) over (partition by finding_id order by run_id)"


def _helpers(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """`_helper`: each household's 帮扶责任人 as the most trusted source records it (整改率 by helper)."""
    tables = _table_names(con, con.execute("select current_database()").fetchall()[0][0])
    columns = {r[0] for r in con.execute("describe hh_wide").fetchall()} if "hh_wide" in tables else set()
    named = [f'"cadre_name_{s}"' for s in config.sources_by_trust() if f"cadre_name_{s}" in columns]
    if named:
        con.execute(f"create or replace temp table _helper as select cluster_id, "
                    f"coalesce({', '.join(named)})::varchar as helper from hh_wide")
    else:
        con.execute("create or replace temp table _helper as select null::varchar as cluster_id, null::varchar as helper")


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
        for table in (*LEDGER_TABLES, *ANSWER_TABLES):
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

PROGRESS_COLUMNS = {"total": "问题总数", "resolved": "已整改销号", "verified": "核实无误", "pending": "未整改",
                    "in_progress": "其中整改中", "overdue": "其中逾期", "new": "其中本次新发现",
                    "reopened": "其中重新出现", "rate": "整改率"}
_COUNTS = ("total", "resolved", "verified", "pending", "in_progress", "overdue", "new", "reopened")
OPEN_STATUSES = ("new", "open", "reopened", "in_progress")


def overdue(ledger: pl.DataFrame) -> pl.Expr:
    """Still open past its 整改期限, as of the last run that saw it (deterministic, not the clock's today)."""
    if "deadline" not in ledger.columns:
        return pl.lit(False)
    return (pl.col("status").is_in(OPEN_STATUSES) & pl.col("deadline").is_not_null()
            & (pl.col("deadline").cast(pl.Date) < pl.col("last_seen").cast(pl.Date))).fill_null(False)


def progress(ledger: pl.DataFrame, by: str) -> pl.DataFrame:
    """Rectification progress grouped by `by` (township / village / helper / kind …) over every finding ever
    seen: 整改率 counts what was closed by a change in the data (销号) and what was verified (核实无误)."""
    if not ledger.height:
        return pl.DataFrame(schema={by: pl.String, **{c: pl.Int64 for c in _COUNTS}, "rate": pl.Float64})
    status = pl.col("status")
    return (ledger.with_columns(pl.col(by).cast(pl.String).fill_null(""), _overdue=overdue(ledger))
            .group_by(by).agg(total=pl.len(), resolved=(status == "resolved").sum(),
                              verified=(status == "verified").sum(),
                              pending=status.is_in(OPEN_STATUSES).sum(), in_progress=(status == "in_progress").sum(),
                              overdue=pl.col("_overdue").sum(), new=(status == "new").sum(),
                              reopened=(status == "reopened").sum())
            .with_columns(pl.col(c).cast(pl.Int64) for c in _COUNTS)
            .with_columns(rate=((pl.col("resolved") + pl.col("verified")) / pl.col("total")).round(4))
            .sort(by))


def read_ledger(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    columns = {r[0] for r in con.execute("describe finding_ledger").fetchall()}  # an older ledger has no county
    return _frame(con, f"select * from finding_ledger order by {'county, ' if 'county' in columns else ''}"
                       "township, village, finding_id")


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
