"""Check stage: run the selected rules, write the long `finding` table (DESIGN §5, §7).

Reads the linked tables (`hh_wide`, `person_wide`, `src_*`, `register`, `visit` ...); writes
`finding` (one row per finding, the §5 columns) and `rule_run` (what ran, what was skipped and why).
"""

from __future__ import annotations

import hashlib
import math
import queue
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from string import Formatter
from typing import cast

import duckdb
import jinja2
import polars as pl

from ..config import Config
from ..db import has_table, write_frame
from ..plan_tables import left_out_files
from ..schema import (
    FIELD_LABELS,
    HOUSEHOLD_FIELDS,
    PERSON_FIELDS,
    REGISTER_ATTR_LABELS,
    REGISTER_KIND_LABELS,
    REGISTER_KIND_MARKS,
    ROLE_LABELS,
    SURVEY_FIELDS,
)
from ..schema import source_labels as schema_source_labels
from .cards import build_household_cards, build_monitored_households, write_card_labels
from .long_views import RULE_SOURCES, restricts, scoped_sources, unmet_scope
from .model import Rule, RuleContext
from .packs import SEVERITIES, kinds, select_rules
from .params import bind, flatten, register_param_tables
from .types import RULE_TYPES, long_view_of
from .udf import register_udfs

FINDING_COLUMNS = [
    "finding_id", "rule_id", "kind", "category", "severity", "township", "village", "cluster_id", "hh_code",
    "head_name", "head_id", "person_name", "person_id", "sources", "evidence", "message", "advice", "status", "card",
]
ENTITY_COLUMNS = ["township", "village", "hh_code", "head_name", "head_id"]


@dataclass
class RuleRun:
    rule_id: str
    kind: str
    title: str
    status: str  # ran / skipped / error
    reason: str = ""
    findings: int = 0
    seconds: float = 0.0


@dataclass
class CheckResult:
    runs: list[RuleRun] = field(default_factory=list)

    @property
    def skipped(self) -> list[RuleRun]:
        return [r for r in self.runs if r.status == "skipped"]


def _data_coverage(con: duckdb.DuckDBPyConnection, sources: list[str]) -> dict[str, set[str]]:
    """Fields with at least one value per source: only for databases built without a run plan."""
    coverage: dict[str, set[str]] = {s: set() for s in sources}
    for table, fields in (("src_household", [*HOUSEHOLD_FIELDS, *SURVEY_FIELDS]), ("src_person", list(PERSON_FIELDS))):
        cols = {r[0] for r in con.execute(f"describe {table}").fetchall()}
        present = [f for f in fields if f in cols]
        if not present or "source" not in cols:
            continue
        counted = ", ".join(f'count("{f}")' for f in present)
        counts = con.execute(f"select source, {counted} from {table} group by source").fetchall()
        for row in counts:
            coverage.setdefault(row[0], set()).update(f for f, n in zip(present, row[1:], strict=True) if n)
    return coverage


def source_labels(config: Config) -> dict[str, str]:
    """How a person names each source, most trusted first (schema.source_labels)."""
    return schema_source_labels({s: config.sources[s].role for s in config.sources_by_trust()})


