"""What the run could and could not check, for people: the run plan's tables (`reconcile.plan`) turned
into the lists the workbook's 核查范围 sheet, report.html and the web results page show.

One reading of the plan for all three, so they never disagree: rules not fully run (skipped first, then
partial) with their Chinese reasons, the plan's notices, and per file its usage and fields — found (and
how), proposed, absent, columns not recognised, and mapped columns missing from the file. Field codes
stay inside: people see field labels; the only code shown is a proposal's exact `columns:` line, which is
what they must copy. Header names and messages go through `mask_text`, because a file without a header
row puts its first data row — ID numbers included — where the headers should be.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from ..plan import PROVIDED, RULE_STATUS_LABELS, STATUS_LABELS, USAGE_LABELS
from .common import kind_titles, mask_text

LEVEL_LABELS = {"error": "错误", "warning": "警告", "info": "提示"}
LEVEL_ORDER = {"error": 0, "warning": 1, "info": 2}
# the order a file's fields are listed in: what it provides, what needs a decision, what it lacks
FIELD_ORDER = {s: i for i, s in enumerate(["explicit", "synonym", "similar", "derived", "proposed",
                                           "missing_mapped", "extra", "absent"])}


@dataclass
class FileCoverage:
    owner: str
    label: str
    path: str
    usage: str  # used / household / excluded
    usage_label: str
    message: str
    fields: list[dict] = field(default_factory=list)  # label, status, status_label, raw, how — in FIELD_ORDER

    def having(self, *statuses: str) -> list[dict]:
        return [f for f in self.fields if f["status"] in statuses]

    @property
    def provided(self) -> list[dict]:
        return self.having(*PROVIDED)

    @property
    def auto(self) -> list[dict]:
        return self.having("synonym", "similar")


@dataclass
class Coverage:
    files: list[FileCoverage]
    rules: list[dict]  # rules not fully run: rule_id, title, kind_title, status, status_label, text, sources
    notices: list[dict]  # level, level_label, file, message — errors first
    total: int
    ran: int
    partial: int
    skipped: int

    @property
    def headline(self) -> str:
        return (f"规则共 {self.total} 条:完整运行 {self.ran} 条,部分运行 {self.partial} 条,"
                f"未运行 {self.skipped} 条")

    @property
    def missing_mapped(self) -> list[tuple[str, str]]:
        """(file, column) for every configured column the file does not have."""
        return [(f.label, c["raw"]) for f in self.files for c in f.having("missing_mapped")]


def build_coverage(plan: dict[str, pl.DataFrame] | None, show_ids: bool = False,
                   rewrite: Callable[[str], str] | None = None,
                   explicit: dict[str, dict[str, str]] | None = None) -> Coverage | None:
    """The plan tables (`reconcile.plan_tables.load_plan`) as people read them; None for a run without a plan.

    `rewrite` turns the run's file paths inside messages into what the reader knows (a path relative to
    the config, the name a file was uploaded under); `explicit` (owner → raw header → field, the config's
    `columns:`) names the field a missing mapped column was meant for."""
    if plan is None:
        return None
    own = plan["plan_file"]
    source_names = dict(zip(own["owner"].to_list(), own["label"].to_list(), strict=True))  # a rule's sources
    plan = _by_county(plan)
    fix = rewrite or (lambda text: text)

    def text(value: str | None) -> str:
        value = fix(value or "")
        return value if show_ids else (mask_text(value) or "")

    files_frame, fields_frame = plan["plan_file"], plan["plan_field"]
    labels = dict(zip(files_frame["owner"].to_list(), files_frame["label"].to_list(), strict=True))
    repeated = {lab for lab in labels.values() if list(labels.values()).count(lab) > 1}
    labels = {o: (f"{lab}({o})" if lab in repeated else lab) for o, lab in labels.items()}
    fields_by_owner: dict[str, list[dict]] = {}
    if fields_frame.height:
        ordered = fields_frame.with_row_index("_n").with_columns(
            _o=pl.col("status").replace_strict(FIELD_ORDER, default=99, return_dtype=pl.Int32)).sort("_o", "_n")
        for r in ordered.iter_rows(named=True):
            fields_by_owner.setdefault(r["owner"], []).append(_field_row(r, text, explicit, fields_frame))
    files = [FileCoverage(r["owner"], labels[r["owner"]], fix(r["path"] or ""), r["usage"],
                          USAGE_LABELS.get(r["usage"], r["usage"]), text(r["message"]),
                          fields_by_owner.get(r["owner"], []))
             for r in files_frame.iter_rows(named=True)]
    rules = plan["plan_rule"]
    titles = kind_titles()
    shown = (rules.filter(pl.col("status") != "run")
             .with_columns(_o=pl.col("status").replace_strict({"skipped": 0, "partial": 1}, default=2,
                                                               return_dtype=pl.Int32))
             .sort("_o", "rule_id")) if rules.height else rules
    rule_rows = [{"rule_id": r["rule_id"], "title": r["title"], "kind_title": titles.get(r["kind"], r["kind"]),
                  "status": r["status"], "status_label": RULE_STATUS_LABELS.get(r["status"], r["status"]),
                  "text": text(r["reason"] if r["status"] == "skipped" else r["unchecked"]),
                  "sources": "、".join(labels.get(s) or source_names.get(s, s)
                                      for s in (r["sources"] or "").split(",") if s)}
                 for r in shown.iter_rows(named=True)]
    notices = plan["plan_notice"]
    notice_rows = sorted(({"level": r["level"], "level_label": LEVEL_LABELS.get(r["level"], r["level"]),
                           "file": labels.get(r["owner"], r["owner"] or ""), "message": text(r["message"])}
                          for r in notices.iter_rows(named=True)), key=lambda n: LEVEL_ORDER.get(n["level"], 9))
    counts = dict(rules.group_by("status").len().rows()) if rules.height else {}
    return Coverage(files, rule_rows, notice_rows, rules.height, counts.get("run", 0), counts.get("partial", 0),
                    counts.get("skipped", 0))


def _by_county(plan: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """A province's plan has each county's rows (a `county` column): files are named with their county, and a
    rule's reason said alike in several counties is one row naming them."""
    if "county" not in plan["plan_file"].columns:
        return plan
    owner = pl.col("county") + ":" + pl.col("owner")
    files = plan["plan_file"].with_columns(owner.alias("owner"), ("【" + pl.col("county") + "】" + pl.col("label"))
                                           .alias("label"))
    fields = plan["plan_field"].with_columns(owner.alias("owner"))
    notices = plan["plan_notice"].with_columns(owner.alias("owner"))
    rules = plan["plan_rule"]
    if rules.height:
        text = pl.coalesce(pl.col("reason"), pl.lit("")) + "|" + pl.coalesce(pl.col("unchecked"), pl.lit(""))
        rules = (rules.with_columns(text.alias("_t"))
                 .group_by("rule_id", "status", "_t", maintain_order=True)
                 .agg(pl.col("title", "kind", "pack", "sources", "reason", "unchecked").first(),
                      pl.col("county").unique(maintain_order=True).str.join("、").alias("_counties"))
                 .with_columns(*[pl.when(pl.col(c).fill_null("") != "").then("【" + pl.col("_counties") + "】" + pl.col(c))
                                 .otherwise(pl.col(c)).alias(c) for c in ("reason", "unchecked")])
                 .drop("_t", "_counties"))
    return {**plan, "plan_file": files, "plan_field": fields, "plan_notice": notices, "plan_rule": rules}


def _field_row(r: dict, text: Callable[[str | None], str], explicit: dict[str, dict[str, str]] | None,
               fields_frame: pl.DataFrame) -> dict:
    status = r["status"]
    label = r["label"] if r["field"] else ""
    raw = text(r["raw_header"]) if r["raw_header"] else ""
    how = text(r["how"])
    if status == "missing_mapped":
        target = (explicit or {}).get(r["owner"], {}).get(r["raw_header"] or "")
        if target:
            own = fields_frame.filter((pl.col("owner") == r["owner"]) & (pl.col("field") == target))["label"]
            label = own[0] if own.len() else ""
        how = how or "配置 columns: 中写了这一列,但文件中没有(文件可能改了列名);对应的字段本次没有读取"
    elif status == "proposed":
        how = "可能是这一列" + (f"({how})" if how else "") + ",需要确认后才会使用"
    elif status == "extra":
        how = how or "没有对应到任何字段,本次不使用"
    elif status == "explicit":
        how = how or "在配置 columns: 中写明"
    return {"label": label, "status": status, "status_label": STATUS_LABELS.get(status, status), "raw": raw,
            "how": how, "score": r["score"]}
