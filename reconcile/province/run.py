"""Run a province: the counties as partitions (here in worker processes, or as Spark tasks), then merge."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from ..check.packs import select_rules
from ..clock import now
from ..config import Config
from ..errors import ConfigError, InputError
from ..outputs import inside, output_lock, run_scratch
from ..pipeline import (
    DB_NAME,
    RunResult,
    check_split_by,
    finish,
    guard_output,
    make_output,
    publish,
    stage_runner,
    stage_timing_frame,
    staging_database,
)
from ..plan import compile_plan
from ..preflight import preflight_problems
from . import ProvinceConfig
from .merge import merge_partitions, run_province_rules
from .partition import CountyPlan, county_rules, run_partition

# in the output folder: each run's counties' databases under a folder of its own (partitions/<run>/<county>/), which
# the province database reads; a run's folder replaces the previous one's only once its database is in place, so a
# killed run leaves the previous run's database and counties together
PARTS_DIR = "partitions"
ENGINES = ("local", "spark")


def merge_memory_limit() -> str:
    """DuckDB's share of memory while merging a province: a third of the machine, at most 8 GiB (polars frames of
    the reports need the rest)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(1, min(8, total // 3 // 2**30))}GiB"


def default_workers(province: ProvinceConfig) -> int:
    """Counties checked at once: one per core, at most the number of counties."""
    return max(1, min(province.workers or os.cpu_count() or 1, len(province.counties)))


def county_pool(workers: int) -> ProcessPoolExecutor:
    """The processes the counties are compiled and checked in (one county each at a time)."""
    # spawned, not forked: a fork of a process whose DuckDB/polars threads hold locks can hang forever.
    # (No max_tasks_per_child: on Python 3.11 the pool can deadlock replacing its workers, gh-115634.)
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _run_counties_locally(province: ProvinceConfig, parts: Path, workers: int, pool: ProcessPoolExecutor | None,
                          plans: dict[str, CountyPlan], progress: Callable[[dict], None]) -> list[dict]:
    """Each county in `pool` (in this process without one), with the plan the preflight compiled for it; the pool
    is shut down once the last county is done (its processes hold a county's memory until they end)."""
    reports = []
    threads = max(1, (os.cpu_count() or 1) // min(workers, len(province.counties)))
    if pool is None:
        for county in province.counties:
            reports.append(run_partition(county, parts / county.partition, threads, plans.get(county.partition)))
            progress(reports[-1])
        return reports
    try:
        futures = {pool.submit(run_partition, county, parts / county.partition, threads,
                               plans.get(county.partition)): county for county in province.counties}
        for future in as_completed(futures):
            reports.append(future.result())
            progress(reports[-1])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return reports


def compile_county(county: Config) -> tuple[CountyPlan | None, list[str]]:
    """A county's parameter, linkage, header and rule problems, and its run plan for the rules it runs itself (when
    it has no problems), compiled before any county's data are read."""
    started = time.perf_counter()
    problems = preflight_problems(county, rule_params=False)
    try:  # headers, rule `$params` and rule SQL
        plan = compile_plan(county, county_rules(county))
    except ConfigError as exc:
        return None, problems + exc.problems
    return CountyPlan(plan, time.perf_counter() - started), problems


def preflight_counties(province: ProvinceConfig, pool: ProcessPoolExecutor | None = None) -> dict[str, CountyPlan]:
    """Every county's problems in one error, before the first county starts (the counties compiled side by side in
    `pool`, if given); each county's plan otherwise. The province-scope rules are compiled once, against the first
    county: every county has the same sources."""
    compiled = list(pool.map(compile_county, province.counties)) if pool else \
        [compile_county(county) for county in province.counties]
    problems = [f"县配置 {county.path}: {problem}"
                for county, (_, found) in zip(province.counties, compiled, strict=True) for problem in found]
    first = province.counties[0] if province.counties else None
    wide = [rule for rule in select_rules(first) if rule.scope == "province"] if first else []
    if first is not None and wide:
        try:
            compile_plan(first, wide)
        except ConfigError as exc:
            problems += [f"县配置 {first.path}: {problem}" for problem in exc.problems]
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)), str(province.path))
    return {county.partition: plan for county, (plan, _) in zip(province.counties, compiled, strict=True) if plan}


