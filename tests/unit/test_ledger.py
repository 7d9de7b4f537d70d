"""Ledger status transitions keyed by finding_id: new → open → resolved (销号) → reopened."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from reconcile.check.engine import FINDING_COLUMNS
from reconcile.config import parse_config
from reconcile.ledger import carry_over, progress, read_ledger, update


def _config(tmp_path: Path):
    (tmp_path / "s.csv").write_text("", encoding="utf-8")
    return parse_config({"region": "县", "year": 2020, "sources": {"system": {"path": "s.csv"}}}, tmp_path)


def _findings(con, ids: list[str], township: str = "东塘镇", evidence: dict[str, str] | None = None) -> None:
    rows = [{c: None for c in FINDING_COLUMNS} | {"finding_id": i, "rule_id": "R", "kind": "household_size_mismatch",
                                                  "severity": "medium", "township": township, "status": "new",
                                                  "evidence": (evidence or {}).get(i, "{}")}
            for i in ids]
    frame = pl.DataFrame(rows, schema={c: pl.String for c in FINDING_COLUMNS})
    con.register("_f", frame.to_arrow())
    con.execute("create or replace table finding as select * from _f")
    con.unregister("_f")


def _status(con) -> dict[str, str]:
    return dict(con.execute("select finding_id, status from finding").fetchall())


def test_three_runs_fix_some_break_others(tmp_path):
    config = _config(tmp_path)
    con = duckdb.connect()
    carry_over(con, tmp_path / "none.duckdb")
    _findings(con, ["a", "b", "c"])
    s1 = update(con, config, datetime(2021, 1, 1))
    assert _status(con) == {"a": "new", "b": "new", "c": "new"}
    assert (s1["new"], s1["open"], s1["resolved"]) == (3, 0, 0)

    _findings(con, ["a", "c", "d"])  # b fixed, d broken
    s2 = update(con, config, datetime(2021, 2, 1))
    assert _status(con) == {"a": "open", "c": "open", "d": "new"}
    assert (s2["new"], s2["open"], s2["resolved"], s2["reopened"]) == (1, 2, 1, 0)

    _findings(con, ["a", "b", "d"])  # c fixed, b broken again
    s3 = update(con, config, datetime(2021, 3, 1))
    assert _status(con) == {"a": "open", "b": "reopened", "d": "open"}
    assert (s3["new"], s3["open"], s3["resolved"], s3["reopened"]) == (0, 2, 1, 1)

    ledger = {r["finding_id"]: r for r in read_ledger(con).iter_rows(named=True)}
    assert ledger["c"]["status"] == "resolved" and str(ledger["c"]["resolved_at"])[:10] == "2021-03-01"
    assert ledger["b"]["status"] == "reopened" and ledger["b"]["resolved_at"] is None
    assert ledger["a"]["run_count"] == 3 and str(ledger["a"]["first_seen"])[:10] == "2021-01-01"
    assert ledger["b"]["run_count"] == 2 and str(ledger["b"]["first_seen"])[:10] == "2021-01-01"
    first = dict(con.execute("select finding_id, cast(first_seen as varchar) from finding").fetchall())
    assert first == {"a": "2021-01-01", "b": "2021-01-01", "d": "2021-02-01"}
    history = con.execute("select run_id, finding_id, status from finding_history order by all").fetchall()
    assert (2, "b", "resolved") in history and (3, "c", "resolved") in history and (3, "b", "reopened") in history
    assert con.execute("select count(*) from run").fetchall()[0][0] == 3

    p = progress(read_ledger(con), "township").row(0, named=True)
    assert (p["total"], p["resolved"], p["pending"], p["rate"]) == (4, 1, 3, 0.25)


def test_same_findings_again_change_nothing(tmp_path):
    config = _config(tmp_path)
    con = duckdb.connect()
    carry_over(con, tmp_path / "none.duckdb")
    _findings(con, ["a", "b"])
    update(con, config, datetime(2021, 1, 1))
    before = read_ledger(con).select("finding_id", "first_seen", "status")
    _findings(con, ["a", "b"])
    s = update(con, config, datetime(2021, 1, 2))
    assert (s["new"], s["resolved"], s["reopened"], s["open"]) == (0, 0, 0, 2)
    after = read_ledger(con).select("finding_id", "first_seen", "status")
    assert after["first_seen"].to_list() == before["first_seen"].to_list()
    assert set(after["status"]) == {"open"}


def test_carry_over_reads_the_previous_file(tmp_path):
    config = _config(tmp_path)
    prev = tmp_path / "prev.duckdb"
    con = duckdb.connect(str(prev))
    carry_over(con, tmp_path / "none.duckdb")
    _findings(con, ["a"])
    update(con, config, datetime(2021, 1, 1))
    con.close()
    staging = duckdb.connect()
    carry_over(staging, prev)
    _findings(staging, ["a", "b"])
    s = update(staging, config, datetime(2021, 2, 1))
    assert s["run_id"] == 2 and _status(staging) == {"a": "open", "b": "new"}


def test_a_township_name_in_two_counties_stays_two_places(tmp_path):
    """A province's findings keep county and township apart; its ledger keeps the county, and progress by
    township counts 甲县梅林镇 and 乙县梅林镇 apart. A ledger from before findings had a county still reads."""
    from reconcile.report.common import township_with_county

    config = _config(tmp_path)
    con = duckdb.connect()
    carry_over(con, tmp_path / "none.duckdb")
    con.execute("alter table finding_ledger drop column county")  # a ledger written before the column
    carry_over(con, tmp_path / "none.duckdb")
    assert "county" in {r[0] for r in con.execute("describe finding_ledger").fetchall()}
    _findings(con, ["a", "b", "c"], township="梅林镇")
    con.execute("alter table finding add column county varchar")
    con.execute("update finding set county = case finding_id when 'a' then '甲县' else '乙县' end")
    update(con, config, datetime(2021, 1, 1))
    ledger = read_ledger(con)
    assert dict(ledger.select("finding_id", "county").iter_rows()) == {"a": "甲县", "b": "乙县", "c": "乙县"}
    by_place = dict(progress(township_with_county(ledger), "township").select("township", "total").iter_rows())
    assert by_place == {"甲县梅林镇": 1, "乙县梅林镇": 2}
    # a county run's findings have no county: the ledger leaves it empty and the township as it is
    con2 = duckdb.connect()
    carry_over(con2, tmp_path / "none.duckdb")
    _findings(con2, ["a"], township="梅林镇")
    update(con2, config, datetime(2021, 1, 1))
    assert township_with_county(read_ledger(con2))["township"].to_list() == ["梅林镇"]


def test_a_verification_holds_while_the_evidence_stays_and_lapses_when_it_changes(tmp_path):
    config = _config(tmp_path)
    con = duckdb.connect()
    carry_over(con, tmp_path / "none.duckdb")
    _findings(con, ["a", "b"])
    con.execute("update finding set evidence = '{\"system\": \"3\"}'")
    update(con, config, datetime(2021, 1, 1))
    # a township answered: a verified (against the evidence it saw), b in progress with a deadline
    con.execute("""update finding_ledger set verdict = case finding_id when 'a' then 'verified' else 'in_progress' end,
                   verdict_evidence = evidence, verdict_by = '张三', verdict_at = timestamp '2021-01-05',
                   deadline = case finding_id when 'b' then date '2021-01-20' end""")
    _findings(con, ["a", "b"])
    con.execute("update finding set evidence = '{\"system\": \"3\"}'")
    s2 = update(con, config, datetime(2021, 2, 1))
    assert _status(con) == {"a": "verified", "b": "in_progress"}
    assert (s2["verified"], s2["in_progress"], s2["overdue"]) == (1, 1, 1)
    assert dict(con.execute("select finding_id, overdue from finding").fetchall()) == {"a": False, "b": True}
    p = progress(read_ledger(con), "township").row(0, named=True)
    assert (p["verified"], p["pending"], p["overdue"], p["rate"]) == (1, 1, 1, 0.5)

    _findings(con, ["a", "b"])  # the sources now say something else about a
    con.execute("update finding set evidence = case finding_id when 'a' then '{\"system\": \"4\"}' else '{\"system\": \"3\"}' end")
    update(con, config, datetime(2021, 3, 1))
    assert _status(con)["a"] == "reopened"
    row = read_ledger(con).filter(pl.col("finding_id") == "a").row(0, named=True)
    assert row["verdict"] == "lapsed" and "核实失效" in row["verdict_note"] and "张三" in row["verdict_note"]
    lapsed = con.execute("select verdict, answered_by, evidence from finding_answer").fetchall()
    assert lapsed == [("lapsed", "系统", '{"system": "4"}')]
    # the next run: the lapse is history; a is simply open until answered again
    _findings(con, ["a", "b"])
    con.execute("update finding set evidence = '{\"system\": \"4\"}'")
    update(con, config, datetime(2021, 4, 1))
    assert _status(con)["a"] == "open"
    assert con.execute("select count(*) from finding_answer").fetchall()[0][0] == 1


def test_history_keeps_evidence_only_when_it_changes_and_reads_back_each_runs(tmp_path):
    """A province's findings are mostly the same run after run: the history writes a finding's evidence when it
    differs from what it was when last seen, and reading the history gives each run's evidence all the same."""
    from reconcile.ledger_import import answer_history

    config = _config(tmp_path)
    con = duckdb.connect()
    carry_over(con, tmp_path / "none.duckdb")
    runs = [{"a": '{"人数": 3}', "b": '{"人数": 5}'}, {"a": '{"人数": 3}', "b": '{"人数": 6}'},
            {"b": '{"人数": 6}'}, {"a": '{"人数": 3}', "b": '{"人数": 6}'}, {"a": '{"人数": 4}'}]
    for day, evidence in enumerate(runs, start=1):
        _findings(con, list(evidence), evidence=evidence)
        update(con, config, datetime(2021, 1, day))
    stored = dict(((r, f), e) for r, f, e in con.execute(
        "select run_id, finding_id, evidence from finding_history").fetchall())
    assert stored[(1, "a")] == '{"人数": 3}' and stored[(2, "a")] is None  # unchanged: not written again
    assert stored[(2, "b")] == '{"人数": 6}' and stored[(3, "b")] is None
    assert stored[(3, "a")] is None and stored[(4, "a")] is None  # resolved, then reopened as it was
    assert stored[(5, "a")] == '{"人数": 4}' and stored[(5, "b")] is None  # b resolved
    seen = {f: [(r, s, e) for r, _, s, e in answer_history(con, f)[0].iter_rows()] for f in ("a", "b")}
    assert seen["a"] == [(1, "new", '{"人数": 3}'), (2, "open", '{"人数": 3}'), (3, "resolved", '{"人数": 3}'),
                         (4, "reopened", '{"人数": 3}'), (5, "open", '{"人数": 4}')]
    assert [e for *_, e in seen["b"]] == ['{"人数": 5}', '{"人数": 6}', '{"人数": 6}', '{"人数": 6}', '{"人数": 6}']


def test_a_history_from_before_it_kept_evidence_still_reads_each_runs_evidence(tmp_path):
    """An older ledger's history has no evidence column: the finding's last sighting takes the ledger's evidence when
    the column is added, so a run that sees it again unchanged (and writes no evidence) still reads it back."""
    from reconcile.ledger import ensure_ledger_schema
    from reconcile.ledger_import import answer_history

    config = _config(tmp_path)
    con = duckdb.connect()
    carry_over(con, tmp_path / "none.duckdb")
    _findings(con, ["a"], evidence={"a": '{"人数": 3}'})
    update(con, config, datetime(2021, 1, 1))
    con.execute("alter table finding_history drop column evidence")  # as an older version wrote it
    ensure_ledger_schema(con)
    _findings(con, ["a"], evidence={"a": '{"人数": 3}'})
    update(con, config, datetime(2021, 1, 2))
    assert [e for *_, e in answer_history(con, "a")[0].iter_rows()] == ['{"人数": 3}', '{"人数": 3}']
