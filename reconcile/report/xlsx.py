"""A small sheet model and its xlsxwriter renderer, shaped for Excel and WPS users.

A `Sheet` is a list of `Table`s written one under the other; each table has a header row (Chinese),
typed columns and its rows as a polars frame. The renderer freezes the first table's header, puts an
autofilter on the table that asks for one, sizes columns from their content (a CJK character counts
as two), colours severity and status cells, and writes every text cell as text (an ID number never
becomes a number, a leading `=` never a formula).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import cast

import polars as pl
import xlsxwriter

from ..outputs import current_scratch, run_scratch, written
from .common import text_width

SHEET_NAME_MAX = 31

# kind → (base format properties)
KINDS = ("text", "wrap", "int", "pct", "severity", "status", "date", "section", "blank", "answer", "answer_date")
ANSWER_KINDS = ("answer", "answer_date")  # cells a township fills in: unlocked on a protected sheet


@dataclass
class Col:
    title: str
    kind: str = "text"
    max_width: int = 40
    min_width: int = 4
    choices: tuple[str, ...] = ()  # an answer column's drop-down list


@dataclass
class Table:
    columns: list[Col]
    frame: pl.DataFrame
    title: str | None = None
    autofilter: bool = False
    total_last: bool = False  # last row is a total: bold
    sections: frozenset[int] = frozenset()  # row indexes written as section headings (bold, shaded)


@dataclass
class Sheet:
    name: str
    tables: list[Table]
    freeze: bool = True
    landscape: bool = True
    fit_width: bool = True  # print one page wide when that stays readable (summaries); long lists print at 100%
    notes: list[str] = field(default_factory=list)  # lines above the first table
    repeat_columns: int = 0  # leading columns printed again on every page across (序号, 乡镇, 村 …)
    protect: bool = False  # only the answer columns can be edited (sorting and filtering still work)


SEVERITY_FILL = {"高": ("#C00000", "#FFFFFF"), "中": ("#F4B183", "#000000"), "低": ("#E2EFDA", "#000000")}
STATUS_FONT = {"新发现": "#1F4E79", "重新出现": "#C00000", "未整改": "#000000", "已销号": "#548235",
               "整改中": "#7F6000", "核实无误": "#548235", **{f"{s}(逾期)": "#C00000" for s in ("新发现", "未整改",
                                                                                         "重新出现", "整改中")}}


class _Formats:
    def __init__(self, wb: xlsxwriter.Workbook):
        base = {"font_name": "宋体", "font_size": 11, "valign": "top", "border": 1, "border_color": "#BFBFBF"}
        self.wb = wb
        self.header = wb.add_format({**base, "bold": True, "bg_color": "#DDEBF7", "text_wrap": True,
                                     "valign": "vcenter", "align": "center"})
        self.title = wb.add_format({"font_name": "黑体", "font_size": 14, "bold": True})
        self.subtitle = wb.add_format({"font_name": "黑体", "font_size": 11, "bold": True})
        self.note = wb.add_format({"font_name": "宋体", "font_size": 11, "font_color": "#595959"})
        self.cell = {
            "text": wb.add_format(base),
            "blank": wb.add_format({**base, "bg_color": "#FFFDE7"}),
            "answer": wb.add_format({**base, "bg_color": "#FFFDE7", "locked": False, "text_wrap": True}),
            "answer_date": wb.add_format({**base, "bg_color": "#FFFDE7", "locked": False, "num_format": "yyyy-mm-dd"}),
            "wrap": wb.add_format({**base, "text_wrap": True}),
            "int": wb.add_format({**base, "num_format": "0"}),
            "pct": wb.add_format({**base, "num_format": "0.0%"}),
            "date": wb.add_format(base),
        }
        self.bold = {k: wb.add_format({**base, "bold": True, **extra}) for k, extra in
                     (("text", {}), ("wrap", {"text_wrap": True}), ("int", {"num_format": "0"}),
                      ("pct", {"num_format": "0.0%"}), ("date", {}), ("blank", {}),
                      ("answer", {"locked": False}), ("answer_date", {"locked": False, "num_format": "yyyy-mm-dd"}))}
        self.section = wb.add_format({**base, "bold": True, "bg_color": "#F2F2F2"})
        self.severity = {label: wb.add_format({**base, "bold": True, "align": "center", "bg_color": bg,
                                               "font_color": fg}) for label, (bg, fg) in SEVERITY_FILL.items()}
        self.status = {label: wb.add_format({**base, "font_color": color, "bold": label != "未整改"})
                       for label, color in STATUS_FONT.items()}

    def for_cell(self, kind: str, value: object, bold: bool) -> object:
        if kind == "severity" and value in self.severity:
            return self.severity[value]
        if kind == "status" and value in self.status:
            return self.status[value]
        table = self.bold if bold else self.cell
        return table.get(kind, table["text"])


def _widths(sheet: Sheet) -> list[float]:
    n = max(len(t.columns) for t in sheet.tables)
    widths = [0.0] * n
    for table in sheet.tables:
        for i, col in enumerate(table.columns):
            series = table.frame[table.frame.columns[i]] if table.frame.height else pl.Series([], dtype=pl.String)
            if col.kind == "pct":
                w = 7
            elif series.len():
                s = series.cast(pl.String).fill_null("")
                # a count column: its max is an int (the stubs type Series.max as any Python literal)
                w = int(cast(int, (s.str.len_chars() + (s.str.len_bytes() - s.str.len_chars()) // 2).max() or 0))
            else:
                w = 0
            header_w = min(text_width(col.title), max(col.max_width, 8))
            widths[i] = max(widths[i], float(min(col.max_width, max(col.min_width, w, header_w)) + 2))
    return widths


LINE_HEIGHT = 15.0  # points per line of 11-point text
# Printable width of A4 in column-width units (one digit of the default font) with 0.4-inch margins; a sheet is
# shrunk to one page wide only while that keeps its text at ≥ 1/MAX_SHRINK of its size (about 70 %)
PRINT_WIDTH, PRINT_WIDTH_PORTRAIT, MAX_SHRINK = 145.0, 100.0, 1.4
MAX_LINES = 8


def _row_lines(table: Table, widths: list[float]) -> list[int]:
    """Lines each row needs so wrapped text shows whole (Excel, WPS and LibreOffice do not all re-measure)."""
    frame = table.frame
    wrap = [i for i, c in enumerate(table.columns) if c.kind == "wrap"]
    if not frame.height or not wrap:
        return [1] * frame.height
    exprs = []
    for i in wrap:
        s = pl.col(frame.columns[i]).cast(pl.String).fill_null("")
        w = s.str.len_chars() + (s.str.len_bytes() - s.str.len_chars()) // 2
        usable = max((widths[i] - 2) * 1.12, 4.0)  # a CJK glyph renders a little narrower than two digits
        exprs.append(((w.cast(pl.Float64) / usable).ceil() + s.str.count_matches("\n")).cast(pl.Int64))
    lines = frame.select(pl.max_horizontal(exprs).clip(1, MAX_LINES).alias("n"))["n"]
    return lines.to_list()


def _write_value(ws, r: int, c: int, value: object, kind: str, fmt) -> None:
    if value is None or (isinstance(value, float) and value != value):
        ws.write_blank(r, c, None, fmt)
    elif kind == "answer_date" and isinstance(value, date):
        ws.write_datetime(r, c, datetime(value.year, value.month, value.day), fmt)
    elif kind in ("int", "pct") and isinstance(value, int | float) and not isinstance(value, bool):
        ws.write_number(r, c, value, fmt)
    else:
        ws.write_string(r, c, str(value), fmt)


def _answer_validation(ws, table: Table, first: int, last: int) -> None:
    """The answer columns take only what the ledger import reads: a value from the list, a date."""
    for c, col in enumerate(table.columns):
        if col.choices:
            ws.data_validation(first, c, last, c, {
                "validate": "list", "source": list(col.choices), "error_title": "请从列表中选择",
                "error_message": "只能填写:" + " / ".join(col.choices)})
        elif col.kind == "answer_date":
            ws.data_validation(first, c, last, c, {
                "validate": "date", "criteria": "between", "minimum": datetime(2000, 1, 1),
                "maximum": datetime(2100, 12, 31), "error_title": "请填写日期",
                "error_message": "整改期限应为日期,例如 2026-12-31"})


def safe_sheet_name(name: str, taken: set[str]) -> str:
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:SHEET_NAME_MAX] or "Sheet"
    candidate, i = clean, 2
    while candidate in taken:
        suffix = f"_{i}"
        candidate, i = clean[:SHEET_NAME_MAX - len(suffix)] + suffix, i + 1
    taken.add(candidate)
    return candidate


def write_sheet(wb: xlsxwriter.Workbook, fmt: _Formats, sheet: Sheet, name: str) -> None:
    ws = wb.add_worksheet(name)
    widths = _widths(sheet)
    for i, w in enumerate(widths):
        ws.set_column(i, i, w)
    ws.set_paper(9)  # A4
    if sheet.landscape:
        ws.set_landscape()
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.set_header("&L&\"宋体\"&9" + name.replace("&", "&&"))
    ws.set_footer("&C&\"宋体\"&9第 &P 页,共 &N 页")
    page = PRINT_WIDTH if sheet.landscape else PRINT_WIDTH_PORTRAIT
    if sheet.fit_width and sum(widths) <= page * MAX_SHRINK:
        ws.fit_to_pages(1, 0)  # one page wide and still readable
    elif sheet.repeat_columns:  # too wide to shrink: at 100 %, the key columns on every page across
        ws.repeat_columns(0, sheet.repeat_columns - 1)
    if sheet.protect:  # no password: protection guards against slips, not against the township itself
        ws.protect("", {"autofilter": True, "sort": True, "format_columns": True, "format_rows": True,
                        "select_locked_cells": True, "select_unlocked_cells": True})
    r = 0
    for line in sheet.notes:
        ws.write_string(r, 0, line, fmt.title if r == 0 else fmt.note)
        r += 1
    if sheet.notes:
        r += 1
    first = True
    for table in sheet.tables:
        if table.title:
            ws.write_string(r, 0, table.title, fmt.subtitle)
            r += 1
        header_row = r
        header_lines = max((-(-text_width(col.title) // max(int(widths[c]) - 2, 2)) for c, col in
                            enumerate(table.columns)), default=1)
        if header_lines > 1:
            ws.set_row(r, LINE_HEIGHT * min(header_lines, 5) + 3)
        for c, col in enumerate(table.columns):
            ws.write_string(r, c, col.title, fmt.header)
        if first and sheet.freeze:
            ws.freeze_panes(r + 1, 0)
            ws.repeat_rows(r)
        first = False
        r += 1
        kinds = [c.kind for c in table.columns]
        last = table.frame.height - 1
        lines = _row_lines(table, widths)
        for i, row in enumerate(table.frame.iter_rows()):
            is_section = i in table.sections
            if lines[i] > 1:
                ws.set_row(r, LINE_HEIGHT * lines[i])
            bold = table.total_last and i == last
            for c, value in enumerate(row):
                if is_section:
                    cell_fmt = fmt.section
                else:
                    cell_fmt = fmt.for_cell(kinds[c], value, bold)
                _write_value(ws, r, c, value, kinds[c], cell_fmt)
            r += 1
        if table.autofilter:
            ws.autofilter(header_row, 0, max(header_row, r - 1), len(table.columns) - 1)
        _answer_validation(ws, table, header_row + 1, max(header_row + 1, r - 1))
        r += 1  # a blank line between tables


@contextmanager
def workbook_at(path: Path, options: dict) -> Iterator[xlsxwriter.Workbook]:
    """An xlsxwriter workbook written under a temporary name beside `path` and renamed into place once whole: a
    killed run never leaves half a workbook under the real name. xlsxwriter's own temporary files (one per
    sheet in constant-memory mode) go to the run's scratch folder inside the output folder, never /tmp."""
    with ExitStack() as stack:
        scratch = current_scratch() or stack.enter_context(run_scratch(path.parent))
        partial = stack.enter_context(written(path))
        wb = xlsxwriter.Workbook(str(partial), {**options, "tmpdir": tempfile.mkdtemp(dir=scratch)})
        yield wb
        wb.close()


def write_workbook(path: Path, sheets: list[Sheet]) -> Path:
    with workbook_at(path, {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                            "strings_to_urls": False}) as wb:
        fmt = _Formats(wb)
        taken: set[str] = set()
        for sheet in sheets:
            write_sheet(wb, fmt, sheet, safe_sheet_name(sheet.name, taken))
    return path
