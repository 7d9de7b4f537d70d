"""Sheets of 核查报告.xlsx (DESIGN §8): 说明 · 问题台账 · 按乡镇汇总 · 按村汇总 · 输入问题 · 匹配情况.

The inspection-style sheets (督查发现问题汇总表, 核查情况汇总, 整改情况) are in `sheets_inspection`.
Every function turns a `ReportData` into a `Sheet`; ID numbers are masked unless `data.show_ids`.
"""

from __future__ import annotations

import polars as pl

from ..check.cards import CARD_LABELS
from ..ledger import VERDICT_LABELS, VERDICTS
from ..ledger_import import ANSWER_HEADERS, ID_HEADER
from ..normalize.vector import map_unique
from ..schema import REGISTER_KIND_LABELS, REGISTERED_ROLES, ROLE_LABELS, source_labels
from ..validate.engine import problem_title
from .common import (
    SEVERITY_LABELS,
    SEVERITY_ORDER,
    STATUS_LABELS,
    evidence_keys,
    evidence_label,
    evidence_labeller,
    evidence_parts,
    kind_order,
    kind_titles,
    mask_frame,
    mask_id,
    mask_text,
    table3_row,
)
from .data import ReportData, relative
from .labels import PARAM_LABELS, PARAM_VOCABULARY, PARAM_WORDS, PROVINCE_LABELS, field_label, people_key
from .sheets_coverage import notice_table
from .xlsx import Col, Sheet, Table

SHEET_GUIDE = [
    ("说明", "本次运行的范围、数据来源、参数、未运行的规则及原因"),
    ("核查范围", "各文件识别了哪些字段(配置指定或自动识别)、缺少哪些列;哪些规则未运行或只运行了一部分,原因和需要补充的文件"),
    ("问题台账", "每个问题一行:所在乡镇村户、问题说明、整改建议、各来源的值并排列出;可筛选。乡镇核实后填写最后四列(黄色):"
                "核实结果从下拉列表选择,“核实无误”须写明依据,“整改中”须填整改期限;其他列已保护,请勿改动问题编号。"
                "填好后交回县里,由 reconcile ledger import 导入台账"),
    ("问题台账(打印)", "同样的问题,每个一行、七列,A4 横向打印:乡镇村、户主、问题、各来源的记录(合在一列)、整改建议、核实整改情况"),
    ("按乡镇汇总", "各乡镇的核查户数、问题户数、按严重程度和问题类型的问题数"),
    ("按村汇总", "各村的核查户数、问题户数、按严重程度和问题类型的问题数"),
    ("防返贫监测", "各乡镇监测对象户数(按类别)、本年纳入和消除、消除率、识别到消除的平均月数、疑似应消未消户数"),
    ("红黄绿卡", "每个在册户的红黄绿卡(红卡未脱贫或风险未消除,黄卡脱贫户中的低收入户,绿卡稳定脱贫),按乡镇和村统计户数"),
    ("督查发现问题汇总表", "按督查表的问题类别(精准识别、精准帮扶、精准脱贫、其他)逐个列出问题,见事见人"),
    ("核查情况汇总", "各乡镇和全县的核查情况统计(人口不一致户数、疑似漏评、疑似错退户数等)"),
    ("匹配情况", "各来源之间户的匹配率,以及未在所有来源中找到对应记录的户"),
    ("输入问题", "输入文件中有问题的单元格(证件号码、日期、代码等),注明文件、行号、列名"),
    ("整改情况", "与历次运行比较:各乡镇、帮扶责任人、各类问题的整改进度(销号、核实无误、整改中、逾期)和已销号问题清单"),
    ("通报", "本期与上期比较:各乡镇问题数、新发现、销号、核实无误、整改中、逾期未整改和整改率,及逾期问题清单;可直接印发"),
    ("整改记录", "乡镇交回的每一条核实和整改答复:谁、何时、结论、依据、整改期限和来源文件"),
]


