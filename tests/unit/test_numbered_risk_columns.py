"""The monitoring export writes a household's risks in numbered columns (致贫/返贫风险1 … 5): the first is the main
risk, the others are read together as the further risks, and the rules see them as they see 主要/其他致贫原因."""

from __future__ import annotations

import csv

import duckdb

from reconcile.config import parse_config
from reconcile.load.headers import match_columns
from reconcile.pipeline import run
from reconcile.schema import source_fields

HEADERS = ["户编号", "姓名", "证件号码", "与户主关系", "监测对象类别", "风险是否消除", "致贫/返贫风险1", "致贫/返贫风险2",
           "致贫/返贫风险3", "健康状况"]


def test_numbered_risk_headers_map_the_first_to_the_main_risk_and_the_rest_together():
    match = match_columns(HEADERS, source_fields("system", "person"), {}, True)
    assert match.mapping["致贫/返贫风险1"] == "main_cause"
    assert match.mapping["致贫/返贫风险2"] == match.mapping["致贫/返贫风险3"] == "other_causes"
    assert not match.proposals
    # a file that maps only by `columns:` is asked, not told
    strict = match_columns(HEADERS, source_fields("system", "person"), {}, False)
    assert {d.raw for d in strict.proposals} >= {"致贫/返贫风险1", "致贫/返贫风险2", "致贫/返贫风险3"}
    # 风险类型 alone is the list of risks, not 风险消除方式 (once proposed at similarity 0.8)
    alone = match_columns(["风险类型"], source_fields("system", "household"), {}, True)
    assert alone.mapping == {"风险类型": "other_causes"} and not alone.proposals


def test_a_household_risks_in_numbered_columns_reach_the_rules(tmp_path):
    rows = [
        ["H1", "王明", "430624198001011239", "户主", "脱贫不稳定户", "已消除", "因务工就业不稳", "", "因病", "健康"],
        ["H1", "王老汉", "430624195002022219", "之父", "", "", "", "", "", "健康"],
        ["H2", "张强", "430624197502022214", "户主", "边缘易致贫户", "未消除", "因学", "因病", "", "长期慢性病"],
    ]
    with (tmp_path / "监测系统导出.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADERS)
        writer.writerows(rows)
    config = parse_config({"region": "用例县", "year": 2024, "output": "out",
                           "sources": {"system": {"path": "监测系统导出.csv", "role": "system", "level": "person"}}},
                          tmp_path)
    result = run(config)
    with duckdb.connect(str(tmp_path / "out" / "reconcile.duckdb"), read_only=True) as con:
        causes = dict(con.execute("select hh_code, list_prepend(main_cause, coalesce(other_causes, [])) "
                                  "from src_household where source = 'system'").fetchall())
    assert causes == {"H1": ["因务工就业不稳", "因病"], "H2": ["因学", "因病"]}
    # the further risk 因病 of column 3 is seen: monitored, no member ill in any list (MO-RISK-ILLNESS)
    ill = result.findings.filter(result.findings["rule_id"] == "MO-RISK-ILLNESS")
    assert ill["hh_code"].to_list() == ["H1"]


def test_the_web_page_lets_several_columns_feed_a_list_field_but_not_a_single_value():
    from reconcile.web.files import mapping_problems

    mapping = match_columns(HEADERS, source_fields("system", "person"), {}, True).mapping
    assert mapping_problems(HEADERS, "system", "person", mapping) == []
    twice = {**mapping, "健康状况": "relation"}
    assert any("两列都对应到了「与户主关系」" in p for p in mapping_problems(HEADERS, "system", "person", twice))


def test_a_config_may_read_a_list_field_from_several_columns_but_not_a_field_of_one_value(tmp_path):
    from reconcile.config import ConfigError

    (tmp_path / "x.csv").write_text("户主姓名\n", encoding="utf-8")

    def config(columns: dict) -> object:
        return parse_config({"region": "用例县", "year": 2024, "output": "out",
                             "sources": {"system": {"path": "x.csv", "role": "system", "level": "person",
                                                    "profile": "none", "columns": columns}}}, tmp_path)

    # what the CLI proposes for a `profile: none` file must be a config it accepts
    accepted = config({"致贫/返贫风险2": "other_causes", "致贫/返贫风险3": "other_causes"})
    assert list(accepted.sources["system"].columns.values()) == ["other_causes", "other_causes"]
    try:
        config({"户主姓名": "head_name", "姓名": "head_name"})
    except ConfigError as exc:
        assert "都映射到了「户主姓名」(`head_name`),该字段只能来自一列" in str(exc)
    else:
        raise AssertionError("two columns for one value were accepted")
