"""`reconcile ledger CONFIG`: rectification progress (整改率) by township and by kind, from the ledger file."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

from .ledger import open_ledger, progress, read_ledger, runs
from .report.common import kind_order, kind_titles, township_with_county

COLUMNS = [("total", "问题数"), ("resolved", "已销号"), ("pending", "未整改"), ("new", "新发现"),
           ("reopened", "重新出现"), ("rate", "整改率")]


def _rows(frame: pl.DataFrame, by: str) -> list[dict]:
    return frame.rename({by: "name"}).to_dicts()


def ledger_summary(path: Path) -> dict:
    con = open_ledger(path)
    try:
        ledger = township_with_county(read_ledger(con))
        run_frame = runs(con)
    finally:
        con.close()
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
        "by_kind": [{**r, "title": kind_titles().get(r["name"], r["name"])} for r in _rows(by_kind, "kind")],
    }


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
    console.print(_table("整改进度 · 按问题类型", "问题类型", summary["by_kind"], summary["total"], name_key="title"))
