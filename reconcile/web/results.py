"""What the result pages show, read from the run's own output files (findings.parquet, input_issues.csv,
the ledger and the run plan in reconcile.duckdb) and rendered with the report's helpers, ID numbers
masked by default."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    import duckdb

from ..ledger import VERDICT_LABELS
from ..report.common import (
    SEVERITY_LABELS,
    STATUS_LABELS,
    evidence_keys,
    evidence_label,
    evidence_parts,
    kind_order,
    kind_titles,
    mask_id,
    mask_text,
)
from ..report.coverage import Coverage, build_coverage
from ..report.sheets import sorted_findings
from ..report.workbook import SPLIT_DIR, WORKBOOK_NAME
from ..schema import field_kind

PAGE_SIZE = 100
FILTERS = ("township", "village", "kind", "severity", "status")
# what the ledger knows now of a finding, over what its run's findings.parquet said: an answer given on the page
# shows before the next run
LIVE_COLUMNS = {"status": pl.String, "verdict": pl.String, "verdict_note": pl.String, "responsible": pl.String,
                "deadline": pl.Date, "overdue": pl.Boolean}
OVERDUE = "overdue"  # the status filter's value for 逾期 (open past the 整改期限), besides the ledger's statuses
OVERDUE_SHOWN = 200  # lines of the overdue list on the results page (all of them in the workbook's 通报)

# name in the URL → file in the output folder (the only files the download route serves, besides
# the per-township workbooks listed from the folder itself)
DOWNLOADS = {
    "workbook": (WORKBOOK_NAME, "核查报告:问题台账(全部问题,每个一行,各来源的值并排,可在 Excel/WPS 中筛选、排序、"
                                "再加工;户编号和证件号码按文本保存,不会变成科学计数法)、按乡镇和按村汇总、输入问题、整改情况等"),
    "report": ("report.html", "网页版报告:图表和可筛选的问题清单,用浏览器打开,不需要联网"),
    "findings": ("findings.csv", "供程序读取的全部问题(UTF-8 CSV,证件号码不打码)。用 Excel 直接打开会把户编号、"
                                 "证件号码显示成科学计数法,人工查看和再加工请用核查报告.xlsx 的问题台账"),
    "issues": ("input_issues.csv", "供程序读取的输入问题(UTF-8 CSV,证件号码不打码);人工查看请用核查报告.xlsx 的输入问题表"),
}


@lru_cache(maxsize=8)
def _read_findings(path: str, mtime: float) -> pl.DataFrame:
    return sorted_findings(pl.read_parquet(path))


def findings(out: Path) -> pl.DataFrame:
    path = out / "findings.parquet"
    if not path.exists():
        return pl.DataFrame()
    return _read_findings(str(path), path.stat().st_mtime)


def input_issues(out: Path) -> pl.DataFrame:
    path = out / "input_issues.csv"
    if not path.exists():
        return pl.DataFrame()
    return pl.read_csv(path, infer_schema=False, encoding="utf8")


def township_files(out: Path) -> list[Path]:
    folder = out / SPLIT_DIR
    return sorted(folder.glob("*.xlsx")) if folder.is_dir() else []


def _id(value, show_ids: bool):
    return value if show_ids else mask_id(value)


def _text(value, show_ids: bool):
    return value if show_ids else mask_text(value)


@dataclass
class FindingView:
    rows: list[dict]
    columns: list[tuple[str, str]]  # evidence key → label, one column per source
    other_label: str | None
    total: int
    matched: int
    page: int
    pages: int
    villages: list[dict]
    kinds: list[tuple[str, str, int]]
    townships: list[str]


def _relabel(evidence: str | None, sources: dict[str, str]) -> str | None:
    """Evidence with source keys inside nested values shown by their Chinese names (在册来源: 国家系统 …)."""
    if not evidence or not any(f'"{k}"' in evidence for k in sources):
        return evidence
    try:
        data = json.loads(evidence)
    except ValueError:
        return evidence
    if not isinstance(data, dict):
        return evidence
    for key, value in data.items():
        if isinstance(value, dict):
            data[key] = {(evidence_label(k, sources) if k in sources else k): v for k, v in value.items()}
    return json.dumps(data, ensure_ascii=False)


def _ledger_or_none(out: Path) -> duckdb.DuckDBPyConnection | None:
    """The workspace's ledger (out/reconcile.duckdb) opened read-only, or None when there is none to read."""
    from ..errors import ReconcileError
    from ..ledger import open_ledger

    database = out / "reconcile.duckdb"
    if not database.exists():
        return None
    try:
        return open_ledger(database)
    except ReconcileError:
        return None


