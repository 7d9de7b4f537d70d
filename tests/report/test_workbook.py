"""Golden tests of every sheet of 核查报告.xlsx (a tiny fixed county, a fixed clock), plus layout checks."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import polars as pl
import pytest

from reconcile.report.data import collect
from reconcile.report.workbook import SHEET_NAMES, write_report_workbook, write_township_workbooks
from reconcile.report.xlsx import safe_sheet_name

from .fixture import CLOCK, build
from .golden import check_golden, sheet_rows, to_csv


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    folder = tmp_path_factory.mktemp("county")
    con, config = build(folder)
    data = collect(con, config, CLOCK[1])
    yield folder, con, config, data
    con.close()


@pytest.fixture(scope="module")
def workbook(county):
    folder, _, _, data = county
    return write_report_workbook(data, folder / "核查报告.xlsx")


@pytest.mark.parametrize("sheet", SHEET_NAMES)
def test_sheet_matches_golden(workbook, sheet):
    check_golden(f"{sheet}.csv", to_csv(sheet_rows(workbook, sheet)))


def test_every_sheet_is_there_in_order(workbook):
    import fastexcel

    assert fastexcel.read_excel(workbook).sheet_names == SHEET_NAMES


def _sheet_xml(path: Path, index: int) -> str:
    with zipfile.ZipFile(path) as z:
        return z.read(f"xl/worksheets/sheet{index}.xml").decode("utf-8")


def test_ledger_sheet_has_frozen_header_filter_and_fitted_widths(workbook):
    xml = _sheet_xml(workbook, SHEET_NAMES.index("问题台账") + 1)
    assert 'state="frozen"' in xml and 'ySplit="1"' in xml
    assert "<autoFilter" in xml
    widths = [float(w) for w in re.findall(r'<col [^>]*width="([0-9.]+)"', xml)]
    assert widths and all(4 <= w <= 70 for w in widths)
    # 户主证件号码: 18 characters masked → at least 18 wide; 问题说明 (Chinese) capped at its maximum
    assert max(widths) <= 62


def test_ids_masked_by_default_and_shown_on_request(county, tmp_path):
    folder, con, config, data = county
    masked = to_csv(sheet_rows(write_report_workbook(data, tmp_path / "a.xlsx"), "问题台账"))
    assert "430624********4917" in masked and "430624196907194917" not in masked
    assert "430624196907199008" not in masked  # the mangled ID inside a message is masked too
    assert "430624196913324917" not in masked and "430624********4917" in masked  # an impossible birth date too
    from dataclasses import replace

    shown = to_csv(sheet_rows(write_report_workbook(replace(data, show_ids=True), tmp_path / "b.xlsx"), "问题台账"))
    assert "430624196907194917" in shown


def test_evidence_is_one_column_per_source_not_json(workbook):
    rows = sheet_rows(workbook, "问题台账")
    header = rows[0]
    for label in ("国家系统的记录", "村级档案的记录", "扶贫手册的记录", "入户核查的记录"):
        assert label in header
    f01 = next(r for r in rows if r[header.index("问题编号")] == "f01")
    assert f01[header.index("扶贫手册的记录")] == "5"
    assert not any(cell.startswith("{") for row in rows for cell in row)


def test_split_by_township_keeps_only_own_villages(county, tmp_path):
    folder, con, config, data = county
    written = write_township_workbooks(data, tmp_path)
    assert set(written) == {"东塘镇", "文星镇"}
    rows = sheet_rows(written["文星镇"], "问题台账")
    township = rows[0].index("乡镇")
    assert {r[township] for r in rows[1:]} == {"文星镇"}
    villages = {r[1] for r in sheet_rows(written["文星镇"], "按村汇总")[1:-1]}
    assert villages == {"双江村"}


def test_sheet_names_are_safe():
    taken: set[str] = set()
    long = "督查发现问题汇总表" * 4
    first = safe_sheet_name(long, taken)
    assert first == long[:31] and first in taken
    # the same long name again gets a numbered name of at most 31 characters, distinct from the first
    second = safe_sheet_name(long, taken)
    assert second != first and len(second) == 31 and second.endswith("_2") and second[:29] == long[:29]
    assert safe_sheet_name(long, taken).endswith("_3")
    assert safe_sheet_name("a/b:c", set()) == "a_b_c"
    assert safe_sheet_name("[]", set()) == "__" and safe_sheet_name("", set()) == "Sheet"


def test_findings_sheet_past_its_limit_keeps_the_most_severe_and_says_where_the_rest_are(county, monkeypatch):
    from reconcile.report import sheets

    _, _, _, data = county
    severities = data.findings["severity"].to_list()
    high = severities.count("high")
    assert 0 < high < len(severities)
    monkeypatch.setattr(sheets, "WORKBOOK_FINDINGS_LIMIT", high)
    sheet = sheets.findings_sheet(data)
    rows = sheet.tables[0].frame
    assert rows.height == high
    assert set(rows["c2"].to_list()) == {"高"}, "only the high-severity findings fit"
    assert any("findings.csv" in note and str(len(severities)) in note for note in sheet.notes)


def _cells(rows: list[list[str]]) -> str:
    return "\n".join(",".join(r) for r in rows)


def test_coverage_sheet_masks_ids_and_the_first_sheet_carries_the_warnings(workbook):
    coverage = _cells(sheet_rows(workbook, "核查范围"))
    assert "430624********4917" in coverage and "430624196907194917" not in coverage  # a data row read as headers
    assert str(workbook.parent) not in coverage  # paths relative to the config
    notes = sheet_rows(workbook, "说明")
    warning = next(r for r in notes if "乡镇公示时间" in r[2])
    assert warning[0] == "警告" and "在文件中不存在" in warning[2]


def test_coverage_sheet_lists_the_rules_a_run_without_the_survey_could_not_run(county, tmp_path):
    from dataclasses import replace

    from .fixture import sample_plan_without_survey

    _, _, _, data = county
    plan = sample_plan_without_survey()
    book = write_report_workbook(replace(data, plan=plan), tmp_path / "no-survey.xlsx")
    rows = sheet_rows(book, "核查范围")
    skipped = {r[0]: r for r in rows if r[3] == "未运行"}
    expected = set(plan["plan_rule"].filter(pl.col("status") == "skipped")["rule_id"].to_list())
    assert "FC-HH-SIZE-SURVEY" in expected and set(skipped) == expected
    assert "入户核查" in skipped["FC-HH-SIZE-SURVEY"][4] and "没有提供" in skipped["FC-HH-SIZE-SURVEY"][4]
    partial = [r for r in rows if r[3] == "部分运行"]
    assert partial and all(r[4].startswith("未核查:") for r in partial)
    # the same coverage in the township workbooks
    township = write_township_workbooks(replace(data, plan=plan), tmp_path)["文星镇"]
    assert {r[0] for r in sheet_rows(township, "核查范围") if r[3] == "未运行"} == expected
    # people see field labels, never the field codes
    text = _cells(rows)
    assert not any(code in text for code in ("head_id", "id_number", "township_notice_date", "hh_size"))


def test_codes_and_ids_are_text_cells_excel_cannot_damage(workbook):
    """问题台账 is the people's copy of the findings: 户编号, masked IDs and 问题编号 are text cells (a CSV opened
    in Excel shows 4.30624103204E+018 instead)."""
    import re
    import zipfile

    from tests.report.golden import sheet_rows

    header = sheet_rows(workbook, "问题台账")[0]
    with zipfile.ZipFile(workbook) as z:
        names = {n for n in z.namelist() if n.startswith("xl/worksheets/sheet")}
        book = z.read("xl/workbook.xml").decode()
        order = re.findall(r'<sheet name="([^"]+)"', book)
        xml = z.read(f"xl/worksheets/sheet{order.index('问题台账') + 1}.xml").decode()
    assert names
    def letter(i: int) -> str:
        return (chr(65 + i // 26 - 1) if i >= 26 else "") + chr(65 + i % 26)

    seen = 0
    for title in ("户编号", "户主证件号码", "问题编号"):
        col = letter(header.index(title))
        cells = re.findall(rf'<c r="{col}(\d+)"([^>]*)>', xml)
        data = [attrs for row, attrs in cells if int(row) > 1 and not attrs.endswith("/")]  # empty cells: no type
        assert data and all('t="s"' in a or 't="inlineStr"' in a or 't="str"' in a for a in data), (title, data[:3])
        seen += len(data)
    assert seen > 10


def test_every_sheet_prints_readably_on_a4(workbook):
    """A4, page numbers, the key columns repeated on every page across; a sheet is shrunk to one page wide only
    while its text stays readable (it was 按村汇总 at a third of its size); the print view fits one page wide."""
    import re
    import zipfile

    from reconcile.report.xlsx import MAX_SHRINK, PRINT_WIDTH

    with zipfile.ZipFile(workbook) as z:
        book = z.read("xl/workbook.xml").decode()
    titles = re.findall(r'<definedName name="_xlnm.Print_Titles" localSheetId="(\d+)">([^<]+)<', book)
    repeated = {SHEET_NAMES[int(i)]: ref for i, ref in titles}
    assert "$A:$A" in repeated["问题台账"]  # 序号 on every page across (the print view fits one page wide)
    for i, name in enumerate(SHEET_NAMES, 1):
        xml = _sheet_xml(workbook, i)
        assert 'paperSize="9"' in xml and "第 &amp;P 页" in xml, name
        widths = sum((int(b) - int(a) + 1) * float(w)
                     for a, b, w in re.findall(r'<col min="(\d+)" max="(\d+)" width="([\d.]+)"', xml))
        if "<pageSetUpPr fitToPage=\"1\"/>" in xml:
            assert widths <= PRINT_WIDTH * MAX_SHRINK, (name, widths)
    assert '<pageSetUpPr fitToPage="1"/>' in _sheet_xml(workbook, SHEET_NAMES.index("问题台账(打印)") + 1)
