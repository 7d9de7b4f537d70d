"""Outputs of `reconcile sample`: the sample list workbook and one printable 农户调查表 per household.

Each form is pre-filled with what every source records for the household (家庭人口, 户籍人口, 明白卡人口,
扶贫手册人口, status, helper, income …), its members and the findings to verify, and leaves blank fields
for the inspector. ID numbers are masked unless `show_ids`, in the CSV list too (people open it in Excel).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import duckdb
import polars as pl
import xlsxwriter

from .clock import now
from .config import SAMPLING_CATEGORIES, Config
from .db import query_frame as _frame
from .db import table_names
from .outputs import file_part, inside, output_lock, run_scratch
from .report.common import kind_titles, mask_id, mask_text, source_labels, text_width
from .report.files import write_csv_bom
from .report.xlsx import Col, Sheet, Table, workbook_at, write_workbook
from .sample import HUKOU_ROW_LINK, SampleResult, open_run_database
from .schema import REGISTERED_ROLES, ROLE_LABELS

if TYPE_CHECKING:
    from pathlib import Path


FORMS_DIR = "农户调查表"
FIELDS = [  # row label, canonical field (per source), unit
    ("家庭人口", "hh_size", "人"), ("户状态", "status", ""), ("脱贫年度", "exit_year", ""),
    ("贫困户属性", "hh_type", ""), ("监测对象类别", "monitor_type", ""), ("主要致贫原因", "main_cause", ""),
    ("帮扶责任人", "cadre_name", ""), ("帮扶措施", "measures", ""), ("收入年度", "income_year", ""),
    ("人均纯收入", "income_per_capita", "元"),
]
# a monitored household's risk record, shown when a source records it as monitored (监测对象类别)
MONITORING_FIELDS = [("风险是否消除", "risk_status", ""), ("识别监测时间", "monitor_start_date", ""),
                     ("风险消除时间", "risk_eliminated_date", ""), ("风险消除方式", "elimination_method", "")]
SURVEY_ONLY = [("户籍人口", "hukou_size"), ("明白卡人口", "card_size"), ("扶贫手册人口", "manual_size")]
CHECKS = [
    ("家庭实际人口", "______ 人"), ("住房是否安全", "□ 是    □ 否(危房等级:____)"), ("饮水是否安全", "□ 是    □ 否"),
    ("不愁吃、不愁穿", "□ 是    □ 否"), ("义务教育阶段有无辍学", "□ 无    □ 有(姓名:________)"),
    ("家庭成员是否全部参加医保", "□ 是    □ 否(未参保:________)"), ("能否说出帮扶责任人", "□ 能    □ 不能"),
    ("帮扶责任人今年上门次数", "______ 次"), ("家庭人均纯收入(核算)", "______ 元"),
    ("对帮扶工作是否满意", "□ 满意    □ 基本满意    □ 不满意"), ("其他情况", ""),
]



def write_sample(result: SampleResult, config: Config, show_ids: bool = False, forms: bool = True) -> dict[str, Path]:
    """The sample list and, with `forms`, one pre-filled 农户调查表 per drawn household, in `result.output`
    (IDs masked unless `show_ids`), read from the run's database; also recorded in `result.files`."""
    from .pipeline import guard_output, make_output

    guard_output(config, result.output)
    make_output(result.output)
    con = open_run_database(config)
    try:
        with output_lock(result.output), run_scratch(result.output):
            result.files.update(write_sample_list(result, config, con, show_ids, now()))
            if forms:
                result.files.update(write_forms(result, config, con, show_ids))
    finally:
        con.close()
    return result.files


def _fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else f"{value:.2f}"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


