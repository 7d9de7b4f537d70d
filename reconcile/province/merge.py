"""Merge the counties' tables into the province database and run the province-scope rules once over all."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ..check.engine import FINDING_ORDER, check
from ..check.packs import select_rules
from ..config import Config


def merge_partitions(con: duckdb.DuckDBPyConnection, parts_dir: Path, counties: dict[str, str]) -> list[str]:
    """One province table per county table (columns united by name); returns the table names.

    `counties` maps each partition key to its county's name. Township names repeat across counties, so
    every table with a place (and the findings, input issues and plan) carries a `county` column beside its
    own township — reports group by both; a bad cell's file and message say whose file it is (every county
    has a 国家系统导出.csv).
    """
    files: dict[str, list[str]] = {}
    for key in counties:
        for path in sorted((parts_dir / key).glob("*.parquet")):
            files.setdefault(path.stem, []).append(path.as_posix())
    con.execute("create or replace temp table _county as select unnest($keys) as key, unnest($names) as name",
                {"keys": list(counties), "names": list(counties.values())})
    # the counties by name, kept in the province database (reports split by county read it)
    con.execute("create or replace table province_county as select * from _county")
    for table, paths in sorted(files.items()):
        columns = {r[0] for r in con.execute("describe select * from read_parquet($files, union_by_name = true)",
                                             {"files": paths}).fetchall()}
        replace = []
        if "county" in columns:  # a county run's own column (person_id_occurrence) already names it
            replace.append("c.name as county")
        if "file" in columns:  # every county has a 国家系统导出.csv: a row's file says whose it is
            replace.append("c.key || '/' || p.file as file")
        if table == "input_issue":
            replace.append("'【' || c.name || '】' || p.message as message")
        con.execute(f"""
            create or replace table {table} as
            select p.* exclude (filename) {f"replace ({', '.join(replace)})" if replace else ""}
                   {", c.key as _county" if table == "finding" else ""}
                   {", c.name as county" if "county" not in columns and _placed(table, columns) else ""}
            from read_parquet($files, union_by_name = true, filename = true) p
            join _county c on c.key = regexp_extract(p.filename, '([^/]+)/[^/]+$', 1)
        """, {"files": paths})
    if "finding" in files:
        _separate_repeated_ids(con)
    if "rule_run" in files:
        con.execute("""
            create or replace table rule_run as
            select rule_id, any_value(kind) as kind, any_value(title) as title,
                   case when bool_or(status = 'ran') then 'ran' when bool_or(status = 'error') then 'error'
                        else 'skipped' end as status,
                   coalesce(string_agg(distinct nullif(reason, ''), '; '), '') as reason,
                   sum(findings)::bigint as findings, sum(seconds) as seconds
            from rule_run group by rule_id
        """)
    return sorted(files)


def _placed(table: str, columns: set[str]) -> bool:
    """Tables whose rows people read by county: those with a township, the findings, input issues and plan."""
    return "township" in columns or table in ("finding", "input_issue") or table.startswith("plan_")


def _separate_repeated_ids(con: duckdb.DuckDBPyConnection) -> None:
    """A finding id is the rule and the household's 户编号; two counties using one 户编号 (itself a finding,
    LK-HH-DUPLICATE-COUNTIES) would give two findings one id, so those ids take their county in."""
    con.execute("""
        create or replace table finding as
        select * exclude (_county) replace (
            case when count(*) over (partition by finding_id) > 1 then left(md5(finding_id || '|' || _county), 16)
                 else finding_id end as finding_id)
        from finding
    """)  # kept in FINDING_ORDER once the province rules have added theirs


def run_province_rules(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """Province-scope rules over the merged tables, their findings added to the counties' ones."""
    rules = select_rules(config)
    order = {r.id: i for i, r in enumerate(rules)}
    province = [r for r in rules if r.scope == "province"]
    con.execute("alter table finding rename to _county_finding")
    con.execute("alter table rule_run rename to _county_rule_run")
    check(con, config, province)
    con.execute(f"""
        create or replace table finding as
        select * from (select * from _county_finding union all by name select * from finding)
        order by county, {FINDING_ORDER}
    """)
    # a cross-county finding sits on its first household: that household's county (the cluster id's partition)
    con.execute("""
        update finding set county = c.name from province_county c
        where finding.county is null and c.key = regexp_extract(finding.cluster_id, '^(.*)-[A-Z][0-9]+$', 1)""")
    con.execute("create or replace table _rule_order as select unnest($ids) as rule_id, unnest($ranks) as rank",
                {"ids": list(order), "ranks": list(order.values())})
    con.execute("""
        create or replace table rule_run as
        select r.* from (select * from _county_rule_run union all by name select * from rule_run) r
        left join _rule_order o using (rule_id) order by o.rank
    """)
    for table in ("_county_finding", "_county_rule_run", "_rule_order"):
        con.execute(f"drop table {table}")
