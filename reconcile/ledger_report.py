"""`reconcile ledger CONFIG`: rectification progress (整改率) by township, village, helper and kind, and the overdue
list, from the ledger file; `reconcile ledger show CONFIG FINDING_ID`: one finding's whole history."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

from .errors import InputError
from .ledger import open_ledger, overdue, progress, read_ledger, runs
from .report.common import kind_order, kind_titles, township_with_county

COLUMNS = [("total", "问题数"), ("resolved", "已销号"), ("verified", "核实无误"), ("pending", "未整改"),
           ("in_progress", "整改中"), ("overdue", "逾期"), ("new", "新发现"), ("reopened", "重新出现"), ("rate", "整改率")]
OVERDUE_LIMIT = 200  # lines of the overdue list in the terminal (all of them in --json and the workbook)


def _rows(frame: pl.DataFrame, by: str) -> list[dict]:
    return frame.rename({by: "name"}).to_dicts()


def ledger_summary(path: Path) -> dict:
    con = open_ledger(path)
    try:
        ledger, run_frame = read_ledger(con), runs(con)
    finally:
        con.close()
    return summarise_ledger(ledger, run_frame, path)


def summarise_ledger(ledger: pl.DataFrame, run_frame: pl.DataFrame, path: Path) -> dict:
    """`reconcile ledger`'s figures from the ledger and its runs as read (the web page has them already)."""
    ledger = township_with_county(ledger)
    by_kind = progress(ledger, "kind")
    if by_kind.height:
        by_kind = by_kind.with_columns(_o=pl.col("kind").replace_strict(kind_order(), default=999,
                                                                        return_dtype=pl.Int32)).sort("_o").drop("_o")
    total = progress(ledger.with_columns(_all=pl.lit("合计")), "_all") if ledger.height else None
    return {
        "ledger": str(path),
        "runs": run_frame.with_columns(pl.col("started_at").cast(pl.String)).to_dicts() if run_frame.height else [],
        "total": _rows(total, "_all")[0] if total is not None and total.height else {},
        "by_township": _rows(progress(ledger, "township"), "township"),
        "by_village": _rows(progress(ledger.with_columns(
            place=pl.concat_str(pl.col("township").fill_null(""), pl.col("village").fill_null(""), separator=" "))
            if ledger.height else ledger, "place"), "place") if ledger.height else [],
        "by_helper": _rows(progress(ledger, "helper"), "helper") if "helper" in ledger.columns else [],
        "by_kind": [{**r, "title": kind_titles().get(r["name"], r["name"])} for r in _rows(by_kind, "kind")],
        "overdue": overdue_list(ledger),
    }


def overdue_list(ledger: pl.DataFrame) -> list[dict]:
    """Open findings past their 整改期限 (as of the last run that saw them), the longest overdue first."""
    if not ledger.height or "deadline" not in ledger.columns:
        return []
    late = ledger.filter(overdue(ledger)).sort(["deadline", "township", "village", "finding_id"])
    titles = kind_titles()
    return [{"finding_id": r["finding_id"], "township": r["township"], "village": r["village"],
             "head_name": r["head_name"], "kind": titles.get(r["kind"], r["kind"]), "responsible": r["responsible"],
             "deadline": str(r["deadline"])} for r in late.iter_rows(named=True)]


def _table(title: str, label: str, rows: list[dict], total: dict, name_key: str = "name") -> Table:
    table = Table(title=title)
    table.add_column(label, no_wrap=True)
    for _, head in COLUMNS:
        table.add_column(head, justify="right")

    def cells(r: dict) -> list[str]:
        return [str(r[k]) if k != "rate" else f"{(r[k] or 0) * 100:.1f}%" for k, _ in COLUMNS]

    for r in rows:
        table.add_row(r.get(name_key) or "(未标注)", *cells(r))
    if total:
        table.add_row("合计", *cells(total), style="bold")
    return table


