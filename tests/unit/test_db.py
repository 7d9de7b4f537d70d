"""The run database's connections and the hand-over of polars frames to DuckDB (reconcile/db.py)."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile import db


def test_a_frame_goes_to_duckdb_a_slice_at_a_time_unchanged(monkeypatch):
    """write_frame hands a frame over in Arrow slices (issue 18, memory): every row, value and type arrives as a
    single copy would have it, across slices and for a frame with no rows."""
    monkeypatch.setattr(db, "WRITE_BATCH_ROWS", 3)
    frame = pl.DataFrame({"n": [1, None, 3, 4, 5, 6, 7], "s": ["甲", None, "", "长一些的文字内容", "x", "y", "z"],
                          "d": [dt.date(2020, 1, 5), None, None, None, None, None, dt.date(2021, 2, 1)],
                          "codes": [["A"], [], None, ["B", "C"], ["A"], [], ["D"]],
                          "ok": [True, False, None, True, True, False, None]})
    con = db.connect()
    db.write_frame(con, "t", frame)
    assert db.query_frame(con, "select * from t").equals(frame)
    db.write_frame(con, "t", frame.head(0))  # replaced, and typed like a filled one
    assert db.query_frame(con, "select * from t").schema == frame.schema


def _sparse_frame() -> pl.DataFrame:
    return pl.DataFrame({"n": [1, None, 3], "empty_text": [None, None, None], "s": ["甲", None, "长一些的文字内容"],
                         "empty_date": [None, None, None], "empty_codes": [None, None, None],
                         "empty_flag": [None, None, None]},
                        schema={"n": pl.Int64, "empty_text": pl.String, "s": pl.String, "empty_date": pl.Date,
                                "empty_codes": pl.List(pl.String), "empty_flag": pl.Boolean})


def test_a_sparse_frame_reads_back_whole_while_only_filled_columns_are_stored():
    """write_sparse_frame (issue 18, memory): the view has every column, in order, with its type and values, as
    write_frame's table would; the stored table holds only the columns some row fills."""
    frame = _sparse_frame()
    con = db.connect()
    db.write_sparse_frame(con, "t", frame)
    assert db.query_frame(con, "select * from t").equals(frame)
    assert db.query_frame(con, "select * from t").schema == frame.schema
    stored = [r[0] for r in con.execute("select column_name from duckdb_columns() where table_name = ?",
                                        [db.filled_table("t")]).fetchall()]
    assert stored == ["n", "s"]
    db.write_sparse_frame(con, "t", frame.head(0))  # no rows: every column empty, one kept to make a table
    assert db.query_frame(con, "select * from t").schema == frame.schema
    assert db.query_frame(con, "select * from t").height == 0


def test_a_raw_column_is_stored_only_where_it_differs_from_its_value_and_reads_back_whole():
    """write_sparse_frame keeps `<field>_raw` as null where it equals `<field>` (issue 18: the save): the view gives
    every cell back. A raw column blank where its value is not (a value filled from elsewhere: a household's head
    taken from its members) is stored whole, or the view would invent a cell the file never had."""
    frame = pl.DataFrame({
        "name": ["张三", "李四", None, "王五", None],
        "name_raw": ["张三", " 李四 ", "  ", "王五", None],  # equal, cleaned, blank, equal, absent
        "head_id": ["1", "2", "3", None, None],
        "head_id_raw": ["1", None, "3", None, None],  # blank where the value was filled from a member
        "size": [1, 2, None, 4, 5],
        "size_raw": ["1", "2人", None, "4", "05"],
        "income": [1200.5, 3000.0, None, 0.1, 12.0],
        "income_raw": ["1200.5", "3000", None, "0.1", "12.0"],
        "born": [dt.date(2020, 1, 5), dt.date(2020, 1, 5), None, None, dt.date(1999, 12, 31)],
        "born_raw": ["2020-01-05", "2020/1/5", "不详", None, "1999-12-31"],
    })
    con = db.connect()
    db.write_sparse_frame(con, "t", frame)
    assert db.query_frame(con, "select * from t").equals(frame)
    stored = db.query_frame(con, f"select * from {db.filled_table('t')}")
    assert stored["name_raw"].to_list() == [None, " 李四 ", "  ", None, None]
    assert stored["head_id_raw"].to_list() == ["1", None, "3", None, None]
    assert stored["size_raw"].to_list() == [None, "2人", None, None, "05"]
    assert stored["income_raw"].to_list() == [None, "3000", None, None, None]  # DuckDB writes 3000.0 as "3000.0"
    assert stored["born_raw"].to_list() == [None, "2020/1/5", "不详", None, None]


_TEXTS = [None, "", "甲", "甲 ", "乙"]
_NUMBERS = [None, 0.0, -0.0, 1.0, 0.1, 1e20, 1e-7, 1200.5, float("nan"), float("inf")]
_NUMBER_TEXTS = [None, "", "0", "0.0", "-0.0", "1", "1.0", "0.1", "1e+20", "100000000000000000000", "1e-07", "nan",
                 "inf", "1200.5", "1,200.5"]


@given(st.lists(st.tuples(st.sampled_from(_TEXTS), st.sampled_from(_TEXTS)), max_size=12),
       st.lists(st.tuples(st.sampled_from(_NUMBERS), st.sampled_from(_NUMBER_TEXTS)), max_size=12))
@settings(max_examples=200, deadline=None)
def test_raw_columns_read_back_exactly_whatever_they_hold(texts, numbers):
    con = db.connect()
    for values, raws, dtype in ([v for v, _ in texts], [r for _, r in texts], pl.String), \
            ([v for v, _ in numbers], [r for _, r in numbers], pl.Float64):
        frame = pl.DataFrame({"v": values, "v_raw": raws}, schema={"v": dtype, "v_raw": pl.String})
        db.write_sparse_frame(con, "t", frame)
        assert db.query_frame(con, "select * from t").equals(frame)


def test_dropping_a_sparse_table_drops_its_view_and_its_stored_columns():
    con = db.connect()
    db.write_sparse_frame(con, "t", _sparse_frame())
    db.write_frame(con, "plain", _sparse_frame())
    db.drop_sparse(con, "t")
    db.drop_sparse(con, "plain")  # a plain table of that name goes too
    db.drop_sparse(con, "never_written")
    assert con.execute("select count(*) from duckdb_tables()").fetchall() == [(0,)]
    assert con.execute("select count(*) from duckdb_views() where not internal").fetchall() == [(0,)]


def test_identifiers_are_quoted_whole():
    assert db.quoted('a"b') == '"a""b"'


def test_asking_for_a_table_leaves_the_connection_free_for_a_frame():
    """has_table reads its answer whole: DuckDB 2 keeps a result read with fetchone open, and the connection then
    refuses the next frame handed to it (the household views' source_info, on a database without a run plan)."""
    con = db.connect()
    cursor = con.cursor()
    assert not db.has_table(cursor, "plan_file")
    db.write_frame(cursor, "plan_file", pl.DataFrame({"owner": ["system"]}))
    assert db.has_table(cursor, "plan_file")
    db.write_frame(cursor, "other", pl.DataFrame({"n": [1]}))
    assert db.query_frame(cursor, "select * from other")["n"].to_list() == [1]
