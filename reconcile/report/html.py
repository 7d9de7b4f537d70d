"""report.html — one self-contained page (no network): headline figures, SVG charts, a filterable table.

Everything the page needs is inside it: CSS and a small script inline, charts as inline SVG drawn
here, the findings as a JSON block (IDs masked unless `show_ids`). A county with more findings than
`TABLE_LIMIT` gets the first ones in the table and a note pointing to findings.csv.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jinja2
import polars as pl

from ..outputs import written
from .common import (
    SEVERITY_LABELS,
    STATUS_LABELS,
    evidence_labeller,
    evidence_parts,
    kind_order,
    kind_titles,
)
from .data import ReportData
from .sheets import household_key, labelled, shown_texts, sorted_findings
from .svg import heatmap, stacked_bars

REPORT_NAME = "report.html"
TABLE_LIMIT = 50_000
TOP_VILLAGES = 40


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2")


def _severity_counts(frame: pl.DataFrame, by: list[str]) -> list[tuple[tuple, dict[str, int], int]]:
    if not frame.height:
        return []
    counts = frame.group_by([*by, "severity"]).len()
    out: dict[tuple, dict[str, int]] = {}
    for row in counts.iter_rows(named=True):
        out.setdefault(tuple(row[b] for b in by), {})[row["severity"]] = row["len"]
    return [(k, v, sum(v.values())) for k, v in out.items()]


def _table_rows(data: ReportData, f: pl.DataFrame) -> list[tuple]:
    """The page's findings table (its first TABLE_LIMIT findings), a column at a time; IDs and texts masked."""
    f = f.head(TABLE_LIMIT)
    if not f.height:
        return []
    label = evidence_labeller(data.sources)
    evidence = [";".join(f"{label(k)}: {v}" for k, v in parts.items())
                for parts in (evidence_parts(e, data.show_ids, data.sources) for e in f["evidence"].to_list())]
    text = ["township", "village", "hh_code", "head_name", "_head_id", "person_name", "_person_id"]
    return f.with_columns(shown_texts(f, data)).select(
        "severity", pl.col("status").fill_null(""), *[pl.col(c).fill_null("") for c in text], "kind",
        labelled("kind", kind_titles()).alias("title"), pl.col("_message").fill_null(""),
        pl.col("_advice").fill_null(""), pl.Series("evidence", evidence, dtype=pl.String), "finding_id").rows()


def context(data: ReportData) -> dict:
    f = sorted_findings(data.findings)
    titles = kind_titles()
    run = data.this_run
    resolved_now = data.ledger.filter((pl.col("status") == "resolved") & (pl.col("resolved_run") == run.get("run_id"))) \
        .height if data.ledger.height and run else 0
    households = f.select(household_key()).n_unique() if f.height else 0
    sev = {k: f.filter(pl.col("severity") == k).height if f.height else 0 for k in SEVERITY_LABELS}
    status = {k: f.filter(pl.col("status") == k).height if f.height else 0 for k in ("new", "open", "reopened")}
    cards = [("核查户数", data.registered().height, ""), ("发现问题", f.height, "total"), ("涉及户数", households, ""),
             ("高风险", sev["high"], "high"), ("中风险", sev["medium"], "medium"), ("低风险", sev["low"], "low"),
             ("新发现", status["new"], ""), ("未整改", status["open"], ""), ("重新出现", status["reopened"], ""),
             ("本次销号", resolved_now, ""), ("输入问题", data.input_issues.height, "")]

    by_kind = sorted(_severity_counts(f, ["kind"]), key=lambda t: kind_order().get(t[0][0], 999))
    kind_chart = stacked_bars([(titles.get(k[0], k[0]), parts) for k, parts, _ in by_kind], "chart-kind",
                              title="按问题类型")
    by_village = sorted(_severity_counts(f.filter(pl.col("village").is_not_null()) if f.height else f,
                                         ["township", "village"]), key=lambda t: (-t[2], t[0][0] or "", t[0][1] or ""))
    village_chart = stacked_bars([(f"{k[0] or ''}·{k[1]}", parts) for k, parts, _ in by_village[:TOP_VILLAGES]],
                                 "chart-village", title="按村")
    kinds_present = [k[0] for k, _, _ in by_kind]
    villages = [k for k, _, _ in sorted(by_village, key=lambda t: (t[0][0] or "", t[0][1] or ""))]
    if f.height and villages:
        grid = f.group_by(["township", "village", "kind"]).len()
        lookup = {(r["township"], r["village"], r["kind"]): r["len"] for r in grid.iter_rows(named=True)}
        matrix = [[lookup.get((t, v, k), 0) for k in kinds_present] for t, v in villages]
    else:
        matrix = []
    heat = heatmap([f"{t or ''}·{v}" for t, v in villages], [titles.get(k, k) for k in kinds_present], matrix,
                   "chart-heat")
    labels = data.labels
    rates = data.link_rates()
    rate_matrix = {(r["source_a"], r["source_b"]): r for r in rates.iter_rows(named=True)}
    link_rows = [{"label": labels[a], "cells": [rate_matrix.get((a, b)) if a != b else None for b in data.sources]}
                 for a in data.sources]
    from .monitoring import monitoring_stats, stat_titles

    stats = monitoring_stats(data)
    monitoring = {"titles": [t for _, t in stat_titles(data)],
                  "rows": [[("—" if v is None else f"{v:.1%}" if c == "rate" else v) for c, v in r.items()]
                           for r in stats.iter_rows(named=True)]} if stats.height else None
    rows = _table_rows(data, f)
    payload = json.dumps({"rows": rows, "severity": SEVERITY_LABELS, "status": STATUS_LABELS},
                         ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return {
        "title": data.title, "data": data, "generated": data.generated_at.strftime("%Y-%m-%d %H:%M"),
        "run": run, "cards": cards, "kind_chart": kind_chart, "village_chart": village_chart, "heat": heat,
        "village_count": len(by_village), "top_villages": TOP_VILLAGES, "source_labels": [labels[s] for s in data.sources],
        "link_rows": link_rows, "payload": payload, "total": f.height, "shown": len(rows),
        "townships": sorted({r[2] for r in rows if r[2]}),
        "villages": sorted({(r[2], r[3]) for r in rows if r[3]}),
        "kinds": [(k, titles.get(k, k)) for k in kinds_present], "severities": list(SEVERITY_LABELS.items()),
        "statuses": [(k, STATUS_LABELS[k]) for k in ("new", "open", "reopened")],
        "masked": not data.show_ids, "coverage": data.coverage(), "monitoring": monitoring,
    }


def render_html(data: ReportData) -> str:
    return _template().render(**context(data))


def write_html(data: ReportData, path: Path) -> Path:
    with written(path) as partial:
        partial.write_text(render_html(data), encoding="utf-8")
    return path