def ledger_state(out: Path) -> pl.DataFrame | None:
    """Each finding's status and answer as the ledger (out/reconcile.duckdb) holds them now, with `overdue` as
    `reconcile ledger` counts it; None when there is no ledger to read. The caller holds `ws.db_lock`."""
    from ..ledger import overdue, read_ledger

    con = _ledger_or_none(out)
    if con is None:
        return None  # none yet, or being replaced by a run that just finished: the run's own values are shown
    try:
        ledger = read_ledger(con)
    finally:
        con.close()
    if not ledger.height:
        return None
    if "deadline" not in ledger.columns:  # a ledger written before answers existed
        return ledger.select("finding_id", "status")
    return ledger.select("finding_id", *(c for c in LIVE_COLUMNS if c != "overdue"), overdue=overdue(ledger))


def _with_live(f: pl.DataFrame, live: pl.DataFrame | None) -> pl.DataFrame:
    """`f` with every LIVE_COLUMNS column (an older run's findings have no answer columns), taken from the
    ledger for the findings it knows."""
    f = f.with_columns(pl.lit(None, dtype=t).alias(c) for c, t in LIVE_COLUMNS.items() if c not in f.columns)
    if live is None or not live.height:
        return f
    columns = [c for c in LIVE_COLUMNS if c in live.columns]
    live = live.select("finding_id", *(pl.col(c).cast(f.schema[c]).alias(f"_l_{c}") for c in columns))
    joined = f.join(live, on="finding_id", how="left", maintain_order="left")
    known = pl.col("_l_status").is_not_null()
    return joined.with_columns(pl.when(known).then(pl.col(f"_l_{c}")).otherwise(pl.col(c)).alias(c)
                               for c in columns).drop(f"_l_{c}" for c in columns)


