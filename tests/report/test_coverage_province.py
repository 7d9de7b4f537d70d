"""A province's run plan (one set of rows per county) as people read it."""

from __future__ import annotations

import duckdb

from reconcile.config import load_config
from reconcile.plan import compile_plan
from reconcile.plan_tables import load_plan
from reconcile.report.coverage import build_coverage
from reconcile.resources import sample_dir


def _province_plan() -> dict:
    """The sample county's plan twice, as the province merge leaves it: each row with its county."""
    plan = compile_plan(load_config(sample_dir() / "reconcile.yaml"))
    con = duckdb.connect()
    for name, frame in plan.frames().items():
        con.register("_f", frame.to_arrow())
        con.execute(f"create table {name} as select *, '甲县' as county from _f "
                    f"union all by name select *, '乙县' as county from _f")
        con.unregister("_f")
    return load_plan(con)


def test_files_are_named_with_their_county_and_a_shared_reason_is_one_row():
    coverage = build_coverage(_province_plan())
    labels = [f.label for f in coverage.files]
    assert "【甲县】国家系统" in labels and "【乙县】国家系统" in labels
    ids = [r["rule_id"] for r in coverage.rules]
    assert len(ids) == len(set(ids)), "a reason both counties share is said once"
    load = next(r for r in coverage.rules if r["rule_id"] == "AS-CADRE-LOAD")
    assert load["text"].startswith("【甲县、乙县】") and "帮扶责任人证件号码" in load["text"]
    assert load["sources"] == "国家系统、村级档案、扶贫手册"
