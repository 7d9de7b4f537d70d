"""The run plan's tables in a run database (plan_file, plan_field, plan_rule, plan_notice), read back by the
stages and reports that come after the plan. Written by `plan.RunPlan.write`."""

from __future__ import annotations

import duckdb
import polars as pl

from .db import has_table, query_frame, table_names

PLAN_TABLES = ("plan_file", "plan_field", "plan_rule", "plan_notice")


def left_out_files(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Owners (source keys, register keys, visits) of the files the run plan did not use; a province's plan has
    one row per county, and a file counts as left out only where every county left it out."""
    if not has_table(con, "plan_file"):
        return set()
    return {r[0] for r in con.execute("select owner from plan_file group by owner "
                                      "having bool_and(usage = 'excluded')").fetchall()}


def load_plan(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame] | None:
    """The plan tables of a run database, or None when the run had none."""
    names = table_names(con)
    if "plan_rule" not in names:
        return None
    return {n: query_frame(con, f"select * from {n}") for n in PLAN_TABLES}