def build_context(con: duckdb.DuckDBPyConnection, config: Config) -> RuleContext:
    """What the rules may read. With a run plan (`plan_field`), a field counts when the file has the column —
    absent is not empty; a file the plan left out counts as not given."""
    sources = config.sources_by_trust()
    if has_table(con, "plan_field"):
        excluded = left_out_files(con)
        sources = [s for s in sources if s not in excluded]
        coverage: dict[str, set[str]] = {s: set() for s in sources}
        derived: dict[str, set[str]] = {s: set() for s in sources}
        rows = con.execute("select owner, field, status from plan_field where status in ('explicit', 'synonym', "
                           "'similar', 'derived')").fetchall()
        for owner, fld, status in rows:
            if owner in coverage:
                coverage[owner].add(fld)
                if status == "derived":
                    derived[owner].add(fld)
        registers = {config.registers[k].kind for k in config.registers if k not in excluded}
        has_visits = config.visits is not None and "visits" not in excluded
        left_out: dict[str, str] = {}
        for owner, section, what, reason in con.execute(
                "select owner, any_value(section), any_value(what), string_agg(distinct reason, ';') "
                "from plan_file group by owner having bool_and(usage = 'excluded')").fetchall():
            need = ("visits" if owner == "visits" else f"register:{what}" if section.startswith("registers.")
                    else what)
            if need.startswith("register:") and what in registers:
                continue  # another file of the same kind is used
            left_out[need] = "、".join(filter(None, [left_out.get(need), reason]))
        register_fields: dict[str, set[str]] = {kind: set() for kind in registers}
        for kind, fld in con.execute(
                "select f.what, d.field from plan_file f join plan_field d on d.owner = f.owner "
                "where f.section like 'registers.%' and f.usage <> 'excluded' "
                "and d.status in ('explicit', 'synonym', 'similar', 'derived')").fetchall():
            register_fields.setdefault(kind, set()).add(fld)
    else:
        coverage = _data_coverage(con, sources)
        registers = ({r[0] for r in con.execute("select distinct kind from register").fetchall()}
                     if config.registers else set())
        has_visits = config.visits is not None
        register_fields, derived, left_out = {}, {}, {}
    return RuleContext(
        sources=sources, roles={s: config.sources[s].role for s in sources},
        levels={s: config.sources[s].level for s in sources}, coverage=coverage, registers=registers,
        has_visits=has_visits, year=config.year, labels=source_labels(config), register_fields=register_fields,
        derived=derived, left_out=left_out,
    )


def full_context(config: Config) -> RuleContext:
    """The context of a run whose files carry every field: what each rule would read at most."""
    from ..schema import SURVEY_FORM_FIELDS, source_fields

    def most(role: str, level: str) -> set[str]:
        fields = set(source_fields(role, level))
        return fields & set(SURVEY_FORM_FIELDS) if role == "survey" else fields

    sources = config.sources_by_trust()
    return RuleContext(
        sources=sources, roles={s: config.sources[s].role for s in sources},
        levels={s: config.sources[s].level for s in sources},
        coverage={s: most(config.sources[s].role, config.sources[s].level) for s in sources},
        registers={r.kind for r in config.registers.values()}, has_visits=config.visits is not None,
        year=config.year, labels=source_labels(config),
    )




def need_text(need: str, labels: dict[str, str] | None = None, left_out: dict[str, str] | None = None) -> str:
    """A rule's unmet need, as a person reads it (and what to add to run the rule); a file that was given
    but left out is named with why (`left_out`, from the run plan)."""
    labels, left_out = labels or {}, left_out or {}
    if need.startswith("register:"):
        kinds = need.split(":", 1)[1].split("|")
        why = [left_out[f"register:{k}"] for k in kinds if f"register:{k}" in left_out]
        return ("需要部门数据" + "或".join(f"「{REGISTER_KIND_LABELS.get(k, k)}」" for k in kinds)
                + (f",本次提供的{'、'.join(why)},没有使用" if why else ",本次没有提供"))
    if need.startswith("all:"):
        _, fld, lacking = need.split(":", 2)
        return (f"需要每个来源都有「{FIELD_LABELS.get(fld, fld)}」列({'、'.join(labels.get(s, s) for s in lacking.split(','))}"
                "没有),否则无法确定某人或某户不在其中")
    if need == "visits" or need in ROLE_LABELS:
        label = "走访记录" if need == "visits" else ROLE_LABELS[need]
        given = left_out.get(need)
        return f"需要「{label}」文件," + (f"本次提供的{given},没有使用" if given else "本次没有提供")
    return need


def _fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.0f}" if value.is_integer() else f"{value:.2f}"
    return str(value)


@lru_cache(maxsize=1024)
def _template_parts(template: str) -> tuple[tuple[str, str | None, str | None], ...]:
    """A message template's literal text and fields, parsed once (a rule renders it for each of its findings)."""
    return tuple((literal, name, spec) for literal, name, spec, _conv in Formatter().parse(template))


def render(template: str, row: dict) -> str:
    """Fill `{name}` from the finding's columns; a name the query did not return renders empty."""
    out = []
    for literal, name, spec in _template_parts(template):
        out.append(literal)
        if name is not None:
            out.append(_fmt(row.get(name)) if not spec else format(row.get(name) or 0, spec))
    return "".join(out)