def _id(value: str | None, data: ReportData) -> str | None:
    return value if data.show_ids else mask_id(value)


def _text(value: str | None, data: ReportData) -> str | None:
    return value if data.show_ids else mask_text(value)


def household_key() -> pl.Expr:
    return pl.coalesce(pl.col("cluster_id"), pl.col("hh_code"), pl.col("head_id"), pl.col("person_id"))


# ---- 说明 -----------------------------------------------------------------------------------------

SKIP_PARAMS = {"linkage"}  # matching weights: see rules/params/default.yaml and `reconcile explain-link`


def _clip(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[:limit] + "……"


def _param_text(value: object, words: dict[str, str] = PARAM_WORDS) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{words.get(str(k), k)}: {_param_text(v, words)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "、".join(_param_text(v, words) for v in value)
    return "" if value is None else words.get(str(value), str(value))


def param_rows(params: dict) -> list[tuple[str, str]]:
    """The run's parameters as the 说明 sheet lists them: each by its Chinese name, its value in Chinese words."""
    return [(PARAM_LABELS.get(k, k), _clip(_param_text(v, PARAM_VOCABULARY.get(k, PARAM_WORDS))))
            for k, v in params.items() if k not in SKIP_PARAMS]


def notes_sheet(data: ReportData) -> Sheet:
    cfg = data.config
    f = data.findings
    run = data.this_run
    sev = {k: f.filter(pl.col("severity") == k).height for k in SEVERITY_LABELS} if f.height else {}
    households = f.select(household_key()).n_unique() if f.height else 0
    info = [
        ("地区", cfg.region), ("考核年度", str(cfg.year)), ("参数集(省份)", PROVINCE_LABELS.get(cfg.province, cfg.province)),
        ("范围", data.scope),
        ("生成时间", data.generated_at.strftime("%Y-%m-%d %H:%M")),
        ("台账运行次序", f"第 {run['run_id']} 次" if run else ""),
        ("配置文件", cfg.path.name if cfg.path else ""),
        ("证件号码", "完整显示(--show-ids)" if data.show_ids else
         "已打码,只显示前 6 位和后 4 位;完整号码见 findings.csv / findings.parquet"),
    ]
    results = [
        ("核查户数(建档立卡/监测户)", data.registered().height),
        ("发现问题", f.height),
        *[(f"其中{label}风险", sev.get(k, 0)) for k, label in SEVERITY_LABELS.items()],
        ("涉及户数", households),
        *[(f"其中{STATUS_LABELS[s]}", f.filter(pl.col("status") == s).height if f.height else 0)
          for s in ("new", "open", "reopened", "in_progress", "verified")],
        ("与上次相比已销号", int(data.ledger.filter(
            (pl.col("status") == "resolved") & (pl.col("resolved_run") == run.get("run_id"))).height)
         if data.ledger.height and run else 0),
        ("输入问题(单元格)", data.input_issues.height),
    ]
    lr = data.load_report
    source_rows = []
    for row in (lr.iter_rows(named=True) if lr.height else []):
        owner = row["owner"]
        if owner in data.sources:
            kind = f"{ROLE_LABELS.get(data.sources[owner], owner)}({owner})"
        elif owner == "visits":
            kind = "走访记录"
        else:
            reg = cfg.registers.get(owner)
            kind = f"部门数据:{REGISTER_KIND_LABELS.get(reg.kind, reg.kind) if reg else owner}"
        source_rows.append((kind, relative(row["path"], cfg.base_dir), row["encoding"] or "Excel", row["rows"],
                            row.get("quarantined") or 0))
    params = param_rows(cfg.params)
    runs = data.rule_runs
    not_run = runs.filter(pl.col("status") != "ran").sort("rule_id") if runs.height else runs
    rule_rows = [(r["rule_id"], r["title"], kind_titles().get(r["kind"], r["kind"]),
                  "跳过" if r["status"] == "skipped" else "出错", r["reason"]) for r in not_run.iter_rows(named=True)]
    ran = runs.filter(pl.col("status") == "ran").height if runs.height else 0
    if not rule_rows:
        rule_rows = [("", "全部规则均已运行", "", "", "")]

    def table(title, cols, rows, kinds=None):
        kinds = kinds or ["text"] * len(cols)
        frame = pl.DataFrame([list(r) for r in rows], schema=[f"c{i}" for i in range(len(cols))], orient="row",
                             infer_schema_length=None) if rows else pl.DataFrame(schema=[f"c{i}" for i in range(len(cols))])
        return Table([Col(c, k, max_width=60) for c, k in zip(cols, kinds, strict=True)], frame, title=title)

    cov = data.coverage()
    # what a person must act on (a renamed column, a file left out, a mapping to confirm) is on the first sheet
    attention = [notice_table(cov)] if cov is not None and cov.notices else []
    rule_title = f"规则:运行 {ran} 条,未运行 {not_run.height} 条"
    if cov is not None and cov.partial:
        rule_title += f"(其中 {cov.partial} 条只运行了一部分,见「核查范围」)"
    tables = [
        table("运行信息", ["项目", "内容"], info),
        *attention,
        table("核查结果", ["项目", "数量"], results, ["text", "int"]),
        table("数据来源", ["来源", "文件", "编码", "读取行数", "隔离行数(见输入问题)"], source_rows,
              ["text", "text", "text", "int", "int"]),
        table(rule_title, ["规则编号", "规则名称", "问题类型", "状态", "原因"], rule_rows),
        table("参数", ["参数", "取值"], params, ["text", "wrap"]),
        table("各工作表内容", ["工作表", "内容"], SHEET_GUIDE),
    ]
    return Sheet("说明", tables, freeze=False, landscape=False, notes=[data.title])


# ---- 问题台账 -------------------------------------------------------------------------------------

def sorted_findings(f: pl.DataFrame) -> pl.DataFrame:
    if not f.height:
        return f
    return f.with_columns(
        _sev=pl.col("severity").replace_strict(SEVERITY_ORDER, default=9, return_dtype=pl.Int32),
        _kind=pl.col("kind").replace_strict(kind_order(), default=999, return_dtype=pl.Int32),
    ).sort(["township", "village", "hh_code", "cluster_id", "_sev", "_kind", "person_name", "finding_id"],
           nulls_last=True).drop("_sev", "_kind")


# A province's findings run to hundreds of thousands: past this many rows a sheet is no longer read, and Excel
# and WPS open it slowly. The complete list is findings.csv / findings.parquet.
WORKBOOK_FINDINGS_LIMIT = 100_000


def findings_sheet(data: ReportData) -> Sheet:
    notes = []
    if data.findings.height > WORKBOOK_FINDINGS_LIMIT:  # the most severe first, then back in the sheet's order
        notes.append(f"共 {data.findings.height} 个问题,本表按严重程度列出前 {WORKBOOK_FINDINGS_LIMIT} 个;"
                     f"全部问题见同一文件夹的 findings.csv / findings.parquet,或按乡镇拆分的报告(--split-by township)")
    f = _listed_findings(data)
    keys = evidence_keys(f["evidence"], data.sources) if f.height else []
    labels = {k: evidence_label(k, data.sources) for k in keys}
    own = [k for k in keys if k in data.sources]  # one column per source; registers and the rest share one
    others = [k for k in keys if k not in data.sources]
    other_order = {k: i for i, k in enumerate(others)}  # each finding's own keys, in the sheet's order: a rule
    titles = kind_titles()                                # with many distinct keys must not cost keys × findings
    cols = [Col("序号", "int"), Col("状态", "status"), Col("严重程度", "severity"), Col("问题类别", max_width=22),
            Col("问题类型", max_width=24), Col("乡镇"), Col("村"), Col("户编号", max_width=22), Col("户主姓名"),
            Col("户主证件号码", max_width=20), Col("红黄绿卡", max_width=8), Col("人员姓名"),
            Col("人员证件号码", max_width=20), Col("问题说明", "wrap", max_width=50), Col("整改建议", "wrap", max_width=40)]
    cols += [Col(f"{labels[k]}的记录", "wrap", max_width=36) for k in own]
    if others:
        cols.append(Col("部门数据及其他依据", "wrap", max_width=44))
    cols += [Col("首次发现", "date"), Col("发现次数", "int"), Col("规则编号", max_width=20), Col(ID_HEADER, max_width=18),
             Col(ANSWER_HEADERS["verdict"], "answer", max_width=12, min_width=12, choices=tuple(VERDICTS)),
             Col(ANSWER_HEADERS["note"], "answer", max_width=30, min_width=24),
             Col(ANSWER_HEADERS["responsible"], "answer", max_width=12, min_width=10),
             Col(ANSWER_HEADERS["deadline"], "answer_date", max_width=12, min_width=12)]
    if not f.height:
        return Sheet("问题台账", [Table(cols, pl.DataFrame(schema={f"c{i}": pl.String for i in range(len(cols))}),
                                     autofilter=True)], fit_width=False, notes=notes, repeat_columns=1, protect=True)
    parts = [evidence_parts(e, data.show_ids, data.sources) for e in f["evidence"].to_list()]
    f = f.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in LEDGER_ANSWERS if c not in f.columns)
    answered = pl.col("verdict").fill_null("") != "lapsed"
    frame = f.with_columns(shown_texts(f, data)).select(numbered_columns([
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64), status_expr(f),
        labelled("severity", SEVERITY_LABELS), _category(f["category"]), labelled("kind", titles),
        "township", "village", "hh_code", "head_name", "_head_id", _optional(f, "card"), "person_name", "_person_id",
        "_message", "_advice",
        *[pl.Series([p.get(k, "") for p in parts], dtype=pl.String) for k in own],
        *([pl.Series(["; ".join(f"{labels[k]}: {p[k]}" if labels[k] else p[k]
                                for k in sorted((k for k in p if k in other_order and p[k]), key=other_order.__getitem__))
                      for p in parts], dtype=pl.String)] if others else []),
        map_unique(f["first_seen"], lambda v: str(v) if v else None, return_dtype=pl.String)
        if "first_seen" in f.columns else pl.lit(None, dtype=pl.String),
        _optional(f, "run_count"), "rule_id", "finding_id",
        # the township's answer so far (read back by `reconcile ledger import`), to keep or change
        pl.when(answered).then(labelled("verdict", VERDICT_LABELS, keep=False)),
        pl.when(answered).then(pl.col("_verdict_note")).otherwise(pl.col("verdict_note")),
        "responsible", "deadline"]))
    return Sheet("问题台账", [Table(cols, frame, autofilter=True)], fit_width=False, notes=notes, repeat_columns=1,
                 protect=True)


