"""One county of a province run: the county-local stages in a DuckDB of its own, saved as `county.duckdb`.

The same function runs in a worker process of the local engine and inside a Spark task: it reads only
the county's files, writes only into `out_dir`, and returns its timings and peak memory. Province-scope
rules are left to the merge step, which sees every county: it attaches each county's database and reads it
where it is (issue 18: no copy of the counties' tables into the province's).
"""

from __future__ import annotations

import resource
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..check.packs import select_rules
from ..config import Config
from ..db import connect
from ..outputs import written
from ..pipeline import copy_to_file, prepare_save, run_county_stages, stage_runner
from ..plan import RunPlan
from ..report.data import build_input_issue_places

PARTITION_DB = "county.duckdb"
# what the merge, the reports and the province rules need: not the raw text tables (a county's own run
# database has them; prepare_save drops them with the stages' scratch tables) nor the linkers' records and
# scored candidate pairs, which only the county's own rules and `explain-link` on a county's own run read
# (a tenth of what a county writes; issue 18)
LINKER_DETAILS = ("hh_record", "person_record", "hh_candidate", "person_candidate")


@dataclass
class CountyPlan:
    """A county's run plan, compiled by the province's preflight, and the seconds it took (the county's `plan`)."""

    plan: RunPlan
    seconds: float


def county_rules(config: Config):
    return [r for r in select_rules(config) if r.scope == "county"]


def _save(con: duckdb.DuckDBPyConnection, out_dir: Path) -> None:
    """The county's tables, views and macros into `out_dir/county.duckdb` (written under a temporary name, renamed
    into place once complete): the province merge attaches it read-only."""
    build_input_issue_places(con)  # what the province report reads of the county's input issues
    prepare_save(con)
    for table in LINKER_DETAILS:  # fixed names
        con.execute(f"drop table if exists {table}")
    with written(out_dir / PARTITION_DB) as partial:
        con.execute("attach ? as _saved", [partial.as_posix()])
        try:
            copy_to_file(con)
        finally:
            con.execute("detach _saved")


def run_partition(config: Config, out_dir: Path, threads: int | None = None, plan: CountyPlan | None = None) -> dict:
    """Run load → check for one county into `out_dir/county.duckdb` (with `plan` if the preflight compiled it, its
    own otherwise); returns seconds per stage and peak MiB."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    work = out_dir / ".work"
    work.mkdir(parents=True)
    con = connect()  # in memory, spilling under .work: saved to county.duckdb once checked
    if threads:  # counties side by side share the cores: one DuckDB using all of them in each would oversubscribe
        con.execute("set threads = ?", [int(threads)])
    con.execute("set temp_directory = ?", [(work / "spill").as_posix()])
    timings: dict[str, float] = {"plan": plan.seconds} if plan else {}
    stage = stage_runner(timings, None)
    try:
        run_county_stages(con, config, work, stage, county_rules(config), plan.plan if plan else None)
        stage("export", lambda: _save(con, out_dir))
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"partition": config.partition, "region": config.region, "seconds": timings, "peak_mib": peak_mib}
