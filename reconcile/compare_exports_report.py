"""Outputs of `reconcile compare-exports`: Parquet (full values), 导出比对.xlsx (workbook style), terminal summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
from rich.console import Console
from rich.table import Table as RichTable

from .clock import now
from .report.common import mask_id, mask_text
from .report.files import write_parquet
from .report.xlsx import Col, Sheet, Table, write_workbook
from .schema import HOUSEHOLD_FIELDS, PERSON_FIELDS

if TYPE_CHECKING:
    from .compare_exports import CompareResult

SHEET_ROW_LIMIT = 200_000
CHANGE_WORDS = {"added": "新增", "removed": "减少", "moved": "迁移", "corrected": "更正"}
ID_COLUMNS = ("head_id", "id_number")


def _label(field_name: str) -> str:
    for table in (HOUSEHOLD_FIELDS, PERSON_FIELDS):
        if field_name in table:
            return table[field_name].label
    return field_name


def _masked(frame: pl.DataFrame, show_ids: bool) -> pl.DataFrame:
    if show_ids or not frame.height:
        return frame
    exprs = [pl.col(c).cast(pl.String).map_elements(mask_id, return_dtype=pl.String) for c in ID_COLUMNS
             if c in frame.columns]
    if "detail" in frame.columns:
        exprs.append(pl.col("detail").map_elements(mask_text, return_dtype=pl.String))
    return frame.with_columns(exprs) if exprs else frame


def _capped(frame: pl.DataFrame) -> tuple[pl.DataFrame, str | None]:
    if frame.height <= SHEET_ROW_LIMIT:
        return frame, None
    return frame.head(SHEET_ROW_LIMIT), f"共 {frame.height} 行,此处列出前 {SHEET_ROW_LIMIT} 行,完整数据见 Parquet 文件"


def _summary_table(result: CompareResult) -> pl.DataFrame:
    rows = []
    for level, frame in (("户", result.households), ("人", result.persons), ("字段", result.fields)):
        if frame.height:
            grouped = frame.with_columns(pl.col("township").fill_null("(未标注)")).group_by("type", "township").len()
            for r in grouped.sort("type", "township").iter_rows(named=True):
                rows.append({"level": level, "type": r["type"], "township": r["township"], "n": r["len"]})
    if result.checks.height:
        grouped = result.checks.with_columns(pl.col("township").fill_null("(未标注)")).group_by("check", "township").len()
        for r in grouped.sort("check", "township").iter_rows(named=True):
            rows.append({"level": "部门数据核对", "type": r["check"], "township": r["township"], "n": r["len"]})
    return pl.DataFrame(rows, schema={"level": pl.String, "type": pl.String, "township": pl.String, "n": pl.Int64})


def write_comparison(result: CompareResult, show_ids: bool = False) -> dict[str, Path]:
    """The comparison's Parquet files and 导出比对.xlsx in `result.output` (IDs masked unless `show_ids`);
    also recorded in `result.files`."""
    out = result.output
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, frame in (("hh_changes", result.households), ("person_changes", result.persons),
                        ("field_changes", result.fields), ("register_checks", result.checks)):
        path = out / f"{name}.parquet"
        write_parquet(frame, path)
        files[f"{name}.parquet"] = path
    c = result.counts
    notes = [f"{result.region} 国家系统导出比对", f"旧导出 {result.old.name}({c.get('households_old', 0)} 户 "
             f"{c.get('persons_old', 0)} 人) → 新导出 {result.new.name}({c.get('households_new', 0)} 户 "
             f"{c.get('persons_new', 0)} 人);生成时间 {now():%Y-%m-%d %H:%M}",
             "证件号码已打码(前 6 位 + 后 4 位),完整值见 Parquet 文件" if not show_ids else "证件号码完整显示"]
    summary = Table([Col("层级"), Col("变动类型", max_width=30), Col("乡镇"), Col("数量", "int")], _summary_table(result),
                    autofilter=True)
    hh = _masked(result.households, show_ids).with_columns(pl.col("change").replace_strict(CHANGE_WORDS, default=None))
    hh, hh_note = _capped(hh)
    hh_sheet = Sheet("户变动", [Table(
        [Col("变动"), Col("动态调整类型", max_width=26), Col("乡镇"), Col("村"), Col("户编号", max_width=22), Col("户主姓名"),
         Col("户主证件号码", max_width=20), Col("人数", "int")],
        hh.select("change", "type", "township", "village", "hh_code", "head_name", "head_id", "members"),
        autofilter=True)], notes=[hh_note] if hh_note else [])
    ps = _masked(result.persons, show_ids).with_columns(pl.col("change").replace_strict(CHANGE_WORDS, default=None),
                                                        pl.col("birth_date").cast(pl.String))
    ps, ps_note = _capped(ps)
    person_sheet = Sheet("人员变动", [Table(
        [Col("变动"), Col("动态调整类型", max_width=28), Col("乡镇"), Col("村"), Col("姓名"), Col("证件号码", max_width=20),
         Col("与户主关系"), Col("出生日期"), Col("原户编号", max_width=22), Col("现户编号", max_width=22)],
        ps.select("change", "type", "township", "village", "name", "id_number", "relation", "birth_date",
                  "old_hh_code", "new_hh_code"), autofilter=True)], notes=[ps_note] if ps_note else [])
    fc = result.fields.with_columns(pl.col("level").replace_strict({"household": "户", "person": "人"}, default=None),
                                    pl.col("field").map_elements(_label, return_dtype=pl.String))
    if not show_ids and fc.height:
        fc = fc.with_columns(pl.col("before").map_elements(mask_text, return_dtype=pl.String),
                             pl.col("after").map_elements(mask_text, return_dtype=pl.String))
    fc, fc_note = _capped(fc)
    field_sheet = Sheet("字段变动", [Table(
        [Col("层级"), Col("变动类型", max_width=26), Col("乡镇"), Col("村"), Col("户编号", max_width=22),
         Col("户主/姓名"), Col("字段"), Col("变更前", "wrap", max_width=30), Col("变更后", "wrap", max_width=30)],
        fc.select("level", "type", "township", "village", "hh_code", "name", "field", "before", "after"),
        autofilter=True)], notes=[fc_note] if fc_note else [])
    ck = _masked(result.checks, show_ids)
    check_sheet = Sheet("部门数据核对", [Table(
        [Col("核对结果"), Col("乡镇"), Col("村"), Col("户编号", max_width=22), Col("姓名"), Col("证件号码", max_width=20),
         Col("说明", "wrap", max_width=60)],
        ck.select("check", "township", "village", "hh_code", "name", "id_number", "detail"), autofilter=True)])
    path = write_workbook(out / "导出比对.xlsx", [Sheet("变动汇总", [summary], notes=notes), hh_sheet, person_sheet,
                                                  field_sheet, check_sheet])
    files["导出比对.xlsx"] = path
    result.files = files
    return files


def print_comparison(result: CompareResult, console: Console) -> None:
    c = result.counts
    console.print(f"旧导出 {c.get('households_old', 0)} 户 {c.get('persons_old', 0)} 人 → 新导出 "
                  f"{c.get('households_new', 0)} 户 {c.get('persons_new', 0)} 人", highlight=False)
    table = RichTable(title="变动分类")
    for col in ("层级", "类型", "数量"):
        table.add_column(col, justify="right" if col == "数量" else "left")
    summary = result.summary()
    for level, key in (("户", "household_changes"), ("人", "person_changes"), ("字段", "field_changes"),
                       ("部门数据核对", "register_checks")):
        for kind, n in summary[key].items():
            table.add_row(level, kind, str(n))
    console.print(table)
    for path in result.files.values():
        console.print(f"  {path}", highlight=False)