def numbered_columns(columns: list) -> list:
    """A sheet's columns (expressions, Series or column names) named c0, c1 … in order."""
    return [(pl.col(c) if isinstance(c, str) else c).alias(f"c{i}") for i, c in enumerate(columns)]


LEDGER_ANSWERS = ("verdict", "verdict_note", "responsible", "deadline")  # a run without a ledger has none


def _optional(f: pl.DataFrame, name: str) -> pl.Expr:
    """A column the findings may not have (a run without a ledger): null when absent."""
    return pl.col(name) if name in f.columns else pl.lit(None).alias(name)


def labelled(name: str, labels: dict[str, str], keep: bool = True) -> pl.Expr:
    """A code column in its people's words; a code with no label kept as it is (`keep`) or left empty."""
    column = pl.col(name).cast(pl.String)
    return column.replace_strict(labels, default=column if keep else None, return_dtype=pl.String).alias(name)


def _category(categories: pl.Series) -> pl.Series:
    def placed(category: str | None) -> str:
        main, sub = table3_row(category)
        return f"{main}({sub})" if sub else main
    return map_unique(categories, placed, return_dtype=pl.String)


def shown_texts(f: pl.DataFrame, data: ReportData) -> list[pl.Series]:
    """The findings' IDs and free texts as people see them, as `_<name>` columns: masked by `mask_frame` (IDs
    whole, ID numbers inside the texts) unless `show_ids`."""
    names = [c for c in ("head_id", "person_id", "message", "advice", "verdict_note") if c in f.columns]
    shown = f.select(names) if data.show_ids else mask_frame(f.select(names))
    return [shown[name].alias(f"_{name}") for name in names]


