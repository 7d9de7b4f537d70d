"""A small sheet model and its renderer, shaped for Excel and WPS users: xlsxwriter writes each sheet's
settings and the styles, `sheet_xml` its cells (a column at a time, in the XML xlsxwriter would write).

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
from datetime import datetime
from pathlib import Path
from typing import cast

import polars as pl
import xlsxwriter

from ..outputs import current_scratch, run_scratch, written
from .common import display_width, text_width
from .sheet_xml import Block, SheetCells, column_letters, date_cell, number_cell, splice, string_cell

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

    def index(self, fmt) -> int:
        """The format's number in the workbook's styles (xlsxwriter numbers a format when a cell first uses it;
        the cells are written as XML here, so each format is numbered when it is asked for)."""
        return fmt._get_xf_index()

    def styles(self, kind: str, bold: bool) -> int:
        table = self.bold if bold else self.cell
        return self.index(table.get(kind, table["text"]))


def _widths(sheet: Sheet) -> list[float]:
    n = max(len(t.columns) for t in sheet.tables)
    widths = [0.0] * n
    for table in sheet.tables:
        for i, col in enumerate(table.columns):
            series = table.frame[table.frame.columns[i]] if table.frame.height else pl.Series([], dtype=pl.String)
            if col.kind == "pct":
                w = 7
            elif series.len():
                # a count column: its max is an int (the stubs type Series.max as any Python literal)
                w = int(cast(int, series.cast(pl.String).fill_null("").to_frame("s")
                             .select(display_width(pl.col("s")).max()).item() or 0))
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


def _row_heights(table: Table, widths: list[float]) -> pl.Series | None:
    """Each row's height in points where wrapped text needs more than one line to show whole (Excel, WPS and
    LibreOffice do not all re-measure), null for the default."""
    frame = table.frame
    wrap = [i for i, c in enumerate(table.columns) if c.kind == "wrap"]
    if not frame.height or not wrap:
        return None
    exprs = []
    for i in wrap:
        s = pl.col(frame.columns[i]).cast(pl.String).fill_null("")
        w = display_width(s)
        usable = max((widths[i] - 2) * 1.12, 4.0)  # a CJK glyph renders a little narrower than two digits
        exprs.append(((w.cast(pl.Float64) / usable).ceil() + s.str.count_matches("\n")).cast(pl.Int64))
    lines = pl.max_horizontal(exprs).clip(1, MAX_LINES)
    return frame.select(pl.when(lines > 1).then(lines * LINE_HEIGHT).alias("height"))["height"]


ROW_INDEX, ROW_HEIGHT = "__row_index", "__row_height"  # helper columns beside a table's own


def _as_text(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A cell's text as `str(value)` gives it; a float NaN is a blank cell."""
    if dtype == pl.String:
        return value
    if dtype.is_integer() or dtype in (pl.Date, pl.Null, pl.Categorical, pl.Enum):
        return value.cast(pl.String)
    if dtype == pl.Boolean:
        return value.replace_strict({True: "True", False: "False"}, return_dtype=pl.String)
    text = value.map_batches(_python_text, return_dtype=pl.String)  # rare and small: floats, times, lists
    return pl.when(value.is_nan()).then(None).otherwise(text) if dtype.is_float() else text


def _python_text(values: pl.Series) -> pl.Series:
    return pl.Series([None if v is None else str(v) for v in values.to_list()], dtype=pl.String)


def _value_cell(letter: str, name: str, dtype: pl.DataType, kind: str, style: pl.Expr) -> pl.Expr:
    """An answer date as a date, a count or share as a number, everything else as text (an ID number never
    becomes a number, a leading `=` never a formula)."""
    value = pl.col(name)
    if kind == "answer_date" and dtype in (pl.Date, pl.Datetime):
        return date_cell(letter, value, style)
    if kind in ("int", "pct") and dtype.is_numeric():
        return number_cell(letter, value, style)
    return string_cell(letter, _as_text(value, dtype), style)


def _cell_style(fmt: _Formats, table: Table, kind: str, name: str, dtype: pl.DataType) -> pl.Expr:
    """A cell's style: a section heading's, else its severity's or status's colour, else its kind's (bold on a
    total row)."""
    row = pl.col(ROW_INDEX)
    style: pl.Expr = pl.lit(fmt.styles(kind, False))
    if table.total_last:
        style = pl.when(row == table.frame.height - 1).then(pl.lit(fmt.styles(kind, True))).otherwise(style)
    coloured = {"severity": fmt.severity, "status": fmt.status}.get(kind)
    if coloured and dtype == pl.String:
        by_value = {label: fmt.index(f) for label, f in coloured.items()}
        style = pl.when(pl.col(name).is_in(list(by_value))).then(
            pl.col(name).replace_strict(by_value, default=None, return_dtype=pl.Int64)).otherwise(style)
    if table.sections:
        style = pl.when(row.is_in(sorted(table.sections))).then(pl.lit(fmt.index(fmt.section))).otherwise(style)
    return style


