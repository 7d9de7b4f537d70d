"""核查范围 — what this run could check: notices, rules not fully run and why, each file's fields.

Read from the run plan (`ReportData.coverage()`); a run without a plan gets one line saying so.
"""

from __future__ import annotations

import polars as pl

from .coverage import Coverage
from .data import ReportData
from .xlsx import Col, Sheet, Table

SHEET_NAME = "核查范围"


def _table(columns: list[Col], rows: list[list], title: str, autofilter: bool = False) -> Table:
    names = [f"c{i}" for i in range(len(columns))]
    frame = pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None) if rows \
        else pl.DataFrame(schema={n: pl.String for n in names})
    return Table(columns, frame, title=title, autofilter=autofilter)


def notice_table(cov: Coverage) -> Table:
    rows = [[n["level_label"], n["file"], n["message"]] for n in cov.notices] or [["", "", "没有需要注意的事项"]]
    return _table([Col("级别"), Col("文件", max_width=24), Col("内容", "wrap", max_width=90)], rows,
                  f"需要注意({len(cov.notices)} 条)")


def rule_table(cov: Coverage) -> Table:
    rows = [[r["rule_id"], r["title"], r["kind_title"], r["status_label"], r["text"], r["sources"]]
            for r in cov.rules] or [["", "全部规则均完整运行", "", "", "", ""]]
    return _table([Col("规则编号", max_width=20), Col("规则名称", "wrap", max_width=30), Col("问题类型", max_width=20),
                   Col("运行情况"), Col("原因 / 未核查的内容", "wrap", max_width=70), Col("读取的来源", max_width=30)],
                  rows, f"{cov.headline}(下表列出未运行和部分运行的规则)")


def _names(items: list[dict], key: str = "label") -> str:
    return "、".join(i[key] for i in items if i[key])


def file_table(cov: Coverage) -> Table:
    rows = [[f.label, f.path, f.usage_label, len(f.provided), len(f.having("explicit")), len(f.auto),
             len(f.having("absent")), _names(f.having("proposed"), "raw"), _names(f.having("missing_mapped"), "raw"),
             _names(f.having("extra"), "raw"), f.message]
            for f in cov.files]
    return _table([Col("文件", max_width=24), Col("路径", max_width=30), Col("使用情况"), Col("识别的字段", "int"),
                   Col("其中配置指定", "int"), Col("其中自动识别", "int"), Col("文件中没有的字段", "int"),
                   Col("待确认的列", "wrap", max_width=24), Col("配置了但文件中没有的列", "wrap", max_width=24),
                   Col("未识别的列", "wrap", max_width=30), Col("说明", "wrap", max_width=50)],
                  rows, "各文件的使用情况")


def field_table(cov: Coverage) -> Table:
    rows = [[f.label, c["label"], c["status_label"], c["raw"], c["how"]] for f in cov.files for c in f.fields]
    return _table([Col("文件", max_width=24), Col("字段", max_width=20), Col("识别情况", max_width=22),
                   Col("文件中的列名", max_width=30), Col("说明", "wrap", max_width=60)],
                  rows, "各文件的字段(逐项,可筛选)", autofilter=True)


def coverage_sheet(data: ReportData) -> Sheet:
    cov = data.coverage()
    notes = ["核查范围", "本次核查读取了哪些文件和列、哪些规则没有运行或只运行了一部分及原因;"
                        "要运行未运行的规则,按“原因”补充相应的文件或列后重新核查"]
    if cov is None:
        return Sheet(SHEET_NAME, [_table([Col("说明", max_width=80)],
                                         [["本次运行没有记录核查范围(用旧版本生成的结果)"]], "核查范围")],
                     freeze=False, notes=notes)
    return Sheet(SHEET_NAME, [notice_table(cov), rule_table(cov), file_table(cov), field_table(cov)],
                 freeze=False, fit_width=False, notes=notes)