def write_sample_list(result: SampleResult, config: Config, con: duckdb.DuckDBPyConnection, show_ids: bool,
                      generated: datetime) -> dict[str, Path]:
    out = result.output
    out.mkdir(parents=True, exist_ok=True)
    s = result.sample
    full = s.select("sample_no", "township", "village", pl.col("category").replace_strict(SAMPLING_CATEGORIES)
                    .alias("category_label"), "category", "key", "hh_code", "head_name", "head_id", "status",
                    "exit_year", "hh_size", "findings")
    masked = full.with_columns(pl.col("head_id").map_elements(mask_id, return_dtype=pl.String))
    shown = full if show_ids else masked
    write_csv_bom(shown, out / "抽样名单.csv")  # for people too: IDs masked unless --show-ids
    shown = shown.with_columns(form=pl.format("{}/{}", pl.col("township").map_elements(
        _township_folder, return_dtype=pl.String), pl.col("sample_no").map_elements(
        lambda n: _form_name(n, s), return_dtype=pl.String)))
    cols = [Col("抽样编号", "int"), Col("乡镇"), Col("村"), Col("抽样类别", max_width=18), Col("户编号", max_width=22),
            Col("户主姓名"), Col("户主证件号码", max_width=20), Col("户状态"), Col("脱贫年度", "int"),
            Col("家庭人口", "int"), Col("问题数", "int"), Col("调查表文件", max_width=40)]
    listing = Table(cols, shown.select("sample_no", "township", "village", "category_label", "hh_code", "head_name",
                                       "head_id", "status", "exit_year", "hh_size", "findings", "form"),
                    autofilter=True)
    q = result.quotas.with_columns(pl.col("category").replace_strict(SAMPLING_CATEGORIES))
    qcols = [Col("乡镇"), Col("村"), Col("抽样类别", max_width=18), Col("配额", "int"), Col("候选户数", "int"),
             Col("抽中", "int"), Col("缺额", "int")]
    short = result.shortfalls
    notes = [f"{config.region} 入户核查抽样名单",
             f"每村 {result.per_village} 户;随机种子 {result.seed}(相同种子、相同数据抽出相同的户);"
             f"{'有问题的户按问题数和严重程度加权' if result.weight == 'findings' else '等概率抽取'};"
             f"生成时间 {generated:%Y-%m-%d %H:%M}",
             f"配额无法抽满的村 {short.select('township', 'village').unique().height} 个,缺额 {int(short['shortfall'].sum())} 户"
             "(见“配额执行情况”;缺额未用其他类别补足)" if short.height else "各村配额均已抽满"]
    quota_sheet = Sheet("配额执行情况", [Table(qcols, q, autofilter=True)],
                        notes=["配额执行情况", "缺额 > 0:该村此类候选户不足,按实际抽取,请另行安排补抽或说明原因"])
    path = write_workbook(out / "抽样名单.xlsx", [Sheet("抽样名单", [listing], notes=notes), quota_sheet])
    return {"抽样名单.xlsx": path, "抽样名单.csv": out / "抽样名单.csv"}


def _form_name(sample_no: int, sample: pl.DataFrame) -> str:
    """The form's file name, from data (村, 户主): made safe as a name, never a path."""
    row = sample.filter(pl.col("sample_no") == sample_no).row(0, named=True)
    return f"{sample_no:03d}_{file_part(row['village'], '未标注村')}_{file_part(row['head_name'], '未知')}.xlsx"


def _township_folder(township: str | None) -> str:
    return file_part(township, "未标注乡镇")


def _household_values(con: duckdb.DuckDBPyConnection, keys: list[str], columns: list[str]) -> dict[str, dict]:
    if not keys:
        return {}
    have = {r[0] for r in con.execute("describe hh_wide").fetchall()}
    cols = [c for c in columns if c in have]
    con.register("_keys", pl.DataFrame({"key": keys}).to_arrow())
    frame = _frame(con, f"select cluster_id, {', '.join(cols) or 'null as none'} from hh_wide "
                        "where cluster_id in (select key from _keys)")
    con.unregister("_keys")
    return {r["cluster_id"]: r for r in frame.iter_rows(named=True)}


def _hukou_members(con: duckdb.DuckDBPyConnection, has_register: bool) -> pl.DataFrame:
    if not has_register:
        return pl.DataFrame(schema={"hukou_no": pl.String, "cluster_id": pl.String, "name": pl.String,
                                    "id_number": pl.String, "relation": pl.String, "birth": pl.Date,
                                    "person_cluster_id": pl.String})
    return _frame(con, f"""
        with h as (
          select r.file, r.row, r.hukou_no, r.name, r.id_number, r.id_number_birth as birth, a.value as relation,
                 l.cluster_id, l.person_cluster_id
          from register r
          left join register_attr a on a.file = r.file and a.row = r.row and a.kind = 'hukou' and a.attr = 'relation'
          left join ({HUKOU_ROW_LINK}) l on l.file = r.file and l.row = r.row
          where r.kind = 'hukou' and r.hukou_no is not null
        )
        select hukou_no, cluster_id, name, id_number, relation, birth, person_cluster_id from h""")


