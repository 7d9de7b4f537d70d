"""Read one input (a csv/xlsx/parquet file, or a folder of them) into a table of text cells.

Every cell comes back as text, exactly as the file holds it ("000123" stays "000123", `="…"` CSV
wrappers are kept: the normalisers remove them and keep the cell as written in `<field>_raw`), with
`_file`, `_sheet` and `_row` telling a person where each row is. Two exceptions, both decided by
the normalisers' own cleaning (reconcile.normalize._text): a cell with nothing but whitespace,
invisible characters or an empty wrapper (`=""`) reads as empty (null), and header cells are read
without wrappers and invisible characters, so a title row written `="XX县…",="",=""` is still a title. DESIGN §13 explains why: polars would turn "000123" into 123, and an ID that Excel
stored as a number already lost its last digits, so such cells are reported (`numeric_cells`).

What fastexcel 0.21 (calamine) returns for a cell read with dtypes="string", measured here:

- text                  -> the text as stored, leading zeros and surrounding spaces kept;
- number                -> shortest Excel-like form: 4.0 -> "4", 1234.5 -> "1234.5", 0.1+0.2 -> "0.3",
                           1/3 -> "0.333333333", 1e20 -> "100000000000000000000"; an 18-digit ID stored
                           as a number comes back as all its digits, the last ones invented by the
                           float (430624198001011234 -> "430624198001011328");
- date / datetime       -> "2020-01-05 00:00:00" / "2020-01-05 13:30:00[.500]"; we cut a midnight
                           time so dates read "2020-01-05"; a time-only cell reads "1899-12-31 13:30:00"
                           and we keep its time "13:30:00"; a date typed as text stays as typed;
- boolean               -> "true" / "false";
- formula               -> its cached result as above; error cells (#DIV/0!) -> empty (null): the
                           workbook check (xlsx_guard) finds them in the sheet XML and each is reported;
- a date *serial* without a date format (43835) is a number -> "43835".

The cell type is not in the string, so when text-sensitive columns are asked for, the number cells of those
columns are read from the sheet XML (xlsx_guard.number_cells: a cell with a value and no type), less the ones
the reader gave as dates. Only a workbook with no sheet XML to read (.xls, .xlsb) has its sheet loaded a second
time (in parallel) as dtype "boolean": fastexcel's boolean extractor returns a value only for bool, int and
float cells (never for text, dates or errors, and no sampling involved), so a non-null value whose text is not
"true"/"false" marks a number cell. The two ways agree cell for cell (tests/unit/test_readers.py).

CSV: rows with more fields than the header are read on a slower exact path and the surplus fields
go, joined by the delimiter, into a `__extra__` column (only present when such rows exist); short
rows are padded with nulls. `_row` counts records like Excel does (a quoted multi-line cell is one
row). Rows with no non-blank cell are dropped everywhere, after `_row` is assigned.

Hostile and damaged input (issue 16): a file is first checked to be what its format says (sniff: an xlsx
saved as .csv, an HTML "xls"); a workbook is checked for bombs before the Excel reader opens it
(xlsx_guard); a text file is decoded with its bad records set aside (text); after parsing, rows that cannot be
data are quarantined and error values made absent (quarantine). Each reader returns those as `issues`, with the
row a person sees; rows loaded + rows quarantined = the file's data rows.
"""

from __future__ import annotations

import concurrent.futures
import csv
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Literal, cast

import fastexcel
import polars as pl

from reconcile.errors import InputError
from reconcile.load.headers import (
    HeaderLayout,
    finalize_names,
    find_header,
    header_keys,
    nearest,
    normalize_header,
)
from reconcile.load.quarantine import (
    empty_issues,
    marker_issues,
    screen,
    sheet_errors,
    shift_rows,
    swallowed,
    take_markers,
)
from reconcile.load.sniff import refuse_mismatch
from reconcile.load.text import MARKER, prepared_text
from reconcile.load.xlsx_guard import SheetScan, check_sheet, is_zip_workbook, number_cells, workbook_sheets
from reconcile.normalize._text import MAYBE_BLANK, is_blank, strip_export

# Python's csv module stops at a field over 128 KiB ("field larger than field limit"): such a cell is quarantined
# after parsing (quarantine.CELL_LIMIT), so the parser itself must get past it. Raising a process-wide limit is
# harmless to any other reader.
csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))