def browse(out: Path, sources: dict[str, str], filters: dict[str, str], page: int, show_ids: bool,
           live: pl.DataFrame | None = None) -> FindingView:
    """Findings filtered by township/village/kind/severity/status, one page of them, side by side; status and
    answers as `live` (`ledger_state`) has them."""
    f = findings(out)
    titles = kind_titles()
    if f.height:
        f = _with_live(f, live)
    if not f.height:
        return FindingView([], [], None, 0, 0, 1, 1, [], [], [])
    villages = (f.group_by("township", "village").agg(n=pl.len(), high=(pl.col("severity") == "high").sum())
                .sort("township", "village", nulls_last=True).to_dicts())
    townships = sorted({t for t in f["township"].to_list() if t})
    base = f
    for key in FILTERS:
        value = filters.get(key)
        if key == "status" and value == OVERDUE:
            base = base.filter(pl.col("overdue").fill_null(False))
        elif value and key != "kind":
            base = base.filter(pl.col(key) == value)
    cut = base.filter(pl.col("kind") == filters["kind"]) if filters.get("kind") else base
    counts = dict(base.group_by("kind").len().rows()) if base.height else {}
    kinds = sorted(set(f["kind"].to_list()), key=lambda k: kind_order().get(k, 999))
    kind_list = [(k, titles.get(k, k), counts.get(k, 0)) for k in kinds]
    pages = max(1, -(-cut.height // PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = cut.slice((page - 1) * PAGE_SIZE, PAGE_SIZE)
    keys = evidence_keys(shown["evidence"], sources) if shown.height else []
    own = [k for k in keys if k in sources]
    others = [k for k in keys if k not in sources]
    labels = {k: evidence_label(k, sources) for k in keys}
    rows = []
    for r in shown.iter_rows(named=True):
        parts = evidence_parts(_relabel(r["evidence"], sources), show_ids, sources)
        other = "\n".join(f"{labels[k]}: {parts[k]}" if labels[k] else parts[k] for k in others if parts.get(k))
        rows.append({
            "severity": r["severity"], "severity_label": SEVERITY_LABELS.get(r["severity"], r["severity"]),
            "status": r.get("status") or "", "status_label": STATUS_LABELS.get(r.get("status") or "", ""),
            "township": r["township"] or "", "village": r["village"] or "", "hh_code": r["hh_code"] or "",
            "head_name": r["head_name"] or "", "head_id": _id(r["head_id"], show_ids) or "",
            "person_name": r["person_name"] or "", "person_id": _id(r["person_id"], show_ids) or "",
            "kind": r["kind"], "kind_label": titles.get(r["kind"], r["kind"]),
            "message": _text(r["message"], show_ids) or "", "advice": _text(r["advice"], show_ids) or "",
            "values": [(parts.get(k) or "").replace("; ", "\n") for k in own], "other": other,
            "finding_id": r["finding_id"], "verdict": r["verdict"] or "",
            "verdict_label": VERDICT_LABELS.get(r["verdict"] or "", r["verdict"] or ""),
            "note": _text(r["verdict_note"], show_ids) or "", "responsible": r["responsible"] or "",
            # the note as the form may send it back: never a masked copy in place of the person's text
            "note_editable": (r["verdict_note"] or "")
            if show_ids or _text(r["verdict_note"], False) == r["verdict_note"] else None,
            "deadline": r["deadline"].isoformat() if r["deadline"] else "", "overdue": bool(r["overdue"]),
        })
    return FindingView(rows, [(k, labels[k]) for k in own], "部门数据及其他依据" if others else None, f.height,
                       cut.height, page, pages, villages, kind_list, townships)


def issues_view(out: Path, names: dict[str, str], show_ids: bool, limit: int = 200) -> tuple[int, list[dict]]:
    """Input issues (first `limit`), with the run's file names shown as the person's file names."""
    issues = input_issues(out)
    if not issues.height:
        return 0, []
    rows = []
    for r in issues.head(limit).iter_rows(named=True):
        message = _text(r.get("message"), show_ids) or ""
        value = r.get("value") or ""
        if not show_ids and value and field_kind(r.get("field") or "") == "id":
            # a malformed ID (17 digits, a wrong birth date) is still a person's number: mask it whole
            message, value = message.replace(value, mask_id(value) or ""), mask_id(value) or ""
        else:
            value = _text(value, show_ids) or ""
        for link, name in names.items():
            message = message.replace(f"文件 {link} ", f"文件 {name} ")
        rows.append({"file": names.get(r.get("file") or "", r.get("file") or ""), "row": r.get("row") or "",
                     "column": r.get("column") or "", "value": value,
                     "severity": r.get("severity") or "", "message": message})
    return issues.height, rows


def ledger_view(out: Path, show_ids: bool) -> dict | None:
    """Rectification status against earlier runs in this workspace (the ledger in reconcile.duckdb)."""
    from ..ledger import read_ledger, runs
    from ..ledger_report import COLUMNS, summarise_ledger

    con = _ledger_or_none(out)
    if con is None:
        return None
    try:
        ledger = read_ledger(con)
        run_frame = runs(con)
    finally:
        con.close()
    if not run_frame.height:
        return None
    last = run_frame.row(-1, named=True)
    titles = kind_titles()
    resolved_now = ledger.filter((pl.col("status") == "resolved") & (pl.col("resolved_run") == last["run_id"])) \
        if ledger.height else ledger
    resolved_rows = [{"township": r["township"] or "", "village": r["village"] or "",
                      "head_name": r["head_name"] or "", "person_name": r["person_name"] or "",
                      "kind_label": titles.get(r["kind"], r["kind"]), "message": _text(r["message"], show_ids) or ""}
                     for r in resolved_now.head(200).iter_rows(named=True)] if resolved_now.height else []
    summary = summarise_ledger(ledger, run_frame, out / "reconcile.duckdb")  # `reconcile ledger`'s figures
    return {
        "runs": [{**r, "started_at": str(r["started_at"])[:16]} for r in run_frame.to_dicts()],
        "last": last, "first": run_frame.height == 1,
        "resolved": resolved_rows, "resolved_total": resolved_now.height,
        "summary": summary, "columns": COLUMNS, "overdue_shown": OVERDUE_SHOWN,
        "helpers": bool(summary and any(r["name"] for r in summary["by_helper"])),
    }


def coverage_view(out: Path, rewrite: Callable[[str], str], show_ids: bool) -> Coverage | None:
    """Which checks did not run or ran partly and why, the plan's notices and each file's fields: the run
    plan in reconcile.duckdb, as the workbook's 核查范围 sheet shows it. None for a run without a plan."""
    import duckdb

    from ..db import attach_partitions, connect
    from ..plan_tables import load_plan

    database = out / "reconcile.duckdb"
    if not database.exists():
        return None
    try:
        con = connect(database, read_only=True)
    except duckdb.Error:
        return None  # being replaced by a run that just finished: the next page load reads it
    try:
        attach_partitions(con, out)  # a province run's plan tables are views over its counties' databases
        plan = load_plan(con)
    finally:
        con.close()
    return build_coverage(plan, show_ids, rewrite)