def status_expr(f: pl.DataFrame) -> pl.Expr:
    """Each finding's status in words (新发现 / 未整改 / 整改中 …), with 逾期 when still open past its 整改期限."""
    label = labelled("status", STATUS_LABELS)
    if "overdue" not in f.columns:
        return label
    return pl.when((label.fill_null("") != "") & pl.col("overdue").fill_null(False)).then(label + "(逾期)").otherwise(label) \
        .alias("status")


def _listed_findings(data: ReportData) -> pl.DataFrame:
    """The findings a findings sheet lists, in its order (the most severe first past the row limit)."""
    f = sorted_findings(data.findings)
    if f.height > WORKBOOK_FINDINGS_LIMIT:
        f = (f.with_row_index("_n")
             .sort([pl.col("severity").replace_strict(SEVERITY_ORDER, default=9, return_dtype=pl.Int32), "_n"])
             .head(WORKBOOK_FINDINGS_LIMIT).sort("_n").drop("_n"))
    return f


def print_sheet(data: ReportData) -> Sheet:
    """问题台账(打印): the same findings, one row each in seven columns that fit A4 landscape — where, whose,
    what, what each source says (in one column), what to do, and room for the township's answer."""
    f = _listed_findings(data)
    titles = kind_titles()
    cols = [Col("序号", "int", max_width=5), Col("乡镇 村", "wrap", max_width=12), Col("户主(人员)", "wrap", max_width=16),
            Col("问题", "wrap", max_width=40), Col("各来源的记录", "wrap", max_width=36),
            Col("整改建议", "wrap", max_width=26), Col("核实整改情况(填写)", "blank", max_width=16, min_width=16)]
    if f.height:
        label = evidence_labeller(data.sources)
        said = ["\n".join(f"{label(k)}: {v}" if k else v for k, v in parts.items() if v)
                for parts in (evidence_parts(e, data.show_ids, data.sources) for e in f["evidence"].to_list())]
        f = f.with_columns(shown_texts(f, data))

        def present(column: str | pl.Expr) -> pl.Expr:  # a part of a cell that is there only when not empty
            value = pl.col(column) if isinstance(column, str) else column
            return pl.when(value.fill_null("") != "").then(value)
        frame = f.select(numbered_columns([
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
            pl.concat_str([pl.col("township").fill_null(""), pl.col("village").fill_null("")], separator="\n")
            .str.strip_chars(),
            pl.concat_str([present("head_name"), present("_head_id"), pl.when(pl.col("person_name").fill_null("") != "").then(pl.lit("人员:") + pl.col("person_name"))],
                          separator="\n", ignore_nulls=True),
            pl.concat_str([pl.lit("【"), labelled("kind", titles), pl.lit("】"), pl.col("_message").fill_null("")]),
            pl.Series(said, dtype=pl.String), "_advice", pl.lit(None, dtype=pl.String)]))
    else:
        frame = pl.DataFrame(schema={f"c{i}": pl.String for i in range(len(cols))})
    notes = ["问题台账(打印用):每个问题一行,A4 横向打印;完整的各列(户编号、证件号码、规则编号等)见「问题台账」表"]
    return Sheet("问题台账(打印)", [Table(cols, frame)], notes=notes, repeat_columns=1)