# the order the finding table is kept in; the id last, so two findings of one rule on one household (two members)
# keep one order run after run
FINDING_ORDER = "township, village, cluster_id, rule_id, finding_id"
# what `check` builds before the rules run, from the config and the linked households (besides the parameters'
# tables, check.params.PARAM_PREFIX…): built again by every check, so a province's merge leaves the counties' out —
# but for HOUSEHOLD_TABLES, one row per household of the county that has it: the province reads the counties' own
SETUP_TABLES = ("problem_label", "register_kind_label", "register_attr_label", "card_label", "household_card",
                "monitored_household", "source_field", "source_label")
HOUSEHOLD_TABLES = ("household_card", "monitored_household")


def fingerprint(rule_id: str, row: dict) -> str:
    entity = row.get("hh_code") or row.get("head_id") or ""
    person = row.get("person_id") or row.get("person_name") or ""
    text = "|".join([rule_id, str(entity), str(person), str(row.get("key") or "")])
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _fill_entities(hits_columns: list[str]) -> str:
    selects = ["h.*"]
    for col in ENTITY_COLUMNS:
        selects.append(f"coalesce(h.{col}, w.{col}) as _e_{col}" if col in hits_columns else f"w.{col} as _e_{col}")
    if "person_cluster_id" in hits_columns:
        for col in ("person_name", "person_id"):
            selects.append(f"coalesce(h.{col}, p.{col}) as _e_{col}" if col in hits_columns else f"p.{col} as _e_{col}")
        person_join = "left join person_wide p on p.person_cluster_id = h.person_cluster_id"
    else:
        for col in ("person_name", "person_id"):
            selects.append(f"h.{col} as _e_{col}" if col in hits_columns else f"null::varchar as _e_{col}")
        person_join = ""
    cluster = "h.cluster_id" if "cluster_id" in hits_columns else "null::varchar"
    return (f"select {', '.join(selects)} from _hits h left join hh_wide w on w.cluster_id = {cluster} "
            f"{person_join}")


def run_rule(con: duckdb.DuckDBPyConnection, rule: Rule, ctx: RuleContext, flat: dict,
             sql: str | None = None) -> list[dict]:
    sql = sql if sql is not None else RULE_TYPES[rule.type].build(rule, ctx)
    view = long_view_of(rule)
    flat = {**flat, RULE_SOURCES: scoped_sources(view.scope, ctx)} if view else flat
    con.execute(f"create or replace temp table _hits as {sql}", bind(sql, flat))
    cols = [r[0] for r in con.execute("describe _hits").fetchall()]
    frame = cast(pl.DataFrame, pl.from_arrow(con.sql(_fill_entities(cols)).to_arrow_table()))  # stubs: | Series
    kind = kinds()[rule.kind]
    findings = []
    for row in frame.iter_rows(named=True):  # findings are few; templating is per finding by nature
        for col in (*ENTITY_COLUMNS, "person_name", "person_id"):
            row[col] = row.pop(f"_e_{col}")
        finding = {
            "rule_id": rule.id, "kind": rule.kind, "category": kind.category, "severity": _severity(rule, row),
            **{c: row.get(c) for c in (*ENTITY_COLUMNS, "person_name", "person_id", "cluster_id")},
            "sources": row.get("sources") or "", "evidence": row.get("evidence") or "{}",
            "message": render(rule.message, row), "advice": render(rule.advice, row), "status": "new",
        }
        finding["finding_id"] = fingerprint(rule.id, {**row, **finding})
        findings.append(finding)
    return findings


class GradeError(ValueError):
    """A rule's query graded a finding with a severity that is not one of SEVERITIES."""


def _severity(rule: Rule, row: dict) -> str:
    """The rule's severity, or the one its query graded the finding with (a `severity` column: 漏评 by marks)."""
    graded = row.get("severity")
    if graded is None:
        return rule.severity
    if graded not in SEVERITIES:
        raise GradeError(f"规则 {rule.id} 的查询给出的严重程度 {graded!r} 不是 high / medium / low")
    return str(graded)


def _register_labels(con: duckdb.DuckDBPyConnection) -> None:
    """What a person reads for a register kind (`register_kind_label`: its name, and what being on it says of a
    person) and column (`register_attr_label`), for rules that show register rows."""
    write_frame(con, "register_kind_label", pl.DataFrame(
        {"kind": list(REGISTER_KIND_LABELS), "label": list(REGISTER_KIND_LABELS.values()),
         "mark": [REGISTER_KIND_MARKS[k] or None for k in REGISTER_KIND_LABELS]},
        schema={"kind": pl.String, "label": pl.String, "mark": pl.String}))
    write_frame(con, "register_attr_label", pl.DataFrame(
        {"attr": list(REGISTER_ATTR_LABELS), "label": list(REGISTER_ATTR_LABELS.values())},
        schema={"attr": pl.String, "label": pl.String}))


