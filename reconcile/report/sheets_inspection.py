"""Inspection-style sheets: 督查发现问题汇总表 (表3), 核查情况汇总 (表4), 整改情况 (ledger)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import polars as pl

from ..db import query_frame
from ..ledger import PROGRESS_COLUMNS, VERDICT_LABELS, overdue, progress
from ..schema import REGISTER_KIND_LABELS
from .common import (
    SEVERITY_LABELS,
    STATUS_LABELS,
    TABLE3_ROWS,
    evidence_label,
    evidence_parts,
    kind_order,
    kind_titles,
    table3_row,
)
from .data import ReportData
from .sheets import _text, household_key, labelled, numbered_columns, shown_texts, sorted_findings
from .xlsx import Col, Sheet, Table

NUMERALS = "一二三四五六七八九十"


# ---- 督查发现问题汇总表 ---------------------------------------------------------------------------

def table3_sheet(data: ReportData) -> Sheet:
    f = sorted_findings(data.findings)
    titles = kind_titles()
    placed = [table3_row(c) for c in f["category"].to_list()] if f.height else []
    f = f.with_columns(_main=pl.Series([p[0] for p in placed], dtype=pl.String),
                       _sub=pl.Series([p[1] for p in placed], dtype=pl.String)) if f.height else f
    cols = [Col("序号", "text", max_width=8), Col("问题类别", max_width=22), Col("乡镇"), Col("村"),
            Col("户主姓名"), Col("涉及人员"), Col("证件号码", max_width=20), Col("问题类型", max_width=24),
            Col("问题描述(见事见人)", "wrap", max_width=55), Col("整改建议", "wrap", max_width=40),
            Col("严重程度", "severity"), Col("状态", "status"), Col("问题编号", max_width=18)]
    width = len(cols)
    schema: dict[str, pl.DataType] = {f"c{i}": pl.String() for i in range(width)}
    if f.height:  # the person's ID, else the head's (an empty one counts as none)
        f = f.with_columns(shown_texts(f, data)).with_columns(
            _who=pl.when(pl.col("person_id").fill_null("") != "").then(pl.col("_person_id")).otherwise(pl.col("_head_id")))
    blocks: list[pl.DataFrame] = []
    rows = 0  # sheet rows so far, for the section headings' indexes
    mains = list(dict.fromkeys(m for m, _ in TABLE3_ROWS))
    n = 0
    sections: set[int] = set()

    def line(*cells: str | None) -> None:  # a heading or a "none found" line
        nonlocal rows
        blocks.append(pl.DataFrame([[*cells, *[None] * (width - len(cells))]], schema=schema, orient="row"))
        rows += 1

    for mi, main in enumerate(mains):
        in_main = f.filter(pl.col("_main") == main) if f.height else f
        sections.add(rows)
        line(f"{NUMERALS[mi]}、", f"{main}(共 {in_main.height} 个问题)")
        subs = [s for m, s in TABLE3_ROWS if m == main]
        for si, sub in enumerate(subs):
            part = in_main.filter(pl.col("_sub") == sub) if sub and in_main.height else in_main
            if sub:
                sections.add(rows)
                line(f"({NUMERALS[si]})", f"{sub}(共 {part.height} 个问题)")
            label = f"{main}/{sub}" if sub else main
            if not part.height:
                line(None, label, None, None, None, None, None, None, "未发现此类问题")
                continue
            blocks.append(part.select(numbered_columns([
                pl.int_range(n + 1, n + 1 + pl.len(), dtype=pl.Int64).cast(pl.String), pl.lit(label, dtype=pl.String),
                "township", "village", "head_name", "person_name", "_who", labelled("kind", titles), "_message",
                "_advice", labelled("severity", SEVERITY_LABELS), labelled("status", STATUS_LABELS), "finding_id"]))
                .cast(pl.String))
            n += part.height
            rows += part.height
    frame = pl.concat(blocks)
    return Sheet("督查发现问题汇总表", [Table(cols, frame, autofilter=True, sections=frozenset(sections))],
                 notes=[f"{data.config.region}{data.township or ''} 督查发现问题汇总表",
                        f"核查范围:{data.scope};问题 {n} 个;一个问题一行,列明乡镇、村、户主和涉及人员。"])


# ---- 核查情况汇总 (表4) ---------------------------------------------------------------------------

CONSISTENCY_KINDS = ("household_missing", "household_size_mismatch", "head_mismatch", "name_mismatch", "id_mismatch",
                     "relation_mismatch", "status_mismatch", "exit_year_mismatch", "household_type_mismatch",
                     "cause_mismatch", "income_mismatch", "cadre_mismatch", "member_missing",
                     "person_multi_household", "deceased_listed")
SIZE_KINDS = ("household_size_mismatch", "member_missing")
GUARANTEE_KINDS = ("wrong_exit_guarantee", "risk_elimination_premature")


EVIDENCE_KEYS = "_evidence_keys"  # each finding's top-level evidence keys, beside the findings while 表4 counts


@dataclass(frozen=True)
class Count:
    title: str
    marks: Callable[[pl.DataFrame, ReportData], pl.Series]  # one boolean per finding: counted here or not


def _evidence(row: dict) -> dict:
    try:
        data = json.loads(row.get("evidence") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def evidence_keys(findings: pl.DataFrame) -> pl.Series:
    """Each finding's top-level evidence keys (null where the evidence is not a JSON object), read by DuckDB's
    JSON functions for all findings at once."""
    con = duckdb.connect()
    try:
        con.register("findings_evidence", findings.select("evidence").to_arrow())
        keys = query_frame(con, "select case when json_valid(evidence) and json_type(evidence::json) = 'OBJECT' "
                                "then json_keys(evidence) end as keys from findings_evidence")["keys"]
    finally:
        con.close()
    return keys.cast(pl.List(pl.String)).alias(EVIDENCE_KEYS)


def _has_key(keys: Iterable[str]) -> pl.Expr:
    return pl.col(EVIDENCE_KEYS).list.eval(pl.element().is_in(list(keys))).list.any().fill_null(False)


def _text_of() -> pl.Expr:
    return pl.concat_str([pl.col(k).cast(pl.String).fill_null("") for k in ("rule_id", "message", "evidence")],
                         separator=" ")


def _kinds(*kinds: str, text: str | None = None, rules: str | None = None) -> Callable[[pl.DataFrame, ReportData],
                                                                                      pl.Series]:
    """Findings of these kinds (whose rule ID, message or evidence matches `text`, if given), or of a rule whose
    ID matches `rules`."""
    of_kind = pl.col("kind").is_in(list(kinds)).fill_null(False) if kinds else pl.lit(True)
    matched = (of_kind & _text_of().str.contains(text)) if text else (of_kind if kinds else pl.lit(False))
    if rules:
        matched = pl.col("rule_id").fill_null("").str.contains(rules) | matched
    return lambda frame, data: frame.select(matched.alias("m"))["m"]


def _role_differs(role: str) -> Callable[[pl.DataFrame, ReportData], pl.Series]:
    """A size finding where a source of `role` disagrees with the national system (or the first source)."""
    def differs(row: dict, data: ReportData) -> bool:
        ev = _evidence(row)
        flat = {k: v for k, v in ev.items() if k in data.sources and not isinstance(v, dict)}
        ref_key = next((k for k in flat if data.sources[k] == "system"), next(iter(flat), None))
        if ref_key is None:
            return False
        return any(data.sources[k] == role and str(v) != str(flat[ref_key]) for k, v in flat.items())

    def marks(frame: pl.DataFrame, data: ReportData) -> pl.Series:
        sized = frame.with_row_index("_n").filter(pl.col("kind").is_in(SIZE_KINDS))  # the few that can count
        hits = [n for n, row in zip(sized["_n"].to_list(), sized.iter_rows(named=True), strict=True)
                if differs(row, data)]
        return pl.Series(np.isin(np.arange(frame.height), hits), dtype=pl.Boolean)
    return marks


def _register_involved(frame: pl.DataFrame, data: ReportData) -> pl.Series:
    return frame.select(_has_key(REGISTER_KIND_LABELS).alias("m"))["m"]


def _hukou(frame: pl.DataFrame, data: ReportData) -> pl.Series:
    return frame.select((pl.col("kind").is_in(SIZE_KINDS).fill_null(False) & (
        _has_key(["hukou"]) | pl.col("message").fill_null("").str.contains("户籍", literal=True))).alias("m"))["m"]


def _consistency(frame: pl.DataFrame, data: ReportData) -> pl.Series:
    return frame.select(pl.col("kind").is_in(CONSISTENCY_KINDS).fill_null(False).alias("m"))["m"] \
        | _register_involved(frame, data)


TABLE4: list[Count] = [
    Count("家庭人口与户籍/明白卡/手册人口不一致户数", _kinds(*SIZE_KINDS)),
    Count("其中:与户籍人口不一致户数", _hukou),
    Count("其中:与明白卡人口不一致户数", _kinds(*SIZE_KINDS, text="明白卡")),
    Count("其中:与扶贫手册人口不一致户数", _role_differs("manual")),
    Count("帮扶措施与致贫原因不一致户数", _kinds("measure_cause_mismatch")),
    Count("无帮扶措施户数", _kinds("no_measure")),
    Count("未实现两不愁户数", _kinds(*GUARANTEE_KINDS, text="不愁|吃穿|food_secure|clothing_secure")),
    Count("义务教育保障不到位户数", _kinds(*GUARANTEE_KINDS, text="辍学|失学|义务教育|dropout")),
    Count("基本医疗保障不到位户数", _kinds(*GUARANTEE_KINDS, text="医保|参保|医疗保险|medical")),
    Count("无安全住房户数", _kinds(*GUARANTEE_KINDS, text="住房|危房|housing")),
    Count("无安全饮水户数", _kinds(*GUARANTEE_KINDS, text="饮水|water")),
    Count("疑似漏评户数", _kinds("missed_suspect", rules=r"^MI-")),
    Count("疑似错退户数", _kinds("wrong_exit_income", "wrong_exit_guarantee")),
    Count("风险消除不精准户数", _kinds("risk_elimination_premature")),
    Count("疑似不符合识别条件户数", _kinds("ineligible_member")),
    Count("已故人员未标注户数", _kinds("deceased_listed")),
    Count("帮扶责任人及走访问题户数", _kinds("cadre_mismatch", "cadre_overload", "visit_insufficient")),
    Count("证件号码问题户数", _kinds("id_invalid", "id_mismatch", "id_demographic_conflict")),
    Count("信息比对不一致户数", _consistency),
    Count("其中:与部门数据比对不一致户数", _register_involved),
]


def table4_frame(data: ReportData) -> pl.DataFrame:
    """Rows: each township and 全县合计; columns: 核查户数, 问题户数, then the TABLE4 counts (distinct households)."""
    f = data.findings.with_columns(household_key().alias("_hh"), evidence_keys(data.findings)) \
        if data.findings.height else data.findings
    marked = f.with_columns(**{f"t{i}": c.marks(f, data) for i, c in enumerate(TABLE4)}) if f.height else f
    hh = data.registered()
    townships = data.townships()
    no_township = f.height and f["township"].null_count() > 0

    # every count of every township in one pass (a province has a thousand townships: one filter each was minutes)
    counts = [pl.col("_hh").n_unique().alias("有问题户数"),
              *(pl.col("_hh").filter(pl.col(f"t{i}")).n_unique().alias(c.title) for i, c in enumerate(TABLE4))]
    by_township = {row["township"]: row for row in marked.group_by("township").agg(counts).iter_rows(named=True)} \
        if marked.height else {}
    households = dict(hh.group_by("township").len().iter_rows()) if hh.height else {}

    def line(name: str, found: dict | None, households: int) -> dict:
        return {"乡镇": name, "核查户数": households, "有问题户数": found["有问题户数"] if found else 0,
                **{c.title: found[c.title] if found else 0 for c in TABLE4}}

    lines = [line(t, by_township.get(t), households.get(t, 0)) for t in townships]
    if no_township:
        lines.append(line("(未标注乡镇)", by_township.get(None), 0))
    total = marked.select(counts).row(0, named=True) if marked.height else None
    lines.append(line(f"{data.scope}合计", total, hh.height))
    return pl.DataFrame(lines, schema={"乡镇": pl.String, "核查户数": pl.Int64, "有问题户数": pl.Int64,
                                       **{c.title: pl.Int64 for c in TABLE4}})


def table4_sheet(data: ReportData) -> Sheet:
    """One indicator a row, one township a column, the county total last: reads and prints like 表4."""
    frame = table4_frame(data)
    places = frame["乡镇"].to_list()
    indicators = [c for c in frame.columns if c != "乡镇"]
    rows = [[name, *[int(v) for v in frame[name].to_list()]] for name in indicators]
    schema = ["项目", *[f"c{i}" for i in range(len(places))]]
    table = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    cols = [Col("项目(户数)", max_width=40)] + [Col(p, "int", max_width=12, min_width=6) for p in places]
    return Sheet("核查情况汇总", [Table(cols, table)], landscape=len(places) > 6,
                 notes=[f"{data.config.region}{data.township or ''} {data.config.year} 年核查情况汇总",
                        "单位:户。一户有多个同类问题只计一次;“其中”各项是上一项的细分,可能互有重叠。"])


# ---- 整改情况 -------------------------------------------------------------------------------------

def _progress_table(data: ReportData, by: str, title: str, label: str) -> Table:
    p = progress(data.ledger, by) if data.ledger.height else progress(pl.DataFrame(), by)
    if by == "kind" and p.height:
        p = p.with_columns(_o=pl.col("kind").replace_strict(kind_order(), default=999, return_dtype=pl.Int32)) \
            .sort("_o").drop("_o").with_columns(pl.col("kind").replace_strict(kind_titles(), default=pl.col("kind")))
    counts = ("total", "resolved", "verified", "pending", "in_progress", "overdue", "new", "reopened")
    if p.height:
        total: dict[str, Any] = {by: "合计", **{c: int(p[c].sum()) for c in counts}}
        total["rate"] = round((total["resolved"] + total["verified"]) / total["total"], 4) if total["total"] else None
        p = pl.concat([p, pl.DataFrame([total], schema=p.schema)])
    cols = [Col(label, max_width=28), *[Col(PROGRESS_COLUMNS[c], "int", max_width=8) for c in counts], Col("整改率", "pct")]
    return Table(cols, p.select(by, *counts, "rate"), title=title, total_last=bool(p.height))


def rectification_sheet(data: ReportData) -> Sheet:
    ledger = data.ledger
    runs = data.runs
    notes = [f"{data.config.region}{data.township or ''} 问题整改情况",
             f"台账共记录 {runs.height} 次运行;问题总数为历次运行发现的全部问题,上次有、本次没有的问题记为“已整改销号”;"
             "乡镇答复“核实无误”(写明依据)的问题不再计为未整改,证据变化后核实失效;整改率 =(已整改销号 + 核实无误)÷ 问题总数。"]
    tables = [_progress_table(data, "township", "按乡镇", "乡镇"), _progress_table(data, "kind", "按问题类型", "问题类型")]
    if "helper" in ledger.columns and ledger["helper"].drop_nulls().len():
        tables.insert(1, _progress_table(data, "helper", "按帮扶责任人", "帮扶责任人"))
    resolved = ledger.filter(pl.col("status") == "resolved").sort(["township", "village", "resolved_at", "finding_id"],
                                                                  nulls_last=True) if ledger.height else ledger
    titles = kind_titles()
    rows = [[r["township"], r["village"], r["head_name"], r["person_name"], titles.get(r["kind"], r["kind"]),
             _text(r["message"], data), str(r["first_seen"])[:10] if r["first_seen"] else None,
             str(r["resolved_at"])[:10] if r["resolved_at"] else None, r["run_count"], r["finding_id"]]
            for r in resolved.iter_rows(named=True)]
    cols = [Col("乡镇"), Col("村"), Col("户主姓名"), Col("人员姓名"), Col("问题类型", max_width=24),
            Col("问题说明", "wrap", max_width=50), Col("首次发现", "date"), Col("销号日期", "date"),
            Col("发现次数", "int"), Col("问题编号", max_width=18)]
    frame = pl.DataFrame(rows, schema=[f"c{i}" for i in range(len(cols))], orient="row", infer_schema_length=None) \
        if rows else pl.DataFrame(schema={f"c{i}": pl.String for i in range(len(cols))})
    tables.append(Table(cols, frame, title=f"已整改销号的问题({len(rows)} 个)"))
    run_rows = [[r["run_id"], str(r["started_at"])[:16], r["findings"], r["new"], r["open"], r["reopened"],
                 r["resolved"]] for r in runs.iter_rows(named=True)] if runs.height else []
    run_cols = [Col("运行次序", "int"), Col("运行时间"), Col("问题数", "int"), Col("新发现", "int"), Col("未整改", "int"),
                Col("重新出现", "int"), Col("销号", "int")]
    run_frame = pl.DataFrame(run_rows, schema=[f"c{i}" for i in range(len(run_cols))], orient="row",
                             infer_schema_length=None) if run_rows else \
        pl.DataFrame(schema={f"c{i}": pl.String for i in range(len(run_cols))})
    if data.township is None:
        tables.append(Table(run_cols, run_frame, title="历次运行(全县)"))
    return Sheet("整改情况", tables, freeze=False, notes=notes)


# ---- 通报 and 整改记录 (issue 17) -------------------------------------------------------------------

def bulletin_sheet(data: ReportData) -> Sheet:
    """通报: per township, this run against the one before — findings, newly found, closed, verified, in
    progress, overdue, 整改率 — and the overdue list; laid out to be sent as it is."""
    runs = data.runs
    run_id = int(runs["run_id"].max()) if runs.height else 0  # type: ignore[arg-type]
    history = data.history
    ledger = data.ledger
    place = "township"

    def present(run: int) -> pl.DataFrame:
        if not history.height:
            return pl.DataFrame(schema={place: pl.String, "n": pl.UInt32})
        return (history.filter((pl.col("run_id") == run) & (pl.col("status") != "resolved"))
                .group_by(place).agg(n=pl.len()))

    def counted(status: str, run: int) -> pl.DataFrame:
        if not history.height:
            return pl.DataFrame(schema={place: pl.String, "n": pl.UInt32})
        return history.filter((pl.col("run_id") == run) & (pl.col("status") == status)).group_by(place).agg(n=pl.len())

    p = progress(ledger, place) if ledger.height else progress(pl.DataFrame(), place)
    parts = {"now": present(run_id), "before": present(run_id - 1), "new": counted("new", run_id),
             "resolved": counted("resolved", run_id), "verified": counted("verified", run_id),
             "in_progress": counted("in_progress", run_id)}
    names = sorted({t for frame in [*parts.values(), p] for t in frame[place].to_list() if t is not None})
    rows = []
    for name in names:
        counts = {k: _count(v, place, name) for k, v in parts.items()}
        line = p.filter(pl.col(place) == name)
        rows.append([name, counts["now"], counts["before"], counts["now"] - counts["before"], counts["new"],
                     counts["resolved"], counts["verified"], counts["in_progress"],
                     int(line["overdue"].sum()) if line.height else 0,
                     float(line["rate"][0]) if line.height and line["rate"][0] is not None else None])
    if rows:
        totals = [sum(r[i] for r in rows) for i in range(1, 9)]
        done = int(p.select(pl.col("resolved").sum() + pl.col("verified").sum()).item()) if p.height else 0
        everything = int(p.select(pl.col("total").sum()).item()) if p.height else 0
        rows.append(["合计", *totals, round(done / everything, 4) if everything else None])
    cols = [Col("乡镇", max_width=20), Col("本期问题数", "int"), Col("上期问题数", "int"), Col("增减", "int"),
            Col("本期新发现", "int"), Col("本期销号", "int"), Col("核实无误", "int"), Col("整改中", "int"),
            Col("逾期未整改", "int"), Col("累计整改率", "pct")]
    frame = pl.DataFrame(rows, schema=[f"c{i}" for i in range(len(cols))], orient="row", infer_schema_length=None) \
        if rows else pl.DataFrame(schema={f"c{i}": pl.String for i in range(len(cols))})
    late = ledger.filter(overdue(ledger)).sort(["deadline", "township", "village", "finding_id"]) \
        if ledger.height else ledger
    titles = kind_titles()
    late_rows = [[r["township"], r["village"], r["head_name"], titles.get(r["kind"], r["kind"]), r["responsible"],
                  str(r["deadline"]), r["finding_id"]] for r in late.iter_rows(named=True)] if late.height else []
    late_cols = [Col("乡镇"), Col("村"), Col("户主姓名"), Col("问题类型", max_width=24), Col("责任人"),
                 Col("整改期限", "date"), Col("问题编号", max_width=18)]
    late_frame = pl.DataFrame(late_rows, schema=[f"c{i}" for i in range(len(late_cols))], orient="row",
                              infer_schema_length=None) if late_rows else \
        pl.DataFrame(schema={f"c{i}": pl.String for i in range(len(late_cols))})
    last = runs.sort("run_id").row(-1, named=True) if runs.height else {}
    when = str(last.get("started_at") or "")[:10]
    total = rows[-1] if rows else ["合计", 0, 0, 0, 0, 0, 0, 0, 0, None]
    notes = [f"{data.config.region}{data.township or ''} 扶贫数据核查问题整改通报(第 {run_id} 次核查,{when})",
             f"本期发现问题 {total[1]} 个(上期 {total[2]} 个),其中新发现 {total[4]} 个;本期销号 {total[5]} 个,"
             f"核实无误 {total[6]} 个,整改中 {total[7]} 个,逾期未整改 {total[8]} 个。"]
    return Sheet("通报", [Table(cols, frame, title="各乡镇整改情况(本期与上期)", total_last=bool(rows)),
                        Table(late_cols, late_frame, title=f"逾期未整改的问题({len(late_rows)} 个)")],
                 freeze=False, notes=notes)


def _count(frame: pl.DataFrame, column: str, name: str) -> int:
    hit = frame.filter(pl.col(column) == name)
    return int(hit["n"][0]) if hit.height else 0


def answers_sheet(data: ReportData) -> Sheet:
    """整改记录: every answer read back (or lapsed), oldest first — who, when, what, why, from which file."""
    answers = data.answers
    titles = kind_titles()
    rows = [[str(r["answered_at"])[:16], r["township"], r["village"], r["head_name"], titles.get(r["kind"], r["kind"]),
             VERDICT_LABELS.get(r["verdict"], r["verdict"]), _text(r["note"], data), r["responsible"],
             str(r["deadline"]) if r["deadline"] else None, r["answered_by"], r["source"], r["finding_id"]]
            for r in answers.iter_rows(named=True)] if answers.height else []
    cols = [Col("答复时间"), Col("乡镇"), Col("村"), Col("户主姓名"), Col("问题类型", max_width=24), Col("核实结果"),
            Col("说明", "wrap", max_width=40), Col("责任人"), Col("整改期限", "date"), Col("答复人"),
            Col("来源", max_width=40), Col("问题编号", max_width=18)]
    frame = pl.DataFrame(rows, schema=[f"c{i}" for i in range(len(cols))], orient="row", infer_schema_length=None) \
        if rows else pl.DataFrame(schema={f"c{i}": pl.String for i in range(len(cols))})
    changes = data.changes
    change_rows = [[str(r["started_at"])[:16], r["township"], r["village"], r["head_name"],
                    titles.get(r["kind"], r["kind"]), STATUS_LABELS.get(r["before"], r["before"]),
                    STATUS_LABELS.get(r["status"], r["status"]), _evidence_text(r["evidence"], data), r["finding_id"]]
                   for r in changes.iter_rows(named=True)] if changes.height else []
    change_cols = [Col("运行时间"), Col("乡镇"), Col("村"), Col("户主姓名"), Col("问题类型", max_width=24),
                   Col("上次状态"), Col("本次状态"), Col("当时的证据", "wrap", max_width=40), Col("问题编号", max_width=18)]
    change_frame = pl.DataFrame(change_rows, schema=[f"c{i}" for i in range(len(change_cols))], orient="row",
                                infer_schema_length=None) if change_rows else \
        pl.DataFrame(schema={f"c{i}": pl.String for i in range(len(change_cols))})
    return Sheet("整改记录", [Table(cols, frame, title=f"核实与整改答复({len(rows)} 条)", autofilter=True),
                            Table(change_cols, change_frame, title=f"历次运行中的状态变化({len(change_rows)} 条)")],
                 notes=[f"{data.config.region}{data.township or ''} 核实与整改答复记录",
                        "乡镇交回的答复(reconcile ledger import 或网页)逐条记录;“核实失效”为核实后证据又变化的问题;"
                        "状态变化按运行列出(销号、重新出现、核实无误等),首次发现见问题台账。"])


def _evidence_text(evidence: str | None, data: ReportData) -> str:
    parts = evidence_parts(evidence, data.show_ids, data.sources)
    return ";".join(f"{evidence_label(k, data.sources)}: {v}" for k, v in parts.items() if v)
