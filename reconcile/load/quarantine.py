"""Rows and cells a reader cannot take as data, found after parsing (issue 16: silent loss).

Every reader returns, beside its rows, a frame of *load issues* (ISSUE_SCHEMA): where (`_file`, `_sheet`,
`_row` as a person sees it in Excel, `column`), what (`problem`, `value` shown safely, `detail`) and whether
the row was **quarantined** — kept out of the data. The load stage writes them to `raw_load_issue`, the
validate stage turns each into an `input_issue` row with its Chinese message. For every file,
rows in the file = rows loaded + rows quarantined: a quarantined row has exactly one quarantining issue.

Quarantined (the row is out of the data, its issue says so):
- `row_undecodable`, `row_other_encoding` — a record the text pass could not decode (reconcile.load.text);
- `unbalanced_quote`, `swallowed_row` — a quoted cell that never closed and swallowed the lines after it into
  one cell: the record is taken apart into its lines again, one issue each, and the rows below it get back the
  line numbers a text editor shows (Excel would show them shifted);
- `cell_too_long` — a cell over CELL_LIMIT (128 KiB): no field of these records is that long; it is a broken
  export or a file pasted into a cell.

Kept, the cell made absent:
- `excel_error` — an Excel error value (#DIV/0!, #N/A …): a formula that failed is no value, and must not
  read as an empty answer either.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence

import polars as pl

from .text import MARKER, BadRecord

CELL_LIMIT = 128 * 1024  # bytes of one cell
SHOWN = 80  # characters of a quarantined row's text shown in its issue

ISSUE_SCHEMA = {"_file": pl.String, "_sheet": pl.String, "_row": pl.Int64, "column": pl.String, "value": pl.String,
                "problem": pl.String, "detail": pl.String, "quarantined": pl.Boolean}
QUARANTINING = frozenset({"row_undecodable", "row_other_encoding", "unbalanced_quote", "swallowed_row",
                          "cell_too_long"})

# Excel's error values, as a cell shows them in any language version (and as a CSV export writes them)
EXCEL_ERRORS = ("#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#GETTING_DATA", "#SPILL!",
                "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!", "#N/A!")


def empty_issues() -> pl.DataFrame:
    return pl.DataFrame(schema=ISSUE_SCHEMA)


def shown(text: str | None, limit: int = SHOWN) -> str:
    """A cell or row as an issue shows it: line breaks visible, cut to `limit` characters."""
    if text is None:
        return ""
    flat = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "⏎")
    return flat if len(flat) <= limit else flat[:limit] + f"…(共 {len(text)} 个字符)"


def _issues(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=ISSUE_SCHEMA) if rows else empty_issues()


def data_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c in frame.columns if not c.startswith("_")]


# ---- CSV: records the text pass replaced by markers ------------------------------------------------------


def take_markers(data: pl.DataFrame, bad: Sequence[BadRecord]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split the positional frame (c0…, `_row`) into its rows and the marker rows (`_row`, `_bad` index)."""
    if not bad or "c0" not in data.columns:
        return data, pl.DataFrame(schema={"_row": pl.Int64, "_bad": pl.Int64})
    is_marker = pl.col("c0").str.starts_with(MARKER).fill_null(False)
    markers = data.filter(is_marker).select(
        pl.col("_row").cast(pl.Int64), pl.col("c0").str.strip_prefix(MARKER).cast(pl.Int64, strict=False).alias("_bad"))
    return data.filter(~is_marker), markers


def marker_issues(markers: pl.DataFrame, bad: Sequence[BadRecord], names: list[str], positions: list[int],
                  sep: str, label: str, sheet: str, encoding: str) -> pl.DataFrame:
    """One quarantining issue per record the text pass could not read, naming the column of its first bad byte."""
    column_at = dict(zip(positions, names, strict=True))
    rows = []
    for row, index in markers.iter_rows():
        record = bad[index]
        column = None
        if record.prefix is not None:
            try:
                fields = next(csv.reader([record.prefix.replace("\r", "").replace("\n", " ")], delimiter=sep), [""])
            except csv.Error:
                fields = [""]
            column = column_at.get(max(len(fields) - 1, 0))
        detail = record.detail if record.problem == "row_other_encoding" else f"{encoding}:{record.detail}"
        rows.append({"_file": label, "_sheet": sheet, "_row": row, "column": column, "value": shown(record.text),
                     "problem": record.problem, "detail": detail, "quarantined": True})
    return _issues(rows)