def _register_problem_labels(con: duckdb.DuckDBPyConnection) -> None:
    from ..normalize.problems import PROBLEMS
    from ..validate.engine import problem_text

    labels = pl.DataFrame({"code": list(PROBLEMS), "message": [problem_text(c) for c in PROBLEMS]})
    con.register("_labels", labels.to_arrow())
    con.execute("create or replace table problem_label as select * from _labels")
    con.unregister("_labels")


def _build_facts(con: duckdb.DuckDBPyConnection, rule: Rule, flat: dict, built: dict[str, str]) -> str:
    """Build the shared facts the rule reads that this check has not built yet (`built`: fact id → "" once
    built, else why it could not be); why the first of them failed, or ""."""
    for fact in rule.facts:
        if fact.id not in built:
            try:
                # a table, not a temp table: the rules' queries run on cursors of their own (_run_rules)
                con.execute(f'create or replace table "{fact.id}" as {fact.sql}', bind(fact.sql, flat))
                built[fact.id] = ""
            except KeyError as exc:
                built[fact.id] = f"共用查询 {fact.id}({fact.source_file})引用了未知的参数: ${exc.args[0]}"
            except duckdb.Error as exc:
                built[fact.id] = f"共用查询 {fact.id}({fact.source_file})无法运行: {exc}"
        if built[fact.id]:
            return built[fact.id]
    return ""


RULE_WORKERS = 2  # the machine's cores: most rule queries are too small for DuckDB to keep both busy


def _run_rules(con: duckdb.DuckDBPyConnection, jobs: list[tuple[int, Rule, str, float]], ctx: RuleContext,
               flat: dict) -> Iterator[tuple[int, Rule, list[dict] | str, float]]:
    """Run the rules' queries, two at a time on cursors of their own (issue 18: most rule queries are too small
    for DuckDB to spread over both cores; the check stage went from 6.5 to 4.1 s on the 20k county with the
    shared register listing); yield each job's findings, or why it failed, with its seconds, in the jobs' order."""

    def one(cursor: duckdb.DuckDBPyConnection, rule: Rule, sql: str) -> list[dict] | str:
        try:
            return run_rule(cursor, rule, ctx, flat, sql)
        except KeyError as exc:
            return f"未知的参数: ${exc.args[0]}"
        except duckdb.Error as exc:
            return f"SQL 无法运行: {exc}"
        except GradeError as exc:
            return str(exc)

    cursors: queue.SimpleQueue[duckdb.DuckDBPyConnection] = queue.SimpleQueue()
    opened = []
    for _ in range(min(RULE_WORKERS, len(jobs))):
        cursor = con.cursor()  # sees the database's tables, macros and Python functions (register_udfs)
        opened.append(cursor)
        cursors.put(cursor)

    def timed(rule: Rule, sql: str, before: float) -> tuple[list[dict] | str, float]:
        cursor = cursors.get()
        try:
            started = time.perf_counter()
            outcome = one(cursor, rule, sql)
            return outcome, before + time.perf_counter() - started
        finally:
            cursors.put(cursor)

    try:
        with ThreadPoolExecutor(max_workers=max(len(opened), 1), thread_name_prefix="reconcile-rule") as pool:
            futures = [pool.submit(timed, rule, sql, before) for _, rule, sql, before in jobs]
            for (at, rule, _, _), future in zip(jobs, futures, strict=True):
                outcome, seconds = future.result()
                yield at, rule, outcome, seconds
    finally:
        for cursor in opened:
            cursor.close()


