"""Header rows only: what a file's columns are called, read before any data row (the run plan's input).

The plan decides which fields each file provides and which rules can run before the data is read,
so this reads only the first rows: the first bytes of a CSV (its encoding guessed from them; the
load stage still checks every byte) or the first rows of a sheet. It locates the header exactly as
the reader does (`find_header`, `finalize_names`), so the names match what the load stage sees.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import fastexcel
import polars as pl

from ..errors import InputError
from .encoding import canonical_encoding
from .headers import finalize_names, find_header
from .readers import (
    _PROBE_ROWS,
    EXTRA,
    META,
    _excel_error,
    _format_of,
    _header_grid,
    _members,
    _no_header,
    _resolve_sheet,
    _sniff_delimiter,
)

_PEEK_BYTES = 1 << 18  # a header block is never this long; the rest of the file is the load stage's business


@dataclass(frozen=True)
class PeekedHeaders:
    headers: list[str]
    header_row: int  # 1-based row of the (last) header row
    encoding: str | None
    file: str  # the file the headers were read from (a folder's first member)


def _guess_encoding(head: bytes) -> str:
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):
            return name
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)  # a character cut at the end is fine
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def _grid_names(probe: list, header_rows: int | None, skip_rows: int, where: str) -> tuple[list[str], int]:
    layout = find_header(probe, header_rows=header_rows, skip_rows=skip_rows)
    if layout is None:
        raise _no_header(where)
    data = probe[layout.data_start:]
    # a blank header over no data is an unused formatted range, as in the reader
    keep = [j for j, name in enumerate(layout.names)
            if name or any(j < len(r) and r[j] not in (None, "") and str(r[j]).strip() for r in data)]
    names = finalize_names([layout.names[j] for j in keep], keep, reserved=(*META, EXTRA))
    return names, layout.header_row + 1


def _peek_csv(path: Path, header_rows: int | None, skip_rows: int, encoding: str) -> PeekedHeaders:
    try:
        with path.open("rb") as fh:
            head = fh.read(_PEEK_BYTES)
    except OSError as exc:
        raise InputError(f"无法打开文件 {path}:{exc.strerror or exc}") from exc
    enc = _guess_encoding(head) if encoding == "auto" else canonical_encoding(encoding)
    text = head.decode(enc, errors="ignore")
    if len(head) == _PEEK_BYTES:  # the last line may be cut: leave it out
        text = text[: text.rfind("\n") + 1] or text
    lines = text.splitlines(keepends=True)
    sep = _sniff_delimiter(lines[:50], "\t" if path.suffix.lower() == ".tsv" else ",")
    try:
        rows = list(islice(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=sep),
                           skip_rows + (header_rows or 0) + _PROBE_ROWS))
    except csv.Error as exc:
        raise InputError(f"文件 {path} 不是有效的 CSV:{exc}") from exc
    probe = [[c if c != "" else None for c in row] for row in _header_grid(rows)]
    names, header_row = _grid_names(probe, header_rows, skip_rows, str(path))
    return PeekedHeaders(names, header_row, enc, path.name)


def _peek_xlsx(path: Path, sheet: int | str, header_rows: int | None, skip_rows: int) -> PeekedHeaders:
    try:
        reader = fastexcel.read_excel(path)
        index = _resolve_sheet(sheet, reader.sheet_names, str(path))
        rows = skip_rows + (header_rows or 0) + _PROBE_ROWS
        frame = reader.load_sheet(index, header_row=None, skip_rows=0, n_rows=rows, dtypes="string").to_polars()
    except fastexcel.FastExcelError as exc:
        raise _excel_error(path, exc) from exc
    probe = _header_grid(frame.rows())
    names, header_row = _grid_names(probe, header_rows, skip_rows, f"{path} 的工作表 “{reader.sheet_names[index]}”")
    return PeekedHeaders(names, header_row, None, path.name)


def _peek_parquet(path: Path) -> PeekedHeaders:
    try:
        names = list(pl.read_parquet_schema(path))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"无法读取 Parquet 文件 {path}:{exc}") from exc
    return PeekedHeaders(finalize_names(names, reserved=(*META, EXTRA)), 1, None, path.name)


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
