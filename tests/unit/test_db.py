"""The run database's connections and the hand-over of polars frames to DuckDB (reconcile/db.py)."""

from __future__ import annotations

import datetime as dt

import polars as pl

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
