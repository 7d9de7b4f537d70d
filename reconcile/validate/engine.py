"""Validate stage, default engine: the input contract checked set-wise over whole columns.

Reads `raw_*`, `load_report`, `raw_numeric_cell`, `raw_load_issue`; writes `input_issue` (one row per failing
cell or set-aside row). Each distinct raw value is judged once by the same normaliser the normalise stage uses, so
a cell reported here is exactly a cell the normaliser could not (or could only partly) make sense of.
A bad cell is reported and its row kept; nothing is dropped. The rows the load stage could not take as data
(undecodable, in another encoding, swallowed by an open quote, a cell over 128 KiB) were quarantined there:
they come in from `raw_load_issue` with `quarantined` true, one issue per row, so that rows in a file = rows
loaded + issues with `quarantined` (input_issues.csv's last column).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import re
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from functools import partial

import duckdb
import polars as pl

from ..db import table_names, write_frame
from ..normalize.columns import normalising_table, normalize_id_series, normalize_series
from ..normalize.problems import INFORMATIONAL, PROBLEMS
from ..normalize.stage import HOUSEHOLD_KINDS, PERSON_KINDS, _numeric_flags, read_table
from ..schema import REGISTER_FIELDS, UNJUDGED_KINDS, VISIT_FIELDS
from .contract import load_contract

ISSUE_COLUMNS = ["source", "file", "sheet", "row", "column", "field", "value", "problem", "severity", "message",
                 "quarantined"]

EXTRA_PROBLEMS = {
    "required_empty": "必填项为空",
    "out_of_range": "数值超出合理范围({detail}):{value}",
    "excel_number": "该列在Excel中以数值格式保存,长编号可能已丢失末位数字,请设为文本格式:{value}",
    "ragged_row": "该行的字段数多于表头,多出的内容已保存在 extra 列中,请核对是否错列:{value}",
    "unplaced_row": "无法确定属于哪一户({value}都是空的),该行没有参与核查",
    # found by the readers (reconcile.load.quarantine); the quarantined ones say the row is out of the check
    "row_undecodable": "该行有无法解码的字节({detail}),整行已隔离,没有参与核查;请核对原文件中的这一行:{value}",
    "row_other_encoding": "该行是 {detail} 编码,与文件其余部分不同,整行已隔离,没有参与核查;请统一编码后重新导出:{value}",
    "unbalanced_quote": "该行的引号不成对,{detail}被并进了同一个单元格;已隔离,没有参与核查,请修正引号后重新导出:{value}",
    "swallowed_row": "该行被第 {detail} 行不成对的引号并进了上一行的单元格,已隔离,没有参与核查:{value}",
    "cell_too_long": "单元格过长({detail},上限 128 KB),不像是正常的数据,整行已隔离,没有参与核查:{value}",
    "excel_error": "单元格是 Excel 错误值(公式出错),按缺失处理(不是空白):{value}",
    "header_only": "文件只有表头,没有数据行,本次核查不使用该文件{detail}",
    "all_quarantined": "文件的数据行全部无法读取,本次核查不使用该文件{detail}",
}
WARNINGS = frozenset({"header_only", "all_quarantined"})


# table kind of the contract → the value kind of each field its raw table can hold (shared with the GX engine)
TABLE_KINDS: dict[str, dict[str, str]] = {
    "household": HOUSEHOLD_KINDS,
    "person": PERSON_KINDS,
    "register": {k: f.value_kind for k, f in REGISTER_FIELDS.items()},
    "visit": {k: f.value_kind for k, f in VISIT_FIELDS.items()},
}
ID_FIELDS = frozenset(f for kinds in TABLE_KINDS.values() for f, k in kinds.items() if k == "id")


def is_parsed(field: str, kind: str) -> bool:
    """Whether a field's cells are judged by its normaliser (identifiers and free text are only kept)."""
    return kind not in UNJUDGED_KINDS


def problem_text(code: str) -> str:
    """The message of a problem code without the value, for sentences that name the value elsewhere."""
    template = PROBLEMS.get(code) or EXTRA_PROBLEMS.get(code) or code
    return template.split(":{value}")[0].split("{")[0].rstrip("(")


def problem_title(code: str) -> str:
    """A problem code as a short Chinese title for a 问题 column (the message says the rest)."""
    if code not in PROBLEMS and code not in EXTRA_PROBLEMS:
        return "输入问题"
    return re.split(r"[,,(（;;]", problem_text(code), maxsplit=1)[0]


