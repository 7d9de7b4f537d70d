"""The pipeline: the list of stages, each reading and writing named DuckDB tables (DESIGN §2)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from .check.engine import check
from .config import Config
from .db import connect
from .errors import InputError
from .link import link
from .load import load
from .normalize.stage import normalize
from .report.files import write_outputs
from .validate import validate

DB_NAME = "reconcile.duckdb"

STAGES = [
    ("load", "读取文件"),
    ("validate", "检查输入"),
    ("normalize", "标准化"),
    ("link", "户、人匹配"),
    ("check", "规则核查"),
    ("report", "写出结果"),
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

    @property
    def database(self) -> Path:
        return self.output / DB_NAME


OUTPUT_NAMES = {DB_NAME, "findings.csv", "findings.parquet", "input_issues.csv", "links.parquet",
                "person_links.parquet", "核查报告.xlsx", "report.html"}


def _guard_output(config: Config, output: Path) -> None:
    """A run writes only its own file names in the output folder and never over an input."""
    inputs = [s.path for s in config.sources.values()] + [r.path for r in config.registers.values()]
    if config.visits:
        inputs.append(config.visits.path)
    for path in inputs:
        if path == output or (path.parent == output and path.name in OUTPUT_NAMES):
            raise InputError(f"输出目录 {output} 与输入 {path} 冲突:请在配置 output: 中换一个输出目录")


@contextmanager
def _staging_database(output: Path):
    """Build the run's database beside the final one and swap it in only when the run succeeded."""
    final = output / DB_NAME
    staging = output / f".{DB_NAME}.partial-{os.getpid()}"
    if staging.exists():
        staging.unlink()
    con = connect(staging)
    try:
        yield con
        con.close()
        os.replace(staging, final)
    except BaseException:
        con.close()
        staging.unlink(missing_ok=True)
        raise


def frame(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    return pl.from_arrow(con.sql(sql).to_arrow_table())  # type: ignore[return-value]


def run(config: Config, output: Path | None = None,
        on_stage: Callable[[str, str, float | None], None] | None = None) -> RunResult:
    """Run every stage on `config`; `on_stage(name, label, seconds)` reports progress (seconds None = started)."""
    if output is not None:
        config = config.with_output(output)
    out = config.output
    out.mkdir(parents=True, exist_ok=True)
    _guard_output(config, out)
    work_dir = out / ".work"
    work_dir.mkdir(exist_ok=True)
    timings: dict[str, float] = {}
    files: dict[str, Path] = {}

    def stage(name: str, label: str, fn: Callable[[], object]) -> object:
        if on_stage:
            on_stage(name, label, None)
        started = time.perf_counter()
        value = fn()
        timings[name] = time.perf_counter() - started
        if on_stage:
            on_stage(name, label, timings[name])
        return value

    try:
        with _staging_database(out) as con:
            labels = dict(STAGES)
            stage("load", labels["load"], lambda: load(con, config, work_dir))
            stage("validate", labels["validate"], lambda: validate(con))
            stage("normalize", labels["normalize"], lambda: normalize(con))
            stage("link", labels["link"], lambda: link(con, config))
            stage("check", labels["check"], lambda: check(con, config))
            files = stage("report", labels["report"], lambda: write_outputs(con, config, out))  # type: ignore[assignment]
            result = RunResult(
                config=config, output=out,
                findings=frame(con, "select * from finding"),
                input_issues=frame(con, "select * from input_issue"),
                links=frame(con, "select * from hh_link"),
                person_links=frame(con, "select * from person_link"),
                rule_runs=frame(con, "select * from rule_run"),
                link_rates=frame(con, "select * from link_rate"),
                load_report=frame(con, "select * from load_report"),
                timings=timings, files=files,
            )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    files["database"] = out / DB_NAME
    return result
