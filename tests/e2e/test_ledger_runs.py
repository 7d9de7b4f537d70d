"""The ledger across real runs of the sample county: fixes close findings (销号), new breaks open them,
a killed run leaves the previous ledger intact, and `ledger:` may name a file of its own."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from reconcile import run
from reconcile.resources import sample_dir

SAMPLE = sample_dir()
pytestmark = pytest.mark.skipif(not (SAMPLE / "reconcile.yaml").exists(), reason="data/sample is not generated")
ARCHIVE = "村级台账.csv"


def _copy(tmp_path: Path) -> Path:
    county = tmp_path / "county"
    shutil.copytree(SAMPLE, county, ignore=shutil.ignore_patterns("truth", "out"))
    return county


def _edit_archive(county: Path, changes: dict[str, dict[str, str]]) -> None:
    """Set columns of archive rows chosen by 户编号 (the file stays GB18030, as the county sends it)."""
    path = county / ARCHIVE
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("gb18030"))))
    header = rows[0]
    code = header.index("户编号")
    for row in rows[1:]:
        for column, value in changes.get(row[code], {}).items():
            row[header.index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    path.write_bytes(out.getvalue().encode("gb18030"))


def _status(out: Path) -> dict[str, str]:
    frame = pl.read_parquet(out / "findings.parquet")
    return dict(zip(frame["finding_id"], frame["status"], strict=True))


def _ledger(db: Path) -> pl.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return pl.from_arrow(con.sql("select * from finding_ledger").to_arrow_table())
    finally:
        con.close()


def _runs(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("select run_id, findings, new, open, reopened, resolved from run order by run_id").fetchall()
    finally:
        con.close()


def _pick(out: Path) -> tuple[dict, dict, str]:
    """A status finding and an exit-year finding where only the archive disagrees, and a household without findings."""
    f = pl.read_parquet(out / "findings.parquet")
    picks = {}
    for rule in ("FC-STATUS", "FC-EXIT-YEAR"):
        for r in f.filter(pl.col("rule_id") == rule).iter_rows(named=True):
            ev = json.loads(r["evidence"])
            if ev.get("system") == ev.get("manual") and ev.get("archive") not in (None, ev.get("system")):
                picks[rule] = {**r, "evidence": ev}
                break
    flagged = set(f["hh_code"].drop_nulls())
    archive = pl.read_csv(out.parent / ARCHIVE, encoding="gb18030", infer_schema_length=0)
    clean = next(c for c in archive["户编号"].drop_nulls() if c not in flagged)
    return picks["FC-STATUS"], picks["FC-EXIT-YEAR"], clean


def test_three_runs_fix_some_break_others(tmp_path, monkeypatch):
    county = _copy(tmp_path)
    out = county / "out"
    monkeypatch.setenv("RECONCILE_NOW", "2021-03-01T09:00:00")
    run(county / "reconcile.yaml", output=out)
    first = _status(out)
    assert set(first.values()) == {"new"}
    status, exit_year, clean = _pick(out)
    archive = pl.read_csv(county / ARCHIVE, encoding="gb18030", infer_schema_length=0)
    size = int(archive.filter(pl.col("户编号") == clean)["家庭人口"][0])

    # run 2: two findings fixed in the archive, one household broken
    monkeypatch.setenv("RECONCILE_NOW", "2021-04-01T09:00:00")
    _edit_archive(county, {status["hh_code"]: {"脱贫状态": status["evidence"]["system"]},
                           exit_year["hh_code"]: {"脱贫时间": exit_year["evidence"]["system"]},
                           clean: {"家庭人口": str(size + 3)}})
    run(county / "reconcile.yaml", output=out)
    second = _status(out)
    now2 = pl.read_parquet(out / "findings.parquet")
    broken_rows = now2.filter((pl.col("hh_code") == clean) & (pl.col("kind") == "household_size_mismatch"))
    assert broken_rows.height >= 1
    broken = broken_rows["finding_id"][0]
    assert second[broken] == "new"
    assert status["finding_id"] not in second and exit_year["finding_id"] not in second
    untouched = set(first) - {status["finding_id"], exit_year["finding_id"]}
    assert all(second[i] == "open" for i in untouched if i in second)
    ledger = {r["finding_id"]: r for r in _ledger(out / "reconcile.duckdb").iter_rows(named=True)}
    assert ledger[status["finding_id"]]["status"] == "resolved"
    assert str(ledger[status["finding_id"]]["resolved_at"])[:10] == "2021-04-01"

    # run 3: the status fix is undone (reopened); the broken household stays (open); the exit-year fix holds
    monkeypatch.setenv("RECONCILE_NOW", "2021-05-01T09:00:00")
    _edit_archive(county, {status["hh_code"]: {"脱贫状态": status["evidence"]["archive"]}})
    result = run(county / "reconcile.yaml", output=out)
    third = _status(out)
    assert third[status["finding_id"]] == "reopened"
    assert third[broken] == "open"
    assert exit_year["finding_id"] not in third
    ledger = {r["finding_id"]: r for r in _ledger(out / "reconcile.duckdb").iter_rows(named=True)}
    assert ledger[exit_year["finding_id"]]["status"] == "resolved"
    assert ledger[status["finding_id"]]["run_count"] == 2
    assert str(ledger[status["finding_id"]]["first_seen"])[:10] == "2021-03-01"
    assert result.ledger["run_id"] == 3 and result.ledger["reopened"] >= 1
    frame = pl.read_parquet(out / "findings.parquet")
    assert frame.columns[:18][-1] == "status" and "first_seen" in frame.columns and "run_count" in frame.columns
    runs = _runs(out / "reconcile.duckdb")
    assert [r[0] for r in runs] == [1, 2, 3]
    assert runs[1][5] >= 2  # resolved in run 2
    # the workbook carries the progress
    import fastexcel

    sheet = fastexcel.read_excel(out / "核查报告.xlsx").load_sheet_by_name("整改情况", header_row=None,
                                                                         dtypes="string").to_polars()
    first_column = [str(v) for v in sheet.to_series(0).to_list()]
    assert any(v.startswith("已整改销号的问题(") and not v.startswith("已整改销号的问题(0") for v in first_column)


def test_rerun_same_inputs_changes_nothing_and_ledger_command(tmp_path):
    county = _copy(tmp_path)
    out = county / "out"
    run(county / "reconcile.yaml", output=out)
    before = _ledger(out / "reconcile.duckdb").select("finding_id", "first_seen").sort("finding_id")
    again = run(county / "reconcile.yaml", output=out)
    assert again.ledger["new"] == 0 and again.ledger["resolved"] == 0 and again.ledger["reopened"] == 0
    assert set(_status(out).values()) == {"open"}
    after = _ledger(out / "reconcile.duckdb").select("finding_id", "first_seen").sort("finding_id")
    assert before.equals(after)
    proc = subprocess.run([sys.executable, "-m", "reconcile.cli", "ledger", str(county / "reconcile.yaml"), "-o",
                           str(out), "--json"], capture_output=True, text=True, check=True)
    summary = json.loads(proc.stdout)
    assert len(summary["runs"]) == 2 and summary["total"]["resolved"] == 0
    assert {r["name"] for r in summary["by_township"]} >= {"东塘镇", "南湖洲镇", "文星镇"}


KILLER = """
import sys, time
from reconcile import pipeline
from reconcile.config import load_config
def on_stage(name, label, seconds):
    if name == "report" and seconds is None:
        print("REPORT-STARTED", flush=True)
        time.sleep(120)
