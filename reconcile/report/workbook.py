"""核查报告.xlsx — the workbook for people (DESIGN §8), and one workbook per township on request.

Sheets: 说明 · 核查范围 · 问题台账 · 问题台账(打印) · 按乡镇汇总 · 按村汇总 · 督查发现问题汇总表 · 核查情况汇总 · 匹配情况 · 输入问题 · 整改情况.
"""

from __future__ import annotations

from pathlib import Path

from ..outputs import file_part, inside
from .data import ReportData
from .sheets import (
    card_sheet,
    findings_sheet,
    input_sheet,
    link_sheet,
    monitoring_sheet,
    notes_sheet,
    print_sheet,
    township_sheet,
    village_sheet,
)
from .sheets_coverage import coverage_sheet
from .sheets_inspection import answers_sheet, bulletin_sheet, rectification_sheet, table3_sheet, table4_sheet
from .xlsx import Sheet, write_workbook

WORKBOOK_NAME = "核查报告.xlsx"
SPLIT_DIR = "分乡镇"
# (sheet name, builder) in workbook order: a new sheet is one builder and one line here (and its golden file)
SHEETS = (("说明", notes_sheet), ("核查范围", coverage_sheet), ("问题台账", findings_sheet),
          ("问题台账(打印)", print_sheet), ("按乡镇汇总", township_sheet),
          ("按村汇总", village_sheet), ("防返贫监测", monitoring_sheet), ("红黄绿卡", card_sheet), ("督查发现问题汇总表", table3_sheet), ("核查情况汇总", table4_sheet),
          ("匹配情况", link_sheet), ("输入问题", input_sheet), ("整改情况", rectification_sheet),
          ("通报", bulletin_sheet), ("整改记录", answers_sheet))
SHEET_NAMES = [name for name, _ in SHEETS]


def build_sheets(data: ReportData) -> list[Sheet]:
    return [build(data) for _, build in SHEETS]


def write_report_workbook(data: ReportData, path: Path) -> Path:
    return write_workbook(path, build_sheets(data))


COUNTY_SPLIT_DIR = "分县"


def write_county_workbooks(data: ReportData, counties: list[str], out: Path) -> dict[str, Path]:
    """One workbook per county of a province run under <out>/分县/, each holding only that county."""
    return {county: write_report_workbook(data.for_county(county), inside(
        out, COUNTY_SPLIT_DIR, f"核查报告_{file_part(county, '未标注县')}.xlsx")) for county in counties}


def write_township_workbooks(data: ReportData, out: Path) -> dict[str, Path]:
    """One workbook per township under <out>/分乡镇/, each holding only that township's villages."""
    written = {}
    for township in data.townships():  # a name from data: a file name, never a path
        path = inside(out, SPLIT_DIR, f"核查报告_{file_part(township, '未标注乡镇')}.xlsx")
        written[township] = write_report_workbook(data.for_township(township), path)
    return written
