"""Readers: encodings, CSV, Excel (numeric IDs, merged headers), Parquet, folders.

Every fixture is generated here, in tmp_path; no binary fixture is committed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from reconcile.errors import InputError
from reconcile.load import encoding as enc_mod
from reconcile.load.encoding import transcode_to_utf8
from reconcile.load.readers import EXTRA, read_table
from reconcile.load.text import detect_encoding

ID_A = "430624198001011234"
ID_B = "43062419800101123X"
ID_C = "110101199003074518"


def _rows(table, *cols: str) -> list[tuple]:
    frame = table if isinstance(table, pl.DataFrame) else table.frame
    return frame.select(*cols).rows()


# ---- encodings ---------------------------------------------------------------------------------


def _big_gb_csv(path: Path) -> int:
    """A GB18030 CSV whose first >1 MB is pure ASCII; the Chinese rows come last."""
    head = "xm,zjhm,bm\n"
    filler = "".join(f"a{i},{ID_C},{i:06d}\n" for i in range(60_000))
    tail = (
        "王小明,430624198001011234,000123\n李䶮,43062419800101123X,000124\n张𠀀,110101199003074518,000125\n"
    )
    data = (head + filler).encode("ascii") + tail.encode("gb18030")
    path.write_bytes(data)
    return len((head + filler).encode("ascii"))


def test_gb18030_detected_from_bytes_late_in_a_big_file(tmp_path: Path) -> None:
    path = tmp_path / "系统导出.csv"
    ascii_len = _big_gb_csv(path)
    assert ascii_len > 1 << 20  # a 1 MB sample would look like UTF-8
    path.read_bytes()[: 1 << 20].decode("utf-8")
    assert detect_encoding(path) == "gb18030"


def test_gb18030_csv_reads_rare_name_characters(tmp_path: Path) -> None:
    path = tmp_path / "系统导出.csv"
    _big_gb_csv(path)
    work = tmp_path / "work"
    work.mkdir()
    table = read_table(path, work_dir=work)
    assert table.encoding == "gb18030"
    assert table.headers == ["xm", "zjhm", "bm"]
    tail = table.frame.tail(3)
    assert _rows(tail, "xm", "zjhm", "bm", "_row") == [
        ("王小明", ID_A, "000123", 60_002),
        ("李䶮", ID_B, "000124", 60_003),
        ("张𠀀", ID_C, "000125", 60_004),
    ]
    assert table.frame["bm"][0] == "000000"
    assert list(work.iterdir()) == []  # the transcoded copy is removed


def test_gbk_name_in_config_reads_as_gb18030(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes("姓名,证件号码\n李䶮,1\n".encode("gb18030"))
    table = read_table(path, encoding="GBK")
    assert table.encoding == "gb18030"
    assert table.frame["姓名"].to_list() == ["李䶮"]


def test_utf8_bom_with_crlf(tmp_path: Path) -> None:
    path = tmp_path / "入户核查.csv"
    path.write_bytes("\ufeff户编号,户主姓名\r\n000123,张三\r\n000124,李四\r\n".encode())
    assert detect_encoding(path) == "utf-8-sig"
    table = read_table(path)
    assert table.encoding == "utf-8-sig"
    assert table.headers == ["户编号", "户主姓名"]
    assert _rows(table, "户编号", "户主姓名", "_row") == [("000123", "张三", 2), ("000124", "李四", 3)]


def test_excel_unicode_text_export_is_utf16_tab_separated(tmp_path: Path) -> None:
    path = tmp_path / "导出.txt"
    path.write_bytes("姓名\t证件号码\r\n李䶮\t430624198001011234\r\n".encode("utf-16"))
    table = read_table(path)
    assert table.encoding == "utf-16"
    assert _rows(table, "姓名", "证件号码", "_row") == [("李䶮", ID_A, 2)]


def test_no_header_rows(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("001,张三\n002,李四\n", encoding="utf-8")
    table = read_table(path, header_rows=0)
    assert table.header_row == 0
    assert table.headers == ["列1", "列2"]
    assert _rows(table, "列1", "_row") == [("001", 1), ("002", 2)]


def test_plain_utf8(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("姓名\n张三\n", encoding="utf-8")
    assert detect_encoding(path) == "utf-8"


def test_undecodable_byte_quarantines_its_row(tmp_path: Path) -> None:
    """A bad byte no longer stops the read at "第 N 字节": its row is set aside with its row and column, the rest
    is read (issue 16)."""
    prefix = "姓名,证件号码\n张三,1\n".encode()
    path = tmp_path / "坏文件.csv"
    path.write_bytes(prefix + "李四,".encode() + b"\xff\xfe\xfftail\n" + "王五,3\n".encode())
    assert detect_encoding(path) == "utf-8"
    table = read_table(path)
    assert _rows(table, "姓名", "证件号码", "_row") == [("张三", "1", 2), ("王五", "3", 4)]
    issue = table.issues.row(0, named=True)
    assert (issue["_row"], issue["column"], issue["problem"], issue["quarantined"]) == (3, "证件号码", "row_undecodable",
                                                                                        True)
    assert issue["value"] == "李四,\\xff\\xfe\\xfftail" and issue["detail"] == "utf-8:0xFF"
    assert table.quarantined == 1


def test_offsets_are_exact_across_chunk_boundaries(tmp_path: Path, monkeypatch) -> None:
    # Tiny chunks split multi-byte characters; the offset must still count from the file start.
    good = "王小明李䶮张𠀀\n".encode("gb18030") * 3
    path = tmp_path / "gb.csv"
    path.write_bytes(good + b"\x81\x20" + b"x")  # 0x81 needs a trail byte, 0x20 is not one
    monkeypatch.setattr(enc_mod, "_CHUNK", 5)
    with pytest.raises(InputError, match=f"第 {len(good)} 字节"):
        transcode_to_utf8(path, "gb18030", tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()
    path.write_bytes(good)
    out = transcode_to_utf8(path, "gb18030", tmp_path / "out.csv")
    assert out.read_text(encoding="utf-8") == "王小明李䶮张𠀀\n" * 3


# ---- CSV -------------------------------------------------------------------------------------------


def test_csv_cells_kept_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "手册.csv"
    path.write_text(
        '户编号,证件号码,金额\n000123,="430624198001011234",1,200.00\n'
        '="000124","43062419800101123x ",4.30624E+17\n',
        encoding="utf-8",
    )
    table = read_table(path)
    # The first data line has one field too many ("1,200.00" unquoted): kept in __extra__.
    assert _rows(table, "户编号", "证件号码", "金额", EXTRA) == [
        ("000123", '="430624198001011234"', "1", "200.00"),
        ('="000124"', "43062419800101123x ", "4.30624E+17", None),
    ]


def _wrapped_line(cells: list[str]) -> str:
    """A checker's CSV line: every cell `="…"`; a cell with a comma CSV-quoted, its quotes doubled."""
    out = []
    for cell in cells:
        wrapped = f'="{cell}"'
        out.append('"' + wrapped.replace('"', '""') + '"' if "," in cell else wrapped)
    return ",".join(out)


