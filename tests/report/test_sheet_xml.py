"""The cells written as sheet XML by polars must be the cells xlsxwriter itself writes: the same XML for the same
text (escapes, whitespace, control characters, Excel's length limit), numbers and dates, and blanks keeping their
style. Each case is written both ways and the `<c>` elements compared."""

from __future__ import annotations

import math
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import fastexcel
import polars as pl
import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.report.sheet_xml import Block, SheetCells, date_cell, number_cell, splice, string_cell
from reconcile.report.xlsx import Col, Sheet, Table, write_workbook

TRICKY_TEXTS = ["plain", "", " leading", "trailing ", "\u3000全角空格", "a&b<c>d\"e'", "line\nbreak", "tab\there",
                "bell\x07", "cr\r", "_x0041_ literal escape", "_x00zz_ not one", "\ufffe\uffff", "=SUM(A1)",
                "430624196907194917", "x" * 40000, "户主 张三\n人员:李四"]


def _cells_xml(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as book:
        xml = book.read("xl/worksheets/sheet1.xml").decode("utf-8")
    return re.findall(r"<c [^>]*?(?:/>|>.*?</c>)", xml)


def _by_xlsxwriter(path: Path, write) -> list[str]:
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                         "strings_to_formulas": False, "strings_to_urls": False})
    ws = wb.add_worksheet("s")
    fmt = wb.add_format({"bold": True})
    write(ws, fmt)
    wb.close()
    return _cells_xml(path)


def _by_polars(tmp_path: Path, frame: pl.DataFrame, cell) -> list[str]:
    shell = tmp_path / "shell.xlsx"
    wb = xlsxwriter.Workbook(str(shell))
    wb.add_worksheet("s")
    fmt = wb.add_format({"bold": True})
    style = fmt._get_xf_index()
    wb.close()
    target = tmp_path / "ours.xlsx"
    splice(shell, target, {1: SheetCells([Block(0, frame, [cell(pl.lit(style))])], 1)})
    return _cells_xml(target)


def test_text_cells_are_xlsxwriters(tmp_path):
    texts = [*TRICKY_TEXTS, None]
    theirs = _by_xlsxwriter(tmp_path / "theirs.xlsx", lambda ws, fmt: [
        ws.write_string(r, 0, t, fmt) if t is not None else ws.write_blank(r, 0, None, fmt) for r, t in enumerate(texts)])
    ours = _by_polars(tmp_path, pl.DataFrame({"t": texts}, schema={"t": pl.String}),
                      lambda style: string_cell("A", pl.col("t"), style))
    assert ours == theirs


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=30), min_size=1, max_size=8))
def test_any_text_is_written_as_xlsxwriter_writes_it(tmp_path_factory, texts):
    tmp_path = tmp_path_factory.mktemp("text")
    theirs = _by_xlsxwriter(tmp_path / "theirs.xlsx",
                            lambda ws, fmt: [ws.write_string(r, 0, t, fmt) for r, t in enumerate(texts)])
    ours = _by_polars(tmp_path, pl.DataFrame({"t": texts}, schema={"t": pl.String}),
                      lambda style: string_cell("A", pl.col("t"), style))
    assert ours == theirs


def test_numbers_and_dates_are_xlsxwriters(tmp_path):
    numbers = [0, 7, -3, 123456789]
    theirs = _by_xlsxwriter(tmp_path / "theirs.xlsx",
                            lambda ws, fmt: [ws.write_number(r, 0, n, fmt) for r, n in enumerate(numbers)])
    assert _by_polars(tmp_path, pl.DataFrame({"n": numbers}), lambda style: number_cell("A", pl.col("n"), style)) \
        == theirs
    days = [date(2026, 12, 31), date(2000, 1, 1), date(1900, 3, 1)]
    theirs = _by_xlsxwriter(tmp_path / "dates.xlsx", lambda ws, fmt: [
        ws.write_datetime(r, 0, datetime(d.year, d.month, d.day), fmt) for r, d in enumerate(days)])
    assert _by_polars(tmp_path, pl.DataFrame({"d": days}), lambda style: date_cell("A", pl.col("d"), style)) == theirs


def test_a_missing_or_impossible_number_is_a_blank_cell_with_its_style(tmp_path):
    frame = pl.DataFrame({"n": [1.5, None, math.nan, math.inf]})
    cells = _by_polars(tmp_path, frame, lambda style: number_cell("A", pl.col("n"), style))
    assert cells[0].endswith("<v>1.5</v></c>")
    assert all(c.endswith("/>") and ' s="' in c for c in cells[1:])


def test_a_workbook_reads_back_with_every_kind_of_cell(tmp_path):
    frame = pl.DataFrame({"n": [1, 2, 3], "share": [0.5, None, 0.25], "text": ["a", None, "=1+1"],
                          "level": ["高", "中", "无此级"], "day": [date(2026, 1, 2), None, date(2026, 3, 4)],
                          "flag": [True, False, None]})
    cols = [Col("序号", "int"), Col("占比", "pct"), Col("说明", "wrap"), Col("严重程度", "severity"),
            Col("期限", "answer_date"), Col("标志")]
    path = write_workbook(tmp_path / "book.xlsx", [Sheet("表", [Table(cols, frame, total_last=True)],
                                                         notes=["标题", "说明一行"])])
    rows = fastexcel.read_excel(path).load_sheet(0, header_row=None, dtypes="string").to_polars().rows()
    assert rows[0][0] == "标题" and rows[1][0] == "说明一行"
    assert rows[3] == ("序号", "占比", "说明", "严重程度", "期限", "标志")
    assert rows[4][:4] == ("1", "0.5", "a", "高") and rows[4][5] == "True"
    assert rows[5][1] is None and rows[5][2] is None
    assert rows[6][2] == "=1+1"  # text, never a formula
    openpyxl = pytest.importorskip("openpyxl")
    ws = openpyxl.load_workbook(path)["表"]
    assert ws.cell(5, 4).fill.fgColor.rgb.endswith("C00000")  # 高: red
    assert ws.cell(7, 1).font.b  # the total row is bold
    assert ws.cell(5, 5).is_date and ws.cell(5, 5).value.date() == date(2026, 1, 2)


def test_chunks_are_made_ahead_in_order_and_never_more_than_a_few_at_once():
    """The next chunks of rows are built on a thread beside the zip's deflate: the same chunks in the same order,
    at most `depth` made ahead of the one being written, and an error while building one is the writer's error."""
    from reconcile.report.sheet_xml import prefetched

    made = []

    def chunks():
        for n in range(50):
            made.append(n)
            yield str(n).encode()

    taken = []
    for chunk in prefetched(chunks(), depth=2):
        taken.append(chunk)
        assert len(made) - len(taken) <= 2
    assert taken == [str(n).encode() for n in range(50)]

    def broken():
        yield b"a"
        raise ValueError("第 2 块出错")

    with pytest.raises(ValueError, match="第 2 块出错"):
        list(prefetched(broken()))
