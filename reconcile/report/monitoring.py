"""防返贫监测 statistics (issue 14): monitored households by category and township, risks identified and eliminated
in the assessment year, 消除率, 应消未消 and the time from identification to elimination — the same table in the
workbook's 防返贫监测 sheet and on the page."""

from __future__ import annotations

import polars as pl

from ..normalize.codes import code_labels
from .data import ReportData

KEPT_KIND = "risk_kept_unnecessarily"


def monitoring_stats(data: ReportData) -> pl.DataFrame:
    """One row per township and a 合计 row; empty when the run has no monitored household."""
    m = data.monitored
    if not m.height:
        return pl.DataFrame()
    year = data.config.year
    eliminated = pl.col("risk_status") == "已消除"
    months = ((pl.col("risk_eliminated_date").dt.year() * 12 + pl.col("risk_eliminated_date").dt.month())
              - (pl.col("monitor_start_date").dt.year() * 12 + pl.col("monitor_start_date").dt.month()))
    types = code_labels("monitor_type")

    def counts(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
        aggs = [pl.len().alias("monitored"), *[(pl.col("monitor_type") == t).sum().alias(t) for t in types],
                (pl.col("monitor_start_date").dt.year() == year).sum().alias("identified"),
                eliminated.sum().alias("eliminated"),
                (eliminated & (pl.col("risk_eliminated_date").dt.year() == year)).sum().alias("eliminated_now"),
                months.filter(eliminated).mean().alias("months")]
        return frame.group_by(by).agg(aggs) if by else frame.select(aggs)

    per = counts(m, ["township"]).sort("township", nulls_last=True)
    total = counts(m, []).with_columns(pl.lit("合计").alias("township"))
    table = pl.concat([per, total.select(per.columns)], how="vertical_relaxed")
    f = data.findings
    kept = (f.filter(pl.col("kind") == KEPT_KIND).group_by("township").len() if f.height
            else pl.DataFrame(schema={"township": pl.String, "len": pl.UInt32}))
    kept_total = int(kept["len"].sum()) if kept.height else 0
    table = (table.join(kept.rename({"len": "kept"}), on="township", how="left")
             .with_columns(pl.when(pl.col("township") == "合计").then(kept_total).otherwise(pl.col("kept"))
                           .fill_null(0).alias("kept")))
    return table.with_columns(
        (pl.col("eliminated") / pl.col("monitored")).alias("rate"),
        pl.col("months").round(1).cast(pl.String).alias("months"),
    ).select("township", "monitored", *types, "identified", "eliminated", "eliminated_now", "rate", "months", "kept")


def stat_titles(data: ReportData) -> list[tuple[str, str]]:
    """(column, title) of the table, in order; the kind of each column is 'int' but for 乡镇, 消除率 and the months."""
    year = data.config.year
    return [("township", "乡镇"), ("monitored", "监测户数"), *[(t, t) for t in code_labels("monitor_type")],
            ("identified", f"{year}年纳入监测"), ("eliminated", "风险已消除"), ("eliminated_now", f"{year}年消除"),
            ("rate", "消除率"), ("months", "识别到消除平均月数"), ("kept", "应消未消(疑似)")]