def write_forms(result: SampleResult, config: Config, con: duckdb.DuckDBPyConnection,
                show_ids: bool) -> dict[str, Path]:
    ordered = config.sources_by_trust()
    labels = source_labels({k: config.sources[k].role for k in ordered})
    registered = [s for s in ordered if config.sources[s].role in REGISTERED_ROLES][:3]
    survey = next((s for s in ordered if config.sources[s].role == "survey"), None)
    tables = table_names(con)
    has_register = "register" in tables and "register_link" in tables and "register_attr" in tables
    s = result.sample
    cluster_keys = s.filter(pl.col("key_kind") == "cluster")["key"].to_list()
    columns = [f"{f}_{src}" for _, f, _ in [*FIELDS, *MONITORING_FIELDS] for src in ordered] + \
        [f"{f}_{survey}" for _, f in SURVEY_ONLY if survey] + [f"survey_date_{survey}" if survey else "cluster_id"]
    values = _household_values(con, cluster_keys, columns)
    hukou = _hukou_members(con, has_register)
    hukou_no_of = {c: set(g["hukou_no"].to_list()) for (c,), g in
                   hukou.filter(pl.col("cluster_id").is_not_null()).group_by("cluster_id")} if hukou.height else {}
    members = _frame(con, "select * from person_wide") if "person_wide" in tables else pl.DataFrame()
    findings = _frame(con, "select cluster_id, person_id, kind, message, severity from finding")
    titles = kind_titles()
    out = result.output / FORMS_DIR
    written: dict[str, Path] = {}
    forms: list[tuple] = []
    for row in s.iter_rows(named=True):
        key = row["key"]
        if row["key_kind"] == "cluster":
            nos = hukou_no_of.get(key, set())
            v = values.get(key, {})
            mem = members.filter(pl.col("cluster_id") == key) if members.height else members
            fs = findings.filter(pl.col("cluster_id") == key)
        else:
            nos = {key.split(":", 1)[1]}
            v = {}
            mem = members.head(0) if members.height else members
            fs = findings.filter(pl.col("person_id").is_in(
                hukou.filter(pl.col("hukou_no").is_in(list(nos)))["id_number"].to_list()))
        hk = hukou.filter(pl.col("hukou_no").is_in(list(nos))) if nos else hukou.head(0)
        path = inside(out, _township_folder(row["township"]), _form_name(row["sample_no"], s))
        form = (config, row, v, mem, hk, fs, registered, survey, labels, titles, show_ids)
        _write_form(path, *form)
        forms.append(form)
        written[f"form:{row['sample_no']}"] = path
    if forms:
        written["forms:print"] = _write_all_forms(result.output / PRINT_ALL, forms)
    return written


def _write_all_forms(path: Path, forms: list[tuple]) -> Path:
    """Every form in one workbook to print at once: one household per A4 page (a page break before each; a big
    household runs on), a sheet per thousand forms."""
    with workbook_at(path, WORKBOOK_OPTIONS) as wb:
        fm = _FormFormats(wb)
        for first in range(0, len(forms), FORMS_PER_SHEET):
            chunk = forms[first:first + FORMS_PER_SHEET]
            name = "农户调查表" if len(forms) <= FORMS_PER_SHEET else f"农户调查表{first + 1}-{first + len(chunk)}"
            ws = _form_sheet(wb, name, fit=False)
            r, breaks = 0, []
            for form in chunk:
                if r:
                    breaks.append(r)
                r = _form_rows(ws, fm, r, *form)
            ws.set_h_pagebreaks(breaks)
            ws.print_area(0, 0, r - 1, 6)
    return path