def check(con: duckdb.DuckDBPyConnection, config: Config, rules: list[Rule] | None = None,
          sqls: dict[str, str] | None = None, households_built: bool = False) -> CheckResult:
    """Run `rules` (default: the config's selection); `sqls`, when given, receives each rule's query.
    `households_built`: the HOUSEHOLD_TABLES are there already (a province's, the counties' united)."""
    rules = rules if rules is not None else select_rules(config)
    register_udfs(con)
    register_param_tables(con, config.params)
    _register_problem_labels(con)
    _register_labels(con)
    flat = {**flatten(config.params), "year": config.year}
    write_card_labels(con)
    if not households_built:
        build_household_cards(con, flat)
        build_monitored_households(con)
    ctx = build_context(con, config)
    write_frame(con, "source_field", pl.DataFrame(  # has(field, source), for rules over the long views
        [{"source": s, "field": f, "derived": f in ctx.derived.get(s, set())}
         for s in ctx.sources for f in sorted(ctx.coverage.get(s, set()))],
        schema={"source": pl.String, "field": pl.String, "derived": pl.Boolean}))
    write_frame(con, "source_label", pl.DataFrame({"source": ctx.sources, "label": [ctx.label(s) for s in ctx.sources]},
                                                  schema={"source": pl.String, "label": pl.String}))
    con.execute("create or replace macro source_label(s) as (select label from source_label where source = s)")
    result = CheckResult()
    findings: list[dict] = []
    built_facts: dict[str, str] = {}
    # each rule's run, in the rules' order: decided here (skipped, an error before its query) or by its query
    runs: list[RuleRun | None] = []
    jobs: list[tuple[int, Rule, str, float]] = []
    for rule in rules:
        missing = ctx.missing_needs(rule.needs) + RULE_TYPES[rule.type].missing_needs(rule, ctx)
        view = long_view_of(rule)
        if not missing and view and restricts(view.scope) and not scoped_sources(view.scope, ctx):
            missing.append(unmet_scope(view.scope, ctx))
        if missing:
            reason = ";".join(dict.fromkeys(need_text(m, ctx.labels, ctx.left_out) for m in missing))
            runs.append(RuleRun(rule.id, rule.kind, rule.title, "skipped", reason))
            continue
        started = time.perf_counter()
        fact_error = _build_facts(con, rule, flat, built_facts)
        if fact_error:
            runs.append(RuleRun(rule.id, rule.kind, rule.title, "error", fact_error))
            continue
        try:
            sql = RULE_TYPES[rule.type].build(rule, ctx)
        except jinja2.TemplateError as exc:
            runs.append(RuleRun(rule.id, rule.kind, rule.title, "error", f"SQL 模板无法展开: {exc}"))
            continue
        if sqls is not None:
            sqls[rule.id] = sql
        jobs.append((len(runs), rule, sql, time.perf_counter() - started))
        runs.append(None)
    for at, rule, outcome, seconds in _run_rules(con, jobs, ctx, flat):
        if isinstance(outcome, str):
            runs[at] = RuleRun(rule.id, rule.kind, rule.title, "error", outcome)
            continue
        seen = set()
        for f in outcome:  # one finding per fingerprint: a rule that reaches an entity twice says it once
            if f["finding_id"] not in seen:
                seen.add(f["finding_id"])
                findings.append(f)
        runs[at] = RuleRun(rule.id, rule.kind, rule.title, "ran", "", len(seen), seconds)
    result.runs = [r for r in runs if r is not None]
    for fact in built_facts:
        con.execute(f'drop table if exists "{fact}"')  # names of the packs' facts (`fact_…`), checked on loading
    frame = pl.DataFrame(findings, schema={c: pl.String for c in FINDING_COLUMNS}) if findings else \
        pl.DataFrame(schema={c: pl.String for c in FINDING_COLUMNS})
    frame = frame.select(FINDING_COLUMNS).unique("finding_id", keep="first", maintain_order=True)
    con.register("_findings", frame.to_arrow())
    # each finding shows its household's card (红黄绿卡); a suspect outside the registered households has none
    con.execute(f"create or replace table finding as select f.* exclude (card), c.card_label as card from _findings f "
                f"left join household_card c on c.cluster_id = f.cluster_id order by {FINDING_ORDER}")
    con.unregister("_findings")
    run_frame = pl.DataFrame([r.__dict__ for r in result.runs]) if result.runs else pl.DataFrame(
        schema={"rule_id": pl.String, "kind": pl.String, "title": pl.String, "status": pl.String,
                "reason": pl.String, "findings": pl.Int64, "seconds": pl.Float64})
    con.register("_runs", run_frame.to_arrow())
    con.execute("create or replace table rule_run as select * from _runs")
    con.unregister("_runs")
    return result