_SUFFIXES = {
    "csv": (".csv", ".txt", ".tsv"),
    "xlsx": (".xlsx", ".xlsm", ".xls", ".xlsb"),
    "parquet": (".parquet",),
}
FORMATS = {suffix: kind for kind, suffixes in _SUFFIXES.items() for suffix in suffixes}
_FMT_ALIASES = {suffix.lstrip("."): kind for suffix, kind in FORMATS.items()} | {"excel": "xlsx"}
META = ("_file", "_sheet", "_row")
EXTRA = "__extra__"  # fields beyond the header in ragged CSV rows, joined with the delimiter
_DELIMITERS = (",", "\t", ";", "|")
_PROBE_ROWS = 200  # rows inspected to find the header; title blocks are never this tall


@dataclass
class RawTable:
    frame: pl.DataFrame  # data columns (pl.String) named by header, then _file, _sheet, _row (Int64)
    numeric_cells: pl.DataFrame  # _file, _sheet, _row, column: text-sensitive cells Excel stored as numbers
    encoding: str | None  # encoding of text files (None for xlsx/parquet)
    header_row: int  # 1-based row of the (last) header row; 0 when the file has none
    headers: list[str]  # data column names in file order (two-row headers joined)
    # rows kept out of `frame` and cells made absent, with where and why (quarantine.ISSUE_SCHEMA)
    issues: pl.DataFrame = field(default_factory=empty_issues)
    hint: str = ""  # a workbook with no data rows: which of its other sheets have data (a sentence, or "")

    @property
    def quarantined(self) -> int:
        """Rows of the file kept out of the data (each has one quarantining issue)."""
        return int(self.issues["quarantined"].sum()) if self.issues.height else 0


@dataclass(frozen=True)
class _Options:
    fmt: str | None
    sheet: int | str
    header_rows: int | None
    skip_rows: int
    encoding: str
    text_sensitive: tuple[str, ...]
    work_dir: Path | None


def _empty_numeric() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"_file": pl.String, "_sheet": pl.String, "_row": pl.Int64, "column": pl.String}
    )


def read_table(
    path: Path,
    *,
    fmt: str | None = None,
    sheet: int | str = 0,
    header_rows: int | None = None,
    skip_rows: int = 0,
    encoding: str = "auto",
    text_sensitive: Iterable[str] = (),
    work_dir: Path | None = None,
) -> RawTable:
    """Read a csv/xlsx/parquet file, or every such file in a folder (same headers), as text."""
    path = Path(path)
    if (header_rows is not None and header_rows < 0) or skip_rows < 0:
        raise InputError(f"读取 {path} 时 header_rows / skip_rows 不能为负数。")
    opts = _Options(fmt, sheet, header_rows, skip_rows, encoding, tuple(text_sensitive), work_dir)
    if path.is_dir():
        return _read_folder(path, opts)
    if not path.exists():
        raise InputError(f"文件 {path} 不存在。请检查配置中的 path(相对于配置文件所在文件夹)。")
    return _read_file(path, path.name, opts)


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt:
        kind = _FMT_ALIASES.get(fmt.lower().lstrip("."))
        if kind is None:
            raise InputError(f"文件 {path} 的格式 {fmt!r} 不受支持,可用:csv、xlsx、parquet。")
        return kind
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            f"无法从扩展名判断文件 {path} 的格式({path.suffix or '无扩展名'})。"
            "支持 .csv/.txt/.tsv、.xlsx/.xlsm/.xls、.parquet,或在配置中指定 format。"
        )
    return kind


def _read_file(path: Path, label: str, opts: _Options) -> RawTable:
    """Read one file; `label` becomes `_file`, messages name the full `path`."""
    kind = _format_of(path, opts.fmt)
    if kind == "csv":
        return _read_csv(path, label, opts)
    if kind == "xlsx":
        return _read_xlsx(path, label, opts)
    return _read_parquet(path, label)


# ---- shared tail: header names, empty rows/columns, location columns ----------------------------


def _finish(
    data: pl.DataFrame,
    layout: HeaderLayout,
    positions: Sequence[int],
    label: str,
    sheet: str,
) -> tuple[pl.DataFrame, list[str], list[int]]:
    """Name the positional columns c0..cN, drop blank-header empty columns and empty rows.

    Returns the frame, the final column names and, for each, the index of its positional column.
    """
    cols = [f"c{j}" for j in range(len(layout.names))]
    data = _blank_to_null(data, cols)
    if cols:
        data = data.filter(~pl.all_horizontal(pl.col(c).is_null() for c in cols) | _has_extra(data))
    # A blank header over no data is Excel's formatted-but-unused range, not a column.
    keep = [j for j, c in enumerate(cols) if layout.names[j] or data[c].drop_nulls().len() > 0]
    names = finalize_names(
        [layout.names[j] for j in keep], [positions[j] for j in keep], reserved=(*META, EXTRA)
    )
    out = data.select(
        *[pl.col(cols[j]).alias(name) for j, name in zip(keep, names, strict=True)],
        *([pl.col(EXTRA)] if EXTRA in data.columns else []),
        pl.lit(label, pl.String).alias("_file"),
        pl.lit(sheet, pl.String).alias("_sheet"),
        pl.col("_row").cast(pl.Int64),
    )
    return out, names, keep