# ---- 按乡镇汇总 / 按村汇总 ------------------------------------------------------------------------

def _summary(data: ReportData, by: list[str], name: str) -> Sheet:
    f = data.findings
    hh = data.registered()
    kinds_present = sorted(set(f["kind"].to_list()), key=lambda k: kind_order().get(k, 999)) if f.height else []
    titles = kind_titles()
    base = hh.group_by(by).agg(households=pl.len()) if hh.height else pl.DataFrame(
        schema={**{b: pl.String for b in by}, "households": pl.UInt32})
    if f.height:
        registered = hh["cluster_id"].to_list() if hh.height else []
        fk = f.with_columns(_hh=household_key(), _reg=pl.col("cluster_id").is_in(registered))
        agg = fk.group_by(by).agg(
            problem_households=pl.col("_hh").n_unique(), findings=pl.len(),
            registered_problem=pl.col("_hh").filter(pl.col("_reg")).n_unique(),
            **{f"sev_{s}": (pl.col("severity") == s).sum() for s in SEVERITY_LABELS},
            **{f"st_{s}": (pl.col("status") == s).sum() for s in ("new", "reopened")},
            **{f"k_{k}": (pl.col("kind") == k).sum() for k in kinds_present},
        )
        table = base.join(agg, on=by, how="full", coalesce=True, nulls_equal=True)
    else:
        table = base.with_columns(problem_households=pl.lit(0), findings=pl.lit(0), registered_problem=pl.lit(0),
                                  **{f"sev_{s}": pl.lit(0) for s in SEVERITY_LABELS},
                                  **{f"st_{s}": pl.lit(0) for s in ("new", "reopened")})
    numeric = [c for c in table.columns if c not in by]
    table = table.with_columns(pl.col(numeric).fill_null(0).cast(pl.Int64)).sort(by, nulls_last=True)
    total: dict[str, int | str | None] = {**{b: None for b in by}, **{c: int(table[c].sum()) for c in numeric}}
    total[by[0]] = "合计"
    table = pl.concat([table, pl.DataFrame([total], schema=table.schema)])
    # 占比: registered households with a finding ÷ registered households (a suspect outside them is not counted)
    table = table.with_columns(share=pl.when(pl.col("households") > 0)
                               .then(pl.col("registered_problem") / pl.col("households")).otherwise(None))
    order = [*by, "households", "problem_households", "share", "findings", *[f"sev_{s}" for s in SEVERITY_LABELS],
             *[f"st_{s}" for s in ("new", "reopened")], *[f"k_{k}" for k in kinds_present]]
    titles_by = {"township": "乡镇", "village": "村"}
    cols = [Col(titles_by[b]) for b in by] + [
        Col("核查户数", "int"), Col("问题户数", "int"), Col("在册户问题占比", "pct"), Col("问题数", "int"),
        *[Col(f"{label}风险", "int") for label in SEVERITY_LABELS.values()],
        Col("新发现", "int"), Col("重新出现", "int"),
        *[Col(titles.get(k, k), "int", max_width=12) for k in kinds_present]]
    return Sheet(name, [Table(cols, table.select(order), autofilter=True, total_last=True)], repeat_columns=len(by))


