"""The run database saved in two steps (the normalised inputs while the run goes on, the rest beside the report)
must be the database one `copy from database` writes: the same tables with the same rows, the same views and macros,
working when the file is opened on its own."""

from __future__ import annotations

import duckdb
import pytest

from reconcile.pipeline import copy_tables, copy_to_file


def _run_database() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create table src_person as select range as id, 'p' || range as name from range(1000)")
    con.execute("create table finding as select range as id, range % 7 as kind from range(50)")
    con.execute("create table source_label as select 'system' as source, '国家系统' as label")
    con.execute("create macro source_label(s) as (select label from source_label where source = s)")
    con.execute("create macro twice(n) as n * 2")
    con.execute("create view person_view as select id, name from src_person where id < 10")
    con.execute("create view later_view as select count(*) as n from person_view")  # reads the earlier view
    return con


def _catalogue(path) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = {t: con.execute(f'select * from "{t}" order by all').fetchall()
                  for (t,) in con.execute("select table_name from duckdb_tables() order by 1").fetchall()}
        views = {v: con.execute(f'select * from "{v}" order by all').fetchall()
                 for (v,) in con.execute("select view_name from duckdb_views() where not internal order by 1").fetchall()}
        macros = con.execute("select function_name, parameters from duckdb_functions() "
                             "where function_type = 'macro' and not internal order by 1").fetchall()
        uses = con.execute("select source_label('system'), twice(21)").fetchall()
        return {"tables": tables, "views": views, "macros": macros, "uses": uses}
    finally:
        con.close()


def test_inputs_saved_first_give_the_database_a_single_copy_gives(tmp_path):
    con = _run_database()
    whole, staged = tmp_path / "whole.duckdb", tmp_path / "staged.duckdb"
    copy_to_file(con, whole)
    early = con.cursor()
    copy_tables(early, staged, ["src_person"])
    early.close()
    copy_to_file(con, staged, ["src_person"])
    assert _catalogue(staged) == _catalogue(whole)
    assert _catalogue(staged)["views"]["later_view"] == [(10,)]


def test_an_input_changed_after_it_was_saved_stops_the_save(tmp_path):
    con = _run_database()
    staged = tmp_path / "staged.duckdb"
    copy_tables(con.cursor(), staged, ["src_person"])
    con.execute("insert into src_person values (5000, 'late')")
    with pytest.raises(RuntimeError, match="src_person"):
        copy_to_file(con, staged, ["src_person"])