def _blank_to_null(data: pl.DataFrame, cols: Sequence[str]) -> pl.DataFrame:
    """Cells that are blank once cleaned (spaces, invisible characters, `=""`) become null."""
    if not cols or data.height == 0:
        return data
    # the regex only lets through cells made of characters a blank cell can hold; each distinct one
    # is then judged by the normalisers' own test
    candidates = pl.concat(
        [data.lazy().select(pl.col(c).filter(pl.col(c).str.contains(MAYBE_BLANK)).unique().alias("v")) for c in cols]
    ).unique().collect()["v"].to_list()
    blank = [v for v in candidates if is_blank(v)]
    if not blank:
        return data
    return data.with_columns(pl.when(pl.col(c).is_in(blank)).then(None).otherwise(pl.col(c)).alias(c) for c in cols)


def _header_grid(rows: Iterable[Sequence[str | None]]) -> list[list[str | None]]:
    """The rows searched for the header, without export wrappers or invisible characters."""
    return [[strip_export(c) if c else c for c in row] for row in rows]


def _has_extra(data: pl.DataFrame) -> pl.Expr:
    return pl.col(EXTRA).is_not_null() if EXTRA in data.columns else pl.lit(False)


def _no_header(where: str) -> InputError:
    return InputError(f"文件 {where} 中找不到表头:文件为空,或 skip_rows 跳过了全部内容。")


# ---- CSV ----------------------------------------------------------------------------------------


def _sniff_delimiter(lines: list[str], default: str) -> str:
    """The delimiter whose per-line count is most consistent (and largest) over the first lines."""
    best, best_score = default, (0, 0)
    for d in _DELIMITERS:
        counts = [line.count(d) for line in lines if line.strip()]
        nonzero = [c for c in counts if c > 0]
        if not nonzero:
            continue
        mode = max(set(nonzero), key=lambda c: (nonzero.count(c), c))
        score = (nonzero.count(mode), mode)
        if score > best_score or (score == best_score and d == default):
            best, best_score = d, score
    return best


def _read_csv(path: Path, label: str, opts: _Options) -> RawTable:
    header_rows, skip_rows = opts.header_rows, opts.skip_rows
    refuse_mismatch(path, "csv")
    with prepared_text(path, opts.encoding, opts.work_dir) as text:
        src = text.path
        try:
            with src.open(encoding="utf-8-sig", newline="") as fh:
                sep = _sniff_delimiter(list(islice(fh, 50)), "\t" if path.suffix.lower() == ".tsv" else ",")
                fh.seek(0)
                probe = _header_grid(
                    islice(csv.reader(fh, delimiter=sep), skip_rows + (header_rows or 0) + _PROBE_ROWS)
                )
        except (UnicodeDecodeError, csv.Error) as exc:
            raise _csv_error(path, exc, text.encoding) from exc
        layout = find_header(probe, header_rows=header_rows, skip_rows=skip_rows)
        # no header, or `header_rows` pointing at empty lines (header_rows: 0 says there is none: not empty then)
        if layout is None or not (any(layout.names) or (header_rows == 0 and layout.names)):
            raise _no_header(str(path))
        _refuse_unreadable_header(path, probe[: layout.data_start], text.bad, text.encoding)
        width = len(layout.names)
        try:
            data = pl.read_csv(
                src,
                has_header=False,
                skip_rows=layout.data_start,
                separator=sep,
                infer_schema=False,
                schema={f"c{j}": pl.String for j in range(width)},
                raise_if_empty=False,
            )
        except pl.exceptions.PolarsError:
            # Rows with more fields than the header: polars would only truncate them silently.
            data = _read_csv_ragged(src, path, sep, layout.data_start, width)
    # Records are counted like Excel rows (a quoted cell spanning lines is still one row), so
    # _row equals the text editor's line number unless such a cell occurs above.
    data = data.with_row_index("_row", offset=layout.data_start + 1)
    data, markers = take_markers(data, text.bad)
    frame, names, keep = _finish(data, layout, range(width), label, "")
    unread = marker_issues(markers, text.bad, names, keep, sep, label, "", text.encoding)
    frame, lost, shifts = swallowed(frame, sep, width) if text.quoted else (frame, empty_issues(), {})
    frame, screened = screen(frame)
    issues = pl.concat([shift_rows(unread, shifts), lost, screened]).sort("_row")
    return RawTable(frame, _empty_numeric(), text.encoding, layout.header_row + 1, names, issues)


