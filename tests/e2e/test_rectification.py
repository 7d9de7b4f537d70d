"""Rectification as a round trip (issue 17): run → split by township → the township fills its answer columns
in Excel (here openpyxl, as a township's Excel/WPS would save them) → `reconcile ledger import` → rerun.

The tiny reliability county is used (20 households, CSV) so that three runs stay quick.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import duckdb
import fastexcel
import polars as pl
import pytest

from reconcile.ledger_import import ANSWER_HEADERS, ID_HEADER, import_answers
from tests.reliability.harness import cli, fresh_county, generate_tiny

openpyxl = pytest.importorskip("openpyxl")


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    source = generate_tiny(tmp_path_factory.mktemp("tiny") / "county")
    county = fresh_county(source, tmp_path_factory.mktemp("rect") / "county")
    config = county.write_config()
    out = county.folder / "out"
    result = cli("run", config, "--output", out, "--quiet", "--split-by", "township")
    assert result.exit_code in (0, 1), result.output
    return config, out


def _township_book(out: Path) -> Path:
    books = sorted((out / "分乡镇").glob("*.xlsx"))
    assert books
    return max(books, key=lambda p: p.stat().st_size)


def _header(ws) -> tuple[int, dict[str, int]]:
    for row in ws.iter_rows(min_row=1, max_row=15):
        titles = {c.value: c.column for c in row if c.value}
        if ID_HEADER in titles:
            return row[0].row, titles
    raise AssertionError("no header row")


def _fill(book: Path, answers: list[tuple[str, str | None, str | None, object]], target: Path) -> list[str]:
    """Answers (verdict, note, responsible, deadline) into the first rows of 问题台账; returns their finding ids."""
    wb = openpyxl.load_workbook(book)
    ws = wb["问题台账"]
    at, cols = _header(ws)
    ids = []
    for offset, (verdict, note, person, deadline) in enumerate(answers, 1):
        row = at + offset
        ids.append(ws.cell(row, cols[ID_HEADER]).value)
        for key, value in (("verdict", verdict), ("note", note), ("responsible", person), ("deadline", deadline)):
            ws.cell(row, cols[ANSWER_HEADERS[key]]).value = value
    wb.save(target)
    return ids


def _ledger(out: Path) -> pl.DataFrame:
    con = duckdb.connect(str(out / "reconcile.duckdb"), read_only=True)
    try:
        return pl.from_arrow(con.sql("select * from finding_ledger").to_arrow_table())  # type: ignore[return-value]
    finally:
        con.close()


def test_the_township_workbook_has_protected_answer_columns(county):
    _, out = county
    wb = openpyxl.load_workbook(_township_book(out))
    ws = wb["问题台账"]
    assert ws.protection.sheet, "问题台账 is protected outside the answer columns"
    at, cols = _header(ws)
    for title in ANSWER_HEADERS.values():
        assert title in cols
        assert ws.cell(at + 1, cols[title]).protection.locked is False
    assert ws.cell(at + 1, cols[ID_HEADER]).protection.locked is not False
    lists = [dv for dv in ws.data_validations.dataValidation if dv.type == "list"]
    assert lists and "核实无误" in lists[0].formula1


def test_round_trip_answers_come_back_and_the_next_run_honours_them(county, tmp_path):
    config, out = county
    filled = tmp_path / "东塘镇_已填写.xlsx"
    ids = _fill(_township_book(out), [("核实无误", "入户核实,家庭人口与户籍一致", "张三", None),
                                      ("整改中", "已通知村里补录", "李四", datetime(2020, 1, 31)),
                                      ("已整改", "已在系统中更正", "王五", None)], filled)
    first = cli("ledger", "import", config, filled, "--output", out, "--by", "县核查组")
    assert first.exit_code == 0, first.output
    assert "已导入 3 条" in first.output
    again = cli("ledger", "import", config, filled, "--output", out)
    assert again.exit_code == 0 and "已导入 0 条" in again.output and "未变 3 条" in again.output
    ledger = _ledger(out).filter(pl.col("finding_id").is_in(ids)).sort("finding_id")
    by_id = {r["finding_id"]: r for r in ledger.iter_rows(named=True)}
    assert by_id[ids[0]]["status"] == "verified" and by_id[ids[0]]["verdict_by"] == "张三"
    assert by_id[ids[1]]["deadline"] == date(2020, 1, 31)

    rerun = cli("run", config, "--output", out, "--quiet")
    assert rerun.exit_code in (0, 1), rerun.output
    findings = pl.read_parquet(out / "findings.parquet")
    status = dict(zip(findings["finding_id"], findings["status"], strict=True))
    assert status[ids[0]] == "verified"
    assert status[ids[1]] == "in_progress" and status[ids[2]] == "in_progress"
    late = findings.filter(pl.col("finding_id") == ids[1])["overdue"].to_list()
    assert late == [True], "a deadline in 2020 is overdue"

    summary = cli("ledger", config, "--output", out, "--json")
    import json

    data = json.loads(summary.output)
    assert data["total"]["verified"] == 1 and data["total"]["in_progress"] == 2
    assert data["total"]["rate"] == round(1 / data["total"]["total"], 4)
    assert [r["finding_id"] for r in data["overdue"]] == [ids[1]]
    assert any(r["name"] for r in data["by_village"])

    book = fastexcel.read_excel(out / "核查报告.xlsx")
    assert "通报" in book.sheet_names and "整改记录" in book.sheet_names
    bulletin = book.load_sheet_by_name("通报", header_row=None, dtypes="string").to_polars()
    text = " ".join(v for col in bulletin.columns for v in bulletin[col].to_list() if v)
    assert "核实无误 1 个" in text and "逾期未整改 1 个" in text
    record = book.load_sheet_by_name("整改记录", header_row=None, dtypes="string").to_polars()
    assert sum("入户核实" in (v or "") for col in record.columns for v in record[col].to_list()) == 1

    shown = cli("ledger", "show", config, ids[0], "--output", out)
    assert shown.exit_code == 0 and "核实无误" in shown.output and "张三" in shown.output
    assert "各次运行" in shown.output
    # the evidence reads in people's words: no source key (system, archive …) reaches the terminal
    assert not re.search(r"\b(system|archive|manual|survey|hukou)\b", shown.output), shown.output


def test_bad_answers_are_refused_with_their_place_and_the_good_ones_applied(county, tmp_path):
    config, out = county
    book = _township_book(out)
    filled = tmp_path / "bad.xlsx"
    ids = _fill(book, [("核实无误", "依据甲", "张三", None),       # answered differently in other.xlsx
                       ("整改中", "在办", "李四", None),             # no deadline
                       ("也许吧", "x", "y", None),                   # not a choice
                       ("整改中", "在办", "李四", "下个月"),          # not a date
                       ("无法整改", "户主长期外出,无法联系", "赵六", None),
                       ("核实无误", None, "张三", None)], filled)  # no reason
    other = tmp_path / "other.xlsx"
    _fill(book, [("核实无误", "另一份答复", "钱七", None)], other)  # a second, different answer to ids[0]
    wb = openpyxl.load_workbook(filled)
    ws = wb["问题台账"]
    at, cols = _header(ws)
    ws.cell(at + 7, cols[ID_HEADER]).value = "不存在的编号"
    ws.cell(at + 7, cols[ANSWER_HEADERS["verdict"]]).value = "已整改"
    wb.save(filled)
    before = _ledger(out)
    result = cli("ledger", "import", config, filled, other, "--output", out)
    assert result.exit_code == 1, result.output
    flat = result.output.replace("\n", "")
    for needle in ("核实依据", "须填写整改期限", "不是可选值", "不是日期", "不在本县的问题台账", "不同的答复"):
        assert needle in flat, needle
    assert "bad.xlsx 工作表“问题台账”第" in flat
    assert "已导入 1 条" in flat  # 无法整改, the one valid answer
    after = _ledger(out)
    changed = after.join(before.select("finding_id", pl.col("verdict").alias("was")), on="finding_id") \
        .filter(pl.col("verdict").fill_null("") != pl.col("was").fill_null(""))
    assert changed["finding_id"].to_list() == [ids[4]]


def test_an_import_that_fails_half_way_leaves_the_ledger_as_it_was(county, tmp_path):
    config, out = county
    filled = tmp_path / "ok.xlsx"
    _fill(_township_book(out), [("整改中", "在办", "孙八", datetime(2030, 6, 30))], filled)
    database = out / "reconcile.duckdb"
    before = _ledger(out)
    con = duckdb.connect(str(database), read_only=True)
    answers_before = con.execute("select count(*) from finding_answer").fetchall()[0][0]
    con.close()
    with pytest.raises(RuntimeError):
        import_answers(database, [filled], None, datetime(2026, 1, 1), fail_after=1)
    assert _ledger(out).equals(before)
    con = duckdb.connect(str(database), read_only=True)
    assert con.execute("select count(*) from finding_answer").fetchall()[0][0] == answers_before
    con.close()


def test_a_closed_finding_cannot_be_answered(county, tmp_path):
    config, out = county
    filled = tmp_path / "closed.xlsx"
    ids = _fill(_township_book(out), [("整改中", "在办", "周九", datetime(2030, 1, 1))], filled)
    con = duckdb.connect(str(out / "reconcile.duckdb"))
    con.execute("update finding_ledger set status = 'resolved' where finding_id = ?", [ids[0]])
    con.close()
    result = cli("ledger", "import", config, filled, "--output", out)
    assert result.exit_code == 1 and "已销号" in result.output.replace("\n", ""), result.output


def test_an_import_killed_inside_its_transaction_leaves_the_ledger_as_it_was(county, tmp_path):
    """A real kill (SIGKILL) while the answers are half written: DuckDB rolls the open transaction back."""
    import os
    import signal
    import subprocess
    import sys
    import time

    if sys.platform == "win32":
        pytest.skip("SIGKILL")
    _, out = county
    filled = tmp_path / "killed.xlsx"
    _fill(_township_book(out), [("整改中", "在办", "吴十", datetime(2031, 1, 1)),
                                ("无法整改", "外出", "郑一", None)], filled)
    before = _ledger(out)
    marker = tmp_path / "inside"
    # the answers are inserted, then the import waits inside its transaction (the digest step) to be killed
    script = f"""
