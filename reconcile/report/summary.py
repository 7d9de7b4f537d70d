"""The run summary: findings by kind and township, input issues, link rates, files written."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
from rich.console import Console
from rich.table import Table

from ..check.packs import kinds
from ..schema import source_labels
from ..validate.engine import problem_title
from .labels import STAGE_LABELS, people_key

if TYPE_CHECKING:
    from ..pipeline import RunResult


def summary_dict(result: RunResult) -> dict:
    f = result.findings
    by_kind = f.group_by("kind").len().sort("kind").rows() if f.height else []
    by_township = f.group_by("township").len().sort("township", nulls_last=True).rows() if f.height else []
    runs = result.rule_runs
    return {
        "region": result.config.region,
        "year": result.config.year,
        "output": str(result.output),
        "findings": f.height,
        "findings_by_kind": {k: n for k, n in by_kind},
        "findings_by_township": {(t or ""): n for t, n in by_township},
        "findings_by_severity": dict(f.group_by("severity").len().rows()) if f.height else {},
        "input_issues": result.input_issues.height,
        "input_issues_by_problem": dict(result.input_issues.group_by("problem").len().rows())
        if result.input_issues.height else {},
        "link_rates": result.link_rates.to_dicts(),
        "rules_skipped": runs.filter(pl.col("status") == "skipped").select("rule_id", "reason").to_dicts()
        if runs.height else [],
        "rules_failed": runs.filter(pl.col("status") == "error").select("rule_id", "reason").to_dicts()
        if runs.height else [],
        "ledger": result.ledger,
        "seconds": {k: round(v, 3) for k, v in result.timings.items()},
        **({"partitions": result.partitions} if result.partitions else {}),
        "files": {k: str(v) for k, v in result.files.items()},
    }


def print_summary(result: RunResult, console: Console) -> None:
    f = result.findings
    titles = {k: v.title for k, v in kinds().items()}
    sources = source_labels({k: s.role for k, s in result.config.sources.items()})  # its people's names
    townships = sorted({t for t in f["township"].to_list() if t}) if f.height else []
    table = Table(title=f"{result.config.region} {result.config.year} 年 核查发现 {f.height} 个问题", show_lines=False)
    table.add_column("问题类型")
    table.add_column("合计", justify="right")
    for t in townships:
        table.add_column(t, justify="right")
    if f.height:
        counts = f.group_by(["kind", "township"]).len()
        for kind in f["kind"].unique().sort().to_list():
            sub = counts.filter(pl.col("kind") == kind)
            per = dict(zip(sub["township"].to_list(), sub["len"].to_list(), strict=True))
            table.add_row(titles.get(kind, kind), str(sum(per.values())),
                          *[str(per.get(t, 0)) for t in townships])
    console.print(table)

    issues = result.input_issues
    if issues.height:
        it = Table(title=f"输入问题 {issues.height} 个(详见 input_issues.csv)")
        it.add_column("来源")
        it.add_column("问题")
        it.add_column("个数", justify="right")
        for source, problem, n in issues.group_by(["source", "problem"]).len().sort(["source", "problem"]).rows():
            it.add_row(people_key(source, sources), problem_title(problem), str(n))
        console.print(it)

    rates = result.link_rates
    if rates.height:
        lt = Table(title="匹配率(A 的户在 B 中找到对应记录的比例)")
        for col in ("来源 A", "来源 B", "A 户数", "已匹配", "匹配率"):
            lt.add_column(col, justify="right" if col not in ("来源 A", "来源 B") else "left")
        for a, b, n, linked, rate in rates.rows():
            lt.add_row(people_key(a, sources), people_key(b, sources), str(n), str(linked), f"{(rate or 0) * 100:.1f}%")
        console.print(lt)

    if result.ledger:
        lg = result.ledger
        console.print(f"问题台账(第 {lg['run_id']} 次运行):新发现 {lg['new']},未整改 {lg['open']},"
                      f"重新出现 {lg['reopened']},已整改销号 {lg['resolved']}(详见 核查报告.xlsx「整改情况」,"
                      "或运行 reconcile ledger)", highlight=False)

    runs = result.rule_runs
    skipped = runs.filter(pl.col("status") != "ran") if runs.height else runs
    for rule_id, status, reason in (skipped.select("rule_id", "status", "reason").rows() if skipped.height else []):
        word = "跳过" if status == "skipped" else "出错"
        console.print(f"[yellow]规则 {rule_id} {word}[/]: {reason}", highlight=False)
    timing = ",".join(f"{STAGE_LABELS.get(k, k)} {v:.2f} 秒" for k, v in result.timings.items())
    console.print(f"用时:{timing}")
    console.print("已写出:")
    for path in result.files.values():
        console.print(f"  {path}", highlight=False)