pipeline.run(load_config(sys.argv[1]), on_stage=on_stage)
"""


def test_killed_run_leaves_previous_ledger_intact(tmp_path):
    county = _copy(tmp_path)
    out = county / "out"
    run(county / "reconcile.yaml", output=out)
    db = out / "reconcile.duckdb"
    runs_before, ledger_before = _runs(db), _ledger(db).sort("finding_id")
    _edit_archive(county, {pl.read_parquet(out / "findings.parquet")["hh_code"].drop_nulls()[0]: {"家庭人口": "9"}})
    config = county / "reconcile.yaml"
    text = config.read_text(encoding="utf-8").replace("output: out/", f"output: {out.as_posix()}/")
    config.write_text(text, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-c", KILLER, str(config)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    try:
        deadline = time.time() + 90
        line = ""
        while time.time() < deadline and "REPORT-STARTED" not in line:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line and proc.poll() is not None:
                break
        assert "REPORT-STARTED" in line, "the run did not reach the report stage"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # the run's database is saved beside the report into a staging file named for its process, swapped in only when
    # the run has succeeded: killed in the report, it leaves at most that file, never a changed reconcile.duckdb
    left = {p.name for p in out.glob(".reconcile.duckdb.partial-*")}
    assert left <= {f".reconcile.duckdb.partial-{proc.pid}", f".reconcile.duckdb.partial-{proc.pid}.wal"}, left
    assert _runs(db) == runs_before
    assert _ledger(db).sort("finding_id").equals(ledger_before)
    # the next run starts from the intact ledger and clears the dead run's staging file
    result = run(config, output=out)
    assert result.ledger["run_id"] == 2
    assert not list(out.glob(".reconcile.duckdb.partial-*"))


def test_separate_ledger_file(tmp_path):
    county = _copy(tmp_path)
    config = county / "reconcile.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "ledger: 台账/ledger.duckdb\n", encoding="utf-8")
    run(config, output=county / "out1")
    second = run(config, output=county / "out2")
    assert second.ledger["run_id"] == 2 and second.ledger["new"] == 0
    ledger_file = county / "台账" / "ledger.duckdb"
    assert [r[0] for r in _runs(ledger_file)] == [1, 2]
    assert [r[0] for r in _runs(county / "out2" / "reconcile.duckdb")] == [1, 2]