def township_sheet(data: ReportData) -> Sheet:
    return _summary(data, ["township"], "按乡镇汇总")


def village_sheet(data: ReportData) -> Sheet:
    return _summary(data, ["township", "village"], "按村汇总")


# ---- 红黄绿卡 -------------------------------------------------------------------------------------

CARD_ORDER = tuple(CARD_LABELS.values())


def card_sheet(data: ReportData) -> Sheet:
    """Registered households by card, per township and village, and the list of 黄卡 and 红卡 households (the
    ones to follow closely), each with the reason of its card."""
    hh = data.registered()
    cards = data.config.params.get("household_cards") or {}
    frequency = data.config.params.get("visit_frequency") or {}
    notes = ["红卡:未脱贫,或监测对象风险未消除;黄卡:已脱贫,最近年度人均纯收入低于监测标准的"
             f"{cards.get('yellow_income_factor', 1.0)}倍;绿卡:其余已脱贫户(稳定脱贫)。"
             "走访频次:" + "、".join(f"{label}{PARAM_WORDS.get(frequency.get(code, ''), frequency.get(code, '-'))}"
                                    for code, label in CARD_LABELS.items())]
    if not hh.height or "card_label" not in hh.columns:
        return Sheet("红黄绿卡", [Table([Col("说明")], pl.DataFrame({"c0": ["本次没有在册户"]}))], notes=notes)
    counts = (hh.group_by("township", "village")
              .agg(*[(pl.col("card_label") == c).sum().alias(c) for c in CARD_ORDER], pl.len().alias("total"))
              .sort("township", "village", nulls_last=True))
    numeric = [*CARD_ORDER, "total"]
    total = {"township": "合计", "village": None, **{c: int(counts[c].sum()) for c in numeric}}
    counts = pl.concat([counts.with_columns(pl.col(numeric).cast(pl.Int64)),
                        pl.DataFrame([total], schema={**counts.schema, **{c: pl.Int64 for c in numeric}})])
    summary = Table([Col("乡镇"), Col("村"), *[Col(c, "int") for c in CARD_ORDER], Col("在册户", "int")],
                    counts.select("township", "village", *numeric), title="各村红黄绿卡户数", autofilter=True,
                    total_last=True)
    watched = (hh.filter(pl.col("card").is_in(["red", "yellow"]))
               .with_columns(pl.col("card_label").replace_strict({c: i for i, c in enumerate(CARD_ORDER)},
                                                                 default=9, return_dtype=pl.Int32).alias("_c"))
               .sort("_c", "township", "village", "hh_code", nulls_last=True))
    listed = pl.DataFrame({"c0": watched["card_label"], "c1": watched["township"], "c2": watched["village"],
                           "c3": watched["hh_code"], "c4": watched["head_name"],
                           "c5": [_id(v, data) for v in watched["head_id"].to_list()],
                           "c6": watched["card_reason"]},
                          schema={f"c{i}": pl.String for i in range(7)})
    households = Table([Col("卡"), Col("乡镇"), Col("村"), Col("户编号", max_width=22), Col("户主姓名"),
                        Col("户主证件号码", max_width=20), Col("原因", "wrap", max_width=60)], listed,
                       title="红卡、黄卡户名单", autofilter=True)
    return Sheet("红黄绿卡", [summary, households], notes=notes)