def _refuse_unreadable_header(path: Path, above: list, bad: list, encoding: str) -> None:
    """A record the text pass could not read at or above the header: the columns themselves are unknown."""
    for k, row in enumerate(above):
        first = row[0] if row else None
        if first and first.startswith(MARKER):
            index = int(first[len(MARKER):] or 0)
            record = bad[index] if index < len(bad) else None
            what = (f"是 {record.detail} 编码,与文件其余部分不同" if record and record.problem == "row_other_encoding"
                    else f"有无法按 {encoding} 解码的字节")
            raise InputError(f"文件 {path} 第 {k + 1} 行(表头或表头之上){what},无法确定各列的名称。"
                             "请在 Excel/WPS 中打开核对后另存为“CSV UTF-8”。")


def _read_csv_ragged(src: Path, path: Path, sep: str, data_start: int, width: int) -> pl.DataFrame:
    """Slow path for ragged files: keep every field; those beyond the header go to `__extra__`."""
    columns: list[list[str | None]] = [[] for _ in range(width)]
    extra: list[str | None] = []
    try:
        with src.open(encoding="utf-8-sig", newline="") as fh:
            for record in islice(csv.reader(fh, delimiter=sep), data_start, None):
                for j in range(width):
                    columns[j].append(record[j] if j < len(record) and record[j] != "" else None)
                tail = [f for f in record[width:] if f != ""]
                extra.append(sep.join(record[width:]) if tail else None)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise _csv_error(path, exc, "utf-8") from exc
    data = {f"c{j}": pl.Series(values, dtype=pl.String) for j, values in enumerate(columns)}
    if any(e is not None for e in extra):
        data[EXTRA] = pl.Series(extra, dtype=pl.String)
    return pl.DataFrame(data, schema={name: pl.String for name in data})


# ---- Excel ---------------------------------------------------------------------------------------


def _resolve_sheet(sheet: int | str | None, names: Sequence[str], label: str) -> int:
    sheet = 0 if sheet is None else sheet
    listing = "、".join(names) or "(无)"
    if isinstance(sheet, int):
        if 0 <= sheet < len(names):
            return sheet
        raise InputError(f"文件 {label} 没有第 {sheet} 个工作表(从 0 起算,共 {len(names)} 个):{listing}。")
    if sheet in names:
        return names.index(sheet)
    if sheet.strip().isdigit() and int(sheet) < len(names):
        return int(sheet)
    folded = [n.strip().casefold() for n in names]
    if sheet.strip().casefold() in folded:
        return folded.index(sheet.strip().casefold())
    hint = nearest(sheet, names)
    hint_text = f",您是不是指 “{hint}”" if hint else ""
    raise InputError(f"文件 {label} 中没有名为 “{sheet}” 的工作表{hint_text}。现有工作表:{listing}。")


def _parse_excel(path: Path, index: int, dtype: Literal["string", "boolean"]) -> pl.DataFrame:
    # header_row=None + skip_rows=0: row i of the result is Excel row i+1, empty leading rows
    # included, and merged header cells are not turned into __UNNAMED__ names.
    # Read eagerly (Arrow built as the sheet is read: a 50,000-household export 4.2 -> 3.3 s, issue 18); the
    # columns' places in the sheet (column C is `c2` even when A and B are empty) are what the reader hands the
    # column filter, which takes every column.
    columns: list[fastexcel.ColumnInfoNoDtype] = []

    def every_column(column: fastexcel.ColumnInfoNoDtype) -> bool:
        columns.append(column)
        return True

    batch = fastexcel.read_excel(path).load_sheet(index, header_row=None, skip_rows=0, dtypes=dtype, eager=True,
                                                  use_columns=every_column)
    frame = cast(pl.DataFrame, pl.from_arrow(batch))
    return frame.rename({c.name: f"c{c.absolute_index}" for c in columns})