import time, pathlib
from datetime import datetime
import reconcile.ledger_import as li
def stall(path):
    pathlib.Path({str(marker)!r}).write_text("x")
    time.sleep(120)
li._digest = stall
li.import_answers(pathlib.Path({str(out / "reconcile.duckdb")!r}), [pathlib.Path({str(filled)!r})], None,
                  datetime(2026, 1, 1))
"""
    process = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[2])
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        assert marker.exists(), "the import never reached its transaction"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert _ledger(out).equals(before)
    con = duckdb.connect(str(out / "reconcile.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from ledger_import where files like '%killed%'").fetchall()[0][0] == 0
    finally:
        con.close()


def test_a_hostile_or_foreign_file_is_refused_by_name(county, tmp_path):
    """A returned 'workbook' that is not one, or whose sheet claims a cell at XFD1048576, is refused in Chinese
    before the reader allocates for it; the ledger is untouched."""
    import zipfile

    config, out = county
    text = tmp_path / "假的.xlsx"
    text.write_text("序号,问题编号\n1,abc\n", encoding="utf-8")
    result = cli("ledger", "import", config, text, "--output", out)
    assert result.exit_code == 2 and "不是 Excel 工作簿" in result.output.replace("\n", ""), result.output
    bomb = tmp_path / "炸弹.xlsx"
    with zipfile.ZipFile(_township_book(out)) as source, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>')
            target.writestr(item, data)
    before = _ledger(out)
    result = cli("ledger", "import", config, bomb, "--output", out)
    assert result.exit_code == 2 and "XFD1048576" in result.output.replace("\n", ""), result.output
    assert _ledger(out).equals(before)