@pytest.mark.parametrize("header_rows", [None, 2])
def test_csv_every_cell_wrapped_with_a_title_row(tmp_path: Path, header_rows: int | None) -> None:
    path = tmp_path / "国家系统导出.csv"
    lines = [
        _wrapped_line(["XX县建档立卡人口信息表", "", "", ""]),
        _wrapped_line(["户编号", "姓名", "证件号码", "帮扶措施"]),
        _wrapped_line(["000123", "张三", ID_A, "产业帮扶,技能培训"]),
        _wrapped_line(["", "", "", ""]),  # an empty record as the checker writes it
        _wrapped_line(["000124", "", ID_B, ""]),
    ]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gb18030"))
    table = read_table(path, header_rows=header_rows)
    assert table.encoding == "gb18030" and table.header_row == 2
    assert table.headers == ["户编号", "姓名", "证件号码", "帮扶措施"]
    # data cells as written (the normalisers peel them); wrapped nothing is empty; the empty record is gone
    assert _rows(table, "户编号", "姓名", "证件号码", "帮扶措施", "_row") == [
        ('="000123"', '="张三"', f'="{ID_A}"', '="产业帮扶,技能培训"', 3),
        ('="000124"', None, f'="{ID_B}"', None, 5),
    ]


def test_cells_with_only_invisible_characters_are_empty(tmp_path: Path) -> None:
    path = tmp_path / "台账.csv"
    path.write_text("\ufeff户编号\u200b,'姓名,备注\n001,\u00a0,\u3000\u200b\n\u2060,\ufeff,=\"\"\n002,'张三, 备注 \n",
                    encoding="utf-8")
    table = read_table(path)
    assert table.headers == ["户编号", "姓名", "备注"]
    assert _rows(table, "户编号", "姓名", "备注", "_row") == [("001", None, None, 2), ("002", "'张三", " 备注 ", 4)]