class SheetCache:
    """Each workbook sheet parsed once per run.

    Calamine parses a whole sheet even when only its first rows are asked for, so the run plan's header peek
    costs a full parse; within a run the load takes that parse instead of repeating it (issue 18). For a workbook
    whose cell types cannot be read from its XML the peek also starts the cell-type pass ("boolean", see the
    module doc) on a second thread, so both parses run side by side on the two cores while the plan goes on. A
    sheet's grid of text cells is small beside the tables made from it (tens of MB for a county). Keyed by the
    file's size and modification time: a file changed between plan and load is parsed again."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="reconcile-xlsx")
        self._parsed: dict[tuple, Future[pl.DataFrame]] = {}
        self._warming: dict[str, Future[None]] = {}
        self._lock = threading.Lock()  # `start` is called from the pool's threads too (see `warm`)

    def _key(self, path: Path, index: int, dtype: str) -> tuple:
        stat = path.stat()
        return str(path.resolve()), stat.st_size, stat.st_mtime_ns, index, dtype

    def start(self, path: Path, index: int, dtype: Literal["string", "boolean"]) -> Future[pl.DataFrame]:
        key = self._key(path, index, dtype)
        with self._lock:
            if key not in self._parsed:
                self._parsed[key] = self._pool.submit(_parse_excel, path, index, dtype)
            return self._parsed[key]

    def forget(self, path: Path, index: int) -> None:
        """Let go of a sheet's parses once the load has taken them (a folder of workbooks is read one by one)."""
        with self._lock:
            for dtype in ("string", "boolean"):
                self._parsed.pop(self._key(path, index, dtype), None)

    def warm(self, path: Path, task: Callable[[SheetCache], None]) -> None:
        """Run `task(self)` on the pool: a workbook's checks, then its parses started (peek.prefetch_workbook),
        so that two workbooks are checked side by side too."""
        with self._lock:
            self._warming.setdefault(str(path.resolve()), self._pool.submit(task, self))

    def warmed(self, path: Path) -> None:
        """Wait for `warm`'s task of `path`, if one was started: its checks are then cached, not run twice.
        Whatever it raised is the peek's or the load's own to say."""
        future = self._warming.get(str(Path(path).resolve()))
        if future is not None:
            concurrent.futures.wait([future])

    def close(self) -> None:
        with self._lock:
            pending: list[Future] = [*self._parsed.values(), *self._warming.values()]
            for future in pending:
                future.cancel()
        self._pool.shutdown(wait=True)
        self._parsed.clear()
        self._warming.clear()


_SHEETS: ContextVar[SheetCache | None] = ContextVar("reconcile_sheet_cache", default=None)


@contextmanager
def one_parse_per_sheet() -> Iterator[SheetCache]:
    """Within the block, `load_excel` parses each sheet once (the run's plan and load: see SheetCache)."""
    cache = SheetCache()
    token = _SHEETS.set(cache)
    try:
        yield cache
    finally:
        _SHEETS.reset(token)
        cache.close()


def active_sheet_cache() -> SheetCache | None:
    """The SheetCache of the run's plan and load, or None outside them."""
    return _SHEETS.get()


def wait_for_warming(path: Path) -> None:
    """Before checking a workbook: let a check already under way in the background (SheetCache.warm) finish."""
    cache = _SHEETS.get()
    if cache is not None:
        cache.warmed(path)


def prefetch_excel(path: Path, index: int, dtype: Literal["string", "boolean"]) -> None:
    """Start parsing a sheet in the background when a SheetCache is active (nothing otherwise)."""
    cache = _SHEETS.get()
    if cache is not None:
        cache.start(path, index, dtype)


def probe_excel(path: Path, index: int, rows: int, *, cell_types: bool) -> pl.DataFrame:
    """A sheet's first `rows` rows as text cells. Within a run (a SheetCache active) the whole sheet is parsed
    for the load too, with the cell-type pass started beside it when the load will need it (`cell_types`: see
    needs_type_parse); outside one (the web page's probe of an upload) only the first rows are turned into a
    frame."""
    if _SHEETS.get() is None:
        return fastexcel.read_excel(path).load_sheet(index, header_row=None, skip_rows=0, n_rows=rows,
                                                     dtypes="string").to_polars()
    if cell_types:
        prefetch_excel(path, index, "boolean")
    return load_excel(path, index, "string").head(rows)


def load_excel(path: Path, index: int, dtype: Literal["string", "boolean"]) -> pl.DataFrame:
    """A whole sheet as a grid of cells (`c0`, `c1` … by column position), from the run's SheetCache when one is
    active. Raises fastexcel.FastExcelError for a workbook the reader cannot read."""
    cache = _SHEETS.get()
    if cache is None:
        return _parse_excel(path, index, dtype)
    return cache.start(path, index, dtype).result()


def _excel_error(path: Path, exc: Exception) -> InputError:
    # the library's own words (calamine's "Zip error …") stay in the chained exception, shown with --debug
    return InputError(f"无法读取 Excel 文件 {path}:文件可能已损坏、设置了打开密码,或不是 xlsx 格式(例如改了扩展名的"
                      " CSV,或 WPS/Excel 97-2003 的 .xls 旧格式:请在 Excel 或 WPS 中另存为 .xlsx 后重新使用)。")