def _table_block(fmt: _Formats, table: Table, first_row: int, widths: list[float]) -> Block:
    frame = table.frame.with_row_index(ROW_INDEX)
    heights = _row_heights(table, widths)
    if heights is not None:
        frame = frame.with_columns(heights.alias(ROW_HEIGHT))
    letters = column_letters(len(table.columns))
    cells = [_value_cell(letters[c], name, dtype, col.kind, _cell_style(fmt, table, col.kind, name, dtype))
             for c, (col, (name, dtype)) in enumerate(zip(table.columns, table.frame.schema.items(), strict=True))]
    return Block(first_row, frame, cells, pl.col(ROW_HEIGHT) if heights is not None else None)


def _text_block(first_row: int, texts: list[str], style: int, height: float | None = None, across: bool = False) -> Block:
    """Plain text cells: `texts` down one column from `first_row`, or across one row (`across`)."""
    if across:
        frame = pl.DataFrame({f"c{c}": [t] for c, t in enumerate(texts)}, schema={f"c{c}": pl.String
                                                                                 for c in range(len(texts))})
    else:
        frame = pl.DataFrame({"c0": texts}, schema={"c0": pl.String})
    letters = column_letters(frame.width)
    cells = [string_cell(letters[c], pl.col(name), pl.lit(style)) for c, name in enumerate(frame.columns)]
    return Block(first_row, frame, cells, pl.lit(height) if height else None)


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


def write_sheet(wb: xlsxwriter.Workbook, fmt: _Formats, sheet: Sheet, name: str) -> SheetCells:
    """The sheet's settings through xlsxwriter; its cells, returned, go into the sheet's XML (`sheet_xml`)."""
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
    blocks: list[Block] = []
    if sheet.notes:
        blocks.append(_text_block(0, sheet.notes[:1], fmt.index(fmt.title)))
        blocks.append(_text_block(1, sheet.notes[1:], fmt.index(fmt.note)))
    r = len(sheet.notes) + 1 if sheet.notes else 0
    first = True
    for table in sheet.tables:
        if table.title:
            blocks.append(_text_block(r, [table.title], fmt.index(fmt.subtitle)))
            r += 1
        header_row = r
        header_lines = max((-(-text_width(col.title) // max(int(widths[c]) - 2, 2)) for c, col in
                            enumerate(table.columns)), default=1)
        blocks.append(_text_block(r, [col.title for col in table.columns], fmt.index(fmt.header), across=True,
                                  height=LINE_HEIGHT * min(header_lines, 5) + 3 if header_lines > 1 else None))
        if first and sheet.freeze:
            ws.freeze_panes(r + 1, 0)
            ws.repeat_rows(r)
        first = False
        r += 1
        blocks.append(_table_block(fmt, table, r, widths))
        r += table.frame.height
        if table.autofilter:
            ws.autofilter(header_row, 0, max(header_row, r - 1), len(table.columns) - 1)
        _answer_validation(ws, table, header_row + 1, max(header_row + 1, r - 1))
        r += 1  # a blank line between tables
    return SheetCells(blocks, max((b.frame.width for b in blocks), default=0))


@contextmanager
def _staged(path: Path) -> Iterator[tuple[Path, Path]]:
    """(a folder of the writer's own, the temporary name to write): the folder is in the run's scratch folder
    inside the output folder (never /tmp) and goes when the block ends; the temporary name is beside `path` and
    renamed into place once whole, so a killed run never leaves half a workbook under the real name."""
    with ExitStack() as stack:
        scratch = current_scratch() or stack.enter_context(run_scratch(path.parent))
        partial = stack.enter_context(written(path))
        yield Path(stack.enter_context(tempfile.TemporaryDirectory(dir=scratch))), partial


@contextmanager
def workbook_at(path: Path, options: dict) -> Iterator[xlsxwriter.Workbook]:
    """An xlsxwriter workbook written to `path` through `_staged` (its own temporary files, one per sheet in
    constant-memory mode, in the scratch folder)."""
    with _staged(path) as (work, partial):
        wb = xlsxwriter.Workbook(str(partial), {**options, "tmpdir": str(work)})
        yield wb
        wb.close()


def write_workbook(path: Path, sheets: list[Sheet]) -> Path:
    """The workbook around the cells by xlsxwriter into the scratch folder, then its cells spliced in on the way
    to `path` (a temporary name beside it until whole)."""
    with _staged(path) as (work, partial):
        shell = work / "shell.xlsx"
        wb = xlsxwriter.Workbook(str(shell), {"strings_to_numbers": False, "strings_to_formulas": False,
                                              "strings_to_urls": False, "tmpdir": str(work)})
        fmt = _Formats(wb)
        taken: set[str] = set()
        cells = {number: write_sheet(wb, fmt, sheet, safe_sheet_name(sheet.name, taken))
                 for number, sheet in enumerate(sheets, 1)}  # xlsxwriter's sheet1.xml, sheet2.xml … in order
        wb.close()
        splice(shell, partial, cells)
    return path