def test_xlsx_wrapped_title_and_header(tmp_path: Path) -> None:
    path = tmp_path / "导出.xlsx"
    wb = xlsxwriter.Workbook(path, {"strings_to_formulas": False})
    ws = wb.add_worksheet()
    for col, (title, header, value) in enumerate(zip(['="XX县人口信息"', '=""', '=""'],
                                                     ['="姓名"', "'证件号码", '=" 户编号 "'],
                                                     ['="张三"', f"'{ID_A}", '=""'], strict=True)):
        ws.write_string(0, col, title)
        ws.write_string(1, col, header)
        ws.write_string(2, col, value)
    wb.close()
    table = read_table(path)
    assert table.header_row == 2 and table.headers == ["姓名", "证件号码", "户编号"]
    assert _rows(table, "姓名", "证件号码", "户编号") == [('="张三"', f"'{ID_A}", None)]


@pytest.mark.parametrize("sep", ["\t", ";", "|", ","])
def test_csv_delimiter_sniffed(tmp_path: Path, sep: str) -> None:
    path = tmp_path / "a.txt"
    path.write_text(
        sep.join(["姓名", "证件号码", "地址"]) + "\n" + sep.join(["张三", ID_A, "某村,3组"]) + "\n",
        encoding="utf-8",
    )
    if sep == ",":
        path.write_text('姓名,证件号码,地址\n张三,430624198001011234,"某村,3组"\n', encoding="utf-8")
    table = read_table(path)
    assert table.headers == ["姓名", "证件号码", "地址"]
    assert _rows(table, "姓名", "证件号码", "地址") == [("张三", ID_A, "某村,3组")]


def test_csv_title_line_blank_rows_and_ragged_short_rows(tmp_path: Path) -> None:
    path = tmp_path / "台账.csv"
    path.write_text(
        "XX县建档立卡户台账,,\n户编号,户主姓名,人口\n001,张三,4\n,,\n\n002,李四\n003,王五,3\n",
        encoding="utf-8",
    )
    table = read_table(path)
    assert table.header_row == 2
    assert table.headers == ["户编号", "户主姓名", "人口"]
    assert _rows(table, "户编号", "户主姓名", "人口", "_row") == [
        ("001", "张三", "4", 3),
        ("002", "李四", None, 6),
        ("003", "王五", "3", 7),
    ]
    assert EXTRA not in table.frame.columns


def test_csv_skip_rows_and_header_rows(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "导出时间:2021-01-05\n说明\n户编号,家庭收入,\n,工资性收入,转移性收入\n000123,1,2\n", encoding="utf-8"
    )
    table = read_table(path, skip_rows=2, header_rows=2)
    assert table.headers == ["户编号", "家庭收入_工资性收入", "家庭收入_转移性收入"]
    assert _rows(table, "户编号", "_row") == [("000123", 5)]
    assert table.header_row == 4


