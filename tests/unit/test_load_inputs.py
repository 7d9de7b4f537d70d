"""Hostile and damaged inputs at the reader level (issue 16): workbook limits, text repair and quarantine, what a
file really is, header-only files, and how the load and validate stages count and report what they set aside.

Every fixture is generated here, in tmp_path; the end-to-end corpus is tests/reliability/test_inputs.py.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest
import xlsxwriter
from hypothesis import given
from hypothesis import strategies as st

from reconcile.errors import InputError
from reconcile.load import quarantine, text, xlsx_guard
from reconcile.load.peek import peek_headers
from reconcile.load.readers import read_table, sheet_names
from reconcile.load.sniff import sniff
from reconcile.load.text import MARKER, decide_encoding, prepared_text
from reconcile.load.xlsx_guard import _int_above, _letters_above, check_sheet, col_letters, workbook_sheets

ID = "430624198001011239"  # a valid one: the tests count only the issues they cause


# ---- workbooks: limits checked before the reader allocates ----------------------------------------------


def _book(path: Path, rows: int = 3, sheets: tuple[str, ...] = ("人员",), formulas: bool = False) -> Path:
    wb = xlsxwriter.Workbook(path)
    for name in sheets:
        ws = wb.add_worksheet(name)
        if name.startswith("空"):
            continue
        ws.write_row(0, 0, ["户编号", "姓名", "证件号码", "收入"])
        for i in range(rows):
            ws.write_row(i + 1, 0, [f"00{i}", "张三", ID])
            if formulas:
                ws.write_formula(i + 1, 3, "=1/0", None, "#DIV/0!")
            else:
                ws.write_number(i + 1, 3, 100 + i)
    wb.close()
    return path


def _edit_sheet(path: Path, fn, member: str = "xl/worksheets/sheet1.xml") -> None:
    with zipfile.ZipFile(path) as z:
        items = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in items:
            z.writestr(name, fn(data) if name == member else data)


def _far(data: bytes, ref: bytes = b"XFD1048576") -> bytes:
    row = re.search(rb"\d+", ref).group()  # type: ignore[union-attr]
    return data.replace(b"</sheetData>", b'<row r="' + row + b'"><c r="' + ref + b'"><v>1</v></c></row></sheetData>')


def test_a_filled_cell_at_the_far_corner_is_refused_before_the_reader(tmp_path: Path) -> None:
    """One cell at XFD1048576 asks calamine for 512 GiB and aborts the process; it must never get there."""
    path = _book(tmp_path / "炸弹.xlsx")
    _edit_sheet(path, _far)
    assert path.stat().st_size < 20_000
    for read in (lambda: read_table(path), lambda: peek_headers(path)):
        with pytest.raises(InputError, match="XFD1048576") as err:
            read()
        assert "炸弹.xlsx" in str(err.value) and "人员" in str(err.value)


def test_a_lying_dimension_is_ignored_and_an_understated_one_measured(tmp_path: Path) -> None:
    path = _book(tmp_path / "a.xlsx")
    _edit_sheet(path, lambda d: re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', d))
    scan = check_sheet(path, workbook_sheets(path)[0])
    assert (scan.rows, scan.columns) == (4, 4)
    assert read_table(path).frame.height == 3
    path2 = _book(tmp_path / "b.xlsx")
    _edit_sheet(path2, lambda d: _far(re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:D4"/>', d), b"AZ999999"))
    with pytest.raises(InputError, match="AZ999999"):
        read_table(path2)


def test_a_far_cell_that_fits_the_budget_is_read(tmp_path: Path) -> None:
    path = _book(tmp_path / "a.xlsx")
    _edit_sheet(path, lambda d: _far(d, b"Z5000"))  # 5,000 × 26 cells: a stray note, not a bomb
    table = read_table(path)
    assert table.frame.height == 4 and table.headers[-1] == "列26"


def test_an_empty_formatted_cell_far_away_is_not_counted(tmp_path: Path) -> None:
    path = _book(tmp_path / "a.xlsx")
    _edit_sheet(path, lambda d: d.replace(b"</sheetData>", b'<row r="1048576"><c r="XFD1048576" s="1"/></row></sheetData>'))
    assert read_table(path).frame.height == 3


def test_tags_with_a_namespace_prefix_are_checked_too(tmp_path: Path) -> None:
    path = _book(tmp_path / "a.xlsx")

    def prefixed(data: bytes) -> bytes:
        data = _far(data)
        data = re.sub(rb"<(/?)(worksheet|sheetData|row|c|v|dimension|sheetViews|sheetView|sheetFormatPr|pageMargins)\b",
                      rb"<\1x:\2", data)
        return data.replace(b'xmlns="', b'xmlns:x="', 1)

    _edit_sheet(path, prefixed)
    with pytest.raises(InputError, match="XFD1048576"):
        check_sheet(path, workbook_sheets(path)[0])


def test_zip_bombs_are_refused(tmp_path: Path, monkeypatch) -> None:
    path = _book(tmp_path / "a.xlsx")
    monkeypatch.setattr(xlsx_guard, "RATIO_FLOOR", 1 << 20)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/media/padding.bin", bytes(4 << 20))  # 4 MB of zeros: ~1000 : 1
    with pytest.raises(InputError, match="压缩炸弹"):
        read_table(path)
    monkeypatch.setattr(xlsx_guard, "MAX_TOTAL_BYTES", 1 << 20)
    monkeypatch.setattr(xlsx_guard, "RATIO_FLOOR", 1 << 30)
    with pytest.raises(InputError, match="超过上限"):
        workbook_sheets(path)


def test_a_member_larger_than_its_directory_says_is_damaged(tmp_path: Path) -> None:
    path = _book(tmp_path / "a.xlsx")
    raw = bytearray(path.read_bytes())
    name = b"xl/worksheets/sheet1.xml"
    pos = raw.find(b"PK\x01\x02")
    while pos >= 0:
        length = int.from_bytes(raw[pos + 28: pos + 30], "little")
        if raw[pos + 46: pos + 46 + length] == name:
            raw[pos + 24: pos + 28] = (50).to_bytes(4, "little")
        pos = raw.find(b"PK\x01\x02", pos + 4)
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="压缩内容已损坏"):
        read_table(path)


def test_error_cells_are_reported_and_absent(tmp_path: Path) -> None:
    path = _book(tmp_path / "a.xlsx", formulas=True)
    table = read_table(path)
    assert table.frame["收入"].to_list() == [None, None, None]
    issues = table.issues
    assert issues.select("_row", "column", "value", "problem", "quarantined").rows() == [
        (r, "收入", "#DIV/0!", "excel_error", False) for r in (2, 3, 4)]


def test_the_sheet_with_the_data_is_named(tmp_path: Path) -> None:
    path = _book(tmp_path / "a.xlsx", sheets=("空白", "人员"))
    with pytest.raises(InputError, match="数据在工作表 “人员” 中") as err:
        read_table(path)
    assert "sheet: 人员" in str(err.value)
    with pytest.raises(InputError, match="数据在工作表 “人员” 中"):
        peek_headers(path)
    header_only = tmp_path / "b.xlsx"
    wb = xlsxwriter.Workbook(header_only)
    wb.add_worksheet("表头").write_row(0, 0, ["户编号", "姓名"])
    people = wb.add_worksheet("人员")
    people.write_row(0, 0, ["户编号", "姓名"])
    people.write_row(1, 0, ["001", "张三"])
    wb.close()
    table = read_table(header_only)
    assert table.frame.height == 0 and "“人员”" in table.hint
    assert peek_headers(header_only).header_only


def test_sheet_names_are_read_after_the_checks(tmp_path: Path) -> None:
    path = _book(tmp_path / "a.xlsx", sheets=("一", "二"))
    assert sheet_names(path) == ["一", "二"]
    (tmp_path / "b.xlsx").write_text("户编号,姓名\n", encoding="utf-8")
    with pytest.raises(InputError, match="其实是文本"):
        sheet_names(tmp_path / "b.xlsx")


@given(st.integers(min_value=0, max_value=2_000_000), st.integers(min_value=0, max_value=3_000_000))
def test_int_above(n: int, k: int) -> None:
    assert bool(re.fullmatch(_int_above(n), str(k))) == (k > n)


@given(st.integers(min_value=1, max_value=16384), st.integers(min_value=1, max_value=20000))
def test_letters_above(n: int, k: int) -> None:
    assert bool(re.fullmatch(_letters_above(col_letters(n)), col_letters(k))) == (k > n)


# ---- what a file really is -------------------------------------------------------------------------------


@pytest.mark.parametrize(("content", "kind"), [
    (b"", "empty"), ("户编号,姓名\n1,张三\n".encode("gb18030"), "text"), (b"\xff\xfeA\x00B\x00", "text"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "ole"), (b"PAR1xxxx", "parquet"), (b"%PDF-1.4", "pdf"),
    (b"<html><table><tr><td>1</td></tr></table>", "html"), (b"\x89PNG\r\n", "image"), (bytes(range(32)) * 40, "binary"),
])
def test_sniff(tmp_path: Path, content: bytes, kind: str) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    assert sniff(path) == kind


def test_an_xlsx_named_csv_is_named_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "台账.csv"
    _book(tmp_path / "x.xlsx").rename(path)
    assert sniff(path) == "xlsx"
    for read in (lambda: read_table(path), lambda: peek_headers(path)):
        with pytest.raises(InputError, match=r"其实是Excel 工作簿\(\.xlsx\)"):
            read()


# ---- text: encodings decided by vote, records that cannot be read set aside ------------------------------


def _gb(*lines: str) -> bytes:
    return "".join(line + "\r\n" for line in lines).encode("gb18030")


HEADER = "户编号,姓名,证件号码"
ROWS = [f"00{k},{name},{ID}" for k, name in enumerate(["张三", "李四", "王五", "赵六", "钱七", "孙八"])]


def test_a_few_utf8_rows_in_a_gb18030_file_are_quarantined_with_their_text(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    raw = _gb(HEADER, *ROWS).split(b"\r\n")
    raw[2] = raw[2].decode("gb18030").encode("utf-8")  # even length in UTF-8: GB18030 would decode it silently
    path.write_bytes(b"\r\n".join(raw))
    assert decide_encoding(path) == ("gb18030", False)
    table = read_table(path)
    assert table.frame["姓名"].to_list() == ["张三", "王五", "赵六", "钱七", "孙八"]
    issue = table.issues.row(0, named=True)
    assert (issue["_row"], issue["problem"], issue["detail"], issue["value"]) == (3, "row_other_encoding", "UTF-8",
                                                                                 f"001,李四,{ID}")


def test_gbk_rows_in_a_utf8_file_are_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    body = "".join(line + "\n" for line in [HEADER, *ROWS]).encode("utf-8")
    path.write_bytes(body + f"009,周九,{ID}\n".encode("gb18030"))
    table = read_table(path)
    assert table.frame.height == 6 and table.quarantined == 1
    assert table.issues.row(0, named=True)["detail"] == "GB18030"


def test_a_bad_byte_inside_a_multiline_cell_quarantines_one_row(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(_gb("户编号,姓名,备注", "001,张三,好", "002,李四,\"第一行") + b"\xff\xfe" + _gb("第二行\"", "003,王五,好"))
    table = read_table(path)
    assert table.frame.select("户编号", "_row").rows() == [("001", 2), ("003", 4)]
    issue = table.issues.row(0, named=True)
    assert (issue["_row"], issue["column"], issue["problem"]) == (3, "备注", "row_undecodable")


def test_a_bad_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"\x81\x20," + _gb(*ROWS))
    with pytest.raises(InputError, match="表头"):
        read_table(path, header_rows=1)


def test_conversion_does_not_depend_on_the_read_size(tmp_path: Path, monkeypatch) -> None:
    """Tiny reads split lines, CR LF pairs and multi-byte characters: the copy and its bad rows stay the same."""
    path = tmp_path / "a.csv"
    lines = _gb(HEADER, *ROWS, "007,\"多行\r\n备注\",x").split(b"\r\n")
    lines[3] = lines[3] + b"\xff"
    lines[5] = lines[5].decode("gb18030").encode("utf-8")
    path.write_bytes(b"\r".join(lines[:4]) + b"\r\n" + b"\n".join(lines[4:]))

    def convert() -> tuple[str, list]:
        with prepared_text(path, "auto", tmp_path) as prepared:
            return prepared.path.read_text(encoding="utf-8"), prepared.bad

    expected = convert()
    for size in (1, 2, 3, 7, 64):
        monkeypatch.setattr(text, "_CHUNK", size)
        assert convert() == expected
    assert [b.problem for b in expected[1]] == ["row_undecodable", "row_other_encoding"]
    assert expected[0].count(MARKER) == 2 and "\r" not in expected[0].replace("\r\n", "")


def test_cr_only_line_ends_are_read(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(_gb(HEADER, *ROWS).replace(b"\r\n", b"\r"))
    table = read_table(path)
    assert table.frame.height == 6 and table.frame["_row"].to_list() == [2, 3, 4, 5, 6, 7]
    header = peek_headers(path)
    assert header.headers == ["户编号", "姓名", "证件号码"] and header.data_rows == 6


def test_big5_is_refused_auto_and_when_configured_as_gbk(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(("鄉鎮,戶主,致貧原因\r\n" + "文星鎮,李祥輝,缺資金 產業幫扶 教育資助 醫療救助\r\n" * 6).encode("big5"))
    for encoding in ("auto", "gbk"):
        with pytest.raises(InputError, match="Big5"):
            read_table(path, encoding=encoding)
        with pytest.raises(InputError, match="Big5"):
            peek_headers(path, encoding=encoding)
    assert read_table(path, encoding="big5").frame["戶主"].to_list() == ["李祥輝"] * 6


def test_many_bad_rows_refuse_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    # most lines read (the file is GB18030), but more than a fifth do not: not a file to read with holes in it
    path.write_bytes(_gb(HEADER, *ROWS * 2) + b"".join(b"00%d,\xff\xfe\xfd,1\r\n" % k for k in range(5)))
    with pytest.raises(InputError, match="无法按"):
        read_table(path)


# ---- quarantine after parsing ----------------------------------------------------------------------------


def test_unbalanced_quotes_quarantine_every_swallowed_line_and_keep_later_numbers(tmp_path: Path) -> None:
    header = "户编号,姓名,证件号码,村,组,备注,日期"
    rows = [f"00{k},人{k},{ID},东湖村,{k}组,,2020-01-0{k}" for k in range(1, 10)]
    rows[1] = rows[1].replace(",人2,", ',"人2,')  # opens at row 3, closes in row 5
    rows[3] = rows[3].replace(",东湖村,", ',东湖"村,')
    rows[6] = rows[6].replace(",人7,", ',"人7,')  # opens at row 8, runs to the end
    path = tmp_path / "a.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    table = read_table(path)
    assert table.frame.select("户编号", "_row").rows() == [("001", 2), ("005", 6), ("006", 7)]
    issues = table.issues
    assert issues.select("_row", "problem").rows() == [
        (3, "unbalanced_quote"), (4, "swallowed_row"), (5, "swallowed_row"),
        (8, "unbalanced_quote"), (9, "swallowed_row"), (10, "swallowed_row")]
    assert issues["value"][1].startswith("003,人3,")
    assert table.quarantined == 6 and table.frame.height + table.quarantined == len(rows)


def test_a_bad_row_below_a_swallow_keeps_its_line_number(tmp_path: Path) -> None:
    header = "户编号,姓名,证件号码,村,组,备注,日期"
    rows = [f"00{k},人{k},{ID},东湖村,{k}组,,2020-01-0{k}" for k in range(1, 8)]
    rows[1] = rows[1].replace(",人2,", ',"人2,')  # opens at line 3, closes in line 5
    rows[3] = rows[3].replace(",东湖村,", ',东湖"村,')
    path = tmp_path / "a.csv"
    path.write_bytes(("\n".join([header, *rows]) + "\n").encode("utf-8").replace("人6".encode(), b"\xff\xfe"))
    table = read_table(path)
    assert table.issues.select("_row", "problem").rows() == [
        (3, "unbalanced_quote"), (4, "swallowed_row"), (5, "swallowed_row"), (7, "row_undecodable")]
    assert table.frame.select("户编号", "_row").rows() == [("001", 2), ("005", 6), ("007", 8)]


def test_a_line_break_in_a_real_cell_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('户编号,姓名,备注\n001,张三,"家中两人外出务工,\n一人在读,一人患病"\n002,李四,\n', encoding="utf-8")
    table = read_table(path)
    assert table.frame.height == 2 and table.issues.height == 0


def test_cells_over_128_kib_quarantine_their_row(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(f"户编号,姓名,备注\n001,张三,{'很' * 50_000}\n002,李四,{'x' * 100_000}\n", encoding="utf-8")
    table = read_table(path)
    assert table.frame["户编号"].to_list() == ["002"]
    issue = table.issues.row(0, named=True)
    assert (issue["_row"], issue["column"], issue["problem"], issue["detail"]) == (2, "备注", "cell_too_long", "146 KB")
    assert len(issue["value"]) < 80


def test_excel_error_values_in_a_csv_are_absent_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('户编号,收入,人均\n001,#DIV/0!,="#N/A"\n002, #REF! ,12\n', encoding="utf-8")
    table = read_table(path)
    assert table.frame.select("收入", "人均").rows() == [(None, None), (None, "12")]
    assert table.issues.select("_row", "column", "value").rows() == [(2, "收入", "#DIV/0!"), (2, "人均", '="#N/A"'),
                                                                    (3, "收入", "#REF!")]


def test_shown_cuts_and_makes_line_breaks_visible() -> None:
    assert quarantine.shown("a\r\nb") == "a⏎b"
    assert quarantine.shown("x" * 100, 10) == "x" * 10 + "…(共 100 个字符)"


# ---- header-only files, counts, and what validate reports ------------------------------------------------


def test_peek_counts_data_rows_only_when_it_saw_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(f"{HEADER}\n\n,,\n", encoding="utf-8")
    assert peek_headers(path).header_only
    path.write_text(f"{HEADER}\n" + "".join(f"{r}\n" for r in ROWS * 2000), encoding="utf-8")
    assert peek_headers(path).data_rows is None


@pytest.fixture
def county(tmp_path: Path):
    """A system export and an archive, as a config for the load stage."""
    from reconcile.config import load_config

    (tmp_path / "系统.csv").write_bytes(_gb("户编号,姓名,证件号码,与户主关系", *[f"{r},户主" for r in ROWS]))
    (tmp_path / "台账.csv").write_text("户编号,户主姓名,村\n001,李四,东湖村\n", encoding="utf-8")
    (tmp_path / "reconcile.yaml").write_text(
        "region: 测试县\nyear: 2020\noutput: out/\nsources:\n"
        "  system: {path: 系统.csv, role: system, level: person}\n"
        "  archive: {path: 台账.csv, role: archive, level: household}\n", encoding="utf-8")
    return lambda: load_config(tmp_path / "reconcile.yaml")


def _load(config, tmp_path: Path):
    from reconcile.load import load
    from reconcile.validate import validate

    con = duckdb.connect()
    report = load(con, config, tmp_path)
    return con, report, validate(con)


def test_load_counts_loaded_and_quarantined_rows(county, tmp_path: Path) -> None:
    (tmp_path / "系统.csv").write_bytes(_gb("户编号,姓名,证件号码,与户主关系", *[f"{r},户主" for r in ROWS])
                                       .replace("李四".encode("gb18030"), b"\xff\xff"))
    con, report, issues = _load(county(), tmp_path)
    system = next(r for r in report if r["owner"] == "system")
    assert (system["rows"], system["quarantined"]) == (5, 1)
    stored = con.execute("select rows, quarantined from load_report where owner = 'system'").fetchall()
    assert stored == [(5, 1)]
    row = issues.filter(pl.col("quarantined")).row(0, named=True)
    assert (row["source"], row["row"], row["column"], row["field"], row["problem"], row["severity"]) == (
        "system", 3, "姓名", "name", "row_undecodable", "error")
    assert row["message"].startswith("文件 系统.csv 第 3 行「姓名」列: 该行有无法解码的字节(gb18030:0xFF),整行已隔离")
    assert issues.filter(~pl.col("quarantined")).height == 0


def test_a_header_only_system_export_is_refused(county, tmp_path: Path) -> None:
    (tmp_path / "系统.csv").write_bytes(_gb("户编号,姓名,证件号码,与户主关系"))
    with pytest.raises(InputError, match="只有表头,没有数据行"):
        _load(county(), tmp_path)


def test_a_header_only_optional_file_is_reported_and_left_out(county, tmp_path: Path) -> None:
    from reconcile.plan import compile_plan

    (tmp_path / "台账.csv").write_text("户编号,户主姓名,村\n\n", encoding="utf-8")
    config = county()
    con, report, issues = _load(config, tmp_path)
    assert con.execute("select count(*) from raw_household where source = 'archive'").fetchall() == [(0,)]
    row = issues.row(0, named=True)
    assert (row["problem"], row["severity"], row["row"]) == ("header_only", "warning", 1)
    assert "本次核查不使用该文件" in row["message"]
    # with a run plan, the file is left out of it, as if the plan had found it unreadable
    from reconcile.load import load

    plan = compile_plan(config, check_rules=False)
    con = duckdb.connect()
    plan.write(con)
    load(con, config, tmp_path, plan)
    assert plan.files["archive"].usage == "excluded" and "只有表头" in (plan.files["archive"].reason or "")
    assert con.execute("select usage from plan_file where owner = 'archive'").fetchall() == [("excluded",)]