def run_province(province: ProvinceConfig, output: Path | None = None, engine: str = "local",
                 workers: int | None = None, master: str | None = None,
                 on_stage: Callable[[str, str, float | None], None] | None = None, show_ids: bool = False,
                 split_by: str | None = None) -> RunResult:
    """Every county through load → check (partitions), merged, province rules, ledger and reports."""
    if engine not in ENGINES:
        raise InputError(f"--engine 只支持 {' / '.join(ENGINES)},实际为 {engine}")
    check_split_by(split_by, province=True)
    if engine == "local" and province.input_root:
        raise InputError("省级配置中的 input_root(HDFS/S3 上的数据位置)只能由 Spark 读取:请加 --engine spark")
    workers = workers or default_workers(province)
    pool = county_pool(workers) if engine == "local" and workers > 1 else None
    try:
        return _run_province(province, output, engine, workers, pool, master, on_stage, show_ids, split_by)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _run_province(province: ProvinceConfig, output: Path | None, engine: str, workers: int,
                  pool: ProcessPoolExecutor | None, master: str | None,
                  on_stage: Callable[[str, str, float | None], None] | None, show_ids: bool,
                  split_by: str | None) -> RunResult:
    timings: dict[str, float] = {}
    stage = stage_runner(timings, on_stage)
    # Spark's tasks compile their county's plan where its files are: the preflight's are for the local engine
    plans: dict[str, CountyPlan] = stage("preflight", lambda: preflight_counties(province, pool),  # type: ignore[assignment]
                                         "核对各县表头与规则")
    if engine == "spark":
        plans = {}
    if output is not None:
        province = province.with_output(output)
    out = province.output
    for county in province.counties:  # the province's outputs never land on a county's input
        guard_output(county, out)
    make_output(out)
    config: Config = province.merged_config()
    started = now()
    with output_lock(out), run_scratch(out):
        parts = inside(out, PARTS_DIR, started.strftime("%Y%m%dT%H%M%S%f"))
        shutil.rmtree(parts, ignore_errors=True)  # a killed run's of the same instant: never the one in use
        try:
            result = _run_in(province, config, out, parts, engine, workers, pool, plans, master, on_stage,
                             show_ids, split_by, started, timings, stage)
        except BaseException:
            shutil.rmtree(parts, ignore_errors=True)
            raise
        publish(result)
    _remove_other_runs(out, parts)
    result.files["database"] = out / DB_NAME
    return result


def _remove_other_runs(out: Path, kept: Path) -> None:
    """The counties' databases of earlier (or killed) runs: the province database in place reads only `kept`."""
    for folder in (out / PARTS_DIR).iterdir():
        if folder != kept and folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)


def _run_in(province: ProvinceConfig, config: Config, out: Path, parts: Path, engine: str, workers: int,
            pool: ProcessPoolExecutor | None, plans: dict[str, CountyPlan], master: str | None, on_stage: Callable[[str, str, float | None], None] | None, show_ids: bool,
            split_by: str | None, started, timings: dict[str, float], stage) -> RunResult:
    """The counties into `parts`, merged, the province rules, ledger and reports; the database swapped in."""
    done = []

    def progress(report: dict) -> None:
        done.append(report["partition"])
        if on_stage:
            on_stage(f"county:{report['partition']}",
                     f"第 {len(done)}/{len(province.counties)} 个县 {report['region']}({report['partition']})",
                     sum(report["seconds"].values()))

    if engine == "spark":
        from .spark import run_counties_on_spark

        reports = stage("counties", lambda: run_counties_on_spark(province, parts, master, progress),
                        "各县分区核查(Spark)")
    else:
        reports = stage("counties", lambda: _run_counties_locally(province, parts, workers, pool, plans, progress),
                        f"各县分区核查({workers} 个进程)")
    with staging_database(out, memory_limit=merge_memory_limit(),
                          timing=lambda: stage_timing_frame(timings, reports)) as db:
        con = db.con
        stage("merge", lambda: merge_partitions(con, out, parts,
                                                {c.partition: c.region for c in province.counties}),
              "合并各县结果")
        if engine == "spark":
            from .spark import load_spark_occurrences

            stage("province", lambda: load_spark_occurrences(con, parts), "跨县核查(Spark 关联)")
        stage("province_rules", lambda: run_province_rules(con, config), "跨县规则")
        result = finish(db, config, out, started, stage, show_ids, split_by, timings)
    result.partitions = sorted(reports, key=lambda r: r["partition"])
    return result
