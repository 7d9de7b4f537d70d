"""Merge the counties into the province database and run the province-scope rules once over all.

Each county's checked tables stay in its own database (`partitions/<run>/<county>/county.duckdb` in the output
folder). The province database attaches them read-only and holds views that read them where they are — one view
per table, the counties' rows united by column name — so the merge copies nothing (issue 18). `province_county`
names each county's database; whoever opens the province database later attaches them the same way
(`db.attach_partitions`).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ..check.engine import FINDING_ORDER, HOUSEHOLD_TABLES, SETUP_TABLES, check
from ..check.packs import select_rules
from ..check.params import PARAM_PREFIX
from ..config import Config
from ..db import attach_partitions, partition_alias, table_names
from ..report.data import INPUT_ISSUE_PLACE
from .partition import PARTITION_DB

# tables the province rewrites from the counties' ones (their views get a leading underscore)
COUNTY_FINDING = "_county_finding"
COUNTY_RULE_RUN = "_county_rule_run"


def merge_partitions(con: duckdb.DuckDBPyConnection, out: Path, parts_dir: Path, counties: dict[str, str]) -> list[str]:
    """One province view per county table (columns united by name); returns the table names.

    `counties` maps each partition key to its county's name; `parts_dir` (inside the output folder `out`) holds
    each county's database. Township names repeat across counties, so every table with a place (and the
    findings, input issues and plan) carries a `county` column beside its own township — reports group by both;
    a bad cell's file and message say whose file it is (every county has a 国家系统导出.csv).
    """
    keys = list(counties)
    aliases = [partition_alias(i) for i in range(len(keys))]
    databases = [(parts_dir / key / PARTITION_DB).resolve().relative_to(out.resolve()).as_posix() for key in keys]
    # the counties by name and where their databases are, kept in the province database (reports split by county
    # read it; whoever opens the database attaches the counties from it)
    con.execute("""create or replace table province_county as
                   select unnest($keys) as key, unnest($names) as name, unnest($aliases) as alias,
                          unnest($databases) as database""",
                {"keys": keys, "names": list(counties.values()),
                 "aliases": aliases, "databases": databases})
    attach_partitions(con, out)
    # what people and the province's stages read: not a stage's working tables (a leading underscore; the
    # normalised inputs are views over theirs) nor what the province's check builds again over all the counties
    columns: dict[str, dict[str, set[str]]] = {}  # table → county's alias → its columns
    for table, alias, column in con.execute("""
            select table_name, database_name, column_name from duckdb_columns()
            where database_name in (select alias from province_county) and schema_name = 'main'
              and not starts_with(table_name, '_') and not starts_with(table_name, $params)
              and not list_contains($setup, table_name)
            order by database_name, table_name, column_index""",
            {"params": PARAM_PREFIX, "setup": [t for t in SETUP_TABLES if t not in HOUSEHOLD_TABLES]}).fetchall():
        columns.setdefault(table, {}).setdefault(alias, set()).add(column)
    for table, by_county in sorted(columns.items()):
        parts = [_county_rows(table, alias, by_county[alias]) for alias in aliases if alias in by_county]
        name = {"finding": COUNTY_FINDING, "rule_run": COUNTY_RULE_RUN}.get(table, table)
        # identifiers from the counties' own catalogues and our aliases; no value is pasted
        con.execute(f'create or replace view "{name}" as ' + " union all by name ".join(parts))
    if "finding" in columns:
        _repeated_finding_ids(con)
    if "rule_run" in columns:
        con.execute(f"""
            create or replace table rule_run as
            select rule_id, any_value(kind) as kind, any_value(title) as title,
                   case when bool_or(status = 'ran') then 'ran' when bool_or(status = 'error') then 'error'
                        else 'skipped' end as status,
                   coalesce(string_agg(distinct nullif(reason, ''), '; '), '') as reason,
                   sum(findings)::bigint as findings, sum(seconds) as seconds
            from {COUNTY_RULE_RUN} group by rule_id
        """)
    return sorted(columns)


def _county_rows(table: str, alias: str, columns: set[str]) -> str:
    """One county's rows of `table`, with its county's name (and key) where people read it."""
    replace = []
    if "county" in columns:  # a county run's own column (person_id_occurrence) already names it
        replace.append("c.name as county")
    if "file" in columns:  # every county has a 国家系统导出.csv: a row's file says whose it is
        replace.append("c.key || '/' || p.file as file")
    if table in ("input_issue", INPUT_ISSUE_PLACE):
        replace.append("'【' || c.name || '】' || p.message as message")
    replaced = f"replace ({', '.join(replace)})" if replace else ""
    extra = ", c.key as _county" if table == "finding" else ""
    if "county" not in columns and _placed(table, columns):
        extra += ", c.name as county"
    # the alias is ours (partition_alias), never a value from the data
    return (f'select p.* {replaced}{extra} from {alias}."{table}" p, '
            f"(select key, name from province_county where alias = '{alias}') c")


def _placed(table: str, columns: set[str]) -> bool:
    """Tables whose rows people read by county: those with a township, the findings, input issues and plan."""
    return "township" in columns or table in ("finding", "input_issue") or table.startswith("plan_")


def _repeated_finding_ids(con: duckdb.DuckDBPyConnection) -> None:
    """A finding id is the rule and the household's 户编号; two counties using one 户编号 (itself a finding,
    LK-HH-DUPLICATE-COUNTIES) would give two findings one id: those ids (usually none) take their county in."""
    con.execute(f"""
        create or replace table _repeated_finding as
        select finding_id from {COUNTY_FINDING} group by finding_id having count(*) > 1
    """)


def run_province_rules(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """Province-scope rules over the merged views; `finding` the counties' findings and theirs, in FINDING_ORDER by
    county (a table: the ledger reads it several times and gives each its status), and `rule_run` every rule's run."""
    rules = select_rules(config)
    order = {r.id: i for i, r in enumerate(rules)}
    province = [r for r in rules if r.scope == "province"]
    con.execute(f"alter table rule_run rename to {COUNTY_RULE_RUN}_merged")
    # each county's households' cards and monitoring records, as the county worked them out (its own parameters):
    # built again over the whole province they took 7 s of a million households' run (issue 18)
    check(con, config, province, households_built=set(HOUSEHOLD_TABLES) <= table_names(con))
    con.execute("alter table finding rename to _province_finding")
    con.execute("alter table _province_finding add column if not exists county varchar")
    # a cross-county finding sits on its first household: that household's county (the cluster id's partition)
    con.execute("""
        update _province_finding set county = c.name from province_county c
        where _province_finding.county is null
          and c.key = regexp_extract(_province_finding.cluster_id, '^(.*)-[A-Z][0-9]+$', 1)""")
    con.execute(f"""
        create or replace table finding as
        select * from (
            select f.* exclude (_county) replace (
                       case when r.finding_id is null then f.finding_id
                            else left(md5(f.finding_id || '|' || f._county), 16) end as finding_id)
            from {COUNTY_FINDING} f left join _repeated_finding r on r.finding_id = f.finding_id
            union all by name
            select * from _province_finding)
        order by county, {FINDING_ORDER}
    """)
    con.execute("create or replace table _rule_order as select unnest($ids) as rule_id, unnest($ranks) as rank",
                {"ids": list(order), "ranks": list(order.values())})
    con.execute(f"""
        create or replace table rule_run as
        select r.* from (select * from {COUNTY_RULE_RUN}_merged union all by name select * from rule_run) r
        left join _rule_order o using (rule_id) order by o.rank
    """)
    for table in (f"{COUNTY_RULE_RUN}_merged", "_rule_order", "_province_finding", "_repeated_finding"):
        con.execute(f"drop table {table}")
