"""Reliability corpus: a run killed at several points (issue 16 item 11).

A first run writes generation 1; the county's data then changes and a second run is killed (SIGKILL, no
clean-up of its own) at a point of its progress. Whatever the point, the output folder holds one generation
whole — findings.csv, findings.parquet, 核查报告.xlsx and the database all agree — the ledger opens, and the
next run cleans the killed run's scratch away and succeeds.
"""

from __future__ import annotations

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

from reconcile.outputs import LOCK_NAME, SCRATCH_PREFIX
from tests.reliability.harness import fresh_county

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

# (a line the run prints when a stage is done → the run is killed right after it), and "late" ones by time
KILL_AFTER = ["问题台账 (ledger) 完成", "写出结果 (report) 完成", "保存数据库 (save) 完成"]


def _start(config: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from reconcile.cli import app; app()", "run", str(config), "--output", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
        env={**os.environ, "COLUMNS": "200"})


def _generation(out: Path) -> dict[str, frozenset[str]]:
    """The finding ids each output holds (the workbook: its 问题台账 rows' count stands in for them)."""
    import fastexcel

    csv = pl.read_csv(out / "findings.csv", infer_schema=False)
    parquet = pl.read_parquet(out / "findings.parquet")
    con = duckdb.connect(str(out / "reconcile.duckdb"), read_only=True)
    try:
        database = {r[0] for r in con.execute("select finding_id from finding").fetchall()}
    finally:
        con.close()
    sheet = fastexcel.read_excel(out / "核查报告.xlsx").load_sheet_by_name("问题台账", header_row=None,
                                                                        dtypes="string").to_polars()
    header = next(i for i, r in enumerate(sheet.iter_rows()) if "序号" in r)
    return {"csv": frozenset(csv["finding_id"]), "parquet": frozenset(parquet["finding_id"]),
            "database": frozenset(database), "workbook_rows": frozenset({str(sheet.height - header - 1)})}


@pytest.fixture(scope="module")
def generations(tiny_source, tmp_path_factory):
    """The county, its config, and what generation 1 and generation 2 look like when nothing is killed."""
    root = tmp_path_factory.mktemp("kills")
    county = fresh_county(tiny_source, root / "county")
    config = county.write_config()
    reference = {}
    for gen in (1, 2):
        if gen == 2:
            _change_data(county.folder)
        out = root / f"reference{gen}"
        process = _start(config, out)
        process.communicate(timeout=300)
        assert process.returncode in (0, 1)
        reference[gen] = _generation(out)
    _restore_data(county.folder)
    return county, config, reference


def _change_data(folder: Path) -> None:
    """Generation 2's data: the village archive loses its last household (findings change)."""
    path = folder / "村级台账.csv"
    (folder / ".archive.bak").write_bytes(path.read_bytes())
    lines = path.read_bytes().rstrip(b"\r\n").split(b"\n")
    path.write_bytes(b"\n".join(lines[:-1]) + b"\n")


def _restore_data(folder: Path) -> None:
    (folder / ".archive.bak").replace(folder / "村级台账.csv")


@pytest.mark.parametrize("point", [*KILL_AFTER, 0.5], ids=lambda p: f"after {p}" if isinstance(p, str) else f"{p}s")
def test_a_killed_run_leaves_one_generation_whole(point, generations, tmp_path):
    county, config, reference = generations
    out = tmp_path / "out"
    shutil.copytree(config.parent.parent / "reference1", out)  # generation 1, as its run left it
    assert _generation(out) == reference[1]
    _change_data(county.folder)
    try:
        second = _start(config, out)
        started = time.monotonic()
        assert second.stdout is not None
        if isinstance(point, str):
            for line in second.stdout:
                if point in line:
                    break
        else:
            time.sleep(point)
        second.send_signal(signal.SIGKILL)
        second.wait(timeout=60)
        assert time.monotonic() - started < 300
        found = _generation(out)
        assert found in (reference[1], reference[2]), f"outputs of two runs side by side after a kill {point}"
        # the next run clears the killed one's scratch and partial files and writes generation 2 whole
        third = _start(config, out)
        third.communicate(timeout=300)
        assert third.returncode in (0, 1)
        assert _generation(out)["csv"] == reference[2]["csv"]
        assert not list(out.glob(f"{SCRATCH_PREFIX}*")) and not list(out.glob(".*partial*"))
    finally:
        _restore_data(county.folder)


def test_two_runs_at_once_on_one_folder_one_runs_and_one_is_refused(generations, tmp_path):
    """Two `reconcile run` processes started together on one output folder: one writes, the other is refused
    at once with the first's process named; the ledger records exactly one run and the outputs are whole."""
    _, config, reference = generations
    out = tmp_path / "out"
    out.mkdir()
    first = _start(config, out)
    lock = out / LOCK_NAME
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:  # it holds the folder once its pid is in the lock
        if lock.exists() and lock.read_text(encoding="utf-8").strip() == str(first.pid):
            break
        time.sleep(0.02)
    assert first.poll() is None, "the first run ended before it could be paused"
    seen = ""
    first.send_signal(signal.SIGSTOP)  # paused mid-run, holding the folder, while the second starts
    try:
        second = _start(config, out)
        refused_text = second.communicate(timeout=300)[0]
    finally:
        first.send_signal(signal.SIGCONT)
    results = [seen + first.communicate(timeout=300)[0], refused_text]
    codes = sorted([first.returncode, second.returncode])
    refused = [text for p, text in zip((first, second), results, strict=True) if p.returncode == 2]
    assert len(refused) == 1 and "正被另一次核查使用" in refused[0].replace("\n", ""), results
    assert codes[0] in (0, 1)
    assert _generation(out) == reference[1]
    con = duckdb.connect(str(out / "reconcile.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from run").fetchall()[0][0] == 1
    finally:
        con.close()