# ---- 防返贫监测 -----------------------------------------------------------------------------------

def monitoring_sheet(data: ReportData) -> Sheet:
    from .monitoring import monitoring_stats, stat_titles

    stats = monitoring_stats(data)
    if not stats.height:
        return Sheet("防返贫监测", [Table([Col("说明")], pl.DataFrame(
            {"c0": ["本次没有监测对象:登记来源都没有填写监测对象类别,或文件中没有这一列(见「核查范围」)"]}))])
    titles = stat_titles(data)
    kinds = {"township": "text", "rate": "pct", "months": "text"}
    cols = [Col(title, kinds.get(column, "int"), max_width=14) for column, title in titles]
    notes = ["以最可信的登记来源为准;消除率 = 风险已消除户数 ÷ 监测户数;应消未消为规则 MO-RISK-KEPT 的疑似户数,需入户核实"]
    return Sheet("防返贫监测", [Table(cols, stats.select([c for c, _ in titles]), total_last=True)], notes=notes)


# ---- 输入问题 -------------------------------------------------------------------------------------

ID_FIELDS = {"head_id", "id_number", "cadre_id", "person_id"}
SEVERITY_WORDS = {"error": "错误", "warning": "警告", "info": "提示"}


def input_sheet(data: ReportData) -> Sheet:
    cols = [Col("序号", "int"), Col("来源"), Col("乡镇"), Col("村"), Col("文件", max_width=30), Col("工作表"),
            Col("行号", "int"), Col("列名"), Col("字段"), Col("原值", max_width=30), Col("问题", max_width=24),
            Col("级别"), Col("说明", "wrap", max_width=60)]
    rows = []
    sources = source_labels(data.sources)
    for i, r in enumerate(data.input_issues.iter_rows(named=True), 1):
        value, message = r["value"], r["message"]
        if not data.show_ids:
            if r.get("field") in ID_FIELDS and value:
                masked = mask_id(value)
                message = (message or "").replace(value, masked or "")
                value = masked
            value, message = mask_text(value), mask_text(message)
        rows.append([i, people_key(r["source"], sources), r.get("township"), r.get("village"), r["file"], r["sheet"],
                     r["row"], r["column"], field_label(r.get("field")), value, problem_title(r["problem"]),
                     SEVERITY_WORDS.get(r.get("severity") or "", r.get("severity")), message])
    frame = pl.DataFrame(rows, schema=[f"c{i}" for i in range(len(cols))], orient="row", infer_schema_length=None) \
        if rows else pl.DataFrame(schema={f"c{i}": pl.String for i in range(len(cols))})
    return Sheet("输入问题", [Table(cols, frame, autofilter=True)], fit_width=False)