def _csv_error(path: Path, exc: Exception, encoding: str) -> InputError:
    """A CSV that cannot be read, in words a township officer can act on (Python's own text only with --debug)."""
    if isinstance(exc, UnicodeDecodeError):
        return InputError(f"文件 {path} 第 {exc.start + 1} 个字节起无法按 {encoding} 编码读取:文件的编码与设置不符,"
                          "或不是文本文件。请在配置中指定 encoding(常见为 gb18030 或 utf-8),或在 Excel/WPS 中另存为"
                          "“CSV UTF-8”后重新使用。")
    return InputError(f"文件 {path} 不是有效的 CSV 文本文件(引号不成对或字段过长)。请在 Excel/WPS 中打开核对后另存为 CSV。")


def guarded_sheet(path: Path, sheet: int | str | None) -> SheetScan | None:
    """Check a workbook before the Excel reader opens it (xlsx_guard): its zip sizes, then the sheet to be read.
    Raises InputError for a workbook the reader could not read in bounded memory, or a sheet it does not have."""
    if not is_zip_workbook(path):
        return None  # .xls: bounded by its format; anything else is refused by sniff or by the reader
    refs = workbook_sheets(path)
    if not refs:
        return None
    index = _resolve_sheet(sheet, [r.name for r in refs], str(path))
    return check_sheet(path, refs[index])


def sheet_names(path: Path) -> list[str]:
    """A workbook's sheet names, read only after its zip sizes were checked (for pages that list them)."""
    refuse_mismatch(path, "xlsx")
    if is_zip_workbook(path):
        refs = workbook_sheets(path)
        if refs:
            return [r.name for r in refs]
    try:
        return list(fastexcel.read_excel(path).sheet_names)
    except fastexcel.FastExcelError as exc:
        raise _excel_error(path, exc) from exc


def sheets_with_data(path: Path, names: list[str], skip: int) -> list[str]:
    """The other sheets of a workbook that have a header and a data row in their first rows: where the data is
    when the configured sheet has none ("数据在工作表 … 中")."""
    found = []
    for index, name in enumerate(names):
        if index == skip:
            continue
        try:
            guarded_sheet(path, index)
            frame = fastexcel.read_excel(path).load_sheet(
                index, header_row=None, skip_rows=0, n_rows=_PROBE_ROWS, dtypes="string").to_polars()
        except (InputError, fastexcel.FastExcelError):
            continue  # a sheet that cannot be read is no better a place for the data
        probe = _header_grid(frame.rows())
        layout = find_header(probe)
        if layout is not None and any(sum(1 for c in row if c and str(c).strip()) > 0
                                      for row in probe[layout.data_start:]):
            found.append(name)
    return found


def where_the_data_is(path: Path, names: list[str], index: int) -> str:
    """The sentence that names the sheets with data, or "" when there are none."""
    others = sheets_with_data(path, names, index) if len(names) > 1 else []
    if not others:
        return ""
    listed = "、".join(f"“{n}”" for n in others)
    return f"数据在工作表 {listed} 中:请在配置中写 sheet: {others[0]}(或把数据移到第一个工作表)。"


def checked_sheet(path: Path, sheet: int | str | None) -> tuple[list[str], int, SheetScan | None]:
    """Everything checked before calamine parses a sheet (a bomb must not reach it): the file is a workbook, its
    zip and the sheet pass the xlsx guard. Returns the sheet names, the sheet's index and the guard's scan."""
    refuse_mismatch(path, "xlsx")
    scan = guarded_sheet(path, sheet)
    try:
        names = list(fastexcel.read_excel(path).sheet_names)
    except fastexcel.FastExcelError as exc:
        raise _excel_error(path, exc) from exc
    return names, _resolve_sheet(sheet, names, str(path)), scan


