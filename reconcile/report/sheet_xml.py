"""A workbook's cells as sheet XML, built a column at a time by polars, spliced into the workbook xlsxwriter wrote.

xlsxwriter writes everything around the cells: the styles, column widths, frozen panes, print setup, filters,
drop-down lists and protection, with each sheet's `<sheetData/>` left empty. The cells are rendered here in the
same XML xlsxwriter's constant-memory mode writes (inline strings, its escapes), so a reader cannot tell the two
apart; what changes is the cost. xlsxwriter makes a Python call per cell, about 9 µs, and the 2.6 million cells of
a 50,000-household county's report took a third of the run (issue 18); here each column is one polars expression.

Rows are rendered a chunk at a time and streamed into the zip, so memory stays bounded whatever the sheet's size.
"""

from __future__ import annotations

import re
import zipfile
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import polars as pl
from xlsxwriter.utility import xl_col_to_name

MAX_STRING = 32767  # Excel's longest cell text (xlsxwriter truncates to it too)
CHUNK_ROWS = 10_000
ROW_NUMBER = "__row_number"  # the 1-based Excel row of each rendered row, as text
# xlsxwriter's escapes for an inline string: control characters as _xHHHH_, and a literal _xHHHH_ kept literal
CONTROL_CHARACTERS = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20))] + ["\ufffe", "\uffff"]
CONTROL_ESCAPES = [f"_x{ord(c):04X}_" for c in CONTROL_CHARACTERS]
XML_SPECIALS, XML_ESCAPES = ["&", "<", ">"], ["&amp;", "&lt;", "&gt;"]
EXCEL_EPOCH_DAYS = -25569  # 1899-12-30 in days since 1970-01-01: Excel's day 0 for every date after February 1900


@dataclass
class Block:
    """Consecutive sheet rows from `first_row` (0-based): one cell expression per column, evaluated on `frame`.

    Each expression gives the cell's XML or null for no cell; `height` (points, null for the default) sets a
    row's height."""
    first_row: int
    frame: pl.DataFrame
    cells: list[pl.Expr]
    height: pl.Expr | None = None

    @property
    def last_row(self) -> int:
        return self.first_row + self.frame.height - 1


def row_number() -> pl.Expr:
    return pl.col(ROW_NUMBER)


def _opening(letter: str, style: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit(f'<c r="{letter}'), row_number(), pl.lit('" s="'), style.cast(pl.String),
                          pl.lit('"')])


def escaped_text(text: pl.Expr) -> pl.Expr:
    """What xlsxwriter writes for a string: cut to Excel's limit, control characters escaped, then XML escaped."""
    text = text.str.slice(0, MAX_STRING).str.replace_all(r"(_x[0-9a-fA-F]{4}_)", "_x005F$1")
    return text.str.replace_many(CONTROL_CHARACTERS, CONTROL_ESCAPES)


def string_cell(letter: str, text: pl.Expr, style: pl.Expr) -> pl.Expr:
    """An inline string cell; a null is a blank cell that keeps its style (xlsxwriter's write_blank)."""
    escaped = escaped_text(text)
    preserve = escaped.str.contains(r"^\s") | escaped.str.contains(r"\s$")  # leading or trailing space kept
    body = pl.concat_str([
        pl.when(preserve).then(pl.lit(' t="inlineStr"><is><t xml:space="preserve">'))
        .otherwise(pl.lit(' t="inlineStr"><is><t>')),
        escaped.str.replace_many(XML_SPECIALS, XML_ESCAPES), pl.lit("</t></is></c>")])
    return pl.concat_str([_opening(letter, style), pl.when(text.is_null()).then(pl.lit("/>")).otherwise(body)])


def number_cell(letter: str, number: pl.Expr, style: pl.Expr) -> pl.Expr:
    """A number cell; a null, NaN or infinity is a blank cell that keeps its style."""
    finite = number.is_not_null() & number.cast(pl.Float64).is_finite()
    body = pl.concat_str([pl.lit("><v>"), number.cast(pl.String), pl.lit("</v></c>")])
    return pl.concat_str([_opening(letter, style), pl.when(finite).then(body).otherwise(pl.lit("/>"))])


def date_cell(letter: str, day: pl.Expr, style: pl.Expr) -> pl.Expr:
    """A date as Excel's day number (the style shows it as a date)."""
    return number_cell(letter, day.cast(pl.Date).cast(pl.Int64) - EXCEL_EPOCH_DAYS, style)


def column_letters(n: int) -> list[str]:
    return [xl_col_to_name(i) for i in range(n)]