# ---- 匹配情况 -------------------------------------------------------------------------------------

def link_sheet(data: ReportData) -> Sheet:
    labels = data.labels
    rates = data.link_rates()
    rate_frame = rates.with_columns(
        pl.col("source_a").replace_strict(labels, default=pl.col("source_a")),
        pl.col("source_b").replace_strict(labels, default=pl.col("source_b")),
        unlinked=pl.col("records_a") - pl.col("linked"),
    ).select("source_a", "source_b", "records_a", "linked", "unlinked", "rate")
    rate_table = Table([Col("来源 A"), Col("来源 B"), Col("A 的户数", "int"), Col("在 B 中找到", "int"),
                        Col("未找到", "int"), Col("匹配率", "pct")], rate_frame,
                       title="各来源之间户的匹配率(A 的户在 B 中找到对应记录的比例;入户核查为抽样,匹配率低属正常)")
    expected = [s for s, role in data.sources.items() if role in REGISTERED_ROLES]
    # only the households missing from a registered source, or seen in the survey alone, are listed: picked out
    # first (a province has a million households, a few thousand of them listed)
    listed = ~pl.col("registered")
    for s in expected:
        listed = listed | ~pl.col(f"present_{s}")
    h = data.households.filter(listed)
    rows = []
    for r in h.iter_rows(named=True):
        have = [s for s in data.sources if r[f"present_{s}"]]
        missing = [s for s in expected if not r[f"present_{s}"]]
        only_survey = not r["registered"]
        if not missing and not only_survey:
            continue
        note = ("只在入户核查中出现(非建档立卡户,或未能与在册户对应)" if only_survey
                else "在缺少的来源中未找到对应户:核实是否漏录、已销户或户主/户编号登记不一致")
        rows.append([r["township"], r["village"], r["hh_code"], r["head_name"], _id(r["head_id"], data),
                     "、".join(labels[s] for s in have), "、".join(labels[s] for s in missing), note])
    cols = [Col("乡镇"), Col("村"), Col("户编号", max_width=22), Col("户主姓名"), Col("户主证件号码", max_width=20),
            Col("有记录的来源", max_width=30), Col("缺少的来源", max_width=30), Col("说明", "wrap", max_width=50)]
    frame = pl.DataFrame(rows, schema=[f"c{i}" for i in range(len(cols))], orient="row", infer_schema_length=None) \
        if rows else pl.DataFrame(schema={f"c{i}": pl.String for i in range(len(cols))})
    unlinked = Table(cols, frame, title=f"未在所有来源中找到对应记录的户({len(rows)} 户)", autofilter=True)
    return Sheet("匹配情况", [rate_table, unlinked], freeze=False)