def _read_xlsx(path: Path, label: str, opts: _Options) -> RawTable:
    header_rows, skip_rows = opts.header_rows, opts.skip_rows
    wait_for_warming(path)
    sheet_names, index, scan = checked_sheet(path, opts.sheet)
    # Cell types come from the sheet XML (number_cells) when the workbook has one; otherwise (.xls, .xlsb) from a
    # second parse of the sheet beside the text parse, each on its own reader (a reader cannot be shared between
    # threads), or started by the plan.
    parse_types = bool(opts.text_sensitive) and needs_type_parse(scan)
    with one_parse_per_sheet() if _SHEETS.get() is None else nullcontext():
        if parse_types:
            prefetch_excel(path, index, "boolean")
        try:
            grid = load_excel(path, index, "string")
            typed = load_excel(path, index, "boolean") if parse_types else None
        except fastexcel.FastExcelError as exc:
            raise _excel_error(path, exc) from exc
        finally:
            cache = _SHEETS.get()
            if cache is not None:
                cache.forget(path, index)
    sheet_name = sheet_names[index]
    raw_cols = grid.columns
    grid = grid.with_columns(
        pl.col(c)
        .str.replace(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$", "${1}")
        .str.replace(r"^1899-12-3[01] (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$", "${1}")
        for c in raw_cols
    )
    probe = _header_grid(grid.head(skip_rows + (header_rows or 0) + _PROBE_ROWS).rows())
    layout = find_header(probe, header_rows=header_rows, skip_rows=skip_rows)
    if layout is None or not any(layout.names):  # no header, or `header_rows` pointing at empty rows
        raise InputError(f"文件 {path} 的工作表 “{sheet_name}” 中找不到表头:工作表是空的,或 skip_rows 跳过了全部内容。"
                         + where_the_data_is(path, sheet_names, index))
    positions = [int(c[1:]) for c in raw_cols]
    data = grid.rename({c: f"c{j}" for j, c in enumerate(raw_cols)}).with_row_index("_row", offset=1)
    frame, names, keep = _finish(data.slice(layout.data_start), layout, positions, label, sheet_name)
    numeric = _empty_numeric()
    if opts.text_sensitive:
        by_name = {name: raw_cols[j] for name, j in zip(names, keep, strict=True)}
        numeric = (_numeric_cells(typed, by_name, frame, opts.text_sensitive) if typed is not None
                   else _numeric_cells_in_xml(path, scan, by_name, frame, opts.text_sensitive))
    errors = sheet_errors(frame, scan.errors if scan else (),
                          {positions[j]: name for name, j in zip(names, keep, strict=True)}, label, sheet_name)
    frame, screened = screen(frame)
    others = where_the_data_is(path, sheet_names, index) if frame.height == 0 else ""
    return RawTable(frame, numeric, None, layout.header_row + 1, names, pl.concat([errors, screened]).sort("_row"),
                    others)


def needs_type_parse(scan: SheetScan | None) -> bool:
    """Whether a sheet's cell types need calamine's second parse: only when there is no sheet XML to read them
    from (an .xls, an .xlsb, a workbook that does not say where its sheet is)."""
    return scan is None or scan.member is None


def _sensitive_columns(by_name: dict[str, str], text_sensitive: Sequence[str]) -> dict[str, str]:
    """The frame's text-sensitive columns (header -> grid column `c<position>`)."""
    # Compare like suggest_mapping does, so a joined "户主_证件号码" still counts as "户主证件号码".
    wanted = {normalize_header(s) for s in text_sensitive}
    return {name: raw for name, raw in by_name.items()
            if name in text_sensitive or not wanted.isdisjoint(header_keys(name))}


# what calamine writes for a date or time cell (after _read_xlsx cut a midnight time): a number styled as a date
_DATE_TEXT = r"^(?:\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}:\d{2}(?:\.\d+)?)?|\d{2}:\d{2}:\d{2}(?:\.\d+)?)$"


def _numeric_cells_in_xml(path: Path, scan: SheetScan | None, by_name: dict[str, str], frame: pl.DataFrame,
                          text_sensitive: Sequence[str]) -> pl.DataFrame:
    """Cells of the text-sensitive columns that the sheet XML stores as numbers, dates excepted (the reader gives
    them as dates, which the boolean pass never counted either); as _numeric_cells finds them from a parse."""
    targets = _sensitive_columns(by_name, text_sensitive)
    if not targets or frame.height == 0 or scan is None or scan.member is None:
        return _empty_numeric()
    position = {name: int(raw[1:]) for name, raw in targets.items()}
    cells = number_cells(path, scan.member, list(position.values()))
    if cells.height == 0:
        return _empty_numeric()
    names = pl.DataFrame({"column": list(position), "_at": list(position.values())},
                         schema={"column": pl.String, "_at": pl.Int64})
    shown = frame.select("_row", *targets).unpivot(index="_row", variable_name="column", value_name="_text")
    found = (cells.rename({"row": "_row", "column": "_at"}).join(names, on="_at").drop("_at")
             .join(shown, on=["_row", "column"])
             .filter(pl.col("_text").is_not_null() & ~pl.col("_text").str.contains(_DATE_TEXT))
             .select("_row", "column").unique().sort("_row", "column"))
    where = frame.select("_file", "_sheet").head(1)
    return where.join(found, how="cross")


def _numeric_cells(
    typed: pl.DataFrame, by_name: dict[str, str], frame: pl.DataFrame, text_sensitive: Sequence[str]
) -> pl.DataFrame:
    """Cells of the text-sensitive columns that the workbook stores as numbers (see module doc)."""
    targets = _sensitive_columns(by_name, text_sensitive)
    if not targets or frame.height == 0:
        return _empty_numeric()
    kinds = typed.select(*(pl.col(raw).alias(f"kind:{name}") for name, raw in targets.items()))
    joined = frame.select("_row", *targets).join(
        kinds.with_row_index("_row", offset=1).with_columns(pl.col("_row").cast(pl.Int64)), on="_row"
    )
    parts = [
        joined.filter(pl.col(f"kind:{name}").is_not_null() & ~pl.col(name).is_in(["true", "false"])).select(
            "_row", pl.lit(name, pl.String).alias("column")
        )
        for name in targets
    ]
    where = frame.select("_file", "_sheet").head(1)
    return where.join(pl.concat(parts).sort("_row", "column"), how="cross")


# ---- Parquet ---------------------------------------------------------------------------------------


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.String:
        return col
    if dtype.is_float():
        # Same shape as the Excel reader: a whole 4.0 reads "4".
        whole = col.is_finite() & (col == col.round(0)) & (col.abs() < 1e15)
        return pl.when(whole).then(col.cast(pl.Int64).cast(pl.String)).otherwise(col.cast(pl.String))
    if isinstance(dtype, pl.Datetime):
        return col.dt.to_string("%Y-%m-%d %H:%M:%S").str.replace(" 00:00:00$", "")
    if dtype.is_nested() or isinstance(dtype, pl.Object):
        return col.map_elements(str, return_dtype=pl.String)
    return col.cast(pl.String)


def _read_parquet(path: Path, label: str) -> RawTable:
    try:
        df = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"无法读取 Parquet 文件 {path}:文件可能已损坏或不是 Parquet 格式。") from exc
    raw = list(df.columns)
    # read as if exported to CSV: header on row 1, data from row 2
    layout = HeaderLayout(cast(list[str | None], raw), 0, 1)
    data = df.select(*[_as_text(c, df.schema[c]).alias(f"c{j}") for j, c in enumerate(raw)]).with_row_index(
        "_row", offset=2
    )
    frame, names, _ = _finish(data, layout, range(len(raw)), label, "")
    frame, issues = screen(frame)
    return RawTable(frame, _empty_numeric(), None, 1, names, issues)


