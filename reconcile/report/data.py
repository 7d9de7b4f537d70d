"""What the people-facing reports read: one snapshot of the run's tables, optionally cut to one township.

The workbook and the HTML page are pure renderers over this (DESIGN §12.4); everything here keeps full
values — masking happens when a cell is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from ..config import Config
from ..db import query_frame as _frame
from ..db import table_names
from ..ledger import LEDGER_TABLES, evidence_as_seen, read_ledger
from ..plan_tables import load_plan
from ..schema import REGISTERED_ROLES
from .common import source_labels, township_with_county
from .coverage import Coverage, build_coverage


@dataclass
class ReportData:
    config: Config
    generated_at: datetime
    sources: dict[str, str]  # source key → role, in display order
    findings: pl.DataFrame
    rule_runs: pl.DataFrame
    input_issues: pl.DataFrame
    households: pl.DataFrame  # cluster_id, township, village, hh_code, head_name, head_id, present_<s>…, registered
    load_report: pl.DataFrame
    ledger: pl.DataFrame
    runs: pl.DataFrame
    show_ids: bool = False
    link_rate: pl.DataFrame | None = None  # the run's `link_rate` table (county level)
    township: str | None = None  # set on a per-township cut
    plan: dict[str, pl.DataFrame] | None = None  # the run plan's tables (reconcile.plan_tables.load_plan); None before it
    extra: dict = field(default_factory=dict)
    # monitored households (monitored_household and their place): the 防返贫监测 statistics
    monitored: pl.DataFrame = field(default_factory=pl.DataFrame)
    # the last two runs' finding_history (run_id, finding_id, status, township …) and every answer read back
    history: pl.DataFrame = field(default_factory=pl.DataFrame)
    answers: pl.DataFrame = field(default_factory=pl.DataFrame)
    changes: pl.DataFrame = field(default_factory=pl.DataFrame)  # each finding's status changes from run to run
    _coverage: tuple[int, Coverage | None] | None = field(default=None, repr=False, compare=False)

    @property
    def labels(self) -> dict[str, str]:
        return source_labels(self.sources)

    @property
    def run_id(self) -> int | None:
        return int(self.runs["run_id"].max()) if self.runs.height else None  # type: ignore[arg-type]

    @property
    def this_run(self) -> dict:
        return self.runs.sort("run_id").row(-1, named=True) if self.runs.height else {}

    @property
    def scope(self) -> str:
        return self.township or "全县"

    @property
    def title(self) -> str:
        where = f"{self.config.region}{self.township}" if self.township else self.config.region
        return f"{where} {self.config.year} 年扶贫数据“四个一致”核查报告"

    def coverage(self) -> Coverage | None:
        """The plan as people read it: a township's cut covers the same files and rules as its county.

        Built once per report data (the 说明 sheet, the 核查范围 sheet and the page all show it), with each
        file's path made relative once, not once per message."""
        key = id(self.plan)
        if self._coverage is None or self._coverage[0] != key:
            base = self.config.base_dir
            paths = self.plan["plan_file"]["path"].drop_nulls().unique().to_list() if self.plan else []
            shown = [(path, relative(path, base)) for path in paths]

            def rewrite(message: str) -> str:
                for path, rel in shown:
                    if path in message:
                        message = message.replace(path, rel)
                return message

            self._coverage = (key, build_coverage(self.plan, self.show_ids, rewrite, explicit_columns(self.config)))
        return self._coverage[1]

    def registered(self) -> pl.DataFrame:
        return self.households.filter(pl.col("registered"))

    def townships(self) -> list[str]:
        names = set(self.registered()["township"].drop_nulls().to_list())
        names |= set(self.findings["township"].drop_nulls().to_list())
        return sorted(names)

    def for_county(self, county: str) -> ReportData:
        """One county's cut of a province run, read as that county's own report: its townships by their own
        names. (A ledger row from before findings carried their county has it only in front of its township.)"""
        def cut(frame: pl.DataFrame) -> pl.DataFrame:
            if "township" not in frame.columns:
                return frame
            named = pl.col("county") == county if "county" in frame.columns else pl.lit(False)
            legacy = (pl.col("county").is_null() if "county" in frame.columns else pl.lit(True)) \
                & pl.col("township").str.starts_with(county)
            return (frame.filter(named | legacy)
                    .with_columns(pl.col("township").str.strip_prefix(county).replace("", None)))

        issues = self.input_issues
        if "county" in issues.columns:
            issues = cut(issues) if "township" in issues.columns else issues.filter(pl.col("county") == county)
        return replace(self, findings=cut(self.findings), input_issues=issues, households=cut(self.households),
                       ledger=cut(self.ledger), monitored=cut(self.monitored), history=cut(self.history),
                       answers=cut(self.answers), changes=cut(self.changes), link_rate=None,
                       config=replace(self.config, region=county))

    def link_rates(self) -> pl.DataFrame:
        """Per ordered source pair: A's households and how many have a linked record in B (as `link_rate`).

        The county uses the run's `link_rate` table; a township cut counts its own households the same way."""
        if self.township is None and self.link_rate is not None and self.link_rate.height:
            return self.link_rate.select("source_a", "source_b", "records_a", "linked", "rate")
        return link_rate_frame(self.households, list(self.sources))

    def for_township(self, township: str) -> ReportData:
        def cut(frame: pl.DataFrame) -> pl.DataFrame:
            return frame.filter(pl.col("township") == township) if "township" in frame.columns else frame

        return replace(self, findings=cut(self.findings), input_issues=cut(self.input_issues),
                       households=cut(self.households), ledger=cut(self.ledger), monitored=cut(self.monitored),
                       history=cut(self.history), answers=cut(self.answers), changes=cut(self.changes),
                       township=township)