def _rows(block: Block) -> Iterator[bytes]:
    """The block's `<row>` elements, a chunk of rows at a time, as UTF-8: taken from polars as bytes, never made
    a Python string (decoding a chunk's CJK text and encoding it again cost more than building it)."""
    for offset in range(0, block.frame.height, CHUNK_ROWS):
        chunk = block.frame.slice(offset, CHUNK_ROWS).with_columns(
            (pl.int_range(pl.len(), dtype=pl.Int64) + block.first_row + offset + 1).cast(pl.String).alias(ROW_NUMBER))
        height = block.height if block.height is not None else pl.lit(None, dtype=pl.Float64)
        opening = pl.concat_str([
            pl.lit('<row r="'), row_number(), pl.lit('"'),
            pl.when(height.is_not_null()).then(pl.concat_str([pl.lit(' ht="'), height.cast(pl.String),
                                                              pl.lit('" customHeight="1"')])).otherwise(pl.lit("")),
            pl.lit(">")])
        rows = chunk.select(pl.concat_str([opening, *block.cells, pl.lit("</row>")], ignore_nulls=True).alias("xml"))
        yield rows["xml"].str.join("").cast(pl.Binary).item()


def dimension(blocks: list[Block], width: int) -> str:
    """The used range, as xlsxwriter's `<dimension>` gives it."""
    used = [b for b in blocks if b.frame.height]
    if not used or not width:
        return "A1"
    return f"A{min(b.first_row for b in used) + 1}:{xl_col_to_name(width - 1)}{max(b.last_row for b in used) + 1}"


@dataclass
class SheetCells:
    """What goes into one sheet's `<sheetData>`: its blocks, top to bottom, and the widest row's cell count."""
    blocks: list[Block]
    width: int

    def xml(self) -> Iterator[bytes]:
        for block in self.blocks:
            if block.frame.height:
                yield from _rows(block)


SHEET_DATA = re.compile(r"<sheetData/>|<sheetData>.*?</sheetData>", re.S)
DIMENSION = re.compile(r'<dimension ref="[^"]*"/>')
# zlib level 3: a 50,000-household county's 问题台账 XML (97 MiB) deflates in 0.62 s to 11 MiB, against 1.25 s to
# 10 MiB at the default 6 and 0.43 s to 12 MiB at 1 (measured here); its workbook is 25 MB instead of 21.5
COMPRESS_LEVEL = 3
ZIP64_FROM_CELLS = 10_000_000  # a sheet past this many cells could pass 2 GiB of XML: written with ZIP64 sizes


def splice(shell: Path, target: Path, cells: dict[int, SheetCells], compresslevel: int = COMPRESS_LEVEL) -> None:
    """Copy the workbook `shell` to `target`, the n-th sheet's (1-based) empty `<sheetData/>` filled from `cells`."""
    with zipfile.ZipFile(shell) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED,
                                                            compresslevel=compresslevel) as out:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            entry.compress_type, entry.external_attr = zipfile.ZIP_DEFLATED, info.external_attr
            # a ZipInfo's own level (3.13 names it compress_level, keeping this name): ZipFile's applies only to
            # entries it names itself
            entry._compresslevel = compresslevel  # type: ignore[attr-defined]
            match = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", info.filename)
            sheet = cells.get(int(match.group(1))) if match else None
            if sheet is None:
                out.writestr(entry, source.read(info), compresslevel=compresslevel)
                continue
            xml = DIMENSION.sub(f'<dimension ref="{dimension(sheet.blocks, sheet.width)}"/>',
                                source.read(info).decode("utf-8"), count=1)
            found = SHEET_DATA.search(xml)
            if found is None:
                raise ValueError(f"工作簿框架 {info.filename} 中没有 <sheetData>,无法写入单元格")
            size = sum(b.frame.height for b in sheet.blocks) * sheet.width
            with out.open(entry, "w", force_zip64=size > ZIP64_FROM_CELLS) as stream:
                _write_all(stream, chain([xml[:found.start()], "<sheetData>"], prefetched(sheet.xml()),
                                         ["</sheetData>", xml[found.end():]]))


def _write_all(stream, parts: Iterable[str | bytes]) -> None:
    for part in parts:
        stream.write(part if isinstance(part, bytes) else part.encode("utf-8"))


def prefetched(items: Iterator[bytes], depth: int = 2) -> Iterator[bytes]:
    """`items` in order, each made on a thread of its own up to `depth` ahead: polars builds the next chunk of rows
    while zlib deflates this one (both let go of the GIL), so a large sheet uses the machine's second core (issue
    18). At most `depth` chunks wait in memory."""
    end = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconcile-sheet-xml") as pool:
        # one thread: the calls of next() run one after the other, in the order submitted
        pending = deque(pool.submit(next, items, end) for _ in range(depth))
        while True:
            item = pending.popleft().result()
            if item is end:
                return
            pending.append(pool.submit(next, items, end))
            yield item  # type: ignore[misc]
