"""Header rows only: what a file's columns are called, read before any data row (the run plan's input).

The plan decides which fields each file provides and which rules can run before the data is read,
so this reads only the first rows: the first bytes of a CSV (its encoding guessed from them; the
load stage still checks every byte) or the first rows of a sheet. It locates the header exactly as
the reader does (`find_header`, `finalize_names`), so the names match what the load stage sees.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import fastexcel
import polars as pl

from ..errors import InputError
from .headers import finalize_names, find_header
from .readers import (
    _PROBE_ROWS,
    EXTRA,
    META,
    SheetCache,
    _excel_error,
    _format_of,
    _header_grid,
    _members,
    _no_header,
    _sniff_delimiter,
    active_sheet_cache,
    checked_sheet,
    needs_type_parse,
    probe_excel,
    wait_for_warming,
    where_the_data_is,
)
from .sniff import refuse_mismatch
from .text import head_text

_PEEK_BYTES = 1 << 18  # a header block is never this long; the rest of the file is the load stage's business


@dataclass(frozen=True)
class PeekedHeaders:
    headers: list[str]
    header_row: int  # 1-based row of the (last) header row
    encoding: str | None
    file: str  # the file the headers were read from (a folder's first member)
    # data rows (non-blank rows below the header) when the peek saw the whole file, else None: 0 is a file with a
    # header and no data — an export that would make every household look missing (issue 16)
    data_rows: int | None = None
    hint: str = ""  # a workbook with no data rows: which other sheets have data (a sentence, or "")

    @property
    def header_only(self) -> bool:
        return self.data_rows == 0


def _filled_rows(rows: list) -> int:
    return sum(1 for r in rows if any(c not in (None, "") and str(c).strip() for c in r))


def _grid_names(probe: list, header_rows: int | None, skip_rows: int, where: str) -> tuple[list[str], int, int]:
    """Header names, the 1-based header row, and the non-blank data rows of the probe."""
    layout = find_header(probe, header_rows=header_rows, skip_rows=skip_rows)
    if layout is None or not (any(layout.names) or (header_rows == 0 and layout.names)):
        raise _no_header(where)
    data = probe[layout.data_start:]
    # a blank header over no data is an unused formatted range, as in the reader
    keep = [j for j, name in enumerate(layout.names)
            if name or any(j < len(r) and r[j] not in (None, "") and str(r[j]).strip() for r in data)]
    names = finalize_names([layout.names[j] for j in keep], keep, reserved=(*META, EXTRA))
    return names, layout.header_row + 1, _filled_rows(data)


def _peek_csv(path: Path, header_rows: int | None, skip_rows: int, encoding: str) -> PeekedHeaders:
    refuse_mismatch(path, "csv")
    try:
        with path.open("rb") as fh:
            head = fh.read(_PEEK_BYTES)
    except OSError as exc:
        raise InputError(f"无法打开文件 {path}:{exc.strerror or exc}") from exc
    text, enc = head_text(head, encoding, path)
    whole = len(head) < _PEEK_BYTES
    if not whole:  # the last line may be cut: leave it out
        text = text[: text.rfind("\n") + 1] or text
    lines = text.splitlines(keepends=True)
    sep = _sniff_delimiter(lines[:50], "\t" if path.suffix.lower() == ".tsv" else ",")
    limit = skip_rows + (header_rows or 0) + _PROBE_ROWS
    try:
        rows = list(islice(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=sep), limit + 1))
    except csv.Error as exc:
        raise InputError(f"文件 {path} 不是有效的 CSV:{exc}") from exc
    probe = [[c if c != "" else None for c in row] for row in _header_grid(rows[:limit])]
    names, header_row, data_rows = _grid_names(probe, header_rows, skip_rows, str(path))
    return PeekedHeaders(names, header_row, enc, path.name, data_rows if whole and len(rows) <= limit else None)


def _peek_xlsx(path: Path, sheet: int | str, header_rows: int | None, skip_rows: int) -> PeekedHeaders:
    wait_for_warming(path)
    names_of, index, scan = checked_sheet(path, sheet)
    rows = skip_rows + (header_rows or 0) + _PROBE_ROWS
    try:
        # within a run, the load's parse too (readers.SheetCache)
        frame = probe_excel(path, index, rows, cell_types=needs_type_parse(scan))
    except fastexcel.FastExcelError as exc:
        raise _excel_error(path, exc) from exc
    probe = _header_grid(frame.rows())
    where = f"{path} 的工作表 “{names_of[index]}”"
    layout = find_header(probe, header_rows=header_rows, skip_rows=skip_rows)
    if layout is None or not any(layout.names):
        raise InputError(f"文件 {where} 中找不到表头:工作表是空的,或 skip_rows 跳过了全部内容。"
                         + where_the_data_is(path, names_of, index))
    names, header_row, data_rows = _grid_names(probe, header_rows, skip_rows, where)
    seen_all = frame.height < rows
    hint = where_the_data_is(path, names_of, index) if seen_all and data_rows == 0 else ""
    return PeekedHeaders(names, header_row, None, path.name, data_rows if seen_all else None, hint)


def _peek_parquet(path: Path) -> PeekedHeaders:
    import pyarrow.parquet as pq

    try:
        names = list(pl.read_parquet_schema(path))
        rows = pq.read_metadata(path).num_rows  # the footer says how many rows: 0 is a header-only export
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise InputError(f"无法读取 Parquet 文件 {path}:文件可能已损坏或不是 Parquet 格式。") from exc
    return PeekedHeaders(finalize_names(names, reserved=(*META, EXTRA)), 1, None, path.name, 0 if rows == 0 else None)


def prefetch_workbook(path: Path, fmt: str | None, sheet: int | str) -> None:
    """Within a run (a readers.SheetCache active), check a workbook and start parsing its sheet's text in the
    background, so that the run's workbooks are checked and parsed side by side while the plan
    reads the other files' headers. Nothing is said here: a workbook that fails is named by its own peek."""
    path = Path(path)
    cache = active_sheet_cache()
    if cache is None or not path.is_file() or _format_of(path, fmt) != "xlsx":
        return

    def warm(cache: SheetCache) -> None:
        try:
            _, index, _ = checked_sheet(path, sheet)
        except (InputError, OSError):
            return
        cache.start(path, index, "string")  # a workbook with no sheet XML has its cell types parsed too, started
        # by the peek (probe_excel) after every workbook's text: the plan waits for the text, the load for the types

    cache.warm(path, warm)


def peek_headers(path: Path, *, fmt: str | None = None, sheet: int | str = 0, header_rows: int | None = None,
                 skip_rows: int = 0, encoding: str = "auto") -> PeekedHeaders:
    """The column names of a file (or of a folder's first file: a folder's files share one header)."""
    path = Path(path)
    if path.is_dir():
        members = _members(path, fmt)
        if not members:
            raise InputError(f"文件夹 {path} 中没有可读取的 csv/xlsx/parquet 文件。")
        path = members[0]
    elif not path.exists():
        raise InputError(f"文件 {path} 不存在。请检查配置中的 path(相对于配置文件所在文件夹)。")
    kind = _format_of(path, fmt)
    if kind == "csv":
        return _peek_csv(path, header_rows, skip_rows, encoding)
    if kind == "xlsx":
        return _peek_xlsx(path, sheet, header_rows, skip_rows)
    return _peek_parquet(path)