def link_rate_frame(households: pl.DataFrame, sources: list[str]) -> pl.DataFrame:
    """Per ordered source pair (in `sources` order): A's households (`present_<A>`) and how many of them have
    a linked record in B; the run's `link_rate` table and a township's cut are both counted here."""
    rows = []
    for a in sources:
        for b in sources:
            if a == b:
                continue
            pa, pb = households[f"present_{a}"].fill_null(False), households[f"present_{b}"].fill_null(False)
            n, linked = int(pa.sum()), int((pa & pb).sum())
            rows.append({"source_a": a, "source_b": b, "records_a": n, "linked": linked,
                         "rate": round(linked / n, 4) if n else None})
    return pl.DataFrame(rows, schema={"source_a": pl.String, "source_b": pl.String, "records_a": pl.Int64,
                                      "linked": pl.Int64, "rate": pl.Float64})


def _households(con: duckdb.DuckDBPyConnection, sources: dict[str, str], tables: set[str]) -> pl.DataFrame:
    present = [f"coalesce(present_{s}, false) as present_{s}" for s in sources]
    registered = " or ".join(f"coalesce(present_{s}, false)" for s, role in sources.items() if role in REGISTERED_ROLES)
    # the household's card (红黄绿卡): a run database from before the cards has none
    card = ("c.card, c.card_label, c.reason as card_reason", "left join household_card c using (cluster_id)") \
        if "household_card" in tables else ("null::varchar as card, null::varchar as card_label, null::varchar as card_reason", "")
    return _frame(con, f"""
        select cluster_id, {"county, " if "province_county" in tables else ""}township, village, hh_code, head_name, head_id, {', '.join(present)},
               ({registered or 'false'}) as registered, {card[0]}
        from hh_wide {card[1]} order by township, village, hh_code, cluster_id""")


# in a province's county database: each input issue with its row's place, worked out by the county (the province
# report reads these instead of every county's input tables; issue 18)
INPUT_ISSUE_PLACE = "input_issue_place"
INPUT_ISSUE_ORDER = "source, file, row, \"column\""


def build_input_issue_places(con: duckdb.DuckDBPyConnection) -> None:
    """`input_issue_place`: the input issues with the township and village of their row (a county of a province)."""
    con.execute(f"create or replace table {INPUT_ISSUE_PLACE} as {_input_issues_sql(table_names(con))}")


def _input_issues(con: duckdb.DuckDBPyConnection, tables: set[str]) -> pl.DataFrame:
    if INPUT_ISSUE_PLACE in tables:  # a province's: the counties' own, with the county after the issue's columns
        return _frame(con, f"select * exclude (township, village), township, village from {INPUT_ISSUE_PLACE} "
                           f"order by {INPUT_ISSUE_ORDER}")
    return _frame(con, _input_issues_sql(tables))


def _input_issues_sql(tables: set[str]) -> str:
    places = []
    for table in ("src_person", "src_household", "register", "visit"):
        if table in tables:
            # only the rows that have a bad cell: a province's tables hold tens of millions of rows
            places.append(f"select t.file, t.sheet, t.row, t.township, t.village from {table} t "
                          f"semi join (select distinct file, row from input_issue) w using (file, row)")
    if not places:
        return "select *, null::varchar as township, null::varchar as village from input_issue"
    return f"""
        with place as (
          select file, coalesce(sheet, '') as sheet, row, any_value(township) as township,
                 any_value(village) as village
          from ({' union all '.join(places)}) group by all
        )
        select i.*, p.township, p.village from input_issue i
        left join place p on p.file = i.file and p.sheet = coalesce(i.sheet, '') and p.row = i.row
        order by {', '.join('i.' + c for c in INPUT_ISSUE_ORDER.split(', '))}"""