# ---- CSV: a quote that never closed ----------------------------------------------------------------------


def swallowed(frame: pl.DataFrame, sep: str, width: int) -> tuple[pl.DataFrame, pl.DataFrame, dict[int, int]]:
    """Rows with a quote that never closed, as issues, and the frame without them, later rows renumbered to the
    file's lines; also the renumbering (record row of a swallowing record -> lines it swallowed), for rows taken
    out of the frame before (`shift_rows`).

    An opening quote that is not closed where its cell ends runs on to the next quote in the file: the rest of
    its row, and often whole lines below it, end up in one cell. A cell is taken for such a run when one of its
    lines holds at least `threshold` delimiters — a real cell (a 备注 typed over two lines, "就业帮扶,饮水安全")
    does not carry half a row of them; on the cell's first line, where a list of a few items is common, only in
    files wide enough for half a row to be many delimiters."""
    columns = data_columns(frame)
    if frame.height == 0 or not columns:
        return frame, empty_issues(), {}
    threshold = max(1, min(width - 1, max(2, (width - 1) // 2)))
    same_line = (width - 1) // 2 if (width - 1) // 2 >= 3 else None
    # a line break in a cell is LF or CR LF: the text pass turned lone CRs into LFs
    with_lf, with_sep = _columns_with(frame, columns, "\n", sep)
    suspect = [pl.col(c).str.contains("\n", literal=True).fill_null(False) for c in with_lf]
    if same_line is not None:
        suspect += [(pl.col(c).str.count_matches(sep, literal=True) >= same_line).fill_null(False) for c in with_sep]
    if not suspect:
        return frame, empty_issues(), {}
    candidates = frame.filter(pl.any_horizontal(suspect))
    if candidates.height == 0:
        return frame, empty_issues(), {}
    found: list[tuple[int, list[str], str | None, str, str]] = []
    for record in candidates.iter_rows(named=True):  # only rows with a line break or many delimiters in a cell: few
        cells = [record[c] for c in columns]
        opener = None
        for c in columns:
            lines = (record[c] or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
            if any(line.count(sep) >= threshold for line in lines[1:]) or (
                    same_line is not None and lines[0].count(sep) >= same_line):
                opener = c
                break
        if opener is None:
            continue
        while cells and not cells[-1]:
            cells.pop()  # the empty fields after a run to the end of the file are not a line of it
        text = sep.join("" if c is None else c for c in cells)
        lines = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").split("\n")
        found.append((int(record["_row"]), lines, opener, record["_file"], record["_sheet"]))
    if not found:
        return frame, empty_issues(), {}
    extra = {first: len(lines) - 1 for first, lines, *_ in found}
    rows: list[dict] = []
    moved = 0  # lines swallowed above: a record's own number moves down by them too
    for first, lines, opener, file, sheet in sorted(found):
        at = first + moved
        below = len(lines) - 1
        rows.append({"_file": file, "_sheet": sheet, "_row": at, "column": opener, "value": shown(lines[0]),
                     "problem": "unbalanced_quote",
                     "detail": f"后面各列和下面 {below} 行" if below else "后面各列", "quarantined": True})
        rows += [{"_file": file, "_sheet": sheet, "_row": at + k, "column": None, "value": shown(line),
                  "problem": "swallowed_row", "detail": str(at), "quarantined": True}
                 for k, line in enumerate(lines[1:], start=1)]
        moved += below
    shift = pl.DataFrame({"_row": list(extra), "_extra": [extra[k] + 1 for k in extra]},
                         schema={"_row": pl.Int64, "_extra": pl.Int64})
    # the rows below a swallowing record move down by the lines it swallowed (in file order, cumulatively);
    # `_extra` is lines + 1 so that a record that swallowed none is still told from the rows kept
    kept = frame.with_columns(pl.col("_row").cast(pl.Int64)).join(
        shift, on="_row", how="left", maintain_order="left").with_columns(pl.col("_extra").fill_null(0))
    moved_by = (pl.col("_extra") - (pl.col("_extra") > 0).cast(pl.Int64))
    kept = kept.with_columns((pl.col("_row") + moved_by.cum_sum() - moved_by).alias("_row")).filter(
        pl.col("_extra") == 0).drop("_extra")
    return kept, _issues(rows), extra


def shift_rows(issues: pl.DataFrame, extra: dict[int, int]) -> pl.DataFrame:
    """Issues of rows below swallowing records, moved down by the lines swallowed above them (`swallowed`)."""
    if not extra or issues.height == 0:
        return issues
    firsts = sorted(extra)
    below = pl.Series([sum(extra[f] for f in firsts if f < row) for row in issues["_row"].to_list()], dtype=pl.Int64)
    return issues.with_columns(pl.col("_row") + below)


# ---- any reader: cells too long, Excel error values -----------------------------------------------------


def too_long(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows with a cell over CELL_LIMIT bytes, as quarantining issues (one per row, on its first such cell)."""
    columns = data_columns(frame)
    if frame.height == 0 or not columns:
        return frame, empty_issues()
    longest = pl.max_horizontal(pl.col(c).str.len_bytes().fill_null(0) for c in columns)
    over = frame.filter(longest > CELL_LIMIT)
    if over.height == 0:
        return frame, empty_issues()
    rows = []
    for record in over.iter_rows(named=True):  # the few rows with such a cell
        column = next(c for c in columns if record[c] is not None and len(record[c].encode()) > CELL_LIMIT)
        size = len(record[column].encode())
        rows.append({"_file": record["_file"], "_sheet": record["_sheet"], "_row": record["_row"], "column": column,
                     "value": shown(record[column], 40), "problem": "cell_too_long", "detail": f"{size // 1024} KB",
                     "quarantined": True})
    return frame.filter(longest <= CELL_LIMIT), _issues(rows)


def _columns_with(frame: pl.DataFrame, columns: list[str], *needles: str) -> list[list[str]]:
    """For each needle, the columns holding it in some cell: literal scans in one parallel pass, so that the
    exact (slower) tests run only where they can find something."""
    flags = frame.select(pl.col(c).str.contains(n, literal=True).any().alias(f"{k}:{c}")
                         for k, n in enumerate(needles) for c in columns).row(0)
    hits = iter(flags)
    return [[c for c in columns if next(hits)] for _ in needles]


def error_tokens(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cells holding an Excel error value (a CSV export writes them as text): made absent, one issue each."""
    columns = data_columns(frame)
    if frame.height == 0 or not columns:
        return frame, empty_issues()
    found = []
    for c in _columns_with(frame, columns, "#")[0]:  # every error value starts with "#"
        is_error = pl.col(c).str.strip_chars().str.strip_prefix("=").str.strip_chars('"').is_in(EXCEL_ERRORS)
        hits = frame.filter(is_error.fill_null(False))
        if hits.height:
            found.append(hits.select("_file", "_sheet", pl.col("_row").cast(pl.Int64), pl.lit(c).alias("column"),
                                     pl.col(c).str.strip_chars().alias("value"), pl.lit("excel_error").alias("problem"),
                                     pl.lit(None, pl.String).alias("detail"), pl.lit(False).alias("quarantined")))
            frame = frame.with_columns(pl.when(is_error.fill_null(False)).then(None).otherwise(pl.col(c)).alias(c))
    return frame, (pl.concat(found) if found else empty_issues())


def sheet_errors(frame: pl.DataFrame, errors: Sequence[tuple[int, int, str]], by_position: dict[int, str],
                 label: str, sheet: str) -> pl.DataFrame:
    """The error cells a workbook's XML holds (the Excel reader gives them back empty), on the rows read as data."""
    if not errors or frame.height == 0:
        return empty_issues()
    cells = pl.DataFrame([(row, by_position.get(col), text) for row, col, text in errors if col in by_position],
                         schema={"_row": pl.Int64, "column": pl.String, "value": pl.String}, orient="row")
    rows = frame.select(pl.col("_row").cast(pl.Int64))
    return cells.join(rows, on="_row", how="semi").select(
        pl.lit(label, pl.String).alias("_file"), pl.lit(sheet, pl.String).alias("_sheet"), "_row", "column", "value",
        pl.lit("excel_error").alias("problem"), pl.lit(None, pl.String).alias("detail"),
        pl.lit(False).alias("quarantined"))


def screen(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The checks every reader's rows go through: cells too long, Excel error values."""
    frame, long_issues = too_long(frame)
    frame, error_issues = error_tokens(frame)
    return frame, pl.concat([long_issues, error_issues])
