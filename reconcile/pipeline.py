"""The pipeline: the list of stages, each reading and writing named DuckDB tables (DESIGN §2)."""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from .check.engine import check
from .clock import now
from .config import Config
from .db import connect, filled_table
from .db import query_frame as frame
from .errors import InputError
from .ledger import is_separate, ledger_stage, persist
from .link import link
from .load import load
from .load.readers import one_parse_per_sheet
from .normalize.columns import normalise_once
from .normalize.stage import normalize
from .outputs import current_scratch, inside, output_lock, refuse_link, run_scratch
from .plan import RunPlan, compile_plan
from .report.files import build_link_rates, write_link_outputs, write_outputs
from .validate import validate

DB_NAME = "reconcile.duckdb"
# Tables a finished run does not keep in its database: the raw text as read (the typed, normalised `src_*`
# tables and the input issues keep what people look up) and the linkers' blocking keys. Saving them cost
# seconds of DuckDB compression for nothing read later (issue 18).
# LIKE patterns; "_raw_%" is the load tables' stored columns (db.write_sparse_frame: `_raw_person_filled`)
SCRATCH_TABLES = ("raw_%", "_raw_%", "%_candidate_keys")

STAGES = [
    ("plan", "核对表头与规则"),
    ("load", "读取文件"),
    ("validate", "检查输入"),
    ("normalize", "标准化"),
    ("save_inputs", "保存标准化的输入表"),
    ("link", "户、人匹配"),
    ("save_link_details", "保存人员匹配明细"),
    ("check", "规则核查"),
    ("ledger", "问题台账"),
    ("report", "写出结果"),
    ("save", "保存数据库"),
]


@dataclass
class RunResult:
    """What a run produced; frames are polars, full values (IDs unmasked)."""

    config: Config
    output: Path
    findings: pl.DataFrame
    input_issues: pl.DataFrame
    links: pl.DataFrame
    person_links: pl.DataFrame
    rule_runs: pl.DataFrame
    link_rates: pl.DataFrame
    load_report: pl.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    ledger: dict[str, int] = field(default_factory=dict)  # run_id and new / open / reopened / resolved counts
    partitions: list[dict] = field(default_factory=list)  # province runs: each county's seconds per stage, peak MiB
    plan: RunPlan | None = None  # what each file provides and which rules ran, before data was read

    @property
    def database(self) -> Path:
        return self.output / DB_NAME


def guard_output(config: Config, output: Path) -> None:
    """The output folder is a folder of the run's own: it holds no input (the run writes and removes its own
    files there) and sits inside no input folder; it is not a file."""
    if output.exists() and not output.is_dir():
        raise InputError(f"输出目录 {output} 是一个已有的文件,不是文件夹:请在配置 output: 或 --output 中另选一个文件夹")
    inputs = [s.path for s in config.sources.values()] + [r.path for r in config.registers.values()]
    if config.visits:
        inputs.append(config.visits.path)
    out = output.resolve()
    for path in inputs:
        where = path.resolve()
        if where == out or out in where.parents:
            raise InputError(f"输出目录 {output} 包含输入 {path}:输出目录只放核查结果(每次运行会在其中写入和清理自己的文件),"
                             "请在配置 output: 或 --output 中另选一个专用文件夹,例如 out/")
        if where.is_dir() and where in out.parents:
            raise InputError(f"输出目录 {output} 位于输入文件夹 {path} 之内:下次运行会把结果当作输入读入,"
                             "请另选一个输出目录")


def make_output(output: Path) -> None:
    """Create the output folder, or say in Chinese why it cannot be written."""
    try:
        output.mkdir(parents=True, exist_ok=True)
        probe = output / f".reconcile-probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        reason = "没有写入权限" if isinstance(exc, PermissionError) else (exc.strerror or str(exc))
        raise InputError(f"无法写入输出目录 {output}({reason}):请换一个可写的文件夹(--output)") from exc