def collect(con: duckdb.DuckDBPyConnection, config: Config, generated_at: datetime,
            show_ids: bool = False) -> ReportData:
    sources = {k: config.sources[k].role for k in config.sources_by_trust()}
    tables = table_names(con)
    has_ledger = all(t in tables for t in LEDGER_TABLES)
    county = ", w.county" if "province_county" in tables else ""
    return ReportData(
        config=config, generated_at=generated_at, sources=sources,
        findings=township_with_county(_frame(con, "select * from finding")),
        rule_runs=_frame(con, "select * from rule_run"),
        input_issues=township_with_county(_input_issues(con, tables)),
        households=township_with_county(_households(con, sources, tables)),
        load_report=_frame(con, "select owner, section, path, encoding, rows, "
                                + ("quarantined" if "quarantined" in _columns(con, "load_report") else "0 as quarantined")
                                + " from load_report")
        if "load_report" in tables else pl.DataFrame(),
        ledger=township_with_county(read_ledger(con)) if has_ledger else pl.DataFrame(),
        runs=_frame(con, "select * from run order by run_id") if has_ledger else pl.DataFrame(),
        show_ids=show_ids,
        link_rate=_frame(con, "select * from link_rate") if "link_rate" in tables else None,
        plan=load_plan(con),
        history=township_with_county(_history(con)) if has_ledger else pl.DataFrame(),
        answers=township_with_county(_answers(con)) if "finding_answer" in tables else pl.DataFrame(),
        changes=township_with_county(_changes(con)) if has_ledger else pl.DataFrame(),
        monitored=township_with_county(_frame(con, f"select m.*{county}, w.township, w.village from monitored_household m "
                                           "join hh_wide w using (cluster_id)"))
        if "monitored_household" in tables else pl.DataFrame(),
    )


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {r[0] for r in con.execute(f"describe {table}").fetchall()}


def _history(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The last two runs' finding history with each finding's place (the 通报 compares this run with the last)."""
    columns = {r[0] for r in con.execute("describe finding_ledger").fetchall()}
    county = "l.county, " if "county" in columns else ""
    return _frame(con, f"""
        select h.run_id, h.finding_id, h.status, {county}l.township, l.village
        from finding_history h join finding_ledger l using (finding_id)
        where h.run_id >= (select coalesce(max(run_id), 0) - 1 from run)""")


def _changes(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every run in which a finding's status differed from its status in the run before it, with the evidence of
    that run (first sightings are the ledger's 首次发现; 新发现 → 未整改, merely seen again, is left out)."""
    columns = {r[0] for r in con.execute("describe finding_ledger").fetchall()}
    county = "l.county, " if "county" in columns else ""
    evidence = "evidence" if "evidence" in {r[0] for r in con.execute("describe finding_history").fetchall()} \
        else "null::varchar"  # a ledger from before the history kept evidence
    return _frame(con, f"""
        with h as (
          select run_id, finding_id, status, {evidence_as_seen(evidence)} as evidence,
                 lag(status) over (partition by finding_id order by run_id) as before
          from finding_history
        )
        select h.run_id, r.started_at, h.finding_id, h.before, h.status, h.evidence, {county}l.township, l.village,
               l.head_name, l.kind
        from h join run r using (run_id) join finding_ledger l using (finding_id)
        where h.before is not null and h.before <> h.status
          and not (h.before = 'new' and h.status = 'open')  -- seen again unchanged: not news
        order by h.run_id, l.township, l.village, h.finding_id""")


def _answers(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    columns = {r[0] for r in con.execute("describe finding_ledger").fetchall()}
    county = "l.county, " if "county" in columns else ""
    return _frame(con, f"""
        select a.*, {county}l.township, l.village, l.head_name, l.kind
        from finding_answer a join finding_ledger l using (finding_id) order by a.answer_id""")


def explicit_columns(config: Config) -> dict[str, dict[str, str]]:
    """owner (source key, register key, "visits") → the `columns:` written in the config."""
    specs = {**config.sources, **config.registers, **({"visits": config.visits} if config.visits else {})}
    return {owner: dict(spec.columns or {}) for owner, spec in specs.items()}


def relative(path: str | Path | None, base: Path) -> str:
    if not path:
        return ""
    p = Path(path)
    try:
        return p.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return p.name
