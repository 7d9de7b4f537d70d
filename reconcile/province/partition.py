"""One county of a province run: the county-local stages in a DuckDB of its own, tables out as Parquet.

The same function runs in a worker process of the local engine and inside a Spark task: it reads only
the county's files, writes only into `out_dir`, and returns its timings and peak memory. Province-scope
rules are left to the merge step, which sees every county.
"""

from __future__ import annotations

import resource
import shutil
from pathlib import Path

import duckdb

from ..check.packs import select_rules
from ..config import Config
from ..db import connect
from ..pipeline import FINAL_AFTER_NORMALIZE, SCRATCH_TABLES, run_county_stages, stage_runner

# what the merge, the reports and the province rules need: not the raw text tables (each county's own
# run database has them) nor the stages' scratch tables
SKIPPED_TABLES = (*SCRATCH_TABLES, "hh_record", "person_record")


def county_rules(config: Config):
    return [r for r in select_rules(config) if r.scope == "county"]


def _export(con: duckdb.DuckDBPyConnection, out_dir: Path) -> None:
    skipped = " and ".join(f"table_name not like '{pattern}'" for pattern in SKIPPED_TABLES)
    tables = [r[0] for r in con.execute(
        "select table_name from duckdb_tables() where database_name = current_database() and not temporary "
        "and table_name not like '\\_%' escape '\\' "
        f"and {skipped} order by table_name").fetchall()]
    # the normalised inputs are views over their filled columns (db.write_sparse_frame): exported whole, by name
    tables += [r[0] for r in con.execute("select view_name from duckdb_views() where not temporary and not internal "
                                         "and database_name = current_database() and list_contains($names, view_name)",
                                         {"names": list(FINAL_AFTER_NORMALIZE)}).fetchall()]
    for table in sorted(tables):
        con.execute(f"copy (select * from {table}) to ? (format parquet)", [(out_dir / f"{table}.parquet").as_posix()])


def run_partition(config: Config, out_dir: Path, threads: int | None = None) -> dict:
    """Run load → check for one county into `out_dir/<table>.parquet`; returns seconds per stage and peak MiB."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    work = out_dir / ".work"
    work.mkdir(parents=True)
    con = connect()  # in memory, spilling under .work: the tables leave as Parquet
    if threads:  # counties side by side share the cores: one DuckDB using all of them in each would oversubscribe
        con.execute("set threads = ?", [int(threads)])
    con.execute("set temp_directory = ?", [(work / "spill").as_posix()])
    timings: dict[str, float] = {}
    stage = stage_runner(timings, None)
    try:
        run_county_stages(con, config, work, stage, county_rules(config))
        stage("export", lambda: _export(con, out_dir))
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"partition": config.partition, "region": config.region, "seconds": timings, "peak_mib": peak_mib}