def print_ledger(summary: dict, console: Console) -> None:
    run_list = summary["runs"]
    if not run_list:
        console.print("台账中还没有运行记录")
        return
    last = run_list[-1]
    console.print(f"台账 {summary['ledger']}:共 {len(run_list)} 次运行,最近一次 {str(last['started_at'])[:16]}"
                  f"(问题 {last['findings']} 个:新发现 {last['new']},未整改 {last['open']},重新出现 "
                  f"{last['reopened']},本次销号 {last['resolved']})", highlight=False)
    console.print(_table("整改进度 · 按乡镇", "乡镇", summary["by_township"], summary["total"]))
    console.print(_table("整改进度 · 按村", "乡镇 村", summary["by_village"], summary["total"]))
    if any(r["name"] for r in summary["by_helper"]):
        console.print(_table("整改进度 · 按帮扶责任人", "帮扶责任人", summary["by_helper"], summary["total"]))
    console.print(_table("整改进度 · 按问题类型", "问题类型", summary["by_kind"], summary["total"], name_key="title"))
    late = summary["overdue"]
    if late:
        table = Table(title=f"逾期未整改({len(late)} 个)")
        for head in ("乡镇", "村", "户主", "问题类型", "责任人", "整改期限", "问题编号"):
            table.add_column(head)
        for r in late[:OVERDUE_LIMIT]:
            table.add_row(*(r[k] or "" for k in ("township", "village", "head_name", "kind", "responsible",
                                                 "deadline", "finding_id")))
        console.print(table)
        if len(late) > OVERDUE_LIMIT:
            console.print(f"(另有 {len(late) - OVERDUE_LIMIT} 个,完整列表见 --json 或核查报告的“通报”表)")
    else:
        console.print("没有逾期未整改的问题")


def show_finding(path: Path, finding_id: str, console: Console, show_ids: bool = False,
                 sources: dict[str, str] | None = None) -> None:
    """One finding: what it is, and its whole history — each run's status and evidence, each answer."""
    from .ledger import VERDICT_LABELS
    from .ledger_import import answer_history
    from .report.common import STATUS_LABELS, evidence_label, evidence_parts, mask_text

    con = open_ledger(path)
    try:
        found = con.execute("select count(*) from finding_ledger where finding_id = ?", [finding_id]).fetchall()[0][0]
        if not found:
            raise InputError(f"台账中没有问题编号 {finding_id}(可在核查报告的“问题台账”最后几列找到问题编号)")
        row = read_ledger(con).filter(pl.col("finding_id") == finding_id).row(0, named=True)
        history, answers = answer_history(con, finding_id)
    finally:
        con.close()

    def text(value: object) -> str:
        shown = "" if value is None else str(value)
        return shown if show_ids else mask_text(shown) or ""

    def evidence(value: str | None) -> str:
        parts = evidence_parts(value, show_ids, sources or {})  # source keys read as 国家系统, 村级档案 …
        return ";".join(f"{evidence_label(k, sources or {})}: {v}" for k, v in parts.items() if v)

    console.print(f"问题编号 {finding_id}:{kind_titles().get(row['kind'], row['kind'])}", highlight=False)
    console.print(f"{row['township'] or ''} {row['village'] or ''} 户主 {text(row['head_name'])}  "
                  f"状态 {STATUS_LABELS.get(row['status'], row['status'])}"
                  + (f"  整改期限 {row['deadline']}" if row.get("deadline") else ""), highlight=False)
    console.print(text(row["message"]), highlight=False)
    runs = Table(title="各次运行")
    for head in ("运行", "时间", "状态", "当时的证据"):
        runs.add_column(head)
    for r in history.iter_rows(named=True):
        runs.add_row(str(r["run_id"]), str(r["started_at"])[:16], STATUS_LABELS.get(r["status"], r["status"]),
                     evidence(r["evidence"]))
    console.print(runs)
    if answers.height:
        table = Table(title="核实与整改答复")
        for head in ("时间", "答复人", "核实结果", "说明", "责任人", "整改期限", "来源"):
            table.add_column(head)
        for r in answers.iter_rows(named=True):
            table.add_row(str(r["answered_at"])[:16], r["answered_by"] or "", VERDICT_LABELS.get(r["verdict"], r["verdict"]),
                          text(r["note"]), r["responsible"] or "", str(r["deadline"] or ""), r["source"] or "")
        console.print(table)
    else:
        console.print("还没有核实或整改答复")