def _fit_row(ws, r: int, texts: list[str], width: int) -> None:
    lines = max([-(-text_width(t) // width) for t in texts if t] + [1])
    if lines > 1:
        ws.set_row(r, 14 * min(lines, 5) + 3)


FORM_WIDTHS = [16, 20, 13, 13, 13, 13, 20]
WORKBOOK_OPTIONS = {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
PRINT_ALL = "农户调查表(全部,打印用).xlsx"
FORMS_PER_SHEET = 1000  # Excel keeps at most 1,023 manual page breaks on a sheet


class _FormFormats:
    """The form's cell formats, made once per workbook."""

    def __init__(self, wb: xlsxwriter.Workbook):
        base = {"font_name": "宋体", "font_size": 10.5, "border": 1, "valign": "vcenter", "text_wrap": True}
        self.title = wb.add_format({"font_name": "黑体", "font_size": 16, "bold": True, "align": "center",
                                    "valign": "vcenter"})
        self.sec = wb.add_format({"font_name": "黑体", "font_size": 11, "bold": True, "valign": "vcenter"})
        self.label = wb.add_format({**base, "bold": True, "bg_color": "#EDEDED"})
        self.cell = wb.add_format(base)
        self.fill = wb.add_format({**base, "bg_color": "#FFFDE7"})
        self.note = wb.add_format({"font_name": "宋体", "font_size": 9, "font_color": "#595959", "text_wrap": True,
                                   "valign": "top"})
        self.sign = wb.add_format({"font_name": "宋体", "font_size": 11, "valign": "vcenter"})


def _form_sheet(wb: xlsxwriter.Workbook, name: str, fit: bool):
    ws = wb.add_worksheet(name)
    for i, w in enumerate(FORM_WIDTHS):
        ws.set_column(i, i, w)
    ws.set_paper(9)
    ws.set_portrait()
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.center_horizontally()
    if fit:
        ws.fit_to_pages(1, 0)
    else:  # Excel ignores page breaks on a sheet fitted to pages: print at a scale one A4 page wide instead
        ws.set_print_scale(88)
    return ws


def _write_form(path: Path, config: Config, row: dict, v: dict, members: pl.DataFrame, hukou: pl.DataFrame,
                findings: pl.DataFrame, registered: list[str], survey: str | None, labels: dict[str, str],
                titles: dict[str, str], show_ids: bool) -> None:
    with workbook_at(path, WORKBOOK_OPTIONS) as wb:
        ws = _form_sheet(wb, "农户调查表", fit=True)
        end = _form_rows(ws, _FormFormats(wb), 0, config, row, v, members, hukou, findings, registered, survey,
                         labels, titles, show_ids)
        ws.print_area(0, 0, end - 1, 6)


def _form_rows(ws, fm: _FormFormats, r: int, config: Config, row: dict, v: dict, members: pl.DataFrame,
               hukou: pl.DataFrame, findings: pl.DataFrame, registered: list[str], survey: str | None,
               labels: dict[str, str], titles: dict[str, str], show_ids: bool) -> int:
    """One household's form from row `r`; returns the first row after it."""
    f_title, f_sec, f_label, f_cell, f_fill, f_note = fm.title, fm.sec, fm.label, fm.cell, fm.fill, fm.note
    ident = row["head_id"] if show_ids else mask_id(row["head_id"])
    ws.set_row(r, 30)
    ws.merge_range(r, 0, r, 6, "农户调查表(入户核查)", f_title)
    r += 1
    ws.merge_range(r, 0, r, 6, f"{config.region} {config.year} 年 · 抽样编号 {row['sample_no']} · "
                               f"{SAMPLING_CATEGORIES.get(row['category'], row['category'])}", f_note)
    r += 1
    info = [("乡镇", row["township"], "村", row["village"], "户编号", row["hh_code"] or ""),
            ("户主姓名", row["head_name"] or "", "证件号码", ident or "", "户状态", row["status"] or "")]
    for n1, v1, n2, v2, n3, v3 in info:  # (name, value) three times a line
        ws.write_string(r, 0, n1, f_label)
        ws.write_string(r, 1, _fmt(v1), f_cell)
        ws.write_string(r, 2, n2, f_label)
        ws.merge_range(r, 3, r, 4, _fmt(v2), f_cell)
        ws.write_string(r, 5, n3, f_label)
        ws.write_string(r, 6, _fmt(v3), f_cell)
        r += 1
    r += 1
    ws.write_string(r, 0, "一、各来源登记情况(已预填,请逐项核对)", f_sec)
    r += 1
    src_cols = [*registered, "hukou", *([survey] if survey else [])][:5]
    heads = ["项目", *[labels.get(c, "公安户籍") if c != "hukou" else "公安户籍" for c in src_cols]]
    heads = [*heads, *[""] * (6 - len(heads)), "核查实际情况(填写)"]
    if survey:
        heads[heads.index(labels[survey])] = "上次入户核查"
    for c, text in enumerate(heads):
        ws.write_string(r, c, text, f_label)
    r += 1
    hukou_size = str(hukou.height) if hukou.height else ""
    lines = [("家庭人口", {s: v.get(f"hh_size_{s}") for s in src_cols if s != "hukou"}),
             ("户籍人口", {"hukou": hukou_size, **({survey: v.get(f"hukou_size_{survey}")} if survey else {})}),
             ("明白卡人口", {survey: v.get(f"card_size_{survey}")} if survey else {}),
             ("扶贫手册人口", {**{s: v.get(f"hh_size_{s}") for s in registered if config.sources[s].role == "manual"},
                          **({survey: v.get(f"manual_size_{survey}")} if survey else {})})]
    lines += [(label, {s: v.get(f"{f}_{s}") for s in src_cols if s != "hukou"}) for label, f, _ in FIELDS[1:]]
    if any(v.get(f"monitor_type_{s}") for s in src_cols):
        lines += [(label, {s: v.get(f"{f}_{s}") for s in src_cols if s != "hukou"}) for label, f, _ in MONITORING_FIELDS]
    for label, by_source in lines:
        _fit_row(ws, r, [_fmt(x) for x in by_source.values()], 11)
        ws.write_string(r, 0, label, f_label)
        for c in range(1, 6):
            src = src_cols[c - 1] if c - 1 < len(src_cols) else None
            ws.write_string(r, c, _fmt(by_source.get(src)) if src else "", f_cell)
        ws.write_blank(r, 6, None, f_fill)
        r += 1
    r += 1
    ws.write_string(r, 0, "二、家庭成员", f_sec)
    r += 1
    for c, text in enumerate(["姓名", "证件号码", "与户主关系", "出生日期", "登记在哪些来源", "公安户籍", "核实情况(填写)"]):
        ws.write_string(r, c, text, f_label)
    r += 1
    in_hukou = set(hukou["id_number"].drop_nulls().to_list()) if hukou.height else set()
    listed = set()
    for m in members.iter_rows(named=True):
        where = [labels[s] for s in labels if m.get(f"present_{s}")]
        relation = next((m.get(f"relation_{s}") for s in labels if m.get(f"relation_{s}")), "")
        birth = next((m.get(f"birth_date_{s}") for s in labels if m.get(f"birth_date_{s}")), "")
        pid = m.get("person_id")
        listed.add(pid)
        cells = [m.get("person_name") or "", (pid if show_ids else mask_id(pid)) or "", relation or "", _fmt(birth),
                 "、".join(where), "有" if pid in in_hukou else "无"]
        _fit_row(ws, r, cells[4:5], 11)
        for c, text in enumerate(cells):
            ws.write_string(r, c, text, f_cell)
        ws.write_blank(r, 6, None, f_fill)
        r += 1
    for h in hukou.iter_rows(named=True):
        if h["id_number"] in listed:
            continue
        cells = [h["name"] or "", (h["id_number"] if show_ids else mask_id(h["id_number"])) or "", h["relation"] or "",
                 _fmt(h["birth"]), "(仅公安户籍)", "有"]
        for c, text in enumerate(cells):
            ws.write_string(r, c, text, f_cell)
        ws.write_blank(r, 6, None, f_fill)
        r += 1
    for _ in range(2):  # room for members found at the door
        for c in range(6):
            ws.write_blank(r, c, None, f_cell)
        ws.write_blank(r, 6, None, f_fill)
        r += 1
    r += 1
    ws.write_string(r, 0, f"三、待核实的问题({findings.height} 个)", f_sec)
    r += 1
    ws.write_string(r, 0, "问题类型", f_label)
    ws.merge_range(r, 1, r, 5, "问题说明", f_label)
    ws.write_string(r, 6, "核实结果(填写)", f_label)
    r += 1
    if not findings.height:
        ws.write_string(r, 0, "无", f_cell)
        ws.merge_range(r, 1, r, 5, "比对中未发现问题", f_cell)
        ws.write_blank(r, 6, None, f_fill)
        r += 1
    for fnd in findings.iter_rows(named=True):
        message = fnd["message"] if show_ids else mask_text(fnd["message"])
        ws.set_row(r, 15 * max(1, min(6, -(-len(message or "") // 34))) + 3)
        ws.write_string(r, 0, titles.get(fnd["kind"], fnd["kind"]), f_cell)
        ws.merge_range(r, 1, r, 5, message or "", f_cell)
        ws.write_blank(r, 6, None, f_fill)
        r += 1
    r += 1
    ws.write_string(r, 0, "四、入户核查记录(核查人员填写)", f_sec)
    r += 1
    for label, blank in CHECKS:
        if label == "其他情况":
            ws.set_row(r, 48)
        ws.merge_range(r, 0, r, 1, label, f_label)
        ws.merge_range(r, 2, r, 6, blank, f_fill)
        r += 1
    r += 1
    ws.set_row(r, 28)
    ws.merge_range(r, 0, r, 6, "核查人员(签字):______________    户主(签字):______________    核查日期:______年____月____日",
                   fm.sign)
    r += 1
    ws.merge_range(r, 0, r, 6, f"预填数据来源:{'、'.join(ROLE_LABELS.get(config.sources[s].role, s) for s in registered)}"
                               "、公安户籍" + ("、上次入户核查" if survey else "") + "。证件号码已打码(前 6 位 + 后 4 位)。"
                   if not show_ids else "", f_note)
    return r + 1
