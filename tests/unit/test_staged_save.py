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


def _save_into(con: duckdb.DuckDBPyConnection, path, saved: list[str] | None = None, early: list[str] = ()) -> None:
    """What StagedDatabase does with its staging file: attached once as `_saved`, the `early` tables copied on a
    cursor of their own, then the rest."""
    con.execute("attach ? as _saved", [str(path)])
    try:
        if early:
            cursor = con.cursor()
            copy_tables(cursor, list(early))
            cursor.close()
        copy_to_file(con, saved)
    finally:
        con.execute("detach _saved")


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
    _save_into(con, whole)
    _save_into(con, staged, ["src_person"], early=["src_person"])
    assert _catalogue(staged) == _catalogue(whole)
    assert _catalogue(staged)["views"]["later_view"] == [(10,)]


def test_an_input_changed_after_it_was_saved_stops_the_save(tmp_path):
    con = _run_database()
    staged = tmp_path / "staged.duckdb"
    con.execute("attach ? as _saved", [str(staged)])
    copy_tables(con.cursor(), ["src_person"])
    con.execute("insert into src_person values (5000, 'late')")
    with pytest.raises(RuntimeError, match="src_person"):
        copy_to_file(con, ["src_person"])


def test_link_details_moved_beside_the_check_are_saved_once_and_leave_memory(tmp_path, monkeypatch):
    """MOVED_AFTER_LINK: written after the inputs on the save's worker and dropped from memory (issue 18); the saved
    database is the one a single copy of the run database would give."""
    from reconcile.link import wide
    from reconcile.pipeline import MOVED_AFTER_LINK, StagedDatabase

    monkeypatch.setattr(wide, "long_tables_as_views", lambda con: None)  # this database has no linked households

    con = _run_database()
    for table in MOVED_AFTER_LINK:
        con.execute(f"create table {table} as select range as a, 'x' || range as b from range(300)")
    whole = tmp_path / "whole.duckdb"
    _save_into(con, whole)
    staged = tmp_path / "staged.duckdb"
    db = StagedDatabase(con, staged, in_memory=True)
    db.save_inputs()
    db.move_link_details()
    db.save_beside()
    db.saved()
    db.complete(None)
    left = {r[0] for r in con.execute("select table_name from duckdb_tables() where database_name = 'memory'").fetchall()}
    assert not left & set(MOVED_AFTER_LINK)
    con.close()
    assert _catalogue(staged) == _catalogue(whole)


def test_another_cursors_open_transaction_does_not_stop_the_save(tmp_path, monkeypatch):
    """CI failed once with "Unique file handle conflict": DuckDB keeps a detached file's handle while another
    cursor's open transaction refers to it, so attaching the staging file again for the next copy failed. Here a
    reader (a report reading the catalogue) opens a transaction as soon as the staging file is attached and holds it
    through the whole save: the file is attached once, and the reader sees only the run's own tables."""
    import threading
    import time

    from reconcile.db import has_table, table_names
    from reconcile.link import wide
    from reconcile.pipeline import MOVED_AFTER_LINK, StagedDatabase

    monkeypatch.setattr(wide, "long_tables_as_views", lambda con: None)
    con = _run_database()
    # a large input, so that the first copy keeps the file attached long enough for the reader to see it
    con.execute("create table register as select range as id, 'r' || range as name from range(3000000)")
    for table in MOVED_AFTER_LINK:
        con.execute(f"create table {table} as select range as a from range(10)")
    staged = tmp_path / "staged.duckdb"
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        reader = con.cursor()
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not release.is_set():
                reader.execute("begin")
                attached = reader.execute("select count(*) from duckdb_databases() where path = ?",
                                          [staged.as_posix()]).fetchall()[0][0]
                if attached:
                    reader.execute("select count(*) from duckdb_tables()").fetchall()  # refers to every database
                    held.set()
                    release.wait(30)
                    reader.execute("commit")
                    return
                reader.execute("commit")
        finally:
            reader.close()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        db = StagedDatabase(con, staged, in_memory=True)
        db.save_inputs()
        assert held.wait(30), "the reader never saw the staging file attached"
        db.move_link_details()
        db._inputs_saved()
        assert not has_table(con, "person_record") and "person_record" not in table_names(con)
        assert "src_person" in table_names(con)
        db.save_beside()
        db.saved()
        db.complete(None)
    finally:
        release.set()
        thread.join()
    con.close()
    assert {"src_person", "register", "finding", *MOVED_AFTER_LINK} <= set(_catalogue(staged)["tables"])


def test_every_stage_has_a_chinese_name_where_people_read_the_timings():
    from reconcile.pipeline import STAGES
    from reconcile.report.labels import STAGE_LABELS

    assert {name for name, _ in STAGES} <= set(STAGE_LABELS)


def test_a_run_database_reads_its_views(tmp_path):
    """`register_link` is a table while the rules read it and a view of the same query in the saved database, as the
    long tables are (issue 18): it reads the links the rules read (the one register row of a household's person
    linked to its person and household, a stranger's to neither)."""
    from reconcile.check.cases import case_config
    from reconcile.pipeline import run

    rows = [{"hh_code": "H1", "village": "大田村", "name": "王明", "id_number": "430624198001011239",
             "relation": "户主"}]
    dibao = [{"id_number": "430624198001011239", "name": "王明"}, {"id_number": "110101199003074514", "name": "赵强"}]
    result = run(case_config({"sources": {"system": {"level": "person", "rows": rows},
                                          "manual": {"level": "person", "rows": rows}},
                              "registers": {"dibao": {"rows": dibao}}}, tmp_path))
    con = duckdb.connect(str(result.config.output / "reconcile.duckdb"), read_only=True)
    try:
        views = {r[0] for r in con.execute("select view_name from duckdb_views() where not internal").fetchall()}
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
        assert "register_link" in views and {"hh_wide", "person_wide"} <= tables
        assert con.execute("select name, cluster_id is not null, person_cluster_id is not null from register_link "
                           "order by name").fetchall() == [("王明", True, True), ("赵强", False, False)]
        assert con.execute("select h.hh_code_system, h.hh_code_manual, p.person_name from hh_wide h "
                           "join person_wide p using (cluster_id)").fetchall() == [("H1", "H1", "王明")]
        assert con.execute("select count(*) from person_source where present").fetchall() == [(2,)]
    finally:
        con.close()