def test_csv_header_only_and_empty(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("姓名,证件号码\n", encoding="utf-8")
    table = read_table(path)
    assert table.frame.height == 0 and table.headers == ["姓名", "证件号码"]
    empty = tmp_path / "b.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="b.csv"):
        read_table(empty)


def test_duplicate_and_blank_headers(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("姓名,,姓名,_row\n张三,x,李四,9\n", encoding="utf-8")
    table = read_table(path)
    assert table.headers == ["姓名", "列2", "姓名_2", "_row_2"]
    assert table.frame["_row"].to_list() == [2]


# ---- Excel ------------------------------------------------------------------------------------------


def _national_xlsx(path: Path, late_number_row: int | None = None) -> None:
    """Title row, two-row merged header, IDs as text except one stored as a number."""
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("人口信息")
    wb.add_worksheet("说明")
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.merge_range(0, 0, 0, 6, "XX县建档立卡人口信息表")
    for col, label in enumerate(["姓名", "证件号码", "户编号"]):
        ws.merge_range(1, col, 2, col, label)
    ws.merge_range(1, 3, 1, 4, "家庭收入")
    ws.write(2, 3, "工资性收入")
    ws.write(2, 4, "转移性收入")
    ws.merge_range(1, 5, 2, 5, "出生日期")
    ws.merge_range(1, 6, 2, 6, "家庭人口数")
    ws.write_string(3, 0, "张三")
    ws.write_string(3, 1, ID_A)
    ws.write_string(3, 2, "000123")
    ws.write_number(3, 3, 12000.5)
    ws.write_number(3, 4, 300)
    ws.write_datetime(3, 5, dt.datetime(2020, 1, 5), date_fmt)
    ws.write_number(3, 6, 4.0)
    ws.write_string(4, 0, "李四")
    ws.write_number(4, 1, 430624198001011234)  # Excel keeps ~15 digits: the last ones are lost
    ws.write_string(4, 2, "000123")
    ws.write_string(4, 5, "1980/1/2")
    # row 6 (index 5) left blank: not data, but later rows keep their Excel numbers
    ws.write_string(6, 0, "王五")
    ws.write_string(6, 1, ID_B)
    ws.write_string(6, 2, "000124")
    ws.write_boolean(6, 6, True)
    if late_number_row is not None:
        for r in range(7, late_number_row):
            ws.write_string(r, 0, f"人{r}")
            ws.write_string(r, 1, ID_C)
        ws.write_string(late_number_row, 0, "赵六")
        ws.write_number(late_number_row, 1, 110101199003074518)
    wb.close()


@pytest.mark.parametrize("header_rows", [None, 3])
def test_xlsx_title_merged_header_and_numeric_id(tmp_path: Path, header_rows: int | None) -> None:
    path = tmp_path / "国家系统导出.xlsx"
    _national_xlsx(path)
    table = read_table(path, header_rows=header_rows, text_sensitive=["证件号码", "户主证件号码"])
    assert table.headers == [
        "姓名",
        "证件号码",
        "户编号",
        "家庭收入_工资性收入",
        "家庭收入_转移性收入",
        "出生日期",
        "家庭人口数",
    ]
    assert table.header_row == 3
    assert table.encoding is None
    assert table.frame.schema["_row"] == pl.Int64
    assert all(table.frame.schema[h] == pl.String for h in table.headers)
    rows = _rows(
        table,
        "姓名",
        "证件号码",
        "户编号",
        "家庭收入_工资性收入",
        "家庭收入_转移性收入",
        "出生日期",
        "家庭人口数",
        "_file",
        "_sheet",
        "_row",
    )
    assert rows == [
        ("张三", ID_A, "000123", "12000.5", "300", "2020-01-05", "4", "国家系统导出.xlsx", "人口信息", 4),
        (
            "李四",
            "430624198001011328",
            "000123",
            None,
            None,
            "1980/1/2",
            None,
            "国家系统导出.xlsx",
            "人口信息",
            5,
        ),
        ("王五", ID_B, "000124", None, None, None, "true", "国家系统导出.xlsx", "人口信息", 7),
    ]
    assert table.numeric_cells.rows() == [("国家系统导出.xlsx", "人口信息", 5, "证件号码")]


def test_xlsx_numeric_cell_found_beyond_the_type_sample(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    _national_xlsx(path, late_number_row=2500)
    table = read_table(path, header_rows=3, text_sensitive=["证件号码"])
    assert table.numeric_cells["_row"].to_list() == [5, 2501]
    late = table.frame.filter(pl.col("_row") == 2501)
    [value] = late["证件号码"].to_list()
    # all 18 digits, not "1.10101199003075e+17"; the first 15 survive, the tail is invented
    assert value.isdigit() and len(value) == 18 and value[:15] == ID_C[:15] and value != ID_C
    assert table.frame.filter(pl.col("证件号码") == ID_C).height == 2500 - 7


def test_xlsx_only_number_cells_count_as_numeric(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["户主证件号码", "备注"])
    ws.write_string(1, 0, "true")
    ws.write_boolean(2, 0, True)
    ws.write_datetime(3, 0, dt.datetime(2020, 1, 5), wb.add_format({"num_format": "yyyy-mm-dd"}))
    ws.write_string(4, 0, "1")
    ws.write_number(5, 0, 0)
    ws.write_formula(6, 0, "=1+2", None, 3)
    ws.write_number(7, 1, 5)
    wb.close()
    table = read_table(path, text_sensitive=["户主证件号码"])
    assert table.frame["户主证件号码"].to_list() == ["true", "true", "2020-01-05", "1", "0", "3", None]
    assert table.numeric_cells["_row"].to_list() == [6, 7]


def test_xlsx_table_starting_at_column_c_keeps_each_cell_in_its_column(tmp_path: Path) -> None:
    """The reader drops empty leading columns; a cell's column is still its place in the sheet: the ID stored as a
    number in column D is found there in the sheet XML, and the error cell in E is said of 备注."""
    path = tmp_path / "a.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet()
    ws.write_row(1, 2, ["姓名", "证件号码", "备注"])
    ws.write_row(2, 2, ["王明", ID_C, "甲"])
    ws.write_string(3, 2, "李芳")
    ws.write_number(3, 3, 110101199003075000)
    ws.write_formula(3, 4, "=1/0", None, "#DIV/0!")
    wb.close()
    table = read_table(path, text_sensitive=["证件号码"])
    assert table.frame.select("姓名", "证件号码").rows() == [("王明", ID_C), ("李芳", "110101199003075008")]
    assert table.numeric_cells.select("_row", "column").rows() == [(4, "证件号码")]
    assert table.issues.select("_row", "column").rows() == [(4, "备注")]


def test_xlsx_without_text_sensitive_columns_reports_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    _national_xlsx(path)
    assert read_table(path).numeric_cells.height == 0


def test_xlsx_two_row_header_with_header_rows_2_and_skip(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    _national_xlsx(path)
    table = read_table(path, skip_rows=1, header_rows=2)
    assert table.headers[3:5] == ["家庭收入_工资性收入", "家庭收入_转移性收入"]
    assert table.frame["_row"].to_list() == [4, 5, 7]


def test_xlsx_sheet_by_name_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    _national_xlsx(path)
    assert read_table(path, sheet="人口信息").frame.height == 3
    with pytest.raises(InputError, match="人口信息、说明") as err:
        read_table(path, sheet="人口")
    assert "a.xlsx" in str(err.value) and "人口信息" in str(err.value)
    with pytest.raises(InputError, match="第 5 个工作表"):
        read_table(path, sheet=5)
    with pytest.raises(InputError, match="找不到表头"):
        read_table(path, sheet="说明")


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="不存在"):
        read_table(tmp_path / "没有.xlsx")
    bad = tmp_path / "坏.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="坏.xlsx"):
        read_table(bad)
    odd = tmp_path / "a.json"
    odd.write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match="a.json"):
        read_table(odd)


# ---- Parquet and folders ---------------------------------------------------------------------------


def test_parquet_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    pl.DataFrame(
        {
            "户编号": ["000123", None],
            "人口": [4, 3],
            "收入": [4.0, 1234.5],
            "日期": [dt.date(2020, 1, 5), None],
            "低保": [True, False],
        }
    ).write_parquet(path)
    table = read_table(path)
    assert table.headers == ["户编号", "人口", "收入", "日期", "低保"]
    assert all(dtype == pl.String for name, dtype in table.frame.schema.items() if name != "_row")
    assert _rows(table, "户编号", "人口", "收入", "日期", "低保", "_row") == [
        ("000123", "4", "4", "2020-01-05", "true", 2),
        (None, "3", "1234.5", None, "false", 3),
    ]


def test_folder_of_same_layout_files(tmp_path: Path) -> None:
    folder = tmp_path / "台账"
    (folder / "二组").mkdir(parents=True)
    (folder / "一组.csv").write_text("户编号,户主姓名\n001,张三\n", encoding="utf-8")
    (folder / "二组" / "台账.csv").write_bytes("户主姓名,户编号\n李䶮,002\n王五,003\n".encode("gb18030"))
    (folder / ".隐藏.csv").write_text("x\n1\n", encoding="utf-8")
    (folder / "~$一组.xlsx").write_bytes(b"lock")
    (folder / "说明.docx").write_bytes(b"not data")
    table = read_table(folder)
    assert table.headers == ["户编号", "户主姓名"]
    assert _rows(table, "户编号", "户主姓名", "_file", "_row") == [
        ("001", "张三", "一组.csv", 2),
        ("002", "李䶮", "二组/台账.csv", 2),
        ("003", "王五", "二组/台账.csv", 3),
    ]
    assert table.encoding == "gb18030,utf-8"


def test_folder_with_different_layout(tmp_path: Path) -> None:
    folder = tmp_path / "台账"
    folder.mkdir()
    (folder / "一组.csv").write_text("户编号,户主姓名\n001,张三\n", encoding="utf-8")
    (folder / "二组.csv").write_text("户编号,户主\n002,李四\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_table(folder)
    message = str(err.value)
    for part in ("一组.csv", "二组.csv", "户主姓名", "户主"):
        assert part in message
    empty = tmp_path / "空"
    empty.mkdir()
    with pytest.raises(InputError, match="没有可读取"):
        read_table(empty)


@pytest.mark.parametrize(("name", "content", "words"), [
    ("国家系统导出.xlsx", b"PK\x03\x04 this is not really a workbook", "无法读取 Excel 文件"),  # a broken zip
    ("国家系统导出.xlsx", "户编号,姓名\n1,张三\n".encode(), "无法读取 Excel 文件"),  # a CSV renamed .xlsx
    ("村级台账.parquet", b"PAR1 broken", "无法读取 Parquet 文件"),
])
def test_a_broken_file_is_named_in_chinese_without_library_text(tmp_path: Path, name, content, words) -> None:
    """The library's own message (calamine's "Zip error") stays out of what people read; the file is named and
    what to do is said."""
    import re

    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_table(path)
    message = str(err.value)
    assert words in message and name in message
    assert not re.search(r"calamine|Zip|error|Error|NUL|line contains", message.replace(str(path), "")), message


def _rewrite_sheet(path: Path, fn) -> None:
    import zipfile

    with zipfile.ZipFile(path) as z:
        items = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in items:
            z.writestr(name, fn(data) if name == "xl/worksheets/sheet1.xml" else data)


def _mixed_cells(path: Path) -> None:
    wb = xlsxwriter.Workbook(path, {"strings_to_numbers": False})
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["证件号码", "户编号", "备注"])
    date_fmt, time_fmt = wb.add_format({"num_format": "yyyy-mm-dd"}), wb.add_format({"num_format": "hh:mm:ss"})
    cells = [("s", "true"), ("b", True), ("d", dt.datetime(2020, 1, 5)), ("t", dt.datetime(1899, 12, 31, 13, 30)),
             ("s", "1"), ("n", 0), ("f", 3), ("n", 430624198001011234), ("s", ID_A), ("n", -5.5), ("e", None)]
    for i, (kind, value) in enumerate(cells, start=1):
        for col in (0, 1):
            if kind == "s":
                ws.write_string(i, col, value)
            elif kind == "b":
                ws.write_boolean(i, col, value)
            elif kind == "d":
                ws.write_datetime(i, col, value, date_fmt)
            elif kind == "t":
                ws.write_datetime(i, col, value, time_fmt)
            elif kind == "n":
                ws.write_number(i, col, value)
            elif kind == "f":
                ws.write_formula(i, col, "=1+2", None, value)
            else:
                ws.write_formula(i, col, "=1/0", None, "#DIV/0!")
        ws.write_number(i, 2, i)  # numbers in a column that is not text-sensitive are not reported
    wb.close()


def _prefixed_reordered(data: bytes) -> bytes:
    """Another writer's sheet XML: a namespace prefix on every tag, `t` before `r`, an explicit `t="n"`, inline
    strings and a cell with no value."""
    import re

    data = re.sub(rb'<c r="([A-Z]+[0-9]+)"( s="[0-9]+")? t="([a-z]+)"', rb'<c t="\3" r="\1"\2', data)
    data = re.sub(rb'<c r="(B[0-9]+)"( s="[0-9]+")?>(<v>)', rb'<c r="\1"\2 t="n">\3', data)
    data, inlined = re.subn(rb'<c t="s" r="A2"><v>[0-9]+</v></c>', b'<c t="inlineStr" r="A2"><is><t>true</t></is></c>',
                            data)
    assert inlined == 1
    data = re.sub(rb"<(/?)(worksheet|sheetData|row|c|v|f|is|t|dimension|sheetViews|sheetView|sheetFormatPr|"
                  rb"pageMargins|cols|col)\b", rb"<\1x:\2", data)
    return data.replace(b'xmlns="', b'xmlns:x="', 1).replace(b"</x:sheetData>", b'<x:row r="13"><x:c r="A13" s="0">'
                                                              b"</x:c></x:row></x:sheetData>")


@pytest.mark.parametrize("build", ["national", "late", "mixed", "prefixed"])
def test_the_sheet_xml_tells_the_number_cells_the_type_parse_tells(tmp_path: Path, build: str, monkeypatch) -> None:
    """Number cells in text-sensitive columns come from the sheet XML (issue 18: no second parse of the sheet);
    for every kind of cell (text, boolean, date, time, formula, error, negative and 18-digit numbers), for another
    writer's XML, and beyond any type sample, they are the cells calamine's type parse finds."""
    from reconcile.load import readers

    path = tmp_path / "a.xlsx"
    sensitive = ["证件号码", "户编号", "户主证件号码"]
    if build in ("national", "late"):
        _national_xlsx(path, late_number_row=2500 if build == "late" else None)
    else:
        _mixed_cells(path)
        if build == "prefixed":
            _rewrite_sheet(path, _prefixed_reordered)
    from_xml = read_table(path, text_sensitive=sensitive)
    monkeypatch.setattr(readers, "needs_type_parse", lambda scan: True)
    from_parse = read_table(path, text_sensitive=sensitive)
    assert from_xml.frame.equals(from_parse.frame)
    assert from_xml.numeric_cells.equals(from_parse.numeric_cells)
    assert from_xml.numeric_cells.height >= (2 if build != "national" else 1)
    if build == "mixed":  # 0, 3 (a formula), the 18-digit number and -5.5, in both columns
        assert from_xml.numeric_cells.rows() == [("a.xlsx", "Sheet1", r, c) for r in (7, 8, 9, 11)
                                                 for c in ("户编号", "证件号码")]