def _mappings(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """owner → canonical field → raw header, from what the load stage resolved."""
    rows = con.execute("select owner, mapping from load_report").fetchall()
    mappings: dict[str, dict[str, str]] = {}
    for owner, mapping in rows:
        columns: dict[str, list[str]] = {}
        for raw, field in json.loads(mapping).items():
            columns.setdefault(field, []).append(raw)  # a field read from several columns names them all
        mappings[owner] = {field: "、".join(raws) for field, raws in columns.items()}
    return mappings


def check_frame(frame: pl.DataFrame, kinds: dict[str, str], owner_col: str, table_kind: str,
                mappings: dict[str, dict[str, str]], contract: dict,
                numeric: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every failing cell of one raw table as input-issue rows (message filled later).

    `numeric` (raw_numeric_cell) tells which ID cells Excel stored as numbers: their last digits are
    invented, which the ID normaliser reports only when told (`id_excel_number`).
    """
    parts: list[pl.DataFrame] = []
    not_empty = set(contract["tables"][table_kind].get("not_empty", []))
    ranges = contract.get("ranges", {})
    base = frame.select(pl.col(owner_col).alias("source"), "file", "sheet", pl.col("row").cast(pl.Int64))
    if "ragged" in frame.columns:
        ragged = base.with_columns(pl.lit("ragged_row").alias("problem"), frame["ragged"].alias("value"),
                                   pl.lit("extra").alias("field")).filter(pl.col("value").is_not_null())
        if ragged.height:
            parts.append(ragged)
    for field, kind in kinds.items():
        if field not in frame.columns:
            continue
        raw = frame[field]
        problems: list[pl.Series] = []
        if is_parsed(field, kind):
            if kind == "id" and numeric is not None and frame.height:
                ids = normalize_id_series(raw, _numeric_flags(frame, numeric, owner_col, field))
                values, found = ids["value"].alias(field), ids["problem"].alias(field)
            else:
                values, found = normalize_series(raw, kind)
            problems.append(found)
            if field in ranges:
                problems.append(base.with_columns(values.alias("_v")).select(
                    pl.when(_range_mask(pl.col("_v"), values.dtype, ranges[field])).then(pl.lit("out_of_range"))
                    .otherwise(None).alias(field))[field])
        if field in not_empty:
            empty = raw.is_null() | (raw.str.strip_chars() == "")
            problems.append(pl.select(pl.when(empty).then(pl.lit("required_empty")).otherwise(None)
                                      .alias(field))[field] if len(raw) else pl.Series(field, [], pl.String))
        for found in problems:
            hit = base.with_columns(found.alias("problem"), raw.alias("value"), pl.lit(field).alias("field"))
            hit = hit.filter(pl.col("problem").is_not_null())
            if hit.height:
                parts.append(hit)
    parts += _unplaced_rows(frame, base, owner_col, contract["tables"][table_kind].get("not_empty_any", []),
                            mappings)
    if not parts:
        return pl.DataFrame(schema={"source": pl.String, "file": pl.String, "sheet": pl.String, "row": pl.Int64,
                                    "problem": pl.String, "value": pl.String, "field": pl.String})
    issues = pl.concat(parts, how="vertical_relaxed")
    # a field the file does not map cannot be "required empty" in it
    mapped = pl.DataFrame(
        [(owner, f) for owner, fields in mappings.items() for f in [*fields, "extra"]],
        schema={"source": pl.String, "field": pl.String}, orient="row")
    return issues.join(mapped, on=["source", "field"], how="semi")


def filled_groups(groups: list[list[str]], mapped: dict[str, str]) -> list[list[str]]:
    """The `not_empty_any` groups of a file, each cut to the fields the file maps (groups it maps none of drop)."""
    return [have for have in ([f for f in group if f in mapped] for group in groups) if have]


def unplaced_value(have: list[str], mapped: dict[str, str]) -> str:
    """The columns an unplaced row left empty, as its input issue shows them: 「户编号」、「户主姓名」."""
    return "、".join(f"「{mapped[f]}」" for f in have)


def _unplaced_rows(frame: pl.DataFrame, base: pl.DataFrame, owner_col: str, groups: list[list[str]],
                   mappings: dict[str, dict[str, str]]) -> list[pl.DataFrame]:
    """Rows whose every column of a `not_empty_any` group is empty (of the columns its file has): the row
    cannot be placed in a household. Reported on the first such column the file maps."""
    parts = []
    for owner, mapped in mappings.items():
        for have in filled_groups(groups, mapped):
            if not all(f in frame.columns for f in have):
                continue
            empty = pl.all_horizontal([pl.col(f).is_null() | (pl.col(f).cast(pl.String).str.strip_chars() == "")
                                       for f in have])
            rows = base.filter((frame[owner_col] == owner) & frame.select(empty).to_series())
            if rows.height:
                parts.append(rows.with_columns(pl.lit("unplaced_row").alias("problem"),
                                               pl.lit(unplaced_value(have, mapped)).alias("value"),
                                               pl.lit(have[0]).alias("field")))
    return parts


def _range_mask(col: pl.Expr, dtype: pl.DataType, bounds: dict) -> pl.Expr:
    lo, hi = bounds.get("min"), bounds.get("max")
    if dtype == pl.Date:
        lo = dt.date.fromisoformat(lo) if isinstance(lo, str) else lo
        hi = dt.date.today() if hi == "today" else (dt.date.fromisoformat(hi) if isinstance(hi, str) else hi)
    mask = pl.lit(False)
    if lo is not None:
        mask = mask | (col < pl.lit(lo)).fill_null(False)
    if hi is not None:
        mask = mask | (col > pl.lit(hi)).fill_null(False)
    return mask


def _messages(issues: pl.DataFrame, mappings: dict[str, dict[str, str]], contract: dict) -> pl.DataFrame:
    ranges = contract.get("ranges", {})
    headers = pl.DataFrame(
        [(owner, f, raw) for owner, fields in mappings.items() for f, raw in fields.items()],
        schema={"source": pl.String, "field": pl.String, "column": pl.String}, orient="row")
    issues = issues.join(headers, on=["source", "field"], how="left").with_columns(
        pl.coalesce("column", "field").alias("column"))
    return _sentences(issues, ranges)


def _sentences(issues: pl.DataFrame, ranges: dict) -> pl.DataFrame:
    """`message` and `severity` of every issue (and `quarantined`, false where it is not set)."""
    if "detail" not in issues.columns:
        issues = issues.with_columns(pl.lit(None, pl.String).alias("detail"))
    if "quarantined" not in issues.columns:
        issues = issues.with_columns(pl.lit(False).alias("quarantined"))
    messages = []
    severities = []
    for row in issues.iter_rows(named=True):  # one sentence per bad cell; cells are few relative to rows
        code = row["problem"]
        template = PROBLEMS.get(code) or EXTRA_PROBLEMS[code]
        detail = row["detail"] or ""
        if code == "out_of_range":
            bounds = ranges.get(row["field"], {})
            detail = f"{bounds.get('min', '')}—{bounds.get('max', '')}"
        elif code in WARNINGS and detail:
            detail = ";" + detail
        text = template.format(value=row["value"] or "", detail=detail)
        column = f"「{row['column']}」列" if row["column"] else ""
        messages.append(f"文件 {row['file']}{(' 工作表 ' + row['sheet']) if row['sheet'] else ''} "
                        f"第 {row['row']} 行{column}: {text}")
        severities.append("info" if code in INFORMATIONAL else "warning" if code in WARNINGS else "error")
    return issues.with_columns(pl.Series("message", messages, dtype=pl.String),
                               pl.Series("severity", severities, dtype=pl.String),
                               pl.col("quarantined").fill_null(False))


def load_issues(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The readers' issues (raw_load_issue) as input-issue rows, messages written; shared with the GX engine."""
    tables = table_names(con)
    if "raw_load_issue" not in tables:
        return pl.DataFrame(schema={c: pl.Boolean if c == "quarantined" else pl.Int64 if c == "row" else pl.String
                                    for c in ISSUE_COLUMNS})
    frame = read_table(con, "raw_load_issue").with_columns(pl.col("row").cast(pl.Int64))
    return _sentences(frame, {}).select(ISSUE_COLUMNS)


VALIDATE_WORKERS = 2  # load tables checked at once


def validate(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    contract = load_contract()
    mappings = _mappings(con)
    numeric = read_table(con, "raw_numeric_cell")

    def check_table(table: str, kind: str, owner_col: str) -> pl.DataFrame | None:
        with closing(con.cursor()) as cursor:
            frame = read_table(cursor, table)
        if table == "raw_visit":
            if not frame.height:
                return None
            frame = frame.with_columns(pl.lit("visits").alias("source"))
        with normalising_table(table):  # what validate works out for these columns, normalize takes (normalise_once)
            return check_frame(frame, TABLE_KINDS[kind], owner_col, kind, mappings, contract, numeric)

    # The tables are checked two at a time: a column's normalisers are mostly one polars thread each, so one table
    # at a time left a core idle (issue 18). The persons, the largest, go first; each table in a copy of this
    # context, so normalise_once's memo is shared and each thread says its own table (normalising_table).
    tables = (("raw_household", "household", "source"), ("raw_person", "person", "source"),
              ("raw_register", "register", "register"), ("raw_visit", "visit", "source"))
    largest_first = sorted(range(len(tables)), key=lambda i: tables[i][0] != "raw_person")
    with ThreadPoolExecutor(max_workers=VALIDATE_WORKERS, thread_name_prefix="reconcile-validate") as pool:
        futures = {i: pool.submit(contextvars.copy_context().run, partial(check_table, *tables[i]))
                   for i in largest_first}
        checked = [futures[i].result() for i in range(len(tables))]
    parts = [part for part in checked if part is not None]
    if numeric.height:
        # long codes stored as Excel numbers (户编号): IDs are reported by the ID normaliser (id_excel_number)
        sensitive = numeric.filter(~pl.col("field").is_in(sorted(ID_FIELDS)))
        if sensitive.height:
            parts.append(sensitive.select("source", "file", "sheet", pl.col("row").cast(pl.Int64),
                                          pl.lit("excel_number").alias("problem"), pl.lit(None, pl.String)
                                          .alias("value"), "field"))
    issues = pl.concat([p for p in parts if p.height], how="diagonal_relaxed") if any(p.height for p in parts) \
        else parts[0]
    issues = pl.concat([_messages(issues, mappings, contract).select(ISSUE_COLUMNS), load_issues(con)],
                       how="vertical_relaxed").sort(["source", "file", "row", "column"], nulls_last=True)
    write_frame(con, "input_issue", issues)
    return issues