class StagedDatabase:
    """The run's database while the run works: `con` (in memory for a county, spilling to disk when it must; in
    the staging file itself for a province's merge) and its staging file, swapped in as `reconcile.duckdb` only
    when the run succeeded, so a killed run leaves the previous one intact.

    Saving an in-memory database is DuckDB's compression work on its own threads, while writing the workbook is
    Python: `save_beside` starts the save once the tables are final and `saved` waits for it, so the two overlap
    (issue 18).

    The staging file is attached once, as `_saved`, from the first table written until the run ends: DuckDB keeps a
    detached file's handle while any other cursor's open transaction still refers to it, so attaching the same file
    again could fail ("Unique file handle conflict"). Lookups of the run's tables name the current database
    (`db.table_names`), so the attached file is never mistaken for the run's own."""

    def __init__(self, con: duckdb.DuckDBPyConnection, staging: Path, in_memory: bool, stage=None) -> None:
        self.con, self.staging, self.in_memory, self.stage = con, staging, in_memory, stage
        self._pool: ThreadPoolExecutor | None = None
        self._saving: Future | None = None
        self._cursor: duckdb.DuckDBPyConnection | None = None
        self._early: Future | None = None
        self._early_cursor: duckdb.DuckDBPyConnection | None = None
        self._early_tables: list[str] = []
        self._moved: Future | None = None
        self._attached = False

    def _attach(self) -> None:
        """Attach the staging file as `_saved` (once, on the main thread, before any worker writes to it)."""
        if not self._attached:
            self.con.execute("attach ? as _saved", [self.staging.as_posix()])
            self._attached = True

    def _detach(self) -> None:
        """Detach the staging file (before it is closed and swapped in); nothing writes to it any more."""
        if self._attached:
            self._attached = False
            self.con.execute("detach _saved")

    def save_inputs(self) -> None:
        """Start writing the normalised inputs (FINAL_AFTER_NORMALIZE: no later stage changes them) to the staging
        file on a cursor of their own while link and check go on — the linker is mostly Python, so a core is free
        — leaving the save beside the report less to write (issue 18)."""
        if not self.in_memory or self._early is not None or self._pool is not None:
            return
        present = memory_tables(self.con)
        # a normalised input is a view over its filled columns (db.write_sparse_frame): the table is what is saved
        self._early_tables = [t for name in FINAL_AFTER_NORMALIZE for t in (name, filled_table(name)) if t in present]
        self._attach()
        cursor = self._early_cursor = self.con.cursor()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconcile-save")
        self._early = self._pool.submit(self._timed, lambda: copy_tables(cursor, self._early_tables), "save_inputs")

    def move_link_details(self) -> None:
        """Once link is done, write MOVED_AFTER_LINK to the staging file after the inputs (the same worker) and
        drop them from memory: nothing in the run reads them again (`explain-link` reads the saved database), and
        a county's person candidates are held through the check and the reports otherwise (issue 18: memory)."""
        if self._early is None or self._pool is None or self._early_cursor is None:
            return
        present = memory_tables(self.con)
        tables = [t for t in MOVED_AFTER_LINK if t in present]
        cursor = self._early_cursor

        def move() -> None:
            copy_tables(cursor, tables)
            for table in tables:  # names from MOVED_AFTER_LINK, found in DuckDB's catalogue
                cursor.execute(f'drop table memory."{table}"')

        self._moved = self._pool.submit(self._timed, move, "save_link_details")

    def save_beside(self) -> None:
        """Start writing the finished tables to the staging file on a cursor of their own; `con` keeps being read
        (the reports only read it)."""
        if not self.in_memory or self._saving is not None:
            return
        self._inputs_saved()
        prepare_save(self.con)
        self._attach()
        cursor = self._cursor = self.con.cursor()
        self._pool = self._pool or ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconcile-save")
        self._saving = self._pool.submit(self._timed, lambda: copy_to_file(cursor, self._early_tables))

    def saved(self) -> None:
        """The staging file holds every table (waiting for a save started by `save_beside`)."""
        if not self.in_memory:
            return
        if self._saving is None:
            self._inputs_saved()
            prepare_save(self.con)
            self._attach()
            self._timed(lambda: copy_to_file(self.con, self._early_tables))
            self.close_pool()
            return
        try:
            self._saving.result()
        finally:
            self.close_pool()

    def _inputs_saved(self) -> None:
        """Wait for `save_inputs`' copy and `move_link_details` (an error of either is the run's) and close their
        cursor."""
        if self._early is not None:
            try:
                self._early.result()
                if self._moved is not None:
                    self._moved.result()
            finally:
                self._early = self._moved = None
                if self._early_cursor is not None:
                    self._early_cursor.close()
                    self._early_cursor = None

    def close_pool(self) -> None:
        """Wait for a save under way and close its cursors (also when the run failed)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for cursor in (self._cursor, self._early_cursor):
            if cursor is not None:
                cursor.close()
        self._cursor = self._early_cursor = None
        self._early = self._moved = None

    def _timed(self, fn: Callable[[], None], name: str = "save") -> None:
        if self.stage:
            self.stage(name, fn)
        else:
            fn()

    def complete(self, timing: pl.DataFrame | None) -> None:
        """After `saved`: the run's per-stage seconds as the table `stage_timing` (any run can be profiled after the
        fact), and any table made while the save ran (nothing should: the reports only read), so the saved
        database never lacks one the run made."""
        if not self.in_memory:
            if timing is not None:
                self._store(timing, "stage_timing")
            return
        self._attach()
        try:
            _copy_missing_tables(self.con)
            if timing is not None:
                self._store(timing, "_saved.stage_timing")
        finally:
            self._detach()

    def _store(self, timing: pl.DataFrame, table: str) -> None:
        self.con.register("_stage_timing", timing)
        try:
            self.con.execute(f"create or replace table {table} as select * from _stage_timing")  # names fixed above
        finally:
            self.con.unregister("_stage_timing")


@contextmanager
def staging_database(output: Path, memory_limit: str | None = None, stage=None,
                     timing: Callable[[], pl.DataFrame] | None = None):
    """The run's database (a `StagedDatabase`), saved and swapped in when the block ends without an error.

    A county works in memory and is written out once, beside the reports if the caller starts it
    (`save_beside`), at the end otherwise; with a `memory_limit` (a province's merge, tens of GB of tables) it is
    built in the staging file itself, which keeps DuckDB within the limit. `stage` (see `stage_runner`) times the
    write as the stage `save`; `timing()` gives the table of stage seconds stored with it."""
    final = output / DB_NAME
    staging = output / f".{DB_NAME}.partial-{os.getpid()}"
    staging.unlink(missing_ok=True)
    staging.with_name(staging.name + ".wal").unlink(missing_ok=True)
    scratch = current_scratch()
    if scratch is None:
        raise RuntimeError("staging_database runs inside run_scratch: its spill files go to the run's scratch")
    spill = scratch / "spill"
    spill.mkdir(parents=True, exist_ok=True)
    con = connect(staging if memory_limit else None)
    con.execute("set temp_directory = ?", [spill.as_posix()])
    if memory_limit:
        con.execute("set memory_limit = ?", [memory_limit])
    db = StagedDatabase(con, staging, in_memory=not memory_limit, stage=stage)
    try:
        yield db
        db.saved()
        db.complete(timing() if timing is not None else None)
        con.close()
        refuse_link(final)
        os.replace(staging, final)
    except BaseException:
        db.close_pool()
        con.close()
        staging.unlink(missing_ok=True)
        staging.with_name(staging.name + ".wal").unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def prepare_save(con: duckdb.DuckDBPyConnection) -> None:
    """What a finished run does not keep: the rules' long working tables become views of what they are made of,
    and the SCRATCH_TABLES go."""
    from .link.wide import long_tables_as_views

    long_tables_as_views(con)
    for (table,) in con.execute("select table_name from duckdb_tables() where database_name = 'memory' and ("
                                + " or ".join("table_name like ?" for _ in SCRATCH_TABLES) + ")",
                                list(SCRATCH_TABLES)).fetchall():
        con.execute(f'drop table "{table}"')  # names read from the catalogue, matched to SCRATCH_TABLES


# The normalised inputs: written by normalize and only read after it (link, check and the reports make tables of
# their own), so `save_inputs` writes them out while the run goes on. A stage that changed one after normalize would
# leave the saved copy behind: `copy_to_file` refuses to finish when a row count no longer agrees.
FINAL_AFTER_NORMALIZE = ("src_person", "src_household", "register", "register_attr", "visit")
# Written by link and read by nothing later in a run (only `explain-link`, from the saved database): a county run
# moves them to the staging file beside the check (StagedDatabase.move_link_details).
MOVED_AFTER_LINK = ("person_candidate", "person_record")


def copy_tables(con: duckdb.DuckDBPyConnection, tables: list[str]) -> None:
    """`tables` of the in-memory run database into the staging file attached as `_saved`."""
    for table in tables:  # names from FINAL_AFTER_NORMALIZE or MOVED_AFTER_LINK, found in DuckDB's catalogue
        con.execute(f'create table _saved."{table}" as select * from memory."{table}"')


def copy_to_file(con: duckdb.DuckDBPyConnection, saved: list[str] | None = None) -> None:
    """Every table, view and macro of the in-memory run database into the staging file attached as `_saved`,
    where the tables `saved` (by `copy_tables`) already are."""
    if not saved:
        con.execute("copy from database memory to _saved")
        return
    _check_saved(con, saved)
    _copy_rest(con)


def _check_saved(con: duckdb.DuckDBPyConnection, saved: list[str]) -> None:
    for table in saved:  # names from FINAL_AFTER_NORMALIZE
        now, kept = (con.execute(f'select count(*) from {db}."{table}"').fetchall()[0][0] for db in ("memory", "_saved"))
        if now != kept:
            raise RuntimeError(f"表 {table} 在标准化之后被改动({kept} 行已保存,现在 {now} 行):"
                               "FINAL_AFTER_NORMALIZE 不应列出它")


def memory_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The tables of the in-memory run database (not an attached staging file's, not temporary ones)."""
    return {r[0] for r in con.execute(
        "select table_name from duckdb_tables() where database_name = 'memory' and not temporary").fetchall()}


def _copy_missing_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Every table of the in-memory database that the attached `_saved` does not hold yet."""
    made = memory_tables(con)
    kept = {r[0] for r in con.execute(
        "select table_name from duckdb_tables() where database_name = '_saved'").fetchall()}
    for table in sorted(made - kept):  # names read from DuckDB's catalogue
        con.execute(f'create table _saved."{table}" as select * from memory."{table}"')


def _copy_rest(con: duckdb.DuckDBPyConnection) -> None:
    """What `copy from database` copies (the run database has tables, views and macros in `main`) beside the
    tables already saved: tables first, then macros and views, created in the file as the run created them."""
    _copy_missing_tables(con)
    macros = con.execute("select function_name, parameters, macro_definition from duckdb_functions() "
                         "where database_name = 'memory' and function_type = 'macro' and not internal "
                         "order by function_oid").fetchall()
    # in the order they were made: a view may read an earlier one (hh_registered reads hh_source)
    views = [r[0] for r in con.execute("select sql from duckdb_views() where database_name = 'memory' "
                                       "and not internal and not temporary order by view_oid").fetchall()]
    con.execute("use _saved")  # the definitions name their tables unqualified: they bind to the file's
    try:
        for name, parameters, definition in macros:  # DuckDB's own text of what the run defined
            con.execute(f'create macro "{name}"({", ".join(parameters)}) as {definition}')
        for sql in views:
            con.execute(sql)
    finally:
        con.execute("use memory")


def stage_timing_frame(timings: dict[str, float], partitions: list[dict] | None = None) -> pl.DataFrame:
    """One row per stage in the order they finished (`scope` "run"; the save ends beside the report), then each
    province partition's stages (`scope` its partition code): seconds, and the stage's Chinese name."""
    labels = dict(STAGES)
    scopes = [("run", timings), *((str(part["partition"]), part["seconds"]) for part in partitions or [])]
    return pl.DataFrame(
        [{"scope": scope, "position": i, "stage": name, "label": labels.get(name, name), "seconds": seconds}
         for scope, seconds_by_stage in scopes for i, (name, seconds) in enumerate(seconds_by_stage.items())],
        schema={"scope": pl.String, "position": pl.Int64, "stage": pl.String, "label": pl.String,
                "seconds": pl.Float64})


def write_reports(con: duckdb.DuckDBPyConnection, config: Config, out: Path, started, show_ids: bool = False,
                  split_by: str | None = None) -> dict[str, Path]:
    """Machine outputs (Parquet/CSV, full values; the links' files written beside the rest), the workbook and the
    HTML page (IDs masked by default)."""
    from .report.data import collect
    from .report.html import REPORT_NAME, write_html
    from .report.workbook import (
        WORKBOOK_NAME,
        write_county_workbooks,
        write_report_workbook,
        write_township_workbooks,
    )

    # the links' files are DuckDB's work alone, the workbook mostly Python's: side by side, on a cursor of their own
    # (issue 18; no Python frame of them, so the report's memory stays that of its own frames)
    cursor = con.cursor()
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconcile-outputs") as pool:  # waits for it
            links = pool.submit(write_link_outputs, cursor, out)
            files = write_outputs(con, config, out)
            data = collect(con, config, started, show_ids=show_ids)
            workbook = write_report_workbook(data, out / WORKBOOK_NAME)
            files |= links.result()
            files[WORKBOOK_NAME] = workbook
            files[REPORT_NAME] = write_html(data, out / REPORT_NAME)
    finally:
        cursor.close()
    if split_by == "township":
        for township, path in write_township_workbooks(data, out).items():
            files[f"{WORKBOOK_NAME}:{township}"] = path
    elif split_by == "county":  # a province run: the counties by name, as merge kept them
        counties = [r[0] for r in con.execute("select name from province_county order by key").fetchall()]
        for county, path in write_county_workbooks(data, counties, out).items():
            files[f"{WORKBOOK_NAME}:{county}"] = path
    return files


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


def release_free_memory() -> None:
    """Give the memory a finished stage freed back to the system. glibc keeps freed heap pages for reuse, and a
    stage's polars frames, freed from several threads, leave 170-250 MiB behind after load, normalize and link that
    the next stage's peak stands on (issue 18: the 4 GiB bound)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def stage_runner(timings: dict[str, float], on_stage: Callable[[str, str, float | None], None] | None):
    """`stage(name, fn)`: run one stage, time it into `timings` and tell `on_stage` when it starts and ends."""
    labels = dict(STAGES)

    def stage(name: str, fn: Callable[[], object], label: str | None = None) -> object:
        label = label or labels.get(name, name)
        if on_stage:
            on_stage(name, label, None)
        started = time.perf_counter()
        value = fn()
        timings[name] = time.perf_counter() - started
        release_free_memory()
        if on_stage:
            on_stage(name, label, timings[name])
        return value

    return stage


def run_county_stages(con: duckdb.DuckDBPyConnection, config: Config, work_dir: Path, stage,
                      rules: list | None = None, plan: RunPlan | None = None,
                      after_normalize: Callable[[], None] | None = None,
                      after_link: Callable[[], None] | None = None) -> RunPlan:
    """plan → load → validate → normalise → link → check: what a county run and each county of a province run do.

    `rules` (default: every selected rule) lets a province partition leave its province-scope rules out; a
    `plan` compiled beforehand (a province compiles every county's before the first starts) is used as is;
    `after_normalize` is called once the inputs are normalised (a county run starts saving them), `after_link`
    once households and persons are linked."""
    with one_parse_per_sheet():  # the plan's header peek parses each workbook once for the load too
        if plan is None:
            plan = stage("plan", lambda: compile_plan(config, rules))
        assert plan is not None
        plan.write(con)
        stage("load", lambda: load(con, config, work_dir, plan))
    with normalise_once():  # validate's normalisation of each column serves normalize too
        stage("validate", lambda: validate(con))
        stage("normalize", lambda: normalize(con))
    if after_normalize is not None:
        after_normalize()
    stage("link", lambda: link(con, config))
    if after_link is not None:
        after_link()
    stage("check", lambda: check(con, config, rules))
    return plan


def finish(db: StagedDatabase, config: Config, out: Path, started, stage, show_ids: bool,
           split_by: str | None, timings: dict[str, float]) -> RunResult:
    """Ledger and reports over a database whose `finding` table is complete; the run's result.

    The database is saved while the reports are written (their tables are final once the ledger is). The
    reports are written into the run's scratch folder and moved into `out` by `publish` once the database is
    saved too, so that a killed run leaves the previous run's files together, not some of each."""
    con = db.con
    ledger = stage("ledger", lambda: ledger_stage(con, config, started))
    build_link_rates(con, config)  # the last table of the run: the reports only read from here on
    db.save_beside()
    scratch = current_scratch()
    staged = scratch / PUBLISH_DIR if scratch else out
    files = stage("report", lambda: write_reports(con, config, staged, started, show_ids, split_by))
    if is_separate(config, out / DB_NAME):
        files["ledger"] = persist(con, config)  # type: ignore[index]
    return RunResult(
        config=config, output=out,
        findings=frame(con, "select * from finding"),
        input_issues=frame(con, "select * from input_issue"),
        links=frame(con, "select * from hh_link"),
        person_links=frame(con, "select * from person_link"),
        rule_runs=frame(con, "select * from rule_run"),
        link_rates=frame(con, "select * from link_rate"),
        load_report=frame(con, "select * from load_report"),
        timings=timings, files=files, ledger=ledger,  # type: ignore[arg-type]
    )


PUBLISH_DIR = "publish"  # in the run's scratch folder: the reports, until the run has succeeded


def publish(result: RunResult) -> None:
    """Move the staged reports into the output folder (a rename each: the folder is on the same disk), and
    point the result's file list at them. Nothing is written through a link in the output folder."""
    scratch = current_scratch()
    staged = scratch / PUBLISH_DIR if scratch else None
    if staged is None or not staged.exists():
        return
    out = result.output
    moved = sorted(p for p in staged.rglob("*") if p.is_file() and not p.name.startswith("."))
    for path in moved:
        target = inside(out, *path.relative_to(staged).parts)
        refuse_link(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    for key, path in list(result.files.items()):
        if staged in path.parents:
            result.files[key] = out / path.relative_to(staged)


def check_split_by(split_by: str | None, province: bool) -> None:
    """`--split-by`: township for any run, county for a province's (the one check the CLI and the API share)."""
    if split_by == "county" and not province:
        raise InputError("--split-by county 只用于省级配置(含 counties:);一个县的报告可按乡镇拆分:--split-by township")
    if split_by not in (None, "township", "county"):
        raise InputError(f"--split-by 应为 township(按乡镇拆分)或 county(省级配置按县拆分),实际为 {split_by}")


def prepare_output(config: Config, output: Path | None, split_by: str | None) -> Config:
    if output is not None:
        config = config.with_output(output)
    check_split_by(split_by, province=False)
    guard_output(config, config.output)
    make_output(config.output)
    return config


def run(config: Config, output: Path | None = None,
        on_stage: Callable[[str, str, float | None], None] | None = None, show_ids: bool = False,
        split_by: str | None = None) -> RunResult:
    """Run every stage on `config`; `on_stage(name, label, seconds)` reports progress (seconds None = started).

    `show_ids` writes full ID numbers into the workbook and HTML page (masked by default);
    `split_by="township"` also writes one workbook per township.
    """
    config = prepare_output(config, output, split_by)
    started = now()
    out = config.output
    timings: dict[str, float] = {}
    stage = stage_runner(timings, on_stage)
    with output_lock(out), run_scratch(out) as work_dir:
        with staging_database(out, stage=stage, timing=lambda: stage_timing_frame(timings)) as db:
            plan = run_county_stages(db.con, config, work_dir, stage, after_normalize=db.save_inputs,
                                     after_link=db.move_link_details)
            result = finish(db, config, out, started, stage, show_ids, split_by, timings)
            result.plan = plan
        publish(result)
    result.files["database"] = out / DB_NAME
    return result