# ---- folders ------------------------------------------------------------------------------------------


def _members(folder: Path, fmt: str | None) -> list[Path]:
    def wanted(p: Path) -> bool:
        rel = p.relative_to(folder).parts
        if any(part.startswith((".", "~$")) for part in rel) or not p.is_file():
            return False  # hidden files and Excel/WPS lock files (~$x.xlsx) are not data
        return fmt is not None or p.suffix.lower() in FORMATS

    return sorted((p for p in folder.rglob("*") if wanted(p)), key=lambda p: p.relative_to(folder).as_posix())


def _read_folder(folder: Path, opts: _Options) -> RawTable:
    """Every data file under `folder`; `_file` is the path inside the folder ("二组/台账.csv")."""
    members = _members(folder, opts.fmt)
    if not members:
        raise InputError(f"文件夹 {folder} 中没有可读取的 csv/xlsx/parquet 文件。")
    tables = [_read_file(p, p.relative_to(folder).as_posix(), opts) for p in members]
    first, first_label = tables[0], members[0].relative_to(folder).as_posix()
    for table, member in zip(tables[1:], members[1:], strict=True):
        if set(table.headers) != set(first.headers):
            only_a = [h for h in first.headers if h not in table.headers]
            only_b = [h for h in table.headers if h not in first.headers]
            label = member.relative_to(folder).as_posix()
            raise InputError(
                f"文件夹 {folder} 中的文件表头不一致:{first_label} 与 {label} 不同。"
                f"只在 {first_label} 中的列:{'、'.join(only_a) or '无'};"
                f"只在 {label} 中的列:{'、'.join(only_b) or '无'}。同一文件夹内的文件必须使用同一表头。"
            )
    order = [*first.headers, *([EXTRA] if any(EXTRA in t.frame.columns for t in tables) else []), *META]
    frame = pl.concat([t.frame for t in tables], how="diagonal").select(order)
    numeric = pl.concat([t.numeric_cells for t in tables])
    encodings = sorted({t.encoding for t in tables if t.encoding})
    issues = pl.concat([t.issues for t in tables])
    return RawTable(frame, numeric, ",".join(encodings) or None, first.header_row, list(first.headers), issues)
